/* Stage kinds that exist only for the engine's tests. */
#ifndef DFM_TEST_KINDS_H
#define DFM_TEST_KINDS_H

void dfm_test_kinds_register(void);

#endif
