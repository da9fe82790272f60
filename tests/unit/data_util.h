/* Helpers for the data-stage tests: files and tiny datasets. */
#ifndef DFM_DATA_UTIL_H
#define DFM_DATA_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A whole file in a malloc'd buffer the caller frees, or NULL. */
void *dfm_test_read_file(const char *path, size_t *size);

/* Writes size bytes to dir/name (creating parent folders); 0 or -1. */
int dfm_test_write(const char *dir, const char *name, const void *data, size_t size);

/* A dataset of two grey images (classes "a" and "b") of different sizes,
 * or the same size, serialised into a malloc'd buffer. */
int dfm_test_two_images(const uint8_t *a, int ah, int aw, const uint8_t *b, int bh,
			int bw, int c, void **out, size_t *size);

/* A fixed-size dataset with n images of h x w x c, label i % k, pixel
 * values from i; serialised into a malloc'd buffer. */
int dfm_test_dataset(int64_t n, int h, int w, int c, int k, void **out, size_t *size);

/* Writes a PNG with libpng: color_type and bit depth as libpng names them,
 * rows of raw samples (big-endian for 16-bit), an optional palette of
 * npal RGB entries and an optional tRNS of ntrns alphas. */
int dfm_test_png(const char *path, int w, int h, int color_type, int depth,
		 const uint8_t *raw, const uint8_t *pal, int npal, const uint8_t *trns,
		 int ntrns);

/* Writes an RGB (c = 3) or grey (c = 1) JPEG at quality 95. */
int dfm_test_jpeg(const char *path, const uint8_t *pix, int w, int h, int c);

#endif
