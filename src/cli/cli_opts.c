/*
 * cli_opts.c - the table-driven option parser (cli_opts.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/help.h"

cl_status cli_parse_int(const char *opt, const char *s, long min, long max, long *out,
                        cl_error *err)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > max)
        return cl_error_set(err, CL_ERR_ARG, "%s: expected an integer in %ld..%ld, got '%s'",
                            opt, min, max, s ? s : "");
    *out = v;
    return CL_OK;
}

cl_status cli_parse_double(const char *opt, const char *s, double min, double *out,
                           cl_error *err)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < min)
        return cl_error_set(err, CL_ERR_ARG, "%s: expected a number >= %g, got '%s'", opt, min,
                            s ? s : "");
    *out = v;
    return CL_OK;
}
void cli_log(void *ctx, const char *msg)
{
    const cli_logger *l = ctx;
    cl_progress_message(l->bar, "clinner %s: %s", l->cmd, msg);
}

cl_status cli_opt_progress(const char *name, const char *value, void *dst, cl_error *err)
{
    if (cl_progress_mode_from_name(value, (cl_progress_mode *)dst, err) != CL_OK)
        return cl_error_prefix(err, "%s: ", name);
    return CL_OK;
}

/* The table entry argument a names, and where its inline value starts
 * ("--opt=VALUE"), else NULL. */
static const cli_opt *find(const cli_args *a, const char *arg, const char **inline_value)
{
    for (size_t k = 0; k < a->nopts; k++) {
        const char *names[2] = {a->opts[k].name, a->opts[k].alias};
        for (int j = 0; j < 2; j++) {
            if (!names[j])
                continue;
            size_t n = strlen(names[j]);
            if (strncmp(arg, names[j], n) != 0)
                continue;
            if (arg[n] == '\0') {
                *inline_value = NULL;
                return &a->opts[k];
            }
            if (arg[n] == '=') {
                *inline_value = arg + n + 1;
                return &a->opts[k];
            }
        }
    }
    return NULL;
}

static cl_status store(const cli_opt *o, const char *v, cl_error *err)
{
    long n = 0;
    cl_status st = CL_OK;
    switch (o->kind) {
    case CLI_OPT_STR:
        *(const char **)o->dst = v;
        break;
    case CLI_OPT_DOUBLE:
        st = cli_parse_double(o->name, v, o->dmin, (double *)o->dst, err);
        break;
    case CLI_OPT_PARSE:
        st = o->parse(o->name, v, o->dst, err);
        break;
    case CLI_OPT_LONG:
    case CLI_OPT_INT:
    case CLI_OPT_INT32:
    case CLI_OPT_UINT32:
    case CLI_OPT_UINT64:
        st = cli_parse_int(o->name, v, o->min, o->max, &n, err);
        if (st != CL_OK)
            break;
        if (o->kind == CLI_OPT_LONG)
            *(long *)o->dst = n;
        else if (o->kind == CLI_OPT_INT)
            *(int *)o->dst = (int)n;
        else if (o->kind == CLI_OPT_INT32)
            *(int32_t *)o->dst = (int32_t)n;
        else if (o->kind == CLI_OPT_UINT32)
            *(uint32_t *)o->dst = (uint32_t)n;
        else
            *(uint64_t *)o->dst = (uint64_t)n;
        break;
    case CLI_OPT_SET:
    case CLI_OPT_CLEAR:
        break; /* flags are stored by the caller */
    }
    return st;
}

cli_parse_result cli_opts_parse(cli_args *a, int argc, char **argv, int first)
{
    cl_error err = CL_ERROR_INIT;
    bool seen[CLI_MAX_OPTS] = {false}; /* for the required options; given may be NULL */
    if (a->nopts > CLI_MAX_OPTS) {
        cli_fail(a->cmd, 2, "more options than CLI_MAX_OPTS");
        return CLI_BAD;
    }
    a->npositional = 0;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            cli_help(stdout, a->page, a->vars);
            return CLI_HELP;
        }
        if (arg[0] != '-' || !strcmp(arg, "-")) {
            if (a->npositional >= a->max_positional) {
                if (a->max_positional == 0)
                    fprintf(stderr, "clinner %s: unexpected argument '%s' (see --help)\n",
                            a->cmd, arg);
                else if (a->max_positional == 1)
                    fprintf(stderr, "clinner %s: one INPUT only ('%s' and '%s')\n", a->cmd,
                            a->positional[0], arg);
                else
                    fprintf(stderr, "clinner %s: at most %d arguments\n", a->cmd,
                            a->max_positional);
                return CLI_BAD;
            }
            a->positional[a->npositional++] = arg;
            continue;
        }
        const char *v = NULL;
        const cli_opt *o = find(a, arg, &v);
        if (!o) {
            fprintf(stderr, "clinner %s: unknown option '%s' (see --help)\n", a->cmd, arg);
            return CLI_BAD;
        }
        seen[o - a->opts] = true;
        if (o->kind == CLI_OPT_SET || o->kind == CLI_OPT_CLEAR) {
            if (v) {
                fprintf(stderr, "clinner %s: %s takes no value\n", a->cmd, o->name);
                return CLI_BAD;
            }
            *(bool *)o->dst = o->kind == CLI_OPT_SET;
            continue;
        }
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clinner %s: %s needs a value\n", a->cmd, o->name);
                return CLI_BAD;
            }
            v = argv[++i];
        }
        if (store(o, v, &err) != CL_OK) {
            fprintf(stderr, "clinner %s: %s\n", a->cmd, err.msg);
            return CLI_BAD;
        }
    }
    if (a->given)
        memcpy(a->given, seen, a->nopts * sizeof *seen);
    for (size_t k = 0; k < a->nopts; k++)
        if (a->opts[k].required && !seen[k]) {
            fprintf(stderr, "clinner %s: %s is required (see --help)\n", a->cmd, a->opts[k].name);
            return CLI_BAD;
        }
    if (a->required_positional && a->npositional == 0) {
        fprintf(stderr, "clinner %s: %s is required (see --help)\n", a->cmd,
                a->required_positional);
        return CLI_BAD;
    }
    return CLI_PARSED;
}

int cli_parse(cli_args *a, int argc, char **argv, int first)
{
    cli_parse_result r = cli_opts_parse(a, argc, argv, first);
    return r == CLI_PARSED ? -1 : r == CLI_HELP ? 0 : 2;
}

int cli_fail(const char *cmd, int status, const char *msg)
{
    fprintf(stderr, "clinner %s: %s\n", cmd, msg);
    return status;
}

const char *cli_first_given(const cli_opt *opts, const bool *given, size_t nopts,
                            const char *const *names)
{
    for (size_t k = 0; names[k]; k++)
        for (size_t i = 0; i < nopts; i++)
            if (given[i] && !strcmp(opts[i].name, names[k]))
                return names[k];
    return NULL;
}
