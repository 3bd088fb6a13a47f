/*
 * progress.c - progress lines on stderr for long runs (progress.h).
 *
 * Terminal mode redraws one line with "\r" and an erase-to-end escape, at
 * most every 0.1 s; line mode prints a complete line every interval, so a
 * log file gets a readable history instead of carriage returns.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/progress.h"
#include "clinner/util.h"

struct cl_progress {
    FILE *fp;
    char what[64], unit[32], unit2[32];
    int64_t total, done, done2;
    bool tty, off, drawn;
    double t0, last, interval;
};

cl_status cl_progress_mode_from_name(const char *name, cl_progress_mode *out, cl_error *err)
{
    static const char *const names[] = {"auto", "tty", "lines", "off"};
    for (int k = 0; k < 4; k++)
        if (name && !strcmp(name, names[k])) {
            *out = (cl_progress_mode)k;
            return CL_OK;
        }
    return cl_error_set(err, CL_ERR_ARG, "expected auto, tty, lines or off, got '%s'",
                        name ? name : "");
}

cl_status cl_progress_new(FILE *fp, const char *what, const char *unit, int64_t total,
                          cl_progress_mode mode, cl_progress **out, cl_error *err)
{
    cl_progress *p = *out = calloc(1, sizeof *p);
    if (!p)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    p->fp = fp;
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "items");
    p->total = total;
    p->off = mode == CL_PROGRESS_OFF;
    p->tty = mode == CL_PROGRESS_TTY || (mode == CL_PROGRESS_AUTO && isatty(fileno(fp)));
    p->t0 = p->last = cl_now();
    p->interval = 10.0;
    return CL_OK;
}

void cl_progress_set_total(cl_progress *p, int64_t total)
{
    if (p)
        p->total = total;
}

void cl_progress_set_interval(cl_progress *p, double seconds)
{
    if (p)
        p->interval = seconds;
}

double cl_progress_elapsed(const cl_progress *p) { return p ? cl_now() - p->t0 : 0.0; }

static void fmt_duration(char *buf, size_t n, double s)
{
    if (s < 0 || s > 1e7)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void draw(cl_progress *p, double now)
{
    double el = now - p->t0;
    char line[512], eta[48] = "", rate2[96] = "";
    double rate = el > 0 ? (double)p->done / el : 0.0;
    if (p->total > 0 && p->done > 0 && p->done < p->total) {
        char d[24];
        fmt_duration(d, sizeof d, (double)(p->total - p->done) / rate);
        snprintf(eta, sizeof eta, ", ETA %s", d);
    }
    if (p->unit2[0] && el > 0)
        snprintf(rate2, sizeof rate2, ", %.0f %s/s", (double)p->done2 / el, p->unit2);
    if (p->total > 0)
        snprintf(line, sizeof line, "%s: %lld/%lld %s (%.0f%%), %.1f %s/s%s%s", p->what,
                 (long long)p->done, (long long)p->total, p->unit,
                 100.0 * (double)p->done / (double)p->total, rate, p->unit, rate2, eta);
    else
        snprintf(line, sizeof line, "%s: %lld %s, %.1f %s/s%s", p->what, (long long)p->done,
                 p->unit, rate, p->unit, rate2);
    if (p->tty) {
        fprintf(p->fp, "\r%s\033[K", line);
        p->drawn = true;
    } else {
        fprintf(p->fp, "%s\n", line);
    }
    fflush(p->fp);
    p->last = now;
}

void cl_progress_update2(cl_progress *p, int64_t done, int64_t done2, const char *unit2)
{
    if (!p)
        return;
    p->done = done;
    p->done2 = done2;
    if (unit2)
        snprintf(p->unit2, sizeof p->unit2, "%s", unit2);
    if (p->off)
        return;
    double now = cl_now();
    if (now - p->last >= (p->tty ? 0.1 : p->interval))
        draw(p, now);
}

void cl_progress_update(cl_progress *p, int64_t done)
{
    if (p)
        cl_progress_update2(p, done, p->done2, NULL);
}

void cl_progress_message(cl_progress *p, const char *fmt, ...)
{
    FILE *fp = p ? p->fp : stderr;
    if (p && p->tty && p->drawn) {
        fprintf(fp, "\r\033[K");
        p->drawn = false;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(fp, fmt, ap);
    va_end(ap);
    fputc('\n', fp);
    if (p && p->tty && !p->off)
        draw(p, cl_now());
    fflush(fp);
}

void cl_progress_finish(cl_progress *p)
{
    if (!p || p->off)
        return;
    if (p->tty && p->drawn)
        fprintf(p->fp, "\r\033[K");
    p->drawn = false;
    double el = cl_now() - p->t0;
    char rate2[96] = "";
    if (p->unit2[0] && el > 0)
        snprintf(rate2, sizeof rate2, ", %.0f %s/s", (double)p->done2 / el, p->unit2);
    fprintf(p->fp, "%s: %lld %s in %.1f s (%.1f %s/s%s)\n", p->what, (long long)p->done,
            p->unit, el, el > 0 ? (double)p->done / el : 0.0, p->unit, rate2);
    fflush(p->fp);
}

void cl_progress_free(cl_progress *p) { free(p); }
