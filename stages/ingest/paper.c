/* The documented layouts of the paper's datasets that come as image files
 * with split lists.  'path' is the folder the archive unpacks to.  Classes
 * are in name order.  split "train" takes the training (and, where the
 * dataset has one, validation) list, "test" the test list, "all" both.
 *
 *   aircraft  fgvc-aircraft-2013b: data/images_variant_{trainval,test}.txt
 *             ("ID VARIANT NAME"), images data/images/ID.jpg; classes are
 *             the 100 variants; the 20-row banner at the bottom of each
 *             image is cut off
 *   indoor    MIT Indoor Scenes: TrainImages.txt, TestImages.txt
 *             ("CLASS/FILE.jpg"), images under Images/
 *   food101   food-101: meta/train.txt, meta/test.txt ("CLASS/ID"), images
 *             images/CLASS/ID.jpg
 *   dtd       dtd: labels/train1.txt and labels/val1.txt, labels/test1.txt
 *             ("CLASS/FILE.jpg"), images under images/
 *   lfw       LFW: peopleDevTrain.txt, peopleDevTest.txt (a count, then
 *             "NAME COUNT" lines), images lfw/NAME/NAME_NNNN.jpg; one
 *             class per person
 *   voc2012   VOCdevkit/VOC2012: ImageSets/Main/CLASS_{train,val}.txt ("ID
 *             1|-1|0"), images JPEGImages/ID.jpg; an image is kept when
 *             exactly one class is marked present (1), as a single-label
 *             dataset needs; "test" takes the val lists, since VOC's test
 *             labels are not public */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/ingest/ingest.h"

/* Split list files, relative to path: up to two for training, one for
 * test. */
struct layout {
	const char *name;
	const char *train[2], *test;
	int (*line)(struct dfm_ingest *, char *, int, void *);
};

struct ctx {
	struct dfm_pairs *pairs;
	const char *list;      /* the list file being read */
};

/* "CLASS/FILE" under a folder, with an extension added when missing. */
static int
class_path(struct dfm_ingest *in, struct ctx *c, char *s, int line, const char *dir,
	   const char *ext)
{
	char *slash = strchr(s, '/'), *path, *cls;
	int rc;

	if (!slash || slash == s || !slash[1])
		return dfm_ingest_fail(in, c->list, "line %d: want CLASS/FILE", line);
	if (asprintf(&path, "%s/%s/%s%s", in->path, dir, s, ext) < 0)
		return dfm_ingest_fail(in, NULL, "out of memory");
	cls = strndup(s, slash - s);
	rc = cls ? dfm_pairs_add(in, c->pairs, NULL, path, cls, c->list, line) :
		   dfm_ingest_fail(in, NULL, "out of memory");
	free(cls);
	free(path);
	return rc;
}

static int
indoor_line(struct dfm_ingest *in, char *s, int line, void *arg)
{
	return class_path(in, arg, s, line, "Images", "");
}

static int
food_line(struct dfm_ingest *in, char *s, int line, void *arg)
{
	return class_path(in, arg, s, line, "images", ".jpg");
}

static int
dtd_line(struct dfm_ingest *in, char *s, int line, void *arg)
{
	return class_path(in, arg, s, line, "images", "");
}

static int
aircraft_line(struct dfm_ingest *in, char *s, int line, void *arg)
{
	struct ctx *c = arg;
	char *sp = strchr(s, ' '), *path;
	int rc;

	if (!sp || sp == s || !sp[1])
		return dfm_ingest_fail(in, c->list, "line %d: want 'ID VARIANT'", line);
	*sp = '\0';
	if (asprintf(&path, "%s/data/images/%s.jpg", in->path, s) < 0)
		return dfm_ingest_fail(in, NULL, "out of memory");
	rc = dfm_pairs_add(in, c->pairs, NULL, path, sp + 1, c->list, line);
	free(path);
	return rc;
}

