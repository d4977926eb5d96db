#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "netmove/out.h"

static char *render(bool json)
{
	struct out o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	out_init(&o, f, json);
	out_str(&o, "name", "a\"b\\c\n");
	out_u64(&o, "n", 42);
	out_bool(&o, "ok", true);
	out_arr_begin(&o, "list");
	out_obj_begin(&o, NULL);
	out_i64(&o, "x", -1);
	out_obj_end(&o);
	out_obj_begin(&o, NULL);
	out_null(&o, "y");
	out_obj_end(&o);
	out_arr_end(&o);
	out_double(&o, "ms", 1.23456, 2);
	out_finish(&o);
	fclose(f);
	return buf;
}

static void json_document(void **state)
{
	char *s = render(true);

	(void)state;
	assert_string_equal(s, "{\"name\":\"a\\\"b\\\\c\\n\",\"n\":42,\"ok\":true,"
			       "\"list\":[{\"x\":-1},{\"y\":null}],\"ms\":1.23}\n");
	free(s);
}

static void human_document(void **state)
{
	char *s = render(false);

	(void)state;
	assert_string_equal(s, "name: a\"b\\c\n\nn: 42\nok: yes\nlist: \n  - \n    x: -1\n"
			       "  - \n    y: -\nms: 1.23\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_document),
		cmocka_unit_test(human_document),
	};

	return cmocka_run_group_tests_name("out", tests, NULL, NULL);
}
