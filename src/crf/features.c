/*
 * features.c - what the CRF sees of a token: attribute strings built from
 * the sentence around it, and the gazetteer of training entities.
 *
 * Per token: bias; lower-cased word and a crude singular of it; words at
 * +-1, +-2 and the word bigrams around it; full and short word shape
 * ("Xxxxx-dd" / "Xx-d") of the token and short shapes at +-2, full shapes
 * and 3-suffixes at +-1; prefixes and suffixes of 1..4 characters;
 * capitalisation, digit, hyphen and punctuation flags; a length bucket;
 * whether the token is inside parentheses or brackets; sentence start and
 * end; gazetteer marks (B-/I- of each entity type whose training entities
 * match the longest lower-cased token n-gram here) for the token and its
 * neighbours; vocabulary marks the same way (B-/I- of the categories of the
 * longest medical term starting at a token, vocab.c), when the model has a
 * vocabulary; and the document's frequent words (docwords.c).
 *
 * Attributes are strings mapped through a dictionary (dict.c), not hashed:
 * the training set is small (a few hundred thousand distinct strings), so a
 * dictionary costs little memory, has no collisions between rare and useful
 * attributes, and lets a min-count cutoff drop the noise.  The strings are
 * emitted through a callback so training (intern) and tagging (look up)
 * share this one definition of the features.
 *
 * The gazetteer is built from the training labels.  Seen from a training
 * document it would always be right (the document's own entities are in
 * it), and the CRF would learn to trust it blindly; so training documents
 * are split into folds and a training document sees only entries that also
 * occur in another fold, which is how the gazetteer behaves on new text.
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "crf/crf_internal.h"
#include "clinner/util.h"

#define MAX_TOKEN_CPS 48 /* longer tokens (URLs, chemical names) are cut for features */
#define MAX_SHAPE 24

void cl__crf_gaz_init(crf_gaz *g, int32_t ntypes, int32_t max_len)
{
    memset(g, 0, sizeof *g);
    cl__crf_dict_init(&g->keys);
    g->ntypes = ntypes;
    g->max_len = max_len;
}

void cl__crf_gaz_free(crf_gaz *g)
{
    cl__crf_dict_free(&g->keys);
    free(g->types);
    free(g->folds);
    memset(g, 0, sizeof *g);
}

int cl__crf_gaz_add(crf_gaz *g, const char *key, size_t n, int32_t type, int32_t fold)
{
    if (type < 0 || type >= g->ntypes || type >= CRF_MAX_TYPES)
        return -1;
    bool added;
    int32_t id = cl__crf_dict_intern(&g->keys, key, n, &added);
    if (id < 0)
        return -1;
    if (g->keys.cap > g->cap) { /* per-entry arrays follow the dictionary's capacity */
        size_t cap = (size_t)g->keys.cap;
        uint32_t *t = realloc(g->types, cap * sizeof *t);
        if (!t)
            return -1;
        g->types = t;
        if (fold >= 0 || g->folds) {
            uint8_t *f = realloc(g->folds, cap * (size_t)g->ntypes);
            if (!f)
                return -1;
            g->folds = f;
        }
        g->cap = g->keys.cap;
    }
    if (added) {
        g->types[id] = 0;
        if (g->folds)
            memset(g->folds + (size_t)id * g->ntypes, 0, (size_t)g->ntypes);
    }
    g->types[id] |= 1u << type;
    if (fold >= 0 && g->folds)
        g->folds[(size_t)id * g->ntypes + type] |= (uint8_t)(1u << (fold & 7));
    return 0;
}

/* Types of entry e visible from a document of fold `fold`. */
static uint32_t gaz_visible(const crf_gaz *g, int32_t e, int32_t fold)
{
    if (fold < 0 || !g->folds)
        return g->types[e];
    uint32_t m = 0;
    uint8_t other = (uint8_t)~(1u << (fold & 7));
    for (int32_t t = 0; t < g->ntypes; t++)
        if (g->folds[(size_t)e * g->ntypes + t] & other)
            m |= 1u << t;
    return m;
}

static int32_t lower_cp(int32_t c)
{
    if (c < 128)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return utf8proc_tolower(c);
}

size_t cl__crf_token_lower(const cl_doc *doc, int32_t tok, char *buf, size_t cap)
{
    size_t nb;
    const char *p = cl_doc_token_bytes(doc, tok, &nb);
    size_t o = 0, i = 0;
    int ncp = 0;
    while (i < nb && ncp < MAX_TOKEN_CPS) {
        int32_t c;
        int len = cl_utf8_decode(p + i, nb - i, &c);
        if (len < 1)
            break;
        i += (size_t)len;
        ncp++;
        char enc[4];
        int el = cl_utf8_encode(lower_cp(c), enc);
        if (o + (size_t)el + 1 > cap)
            break;
        memcpy(buf + o, enc, (size_t)el);
        o += (size_t)el;
    }
    buf[o] = '\0';
    return o;
}

