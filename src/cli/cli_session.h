/*
 * cli_session.h - the options that make a tagging session (session.h),
 * shared by the commands that open one (tag, serve): one table, one help
 * text, one translation of the library's field names back to options.
 */
#ifndef CLINNER_CLI_SESSION_H
#define CLINNER_CLI_SESSION_H

#include "cli/cli_opts.h"
#include "clinner/session.h"

/* An option that sets a field of the library's config (or job, or server):
 * .field holds that field's name, so the library's messages about it can
 * be shown with the option's name. */
#define CLI_FIELD(n, k, s, f) {.name = (n), .kind = (k), .dst = &(s)->f, .field = #f}
#define CLI_FIELD_INT(n, k, s, f, lo, hi) \
    {.name = (n), .kind = (k), .dst = &(s)->f, .field = #f, .min = (lo), .max = (hi)}

typedef struct cli_session_opts {
    cl_tag_config cfg;
    long seed, threads;
    cli_opt opts[CLI_MAX_OPTS]; /* the command's own options, then the session's */
    bool given[CLI_MAX_OPTS];
    size_t nopts;
} cli_session_opts;

/* Parse a command that opens a session: its own options (own[0..nown),
 * borrowed) and the session's (--api-key-env spelled key_env_option: serve
 * uses that name for its own key), with the help page `page` whose
 * ${session-options} lists the latter.  Options that mean nothing to the
 * chosen backend are refused.  cfg starts at the library's defaults
 * (strategy NULL: the backend's own) and holds the parsed values after.
 * Returns -1 to go on, else the command's exit status. */
int cli_session_parse(cli_session_opts *o, const char *cmd, const char *page,
                      const char *key_env_option, const cli_opt *own, size_t nown,
                      const char **input, int argc, char **argv);
/* Print "clinner CMD: MSG", a leading field name ("decode: ...") shown as
 * its option ("--decode: ..."). */
void cli_session_error(const cli_session_opts *o, const char *cmd, const char *msg);

#endif
