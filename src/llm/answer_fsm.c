/*
 * answer_fsm.c - the answers a sentence's GBNF grammar (prompt.h) allows,
 * as a deterministic automaton over bytes, and greedy choice under it.
 *
 * Forced decoding must pick exactly the tokens that greedy sampling under
 * llama.cpp's grammar sampler would.  That sampler sets the logit of every
 * token the grammar rejects to -inf and greedy then takes the first token
 * of highest logit.  The grammar is a chain of literals with a label choice
 * per line, so its byte language is recognised by a small automaton: line i
 * is F_i = "<token i> : " then a label allowed after the previous one, then
 * "\n".  Inside a label the state is the set of labels whose text starts
 * with the bytes read so far, which keeps the automaton deterministic.  A
 * token is allowed when its piece (llama.cpp's, special tokens rendered)
 * is non-empty, does not start with a NUL byte and continues the answer;
 * an end-of-generation token only once the answer is complete - the rules
 * of llama_grammar_apply_impl.  Matching bytes rather than code points is
 * the same thing here: literals are valid UTF-8, so a partial sequence can
 * match only as a byte prefix of the character the literal holds.
 */
#include <stdlib.h>
#include <string.h>

#include "llm/llm_internal.h"

cl_status cl_fsm_sentence_init(cl_fsm_sentence *s, const cl_label_set *ls,
                               const char *const *tokens, const size_t *lens, int32_t n,
                               cl_error *err)
{
    memset(s, 0, sizeof *s);
    if (ls->nlabels < 1 || ls->nlabels > 64)
        return cl_error_set(err, CL_ERR_ARG, "answer: %d labels (1..64 supported)", ls->nlabels);
    s->ls = ls;
    s->n = n;
    s->fixed = calloc((size_t)n + 1, sizeof *s->fixed);
    s->fixed_len = calloc((size_t)n + 1, sizeof *s->fixed_len);
    s->lab = calloc((size_t)ls->nlabels, sizeof *s->lab);
    s->lab_len = calloc((size_t)ls->nlabels, sizeof *s->lab_len);
    if (!s->fixed || !s->fixed_len || !s->lab || !s->lab_len)
        goto nomem;
    size_t seplen = strlen(CL_ANSWER_SEP);
    for (int32_t i = 0; i < n; i++) {
        size_t tl = lens ? lens[i] : strlen(tokens[i]);
        if (tl == 0) {
            cl_fsm_sentence_free(s);
            return cl_error_set(err, CL_ERR_ARG, "answer: token %d is empty", i);
        }
        char *f = malloc(tl + seplen + 1);
        if (!f)
            goto nomem;
        memcpy(f, tokens[i], tl);
        memcpy(f + tl, CL_ANSWER_SEP, seplen + 1);
        s->fixed[i] = f;
        s->fixed_len[i] = tl + seplen;
    }
    for (int32_t l = 0; l < ls->nlabels; l++) {
        size_t ll = strlen(ls->labels[l]);
        char *t = malloc(ll + 2);
        if (!t)
            goto nomem;
        memcpy(t, ls->labels[l], ll);
        t[ll] = '\n';
        t[ll + 1] = '\0';
        s->lab[l] = t;
        s->lab_len[l] = ll + 1;
    }
    return CL_OK;
nomem:
    cl_fsm_sentence_free(s);
    return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}

void cl_fsm_sentence_free(cl_fsm_sentence *s)
{
    if (s->fixed)
        for (int32_t i = 0; i < s->n; i++)
            free(s->fixed[i]);
    if (s->lab && s->ls)
        for (int32_t l = 0; l < s->ls->nlabels; l++)
            free(s->lab[l]);
    free(s->fixed);
    free(s->fixed_len);
    free(s->lab);
    free(s->lab_len);
    memset(s, 0, sizeof *s);
}

void cl_fsm_start(cl_fsm *f) { memset(f, 0, sizeof *f), f->prev = -1; }

bool cl_fsm_done(const cl_fsm_sentence *s, const cl_fsm *f) { return f->line >= s->n; }

static uint64_t allowed_mask(const cl_fsm_sentence *s, int32_t prev)
{
    uint64_t m = 0;
    for (int32_t l = 0; l < s->ls->nlabels; l++)
        if (cl_label_valid_after(s->ls, prev, l))
            m |= (uint64_t)1 << l;
    return m;
}

