/* The export kind: a dataset (or a generated set, same format) drawn as a
 * PNG grid, one row per class labelled with its name, holding the first
 * images of that class in dataset order.  Exporting every image as PNG
 * files is not a stage (stage outputs are artifacts, never files): "dfmake
 * export" calls dfm_dataset_export_dir() for that. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/dataset.h"
#include "stages/image.h"
#include "stages/stage.h"

enum { PAD = 2, LABEL_W = 150, FONT_PX = 13 };

static const struct dfm_param params[] = {
	{"per_class", DFM_INT, "10", "images per row", NULL, 1, 200},
	{"max_classes", DFM_INT, "50", "rows at most (the first classes)", NULL, 1, 10000},
	{"cell", DFM_INT, "32", "side of each image's square cell in pixels", NULL, 4, 1024},
	{0},
};

static const struct dfm_slot inputs[] = {
	{"data", 0, "the dataset to draw"},
	{0},
};

static const struct dfm_output outputs[] = {
	{"grid", "png", "rows of images, one per class, labelled"},
	{0},
};

struct grid {
	uint8_t *rgb;
	int h, w, cell, rows, cols;
};

/* Fits an image into its cell keeping its aspect, centred on white. */
static int
draw_cell(struct grid *g, const uint8_t *pix, int h, int w, int c, int row, int col)
{
	int side = h > w ? h : w;
	int dh = (int)((int64_t)h * g->cell / side), dw = (int)((int64_t)w * g->cell / side);
	uint8_t *fit, *rgb;
	int y0 = row * (g->cell + PAD) + PAD + (g->cell - dh) / 2;
	int x0 = LABEL_W + col * (g->cell + PAD) + PAD + (g->cell - dw) / 2;

	dh = dh < 1 ? 1 : dh;
	dw = dw < 1 ? 1 : dw;
	fit = malloc((size_t)dh * dw * c);
	rgb = malloc((size_t)dh * dw * 3);
	if (!fit || !rgb || dfm_resample(pix, h, w, c, fit, dh, dw, 1)) {
		free(fit);
		free(rgb);
		return DFM_ERR_NOMEM;
	}
	dfm_convert_channels(fit, c, rgb, 3, (size_t)dh * dw);
	for (int y = 0; y < dh; y++)
		memcpy(g->rgb + ((size_t)(y0 + y) * g->w + x0) * 3, rgb + (size_t)y * dw * 3,
		       (size_t)dw * 3);
	free(fit);
	free(rgb);
	return 0;
}

static int
draw_rows(struct grid *g, const struct dfm_dataset *ds, struct dfm_font *font)
{
	int *filled = calloc(g->rows, sizeof *filled), rc = 0;

	if (!filled)
		return DFM_ERR_NOMEM;
	for (int64_t i = 0; i < ds->n && !rc; i++) {
		int k = ds->labels[i], h, w, c;
		const uint8_t *pix;

		if (k >= g->rows || filled[k] >= g->cols)
			continue;
		pix = dfm_dataset_image(ds, i, &h, &w, &c);
		rc = draw_cell(g, pix, h, w, c, k, filled[k]++);
	}
	for (int k = 0; k < g->rows && font; k++) {
		int base = k * (g->cell + PAD) + PAD + g->cell / 2 + FONT_PX / 3;

		dfm_font_draw(font, ds->classes[k], g->rgb, g->h, g->w, 4, base, LABEL_W - 8);
	}
	free(filled);
	return rc;
}

static int
export_run(struct dfm_run *r)
{
	const struct dfm_blob *in = dfm_input(r, "data", 0);
	struct dfm_dataset ds;
	struct grid g = {0};
	struct dfm_font *font = NULL;
	void *png;
	size_t size;
	char err[300];
	int rc;

	if (dfm_dataset_open(in->data, in->size, &ds, err, sizeof err))
		return dfm_fail(r, "input '%s' is not a dataset: %s", in->name, err);
	g.cell = (int)dfm_int(r, "cell");
	g.cols = (int)dfm_int(r, "per_class");
	g.rows = ds.nclasses < dfm_int(r, "max_classes") ? ds.nclasses :
							    (int)dfm_int(r, "max_classes");
	g.h = g.rows * (g.cell + PAD) + PAD;
	g.w = LABEL_W + g.cols * (g.cell + PAD) + PAD;
	if (!(font = dfm_font_open_default(FONT_PX)))
		dfm_note(r, "no font found: rows are not labelled");
	if (!(g.rgb = malloc((size_t)g.h * g.w * 3))) {
		rc = dfm_fail(r, "out of memory");
		goto out;
	}
	memset(g.rgb, 255, (size_t)g.h * g.w * 3);
	if ((rc = draw_rows(&g, &ds, font)) || (rc = dfm_png_encode(g.rgb, g.h, g.w, 3,
								     &png, &size))) {
		rc = dfm_fail(r, "cannot draw the grid: %s", dfm_strerror(rc));
		goto out;
	}
	rc = dfm_put_owned(r, "grid", png, size);
out:
	dfm_font_close(font);
	free(g.rgb);
	dfm_dataset_close(&ds);
	return rc;
}

static int
export_describe(const char *output, const void *data, size_t size, void *file)
{
	struct dfm_image im;
	char err[200];

	(void)output;
	if (dfm_png_decode(data, size, &im, err, sizeof err)) {
		fprintf(file, "not a PNG: %s\n", err);
		return DFM_ERR_FORMAT;
	}
	fprintf(file, "PNG grid, %d x %d pixels\n", im.w, im.h);
	dfm_image_free(&im);
	return 0;
}

const struct dfm_kind dfm_kind_export = {
	.name = "export",
	.version = 1,
	.summary = "draw a dataset as a labelled PNG grid, one row per class",
	.params = params,
	.inputs = inputs,
	.outputs = outputs,
	.run = export_run,
	.describe = export_describe,
};
