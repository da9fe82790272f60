/* inception-score: exp(E_x KL(p(y|x) || p(y))) of Salimans et al. (2016),
 * over equal splits of the samples, as mean and standard deviation across
 * the splits.
 *
 * Class probabilities come as logits (turned into log-probabilities by a
 * log-softmax, so no probability underflows to 0 before its logarithm is
 * taken) or as probabilities.  p(y) of a split is the mean of its rows,
 * taken in the log domain with log-sum-exp.  The score is only as meaningful
 * as the network that made the logits, whose label is carried through. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stages/metric_io.h"

/* How far a row of given probabilities may sum from 1. */
#define IS_PROB_TOLERANCE 1e-3

static void
log_softmax(const float *in, int64_t k, double *out)
{
	double max = in[0], sum = 0;

	for (int64_t c = 1; c < k; c++)
		if (in[c] > max)
			max = in[c];
	for (int64_t c = 0; c < k; c++)
		sum += exp((double)in[c] - max);
	sum = max + log(sum);
	for (int64_t c = 0; c < k; c++)
		out[c] = (double)in[c] - sum;
}

static int
log_probs(struct dfm_run *r, const struct dfm_matrix *m, int64_t i, double *out)
{
	const float *in = m->data + i * m->cols;
	double sum = 0;

	for (int64_t c = 0; c < m->cols; c++) {
		if (in[c] < 0)
			return dfm_fail(r, "input '%s': probability row %lld has a negative "
					"entry", m->input, (long long)i);
		sum += in[c];
	}
	if (fabs(sum - 1) > IS_PROB_TOLERANCE)
		return dfm_fail(r, "input '%s': probability row %lld sums to %g, not 1",
				m->input, (long long)i, sum);
	for (int64_t c = 0; c < m->cols; c++)
		out[c] = log(in[c] / sum);
	return 0;
}

/* log of the column means of exp(lp), by log-sum-exp down each column. */
static void
log_marginal(const double *lp, int64_t n, int64_t k, double *out)
{
	for (int64_t c = 0; c < k; c++) {
		double max = -INFINITY, sum = 0;

		for (int64_t i = 0; i < n; i++)
			if (lp[i * k + c] > max)
				max = lp[i * k + c];
		if (max == -INFINITY) {
			out[c] = -INFINITY;
			continue;
		}
		for (int64_t i = 0; i < n; i++)
			sum += exp(lp[i * k + c] - max);
		out[c] = max + log(sum) - log((double)n);
	}
}

/* exp of the mean KL divergence of the rows from their marginal.  A class
 * a row gives probability 0 adds nothing (0 log 0 = 0). */
static double
split_score(const double *lp, int64_t n, int64_t k, const double *lpy)
{
	double total = 0;

	for (int64_t i = 0; i < n; i++) {
		double kl = 0;

		for (int64_t c = 0; c < k; c++)
			if (lp[i * k + c] > -INFINITY)
				kl += exp(lp[i * k + c]) * (lp[i * k + c] - lpy[c]);
		total += kl;
	}
	return exp(total / (double)n);
}

static int
score_splits(struct dfm_run *r, const struct dfm_matrix *m, int logits,
	     int64_t splits, double *scores)
{
	int64_t n = m->rows, k = m->cols, most = (n + splits - 1) / splits + 1;
	double *lp = malloc((size_t)(most * k) * sizeof *lp);
	double *lpy = malloc((size_t)k * sizeof *lpy);
	int rc = 0;

	if (!lp || !lpy) {
		rc = dfm_fail(r, "out of memory for %lld x %lld log-probabilities",
			      (long long)most, (long long)k);
		goto out;
	}
	for (int64_t s = 0; s < splits; s++) {
		int64_t lo = s * n / splits, hi = (s + 1) * n / splits;

		for (int64_t i = lo; i < hi; i++) {
			if (logits)
				log_softmax(m->data + i * k, k, lp + (i - lo) * k);
			else if ((rc = log_probs(r, m, i, lp + (i - lo) * k)))
				goto out;
		}
		log_marginal(lp, hi - lo, k, lpy);
		scores[s] = split_score(lp, hi - lo, k, lpy);
		dfm_progress(r, (double)(s + 1), (double)splits);
	}
out:
	free(lp);
	free(lpy);
	return rc;
}

static json_object *
result_json(const struct dfm_matrix *m, const char *tensor, const double *scores,
	    int64_t splits)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	double mean = 0, var = 0;

	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return NULL;
	}
	for (int64_t s = 0; s < splits; s++) {
		mean += scores[s];
		json_object_array_add(arr, dfm_metric_number(scores[s]));
	}
	mean /= (double)splits;
	for (int64_t s = 0; s < splits; s++)
		var += (scores[s] - mean) * (scores[s] - mean);
	json_object_object_add(o, "mean", dfm_metric_number(mean));
	json_object_object_add(o, "std", dfm_metric_number(sqrt(var / (double)splits)));
	json_object_object_add(o, "splits", json_object_new_int64(splits));
	json_object_object_add(o, "n", json_object_new_int64(m->rows));
	json_object_object_add(o, "classes", json_object_new_int64(m->cols));
	json_object_object_add(o, "from", json_object_new_string(tensor));
	json_object_object_add(o, "network", json_object_new_string(m->network));
	json_object_object_add(o, "split_scores", arr);
	return o;
}

static int
is_run(struct dfm_run *r)
{
	const char *tensor = dfm_str(r, "input");
	int64_t splits = dfm_int(r, "splits");
	struct dfm_matrix m;
	double *scores = NULL;
	int rc;

	if ((rc = dfm_matrix_read(r, "features", tensor, &m)))
		goto out;
	rc = DFM_ERR_STAGE;
	if (m.rows < splits) {
		dfm_fail(r, "input '%s' has %lld samples, fewer than the %lld splits",
			 m.input, (long long)m.rows, (long long)splits);
		goto out;
	}
	if (m.cols < 2) {
		dfm_fail(r, "input '%s': '%s' has %lld classes; a score needs at least 2",
			 m.input, tensor, (long long)m.cols);
		goto out;
	}
	if (!(scores = malloc((size_t)splits * sizeof *scores))) {
		dfm_fail(r, "out of memory");
		goto out;
	}
	if ((rc = score_splits(r, &m, strcmp(tensor, "logits") == 0, splits, scores)))
		goto out;
	rc = dfm_metric_put_json(r, "result", result_json(&m, tensor, scores, splits));
	dfm_note(r, "inception score over %lld samples in %lld splits (%s)",
		 (long long)m.rows, (long long)splits, m.network);
out:
	free(scores);
	dfm_matrix_close(&m);
	return rc;
}

static const struct dfm_param is_params[] = {
	{"splits", DFM_INT, "10", "number of equal splits the score is averaged over",
	 NULL, 1, 1000},
	{"input", DFM_STR, "logits", "tensor to read: 'logits' (log-softmax applied) "
	 "or 'probs' (rows of class probabilities)", "logits|probs", 0, 0},
	{0},
};

static const struct dfm_slot is_inputs[] = {
	{"features", 0, "features artifact with F32 'logits' (or 'probs') [N, K]"},
	{0},
};

static const struct dfm_output is_outputs[] = {
	{"result", "json", "mean, std, split scores, network label"},
	{0},
};

const struct dfm_kind dfm_kind_inception_score = {
	.name = "inception-score",
	.version = 1,
	.summary = "Inception Score of samples from their class logits",
	.params = is_params,
	.inputs = is_inputs,
	.outputs = is_outputs,
	.run = is_run,
};
