/*
 * tok_internal.h - what the files of src/tokenize/ share and nobody else
 * needs: the decoded code points of a document and the two tokenizers'
 * entry points, which cl_tokenize_doc (tokenize.c) dispatches to.
 */
#ifndef CLINNER_TOK_INTERNAL_H
#define CLINNER_TOK_INTERNAL_H

#include "clinner/tokenize.h"

/* Newly allocated array of doc's doc->index.nchars code points (at least one
 * element even for an empty text). */
int32_t *cl_tok_decode(const cl_doc *doc, cl_error *err);

/* Push tokens and sentences onto a cleared doc. */
cl_status cl_tok_paper(cl_doc *doc, const int32_t *cps, cl_error *err);
cl_status cl_tok_clinical(cl_doc *doc, const int32_t *cps, cl_error *err);

#endif
