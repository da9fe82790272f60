/* dfmake with the engine-test kinds registered too. */
#include "engine/cli.h"
#include "tests/kinds/kinds.h"

int
main(int argc, char **argv)
{
	dfm_test_kinds_register();
	return dfm_main(argc, argv);
}
