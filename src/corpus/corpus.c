/*
 * corpus.c - the table of format names and the dispatch from a format to its
 * reader and writer.  Adding a format means one row in `formats` and one case
 * in each switch below; the readers and writers themselves live in one file
 * per format (brat.c, papercsv.c, conll.c, jsonl.c, ...), declared in
 * formats.h.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"
#include "clinner/util.h"
#include "corpus/formats.h"

static const struct {
    const char *name;
    cl_format fmt;
    bool has_tokens;
} formats[] = {
    {"brat", CL_FORMAT_BRAT, false},
    {"paper-csv", CL_FORMAT_PAPER_CSV, true},
    {"conll", CL_FORMAT_CONLL, true},
    {"jsonl", CL_FORMAT_JSONL, true},
    {"paper-lines", CL_FORMAT_PAPER_LINES, true},
    {"text", CL_FORMAT_TEXT, false},
};
#define NFORMATS (sizeof formats / sizeof formats[0])

cl_status cl_format_from_name(const char *name, cl_format *out, cl_error *err)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (name && !strcmp(name, formats[i].name)) {
            *out = formats[i].fmt;
            return CL_OK;
        }
    return cl_error_set(err, CL_ERR_ARG,
                        "unknown format '%s' (valid: brat, paper-csv, conll, jsonl, "
                        "paper-lines, text)",
                        name ? name : "");
}

const char *cl_format_name(cl_format fmt)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].fmt == fmt)
            return formats[i].name;
    return "unknown";
}

bool cl_format_has_tokens(cl_format fmt)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].fmt == fmt)
            return formats[i].has_tokens;
    return false;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

cl_format cl_format_guess(const char *path)
{
    static const struct {
        const char *ext;
        cl_format fmt;
    } exts[] = {
        {".ann", CL_FORMAT_BRAT},     {".csv", CL_FORMAT_PAPER_CSV}, {".conll", CL_FORMAT_CONLL},
        {".tsv", CL_FORMAT_CONLL},    {".jsonl", CL_FORMAT_JSONL},   {".json", CL_FORMAT_JSONL},
    };
    if (!path || !strcmp(path, "-"))
        return CL_FORMAT_TEXT;
    if (cl_is_dir(path))
        return CL_FORMAT_BRAT;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (has_suffix(path, exts[i].ext))
            return exts[i].fmt;
    if (has_suffix(path, ".txt")) { /* a BRAT pair when its .ann is there */
        size_t n = strlen(path);
        char *ann = cl_strdup(path);
        bool pair = false;
        if (ann) {
            memcpy(ann + n - 4, ".ann", 4);
            pair = cl_is_file(ann);
        }
        free(ann);
        if (pair)
            return CL_FORMAT_BRAT;
    }
    return CL_FORMAT_TEXT;
}

cl_status cl_corpus_read(cl_corpus *c, cl_format fmt, const char *path, cl_error *err)
{
    switch (fmt) {
    case CL_FORMAT_BRAT:
        return cl_brat_read(c, path, err);
    case CL_FORMAT_PAPER_CSV:
        return cl_papercsv_read(c, path, err);
    case CL_FORMAT_CONLL:
        return cl_conll_read(c, path, err);
    case CL_FORMAT_JSONL:
        return cl_jsonl_read(c, path, err);
    case CL_FORMAT_TEXT:
        return cl_text_read(c, path, err);
    case CL_FORMAT_PAPER_LINES:
        return cl_error_set(err, CL_ERR_FORMAT,
                            "paper-lines is written only here (eval reads it against gold)");
    }
    return cl_error_set(err, CL_ERR_FORMAT, "unknown format %d", (int)fmt);
}

cl_status cl_corpus_write(const cl_corpus *c, cl_format fmt, const char *path, cl_error *err)
{
    switch (fmt) {
    case CL_FORMAT_BRAT:
        return cl_brat_write_dir(c, path, err);
    case CL_FORMAT_TEXT:
        return cl_error_set(err, CL_ERR_FORMAT, "text is an input format only");
    case CL_FORMAT_PAPER_CSV:
    case CL_FORMAT_CONLL:
    case CL_FORMAT_JSONL:
    case CL_FORMAT_PAPER_LINES:
        break;
    default:
        return cl_error_set(err, CL_ERR_FORMAT, "unknown format %d", (int)fmt);
    }
    cl_atomic_file f;
    cl_status st = cl_atomic_open(&f, path, err);
    if (st != CL_OK)
        return st;
    int64_t sentence_global = 0;
    st = cl_format_write_header(fmt, f.fp, err);
    for (int32_t i = 0; i < c->ndocs && st == CL_OK; i++)
        st = cl_doc_write(c->docs[i], fmt, f.fp, &sentence_global, err);
    if (st != CL_OK) {
        cl_atomic_abort(&f);
        return cl_error_prefix(err, "%s: ", path);
    }
    return cl_atomic_commit(&f, err);
}
