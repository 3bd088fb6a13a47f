/* test_finetune.c - the pieces of `clinner finetune`: learning-rate
 * schedules, option names, which tensors train, packing examples into
 * windows, the training text (the tagging prompt is its prefix, the loss
 * spans are exactly the labels), the label-masking trick checked against
 * log-probabilities computed with llama_decode on stories260K, a short
 * fine-tune whose result the llama backend loads and tags with; and
 * `clinner features` (hidden state of each word's last piece, layers, cache). */
#include "testutil.h"

#if CL_HAVE_LLAMA
#include <math.h>

#include "clinner/corpus.h"
#include "clinner/crf.h"
#include "clinner/features.h"
#include "clinner/finetune.h"
#include "clinner/llm.h"
#include "clinner/tokenize.h"
#include "llm/finetune_internal.h"

/* stories260K from the model cache, or NULL (skip). */
static const char *stories_path(char *buf, size_t n)
{
    const char *cache = getenv("CLINNER_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache)
        snprintf(buf, n, "%s/models/stories260K.gguf", cache);
    else
        snprintf(buf, n, "%s/.cache/clinner/models/stories260K.gguf", home ? home : ".");
    if (access(buf, R_OK) != 0) {
        fprintf(stderr, "SKIP: %s not found (scripts/fetch-models.sh)\n", buf);
        return NULL;
    }
    return buf;
}

/* Decode toks[0..n) as one sequence from position 0, logits everywhere. */
static void decode_all(struct llama_context *ctx, const llama_token *toks, int32_t n)
{
    struct llama_batch bt = llama_batch_init(n, 0, 1);
    for (int32_t i = 0; i < n; i++) {
        bt.token[i] = toks[i];
        bt.pos[i] = i;
        bt.n_seq_id[i] = 1;
        bt.seq_id[i][0] = 0;
        bt.logits[i] = 1;
    }
    bt.n_tokens = n;
    assert_int_equal(llama_decode(ctx, bt), 0);
    llama_batch_free(bt);
}

static void test_schedule(void **state)
{
    (void)state;
    assert_true(fabs(cl_ft_lr_at(CL_FT_SCHEDULE_CONSTANT, 1e-3, 0, 0, 5, 10) - 1e-3) < 1e-12);
    /* warm-up: linear up to lr */
    assert_true(cl_ft_lr_at(CL_FT_SCHEDULE_COSINE, 1e-3, 1e-5, 4, 0, 100) < 1e-3 / 4);
    assert_true(fabs(cl_ft_lr_at(CL_FT_SCHEDULE_COSINE, 1e-3, 1e-5, 0, 0, 11) - 1e-3) < 1e-12);
    assert_true(fabs(cl_ft_lr_at(CL_FT_SCHEDULE_COSINE, 1e-3, 1e-5, 0, 10, 11) - 1e-5) < 1e-12);
    assert_true(fabs(cl_ft_lr_at(CL_FT_SCHEDULE_LINEAR, 1e-3, 0, 0, 5, 11) - 5e-4) < 1e-12);
    double prev = 1;
    for (int s = 0; s < 50; s++) {
        double lr = cl_ft_lr_at(CL_FT_SCHEDULE_COSINE, 1e-3, 1e-5, 0, s, 50);
        assert_true(lr <= prev + 1e-15);
        prev = lr;
    }
    /* a resumed session ramps up again: 1/21 of the rate first, rising,
     * the full rate from step 20 on */
    assert_true(fabs(cl_ft_lr_resumed(1e-3, 0, 20) - 1e-3 / 21) < 1e-15);
    prev = 0;
    for (int s = 0; s < 20; s++) {
        double lr = cl_ft_lr_resumed(1e-3, s, 20);
        assert_true(lr > prev && lr < 1e-3);
        prev = lr;
    }
    assert_true(cl_ft_lr_resumed(1e-3, 20, 20) == 1e-3);
    assert_true(cl_ft_lr_resumed(1e-3, 500, 20) == 1e-3);
}

static void test_names(void **state)
{
    (void)state;
    cl_error err;
    cl_ft_tensors k;
    int32_t n;
    assert_int_equal(cl_ft_tensors_parse("all", &k, &n, &err), CL_OK);
    assert_int_equal(k, CL_FT_TENSORS_ALL);
    assert_int_equal(cl_ft_tensors_parse("last:3", &k, &n, &err), CL_OK);
    assert_int_equal(k, CL_FT_TENSORS_LAST);
    assert_int_equal(n, 3);
    assert_int_equal(cl_ft_tensors_parse("norms-output", &k, &n, &err), CL_OK);
    assert_int_equal(cl_ft_tensors_parse("last:0", &k, &n, &err), CL_ERR_ARG);
    assert_int_equal(cl_ft_tensors_parse("last:x", &k, &n, &err), CL_ERR_ARG);
    assert_int_equal(cl_ft_tensors_parse("some", &k, &n, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "some"));
    cl_ft_loss l;
    assert_int_equal(cl_ft_loss_from_name("answer", &l, &err), CL_OK);
    assert_int_equal(l, CL_FT_LOSS_ANSWER);
    assert_int_equal(cl_ft_loss_from_name("x", &l, &err), CL_ERR_ARG);
    cl_ft_schedule s;
    assert_int_equal(cl_ft_schedule_from_name("linear", &s, &err), CL_OK);
    assert_int_equal(cl_ft_schedule_from_name("step", &s, &err), CL_ERR_ARG);

    /* which tensors train */
    assert_false(cl__ft_tensor_trains("token_embd.weight", CL_FT_TENSORS_ALL, 0, 30));
    assert_true(cl__ft_tensor_trains("blk.0.attn_q.weight", CL_FT_TENSORS_ALL, 0, 30));
    assert_true(cl__ft_tensor_trains("blk.29.ffn_up.weight", CL_FT_TENSORS_LAST, 2, 30));
    assert_true(cl__ft_tensor_trains("blk.28.ffn_up.weight", CL_FT_TENSORS_LAST, 2, 30));
    assert_false(cl__ft_tensor_trains("blk.27.ffn_up.weight", CL_FT_TENSORS_LAST, 2, 30));
    assert_true(cl__ft_tensor_trains("output_norm.weight", CL_FT_TENSORS_LAST, 2, 30));
    assert_true(cl__ft_tensor_trains("output.weight", CL_FT_TENSORS_LAST, 2, 30));
    assert_true(cl__ft_tensor_trains("blk.3.attn_norm.weight", CL_FT_TENSORS_NORMS_OUTPUT, 0, 30));
    assert_true(cl__ft_tensor_trains("output.weight", CL_FT_TENSORS_NORMS_OUTPUT, 0, 30));
    assert_false(cl__ft_tensor_trains("blk.3.attn_q.weight", CL_FT_TENSORS_NORMS_OUTPUT, 0, 30));
}

static void test_pack(void **state)
{
    (void)state;
    /* three sequences of 5, 4 and 9 tokens into windows of 8 positions */
    llama_token a[5] = {1, 10, 11, 12, 13}, b[4] = {1, 20, 21, 22},
                c[9] = {1, 30, 31, 32, 33, 34, 35, 36, 37};
    uint8_t ca[5] = {0, 0, 1, 1, 0}, cb[4] = {0, 1, 0, 1}, cc[9] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
    ft_seq seqs[3] = {{a, ca, 5, NULL}, {b, cb, 4, NULL}, {c, cc, 9, NULL}};
    ft_windows w;
    memset(&w, 0, sizeof w);
    int32_t skipped;
    cl_error err;
    assert_int_equal(cl__ft_windows_pack(&w, 8, seqs, NULL, 3, true, 2, &skipped, &err), CL_OK);
    assert_int_equal(skipped, 0);
    assert_int_equal(w.n, 2); /* a+b (9 tokens) fit 8 positions + 1 target; c alone */
    llama_token *t0 = w.tokens;
    assert_int_equal(t0[0], 1);
    assert_int_equal(t0[5], 1);
    assert_int_equal(t0[8], 22);
    /* a's tokens 12, 13 are targets of positions 1, 2; b's 20, 22 of 5, 7 */
    uint8_t want0[8] = {0, 1, 1, 0, 0, 1, 0, 1};
    assert_memory_equal(w.mask, want0, 8);
    assert_int_equal(w.counted[0], 4);
    assert_int_equal(w.counted[1], 1);
    assert_int_equal(w.mask[8 + 7], 1);
    /* no choice marks given: none in the windows */
    for (int i = 0; i < 16; i++)
        assert_int_equal(w.choice[i], 0);
    int32_t labels[8];
    cl__ft_window_labels(&w, 0, 100, labels);
    assert_int_equal(labels[0], 10); /* row 0 keeps its own label */
    assert_int_equal(labels[1], 11);
    assert_int_equal(labels[3], 10 - 3 * 100); /* masked: onto row 0's element */
    assert_int_equal(labels[5], 20);
    for (int i = 1; i < 8; i++) /* llama.cpp writes its 1 at row*vocab + label */
        if (!w.mask[i])
            assert_int_equal(i * 100 + labels[i], 0 * 100 + labels[0]);
    /* no packing: one per window; a sequence longer than n_ctx + 1 is left out */
    llama_token d[12] = {0};
    uint8_t cd[12] = {0};
    ft_seq seqs2[2] = {{a, ca, 5, NULL}, {d, cd, 12, NULL}};
    assert_int_equal(cl__ft_windows_pack(&w, 8, seqs2, NULL, 2, false, 2, &skipped, &err), CL_OK);
    assert_int_equal(w.n, 1);
    assert_int_equal(skipped, 1);
    assert_int_equal(w.tokens[5], 2); /* padding */

    /* label choices: token i's mark lands on position i - 1 (which predicts
     * it) and counts as right when the prediction there is that token; the
     * whole label is right when its later tokens ('+') are right too */
    uint8_t cha[5] = {0, 0, 'B', FT_LABEL_MORE, 'I'}, chb[4] = {0, 'O', FT_LABEL_MORE, 'I'};
    ft_seq seqs3[2] = {{a, ca, 5, cha}, {b, cb, 4, chb}};
    assert_int_equal(cl__ft_windows_pack(&w, 8, seqs3, NULL, 2, true, 2, &skipped, &err), CL_OK);
    assert_int_equal(w.n, 1);
    uint8_t wantc[8] = {0, 'B', FT_LABEL_MORE, 'I', 0, 'O', FT_LABEL_MORE, 'I'};
    assert_memory_equal(w.choice, wantc, 8);
    /* B at 1: right (11), its next token wrong at 2 (99, not 12); I at 3:
     * right (13), nothing after it; O at 5: right (20) and at 6 (21); I at
     * 7: wrong (21, not 22) */
    int32_t pred[8] = {10, 11, 99, 13, 0, 20, 21, 21};
    cl_ft_choices got;
    memset(&got, 0, sizeof got);
    cl__ft_window_choices(&w, 0, pred, &got);
    assert_int_equal(got.n[0], 1);
    assert_int_equal(got.right[0], 1);
    assert_int_equal(got.whole[0], 1);
    assert_int_equal(got.n[1], 1);
    assert_int_equal(got.right[1], 1);
    assert_int_equal(got.whole[1], 0);
    assert_int_equal(got.n[2], 2);
    assert_int_equal(got.right[2], 1);
    assert_int_equal(got.whole[2], 1);
    cl__ft_windows_free(&w);
}

/* A tokenized training document built by hand: one sentence with a
 * two-token entity. */
static cl_doc *sample_doc(void)
{
    cl_error err;
    const char *text = "Patients with Cushing syndrome have fatigue.";
    cl_doc *doc;
    assert_int_equal(cl_doc_new("sample", text, strlen(text), &doc, &err), CL_OK);
    cl_span sp = {14, 30};
    assert_int_equal(cl_doc_add_entity(doc, "T1", "RAREDISEASE", &sp, 1, NULL, &err), CL_OK);
    cl_span sp2 = {36, 43};
    assert_int_equal(cl_doc_add_entity(doc, "T2", "SYMPTOM", &sp2, 1, NULL, &err), CL_OK);
    assert_int_equal(cl_tokenize_doc(doc, CL_TOKENIZER_PAPER, &err), CL_OK);
    assert_int_equal(cl_bio_from_entities(doc, CL_BIO_PAPER, NULL, 0, NULL, &err), CL_OK);
    return doc;
}

static void test_render(void **state)
{
    (void)state;
    char buf[4096];
    const char *path = stories_path(buf, sizeof buf);
    if (!path)
        skip();
    cl_error err;
    cl_llama_model *m = NULL;
    assert_int_equal(cl_llama_model_load(path, false, &m, &err), CL_OK);
    cl_prompt_params pp = cl_prompt_default_params();
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&pp, &b, &err), CL_OK);
    cl_doc *doc = sample_doc();
    cl_ft_example ex;
    assert_int_equal(cl__ft_render_example(m, b, doc, 0, CL_FT_LOSS_LABELS, &ex, &err), CL_OK);
    /* the prompt the tagger sends is a prefix of the training text */
    cl_prompt pr;
    cl_prompt_init(&pr);
    cl_buf head;
    cl_buf_init(&head);
    assert_int_equal(cl_prompt_build(b, doc, 0, &pr, &err), CL_OK);
    assert_int_equal(cl_llama_chat_format(m, &pr, pr.nmessages, true, &head, &err), CL_OK);
    assert_int_equal(ex.prompt_len, head.len);
    assert_memory_equal(ex.text, head.data, head.len);
    /* one span per token line, each exactly "<label>\n" */
    assert_int_equal(ex.nspans, doc->ntokens);
    const char *want[] = {"O\n", "O\n", "B-RAREDISEASE\n", "I-RAREDISEASE\n", "O\n",
                          "B-SYMPTOM\n", "O\n"};
    assert_int_equal(doc->ntokens, 7);
    for (int i = 0; i < ex.nspans; i++) {
        size_t n = ex.spans[i][1] - ex.spans[i][0];
        assert_int_equal(n, strlen(want[i]));
        assert_memory_equal(ex.text + ex.spans[i][0], want[i], n);
        assert_memory_equal(ex.text + ex.spans[i][0] - 3, " : ", 3);
    }
    /* counted tokens spell the labels (stories260K splits them into pieces;
     * the first may carry the separator's space, " O") */
    ft_seq s;
    assert_int_equal(cl__ft_seq_from_example(m->vocab, &ex, &s, &err), CL_OK);
    cl_buf spelled;
    cl_buf_init(&spelled);
    char piece[64];
    for (int32_t i = 0; i < s.n; i++)
        if (s.counted[i]) {
            int32_t k = llama_token_to_piece(m->vocab, s.toks[i], piece, sizeof piece, 0, true);
            assert_true(k >= 0);
            for (int32_t j = 0; j < k; j++)
                if (piece[j] != ' ')
                    cl_buf_putc(&spelled, piece[j]);
        }
    cl_buf all;
    cl_buf_init(&all);
    for (int i = 0; i < 7; i++)
        cl_buf_puts(&all, want[i]);
    assert_string_equal(spelled.data, all.data);
    /* each line's label start is known, and marked on the token it starts in */
    assert_int_equal(ex.nlines, 7);
    /* and its later tokens marked FT_LABEL_MORE: together they spell the
     * label (after the separator's space, before the newline) */
    int32_t marks = 0;
    for (int32_t i = 0; i < s.n; i++)
        if (s.choice[i] && s.choice[i] != FT_LABEL_MORE) {
            assert_true(marks < 7);
            assert_int_equal(ex.text[ex.label_at[marks]], want[marks][0]);
            assert_int_equal(s.choice[i], want[marks][0]);
            int32_t k = llama_token_to_piece(m->vocab, s.toks[i], piece, sizeof piece, 0, true);
            assert_true(k > 0);
            assert_non_null(memchr(piece, want[marks][0], (size_t)k));
            cl_buf label;
            cl_buf_init(&label);
            for (int32_t j = i; j < s.n && (j == i || s.choice[j] == FT_LABEL_MORE); j++) {
                k = llama_token_to_piece(m->vocab, s.toks[j], piece, sizeof piece, 0, true);
                assert_true(k > 0);
                for (int32_t q = 0; q < k; q++)
                    if (piece[q] != ' ' && piece[q] != '\n')
                        cl_buf_putc(&label, piece[q]);
            }
            assert_int_equal(label.len, strlen(want[marks]) - 1);
            assert_memory_equal(label.data, want[marks], label.len);
            cl_buf_free(&label);
            marks++;
        }
    assert_int_equal(marks, 7);
    /* whole-answer loss: one span from the prompt's end */
    cl_ft_example ex2;
    assert_int_equal(cl__ft_render_example(m, b, doc, 0, CL_FT_LOSS_ANSWER, &ex2, &err), CL_OK);
    assert_int_equal(ex2.nspans, 1);
    assert_int_equal(ex2.spans[0][0], ex2.prompt_len);
    assert_int_equal(ex2.nlines, 7); /* label starts whatever the loss */
    assert_int_equal(ex2.label_at[6], ex.label_at[6]);
    assert_memory_equal(ex2.text + ex2.prompt_len, "Patients : O\n", 13);
    cl_ft_example_free(&ex2);
    cl_buf_free(&all);
    cl_buf_free(&spelled);
    cl__ft_seq_free(&s);
    cl_buf_free(&head);
    cl_prompt_free(&pr);
    cl_ft_example_free(&ex);
    cl_doc_free(doc);
    cl_prompt_builder_free(b);
    cl_llama_model_free(m);
}

