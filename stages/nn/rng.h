/* Counter-based random numbers for initialisation and sampling.
 *
 * Every number is a pure function of (seed, stream, index): a stream is a
 * tensor's identity (dfm_nn_rng_stream of its name, say) and index the
 * element.  Results therefore never depend on how work is split between
 * threads or on the order in which tensors are initialised. */
#ifndef DFM_NN_RNG_H
#define DFM_NN_RNG_H

#include <stddef.h>
#include <stdint.h>

/* A stream identifier derived from a name (a 64-bit FNV-1a hash). */
uint64_t dfm_nn_rng_stream(const char *name);

/* 64 random bits for (seed, stream, index). */
uint64_t dfm_nn_rng_bits(uint64_t seed, uint64_t stream, uint64_t index);

/* Fills x[0..n) with uniform numbers in [lo, hi). */
void dfm_nn_rng_uniform(uint64_t seed, uint64_t stream, float *x, size_t n, float lo, float hi);

/* Fills x[0..n) with standard normal numbers (Box-Muller on two draws). */
void dfm_nn_rng_normal(uint64_t seed, uint64_t stream, float *x, size_t n);

/* Fills y[0..n) with integers uniform in [0, k). */
void dfm_nn_rng_labels(uint64_t seed, uint64_t stream, int32_t *y, size_t n, int k);

#endif
