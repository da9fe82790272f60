#include <stdio.h>

#include "engine/cli.h"

int
dfm_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dfmake: the command line is being written\n");
	return 2;
}
