/*
 * buf.c - growable NUL-terminated byte buffer, the one string builder used
 * by writers and prompt builders.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/util.h"

void cl_buf_init(cl_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cl_buf_free(cl_buf *b)
{
    free(b->data);
    cl_buf_init(b);
}

void cl_buf_reset(cl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int reserve(cl_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int cl_buf_append(cl_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cl_buf_puts(cl_buf *b, const char *s) { return cl_buf_append(b, s, strlen(s)); }

int cl_buf_putc(cl_buf *b, char c) { return cl_buf_append(b, &c, 1); }

int cl_buf_printf(cl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *cl_buf_detach(cl_buf *b)
{
    char *d = b->data;
    if (!d)
        d = calloc(1, 1);
    cl_buf_init(b);
    return d;
}

char *cl_strdup(const char *s)
{
    return s ? cl_strndup(s, strlen(s)) : NULL;
}

char *cl_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
