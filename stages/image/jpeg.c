/* JPEG decoding with libjpeg-turbo, from memory.
 *
 * libjpeg's default error handler exits the process; this one jumps back
 * with the message instead.  A truncated file is an error here, although
 * libjpeg would pad it with grey and only warn. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "cache/error.h"
#include "stages/image.h"

struct jerr {
	struct jpeg_error_mgr mgr;
	jmp_buf jump;
	char *err;
	size_t errlen;
};

static void
on_error(j_common_ptr cinfo)
{
	struct jerr *je = (struct jerr *)cinfo->err;
	char msg[JMSG_LENGTH_MAX];

	cinfo->err->format_message(cinfo, msg);
	snprintf(je->err, je->errlen, "jpeg: %s", msg);
	longjmp(je->jump, 1);
}

/* Warnings that mean lost data (a premature end, a corrupt segment) are
 * errors; the rest (trace messages) are ignored. */
static void
on_message(j_common_ptr cinfo, int level)
{
	if (level < 0)
		on_error(cinfo);
}

static int
check_header(struct jpeg_decompress_struct *ci, char *err, size_t errlen)
{
	int64_t w = ci->image_width, h = ci->image_height;

	if (w == 0 || h == 0) {
		snprintf(err, errlen, "jpeg: image size %lldx%lld is empty", (long long)w,
			 (long long)h);
		return DFM_ERR_FORMAT;
	}
	if (w * h > DFM_IMAGE_MAX_PIXELS) {
		snprintf(err, errlen, "jpeg: image size %lldx%lld is too large (over %lld "
			 "pixels)", (long long)w, (long long)h, (long long)DFM_IMAGE_MAX_PIXELS);
		return E2BIG;
	}
	if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK)
		ci->out_color_space = JCS_CMYK;
	else if (ci->num_components == 1)
		ci->out_color_space = JCS_GRAYSCALE;
	else
		ci->out_color_space = JCS_RGB;
	return 0;
}

/* Adobe CMYK JPEGs store inverted ink; white paper under ink k. */
static void
cmyk_to_rgb(uint8_t *pix, size_t npix)
{
	uint8_t *out = pix;

	for (size_t i = 0; i < npix; i++, pix += 4) {
		unsigned k = pix[3];

		for (int j = 0; j < 3; j++)
			*out++ = (uint8_t)((pix[j] * k + 127) / 255);
	}
}

struct decode {
	struct jpeg_decompress_struct ci;
	struct jerr je;
	uint8_t *pix;
};

static int
read_pixels(struct decode *d, const void *data, size_t size, struct dfm_image *im)
{
	struct jpeg_decompress_struct *ci = &d->ci;
	int c;

	jpeg_mem_src(ci, data, (unsigned long)size);
	jpeg_read_header(ci, TRUE);
	if ((c = check_header(ci, d->je.err, d->je.errlen)))
		return c;
	jpeg_start_decompress(ci);
	c = ci->output_components;
	if (!(d->pix = malloc((size_t)ci->output_width * ci->output_height * c)))
		return DFM_ERR_NOMEM;
	while (ci->output_scanline < ci->output_height) {
		JSAMPROW row = d->pix + (size_t)ci->output_scanline * ci->output_width * c;

		jpeg_read_scanlines(ci, &row, 1);
	}
	jpeg_finish_decompress(ci);
	if (c == 4) {
		cmyk_to_rgb(d->pix, (size_t)ci->output_width * ci->output_height);
		c = 3;
	}
	*im = (struct dfm_image){(int)ci->output_height, (int)ci->output_width, c, d->pix};
	d->pix = NULL;
	return 0;
}

int
dfm_jpeg_decode(const void *data, size_t size, struct dfm_image *im, char *err,
		size_t errlen)
{
	struct decode *d;
	volatile int rc = DFM_ERR_FORMAT;

	if (size < 4) {
		snprintf(err, errlen, "jpeg: truncated file");
		return DFM_ERR_FORMAT;
	}
	if (!(d = calloc(1, sizeof *d))) {
		snprintf(err, errlen, "jpeg: out of memory");
		return DFM_ERR_NOMEM;
	}
	d->ci.err = jpeg_std_error(&d->je.mgr);
	d->je.mgr.error_exit = on_error;
	d->je.mgr.emit_message = on_message;
	d->je.err = err;
	d->je.errlen = errlen;
	jpeg_create_decompress(&d->ci);
	if (setjmp(d->je.jump)) {
		rc = DFM_ERR_FORMAT;
		goto out;
	}
	rc = read_pixels(d, data, size, im);
	if (rc == DFM_ERR_NOMEM)
		snprintf(err, errlen, "jpeg: out of memory");
out:
	jpeg_destroy_decompress(&d->ci);
	free(d->pix);
	free(d);
	return rc;
}
