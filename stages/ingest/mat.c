/* Paper datasets whose labels come in MATLAB files, read with matio.
 *
 *   svhn        train_32x32.mat, test_32x32.mat: X uint8 32 x 32 x 3 x N,
 *               y N x 1 with 1-9 for digits 1-9 and 10 for digit 0
 *   flowers102  imagelabels.mat (labels 1-102 per image), setid.mat (trnid,
 *               valid, tstid: 1-based image numbers), images
 *               jpg/image_NNNNN.jpg; classes are named by number
 *   cars        devkit/cars_{train,test}_annos.mat (struct array
 *               annotations with fields fname and class, 1-based),
 *               devkit/cars_meta.mat (class_names), images in cars_train/
 *               and cars_test/; the test labels are those of
 *               cars_test_annos_withlabels.mat when it is in devkit/ */
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stages/ingest/ingest.h"

/* The elements of a real numeric variable as doubles, in MATLAB order. */
static int
mat_numbers(struct dfm_ingest *in, const char *file, matvar_t *v, double **out,
	    size_t *n)
{
	size_t count = 1;

	if (!v || v->isComplex || !v->data)
		return dfm_ingest_fail(in, file, "missing or empty numeric variable");
	for (int i = 0; i < v->rank; i++)
		count *= v->dims[i];
	if (!(*out = malloc((count + 1) * sizeof **out)))
		return dfm_ingest_fail(in, file, "out of memory");
	for (size_t i = 0; i < count; i++) {
		switch (v->class_type) {
		case MAT_C_DOUBLE: (*out)[i] = ((const double *)v->data)[i]; break;
		case MAT_C_SINGLE: (*out)[i] = ((const float *)v->data)[i]; break;
		case MAT_C_UINT8: (*out)[i] = ((const uint8_t *)v->data)[i]; break;
		case MAT_C_UINT16: (*out)[i] = ((const uint16_t *)v->data)[i]; break;
		case MAT_C_INT32: (*out)[i] = ((const int32_t *)v->data)[i]; break;
		default:
			free(*out);
			*out = NULL;
			return dfm_ingest_fail(in, file, "'%s' is not a supported numeric type",
					       v->name ? v->name : "?");
		}
	}
	*n = count;
	return 0;
}

/* Reads the variable name of a MATLAB file; the caller frees it with
 * Mat_VarFree. */
static int
mat_read(struct dfm_ingest *in, const char *file, const char *name, matvar_t **out)
{
	mat_t *mat = Mat_Open(file, MAT_ACC_RDONLY);

	if (!mat)
		return dfm_ingest_fail(in, file, "not a MATLAB file matio can read");
	*out = Mat_VarRead(mat, name);
	Mat_Close(mat);
	if (!*out)
		return dfm_ingest_fail(in, file, "has no variable '%s'", name);
	return 0;
}

/* SVHN */

static const char *
svhn_file(struct dfm_ingest *in, int part)
{
	int all = strcmp(in->split, "all") == 0, test = strcmp(in->split, "test") == 0;

	if (part == 0)
		return test ? "test_32x32.mat" : "train_32x32.mat";
	return part == 1 && all ? "test_32x32.mat" : NULL;
}

static int
svhn_files(struct dfm_ingest *in)
{
	const char *rel;
	int rc = 0;

	for (int part = 0; !rc && (rel = svhn_file(in, part)); part++) {
		char *path = dfm_path_join(in->path, rel);

		rc = dfm_ingest_source(in, path);
		free(path);
	}
	return rc;
}

static int
svhn_add(struct dfm_ingest *in, const char *file, matvar_t *x, const double *y, size_t ny)
{
	uint8_t pix[32 * 32 * 3];
	const uint8_t *X = x->data;
	int rc = 0;

	if (x->class_type != MAT_C_UINT8 || x->rank != 4 || x->dims[0] != 32 ||
	    x->dims[1] != 32 || x->dims[2] != 3 || x->dims[3] != ny || !X)
		return dfm_ingest_fail(in, file, "'X' is not uint8 32 x 32 x 3 x N with N "
				       "matching 'y'");
	for (size_t n = 0; n < ny && !rc; n++) {
		int label = (int)y[n] % 10;

		if (y[n] < 1 || y[n] > 10 || y[n] != (int)y[n])
			return dfm_ingest_fail(in, file, "label %g of image %zu out of range "
					       "1-10", y[n], n);
		for (int r = 0; r < 32; r++)
			for (int c = 0; c < 32; c++)
				for (int ch = 0; ch < 3; ch++)
					pix[(r * 32 + c) * 3 + ch] =
						X[r + 32 * c + 1024 * ch + 3072 * n];
		rc = dfm_ingest_add(in, file, pix, 32, 32, 3, label);
	}
	return rc;
}

