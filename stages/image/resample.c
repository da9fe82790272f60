/* Separable triangle-filter resampling in 8-bit fixed point.
 *
 * The arithmetic follows the convention of Pillow's BILINEAR resize, so
 * that datasets resized here equal those a Python pipeline would make:
 * coefficients are computed in double, normalised over the taps inside the
 * image, rounded to 22 fractional bits, and each pass rounds its result to
 * 8 bits.  The horizontal pass runs first.
 *
 * Both passes are one routine, which weighs whole rows and so vectorises:
 * the horizontal pass runs it on the transposed image (a row per input
 * column), and the result is transposed back before the vertical pass.
 * Transposing costs a copy of the image; weighing pixels one by one along
 * a row, the alternative, costs several times more. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/image.h"

enum { FRAC_BITS = 22 };

/* Per output position: the first input tap, the number of taps, and
 * ksize fixed-point weights. */
struct coeffs {
	int ksize;
	int *first, *count;
	int32_t *w;
};

static double
triangle(double x)
{
	x = fabs(x);
	return x < 1.0 ? 1.0 - x : 0.0;
}

static void
coeffs_free(struct coeffs *k)
{
	free(k->first);
	free(k->count);
	free(k->w);
}

/* Pads window o to exactly ksize taps inside the input (zero weights
 * added), so the passes can run a fixed number of taps with no bounds
 * checks.  An input narrower than ksize keeps its short window. */
static void
fit_window(struct coeffs *k, int o, int in)
{
	int32_t *w = k->w + (size_t)o * k->ksize;
	int shift;

	if (in < k->ksize)
		return;
	shift = k->first[o] + k->ksize - in;
	if (shift > 0) {
		memmove(w + shift, w, (k->ksize - shift) * sizeof *w);
		memset(w, 0, shift * sizeof *w);
		k->first[o] -= shift;
	}
	k->count[o] = k->ksize;
}

static void
fill_coeffs(struct coeffs *k, int o, int in, double scale, double fscale)
{
	double support = fscale, center = (o + 0.5) * scale, sum = 0, inv = 1.0 / fscale;
	double pre[k->ksize];
	int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);

	if (lo < 0)
		lo = 0;
	if (hi > in)
		hi = in;
	for (int t = 0; t < hi - lo; t++)
		sum += pre[t] = triangle((t + lo - center + 0.5) * inv);
	for (int t = 0; t < k->ksize; t++) {
		double v = t < hi - lo && sum != 0.0 ? pre[t] / sum : 0.0;

		k->w[(size_t)o * k->ksize + t] =
			(int32_t)(v < 0 ? v * (1 << FRAC_BITS) - 0.5 : v * (1 << FRAC_BITS) + 0.5);
	}
	k->first[o] = lo;
	k->count[o] = hi - lo;
	fit_window(k, o, in);
}

static int
make_coeffs(struct coeffs *k, int in, int out, int antialias)
{
	double scale = (double)in / out;
	double fscale = antialias && scale > 1.0 ? scale : 1.0;

	k->ksize = (int)ceil(fscale) * 2 + 1;
	k->first = malloc(out * sizeof *k->first);
	k->count = malloc(out * sizeof *k->count);
	k->w = malloc((size_t)out * k->ksize * sizeof *k->w);
	if (!k->first || !k->count || !k->w) {
		coeffs_free(k);
		return DFM_ERR_NOMEM;
	}
	for (int o = 0; o < out; o++)
		fill_coeffs(k, o, in, scale, fscale);
	return 0;
}

static inline uint8_t
clip8(int32_t acc)
{
	if (acc <= 0)
		return 0;
	if (acc >= 255 << FRAC_BITS)
		return 255;
	return (uint8_t)(acc >> FRAC_BITS);
}

/* Rows of rowlen bytes: each output row is a weighted sum of whole input
 * rows, accumulated row by row so the inner loop vectorises. */
static void
pass_v(const uint8_t *src, int rowlen, uint8_t *dst, int dh, const struct coeffs *k,
       int32_t *acc)
{
	for (int y = 0; y < dh; y++) {
		const int32_t *w = k->w + (size_t)y * k->ksize;
		const uint8_t *base = src + (size_t)k->first[y] * rowlen;

#pragma omp simd
		for (int i = 0; i < rowlen; i++)
			acc[i] = 1 << (FRAC_BITS - 1);
		for (int t = 0; t < k->count[y]; t++) {
			const uint8_t *row = base + (size_t)t * rowlen;
			int32_t wt = w[t];

			if (!wt)
				continue;
#pragma omp simd
			for (int i = 0; i < rowlen; i++)
				acc[i] += row[i] * wt;
		}
#pragma omp simd
		for (int i = 0; i < rowlen; i++)
			dst[i] = clip8(acc[i]);
		dst += rowlen;
	}
}

