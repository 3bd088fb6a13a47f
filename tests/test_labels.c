/* test_labels.c - the label table (labels.h): ids, the BIO split, validity,
 * growth past its first allocation; the lenient BIO chunker. */
#include "testutil.h"

#include <stdio.h>

#include "clinner/labels.h"

static void ids_and_bio_split(void **state)
{
    (void)state;
    cl_labels *l;
    cl_error err;
    assert_int_equal(cl_labels_new(&l, &err), CL_OK);
    assert_int_equal(cl_labels_count(l), 1);
    assert_string_equal(cl_labels_name(l, 0), "O");
    assert_int_equal(cl_labels_intern(l, "O", 1), 0);
    assert_int_equal(cl_labels_intern(l, NULL, 0), 0); /* NULL and "" are O */
    assert_int_equal(cl_labels_intern(l, "", 0), 0);
    int32_t b = cl_labels_intern(l, "B-SIGN", 6), i = cl_labels_intern(l, "I-SIGN", 6);
    int32_t bd = cl_labels_intern(l, "B-DISEASE", 9);
    assert_int_equal(b, 1);
    assert_int_equal(i, 2);
    assert_int_equal(bd, 3);
    assert_int_equal(cl_labels_intern(l, "B-SIGNX", 6), b); /* length counts, not NUL */
    assert_int_equal(cl_labels_prefix(l, b), CL_BIO_B);
    assert_int_equal(cl_labels_prefix(l, i), CL_BIO_I);
    assert_int_equal(cl_labels_prefix(l, 0), CL_BIO_O);
    assert_int_equal(cl_labels_type(l, b), cl_labels_type(l, i));
    assert_int_not_equal(cl_labels_type(l, b), cl_labels_type(l, bd));
    assert_string_equal(cl_labels_type_name(l, cl_labels_type(l, bd)), "DISEASE");
    assert_int_equal(cl_labels_type(l, 0), -1);
    assert_int_equal(cl_labels_ntypes(l), 2);
    /* kept as read, but invalid: no type, a lower-case prefix, another letter */
    const char *odd[] = {"B-", "I", "b-SIGN", "E-SIGN", "None", "B_SIGN"};
    for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
        int32_t id = cl_labels_intern(l, odd[k], strlen(odd[k]));
        assert_true(id > bd);
        assert_string_equal(cl_labels_name(l, id), odd[k]);
        assert_int_equal(cl_labels_prefix(l, id), CL_BIO_INVALID);
        assert_int_equal(cl_labels_type(l, id), -1);
    }
    assert_int_equal(cl_labels_find(l, "I-DISEASE", 9), -1);
    assert_null(cl_labels_name(l, 999));
    assert_int_equal(cl_labels_prefix(l, -1), CL_BIO_INVALID);
    cl_labels_free(l);
}

/* Many labels: every one keeps its id through the table's growth. */
static void ids_survive_growth(void **state)
{
    (void)state;
    cl_labels *l;
    cl_error err;
    assert_int_equal(cl_labels_new(&l, &err), CL_OK);
    char name[32];
    for (int k = 0; k < 1000; k++) {
        int n = snprintf(name, sizeof name, "%c-T\xc3\xa9%d", k % 2 ? 'I' : 'B', k / 2);
        assert_int_equal(cl_labels_intern(l, name, (size_t)n), k + 1);
    }
    for (int k = 0; k < 1000; k++) {
        int n = snprintf(name, sizeof name, "%c-T\xc3\xa9%d", k % 2 ? 'I' : 'B', k / 2);
        assert_int_equal(cl_labels_find(l, name, (size_t)n), k + 1);
        assert_int_equal(cl_labels_type(l, k + 1), k / 2);
    }
    assert_int_equal(cl_labels_ntypes(l), 500);
    cl_labels_free(l);
}

/* The lenient chunker on a hand-made sequence (types: 0 SIGN, 1 DISEASE):
 *   t:     0      1      2  3      4      5      6      7      8      9
 *          B-S    I-S    O  I-S    I-D    B-D    B-D    I-D    I-D    I-D
 *   starts:                                             (8 starts a sentence)
 * entities: [0,2) S; [3,4) S (I after O); [4,5) D (I after another type);
 * [5,6) D; [6,8) D (B after the same type starts anew); [8,10) D (a sentence
 * start closes). */
static void lenient_chunks(void **state)
{
    (void)state;
    const int32_t type[] = {0, 0, -1, 0, 1, 1, 1, 1, 1, 1};
    const bool is_b[] = {1, 0, 0, 0, 0, 1, 1, 0, 0, 0};
    bool starts[10] = {0};
    starts[8] = true;
    cl_bio_chunk out[10];
    const cl_bio_chunk want[] = {{0, 2, 0}, {3, 4, 0}, {4, 5, 1}, {5, 6, 1}, {6, 8, 1}, {8, 10, 1}};
    int32_t n = cl_bio_chunks(type, is_b, starts, 10, out);
    assert_int_equal(n, 6);
    for (int32_t i = 0; i < n; i++) {
        assert_int_equal(out[i].begin, want[i].begin);
        assert_int_equal(out[i].end, want[i].end);
        assert_int_equal(out[i].type, want[i].type);
    }
    /* without sentence starts the last two are one entity */
    n = cl_bio_chunks(type, is_b, NULL, 10, out);
    assert_int_equal(n, 5);
    assert_int_equal(out[4].begin, 6);
    assert_int_equal(out[4].end, 10);
    assert_int_equal(cl_bio_chunks(type, is_b, NULL, 0, out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_and_bio_split),
        cmocka_unit_test(ids_survive_growth),
        cmocka_unit_test(lenient_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
