#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/nn/safetensors.h"

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	[DFM_U8] = {"U8", 1},
	[DFM_I32] = {"I32", 4},
	[DFM_I64] = {"I64", 8},
	[DFM_F32] = {"F32", 4},
	[DFM_F64] = {"F64", 8},
};

enum { NDTYPES = sizeof dtypes / sizeof dtypes[0] };

size_t
dfm_dtype_size(enum dfm_dtype t)
{
	return t > 0 && (int)t < NDTYPES ? dtypes[t].size : 0;
}

const char *
dfm_dtype_name(enum dfm_dtype t)
{
	return t > 0 && (int)t < NDTYPES ? dtypes[t].name : "?";
}

int64_t
dfm_shape_count(int ndim, const int64_t *shape)
{
	int64_t n = 1;

	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	return n;
}

/* Writing */

struct dfm_st_writer {
	struct dfm_tensor *tensors;
	size_t ntensors, cap;
	json_object *meta;
	void *adopted;        /* the data of the adopted tensor, or NULL */
	void **reserved_at;   /* where to say the reserved tensor's bytes are */
};

/* The data pointer of the reserved tensor: an address of the writer's, so
 * that no tensor's real data can be mistaken for it. */
#define RESERVED(w) ((const void *)&(w)->reserved_at)

struct dfm_st_writer *
dfm_st_writer_new(void)
{
	struct dfm_st_writer *w = calloc(1, sizeof *w);

	if (w && !(w->meta = json_object_new_object())) {
		free(w);
		return NULL;
	}
	return w;
}

void
dfm_st_writer_free(struct dfm_st_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->ntensors; i++)
		free((char *)w->tensors[i].name);
	free(w->tensors);
	json_object_put(w->meta);
	free(w->adopted);
	free(w);
}

int
dfm_st_add(struct dfm_st_writer *w, const char *name, enum dfm_dtype dtype,
	   int ndim, const int64_t *shape, const void *data)
{
	struct dfm_tensor *t;

	if (ndim < 0 || ndim > DFM_MAX_DIMS || !dfm_dtype_size(dtype))
		return DFM_ERR_FORMAT;
	if (w->ntensors == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 8;
		void *p = realloc(w->tensors, cap * sizeof *w->tensors);

		if (!p)
			return DFM_ERR_NOMEM;
		w->tensors = p;
		w->cap = cap;
	}
	t = &w->tensors[w->ntensors];
	memset(t, 0, sizeof *t);
	if (!(t->name = strdup(name)))
		return DFM_ERR_NOMEM;
	t->dtype = dtype;
	t->ndim = ndim;
	memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
	t->data = data;
	t->size = (size_t)dfm_shape_count(ndim, shape) * dfm_dtype_size(dtype);
	w->ntensors++;
	return 0;
}

int
dfm_st_adopt(struct dfm_st_writer *w, const char *name, enum dfm_dtype dtype,
	     int ndim, const int64_t *shape, void *data)
{
	int rc = w->adopted ? DFM_ERR_USAGE : dfm_st_add(w, name, dtype, ndim, shape, data);

	if (rc) {
		free(data);
		return rc;
	}
	w->adopted = data;
	return 0;
}

int
dfm_st_reserve(struct dfm_st_writer *w, const char *name, enum dfm_dtype dtype,
	       int ndim, const int64_t *shape, void **at)
{
	int rc = w->reserved_at ? DFM_ERR_USAGE :
				  dfm_st_add(w, name, dtype, ndim, shape, RESERVED(w));

	if (!rc)
		w->reserved_at = at;
	return rc;
}

int
dfm_st_meta(struct dfm_st_writer *w, const char *key, const char *value)
{
	json_object *v = json_object_new_string(value);

	if (!v)
		return DFM_ERR_NOMEM;
	json_object_object_add(w->meta, key, v);
	return 0;
}

/* Larger elements first, then by name: keeps every tensor aligned. */
static int
by_alignment(const void *a, const void *b)
{
	const struct dfm_tensor *x = a, *y = b;
	size_t sx = dfm_dtype_size(x->dtype), sy = dfm_dtype_size(y->dtype);

	if (sx != sy)
		return sx > sy ? -1 : 1;
	return strcmp(x->name, y->name);
}

