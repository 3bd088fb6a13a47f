/*
 * html.c - the scorer's report for people: one self-contained HTML page
 * (inline CSS and SVG, no scripts, nothing fetched) that compares one or
 * more results side by side.
 *
 *   - a summary table (the paper's average, micro F1, misaligned answers);
 *   - precision, recall and F1 per paper type and the paper's average as
 *     grouped bar charts, one bar per result, with the values written on
 *     the bars (and every type's scores in a table below);
 *   - the error breakdown (correct, boundary, type, boundary and type,
 *     false positive, false negative) as a grouped bar chart;
 *   - a type confusion matrix per result (eval.h's confusion cells);
 *   - the examples of each error kind with the gold and predicted spans
 *     highlighted in the sentence.  The scorer marks them as [[..]]TYPE
 *     (gold) and {{..}}TYPE (predicted); they may cross, so the sentence is
 *     cut into runs, each run styled by the spans it lies in.
 *
 * Everything here reads a cl_eval_result; nothing is scored again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static const char *const series_colors[] = {"#2f6fde", "#e0803b", "#2e9e6a", "#9b59b6",
                                            "#c0392b", "#16a085", "#7f8c8d", "#d4ac0d"};
#define NCOLORS (int)(sizeof series_colors / sizeof series_colors[0])

static const char *const class_titles[CL_ERRC_COUNT] = {
    "correct", "boundary", "wrong type", "boundary and type", "false positive",
    "false negative"};

static int esc(cl_buf *o, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        switch (s[i]) {
        case '&': rc = cl_buf_puts(o, "&amp;"); break;
        case '<': rc = cl_buf_puts(o, "&lt;"); break;
        case '>': rc = cl_buf_puts(o, "&gt;"); break;
        case '"': rc = cl_buf_puts(o, "&quot;"); break;
        default: rc = cl_buf_putc(o, s[i]);
        }
    }
    return rc;
}

static int escs(cl_buf *o, const char *s) { return s ? esc(o, s, strlen(s)) : 0; }

/* ".3214" for 0.3214, "1.000" for 1 */
static void short_num(char *b, size_t n, double v)
{
    snprintf(b, n, "%.4f", v);
    if (b[0] == '0' && b[1] == '.')
        memmove(b, b + 1, strlen(b));
}

/* ---- SVG: grouped bars ---- */

typedef struct bars {
    const char *title;
    int ngroups, nseries;
    const char *const *groups;
    const char *const *series;
    const double *v; /* ngroups * nseries, group-major */
    bool fraction;   /* values in [0, 1] (else counts, scaled to the largest) */
} bars;

