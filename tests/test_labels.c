/* test_labels.c - the label table (labels.h): ids, the BIO split, validity,
 * growth past its first allocation. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_and_bio_split),
        cmocka_unit_test(ids_survive_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