/* The masking trick: the loss llama_opt_epoch reports for a window whose
 * masked rows point at row 0 equals the cross-entropy of the counted rows
 * (and row 0) computed from llama_decode's logits. */
static void test_masked_loss(void **state)
{
    (void)state;
    char buf[4096];
    const char *path = stories_path(buf, sizeof buf);
    if (!path)
        skip();
    cl_llm_init_backend(false);
    struct llama_model_params mp = llama_model_default_params();
    mp.load_mode = LLAMA_LOAD_MODE_NONE;
    struct llama_model *model = llama_model_load_from_file(path, mp);
    assert_non_null(model);
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int32_t nv = llama_vocab_n_tokens(vocab);
    const int32_t T = 256; /* llama.cpp pads contexts to multiples of 256 */
    /* a window: some text, a few positions counted */
    char text[8192] = "";
    for (int i = 0; i < 40; i++)
        strcat(text, "Once upon a time there was a little girl who liked to tag : O\n");
    llama_token *toks;
    int32_t nt;
    size_t *ends;
    cl_error err;
    assert_int_equal(cl__ft_tokenize(vocab, text, strlen(text), &toks, &nt, &ends, &err), CL_OK);
    assert_true(nt > T + 1);
    free(ends);
    uint8_t counted[257] = {0};
    for (int i = 10; i < T; i += 7)
        counted[i] = 1;
    /* every token spelling an O is a label choice */
    uint8_t choice[257] = {0};
    char piece[64];
    for (int i = 1; i <= T; i++) {
        int32_t k = llama_token_to_piece(vocab, toks[i], piece, sizeof piece, 0, true);
        if (k > 0 && memchr(piece, 'O', (size_t)k))
            choice[i] = 'O';
    }
    ft_seq s = {toks, counted, T + 1, choice};
    ft_windows w;
    memset(&w, 0, sizeof w);
    int32_t skipped;
    assert_int_equal(cl__ft_windows_pack(&w, T, &s, NULL, 1, true, 0, &skipped, &err), CL_OK);
    assert_int_equal(w.n, 1);

    /* expected: sum of -log p(next) over counted rows and row 0, over T */
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)T;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ic = llama_init_from_model(model, cp);
    assert_non_null(ic);
    decode_all(ic, w.tokens, T);
    double sum = 0;
    int32_t argmax[256];
    cl_ft_choices want;
    memset(&want, 0, sizeof want);
    for (int i = 0; i < T; i++) {
        const float *lg = llama_get_logits_ith(ic, i);
        argmax[i] = cl_llm_first_max(lg, nv);
        if (w.choice[i] == 'O') {
            want.n[0]++;
            want.right[0] += argmax[i] == w.tokens[i + 1];
        }
        if (i != 0 && !w.mask[i])
            continue;
        double mx = -INFINITY, z = 0;
        for (int v = 0; v < nv; v++)
            mx = lg[v] > mx ? lg[v] : mx;
        for (int v = 0; v < nv; v++)
            z += exp(lg[v] - mx);
        sum += -(lg[w.tokens[i + 1]] - mx - log(z));
    }
    double expected = sum / T;
    llama_free(ic);

    struct llama_context *tc = llama_init_from_model(model, cp);
    assert_non_null(tc);
    struct llama_opt_params op = {0, llama_opt_param_filter_all, NULL,
                                  ggml_opt_get_default_optimizer_params, NULL,
                                  GGML_OPT_OPTIMIZER_TYPE_ADAMW};
    llama_opt_init(tc, model, op);
    ggml_opt_dataset_t ds = ggml_opt_dataset_init(GGML_TYPE_I32, GGML_TYPE_I32, T, T, 1, 1);
    memcpy(ggml_opt_dataset_data(ds)->data, w.tokens, sizeof(int32_t) * (size_t)T);
    cl__ft_window_labels(&w, 0, nv, (int32_t *)ggml_opt_dataset_labels(ds)->data);
    ggml_opt_result_t r = ggml_opt_result_init();
    llama_opt_epoch(tc, ds, r, r, 0, NULL, NULL); /* evaluation only */
    double loss, unc;
    ggml_opt_result_loss(r, &loss, &unc);
    fprintf(stderr, "masked loss: opt %.6f, decode %.6f\n", loss, expected);
    assert_true(fabs(loss - expected) < 1e-3 * fabs(expected) + 1e-4);
    /* ggml's predictions are each position's argmax (two graphs' numerics
     * may split a near-tie), and the label choices counted from them are
     * those of plain decoding (some right: the text repeats) */
    int64_t nd = 0;
    ggml_opt_result_ndata(r, &nd);
    assert_int_equal(nd, T);
    int32_t pred[256];
    ggml_opt_result_pred(r, pred);
    int same = 0;
    for (int i = 0; i < T; i++)
        same += pred[i] == argmax[i];
    assert_true(same >= T - 2);
    cl_ft_choices got;
    memset(&got, 0, sizeof got);
    cl__ft_window_choices(&w, 0, pred, &got);
    fprintf(stderr, "label choices: %lld of %lld right (decode: %lld)\n", (long long)got.right[0],
            (long long)got.n[0], (long long)want.right[0]);
    assert_int_equal(got.n[0], want.n[0]);
    assert_true(want.n[0] >= 10 && want.right[0] > 0);
    assert_true(llabs(got.right[0] - want.right[0]) <= 1);
    /* and unmasked (every row counts) is clearly different */
    int32_t *lab = (int32_t *)ggml_opt_dataset_labels(ds)->data;
    for (int i = 0; i < T; i++)
        lab[i] = w.tokens[i + 1];
    ggml_opt_result_reset(r);
    llama_opt_epoch(tc, ds, r, r, 0, NULL, NULL);
    double full;
    ggml_opt_result_loss(r, &full, &unc);
    assert_true(fabs(full - expected) > 1e-3);
    ggml_opt_result_free(r);
    ggml_opt_dataset_free(ds);
    llama_free(tc);
    llama_model_free(model);
    cl__ft_windows_free(&w);
    free(toks);
}

