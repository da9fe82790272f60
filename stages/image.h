/* Images in memory: decoding PNG and JPEG, encoding PNG, resampling, and
 * rendering text with FreeType.  Shared by the data stages (ingest, resize,
 * export); knows nothing of datasets or the stage API.
 *
 * Pixels are 8-bit, rows top to bottom, channels interleaved (HWC).  An
 * image has 1 (grey) or 3 (RGB) channels: decoders composite alpha on white
 * and expand palettes, so nothing downstream deals with either. */
#ifndef DFM_IMAGE_H
#define DFM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* The most pixels a decoder accepts (about 8k x 8k): the header is checked
 * before anything is allocated, so an absurd declared size costs nothing. */
#define DFM_IMAGE_MAX_PIXELS ((int64_t)1 << 26)

struct dfm_image {
	int h, w, c;
	uint8_t *pix;     /* h * w * c bytes, malloc'd, owned by the image */
};

/* Frees the pixels of an image (not the struct) and clears the pointer. */
void dfm_image_free(struct dfm_image *im);

/* Decodes a PNG (any bit depth, grey, palette, alpha, 16-bit) from memory.
 * Returns 0 and fills im, or DFM_ERR_FORMAT with a reason in err; E2BIG
 * when the image has more than DFM_IMAGE_MAX_PIXELS pixels. */
int dfm_png_decode(const void *data, size_t size, struct dfm_image *im,
		   char *err, size_t errlen);

/* Decodes a baseline or progressive JPEG (grey, YCbCr or CMYK) from memory.
 * Returns 0 and fills im, or DFM_ERR_FORMAT (E2BIG) as dfm_png_decode(). */
int dfm_jpeg_decode(const void *data, size_t size, struct dfm_image *im,
		    char *err, size_t errlen);

/* Decodes a PNG or a JPEG, chosen by its first bytes. */
int dfm_image_decode(const void *data, size_t size, struct dfm_image *im,
		     char *err, size_t errlen);

/* Encodes h x w x c pixels (c = 1 or 3) as a PNG into a malloc'd buffer the
 * caller owns.  Returns 0 or an error. */
int dfm_png_encode(const uint8_t *pix, int h, int w, int c, void **out,
		   size_t *size);

/* Resamples src (sh x sw x c) into dst (dh x dw x c) with a triangle
 * (bilinear) filter on pixel centres: output pixel x samples the input at
 * (x + 0.5) * sw / dw - 0.5.  Taps that fall outside the image are dropped
 * and the rest renormalised, which equals replicating the edge.  With
 * antialias, a downscale widens the filter by the scale factor so every
 * input pixel contributes (as Pillow's BILINEAR does); without, the filter
 * keeps two taps and aliases.  Works in 8-bit fixed point, a horizontal
 * pass then a vertical one.  Returns 0 or DFM_ERR_NOMEM. */
int dfm_resample(const uint8_t *src, int sh, int sw, int c, uint8_t *dst,
		 int dh, int dw, int antialias);

/* A resampling plan for one pair of sizes, reusable over many images (the
 * coefficients are computed once).  NULL when out of memory. */
struct dfm_resampler *dfm_resampler_new(int sh, int sw, int dh, int dw, int antialias);

/* Resamples one image of the plan's sizes with c channels (1 or 3), as
 * dfm_resample() does.  Not for concurrent use of one plan. */
void dfm_resampler_run(struct dfm_resampler *rs, const uint8_t *src, int c,
		       uint8_t *dst);

/* Frees a plan; NULL is ignored. */
void dfm_resampler_free(struct dfm_resampler *rs);

/* Converts n pixels between 1 and 3 channels (grey is replicated; RGB to
 * grey takes ITU-R 601 luma, rounded).  src and dst must not overlap. */
void dfm_convert_channels(const uint8_t *src, int sc, uint8_t *dst, int dc,
			  size_t n);

/* Text rendering with FreeType, for labels on exported grids. */
struct dfm_font;

/* Opens the first font found among a fixed list of Debian font files, at
 * a pixel height.  Returns NULL when none can be loaded. */
struct dfm_font *dfm_font_open_default(int px);

/* Opens the font file at path at a pixel height, or returns NULL. */
struct dfm_font *dfm_font_open(const char *path, int px);

/* Closes a font; NULL is ignored. */
void dfm_font_close(struct dfm_font *f);

/* Draws UTF-8 text (Latin-1 range; others as '?') in black onto an RGB
 * canvas of h x w, baseline at y, starting at x, clipped to the canvas and
 * to max_w pixels of advance. */
void dfm_font_draw(struct dfm_font *f, const char *text, uint8_t *canvas,
		   int h, int w, int x, int y, int max_w);

#endif
