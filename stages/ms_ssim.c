/* ms-ssim: the mean multi-scale structural similarity over all pairs of a
 * dataset (Wang, Simoncelli and Bovik 2003; Domain Fusion eq. 18), the
 * diversity half of the outer-dataset metric M.
 *
 * For a pair of images, at each scale s a Gaussian window gives local means,
 * variances and the covariance; c*s = (2 sigma_xy + C2) / (sigma_x^2 +
 * sigma_y^2 + C2) is averaged over the window positions, and at the coarsest
 * scale the SSIM map l*c*s is averaged instead.  The pair's value is the
 * product of those means raised to the standard weights, per channel, then
 * averaged over channels.  docs/metrics.md states the conventions.
 *
 * What the maths allows us to hoist out of the N^2/2 pair loop: everything
 * about one image alone (its pyramid, local means and variances at every
 * scale) is computed once, in double precision.  A pair only needs the
 * filtered cross term E[xy]; it is computed for eight partner images at
 * once, one per SIMD lane, so every filter tap is one vector
 * multiply-add with no shuffles.  Pixels are stored minus a per-image integer
 * offset, which is exact in float and keeps E[xy] - mu_x mu_y from cancelling
 * catastrophically.  The sum over pairs is reduced per row in a fixed order,
 * so the result does not depend on the number of threads. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "stages/metric_io.h"

#define MS_SCALES 5
#define MS_TAPS 11
#define MS_SIGMA 1.5
#define MS_K1 0.01
#define MS_K2 0.03
#define MS_L 255.0

static const double ms_weight[MS_SCALES] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

/* One SIMD vector of the cross-term kernel: one lane per partner image. */
typedef float ms_vec __attribute__((vector_size(32)));
typedef double ms_half __attribute__((vector_size(32)));
#define MS_LANES ((int)(sizeof(ms_vec) / sizeof(float)))

/* Rows of the pair triangle handed to a worker at a time: each partner
 * group is brought into cache once per tile, not once per row. */
enum { MS_TILE = 16 };

/* Sizes and windows of every scale, shared by all images of a dataset. */
struct ms_geom {
	int nscales, channels;
	int h[MS_SCALES], w[MS_SCALES];      /* image size at each scale */
	int th[MS_SCALES], tw[MS_SCALES];    /* window taps, vertical and horizontal */
	int oh[MS_SCALES], ow[MS_SCALES];    /* positions of the valid window */
	float wv[MS_SCALES][MS_TAPS], wh[MS_SCALES][MS_TAPS];
	double weight[MS_SCALES];            /* exponents, summing to 1 */
	size_t pix_off[MS_SCALES], map_off[MS_SCALES];
	size_t npix, nmap;                   /* per channel, over all scales */
	size_t chan;                         /* floats per channel: pixels, mu, var */
	size_t x_stride;                     /* floats of one compact image */
	size_t group_stride;                 /* floats of one lane group */
	size_t scratch;                      /* vectors of kernel scratch */
	double c1, c2;
};

/* The 1-D Gaussian of sigma 1.5 on taps points, centred on the middle of the
 * window (between two taps when taps is even), normalised to sum 1. */
static void
gauss_taps(int taps, float *out)
{
	double g[MS_TAPS], sum = 0;

	for (int k = 0; k < taps; k++) {
		double d = k - (taps - 1) / 2.0;

		g[k] = exp(-d * d / (2 * MS_SIGMA * MS_SIGMA));
		sum += g[k];
	}
	for (int k = 0; k < taps; k++)
		out[k] = (float)(g[k] / sum);
}

static int
min_int(int a, int b)
{
	return a < b ? a : b;
}

/* A compact image is, per channel, its pixels at every scale, then its
 * local means and then its local variances at every scale (both over the
 * valid window positions), and after the last channel one offset per
 * channel.  A lane group stores eight compact images float by float, each
 * float widened to a vector of the eight images' values. */
static void
geom_layout(struct ms_geom *g)
{
	size_t scratch = 0;

	g->npix = g->nmap = 0;
	for (int s = 0; s < g->nscales; s++) {
		size_t need = (size_t)g->w[s] + (size_t)(g->h[s] + 1) * (size_t)g->ow[s];

		g->pix_off[s] = g->npix;
		g->map_off[s] = g->nmap;
		g->npix += (size_t)g->h[s] * (size_t)g->w[s];
		g->nmap += (size_t)g->oh[s] * (size_t)g->ow[s];
		if (need > scratch)
			scratch = need;
	}
	g->chan = g->npix + 2 * g->nmap;
	g->x_stride = (size_t)g->channels * (g->chan + 1);
	g->group_stride = g->x_stride * MS_LANES;
	g->scratch = scratch;
}

/* Lays out the scales for h x w images.  "shrink" keeps all five scales and
 * truncates the window to the image where it does not fit; "fit" keeps the
 * scales the full 11-tap window fits and renormalises their weights. */
