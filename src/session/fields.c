/*
 * fields.c - which tagging-config fields each backend uses (session.h), so
 * that a front end can refuse an option that would change nothing.
 *
 * Fields not listed here (backend, model, tokenizer, threads, log, ...)
 * mean something to every backend.
 */
#include <string.h>

#include "clinner/session.h"
#include "clinner/util.h"

/* The fields only some backends use, in the order they are looked at. */
static const struct {
    const char *backends; /* the backend, or "llm": llama and openai */
    const char *whose;    /* for messages */
    const char *fields[13];
} scopes[] = {
    {"crf", "the crf backend", {"dense", NULL}},
    {"llama", "the llama backend",
     {"ctx_tokens", "chat_template", "speculate", "embed_model", "verbose", NULL}},
    {"openai", "the openai backend", {"api_base", "api_key_env", "retries", "timeout_s", NULL}},
    {"llm", "the LLM backends (llama, openai)",
     {"strategy", "decode", "kb_dir", "train_dir", "shots", "parallel", "max_tokens", "seed",
      "rag_k", "temperature", "cache_dir", "answers_path", NULL}},
};
#define NSCOPES (sizeof scopes / sizeof scopes[0])

static bool scope_has(const char *scope, const char *backend)
{
    if (!strcmp(scope, "llm"))
        return !strcmp(backend, "llama") || !strcmp(backend, "openai");
    return !strcmp(scope, backend);
}

bool cl_tag_config_field_applies(const char *backend, const char *field)
{
    for (size_t i = 0; i < NSCOPES; i++)
        for (size_t k = 0; scopes[i].fields[k]; k++)
            if (!strcmp(scopes[i].fields[k], field))
                return scope_has(scopes[i].backends, backend);
    return true;
}

/* The index of field in given[0..n), or -1. */
static int find(const char *const *given, size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++)
        if (given[i] && !strcmp(given[i], field))
            return (int)i;
    return -1;
}

int cl_tag_config_foreign_field(const char *backend, const char *const *given, size_t n,
                                cl_error *err)
{
    for (size_t i = 0; i < NSCOPES; i++) {
        const char *scope = scopes[i].backends;
        for (size_t k = 0; scopes[i].fields[k] && !scope_has(scope, backend); k++) {
            const char *field = scopes[i].fields[k];
            int at = find(given, n, field);
            if (at < 0)
                continue;
            if (!strcmp(scope, "llama")) /* a prompt option: why the backend has none */
                cl_error_set(err, CL_ERR_ARG, "%s is for %s (the %s backend %s)", field,
                             scopes[i].whose, backend,
                             strcmp(backend, "openai") ? "has no prompts"
                                                       : "leaves it to the server");
            else
                cl_error_set(err, CL_ERR_ARG, "%s is for %s, not %s", field, scopes[i].whose,
                             backend);
            return at;
        }
    }
    return -1;
}