static int
svhn_part(struct dfm_ingest *in, const char *rel)
{
	char *path = dfm_path_join(in->path, rel);
	matvar_t *x = NULL, *y = NULL;
	double *labels = NULL;
	size_t n;
	int rc;

	if (!path)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if (!(rc = mat_read(in, path, "X", &x)) && !(rc = mat_read(in, path, "y", &y)) &&
	    !(rc = mat_numbers(in, path, y, &labels, &n)))
		rc = svhn_add(in, path, x, labels, n);
	free(labels);
	Mat_VarFree(x);
	Mat_VarFree(y);
	free(path);
	return rc;
}

static int
svhn_read(struct dfm_ingest *in)
{
	const char *rel;
	char name[2] = {0, 0};
	int rc = 0, k;

	for (int d = 0; d < 10 && !rc; d++) {
		name[0] = (char)('0' + d);
		rc = dfm_ingest_class(in, name, &k);
	}
	for (int part = 0; !rc && (rel = svhn_file(in, part)); part++)
		rc = svhn_part(in, rel);
	return rc;
}

/* Flowers-102 */

static int
flowers_collect(struct dfm_ingest *in, struct dfm_pairs *pairs)
{
	const char *sets[3] = {"trnid", "valid", "tstid"};
	char *lab_path = dfm_path_join(in->path, "imagelabels.mat");
	char *set_path = dfm_path_join(in->path, "setid.mat");
	int all = strcmp(in->split, "all") == 0, test = strcmp(in->split, "test") == 0;
	matvar_t *v = NULL;
	double *labels = NULL, *ids = NULL;
	size_t nlab = 0, nids;
	int rc;

	if (!lab_path || !set_path) {
		rc = dfm_ingest_fail(in, NULL, "out of memory");
		goto out;
	}
	if ((rc = dfm_ingest_source(in, lab_path)) || (rc = dfm_ingest_source(in, set_path)) ||
	    (rc = mat_read(in, lab_path, "labels", &v)) ||
	    (rc = mat_numbers(in, lab_path, v, &labels, &nlab)))
		goto out;
	for (int s = 0; s < 3 && !rc; s++) {
		if (!all && (s == 2) != test)
			continue;
		Mat_VarFree(v);
		v = NULL;
		if ((rc = mat_read(in, set_path, sets[s], &v)) ||
		    (rc = mat_numbers(in, set_path, v, &ids, &nids)))
			break;
		for (size_t i = 0; i < nids && !rc; i++) {
			size_t id = (size_t)ids[i];
			char file[64], cls[16];

			if (ids[i] < 1 || id > nlab || labels[id - 1] < 1 || labels[id - 1] > 102) {
				rc = dfm_ingest_fail(in, set_path, "image %g or its label is out "
						     "of range", ids[i]);
				break;
			}
			snprintf(file, sizeof file, "jpg/image_%05zu.jpg", id);
			snprintf(cls, sizeof cls, "%d", (int)labels[id - 1]);
			rc = dfm_pairs_add(in, pairs, in->path, file, cls, set_path, (int)i + 1);
		}
		free(ids);
		ids = NULL;
	}
out:
	Mat_VarFree(v);
	free(labels);
	free(lab_path);
	free(set_path);
	return rc;
}

/* Stanford Cars */

/* A MATLAB char array as a C string: MATLAB itself stores UTF-16, other
 * writers bytes; characters past ASCII become '?'. */
