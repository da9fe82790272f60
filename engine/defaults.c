/* The embedded default rules: rules/quick.yaml, built into the binary so
 * that "dfmake tables" works in any directory without a rules file. */
#include "engine/cmd.h"

__asm__(".section .rodata\n"
	".global dfm_default_rules\n"
	".type dfm_default_rules, @object\n"
	"dfm_default_rules:\n"
	".incbin \"rules/quick.yaml\"\n"
	".byte 0\n"
	".size dfm_default_rules, . - dfm_default_rules\n"
	".previous\n");
