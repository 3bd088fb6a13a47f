/*
 * web_page.h - the web page of `clinner serve` (web/index.html), compiled
 * into the binary: the Makefile turns the file into a C array
 * ($(BUILD)/gen/web_page.c), so the server needs no files at run time.
 */
#ifndef CLINNER_CLI_WEB_PAGE_H
#define CLINNER_CLI_WEB_PAGE_H

#include <stddef.h>

extern const unsigned char cl_web_page[];
extern const size_t cl_web_page_len;

#endif
