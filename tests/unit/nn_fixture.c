#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/nn_fixture.h"
#include "tests/unit/test.h"

int
nn_fixture_open(struct nn_fixture *f, const char *name)
{
	char path[512], err[200];
	const char *top = getenv("TOP");
	FILE *fp;
	long size;

	f->buf = NULL;
	f->st = NULL;
	snprintf(path, sizeof path, "%s/tests/fixtures/nn/%s.safetensors", top ? top : ".", name);
	fp = fopen(path, "rb");
	if (!fp) {
		dfm_test_fail(__FILE__, __LINE__, "cannot open fixture %s", path);
		return -1;
	}
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	rewind(fp);
	f->buf = malloc((size_t)size);
	if (!f->buf || fread(f->buf, 1, (size_t)size, fp) != (size_t)size ||
	    dfm_st_open(f->buf, (size_t)size, &f->st, err, sizeof err) != 0) {
		fclose(fp);
		dfm_test_fail(__FILE__, __LINE__, "cannot read fixture %s", path);
		nn_fixture_close(f);
		return -1;
	}
	fclose(fp);
	return 0;
}

void
nn_fixture_close(struct nn_fixture *f)
{
	if (f->st)
		dfm_st_close(f->st);
	free(f->buf);
	f->st = NULL;
	f->buf = NULL;
}

const struct dfm_tensor *
nn_fx(const struct nn_fixture *f, const char *name)
{
	const struct dfm_tensor *t = f->st ? dfm_st_get(f->st, name) : NULL;

	if (!t)
		dfm_test_fail(__FILE__, __LINE__, "fixture has no tensor \"%s\"", name);
	return t;
}

const float *
nn_fx_f32(const struct nn_fixture *f, const char *name)
{
	const struct dfm_tensor *t = nn_fx(f, name);

	return t && t->dtype == DFM_F32 ? t->data : NULL;
}

void
nn_fx_copy(const struct nn_fixture *f, const char *name, float *dst, size_t n)
{
	const struct dfm_tensor *t = nn_fx(f, name);

	if (!t || t->dtype != DFM_F32 || t->size != n * sizeof(float)) {
		dfm_test_fail(__FILE__, __LINE__, "fixture \"%s\" is not %zu floats", name, n);
		return;
	}
	memcpy(dst, t->data, t->size);
}

int
nn_fx_tensor(const struct nn_fixture *f, const char *name, struct dfm_nn_tensor *t)
{
	const struct dfm_tensor *ft = nn_fx(f, name);

	if (!ft)
		return -1;
	return dfm_nn_tensor_from_nchw(t, ft->ndim, ft->shape, ft->data);
}

double
nn_relerr(const float *a, const float *b, size_t n)
{
	double diff = 0, scale = 1e-12;

	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);

		if (!(d <= diff))
			diff = d;
		if (fabs(b[i]) > scale)
			scale = fabs(b[i]);
	}
	return diff / scale;
}

double
nn_tensor_err(const struct dfm_nn_tensor *t, const struct nn_fixture *f, const char *name)
{
	const struct dfm_tensor *ft = nn_fx(f, name);
	float *tmp;
	double err;

	if (!ft || (size_t)dfm_shape_count(ft->ndim, ft->shape) != t->count)
		return 1;
	for (int i = 0; i < ft->ndim; i++)
		if (ft->shape[i] != t->dims[i])
			return 1;
	tmp = malloc(t->count * sizeof *tmp);
	if (!tmp)
		return 1;
	dfm_nn_tensor_to_nchw(t, tmp);
	err = nn_relerr(tmp, ft->data, t->count);
	free(tmp);
	return err;
}

double
nn_array_err(const float *a, size_t n, const struct nn_fixture *f, const char *name)
{
	const struct dfm_tensor *ft = nn_fx(f, name);

	if (!ft || (size_t)dfm_shape_count(ft->ndim, ft->shape) != n)
		return 1;
	return nn_relerr(a, ft->data, n);
}
