/* cmd_eval.c - placeholder until the command lands (see issues). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinner eval: not implemented yet\n");
    return 2;
}
