/*
 * cli_session.c - the tagging-session options of `clinner tag` and `clinner
 * serve` (cli_session.h).
 */
#include <limits.h>
#include <string.h>

#include "cli/cli_session.h"
#include "clinner/openai.h"

/* The session's options into out[0 ..); returns how many. */
static size_t session_options(cli_session_opts *o, const char *key_env_option, cli_opt *out)
{
    cl_tag_config *c = &o->cfg;
    const cli_opt t[] = {
        CLI_FIELD("--backend", CLI_OPT_STR, c, backend),
        CLI_FIELD("--model", CLI_OPT_STR, c, model), CLI_FIELD("--dense", CLI_OPT_STR, c, dense),
        CLI_FIELD("--tokenizer", CLI_OPT_STR, c, tokenizer),
        CLI_FIELD("--strategy", CLI_OPT_STR, c, strategy),
        CLI_FIELD("--decode", CLI_OPT_STR, c, decode),
        CLI_FIELD("--speculate", CLI_OPT_STR, c, speculate),
        CLI_FIELD("--kb", CLI_OPT_STR, c, kb_dir), CLI_FIELD("--train", CLI_OPT_STR, c, train_dir),
        CLI_FIELD("--api-base", CLI_OPT_STR, c, api_base),
        CLI_FIELD(key_env_option, CLI_OPT_STR, c, api_key_env),
        CLI_FIELD("--cache-dir", CLI_OPT_STR, c, cache_dir),
        CLI_FIELD("--embed-model", CLI_OPT_STR, c, embed_model),
        CLI_FIELD("--chat-template", CLI_OPT_STR, c, chat_template),
        CLI_FIELD("--verbose", CLI_OPT_SET, c, verbose),
        CLI_FIELD_INT("--shots", CLI_OPT_INT32, c, shots, 1, 1000),
        CLI_FIELD_INT("--parallel", CLI_OPT_INT32, c, parallel, 1, 256),
        CLI_FIELD_INT("--max-tokens", CLI_OPT_INT32, c, max_tokens, 0, 1000000),
        CLI_FIELD_INT("--seed", CLI_OPT_LONG, o, seed, 0, LONG_MAX),
        CLI_FIELD_INT("--retries", CLI_OPT_INT32, c, retries, 0, 100),
        CLI_FIELD_INT("--rag-k", CLI_OPT_INT32, c, rag_k, 1, 100),
        CLI_FIELD_INT("--ctx", CLI_OPT_INT32, c, ctx_tokens, 64, 1 << 20),
        {.name = "--temp", .kind = CLI_OPT_DOUBLE, .dst = &c->temperature, .field = "temperature"},
        {.name = "--timeout", .kind = CLI_OPT_DOUBLE, .dst = &c->timeout_s, .dmin = 0.001,
         .field = "timeout_s"},
    };
    memcpy(out, t, sizeof t);
    return CLI_NOPTS(t);
}

/* The help page's ${key}s: the key option's name, openai's default server,
 * and the backends this build lacks. */
static void help_vars(char *vars, size_t size, const char *key_env_option)
{
    int n = snprintf(vars, size, "key_env_option=%s\nopenai_api_base=%s\nunavailable=",
                     key_env_option, CL_OPENAI_DEFAULT_API_BASE);
    for (int32_t i = 0; cl_tag_backend_name(i) && n > 0 && (size_t)n < size; i++)
        if (!cl_tag_backend_available(cl_tag_backend_name(i)))
            n += snprintf(vars + n, size - (size_t)n, " (%s is not available in this build)",
                          cl_tag_backend_name(i));
}

/* Options given that mean nothing to the backend (the library's
 * cl_tag_config_foreign_field says which): prints why and returns true. */
static bool refuse_foreign(const char *cmd, const cli_session_opts *o)
{
    const char *named[CLI_MAX_OPTS];
    for (size_t k = 0; k < o->nopts; k++)
        named[k] = o->given[k] ? o->opts[k].field : NULL;
    cl_error err = CL_ERROR_INIT;
    int bad = cl_tag_config_foreign_field(o->cfg.backend ? o->cfg.backend : "crf", named,
                                          o->nopts, &err);
    if (bad < 0)
        return false;
    fprintf(stderr, "clinner %s: %s%s\n", cmd, o->opts[bad].name, err.msg + strlen(named[bad]));
    return true;
}

int cli_session_parse(cli_session_opts *o, const char *cmd, const char *page,
                      const char *key_env_option, const cli_opt *own, size_t nown,
                      const char **input, int argc, char **argv)
{
    o->cfg = cl_tag_config_default();
    o->cfg.strategy = NULL; /* the session's default; NULL also tells "not given" */
    o->seed = -1;
    memcpy(o->opts, own, nown * sizeof *own);
    o->nopts = nown + session_options(o, key_env_option, o->opts + nown);
    char vars[512];
    help_vars(vars, sizeof vars, key_env_option);
    cli_args a = {.cmd = cmd, .page = page, .vars = vars, .opts = o->opts, .nopts = o->nopts,
                  .positional = input, .max_positional = input ? 1 : 0, .given = o->given};
    int done = cli_parse(&a, argc, argv, 1);
    if (done < 0 && refuse_foreign(cmd, o))
        return 2;
    o->cfg.seed = o->seed;
    o->cfg.threads = (int32_t)o->threads;
    return done;
}

void cli_session_error(const cli_session_opts *o, const char *cmd, const char *msg)
{
    for (size_t i = 0; i < o->nopts; i++) {
        const char *f = o->opts[i].field;
        size_t n = f ? strlen(f) : 0;
        if (f && !strncmp(msg, f, n) && msg[n] == ':') {
            fprintf(stderr, "clinner %s: %s%s\n", cmd, o->opts[i].name, msg + n);
            return;
        }
    }
    fprintf(stderr, "clinner %s: %s\n", cmd, msg);
}
