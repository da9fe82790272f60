#include <lmdb.h>
#include <string.h>

#include "cache/error.h"

static const char *const messages[] = {
	[DFM_ERR_CORRUPT - DFM_ERR_FIRST] = "stored bytes do not match their digest",
	[DFM_ERR_NOTFOUND - DFM_ERR_FIRST] = "not found",
	[DFM_ERR_RULES - DFM_ERR_FIRST] = "invalid rules",
	[DFM_ERR_STAGE - DFM_ERR_FIRST] = "stage failed",
	[DFM_ERR_CRASH - DFM_ERR_FIRST] = "stage crashed",
	[DFM_ERR_STORE - DFM_ERR_FIRST] = "cache store error",
	[DFM_ERR_NFS - DFM_ERR_FIRST] = "cache directory is on a network filesystem",
	[DFM_ERR_FORMAT - DFM_ERR_FIRST] = "malformed data",
	[DFM_ERR_USAGE - DFM_ERR_FIRST] = "bad usage",
	[DFM_ERR_NOMEM - DFM_ERR_FIRST] = "out of memory",
	[DFM_ERR_BUSY - DFM_ERR_FIRST] = "claimed by another process",
	[DFM_ERR_DNNL - DFM_ERR_FIRST] = "oneDNN failure",
};

const char *
dfm_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err >= DFM_ERR_FIRST && err < DFM_ERR_LAST)
		return messages[err - DFM_ERR_FIRST];
	if (err > 0)
		return strerror(err);
	return mdb_strerror(err);
}
