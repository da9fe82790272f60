/* The registry: every stage kind built into dfmake, by name. */
#include <string.h>

#include "stages/stage.h"

/* One line per kind; each is defined in the file named after it. */
#define KINDS(X) \
	X(dfm_kind_ingest) \
	X(dfm_kind_resize) \
	X(dfm_kind_subsample) \
	X(dfm_kind_export) \
	X(dfm_kind_features) \
	X(dfm_kind_fid) \
	X(dfm_kind_inception_score) \
	X(dfm_kind_ms_ssim) \
	X(dfm_kind_rank_outer) \
	X(dfm_kind_is_classifier) \
	X(dfm_kind_classify)

#define DECLARE(sym) extern const struct dfm_kind sym;
KINDS(DECLARE)

static const struct dfm_kind *builtin[] = {
#define LIST(sym) &sym,
	KINDS(LIST)
	NULL
};

enum { MAX_EXTRA = 32 };
static const struct dfm_kind *extra[MAX_EXTRA];
static size_t nextra;

const struct dfm_kind *
dfm_kind_at(size_t i)
{
	size_t nbuiltin = sizeof builtin / sizeof builtin[0] - 1;

	if (i < nbuiltin)
		return builtin[i];
	i -= nbuiltin;
	return i < nextra ? extra[i] : NULL;
}

const struct dfm_kind *
dfm_kind_find(const char *name)
{
	const struct dfm_kind *k;

	for (size_t i = 0; (k = dfm_kind_at(i)); i++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

void
dfm_kind_register(const struct dfm_kind *kind)
{
	if (nextra < MAX_EXTRA)
		extra[nextra++] = kind;
}

const struct dfm_param *
dfm_kind_param(const struct dfm_kind *k, const char *name)
{
	for (const struct dfm_param *p = k->params; p && p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}