/* The last hidden state at the end of text, run alone (BOS first). */
static void last_state(struct llama_model *model, const char *text, float *out, int32_t dim)
{
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    llama_token toks[256];
    int32_t n = llama_tokenize(vocab, text, (int32_t)strlen(text), toks, 256, true, false);
    assert_true(n > 0);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = 256;
    cp.n_threads = cp.n_threads_batch = 1;
    cp.embeddings = true;
    cp.pooling_type = LLAMA_POOLING_TYPE_NONE;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    assert_non_null(ctx);
    assert_int_equal(llama_decode(ctx, llama_batch_get_one(toks, n)), 0);
    const float *e = llama_get_embeddings_ith(ctx, n - 1);
    assert_non_null(e);
    memcpy(out, e, sizeof(float) * (size_t)dim);
    llama_free(ctx);
}

/* clinner features: a word's vector is the state at its last sub-word piece
 * (checked against running the sentence's prefix alone), layers differ,
 * the cache returns the same file, a block past the last is refused. */
static void test_features(void **state)
{
    (void)state;
    char buf[4096];
    const char *path = stories_path(buf, sizeof buf);
    if (!path)
        skip();
    cl_error err;
    const char *text = "Patients with hyperphosphatemia. Then zyxwvut fell.";
    cl_doc *doc;
    assert_int_equal(cl_doc_new("d1", text, strlen(text), &doc, &err), CL_OK);
    assert_int_equal(cl_tokenize_doc(doc, CL_TOKENIZER_PAPER, &err), CL_OK);
    assert_int_equal(doc->ntokens, 8);
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, doc, &err), CL_OK);
    char dir[] = "/tmp/clinner-fx-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[256], out2[256], out3[256], cache[256];
    snprintf(out, sizeof out, "%s/last.dense", dir);
    snprintf(out2, sizeof out2, "%s/again.dense", dir);
    snprintf(out3, sizeof out3, "%s/l1.dense", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    cl_features_params p = cl_features_default_params();
    p.model_path = path;
    p.threads = 1;
    p.cache_dir = cache;
    cl_features_result r;
    assert_int_equal(cl_features_export(&p, c, out, &r, &err), CL_OK);
    assert_false(r.from_cache);
    assert_int_equal(r.tokens, 8);
    assert_int_equal(r.documents, 1);
    cl_dense_table *t;
    assert_int_equal(cl_dense_read(out, &t, &err), CL_OK);
    int32_t dim = cl_dense_dim(t), nt;
    assert_int_equal(dim, r.dim);
    const float *rows = cl_dense_find(t, "d1", &nt);
    assert_non_null(rows);
    assert_int_equal(nt, 8);

    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(path, mp);
    assert_non_null(model);
    float *want = malloc(sizeof(float) * (size_t)dim);
    /* sentence 1: word 2 (several pieces) and word 3 ("."); sentence 2
     * starts afresh: its first word sees only BOS before it */
    const char *prefixes[] = {"Patients", "Patients with", "Patients with hyperphosphatemia",
                              "Patients with hyperphosphatemia.", "Then", "Then zyxwvut"};
    const int rowi[] = {0, 1, 2, 3, 4, 5};
    for (int k = 0; k < 6; k++) {
        last_state(model, prefixes[k], want, dim);
        for (int32_t j = 0; j < dim; j++)
            assert_true(fabsf(rows[(size_t)rowi[k] * (size_t)dim + (size_t)j] - want[j]) <
                        1e-3f + 1e-3f * fabsf(want[j]));
    }
    free(want);
    llama_model_free(model);

    /* the cache gives the same bytes; another layer gives other vectors */
    assert_int_equal(cl_features_export(&p, c, out2, &r, &err), CL_OK);
    assert_true(r.from_cache);
    char *a, *b2;
    size_t na, nb;
    assert_int_equal(cl_read_file(out, &a, &na, &err), CL_OK);
    assert_int_equal(cl_read_file(out2, &b2, &nb, &err), CL_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b2, na);
    free(b2);
    p.layer = 1;
    assert_int_equal(cl_features_export(&p, c, out3, &r, &err), CL_OK);
    assert_false(r.from_cache);
    assert_int_equal(cl_read_file(out3, &b2, &nb, &err), CL_OK);
    assert_int_equal(na, nb);
    assert_true(memcmp(a, b2, na) != 0);
    free(a);
    free(b2);
    p.layer = 99;
    assert_int_equal(cl_features_export(&p, c, out3, &r, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "layer 99"));
    cl_dense_free(t);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    cl_corpus_free(c);
}

