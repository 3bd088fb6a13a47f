/*
 * log.c - the library's one log-message formatter and its one hash.
 *
 * Modules report notes (a retried request, a skipped sentence, a cache hit)
 * through a caller's cl_log_fn; cl_logf formats the message once here so
 * that no module keeps its own buffer-and-vsnprintf copy.  cl_fnv1a64 is
 * the FNV-1a 64 hash behind file checksums (binfile.c), cache keys and
 * resume fingerprints.
 */
#include <stdarg.h>
#include <stdio.h>

#include "clinner/util.h"

void cl_vlogf(cl_log_fn log, void *ctx, const char *fmt, va_list ap)
{
    if (!log)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    log(ctx, msg);
}

void cl_logf(cl_log_fn log, void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl_vlogf(log, ctx, fmt, ap);
    va_end(ap);
}

uint64_t cl_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
