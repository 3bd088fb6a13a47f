/*
 * error.c - the cl_error object: a status code plus one message, filled by
 * the function that failed and prefixed with context by its callers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clinner/common.h"

/* The version comes from the VERSION file, through the Makefile. */
#ifndef CLINNER_VERSION
#define CLINNER_VERSION "unknown"
#endif

void cl_error_clear(cl_error *err)
{
    if (!err)
        return;
    err->code = CL_OK;
    err->msg[0] = '\0';
}

cl_status cl_error_vset(cl_error *err, cl_status code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

cl_status cl_error_set(cl_error *err, cl_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl_error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

cl_status cl_error_prefix(cl_error *err, const char *fmt, ...)
{
    if (!err)
        return CL_ERR_INTERNAL;
    char prefix[CL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix);
    size_t mlen = strlen(err->msg);
    if (plen >= sizeof err->msg)
        plen = sizeof err->msg - 1;
    if (plen + mlen >= sizeof err->msg)
        mlen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
    return err->code;
}

const char *cl_status_name(cl_status code)
{
    switch (code) {
    case CL_OK: return "ok";
    case CL_ERR_IO: return "I/O error";
    case CL_ERR_PARSE: return "parse error";
    case CL_ERR_UTF8: return "invalid UTF-8";
    case CL_ERR_RANGE: return "out of range";
    case CL_ERR_NOMEM: return "out of memory";
    case CL_ERR_ARG: return "invalid argument";
    case CL_ERR_FORMAT: return "unsupported format";
    case CL_ERR_MODEL: return "model error";
    case CL_ERR_NET: return "network error";
    case CL_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

const char *cl_version(void) { return CLINNER_VERSION; }
