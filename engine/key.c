#include <stdlib.h>
#include <string.h>

#include "engine/key.h"

struct enc {
	unsigned char *buf;
	size_t len, cap;
	int failed;
};

static void
put(struct enc *e, const void *data, size_t n)
{
	if (e->failed)
		return;
	if (e->len + n > e->cap) {
		size_t cap = (e->len + n) * 2 + 256;
		unsigned char *p = realloc(e->buf, cap);

		if (!p) {
			e->failed = 1;
			return;
		}
		e->buf = p;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, data, n);
	e->len += n;
}

static void
put_u64(struct enc *e, uint64_t x, int bytes)
{
	unsigned char b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(x >> (8 * i));
	put(e, b, (size_t)bytes);
}

static void
put_str(struct enc *e, const char *s)
{
	size_t n = strlen(s);

	put_u64(e, n, 4);
	put(e, s, n);
}

static void
put_value(struct enc *e, const struct dfm_value *v)
{
	uint64_t bits;
	double f;

	put_u64(e, (uint64_t)v->type, 1);
	switch (v->type) {
	case DFM_INT:
		put_u64(e, (uint64_t)v->i, 8);
		break;
	case DFM_BOOL:
		put_u64(e, v->i != 0, 1);
		break;
	case DFM_FLOAT:
		f = v->f == 0 ? 0.0 : v->f;   /* -0.0 and 0.0 are one value */
		memcpy(&bits, &f, sizeof bits);
		put_u64(e, bits, 8);
		break;
	case DFM_STR:
		put_str(e, v->s ? v->s : "");
		break;
	}
}

static int
by_name(const void *a, const void *b, void *names)
{
	const char *const *n = names;

	return strcmp(n[*(const size_t *)a], n[*(const size_t *)b]);
}

int
dfm_key_encode(const struct dfm_key_input *in, unsigned char **buf, size_t *len)
{
	struct enc e = {0};
	size_t *order = malloc((in->nparams + 1) * sizeof *order);

	if (!order)
		return DFM_ERR_NOMEM;
	for (size_t i = 0; i < in->nparams; i++)
		order[i] = i;
	qsort_r(order, in->nparams, sizeof *order, by_name, (void *)in->param_names);

	put(&e, "dfmake-key", 10);
	put_u64(&e, DFM_KEY_ENCODING, 4);
	put_str(&e, in->kind);
	put_u64(&e, (uint64_t)in->kind_version, 4);
	put_u64(&e, in->nparams, 4);
	for (size_t i = 0; i < in->nparams; i++) {
		put_str(&e, in->param_names[order[i]]);
		put_value(&e, &in->params[order[i]]);
	}
	put_u64(&e, in->nslots, 4);
	for (size_t i = 0; i < in->nslots; i++) {
		put_str(&e, in->slots[i].name);
		put_u64(&e, in->slots[i].n, 4);
		for (size_t j = 0; j < in->slots[i].n; j++)
			put(&e, in->slots[i].digests[j].b, DFM_DIGEST_SIZE);
	}
	put_u64(&e, in->nsources, 4);
	for (size_t i = 0; i < in->nsources; i++)
		put(&e, in->sources[i].b, DFM_DIGEST_SIZE);
	free(order);

	if (e.failed) {
		free(e.buf);
		return DFM_ERR_NOMEM;
	}
	*buf = e.buf;
	*len = e.len;
	return 0;
}

int
dfm_key(const struct dfm_key_input *in, struct dfm_digest *key)
{
	unsigned char *buf;
	size_t len;
	int rc = dfm_key_encode(in, &buf, &len);

	if (rc)
		return rc;
	*key = dfm_digest_of(buf, len);
	free(buf);
	return 0;
}
