#include <math.h>

#include "stages/nn/rng.h"

uint64_t
dfm_nn_rng_stream(const char *name)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3u;
	return h;
}

static uint64_t
mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Two rounds of the SplitMix64 finaliser over the three words keep nearby
 * counters and streams uncorrelated. */
uint64_t
dfm_nn_rng_bits(uint64_t seed, uint64_t stream, uint64_t index)
{
	uint64_t h = mix(seed + 0x9e3779b97f4a7c15u);

	h = mix(h ^ stream);
	return mix(h + index * 0x9e3779b97f4a7c15u);
}

/* 24 random bits scaled to [0, 1): exactly representable in a float. */
static double
unit(uint64_t seed, uint64_t stream, uint64_t index)
{
	return (double)(dfm_nn_rng_bits(seed, stream, index) >> 40) * (1.0 / 16777216.0);
}

void
dfm_nn_rng_uniform(uint64_t seed, uint64_t stream, float *x, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(lo + (hi - lo) * unit(seed, stream, i));
}

void
dfm_nn_rng_normal(uint64_t seed, uint64_t stream, float *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double u1 = 1.0 - unit(seed, stream, 2 * i);
		double u2 = unit(seed, stream, 2 * i + 1);

		x[i] = (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
	}
}

void
dfm_nn_rng_labels(uint64_t seed, uint64_t stream, int32_t *y, size_t n, int k)
{
	for (size_t i = 0; i < n; i++)
		y[i] = (int32_t)(dfm_nn_rng_bits(seed, stream, i) % (uint64_t)k);
}