static json_object *
tensor_entry(const struct dfm_tensor *t, size_t begin)
{
	json_object *e = json_object_new_object(), *shape = json_object_new_array();
	json_object *offsets = json_object_new_array();

	json_object_object_add(e, "dtype", json_object_new_string(dfm_dtype_name(t->dtype)));
	for (int i = 0; i < t->ndim; i++)
		json_object_array_add(shape, json_object_new_int64(t->shape[i]));
	json_object_object_add(e, "shape", shape);
	json_object_array_add(offsets, json_object_new_int64((int64_t)begin));
	json_object_array_add(offsets, json_object_new_int64((int64_t)(begin + t->size)));
	json_object_object_add(e, "data_offsets", offsets);
	return e;
}

int
dfm_st_writer_finish(struct dfm_st_writer *w, void **out, size_t *size)
{
	json_object *header = json_object_new_object();
	const struct dfm_tensor *last;
	const char *text;
	size_t hlen, padded, offset = 0, ncopied;
	bool in_place;
	unsigned char *buf;
	int err = DFM_ERR_NOMEM;

	if (w->ntensors)
		qsort(w->tensors, w->ntensors, sizeof *w->tensors, by_alignment);
	if (json_object_object_length(w->meta) > 0)
		json_object_object_add(header, "__metadata__", json_object_get(w->meta));
	for (size_t i = 0; i < w->ntensors; i++) {
		json_object_object_add(header, w->tensors[i].name,
				       tensor_entry(&w->tensors[i], offset));
		offset += w->tensors[i].size;
	}

	text = json_object_to_json_string_ext(header, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	hlen = strlen(text);
	padded = (hlen + 7) / 8 * 8;
	last = w->ntensors ? &w->tensors[w->ntensors - 1] : NULL;
	in_place = last && w->adopted && last->data == w->adopted;
	if (!(buf = in_place ? realloc(w->adopted, 8 + padded + offset) :
			       malloc(8 + padded + offset)))
		goto done;
	if (in_place) {
		/* The adopted bytes move up to the end; everything else goes
		 * in front of them. */
		w->adopted = NULL;
		memmove(buf + 8 + padded + offset - last->size, buf, last->size);
	}
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	memcpy(buf + 8, text, hlen);
	memset(buf + 8 + hlen, ' ', padded - hlen);
	offset = 0;
	ncopied = in_place ? w->ntensors - 1 : w->ntensors;
	for (size_t i = 0; i < ncopied; i++) {
		if (w->tensors[i].data == RESERVED(w))
			*w->reserved_at = buf + 8 + padded + offset;
		else if (w->tensors[i].size)
			memcpy(buf + 8 + padded + offset, w->tensors[i].data,
			       w->tensors[i].size);
		offset += w->tensors[i].size;
	}
	if (in_place)
		offset += last->size;
	*out = buf;
	*size = 8 + padded + offset;
	err = 0;
done:
	json_object_put(header);
	dfm_st_writer_free(w);
	return err;
}

/* Reading */

struct dfm_st {
	json_object *header;
	struct dfm_tensor *tensors;
	size_t ntensors;
};

static int
fail(char *err, size_t errlen, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	return DFM_ERR_FORMAT;
}

static enum dfm_dtype
parse_dtype(const char *s)
{
	for (int t = 1; t < NDTYPES; t++)
		if (strcmp(dtypes[t].name, s) == 0)
			return (enum dfm_dtype)t;
	return 0;
}

static int
parse_tensor(const char *name, json_object *e, const unsigned char *base,
	     size_t datalen, struct dfm_tensor *t, char *err, size_t errlen)
{
	json_object *dtype, *shape, *offsets;
	int64_t begin, end, count = 1;

	if (!json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "dtype", &dtype) ||
	    !json_object_object_get_ex(e, "shape", &shape) ||
	    !json_object_object_get_ex(e, "data_offsets", &offsets) ||
	    !json_object_is_type(shape, json_type_array) ||
	    !json_object_is_type(offsets, json_type_array) ||
	    json_object_array_length(offsets) != 2)
		return fail(err, errlen, "tensor entry lacks dtype, shape or data_offsets");
	t->name = name;
	if (!(t->dtype = parse_dtype(json_object_get_string(dtype))))
		return fail(err, errlen, "unsupported dtype");
	t->ndim = (int)json_object_array_length(shape);
	if (t->ndim > DFM_MAX_DIMS)
		return fail(err, errlen, "too many dimensions");
	for (int i = 0; i < t->ndim; i++) {
		t->shape[i] = json_object_get_int64(json_object_array_get_idx(shape, (size_t)i));
		if (t->shape[i] < 0 || (t->shape[i] && count > INT64_MAX / 16 / t->shape[i]))
			return fail(err, errlen, "bad shape");
		count *= t->shape[i];
	}
	begin = json_object_get_int64(json_object_array_get_idx(offsets, 0));
	end = json_object_get_int64(json_object_array_get_idx(offsets, 1));
	if (begin < 0 || end < begin || (uint64_t)end > datalen)
		return fail(err, errlen, "data offsets out of bounds");
	t->size = (size_t)(end - begin);
	if ((int64_t)t->size != count * (int64_t)dfm_dtype_size(t->dtype))
		return fail(err, errlen, "data size does not match shape");
	t->data = base + begin;
	if ((uintptr_t)t->data % dfm_dtype_size(t->dtype))
		return fail(err, errlen, "tensor data is misaligned");
	return 0;
}

