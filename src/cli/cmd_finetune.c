/* cmd_finetune.c - placeholder until the command lands (see issues). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_finetune(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinner finetune: not implemented yet\n");
    return 2;
}