static int
geom_init(struct ms_geom *g, int h, int w, int channels, int fit, char *why, size_t len)
{
	double wsum = 0;

	memset(g, 0, sizeof *g);
	g->channels = channels;
	for (int s = 0; s < MS_SCALES; s++, h /= 2, w /= 2) {
		if (h < 1 || w < 1 || (fit && (h < MS_TAPS || w < MS_TAPS)))
			break;
		g->h[s] = h;
		g->w[s] = w;
		g->th[s] = min_int(MS_TAPS, h);
		g->tw[s] = min_int(MS_TAPS, w);
		g->oh[s] = h - g->th[s] + 1;
		g->ow[s] = w - g->tw[s] + 1;
		gauss_taps(g->th[s], g->wv[s]);
		gauss_taps(g->tw[s], g->wh[s]);
		wsum += ms_weight[s];
		g->nscales++;
	}
	if (!fit && g->nscales < MS_SCALES) {
		snprintf(why, len, "convention 'shrink' needs images of at least 16 x 16 "
			 "for five scales");
		return DFM_ERR_STAGE;
	}
	if (fit && g->nscales < 1) {
		snprintf(why, len, "convention 'fit' needs images of at least 11 x 11");
		return DFM_ERR_STAGE;
	}
	for (int s = 0; s < g->nscales; s++)
		g->weight[s] = ms_weight[s] / wsum;
	g->c1 = (MS_K1 * MS_L) * (MS_K1 * MS_L);
	g->c2 = (MS_K2 * MS_L) * (MS_K2 * MS_L);
	geom_layout(g);
	return 0;
}

/* Per-image preparation, in double precision */

/* Valid separable filtering of an h x w plane with the scale's window. */
static void
filter_valid(const struct ms_geom *g, int s, const double *in, double *tmp, double *out)
{
	int h = g->h[s], w = g->w[s], oh = g->oh[s], ow = g->ow[s];

	for (int r = 0; r < h; r++)
		for (int q = 0; q < ow; q++) {
			double acc = 0;

			for (int k = 0; k < g->tw[s]; k++)
				acc += (double)g->wh[s][k] * in[r * w + q + k];
			tmp[r * ow + q] = acc;
		}
	for (int a = 0; a < oh; a++)
		for (int q = 0; q < ow; q++) {
			double acc = 0;

			for (int k = 0; k < g->th[s]; k++)
				acc += (double)g->wv[s][k] * tmp[(a + k) * ow + q];
			out[a * ow + q] = acc;
		}
}

/* Halves a plane by 2 x 2 averaging; an odd last row or column is dropped. */
static void
downsample(const double *in, int h, int w, double *out)
{
	int oh = h / 2, ow = w / 2;

	for (int r = 0; r < oh; r++)
		for (int q = 0; q < ow; q++)
			out[r * ow + q] = (in[2 * r * w + 2 * q] + in[2 * r * w + 2 * q + 1] +
					   in[(2 * r + 1) * w + 2 * q] +
					   in[(2 * r + 1) * w + 2 * q + 1]) / 4;
}

/* Scratch planes for preparing one image channel. */
struct ms_prep {
	double *pyr, *sq, *tmp, *mu, *e2;
};

/* Writes one channel of one image in the compact layout: pixels minus the
 * integer offset, then local means and variances at every scale, and sets
 * *offset.  Pixel values at scale s are multiples of 4^-s below 256, so
 * subtracting an integer keeps them exact in float. */
static void
prepare_channel(const struct ms_geom *g, const uint8_t *img, int c, struct ms_prep *p,
		float *dst, float *offset)
{
	int h = g->h[0], w = g->w[0];
	double mean = 0;

	for (int k = 0; k < h * w; k++)
		mean += img[(size_t)k * g->channels + c];
	mean = nearbyint(mean / (h * w));
	for (int k = 0; k < h * w; k++)
		p->pyr[k] = img[(size_t)k * g->channels + c] - mean;
	for (int s = 0; s < g->nscales; s++) {
		double *lvl = p->pyr + g->pix_off[s];
		size_t npix = (size_t)g->h[s] * g->w[s], nmap = (size_t)g->oh[s] * g->ow[s];

		if (s > 0)
			downsample(p->pyr + g->pix_off[s - 1], g->h[s - 1], g->w[s - 1], lvl);
		for (size_t k = 0; k < npix; k++) {
			dst[g->pix_off[s] + k] = (float)lvl[k];
			p->sq[k] = lvl[k] * lvl[k];
		}
		filter_valid(g, s, lvl, p->tmp, p->mu);
		filter_valid(g, s, p->sq, p->tmp, p->e2);
		for (size_t k = 0; k < nmap; k++) {
			dst[g->npix + g->map_off[s] + k] = (float)p->mu[k];
			dst[g->npix + g->nmap + g->map_off[s] + k] =
				(float)(p->e2[k] - p->mu[k] * p->mu[k]);
		}
	}
	*offset = (float)mean;
}

