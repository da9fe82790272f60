/* PNG decoding and encoding with libpng, from and into memory.
 *
 * libpng reports errors by longjmp; each function here keeps its
 * allocations in a struct that outlives the jump, so one cleanup path frees
 * them whichever way the decode ends. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "stages/image.h"

struct reader {
	const uint8_t *data;
	size_t size, pos;
	char *err;
	size_t errlen;
};

static void
on_error(png_structp png, png_const_charp msg)
{
	struct reader *rd = png_get_error_ptr(png);

	if (rd && rd->err)
		snprintf(rd->err, rd->errlen, "png: %s", msg);
	png_longjmp(png, 1);
}

static void
on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static void
on_read(png_structp png, png_bytep out, png_size_t n)
{
	struct reader *rd = png_get_io_ptr(png);

	if (n > rd->size - rd->pos)
		png_error(png, "truncated file");
	memcpy(out, rd->data + rd->pos, n);
	rd->pos += n;
}

/* Asks libpng for 8-bit grey or RGB, with alpha kept for compositing. */
static int
set_transforms(png_structp png, png_infop info)
{
	int type = png_get_color_type(png, info);
	int depth = png_get_bit_depth(png, info);

	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(png);
	if (depth == 16)
		png_set_strip_16(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	return png_get_channels(png, info);
}

/* v over white with alpha a, as (v a + 255 (255 - a)) / 255 rounded: exact
 * for every v and a, and v itself when a is 255. */
static inline uint8_t
over_white(unsigned v, unsigned a)
{
	unsigned x = v * a + 255 * (255 - a) + 128;

	return (uint8_t)((x + (x >> 8)) >> 8);
}

/* Composites grey+alpha or RGBA rows on white, in place, leaving c - 1
 * channels.  Opaque and clear pixels, most of an icon, skip the sums. */
static void
composite_white(uint8_t *pix, size_t npix, int c)
{
	uint8_t *out = pix;

	if (c == 4) {
		for (size_t i = 0; i < npix; i++, pix += 4, out += 3) {
			unsigned a = pix[3];

			if (a == 255) {
				out[0] = pix[0], out[1] = pix[1], out[2] = pix[2];
			} else if (a == 0) {
				out[0] = out[1] = out[2] = 255;
			} else {
				out[0] = over_white(pix[0], a);
				out[1] = over_white(pix[1], a);
				out[2] = over_white(pix[2], a);
			}
		}
		return;
	}
	for (size_t i = 0; i < npix; i++, pix += c)
		for (int k = 0; k < c - 1; k++)
			*out++ = over_white(pix[k], pix[c - 1]);
}

struct decode {
	png_structp png;
	png_infop info;
	uint8_t *pix;
	png_bytep *rows;
};

static int
check_size(png_uint_32 w, png_uint_32 h, char *err, size_t errlen)
{
	if (w == 0 || h == 0) {
		snprintf(err, errlen, "png: image size %ux%u is empty", (unsigned)w, (unsigned)h);
		return DFM_ERR_FORMAT;
	}
	if ((int64_t)w * h > DFM_IMAGE_MAX_PIXELS) {
		snprintf(err, errlen, "png: image size %ux%u is too large (over %lld pixels)",
			 (unsigned)w, (unsigned)h, (long long)DFM_IMAGE_MAX_PIXELS);
		return E2BIG;
	}
	return 0;
}

static int
read_pixels(struct decode *d, struct reader *rd, struct dfm_image *im)
{
	png_uint_32 w, h;
	int c, rc;

	png_set_read_fn(d->png, rd, on_read);
	png_set_user_limits(d->png, 1u << 20, 1u << 20);
	png_read_info(d->png, d->info);
	w = png_get_image_width(d->png, d->info);
	h = png_get_image_height(d->png, d->info);
	if ((rc = check_size(w, h, rd->err, rd->errlen)))
		return rc;
	c = set_transforms(d->png, d->info);
	if (png_get_rowbytes(d->png, d->info) != (size_t)w * c) {
		snprintf(rd->err, rd->errlen, "png: unexpected row layout");
		return DFM_ERR_FORMAT;
	}
	d->pix = malloc((size_t)w * h * c);
	d->rows = malloc(h * sizeof *d->rows);
	if (!d->pix || !d->rows)
		return DFM_ERR_NOMEM;
	for (png_uint_32 y = 0; y < h; y++)
		d->rows[y] = d->pix + (size_t)y * w * c;
	png_read_image(d->png, d->rows);
	if (c == 2 || c == 4) {
		composite_white(d->pix, (size_t)w * h, c);
		c--;
	}
	*im = (struct dfm_image){(int)h, (int)w, c, d->pix};
	d->pix = NULL;
	return 0;
}

int
dfm_png_decode(const void *data, size_t size, struct dfm_image *im, char *err,
	       size_t errlen)
{
	struct reader rd = {data, size, 0, err, errlen};
	struct decode d = {0};
	volatile int rc = DFM_ERR_FORMAT;

	if (size < 8 || png_sig_cmp(data, 0, 8)) {
		snprintf(err, errlen, "png: not a PNG file");
		return DFM_ERR_FORMAT;
	}
	d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &rd, on_error, on_warning);
	if (!d.png || !(d.info = png_create_info_struct(d.png))) {
		rc = DFM_ERR_NOMEM;
		goto out;
	}
	if (setjmp(png_jmpbuf(d.png))) {
		rc = DFM_ERR_FORMAT;
		goto out;
	}
#ifdef PNG_IGNORE_ADLER32
	/* Every IDAT chunk's CRC already covers the compressed bytes; zlib's
	 * own checksum of the inflated bytes adds a second pass and nothing a
	 * damaged file could slip past. */
	png_set_option(d.png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
	rc = read_pixels(&d, &rd, im);
out:
	png_destroy_read_struct(&d.png, &d.info, NULL);
	free(d.pix);
	free(d.rows);
	if (rc == DFM_ERR_NOMEM)
		snprintf(err, errlen, "png: out of memory");
	return rc;
}

struct writer {
	uint8_t *buf;
	size_t size, cap;
	int failed;
};

static void
on_write(png_structp png, png_bytep data, png_size_t n)
{
	struct writer *wr = png_get_io_ptr(png);

	if (wr->size + n > wr->cap) {
		size_t cap = wr->cap ? 2 * wr->cap : 4096;
		uint8_t *p;

		while (cap < wr->size + n)
			cap *= 2;
		if (!(p = realloc(wr->buf, cap))) {
			wr->failed = 1;
			png_error(png, "out of memory");
		}
		wr->buf = p;
		wr->cap = cap;
	}
	memcpy(wr->buf + wr->size, data, n);
	wr->size += n;
}

static void
on_flush(png_structp png)
{
	(void)png;
}

int
dfm_png_encode(const uint8_t *pix, int h, int w, int c, void **out, size_t *size)
{
	struct writer wr = {0};
	png_structp png;
	png_infop info = NULL;
	volatile int rc = DFM_ERR_NOMEM;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, on_warning);
	if (!png || !(info = png_create_info_struct(png)))
		goto out;
	if (setjmp(png_jmpbuf(png))) {
		rc = wr.failed ? DFM_ERR_NOMEM : DFM_ERR_FORMAT;
		goto out;
	}
	png_set_write_fn(png, &wr, on_write, on_flush);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
		     c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < h; y++)
		png_write_row(png, pix + (size_t)y * w * c);
	png_write_end(png, NULL);
	*out = wr.buf;
	*size = wr.size;
	wr.buf = NULL;
	rc = 0;
out:
	png_destroy_write_struct(&png, &info);
	free(wr.buf);
	return rc;
}

void
dfm_image_free(struct dfm_image *im)
{
	free(im->pix);
	im->pix = NULL;
}

int
dfm_image_decode(const void *data, size_t size, struct dfm_image *im, char *err,
		 size_t errlen)
{
	const uint8_t *b = data;

	if (size >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return dfm_jpeg_decode(data, size, im, err, errlen);
	if (size >= 8 && png_sig_cmp(data, 0, 8) == 0)
		return dfm_png_decode(data, size, im, err, errlen);
	snprintf(err, errlen, "neither a PNG nor a JPEG file");
	return DFM_ERR_FORMAT;
}
