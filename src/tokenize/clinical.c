/*
 * clinical.c - clinner's default tokenizer and sentence splitter, built for
 * the clinical and rare-disease text of NORD-like articles.
 *
 * Why not the paper's rules: they split on whitespace and peel ASCII
 * punctuation from the ends of each piece only, so entity boundaries at a
 * curly quote (“spina bifida”), a slash (epileptic/infantile spasms), a
 * possessive (the disorder’s) or an inner parenthesis (tumor(s)) fall
 * inside tokens, and every "word." ends a sentence, "e.g." included.
 *
 * Tokens, scanning the text once (offsets are code points):
 *  - Whitespace is Python's set plus U+200B, U+2060 and U+FEFF; it only
 *    separates.  Other control characters separate as well.
 *  - Punctuation (Unicode P*) and symbols (S*) are one token per character,
 *    except runs of two or more "." (ellipsis) or "-" ("--"), which are one.
 *  - A word is a run of other characters (letters, digits, marks, ...) that
 *    may continue across:
 *      an intra-word hyphen (- U+2010 U+2011) between word characters:
 *        "AP-4-associated", "X-linked", "COVID-19" stay one token.  The
 *        hyphen is split off only before a few combining words that attach
 *        to an entity ("influenza-like", "HIV-positive", "CCHS-related")
 *        and after "anti" ("anti-GERD"): in RareDis 17 of 1,551 intra-word
 *        hyphens are entity boundaries and these lists cover most of them;
 *      "." or "," between digits (3.5, 1,000; a comma only before exactly
 *        three digits);
 *      an apostrophe (' or U+2019) between letters (O'Brien), except a
 *        final possessive "'s", which becomes its own token (Crohn ’s).
 *  - A number directly followed by a unit from a short list is split:
 *    "10mg" -> "10" "mg" (but "3q", "2G", "1990s" stay whole).
 *  - Abbreviations keep their period: dotted ones of one- or two-letter
 *    groups (e.g. i.e. U.S. Ph.D.), the words of a list (Dr. vs. al.
 *    approx. Fig. ...) and single-letter initials followed by a lowercase
 *    word (E. coli).  A period before digits starts a number (.17).
 *
 * Sentences end
 *  - after ".", "?", "!", "...", "…" (and some list abbreviations such as
 *    "etc.") plus any closing quotes/brackets attached to them, when
 *    whitespace follows and the next token starts with an uppercase
 *    letter, a digit or an opening quote/bracket, or the text ends;
 *  - at every line break (NORD paragraphs and headings are lines).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenize/tok_internal.h"

enum cclass { C_SPACE, C_WORD, C_PUNCT, C_SYMBOL };

static enum cclass classify(int32_t c)
{
    if (cl_uc_is_python_space(c) || c == 0x200B || c == 0x2060 || c == 0xFEFF)
        return C_SPACE;
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0))
        return C_SPACE; /* other control characters */
    if (cl_uc_is_punct(c))
        return C_PUNCT;
    if (cl_uc_is_symbol(c))
        return C_SYMBOL;
    return C_WORD;
}

static bool is_word(const int32_t *cps, int32_t n, int32_t i)
{
    return i >= 0 && i < n && classify(cps[i]) == C_WORD;
}

static bool is_hyphen(int32_t c) { return c == '-' || c == 0x2010 || c == 0x2011; }
static bool is_apostrophe(int32_t c) { return c == '\'' || c == 0x2019; }
static bool is_ascii_digit(int32_t c) { return c >= '0' && c <= '9'; }

static bool is_newline(int32_t c)
{
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x85 || c == 0x2028 ||
           c == 0x2029;
}

static bool is_opening(int32_t c)
{
    return c == '(' || c == '[' || c == '{' || c == '"' || c == '\'' || c == 0x201C ||
           c == 0x2018 || c == 0x201E || c == 0x201A || c == 0xAB || c == 0x2039 ||
           c == 0x3008 || c == 0xBF || c == 0xA1;
}

static bool is_closing(int32_t c)
{
    return c == ')' || c == ']' || c == '}' || c == '"' || c == '\'' || c == 0x201D ||
           c == 0x2019 || c == 0xBB || c == 0x203A || c == 0x3009;
}

