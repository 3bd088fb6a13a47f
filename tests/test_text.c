/* test_text.c - UTF-8 validation, code-point/byte offsets, the document model. */
#include "testutil.h"

#include "clinner/doc.h"
#include "clinner/text.h"
#include "clinner/util.h"

static void utf8_validation_names_offset(void **state)
{
    (void)state;
    size_t bad = 0;
    assert_true(cl_utf8_valid("caf\xc3\xa9", 5, &bad));
    assert_false(cl_utf8_valid("ab\xff" "cd", 5, &bad));
    assert_int_equal(bad, 2);
    assert_false(cl_utf8_valid("x\xc0\xaf", 3, &bad)); /* overlong '/' */
    assert_int_equal(bad, 1);
    assert_false(cl_utf8_valid("\xed\xa0\x80", 3, &bad)); /* surrogate */
    assert_int_equal(bad, 0);
    assert_false(cl_utf8_valid("ok\xe2\x80", 4, &bad)); /* truncated */
    assert_int_equal(bad, 2);
}

static void offsets_round_trip(void **state)
{
    (void)state;
    /* "a" U+00A0 "é" "—" "𝛼" "z": 1,2,2,3,4,1 bytes */
    const char *s = "a\xc2\xa0\xc3\xa9\xe2\x80\x94\xf0\x9d\x9b\xbcz";
    size_t n = strlen(s);
    cl_text_index ix;
    cl_error err;
    assert_int_equal(cl_text_index_init(&ix, s, n, &err), CL_OK);
    assert_int_equal(ix.nchars, 6);
    size_t expect[] = {0, 1, 3, 5, 8, 12, 13};
    for (int32_t cp = 0; cp <= 6; cp++) {
        assert_int_equal(cl_text_cp_to_byte(&ix, cp), expect[cp]);
        assert_int_equal(cl_text_byte_to_cp(&ix, expect[cp]), cp);
    }
    assert_int_equal(cl_text_byte_to_cp(&ix, 2), -1); /* inside U+00A0 */
    assert_int_equal(cl_text_cp_to_byte(&ix, 7), SIZE_MAX);
    assert_int_equal(cl_text_cp_to_byte(&ix, -1), SIZE_MAX);
    cl_text_index_free(&ix);
}

/* Every code point and every byte of mixed texts (ASCII runs, wide code
 * points at the start, the end, side by side) against a plain scan. */
static void offsets_match_a_scan(void **state)
{
    (void)state;
    const char *texts[] = {
        "", "plain ascii", "\xc3\xa9", "\xc3\xa9t\xc3\xa9", "ab\xe2\x80\x94\xe2\x80\x94" "cd",
        "\xf0\x9d\x9b\xbc\xc2\xa0x\xe2\x80\x94", "x\xc2\xa0", "fever 38\xc2\xb0" "C, rash \xe2\x80\x93 ok.",
    };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        const char *s = texts[t];
        size_t n = strlen(s);
        cl_text_index ix;
        cl_error err;
        assert_int_equal(cl_text_index_init(&ix, s, n, &err), CL_OK);
        int32_t cp = 0;
        for (size_t b = 0; b <= n; b++) {
            bool starts = b == n || ((unsigned char)s[b] & 0xC0) != 0x80;
            if (starts) {
                assert_int_equal(cl_text_cp_to_byte(&ix, cp), b);
                assert_int_equal(cl_text_byte_to_cp(&ix, b), cp);
                cp++;
            } else {
                assert_int_equal(cl_text_byte_to_cp(&ix, b), -1);
            }
        }
        assert_int_equal(ix.nchars, cp - 1);
        assert_int_equal(cl_text_cp_to_byte(&ix, cp), SIZE_MAX);
        assert_int_equal(cl_text_byte_to_cp(&ix, n + 1), -1);
        cl_text_index_free(&ix);
    }
}

static void python_space_set(void **state)
{
    (void)state;
    assert_true(cl_uc_is_python_space(0xA0));
    assert_true(cl_uc_is_python_space(0x2009));
    assert_true(cl_uc_is_python_space(0x1F));
    assert_false(cl_uc_is_python_space(0x200B)); /* zero width space is not */
    assert_false(cl_uc_is_python_space('a'));
    assert_true(cl_uc_is_dash(0x2013));
    assert_true(cl_uc_is_punct(0x201C));
}

static void doc_rejects_bad_utf8_and_bad_offsets(void **state)
{
    (void)state;
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new("x", "ab\xfe", 3, &d, &err), CL_ERR_UTF8);
    assert_null(d);
    assert_int_equal(err.code, CL_ERR_UTF8);
    assert_non_null(strstr(err.msg, "byte offset 2"));

    assert_int_equal(cl_doc_new("x", "h\xc3\xa9llo", 6, &d, &err), CL_OK);
    cl_span ok = {1, 5}, bad = {3, 6};
    assert_int_equal(cl_doc_add_entity(d, "T1", "SIGN", &ok, 1, NULL, &err), CL_OK);
    assert_int_equal(cl_doc_add_entity(d, "T2", "SIGN", &bad, 1, NULL, &err), CL_ERR_RANGE);
    char *t = cl_doc_span_text(d, 1, 5);
    assert_string_equal(t, "\xc3\xa9llo");
    free(t);
    assert_int_equal(cl_doc_push_token(d, 0, 1, &err), CL_OK);
    assert_int_equal(cl_doc_push_token(d, 1, 5, &err), CL_OK);
    assert_int_equal(cl_doc_push_token(d, 4, 9, &err), CL_ERR_RANGE);
    assert_int_equal(cl_doc_set_tag(d, 1, "B-SIGN", &err), CL_OK);
    assert_string_equal(d->tags[0], "O");
    assert_string_equal(d->tags[1], "B-SIGN");
    cl_doc_free(d);
}

