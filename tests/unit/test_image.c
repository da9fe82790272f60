/* PNG and JPEG decoding: every PNG colour type, alpha on white, and bad
 * files that must fail with a reason and no large allocation. */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "cache/error.h"
#include "stages/image.h"
#include "tests/unit/data_util.h"
#include "tests/unit/test.h"

static int
decode_file(const char *name, struct dfm_image *im, char *err, size_t errlen)
{
	char path[512];
	size_t size;
	void *data;
	int rc;

	snprintf(path, sizeof path, "%s/%s", dfm_test_dir(), name);
	if (!(data = dfm_test_read_file(path, &size)))
		return -1;
	rc = dfm_image_decode(data, size, im, err, errlen);
	free(data);
	return rc;
}

static char *
at(const char *name)
{
	static char path[512];

	snprintf(path, sizeof path, "%s/%s", dfm_test_dir(), name);
	return path;
}

TEST(png_grey_1bit_and_16bit)
{
	uint8_t bits[2] = {0xa0, 0x40};          /* 3 x 2: 101 / 010 */
	uint8_t deep[2 * 2 * 2] = {0xff, 0xff, 0x00, 0x00, 0x80, 0x00, 0x7f, 0xff};
	struct dfm_image im;
	char err[200];

	CHECK_INT(dfm_test_png(at("g1.png"), 3, 2, PNG_COLOR_TYPE_GRAY, 1, bits, NULL, 0,
			       NULL, 0), 0);
	CHECK_INT(decode_file("g1.png", &im, err, sizeof err), 0);
	CHECK(im.h == 2 && im.w == 3 && im.c == 1);
	CHECK(im.pix[0] == 255 && im.pix[1] == 0 && im.pix[2] == 255 && im.pix[4] == 255);
	dfm_image_free(&im);
	CHECK_INT(dfm_test_png(at("g16.png"), 2, 2, PNG_COLOR_TYPE_GRAY, 16, deep, NULL, 0,
			       NULL, 0), 0);
	CHECK_INT(decode_file("g16.png", &im, err, sizeof err), 0);
	CHECK(im.c == 1 && im.pix[0] == 255 && im.pix[1] == 0 && im.pix[2] == 128 &&
	      im.pix[3] == 127);
	dfm_image_free(&im);
}

TEST(png_palette_and_transparency_on_white)
{
	uint8_t pal[3 * 2] = {255, 0, 0, 0, 0, 255}, idx[2] = {0, 1}, trns[2] = {255, 0};
	struct dfm_image im;
	char err[200];

	CHECK_INT(dfm_test_png(at("p.png"), 2, 1, PNG_COLOR_TYPE_PALETTE, 8, idx, pal, 2,
			       trns, 2), 0);
	CHECK_INT(decode_file("p.png", &im, err, sizeof err), 0);
	CHECK(im.c == 3 && im.w == 2);
	CHECK(im.pix[0] == 255 && im.pix[1] == 0 && im.pix[2] == 0);
	/* Fully transparent blue becomes white. */
	CHECK(im.pix[3] == 255 && im.pix[4] == 255 && im.pix[5] == 255);
	dfm_image_free(&im);
}

TEST(png_alpha_composited_on_white)
{
	uint8_t rgba[4 * 2] = {0, 0, 0, 128, 10, 20, 30, 255};
	uint8_t ga[2 * 2] = {0, 0, 100, 255};
	struct dfm_image im;
	char err[200];

	CHECK_INT(dfm_test_png(at("rgba.png"), 2, 1, PNG_COLOR_TYPE_RGBA, 8, rgba, NULL, 0,
			       NULL, 0), 0);
	CHECK_INT(decode_file("rgba.png", &im, err, sizeof err), 0);
	CHECK(im.c == 3);
	CHECK_INT(im.pix[0], 127);             /* black at half alpha on white */
	CHECK(im.pix[3] == 10 && im.pix[4] == 20 && im.pix[5] == 30);
	dfm_image_free(&im);
	CHECK_INT(dfm_test_png(at("ga.png"), 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, NULL, 0,
			       NULL, 0), 0);
	CHECK_INT(decode_file("ga.png", &im, err, sizeof err), 0);
	CHECK(im.c == 1 && im.pix[0] == 255 && im.pix[1] == 100);
	dfm_image_free(&im);
}

