/*
 * fuzz_bm25.c - libFuzzer target for the BM25 index loader (cl_bm25_load),
 * which reads the index that knn-shot and rag cache on disk.  The file is
 * binfile.h's container (its header holds a checksum of the payload) and
 * must carry the caller's key, so random bytes would stop there: the input
 * is the payload, the target adds the header and passes the key the bytes
 * hold (the payload's first 8 bytes).
 *
 * A refused file must say why and name the file.  An accepted index must
 * answer queries: hits are distinct documents of the index, in order of
 * score, every score a finite number >= 0, and cl_bm25_score agrees.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_bm25
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/retrieve.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void query(const cl_bm25 *ix, const char *const *terms, int32_t nterms)
{
    enum { K = 4 };
    cl_bm25_hit hits[K];
    int32_t n = -1;
    cl_error err;
    if (cl_bm25_query(ix, terms, nterms, K, NULL, NULL, hits, &n, &err) != CL_OK)
        return; /* refusing a query is allowed; crashing on one is not */
    int32_t ndocs = cl_bm25_ndocs(ix);
    if (n < 0 || n > K || n > ndocs || (n < K && n != ndocs))
        abort();
    for (int32_t i = 0; i < n; i++) {
        if (hits[i].doc < 0 || hits[i].doc >= ndocs)
            abort();
        if (!isfinite(hits[i].score) || hits[i].score < 0)
            abort();
        if (i > 0 && (hits[i].score > hits[i - 1].score || hits[i].doc == hits[i - 1].doc))
            abort();
        double s = cl_bm25_score(ix, terms, nterms, hits[i].doc);
        if (!(fabs(s - hits[i].score) <= 1e-9 * (1 + fabs(s))))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    unsigned char *file = malloc(32 + size);
    if (!file)
        abort();
    uint64_t sum = cl_fnv1a64(CL_FNV64_INIT, data, size), len = size;
    uint32_t version = 2, reserved = 0;
    memcpy(file, "CLBM25\n", 8); /* the header, on a little-endian host */
    memcpy(file + 8, &version, 4);
    memcpy(file + 12, &reserved, 4);
    memcpy(file + 16, &len, 8);
    memcpy(file + 24, &sum, 8);
    if (size > 0)
        memcpy(file + 32, data, size);
    uint64_t key = 0;
    if (size >= 8)
        memcpy(&key, data, 8);

    char path[] = "/tmp/fuzz-bm25-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    if (write(fd, file, 32 + size) != (ssize_t)(32 + size))
        abort();
    close(fd);
    free(file);

    cl_error err;
    cl_error_clear(&err);
    cl_bm25 *ix = NULL;
    if (cl_bm25_load(path, key, &ix, &err) == CL_OK) {
        static const char *const q1[] = {"fever", "rash", "fever"};
        static const char *const q2[] = {"disease"};
        query(ix, q1, 3);
        query(ix, q2, 1);
        query(ix, NULL, 0);
        cl_bm25_free(ix);
    } else if (err.msg[0] == '\0' || !strstr(err.msg, path)) {
        abort(); /* a failure must say why, and in which file */
    }
    unlink(path);
    return 0;
}
