/*
 * help.h - `clinner COMMAND --help`.  The texts are documentation, kept as
 * plain files in docs/cli/ (readable there, diffable, spell-checkable) and
 * compiled in by the Makefile ($(BUILD)/gen/help_pages.c), like the web page.
 */
#ifndef CLINNER_CLI_HELP_H
#define CLINNER_CLI_HELP_H

#include <stdio.h>

typedef struct cli_help_page {
    const char *name; /* the file's name without .txt: "tag", "train-crf" */
    const char *text;
} cli_help_page;

extern const cli_help_page cl_cli_help_pages[]; /* ends with {NULL, NULL} */

/* Print page `name`, replacing each ${key} by its value in vars ("key=value"
 * lines, NULL for none) or, for a key that is a page's name, by that page
 * (expanded the same way).  An unknown ${key} is printed as it is. */
void cli_help(FILE *fp, const char *name, const char *vars);

#endif
