/*
 * llama-smoke.c - link/load/generate smoke test for the llama.cpp static
 * libraries built by scripts/setup-llama.sh.  Not part of the clinner build.
 *
 *   cc -std=c11 -I$PREFIX/include llama-smoke.c $(cat $PREFIX/ldflags.txt)
 *   ./a.out                     # link check only: prints system info
 *   ./a.out MODEL.gguf [PROMPT] [N_PREDICT]
 *
 * Prints "n_vocab=N", then greedily generates N_PREDICT tokens (default 8)
 * and prints them on one line prefixed by "gen:".  Exit 0 on success.
 * Set LLAMA_SMOKE_VERBOSE=1 to see llama.cpp's own log output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet_log(enum ggml_log_level level, const char *text, void *ud)
{
    (void)ud;
    if (level >= GGML_LOG_LEVEL_ERROR)
        fputs(text, stderr);
}

int main(int argc, char **argv)
{
    if (!getenv("LLAMA_SMOKE_VERBOSE"))
        llama_log_set(quiet_log, NULL);
    llama_backend_init();

    if (argc < 2) {
        printf("system_info: %s\n", llama_print_system_info());
        llama_backend_free();
        return 0;
    }
    const char *path = argv[1];
    const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
    int n_predict = argc > 3 ? atoi(argv[3]) : 8;

    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(path, mp);
    if (!model) {
        fprintf(stderr, "llama-smoke: failed to load %s\n", path);
        return 1;
    }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    printf("n_vocab=%d\n", llama_vocab_n_tokens(vocab));
    fflush(stdout);

    int plen = (int)strlen(prompt);
    int n_tok = -llama_tokenize(vocab, prompt, plen, NULL, 0, true, true);
    if (n_tok <= 0) {
        fprintf(stderr, "llama-smoke: tokenize failed\n");
        return 1;
    }
    llama_token *toks = malloc(sizeof(llama_token) * (size_t)n_tok);
    if (!toks || llama_tokenize(vocab, prompt, plen, toks, n_tok, true, true) != n_tok) {
        fprintf(stderr, "llama-smoke: tokenize failed\n");
        return 1;
    }

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(n_tok + n_predict + 8);
    cp.n_batch = cp.n_ctx;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llama-smoke: failed to create context\n");
        return 1;
    }
    struct llama_sampler *smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(smpl, llama_sampler_init_greedy());

    struct llama_batch batch = llama_batch_get_one(toks, n_tok);
    llama_token tok;
    int n_gen = 0;
    printf("gen:%s", prompt);
    for (; n_gen < n_predict; n_gen++) {
        if (llama_decode(ctx, batch) != 0) {
            fprintf(stderr, "\nllama-smoke: llama_decode failed\n");
            return 1;
        }
        tok = llama_sampler_sample(smpl, ctx, -1);
        if (llama_vocab_is_eog(vocab, tok))
            break;
        char buf[256];
        int n = llama_token_to_piece(vocab, tok, buf, (int32_t)sizeof buf, 0, true);
        if (n < 0) {
            fprintf(stderr, "\nllama-smoke: token_to_piece failed\n");
            return 1;
        }
        fwrite(buf, 1, (size_t)n, stdout);
        batch = llama_batch_get_one(&tok, 1);
    }
    printf("\nn_gen=%d\n", n_gen);

    llama_sampler_free(smpl);
    llama_free(ctx);
    llama_model_free(model);
    free(toks);
    llama_backend_free();
    return 0;
}