static int
prep_alloc(const struct ms_geom *g, struct ms_prep *p)
{
	size_t n0 = (size_t)g->h[0] * g->w[0];

	p->pyr = malloc(g->npix * sizeof *p->pyr);
	p->sq = malloc(n0 * sizeof *p->sq);
	p->tmp = malloc(n0 * sizeof *p->tmp);
	p->mu = malloc(n0 * sizeof *p->mu);
	p->e2 = malloc(n0 * sizeof *p->e2);
	return p->pyr && p->sq && p->tmp && p->mu && p->e2 ? 0 : DFM_ERR_NOMEM;
}

static void
prep_free(struct ms_prep *p)
{
	free(p->pyr);
	free(p->sq);
	free(p->tmp);
	free(p->mu);
	free(p->e2);
}

/* Copies a compact image into lane `lane` of a lane group, where every float
 * becomes a column of MS_LANES floats. */
static void
to_lane(const struct ms_geom *g, const float *x, float *group, int lane)
{
	for (size_t k = 0; k < g->x_stride; k++)
		group[k * MS_LANES + lane] = x[k];
}

/* The inverse of to_lane(). */
static void
from_lane(const struct ms_geom *g, const float *group, int lane, float *x)
{
	for (size_t k = 0; k < g->x_stride; k++)
		x[k] = group[k * MS_LANES + lane];
}

/* Prepares images in the order given by order[], into lane groups. */
static int
prepare_all(const struct ms_geom *g, const uint8_t *images, const int64_t *order,
	    int64_t n, float *groups)
{
	size_t img_bytes = (size_t)g->h[0] * g->w[0] * g->channels;
	float *x = malloc(g->x_stride * sizeof *x);
	struct ms_prep p;
	int rc = DFM_ERR_NOMEM;

	if (prep_alloc(g, &p) || !x)
		goto out;
	for (int64_t i = 0; i < n; i++) {
		const uint8_t *img = images + (size_t)order[i] * img_bytes;
		float *offsets = x + (size_t)g->channels * g->chan;

		for (int c = 0; c < g->channels; c++)
			prepare_channel(g, img, c, &p, x + (size_t)c * g->chan, &offsets[c]);
		to_lane(g, x, groups + (size_t)(i / MS_LANES) * g->group_stride,
			(int)(i % MS_LANES));
	}
	rc = 0;
out:
	prep_free(&p);
	free(x);
	return rc;
}

/* The pair kernel */

/* Window sums out[q] = sum_k w[k] in[k * kstride + q] for n consecutive
 * outputs.  A multiply-add waits for the one before it on the same
 * accumulator, so outputs are computed eight (or four) at a time on
 * independent accumulators; the last block overlaps the one before it
 * rather than falling back to one output at a time. */
#define MS_TAPS_BLOCK(B)                                                        \
	static inline __attribute__((always_inline)) void                       \
	taps##B(const ms_vec *in, size_t kstride, const float *w, int taps,     \
		ms_vec *out)                                                    \
	{                                                                       \
		ms_vec acc[B] = {0};                                            \
                                                                                \
		for (int k = 0; k < taps; k++, in += kstride)                   \
			_Pragma("GCC unroll 8")                                 \
			for (int i = 0; i < B; i++)                             \
				acc[i] += w[k] * in[i];                         \
		_Pragma("GCC unroll 8")                                         \
		for (int i = 0; i < B; i++)                                     \
			out[i] = acc[i];                                        \
	}
MS_TAPS_BLOCK(8)
MS_TAPS_BLOCK(4)
MS_TAPS_BLOCK(1)

static inline __attribute__((always_inline)) void
filter_line(const ms_vec *in, size_t kstride, const float *w, int taps, int n,
	    ms_vec *out)
{
	int q = 0;

	if (n >= 8) {
		for (; q + 8 <= n; q += 8)
			taps8(in + q, kstride, w, taps, out + q);
		if (q < n)
			taps8(in + n - 8, kstride, w, taps, out + n - 8);
		return;
	}
	if (n >= 4) {
		taps4(in, kstride, w, taps, out);
		taps4(in + n - 4, kstride, w, taps, out + n - 4);
		return;
	}
	for (; q < n; q++)
		taps1(in + q, kstride, w, taps, out + q);
}

/* Horizontal pass of the cross term: for every row, the window applied to
 * x * y, with x broadcast and y one image per lane. */
static inline __attribute__((always_inline)) void
cross_rows(const struct ms_geom *g, int s, const float *x, const ms_vec *y, ms_vec *buf)
{
	int h = g->h[s], w = g->w[s], ow = g->ow[s];
	ms_vec *prod = buf, *rows = buf + w;

	for (int r = 0; r < h; r++) {
		for (int q = 0; q < w; q++)
			prod[q] = x[r * w + q] * y[r * w + q];
		filter_line(prod, 1, g->wh[s], g->tw[s], ow, rows + r * ow);
	}
}

