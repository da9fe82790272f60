/* Glyphs: the characters 0-9 and A-Z rendered with FreeType from the fonts
 * of Debian's font packages, one class per character and one image per
 * font file (a family in one style).  Each glyph is drawn black on white,
 * scaled to fit and centred by its ink in a size x size grey image.
 *
 * The fonts are the .ttf and .otf files of a fixed list of folders, in
 * name order; symbol fonts and fonts lacking any of the 36 characters are
 * left out.  The font files join the key; the FreeType version does not,
 * although a different rasteriser may shift a few pixels. */
#include <ft2build.h>
#include FT_FREETYPE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/ingest/ingest.h"

static const char *const font_dirs[] = {
	"truetype/dejavu", "truetype/liberation2", "truetype/lato", "truetype/noto",
	"truetype/freefont", "truetype/crosextra", "opentype/urw-base35", NULL,
};

static const char charset[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static int
font_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && (strcmp(dot, ".ttf") == 0 || strcmp(dot, ".otf") == 0) &&
	       !strstr(name, "Symbol") && !strstr(name, "D050000L");
}

/* Calls fn on each candidate font file. */
static int
each_font(struct dfm_ingest *in, int (*fn)(struct dfm_ingest *, const char *, void *),
	  void *arg)
{
	int rc = 0;

	for (int d = 0; font_dirs[d] && !rc; d++) {
		char *dir = dfm_path_join(in->path, font_dirs[d]), **names = NULL;
		size_t n = 0;

		if (!dir)
			return dfm_ingest_fail(in, NULL, "out of memory");
		if (dfm_ingest_list_dir(in, dir, DFM_LIST_FILES, &names, &n))
			in->err[0] = '\0';      /* a package that is not installed */
		for (size_t i = 0; i < n && !rc; i++) {
			char *path = font_name(names[i]) ? dfm_path_join(dir, names[i]) : NULL;

			if (path)
				rc = fn(in, path, arg);
			free(path);
		}
		dfm_names_free(names, n);
		free(dir);
	}
	return rc;
}

static int
count_font(struct dfm_ingest *in, const char *path, void *arg)
{
	(*(int *)arg)++;
	return dfm_ingest_source(in, path);
}

static int
glyphs_files(struct dfm_ingest *in)
{
	int n = 0, rc = each_font(in, count_font, &n);

	if (!rc && n == 0)
		rc = dfm_ingest_fail(in, in->path, "no fonts found; install them with: "
				     "apt-get install fonts-dejavu-core fonts-liberation2");
	return rc;
}

static int
has_charset(FT_Face face)
{
	for (const char *c = charset; *c; c++)
		if (!FT_Get_Char_Index(face, (FT_ULong)*c))
			return 0;
	return 1;
}

/* Renders ch at px pixels; returns nonzero on a FreeType error. */
static int
render(FT_Face face, int ch, int px)
{
	return FT_Set_Pixel_Sizes(face, 0, (FT_UInt)px) ||
	       FT_Load_Char(face, (FT_ULong)ch, FT_LOAD_RENDER);
}

/* Draws ch into a size x size canvas, shrinking the font until it fits. */
static int
draw(FT_Face face, int ch, int size, uint8_t *canvas)
{
	int px = size * 3 / 4, room = size - 2;
	FT_Bitmap *bm = &face->glyph->bitmap;

	if (render(face, ch, px))
		return -1;
	if ((int)bm->rows > room || (int)bm->width > room) {
		int big = (int)(bm->rows > bm->width ? bm->rows : bm->width);

		if (render(face, ch, px * room / big))
			return -1;
	}
	if (bm->pixel_mode != FT_PIXEL_MODE_GRAY || (int)bm->rows > size ||
	    (int)bm->width > size)
		return -1;
	memset(canvas, 255, (size_t)size * size);
	for (unsigned r = 0; r < bm->rows; r++) {
		int y = (size - (int)bm->rows) / 2 + (int)r;
		uint8_t *out = canvas + (size_t)y * size + (size - (int)bm->width) / 2;
		const uint8_t *ink = bm->buffer + r * bm->pitch;

		for (unsigned c = 0; c < bm->width; c++)
			out[c] = (uint8_t)(255 - ink[c]);
	}
	return 0;
}

static int
read_font(struct dfm_ingest *in, const char *path, void *arg)
{
	FT_Library lib = arg;
	FT_Face face;
	uint8_t *canvas = malloc((size_t)in->size * in->size);
	int rc = 0;

	if (!canvas)
		return dfm_ingest_fail(in, NULL, "out of memory");
	if (FT_New_Face(lib, path, 0, &face)) {
		free(canvas);
		return dfm_ingest_fail(in, path, "FreeType cannot load this font");
	}
	for (int i = 0; charset[i] && !rc && has_charset(face); i++) {
		if (draw(face, charset[i], in->size, canvas)) {
			rc = dfm_ingest_fail(in, path, "cannot render '%c'", charset[i]);
			break;
		}
		rc = dfm_ingest_add(in, path, canvas, in->size, in->size, 1, i);
	}
	FT_Done_Face(face);
	free(canvas);
	return rc;
}

static int
glyphs_read(struct dfm_ingest *in)
{
	FT_Library lib;
	char name[2] = {0, 0};
	int k, rc = 0;

	for (int i = 0; charset[i] && !rc; i++) {
		name[0] = charset[i];
		rc = dfm_ingest_class(in, name, &k);
	}
	if (rc)
		return rc;
	if (FT_Init_FreeType(&lib))
		return dfm_ingest_fail(in, NULL, "cannot start FreeType");
	rc = each_font(in, read_font, lib);
	FT_Done_FreeType(lib);
	return rc;
}

const struct dfm_adapter dfm_adapter_glyphs = {
	.name = "glyphs",
	.summary = "0-9 and A-Z rendered from Debian's fonts, one class per character",
	.default_path = "/usr/share/fonts",
	.install = "apt-get install fonts-dejavu-core fonts-liberation2 fonts-lato "
		   "fonts-urw-base35 fonts-freefont-ttf",
	.licence = "the fonts' own free licences (GPL, OFL, Bitstream Vera, AGPL)",
	.files = glyphs_files,
	.read = glyphs_read,
};
