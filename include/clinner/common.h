/*
 * common.h - status codes and the error object every clinner call reports
 * through.
 *
 * Library functions never print and never exit: they return a cl_status and,
 * when it is not CL_OK, leave a human-readable message in a caller-owned
 * cl_error.  Messages name the file, line or field at fault, so the CLI can
 * print them as they are.
 */
#ifndef CLINNER_COMMON_H
#define CLINNER_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_status {
    CL_OK = 0,
    CL_ERR_IO,       /* file missing, unreadable, unwritable */
    CL_ERR_PARSE,    /* malformed input (names file and line) */
    CL_ERR_UTF8,     /* invalid UTF-8 (names file and byte offset) */
    CL_ERR_RANGE,    /* offsets outside the text, index out of range */
    CL_ERR_NOMEM,    /* allocation failed */
    CL_ERR_ARG,      /* invalid argument or option value */
    CL_ERR_FORMAT,   /* unknown or unsupported format / version */
    CL_ERR_MODEL,    /* model file missing, corrupt or unusable */
    CL_ERR_NET,      /* network / remote server failure */
    CL_ERR_INTERNAL, /* a bug: an invariant did not hold */
} cl_status;

#define CL_ERROR_MSG_MAX 1024

typedef struct cl_error {
    cl_status code;
    char msg[CL_ERROR_MSG_MAX];
} cl_error;

/* An initializer: CL_OK with an empty message (as cl_error_clear leaves it). */
#define CL_ERROR_INIT {CL_OK, ""}

/* Reset to CL_OK with an empty message. */
void cl_error_clear(cl_error *err);

/* Record an error (printf-style message) and return its code; err may be NULL. */
cl_status cl_error_set(cl_error *err, cl_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context ("file.ann:12: ") to an existing message; returns err->code. */
cl_status cl_error_prefix(cl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record an error from a va_list (what cl_error_set does with its "..."). */
cl_status cl_error_vset(cl_error *err, cl_status code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Where the library reports what the user should know but is not an error
 * (a retried request, a skipped sentence, a cache hit); the CLI prints it to
 * stderr.  util.h's cl_logf formats a message for one. */
typedef void (*cl_log_fn)(void *ctx, const char *msg);

/* Short name of a status ("parse error", ...). */
const char *cl_status_name(cl_status code);

/* Library version string. */
const char *cl_version(void);

#ifdef __cplusplus
}
#endif
#endif