/* Per-image statistics of a scale, for x (compact) or y (lanes). */
struct ms_stats_x {
	const float *mu, *var;
	float offset;
};

struct ms_stats_y {
	const ms_vec *mu, *var;
	ms_vec offset;
};

/* Vertical pass, then the mean over window positions of c*s and, at the
 * coarsest scale, of l*c*s, per lane. */
static inline __attribute__((always_inline)) void
cross_means(const struct ms_geom *g, int s, const ms_vec *rows, ms_vec *exy,
	    const struct ms_stats_x *sx, const struct ms_stats_y *sy, double *out)
{
	int oh = g->oh[s], ow = g->ow[s], last = s == g->nscales - 1;
	float c1 = (float)g->c1, c2 = (float)g->c2;
	ms_half lo = {0}, hi = {0};

	for (int a = 0; a < oh; a++) {
		ms_vec sum = {0};

		filter_line(rows + a * ow, (size_t)ow, g->wv[s], g->th[s], ow, exy);
		for (int q = 0; q < ow; q++) {
			int p = a * ow + q;
			ms_vec sxy = exy[q] - sx->mu[p] * sy->mu[p];
			ms_vec cs = (2 * sxy + c2) / (sx->var[p] + sy->var[p] + c2);

			if (last) {
				ms_vec mx = sx->mu[p] + sx->offset + (ms_vec){0};
				ms_vec my = sy->mu[p] + sy->offset;

				cs *= (2 * mx * my + c1) / (mx * mx + my * my + c1);
			}
			sum += cs;
		}
		lo += __builtin_convertvector(__builtin_shufflevector(sum, sum, 0, 1, 2, 3),
					      ms_half);
		hi += __builtin_convertvector(__builtin_shufflevector(sum, sum, 4, 5, 6, 7),
					      ms_half);
	}
	for (int l = 0; l < MS_LANES / 2; l++) {
		out[l] = lo[l] / (oh * ow);
		out[l + MS_LANES / 2] = hi[l] / (oh * ow);
	}
}

/* MS-SSIM of image x (compact) with each of the MS_LANES images of a lane
 * group, into out[]. */
__attribute__((target_clones("arch=x86-64-v3", "default")))
static void
pair_block(const struct ms_geom *g, const float *x, const float *group, ms_vec *buf,
	   double *out)
{
	const float *xoff = x + (size_t)g->channels * g->chan;
	const ms_vec *yoff = (const ms_vec *)group + (size_t)g->channels * g->chan;

	for (int l = 0; l < MS_LANES; l++)
		out[l] = 0;
	for (int c = 0; c < g->channels; c++) {
		const float *xc = x + (size_t)c * g->chan;
		const ms_vec *yc = (const ms_vec *)group + (size_t)c * g->chan;
		double logsum[MS_LANES] = {0}, mean[MS_LANES];
		int zero[MS_LANES] = {0};

		for (int s = 0; s < g->nscales; s++) {
			size_t m = g->npix + g->map_off[s], v = m + g->nmap;
			struct ms_stats_x sx = {xc + m, xc + v, xoff[c]};
			struct ms_stats_y sy = {yc + m, yc + v, yoff[c]};

			cross_rows(g, s, xc + g->pix_off[s], yc + g->pix_off[s], buf);
			cross_means(g, s, buf + g->w[s], buf + g->w[s] + g->h[s] * g->ow[s],
				    &sx, &sy, mean);
			for (int l = 0; l < MS_LANES; l++) {
				if (mean[l] <= 0)
					zero[l] = 1;
				else
					logsum[l] += g->weight[s] * log(mean[l]);
			}
		}
		for (int l = 0; l < MS_LANES; l++)
			out[l] += zero[l] ? 0 : exp(logsum[l]);
	}
	for (int l = 0; l < MS_LANES; l++)
		out[l] /= g->channels;
}

/* The dataset */

struct ms_data {
	struct dfm_st *st;
	const uint8_t *images;
	const int32_t *labels;          /* read only for within-classes */
	int64_t n;
	int h, w, c;
	const char *input;
};