static int
by_offset(const void *a, const void *b)
{
	const struct dfm_tensor *x = a, *y = b;

	return x->data < y->data ? -1 : x->data > y->data;
}

/* Tensors must tile the data area without gaps or overlap. */
static int
check_tiling(struct dfm_tensor *sorted, size_t n, const unsigned char *base,
	     size_t datalen)
{
	const unsigned char *at = base;

	qsort(sorted, n, sizeof *sorted, by_offset);
	for (size_t i = 0; i < n; i++) {
		if ((const unsigned char *)sorted[i].data != at)
			return -1;
		at += sorted[i].size;
	}
	return at == base + datalen ? 0 : -1;
}

int
dfm_st_open(const void *data, size_t size, struct dfm_st **out, char *err,
	    size_t errlen)
{
	const unsigned char *bytes = data;
	struct json_tokener *tok = NULL;
	struct dfm_st *st = NULL;
	struct dfm_tensor *tiles = NULL;
	uint64_t hlen = 0;
	size_t datalen, n = 0;
	int rc;

	*out = NULL;
	if (size < 8)
		return fail(err, errlen, "shorter than a safetensors header");
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | bytes[i];
	if (hlen < 2 || hlen > size - 8 || hlen > (100u << 20))
		return fail(err, errlen, "header length out of bounds");
	datalen = size - 8 - (size_t)hlen;

	rc = fail(err, errlen, "out of memory");
	if (!(st = calloc(1, sizeof *st)) || !(tok = json_tokener_new()))
		goto bad;
	st->header = json_tokener_parse_ex(tok, (const char *)bytes + 8, (int)hlen);
	if (!st->header || !json_object_is_type(st->header, json_type_object)) {
		rc = fail(err, errlen, "header is not a JSON object");
		goto bad;
	}
	st->tensors = calloc((size_t)json_object_object_length(st->header) + 1,
			     sizeof *st->tensors);
	if (!st->tensors)
		goto bad;
	json_object_object_foreach(st->header, key, val) {
		if (strcmp(key, "__metadata__") == 0)
			continue;
		rc = parse_tensor(key, val, bytes + 8 + hlen, datalen,
				  &st->tensors[n], err, errlen);
		if (rc)
			goto bad;
		n++;
	}
	st->ntensors = n;

	rc = fail(err, errlen, "out of memory");
	if (!(tiles = malloc((n + 1) * sizeof *tiles)))
		goto bad;
	memcpy(tiles, st->tensors, n * sizeof *tiles);
	if (check_tiling(tiles, n, bytes + 8 + hlen, datalen)) {
		rc = fail(err, errlen, "tensor data has gaps or overlaps");
		goto bad;
	}
	free(tiles);
	json_tokener_free(tok);
	*out = st;
	return 0;
bad:
	free(tiles);
	if (tok)
		json_tokener_free(tok);
	dfm_st_close(st);
	return rc;
}

void
dfm_st_close(struct dfm_st *st)
{
	if (!st)
		return;
	json_object_put(st->header);
	free(st->tensors);
	free(st);
}

size_t
dfm_st_count(const struct dfm_st *st)
{
	return st->ntensors;
}

const struct dfm_tensor *
dfm_st_at(const struct dfm_st *st, size_t i)
{
	return i < st->ntensors ? &st->tensors[i] : NULL;
}

const struct dfm_tensor *
dfm_st_get(const struct dfm_st *st, const char *name)
{
	for (size_t i = 0; i < st->ntensors; i++)
		if (strcmp(st->tensors[i].name, name) == 0)
			return &st->tensors[i];
	return NULL;
}

const char *
dfm_st_meta_get(const struct dfm_st *st, const char *key)
{
	json_object *meta, *v;

	if (!json_object_object_get_ex(st->header, "__metadata__", &meta) ||
	    !json_object_object_get_ex(meta, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}