static int svg_bars(cl_buf *o, const bars *b)
{
    const int bw = b->nseries > 3 ? 14 : 22, left = 44, top = 64, h = 200; /* room above a bar for its value */
    int gap = 18, gw = b->nseries * bw + gap;
    if (gw < 96) { /* room for the longest type name under its group */
        gap += 96 - gw;
        gw = 96;
    }
    int width = left + b->ngroups * gw + 20, height = top + h + 30 + 18 * b->nseries;
    double max = 1.0;
    if (!b->fraction) {
        max = 1;
        for (int i = 0; i < b->ngroups * b->nseries; i++)
            if (b->v[i] > max)
                max = b->v[i];
    }
    int rc = cl_buf_printf(o,
                           "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                           "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>",
                           width, height, width, height);
    rc |= escs(o, b->title);
    rc |= cl_buf_printf(o, "</title><text x=\"%d\" y=\"18\" class=\"ct\">", left);
    rc |= escs(o, b->title);
    rc |= cl_buf_puts(o, "</text>");
    for (int t = 0; t <= 4; t++) { /* grid */
        double y = top + h - h * t / 4.0;
        char lab[32];
        if (b->fraction)
            snprintf(lab, sizeof lab, "%.2f", t / 4.0);
        else
            snprintf(lab, sizeof lab, "%.0f", max * t / 4.0);
        rc |= cl_buf_printf(o,
                            "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                            "<text x=\"%d\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">%s</text>",
                            left, width - 10, y, y, left - 6, y + 4, lab);
    }
    for (int g = 0; g < b->ngroups && rc == 0; g++) {
        int x0 = left + g * gw + gap / 2;
        for (int s = 0; s < b->nseries; s++) {
            double v = b->v[g * b->nseries + s], bh = h * (v / max);
            char lab[32];
            if (b->fraction)
                short_num(lab, sizeof lab, v);
            else
                snprintf(lab, sizeof lab, "%.0f", v);
            int x = x0 + s * bw;
            rc |= cl_buf_printf(o,
                                "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
                                "fill=\"%s\"><title>",
                                x, top + h - bh, bw - 2, bh, series_colors[s % NCOLORS]);
            rc |= escs(o, b->series[s]);
            rc |= cl_buf_printf(o, " - %s: %s</title></rect>", b->groups[g], lab);
            rc |= cl_buf_printf(o,
                                "<text x=\"%.1f\" y=\"%.1f\" class=\"val\" transform=\"rotate(-90 "
                                "%.1f %.1f)\">%s</text>",
                                x + bw / 2.0 + 3, top + h - bh - 3, x + bw / 2.0 + 3,
                                top + h - bh - 3, lab);
        }
        rc |= cl_buf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"gl\" text-anchor=\"middle\">",
                            x0 + b->nseries * bw / 2, top + h + 16);
        rc |= escs(o, b->groups[g]);
        rc |= cl_buf_puts(o, "</text>");
    }
    for (int s = 0; s < b->nseries && rc == 0; s++) { /* legend */
        int y = top + h + 26 + 18 * s, x = left;
        rc |= cl_buf_printf(o,
                            "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                            "<text x=\"%d\" y=\"%d\" class=\"ax\">",
                            x, y, series_colors[s % NCOLORS], x + 16, y + 10);
        rc |= escs(o, b->series[s]);
        rc |= cl_buf_puts(o, "</text>");
    }
    rc |= cl_buf_puts(o, "</svg>\n");
    return rc;
}

/* ---- sections ---- */

static const cl_prf *type_prf(const cl_eval_result *r, const char *type)
{
    static const cl_prf zero = {0, 0, 0, 0};
    const cl_type_score *t = cl_eval_result_type(r, type);
    return t ? &t->prf : &zero;
}

static int section_charts(cl_buf *o, const cl_eval_result *const *rs, const char *const *names,
                          int n)
{
    const char *groups[CL_NUM_PAPER_TYPES + 1];
    for (int g = 0; g < CL_NUM_PAPER_TYPES; g++)
        groups[g] = cl_paper_types[g];
    groups[CL_NUM_PAPER_TYPES] = "average (paper)";
    static const char *const titles[3] = {"F1 per type", "Precision per type",
                                          "Recall per type"};
    double *v = calloc((size_t)(CL_NUM_PAPER_TYPES + 1) * (size_t)n, sizeof *v);
    if (!v)
        return -1;
    int rc = cl_buf_puts(o, "<h2 id=\"types\">Scores per type</h2><div class=\"charts\">\n");
    for (int m = 0; m < 3 && rc == 0; m++) {
        for (int g = 0; g <= CL_NUM_PAPER_TYPES; g++) {
            for (int s = 0; s < n; s++) {
                const cl_prf *p = g < CL_NUM_PAPER_TYPES ? type_prf(rs[s], groups[g])
                                                         : &rs[s]->average;
                v[g * n + s] = m == 0 ? p->f1 : m == 1 ? p->precision : p->recall;
            }
        }
        bars b = {titles[m], CL_NUM_PAPER_TYPES + 1, n, groups, names, v, true};
        rc = svg_bars(o, &b);
    }
    free(v);
    return rc | cl_buf_puts(o, "</div>\n");
}

static int prf_cells(cl_buf *o, const cl_prf *p)
{
    return cl_buf_printf(o, "<td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%lld</td>", p->precision,
                         p->recall, p->f1, (long long)p->support);
}

