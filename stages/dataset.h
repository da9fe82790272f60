/* Datasets: the one artifact format for labelled images.
 *
 * A dataset is a safetensors file with
 *   images   U8  N x H x W x C   when every image has the same size, or
 *   pixels   U8  (sum of h*w*c)  every image back to back, HWC each,
 *   shapes   I64 N x 3           h, w, c of each image,
 *   offsets  I64 N               where each image starts in pixels,
 *                                when sizes vary (before "resize");
 *   labels   I32 N               class index of each image, 0 <= label < K;
 *   orig_sizes I64 N x 2         optional: h, w of each source image, kept
 *                                when the sizes varied or were shrunk;
 * and metadata strings
 *   classes  JSON array of the K class names (required),
 *   source   where the images came from (a short source name or a path),
 *   licence  the licence of the source, when known,
 *   split    "train", "test", "val" or "all", when known.
 * C is 1 (grey) or 3 (RGB) and the same for every image of a dataset.
 *
 * Readers (any stage, "dfmake show", "dfmake export") go through
 * dfm_dataset_open(); writers through a struct dfm_dataset they fill in, or
 * through the builder that ingest adapters use. */
#ifndef DFM_DATASET_H
#define DFM_DATASET_H

#include <stddef.h>
#include <stdint.h>

struct dfm_st;

struct dfm_dataset {
	int64_t n;
	int h, w, c;                /* h = w = 0 when sizes vary */
	const uint8_t *images;      /* fixed sizes: n * h * w * c bytes */
	const uint8_t *pixels;      /* varying sizes: see above */
	const int64_t *shapes;      /* varying sizes: n x 3 */
	const int64_t *offsets;     /* varying sizes: n */
	int64_t npixels;            /* varying sizes: bytes in pixels */
	const int32_t *labels;      /* n */
	const int64_t *orig_sizes;  /* n x 2, or NULL */
	int nclasses;
	char **classes;             /* nclasses names */
	const char *source, *licence, *split;   /* or NULL */
	struct dfm_st *st;          /* set by dfm_dataset_open() */
};

/* Parses and validates a dataset artifact (tensor shapes, offsets within
 * bounds, labels in range, class list).  The dataset borrows data, which
 * must outlive it; release it with dfm_dataset_close().  Returns 0, or
 * DFM_ERR_FORMAT with a reason in err. */
int dfm_dataset_open(const void *data, size_t size, struct dfm_dataset *ds,
		     char *err, size_t errlen);

/* Releases what dfm_dataset_open() allocated. */
void dfm_dataset_close(struct dfm_dataset *ds);

/* Pixels of image i (valid while ds is), with its size in *h, *w, *c. */
const uint8_t *dfm_dataset_image(const struct dfm_dataset *ds, int64_t i,
				 int *h, int *w, int *c);

/* Serialises a filled-in dataset (fixed or varying sizes) into a malloc'd
 * buffer the caller owns.  Returns 0 or an error. */
int dfm_dataset_write(const struct dfm_dataset *ds, void **out, size_t *size);

/* As dfm_dataset_write(), taking over pixels: the malloc'd buffer that
 * ds->images (or ds->pixels) points to, freed even on failure.  The
 * artifact is built in that buffer, so its pixels are moved, not copied. */
int dfm_dataset_write_owned(const struct dfm_dataset *ds, void *pixels, void **out,
			    size_t *size);

/* As dfm_dataset_write() for a fixed-size dataset whose images are still
 * to come (ds->images NULL): *images is where they go in *out, n * h * w *
 * c bytes for the caller to fill. */
int dfm_dataset_write_reserved(const struct dfm_dataset *ds, void **out, size_t *size,
			       uint8_t **images);

/* Number of images with each label: a malloc'd array of nclasses counts
 * the caller frees, or NULL when out of memory. */
int64_t *dfm_dataset_counts(const struct dfm_dataset *ds);

/* Prints counts per class, image size, channels and source ("dfmake
 * show").  file is a FILE *.  Returns 0 or DFM_ERR_FORMAT. */
int dfm_dataset_describe(const void *data, size_t size, void *file);

/* Writes every image of a dataset artifact as dir/CLASS/NNNNNN.png (class
 * names made safe for file names), plus dir/labels.csv listing file, label
 * and class.  The folder is created when missing and may not already hold
 * a labels.csv.  This is what "dfmake export" calls for a dataset, outside
 * any stage.  Returns 0 or an error, with a reason in err. */
int dfm_dataset_export_dir(const void *data, size_t size, const char *dir,
			   char *err, size_t errlen);

/* The builder: ingest adapters add decoded images one by one, stored with
 * one channel count (grey becomes RGB once any image is RGB, earlier ones
 * then and later ones as they come); finishing picks the fixed or varying
 * layout. */
struct dfm_dsbuild;

/* A new builder with no classes, or NULL when out of memory.  max_side > 0
 * shrinks (with antialiasing) any image whose longer side exceeds it. */
struct dfm_dsbuild *dfm_dsbuild_new(int max_side);

/* Index of the class with this name, added when new; -1 when out of
 * memory. */
int dfm_dsbuild_class(struct dfm_dsbuild *b, const char *name);

/* Number of classes so far. */
int dfm_dsbuild_nclasses(const struct dfm_dsbuild *b);

/* Adds a copy of an image with a label that must name a class.  Returns 0
 * or an error. */
int dfm_dsbuild_add(struct dfm_dsbuild *b, const uint8_t *pix, int h, int w,
		    int c, int label);

/* Number of images added. */
int64_t dfm_dsbuild_count(const struct dfm_dsbuild *b);

/* Sets the source, licence or split metadata (copied). */
int dfm_dsbuild_meta(struct dfm_dsbuild *b, const char *key, const char *value);

/* Serialises into a malloc'd buffer the caller owns, and frees the builder
 * even on failure.  Fails with DFM_ERR_FORMAT and a reason in err when
 * there are no images or a class has none. */
int dfm_dsbuild_finish(struct dfm_dsbuild *b, void **out, size_t *size,
		       char *err, size_t errlen);

/* Frees a builder that was not finished. */
void dfm_dsbuild_free(struct dfm_dsbuild *b);

#endif