/* Last-position logits of text with the model at path. */
static float *logits_of(const char *path, const char *text, int32_t *nv)
{
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(path, mp);
    assert_non_null(model);
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    *nv = llama_vocab_n_tokens(vocab);
    llama_token toks[256];
    int32_t n = llama_tokenize(vocab, text, (int32_t)strlen(text), toks, 256, true, false);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = 256;
    cp.n_threads = cp.n_threads_batch = 1;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    assert_non_null(ctx);
    assert_int_equal(llama_decode(ctx, llama_batch_get_one(toks, n)), 0);
    float *out = malloc(sizeof(float) * (size_t)*nv);
    memcpy(out, llama_get_logits_ith(ctx, -1), sizeof(float) * (size_t)*nv);
    llama_free(ctx);
    llama_model_free(model);
    return out;
}

/* Saving a model (llama_model_save_to_file + our metadata repair) keeps its
 * outputs, its chat template and its context length.  CLINNER_FT_TEST_MODEL
 * names an F32 model to check instead of stories260K. */
static void test_save_roundtrip(void **state)
{
    (void)state;
    char buf[4096];
    const char *path = getenv("CLINNER_FT_TEST_MODEL");
    if (!path && !(path = stories_path(buf, sizeof buf)))
        skip();
    cl_llm_init_backend(false);
    char dir[] = "/tmp/clinner-sv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[256];
    snprintf(out, sizeof out, "%s/saved.gguf", dir);
    struct llama_model_params mp = llama_model_default_params();
    mp.load_mode = LLAMA_LOAD_MODE_NONE;
    struct llama_model *model = llama_model_load_from_file(path, mp);
    assert_non_null(model);
    cl_error err;
    assert_int_equal(cl__ft_save_model(model, path, out, NULL, &err), CL_OK);
    int32_t ctx_orig = llama_model_n_ctx_train(model);
    char t1[64] = "", t2[64] = "";
    llama_model_meta_val_str(model, "tokenizer.chat_template", t1, sizeof t1);
    llama_model_free(model);
    model = llama_model_load_from_file(out, mp);
    assert_non_null(model);
    assert_int_equal(llama_model_n_ctx_train(model), ctx_orig);
    llama_model_meta_val_str(model, "tokenizer.chat_template", t2, sizeof t2);
    assert_string_equal(t1, t2);
    llama_model_free(model);
    int32_t nv;
    const char *text = "Once upon a time, a girl had Fabry disease.";
    float *a = logits_of(path, text, &nv), *b = logits_of(out, text, &nv);
    for (int32_t i = 0; i < nv; i++)
        assert_true(fabsf(a[i] - b[i]) <= 1e-4f * (1 + fabsf(a[i])));
    free(a);
    free(b);

    /* --chat-template: the name is written as the template, "plain" removes
     * it, and the loaded models render accordingly */
    char named[256];
    snprintf(named, sizeof named, "%s/named.gguf", dir);
    model = llama_model_load_from_file(out, mp);
    assert_non_null(model);
    assert_int_equal(cl__ft_save_model(model, out, named, "chatml", &err), CL_OK);
    llama_model_free(model);
    cl_llama_model *lm = NULL;
    assert_int_equal(cl_llama_model_load(named, false, &lm, &err), CL_OK);
    assert_true(cl_llama_model_has_template(lm));
    cl_prompt pr;
    cl_prompt_init(&pr);
    assert_int_equal(cl_prompt_add(&pr, "user", "Fever", &err), CL_OK);
    cl_buf r;
    cl_buf_init(&r);
    assert_int_equal(cl_llama_chat_format(lm, &pr, 1, true, &r, &err), CL_OK);
    assert_string_equal(r.data, "<|im_start|>user\nFever<|im_end|>\n<|im_start|>assistant\n");
    cl_llama_model_free(lm);
    model = llama_model_load_from_file(named, mp);
    assert_non_null(model);
    assert_int_equal(cl__ft_save_model(model, named, out, CL_LLAMA_PLAIN_TEMPLATE_NAME, &err), CL_OK);
    llama_model_free(model);
    assert_int_equal(cl_llama_model_load(out, false, &lm, &err), CL_OK);
    assert_false(cl_llama_model_has_template(lm));
    cl_llama_model_free(lm);
    cl_buf_free(&r);
    cl_prompt_free(&pr);
    unlink(named);
    unlink(out);
    rmdir(dir);
}

