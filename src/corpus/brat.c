/*
 * brat.c - BRAT standoff: a document's text in <id>.txt and its annotations
 * in <id>.ann, one per line:
 *
 *   T3<TAB>SIGN 113 115;128 137<TAB>short stature     entity (fragments in
 *                                                     source order, not
 *                                                     always text order)
 *   R1<TAB>Produces Arg1:T1 Arg2:T2<TAB>              relation
 *   #, A, M, N, E, * lines                            accepted and dropped
 *
 * Offsets are Unicode code points, end exclusive.  The reader checks every
 * offset against the text and the text column against the characters at the
 * offsets (fragments joined by one space, as BRAT writes them), so a .ann
 * that belongs to another version of its .txt is caught, not silently
 * mis-tagged.  Two leniencies in that comparison, both deliberate:
 *   - double quotes ('"') are ignored.  In RareDis-v1, 22 text columns went
 *     through a CSV round trip that doubled, wrapped or dropped the quotes of
 *     spans like ""carp-shaped"" mouth; the offsets are right, the column is
 *     not.  Nothing else in the corpus mismatches.
 *   - a TAB, CR or LF inside a span equals a space in the column, because a
 *     line-based file cannot hold them (our writer writes a space there).
 * Relations may name entity ids that do not exist (the corpus has such
 * lines); they are kept as written.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinner/corpus.h"
#include "clinner/util.h"
#include "corpus/formats.h"

/* ---------------------------------------------------------------- parsing */

typedef struct field {
    const char *p;
    size_t n;
} field;

/* Split s[0..n) at the first occurrence of c: head before it, *rest after it.
 * Returns false when c does not occur (head is then all of s). */
static bool split_at(const char *s, size_t n, char c, field *head, field *rest)
{
    const char *q = memchr(s, c, n);
    head->p = s;
    head->n = q ? (size_t)(q - s) : n;
    if (rest) {
        rest->p = q ? q + 1 : s + n;
        rest->n = q ? n - head->n - 1 : 0;
    }
    return q != NULL;
}

static bool has_space(field f)
{
    for (size_t i = 0; i < f.n; i++)
        if (f.p[i] == ' ' || f.p[i] == '\t' || f.p[i] == '\n' || f.p[i] == '\r')
            return true;
    return false;
}