static int
lfw_line(struct dfm_ingest *in, char *s, int line, void *arg)
{
	struct ctx *c = arg;
	char name[256], *path;
	int count, rc = 0;

	if (line == 1 && sscanf(s, "%d", &count) == 1 && !strchr(s, '\t') && !strchr(s, ' '))
		return 0;
	if (sscanf(s, "%255s %d", name, &count) != 2 || count < 1 || count > 100000)
		return dfm_ingest_fail(in, c->list, "line %d: want 'NAME COUNT'", line);
	for (int i = 1; i <= count && !rc; i++) {
		if (asprintf(&path, "%s/lfw/%s/%s_%04d.jpg", in->path, name, name, i) < 0)
			return dfm_ingest_fail(in, NULL, "out of memory");
		rc = dfm_pairs_add(in, c->pairs, NULL, path, name, c->list, line);
		free(path);
	}
	return rc;
}

static const struct layout layouts[] = {
	{"aircraft", {"data/images_variant_trainval.txt"}, "data/images_variant_test.txt",
	 aircraft_line},
	{"indoor", {"TrainImages.txt"}, "TestImages.txt", indoor_line},
	{"food101", {"meta/train.txt"}, "meta/test.txt", food_line},
	{"dtd", {"labels/train1.txt", "labels/val1.txt"}, "labels/test1.txt", dtd_line},
	{"lfw", {"peopleDevTrain.txt"}, "peopleDevTest.txt", lfw_line},
	{NULL, {NULL}, NULL, NULL},
};

static const struct layout *
layout_of(struct dfm_ingest *in)
{
	for (const struct layout *l = layouts; l->name; l++)
		if (strcmp(l->name, in->adapter->name) == 0)
			return l;
	return NULL;
}

static int
read_list(struct dfm_ingest *in, const struct layout *l, const char *rel,
	  struct dfm_pairs *pairs)
{
	struct ctx c = {pairs, NULL};
	char *list = dfm_path_join(in->path, rel);
	int rc;

	if (!list)
		return dfm_ingest_fail(in, NULL, "out of memory");
	c.list = list;
	if (!(rc = dfm_ingest_source(in, list)))
		rc = dfm_ingest_lines(in, list, l->line, &c);
	free(list);
	return rc;
}

static int
collect(struct dfm_ingest *in, struct dfm_pairs *pairs)
{
	const struct layout *l = layout_of(in);
	int all = strcmp(in->split, "all") == 0, test = strcmp(in->split, "test") == 0;
	int rc = 0;

	if (!l)
		return dfm_ingest_fail(in, NULL, "no layout for '%s'", in->adapter->name);
	for (int i = 0; i < 2 && l->train[i] && !rc && (all || !test); i++)
		rc = read_list(in, l, l->train[i], pairs);
	if (!rc && (all || test))
		rc = read_list(in, l, l->test, pairs);
	return rc;
}

static int
layout_files(struct dfm_ingest *in)
{
	struct dfm_pairs pairs = {0};
	int rc = collect(in, &pairs);

	if (!rc)
		rc = dfm_pairs_files(in, &pairs);
	dfm_pairs_free(&pairs);
	return rc;
}

static int
layout_read(struct dfm_ingest *in)
{
	struct dfm_pairs pairs = {0};
	int rc = collect(in, &pairs);

	if (!rc)
		rc = dfm_pairs_read(in, &pairs);
	dfm_pairs_free(&pairs);
	return rc;
}

/* Pascal VOC 2012: per-class lists are combined per image. */

static const char *const voc_classes[] = {
	"aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
	"chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
	"pottedplant", "sheep", "sofa", "train", "tvmonitor", NULL,
};

struct voc {
	struct dfm_pairs *pairs;
	const char *list, *cls;
};

/* Adds "ID 1" lines as pairs; an ID marked by a second class is dropped
 * later by voc_single(). */
