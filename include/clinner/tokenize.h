/*
 * tokenize.h - word tokenizers, sentence splitters and the projection of
 * entities onto per-token BIO tags (and back).
 *
 *   paper    - exactly the brat2iob rules of Lu et al. 2024 (see
 *              shared/docs/paper-facts.md), so our token files match theirs
 *              row for row.
 *   clinical - clinner's default, built for clinical text: Unicode
 *              punctuation and dashes, slashes, parentheses, no-break
 *              spaces, numbers with units, abbreviations that do not end a
 *              sentence.  Exact code-point offsets.
 */
#ifndef CLINNER_TOKENIZE_H
#define CLINNER_TOKENIZE_H

#include "clinner/corpus.h"
#include "clinner/doc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_tokenizer_kind {
    CL_TOKENIZER_CLINICAL = 0, /* default */
    CL_TOKENIZER_PAPER = 1,
} cl_tokenizer_kind;

/* "paper" / "clinical" -> kind; CL_ERR_ARG names the bad value. */
cl_status cl_tokenizer_from_name(const char *name, cl_tokenizer_kind *out, cl_error *err);
const char *cl_tokenizer_name(cl_tokenizer_kind kind);

/* Replace doc's tokens and sentences with those of the tokenizer. */
cl_status cl_tokenize_doc(cl_doc *doc, cl_tokenizer_kind kind, cl_error *err);

/* What the BIO projection could not represent.  Boundaries and sentence
 * crossings look at every fragment whatever the policy (they measure the
 * tokenizer); "lost" depends on the policy. */
typedef struct cl_bio_stats {
    int64_t entities;          /* entities considered */
    int64_t discontinuous;     /* entities with more than one fragment */
    int64_t overlapping;       /* entities sharing a character with another one */
    int64_t lost;              /* entities not recovered exactly from the tags by
                                * cl_bio_to_entities: paper policy, (type, first
                                * fragment); clinical, (type, each run of fragments
                                * in consecutive tokens, first start to last end) */
    int64_t boundary_in_token; /* fragment starts that are no token's start plus
                                * fragment ends that are no token's end */
    int64_t boundaries;        /* entity boundaries checked (2 per fragment) */
    int64_t cross_sentence;    /* entities whose tokens lie in more than one sentence */
} cl_bio_stats;

typedef enum cl_bio_policy {
    /* brat2iob: first listed fragment only; types visited in order of first
     * appearance in the .ann, a later type overwrites an earlier one; B when
     * token start == span start, I when start > span start and end <= span end. */
    CL_BIO_PAPER = 0,
    /* clinner's: every fragment is tagged (later fragments continue with I- when
     * adjacent in tokens, else start a new B-, so a discontinuous entity becomes
     * several mentions), longest entity (characters over all fragments; ties:
     * first in file) wins on overlap, tokens partly covered by an entity are
     * tagged, and a sentence start always gets B-. */
    CL_BIO_CLINICAL = 1,
} cl_bio_policy;

/* Set doc->tags from doc->entities (doc must be tokenized, tokens in text
 * order and not overlapping, else CL_ERR_ARG).  types/ntypes restrict which
 * entity types are kept (NULL: all).  stats may be NULL and is added to, not
 * reset. */
cl_status cl_bio_from_entities(cl_doc *doc, cl_bio_policy policy, const char *const *types,
                               int ntypes, cl_bio_stats *stats, cl_error *err);

/* Replace doc->entities with those decoded from doc->tags (lenient, conlleval
 * rules: an I- after O, of another type or at a sentence start starts an
 * entity; tags other than B-X / I-X count as O), one fragment each,
 * spanning its tokens' characters.  Confidences come from doc->tag_conf when set
 * (mean over the entity's tokens). */
cl_status cl_bio_to_entities(cl_doc *doc, cl_error *err);

/* Viterbi over the label sequences that are valid BIO (I-X only after B-X
 * or I-X) of per-token scores lp [n][nlabels] (log-probabilities, say):
 * writes n indices into labels ("O", "B-X", "I-X" names), so a tagger that
 * scores tokens independently still outputs valid BIO. */
void cl_bio_viterbi(const char *const *labels, int32_t nlabels, const float *lp, int32_t n,
                    int32_t *out);