bool cl_fsm_advance(const cl_fsm_sentence *s, cl_fsm *f, const char *b, size_t n,
                    int32_t *labels)
{
    cl_fsm g = *f;
    /* lines completed by these bytes, written to labels only on success */
    int32_t done_line[128], done_label[128], ndone = 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (g.line >= s->n)
            return false;
        if (g.phase == 0) {
            if (s->fixed[g.line][g.k] != c)
                return false;
            if ((size_t)++g.k == s->fixed_len[g.line]) {
                g.phase = 1;
                g.k = 0;
                g.mask = allowed_mask(s, g.prev);
            }
            continue;
        }
        uint64_t nm = 0;
        for (int32_t l = 0; l < s->ls->nlabels; l++)
            if ((g.mask >> l & 1) && (size_t)g.k < s->lab_len[l] && s->lab[l][g.k] == c)
                nm |= (uint64_t)1 << l;
        if (!nm)
            return false;
        g.mask = nm;
        g.k++;
        for (int32_t l = 0; l < s->ls->nlabels; l++) {
            if ((nm >> l & 1) && s->lab_len[l] == (size_t)g.k) {
                /* "\n" ends every label and no label holds one: unique */
                if (ndone == 128)
                    return false;
                done_line[ndone] = g.line;
                done_label[ndone++] = l;
                g.prev = l;
                g.line++;
                g.phase = 0;
                g.k = 0;
                g.mask = 0;
                break;
            }
        }
    }
    if (labels)
        for (int32_t i = 0; i < ndone; i++)
            labels[done_line[i]] = done_label[i];
    *f = g;
    return true;
}

bool cl_fsm_allows(const cl_llama_model *m, const cl_fsm_sentence *s, const cl_fsm *f,
                   llama_token tok)
{
    if (tok < 0 || tok >= m->n_vocab)
        return false;
    if (m->is_eog[tok])
        return cl_fsm_done(s, f);
    if (m->piece_len[tok] == 0 || m->pieces[tok][0] == '\0')
        return false;
    cl_fsm g = *f;
    return cl_fsm_advance(s, &g, m->pieces[tok], (size_t)m->piece_len[tok], NULL);
}

/* A walk of the piece table along the bytes the answer may take next:
 * it visits every allowed token once, either to pick the greedy one or to
 * list them. */
typedef struct piece_walk {
    const cl_llama_model *m;
    const cl_fsm_sentence *s;
    const float *logits; /* greedy; NULL: list into out */
    llama_token best;
    llama_token *out;
    int32_t cap, n;
} piece_walk;

static void visit(piece_walk *w, llama_token t)
{
    if (w->logits) {
        /* highest logit, the lowest id among equals: greedy's first max */
        if (w->best < 0 || w->logits[t] > w->logits[w->best] ||
            (w->logits[t] == w->logits[w->best] && t < w->best))
            w->best = t;
        return;
    }
    if (w->n < w->cap)
        w->out[w->n] = t;
    w->n++;
}

/* First index in [lo, hi) whose piece has byte d >= c; all pieces there
 * are longer than d bytes and sorted by byte d. */
