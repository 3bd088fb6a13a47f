/*
 * binfile.c - the checked binary container of binfile.h: a 32-byte header
 * (magic, version, reserved, payload length, FNV-1a-64 of the payload) and
 * little-endian payload values written and read through bounds-checked
 * helpers, so that the CRF model, dense features, BM25 index and embedding
 * cache share one implementation of byte order, bounds and checksums.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/binfile.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BIN_HOST_LE 1
#else
#define BIN_HOST_LE 0
#endif

/* ---- writing ---- */

void cl_binw_init(cl_binw *w)
{
    cl_buf_init(&w->buf);
    w->bad = false;
}

void cl_binw_free(cl_binw *w)
{
    cl_buf_free(&w->buf);
    w->bad = false;
}

void cl_binw_bytes(cl_binw *w, const void *p, size_t n)
{
    if (!w->bad && n && cl_buf_append(&w->buf, p, n) != 0)
        w->bad = true;
}

static void le32(unsigned char *c, uint32_t v)
{
    c[0] = (unsigned char)(v & 0xff);
    c[1] = (unsigned char)((v >> 8) & 0xff);
    c[2] = (unsigned char)((v >> 16) & 0xff);
    c[3] = (unsigned char)(v >> 24);
}

void cl_binw_u32(cl_binw *w, uint32_t v)
{
    unsigned char c[4];
    le32(c, v);
    cl_binw_bytes(w, c, 4);
}

void cl_binw_u64(cl_binw *w, uint64_t v)
{
    cl_binw_u32(w, (uint32_t)(v & 0xffffffffu));
    cl_binw_u32(w, (uint32_t)(v >> 32));
}

void cl_binw_i32(cl_binw *w, int32_t v) { cl_binw_u32(w, (uint32_t)v); }
void cl_binw_i64(cl_binw *w, int64_t v) { cl_binw_u64(w, (uint64_t)v); }

void cl_binw_f32(cl_binw *w, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    cl_binw_u32(w, u);
}

void cl_binw_f64(cl_binw *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    cl_binw_u64(w, u);
}

void cl_binw_str(cl_binw *w, const char *s, size_t n)
{
    cl_binw_u32(w, (uint32_t)n);
    cl_binw_bytes(w, s, n);
}

/* 4-byte values in bulk: a plain copy on a little-endian host. */
static void put_words(cl_binw *w, const void *v, size_t n)
{
    if (BIN_HOST_LE) {
        cl_binw_bytes(w, v, n * 4);
        return;
    }
    const unsigned char *p = v;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        cl_binw_u32(w, u);
    }
}

void cl_binw_i32s(cl_binw *w, const int32_t *v, size_t n) { put_words(w, v, n); }
void cl_binw_f32s(cl_binw *w, const float *v, size_t n) { put_words(w, v, n); }

static void header(unsigned char h[CL_BIN_HEADER_BYTES], const char magic[8], uint32_t version,
                   uint64_t len, uint64_t sum)
{
    memset(h, 0, CL_BIN_HEADER_BYTES);
    memcpy(h, magic, 8);
    le32(h + 8, version);
    le32(h + 16, (uint32_t)(len & 0xffffffffu));
    le32(h + 20, (uint32_t)(len >> 32));
    le32(h + 24, (uint32_t)(sum & 0xffffffffu));
    le32(h + 28, (uint32_t)(sum >> 32));
}

cl_status cl_binw_save(const cl_binw *w, const char *path, const char magic[8],
                       uint32_t version, cl_error *err)
{
    if (w->bad)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory while serialising", path);
    unsigned char h[CL_BIN_HEADER_BYTES];
    header(h, magic, version, w->buf.len, cl_fnv1a64(CL_FNV64_INIT, w->buf.data, w->buf.len));
    cl_atomic_file f;
    cl_status st = cl_atomic_open(&f, path, err);
    if (st != CL_OK)
        return st;
    if (fwrite(h, 1, sizeof h, f.fp) != sizeof h ||
        fwrite(w->buf.data, 1, w->buf.len, f.fp) != w->buf.len) {
        st = cl_error_set(err, CL_ERR_IO, "%s: write error: %s", path, strerror(errno));
        cl_atomic_abort(&f);
        return st;
    }
    return cl_atomic_commit(&f, err);
}

cl_status cl_bin_stream_begin(cl_bin_stream *s, FILE *fp, const char *what, const char magic[8],
                              uint32_t version, cl_error *err)
{
    s->fp = fp;
    s->len = 0;
    s->sum = CL_FNV64_INIT;
    s->what = what ? what : "binary file";
    unsigned char h[CL_BIN_HEADER_BYTES];
    header(h, magic, version, 0, 0);
    if (fwrite(h, 1, sizeof h, fp) != sizeof h)
        return cl_error_set(err, CL_ERR_IO, "%s: write error: %s", s->what, strerror(errno));
    return CL_OK;
}

cl_status cl_bin_stream_put(cl_bin_stream *s, cl_binw *w, cl_error *err)
{
    if (w->bad)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory while serialising", s->what);
    if (fwrite(w->buf.data, 1, w->buf.len, s->fp) != w->buf.len)
        return cl_error_set(err, CL_ERR_IO, "%s: write error: %s", s->what, strerror(errno));
    s->sum = cl_fnv1a64(s->sum, w->buf.data, w->buf.len);
    s->len += w->buf.len;
    cl_buf_reset(&w->buf);
    return CL_OK;
}

