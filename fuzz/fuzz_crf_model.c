/*
 * fuzz_crf_model.c - libFuzzer target for the CRF model loader
 * (cl_crf_model_load).  A model file's payload is checksummed, so random
 * bytes would almost never get past the header; the input is therefore the
 * payload, and the target writes the 32-byte header (magic, version 1 and
 * then 2, payload length, FNV-1a-64 of the payload) in front of it.  That
 * puts the fuzzer where a writer bug or a forged file would: the type names,
 * feature configuration, metadata, gazetteer, vocabulary (version 2),
 * attributes and weights.
 *
 * A refused file must say why and name the file.  An accepted model must
 * tag a fixed sentence (without dense features; a model that needs them
 * must refuse instead) with labels of its own label set and confidences
 * that are numbers in [0, 1].
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_crf_model
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/crf.h"
#include "clinner/doc.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"
#include "crf/crf_internal.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static bool is_model_label(const cl_crf_model *m, const char *tag)
{
    cl_crf_model_info info;
    cl_crf_model_get_info(m, &info);
    for (int32_t i = 0; i < info.nlabels; i++)
        if (strcmp(cl_crf_model_label(m, i), tag) == 0)
            return true;
    return false;
}

static void tag_fixed_sentence(const cl_crf_model *m)
{
    static const char text[] = "Patients with Behçet disease have fever and oral ulcers .";
    cl_error err;
    cl_error_clear(&err);
    cl_doc *doc;
    if (cl_doc_new("fuzz", text, sizeof text - 1, &doc, &err) != CL_OK ||
        cl_tokenize_doc(doc, CL_TOKENIZER_PAPER, &err) != CL_OK)
        abort();
    cl_crf_model_info info;
    cl_crf_model_get_info(m, &info);
    cl_status st = cl_crf_tag(m, NULL, doc, 0, doc->nsentences, &err);
    if (info.dense_dim > 0) {
        if (st == CL_OK || !strstr(err.msg, "dense"))
            abort(); /* a model that needs dense features must say so */
    } else if (st == CL_OK) {
        for (int32_t i = 0; i < doc->ntokens; i++) {
            if (!is_model_label(m, doc->tags[i]))
                abort();
            float c = doc->tag_conf[i];
            if (!(c >= 0.0f && c <= 1.0f + 1e-5f))
                abort();
        }
    } else if (err.msg[0] == '\0') {
        abort();
    }
    cl_doc_free(doc);
}

/* Load the payload under a header of the given format version. */
static void load_as(const unsigned char *data, size_t size, uint32_t version)
{
    unsigned char *file = malloc(32 + size + 1);
    if (!file)
        abort();
    memcpy(file, "CLNRCRF", 8);
    put_le(file + 8, version, 4);
    put_le(file + 12, 0, 4);
    put_le(file + 16, size, 8);
    put_le(file + 24, cl_fnv1a64(CL_FNV64_INIT, data, size), 8);
    if (size > 0)
        memcpy(file + 32, data, size);

    char path[] = "/tmp/fuzz-crf-model-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    if (write(fd, file, 32 + size) != (ssize_t)(32 + size))
        abort();
    close(fd);
    free(file);

    cl_error err;
    cl_error_clear(&err);
    cl_crf_model *m = NULL;
    if (cl_crf_model_load(path, &m, &err) == CL_OK) {
        tag_fixed_sentence(m);
        cl_crf_model_free(m);
    } else if (err.msg[0] == '\0' || !strstr(err.msg, path)) {
        abort(); /* a failure must say why, and in which file */
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    load_as(data, size, 1);
    load_as(data, size, 2); /* version 2: a vocabulary after the gazetteer */
    return 0;
}
