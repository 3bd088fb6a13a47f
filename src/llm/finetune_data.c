/*
 * finetune_data.c - the training text of `clinner finetune`: a sentence
 * becomes the zero-shot chat prompt that `clinner tag --strategy zero-shot`
 * sends (prompt.h's builder, the model's chat template) followed by its gold
 * answer as the assistant turn, rendered by the same template so the end of
 * turn is there too.  Tokenized the way a backend tokenizes a prompt, each
 * model token gets its byte range, so the loss can be restricted to the
 * tokens that spell the labels.  Examples are then packed whole into fixed
 * training windows.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "llm/finetune_internal.h"

void cl_ft_example_free(cl_ft_example *ex)
{
    if (!ex)
        return;
    free(ex->text);
    free(ex->spans);
    free(ex->label_at);
    memset(ex, 0, sizeof *ex);
}

/* Where each answer line's label starts: per line "token : label\n", the
 * label follows the line's last separator (tokens never hold spaces, labels
 * never do either). */
static cl_status find_labels(const char *answer, size_t off, cl_ft_example *ex, cl_error *err)
{
    size_t alen = strlen(answer);
    int32_t lines = 0;
    for (size_t i = 0; i < alen; i++)
        lines += answer[i] == '\n';
    ex->label_at = malloc(sizeof *ex->label_at * (size_t)(lines + 1));
    if (!ex->label_at)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    size_t ls = 0, seplen = strlen(CL_ANSWER_SEP);
    while (ls < alen) {
        const char *nl = memchr(answer + ls, '\n', alen - ls);
        size_t le = nl ? (size_t)(nl - answer) : alen;
        size_t lab = SIZE_MAX;
        for (size_t i = ls; i + seplen <= le; i++)
            if (!memcmp(answer + i, CL_ANSWER_SEP, seplen))
                lab = i + seplen;
        if (lab == SIZE_MAX)
            return cl_error_set(err, CL_ERR_INTERNAL, "answer line without '%s'", CL_ANSWER_SEP);
        ex->label_at[ex->nlines++] = off + lab;
        ls = nl ? le + 1 : alen;
    }
    return CL_OK;
}

/* Byte ranges of the answer to count: each label and its newline
 * (CL_FT_LOSS_LABELS), the whole answer, or everything. */
static cl_status answer_spans(const char *answer, size_t off, cl_ft_loss loss, cl_ft_example *ex,
                              cl_error *err)
{
    size_t alen = strlen(answer);
    int32_t n = loss == CL_FT_LOSS_LABELS ? ex->nlines : 1;
    ex->spans = malloc(sizeof *ex->spans * (size_t)(n ? n : 1));
    if (!ex->spans)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (loss != CL_FT_LOSS_LABELS) {
        ex->spans[0][0] = loss == CL_FT_LOSS_ALL ? 0 : off;
        ex->spans[0][1] = loss == CL_FT_LOSS_ALL ? strlen(ex->text) : off + alen;
        ex->nspans = 1;
        return CL_OK;
    }
    for (int32_t k = 0; k < n; k++) {
        size_t lab = ex->label_at[k] - off;
        const char *nl = memchr(answer + lab, '\n', alen - lab);
        ex->spans[k][0] = off + lab;
        ex->spans[k][1] = off + (nl ? (size_t)(nl - answer) + 1 : alen);
    }
    ex->nspans = n;
    return CL_OK;
}

cl_status cl__ft_render_example(const cl_llama_model *m, const cl_prompt_builder *b, const cl_doc *doc,
                            int32_t sent, cl_ft_loss loss, cl_ft_example *ex, cl_error *err)
{
    memset(ex, 0, sizeof *ex);
    cl_prompt prompt;
    cl_prompt_init(&prompt);
    cl_buf answer, head, full;
    cl_buf_init(&answer);
    cl_buf_init(&head);
    cl_buf_init(&full);
    const cl_sentence *s = &doc->sentences[sent];
    cl_status st = cl_prompt_build(b, doc, sent, &prompt, err);
    if (st == CL_OK)
        st = cl_prompt_answer_text(cl_prompt_builder_labels(b), doc, s->tok_begin, s->tok_end,
                                   &answer, err);
    /* Exactly what the llama backend sends (cl_llama_chat_format), then the
     * same chat with the answer as the assistant's turn. */
    if (st == CL_OK)
        st = cl_llama_chat_format(m, &prompt, prompt.nmessages, true, &head, err);
    if (st == CL_OK)
        st = cl_prompt_add(&prompt, "assistant", answer.data ? answer.data : "", err);
    if (st == CL_OK)
        st = cl_llama_chat_format(m, &prompt, prompt.nmessages, false, &full, err);
    if (st != CL_OK)
        goto done;
    /* The prompt a tagger sends must be a prefix of the training text and
     * the answer must follow it as is; templates that rewrite earlier turns
     * when a reply is added would break that. */
    if (full.len < head.len + answer.len || memcmp(full.data, head.data, head.len) != 0 ||
        (answer.len && memcmp(full.data + head.len, answer.data, answer.len) != 0)) {
        st = cl_error_set(err, CL_ERR_MODEL,
                          "%s sentence %d: the chat template does not render the prompt followed "
                          "by the answer (the tagging prompt is not a prefix of the training text)",
                          doc->id ? doc->id : "?", sent + 1);
        goto done;
    }
    ex->prompt_len = head.len;
    ex->text = cl_buf_detach(&full);
    st = find_labels(answer.data ? answer.data : "", head.len, ex, err);
    if (st == CL_OK)
        st = answer_spans(answer.data ? answer.data : "", head.len, loss, ex, err);
done:
    if (st != CL_OK)
        cl_ft_example_free(ex);
    cl_prompt_free(&prompt);
    cl_buf_free(&answer);
    cl_buf_free(&head);
    cl_buf_free(&full);
    return st;
}

