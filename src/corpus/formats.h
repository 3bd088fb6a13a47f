/*
 * formats.h - private seam between the format dispatch (corpus.c) and the
 * per-format readers.  Each reader appends the documents it finds at path to
 * c and names the file and line of any malformed input.  Writers of token
 * formats are reached through cl_doc_write / cl_format_write_header
 * (corpus.h); the BRAT directory writer lives in brat.c.
 */
#ifndef CLINNER_CORPUS_FORMATS_H
#define CLINNER_CORPUS_FORMATS_H

#include "clinner/corpus.h"
#include "clinner/util.h"

/* brat.c: a directory of .txt/.ann pairs, or one .txt or .ann path. */
cl_status cl_brat_read(cl_corpus *c, const char *path, cl_error *err);
/* brat.c: write every document as <dir>/<id>.txt + <dir>/<id>.ann. */
cl_status cl_brat_write_dir(const cl_corpus *c, const char *dir, cl_error *err);

/* papercsv.c: the paper's token CSV ("-" = stdin). */
cl_status cl_papercsv_read(cl_corpus *c, const char *path, cl_error *err);
/* conll.c: token TAB label, blank lines between sentences ("-" = stdin). */
cl_status cl_conll_read(cl_corpus *c, const char *path, cl_error *err);
/* jsonl.c: one JSON document per line ("-" = stdin). */
cl_status cl_jsonl_read(cl_corpus *c, const char *path, cl_error *err);
/* A plain UTF-8 text file, or "-" for stdin, as one document whose id is the
 * file stem (or "stdin"). */
cl_status cl_text_read(cl_corpus *c, const char *path, cl_error *err);

/* Token-format writers behind cl_doc_write / cl_format_write_header: one
 * document each, streamed to fp (papercsv.c, conll.c, jsonl.c, paperlines.c).
 * A document without tags is written with O everywhere. */
cl_status cl_papercsv_write_header(FILE *fp, cl_error *err);
cl_status cl_papercsv_write_doc(const cl_doc *doc, FILE *fp, int64_t *sentence_global,
                                cl_error *err);
cl_status cl_conll_write_doc(const cl_doc *doc, FILE *fp, cl_error *err);
cl_status cl_jsonl_write_doc(const cl_doc *doc, FILE *fp, cl_error *err);
/* open_block: nonzero when the previous document's last sentence had no
 * closing ".", "?" or "!" and continues in this document's first block. */
cl_status cl_paperlines_write_doc(const cl_doc *doc, FILE *fp, int64_t *open_block,
                                  cl_error *err);

/* From-memory variants of the readers above (file is the name used in
 * messages); the file readers call these, and so do the fuzz targets. */
cl_status cl_papercsv_parse(cl_corpus *c, const char *data, size_t n, const char *file,
                            cl_error *err);
cl_status cl_conll_parse(cl_corpus *c, const char *data, size_t n, const char *file,
                         cl_error *err);
cl_status cl_jsonl_parse(cl_corpus *c, const char *data, size_t n, const char *file,
                         cl_error *err);

/* textfile.c: read a whole file, or all of stdin for "-"; *out is
 * NUL-terminated, caller frees. */
cl_status cl_read_input(const char *path, char **out, size_t *len, cl_error *err);

/* papercsv.c: builds a document from a stream of (token, tag) pairs, as the
 * token formats without the original text need: the text becomes the tokens
 * joined by single spaces (also between sentences). */
typedef struct cl_tokbuild {
    cl_buf text;
    int32_t nchars;
    cl_token *toks;
    char **tags;
    float *conf;
    int32_t ntoks, cap;
    int32_t *sent_ends; /* token index where each sentence but the last ends */
    int32_t nsents, scap;
    bool any_conf;
} cl_tokbuild;

void cl_tokbuild_init(cl_tokbuild *b);
void cl_tokbuild_free(cl_tokbuild *b);
/* Append token tok[0..n) (valid UTF-8, n > 0) with its tag; new_sentence
 * starts a new sentence unless it is the first token.  -1 on out of memory. */
int cl_tokbuild_token(cl_tokbuild *b, const char *tok, size_t n, const char *tag, size_t tagn,
                      bool new_sentence);
/* The document built so far (the builder is emptied for the next one). */
cl_doc *cl_tokbuild_finish(cl_tokbuild *b, const char *id, cl_error *err);
/* "O" or B-/I-/E-/S- followed by a type without spaces. */
bool cl_bio_tag_valid(const char *tag, size_t n);

#endif
