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

/* The session's options (tag's --answers, serve's --scores) and the fields
 * they set, as the library's messages name them (NULL: the key option the
 * command names). */
static const char *const fields[][2] = {
    {"--backend", "backend"}, {"--model", "model"}, {"--dense", "dense"},
    {"--tokenizer", "tokenizer"}, {"--strategy", "strategy"}, {"--decode", "decode"},
    {"--speculate", "speculate"}, {"--kb", "kb_dir"}, {"--train", "train_dir"},
    {"--api-base", "api_base"}, {NULL, "api_key_env"}, {"--cache-dir", "cache_dir"},
    {"--embed-model", "embed_model"}, {"--chat-template", "chat_template"},
    {"--verbose", "verbose"}, {"--shots", "shots"}, {"--parallel", "parallel"},
    {"--max-tokens", "max_tokens"}, {"--seed", "seed"}, {"--retries", "retries"},
    {"--rag-k", "rag_k"}, {"--ctx", "ctx_tokens"}, {"--temp", "temperature"},
    {"--timeout", "timeout_s"}, {"--answers", "answers_path"}, {"--scores", "scores_path"},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

bool cli_session_refuse_foreign(const char *cmd, const cli_session_opts *o, const cli_opt *opts,
                                const bool *given, size_t nopts)
{
    const char *named[NFIELDS], *option[NFIELDS];
    for (size_t k = 0; k < NFIELDS; k++) {
        const char *names[] = {fields[k][0] ? fields[k][0] : o->key_env_option, NULL};
        option[k] = names[0];
        named[k] = cli_first_given(opts, given, nopts, names) ? fields[k][1] : NULL;
    }
    cl_error err;
    cl_error_clear(&err);
    int bad = cl_tag_config_foreign_field(o->cfg.backend ? o->cfg.backend : "crf", named,
                                          NFIELDS, &err);
    if (bad < 0)
        return false;
    fprintf(stderr, "clinner %s: %s%s\n", cmd, option[bad], err.msg + strlen(named[bad]));
    return true;
}

void cli_session_error(const char *cmd, const char *msg)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        size_t n = strlen(fields[i][1]);
        if (fields[i][0] && !strncmp(msg, fields[i][1], n) && msg[n] == ':') {
            fprintf(stderr, "clinner %s: %s%s\n", cmd, fields[i][0], msg + n);
            return;
        }
    }
    fprintf(stderr, "clinner %s: %s\n", cmd, msg);
}