/* What features need of one token, computed once per sentence. */
typedef struct tokinfo {
    char lw[MAX_TOKEN_CPS * 4 + 1]; /* lower-cased */
    char shape[MAX_SHAPE + 1], sshape[MAX_SHAPE + 1];
    uint16_t lwlen;
    uint16_t ncp;
    uint16_t cp_off[MAX_TOKEN_CPS + 1]; /* byte offset of each code point in lw */
    uint8_t flags;
    int8_t paren; /* +1 opens, -1 closes, 0 */
    uint32_t gB, gI; /* gazetteer marks */
    uint32_t vB, vI; /* vocabulary marks */
} tokinfo;

enum { F_INITCAP = 1, F_ALLCAP = 2, F_MIXCAP = 4, F_ALLDIGIT = 8, F_HASDIGIT = 16,
       F_HYPHEN = 32, F_PUNCT = 64 };

static void token_info(const cl_doc *doc, int32_t tok, tokinfo *ti)
{
    size_t nb;
    const char *p = cl_doc_token_bytes(doc, tok, &nb);
    size_t i = 0, o = 0;
    int ncp = 0, nalpha = 0, nupper = 0, ndigit = 0, npunct = 0;
    bool first_upper = false, upper_after_first = false, dash = false;
    int sl = 0, ssl = 0;
    char prev_class = 0;
    while (i < nb && ncp < MAX_TOKEN_CPS) {
        int32_t c;
        int len = cl_utf8_decode(p + i, nb - i, &c);
        if (len < 1)
            break;
        i += (size_t)len;
        ti->cp_off[ncp] = (uint16_t)o;
        char cls;
        bool up, al, dg;
        if (c < 128) {
            up = c >= 'A' && c <= 'Z';
            al = up || (c >= 'a' && c <= 'z');
            dg = c >= '0' && c <= '9';
        } else {
            up = cl_uc_is_upper(c);
            al = cl_uc_is_alpha(c);
            dg = cl_uc_is_digit(c);
        }
        if (up)
            cls = 'X';
        else if (al)
            cls = 'x';
        else if (dg)
            cls = 'd';
        else if (c < 128)
            cls = (char)c;
        else if (cl_uc_is_dash(c))
            cls = '-';
        else
            cls = cl_uc_is_punct(c) ? '.' : '*';
        if (al) {
            nalpha++;
            if (up) {
                nupper++;
                if (ncp == 0)
                    first_upper = true;
                else
                    upper_after_first = true;
            }
        } else if (dg) {
            ndigit++;
        } else {
            bool is_dash = c == '-' || (c >= 128 && cl_uc_is_dash(c));
            dash |= is_dash;
            if (c < 128 ? (c > 32 && c < 127) : cl_uc_is_punct(c))
                npunct++;
        }
        if (sl < MAX_SHAPE)
            ti->shape[sl++] = cls;
        if (cls != prev_class && ssl < MAX_SHAPE)
            ti->sshape[ssl++] = cls;
        prev_class = cls;
        char enc[4];
        int el = cl_utf8_encode(lower_cp(c), enc);
        memcpy(ti->lw + o, enc, (size_t)el);
        o += (size_t)el;
        ncp++;
    }
    ti->lw[o] = '\0';
    ti->lwlen = (uint16_t)o;
    ti->cp_off[ncp] = (uint16_t)o;
    ti->ncp = (uint16_t)ncp;
    ti->shape[sl] = '\0';
    ti->sshape[ssl] = '\0';
    uint8_t f = 0;
    if (first_upper && !upper_after_first)
        f |= F_INITCAP;
    if (nalpha > 0 && nupper == nalpha && nalpha > 1)
        f |= F_ALLCAP;
    if (upper_after_first && nupper < nalpha)
        f |= F_MIXCAP;
    if (ncp > 0 && ndigit == ncp)
        f |= F_ALLDIGIT;
    if (ndigit > 0)
        f |= F_HASDIGIT;
    if (dash)
        f |= F_HYPHEN;
    if (ncp > 0 && npunct == ncp)
        f |= F_PUNCT;
    ti->flags = f;
    ti->paren = 0;
    if (ncp == 1) {
        if (ti->lw[0] == '(' || ti->lw[0] == '[')
            ti->paren = 1;
        else if (ti->lw[0] == ')' || ti->lw[0] == ']')
            ti->paren = -1;
    }
    ti->gB = ti->gI = 0;
    ti->vB = ti->vI = 0;
}

