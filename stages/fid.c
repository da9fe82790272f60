/* fid: the Fréchet distance between two feature sets (Heusel et al. 2017),
 *
 *   FID = |mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2)),
 *
 * in double precision.  The trace of the matrix square root is taken as the
 * sum of square roots of the eigenvalues of S_a^(1/2) S_b S_a^(1/2), a
 * symmetric positive semi-definite matrix with the same spectrum as S_a S_b,
 * so only the symmetric eigensolver is needed; a general sqrtm (Schur form of
 * a non-symmetric product) is both slower and less accurate.  S_a^(1/2)
 * itself is never formed: see sqrt_trace(). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "stages/metric_io.h"

/* Rows converted to double and centred per syrk call. */
enum { FID_BLOCK = 256 };

struct fid_stats {
	int64_t n, d;
	double *mean;   /* [d] */
	double *cov;    /* [d, d], lower triangle (column-major) */
	double trace;
};

static void
stats_free(struct fid_stats *s)
{
	free(s->mean);
	free(s->cov);
}

static void
column_mean(const struct dfm_matrix *m, double *mean)
{
	memset(mean, 0, (size_t)m->cols * sizeof *mean);
	for (int64_t i = 0; i < m->rows; i++) {
		const float *row = m->data + i * m->cols;

		for (int64_t k = 0; k < m->cols; k++)
			mean[k] += row[k];
	}
	for (int64_t k = 0; k < m->cols; k++)
		mean[k] /= (double)m->rows;
}

/* cov = X_c^T X_c / (n - 1), accumulated block by block so that no double
 * copy of the whole feature set is needed. */
static int
covariance(const struct dfm_matrix *m, struct fid_stats *s)
{
	int64_t d = m->cols;
	double *blk = malloc((size_t)(FID_BLOCK * d) * sizeof *blk);

	if (!blk)
		return DFM_ERR_NOMEM;
	for (int64_t i0 = 0; i0 < m->rows; i0 += FID_BLOCK) {
		int64_t nb = m->rows - i0 < FID_BLOCK ? m->rows - i0 : FID_BLOCK;

		for (int64_t i = 0; i < nb; i++)
			for (int64_t k = 0; k < d; k++)
				blk[i * d + k] = m->data[(i0 + i) * d + k] - s->mean[k];
		/* Row-major rows of blk are the columns of a d x nb matrix. */
		cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)d, (int)nb,
			    1.0 / (double)(m->rows - 1), blk, (int)d,
			    i0 ? 1.0 : 0.0, s->cov, (int)d);
	}
	free(blk);
	s->trace = 0;
	for (int64_t k = 0; k < d; k++)
		s->trace += s->cov[k * d + k];
	return 0;
}

static int
stats_of(const struct dfm_matrix *m, struct fid_stats *s)
{
	memset(s, 0, sizeof *s);
	s->n = m->rows;
	s->d = m->cols;
	s->mean = malloc((size_t)s->d * sizeof *s->mean);
	s->cov = malloc((size_t)(s->d * s->d) * sizeof *s->cov);
	if (!s->mean || !s->cov)
		return DFM_ERR_NOMEM;
	column_mean(m, s->mean);
	return covariance(m, s);
}

struct fid_trace {
	double value;           /* Tr((S_a S_b)^(1/2)) */
	int clamped;            /* negative eigenvalues set to 0 */
	double most_negative;
	const char *factor;     /* "cholesky" or "eigen": see sqrt_trace() */
};

static void
clamp_sqrt(double *w, int64_t d, struct fid_trace *t)
{
	for (int64_t k = 0; k < d; k++) {
		if (w[k] < 0) {
			t->clamped++;
			if (w[k] < t->most_negative)
				t->most_negative = w[k];
			w[k] = 0;
		}
		w[k] = sqrt(w[k]);
	}
}

/* F = V L^(1/2) from S_a = V L V^T: a factor F F^T = S_a for every
 * positive semi-definite S_a.  Leaves F^T S_b F in b->cov, destroys a->cov. */
static int
factor_eigen(struct fid_stats *a, struct fid_stats *b, double *w, double *tmp,
	     struct fid_trace *t)
{
	int d = (int)a->d;
	double *v = a->cov, *m = b->cov;