/* Parse a non-negative decimal that fits int32; false otherwise. */
static bool parse_offset(field f, int32_t *out)
{
    if (f.n == 0 || f.n > 10)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < f.n; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            return false;
        v = v * 10 + (f.p[i] - '0');
    }
    if (v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

/* Next character of a text-column comparison, skipping '"' and folding TAB,
 * CR and LF to a space (see the file comment); -1 at the end. */
static int next_cmp_char(const char *s, size_t n, size_t *i)
{
    while (*i < n) {
        char c = s[(*i)++];
        if (c == '"')
            continue;
        if (c == '\t' || c == '\r' || c == '\n')
            c = ' ';
        return (unsigned char)c;
    }
    return -1;
}

/* Whether the annotation's text column matches the characters at frags. */
static bool text_column_matches(const cl_doc *doc, const cl_span *frags, int32_t nfrags,
                                field col)
{
    /* Fast path: exact match, fragments joined by one space. */
    size_t pos = 0;
    bool exact = true;
    for (int32_t k = 0; k < nfrags && exact; k++) {
        size_t b0 = cl_text_cp_to_byte(&doc->index, frags[k].start);
        size_t b1 = cl_text_cp_to_byte(&doc->index, frags[k].end);
        if (k > 0) {
            if (pos >= col.n || col.p[pos] != ' ')
                exact = false;
            pos++;
        }
        if (exact && (col.n - pos < b1 - b0 || memcmp(col.p + pos, doc->text + b0, b1 - b0)))
            exact = false;
        pos += b1 - b0;
    }
    if (exact && pos == col.n)
        return true;

    /* Lenient comparison. */
    size_t ci = 0;
    for (int32_t k = 0; k < nfrags; k++) {
        size_t b0 = cl_text_cp_to_byte(&doc->index, frags[k].start);
        size_t b1 = cl_text_cp_to_byte(&doc->index, frags[k].end);
        if (k > 0 && next_cmp_char(col.p, col.n, &ci) != ' ')
            return false;
        size_t ti = 0;
        int a;
        while ((a = next_cmp_char(doc->text + b0, b1 - b0, &ti)) >= 0)
            if (next_cmp_char(col.p, col.n, &ci) != a)
                return false;
    }
    return next_cmp_char(col.p, col.n, &ci) < 0;
}

/* Length of at most max bytes of s[0..n) without cutting a UTF-8 character. */
static int clip_utf8(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return (int)n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

static cl_status parse_entity(cl_doc *doc, const char *line, size_t n, const char *file,
                              long lineno, cl_error *err)
{
    field id, rest, mid, col, type, offs;
    if (!split_at(line, n, '\t', &id, &rest) || !split_at(rest.p, rest.n, '\t', &mid, &col))
        return cl_error_set(err, CL_ERR_PARSE,
                            "%s:%ld: expected ID<TAB>TYPE START END<TAB>TEXT", file, lineno);
    if (id.n < 2 || has_space(id))
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: bad entity id '%.*s'", file, lineno,
                            clip_utf8(id.p, id.n, 60), id.p);
    if (!split_at(mid.p, mid.n, ' ', &type, &offs) || type.n == 0 || has_space(type))
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: expected TYPE START END, got '%.*s'",
                            file, lineno, clip_utf8(mid.p, mid.n, 80), mid.p);

    /* Count fragments first so one allocation holds them. */
    int32_t nfrags = 1;
    for (size_t i = 0; i < offs.n; i++)
        nfrags += offs.p[i] == ';';
    cl_span *frags = malloc((size_t)nfrags * sizeof *frags);
    if (!frags)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");

    cl_status st = CL_OK;
    field rem = offs;
    for (int32_t k = 0; k < nfrags; k++) {
        field frag, s, e;
        split_at(rem.p, rem.n, ';', &frag, &rem);
        if (!split_at(frag.p, frag.n, ' ', &s, &e) || !parse_offset(s, &frags[k].start) ||
            !parse_offset(e, &frags[k].end)) {
            st = cl_error_set(err, CL_ERR_PARSE,
                              "%s:%ld: fragment '%.*s' is not two non-negative numbers "
                              "'START END'",
                              file, lineno, clip_utf8(frag.p, frag.n, 80), frag.p);
            goto out;
        }
        if (frags[k].start > frags[k].end) {
            st = cl_error_set(err, CL_ERR_RANGE, "%s:%ld: offsets %d-%d: start after end", file,
                              lineno, frags[k].start, frags[k].end);
            goto out;
        }
        if (frags[k].end > doc->index.nchars) {
            st = cl_error_set(err, CL_ERR_RANGE,
                              "%s:%ld: offsets %d-%d outside the text (%d characters)", file,
                              lineno, frags[k].start, frags[k].end, doc->index.nchars);
            goto out;
        }
    }
    if (!text_column_matches(doc, frags, nfrags, col)) {
        size_t b0 = cl_text_cp_to_byte(&doc->index, frags[0].start);
        size_t b1 = cl_text_cp_to_byte(&doc->index, frags[0].end);
        st = cl_error_set(err, CL_ERR_PARSE,
                          "%s:%ld: text column '%.*s' does not match the text at %d-%d ('%.*s'%s)",
                          file, lineno, clip_utf8(col.p, col.n, 200), col.p, frags[0].start,
                          frags[0].end, clip_utf8(doc->text + b0, b1 - b0, 200), doc->text + b0,
                          nfrags > 1 ? " ..." : "");
        goto out;
    }

    char *sid = cl_strndup(id.p, id.n), *stype = cl_strndup(type.p, type.n);
    char *stext = cl_strndup(col.p, col.n);
    if (!sid || !stype || !stext)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    else if ((st = cl_doc_add_entity(doc, sid, stype, frags, nfrags, stext, err)) != CL_OK)
        cl_error_prefix(err, "%s:%ld: ", file, lineno);
    free(sid);
    free(stype);
    free(stext);
out:
    free(frags);
    return st;
}

