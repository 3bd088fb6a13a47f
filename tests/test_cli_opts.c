/* test_cli_opts.c - the commands' option parser: every kind of option in
 * both spellings, positional arguments, and each error it must report
 * (with the message checked on a captured stderr). */
#include "testutil.h"

#include <unistd.h>

#include "clinner/util.h"
#include "cli/cli_opts.h"
#include "clinner/progress.h"

typedef struct values {
    bool on, off;
    const char *str, *out;
    long n;
    int i;
    int32_t i32;
    uint32_t u32;
    uint64_t u64;
    double x;
    cl_progress_mode mode;
    const char *pos[3];
} values;

static size_t table(values *v, cli_opt *opts)
{
    const cli_opt t[] = {
        CLI_FLAG("--on", &v->on),
        CLI_NOFLAG("--no-off", &v->off),
        CLI_STRING("--str", &v->str),
        CLI_STRING2("--output", "-o", &v->out),
        CLI_INTEGER("--n", CLI_OPT_LONG, &v->n, -5, 5),
        CLI_INTEGER("--n-int", CLI_OPT_INT, &v->i, 0, 100),
        CLI_INTEGER("--i32", CLI_OPT_INT32, &v->i32, 0, 100),
        CLI_INTEGER("--u32", CLI_OPT_UINT32, &v->u32, 0, 4294967295L),
        CLI_INTEGER("--u64", CLI_OPT_UINT64, &v->u64, 0, 2147483647L),
        CLI_NUMBER("--x", &v->x, 0.5),
        CLI_PARSER("--progress", &v->mode, cli_opt_progress),
    };
    memcpy(opts, t, sizeof t);
    return sizeof t / sizeof t[0];
}

/* Parse argv (NULL-terminated) with at most maxpos positionals; stderr goes
 * to errbuf. */
static cli_parse_result parse(values *v, int maxpos, char **argv, char *errbuf, size_t n)
{
    memset(v, 0, sizeof *v);
    v->off = true;
    cli_opt opts[16];
    cli_args a = {.cmd = "test", .page = "test", .opts = opts,
                  .nopts = table(v, opts), .positional = v->pos, .max_positional = maxpos};
    int argc = 0;
    while (argv[argc])
        argc++;
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), 2);
    cli_parse_result r = cli_opts_parse(&a, argc, argv, 1);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t got = fread(errbuf, 1, n - 1, tmp);
    errbuf[got] = '\0';
    fclose(tmp);
    if (r == CLI_PARSED)
        assert_int_equal(a.npositional, (v->pos[0] != NULL) + (v->pos[1] != NULL) +
                                            (v->pos[2] != NULL));
    return r;
}

static void test_every_kind(void **state)
{
    (void)state;
    values v;
    char err[512];
    char *argv[] = {"test", "--on", "--no-off", "--str", "a b", "-o", "out.txt", "--n=-5",
                    "--n-int", "100", "--i32=7", "--u32", "4294967295", "--u64", "12",
                    "--x=0.75", "--progress", "lines", "IN", "-", NULL};
    assert_int_equal(parse(&v, 3, argv, err, sizeof err), CLI_PARSED);
    assert_string_equal(err, "");
    assert_true(v.on);
    assert_false(v.off);
    assert_string_equal(v.str, "a b");
    assert_string_equal(v.out, "out.txt");
    assert_int_equal(v.n, -5);
    assert_int_equal(v.i, 100);
    assert_int_equal(v.i32, 7);
    assert_true(v.u32 == 4294967295u);
    assert_true(v.u64 == 12);
    assert_true(v.x == 0.75);
    assert_int_equal(v.mode, CL_PROGRESS_LINES);
    assert_string_equal(v.pos[0], "IN");
    assert_string_equal(v.pos[1], "-");

    /* the long name with '=' and the alias; a value may start with '-' */
    char *argv2[] = {"test", "--output=x.jsonl", "--str", "-", "--n", "-1", NULL};
    assert_int_equal(parse(&v, 0, argv2, err, sizeof err), CLI_PARSED);
    assert_string_equal(v.out, "x.jsonl");
    assert_string_equal(v.str, "-");
    assert_int_equal(v.n, -1);
    assert_true(v.off); /* untouched */
}

