/* dfmake's one error scheme, shared by every layer.
 *
 * 0 is success.  Positive errno values are passed through unchanged.  dfmake's
 * own conditions live in one private negative range, named by dfm_strerror().
 * It sits in the lowest layer so that the store, the stages and the engine
 * all speak it. */
#ifndef DFM_ERROR_H
#define DFM_ERROR_H

enum dfm_err {
	DFM_OK = 0,
	DFM_ERR_FIRST = -30900,
	DFM_ERR_CORRUPT = DFM_ERR_FIRST,  /* stored bytes do not match their digest */
	DFM_ERR_NOTFOUND,                 /* no such artifact, action or instance */
	DFM_ERR_RULES,                    /* the rules file is invalid */
	DFM_ERR_STAGE,                    /* a stage's run function failed */
	DFM_ERR_CRASH,                    /* a stage's worker died by a signal */
	DFM_ERR_STORE,                    /* the LMDB environment reported an error */
	DFM_ERR_NFS,                      /* the cache is on a network filesystem */
	DFM_ERR_FORMAT,                   /* an artifact or file is malformed */
	DFM_ERR_USAGE,                    /* bad command line */
	DFM_ERR_NOMEM,                    /* an allocation failed */
	DFM_ERR_BUSY,                     /* another process holds the claim */
	DFM_ERR_DNNL,                     /* oneDNN returned a failure status */
	DFM_ERR_LAST
};

/* Names an error code: one of ours, an errno value, or an LMDB code.
 * The string is static. */
const char *dfm_strerror(int err);

#endif