static int32_t first_byte_at_least(const cl_piece_ref *r, int32_t lo, int32_t hi, size_t d,
                                   unsigned c)
{
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if ((unsigned char)r[mid].piece[d] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The pieces in [lo, hi) all start with the d bytes that took the answer
 * to state g. */
static void walk_from(piece_walk *w, const cl_fsm *g, int32_t lo, int32_t hi, size_t d)
{
    const cl_piece_ref *r = w->m->by_piece;
    const cl_fsm_sentence *s = w->s;
    /* pieces of exactly d bytes sort first: each is one allowed token */
    for (; lo < hi && (size_t)r[lo].len == d; lo++)
        visit(w, r[lo].id);
    if (lo >= hi || g->line >= s->n)
        return;
    unsigned char next[64];
    int nnext = 0;
    if (g->phase == 0) {
        next[nnext++] = (unsigned char)s->fixed[g->line][g->k];
    } else {
        for (int32_t l = 0; l < s->ls->nlabels; l++) {
            if (!(g->mask >> l & 1) || (size_t)g->k >= s->lab_len[l])
                continue;
            unsigned char c = (unsigned char)s->lab[l][g->k];
            int i = 0;
            while (i < nnext && next[i] != c)
                i++;
            if (i == nnext)
                next[nnext++] = c;
        }
    }
    for (int i = 0; i < nnext; i++) {
        int32_t a = first_byte_at_least(r, lo, hi, d, next[i]);
        int32_t b = first_byte_at_least(r, a, hi, d, (unsigned)next[i] + 1);
        if (a == b)
            continue;
        cl_fsm h = *g;
        char c = (char)next[i];
        if (cl_fsm_advance(s, &h, &c, 1, NULL))
            walk_from(w, &h, a, b, d + 1);
    }
}

static void walk_allowed(piece_walk *w, const cl_fsm *f)
{
    if (cl_fsm_done(w->s, f)) {
        /* only an end-of-generation token; no piece continues the answer */
        for (int32_t i = 0; i < w->m->n_eog; i++)
            visit(w, w->m->eog[i]);
        return;
    }
    walk_from(w, f, 0, w->m->n_by_piece, 0);
}

llama_token cl_fsm_greedy(const cl_llama_model *m, const cl_fsm_sentence *s, const cl_fsm *f,
                          const float *logits)
{
    piece_walk w = {m, s, logits, -1, NULL, 0, 0};
    walk_allowed(&w, f);
    return w.best;
}

int32_t cl_fsm_allowed(const cl_llama_model *m, const cl_fsm_sentence *s, const cl_fsm *f,
                       llama_token *out, int32_t cap)
{
    piece_walk w = {m, s, NULL, -1, out, cap, 0};
    walk_allowed(&w, f);
    return w.n;
}

cl_status cl_fsm_guess_text(const cl_fsm_sentence *s, const cl_fsm *f, size_t max_bytes,
                            const int32_t *spec_after, cl_buf *out, cl_error *err)
{
    cl_buf_reset(out);
    int bad = cl_buf_append(out, "", 0);
    cl_fsm g = *f;
    bool choice = false;
    while (!bad && g.line < s->n && out->len < max_bytes) {
        if (g.phase == 0) {
            bad = cl_buf_append(out, s->fixed[g.line] + g.k, s->fixed_len[g.line] - (size_t)g.k);
            g.phase = 1;
            g.k = 0;
            g.mask = allowed_mask(s, g.prev);
            continue;
        }
        int32_t first = -1, count = 0;
        for (int32_t l = 0; l < s->ls->nlabels; l++)
            if (g.mask >> l & 1) {
                if (first < 0)
                    first = l;
                count++;
            }
        if (first < 0)
            break;
        if (count == 1) {
            bad = cl_buf_append(out, s->lab[first] + g.k, s->lab_len[first] - (size_t)g.k);
            g.prev = first;
            g.line++;
            g.phase = 0;
            g.k = 0;
            continue;
        }
        if (spec_after && g.k == 0) {
            /* speculation: guess a whole label and go on into the next line */
            int32_t l = spec_after[g.prev + 1];
            if (l >= 0 && l < s->ls->nlabels && (g.mask >> l & 1)) {
                bad = cl_buf_append(out, s->lab[l], s->lab_len[l]);
                g.prev = l;
                g.line++;
                g.phase = 0;
                g.k = 0;
                continue;
            }
        }
        /* a choice: only the bytes every label still possible agrees on */
        size_t k = (size_t)g.k;
        for (;; k++) {
            bool same = k < s->lab_len[first];
            for (int32_t l = first + 1; same && l < s->ls->nlabels; l++)
                if ((g.mask >> l & 1) && (k >= s->lab_len[l] || s->lab[l][k] != s->lab[first][k]))
                    same = false;
            if (!same)
                break;
        }
        bad = cl_buf_append(out, s->lab[first] + g.k, k - (size_t)g.k);
        choice = true;
        break;
    }
    /* a space before a choice usually joins the chosen word in the model's
     * tokens: leave it to the choice */
    while (!bad && choice && out->len > 0 && out->data[out->len - 1] == ' ')
        out->data[--out->len] = '\0';
    return bad ? cl_error_set(err, CL_ERR_NOMEM, "out of memory") : CL_OK;
}
