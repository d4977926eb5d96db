/* out: one printer for human and JSON output (iproute2 style).  Callers emit
 * keys and values once; the mode decides the rendering. */
#ifndef NETMOVE_OUT_H
#define NETMOVE_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define OUT_MAX_DEPTH 16

/* Printer state; fill with out_init. */
struct out {
	FILE *f;			/* destination stream */
	bool json;			/* JSON instead of "key: value" lines */
	int depth;			/* current nesting level */
	bool first[OUT_MAX_DEPTH];	/* nothing emitted yet at this level */
	bool array[OUT_MAX_DEPTH];	/* level is an array */
};

/* Start a document: a top-level object in JSON mode. */
void out_init(struct out *o, FILE *f, bool json);

/* Close every open level and end the document with a newline. */
void out_finish(struct out *o);

/* Open a nested object (key is ignored inside arrays) / close it. */
void out_obj_begin(struct out *o, const char *key);
void out_obj_end(struct out *o);

/* Open an array / close it. */
void out_arr_begin(struct out *o, const char *key);
void out_arr_end(struct out *o);

/* Scalars; key is ignored inside arrays. */
void out_str(struct out *o, const char *key, const char *v);
void out_u64(struct out *o, const char *key, uint64_t v);
void out_i64(struct out *o, const char *key, int64_t v);
void out_bool(struct out *o, const char *key, bool v);
/* A fixed-point number with `decimals` digits after the point. */
void out_double(struct out *o, const char *key, double v, int decimals);
/* JSON null / human "-". */
void out_null(struct out *o, const char *key);

#endif
