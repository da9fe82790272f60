#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cli.h"
#include "engine/cmd.h"
#include "engine/lockfile.h"
#include "engine/log.h"
#include "engine/sched.h"

static const char usage[] =
"usage: dfmake [OPTION...] [TARGET...]\n"
"       dfmake [OPTION...] COMMAND [ARG...]\n"
"\n"
"Builds the targets of a rules file, reusing every stage instance whose key\n"
"is already in the cache.  A target is a group from the rules' 'targets',\n"
"a stage name (all its instances) or an instance name such as\n"
"'resize[src=emoji]'.  Without targets, the rules' 'default' is built, or\n"
"else every stage.  A build prints the Markdown outputs of its final\n"
"instances and ends with the line 'dfmake: N ran, N cached, N failed'.\n"
"\n"
"Commands:\n"
"  status [TARGET...]         each instance: cached, or why it would run\n"
"  dag [TARGET...]            the instance graph in Graphviz DOT\n"
"  show INSTANCE|DIGEST       an instance's key, parameters, inputs, outputs\n"
"                             and record, or a stored artifact\n"
"  export INSTANCE.OUTPUT FILE  write an output artifact to FILE; a dataset\n"
"                             to a folder of PNG files when FILE ends in /\n"
"  log INSTANCE               the log of the run that made an instance\n"
"  gc [LOCKFILE...]           drop cache entries that no given lock file\n"
"                             references (default: this dfmake.lock)\n"
"  audit [--rerun]            check every digest in dfmake.lock against the\n"
"                             cache; --rerun also re-executes each instance\n"
"                             and compares output digests\n"
"  kinds                      the stage kinds, with parameters and outputs\n"
"\n"
"Options:\n"
"  -f, --file FILE    rules file (default: dfmake.yaml, else the built-in\n"
"                     default rules)\n"
"  -C, --directory DIR  change to DIR first\n"
"      --cache DIR    cache directory (default: $DFMAKE_CACHE, else .dfmake\n"
"                     beside the rules file)\n"
"  -j, --jobs N       run N instances at once (default 1)\n"
"  -t, --threads N    compute threads per instance (default: cores / jobs)\n"
"  -k, --keep-going   go on building what does not depend on a failure\n"
"  -n, --dry-run      list what would run and why; run nothing\n"
"      --explain      say why each instance runs or is reused\n"
"      --rerun        with audit: re-execute instances\n"
"  -q, --quiet        errors and the summary only\n"
"  -V, --version      print the version\n"
"  -h, --help         print this help\n"
"\n"
"Files: after every build, the lock file is written beside the rules file\n"
"and named after it (dfmake.yaml gives dfmake.lock).  See docs/guide.md.\n";

static const struct option longopts[] = {
	{"file", required_argument, NULL, 'f'},
	{"directory", required_argument, NULL, 'C'},
	{"cache", required_argument, NULL, 'c'},
	{"jobs", required_argument, NULL, 'j'},
	{"threads", required_argument, NULL, 't'},
	{"keep-going", no_argument, NULL, 'k'},
	{"dry-run", no_argument, NULL, 'n'},
	{"explain", no_argument, NULL, 'e'},
	{"rerun", no_argument, NULL, 'r'},
	{"quiet", no_argument, NULL, 'q'},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
positive(const char *opt, const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || end == arg || v < 1 || v > 256) {
		fprintf(stderr, "dfmake: %s needs a number from 1 to 256, not '%s'\n", opt, arg);
		return DFM_ERR_USAGE;
	}
	*out = (int)v;
	return 0;
}

