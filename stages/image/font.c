/* Text for grid labels, rendered with FreeType from Debian's font files. */
#include <ft2build.h>
#include FT_FREETYPE_H
#include <stdlib.h>

#include "stages/image.h"

struct dfm_font {
	FT_Library lib;
	FT_Face face;
};

static const char *const default_fonts[] = {
	"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
	"/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
	"/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
	NULL,
};

struct dfm_font *
dfm_font_open(const char *path, int px)
{
	struct dfm_font *f = calloc(1, sizeof *f);

	if (!f)
		return NULL;
	if (FT_Init_FreeType(&f->lib)) {
		free(f);
		return NULL;
	}
	if (FT_New_Face(f->lib, path, 0, &f->face) ||
	    FT_Set_Pixel_Sizes(f->face, 0, (FT_UInt)px)) {
		dfm_font_close(f);
		return NULL;
	}
	return f;
}

struct dfm_font *
dfm_font_open_default(int px)
{
	struct dfm_font *f = NULL;

	for (int i = 0; !f && default_fonts[i]; i++)
		f = dfm_font_open(default_fonts[i], px);
	return f;
}

void
dfm_font_close(struct dfm_font *f)
{
	if (!f)
		return;
	if (f->face)
		FT_Done_Face(f->face);
	FT_Done_FreeType(f->lib);
	free(f);
}

/* Next code point of UTF-8 text; anything malformed or past Latin-1 is '?'. */
static unsigned
next_char(const char **s)
{
	const unsigned char *p = (const unsigned char *)*s;
	unsigned cp;

	if (p[0] < 0x80) {
		*s += 1;
		return p[0];
	}
	if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
		cp = (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu);
		*s += 2;
		return cp <= 0xff ? cp : '?';
	}
	do
		p++;
	while ((*p & 0xc0) == 0x80);
	*s = (const char *)p;
	return '?';
}

static void
blit(const FT_Bitmap *bm, uint8_t *canvas, int h, int w, int x0, int y0, int xmax)
{
	for (unsigned r = 0; r < bm->rows; r++) {
		int y = y0 + (int)r;

		if (y < 0 || y >= h)
			continue;
		for (unsigned col = 0; col < bm->width; col++) {
			int x = x0 + (int)col;
			unsigned a = bm->buffer[r * bm->pitch + col];
			uint8_t *px = canvas + ((size_t)y * w + x) * 3;

			if (x < 0 || x >= w || x >= xmax || !a)
				continue;
			for (int k = 0; k < 3; k++)
				px[k] = (uint8_t)(px[k] * (255 - a) / 255);
		}
	}
}

void
dfm_font_draw(struct dfm_font *f, const char *text, uint8_t *canvas, int h, int w,
	      int x, int y, int max_w)
{
	int pen = x, xmax = x + max_w;

	while (*text && pen < xmax) {
		FT_GlyphSlot g = f->face->glyph;

		if (FT_Load_Char(f->face, next_char(&text), FT_LOAD_RENDER))
			continue;
		blit(&g->bitmap, canvas, h, w, pen + g->bitmap_left, y - g->bitmap_top, xmax);
		pen += (int)(g->advance.x >> 6);
	}
}
