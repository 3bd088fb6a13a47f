#!/bin/sh
# gen-help.sh OUT.c PAGE.txt...: the help pages of docs/cli/ as C strings
# (src/cli/help.h), one literal per line; '?' escaped against trigraphs.
set -eu
out=$1; shift
{
    echo '/* generated from the pages of docs/cli/ by scripts/gen-help.sh; do not edit */'
    echo '#include "cli/help.h"'
    echo 'const cli_help_page cl_cli_help_pages[] = {'
    for f in "$@"; do
        printf '    {"%s",\n' "$(basename "$f" .txt)"
        sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/     "/' -e 's/$/\\n"/' "$f"
        echo '    },'
    done
    echo '    {0, 0},'
    echo '};'
} >"$out.tmp"
mv "$out.tmp" "$out"