static int
parse_options(struct dfm_ctx *c, int argc, char **argv)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "f:C:j:t:knqVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			c->rules_path = optarg;
			break;
		case 'C':
			if (chdir(optarg) != 0) {
				fprintf(stderr, "dfmake: cannot change to '%s': %s\n", optarg,
					strerror(errno));
				return DFM_ERR_USAGE;
			}
			break;
		case 'c':
			c->cache_opt = optarg;
			break;
		case 'j':
			if (positive("-j", optarg, &c->jobs))
				return DFM_ERR_USAGE;
			break;
		case 't':
			if (positive("--threads", optarg, &c->threads))
				return DFM_ERR_USAGE;
			break;
		case 'k':
			c->keep_going = 1;
			break;
		case 'n':
			c->dry_run = 1;
			break;
		case 'e':
			dfm_log_level = DFM_EXPLAIN;
			break;
		case 'r':
			c->rerun = 1;
			break;
		case 'q':
			dfm_log_level = DFM_QUIET;
			break;
		case 'V':
			printf("dfmake %s\n", DFMAKE_VERSION);
			exit(0);
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fprintf(stderr, "dfmake: try 'dfmake --help'\n");
			return DFM_ERR_USAGE;
		}
	}
	return 0;
}

static void
default_threads(struct dfm_ctx *c)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (c->threads)
		return;
	c->threads = cores > 0 ? (int)(cores / c->jobs) : 1;
	if (c->threads < 1)
		c->threads = 1;
}

static int
load_rules(struct dfm_ctx *c)
{
	char *copy;

	if (!c->rules_path && access("dfmake.yaml", F_OK) != 0) {
		c->embedded = 1;
		c->rules_dir = strdup(".");
		return dfm_rules_parse(dfm_default_rules, strlen(dfm_default_rules),
				       "(built-in rules/quick.yaml)", &c->rules);
	}
	if (!c->rules_path)
		c->rules_path = "dfmake.yaml";
	if (!(copy = strdup(c->rules_path)))
		return DFM_ERR_NOMEM;
	c->rules_dir = strdup(dirname(copy));
	free(copy);
	return dfm_rules_load(c->rules_path, &c->rules);
}

static int
open_store(struct dfm_ctx *c)
{
	const char *env = getenv("DFMAKE_CACHE");
	int rc;

	if (c->cache_opt)
		c->cache_dir = strdup(c->cache_opt);
	else if (env && *env)
		c->cache_dir = strdup(env);
	else if (asprintf(&c->cache_dir, "%s/.dfmake", c->rules_dir) < 0)
		c->cache_dir = NULL;
	if (!c->cache_dir)
		return DFM_ERR_NOMEM;
	if ((rc = dfm_store_open(c->cache_dir, &c->s)))
		fprintf(stderr, "dfmake: cannot open the cache '%s': %s\n", c->cache_dir,
			rc == DFM_ERR_NFS ? "it is on a network filesystem, where LMDB's locks "
			"and shared memory map are not safe; use a local directory (--cache)"
					  : dfm_strerror(rc));
	return rc;
}

/* The lock file is named after the rules file: dfmake.yaml gives
 * dfmake.lock, paper.yaml gives paper.lock; the built-in rules give
 * dfmake.lock in the current directory. */
static char *
lock_path_for(const struct dfm_ctx *c)
{
	const char *path = c->embedded ? "dfmake.yaml" : c->rules_path;
	const char *base = strrchr(path, '/'), *dot;
	char *lock = NULL;
	int stem;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	stem = dot && dot != base ? (int)(dot - path) : (int)strlen(path);
	if (asprintf(&lock, "%.*s.lock", stem, path) < 0)
		return NULL;
	return lock;
}

int
dfm_ctx_open(struct dfm_ctx *c)
{
	int rc;

	if ((rc = load_rules(c)))
		return rc;
	if (!c->rules_dir)
		return DFM_ERR_NOMEM;
	if ((rc = dfm_graph_build(c->rules, &c->g)))
		return rc;
	if (!(c->lock_path = lock_path_for(c)))
		return DFM_ERR_NOMEM;
	if ((rc = dfm_lock_read(c->lock_path, &c->prev)))
		return rc;
	if ((rc = open_store(c)))
		return rc;
	dfm_record_env(c->rules_dir, &c->env);
	return 0;
}