static int
read_dataset(struct dfm_run *r, int need_labels, struct ms_data *d)
{
	const struct dfm_blob *b = dfm_input(r, "data", 0);
	const struct dfm_tensor *t, *lab;
	char err[200];

	memset(d, 0, sizeof *d);
	if (!b)
		return dfm_fail(r, "input 'data' is empty");
	d->input = b->name ? b->name : "data";
	if (dfm_st_open(b->data, b->size, &d->st, err, sizeof err))
		return dfm_fail(r, "input '%s': not a safetensors artifact: %s", d->input, err);
	t = dfm_st_get(d->st, "images");
	if (!t || t->dtype != DFM_U8 || t->ndim != 4)
		return dfm_fail(r, "input '%s' has no U8 tensor 'images' [N, H, W, C]",
				d->input);
	if (t->shape[0] < 2)
		return dfm_fail(r, "input '%s' has %lld images; a mean over pairs needs "
				"at least 2", d->input, (long long)t->shape[0]);
	if (t->shape[1] > 8192 || t->shape[2] > 8192 || t->shape[3] < 1 || t->shape[3] > 4)
		return dfm_fail(r, "input '%s': images of %lld x %lld x %lld are not "
				"supported", d->input, (long long)t->shape[1],
				(long long)t->shape[2], (long long)t->shape[3]);
	d->images = t->data;
	d->n = t->shape[0];
	d->h = (int)t->shape[1];
	d->w = (int)t->shape[2];
	d->c = (int)t->shape[3];
	if (!need_labels)
		return 0;
	if (!(lab = dfm_st_get(d->st, "labels")))
		return dfm_fail(r, "input '%s' has no 'labels', which 'within-classes' needs",
				d->input);
	if (lab->dtype != DFM_I32 || lab->ndim != 1 || lab->shape[0] != d->n)
		return dfm_fail(r, "input '%s': 'labels' must be I32 [%lld]", d->input,
				(long long)d->n);
	d->labels = lab->data;
	return 0;
}

/* Processing order and partner ranges.  Images are ordered by class when
 * pairs stay within classes, so that each class is one contiguous range;
 * row i then pairs with rows i+1 .. end[i]-1. */
struct ms_order {
	int64_t *order;
	int64_t *end;
	int64_t rows_pairs;     /* unordered pairs i < j allowed */
};

static int
by_label(const void *pa, const void *pb, void *labels)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
	const int32_t *lab = labels;

	if (lab[a] != lab[b])
		return lab[a] < lab[b] ? -1 : 1;
	return (a > b) - (a < b);
}

static int
order_init(const struct ms_data *d, int within, struct ms_order *o)
{
	int64_t n = d->n;

	o->order = malloc((size_t)n * sizeof *o->order);
	o->end = malloc((size_t)n * sizeof *o->end);
	if (!o->order || !o->end)
		return DFM_ERR_NOMEM;
	for (int64_t i = 0; i < n; i++) {
		o->order[i] = i;
		o->end[i] = n;
	}
	if (within) {
		qsort_r(o->order, (size_t)n, sizeof *o->order, by_label,
			(void *)d->labels);
		for (int64_t i = n - 1; i >= 0; i--)
			if (i + 1 < n && d->labels[o->order[i]] == d->labels[o->order[i + 1]])
				o->end[i] = o->end[i + 1];
			else
				o->end[i] = i + 1;
	}
	o->rows_pairs = 0;
	for (int64_t i = 0; i < n; i++)
		o->rows_pairs += o->end[i] - i - 1;
	return 0;
}

static void
order_free(struct ms_order *o)
{
	free(o->order);
	free(o->end);
}

/* Work shared by the threads: either every pair of the triangle, in tiles
 * of MS_TILE rows, or a sorted list of sampled pairs, in chunks. */
struct ms_pair {
	int64_t i, j;
};

enum { MS_CHUNK = 512 };

struct ms_job {
	const struct ms_geom *g;
	const float *groups;
	int64_t n;
	const int64_t *end;
	double *row_sum;                /* exact: per row, partners in order */
	const struct ms_pair *pairs;    /* sampled: sorted by i, then j */
	double *pair_value;
	size_t npairs;
	int64_t nunits;
	atomic_llong next_unit;
	atomic_llong pairs_done;
	atomic_int failed;
};

struct ms_worker {
	struct ms_job *job;
	ms_vec *buf;
	float *x;               /* compact copies of a tile's rows */
	float *group;           /* a gathered lane group (sampled pairs) */
	double out[MS_LANES];
};

static const float *
group_at(const struct ms_job *job, int64_t g)
{
	return job->groups + (size_t)g * job->g->group_stride;
}

static void
tile_run(struct ms_worker *wk, int64_t t)
{
	struct ms_job *job = wk->job;
	int64_t i0 = t * MS_TILE, i1 = i0 + MS_TILE < job->n ? i0 + MS_TILE : job->n;
	int64_t jmax = 0, done = 0;

	for (int64_t i = i0; i < i1; i++) {
		from_lane(job->g, group_at(job, i / MS_LANES), (int)(i % MS_LANES),
			  wk->x + (size_t)(i - i0) * job->g->x_stride);
		if (job->end[i] > jmax)
			jmax = job->end[i];
	}
	for (int64_t gi = (i0 + 1) / MS_LANES; gi * MS_LANES < jmax; gi++) {
		for (int64_t i = i0; i < i1; i++) {
			int64_t lo = i + 1, hi = job->end[i];

			if (lo >= hi || hi <= gi * MS_LANES || lo >= (gi + 1) * MS_LANES)
				continue;
			pair_block(job->g, wk->x + (size_t)(i - i0) * job->g->x_stride,
				   group_at(job, gi), wk->buf, wk->out);
			for (int l = 0; l < MS_LANES; l++) {
				int64_t j = gi * MS_LANES + l;

				if (j >= lo && j < hi) {
					job->row_sum[i] += wk->out[l];
					done++;
				}
			}
		}
	}
	atomic_fetch_add(&job->pairs_done, done);
}

