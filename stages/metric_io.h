/* Shared plumbing of the metric stages (fid, inception-score, ms-ssim,
 * rank-outer): reading feature artifacts and writing JSON results. */
#ifndef DFM_METRIC_IO_H
#define DFM_METRIC_IO_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "stages/nn/safetensors.h"
#include "stages/stage.h"

/* One F32 matrix [rows, cols] read from an input artifact. */
struct dfm_matrix {
	struct dfm_st *st;      /* owns the parse; data points into the input */
	const float *data;
	int64_t rows, cols;
	const char *network;    /* metadata "network", or "unlabelled network" */
	const char *input;      /* the input's name, for messages */
};

/* Reads the F32 2-D tensor named tensor from the first artifact of slot,
 * checking that every value is finite.  Fails the run with a message that
 * names the input on any problem.  Release with dfm_matrix_close(). */
int dfm_matrix_read(struct dfm_run *r, const char *slot, const char *tensor,
		    struct dfm_matrix *m);

/* Frees what dfm_matrix_read() acquired; safe on a zeroed struct. */
void dfm_matrix_close(struct dfm_matrix *m);

/* Serialises obj, puts it as output, and drops the caller's reference to
 * obj in every case.  Returns 0 or an error. */
int dfm_metric_put_json(struct dfm_run *r, const char *output, json_object *obj);

/* Parses the JSON artifact of slot's i-th input into a new object the
 * caller owns (json_object_put), or fails the run and returns NULL. */
json_object *dfm_metric_read_json(struct dfm_run *r, const char *slot, size_t i);

/* A JSON number for x that prints with 17 significant digits, so results
 * round-trip exactly; NULL when out of memory. */
json_object *dfm_metric_number(double x);

#endif
