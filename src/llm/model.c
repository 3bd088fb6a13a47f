/*
 * model.c - loading GGUF models through llama.cpp and the small services
 * every LLM file needs: the default model path, a GGUF header check made
 * before llama.cpp sees a file (so a wrong file is a clear CL_ERR_MODEL, not
 * an abort deep inside the loader), llama.cpp's log silenced, chat
 * formatting with the model's own template (or a plain one for models that
 * have none, such as stories260K), tokenizing, and the table of token pieces
 * the answer automaton compares against.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm/llm_internal.h"

/* ---- paths and checks ---- */

cl_status cl_llama_default_model_path(char *buf, size_t n, cl_error *err)
{
    char *cache = cl_default_cache_dir(NULL);
    if (!cache)
        return cl_error_set(err, CL_ERR_ARG,
                            "no default model: set CLINNER_CACHE or HOME, or give a model path");
    int w = snprintf(buf, n, "%s/models/%s", cache, CL_LLAMA_DEFAULT_MODEL_FILE);
    free(cache);
    if (w < 0 || (size_t)w >= n)
        return cl_error_set(err, CL_ERR_ARG, "default model path too long");
    return CL_OK;
}

cl_status cl_gguf_check(const char *path, cl_error *err)
{
    if (!path || !*path)
        return cl_error_set(err, CL_ERR_MODEL, "no model file given");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cl_error_set(err, CL_ERR_MODEL, "%s: cannot open model file: %s", path,
                            strerror(errno));
    unsigned char h[8];
    size_t got = fread(h, 1, sizeof h, fp);
    fclose(fp);
    if (got < sizeof h)
        return cl_error_set(err, CL_ERR_MODEL, "%s: not a GGUF model (file too short: %zu bytes)",
                            path, got);
    if (memcmp(h, "GGUF", 4) != 0)
        return cl_error_set(err, CL_ERR_MODEL,
                            "%s: not a GGUF model (magic is %02x %02x %02x %02x, want 'GGUF')",
                            path, h[0], h[1], h[2], h[3]);
    uint32_t version = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 |
                       (uint32_t)h[7] << 24;
    if (version < 2 || version > 3)
        return cl_error_set(err, CL_ERR_MODEL, "%s: GGUF version %u is not supported (2 or 3)",
                            path, version);
    return CL_OK;
}

int32_t cl_llm_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int32_t)n;
}

/* ---- llama.cpp's log ---- */

static void log_drop(enum ggml_log_level level, const char *text, void *ud)
{
    (void)level;
    (void)text;
    (void)ud;
}

static void log_stderr(enum ggml_log_level level, const char *text, void *ud)
{
    (void)level;
    (void)ud;
    fputs(text, stderr);
}

void cl_llm_init_backend(bool verbose)
{
    llama_log_set(verbose ? log_stderr : log_drop, NULL);
    llama_backend_init();
}

/* ---- models ---- */

/* Whether llama.cpp can apply tmpl (it knows a fixed list of templates). */
static bool template_works(const char *tmpl)
{
    struct llama_chat_message msgs[2] = {{"user", "hi"}, {"assistant", "ok"}};
    char buf[256];
    return llama_chat_apply_template(tmpl, msgs, 2, true, buf, sizeof buf) > 0;
}

cl_status cl_llama_model_load(const char *path, bool verbose, cl_llama_model **out, cl_error *err)
{
    *out = NULL;
    cl_status st = cl_gguf_check(path, err);
    if (st != CL_OK)
        return st;
    cl_llama_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = cl_strdup(path))) {
        free(m);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_llm_init_backend(verbose);
    struct llama_model_params mp = llama_model_default_params();
    m->model = llama_model_load_from_file(path, mp);
    if (!m->model) {
        cl_llama_model_free(m);
        return cl_error_set(err, CL_ERR_MODEL,
                            "%s: llama.cpp could not load the model (corrupt file or unsupported "
                            "architecture; verbose mode shows llama.cpp's log)",
                            path);
    }
    m->vocab = llama_model_get_vocab(m->model);
    m->n_vocab = llama_vocab_n_tokens(m->vocab);
    llama_model_desc(m->model, m->desc, sizeof m->desc);
    const char *t = llama_model_chat_template(m->model, NULL);
    m->tmpl = t && template_works(t) ? t : NULL;
    *out = m;
    return CL_OK;
}

void cl_llama_model_free(cl_llama_model *m)
{
    if (!m)
        return;
    if (m->pieces)
        for (int32_t i = 0; i < m->n_vocab; i++)
            free(m->pieces[i]);
    free(m->pieces);
    free(m->piece_len);
    free(m->is_eog);
    free(m->by_piece);
    free(m->eog);
    if (m->model)
        llama_model_free(m->model);
    free(m->path);
    free(m->tmpl_own);
    free(m);
}

const char *cl_llama_model_desc(const cl_llama_model *m) { return m->desc; }

