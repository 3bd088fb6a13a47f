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
/* The file readers of the parsers above: read path ("-": stdin) and parse
 * its bytes, after a UTF-8 BOM, naming the file (or "stdin") in messages. */
typedef cl_status (*cl_corpus_parse_fn)(cl_corpus *c, const char *data, size_t n,
                                        const char *file, cl_error *err);
cl_status cl_read_parsed(cl_corpus *c, const char *path, cl_corpus_parse_fn parse, cl_error *err);

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

/* jsonl.c: one line (line: its number, for messages); a blank line adds nothing. */
cl_status cl_jsonl_parse_line(cl_corpus *c, const char *s, size_t len, const char *file,
                              long line, cl_error *err);

/* conll.c: the reader as a line-by-line state machine, for the whole-file
 * parser and the streaming reader (reader.c): each line may complete the
 * previous document and add it to c; cl_conll_end adds the last one. */
typedef struct cl_conll_state {
    const char *file; /* name used in messages */
    long line;        /* lines fed so far */
    cl_tokbuild b;
    char *id;
    bool open;        /* a document has been started */
    bool new_sent;    /* next token starts a sentence */
    int ndocstart;    /* -DOCSTART- lines so far (their documents are doc1, doc2, ...) */
} cl_conll_state;
void cl_conll_state_init(cl_conll_state *cs, const char *file);
void cl_conll_state_free(cl_conll_state *cs);
/* Forget the document being built (after an error in it). */
void cl_conll_state_drop_doc(cl_conll_state *cs);
/* Whether a line starts a new document ("# doc:" or -DOCSTART-). */
bool cl_conll_starts_doc(const char *s, size_t len);
/* One line, without its newline (valid UTF-8, no NUL: the caller checks). */
cl_status cl_conll_line(cl_conll_state *cs, cl_corpus *c, const char *s, size_t len,
                        cl_error *err);
cl_status cl_conll_end(cl_conll_state *cs, cl_corpus *c, cl_error *err);

/* textfile.c: data[0..n) as one document named id (name: for messages). */
cl_status cl_text_parse(cl_corpus *c, const char *data, size_t n, const char *name,
                        const char *id, cl_error *err);

#endif
