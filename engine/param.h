/* Typed parameter values: parsed from rules text, checked against a kind's
 * schema, printed for messages and the lock file. */
#ifndef DFM_PARAM_H
#define DFM_PARAM_H

#include <stddef.h>
#include <stdint.h>

#include "stages/stage.h"

struct dfm_value {
	enum dfm_type type;
	int64_t i;        /* DFM_INT and DFM_BOOL */
	double f;         /* DFM_FLOAT */
	char *s;          /* DFM_STR, owned */
};

/* Parses text as a value of p's type and checks p's choices and range.
 * Returns 0, or DFM_ERR_RULES with a reason in err. */
int dfm_value_parse(const struct dfm_param *p, const char *text,
		    struct dfm_value *v, char *err, size_t errlen);

/* Prints v the way a rules file would write it (floats round-trip). */
void dfm_value_format(const struct dfm_value *v, char *buf, size_t len);

/* Nonzero when the two values are equal. */
int dfm_value_eq(const struct dfm_value *a, const struct dfm_value *b);

void dfm_value_free(struct dfm_value *v);

/* A deep copy; returns 0 or DFM_ERR_NOMEM. */
int dfm_value_copy(struct dfm_value *dst, const struct dfm_value *src);

#endif
