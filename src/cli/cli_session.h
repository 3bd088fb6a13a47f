/*
 * cli_session.h - the options that make a tagging session (session.h),
 * shared by the commands that open one (tag, serve): one table, one help
 * text, one translation of the library's field names back to options.
 */
#ifndef CLINNER_CLI_SESSION_H
#define CLINNER_CLI_SESSION_H

#include <stdio.h>

#include "cli/cli_opts.h"
#include "clinner/session.h"

typedef struct cli_session_opts {
    cl_tag_config cfg;
    long seed, threads;
    const char *key_env_option; /* set by cli_session_options */
} cli_session_opts;

/* Defaults: the library's, strategy left NULL (the backend decides). */
void cli_session_init(cli_session_opts *o);
/* The session's options into out[0 ..): returns how many (<= CLI_SESSION_NOPTS).
 * --api-key-env is the command's to name (serve uses it for its own key). */
#define CLI_SESSION_NOPTS 24
size_t cli_session_options(cli_session_opts *o, const char *key_env_option, cli_opt *out);
/* Copy the parsed numbers into cfg. */
void cli_session_finish(cli_session_opts *o);
/* Help page `page` (docs/cli/), whose ${session-options} are these options
 * (key_env_option as above; backends this build lacks are named). */
void cli_session_help(FILE *fp, const char *page, const char *key_env_option);
/* Options given that mean nothing to the backend (cl_tag_config_foreign_field
 * says which): prints why and returns true. */
bool cli_session_refuse_foreign(const char *cmd, const cli_session_opts *o, const cli_opt *opts,
                                const bool *given, size_t nopts);
/* Print "clinner CMD: MSG", a leading config field ("decode: ...") shown as
 * its option ("--decode: ..."). */
void cli_session_error(const char *cmd, const char *msg);

#endif
