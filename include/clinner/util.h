/*
 * util.h - small building blocks shared by every module: a growable string
 * buffer, whole-file reading, atomic file output (write to a temporary
 * file in the same directory, rename on commit) so that no command ever
 * leaves a partial output file behind, the one log-message formatter and
 * the one hash (FNV-1a 64) behind checksums, cache keys and fingerprints.
 */
#ifndef CLINNER_UTIL_H
#define CLINNER_UTIL_H

#include <stdarg.h>
#include <stdio.h>

#include "clinner/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- growable byte/string buffer (always NUL-terminated) ---- */
typedef struct cl_buf {
    char *data;
    size_t len;
    size_t cap;
} cl_buf;

void cl_buf_init(cl_buf *b);
void cl_buf_free(cl_buf *b);
void cl_buf_reset(cl_buf *b);                         /* len = 0, keeps memory */
int cl_buf_append(cl_buf *b, const char *s, size_t n); /* 0 ok, -1 nomem */
int cl_buf_puts(cl_buf *b, const char *s);
int cl_buf_putc(cl_buf *b, char c);
int cl_buf_printf(cl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Give up ownership of the data (caller frees); buffer is reset. */
char *cl_buf_detach(cl_buf *b);

/* strdup / strndup that work in C11 mode; NULL on allocation failure. */
char *cl_strdup(const char *s);
char *cl_strndup(const char *s, size_t n);

/* Read a whole file. *out is NUL-terminated; caller frees. */
cl_status cl_read_file(const char *path, char **out, size_t *len, cl_error *err);

/* ---- atomic output file ----
 * cl_atomic_open creates "<path>.tmp.XXXXXX" beside path; cl_atomic_commit
 * flushes, fsyncs and renames it over path; cl_atomic_abort removes it.
 * path "-" means stdout (commit/abort only flush). */
typedef struct cl_atomic_file {
    FILE *fp;
    char *path;
    char *tmp_path;
    bool is_stdout;
} cl_atomic_file;

cl_status cl_atomic_open(cl_atomic_file *f, const char *path, cl_error *err);
cl_status cl_atomic_commit(cl_atomic_file *f, cl_error *err);
void cl_atomic_abort(cl_atomic_file *f);
/* The whole of data[0..len) to path, atomically as above. */
cl_status cl_atomic_write(const char *path, const void *data, size_t len, cl_error *err);

/* Join a directory and a file name into a new string. */
char *cl_path_join(const char *dir, const char *name);
/* true if path is an existing directory. */
bool cl_is_dir(const char *path);
/* true if path is an existing regular file. */
bool cl_is_file(const char *path);
/* The cache folder of downloads, indexes and models, or its sub-folder sub
 * (NULL: the folder itself): $CLINNER_CACHE, else ~/.cache/clinner; NULL
 * when neither can be named.  The one place that decides.  Caller frees. */
char *cl_default_cache_dir(const char *sub);
/* Create a directory and its parents (like mkdir -p). */
cl_status cl_mkdir_p(const char *path, cl_error *err);

/* Whether nthreads spinning threads (0: one per CPU) would share ncpu CPUs
 * with other work (load: the 1-minute load average before they start).
 * llama.cpp's threads spin while they wait for each other, so on busy CPUs
 * more threads are slower: `clinner tag` took 476 s for a 3-sentence demo
 * with 2 threads on 2 busy cores and 7.6 s on idle ones. */
bool cl_threads_oversubscribed(double load, int ncpu, int nthreads);

/* Monotonic clock in seconds. */
double cl_now(void);

/* ---- log messages ----
 * Format a message (printf-style, cut at 2 KiB) and hand it to log(ctx, msg);
 * nothing happens when log is NULL.  Every module that reports notes through
 * a cl_log_fn (common.h) formats them here. */
void cl_logf(cl_log_fn log, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for a module's own printf-like note function (va_list). */
void cl_vlogf(cl_log_fn log, void *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* ---- hashing ----
 * FNV-1a 64 of data[0..n), continuing from h (start with CL_FNV64_INIT): the
 * checksum of binary files (binfile.h), cache keys and resume fingerprints. */
#define CL_FNV64_INIT 0xcbf29ce484222325ULL
uint64_t cl_fnv1a64(uint64_t h, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