static void quiet(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

static void count_progress(void *ctx, const cl_ft_progress *p)
{
    if (p->train)
        (*(int *)ctx)++;
}

/* The memory estimate: every block's activations when every block trains,
 * fewer with last:N; the weights, optimizer and logits parts stay. */
static void test_memory_estimate(void **state)
{
    (void)state;
    char buf[4096];
    const char *path = stories_path(buf, sizeof buf);
    if (!path)
        skip();
    cl_error err;
    char dir[] = "/tmp/clinner-ftmem-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *f32 = NULL;
    assert_int_equal(cl_ft_f32_model(path, dir, 1, &f32, NULL, NULL, &err), CL_OK);
    ft_mem all, last1, last99;
    assert_int_equal(cl__ft_estimate_memory(f32, CL_FT_TENSORS_ALL, 0, 512, &all, &err), CL_OK);
    assert_int_equal(cl__ft_estimate_memory(f32, CL_FT_TENSORS_LAST, 1, 512, &last1, &err), CL_OK);
    assert_int_equal(cl__ft_estimate_memory(f32, CL_FT_TENSORS_LAST, 99, 512, &last99, &err),
                     CL_OK);
    /* stories260K has 5 blocks: last:1 keeps 3 blocks' activations */
    assert_true(all.activations > 0);
    assert_int_equal(last1.activations * 5, all.activations * 3);
    assert_int_equal(last99.activations, all.activations);
    assert_true(last1.n_trained < all.n_trained);
    assert_true(last1.optimizer < all.optimizer);
    assert_int_equal(last1.weights, all.weights);
    assert_int_equal(last1.logits, all.logits);
    assert_int_equal(last1.total, last1.weights + last1.optimizer + last1.activations +
                                      last1.logits + last1.kv + (256ll << 20));
    assert_int_equal(cl__ft_estimate_memory("/nonexistent.gguf", CL_FT_TENSORS_ALL, 0, 512, &all,
                                        &err),
                     CL_ERR_MODEL);
    free(f32);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Fine-tune stories260K for a few steps on the hand-made fixture, then load
 * the result as the llama backend does and tag with forced decoding. */
/* The label choices of cl_ft_choices computed the plain way: each example
 * alone through llama_decode, the first highest logit before each label
 * token.  Also checks the marks: a label's tokens spell one label. */
static void manual_choices(const char *model_path, const cl_corpus *c, int32_t n_ctx,
                           cl_ft_choices *out)
{
    cl_error err;
    memset(out, 0, sizeof *out);
    cl_llama_model *m = NULL;
    assert_int_equal(cl_llama_model_load(model_path, false, &m, &err), CL_OK);
    cl_prompt_params pp = cl_prompt_default_params();
    pp.strategy = CL_STRATEGY_ZERO_SHOT;
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&pp, &b, &err), CL_OK);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)n_ctx;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.type_k = cp.type_v = GGML_TYPE_F32; /* as the training context */
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = llama_init_from_model(m->model, cp);
    assert_non_null(ctx);
    int32_t nv = llama_vocab_n_tokens(m->vocab);
    for (int32_t d = 0; d < c->ndocs; d++)
        for (int32_t se = 0; se < c->docs[d]->nsentences; se++) {
            if (c->docs[d]->sentences[se].tok_end == c->docs[d]->sentences[se].tok_begin)
                continue;
            cl_ft_example ex;
            assert_int_equal(cl__ft_render_example(m, b, c->docs[d], se, CL_FT_LOSS_LABELS, &ex, &err),
                             CL_OK);
            ft_seq s;
            assert_int_equal(cl__ft_seq_from_example(m->vocab, &ex, &s, &err), CL_OK);
            if (s.n >= 2 && s.n <= n_ctx + 1) {
                llama_memory_clear(llama_get_memory(ctx), true);
                decode_all(ctx, s.toks, s.n - 1); /* the last token is only a target */
                for (int32_t i = 1; i < s.n; i++) {
                    int k = s.choice[i] == 'O' ? 0 : s.choice[i] == 'B' ? 1 : s.choice[i] == 'I' ? 2 : -1;
                    if (k < 0)
                        continue;
                    out->n[k]++;
                    bool first = cl_llm_first_max(llama_get_logits_ith(ctx, i - 1), nv) == s.toks[i];
                    bool all = first;
                    char spelt[64] = "";
                    int32_t j = i;
                    do {
                        char piece[32];
                        int32_t len = llama_token_to_piece(m->vocab, s.toks[j], piece,
                                                           sizeof piece - 1, 0, true);
                        assert_true(len > 0 && strlen(spelt) + (size_t)len < sizeof spelt);
                        strncat(spelt, piece, (size_t)len);
                        if (j > i)
                            all = all && cl_llm_first_max(llama_get_logits_ith(ctx, j - 1), nv) ==
                                             s.toks[j];
                        j++;
                    } while (j < s.n && s.choice[j] == FT_LABEL_MORE);
                    /* the label and nothing of the next line ("B-SIGN" after
                     * the separator's space; a token may hold ": B") */
                    const char *lab = strpbrk(spelt, "OBI");
                    assert_non_null(lab);
                    assert_true(!strcmp(lab, "O") || ((lab[0] == 'B' || lab[0] == 'I') &&
                                                      lab[1] == '-' && strlen(lab) > 2 &&
                                                      strspn(lab + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ==
                                                          strlen(lab + 2)));
                    out->right[k] += first;
                    out->whole[k] += all;
                }
            }
            cl__ft_seq_free(&s);
            cl_ft_example_free(&ex);
        }
    llama_free(ctx);
    cl_prompt_builder_free(b);
    cl_llama_model_free(m);
}