static char *
mat_string(matvar_t *v)
{
	size_t n, wide;
	char *s;

	if (!v || v->class_type != MAT_C_CHAR || !v->data)
		return NULL;
	wide = v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16;
	if (!wide && v->data_type != MAT_T_UINT8 && v->data_type != MAT_T_UTF8 &&
	    v->data_type != MAT_T_INT8)
		return NULL;
	n = wide ? v->nbytes / 2 : v->nbytes;
	if (!(s = malloc(n + 1)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned ch = wide ? ((const uint16_t *)v->data)[i] :
				     ((const uint8_t *)v->data)[i];

		s[i] = ch && ch < 128 ? (char)ch : '?';
	}
	s[n] = '\0';
	return s;
}

static int
cars_add(struct dfm_ingest *in, struct dfm_pairs *pairs, const char *annos,
	 const char *dir, matvar_t *a, matvar_t *names)
{
	size_t n = a->rank == 2 ? a->dims[0] * a->dims[1] : 0;
	size_t nnames = names->rank == 2 ? names->dims[0] * names->dims[1] : 0;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		matvar_t *f = Mat_VarGetStructFieldByName(a, "fname", i);
		matvar_t *c = Mat_VarGetStructFieldByName(a, "class", i);
		char *fname = mat_string(f), *cls, path[4200];
		double *k = NULL;
		size_t nk;

		if (!fname || mat_numbers(in, annos, c, &k, &nk) || nk != 1 || k[0] < 1 ||
		    k[0] > (double)nnames || !(cls = mat_string(Mat_VarGetCell(names,
							(int)k[0] - 1)))) {
			rc = dfm_ingest_fail(in, annos, "annotation %zu lacks a file name or "
					     "a class in range", i + 1);
		} else {
			snprintf(path, sizeof path, "%s/%s", dir, fname);
			rc = dfm_pairs_add(in, pairs, in->path, path, cls, annos, (int)i + 1);
			free(cls);
		}
		free(fname);
		free(k);
	}
	return rc;
}

static int
cars_part(struct dfm_ingest *in, struct dfm_pairs *pairs, const char *rel,
	  const char *dir, matvar_t *names)
{
	char *annos = dfm_path_join(in->path, rel);
	matvar_t *a = NULL;
	int rc;

	if (!annos)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if (!(rc = dfm_ingest_source(in, annos)) &&
	    !(rc = mat_read(in, annos, "annotations", &a))) {
		if (a->class_type != MAT_C_STRUCT)
			rc = dfm_ingest_fail(in, annos, "'annotations' is not a struct array");
		else
			rc = cars_add(in, pairs, annos, dir, a, names);
	}
	Mat_VarFree(a);
	free(annos);
	return rc;
}

static int
cars_collect(struct dfm_ingest *in, struct dfm_pairs *pairs)
{
	char *meta = dfm_path_join(in->path, "devkit/cars_meta.mat");
	const char *test = "devkit/cars_test_annos_withlabels.mat";
	int all = strcmp(in->split, "all") == 0, is_test = strcmp(in->split, "test") == 0;
	matvar_t *names = NULL;
	int rc;

	if (!meta)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if ((rc = dfm_ingest_source(in, meta)) ||
	    (rc = mat_read(in, meta, "class_names", &names)))
		goto out;
	if (names->class_type != MAT_C_CELL) {
		rc = dfm_ingest_fail(in, meta, "'class_names' is not a cell array");
		goto out;
	}
	if (all || !is_test)
		rc = cars_part(in, pairs, "devkit/cars_train_annos.mat", "cars_train", names);
	if (!rc && (all || is_test))
		rc = cars_part(in, pairs, test, "cars_test", names);
out:
	Mat_VarFree(names);
	free(meta);
	return rc;
}

static int
pairs_files(struct dfm_ingest *in)
{
	struct dfm_pairs pairs = {0};
	int rc = strcmp(in->adapter->name, "cars") == 0 ? cars_collect(in, &pairs) :
							  flowers_collect(in, &pairs);

	if (!rc)
		rc = dfm_pairs_files(in, &pairs);
	dfm_pairs_free(&pairs);
	return rc;
}

static int
pairs_read(struct dfm_ingest *in)
{
	struct dfm_pairs pairs = {0};
	int rc = strcmp(in->adapter->name, "cars") == 0 ? cars_collect(in, &pairs) :
							  flowers_collect(in, &pairs);

	if (!rc)
		rc = dfm_pairs_read(in, &pairs);
	dfm_pairs_free(&pairs);
	return rc;
}

const struct dfm_adapter dfm_adapter_svhn = {
	.name = "svhn",
	.summary = "SVHN cropped digits (train_32x32.mat, test_32x32.mat)",
	.has_split = 1,
	.files = svhn_files,
	.read = svhn_read,
};

const struct dfm_adapter dfm_adapter_flowers102 = {
	.name = "flowers102",
	.summary = "Oxford Flowers-102 (jpg/, imagelabels.mat, setid.mat)",
	.has_split = 1,
	.files = pairs_files,
	.read = pairs_read,
};

const struct dfm_adapter dfm_adapter_cars = {
	.name = "cars",
	.summary = "Stanford Cars (cars_train/, cars_test/, devkit/*.mat)",
	.has_split = 1,
	.files = pairs_files,
	.read = pairs_read,
};
