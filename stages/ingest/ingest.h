/* Ingest adapters: one per source format or dataset layout, each in a file
 * of its own under stages/ingest/.  The ingest kind (stages/ingest.c) picks
 * one by its "source" parameter.
 *
 * An adapter has two functions over the same parameters: files() names
 * every file the ingest will read (through dfm_ingest_source()), so their
 * contents join the instance key; read() decodes them into the builder.
 * Both report problems with dfm_ingest_fail(), which names the file. */
#ifndef DFM_INGEST_H
#define DFM_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "stages/dataset.h"
#include "stages/image.h"
#include "stages/stage.h"

struct dfm_run;

struct dfm_ingest {
	struct dfm_run *run;
	const struct dfm_adapter *adapter;
	const char *path;        /* the dataset's location (a folder or a file) */
	const char *split;       /* "train", "test" or "all" */
	const char *labels;      /* "fine" or "coarse" (CIFAR-100) */
	int64_t limit;           /* at most this many images per class; 0: all */
	int size;                /* glyph image side */
	struct dfm_dsbuild *b;
	int64_t *per_class;      /* images taken per class, for limit */
	int ncounted;
	int listing;             /* set while files() runs for sources() */
	char err[1024];          /* why it failed */
};

struct dfm_adapter {
	const char *name;
	const char *summary;
	const char *default_path;   /* relative to the data folder when it starts
				     * with "npm:"; NULL when path is required */
	const char *install;        /* the command that installs it, or NULL */
	const char *licence;
	int has_split;              /* honours split */
	int default_max_side;       /* max_side when the parameter is 0 */
	int skip_oversized;         /* skip (with a note) images too large to
				     * decode instead of failing */
	int crop_bottom;            /* rows of banner to cut off each image */
	int (*files)(struct dfm_ingest *in);
	int (*read)(struct dfm_ingest *in);
};

/* The adapter named name, or NULL. */
const struct dfm_adapter *dfm_adapter_find(const char *name);

/* The i-th adapter, or NULL past the end. */
const struct dfm_adapter *dfm_adapter_at(size_t i);

/* Records why the ingest failed, prefixed by the file when not NULL, and
 * returns DFM_ERR_STAGE. */
int dfm_ingest_fail(struct dfm_ingest *in, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Names a file the ingest reads (from files()); during read() it checks
 * that the file exists instead, failing with the install hint.  A NULL
 * path (a failed allocation) fails with "out of memory". */
int dfm_ingest_source(struct dfm_ingest *in, const char *path);

/* path joined with a relative name, in a malloc'd string the caller frees,
 * or NULL when out of memory. */
char *dfm_path_join(const char *dir, const char *name);

/* Reads a whole file into a malloc'd buffer the caller owns, followed by a
 * NUL byte that size does not count; a gzip file is decompressed.  At most
 * max bytes.  Fails through dfm_ingest_fail(). */
int dfm_ingest_slurp(struct dfm_ingest *in, const char *path, size_t max,
		     uint8_t **data, size_t *size);

/* Reads a whole file, as dfm_ingest_slurp() does, with the reason for a
 * failure in err (E2BIG past max).  Safe to call from several threads. */
int dfm_read_file(const char *path, size_t max, uint8_t **data, size_t *size,
		  char *err, size_t errlen);

/* Reads and decodes an image file.  Safe to call from several threads. */
int dfm_decode_file(const char *path, struct dfm_image *im, char *err, size_t errlen);

/* Adds an image decoded by dfm_decode_file() (which returned rc and err)
 * and frees it; fails naming path, or skips an oversized image where the
 * adapter allows. */
int dfm_ingest_decoded(struct dfm_ingest *in, const char *path, int rc, const char *err,
		       struct dfm_image *im, int label);

/* Decodes an image file and adds it with a label; fails naming the file. */
int dfm_ingest_image_file(struct dfm_ingest *in, const char *path, int label);

/* Decodes n image files on the run's threads and adds them in order, each
 * with its label, as dfm_ingest_image_file() would one by one. */
int dfm_ingest_images(struct dfm_ingest *in, char *const *paths, const int *labels,
		      size_t n);

/* Adds decoded pixels with a label, honouring limit (an image past the
 * limit of its class is skipped).  Fails naming file when not NULL. */
int dfm_ingest_add(struct dfm_ingest *in, const char *file, const uint8_t *pix,
		   int h, int w, int c, int label);

/* Nonzero when the class already holds limit images (skip decoding). */
int dfm_ingest_full(struct dfm_ingest *in, int label);

/* The index of a class, added when new; fails when out of memory. */
int dfm_ingest_class(struct dfm_ingest *in, const char *name, int *label);

/* Sorted names of the entries of a directory (no dot entries): a malloc'd
 * array of n malloc'd strings; free with dfm_names_free().  want is
 * DFM_LIST_DIRS (only folders) or DFM_LIST_FILES (only regular files). */
int dfm_ingest_list_dir(struct dfm_ingest *in, const char *dir, int want,
			char ***names, size_t *n);
enum { DFM_LIST_DIRS = 1, DFM_LIST_FILES = 2 };

/* Frees n names and their array. */
void dfm_names_free(char **names, size_t n);

/* Nonzero when name ends in .png, .jpg or .jpeg (any case). */
int dfm_is_image_name(const char *name);

/* Calls fn on each line of a text file that is not blank or a '#'
 * comment, with leading blanks and the line end removed. */
int dfm_ingest_lines(struct dfm_ingest *in, const char *file,
		     int (*fn)(struct dfm_ingest *, char *line, int lineno, void *),
		     void *arg);

/* Image files with class names, gathered from a dataset's list files. */
struct dfm_pair {
	char *file, *label, *list;   /* image path, class name, list file */
	int line;                    /* in the list file */
};

struct dfm_pairs {
	struct dfm_pair *v;
	size_t n, cap;
};

/* Adds an image (path relative to base unless absolute or base is NULL)
 * with its class, named on a line of a list file. */
int dfm_pairs_add(struct dfm_ingest *in, struct dfm_pairs *e, const char *base,
		  const char *path, const char *label, const char *list, int line);

/* Names every image as a source (while listing). */
int dfm_pairs_files(struct dfm_ingest *in, struct dfm_pairs *e);

/* Makes the classes (in name order, numerically for numbers) and reads
 * every image; a missing image fails naming its list file and line. */
int dfm_pairs_read(struct dfm_ingest *in, struct dfm_pairs *e);

/* Frees the pairs and empties e. */
void dfm_pairs_free(struct dfm_pairs *e);

/* Binary parsers, exposed for unit tests and fuzz targets: each adds what
 * it decodes to in->b (honouring limit) and returns 0, or fails through
 * dfm_ingest_fail() naming file.  in->run may be NULL. */
int dfm_idx_parse(struct dfm_ingest *in, const char *file, const uint8_t *images,
		  size_t nimages, const uint8_t *labels, size_t nlabels);
int dfm_cifar_parse(struct dfm_ingest *in, const char *file, const uint8_t *data,
		    size_t size, int cifar100);

/* Parses a .npy array of little-endian float64 or uint8 in C order into a
 * malloc'd array of doubles the caller frees, with its shape (up to 4
 * dimensions).  Fails through dfm_ingest_fail() naming file. */
int dfm_npy_parse(struct dfm_ingest *in, const char *file, const uint8_t *data,
		  size_t size, double **values, int64_t shape[4], int *ndim);

#endif