static int section_summary(cl_buf *o, const cl_eval_result *const *rs, const char *const *names,
                           int n)
{
    int rc = cl_buf_puts(o, "<h2 id=\"summary\">Summary</h2><table class=\"num\"><tr><th></th>"
                            "<th colspan=4>average (paper: mean over the five types)</th>"
                            "<th>micro F1</th><th>sentences / documents</th>"
                            "<th>misaligned answers</th></tr><tr><th></th><th>precision</th>"
                            "<th>recall</th><th>F1</th><th>support</th><th></th><th></th><th></th>"
                            "</tr>\n");
    for (int s = 0; s < n && rc == 0; s++) {
        rc |= cl_buf_printf(o, "<tr><th><span class=\"sw\" style=\"background:%s\"></span>",
                            series_colors[s % NCOLORS]);
        rc |= escs(o, names[s]);
        rc |= cl_buf_puts(o, "</th>");
        rc |= prf_cells(o, &rs[s]->average);
        rc |= cl_buf_printf(o, "<td>%.4f</td><td>%lld</td><td>", rs[s]->micro.f1,
                            (long long)rs[s]->units);
        if (rs[s]->misaligned >= 0)
            rc |= cl_buf_printf(o, "%lld", (long long)rs[s]->misaligned);
        else
            rc |= cl_buf_puts(o, "n/a");
        rc |= cl_buf_puts(o, "</td></tr>\n");
    }
    return rc | cl_buf_puts(o, "</table>\n");
}

/* Every type any result has, in the first result's order, then the rest. */
static int section_type_table(cl_buf *o, const cl_eval_result *const *rs,
                              const char *const *names, int n)
{
    int rc = cl_buf_puts(o, "<details><summary>every type, every average</summary>"
                            "<table class=\"num\"><tr><th>type</th>");
    for (int s = 0; s < n; s++) {
        rc |= cl_buf_puts(o, "<th colspan=4>");
        rc |= escs(o, names[s]);
        rc |= cl_buf_puts(o, "</th>");
    }
    rc |= cl_buf_puts(o, "</tr><tr><th></th>");
    for (int s = 0; s < n; s++)
        rc |= cl_buf_puts(o, "<th>P</th><th>R</th><th>F1</th><th>support</th>");
    rc |= cl_buf_puts(o, "</tr>\n");
    for (int s = 0; s < n && rc == 0; s++) {
        for (int32_t t = 0; t < rs[s]->ntypes && rc == 0; t++) {
            const char *type = rs[s]->types[t].type;
            bool seen = false;
            for (int s2 = 0; s2 < s && !seen; s2++)
                seen = cl_eval_result_type(rs[s2], type) != NULL;
            if (seen)
                continue;
            rc |= cl_buf_puts(o, "<tr><th>");
            rc |= escs(o, type);
            rc |= cl_buf_puts(o, "</th>");
            for (int s2 = 0; s2 < n; s2++)
                rc |= prf_cells(o, type_prf(rs[s2], type));
            rc |= cl_buf_puts(o, "</tr>\n");
        }
    }
    static const char *const avg_names[4] = {"micro avg", "macro avg", "weighted avg",
                                             "average (paper)"};
    for (int a = 0; a < 4 && rc == 0; a++) {
        rc |= cl_buf_printf(o, "<tr class=\"avg\"><th>%s</th>", avg_names[a]);
        for (int s = 0; s < n; s++) {
            const cl_eval_result *r = rs[s];
            rc |= prf_cells(o, a == 0   ? &r->micro
                               : a == 1 ? &r->macro
                               : a == 2 ? &r->weighted
                                        : &r->average);
        }
        rc |= cl_buf_puts(o, "</tr>\n");
    }
    return rc | cl_buf_puts(o, "</table></details>\n");
}

static int section_errors_chart(cl_buf *o, const cl_eval_result *const *rs,
                                const char *const *names, int n)
{
    double *v = calloc((size_t)CL_ERRC_COUNT * (size_t)n, sizeof *v);
    if (!v)
        return -1;
    for (int c = 0; c < CL_ERRC_COUNT; c++)
        for (int s = 0; s < n; s++)
            v[c * n + s] = rs[s]->has_errors ? (double)rs[s]->errors.count[c] : 0;
    bars b = {"Entities by error class",
              CL_ERRC_COUNT, n, class_titles, names, v, false};
    int rc = cl_buf_puts(o, "<h2 id=\"errors\">Error breakdown</h2>\n<p class=\"note\">Each "
                            "predicted entity is correct, has the right span but the wrong type, "
                            "overlaps a gold entity of its type (boundary), overlaps only gold "
                            "entities of other types (boundary and type), or overlaps none "
                            "(false positive); a gold entity no prediction overlaps is a false "
                            "negative.</p>\n");
    rc |= svg_bars(o, &b);
    free(v);
    return rc;
}

