/* Separable triangle-filter resampling in 8-bit fixed point.
 *
 * The arithmetic follows the convention of Pillow's BILINEAR resize, so
 * that datasets resized here equal those a Python pipeline would make:
 * coefficients are computed in double, normalised over the taps inside the
 * image, rounded to 22 fractional bits, and each pass rounds its result to
 * 8 bits.  The horizontal pass runs first. */
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
clip8(int64_t acc)
{
	if (acc <= 0)
		return 0;
	if (acc >= (int64_t)255 << FRAC_BITS)
		return 255;
	return (uint8_t)(acc >> FRAC_BITS);
}

/* src rows of sw pixels into rows of dw pixels; rows of h. */
static void
pass_h(const uint8_t *src, int sw, int c, uint8_t *dst, int dw, int h,
       const struct coeffs *k)
{
	for (int y = 0; y < h; y++) {
		const uint8_t *row = src + (size_t)y * sw * c;

		for (int x = 0; x < dw; x++) {
			const int32_t *w = k->w + (size_t)x * k->ksize;
			const uint8_t *p = row + (size_t)k->first[x] * c;

			for (int ch = 0; ch < c; ch++) {
				int64_t acc = 1 << (FRAC_BITS - 1);

				for (int t = 0; t < k->count[x]; t++)
					acc += (int64_t)p[t * c + ch] * w[t];
				*dst++ = clip8(acc);
			}
		}
	}
}

/* Rows of w * c bytes: sh rows into dh rows. */
static void
pass_v(const uint8_t *src, int rowlen, uint8_t *dst, int dh, const struct coeffs *k)
{
	for (int y = 0; y < dh; y++) {
		const int32_t *w = k->w + (size_t)y * k->ksize;
		const uint8_t *base = src + (size_t)k->first[y] * rowlen;

		for (int i = 0; i < rowlen; i++) {
			int64_t acc = 1 << (FRAC_BITS - 1);

			for (int t = 0; t < k->count[y]; t++)
				acc += (int64_t)base[(size_t)t * rowlen + i] * w[t];
			*dst++ = clip8(acc);
		}
	}
}

int
dfm_resample(const uint8_t *src, int sh, int sw, int c, uint8_t *dst, int dh,
	     int dw, int antialias)
{
	struct coeffs kh = {0}, kv = {0};
	uint8_t *mid = NULL;
	int rc = DFM_ERR_NOMEM;

	if (sh == dh && sw == dw) {
		memcpy(dst, src, (size_t)sh * sw * c);
		return 0;
	}
	if (sw != dw && make_coeffs(&kh, sw, dw, antialias))
		goto out;
	if (sh != dh && make_coeffs(&kv, sh, dh, antialias))
		goto out;
	if (sh == dh) {
		pass_h(src, sw, c, dst, dw, sh, &kh);
	} else if (sw == dw) {
		pass_v(src, sw * c, dst, dh, &kv);
	} else {
		if (!(mid = malloc((size_t)sh * dw * c)))
			goto out;
		pass_h(src, sw, c, mid, dw, sh, &kh);
		pass_v(mid, dw * c, dst, dh, &kv);
	}
	rc = 0;
out:
	coeffs_free(&kh);
	coeffs_free(&kv);
	free(mid);
	return rc;
}

void
dfm_convert_channels(const uint8_t *src, int sc, uint8_t *dst, int dc, size_t n)
{
	if (sc == dc) {
		memcpy(dst, src, n * sc);
	} else if (sc == 1) {
		for (size_t i = 0; i < n; i++, dst += 3)
			dst[0] = dst[1] = dst[2] = src[i];
	} else {
		for (size_t i = 0; i < n; i++, src += 3)
			dst[i] = (uint8_t)((src[0] * 19595u + src[1] * 38470u +
					    src[2] * 7471u + 0x8000u) >> 16);
	}
}
