#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cache/error.h"
#include "engine/yaml.h"

struct loader {
	yaml_parser_t parser;
	const char *text;
	size_t len;
	const char *name;
	char *err;
	size_t errlen;
	int depth;
};

enum { MAX_DEPTH = 64 };

/* Does line (0-based) of the text hold a "${"? */
static int
line_has_variable(const struct loader *l, size_t line)
{
	const char *p = l->text, *end = l->text + l->len, *nl;

	for (; line > 0 && p < end; line--)
		if (!(p = memchr(p, '\n', (size_t)(end - p))) || ++p >= end)
			return 0;
	nl = memchr(p, '\n', (size_t)(end - p));
	return memmem(p, (size_t)((nl ? nl : end) - p), "${", 2) != NULL;
}

static int
complain(struct loader *l, size_t line, size_t col, const char *what)
{
	snprintf(l->err, l->errlen, "%s:%zu:%zu: %s%s", l->name, line + 1, col + 1, what,
		 line_has_variable(l, line) ? " (inside {...} or [...], quote values with "
		 "${...}, or write them in block style)" : "");
	return DFM_ERR_RULES;
}

static struct dfm_ynode *
new_node(enum dfm_ytype type, const yaml_mark_t *mark)
{
	struct dfm_ynode *n = calloc(1, sizeof *n);

	if (n) {
		n->type = type;
		n->line = (int)mark->line + 1;
		n->col = (int)mark->column + 1;
	}
	return n;
}

static int
append(struct dfm_ynode *parent, struct dfm_ynode *child)
{
	void *p = realloc(parent->items, (parent->n + 1) * sizeof *parent->items);

	if (!p)
		return DFM_ERR_NOMEM;
	parent->items = p;
	parent->items[parent->n++] = child;
	return 0;
}

static int parse_node(struct loader *l, yaml_event_t *ev, struct dfm_ynode **out);

/* Reads children until the closing event of a sequence or mapping. */
static int
parse_children(struct loader *l, struct dfm_ynode *parent, yaml_event_type_t end)
{
	yaml_event_t ev;
	struct dfm_ynode *child;
	int rc;
	size_t count = 0;

	for (;;) {
		if (!yaml_parser_parse(&l->parser, &ev))
			return complain(l, l->parser.problem_mark.line,
					l->parser.problem_mark.column,
					l->parser.problem ? l->parser.problem : "syntax error");
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		rc = parse_node(l, &ev, &child);
		yaml_event_delete(&ev);
		if (rc)
			return rc;
		if (parent->type == DFM_Y_MAP && count % 2 == 0 && child->type != DFM_Y_SCALAR) {
			rc = complain(l, (size_t)child->line - 1, (size_t)child->col - 1,
				      "a mapping key must be a scalar");
			dfm_ynode_free(child);
			return rc;
		}
		if (parent->type == DFM_Y_MAP && count % 2 == 0 &&
		    dfm_ymap_get(parent, child->value)) {
			char msg[300];

			snprintf(msg, sizeof msg, "duplicate key '%s'", child->value);
			rc = complain(l, (size_t)child->line - 1, (size_t)child->col - 1, msg);
			dfm_ynode_free(child);
			return rc;
		}
		if ((rc = append(parent, child))) {
			dfm_ynode_free(child);
			return rc;
		}
		count++;
	}
}

static int
parse_node(struct loader *l, yaml_event_t *ev, struct dfm_ynode **out)
{
	struct dfm_ynode *n;
	int rc;

	*out = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (!(n = new_node(DFM_Y_SCALAR, &ev->start_mark)))
			return DFM_ERR_NOMEM;
		if (!(n->value = strdup((const char *)ev->data.scalar.value))) {
			free(n);
			return DFM_ERR_NOMEM;
		}
		*out = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++l->depth > MAX_DEPTH)
			return complain(l, ev->start_mark.line, ev->start_mark.column,
					"nested too deeply");
		n = new_node(ev->type == YAML_SEQUENCE_START_EVENT ? DFM_Y_SEQ : DFM_Y_MAP,
			     &ev->start_mark);
		if (!n)
			return DFM_ERR_NOMEM;
		rc = parse_children(l, n, ev->type == YAML_SEQUENCE_START_EVENT ?
				    YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT);
		l->depth--;
		if (rc) {
			dfm_ynode_free(n);
			return rc;
		}
		*out = n;
		return 0;
	case YAML_ALIAS_EVENT:
		return complain(l, ev->start_mark.line, ev->start_mark.column,
				"YAML aliases are not supported in rules");
	default:
		return complain(l, ev->start_mark.line, ev->start_mark.column,
				"unexpected YAML event");
	}
}

/* Skips stream and document starts, reads one node, expects the end. */
static int
parse_document(struct loader *l, struct dfm_ynode **root)
{
	yaml_event_t ev;
	int rc = 0;

	*root = NULL;
	for (;;) {
		if (!yaml_parser_parse(&l->parser, &ev))
			return complain(l, l->parser.problem_mark.line,
					l->parser.problem_mark.column,
					l->parser.problem ? l->parser.problem : "syntax error");
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			break;
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			if (!*root)
				return complain(l, 0, 0, "the rules file is empty");
			return 0;
		default:
			if (*root)
				rc = complain(l, ev.start_mark.line, ev.start_mark.column,
					      "only one YAML document is allowed");
			else
				rc = parse_node(l, &ev, root);
		}
		yaml_event_delete(&ev);
		if (rc) {
			dfm_ynode_free(*root);
			*root = NULL;
			return rc;
		}
	}
}

int
dfm_yaml_parse(const char *text, size_t len, const char *name,
	       struct dfm_ynode **root, char *err, size_t errlen)
{
	struct loader l = {.text = text, .len = len, .name = name, .err = err,
			   .errlen = errlen};
	int rc;

	if (!yaml_parser_initialize(&l.parser))
		return DFM_ERR_NOMEM;
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, len);
	rc = parse_document(&l, root);
	yaml_parser_delete(&l.parser);
	return rc;
}

void
dfm_ynode_free(struct dfm_ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		dfm_ynode_free(n->items[i]);
	free(n->items);
	free(n->value);
	free(n);
}

struct dfm_ynode *
dfm_ymap_get(const struct dfm_ynode *map, const char *key)
{
	if (!map || map->type != DFM_Y_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (strcmp(map->items[i]->value, key) == 0)
			return map->items[i + 1];
	return NULL;
}

const char *
dfm_ytype_name(const struct dfm_ynode *n)
{
	switch (n->type) {
	case DFM_Y_SCALAR:
		return "a scalar";
	case DFM_Y_SEQ:
		return "a list";
	default:
		return "a mapping";
	}
}
