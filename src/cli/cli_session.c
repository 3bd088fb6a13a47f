/*
 * cli_session.c - the tagging-session options of `clinner tag` and `clinner
 * serve` (cli_session.h).
 */
#include <limits.h>
#include <string.h>

#include "cli/cli_session.h"
#include "cli/help.h"
#include "clinner/openai.h"

void cli_session_init(cli_session_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cfg = cl_tag_config_default();
    o->cfg.strategy = NULL; /* the session's default; NULL also tells "not given" */
    o->seed = -1;
}

size_t cli_session_options(cli_session_opts *o, const char *key_env_option, cli_opt *out)
{
    cl_tag_config *c = &o->cfg;
    o->key_env_option = key_env_option;
    const cli_opt t[] = {
        CLI_STRING("--backend", &c->backend), CLI_STRING("--model", &c->model),
        CLI_STRING("--dense", &c->dense), CLI_STRING("--tokenizer", &c->tokenizer),
        CLI_STRING("--strategy", &c->strategy), CLI_STRING("--decode", &c->decode),
        CLI_STRING("--speculate", &c->speculate), CLI_STRING("--kb", &c->kb_dir),
        CLI_STRING("--train", &c->train_dir), CLI_STRING("--api-base", &c->api_base),
        CLI_STRING(key_env_option, &c->api_key_env), CLI_STRING("--cache-dir", &c->cache_dir),
        CLI_STRING("--embed-model", &c->embed_model),
        CLI_STRING("--chat-template", &c->chat_template), CLI_FLAG("--verbose", &c->verbose),
        CLI_INTEGER("--shots", CLI_OPT_INT32, &c->shots, 1, 1000),
        CLI_INTEGER("--parallel", CLI_OPT_INT32, &c->parallel, 1, 256),
        CLI_INTEGER("--max-tokens", CLI_OPT_INT32, &c->max_tokens, 0, 1000000),
        CLI_INTEGER("--seed", CLI_OPT_LONG, &o->seed, 0, LONG_MAX),
        CLI_INTEGER("--retries", CLI_OPT_INT32, &c->retries, 0, 100),
        CLI_INTEGER("--rag-k", CLI_OPT_INT32, &c->rag_k, 1, 100),
        CLI_INTEGER("--ctx", CLI_OPT_INT32, &c->ctx_tokens, 64, 1 << 20),
        CLI_NUMBER("--temp", &c->temperature, 0.0), CLI_NUMBER("--timeout", &c->timeout_s, 0.001),
    };
    _Static_assert(CLI_NOPTS(t) == CLI_SESSION_NOPTS, "CLI_SESSION_NOPTS");
    memcpy(out, t, sizeof t);
    return CLI_NOPTS(t);
}

void cli_session_finish(cli_session_opts *o)
{
    o->cfg.seed = o->seed;
    o->cfg.threads = (int32_t)o->threads;
}

void cli_session_help(FILE *fp, const char *page, const char *key_env_option)
{
    char vars[512];
    int n = snprintf(vars, sizeof vars, "key_env_option=%s\nopenai_api_base=%s\nunavailable=",
                     key_env_option, CL_OPENAI_DEFAULT_API_BASE);
    for (int32_t i = 0; cl_tag_backend_name(i) && n > 0 && (size_t)n < sizeof vars; i++)
        if (!cl_tag_backend_available(cl_tag_backend_name(i)))
            n += snprintf(vars + n, sizeof vars - (size_t)n, " (%s is not available in this build)",
                          cl_tag_backend_name(i));
    cli_help(fp, page, vars);
}

bool cli_session_refuse_foreign(const char *cmd, const cli_session_opts *o, const cli_opt *opts,
                                const bool *given, size_t nopts)
{
    static const char *const llama_only[] = {"--ctx", "--chat-template", "--speculate",
                                             "--embed-model", "--verbose", NULL};
    const char *const openai_only[] = {"--api-base", o->key_env_option, "--retries", "--timeout",
                                       NULL};
    static const char *const llm_only[] = {
        "--strategy", "--decode", "--kb",   "--train",     "--shots",     "--parallel",
        "--max-tokens", "--seed", "--rag-k", "--temp", "--cache-dir", "--answers", NULL};
    static const char *const crf_only[] = {"--dense", NULL};
    const char *b = o->cfg.backend ? o->cfg.backend : "crf", *opt;
    bool llama = !strcmp(b, "llama"), openai = !strcmp(b, "openai");
    if (strcmp(b, "crf") != 0 && (opt = cli_first_given(opts, given, nopts, crf_only)))
        fprintf(stderr, "clinner %s: %s is for the crf backend, not %s\n", cmd, opt, b);
    else if (!llama && (opt = cli_first_given(opts, given, nopts, llama_only)))
        fprintf(stderr, "clinner %s: %s is for the llama backend (the %s backend %s)\n", cmd, opt,
                b, openai ? "leaves it to the server" : "has no prompts");
    else if (!openai && (opt = cli_first_given(opts, given, nopts, openai_only)))
        fprintf(stderr, "clinner %s: %s is for the openai backend, not %s\n", cmd, opt, b);
    else if (!llama && !openai && (opt = cli_first_given(opts, given, nopts, llm_only)))
        fprintf(stderr, "clinner %s: %s is for the LLM backends (llama, openai), not %s\n", cmd,
                opt, b);
    else
        return false;
    return true;
}

void cli_session_error(const char *cmd, const char *msg)
{
    static const char *const fields[][2] = {
        {"backend", "--backend"}, {"model", "--model"},       {"tokenizer", "--tokenizer"},
        {"strategy", "--strategy"}, {"decode", "--decode"},   {"speculate", "--speculate"},
        {"train_dir", "--train"}, {"kb_dir", "--kb"},         {"dense", "--dense"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        size_t n = strlen(fields[i][0]);
        if (!strncmp(msg, fields[i][0], n) && msg[n] == ':') {
            fprintf(stderr, "clinner %s: %s%s\n", cmd, fields[i][1], msg + n);
            return;
        }
    }
    fprintf(stderr, "clinner %s: %s\n", cmd, msg);
}