TEST(jpeg_rgb_and_grey)
{
	uint8_t rgb[8 * 8 * 3], grey[8 * 8];
	struct dfm_image im;
	char err[200];

	for (int i = 0; i < 64; i++) {
		rgb[3 * i] = 200;
		rgb[3 * i + 1] = 30;
		rgb[3 * i + 2] = 90;
		grey[i] = 60;
	}
	CHECK_INT(dfm_test_jpeg(at("c.jpg"), rgb, 8, 8, 3), 0);
	CHECK_INT(decode_file("c.jpg", &im, err, sizeof err), 0);
	CHECK(im.c == 3 && im.h == 8 && abs(im.pix[0] - 200) <= 3 && abs(im.pix[1] - 30) <= 3);
	dfm_image_free(&im);
	CHECK_INT(dfm_test_jpeg(at("g.jpg"), grey, 8, 8, 1), 0);
	CHECK_INT(decode_file("g.jpg", &im, err, sizeof err), 0);
	CHECK(im.c == 1 && abs(im.pix[63] - 60) <= 2);
	dfm_image_free(&im);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A PNG made of the signature, an IHDR declaring w x h and an empty IDAT:
 * libpng reads up to the IDAT before any size is known to the decoder. */
static size_t
png_header_only(uint8_t *buf, uint32_t w, uint32_t h)
{
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	uint8_t *chunk = buf + 8;

	memcpy(buf, sig, 8);
	put_be32(chunk, 13);
	memcpy(chunk + 4, "IHDR", 4);
	put_be32(chunk + 8, w);
	put_be32(chunk + 12, h);
	chunk[16] = 8;          /* depth */
	chunk[17] = 2;          /* RGB */
	chunk[18] = chunk[19] = chunk[20] = 0;
	put_be32(chunk + 21, (uint32_t)crc32(0, chunk + 4, 17));
	chunk += 25;
	put_be32(chunk, 0);
	memcpy(chunk + 4, "IDAT", 4);
	put_be32(chunk + 8, (uint32_t)crc32(0, chunk + 4, 4));
	return 8 + 25 + 12;
}

TEST(png_absurd_and_zero_sizes_rejected)
{
	uint8_t buf[64];
	struct dfm_image im;
	char err[200] = "";
	size_t n = png_header_only(buf, 100000, 100000);

	CHECK_INT(dfm_png_decode(buf, n, &im, err, sizeof err), E2BIG);
	CHECK(strstr(err, "100000x100000") != NULL);
	n = png_header_only(buf, 0, 10);
	err[0] = '\0';
	CHECK_INT(dfm_png_decode(buf, n, &im, err, sizeof err), DFM_ERR_FORMAT);
	CHECK(err[0] != '\0');
}

TEST(png_and_jpeg_truncated_or_corrupt_rejected)
{
	uint8_t pix[16 * 16 * 3];
	struct dfm_image im;
	char err[200];
	size_t size;
	uint8_t *data;

	for (size_t i = 0; i < sizeof pix; i++)
		pix[i] = (uint8_t)(i * 7);
	CHECK_INT(dfm_test_png(at("x.png"), 16, 16, PNG_COLOR_TYPE_RGB, 8, pix, NULL, 0,
			       NULL, 0), 0);
	data = dfm_test_read_file(at("x.png"), &size);
	CHECK(data && size > 60);
	if (!data)
		return;
	CHECK_INT(dfm_png_decode(data, size - 30, &im, err, sizeof err), DFM_ERR_FORMAT);
	CHECK(strstr(err, "png") != NULL);
	data[size / 2] ^= 0x55;                 /* inside IDAT: a CRC error */
	CHECK_INT(dfm_png_decode(data, size, &im, err, sizeof err), DFM_ERR_FORMAT);
	free(data);

	CHECK_INT(dfm_test_jpeg(at("x.jpg"), pix, 16, 16, 3), 0);
	data = dfm_test_read_file(at("x.jpg"), &size);
	CHECK(data != NULL);
	if (!data)
		return;
	CHECK_INT(dfm_jpeg_decode(data, size / 2, &im, err, sizeof err), DFM_ERR_FORMAT);
	CHECK(strstr(err, "jpeg") != NULL);
	CHECK_INT(dfm_jpeg_decode(data, 20, &im, err, sizeof err), DFM_ERR_FORMAT);
	data[3] ^= 0xff;                        /* the first marker after SOI */
	CHECK_INT(dfm_jpeg_decode(data, size, &im, err, sizeof err), DFM_ERR_FORMAT);
	free(data);
	CHECK_INT(dfm_image_decode("GIF89a....", 10, &im, err, sizeof err), DFM_ERR_FORMAT);
}

TEST(png_encode_roundtrip)
{
	uint8_t pix[5 * 4 * 3];
	struct dfm_image im;
	void *png;
	size_t size;
	char err[200];

	for (size_t i = 0; i < sizeof pix; i++)
		pix[i] = (uint8_t)(i * 13);
	CHECK_INT(dfm_png_encode(pix, 5, 4, 3, &png, &size), 0);
	CHECK_INT(dfm_png_decode(png, size, &im, err, sizeof err), 0);
	CHECK(im.h == 5 && im.w == 4 && im.c == 3 && memcmp(im.pix, pix, sizeof pix) == 0);
	dfm_image_free(&im);
	free(png);
}
