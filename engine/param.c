#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/param.h"

static int
reject(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	snprintf(err, errlen, fmt, a, b);
	return DFM_ERR_RULES;
}

static int
in_choices(const char *choices, const char *s)
{
	size_t n = strlen(s);

	for (const char *c = choices; c && *c;) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);

		if (len == n && strncmp(c, s, n) == 0)
			return 1;
		c += len + (bar != NULL);
	}
	return 0;
}

static int
check_range(const struct dfm_param *p, double x, const char *text, char *err,
	    size_t errlen)
{
	char range[80];

	if (p->min >= p->max || (x >= p->min && x <= p->max))
		return 0;
	snprintf(range, sizeof range, "[%g, %g]", p->min, p->max);
	return reject(err, errlen, "'%s' is outside %s", text, range);
}

int
dfm_value_parse(const struct dfm_param *p, const char *text,
		struct dfm_value *v, char *err, size_t errlen)
{
	char *end;

	memset(v, 0, sizeof *v);
	v->type = p->type;
	errno = 0;
	switch (p->type) {
	case DFM_INT:
		v->i = strtoll(text, &end, 10);
		if (end == text || *end || errno)
			return reject(err, errlen, "'%s' is not an integer%s", text, "");
		return check_range(p, (double)v->i, text, err, errlen);
	case DFM_FLOAT:
		v->f = strtod(text, &end);
		if (end == text || *end || errno || !isfinite(v->f))
			return reject(err, errlen, "'%s' is not a finite number%s", text, "");
		return check_range(p, v->f, text, err, errlen);
	case DFM_BOOL:
		if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on"))
			v->i = 1;
		else if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "off"))
			v->i = 0;
		else
			return reject(err, errlen, "'%s' is not true or false%s", text, "");
		return 0;
	case DFM_STR:
		if (p->choices && !in_choices(p->choices, text))
			return reject(err, errlen, "'%s' is not one of %s", text, p->choices);
		if (!(v->s = strdup(text)))
			return DFM_ERR_NOMEM;
		return 0;
	}
	return reject(err, errlen, "parameter '%s' has no type%s", p->name, "");
}

void
dfm_value_format(const struct dfm_value *v, char *buf, size_t len)
{
	switch (v->type) {
	case DFM_INT:
		snprintf(buf, len, "%lld", (long long)v->i);
		break;
	case DFM_FLOAT:
		snprintf(buf, len, "%.17g", v->f);
		/* The shortest form that reads back to the same double. */
		for (int prec = 1; prec < 17; prec++) {
			char tmp[40];

			snprintf(tmp, sizeof tmp, "%.*g", prec, v->f);
			if (strtod(tmp, NULL) == v->f) {
				snprintf(buf, len, "%s", tmp);
				break;
			}
		}
		break;
	case DFM_BOOL:
		snprintf(buf, len, "%s", v->i ? "true" : "false");
		break;
	case DFM_STR:
		snprintf(buf, len, "%s", v->s ? v->s : "");
		break;
	}
}

int
dfm_value_eq(const struct dfm_value *a, const struct dfm_value *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case DFM_FLOAT:
		return a->f == b->f;
	case DFM_STR:
		return strcmp(a->s ? a->s : "", b->s ? b->s : "") == 0;
	default:
		return a->i == b->i;
	}
}

void
dfm_value_free(struct dfm_value *v)
{
	if (v->type == DFM_STR)
		free(v->s);
	v->s = NULL;
}

int
dfm_value_copy(struct dfm_value *dst, const struct dfm_value *src)
{
	*dst = *src;
	if (src->type == DFM_STR && src->s && !(dst->s = strdup(src->s)))
		return DFM_ERR_NOMEM;
	return 0;
}