	if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', d, v, d, w) != 0)
		return DFM_ERR_STAGE;
	clamp_sqrt(w, d, t);
	cblas_dsymm(CblasColMajor, CblasLeft, CblasLower, d, d, 1.0, m, d, v, d,
		    0.0, tmp, d);
	cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, v, d,
		    tmp, d, 0.0, m, d);
	for (int j = 0; j < d; j++)
		for (int i = j; i < d; i++)
			m[(size_t)j * d + i] *= w[i] * w[j];
	return 0;
}

/* Tr((S_a S_b)^(1/2)).  Any factor F with F F^T = S_a makes F^T S_b F
 * orthogonally similar to S_a^(1/2) S_b S_a^(1/2) (F = S_a^(1/2) Q with Q
 * orthogonal), so the two have the same eigenvalues.  The Cholesky factor
 * is the cheap F: dpotrf and dsygst cost about one matrix product, where an
 * eigendecomposition with vectors costs several.  It needs S_a positive
 * definite, impossible with fewer samples than dimensions; then, or when
 * dpotrf finds S_a not definite, the eigen factor is used. */
static int
sqrt_trace(struct fid_stats *a, struct fid_stats *b, struct fid_trace *t)
{
	int d = (int)a->d, rc = DFM_ERR_NOMEM;
	size_t bytes = (size_t)d * (size_t)d * sizeof(double);
	double *w = malloc((size_t)d * sizeof *w), *tmp = malloc(bytes);

	memset(t, 0, sizeof *t);
	if (!w || !tmp)
		goto out;
	memcpy(tmp, a->cov, bytes);
	rc = DFM_ERR_STAGE;
	if (a->n > a->d && LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', d, a->cov, d) == 0) {
		t->factor = "cholesky";
		if (LAPACKE_dsygst(LAPACK_COL_MAJOR, 2, 'L', d, b->cov, d, a->cov, d) != 0)
			goto out;
	} else {
		memcpy(a->cov, tmp, bytes);
		t->factor = "eigen";
		if (factor_eigen(a, b, w, tmp, t) != 0)
			goto out;
	}
	if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'L', d, b->cov, d, w) != 0)
		goto out;
	clamp_sqrt(w, d, t);
	t->value = 0;
	for (int k = 0; k < d; k++)
		t->value += w[k];
	rc = 0;
out:
	free(w);
	free(tmp);
	return rc;
}

static int
check_inputs(struct dfm_run *r, const struct dfm_matrix *a, const struct dfm_matrix *b)
{
	if (a->rows < 2)
		return dfm_fail(r, "input '%s' has %lld feature vectors; a covariance "
				"needs at least 2", a->input, (long long)a->rows);
	if (b->rows < 2)
		return dfm_fail(r, "input '%s' has %lld feature vectors; a covariance "
				"needs at least 2", b->input, (long long)b->rows);
	if (a->cols != b->cols)
		return dfm_fail(r, "feature dimensions differ: '%s' has %lld, '%s' has %lld",
				a->input, (long long)a->cols, b->input, (long long)b->cols);
	if (strcmp(a->network, b->network) != 0)
		return dfm_fail(r, "features come from different networks: '%s' from "
				"'%s', '%s' from '%s'", a->input, a->network,
				b->input, b->network);
	if (a->cols > 46340)
		return dfm_fail(r, "'%lld' feature dimensions are too many for a dense "
				"covariance", (long long)a->cols);
	return 0;
}

/* Too few samples leave a covariance singular.  The eigen route stays exact
 * for singular matrices, so nothing is regularised; the user is told that
 * the estimate is poor instead. */
static int
warn_rank(struct dfm_run *r, const struct dfm_matrix *m, json_object *warnings)
{
	char msg[400];

	if (m->rows > m->cols)
		return 0;
	snprintf(msg, sizeof msg, "'%s' has %lld samples for %lld feature dimensions, "
		 "so its covariance is singular (rank at most %lld); FID was computed "
		 "exactly on the singular covariance without regularisation, but it is "
		 "a biased, high-variance estimate: use more samples than dimensions",
		 m->input, (long long)m->rows, (long long)m->cols, (long long)m->rows - 1);
	dfm_note(r, "warning: %s", msg);
	return json_object_array_add(warnings, json_object_new_string(msg));
}

static double
mean_distance(const struct fid_stats *a, const struct fid_stats *b)
{
	double sum = 0;

	for (int64_t k = 0; k < a->d; k++) {
		double diff = a->mean[k] - b->mean[k];

		sum += diff * diff;
	}
	return sum;
}

