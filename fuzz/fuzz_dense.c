/*
 * fuzz_dense.c - libFuzzer target for the CRF's dense feature reader
 * (cl_dense_read: header, records of id, token count and float rows).  The
 * reader takes a path, so the input is written to a temporary file first.
 * A refused file must say why and name the file; an accepted one must have
 * a positive dimension, and its first document (whose id the target reads
 * from the bytes) must be found with rows that are all finite numbers.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_dense
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/crf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static uint32_t u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char path[] = "/tmp/fuzz-dense-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    if (size > 0 && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    cl_error err;
    cl_error_clear(&err);
    cl_dense_table *t = NULL;
    if (cl_dense_read(path, &t, &err) == CL_OK) {
        int32_t dim = cl_dense_dim(t);
        if (dim <= 0)
            abort();
        if (size >= 16 && memcmp(data, "CLDENSE1", 8) == 0) {
            /* the first record of a first-format file, when there is one */
            uint32_t idlen = u32le(data + 12);
            if (idlen < 256 && size >= 16 + (size_t)idlen + 4) {
                char id[256];
                memcpy(id, data + 16, idlen);
                id[idlen] = '\0';
                int32_t n = -1;
                const float *rows = strlen(id) == idlen ? cl_dense_find(t, id, &n) : NULL;
                if (strlen(id) == idlen && !rows)
                    abort(); /* accepted, yet its first document is missing */
                for (int64_t i = 0; rows && i < (int64_t)n * dim; i++)
                    if (!isfinite(rows[i]))
                        abort();
            }
        }
        cl_dense_free(t);
    } else if (err.msg[0] == '\0' || !strstr(err.msg, path)) {
        abort(); /* a failure must say why, and in which file */
    }
    unlink(path);
    return 0;
}
