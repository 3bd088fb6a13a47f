/*
 * testutil.h - shared helpers for the cmocka unit tests.
 */
#ifndef CLINNER_TESTUTIL_H
#define CLINNER_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* Directory holding data/raredis and data/paper ($CLINNER_SHARED, else
 * ../shared beside the repository). */
static inline const char *test_shared_dir(void)
{
    const char *s = getenv("CLINNER_SHARED");
    return s && *s ? s : "../shared";
}

/* Path under the shared directory, or NULL (and a skip message) when it is
 * absent: tests that need the corpus call skip() then. */
static inline const char *test_shared_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", test_shared_dir(), rel);
    struct stat st;
    if (stat(buf, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (set CLINNER_SHARED to the shared data folder)\n", buf);
        return NULL;
    }
    return buf;
}

#define REQUIRE_SHARED(var, rel)                                     \
    char var##_buf[4096];                                            \
    const char *var = test_shared_path(var##_buf, sizeof var##_buf, rel); \
    if (!var)                                                        \
        skip()

/* A test file's scratch folder: defines `tmpdir` and the group set-up and
 * tear-down make_tmpdir / remove_tmpdir, which create
 * /tmp/clinner-test-NAME-XXXXXX and remove it with all it holds. */
#define TEST_SCRATCH_DIR(name)                                                      \
    static char tmpdir[256];                                                        \
    static int make_tmpdir(void **state)                                            \
    {                                                                               \
        (void)state;                                                                \
        snprintf(tmpdir, sizeof tmpdir, "/tmp/clinner-test-" name "-XXXXXX");       \
        return mkdtemp(tmpdir) ? 0 : -1;                                            \
    }                                                                               \
    static int remove_tmpdir(void **state)                                          \
    {                                                                               \
        (void)state;                                                                \
        char cmd[512];                                                              \
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);                           \
        return system(cmd) == 0 ? 0 : -1;                                           \
    }

/* Whether a file of the repository (a shipped model) is there; else a skip
 * message (the tests run from the repository root). */
static inline bool test_have_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return true;
    fprintf(stderr, "SKIP: %s not found (run from the repository root)\n", path);
    return false;
}

/* The whole program of a test whose subject is not in this build (the
 * encoder without ggml, ...): one test, skipped with the reason. */
#define TEST_MAIN_NOT_BUILT(why)                                                   \
    static void test_not_built(void **state)                                       \
    {                                                                              \
        (void)state;                                                               \
        fprintf(stderr, "SKIP: %s\n", why);                                        \
        skip();                                                                    \
    }                                                                              \
    int main(void)                                                                 \
    {                                                                              \
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_not_built)};      \
        return cmocka_run_group_tests(tests, NULL, NULL);                          \
    }

#endif
