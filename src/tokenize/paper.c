/*
 * paper.c - the word tokenizer and sentence splitter of the paper's
 * brat2iob.py (Lu et al. 2024), reimplemented so that our token files match
 * the released CSVs row for row.
 *
 * Rules: split on Python str.split() whitespace (which includes U+00A0 and
 * the other Unicode spaces); from each piece peel leading ASCII punctuation
 * (Python's string.punctuation) one character at a time, each its own token,
 * then trailing ones; what is left is one token.  A sentence ends after a
 * token ".", "?" or "!" followed by whitespace or the end of the text, which
 * with these rules means: after a piece whose last character is one of them.
 *
 * One deliberate difference: brat2iob locates each piece with
 * text.find(piece, end_of_previous_word + 1), which can land an
 * all-punctuation piece inside the previous piece's trailing punctuation
 * ("x.. ." puts the last "." at offset 2).  We use the true offsets.  The
 * token texts are the same either way and it never happens in RareDis.
 */
#include "tokenize/tok_internal.h"

/* Python's string.punctuation: the 32 ASCII punctuation characters. */
static bool is_ascii_punct(int32_t c)
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

cl_status cl_tok_paper(cl_doc *doc, const int32_t *cps, cl_error *err)
{
    int32_t n = doc->index.nchars;
    int32_t sent_begin = 0;
    int32_t i = 0;
    cl_status st;
    while (i < n) {
        if (cl_uc_is_python_space(cps[i])) {
            i++;
            continue;
        }
        int32_t s = i, e = i;
        while (e < n && !cl_uc_is_python_space(cps[e]))
            e++;
        i = e;
        /* leading punctuation, one token each */
        while (s < e && is_ascii_punct(cps[s])) {
            if ((st = cl_doc_push_token(doc, s, s + 1, err)) != CL_OK)
                return st;
            s++;
        }
        /* trailing punctuation: find where it starts, then emit in text order */
        int32_t core_end = e;
        while (core_end > s && is_ascii_punct(cps[core_end - 1]))
            core_end--;
        if (core_end > s && (st = cl_doc_push_token(doc, s, core_end, err)) != CL_OK)
            return st;
        for (int32_t k = core_end; k < e; k++)
            if ((st = cl_doc_push_token(doc, k, k + 1, err)) != CL_OK)
                return st;
        int32_t last = cps[e - 1];
        if (last == '.' || last == '?' || last == '!') {
            if ((st = cl_doc_push_sentence(doc, sent_begin, doc->ntokens, err)) != CL_OK)
                return st;
            sent_begin = doc->ntokens;
        }
    }
    if (sent_begin < doc->ntokens)
        return cl_doc_push_sentence(doc, sent_begin, doc->ntokens, err);
    return CL_OK;
}