/* Mark gazetteer matches: for each start, the longest visible entry. */
static cl_status gaz_mark(const crf_gaz *g, int32_t fold, tokinfo *ti, int32_t T, cl_error *err)
{
    if (!g || g->keys.n == 0)
        return CL_OK;
    cl_buf key;
    cl_buf_init(&key);
    for (int32_t i = 0; i < T; i++) {
        cl_buf_reset(&key);
        int32_t best_len = 0;
        uint32_t best_types = 0;
        for (int32_t n = 1; n <= g->max_len && i + n <= T; n++) {
            if (n > 1 && cl_buf_putc(&key, ' ') != 0)
                goto nomem;
            if (cl_buf_append(&key, ti[i + n - 1].lw, ti[i + n - 1].lwlen) != 0)
                goto nomem;
            int32_t e = cl__crf_dict_find(&g->keys, key.data, key.len);
            if (e < 0)
                continue;
            uint32_t vis = gaz_visible(g, e, fold);
            if (vis) {
                best_len = n;
                best_types = vis;
            }
        }
        if (best_len > 0) {
            ti[i].gB |= best_types;
            for (int32_t k = 1; k < best_len; k++)
                ti[i + k].gI |= best_types;
        }
    }
    cl_buf_free(&key);
    return CL_OK;
nomem:
    cl_buf_free(&key);
    return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}

static const char *tokinfo_text(void *ud, int32_t i, size_t *n)
{
    const tokinfo *ti = ud;
    *n = ti[i].lwlen;
    return ti[i].lw;
}

/* Mark vocabulary terms (vocab.c's walk) into the tokens' vB / vI. */
static cl_status vocab_mark(const crf_vocab *v, tokinfo *ti, int32_t T, cl_error *err)
{
    if (!v || v->keys.n == 0)
        return CL_OK;
    uint32_t *m = calloc((size_t)T * 2, sizeof *m);
    if (!m)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = cl__crf_vocab_walk(v, T, tokinfo_text, ti, m, m + T, err);
    for (int32_t i = 0; st == CL_OK && i < T; i++) {
        ti[i].vB |= m[i];
        ti[i].vI |= m[T + i];
    }
    free(m);
    return st;
}

/* A small attribute builder: prefix + parts into a stack buffer. */
typedef struct abuf {
    char s[512];
    size_t n;
} abuf;

static void ab_set(abuf *a, const char *prefix)
{
    size_t n = strlen(prefix);
    memcpy(a->s, prefix, n);
    a->n = n;
}

static void ab_add(abuf *a, const char *s, size_t n)
{
    if (a->n + n >= sizeof a->s)
        n = sizeof a->s - 1 - a->n;
    memcpy(a->s + a->n, s, n);
    a->n += n;
}

static void ab_adds(abuf *a, const char *s) { ab_add(a, s, strlen(s)); }

#define EMIT(a)                                          \
    do {                                                 \
        if (emit(ud, t, (a)->s, (a)->n) != 0)            \
            goto stop;                                   \
    } while (0)

static const char *word_at(const tokinfo *ti, int32_t T, int32_t j)
{
    if (j < 0)
        return "<s>";
    if (j >= T)
        return "</s>";
    return ti[j].lw;
}

static const char *sshape_at(const tokinfo *ti, int32_t T, int32_t j)
{
    if (j < 0)
        return "<s>";
    if (j >= T)
        return "</s>";
    return ti[j].sshape;
}

static const char *shape_at(const tokinfo *ti, int32_t T, int32_t j)
{
    if (j < 0)
        return "<s>";
    if (j >= T)
        return "</s>";
    return ti[j].shape;
}

static const char *suffix3_at(const tokinfo *ti, int32_t T, int32_t j)
{
    if (j < 0)
        return "<s>";
    if (j >= T)
        return "</s>";
    int k = ti[j].ncp < 3 ? ti[j].ncp : 3;
    return ti[j].lw + ti[j].cp_off[ti[j].ncp - k];
}

