/*
 * cli_io.c - shared input/output plumbing of the commands (cli_io.h).
 *
 * The rules are the ones `clinner convert` documents: documents from a
 * format without tokens are tokenized; gold entities become BIO tags with
 * the tokenizer's policy (the paper's brat2iob rules for the paper
 * tokenizer, so tagging the test split with it lines up row for row with
 * the paper's CSV); a label set drops entities and tags of other types.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_io.h"
#include "clinner/util.h"

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

cl_format cli_guess_format(const char *path)
{
    if (!path || !strcmp(path, "-"))
        return CL_FORMAT_TEXT;
    if (cl_is_dir(path) || has_suffix(path, ".ann"))
        return CL_FORMAT_BRAT;
    if (has_suffix(path, ".csv"))
        return CL_FORMAT_PAPER_CSV;
    if (has_suffix(path, ".conll") || has_suffix(path, ".tsv"))
        return CL_FORMAT_CONLL;
    if (has_suffix(path, ".jsonl") || has_suffix(path, ".json"))
        return CL_FORMAT_JSONL;
    return CL_FORMAT_TEXT;
}

cl_status cli_prepare_doc(cl_doc *doc, const cli_input *in, cl_error *err)
{
    cl_status st = cl_doc_keep_types(doc, in->types, in->ntypes, err);
    if (st != CL_OK)
        return st;
    if (doc->ntokens == 0 && (st = cl_tokenize_doc(doc, in->tokenizer, err)) != CL_OK)
        return cl_error_prefix(err, "%s: ", doc->id);
    if (doc->ntokens > 0 && doc->nsentences == 0 &&
        (st = cl_doc_push_sentence(doc, 0, doc->ntokens, err)) != CL_OK)
        return st; /* tokens without sentence breaks: one sentence */
    if (!doc->tags) {
        cl_bio_policy policy =
            in->tokenizer == CL_TOKENIZER_PAPER ? CL_BIO_PAPER : CL_BIO_CLINICAL;
        st = doc->nentities > 0
                 ? cl_bio_from_entities(doc, policy, in->types, in->ntypes, in->bio_stats, err)
                 : cl_doc_reset_tags(doc, err);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

cl_status cli_read_corpus(const cli_input *in, cl_corpus **out, cl_error *err)
{
    *out = NULL;
    cl_corpus *c = cl_corpus_new();
    if (!c)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = cl_corpus_read(c, in->format, in->path, err);
    for (int32_t i = 0; i < c->ndocs && st == CL_OK; i++)
        st = cli_prepare_doc(c->docs[i], in, err);
    if (st != CL_OK) {
        cl_corpus_free(c);
        return st;
    }
    *out = c;
    return CL_OK;
}

cl_status cli_write_corpus(cl_corpus *c, cl_format fmt, const char *path,
                           bool entities_from_tags, cl_error *err)
{
    if (entities_from_tags && (fmt == CL_FORMAT_BRAT || fmt == CL_FORMAT_JSONL)) {
        for (int32_t i = 0; i < c->ndocs; i++) {
            cl_doc *d = c->docs[i];
            if (!d->tags)
                continue;
            cl_status st = cl_bio_to_entities(d, err);
            if (st != CL_OK)
                return cl_error_prefix(err, "%s: ", d->id);
        }
    }
    if (fmt == CL_FORMAT_BRAT && (!path || !strcmp(path, "-")))
        return cl_error_set(err, CL_ERR_ARG, "brat output needs a directory (-o DIR)");
    return cl_corpus_write(c, fmt, path ? path : "-", err);
}

cl_status cli_parse_int(const char *opt, const char *s, long min, long max, long *out,
                        cl_error *err)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > max)
        return cl_error_set(err, CL_ERR_ARG, "%s: expected an integer in %ld..%ld, got '%s'",
                            opt, min, max, s ? s : "");
    *out = v;
    return CL_OK;
}

cl_status cli_parse_double(const char *opt, const char *s, double min, double *out,
                           cl_error *err)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < min)
        return cl_error_set(err, CL_ERR_ARG, "%s: expected a number >= %g, got '%s'", opt, min,
                            s ? s : "");
    *out = v;
    return CL_OK;
}

bool cli_threads_oversubscribed(double load, int ncpu, int nthreads)
{
    if (nthreads <= 0)
        nthreads = ncpu;
    /* a CPU counts as free when less than half of it is in use */
    return nthreads > 1 && load + nthreads > ncpu + 0.5;
}