/* A relation argument "Role:ID" (role and id non-empty). */
static bool role_arg(field f)
{
    const char *colon = memchr(f.p, ':', f.n);
    return colon && colon > f.p && colon < f.p + f.n - 1;
}

static cl_status parse_relation(cl_doc *doc, const char *line, size_t n, const char *file,
                                long lineno, cl_error *err)
{
    field id, rest, mid, tail, type, a1, a2, extra;
    split_at(line, n, '\t', &id, &rest);
    split_at(rest.p, rest.n, '\t', &mid, &tail); /* the column after a relation is empty */
    if (id.n < 2 || has_space(id) || !split_at(mid.p, mid.n, ' ', &type, &tail) ||
        !split_at(tail.p, tail.n, ' ', &a1, &a2) || split_at(a2.p, a2.n, ' ', &a2, &extra) ||
        type.n == 0 || !role_arg(a1) || !role_arg(a2) || has_space(type) || has_space(a1) ||
        has_space(a2))
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: expected ID<TAB>TYPE Arg1:X Arg2:Y",
                            file, lineno);
    char *sid = cl_strndup(id.p, id.n), *stype = cl_strndup(type.p, type.n);
    char *s1 = cl_strndup(a1.p, a1.n), *s2 = cl_strndup(a2.p, a2.n);
    cl_status st;
    if (!sid || !stype || !s1 || !s2)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    else if ((st = cl_doc_add_relation(doc, sid, stype, s1, s2, err)) != CL_OK)
        cl_error_prefix(err, "%s:%ld: ", file, lineno);
    free(sid);
    free(stype);
    free(s1);
    free(s2);
    return st;
}

