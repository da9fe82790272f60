/* Decoding many image files on the run's threads.  Files are taken in
 * batches; workers decode a batch into slots, then the calling thread adds
 * the slots in file order, so the dataset does not depend on the thread
 * count or on timing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "stages/ingest/ingest.h"

enum { PER_THREAD = 32, MAX_THREADS = 64 };

struct slot {
	size_t file;
	struct dfm_image im;
	int rc;
	char err[300];
};

struct batch {
	char *const *paths;
	struct slot *slots;
	size_t n;
	atomic_size_t next;
};

static void *
worker(void *arg)
{
	struct batch *b = arg;
	size_t i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
		struct slot *s = &b->slots[i];

		s->rc = dfm_decode_file(b->paths[s->file], &s->im, s->err, sizeof s->err);
	}
	return NULL;
}

static void
decode_batch(struct batch *b, int threads)
{
	pthread_t tid[MAX_THREADS];
	int started[MAX_THREADS] = {0};

	atomic_store(&b->next, 0);
	for (int t = 1; t < threads; t++)
		started[t] = pthread_create(&tid[t], NULL, worker, b) == 0;
	worker(b);
	for (int t = 1; t < threads; t++)
		if (started[t])
			pthread_join(tid[t], NULL);
}

/* Picks up to cap files from *at on whose class is not yet full, counting
 * the picks against the limit. */
static size_t
select_files(struct dfm_ingest *in, const int *labels, size_t n, size_t *at,
	     struct slot *slots, size_t cap, int64_t *planned)
{
	size_t m = 0;

	for (; *at < n && m < cap; (*at)++) {
		int k = labels[*at];

		if (in->limit > 0 && k >= 0 && k < in->ncounted &&
		    in->per_class[k] + planned[k] >= in->limit)
			continue;
		if (k >= 0 && k < in->ncounted)
			planned[k]++;
		slots[m++] = (struct slot){.file = *at};
	}
	return m;
}

int
dfm_ingest_images(struct dfm_ingest *in, char *const *paths, const int *labels, size_t n)
{
	int threads = in->run ? dfm_threads(in->run) : 1, rc = 0;
	size_t cap, at = 0, m, i;
	struct slot *slots;
	int64_t *planned;

	threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
	cap = (size_t)PER_THREAD * threads;
	slots = calloc(cap, sizeof *slots);
	planned = calloc(in->ncounted + 1, sizeof *planned);
	if (!slots || !planned) {
		free(slots);
		free(planned);
		return dfm_ingest_fail(in, NULL, "out of memory");
	}
	while (!rc && (m = select_files(in, labels, n, &at, slots, cap, planned)) > 0) {
		struct batch b = {paths, slots, m, 0};

		decode_batch(&b, threads);
		for (i = 0; i < m; i++) {
			struct slot *s = &slots[i];
			int k = labels[s->file];

			if (k >= 0 && k < in->ncounted)
				planned[k]--;
			if (!rc)
				rc = dfm_ingest_decoded(in, paths[s->file], s->rc, s->err, &s->im,
							labels[s->file]);
			dfm_image_free(&s->im);
		}
		if (in->run)
			dfm_progress(in->run, (double)at, (double)n);
	}
	free(slots);
	free(planned);
	return rc;
}