bool cl_llama_model_has_template(const cl_llama_model *m) { return m->tmpl != NULL; }

cl_status cl_llama_model_set_template(cl_llama_model *m, const char *tmpl, cl_error *err)
{
    char *own = NULL;
    if (strcmp(tmpl, CL_LLAMA_PLAIN_TEMPLATE_NAME) != 0) {
        if (!template_works(tmpl)) {
            const char *names[64];
            int32_t n = llama_chat_builtin_templates(names, 64);
            cl_buf list;
            cl_buf_init(&list);
            for (int32_t i = 0; i < n && i < 64; i++)
                cl_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
            cl_status st = cl_error_set(err, CL_ERR_ARG,
                                        "chat template '%.64s%s' is not one llama.cpp can "
                                        "apply; known: %s, or %s",
                                        tmpl, strlen(tmpl) > 64 ? "..." : "",
                                        list.data ? list.data : "", CL_LLAMA_PLAIN_TEMPLATE_NAME);
            cl_buf_free(&list);
            return st;
        }
        if (!(own = cl_strdup(tmpl)))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    free(m->tmpl_own);
    m->tmpl_own = own;
    m->tmpl = own;
    return CL_OK;
}

/* Piece order: bytes (unsigned), a piece before its extensions, then id. */
static int by_piece_cmp(const void *a, const void *b)
{
    const cl_piece_ref *x = a, *y = b;
    int32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->piece, y->piece, (size_t)n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

cl_status cl_llm_pieces(cl_llama_model *m, cl_error *err)
{
    if (m->pieces)
        return CL_OK;
    int32_t nv = m->n_vocab;
    char **pieces = calloc((size_t)nv, sizeof *pieces);
    int32_t *lens = calloc((size_t)nv, sizeof *lens);
    bool *eog = calloc((size_t)nv, sizeof *eog);
    cl_piece_ref *sorted = calloc((size_t)nv + 1, sizeof *sorted);
    llama_token *eog_ids = calloc((size_t)nv + 1, sizeof *eog_ids);
    if (!pieces || !lens || !eog || !sorted || !eog_ids)
        goto nomem;
    char buf[256];
    for (int32_t i = 0; i < nv; i++) {
        int32_t n = llama_token_to_piece(m->vocab, i, buf, sizeof buf, 0, true);
        char *p;
        if (n < 0) {
            p = malloc((size_t)-n + 1);
            if (p)
                n = llama_token_to_piece(m->vocab, i, p, -n, 0, true);
        } else {
            p = malloc((size_t)n + 1);
            if (p)
                memcpy(p, buf, (size_t)n);
        }
        if (!p) {
            for (int32_t j = 0; j < i; j++)
                free(pieces[j]);
            goto nomem;
        }
        if (n < 0)
            n = 0;
        p[n] = '\0';
        pieces[i] = p;
        lens[i] = n;
        eog[i] = llama_vocab_is_eog(m->vocab, i);
    }
    int32_t ns = 0, ne = 0;
    for (int32_t i = 0; i < nv; i++) {
        if (eog[i])
            eog_ids[ne++] = i;
        else if (lens[i] > 0 && pieces[i][0] != '\0')
            sorted[ns++] = (cl_piece_ref){pieces[i], lens[i], i};
    }
    qsort(sorted, (size_t)ns, sizeof *sorted, by_piece_cmp);
    m->pieces = pieces;
    m->piece_len = lens;
    m->is_eog = eog;
    m->by_piece = sorted;
    m->n_by_piece = ns;
    m->eog = eog_ids;
    m->n_eog = ne;
    return CL_OK;
nomem:
    free(pieces);
    free(lens);
    free(eog);
    free(sorted);
    free(eog_ids);
    return cl_error_set(err, CL_ERR_NOMEM, "out of memory (token table)");
}

cl_status cl_llm_tokenize(const cl_llama_model *m, const char *text, size_t n, bool add_special,
                          bool parse_special, llama_token **out, int32_t *nout, cl_error *err)
{
    *out = NULL;
    *nout = 0;
    if (n > (size_t)INT32_MAX / 2)
        return cl_error_set(err, CL_ERR_RANGE, "text too long to tokenize (%zu bytes)", n);
    int32_t cap = (int32_t)n + 8;
    llama_token *t = malloc((size_t)cap * sizeof *t);
    if (!t)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t k = llama_tokenize(m->vocab, text, (int32_t)n, t, cap, add_special, parse_special);
    if (k < 0 && k != INT32_MIN) {
        cap = -k;
        llama_token *t2 = realloc(t, (size_t)cap * sizeof *t);
        if (!t2) {
            free(t);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        t = t2;
        k = llama_tokenize(m->vocab, text, (int32_t)n, t, cap, add_special, parse_special);
    }
    if (k < 0) {
        free(t);
        return cl_error_set(err, CL_ERR_INTERNAL, "llama_tokenize failed (%d)", k);
    }
    *out = t;
    *nout = k;
    return CL_OK;
}

/* How many tokens of t[0..nt), from the first, spell a prefix of text. */
static int32_t matching(const cl_llama_model *m, const llama_token *t, int32_t nt,
                        const char *text, size_t n)
{
    size_t at = 0;
    int32_t i = 0;
    for (; i < nt; i++) {
        size_t pl = (size_t)m->piece_len[t[i]];
        if (pl == 0 || at + pl > n || memcmp(m->pieces[t[i]], text + at, pl) != 0)
            break;
        at += pl;
    }
    return i;
}

int32_t cl_llm_guess_tokens(cl_llama_model *m, const char *text, size_t n, llama_token *out,
                            int32_t max)
{
    if (n == 0 || max <= 0 || !m->pieces)
        return 0;
    llama_token *t;
    int32_t nt;
    if (cl_llm_tokenize(m, text, n, false, false, &t, &nt, NULL) != CL_OK)
        return 0;
    int32_t good = matching(m, t, nt, text, n);
    if (good == 0 && nt > 0) {
        /* a tokenizer that adds a leading space: tokenize after a newline and
         * drop the tokens before text */
        free(t);
        char *s = malloc(n + 2);
        if (!s)
            return 0;
        s[0] = '\n';
        memcpy(s + 1, text, n);
        if (cl_llm_tokenize(m, s, n + 1, false, false, &t, &nt, NULL) != CL_OK) {
            free(s);
            return 0;
        }
        free(s);
        size_t total = 0;
        for (int32_t i = 0; i < nt; i++)
            total += (size_t)m->piece_len[t[i]];
        size_t skip = total >= n ? total - n : 0, at = 0;
        int32_t i = 0;
        while (i < nt && at < skip)
            at += (size_t)m->piece_len[t[i++]];
        good = 0;
        if (at == skip && total >= n) {
            memmove(t, t + i, (size_t)(nt - i) * sizeof *t);
            nt -= i;
            good = matching(m, t, nt, text, n);
        }
    }
    if (good > max)
        good = max;
    memcpy(out, t, (size_t)good * sizeof *t);
    free(t);
    return good;
}

/* ---- chat formatting ---- */

static cl_status plain_format(const cl_prompt *p, int32_t nmsg, bool add_assistant, cl_buf *out,
                              cl_error *err)
{
    int bad = 0;
    for (int32_t i = 0; i < nmsg && !bad; i++) {
        const char *role = p->messages[i].role;
        const char *head = !strcmp(role, "system")      ? "System"
                           : !strcmp(role, "assistant") ? "Assistant"
                                                        : "User";
        bad = cl_buf_printf(out, "### %s:\n%s\n\n", head, p->messages[i].content) < 0;
    }
    if (!bad && add_assistant)
        bad = cl_buf_puts(out, "### Assistant:\n");
    if (!bad && !out->data)
        bad = cl_buf_append(out, "", 0);
    return bad ? cl_error_set(err, CL_ERR_NOMEM, "out of memory") : CL_OK;
}

cl_status cl_llama_chat_format(const cl_llama_model *m, const cl_prompt *p, int32_t nmessages,
                               bool add_assistant, cl_buf *out, cl_error *err)
{
    cl_buf_reset(out);
    if (nmessages < 0 || nmessages > p->nmessages)
        return cl_error_set(err, CL_ERR_RANGE, "chat: %d messages of %d", nmessages,
                            p->nmessages);
    if (!m->tmpl)
        return plain_format(p, nmessages, add_assistant, out, err);
    if (nmessages == 0 && !add_assistant)
        return cl_buf_append(out, "", 0) ? cl_error_set(err, CL_ERR_NOMEM, "out of memory")
                                         : CL_OK;
    struct llama_chat_message *msgs = malloc(((size_t)nmessages + 1) * sizeof *msgs);
    if (!msgs)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    size_t total = 64;
    for (int32_t i = 0; i < nmessages; i++) {
        msgs[i].role = p->messages[i].role;
        msgs[i].content = p->messages[i].content;
        total += strlen(p->messages[i].content) + 64;
    }
    cl_status st = CL_OK;
    char *buf = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (total > (size_t)INT32_MAX) {
            st = cl_error_set(err, CL_ERR_RANGE, "chat: prompt too long");
            break;
        }
        char *nb = realloc(buf, total + 1);
        if (!nb) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        buf = nb;
        int32_t n = llama_chat_apply_template(m->tmpl, msgs, (size_t)nmessages, add_assistant,
                                              buf, (int32_t)total);
        if (n < 0) {
            st = cl_error_set(err, CL_ERR_MODEL,
                              "%s: llama.cpp cannot apply the model's chat template", m->path);
            break;
        }
        if ((size_t)n <= total) {
            if (cl_buf_append(out, buf, (size_t)n))
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        total = (size_t)n;
    }
    free(buf);
    free(msgs);
    return st;
}
