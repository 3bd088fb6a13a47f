/*
 * docwrite.c - cl_doc_write and cl_format_write_header: the dispatch from a
 * token format to its one-document writer (papercsv.c, conll.c, jsonl.c,
 * paperlines.c).  cl_corpus_write (corpus.c) streams a whole corpus through
 * these into an atomic file; callers that produce documents one at a time
 * (a tagger over a large corpus) call them directly.
 */
#include "corpus/formats.h"

cl_status cl_format_write_header(cl_format fmt, FILE *fp, cl_error *err)
{
    if (fmt == CL_FORMAT_PAPER_CSV)
        return cl_papercsv_write_header(fp, err);
    return CL_OK;
}

cl_status cl_doc_write(const cl_doc *doc, cl_format fmt, FILE *fp, int64_t *sentence_global,
                       cl_error *err)
{
    switch (fmt) {
    case CL_FORMAT_PAPER_CSV:
        return cl_papercsv_write_doc(doc, fp, sentence_global, err);
    case CL_FORMAT_CONLL:
        return cl_conll_write_doc(doc, fp, err);
    case CL_FORMAT_JSONL:
        return cl_jsonl_write_doc(doc, fp, err);
    case CL_FORMAT_PAPER_LINES:
        return cl_paperlines_write_doc(doc, fp, sentence_global, err);
    case CL_FORMAT_BRAT:
        return cl_error_set(err, CL_ERR_FORMAT,
                            "brat is written as a directory (cl_corpus_write), not a stream");
    case CL_FORMAT_TEXT:
        return cl_error_set(err, CL_ERR_FORMAT, "text is an input format only");
    }
    return cl_error_set(err, CL_ERR_FORMAT, "unknown format %d", (int)fmt);
}
