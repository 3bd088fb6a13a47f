/*
 * doc.h - the document model every module shares.
 *
 * A document is its UTF-8 text plus, all optional: tokens and sentences
 * (filled by a tokenizer or a token-format reader), one BIO tag per token,
 * entities (a type and one or more fragments; discontinuous entities keep
 * every fragment in the order the source listed them) and relations (kept
 * for round trips, not used for tagging).
 *
 * All offsets are Unicode code points, end exclusive.  Byte offsets are
 * obtained only through doc->index (text.h).
 */
#ifndef CLINNER_DOC_H
#define CLINNER_DOC_H

#include "clinner/common.h"
#include "clinner/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_span {
    int32_t start, end; /* code points, [start, end) */
} cl_span;

typedef struct cl_token {
    int32_t start, end; /* code points into doc->text */
} cl_token;

typedef struct cl_sentence {
    int32_t tok_begin, tok_end; /* tokens [tok_begin, tok_end) */
} cl_sentence;

typedef struct cl_entity {
    char *id;         /* "T12" (may be generated) */
    char *type;       /* "RAREDISEASE", ... */
    cl_span *frags;   /* nfrags >= 1, in source order */
    int32_t nfrags;
    char *text;       /* the annotation's text column, or NULL */
    float confidence; /* in [0,1]; negative when unknown */
} cl_entity;

typedef struct cl_relation {
    char *id;   /* "R3" */
    char *type; /* "Produces" */
    char *arg1; /* "Arg1:T4" as written */
    char *arg2;
} cl_relation;

typedef struct cl_doc {
    char *id; /* document name: file stem ("ACTH-Deficiency") */
    char *text;
    size_t text_bytes;
    cl_text_index index;

    cl_token *tokens;
    int32_t ntokens, cap_tokens;
    cl_sentence *sentences;
    int32_t nsentences, cap_sentences;

    char **tags;     /* NULL, or ntokens owned strings ("O", "B-SIGN") */
    float *tag_conf; /* NULL, or ntokens confidences */

    cl_entity *entities;
    int32_t nentities, cap_entities;
    cl_relation *relations;
    int32_t nrelations, cap_relations;
} cl_doc;

/* The paper's five types, in its table order; ANAPHOR is the sixth type of
 * the corpus that the paper does not report. */
#define CL_NUM_PAPER_TYPES 5
extern const char *const cl_paper_types[CL_NUM_PAPER_TYPES];
#define CL_NUM_ALL_TYPES 6
extern const char *const cl_all_types[CL_NUM_ALL_TYPES];

/* New document owning a copy of text[0..n) (validated: CL_ERR_UTF8 on invalid
 * UTF-8, CL_ERR_RANGE when too long); *out is NULL on failure. */
cl_status cl_doc_new(const char *id, const char *text, size_t n, cl_doc **out, cl_error *err);
void cl_doc_free(cl_doc *doc);

/* Add an entity (copies everything); checks 0 <= start < end <= nchars for
 * every fragment. */
cl_status cl_doc_add_entity(cl_doc *doc, const char *id, const char *type,
                            const cl_span *frags, int32_t nfrags, const char *text,
                            cl_error *err);
cl_status cl_doc_add_relation(cl_doc *doc, const char *id, const char *type,
                              const char *arg1, const char *arg2, cl_error *err);
/* Remove all entities and the relations between them. */
void cl_doc_clear_entities(cl_doc *doc);

/* Tokens and sentences: clear, then push in text order. */
void cl_doc_clear_tokens(cl_doc *doc); /* also drops sentences and tags */
cl_status cl_doc_push_token(cl_doc *doc, int32_t start, int32_t end, cl_error *err);
cl_status cl_doc_push_sentence(cl_doc *doc, int32_t tok_begin, int32_t tok_end, cl_error *err);

/* Tags: allocate ntokens tags all "O" (replacing existing ones), set one. */
cl_status cl_doc_reset_tags(cl_doc *doc, cl_error *err);
cl_status cl_doc_set_tag(cl_doc *doc, int32_t token, const char *tag, cl_error *err);

/* What every tagger does before it labels sentences [sent_begin, sent_end):
 * checks the range (CL_ERR_RANGE naming the document), and gives the document
 * tags (all O) and confidences (-1: not tagged yet) if it has none, so that a
 * run tagging a document range by range keeps the earlier ranges' labels. */
cl_status cl_doc_begin_tagging(cl_doc *doc, int32_t sent_begin, int32_t sent_end, cl_error *err);

/* Keep only the entity types in types[0..ntypes) (NULL: keep all): other
 * entities are removed (order kept), so are the relations that name a
 * removed entity, and other tags become O.  For a label set narrower than
 * the annotations' (the paper's five types). */
cl_status cl_doc_keep_types(cl_doc *doc, const char *const *types, int ntypes, cl_error *err);

/* Pointer to a token's bytes inside doc->text and its byte length. */
const char *cl_doc_token_bytes(const cl_doc *doc, int32_t token, size_t *nbytes);
/* Newly allocated copy of a token's text / of text[start, end) in code points. */
char *cl_doc_token_text(const cl_doc *doc, int32_t token);
char *cl_doc_span_text(const cl_doc *doc, int32_t start, int32_t end);

/* A set of documents, owned. */
typedef struct cl_corpus {
    cl_doc **docs;
    int32_t ndocs, cap;
} cl_corpus;

/* An empty corpus; *out is NULL on failure (CL_ERR_NOMEM). */
cl_status cl_corpus_new(cl_corpus **out, cl_error *err);
void cl_corpus_free(cl_corpus *c);
/* Takes ownership of doc (also on failure, when it is freed). */
cl_status cl_corpus_add(cl_corpus *c, cl_doc *doc, cl_error *err);
/* Total tokens / sentences over all documents. */
int64_t cl_corpus_ntokens(const cl_corpus *c);
int64_t cl_corpus_nsentences(const cl_corpus *c);

#ifdef __cplusplus
}
#endif
#endif
