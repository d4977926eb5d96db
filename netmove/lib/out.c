#include <inttypes.h>

#include "netmove/out.h"

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Emit what comes before a value: separator, key, indentation. */
static void lead(struct out *o, const char *key)
{
	bool in_array = o->array[o->depth];

	if (o->json) {
		if (!o->first[o->depth])
			fputc(',', o->f);
		if (!in_array && key) {
			json_string(o->f, key);
			fputc(':', o->f);
		}
	} else {
		fprintf(o->f, "%*s", 2 * (o->depth - 1), "");
		if (in_array)
			fputs("- ", o->f);
		else if (key)
			fprintf(o->f, "%s: ", key);
	}
	o->first[o->depth] = false;
}

static void push(struct out *o, bool array)
{
	if (o->depth < OUT_MAX_DEPTH - 1)
		o->depth++;
	o->first[o->depth] = true;
	o->array[o->depth] = array;
}

void out_init(struct out *o, FILE *f, bool json)
{
	o->f = f;
	o->json = json;
	/* Level 1 is the document's top-level object. */
	o->depth = 1;
	o->first[1] = true;
	o->array[1] = false;
	if (json)
		fputc('{', f);
}

void out_finish(struct out *o)
{
	while (o->depth > 1) {
		if (o->array[o->depth])
			out_arr_end(o);
		else
			out_obj_end(o);
	}
	if (o->json)
		fputs("}\n", o->f);
	fflush(o->f);
}

void out_obj_begin(struct out *o, const char *key)
{
	lead(o, key);
	if (o->json)
		fputc('{', o->f);
	else
		fputc('\n', o->f);
	push(o, false);
}

void out_obj_end(struct out *o)
{
	if (o->json)
		fputc('}', o->f);
	if (o->depth > 1)
		o->depth--;
}

void out_arr_begin(struct out *o, const char *key)
{
	lead(o, key);
	if (o->json)
		fputc('[', o->f);
	else
		fputc('\n', o->f);
	push(o, true);
}

void out_arr_end(struct out *o)
{
	if (o->json)
		fputc(']', o->f);
	if (o->depth > 1)
		o->depth--;
}

static void tail(struct out *o)
{
	if (!o->json)
		fputc('\n', o->f);
}

void out_str(struct out *o, const char *key, const char *v)
{
	lead(o, key);
	if (o->json)
		json_string(o->f, v ? v : "");
	else
		fputs(v ? v : "", o->f);
	tail(o);
}

void out_u64(struct out *o, const char *key, uint64_t v)
{
	lead(o, key);
	fprintf(o->f, "%" PRIu64, v);
	tail(o);
}

void out_i64(struct out *o, const char *key, int64_t v)
{
	lead(o, key);
	fprintf(o->f, "%" PRId64, v);
	tail(o);
}

void out_bool(struct out *o, const char *key, bool v)
{
	lead(o, key);
	fputs(o->json ? (v ? "true" : "false") : (v ? "yes" : "no"), o->f);
	tail(o);
}

void out_double(struct out *o, const char *key, double v, int decimals)
{
	lead(o, key);
	fprintf(o->f, "%.*f", decimals, v);
	tail(o);
}

void out_null(struct out *o, const char *key)
{
	lead(o, key);
	fputs(o->json ? "null" : "-", o->f);
	tail(o);
}
