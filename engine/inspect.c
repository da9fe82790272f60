/* Commands that look at the graph and the cache: dag, show, export, log. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/cmd.h"
#include "engine/lockfile.h"
#include "stages/dataset.h"
#include "stages/nn/safetensors.h"

int
dfm_cmd_dag(struct dfm_ctx *c, int argc, char **argv)
{
	if (dfm_graph_select(c->g, argc, argv))
		return 2;
	printf("digraph dfmake {\n\trankdir=LR;\n\tnode [shape=box, fontname=\"monospace\"];\n");
	for (size_t i = 0; i < c->g->n; i++) {
		struct dfm_inst *in = c->g->inst[i];

		if (!in->needed)
			continue;
		printf("\t\"%s\" [label=\"%s\\n(%s)\"];\n", in->name, in->name, in->kind->name);
		for (size_t s = 0; s < in->nslots; s++)
			for (size_t e = 0; e < in->slots[s].n; e++) {
				const struct dfm_edge *edge = &in->slots[s].edge[e];

				printf("\t\"%s\" -> \"%s\" [label=\"%s -> %s\"];\n", edge->from->name,
				       in->name, edge->from->kind->outputs[edge->out].name,
				       in->kind->inputs[s].name);
			}
	}
	printf("}\n");
	return 0;
}

/* Prints what an artifact is: a safetensors file's tensors, JSON, text. */
static void
sniff(const void *data, size_t size)
{
	struct dfm_st *st;
	const char *text = data;
	size_t printable = 0;

	if (dfm_st_open(data, size, &st, NULL, 0) == 0) {
		printf("    safetensors, %zu tensors\n", dfm_st_count(st));
		for (size_t i = 0; i < dfm_st_count(st) && i < 20; i++) {
			const struct dfm_tensor *t = dfm_st_at(st, i);

			printf("      %-24s %s [", t->name, dfm_dtype_name(t->dtype));
			for (int d = 0; d < t->ndim; d++)
				printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
			printf("]\n");
		}
		dfm_st_close(st);
		return;
	}
	while (printable < size && printable < 4096 &&
	       (text[printable] >= 32 || text[printable] == '\n' || text[printable] == '\t' ||
		(unsigned char)text[printable] >= 128))
		printable++;
	if (printable == size || printable == 4096) {
		printf("%.*s%s\n", (int)printable, text, printable < size ? "\n    ..." : "");
		return;
	}
	printf("    %zu bytes of binary data\n", size);
}

static void
show_output(struct dfm_ctx *c, const struct dfm_inst *in, size_t o)
{
	char hex[DFM_DIGEST_HEX];
	void *data;
	size_t size;
	int rc;

	printf("  %s.%s: %s", in->name, in->kind->outputs[o].name,
	       dfm_digest_hex(&in->out[o], hex));
	if ((rc = dfm_store_get(c->s, &in->out[o], &data, &size))) {
		printf(" (%s)\n", dfm_strerror(rc));
		return;
	}
	printf(" (%zu bytes, %s)\n", size, in->kind->outputs[o].format);
	if (!in->kind->describe || in->kind->describe(in->kind->outputs[o].name, data, size,
						      stdout) != 0)
		sniff(data, size);
	free(data);
}

static int
show_instance(struct dfm_ctx *c, struct dfm_inst *in)
{
	json_object *entry;
	char hex[DFM_DIGEST_HEX], *record = NULL;

	printf("%s\n  kind: %s (version %d)\n", in->name, in->kind->name, in->kind->version);
	for (size_t p = 0; p < in->nparams; p++) {
		json_object *v = dfm_lock_value(&in->params[p]);

		printf("  param %s: %s\n", in->param_names[p], json_object_to_json_string(v));
		json_object_put(v);
	}
	for (size_t s = 0; s < in->nslots; s++)
		for (size_t e = 0; e < in->slots[s].n; e++)
			printf("  input %s: %s.%s\n", in->kind->inputs[s].name,
			       in->slots[s].edge[e].from->name,
			       in->slots[s].edge[e].from->kind->outputs[in->slots[s].edge[e].out].name);
	if (!in->have_key) {
		printf("  key: unknown until its inputs are built\n");
		return 0;
	}
	printf("  key: %s\n", dfm_digest_hex(&in->key, hex));
	if (!(in->state == DFM_DONE && in->cached)) {
		printf("  not in the cache: %s\n", in->reason ? in->reason : "");
		return 0;
	}
	for (size_t o = 0; o < in->nouts; o++)
		show_output(c, in, o);
	if (dfm_store_record(c->s, &in->key, &record) == 0)
		printf("  record: %s\n", record);
	else if ((entry = dfm_lock_entry(c->prev, in->name)))
		printf("  record (from dfmake.lock): %s\n", json_object_to_json_string(entry));
	free(record);
	return 0;
}

struct finder {
	struct dfm_digest want;
	int found;
};

static int
find_producer(const struct dfm_digest *key, const struct dfm_action *a, void *arg)
{
	struct finder *f = arg;
	char hex[DFM_DIGEST_HEX];

	for (size_t i = 0; i < a->nout; i++)
		if (dfm_digest_eq(&a->out[i].digest, &f->want)) {
			printf("  output '%s' of instance key %s\n", a->out[i].name,
			       dfm_digest_hex(key, hex));
			f->found++;
		}
	return 0;
}