cl_status cl_brat_parse_ann(cl_doc *doc, const char *ann, size_t n, const char *file,
                            cl_error *err)
{
    if (!file)
        file = "<ann>";
    size_t bad;
    if (!cl_utf8_valid(ann, n, &bad))
        return cl_error_set(err, CL_ERR_UTF8, "%s: invalid UTF-8 at byte offset %zu", file, bad);
    if ((bad = strnlen(ann, n)) < n)
        return cl_error_set(err, CL_ERR_PARSE, "%s: NUL byte at byte offset %zu", file, bad);

    long lineno = 0;
    size_t pos = 0;
    while (pos < n) {
        field line, rest;
        split_at(ann + pos, n - pos, '\n', &line, &rest);
        pos = (size_t)(rest.p - ann);
        lineno++;
        if (line.n > 0 && line.p[line.n - 1] == '\r') /* CRLF files */
            line.n--;
        size_t i = 0;
        while (i < line.n && (line.p[i] == ' ' || line.p[i] == '\t'))
            i++;
        if (i == line.n) /* blank line */
            continue;
        cl_status st = CL_OK;
        switch (line.p[0]) {
        case 'T':
            st = parse_entity(doc, line.p, line.n, file, lineno, err);
            break;
        case 'R':
            st = parse_relation(doc, line.p, line.n, file, lineno, err);
            break;
        case '#': /* note */
        case 'A': /* attribute */
        case 'M': /* modifier (old name of attribute) */
        case 'N': /* normalization */
        case 'E': /* event */
        case '*': /* equivalence */
            break;
        default: {
            unsigned char c = (unsigned char)line.p[0];
            if (c >= 0x21 && c < 0x7f)
                st = cl_error_set(err, CL_ERR_PARSE,
                                  "%s:%ld: unknown line kind '%c' (expected T, R, E, A, M, N, "
                                  "* or #)",
                                  file, lineno, c);
            else
                st = cl_error_set(err, CL_ERR_PARSE,
                                  "%s:%ld: unknown line kind (byte 0x%02x; expected T, R, E, "
                                  "A, M, N, * or #)",
                                  file, lineno, c);
        }
        }
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

/* ---------------------------------------------------------------- reading */

/* "dir/Name.txt" -> "Name" (newly allocated). */
static char *stem_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && (!strcmp(base + n - 4, ".txt") || !strcmp(base + n - 4, ".ann")))
        n -= 4;
    return cl_strndup(base, n);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

cl_status cl_brat_read_pair(const char *txt_path, const char *ann_path, cl_doc **out,
                            cl_error *err)
{
    *out = NULL;
    char *text = NULL, *ann = NULL, *id = NULL;
    size_t ntext = 0, nann = 0, bad;
    cl_doc *doc = NULL;
    cl_status st = cl_read_file(txt_path, &text, &ntext, err);
    if (st != CL_OK)
        goto out;
    if (!cl_utf8_valid(text, ntext, &bad)) {
        st = cl_error_set(err, CL_ERR_UTF8, "%s: invalid UTF-8 at byte offset %zu", txt_path,
                          bad);
        goto out;
    }
    if (!(id = stem_of(txt_path))) {
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (cl_doc_new(id, text, ntext, &doc, err) != CL_OK) {
        st = cl_error_prefix(err, "%s: ", txt_path);
        goto out;
    }
    if (ann_path) {
        if ((st = cl_read_file(ann_path, &ann, &nann, err)) != CL_OK)
            goto out;
        if ((st = cl_brat_parse_ann(doc, ann, nann, ann_path, err)) != CL_OK)
            goto out;
    }
    *out = doc;
    doc = NULL;
out:
    cl_doc_free(doc);
    free(text);
    free(ann);
    free(id);
    return st;
}

/* Read one pair given the .txt path; the .ann beside it is optional. */
static cl_status read_txt(cl_corpus *c, const char *txt_path, cl_error *err)
{
    size_t n = strlen(txt_path);
    char *ann_path = cl_strdup(txt_path);
    if (!ann_path)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    memcpy(ann_path + n - 4, ".ann", 4);
    cl_doc *doc;
    cl_status st = cl_brat_read_pair(txt_path, file_exists(ann_path) ? ann_path : NULL, &doc, err);
    free(ann_path);
    if (st == CL_OK)
        st = cl_corpus_add(c, doc, err);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Append name to *v (growing it); false on allocation failure. */
static bool push_name(char ***v, size_t *n, size_t *cap, const char *name)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **p = realloc(*v, nc * sizeof *p);
        if (!p)
            return false;
        *v = p;
        *cap = nc;
    }
    if (!((*v)[*n] = cl_strdup(name)))
        return false;
    (*n)++;
    return true;
}

static cl_status read_dir(cl_corpus *c, const char *dir, cl_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **txt = NULL, **ann = NULL;
    size_t ntxt = 0, ctxt = 0, nann = 0, cann = 0;
    cl_status st = CL_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.' || strlen(name) <= 4)
            continue;
        bool ok = true;
        if (ends_with(name, ".txt"))
            ok = push_name(&txt, &ntxt, &ctxt, name);
        else if (ends_with(name, ".ann"))
            ok = push_name(&ann, &nann, &cann, name);
        if (!ok) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
    }
    closedir(d);
    if (st != CL_OK)
        goto out;
    if (ntxt == 0) {
        st = cl_error_set(err, CL_ERR_IO, "%s: no .txt files in this directory", dir);
        goto out;
    }
    if (txt)
        qsort(txt, ntxt, sizeof *txt, cmp_str);
    if (ann)
        qsort(ann, nann, sizeof *ann, cmp_str);
    /* Every .ann needs its .txt: an orphan is most likely a renamed or deleted
     * text, and silently skipping it would lose its annotations. */
    for (size_t i = 0; i < nann; i++) {
        size_t n = strlen(ann[i]);
        memcpy(ann[i] + n - 4, ".txt", 4);
        bool found = bsearch(&ann[i], txt, ntxt, sizeof *txt, cmp_str) != NULL;
        memcpy(ann[i] + n - 4, ".ann", 4);
        if (!found) {
            char *p = cl_path_join(dir, ann[i]);
            st = cl_error_set(err, CL_ERR_IO, "%s: no matching .txt file", p ? p : ann[i]);
            free(p);
            goto out;
        }
    }
    for (size_t i = 0; i < ntxt && st == CL_OK; i++) {
        char *p = cl_path_join(dir, txt[i]);
        if (!p) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        st = read_txt(c, p, err);
        free(p);
    }
out:
    free_names(txt, ntxt);
    free_names(ann, nann);
    return st;
}