/* Lane `lane` of wk->group becomes image j. */
static void
gather_lane(struct ms_worker *wk, int64_t j, int lane)
{
	const struct ms_geom *g = wk->job->g;
	const float *src = group_at(wk->job, j / MS_LANES);
	int sl = (int)(j % MS_LANES);

	for (size_t k = 0; k < g->x_stride; k++)
		wk->group[k * MS_LANES + lane] = src[k * MS_LANES + sl];
}

static void
chunk_run(struct ms_worker *wk, int64_t u)
{
	struct ms_job *job = wk->job;
	size_t p = (size_t)u * MS_CHUNK;
	size_t end = p + MS_CHUNK < job->npairs ? p + MS_CHUNK : job->npairs, done = 0;

	while (p < end) {
		int64_t i = job->pairs[p].i;
		size_t q = p;

		for (int l = 0; l < MS_LANES && q < end && job->pairs[q].i == i; l++, q++)
			gather_lane(wk, job->pairs[q].j, l);
		from_lane(job->g, group_at(job, i / MS_LANES), (int)(i % MS_LANES), wk->x);
		pair_block(job->g, wk->x, wk->group, wk->buf, wk->out);
		for (size_t k = p; k < q; k++)
			job->pair_value[k] = wk->out[k - p];
		done += q - p;
		p = q;
	}
	atomic_fetch_add(&job->pairs_done, (long long)done);
}

static int
worker_init(struct ms_worker *wk, struct ms_job *job)
{
	const struct ms_geom *g = job->g;
	size_t gbytes = (g->group_stride * sizeof(float) + 63) / 64 * 64;

	memset(wk, 0, sizeof *wk);
	wk->job = job;
	wk->buf = aligned_alloc(64, (g->scratch * sizeof(ms_vec) + 63) / 64 * 64);
	wk->x = malloc(MS_TILE * g->x_stride * sizeof *wk->x);
	wk->group = job->pairs ? aligned_alloc(64, gbytes) : NULL;
	if (!wk->buf || !wk->x || (job->pairs && !wk->group))
		return DFM_ERR_NOMEM;
	if (wk->group)
		memset(wk->group, 0, gbytes);
	return 0;
}

static void
worker_free(struct ms_worker *wk)
{
	free(wk->buf);
	free(wk->x);
	free(wk->group);
}

/* Runs the next unit of work; returns 0 when none is left (or a thread
 * failed), so that a caller can report progress between units. */
static int
worker_step(struct ms_worker *wk)
{
	long long u = atomic_fetch_add(&wk->job->next_unit, 1);

	if (u >= wk->job->nunits || atomic_load(&wk->job->failed))
		return 0;
	if (wk->job->pairs)
		chunk_run(wk, u);
	else
		tile_run(wk, u);
	return 1;
}

static void *
worker_main(void *arg)
{
	struct ms_job *job = arg;
	struct ms_worker wk;

	if (worker_init(&wk, job) == 0)
		while (worker_step(&wk))
			;
	else
		atomic_store(&job->failed, 1);
	worker_free(&wk);
	return NULL;
}

/* Runs every unit of job on `threads` threads, this one included, which
 * reports progress. */
static int
run_job(struct dfm_run *r, struct ms_job *job, int threads, int64_t total)
{
	pthread_t tid[64];
	struct ms_worker wk;
	int started = 0, rc;

	if (threads > 64)
		threads = 64;
	if ((rc = worker_init(&wk, job)))
		goto out;
	for (; started < threads - 1; started++)
		if (pthread_create(&tid[started], NULL, worker_main, job))
			break;
	while (worker_step(&wk))
		dfm_progress(r, (double)atomic_load(&job->pairs_done), (double)total);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	rc = atomic_load(&job->failed) ? DFM_ERR_NOMEM : 0;
	if (!rc)
		dfm_progress(r, (double)atomic_load(&job->pairs_done), (double)total);
out:
	worker_free(&wk);
	return rc;
}

/* Sampling, for datasets too large for every pair */

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, m) by multiply-shift; the bias is below m / 2^64. */
static int64_t
uniform_below(uint64_t *state, int64_t m)
{
	return (int64_t)(((unsigned __int128)splitmix64(state) * (uint64_t)m) >> 64);
}

static int
by_pair(const void *pa, const void *pb)
{
	const struct ms_pair *a = pa, *b = pb;

	if (a->i != b->i)
		return (a->i > b->i) - (a->i < b->i);
	return (a->j > b->j) - (a->j < b->j);
}