static void test_finetune_then_tag(void **state)
{
    (void)state;
    char buf[4096];
    const char *path = stories_path(buf, sizeof buf);
    if (!path)
        skip();
    cl_error err;
    cl_corpus *train;
    assert_int_equal(cl_corpus_new(&train, &err), CL_OK);
    assert_int_equal(cl_corpus_read(train, CL_FORMAT_BRAT, "tests/fixtures/finetune/train", &err),
                     CL_OK);
    assert_int_equal(cl_prompt_prepare_train(train, CL_TOKENIZER_PAPER, NULL, 0, &err), CL_OK);
    char dir[] = "/tmp/clinner-ft-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[256];
    snprintf(out, sizeof out, "%s/ft.gguf", dir);
    cl_finetune_params p = cl_finetune_default_params();
    p.model_path = path;
    p.out_path = out;
    p.cache_dir = dir;
    p.n_ctx = 1024;
    p.lr = 1e-2;
    p.threads = 2;
    p.max_examples = 3;
    p.log = quiet;
    int steps = 0;
    p.progress = count_progress;
    p.progress_ctx = &steps;
    cl_finetune_result r;
    cl_status st = cl_finetune(&p, train, NULL, &r, &err);
    if (st != CL_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CL_OK);
    assert_int_equal(r.examples, 3);
    assert_int_equal(steps, r.windows);
    assert_true(r.n_trained > 0 && r.n_trained < r.n_params);
    assert_true(r.mem_estimate > 0);
    assert_false(isnan(r.train_loss[0]));

    /* the result loads and tags, forced decoding, every label BIO-valid */
    cl_prompt_params pp = cl_prompt_default_params();
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&pp, &b, &err), CL_OK);
    cl_llama_params lp = cl_llama_default_params();
    lp.model_path = out;
    lp.decode = CL_DECODE_FORCED;
    lp.n_ctx = 2048;
    lp.n_threads = 2;
    cl_tagger t;
    st = cl_llama_tagger_new(&lp, b, &t, &err);
    if (st != CL_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CL_OK);
    cl_doc *doc = train->docs[0];
    assert_int_equal(cl_tagger_tag_doc(&t, doc, &err), CL_OK);
    const cl_label_set *ls = cl_prompt_builder_labels(b);
    for (int32_t s = 0; s < doc->nsentences; s++) {
        int32_t prev = -1;
        for (int32_t i = doc->sentences[s].tok_begin; i < doc->sentences[s].tok_end; i++) {
            int32_t l = cl_label_set_find(ls, doc->tags[i]);
            assert_true(l >= 0);
            assert_true(cl_label_valid_after(ls, prev, l));
            prev = l;
        }
    }
    cl_tagger_free(&t);
    cl_prompt_builder_free(b);

    /* validation only (no epochs) of the result, one example per window:
     * as many label choices as plain decoding finds, as many right (the
     * numerics of two graphs may split one near-tie; that ggml's
     * predictions are the argmax of each position is test_masked_loss's) */
    cl_finetune_params pv = p;
    char none[300];
    snprintf(none, sizeof none, "%s/none.gguf", dir);
    pv.model_path = out;
    pv.out_path = none;
    pv.epochs = 0;
    pv.pack = false;
    pv.progress = NULL;
    cl_finetune_result rv;
    st = cl_finetune(&pv, train, train, &rv, &err);
    if (st != CL_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CL_OK);
    assert_false(isnan(rv.dev_loss[0]));
    assert_int_equal(access(none, F_OK), -1);
    cl_ft_choices want;
    manual_choices(out, train, p.n_ctx, &want);
    assert_true(want.n[0] > 0 && want.n[1] > 0 && want.n[2] > 0);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(rv.dev_choices.n[k], want.n[k]);
        assert_true(llabs(rv.dev_choices.right[k] - want.right[k]) <= 1);
        assert_true(llabs(rv.dev_choices.whole[k] - want.whole[k]) <= 1);
        assert_true(rv.dev_choices.whole[k] <= rv.dev_choices.right[k]);
    }

    /* a window that cannot hold any example is refused clearly */
    p.n_ctx = 256;
    p.resume = false;
    assert_int_equal(cl_finetune(&p, train, NULL, &r, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "n_ctx"));
    /* as is a window that is not a multiple of 256, and a memory limit too small */
    p.n_ctx = 1000;
    assert_int_equal(cl_finetune(&p, train, NULL, &r, &err), CL_ERR_ARG);
    p.n_ctx = 1024;
    p.mem_limit = 1 << 20;
    assert_int_equal(cl_finetune(&p, train, NULL, &r, &err), CL_ERR_NOMEM);
    assert_non_null(strstr(err.msg, "GiB"));

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    cl_corpus_free(train);
}

/* The sentence that sums a run up: the last epoch's losses. */
static void test_result_summary(void **state)
{
    (void)state;
    cl_finetune_result r;
    memset(&r, 0, sizeof r);
    r.examples = 12;
    r.epochs_done = 2;
    r.first_loss = 3.0;
    r.train_loss[1] = 1.5;
    r.dev_loss[1] = 1.75;
    r.seconds = 61.4;
    char line[512];
    cl_finetune_result_summary(&r, "ft.gguf", line, sizeof line);
    assert_string_equal(line, "wrote ft.gguf: 12 examples, 2 epochs, first loss 3.0000, last "
                              "epoch train loss 1.5000, dev loss 1.7500, 61 s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_masked_loss),
        cmocka_unit_test(test_save_roundtrip),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_memory_estimate),
        cmocka_unit_test(test_finetune_then_tag),
        cmocka_unit_test(test_result_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_no_llama(void **state)
{
    (void)state;
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_llama)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