cl_status cl_brat_read(cl_corpus *c, const char *path, cl_error *err)
{
    if (!strcmp(path, "-"))
        return cl_error_set(err, CL_ERR_ARG,
                            "brat cannot be read from stdin: give a directory or a .txt/.ann path");
    if (cl_is_dir(path))
        return read_dir(c, path, err);
    if (ends_with(path, ".txt") && strlen(path) > 4)
        return read_txt(c, path, err);
    if (ends_with(path, ".ann") && strlen(path) > 4) {
        char *txt_path = cl_strdup(path);
        if (!txt_path)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        memcpy(txt_path + strlen(path) - 4, ".txt", 4);
        cl_status st;
        if (!file_exists(txt_path))
            st = cl_error_set(err, CL_ERR_IO, "%s: no matching .txt file (%s)", path, txt_path);
        else
            st = read_txt(c, txt_path, err);
        free(txt_path);
        return st;
    }
    if (access(path, F_OK) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno));
    return cl_error_set(err, CL_ERR_ARG, "%s: brat input must be a directory, a .txt or a .ann",
                        path);
}

/* ---------------------------------------------------------------- writing */

static bool token_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            return false;
    return true;
}

/* Numeric suffix of an id "T12" (-1 if not of that form). */
static long id_number(const char *id)
{
    if (!id || id[0] != 'T' || !id[1])
        return -1;
    long v = 0;
    for (const char *p = id + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000L)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

cl_status cl_brat_write_ann(const cl_doc *doc, FILE *fp, cl_error *err)
{
    /* Entities from other formats may lack a usable "T..." id: give those
     * fresh numbers after the largest one in use. */
    long next_id = 0;
    for (int32_t i = 0; i < doc->nentities; i++) {
        long v = id_number(doc->entities[i].id);
        if (v >= next_id)
            next_id = v + 1;
    }
    if (next_id == 0)
        next_id = 1;
    for (int32_t i = 0; i < doc->nentities; i++) {
        const cl_entity *e = &doc->entities[i];
        if (!token_ok(e->type))
            return cl_error_set(err, CL_ERR_ARG,
                                "document %s: entity type '%s' cannot be written to BRAT (empty "
                                "or with spaces)",
                                doc->id, e->type ? e->type : "");
        const char *id = e->id;
        if (!token_ok(id) || id[0] != 'T')
            fprintf(fp, "T%ld\t%s ", next_id++, e->type);
        else
            fprintf(fp, "%s\t%s ", id, e->type);
        for (int32_t k = 0; k < e->nfrags; k++) {
            if (e->frags[k].start < 0 || e->frags[k].start > e->frags[k].end ||
                e->frags[k].end > doc->index.nchars)
                return cl_error_set(err, CL_ERR_RANGE,
                                    "document %s: entity %s: offsets %d-%d outside the text (%d "
                                    "characters)",
                                    doc->id, e->id ? e->id : "?", e->frags[k].start,
                                    e->frags[k].end, doc->index.nchars);
            fprintf(fp, "%s%d %d", k ? ";" : "", e->frags[k].start, e->frags[k].end);
        }
        fputc('\t', fp);
        for (int32_t k = 0; k < e->nfrags; k++) {
            if (k)
                fputc(' ', fp);
            size_t b0 = cl_text_cp_to_byte(&doc->index, e->frags[k].start);
            size_t b1 = cl_text_cp_to_byte(&doc->index, e->frags[k].end);
            for (size_t b = b0; b < b1; b++) {
                char ch = doc->text[b];
                fputc(ch == '\t' || ch == '\n' || ch == '\r' ? ' ' : ch, fp);
            }
        }
        fputc('\n', fp);
    }
    for (int32_t i = 0; i < doc->nrelations; i++) {
        const cl_relation *r = &doc->relations[i];
        if (!token_ok(r->id) || r->id[0] != 'R' || !token_ok(r->type) || !token_ok(r->arg1) ||
            !token_ok(r->arg2))
            return cl_error_set(err, CL_ERR_ARG,
                                "document %s: relation %s cannot be written to BRAT (empty field "
                                "or spaces)",
                                doc->id, r->id ? r->id : "?");
        fprintf(fp, "%s\t%s %s %s\t\n", r->id, r->type, r->arg1, r->arg2);
    }
    if (ferror(fp))
        return cl_error_set(err, CL_ERR_IO, "write error");
    return CL_OK;
}

/* Whether a document id can be used as a file name inside the output dir. */
static bool id_is_filename(const char *id)
{
    return id && *id && id[0] != '.' && !strchr(id, '/');
}

static cl_status write_one(const char *dir, const cl_doc *doc, cl_error *err)
{
    size_t n = strlen(doc->id);
    char *name = malloc(n + 5);
    if (!name)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    memcpy(name, doc->id, n);
    memcpy(name + n, ".txt", 5);
    char *txt_path = cl_path_join(dir, name);
    memcpy(name + n, ".ann", 5);
    char *ann_path = cl_path_join(dir, name);
    free(name);
    cl_status st = CL_OK;
    cl_atomic_file f;
    if (!txt_path || !ann_path) {
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = cl_atomic_write(txt_path, doc->text, doc->text_bytes, err)) != CL_OK)
        goto out;
    if ((st = cl_atomic_open(&f, ann_path, err)) != CL_OK)
        goto out;
    if ((st = cl_brat_write_ann(doc, f.fp, err)) != CL_OK) {
        cl_atomic_abort(&f);
        cl_error_prefix(err, "%s: ", ann_path);
        goto out;
    }
    st = cl_atomic_commit(&f, err);
out:
    free(txt_path);
    free(ann_path);
    return st;
}

