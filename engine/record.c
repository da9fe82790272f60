#include <git2.h>
#include <json-c/json.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/record.h"

static const char *
isa_name(dnnl_cpu_isa_t isa)
{
	switch (isa) {
	case dnnl_cpu_isa_sse41: return "sse41";
	case dnnl_cpu_isa_avx: return "avx";
	case dnnl_cpu_isa_avx2: return "avx2";
	case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
	case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
	case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
	case dnnl_cpu_isa_avx512_core: return "avx512_core";
	case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
	case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
	case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
	default: return "unknown";
	}
}

static int
count_change(const char *path, unsigned int flags, void *arg)
{
	(void)path;
	if (flags & ~(unsigned)(GIT_STATUS_IGNORED | GIT_STATUS_WT_NEW))
		(*(int *)arg)++;
	return 0;
}

static void
git_state(const char *dir, struct dfm_env_info *info)
{
	git_repository *repo = NULL;
	git_oid oid;
	git_status_options opts;
	int changes = 0;

	git_libgit2_init();
	if (git_repository_open_ext(&repo, dir, 0, NULL) != 0)
		goto done;
	info->in_git = 1;
	if (git_reference_name_to_id(&oid, repo, "HEAD") == 0)
		git_oid_tostr(info->commit, sizeof info->commit, &oid);
	git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_foreach_ext(repo, &opts, count_change, &changes) == 0)
		info->dirty = changes > 0;
done:
	git_repository_free(repo);
	git_libgit2_shutdown();
}

void
dfm_record_env(const char *rules_dir, struct dfm_env_info *info)
{
	memset(info, 0, sizeof *info);
	snprintf(info->rules_dir, sizeof info->rules_dir, "%s", rules_dir);
}

void
dfm_record_env_load(struct dfm_env_info *info)
{
	const dnnl_version_t *v = dnnl_version();

	if (info->loaded)
		return;
	info->loaded = 1;
	if (gethostname(info->host, sizeof info->host - 1) != 0)
		strcpy(info->host, "unknown");
	snprintf(info->onednn, sizeof info->onednn, "%d.%d.%d", v->major, v->minor, v->patch);
	info->isa = isa_name(dnnl_get_effective_cpu_isa());
	git_state(info->rules_dir, info);
}

static long long
seed_of(const struct dfm_inst *in)
{
	for (size_t p = 0; p < in->nparams; p++)
		if (strcmp(in->param_names[p], "seed") == 0 && in->params[p].type == DFM_INT)
			return in->params[p].i;
	return -1;
}

/* Milliseconds are plenty, and keep the lock file readable. */
static json_object *
seconds(double s)
{
	char text[32];

	snprintf(text, sizeof text, "%.3f", s);
	return json_object_new_double_s(s, text);
}

char *
dfm_record_json(const struct dfm_env_info *env, const struct dfm_inst *in, int threads,
		double wall_s, double cpu_s)
{
	json_object *o = json_object_new_object(), *git;
	char when[32], *text;
	time_t now = time(NULL);
	long long seed = seed_of(in);

	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_object_add(o, "dfmake", json_object_new_string(DFMAKE_VERSION));
	json_object_object_add(o, "kind_version", json_object_new_int(in->kind->version));
	json_object_object_add(o, "onednn", json_object_new_string(env->onednn));
	json_object_object_add(o, "isa", json_object_new_string(env->isa));
	json_object_object_add(o, "threads", json_object_new_int(threads));
	json_object_object_add(o, "seed", seed >= 0 ? json_object_new_int64(seed) : NULL);
	json_object_object_add(o, "wall_s", seconds(wall_s));
	json_object_object_add(o, "cpu_s", seconds(cpu_s));
	json_object_object_add(o, "host", json_object_new_string(env->host));
	json_object_object_add(o, "finished", json_object_new_string(when));
	if (env->in_git) {
		git = json_object_new_object();
		json_object_object_add(git, "commit", json_object_new_string(env->commit));
		json_object_object_add(git, "dirty", json_object_new_boolean(env->dirty));
		json_object_object_add(o, "git", git);
	} else {
		json_object_object_add(o, "git", NULL);
	}
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}