static void test_errors(void **state)
{
    (void)state;
    values v;
    char err[512];
    struct {
        char *argv[5];
        int maxpos;
        const char *message;
    } cases[] = {
        {{"test", "--str", NULL}, 0, "clinner test: --str needs a value\n"},
        {{"test", "--n", "6", NULL}, 0,
         "clinner test: --n: expected an integer in -5..5, got '6'\n"},
        {{"test", "--i32", "1x", NULL}, 0,
         "clinner test: --i32: expected an integer in 0..100, got '1x'\n"},
        {{"test", "--x", "0.25", NULL}, 0,
         "clinner test: --x: expected a number >= 0.5, got '0.25'\n"},
        {{"test", "--x=nan", NULL}, 0, "clinner test: --x: expected a number >= 0.5, got 'nan'\n"},
        {{"test", "--progress", "fast", NULL}, 0,
         "clinner test: --progress: expected auto, tty, lines or off, got 'fast'\n"},
        {{"test", "--nope", NULL}, 0, "clinner test: unknown option '--nope' (see --help)\n"},
        {{"test", "--strx", "1", NULL}, 0, "clinner test: unknown option '--strx' (see --help)\n"},
        {{"test", "--on=1", NULL}, 0, "clinner test: --on takes no value\n"},
        {{"test", "IN", NULL}, 0, "clinner test: unexpected argument 'IN' (see --help)\n"},
        {{"test", "A", "B", NULL}, 1, "clinner test: one INPUT only ('A' and 'B')\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        assert_int_equal(parse(&v, cases[k].maxpos, cases[k].argv, err, sizeof err), CLI_BAD);
        assert_string_equal(err, cases[k].message);
    }
    /* a bad value leaves the destination as it was */
    char *argv[] = {"test", "--n", "3", "--n", "9", NULL};
    assert_int_equal(parse(&v, 0, argv, err, sizeof err), CLI_BAD);
    assert_int_equal(v.n, 3);
}

static void test_help(void **state)
{
    (void)state;
    values v;
    char err[64];
    /* -h stops the parse where it stands: what follows is not read */
    char *argv[] = {"test", "--str", "x", "-h", "--nope", NULL};
    assert_int_equal(parse(&v, 0, argv, err, sizeof err), CLI_HELP);
    char *argv2[] = {"test", "--help", NULL};
    assert_int_equal(parse(&v, 0, argv2, err, sizeof err), CLI_HELP);
    assert_string_equal(err, "");
}

/* The busy-CPU check behind `clinner tag`'s --threads advice. */
/* which options the line held: by the option, whatever its spelling, and
 * not by a value that looks like an option */
static void test_given(void **state)
{
    (void)state;
    values v;
    memset(&v, 0, sizeof v);
    cli_opt opts[16];
    size_t n = table(&v, opts);
    bool given[16];
    char *argv[] = {"test", "-o", "x", "--str", "--on", "--n=2", NULL};
    cli_args a = {.cmd = "test", .opts = opts, .nopts = n, .given = given};
    assert_int_equal(cli_parse(&a, 6, argv, 1), -1);
    assert_string_equal(v.str, "--on");
    assert_false(v.on);
    const char *const out_first[] = {"--on", "--output", "--n", NULL};
    assert_string_equal(cli_first_given(opts, given, n, out_first), "--output");
    const char *const n_only[] = {"--on", "--x", "--n", NULL};
    assert_string_equal(cli_first_given(opts, given, n, n_only), "--n");
    const char *const none[] = {"--on", "--x", "--progress", NULL};
    assert_null(cli_first_given(opts, given, n, none));
}

/* required options and positionals: missing ones are named; present ones
 * (in either spelling) pass */
static void test_required(void **state)
{
    (void)state;
    const char *in = NULL, *out = NULL, *model = NULL, *pos[2];
    const cli_opt opts[] = {CLI_REQUIRED("--model", &model), CLI_OUTPUT_REQUIRED(&out),
                            CLI_STRING("--in", &in)};
    cli_args a = {.cmd = "test", .opts = opts, .nopts = CLI_NOPTS(opts), .positional = pos,
                  .max_positional = 2, .required_positional = "INPUT"};
    char *ok[] = {"test", "--model=m", "-o", "x", "IN", NULL};
    assert_int_equal(cli_opts_parse(&a, 5, ok, 1), CLI_PARSED);
    assert_string_equal(model, "m");
    assert_int_equal(a.npositional, 1);
    struct {
        char *argv[6];
        const char *message;
    } cases[] = {
        {{"test", "-o", "x", "IN", NULL}, "clinner test: --model is required (see --help)\n"},
        {{"test", "--model", "m", "IN", NULL}, "clinner test: --output is required (see --help)\n"},
        {{"test", "--model", "m", "--output=x", NULL},
         "clinner test: INPUT is required (see --help)\n"},
        {{"test", "--model", "m", "-o", "x", "A"}, NULL}, /* argc 6: passes */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int argc = 0;
        while (argc < 6 && cases[k].argv[argc])
            argc++;
        char err[256];
        fflush(stderr);
        int saved = dup(2);
        FILE *tmp = tmpfile();
        assert_non_null(tmp);
        dup2(fileno(tmp), 2);
        cli_parse_result r = cli_opts_parse(&a, argc, cases[k].argv, 1);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        rewind(tmp);
        err[fread(err, 1, sizeof err - 1, tmp)] = '\0';
        fclose(tmp);
        assert_int_equal(r, cases[k].message ? CLI_BAD : CLI_PARSED);
        assert_string_equal(err, cases[k].message ? cases[k].message : "");
    }
    /* --help needs none of them */
    char *help[] = {"test", "--help", NULL};
    assert_int_equal(cli_parse(&a, 2, help, 1), 0);
}

static void test_threads_oversubscribed(void **state)
{
    (void)state;
    assert_false(cl_threads_oversubscribed(0.1, 2, 0)); /* idle: all cores */
    assert_false(cl_threads_oversubscribed(0.4, 2, 2));
    assert_true(cl_threads_oversubscribed(2.0, 2, 0)); /* two busy cores */
    assert_true(cl_threads_oversubscribed(1.0, 2, 2));
    assert_false(cl_threads_oversubscribed(1.0, 2, 1)); /* one thread never spins */
    assert_false(cl_threads_oversubscribed(8.0, 16, 4));
    assert_true(cl_threads_oversubscribed(13.0, 16, 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_given),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_threads_oversubscribed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
