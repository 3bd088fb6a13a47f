/*
 * file.c - whole-file reads and atomic writes.
 *
 * Every output file is written to "<path>.tmp.XXXXXX" in the same directory
 * and renamed over the target only when complete, so an error or a kill
 * never leaves a truncated output behind.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clinner/util.h"

cl_status cl_read_file(const char *path, char **out, size_t *len, cl_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(fp);
        return cl_error_set(err, CL_ERR_IO, "%s: is a directory, not a file", path);
    }
    cl_buf b;
    cl_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (cl_buf_append(&b, chunk, n) != 0) {
            fclose(fp);
            cl_buf_free(&b);
            return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    int failed = ferror(fp), why = errno;
    fclose(fp);
    if (failed) {
        cl_buf_free(&b);
        return cl_error_set(err, CL_ERR_IO, "%s: read error: %s", path, strerror(why));
    }
    if (len)
        *len = b.len;
    *out = cl_buf_detach(&b);
    return CL_OK;
}

cl_status cl_atomic_open(cl_atomic_file *f, const char *path, cl_error *err)
{
    memset(f, 0, sizeof *f);
    if (strcmp(path, "-") == 0) {
        f->fp = stdout;
        f->is_stdout = true;
        return CL_OK;
    }
    f->path = cl_strdup(path);
    size_t n = strlen(path) + 16;
    f->tmp_path = malloc(n);
    if (!f->path || !f->tmp_path) {
        cl_atomic_abort(f);
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(f->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(f->tmp_path);
        f->tmp_path = NULL;
        cl_atomic_abort(f);
        return CL_ERR_IO;
    }
    fchmod(fd, 0644);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        cl_atomic_abort(f);
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    return CL_OK;
}

cl_status cl_atomic_write(const char *path, const void *data, size_t len, cl_error *err)
{
    cl_atomic_file f;
    cl_status st = cl_atomic_open(&f, path, err);
    if (st != CL_OK)
        return st;
    if (len && fwrite(data, 1, len, f.fp) != len) {
        cl_atomic_abort(&f);
        return cl_error_set(err, CL_ERR_IO, "%s: write error", path);
    }
    return cl_atomic_commit(&f, err);
}

cl_status cl_atomic_commit(cl_atomic_file *f, cl_error *err)
{
    if (f->is_stdout) {
        int bad = fflush(stdout) != 0 || ferror(stdout);
        memset(f, 0, sizeof *f);
        return bad ? cl_error_set(err, CL_ERR_IO, "stdout: write error") : CL_OK;
    }
    if (!f->fp)
        return cl_error_set(err, CL_ERR_INTERNAL, "atomic file not open");
    int bad = fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0;
    bad |= fclose(f->fp) != 0;
    f->fp = NULL;
    if (bad) {
        cl_error_set(err, CL_ERR_IO, "%s: write error: %s", f->path, strerror(errno));
        cl_atomic_abort(f);
        return CL_ERR_IO;
    }
    if (rename(f->tmp_path, f->path) != 0) {
        cl_error_set(err, CL_ERR_IO, "%s: cannot rename into place: %s", f->path, strerror(errno));
        cl_atomic_abort(f);
        return CL_ERR_IO;
    }
    free(f->tmp_path);
    free(f->path);
    memset(f, 0, sizeof *f);
    return CL_OK;
}

void cl_atomic_abort(cl_atomic_file *f)
{
    if (f->is_stdout) {
        fflush(stdout);
        memset(f, 0, sizeof *f);
        return;
    }
    if (f->fp)
        fclose(f->fp);
    if (f->tmp_path)
        unlink(f->tmp_path);
    free(f->tmp_path);
    free(f->path);
    memset(f, 0, sizeof *f);
}

char *cl_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    bool slash = a > 0 && dir[a - 1] != '/';
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    if (slash)
        p[a++] = '/';
    memcpy(p + a, name, b + 1);
    return p;
}

bool cl_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool cl_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *cl_default_cache_dir(const char *sub)
{
    const char *c = getenv("CLINNER_CACHE"), *home = getenv("HOME");
    char *root = c && *c ? cl_strdup(c)
                 : home && *home ? cl_path_join(home, ".cache/clinner")
                                 : NULL;
    if (!root || !sub)
        return root;
    char *p = cl_path_join(root, sub);
    free(root);
    return p;
}

cl_status cl_mkdir_p(const char *path, cl_error *err)
{
    char *p = cl_strdup(path);
    if (!p)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            cl_error_set(err, CL_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
            free(p);
            return CL_ERR_IO;
        }
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        cl_error_set(err, CL_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
        free(p);
        return CL_ERR_IO;
    }
    free(p);
    return CL_OK;
}

double cl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool cl_threads_oversubscribed(double load, int ncpu, int nthreads)
{
    if (nthreads <= 0)
        nthreads = ncpu;
    /* a CPU counts as free when less than half of it is in use */
    return nthreads > 1 && load + nthreads > ncpu + 0.5;
}