static int
show_digest(struct dfm_ctx *c, const char *hex)
{
	struct finder f = {0};
	void *data;
	size_t size;
	int rc;

	dfm_digest_parse(hex, &f.want);
	if ((rc = dfm_store_get(c->s, &f.want, &data, &size))) {
		fprintf(stderr, "dfmake: artifact %s: %s\n", hex, dfm_strerror(rc));
		return 1;
	}
	printf("artifact %s: %zu bytes\n", hex, size);
	dfm_store_each_action(c->s, find_producer, &f);
	sniff(data, size);
	free(data);
	return 0;
}

int
dfm_cmd_show(struct dfm_ctx *c, int argc, char **argv)
{
	struct dfm_digest d;
	struct dfm_inst *in;

	if (argc != 1) {
		fprintf(stderr, "dfmake: usage: dfmake show INSTANCE|DIGEST\n");
		return 2;
	}
	if (strlen(argv[0]) == 2 * DFM_DIGEST_SIZE && dfm_digest_parse(argv[0], &d) == 0)
		return show_digest(c, argv[0]);
	if (!(in = dfm_ctx_instance(c, argv[0])))
		return 1;
	return show_instance(c, in);
}

/* Splits "INSTANCE.OUTPUT" at the last dot outside brackets. */
static int
split_output(char *ref, char **output)
{
	char *dot = strrchr(ref, '.'), *close = strrchr(ref, ']');

	if (!dot || (close && dot < close))
		return -1;
	*dot = '\0';
	*output = dot + 1;
	return 0;
}

static int
write_file(const char *path, const void *data, size_t size)
{
	char *tmp = NULL;
	FILE *f;
	int rc = 0;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return DFM_ERR_NOMEM;
	if (!(f = fopen(tmp, "wb"))) {
		rc = errno;
	} else {
		if (fwrite(data, 1, size, f) != size)
			rc = errno ? errno : EIO;
		if (fclose(f) != 0 && !rc)
			rc = errno;
		if (!rc && rename(tmp, path) != 0)
			rc = errno;
		if (rc)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* A destination ending in '/' or naming a folder asks for a dataset's
 * images as PNG files. */
static int
wants_folder(const char *dest)
{
	struct stat sb;
	size_t n = strlen(dest);

	return (n && dest[n - 1] == '/') || (stat(dest, &sb) == 0 && S_ISDIR(sb.st_mode));
}

int
dfm_cmd_export(struct dfm_ctx *c, int argc, char **argv)
{
	struct dfm_inst *in;
	char *ref, *output;
	void *data;
	size_t size;
	long o;
	int rc;

	if (argc != 2 || !(ref = strdup(argv[0])) || split_output(ref, &output)) {
		fprintf(stderr, "dfmake: usage: dfmake export INSTANCE.OUTPUT FILE\n");
		return 2;
	}
	rc = 1;
	if (!(in = dfm_ctx_instance(c, ref)))
		goto done;
	if ((o = dfm_kind_output(in->kind, output)) < 0) {
		fprintf(stderr, "dfmake: %s (kind '%s') has no output '%s'\n", in->name,
			in->kind->name, output);
		goto done;
	}
	if (!(in->state == DFM_DONE && in->cached)) {
		fprintf(stderr, "dfmake: %s is not built; run 'dfmake %s' first\n", in->name,
			in->name);
		goto done;
	}
	if ((rc = dfm_store_get(c->s, &in->out[o], &data, &size))) {
		fprintf(stderr, "dfmake: cannot read %s.%s: %s\n", in->name, output,
			dfm_strerror(rc));
		rc = 1;
		goto done;
	}
	if (wants_folder(argv[1])) {
		char err[512];

		if ((rc = dfm_dataset_export_dir(data, size, argv[1], err, sizeof err)))
			fprintf(stderr, "dfmake: cannot export %s.%s to '%s': %s\n", in->name,
				output, argv[1], err);
		else
			fprintf(stderr, "dfmake: wrote %s.%s to the folder '%s'\n", in->name,
				output, argv[1]);
	} else if ((rc = write_file(argv[1], data, size)))
		fprintf(stderr, "dfmake: cannot write '%s': %s\n", argv[1], dfm_strerror(rc));
	else
		fprintf(stderr, "dfmake: wrote %s.%s to '%s' (%zu bytes)\n", in->name, output,
			argv[1], size);
	free(data);
	rc = rc ? 1 : 0;
done:
	free(ref);
	return rc;
}

static int
failure_log(struct dfm_ctx *c, const struct dfm_inst *in, char **text)
{
	unsigned char key[5 + DFM_DIGEST_SIZE] = "fail:";
	void *val;
	size_t len;
	int rc;

	memcpy(key + 5, in->key.b, DFM_DIGEST_SIZE);
	if ((rc = dfm_store_memo_get(c->s, key, sizeof key, &val, &len)))
		return rc;
	if (!len || ((char *)val)[len - 1] != '\0') {
		free(val);
		return DFM_ERR_FORMAT;
	}
	*text = val;
	return 0;
}

int
dfm_cmd_log(struct dfm_ctx *c, int argc, char **argv)
{
	struct dfm_inst *in;
	char *text;

	if (argc != 1) {
		fprintf(stderr, "dfmake: usage: dfmake log INSTANCE\n");
		return 2;
	}
	if (!(in = dfm_ctx_instance(c, argv[0])))
		return 1;
	if (in->have_key && dfm_store_log(c->s, &in->key, &text) == 0) {
		fputs(text, stdout);
		free(text);
		return 0;
	}
	if (in->have_key && failure_log(c, in, &text) == 0) {
		printf("(the last run of %s with these inputs and parameters failed)\n%s",
		       in->name, text);
		free(text);
		return 0;
	}
	fprintf(stderr, "dfmake: no log of %s in the cache (not run with these inputs "
		"and parameters)\n", in->name);
	return 1;
}