cl_status cl_bin_stream_end(cl_bin_stream *s, cl_error *err)
{
    static const char no_magic[8] = {0};
    unsigned char h[CL_BIN_HEADER_BYTES];
    header(h, no_magic, 0, s->len, s->sum);
    if (fseek(s->fp, 16, SEEK_SET) != 0 || fwrite(h + 16, 1, 16, s->fp) != 16 ||
        fseek(s->fp, 0, SEEK_END) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot complete the header: %s", s->what,
                            strerror(errno));
    return CL_OK;
}

/* ---- reading ---- */

static uint32_t rd32(const unsigned char *c)
{
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

static uint64_t rd64(const unsigned char *c)
{
    return (uint64_t)rd32(c) | (uint64_t)rd32(c + 4) << 32;
}

bool cl_bin_has_magic(const void *data, size_t size, const char magic[8])
{
    return size >= 8 && memcmp(data, magic, 8) == 0;
}

cl_status cl_binr_open(cl_binr *r, const void *data, size_t size, const char magic[8],
                       uint32_t min_version, uint32_t max_version, uint32_t *version,
                       const char *path, const char *kind, cl_status code, cl_error *err)
{
    const unsigned char *p = data;
    r->p = NULL;
    r->n = r->at = 0;
    r->bad = true;
    if (!cl_bin_has_magic(data, size, magic))
        return cl_error_set(err, code, "%s: not a clinner %s (bad magic bytes)", path, kind);
    if (size < CL_BIN_HEADER_BYTES)
        return cl_error_set(err, code, "%s: truncated %s (%zu bytes, header is %d)", path, kind,
                            size, CL_BIN_HEADER_BYTES);
    uint32_t v = rd32(p + 8);
    if (v < min_version || v > max_version) {
        if (min_version == max_version)
            return cl_error_set(err, code,
                                "%s: %s format version %u is not supported (this clinner reads "
                                "version %u)",
                                path, kind, v, max_version);
        return cl_error_set(err, code,
                            "%s: %s format version %u is not supported (this clinner reads "
                            "versions %u to %u)",
                            path, kind, v, min_version, max_version);
    }
    uint64_t len = rd64(p + 16), sum = rd64(p + 24);
    size_t have = size - CL_BIN_HEADER_BYTES;
    if (have < len)
        return cl_error_set(err, code, "%s: truncated %s (%zu of %llu payload bytes present)",
                            path, kind, have, (unsigned long long)len);
    if (have > len)
        return cl_error_set(err, code, "%s: corrupt %s (trailing bytes after the payload)", path,
                            kind);
    if (cl_fnv1a64(CL_FNV64_INIT, p + CL_BIN_HEADER_BYTES, have) != sum)
        return cl_error_set(err, code, "%s: corrupt %s (checksum mismatch)", path, kind);
    if (version)
        *version = v;
    r->p = p + CL_BIN_HEADER_BYTES;
    r->n = have;
    r->bad = false;
    return CL_OK;
}

static const unsigned char *take(cl_binr *r, size_t n)
{
    if (r->bad || r->n - r->at < n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *c = r->p + r->at;
    r->at += n;
    return c;
}

uint32_t cl_binr_u32(cl_binr *r)
{
    const unsigned char *c = take(r, 4);
    return c ? rd32(c) : 0;
}

uint64_t cl_binr_u64(cl_binr *r)
{
    const unsigned char *c = take(r, 8);
    return c ? rd64(c) : 0;
}

int32_t cl_binr_i32(cl_binr *r) { return (int32_t)cl_binr_u32(r); }
int64_t cl_binr_i64(cl_binr *r) { return (int64_t)cl_binr_u64(r); }

float cl_binr_f32(cl_binr *r)
{
    uint32_t u = cl_binr_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double cl_binr_f64(cl_binr *r)
{
    uint64_t u = cl_binr_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

const char *cl_binr_str(cl_binr *r, size_t *len)
{
    uint32_t n = cl_binr_u32(r);
    const unsigned char *c = take(r, n);
    *len = c ? n : 0;
    return (const char *)c;
}

char *cl_binr_strdup(cl_binr *r)
{
    size_t n;
    const char *s = cl_binr_str(r, &n);
    if (!s)
        return NULL;
    if (memchr(s, '\0', n)) {
        r->bad = true;
        return NULL;
    }
    char *c = cl_strndup(s, n);
    if (!c)
        r->bad = true;
    return c;
}

static bool get_words(cl_binr *r, void *dst, size_t n)
{
    if (n == 0)
        return !r->bad;
    if (r->bad || n > (r->n - r->at) / 4) {
        r->bad = true;
        return false;
    }
    const unsigned char *c = take(r, n * 4);
    if (BIN_HOST_LE) {
        memcpy(dst, c, n * 4);
        return true;
    }
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = rd32(c + 4 * i);
        memcpy(d + 4 * i, &u, 4);
    }
    return true;
}

bool cl_binr_i32s(cl_binr *r, int32_t *dst, size_t n) { return get_words(r, dst, n); }
bool cl_binr_f32s(cl_binr *r, float *dst, size_t n) { return get_words(r, dst, n); }

size_t cl_binr_left(const cl_binr *r) { return r->bad ? 0 : r->n - r->at; }

bool cl_binr_done(const cl_binr *r) { return !r->bad && r->at == r->n; }