/* Copy cps[s, e) into buf as ASCII when it is all ASCII and fits. */
static bool ascii_word(const int32_t *cps, int32_t s, int32_t e, char *buf, size_t cap)
{
    if (e - s <= 0 || (size_t)(e - s) >= cap)
        return false;
    for (int32_t k = s; k < e; k++) {
        if (cps[k] <= 0 || cps[k] > 0x7E)
            return false;
        buf[k - s] = (char)cps[k];
    }
    buf[e - s] = '\0';
    return true;
}

static bool in_list(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(w, *list) == 0)
            return true;
    return false;
}

/* Words written with a period that does not end a sentence. */
static const char *const abbrev_never_end[] = {
    "approx", "Approx", "vs", "al", "cf", "Cf", "ca", "viz", "Dr", "Drs", "Mr", "Mrs",
    "Ms", "Prof", "St", "Jr", "Sr", "Fig", "Figs", "fig", "figs", "No", "Nos", "Vol",
    "vol", "pp", "Eq", "eq", "Ref", "ref", "Ch", "Sec", "Suppl", "suppl", "esp", "resp",
    "incl", "Dept", "Univ", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep",
    "Sept", "Oct", "Nov", "Dec", "sp", "spp", "subsp", "var", "ed", "eds", NULL,
};
/* Abbreviations that often close a sentence too ("..., etc. The"). */
static const char *const abbrev_may_end[] = {
    "etc", "Inc", "Ltd", "Co", "Corp", "min", "hr", "hrs", "yr", "yrs", "wk", "wks",
    "mo", "mos", NULL,
};
/* Units split from a number written against them ("10mg"). */
static const char *const units[] = {
    "mg", "g", "kg", "mcg", "µg", "μg", "ng", "pg", "ml", "mL", "dl", "dL", "µl", "μl",
    "µL", "μL", "mm", "cm", "km", "µm", "μm", "nm", "mmol", "µmol", "μmol", "nmol",
    "mol", "mEq", "IU", "kDa", "bp", "kb", "Mb", "Gy", "cGy", "mSv", "hr", "hrs", "min",
    "sec", "ms", "wk", "wks", "mo", "yr", "yrs", "Hz", "kHz", "dB", "mmHg", NULL,
};
/* Words after which an intra-word hyphen is split off ("influenza-like"). */
static const char *const hyphen_suffixes[] = {
    "like", "related", "infected", "positive", "negative", "defining", "causing",
    "induced", "mediated", "dependent", "specific", "shaped", "containing",
    "deficient", "resistant", "based", "free", NULL,
};
static const char *const hyphen_prefixes[] = {"anti", "Anti", NULL};

/* UTF-8 copy of cps[s, e) into buf (for the unit list, which has µ). */
static bool utf8_word(const int32_t *cps, int32_t s, int32_t e, char *buf, size_t cap)
{
    size_t len = 0;
    for (int32_t k = s; k < e; k++) {
        if (len + 5 > cap)
            return false;
        len += (size_t)cl_utf8_encode(cps[k], buf + len);
    }
    buf[len] = '\0';
    return e > s;
}