static int
voc_line(struct dfm_ingest *in, char *s, int line, void *arg)
{
	struct voc *v = arg;
	char id[64], *path;
	int flag, rc;

	if (sscanf(s, "%63s %d", id, &flag) != 2)
		return dfm_ingest_fail(in, v->list, "line %d: want 'ID FLAG'", line);
	if (flag != 1)
		return 0;
	if (asprintf(&path, "%s/JPEGImages/%s.jpg", in->path, id) < 0)
		return dfm_ingest_fail(in, NULL, "out of memory");
	rc = dfm_pairs_add(in, v->pairs, NULL, path, v->cls, v->list, line);
	free(path);
	return rc;
}

static int
by_file(const void *a, const void *b)
{
	const struct dfm_pair *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	return c ? c : strcmp(x->label, y->label);
}

/* Keeps the images that exactly one class marks present. */
static void
voc_single(struct dfm_pairs *p)
{
	size_t keep = 0;

	if (p->n == 0)
		return;
	qsort(p->v, p->n, sizeof *p->v, by_file);
	for (size_t i = 0, j; i < p->n; i = j) {
		for (j = i + 1; j < p->n && strcmp(p->v[j].file, p->v[i].file) == 0; j++)
			;
		if (j == i + 1) {
			p->v[keep++] = p->v[i];
			continue;
		}
		for (size_t k = i; k < j; k++) {
			free(p->v[k].file);
			free(p->v[k].label);
			free(p->v[k].list);
		}
	}
	p->n = keep;
}

static int
voc_collect(struct dfm_ingest *in, struct dfm_pairs *pairs)
{
	const char *parts[2] = {"train", "val"};
	int all = strcmp(in->split, "all") == 0, test = strcmp(in->split, "test") == 0;
	int rc = 0;

	for (int part = 0; part < 2 && !rc; part++) {
		if (!all && (part == 1) != test)
			continue;
		for (int k = 0; voc_classes[k] && !rc; k++) {
			struct voc v = {pairs, NULL, voc_classes[k]};
			char *list;

			if (asprintf(&list, "%s/ImageSets/Main/%s_%s.txt", in->path,
				     voc_classes[k], parts[part]) < 0)
				return dfm_ingest_fail(in, NULL, "out of memory");
			v.list = list;
			if (!(rc = dfm_ingest_source(in, list)))
				rc = dfm_ingest_lines(in, list, voc_line, &v);
			free(list);
		}
	}
	if (!rc)
		voc_single(pairs);
	return rc;
}

static int
voc_files(struct dfm_ingest *in)
{
	struct dfm_pairs pairs = {0};
	int rc = voc_collect(in, &pairs);

	if (!rc)
		rc = dfm_pairs_files(in, &pairs);
	dfm_pairs_free(&pairs);
	return rc;
}

static int
voc_read(struct dfm_ingest *in)
{
	struct dfm_pairs pairs = {0};
	int rc = voc_collect(in, &pairs);

	if (!rc)
		rc = dfm_pairs_read(in, &pairs);
	dfm_pairs_free(&pairs);
	return rc;
}

#define LAYOUT(id, text) \
	const struct dfm_adapter dfm_adapter_##id = { \
		.name = #id, .summary = text, .has_split = 1, \
		.files = layout_files, .read = layout_read, \
	};

/* Its images end in a 20-pixel copyright banner, which its README says to
 * remove. */
const struct dfm_adapter dfm_adapter_aircraft = {
	.name = "aircraft",
	.summary = "FGVC-Aircraft 2013b (fgvc-aircraft-2013b), 100 variants",
	.has_split = 1,
	.crop_bottom = 20,
	.files = layout_files,
	.read = layout_read,
};

LAYOUT(indoor, "MIT Indoor Scenes (ISR), 67 scene classes")
LAYOUT(food101, "Food-101 (food-101), 101 dishes")
LAYOUT(dtd, "Describable Textures (dtd), 47 textures, split 1")
LAYOUT(lfw, "Labeled Faces in the Wild (lfw), one class per person")

const struct dfm_adapter dfm_adapter_voc2012 = {
	.name = "voc2012",
	.summary = "Pascal VOC 2012 (VOCdevkit/VOC2012), single-object images of 20 classes",
	.has_split = 1,
	.files = voc_files,
	.read = voc_read,
};
