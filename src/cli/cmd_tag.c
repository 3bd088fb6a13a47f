/* cmd_tag.c - placeholder until the command lands (see issues). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_tag(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinner tag: not implemented yet\n");
    return 2;
}
