/*
 * labels.c - the label table of labels.h: an open-addressing hash of label
 * strings to ids (FNV-1a), with each label's prefix and entity type worked
 * out once when it is added.  Tables hold a handful of labels, so growth is
 * by doubling and nothing is ever removed.  Also the one lenient BIO
 * chunker (cl_bio_chunks) that the CRF and the BIO decoder share.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/labels.h"
#include "clinner/util.h"

typedef struct label {
    char *name;
    size_t len;
    cl_bio_prefix prefix;
    int32_t type;
} label;

struct cl_labels {
    label *v;
    int32_t n, cap;
    int32_t *slots; /* id + 1, 0 when empty; nslots a power of two */
    size_t nslots;
    char **types;
    int32_t ntypes, cap_types;
};

void cl_labels_free(cl_labels *l)
{
    if (!l)
        return;
    for (int32_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    for (int32_t i = 0; i < l->ntypes; i++)
        free(l->types[i]);
    free(l->v);
    free(l->slots);
    free(l->types);
    free(l);
}

cl_status cl_labels_new(cl_labels **out, cl_error *err)
{
    *out = NULL;
    cl_labels *l = calloc(1, sizeof *l);
    if (!l || cl_labels_intern(l, "O", 1) != 0) {
        cl_labels_free(l);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    *out = l;
    return CL_OK;
}

static size_t slot_of(const cl_labels *l, const char *s, size_t len)
{
    size_t mask = l->nslots - 1, i = (size_t)cl_fnv1a64(CL_FNV64_INIT, s, len) & mask;
    while (l->slots[i]) {
        const label *b = &l->v[l->slots[i] - 1];
        if (b->len == len && memcmp(b->name, s, len) == 0)
            break;
        i = (i + 1) & mask;
    }
    return i;
}

int32_t cl_labels_find(const cl_labels *l, const char *s, size_t len)
{
    if (!s || len == 0) {
        s = "O";
        len = 1;
    }
    if (!l->nslots)
        return -1;
    return l->slots[slot_of(l, s, len)] - 1;
}

static int grow_slots(cl_labels *l)
{
    size_t n = l->nslots ? l->nslots * 2 : 16;
    int32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    free(l->slots);
    l->slots = slots;
    l->nslots = n;
    for (int32_t id = 0; id < l->n; id++)
        l->slots[slot_of(l, l->v[id].name, l->v[id].len)] = id + 1;
    return 0;
}

static int32_t type_id(cl_labels *l, const char *t, size_t len)
{
    for (int32_t i = 0; i < l->ntypes; i++)
        if (strlen(l->types[i]) == len && memcmp(l->types[i], t, len) == 0)
            return i;
    if (l->ntypes == l->cap_types) {
        int32_t cap = l->cap_types ? l->cap_types * 2 : 8;
        char **v = realloc(l->types, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->types = v;
        l->cap_types = cap;
    }
    if (!(l->types[l->ntypes] = cl_strndup(t, len)))
        return -1;
    return l->ntypes++;
}

/* Prefix and type of a new label; -1 when out of memory. */
static int split(cl_labels *l, label *b)
{
    b->type = -1;
    if (b->len == 1 && b->name[0] == 'O') {
        b->prefix = CL_BIO_O;
        return 0;
    }
    if (b->len > 2 && (b->name[0] == 'B' || b->name[0] == 'I') && b->name[1] == '-' &&
        !memchr(b->name, '\0', b->len)) {
        b->prefix = b->name[0] == 'B' ? CL_BIO_B : CL_BIO_I;
        b->type = type_id(l, b->name + 2, b->len - 2);
        return b->type < 0 ? -1 : 0;
    }
    b->prefix = CL_BIO_INVALID;
    return 0;
}

int32_t cl_labels_intern(cl_labels *l, const char *s, size_t len)
{
    int32_t id = cl_labels_find(l, s, len);
    if (id >= 0)
        return id;
    if (!s || len == 0) {
        s = "O";
        len = 1;
    }
    if ((size_t)(l->n + 1) * 2 > l->nslots && grow_slots(l) != 0)
        return -1;
    if (l->n == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 16;
        label *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    label *b = &l->v[l->n];
    if (!(b->name = malloc(len + 1)))
        return -1;
    memcpy(b->name, s, len);
    b->name[len] = '\0';
    b->len = len;
    if (split(l, b) != 0) {
        free(b->name);
        return -1;
    }
    l->slots[slot_of(l, s, len)] = l->n + 1;
    return l->n++;
}

int32_t cl_labels_count(const cl_labels *l) { return l->n; }

const char *cl_labels_name(const cl_labels *l, int32_t id)
{
    return id >= 0 && id < l->n ? l->v[id].name : NULL;
}

cl_bio_prefix cl_labels_prefix(const cl_labels *l, int32_t id)
{
    return id >= 0 && id < l->n ? l->v[id].prefix : CL_BIO_INVALID;
}

int32_t cl_labels_type(const cl_labels *l, int32_t id)
{
    return id >= 0 && id < l->n ? l->v[id].type : -1;
}

int32_t cl_labels_ntypes(const cl_labels *l) { return l->ntypes; }

const char *cl_labels_type_name(const cl_labels *l, int32_t type)
{
    return type >= 0 && type < l->ntypes ? l->types[type] : NULL;
}

int32_t cl_bio_chunks(const int32_t *type, const bool *is_b, const bool *starts, int32_t n,
                      cl_bio_chunk *out)
{
    int32_t k = 0;
    bool open = false;
    for (int32_t t = 0; t < n; t++) {
        int32_t ty = type[t];
        if (open && ty >= 0 && !is_b[t] && ty == out[k - 1].type && !(starts && starts[t])) {
            out[k - 1].end = t + 1;
            continue;
        }
        open = ty >= 0;
        if (open)
            out[k++] = (cl_bio_chunk){t, t + 1, ty};
    }
    return k;
}