static void doc_keeps_only_chosen_types(void **state)
{
    (void)state;
    cl_error err;
    /* "fièvre et anémie, ACTH" - an ANAPHOR and a discontinuous SIGN among them */
    const char *text = "fi\xc3\xa8vre et an\xc3\xa9mie, ACTH";
    cl_doc *d;
    assert_int_equal(cl_doc_new("keep", text, strlen(text), &d, &err), CL_OK);
    cl_span fever = {0, 6}, anemia = {10, 16}, acth = {18, 22};
    cl_span disc[2] = {{0, 6}, {10, 16}};
    assert_int_equal(cl_doc_add_entity(d, "T1", "SIGN", &fever, 1, NULL, &err), CL_OK);
    assert_int_equal(cl_doc_add_entity(d, "T2", "ANAPHOR", &anemia, 1, NULL, &err), CL_OK);
    assert_int_equal(cl_doc_add_entity(d, "T3", "SIGN", disc, 2, NULL, &err), CL_OK);
    assert_int_equal(cl_doc_add_entity(d, "T4", "DISEASE", &acth, 1, NULL, &err), CL_OK);
    int32_t starts[] = {0, 7, 10, 16, 18}, ends[] = {6, 9, 16, 17, 22};
    for (int i = 0; i < 5; i++)
        assert_int_equal(cl_doc_push_token(d, starts[i], ends[i], &err), CL_OK);
    assert_int_equal(cl_doc_set_tag(d, 0, "B-SIGN", &err), CL_OK);
    assert_int_equal(cl_doc_set_tag(d, 2, "B-ANAPHOR", &err), CL_OK);
    assert_int_equal(cl_doc_set_tag(d, 4, "B-DISEASE", &err), CL_OK);
    /* one relation that loses an argument (T2, the ANAPHOR), one that keeps both */
    assert_int_equal(cl_doc_add_relation(d, "R1", "Anaphora", "Arg1:T2", "Arg2:T1", &err), CL_OK);
    assert_int_equal(cl_doc_add_relation(d, "R2", "Produces", "Arg1:T4", "Arg2:T3", &err), CL_OK);

    /* NULL keeps everything */
    assert_int_equal(cl_doc_keep_types(d, NULL, 0, &err), CL_OK);
    assert_int_equal(d->nentities, 4);
    assert_int_equal(d->nrelations, 2);
    assert_string_equal(d->tags[2], "B-ANAPHOR");

    const char *const keep[] = {"SIGN", "DISEASE"};
    assert_int_equal(cl_doc_keep_types(d, keep, 2, &err), CL_OK);
    assert_int_equal(d->nentities, 3);
    assert_string_equal(d->entities[0].id, "T1");
    assert_string_equal(d->entities[1].id, "T3"); /* order kept, fragments too */
    assert_int_equal(d->entities[1].nfrags, 2);
    assert_string_equal(d->entities[2].id, "T4");
    assert_int_equal(d->nrelations, 1); /* R1 named the removed T2 */
    assert_string_equal(d->relations[0].id, "R2");
    assert_string_equal(d->relations[0].arg1, "Arg1:T4");
    const char *want[] = {"B-SIGN", "O", "O", "O", "B-DISEASE"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(d->tags[i], want[i]);

    const char *const none[] = {"SYMPTOM"};
    assert_int_equal(cl_doc_keep_types(d, none, 1, &err), CL_OK);
    assert_int_equal(d->nentities, 0);
    assert_int_equal(d->nrelations, 0);
    for (int i = 0; i < 5; i++)
        assert_string_equal(d->tags[i], "O");
    cl_doc_free(d);
}

static void atomic_file_leaves_nothing_on_abort(void **state)
{
    (void)state;
    char dir[] = "/tmp/clinner-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = cl_path_join(dir, "out.txt");
    cl_atomic_file f;
    cl_error err;
    assert_int_equal(cl_atomic_open(&f, path, &err), CL_OK);
    fputs("partial", f.fp);
    cl_atomic_abort(&f);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(cl_atomic_open(&f, path, &err), CL_OK);
    fputs("whole", f.fp);
    assert_int_equal(cl_atomic_commit(&f, &err), CL_OK);
    char *data;
    size_t len;
    assert_int_equal(cl_read_file(path, &data, &len, &err), CL_OK);
    assert_string_equal(data, "whole");
    free(data);
    unlink(path);
    rmdir(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_validation_names_offset),
        cmocka_unit_test(offsets_round_trip),
        cmocka_unit_test(offsets_match_a_scan),
        cmocka_unit_test(python_space_set),
        cmocka_unit_test(doc_rejects_bad_utf8_and_bad_offsets),
        cmocka_unit_test(doc_keeps_only_chosen_types),
        cmocka_unit_test(atomic_file_leaves_nothing_on_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
