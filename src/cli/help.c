/*
 * help.c - print a help page of docs/cli/ with its ${key} placeholders
 * filled in (defaults that come from the library's params structs, options
 * that differ between commands).
 */
#include "cli/help.h"

#include <string.h>

static const char *find_page(const char *name, size_t n)
{
    for (const cli_help_page *p = cl_cli_help_pages; p->name; p++)
        if (strlen(p->name) == n && !strncmp(p->name, name, n))
            return p->text;
    return NULL;
}

/* The value of key[0..n) in "key=value\n..." lines, its length in *len. */
static const char *find_var(const char *vars, const char *key, size_t n, size_t *len)
{
    for (const char *line = vars; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        if ((size_t)(end - line) > n && !strncmp(line, key, n) && line[n] == '=') {
            *len = (size_t)(end - line) - n - 1;
            return line + n + 1;
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

static void print_text(FILE *fp, const char *text, const char *vars, int depth)
{
    for (const char *s = text; *s;) {
        const char *open = strstr(s, "${"), *close = open ? strchr(open, '}') : NULL;
        if (!close) {
            fputs(s, fp);
            return;
        }
        fwrite(s, 1, (size_t)(open - s), fp);
        const char *key = open + 2, *value, *page;
        size_t n = (size_t)(close - key), len;
        if ((value = find_var(vars, key, n, &len)))
            fwrite(value, 1, len, fp);
        else if (depth < 4 && (page = find_page(key, n))) {
            print_text(fp, page, vars, depth + 1);
            if (close[1] == '\n' && *page && page[strlen(page) - 1] == '\n')
                close++; /* a page alone on its line: its own lines replace it */
        } else
            fwrite(open, 1, n + 3, fp);
        s = close + 1;
    }
}

void cli_help(FILE *fp, const char *name, const char *vars)
{
    const char *text = name ? find_page(name, strlen(name)) : NULL;
    print_text(fp, text ? text : "(no help page)\n", vars, 0);
}
