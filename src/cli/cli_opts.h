/*
 * cli_opts.h - the one option parser of every command: a command lists its
 * options in a table (name, where the value goes, how it is checked) and
 * cli_opts_parse walks argv, so that all commands take `--opt VALUE` and
 * `--opt=VALUE` alike and report a missing value, a bad number, an unknown
 * option or a stray argument in the same words.
 */
#ifndef CLINNER_CLI_OPTS_H
#define CLINNER_CLI_OPTS_H

#include <stdio.h>

#include "clinner/common.h"
#include "clinner/progress.h"

typedef enum cli_opt_kind {
    CLI_OPT_SET,    /* flag, no value: *(bool *)dst = true */
    CLI_OPT_CLEAR,  /* flag, no value: *(bool *)dst = false */
    CLI_OPT_STR,    /* *(const char **)dst = the value (argv's own string) */
    CLI_OPT_LONG,   /* *(long *)dst, an integer in [min, max] */
    CLI_OPT_INT,    /* *(int *)dst, in [min, max] */
    CLI_OPT_INT32,  /* *(int32_t *)dst, in [min, max] */
    CLI_OPT_UINT32, /* *(uint32_t *)dst, in [min, max] (min >= 0) */
    CLI_OPT_UINT64, /* *(uint64_t *)dst, in [min, max] (min >= 0) */
    CLI_OPT_DOUBLE, /* *(double *)dst, a finite number >= dmin */
    CLI_OPT_PARSE,  /* parse(name, value, dst, err) */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name;  /* "--ctx" */
    const char *alias; /* another spelling ("-o"), or NULL */
    cli_opt_kind kind;
    void *dst;
    long min, max; /* integer kinds */
    double dmin;   /* CLI_OPT_DOUBLE */
    cl_status (*parse)(const char *name, const char *value, void *dst, cl_error *err);
    const char *field; /* the library's name for what it sets (cli_session.c), or NULL */
    bool required;     /* the command cannot run without it */
} cli_opt;

/* Entries in a table t, at most CLI_MAX_OPTS. */
#define CLI_MAX_OPTS 64
#define CLI_NOPTS(t) (sizeof(t) / sizeof((t)[0]))

/* Table entries (designated, so unused fields are zero). */
#define CLI_FLAG(n, d) {.name = (n), .kind = CLI_OPT_SET, .dst = (d)}
#define CLI_NOFLAG(n, d) {.name = (n), .kind = CLI_OPT_CLEAR, .dst = (d)}
#define CLI_STRING(n, d) {.name = (n), .kind = CLI_OPT_STR, .dst = (d)}
#define CLI_STRING2(n, a, d) {.name = (n), .alias = (a), .kind = CLI_OPT_STR, .dst = (d)}
#define CLI_REQUIRED(n, d) {.name = (n), .kind = CLI_OPT_STR, .dst = (d), .required = true}
#define CLI_OUTPUT_REQUIRED(d) \
    {.name = "--output", .alias = "-o", .kind = CLI_OPT_STR, .dst = (d), .required = true}
#define CLI_INTEGER(n, k, d, lo, hi) \
    {.name = (n), .kind = (k), .dst = (d), .min = (lo), .max = (hi)}
#define CLI_NUMBER(n, d, lo) {.name = (n), .kind = CLI_OPT_DOUBLE, .dst = (d), .dmin = (lo)}
#define CLI_PARSER(n, d, f) {.name = (n), .kind = CLI_OPT_PARSE, .dst = (d), .parse = (f)}

/* Define fn, a CLI_OPT_PARSE parser over a library's name lookup
 * `cl_status from_name(const char *value, T *out, cl_error *err)`, whose
 * message (it names the parameter) is printed as it is. */
#define CLI_NAME_PARSER(fn, from_name, T)                                                  \
    static cl_status fn(const char *name, const char *value, void *dst, cl_error *err)   \
    {                                                                                      \
        (void)name;                                                                        \
        return from_name(value, (T *)dst, err);                                            \
    }

/* Parse an integer / a double option value; CL_ERR_ARG names the option. */
cl_status cli_parse_int(const char *opt, const char *s, long min, long max, long *out,
                        cl_error *err);
cl_status cli_parse_double(const char *opt, const char *s, double min, double *out,
                           cl_error *err);

typedef enum cli_parse_result {
    CLI_PARSED = 0, /* go on */
    CLI_HELP,       /* -h/--help: usage printed on stdout; the command exits 0 */
    CLI_BAD,        /* a message was printed on stderr; the command exits 2 */
} cli_parse_result;

typedef struct cli_args {
    const char *cmd;           /* "tag": messages read "clinner tag: ..." */
    const char *page;          /* the --help page (docs/cli/PAGE.txt; help.h) */
    const char *vars;          /* its ${key} values ("key=value" lines), or NULL */
    const cli_opt *opts;
    size_t nopts;
    const char **positional;   /* where arguments that are not options go ("-" is one) */
    int max_positional;        /* 0: none allowed */
    const char *required_positional; /* "INPUT": at least one is needed; NULL: none */
    bool *given;               /* NULL, or nopts flags: set for each option on the line */
    int npositional;           /* out */
} cli_args;

/* Parse argv[first..argc) against a->opts, then check that the required
 * options and positionals are there. */
cli_parse_result cli_opts_parse(cli_args *a, int argc, char **argv, int first);

/* The same as an exit status: -1 to go on, else the command's (0 after
 * --help, 2 after an error, printed). */
int cli_parse(cli_args *a, int argc, char **argv, int first);

/* The first of names (NULL-terminated) that is given, or NULL. */
const char *cli_first_given(const cli_opt *opts, const bool *given, size_t nopts,
                            const char *const *names);

/* "clinner CMD: MSG" on stderr (the one shape of every command's errors);
 * returns status. */
int cli_fail(const char *cmd, int status, const char *msg);

/* A cl_log_fn for the commands (ctx: a cli_logger): "clinner CMD: MSG" on
 * stderr, above the progress bar when there is one. */
typedef struct cli_logger {
    const char *cmd;
    cl_progress *bar; /* NULL: none (yet) */
} cli_logger;
void cli_log(void *ctx, const char *msg);

/* A CLI_OPT_PARSE parser for --progress: dst is a cl_progress_mode. */
cl_status cli_opt_progress(const char *name, const char *value, void *dst, cl_error *err);

#endif