struct dfm_resampler {
	int sh, sw, dh, dw;
	struct coeffs kh, kv;
	uint8_t *cols;         /* sw x sh x 3: the source, transposed */
	uint8_t *midt;         /* dw x sh x 3: the horizontal pass, transposed */
	uint8_t *mid;          /* sh x dw x 3 */
	int32_t *acc;          /* max(sh, dw) x 3 */
};

void
dfm_resampler_free(struct dfm_resampler *rs)
{
	if (!rs)
		return;
	coeffs_free(&rs->kh);
	coeffs_free(&rs->kv);
	free(rs->cols);
	free(rs->midt);
	free(rs->mid);
	free(rs->acc);
	free(rs);
}

struct dfm_resampler *
dfm_resampler_new(int sh, int sw, int dh, int dw, int antialias)
{
	struct dfm_resampler *rs = calloc(1, sizeof *rs);

	if (!rs)
		return NULL;
	*rs = (struct dfm_resampler){.sh = sh, .sw = sw, .dh = dh, .dw = dw};
	if ((sw != dw && make_coeffs(&rs->kh, sw, dw, antialias)) ||
	    (sh != dh && make_coeffs(&rs->kv, sh, dh, antialias)) ||
	    !(rs->cols = malloc((size_t)sw * sh * 3)) ||
	    !(rs->midt = malloc((size_t)dw * sh * 3)) ||
	    !(rs->mid = malloc((size_t)sh * dw * 3)) ||
	    !(rs->acc = malloc((size_t)(sh > dw ? sh : dw) * 3 * sizeof *rs->acc))) {
		dfm_resampler_free(rs);
		return NULL;
	}
	return rs;
}

/* dst (cols x rows pixels of c bytes) = src (rows x cols) transposed; c is
 * a constant after inlining, so each pixel is a fixed-size copy. */
static inline __attribute__((always_inline)) void
transpose_c(const uint8_t *restrict src, int rows, int cols, int c, uint8_t *restrict dst)
{
	for (int y = 0; y < rows; y++) {
		const uint8_t *s = src + (size_t)y * cols * c;
		uint8_t *d = dst + (size_t)y * c;

		for (int x = 0; x < cols; x++, s += c, d += (size_t)rows * c) {
			if (c == 3) {  /* not a loop, which the compiler makes a memcpy call */
				d[0] = s[0];
				d[1] = s[1];
				d[2] = s[2];
				continue;
			}
			for (int ch = 0; ch < c; ch++)
				d[ch] = s[ch];
		}
	}
}

static void
transpose(const uint8_t *src, int rows, int cols, int c, uint8_t *dst)
{
	if (c == 1)
		transpose_c(src, rows, cols, 1, dst);
	else if (c == 3)
		transpose_c(src, rows, cols, 3, dst);
	else
		transpose_c(src, rows, cols, c, dst);
}

/* The horizontal pass from src (sh x sw) into dst (sh x dw). */
static void
horizontal(const struct dfm_resampler *rs, const uint8_t *src, int c, uint8_t *dst)
{
	transpose(src, rs->sh, rs->sw, c, rs->cols);
	pass_v(rs->cols, rs->sh * c, rs->midt, rs->dw, &rs->kh, rs->acc);
	transpose(rs->midt, rs->dw, rs->sh, c, dst);
}

void
dfm_resampler_run(struct dfm_resampler *rs, const uint8_t *src, int c, uint8_t *dst)
{
	if (rs->sh == rs->dh && rs->sw == rs->dw) {
		memcpy(dst, src, (size_t)rs->sh * rs->sw * c);
	} else if (rs->sh == rs->dh) {
		horizontal(rs, src, c, dst);
	} else if (rs->sw == rs->dw) {
		pass_v(src, rs->sw * c, dst, rs->dh, &rs->kv, rs->acc);
	} else {
		horizontal(rs, src, c, rs->mid);
		pass_v(rs->mid, rs->dw * c, dst, rs->dh, &rs->kv, rs->acc);
	}
}

int
dfm_resample(const uint8_t *src, int sh, int sw, int c, uint8_t *dst, int dh, int dw,
	     int antialias)
{
	struct dfm_resampler *rs = dfm_resampler_new(sh, sw, dh, dw, antialias);

	if (!rs)
		return DFM_ERR_NOMEM;
	dfm_resampler_run(rs, src, c, dst);
	dfm_resampler_free(rs);
	return 0;
}

void
dfm_convert_channels(const uint8_t *src, int sc, uint8_t *dst, int dc, size_t n)
{
	if (sc == dc) {
		memcpy(dst, src, n * sc);
	} else if (sc == 1) {
#pragma omp simd
		for (size_t i = 0; i < n; i++)
			dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
	} else {
		for (size_t i = 0; i < n; i++, src += 3)
			dst[i] = (uint8_t)((src[0] * 19595u + src[1] * 38470u +
					    src[2] * 7471u + 0x8000u) >> 16);
	}
}
