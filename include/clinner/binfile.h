/*
 * binfile.h - the one checked container behind every binary file clinner
 * writes (CRF models, dense features, BM25 indexes, embedding caches), so
 * that each kind only says what its payload holds and none keeps its own
 * byte-order, bounds and checksum code.
 *
 * Layout (integers little-endian on every host):
 *   header (32 bytes): magic (8 bytes, names the kind), u32 format version,
 *                      u32 0 (reserved), u64 payload length,
 *                      u64 FNV-1a-64 of the payload
 *   payload: what the kind writes through a cl_binw; caches start it with a
 *            u64 key (a fingerprint of what the file was built from)
 * The CRF model's version-1 files have had exactly this layout since the
 * first release, so they are containers as they are.
 *
 * Writers: cl_binw gathers a payload in memory and cl_binw_save writes
 * header and payload atomically (util.h's cl_atomic_*); a file too large to
 * hold in memory is streamed (cl_bin_stream), the header's length and
 * checksum filled in at the end.  Readers: cl_binr_open
 * checks magic, version, length and checksum of a whole file read into
 * memory and then reads the payload through bounds-checked getters: a read
 * past the end returns 0 and marks the reader bad (checked once, at the end
 * of a section), never reads outside the data.
 */
#ifndef CLINNER_BINFILE_H
#define CLINNER_BINFILE_H

#include <stdio.h>

#include "clinner/util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CL_BIN_HEADER_BYTES 32

/* ---- writing ---- */

typedef struct cl_binw {
    cl_buf buf; /* the payload so far */
    bool bad;   /* an allocation failed (cl_binw_save reports it) */
} cl_binw;

void cl_binw_init(cl_binw *w);
void cl_binw_free(cl_binw *w);
void cl_binw_u32(cl_binw *w, uint32_t v);
void cl_binw_u64(cl_binw *w, uint64_t v);
void cl_binw_i32(cl_binw *w, int32_t v);
void cl_binw_i64(cl_binw *w, int64_t v);
void cl_binw_f32(cl_binw *w, float v);
void cl_binw_f64(cl_binw *w, double v);
void cl_binw_bytes(cl_binw *w, const void *p, size_t n);
/* u32 length, then the bytes */
void cl_binw_str(cl_binw *w, const char *s, size_t n);
void cl_binw_i32s(cl_binw *w, const int32_t *v, size_t n);
void cl_binw_f32s(cl_binw *w, const float *v, size_t n);

/* Write header + payload to path atomically.  magic is 8 bytes (a NUL may
 * end it).  CL_ERR_NOMEM when a put failed, CL_ERR_IO naming path. */
cl_status cl_binw_save(const cl_binw *w, const char *path, const char magic[8],
                       uint32_t version, cl_error *err);

/* Streaming, for a payload too large to gather (dense features of a whole
 * corpus): begin writes a header with length and checksum 0 at the start of
 * fp; put writes w's bytes, adds them to the checksum and empties w; end
 * seeks back to fill in length and checksum and leaves fp at the end (fp
 * must be a seekable file, as cl_atomic_open's are). */
typedef struct cl_bin_stream {
    FILE *fp;
    uint64_t len, sum;
    const char *what; /* for messages: the file's name */
} cl_bin_stream;

cl_status cl_bin_stream_begin(cl_bin_stream *s, FILE *fp, const char *what, const char magic[8],
                              uint32_t version, cl_error *err);
cl_status cl_bin_stream_put(cl_bin_stream *s, cl_binw *w, cl_error *err);
cl_status cl_bin_stream_end(cl_bin_stream *s, cl_error *err);

/* ---- reading ---- */

typedef struct cl_binr {
    const unsigned char *p; /* the payload */
    size_t n, at;
    bool bad; /* a read went past the end or a string held a NUL */
} cl_binr;

/* Whether data starts with magic (size >= 8). */
bool cl_bin_has_magic(const void *data, size_t size, const char magic[8]);

/* Check the container of a whole file in data[0..size) and point r at its
 * payload.  Versions min_version..max_version are accepted (*version gets
 * the file's; may be NULL).  Errors, with code (the kind's: CL_ERR_MODEL for
 * models, CL_ERR_FORMAT for caches), name path and say what kind ("CRF
 * model") the file should have been: "not a clinner KIND (bad magic
 * bytes)", "truncated KIND", "KIND format version V is not supported (this
 * clinner reads version ...)", "corrupt KIND (checksum mismatch)". */
cl_status cl_binr_open(cl_binr *r, const void *data, size_t size, const char magic[8],
                       uint32_t min_version, uint32_t max_version, uint32_t *version,
                       const char *path, const char *kind, cl_status code, cl_error *err);

uint32_t cl_binr_u32(cl_binr *r);
uint64_t cl_binr_u64(cl_binr *r);
int32_t cl_binr_i32(cl_binr *r);
int64_t cl_binr_i64(cl_binr *r);
float cl_binr_f32(cl_binr *r);
double cl_binr_f64(cl_binr *r);
/* A u32-length string: pointer into the data (not NUL-terminated). */
const char *cl_binr_str(cl_binr *r, size_t *len);
/* The same copied and NUL-terminated; a NUL inside marks r bad. */
char *cl_binr_strdup(cl_binr *r);
/* n values into dst; false (and r bad) when fewer remain. */
bool cl_binr_i32s(cl_binr *r, int32_t *dst, size_t n);
bool cl_binr_f32s(cl_binr *r, float *dst, size_t n);
/* Bytes left to read. */
size_t cl_binr_left(const cl_binr *r);
/* true when nothing went wrong and the payload is read to its end. */
bool cl_binr_done(const cl_binr *r);

#ifdef __cplusplus
}
#endif
#endif
