/* cmd_convert.c - placeholder until the command lands (see issues). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_convert(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinner convert: not implemented yet\n");
    return 2;
}