cl_status cl_brat_write_dir(const cl_corpus *c, const char *dir, cl_error *err)
{
    if (!strcmp(dir, "-"))
        return cl_error_set(err, CL_ERR_ARG, "brat output must be a directory, not stdout");
    /* Check every id first, so a bad one does not leave half a corpus. */
    const char **ids = malloc(((size_t)c->ndocs + 1) * sizeof *ids);
    if (!ids)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = CL_OK;
    for (int32_t i = 0; i < c->ndocs && st == CL_OK; i++) {
        ids[i] = c->docs[i]->id;
        if (!id_is_filename(ids[i]))
            st = cl_error_set(err, CL_ERR_ARG,
                              "document id '%s' cannot be used as a BRAT file name", ids[i]);
    }
    if (st == CL_OK && c->ndocs > 1) {
        qsort(ids, (size_t)c->ndocs, sizeof *ids, cmp_str);
        for (int32_t i = 1; i < c->ndocs && st == CL_OK; i++)
            if (!strcmp(ids[i - 1], ids[i]))
                st = cl_error_set(err, CL_ERR_ARG,
                                  "two documents are named '%s': BRAT needs one file pair each",
                                  ids[i]);
    }
    free(ids);
    if (st == CL_OK)
        st = cl_mkdir_p(dir, err);
    for (int32_t i = 0; i < c->ndocs && st == CL_OK; i++)
        st = write_one(dir, c->docs[i], err);
    return st;
}
