#include "engine/cli.h"

int
main(int argc, char **argv)
{
	return dfm_main(argc, argv);
}
