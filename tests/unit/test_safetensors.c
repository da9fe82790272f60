#include <stdlib.h>
#include <string.h>

#include "stages/nn/safetensors.h"
#include "tests/unit/test.h"

TEST(safetensors_roundtrip)
{
	struct dfm_st_writer *w = dfm_st_writer_new();
	uint8_t img[2 * 3] = {1, 2, 3, 4, 5, 6};
	float wts[4] = {0.5f, -1.f, 2.f, 3.25f};
	int64_t s_img[2] = {2, 3}, s_w[1] = {4};
	void *buf;
	size_t size;
	struct dfm_st *st;
	const struct dfm_tensor *t;

	CHECK(w != NULL);
	CHECK_INT(dfm_st_add(w, "images", DFM_U8, 2, s_img, img), 0);
	CHECK_INT(dfm_st_add(w, "w", DFM_F32, 1, s_w, wts), 0);
	CHECK_INT(dfm_st_meta(w, "source", "test"), 0);
	CHECK_INT(dfm_st_writer_finish(w, &buf, &size), 0);
	CHECK(size > 8);

	CHECK_INT(dfm_st_open(buf, size, &st, NULL, 0), 0);
	CHECK_INT(dfm_st_count(st), 2);
	t = dfm_st_get(st, "w");
	CHECK(t && t->dtype == DFM_F32 && t->ndim == 1 && t->shape[0] == 4);
	CHECK(t && ((const float *)t->data)[3] == 3.25f);
	CHECK(t && (uintptr_t)t->data % 4 == 0);
	t = dfm_st_get(st, "images");
	CHECK(t && t->shape[1] == 3 && ((const uint8_t *)t->data)[5] == 6);
	CHECK_STR(dfm_st_meta_get(st, "source"), "test");
	dfm_st_close(st);
	free(buf);
}

/* Adopted and reserved tensors give the same bytes as borrowed ones: an
 * adopted one is built in its own buffer when it comes last and copied
 * when it does not; a reserved one is filled in after. */
TEST(safetensors_adopt_and_reserve_match_add)
{
	uint8_t img[5] = {9, 8, 7, 6, 5};
	int32_t lab[2] = {1, -2};
	int64_t s_img[1] = {5}, s_lab[1] = {2};
	void *buf[4], *at = NULL;
	size_t size[4];

	for (int i = 0; i < 4; i++) {
		struct dfm_st_writer *w = dfm_st_writer_new();
		uint8_t *own_img = malloc(sizeof img);
		int32_t *own_lab = malloc(sizeof lab);

		memcpy(own_img, img, sizeof img);
		memcpy(own_lab, lab, sizeof lab);
		CHECK_INT(i == 1 ? dfm_st_adopt(w, "images", DFM_U8, 1, s_img, own_img) :
			  i == 3 ? dfm_st_reserve(w, "images", DFM_U8, 1, s_img, &at) :
				   dfm_st_add(w, "images", DFM_U8, 1, s_img, img), 0);
		CHECK_INT(i == 2 ? dfm_st_adopt(w, "labels", DFM_I32, 1, s_lab, own_lab) :
				   dfm_st_add(w, "labels", DFM_I32, 1, s_lab, lab), 0);
		CHECK_INT(dfm_st_meta(w, "k", "v"), 0);
		if (i != 1)
			free(own_img);
		if (i != 2)
			free(own_lab);
		CHECK_INT(dfm_st_writer_finish(w, &buf[i], &size[i]), 0);
	}
	CHECK(at != NULL);
	if (at)
		memcpy(at, img, sizeof img);
	for (int i = 1; i < 4; i++)
		CHECK(size[i] == size[0] && memcmp(buf[i], buf[0], size[0]) == 0);
	for (int i = 0; i < 4; i++)
		free(buf[i]);
}

TEST(safetensors_rejects_bad_bytes)
{
	struct dfm_st *st;
	char err[100];
	unsigned char shortbuf[4] = {0};
	unsigned char lying[16] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
	const char hdr[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}";
	unsigned char *mismatch = calloc(1, 8 + sizeof hdr + 8);

	CHECK(dfm_st_open(shortbuf, sizeof shortbuf, &st, err, sizeof err) != 0);
	CHECK(dfm_st_open(lying, sizeof lying, &st, err, sizeof err) != 0);
	mismatch[0] = sizeof hdr - 1;
	memcpy(mismatch + 8, hdr, sizeof hdr - 1);
	CHECK(dfm_st_open(mismatch, 8 + sizeof hdr - 1 + 8, &st, err, sizeof err) != 0);
	CHECK(strstr(err, "size") != NULL);
	free(mismatch);
}
