/* Helpers shared by the metric stage tests: fixtures written by
 * tests/parity/metrics_fixtures.py, and artifacts built in memory. */
#ifndef DFM_METRICS_FIXTURE_H
#define DFM_METRICS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "engine/run.h"

/* The bytes of tests/fixtures/metrics/name, 64-byte aligned as the engine
 * hands inputs over; free() them.  NULL (and a test failure) if missing. */
void *mf_load(const char *name, size_t *size);

/* reference.json of the fixtures, parsed once; owned by the helper. */
json_object *mf_reference(void);

/* The number at a path of keys from obj ("fid_random", "fid"), or NAN. */
double mf_number(json_object *obj, const char *k1, const char *k2, const char *k3);

/* A features artifact with F32 tensor `tensor` [n, d] and metadata
 * network (if not NULL); free() it. */
void *mf_features(const char *tensor, const float *data, int64_t n, int64_t d,
		  const char *network, size_t *size);

/* A dataset artifact: U8 images [n, h, w, c] and I32 labels [n] (none if
 * labels is NULL); free() it. */
void *mf_dataset(const uint8_t *images, const int32_t *labels, int64_t n, int h,
		 int w, int c, size_t *size);

/* Output `name` of an executed run parsed as JSON (caller puts it), or NULL. */
json_object *mf_output_json(struct dfm_run *r, const char *name);

#endif