/* ---- the type confusion ---- */

/* Add name to list (n entries, cap 64) when new; "" (none) is kept apart. */
static void add_name(const char **list, int *n, const char *name)
{
    if (!*name)
        return;
    for (int i = 0; i < *n; i++)
        if (!strcmp(list[i], name))
            return;
    if (*n < 64)
        list[(*n)++] = name;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int64_t confusion_count(const cl_eval_errors *e, const char *g, const char *p)
{
    for (int32_t i = 0; i < e->nconfusion; i++)
        if (!strcmp(e->confusion[i].gold, g) && !strcmp(e->confusion[i].pred, p))
            return e->confusion[i].count;
    return 0;
}

static int confusion_table(cl_buf *o, const cl_eval_errors *e)
{
    const char *types[65];
    int nt = 0;
    int64_t max = 1;
    for (int32_t i = 0; i < e->nconfusion; i++) {
        add_name(types, &nt, e->confusion[i].gold);
        add_name(types, &nt, e->confusion[i].pred);
        if (e->confusion[i].count > max)
            max = e->confusion[i].count;
    }
    qsort(types, (size_t)nt, sizeof *types, cmp_str);
    types[nt] = ""; /* none */
    int rc = cl_buf_puts(o, "<table class=\"conf\"><tr><th class=\"corner\">gold \\ "
                            "predicted</th>");
    for (int j = 0; j <= nt; j++) {
        rc |= cl_buf_puts(o, "<th class=\"colh\">");
        rc |= j < nt ? escs(o, types[j]) : cl_buf_puts(o, "<i>none</i>");
        rc |= cl_buf_puts(o, "</th>");
    }
    rc |= cl_buf_puts(o, "</tr>\n");
    for (int i = 0; i <= nt && rc == 0; i++) {
        rc |= cl_buf_puts(o, "<tr><th>");
        rc |= i < nt ? escs(o, types[i]) : cl_buf_puts(o, "<i>none</i>");
        rc |= cl_buf_puts(o, "</th>");
        for (int j = 0; j <= nt; j++) {
            int64_t c = i == nt && j == nt ? 0 : confusion_count(e, types[i], types[j]);
            double a = c > 0 ? 0.08 + 0.8 * (double)c / (double)max : 0;
            const char *rgb = i == j && i < nt ? "46,158,106" : "224,128,59";
            rc |= cl_buf_printf(o, "<td style=\"background:rgba(%s,%.2f)\">", rgb, a);
            rc |= c > 0 ? cl_buf_printf(o, "%lld", (long long)c) : cl_buf_puts(o, "&middot;");
            rc |= cl_buf_puts(o, "</td>");
        }
        rc |= cl_buf_puts(o, "</tr>\n");
    }
    return rc | cl_buf_puts(o, "</table>\n");
}

static int section_confusion(cl_buf *o, const cl_eval_result *const *rs,
                             const char *const *names, int n)
{
    int rc = cl_buf_puts(o, "<h2 id=\"confusion\">Type confusion</h2>\n<p class=\"note\">Each "
                            "predicted entity against the gold entity its error class names "
                            "(<i>none</i>: a false positive); each missed gold entity against "
                            "<i>none</i>.  Green: same type.</p><div class=\"side\">\n");
    for (int s = 0; s < n && rc == 0; s++) {
        rc |= cl_buf_puts(o, "<div><h3>");
        rc |= escs(o, names[s]);
        rc |= cl_buf_puts(o, "</h3>");
        rc |= rs[s]->has_errors ? confusion_table(o, &rs[s]->errors)
                                : cl_buf_puts(o, "<p class=\"note\">not collected</p>");
        rc |= cl_buf_puts(o, "</div>\n");
    }
    return rc | cl_buf_puts(o, "</div>\n");
}

/* ---- examples ---- */

/* Length of a type name at s: the longest of the result's types that s
 * starts with, else the run of letters, digits, '_' and '-'. */
static size_t type_len(const char *s, const cl_eval_result *r)
{
    size_t best = 0;
    for (int32_t t = 0; t < r->ntypes; t++) {
        size_t k = strlen(r->types[t].type);
        if (k > best && !strncmp(s, r->types[t].type, k))
            best = k;
    }
    if (best)
        return best;
    while (s[best] && (s[best] == '_' || s[best] == '-' || (s[best] >= 'A' && s[best] <= 'Z') ||
                       (s[best] >= 'a' && s[best] <= 'z') || (s[best] >= '0' && s[best] <= '9')))
        best++;
    return best;
}

/* The scorer's marked sentence as HTML: runs inside gold spans get class g,
 * inside predicted spans class p; each span's type follows its end.  A
 * run's <span> opens only when it has text. */
static int marked_sentence(cl_buf *o, const char *s, const cl_eval_result *r)
{
    bool g = false, p = false, open = false;
    int rc = 0;
    size_t i = 0, n = strlen(s);
    while (i < n && rc == 0) {
        bool gopen = !strncmp(s + i, "[[", 2), popen = !strncmp(s + i, "{{", 2);
        bool gclose = !strncmp(s + i, "]]", 2), pclose = !strncmp(s + i, "}}", 2);
        if ((gopen && !g) || (popen && !p) || (gclose && g) || (pclose && p)) {
            if (open)
                rc |= cl_buf_puts(o, "</span>");
            open = false;
            i += 2;
            if (gopen || popen) {
                g |= gopen;
                p |= popen;
                continue;
            }
            size_t k = type_len(s + i, r);
            rc |= cl_buf_printf(o, "<sup class=\"%s\">", gclose ? "gt" : "pt");
            rc |= esc(o, s + i, k);
            rc |= cl_buf_puts(o, "</sup>");
            i += k;
            g &= !gclose;
            p &= !pclose;
            continue;
        }
        size_t j = i + 1;
        while (j < n && strncmp(s + j, "[[", 2) && strncmp(s + j, "{{", 2) &&
               strncmp(s + j, "]]", 2) && strncmp(s + j, "}}", 2))
            j++;
        if (!open && (g || p)) {
            rc |= cl_buf_printf(o, "<span class=\"%s\">", g && p ? "g p" : g ? "g" : "p");
            open = true;
        }
        rc |= esc(o, s + i, j - i);
        i = j;
    }
    if (open)
        rc |= cl_buf_puts(o, "</span>");
    return rc;
}

static int section_examples(cl_buf *o, const cl_eval_result *const *rs,
                            const char *const *names, int n)
{
    int rc = cl_buf_puts(o, "<h2 id=\"examples\">Examples of each kind</h2>\n<p class=\"note\">"
                            "<span class=\"g\">gold span</span><sup class=\"gt\">TYPE</sup> "
                            "&nbsp; <span class=\"p\">predicted span</span><sup class=\"pt\">"
                            "TYPE</sup> &nbsp; <span class=\"g p\">both</span></p>\n");
    for (int c = 0; c < CL_ERRC_COUNT && rc == 0; c++) {
        rc |= cl_buf_printf(o, "<h3>%s</h3><div class=\"side\">\n", class_titles[c]);
        for (int s = 0; s < n && rc == 0; s++) {
            const cl_eval_errors *e = &rs[s]->errors;
            rc |= cl_buf_puts(o, "<div><h4>");
            rc |= escs(o, names[s]);
            rc |= cl_buf_printf(o, " <span class=\"note\">(%lld)</span></h4><ul class=\"ex\">",
                                rs[s]->has_errors ? (long long)e->count[c] : 0LL);
            for (int k = 0; rs[s]->has_errors && k < e->nexamples[c]; k++) {
                const cl_eval_example *x = &e->examples[c][k];
                rc |= cl_buf_puts(o, "<li><div class=\"sent\">");
                rc |= marked_sentence(o, x->sentence ? x->sentence : "", rs[s]);
                rc |= cl_buf_puts(o, "</div><div class=\"note\">gold: ");
                rc |= x->gold ? escs(o, x->gold) : cl_buf_puts(o, "none");
                rc |= cl_buf_puts(o, " &middot; predicted: ");
                rc |= x->pred ? escs(o, x->pred) : cl_buf_puts(o, "none");
                rc |= cl_buf_puts(o, "</div></li>\n");
            }
            rc |= cl_buf_puts(o, "</ul></div>\n");
        }
        rc |= cl_buf_puts(o, "</div>\n");
    }
    return rc;
}

/* ---- the page ---- */

static const char *const page_css =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2933;"
    "margin:0;background:#f5f7fa}header{background:#102a43;color:#f0f4f8;padding:12px 28px}"
    "header h1{margin:0;font-size:20px}header p{margin:2px 0 0;color:#bcccdc;font-size:13px}"
    "main{padding:8px 28px 40px;max-width:1400px}h2{margin:26px 0 8px;font-size:18px;"
    "border-bottom:1px solid #d9e2ec;padding-bottom:4px}h3{font-size:15px;margin:14px 0 6px}"
    "h4{margin:4px 0;font-size:13px}table{border-collapse:collapse;background:#fff}"
    "th,td{border:1px solid #d9e2ec;padding:3px 8px}tr>th:first-child{text-align:left}table.num td{text-align:right;"
    "font-variant-numeric:tabular-nums}tr.avg th,tr.avg td{background:#f0f4f8}"
    ".charts{display:flex;flex-wrap:wrap;gap:10px}.chart{background:#fff;border:1px solid "
    "#d9e2ec;border-radius:6px}.chart .ct{font-size:14px;font-weight:600;fill:#1f2933}"
    ".chart .ax{font-size:11px;fill:#616e7c}.chart .gl{font-size:11px;fill:#1f2933}"
    ".chart .val{font-size:10px;fill:#1f2933}.chart .grid{stroke:#e4e7eb}"
    ".side{display:flex;flex-wrap:wrap;gap:18px}.side>div{flex:1;min-width:320px;overflow-x:auto}"
    ".note{color:#616e7c;font-size:12px}.sw{display:inline-block;width:10px;height:10px;"
    "margin-right:6px;border-radius:2px}table.conf td{text-align:center;min-width:34px;"
    "font-variant-numeric:tabular-nums}table.conf th{font-size:11px}"
    "table.conf th.colh{writing-mode:vertical-rl;transform:rotate(180deg);padding:6px 2px;"
    "vertical-align:bottom}"
    "ul.ex{padding-left:18px;margin:4px 0}ul.ex li{margin-bottom:8px;background:#fff;"
    "padding:4px 8px;border-radius:4px;border:1px solid #e4e7eb}.sent{line-height:1.9}"
    "span.g{background:#fde68a;border-bottom:2px solid #b7791f}"
    "span.p{background:#bfdbfe;border-top:2px solid #2f6fde}span.g.p{background:#bbf7d0}"
    "sup.gt,sup.pt{font-size:9px;font-weight:700;margin:0 2px}sup.gt{color:#b7791f}"
    "sup.pt{color:#2f6fde}details{margin-top:10px}summary{cursor:pointer;color:#2f6fde}";

cl_status cl_eval_format_html(const cl_eval_result *const *results, const char *const *names,
                              int n, const char *title, const char *gold, cl_buf *out,
                              cl_error *err)
{
    if (n < 1)
        return cl_error_set(err, CL_ERR_ARG, "results: none to report");
    int rc = cl_buf_puts(out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                              "<title>");
    rc |= escs(out, title ? title : "clinner evaluation");
    rc |= cl_buf_printf(out, "</title><style>%s</style></head><body><header><h1>", page_css);
    rc |= escs(out, title ? title : "clinner evaluation");
    rc |= cl_buf_printf(out, "</h1><p>clinner %s", cl_version());
    if (gold) {
        rc |= cl_buf_puts(out, " &middot; gold: ");
        rc |= escs(out, gold);
    }
    rc |= cl_buf_puts(out, " &middot; predictions: ");
    for (int s = 0; s < n; s++) {
        rc |= s ? cl_buf_puts(out, ", ") : 0;
        rc |= escs(out, names[s]);
    }
    rc |= cl_buf_puts(out, "</p></header><main>\n");
    rc |= section_summary(out, results, names, n);
    rc |= section_charts(out, results, names, n);
    rc |= section_type_table(out, results, names, n);
    bool any_errors = false;
    for (int s = 0; s < n; s++)
        any_errors |= results[s]->has_errors;
    if (any_errors) {
        rc |= section_errors_chart(out, results, names, n);
        rc |= section_confusion(out, results, names, n);
        rc |= section_examples(out, results, names, n);
    }
    rc |= cl_buf_puts(out, "</main></body></html>\n");
    if (rc)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory writing the HTML report");
    return CL_OK;
}