static void gaz_emit_marks(abuf *a, const char *prefix, uint32_t B, uint32_t I,
                           const crf_gaz *g, int32_t t, crf_emit_fn emit, void *ud, int *fail,
                           char *const *types)
{
    for (int32_t k = 0; k < g->ntypes && !*fail; k++) {
        if (B & (1u << k)) {
            ab_set(a, prefix);
            ab_adds(a, "B-");
            ab_adds(a, types[k]);
            *fail = emit(ud, t, a->s, a->n) != 0;
        }
        if (!*fail && (I & (1u << k))) {
            ab_set(a, prefix);
            ab_adds(a, "I-");
            ab_adds(a, types[k]);
            *fail = emit(ud, t, a->s, a->n) != 0;
        }
    }
}

/* Gazetteer attributes name entity types by index ("g=B-2"): stable within
 * a model, whose type list is fixed. */
static char *const *type_index_names(void)
{
    static char *const names[CRF_MAX_TYPES] = {
        "0",  "1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10",
        "11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "21",
        "22", "23", "24", "25", "26", "27", "28", "29", "30", "31"};
    return names;
}

/* Gazetteer attributes of token t: its marks and its neighbours'. */
static int gaz_emit_around(const crf_gaz *gaz, const tokinfo *ti, int32_t T, int32_t t,
                           crf_emit_fn emit, void *ud)
{
    char *const *tnames = type_index_names();
    abuf a;
    int fail = 0;
    gaz_emit_marks(&a, "g=", ti[t].gB, ti[t].gI, gaz, t, emit, ud, &fail, tnames);
    if (!fail && t > 0)
        gaz_emit_marks(&a, "g-1=", ti[t - 1].gB, ti[t - 1].gI, gaz, t, emit, ud, &fail, tnames);
    if (!fail && t + 1 < T)
        gaz_emit_marks(&a, "g+1=", ti[t + 1].gB, ti[t + 1].gI, gaz, t, emit, ud, &fail, tnames);
    return fail ? -1 : 0;
}

/* Vocabulary attributes of token t: "v=B-PHENO", "v-1=I-ORPHA", ... for the
 * marks of t and its neighbours; -1 when emit fails. */
static int vocab_emit(const crf_vocab *v, const tokinfo *ti, int32_t T, int32_t t,
                      crf_emit_fn emit, void *ud)
{
    static const char *const pre[] = {"v-1=", "v=", "v+1="};
    abuf a;
    for (int d = -1; d <= 1; d++) {
        if (t + d < 0 || t + d >= T)
            continue;
        for (int32_t c = 0; c < v->ncats; c++)
            for (int bi = 0; bi < 2; bi++) {
                uint32_t m = bi ? ti[t + d].vI : ti[t + d].vB;
                if (!(m & (1u << c)))
                    continue;
                ab_set(&a, pre[d + 1]);
                ab_adds(&a, bi ? "I-" : "B-");
                ab_adds(&a, v->cat_names[c]);
                if (emit(ud, t, a.s, a.n) != 0)
                    return -1;
            }
    }
    return 0;
}