static bool lower_in(const int32_t *cps, int32_t s, int32_t e, const char *const *list)
{
    char w[32];
    if (!ascii_word(cps, s, e, w, sizeof w))
        return false;
    for (char *p = w; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return in_list(w, list);
}

/* Length of a dotted abbreviation at i ("e.g.", "U.S.", "Ph.D."): two or
 * more groups of one or two letters, each followed by "."; 0 if none. */
static int32_t dotted_abbrev(const int32_t *cps, int32_t n, int32_t i)
{
    int32_t k = i, groups = 0;
    for (;;) {
        int32_t g = k;
        while (g < n && g - k < 3 && cl_uc_is_alpha(cps[g]))
            g++;
        if (g - k < 1 || g - k > 2 || g >= n || cps[g] != '.')
            break;
        k = g + 1;
        groups++;
    }
    if (groups < 2 || is_word(cps, n, k))
        return 0;
    return k - i;
}

/* Whether the hyphen at h (inside the word that began at ws) is split off. */
static bool split_hyphen(const int32_t *cps, int32_t n, int32_t ws, int32_t h)
{
    int32_t ls = h; /* part before: back to the word start or an earlier hyphen */
    while (ls > ws && !is_hyphen(cps[ls - 1]))
        ls--;
    int32_t re = h + 1;
    while (re < n && classify(cps[re]) == C_WORD)
        re++;
    return lower_in(cps, h + 1, re, hyphen_suffixes) || lower_in(cps, ls, h, hyphen_prefixes);
}

/* End of the word that starts at i (cps[i] is a word character). */
static int32_t scan_word(const int32_t *cps, int32_t n, int32_t i)
{
    int32_t j = i;
    for (;;) {
        while (j < n && classify(cps[j]) == C_WORD)
            j++;
        if (j + 1 >= n || !is_word(cps, n, j + 1) || j == i)
            return j;
        int32_t c = cps[j];
        if (is_hyphen(c) && !split_hyphen(cps, n, i, j)) {
            j++;
            continue;
        }
        if (c == '.' && is_ascii_digit(cps[j - 1]) && is_ascii_digit(cps[j + 1])) {
            j++;
            continue;
        }
        if (c == ',' && is_ascii_digit(cps[j - 1]) && j + 3 < n &&
            is_ascii_digit(cps[j + 1]) && is_ascii_digit(cps[j + 2]) &&
            is_ascii_digit(cps[j + 3]) && (j + 4 >= n || !is_ascii_digit(cps[j + 4]))) {
            j++;
            continue;
        }
        if (is_apostrophe(c) && cl_uc_is_alpha(cps[j - 1]) && cl_uc_is_alpha(cps[j + 1])) {
            bool possessive = (cps[j + 1] == 's' || cps[j + 1] == 'S') && !is_word(cps, n, j + 2);
            if (!possessive) {
                j++;
                continue;
            }
        }
        return j;
    }
}

/* Where the unit starts inside word [s, e) ("10mg" -> 2), or e when the word
 * is not a number written against a listed unit. */
static int32_t unit_split(const int32_t *cps, int32_t s, int32_t e)
{
    int32_t k = s;
    while (k < e && (is_ascii_digit(cps[k]) || cps[k] == '.' || cps[k] == ','))
        k++;
    if (k == s || k == e || !is_ascii_digit(cps[k - 1]))
        return e;
    char w[32];
    if (utf8_word(cps, k, e, w, sizeof w) && in_list(w, units))
        return k;
    return e;
}

enum { F_TERM = 1, F_CLOSE = 2 };

typedef struct tok_list {
    cl_doc *doc;
    unsigned char *flags;
    int32_t cap;
} tok_list;

static cl_status push(tok_list *tl, int32_t s, int32_t e, unsigned char flags, cl_error *err)
{
    cl_status st = cl_doc_push_token(tl->doc, s, e, err);
    if (st != CL_OK)
        return st;
    if (tl->doc->ntokens > tl->cap) {
        int32_t nc = tl->cap ? tl->cap * 2 : 256;
        unsigned char *p = realloc(tl->flags, (size_t)nc);
        if (!p)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        tl->flags = p;
        tl->cap = nc;
    }
    tl->flags[tl->doc->ntokens - 1] = flags;
    return CL_OK;
}

static cl_status tokens(tok_list *tl, const int32_t *cps, cl_error *err)
{
    int32_t n = tl->doc->index.nchars;
    int32_t i = 0;
    cl_status st = CL_OK;
    while (i < n && st == CL_OK) {
        int32_t c = cps[i];
        enum cclass cc = classify(c);
        if (cc == C_SPACE) {
            i++;
            continue;
        }
        if (cc == C_SYMBOL) {
            st = push(tl, i, i + 1, 0, err);
            i++;
            continue;
        }
        if (cc == C_PUNCT) {
            int32_t j = i + 1;
            if (c == '.' || c == '-')
                while (j < n && cps[j] == c)
                    j++;
            if (is_apostrophe(c) && j < n && (cps[j] == 's' || cps[j] == 'S') &&
                !is_word(cps, n, j + 1) && is_word(cps, n, i - 1)) {
                st = push(tl, i, i + 2, 0, err); /* possessive 's */
                i += 2;
                continue;
            }
            if (c == '.' && j == i + 1 && j < n && is_ascii_digit(cps[j]) &&
                !is_word(cps, n, i - 1)) {
                int32_t e = scan_word(cps, n, j); /* ".17" */
                st = push(tl, i, e, 0, err);
                i = e;
                continue;
            }
            unsigned char f = 0;
            if (c == '.' || c == '?' || c == '!' || c == 0x2026 || c == 0x203C || c == 0x2047)
                f |= F_TERM;
            if (j == i + 1 && is_closing(c))
                f |= F_CLOSE;
            st = push(tl, i, j, f, err);
            i = j;
            continue;
        }
        int32_t d = dotted_abbrev(cps, n, i);
        if (d > 0) {
            st = push(tl, i, i + d, 0, err);
            i += d;
            continue;
        }
        int32_t j = scan_word(cps, n, i);
        char w[32];
        if (j < n && cps[j] == '.' && !is_word(cps, n, j + 1) && ascii_word(cps, i, j, w, sizeof w)) {
            bool never = in_list(w, abbrev_never_end), may = in_list(w, abbrev_may_end);
            if (never || may) {
                st = push(tl, i, j + 1, may ? F_TERM : 0, err);
                i = j + 1;
                continue;
            }
        }
        if (j == i + 1 && cl_uc_is_alpha(cps[i]) && j + 2 < n && cps[j] == '.' &&
            classify(cps[j + 1]) == C_SPACE && cl_uc_is_alpha(cps[j + 2]) &&
            !cl_uc_is_upper(cps[j + 2])) {
            st = push(tl, i, j + 1, 0, err); /* an initial: "E. coli", "T. p. endemicum" */
            i = j + 1;
            continue;
        }
        int32_t u = unit_split(cps, i, j);
        if (u < j && (st = push(tl, i, u, 0, err)) != CL_OK)
            break;
        st = push(tl, u < j ? u : i, j, 0, err);
        i = j;
    }
    return st;
}

/* Sentence boundaries: after terminators (plus attached closing marks) that
 * are followed by whitespace and a sentence-opening token or the end, and
 * wherever the whitespace between two tokens holds a line break. */
static cl_status sentences(tok_list *tl, const int32_t *cps, cl_error *err)
{
    cl_doc *doc = tl->doc;
    int32_t begin = 0;
    cl_status st = CL_OK;
    for (int32_t t = 0; t < doc->ntokens && st == CL_OK; t++) {
        int32_t last = t; /* last token of the sentence if it ends here */
        bool end = false;
        if (tl->flags[t] & F_TERM) {
            while (last + 1 < doc->ntokens && (tl->flags[last + 1] & F_CLOSE) &&
                   doc->tokens[last + 1].start == doc->tokens[last].end)
                last++;
            if (last + 1 == doc->ntokens) {
                end = true;
            } else if (doc->tokens[last + 1].start > doc->tokens[last].end) {
                int32_t c = cps[doc->tokens[last + 1].start];
                end = cl_uc_is_upper(c) || cl_uc_is_digit(c) || is_opening(c) ||
                      (!cl_uc_is_alpha(c) && classify(c) == C_WORD);
            }
        }
        if (!end && last + 1 < doc->ntokens) {
            for (int32_t k = doc->tokens[last].end; k < doc->tokens[last + 1].start; k++)
                if (is_newline(cps[k]))
                    end = true;
        }
        if (end || last + 1 == doc->ntokens) {
            st = cl_doc_push_sentence(doc, begin, last + 1, err);
            begin = last + 1;
            t = last;
        }
    }
    return st;
}

cl_status cl_tok_clinical(cl_doc *doc, const int32_t *cps, cl_error *err)
{
    tok_list tl = {doc, NULL, 0};
    cl_status st = tokens(&tl, cps, err);
    if (st == CL_OK)
        st = sentences(&tl, cps, err);
    free(tl.flags);
    return st;
}
