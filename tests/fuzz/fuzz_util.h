/* Shared by the fuzz targets that drive an ingest parser: an ingest
 * context with a fresh builder, without a stage run. */
#ifndef DFM_FUZZ_UTIL_H
#define DFM_FUZZ_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "stages/ingest/ingest.h"

static inline int
fuzz_ingest_begin(struct dfm_ingest *in, const char *labels)
{
	memset(in, 0, sizeof *in);
	in->split = "train";
	in->labels = labels;
	in->b = dfm_dsbuild_new(0);
	return in->b ? 0 : -1;
}

/* Serialises what was built, as the ingest kind would, then frees it. */
static inline void
fuzz_ingest_end(struct dfm_ingest *in)
{
	void *out = NULL;
	size_t size;

	if (dfm_dsbuild_finish(in->b, &out, &size, in->err, sizeof in->err) == 0)
		free(out);
	free(in->per_class);
}

#endif
