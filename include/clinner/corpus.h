/*
 * corpus.h - readers and writers of the formats clinical NLP people use:
 *
 *   brat       .txt + .ann standoff (a directory, or one .txt/.ann pair)
 *   paper-csv  the paper's token CSV: Token,Tag,Sentence_Num,Sentence_Num_Global,File
 *              (quoted as Python's csv module does)
 *   conll      token TAB label, blank line between sentences, "# doc: ID"
 *              comment lines between documents
 *   jsonl      one document per line: {"id","text","sentences":[[tb,te],..],
 *              "tokens":[{"start","end","text","label"}...],
 *              "entities":[{"id","type","fragments":[[s,e],..],"text"}]}
 *   paper-lines the paper's LLM output: "token : label" lines, blocks
 *              separated by "######" lines, one block per sentence (write only
 *              here; eval.h parses it against gold)
 *   text       plain UTF-8 text, one document (read only)
 *
 * Readers name the file and line of any malformed input; writers write
 * atomically (no partial output on error).
 */
#ifndef CLINNER_CORPUS_H
#define CLINNER_CORPUS_H

#include <stdio.h>

#include "clinner/doc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_format {
    CL_FORMAT_BRAT = 0,
    CL_FORMAT_PAPER_CSV,
    CL_FORMAT_CONLL,
    CL_FORMAT_JSONL,
    CL_FORMAT_PAPER_LINES,
    CL_FORMAT_TEXT,
} cl_format;

cl_status cl_format_from_name(const char *name, cl_format *out, cl_error *err);
const char *cl_format_name(cl_format fmt);
/* The format of a path when none is given: brat for a directory, a .ann, or
 * a .txt with a .ann beside it; by extension .csv paper-csv, .conll/.tsv
 * conll, .jsonl/.json jsonl; else (and for "-") text. */
cl_format cl_format_guess(const char *path);
/* Whether the format carries tokens (paper-csv, conll, jsonl, paper-lines). */
bool cl_format_has_tokens(cl_format fmt);

/* Append the documents found at path to c.  BRAT: a directory (every .txt,
 * sorted by name, with its .ann; a missing .ann means no entities, a .ann
 * without .txt is an error) or a single .txt or .ann path.  paper-csv:
 * documents split on the File column, sentences on Sentence_Num, text
 * rebuilt as tokens joined by single spaces.  "-" reads stdin (not brat). */
cl_status cl_corpus_read(cl_corpus *c, cl_format fmt, const char *path, cl_error *err);

/* Read one BRAT pair (ann_path may be NULL: no annotations). */
cl_status cl_brat_read_pair(const char *txt_path, const char *ann_path, cl_doc **out,
                            cl_error *err);
/* Parse .ann content for doc (file is the name used in messages). */
cl_status cl_brat_parse_ann(cl_doc *doc, const char *ann, size_t n, const char *file,
                            cl_error *err);

/* Write c to path ("-" for stdout; for brat a directory, created if needed,
 * where <id>.txt and <id>.ann are written).  Token formats need tokens and
 * write doc->tags (O where NULL). */
cl_status cl_corpus_write(const cl_corpus *c, cl_format fmt, const char *path, cl_error *err);

/* Stream one document in a token format (not brat) to fp; *sentence_global
 * (start at 0, may be NULL) carries state across documents: for paper-csv the
 * global sentence counter, for paper-lines whether the previous document's
 * last sentence continues (both group sentences as the paper's files do). */
cl_status cl_doc_write(const cl_doc *doc, cl_format fmt, FILE *fp, int64_t *sentence_global,
                       cl_error *err);
/* Header line of the format, if any (paper-csv) */
cl_status cl_format_write_header(cl_format fmt, FILE *fp, cl_error *err);
/* Write a .ann file body for doc. */
cl_status cl_brat_write_ann(const cl_doc *doc, FILE *fp, cl_error *err);

/* ---- streaming: one document at a time ----
 * A reader takes documents from a FILE* one by one, holding only the
 * current one: jsonl (a line), conll (up to the next "# doc:" or
 * -DOCSTART- line) and text (the whole stream is one document).  paper-csv
 * is read whole and handed out document by document; brat (a folder) has no
 * stream form.  A malformed record gives an error that names its line and
 * is skipped: the next call goes on after it (after the rest of the
 * document for conll), and cl_doc_reader_rejected returns its raw text.
 * Read errors of the stream itself end the reading. */
typedef struct cl_doc_reader cl_doc_reader;

/* fp is borrowed (not closed); name is used in messages ("stdin", a path)
 * and as the document id of text input (its stem; "stdin" stays "stdin"). */
cl_status cl_doc_reader_open(FILE *fp, cl_format fmt, const char *name, cl_doc_reader **out,
                             cl_error *err);
/* The next document into *out, NULL at the end; the caller frees it. */
cl_status cl_doc_reader_next(cl_doc_reader *r, cl_doc **out, cl_error *err);
/* The raw text of the record the last failing next() skipped (its lines,
 * newlines included), NULL when the failure ended the reading. */
const char *cl_doc_reader_rejected(const cl_doc_reader *r, size_t *n);
/* Hand out only the documents whose id keep() accepts (NULL: all).  jsonl
 * lines are judged before they are parsed, their id read by a light scan
 * (a line whose id it cannot read is parsed, then judged), so the lines of
 * documents left out cost little and are not checked: their errors are
 * not reported.  Other formats are judged after parsing. */
void cl_doc_reader_set_filter(cl_doc_reader *r, bool (*keep)(void *ctx, const char *id),
                              void *ctx);
/* Documents the filter has left out so far. */
int64_t cl_doc_reader_filtered(const cl_doc_reader *r);
/* Line on which the last record returned or rejected begins (1-based). */
long cl_doc_reader_line(const cl_doc_reader *r);
void cl_doc_reader_free(cl_doc_reader *r);

/* Corpus statistics (clinner stats). */
typedef struct cl_corpus_stats {
    int64_t documents, characters, sentences, tokens;
    int64_t entities, discontinuous, overlapping, relations;
    int ntypes;
    char *type_names[32];
    int64_t type_counts[32];
} cl_corpus_stats;

cl_status cl_corpus_stats_compute(const cl_corpus *c, cl_corpus_stats *st, cl_error *err);
void cl_corpus_stats_free(cl_corpus_stats *st);

#ifdef __cplusplus
}
#endif
#endif
