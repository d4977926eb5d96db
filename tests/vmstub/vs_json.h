/* nm-vmstub: one-line JSON objects for control replies. */
#ifndef VS_JSON_H
#define VS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A JSON object being written into a caller-owned buffer. */
struct vs_json {
	char *buf;	/* output, always NUL-terminated */
	size_t cap;	/* size of buf */
	size_t len;	/* bytes written so far */
	bool overflow;	/* something did not fit */
	bool first;	/* no member written yet */
};

/* Start an object: "{". */
void vs_json_init(struct vs_json *j, char *buf, size_t cap);
/* Members; a NULL string is written as null. */
void vs_json_str(struct vs_json *j, const char *key, const char *val);
void vs_json_u64(struct vs_json *j, const char *key, uint64_t val);
void vs_json_i64(struct vs_json *j, const char *key, int64_t val);
void vs_json_bool(struct vs_json *j, const char *key, bool val);
/* Close the object with "}\n"; returns its length or -ENOSPC. */
int vs_json_end(struct vs_json *j);

#endif