/* Draws count ordered pairs i != j uniformly from the allowed pairs (all,
 * or within a class: a class run is drawn with weight n_c (n_c - 1)), each
 * stored as (min, max) since MS-SSIM is symmetric, then sorted. */
static struct ms_pair *
sample_pairs(const struct ms_order *o, int64_t n, int64_t count, uint64_t seed)
{
	struct ms_pair *pairs = malloc((size_t)count * sizeof *pairs);
	int64_t *cum = malloc((size_t)n * sizeof *cum), *start = malloc((size_t)n * sizeof *start);
	int64_t runs = 0, total = 0;

	if (!pairs || !cum || !start)
		goto fail;
	for (int64_t i = 0; i < n; i = o->end[i]) {
		int64_t size = o->end[i] - i;

		total += size * (size - 1);
		start[runs] = i;
		cum[runs++] = total;
	}
	for (int64_t k = 0; k < count; k++) {
		int64_t pick = uniform_below(&seed, total), lo = 0, hi = runs - 1;
		int64_t size, i, j;

		while (lo < hi) {
			int64_t mid = (lo + hi) / 2;

			if (cum[mid] > pick)
				hi = mid;
			else
				lo = mid + 1;
		}
		size = o->end[start[lo]] - start[lo];
		i = uniform_below(&seed, size);
		j = uniform_below(&seed, size - 1);
		j += j >= i;
		pairs[k].i = start[lo] + (i < j ? i : j);
		pairs[k].j = start[lo] + (i < j ? j : i);
	}
	qsort(pairs, (size_t)count, sizeof *pairs, by_pair);
	free(cum);
	free(start);
	return pairs;
fail:
	free(pairs);
	free(cum);
	free(start);
	return NULL;
}

/* The stage */

struct ms_result {
	double mean, std_error;
	int64_t unordered, samples;
};

static json_object *
result_json(struct dfm_run *r, const struct ms_data *d, const struct ms_geom *g,
	    const struct ms_result *res)
{
	json_object *o = json_object_new_object(), *w = json_object_new_array();
	json_object *size = json_object_new_array();

	if (!o || !w || !size) {
		json_object_put(o);
		json_object_put(w);
		json_object_put(size);
		return NULL;
	}
	for (int s = 0; s < g->nscales; s++)
		json_object_array_add(w, dfm_metric_number(g->weight[s]));
	json_object_array_add(size, json_object_new_int(d->h));
	json_object_array_add(size, json_object_new_int(d->w));
	json_object_array_add(size, json_object_new_int(d->c));
	json_object_object_add(o, "mean", dfm_metric_number(res->mean));
	json_object_object_add(o, "method", json_object_new_string(res->samples ?
								    "sampled" : "exact"));
	json_object_object_add(o, "pairs", json_object_new_int64(2 * res->unordered));
	json_object_object_add(o, "images", json_object_new_int64(d->n));
	json_object_object_add(o, "image_size", size);
	json_object_object_add(o, "convention", json_object_new_string(dfm_str(r, "convention")));
	json_object_object_add(o, "scales", json_object_new_int(g->nscales));
	json_object_object_add(o, "weights", w);
	json_object_object_add(o, "within_classes",
			       json_object_new_boolean(dfm_bool(r, "within-classes")));
	if (res->samples) {
		json_object *ci = json_object_new_array();

		json_object_array_add(ci, dfm_metric_number(res->mean - 1.96 * res->std_error));
		json_object_array_add(ci, dfm_metric_number(res->mean + 1.96 * res->std_error));
		json_object_object_add(o, "samples", json_object_new_int64(res->samples));
		json_object_object_add(o, "seed", json_object_new_int64(dfm_int(r, "seed")));
		json_object_object_add(o, "std_error", dfm_metric_number(res->std_error));
		json_object_object_add(o, "ci95", ci);
	}
	return o;
}

/* Sums in a fixed order: rows (exact) or sorted samples. */
static void
reduce(const struct ms_job *job, const struct ms_order *o, struct ms_result *res)
{
	double sum = 0, sq = 0;

	if (!job->pairs) {
		for (int64_t i = 0; i < job->n; i++)
			sum += job->row_sum[i];
		res->mean = sum / (double)o->rows_pairs;
		return;
	}
	for (size_t k = 0; k < job->npairs; k++)
		sum += job->pair_value[k];
	res->mean = sum / (double)job->npairs;
	for (size_t k = 0; k < job->npairs; k++)
		sq += (job->pair_value[k] - res->mean) * (job->pair_value[k] - res->mean);
	res->std_error = job->npairs > 1 ?
		sqrt(sq / (double)(job->npairs - 1) / (double)job->npairs) : 0;
}