/* How cl_doc_prepare brings a document into token form. */
typedef struct cl_prepare_params {
    cl_tokenizer_kind tokenizer;   /* for documents without tokens (default clinical) */
    const char *const *types;      /* entity types kept (NULL: all); others are dropped */
    int ntypes;
    bool tokenize;                 /* tokenize documents that have no tokens (default true) */
    bool gold_tags;                /* tags from the gold entities when the document has no
                                    * tags (default true); false: tags all O, for tagging */
    bool entities_from_tags;       /* decode entities from tags when a document has tags
                                    * but no entities (token formats read for brat/jsonl) */
    cl_bio_stats *bio_stats;       /* projection losses are added here (may be NULL) */
} cl_prepare_params;

cl_prepare_params cl_prepare_default_params(void);

/* The one preparation step of every command: keep p->types, tokenize when
 * the document has no tokens, one sentence when it has tokens but no breaks,
 * tags from the gold entities (the tokenizer's policy: the paper's brat2iob
 * rules for the paper tokenizer, clinner's otherwise) or all O. */
cl_status cl_doc_prepare(cl_doc *doc, const cl_prepare_params *p, cl_error *err);

/* Read path in fmt and prepare every document; *out is NULL on error. */
cl_status cl_corpus_load(const char *path, cl_format fmt, const cl_prepare_params *p,
                         cl_corpus **out, cl_error *err);

/* A label set by name: "paper" (the paper's five types: *types, *ntypes
 * set to cl_paper_types) or "all" (every type: NULL, 0). */
cl_status cl_label_set_from_name(const char *name, const char *const **types, int *ntypes,
                                 cl_error *err);

/* clinner convert: read in_path in p->from, prepare every document for the
 * output format (tokenized for a token format, BRAT text kept as it is
 * for BRAT; entities decoded from the tags of a token format written as
 * BRAT or JSONL) and write out_path ("-": stdout) in p->to. */
typedef struct cl_convert_params {
    cl_format from, to;
    cl_tokenizer_kind tokenizer;
    const char *const *types; /* entity types kept (NULL: all) */
    int ntypes;
} cl_convert_params;
cl_status cl_corpus_convert(const char *in_path, const char *out_path, const cl_convert_params *p,
                            cl_error *err);

/* A trainer's input: the training split and an optional dev split, read and
 * prepared alike (gold tags, the given types kept). */
typedef struct cl_train_data {
    cl_prepare_params prepare; /* tokenizer and types (cl_train_data_init) */
    bool format_given;         /* false: each path's format is guessed (cl_format_guess) */
    cl_format format;          /* the given format, or the one guessed for the training split */
    cl_corpus *train, *dev;    /* cl_train_data_load; NULL for a path not given */
} cl_train_data;

/* Set d up from a format name (NULL: guess per path) and a tokenizer name,
 * keeping types (NULL: all), before any file is read, so that a bad name is
 * refused at once; CL_ERR_ARG names the format or tokenizer. */
cl_status cl_train_data_init(cl_train_data *d, const char *format, const char *tokenizer,
                             const char *const *types, int ntypes, cl_error *err);
/* Read and prepare train_path into d->train and dev_path into d->dev (either
 * may be NULL); on error both are freed and NULL. */
cl_status cl_train_data_load(cl_train_data *d, const char *train_path, const char *dev_path,
                             cl_error *err);
/* Free d's corpora (d->train, d->dev: NULL after). */
void cl_train_data_free(cl_train_data *d);

/* Write st (and, when bio is not NULL, the projection's losses under the
 * tokenizer's policy) to fp as an aligned table or as JSON (clinner stats).
 * have_tokens: the corpus was tokenized (sentences and tokens are shown). */
cl_status cl_corpus_report(FILE *fp, bool json, const cl_corpus_stats *st, bool have_tokens,
                           const cl_bio_stats *bio, const char *tokenizer, cl_error *err);

/* clinner stats over files: read each of paths[0..n) (in *fmt, or each in
 * the format its name suggests when fmt is NULL), decode entities from the
 * tags of token formats, and with a tokenizer (tok not NULL) tokenize and
 * project BRAT entities onto BIO, counting what the projection loses; then
 * report as cl_corpus_report does.  Errors name the file. */
cl_status cl_corpus_report_files(FILE *fp, bool json, const char *const *paths, int n,
                                 const cl_format *fmt, const cl_tokenizer_kind *tok,
                                 cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