void
dfm_ctx_close(struct dfm_ctx *c)
{
	dfm_store_close(c->s);
	json_object_put(c->prev);
	dfm_graph_free(c->g);
	dfm_rules_free(c->rules);
	free(c->rules_dir);
	free(c->lock_path);
	free(c->cache_dir);
}

int
dfm_ctx_resolve(struct dfm_ctx *c)
{
	struct dfm_build_opts o = {
		.jobs = 1, .threads = 1, .dry_run = 1, .cache_dir = c->cache_dir,
		.prev = c->prev, .env = &c->env,
	};
	struct dfm_build_stats st;
	enum dfm_level level = dfm_log_level;
	int rc;

	dfm_log_level = DFM_QUIET;
	rc = dfm_build(c->g, c->s, &o, &st);
	dfm_log_level = level;
	return rc;
}

struct dfm_inst *
dfm_ctx_instance(struct dfm_ctx *c, const char *name)
{
	struct dfm_inst *in = dfm_graph_find(c->g, name);
	char *n = (char *)name;

	if (!in) {
		fprintf(stderr, "dfmake: no instance named '%s' in %s\n", name, c->rules->path);
		return NULL;
	}
	if (dfm_graph_select(c->g, 1, &n) || dfm_ctx_resolve(c) == DFM_ERR_NOMEM)
		return NULL;
	return in;
}

static void
print_kind(const struct dfm_kind *k)
{
	printf("%s (version %d): %s\n", k->name, k->version, k->summary ? k->summary : "");
	for (const struct dfm_param *p = k->params; p && p->name; p++) {
		static const char *const types[] = {"", "int", "float", "string", "bool"};

		printf("  param  %-14s %-6s %s%s%s%s%s)\n", p->name, types[p->type],
		       p->help ? p->help : "", p->def ? " (default " : " (required",
		       p->def ? p->def : "", p->choices ? "; one of " : "",
		       p->choices ? p->choices : "");
	}
	for (const struct dfm_slot *s = k->inputs; s && s->name; s++)
		printf("  input  %-14s %-6s %s\n", s->name,
		       s->flags & DFM_SLOT_LIST ? "list" : s->flags & DFM_SLOT_OPTIONAL ? "opt" : "",
		       s->help ? s->help : "");
	for (const struct dfm_output *o = k->outputs; o && o->name; o++)
		printf("  output %-14s %-6s %s\n", o->name, o->format, o->help ? o->help : "");
}

static int
cmd_kinds(void)
{
	const struct dfm_kind *k;

	for (size_t i = 0; (k = dfm_kind_at(i)); i++)
		print_kind(k);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct dfm_ctx *c, int argc, char **argv);
} commands[] = {
	{"status", dfm_cmd_status},
	{"dag", dfm_cmd_dag},
	{"show", dfm_cmd_show},
	{"export", dfm_cmd_export},
	{"log", dfm_cmd_log},
	{"gc", dfm_cmd_gc},
	{"audit", dfm_cmd_audit},
};

int
dfm_main(int argc, char **argv)
{
	struct dfm_ctx c = {.jobs = 1};
	int (*fn)(struct dfm_ctx *, int, char **) = dfm_cmd_build;
	int rc;

	if (parse_options(&c, argc, argv))
		return 2;
	argc -= optind;
	argv += optind;
	if (argc > 0 && strcmp(argv[0], "kinds") == 0)
		return cmd_kinds();
	for (size_t i = 0; argc > 0 && i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			fn = commands[i].fn;
			argc--;
			argv++;
			break;
		}
	default_threads(&c);
	dfm_progress_init(2);
	if ((rc = dfm_ctx_open(&c)) == 0)
		rc = fn(&c, argc, argv);
	else
		rc = 2;
	dfm_ctx_close(&c);
	return rc;
}