static json_object *
result_json(const struct dfm_matrix *a, const struct dfm_matrix *b, double fid,
	    const struct fid_trace *t, json_object *warnings)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "fid", dfm_metric_number(fid));
	json_object_object_add(o, "n_a", json_object_new_int64(a->rows));
	json_object_object_add(o, "n_b", json_object_new_int64(b->rows));
	json_object_object_add(o, "dims", json_object_new_int64(a->cols));
	json_object_object_add(o, "network", json_object_new_string(a->network));
	json_object_object_add(o, "a", json_object_new_string(a->input));
	json_object_object_add(o, "b", json_object_new_string(b->input));
	json_object_object_add(o, "clamped_eigenvalues", json_object_new_int(t->clamped));
	json_object_object_add(o, "factor", json_object_new_string(t->factor));
	json_object_object_add(o, "warnings", json_object_get(warnings));
	return o;
}

static int
fid_compute(struct dfm_run *r, const struct dfm_matrix *a, const struct dfm_matrix *b,
	    json_object *warnings)
{
	struct fid_stats sa, sb;
	struct fid_trace t;
	double fid;
	int rc;

	memset(&sa, 0, sizeof sa);
	memset(&sb, 0, sizeof sb);
	if ((rc = stats_of(a, &sa)) || (rc = stats_of(b, &sb)))
		goto out;
	dfm_progress(r, 1, 2);
	fid = mean_distance(&sa, &sb) + sa.trace + sb.trace;
	if ((rc = sqrt_trace(&sa, &sb, &t))) {
		if (rc != DFM_ERR_NOMEM)
			rc = dfm_fail(r, "LAPACK failed on the %lld x %lld covariances",
				      (long long)a->cols, (long long)a->cols);
		goto out;
	}
	fid -= 2 * t.value;
	if (t.clamped)
		dfm_note(r, "%d slightly negative eigenvalues (rounding; lowest %.3g) "
			 "were clamped to 0", t.clamped, t.most_negative);
	dfm_note(r, "fid %.10g over %lld and %lld vectors of %lld dimensions (%s; %s "
		 "factor)", fid, (long long)a->rows, (long long)b->rows,
		 (long long)a->cols, a->network, t.factor);
	dfm_progress(r, 2, 2);
	rc = dfm_metric_put_json(r, "result", result_json(a, b, fid, &t, warnings));
out:
	if (rc == DFM_ERR_NOMEM)
		rc = dfm_fail(r, "out of memory for %lld x %lld covariances",
			      (long long)a->cols, (long long)a->cols);
	stats_free(&sa);
	stats_free(&sb);
	return rc;
}

static int
fid_run(struct dfm_run *r)
{
	struct dfm_matrix a, b;
	json_object *warnings = NULL;
	int rc;

	memset(&b, 0, sizeof b);
	openblas_set_num_threads(dfm_threads(r));
	if ((rc = dfm_matrix_read(r, "a", "features", &a)) ||
	    (rc = dfm_matrix_read(r, "b", "features", &b)) ||
	    (rc = check_inputs(r, &a, &b)))
		goto out;
	rc = DFM_ERR_NOMEM;
	if (!(warnings = json_object_new_array()) ||
	    warn_rank(r, &a, warnings) || warn_rank(r, &b, warnings))
		goto out;
	rc = fid_compute(r, &a, &b, warnings);
out:
	if (rc == DFM_ERR_NOMEM)
		rc = dfm_fail(r, "out of memory");
	json_object_put(warnings);
	dfm_matrix_close(&a);
	dfm_matrix_close(&b);
	return rc;
}

static const struct dfm_param fid_params[] = {
	{0},
};

static const struct dfm_slot fid_inputs[] = {
	{"a", 0, "features artifact: F32 'features' [N, D]"},
	{"b", 0, "features artifact: F32 'features' [M, D], same network"},
	{0},
};

static const struct dfm_output fid_outputs[] = {
	{"result", "json", "fid, n_a, n_b, dims, network label, warnings"},
	{0},
};

const struct dfm_kind dfm_kind_fid = {
	.name = "fid",
	.version = 1,
	.summary = "Fréchet distance between two feature sets, in double precision",
	.params = fid_params,
	.inputs = fid_inputs,
	.outputs = fid_outputs,
	.run = fid_run,
};
