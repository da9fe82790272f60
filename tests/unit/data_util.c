#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "stages/dataset.h"
#include "tests/unit/data_util.h"

void *
dfm_test_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*size = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int
make_parents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0777) && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

int
dfm_test_write(const char *dir, const char *name, const void *data, size_t size)
{
	char path[1024];
	FILE *f;
	int ok;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (make_parents(path) || !(f = fopen(path, "wb")))
		return -1;
	ok = fwrite(data, 1, size, f) == size;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int
dfm_test_two_images(const uint8_t *a, int ah, int aw, const uint8_t *b, int bh, int bw,
		    int c, void **out, size_t *size)
{
	struct dfm_dsbuild *bd = dfm_dsbuild_new(0);
	char err[200];

	if (!bd || dfm_dsbuild_class(bd, "a") != 0 || dfm_dsbuild_class(bd, "b") != 1 ||
	    dfm_dsbuild_add(bd, a, ah, aw, c, 0) || dfm_dsbuild_add(bd, b, bh, bw, c, 1)) {
		dfm_dsbuild_free(bd);
		return -1;
	}
	return dfm_dsbuild_finish(bd, out, size, err, sizeof err);
}

int
dfm_test_dataset(int64_t n, int h, int w, int c, int k, void **out, size_t *size)
{
	size_t img = (size_t)h * w * c;
	uint8_t *pix = malloc(n * img);
	int32_t *lab = malloc(n * sizeof *lab);
	char *names[256], buf[256][16];
	struct dfm_dataset ds;
	int rc = -1;

	if (!pix || !lab || k > 256)
		goto out;
	for (int64_t i = 0; i < n; i++) {
		memset(pix + i * img, (int)(i % 251), img);
		lab[i] = (int32_t)(i % k);
	}
	for (int j = 0; j < k; j++) {
		snprintf(buf[j], sizeof buf[j], "c%d", j);
		names[j] = buf[j];
	}
	ds = (struct dfm_dataset){.n = n, .h = h, .w = w, .c = c, .images = pix,
		.labels = lab, .nclasses = k, .classes = names, .source = "test"};
	rc = dfm_dataset_write(&ds, out, size);
out:
	free(pix);
	free(lab);
	return rc;
}

int
dfm_test_png(const char *path, int w, int h, int color_type, int depth, const uint8_t *raw,
	     const uint8_t *pal, int npal, const uint8_t *trns, int ntrns)
{
	FILE *f = fopen(path, "wb");
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	size_t rowbytes;
	int ok = 0;

	if (!f || !info)
		goto out;
	if (setjmp(png_jmpbuf(png)))
		goto out;
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (pal)
		png_set_PLTE(png, info, (png_const_colorp)pal, npal);
	if (trns)
		png_set_tRNS(png, info, trns, ntrns, NULL);
	png_write_info(png, info);
	rowbytes = png_get_rowbytes(png, info);
	for (int y = 0; y < h; y++)
		png_write_row(png, raw + (size_t)y * rowbytes);
	png_write_end(png, NULL);
	ok = 1;
out:
	png_destroy_write_struct(&png, &info);
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

int
dfm_test_jpeg(const char *path, const uint8_t *pix, int w, int h, int c)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_stdio_dest(&ci, f);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = c;
	ci.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, 95, TRUE);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = (JSAMPROW)(pix + (size_t)ci.next_scanline * w * c);

		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	return fclose(f) == 0 ? 0 : -1;
}
