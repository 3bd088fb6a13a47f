/*
 * progress.h - progress reports for long runs (training, tagging a corpus):
 * items done, rate, ETA.
 *
 * On a terminal (or when forced) one status line is redrawn in place a few
 * times a second; otherwise a plain line is written every `interval`
 * seconds, so logs stay readable.  Messages (one full line each, e.g. a
 * training iteration) can be interleaved; they clear the status line first.
 * This is CLI-side code: it writes only to the FILE it is given.
 */
#ifndef CLINNER_PROGRESS_H
#define CLINNER_PROGRESS_H

#include <stdio.h>

#include "clinner/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_progress_mode {
    CL_PROGRESS_AUTO = 0, /* redrawn line when fp is a terminal, else plain lines */
    CL_PROGRESS_TTY,      /* always the redrawn line */
    CL_PROGRESS_LINES,    /* always plain periodic lines */
    CL_PROGRESS_OFF,      /* nothing (messages still printed) */
} cl_progress_mode;

typedef struct cl_progress cl_progress;

/* "auto", "tty", "lines" or "off"; CL_ERR_ARG lists them otherwise. */
cl_status cl_progress_mode_from_name(const char *name, cl_progress_mode *out, cl_error *err);

/* what: "tagging"; unit: "docs"; total: 0 when unknown.  CL_ERR_NOMEM with
 * *out NULL on no memory; every cl_progress_* function accepts NULL (no bar),
 * so a caller may ignore the status and run without a bar. */
cl_status cl_progress_new(FILE *fp, const char *what, const char *unit, int64_t total,
                          cl_progress_mode mode, cl_progress **out, cl_error *err);
/* Change the total (e.g. once a resumed run knows what is left). */
void cl_progress_set_total(cl_progress *p, int64_t total);
/* Seconds between plain lines (default 10). */
void cl_progress_set_interval(cl_progress *p, double seconds);
/* Report done items (absolute); redraws when due. */
void cl_progress_update(cl_progress *p, int64_t done);
/* Also count secondary work (e.g. tokens) for the rate: "1234 tokens/s". */
void cl_progress_update2(cl_progress *p, int64_t done, int64_t done2, const char *unit2);
/* Print one full line (printf-style), clearing the status line first. */
void cl_progress_message(cl_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Final summary line ("tagging: 208/208 docs in 3.1 s (67 docs/s)"). */
void cl_progress_finish(cl_progress *p);
void cl_progress_free(cl_progress *p);
/* Seconds since cl_progress_new. */
double cl_progress_elapsed(const cl_progress *p);

#ifdef __cplusplus
}
#endif
#endif