cl_status cl__crf_sentence_attrs(const crf_feat_config *cfg, const crf_gaz *gaz, int32_t fold,
                                 const crf_vocab *vocab, const crf_doc_ctx *dc, const cl_doc *doc,
                                 int32_t si, crf_emit_fn emit, void *ud, cl_error *err)
{
    if (si < 0 || si >= doc->nsentences)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentence %d out of range", doc->id, si);
    const cl_sentence *s = &doc->sentences[si];
    int32_t T = s->tok_end - s->tok_begin;
    if (T <= 0)
        return CL_OK;
    tokinfo *ti = malloc((size_t)T * sizeof *ti);
    if (!ti)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t t = 0; t < T; t++)
        token_info(doc, s->tok_begin + t, &ti[t]);
    cl_status st = CL_OK;
    if ((cfg->gazetteer && (st = gaz_mark(gaz, fold, ti, T, err)) != CL_OK) ||
        (st = vocab_mark(vocab, ti, T, err)) != CL_OK) {
        free(ti);
        return st;
    }
    abuf a;
    int depth = 0;
    int32_t t = 0;
    static const char *const wpre[] = {"w-2=", "w-1=", "w=", "w+1=", "w+2="};
    static const char *const sspre[] = {"ss-2=", "ss-1=", "ss=", "ss+1=", "ss+2="};
    static const char *const lenb[] = {"L=0", "L=1", "L=2", "L=3", "L=4", "L=5-6", "L=5-6",
                                       "L=7-9", "L=7-9", "L=7-9"};
    for (t = 0; t < T; t++) {
        const tokinfo *x = &ti[t];
        ab_set(&a, "b");
        EMIT(&a);
        int win = cfg->window < 0 ? 0 : (cfg->window > 2 ? 2 : cfg->window);
        for (int d = -win; d <= win; d++) {
            ab_set(&a, wpre[d + 2]);
            ab_adds(&a, word_at(ti, T, t + d));
            EMIT(&a);
            ab_set(&a, sspre[d + 2]);
            ab_adds(&a, sshape_at(ti, T, t + d));
            EMIT(&a);
        }
        if (win >= 1) {
            ab_set(&a, "w-1|w=");
            ab_adds(&a, word_at(ti, T, t - 1));
            ab_add(&a, "|", 1);
            ab_adds(&a, x->lw);
            EMIT(&a);
            ab_set(&a, "w|w+1=");
            ab_adds(&a, x->lw);
            ab_add(&a, "|", 1);
            ab_adds(&a, word_at(ti, T, t + 1));
            EMIT(&a);
            ab_set(&a, "s-1=");
            ab_adds(&a, shape_at(ti, T, t - 1));
            EMIT(&a);
            ab_set(&a, "s+1=");
            ab_adds(&a, shape_at(ti, T, t + 1));
            EMIT(&a);
            for (int d = -1; d <= 1; d += 2) { /* neighbours' 3-suffixes */
                ab_set(&a, d < 0 ? "x3-1=" : "x3+1=");
                ab_adds(&a, suffix3_at(ti, T, t + d));
                EMIT(&a);
            }
        }
        if (win >= 2) {
            ab_set(&a, "w-2|w-1=");
            ab_adds(&a, word_at(ti, T, t - 2));
            ab_add(&a, "|", 1);
            ab_adds(&a, word_at(ti, T, t - 1));
            EMIT(&a);
            ab_set(&a, "w+1|w+2=");
            ab_adds(&a, word_at(ti, T, t + 1));
            ab_add(&a, "|", 1);
            ab_adds(&a, word_at(ti, T, t + 2));
            EMIT(&a);
        }
        if (x->lwlen > 3 && x->lw[x->lwlen - 1] == 's' && x->lw[x->lwlen - 2] != 's') {
            ab_set(&a, "w~="); /* crude singular: "nodules" -> "nodule" */
            ab_add(&a, x->lw, (size_t)x->lwlen - 1);
            EMIT(&a);
        } else {
            ab_set(&a, "w~=");
            ab_adds(&a, x->lw);
            EMIT(&a);
        }
        ab_set(&a, "s=");
        ab_adds(&a, x->shape);
        EMIT(&a);
        for (int k = 1; k <= cfg->affix && k <= x->ncp; k++) {
            char pre[4] = {'p', (char)('0' + k), '=', 0};
            ab_set(&a, pre);
            ab_add(&a, x->lw, x->cp_off[k]);
            EMIT(&a);
            pre[0] = 'x';
            ab_set(&a, pre);
            ab_add(&a, x->lw + x->cp_off[x->ncp - k], (size_t)(x->lwlen - x->cp_off[x->ncp - k]));
            EMIT(&a);
        }
        static const struct {
            uint8_t bit;
            const char *name;
        } flags[] = {{F_INITCAP, "INITCAP"}, {F_ALLCAP, "ALLCAP"},   {F_MIXCAP, "MIXCAP"},
                     {F_ALLDIGIT, "ALLDIGIT"}, {F_HASDIGIT, "HASDIGIT"}, {F_HYPHEN, "HYPHEN"},
                     {F_PUNCT, "PUNCT"}};
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
            if (x->flags & flags[k].bit) {
                ab_set(&a, flags[k].name);
                EMIT(&a);
            }
        }
        ab_set(&a, x->ncp < 10 ? lenb[x->ncp] : "L=10+");
        EMIT(&a);
        if (depth > 0) {
            ab_set(&a, "INPAREN");
            EMIT(&a);
        }
        if (t == 0) {
            ab_set(&a, "BOS");
            EMIT(&a);
        }
        if (t == T - 1) {
            ab_set(&a, "EOS");
            EMIT(&a);
        }
        if (cfg->gazetteer && gaz && gaz_emit_around(gaz, ti, T, t, emit, ud) != 0)
            goto stop;
        if (vocab && vocab->keys.n > 0 && vocab_emit(vocab, ti, T, t, emit, ud) != 0)
            goto stop;
        for (int32_t k = 0; dc && k < dc->n; k++)
            if (emit(ud, t, dc->attrs[k], dc->lens[k]) != 0)
                goto stop;
        depth += x->paren;
        if (depth < 0)
            depth = 0;
    }
    free(ti);
    return CL_OK;
stop:
    free(ti);
    return cl_error_set(err, CL_ERR_NOMEM, "out of memory while extracting features");
}
