/* Safetensors: the tensor container every dfmake artifact with arrays uses,
 * so that Python users can open any artifact with the libraries they have.
 *
 * Layout: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range (plus an optional "__metadata__" map
 * of strings), then the tensor bytes.  dfmake pads the header with spaces
 * and orders tensors by falling element size, so every tensor it writes is
 * aligned to its element size when the file starts 8-byte aligned. */
#ifndef DFM_SAFETENSORS_H
#define DFM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

enum dfm_dtype {
	DFM_U8 = 1,
	DFM_I32,
	DFM_I64,
	DFM_F32,
	DFM_F64,
};

#define DFM_MAX_DIMS 8

struct dfm_tensor {
	const char *name;
	enum dfm_dtype dtype;
	int ndim;
	int64_t shape[DFM_MAX_DIMS];
	const void *data;     /* borrowed: see the owner's rules */
	size_t size;          /* bytes */
};

/* Bytes per element of a dtype. */
size_t dfm_dtype_size(enum dfm_dtype t);

/* The safetensors spelling of a dtype ("U8", "F32", ...). */
const char *dfm_dtype_name(enum dfm_dtype t);

/* Number of elements of a tensor with this shape. */
int64_t dfm_shape_count(int ndim, const int64_t *shape);

/* Writing.  Tensors and metadata are gathered, then serialised at once. */
struct dfm_st_writer;

/* A new, empty writer, or NULL when out of memory. */
struct dfm_st_writer *dfm_st_writer_new(void);

/* Adds a tensor.  The name is copied; data is only borrowed and must stay
 * valid until dfm_st_writer_finish().  Returns 0 or an error. */
int dfm_st_add(struct dfm_st_writer *w, const char *name, enum dfm_dtype dtype,
	       int ndim, const int64_t *shape, const void *data);

/* Adds a tensor whose data is a malloc'd buffer the writer takes over and
 * frees, even on failure.  When it comes last in the file (the data of the
 * smallest element size, by name, does), dfm_st_writer_finish() builds the
 * file in that buffer, moving the bytes up instead of copying them into a
 * new one.  At most one adopted tensor per writer.  Returns 0 or an
 * error. */
int dfm_st_adopt(struct dfm_st_writer *w, const char *name, enum dfm_dtype dtype,
		 int ndim, const int64_t *shape, void *data);

/* Adds a tensor whose bytes the caller writes once the file is made:
 * dfm_st_writer_finish() leaves them unset and points *at to them in its
 * output.  At most one reserved tensor per writer.  Returns 0 or an
 * error. */
int dfm_st_reserve(struct dfm_st_writer *w, const char *name, enum dfm_dtype dtype,
		   int ndim, const int64_t *shape, void **at);

/* Adds a metadata string; both are copied.  Returns 0 or an error. */
int dfm_st_meta(struct dfm_st_writer *w, const char *key, const char *value);

/* Serialises into a malloc'd buffer the caller owns and frees the writer,
 * even on failure.  Returns 0 or an error. */
int dfm_st_writer_finish(struct dfm_st_writer *w, void **out, size_t *size);

/* Frees a writer without serialising it. */
void dfm_st_writer_free(struct dfm_st_writer *w);

/* Reading.  A parsed file borrows the bytes it was opened on: they must
 * outlive it.  Tensor data pointers point into those bytes. */
struct dfm_st;

/* Parses and validates size bytes (bounds, dtypes, shapes, no overlap,
 * alignment).  Returns 0 and *out, or DFM_ERR_FORMAT with a reason in err
 * (errlen bytes) when err is not NULL. */
int dfm_st_open(const void *data, size_t size, struct dfm_st **out,
		char *err, size_t errlen);

void dfm_st_close(struct dfm_st *st);

/* Number of tensors, and the i-th in header order. */
size_t dfm_st_count(const struct dfm_st *st);
const struct dfm_tensor *dfm_st_at(const struct dfm_st *st, size_t i);

/* A tensor by name, or NULL. */
const struct dfm_tensor *dfm_st_get(const struct dfm_st *st, const char *name);

/* A metadata value by key, or NULL.  Valid until dfm_st_close(). */
const char *dfm_st_meta_get(const struct dfm_st *st, const char *key);

#endif