cl_status cl__ft_tokenize(const struct llama_vocab *vocab, const char *text, size_t n,
                      llama_token **toks, int32_t *ntoks, size_t **ends, cl_error *err)
{
    return cl__ft_tokenize_text(vocab, text, n, true, toks, ntoks, ends, err);
}

cl_status cl__ft_tokenize_text(const struct llama_vocab *vocab, const char *text, size_t n,
                           bool parse_special, llama_token **toks, int32_t *ntoks, size_t **ends,
                           cl_error *err)
{
    *toks = NULL;
    *ends = NULL;
    *ntoks = 0;
    if (n > INT32_MAX / 2)
        return cl_error_set(err, CL_ERR_ARG, "text too long to tokenize (%zu bytes)", n);
    int32_t cap = (int32_t)n + 8;
    llama_token *t = malloc(sizeof *t * (size_t)cap);
    if (!t)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t k = llama_tokenize(vocab, text, (int32_t)n, t, cap, true, parse_special);
    if (k < 0) {
        cap = -k;
        llama_token *t2 = realloc(t, sizeof *t * (size_t)cap);
        if (!t2) {
            free(t);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        t = t2;
        k = llama_tokenize(vocab, text, (int32_t)n, t, cap, true, parse_special);
    }
    if (k < 0) {
        free(t);
        return cl_error_set(err, CL_ERR_MODEL, "tokenization failed");
    }
    size_t *e = malloc(sizeof *e * (size_t)(k ? k : 1));
    if (!e) {
        free(t);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    char piece[256];
    size_t cur = 0;
    for (int32_t i = 0; i < k; i++) {
        int32_t m = llama_token_to_piece(vocab, t[i], piece, sizeof piece, 0, true);
        if (m < 0)
            m = 0; /* longer than 256 bytes: never happens with real vocabularies */
        size_t len = (size_t)m;
        if (i == 0 && t[i] == llama_vocab_bos(vocab) &&
            (len > n || memcmp(text, piece, len) != 0)) {
            e[i] = 0; /* added by the tokenizer, not in text */
            continue;
        }
        if (cur + len <= n && !memcmp(text + cur, piece, len))
            cur += len;
        else if (len > 0 && piece[0] == ' ' && cur + len - 1 <= n &&
                 !memcmp(text + cur, piece + 1, len - 1))
            cur += len - 1; /* SentencePiece's added leading space */
        else
            cur = cur + len <= n ? cur + len : n; /* normalized text: approximate */
        e[i] = cur;
    }
    *toks = t;
    *ends = e;
    *ntoks = k;
    return CL_OK;
}

void cl__ft_seq_free(ft_seq *s)
{
    if (!s)
        return;
    free(s->toks);
    free(s->counted);
    free(s->choice);
    memset(s, 0, sizeof *s);
}

cl_status cl__ft_seq_from_example(const struct llama_vocab *vocab, const cl_ft_example *ex,
                              ft_seq *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    size_t *ends;
    cl_status st = cl__ft_tokenize(vocab, ex->text, strlen(ex->text), &out->toks, &out->n, &ends, err);
    if (st != CL_OK)
        return st;
    out->counted = calloc((size_t)(out->n ? out->n : 1), 1);
    out->choice = calloc((size_t)(out->n ? out->n : 1), 1);
    if (!out->counted || !out->choice) {
        free(ends);
        cl__ft_seq_free(out);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    int32_t sp = 0;
    for (int32_t i = 1; i < out->n; i++) {
        size_t b = ends[i - 1], e = ends[i];
        if (e <= b)
            continue;
        while (sp < ex->nspans && ex->spans[sp][1] <= b)
            sp++;
        if (sp < ex->nspans && ex->spans[sp][0] < e)
            out->counted[i] = 1;
    }
    /* the token a label starts in (" I" carries the separator's space) */
    int32_t i = 1;
    for (int32_t k = 0; k < ex->nlines; k++) {
        size_t at = ex->label_at[k];
        while (i < out->n && ends[i] <= at)
            i++;
        if (i >= out->n)
            break;
        out->choice[i] = (uint8_t)ex->text[at];
        /* the label's other tokens: it is letters and '-' ("B-SIGN") */
        size_t end = at;
        while (isalpha((unsigned char)ex->text[end]) || ex->text[end] == '-')
            end++;
        for (int32_t j = i + 1; j < out->n && ends[j - 1] < end; j++)
            out->choice[j] = FT_LABEL_MORE;
    }
    free(ends);
    return CL_OK;
}

void cl__ft_windows_free(ft_windows *w)
{
    if (!w)
        return;
    free(w->tokens);
    free(w->mask);
    free(w->counted);
    free(w->choice);
    memset(w, 0, sizeof *w);
}

static cl_status windows_grow(ft_windows *w, llama_token pad)
{
    if (w->n == w->cap) {
        int32_t cap = w->cap ? w->cap * 2 : 16;
        size_t W = (size_t)w->n_ctx;
        llama_token *t = realloc(w->tokens, sizeof *t * (W + 1) * (size_t)cap);
        if (t)
            w->tokens = t;
        uint8_t *m = realloc(w->mask, W * (size_t)cap);
        if (m)
            w->mask = m;
        int32_t *c = realloc(w->counted, sizeof *c * (size_t)cap);
        if (c)
            w->counted = c;
        uint8_t *ch = realloc(w->choice, W * (size_t)cap);
        if (ch)
            w->choice = ch;
        if (!t || !m || !c || !ch)
            return CL_ERR_NOMEM;
        w->cap = cap;
    }
    size_t W = (size_t)w->n_ctx;
    for (size_t i = 0; i <= W; i++)
        w->tokens[(size_t)w->n * (W + 1) + i] = pad;
    memset(w->mask + (size_t)w->n * W, 0, W);
    memset(w->choice + (size_t)w->n * W, 0, W);
    w->counted[w->n] = 0;
    w->n++;
    return CL_OK;
}

cl_status cl__ft_windows_pack(ft_windows *w, int32_t n_ctx, const ft_seq *seqs, const int32_t *order,
                          int32_t nseqs, bool pack, llama_token pad_token, int32_t *skipped,
                          cl_error *err)
{
    cl__ft_windows_free(w);
    w->n_ctx = n_ctx;
    *skipped = 0;
    size_t W = (size_t)n_ctx;
    int32_t used = n_ctx + 1; /* tokens in the current window: none open */
    for (int32_t k = 0; k < nseqs; k++) {
        const ft_seq *s = &seqs[order ? order[k] : k];
        /* A window holds n_ctx + 1 tokens (the last one only as a target). */
        if (s->n < 2 || s->n > n_ctx + 1) {
            (*skipped)++;
            continue;
        }
        if (!pack || used + s->n > n_ctx + 1) {
            if (windows_grow(w, pad_token) != CL_OK)
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            used = 0;
        }
        llama_token *t = w->tokens + (size_t)(w->n - 1) * (W + 1);
        uint8_t *m = w->mask + (size_t)(w->n - 1) * W;
        uint8_t *ch = w->choice + (size_t)(w->n - 1) * W;
        for (int32_t i = 0; i < s->n; i++) {
            t[used + i] = s->toks[i];
            if (i > 0 && s->choice && used + i - 1 < n_ctx)
                ch[used + i - 1] = s->choice[i];
            /* position p predicts token p+1 */
            if (i > 0 && s->counted[i] && used + i - 1 < n_ctx) {
                m[used + i - 1] = 1;
                w->counted[w->n - 1]++;
            }
        }
        used += s->n;
    }
    return CL_OK;
}

void cl__ft_window_labels(const ft_windows *w, int32_t win, int32_t n_vocab, int32_t *labels)
{
    size_t W = (size_t)w->n_ctx;
    const llama_token *t = w->tokens + (size_t)win * (W + 1);
    const uint8_t *m = w->mask + (size_t)win * W;
    /* Row 0 always carries its own label (llama.cpp writes a 1 in every
     * row); masked rows send their 1 onto that same element. */
    labels[0] = t[1];
    for (size_t i = 1; i < W; i++)
        labels[i] = m[i] ? t[i + 1] : (int32_t)(t[1] - (int64_t)i * n_vocab);
}

void cl__ft_window_choices(const ft_windows *w, int32_t win, const int32_t *pred, cl_ft_choices *c)
{
    size_t W = (size_t)w->n_ctx;
    const llama_token *t = w->tokens + (size_t)win * (W + 1);
    const uint8_t *ch = w->choice + (size_t)win * W;
    for (size_t i = 0; i < W; i++) {
        int k = ch[i] == 'O' ? 0 : ch[i] == 'B' ? 1 : ch[i] == 'I' ? 2 : -1;
        if (k < 0)
            continue;
        c->n[k]++;
        bool first = pred[i] == t[i + 1], all = first;
        for (size_t j = i + 1; j < W && ch[j] == FT_LABEL_MORE; j++)
            all = all && pred[j] == t[j + 1];
        c->right[k] += first;
        c->whole[k] += all;
    }
}