static int
job_init(struct ms_job *job, const struct ms_geom *g, const struct ms_order *o,
	 int64_t n, int64_t samples, uint64_t seed)
{
	size_t ngroups = (size_t)(n + MS_LANES - 1) / MS_LANES;
	size_t bytes = ngroups * g->group_stride * sizeof(float);

	memset(job, 0, sizeof *job);
	job->g = g;
	job->n = n;
	job->end = o->end;
	if (!(job->groups = aligned_alloc(64, (bytes + 63) / 64 * 64)))
		return DFM_ERR_NOMEM;
	memset((float *)job->groups, 0, bytes);
	if (!samples) {
		job->nunits = (n + MS_TILE - 1) / MS_TILE;
		job->row_sum = calloc((size_t)n, sizeof *job->row_sum);
		return job->row_sum ? 0 : DFM_ERR_NOMEM;
	}
	job->npairs = (size_t)samples;
	job->nunits = (samples + MS_CHUNK - 1) / MS_CHUNK;
	job->pairs = sample_pairs(o, n, samples, seed);
	job->pair_value = malloc((size_t)samples * sizeof *job->pair_value);
	return job->pairs && job->pair_value ? 0 : DFM_ERR_NOMEM;
}

static void
job_free(struct ms_job *job)
{
	free((float *)job->groups);
	free(job->row_sum);
	free((struct ms_pair *)job->pairs);
	free(job->pair_value);
}

static int
ms_compute(struct dfm_run *r, const struct ms_data *d, const struct ms_geom *g,
	   const struct ms_order *o)
{
	int64_t samples = dfm_int(r, "samples");
	struct ms_result res = {0, 0, o->rows_pairs, samples};
	struct ms_job job;
	int rc;

	if ((rc = job_init(&job, g, o, d->n, samples, (uint64_t)dfm_int(r, "seed"))))
		goto out;
	if ((rc = prepare_all(g, d->images, o->order, d->n, (float *)job.groups)))
		goto out;
	if ((rc = run_job(r, &job, dfm_threads(r), samples ? samples : o->rows_pairs)))
		goto out;
	reduce(&job, o, &res);
	dfm_note(r, "ms-ssim %.9f over %s %lld pairs of %lld images (%d scales, '%s')",
		 res.mean, samples ? "a sample of" : "all", (long long)(samples ? samples :
		 o->rows_pairs), (long long)d->n, g->nscales, dfm_str(r, "convention"));
	rc = dfm_metric_put_json(r, "result", result_json(r, d, g, &res));
out:
	if (rc == DFM_ERR_NOMEM)
		rc = dfm_fail(r, "out of memory for %lld images of %d x %d x %d",
			      (long long)d->n, d->h, d->w, d->c);
	job_free(&job);
	return rc;
}

static int
ms_run(struct dfm_run *r)
{
	int within = dfm_bool(r, "within-classes");
	struct ms_data d;
	struct ms_geom g;
	struct ms_order o = {0};
	char why[200];
	int rc;

	if ((rc = read_dataset(r, within, &d)))
		goto out;
	if (geom_init(&g, d.h, d.w, d.c, strcmp(dfm_str(r, "convention"), "fit") == 0,
		      why, sizeof why)) {
		rc = dfm_fail(r, "input '%s': %s, not %d x %d", d.input, why, d.h, d.w);
		goto out;
	}
	if ((rc = order_init(&d, within, &o))) {
		rc = dfm_fail(r, "out of memory");
		goto out;
	}
	if (o.rows_pairs == 0) {
		rc = dfm_fail(r, "input '%s': no two images share a class", d.input);
		goto out;
	}
	rc = ms_compute(r, &d, &g, &o);
out:
	order_free(&o);
	if (d.st)
		dfm_st_close(d.st);
	return rc;
}

static const struct dfm_param ms_params[] = {
	{"convention", DFM_STR, "shrink", "small images: 'shrink' keeps five scales and "
	 "truncates the window to a scale smaller than 11 pixels; 'fit' keeps only the "
	 "scales the 11-tap window fits, with their weights renormalised",
	 "shrink|fit", 0, 0},
	{"within-classes", DFM_BOOL, "false", "average only over pairs of one class",
	 NULL, 0, 0},
	{"samples", DFM_INT, "0", "0 for the exact mean over all pairs, else the number "
	 "of random pairs of a sampled estimate with a 95% confidence interval",
	 NULL, 0, 1e12},
	{"seed", DFM_INT, "1", "seed of the pair sample", NULL, 0, 0},
	{0},
};

static const struct dfm_slot ms_inputs[] = {
	{"data", 0, "dataset artifact: U8 'images' [N, H, W, C], I32 'labels' [N]"},
	{0},
};

static const struct dfm_output ms_outputs[] = {
	{"result", "json", "mean MS-SSIM, pairs, convention"},
	{0},
};

const struct dfm_kind dfm_kind_ms_ssim = {
	.name = "ms-ssim",
	.version = 1,
	.summary = "mean MS-SSIM over all pairs of a dataset (its diversity)",
	.params = ms_params,
	.inputs = ms_inputs,
	.outputs = ms_outputs,
	.run = ms_run,
};
