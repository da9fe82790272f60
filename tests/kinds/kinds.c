/* Stage kinds compiled only into the test binary. */
#include "stages/stage.h"
#include "tests/kinds/kinds.h"

void
dfm_test_kinds_register(void)
{
}
