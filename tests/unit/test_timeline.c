/* Unit tests for netmove/cli/timeline.c: a relocation's two journal records
 * drawn as SVG, read back with libxml2 (the lanes' phases where their times
 * put them, the VM's pause, the instants), and rendered to PNG by
 * rsvg-convert where it is installed.  No root, no network. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "timeline.h"

#define T0 1796290000000000ULL

static const char src_line[] =
	"{\"time_us\":1796290000900000,\"host\":\"hosta\",\"id\":7,\"role\":\"source\","
	"\"mac\":\"52:54:00:00:00:20\",\"from\":\"hosta\",\"to\":\"hostb\","
	"\"phases_us\":{\"prepare\":1796290000000000,\"blackout\":1796290000100000,"
	"\"switchover\":1796290000300000,\"handoff\":1796290000300500,\"verify\":1796290000500000,"
	"\"commit\":1796290000500010},\"resumed_us\":1796290000300000,\"vm_pause_ms\":200.0,"
	"\"frames\":{\"buffered\":2000,\"shipped\":2000,\"lost\":0},\"outcome\":\"committed\"}";
static const char dst_line[] =
	"{\"time_us\":1796290001000000,\"host\":\"hostb\",\"id\":7,\"role\":\"destination\","
	"\"mac\":\"52:54:00:00:00:20\",\"phases_us\":{\"prepare\":1796290000010000,"
	"\"blackout\":1796290000100000,\"switchover\":1796290000300100,\"handoff\":1796290000300200,"
	"\"verify\":1796290000600000,\"commit\":1796290000800000},\"resumed_us\":1796290000300000,"
	"\"vm_pause_ms\":200.0,\"resume_to_announce_us\":40,\"resume_to_fdb_us\":700,"
	"\"resume_to_first_replay_us\":3000,\"frames\":{\"received\":2000,\"replayed\":2000,"
	"\"lost\":0},\"outcome\":\"committed <ok>\"}";

static char *draw(struct timeline *t, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(timeline_svg(t, f), 0);
	fclose(f);
	return buf;
}

static xmlNode *by_id(xmlNode *n, const char *id)
{
	for (; n; n = n->next) {
		xmlChar *v = n->type == XML_ELEMENT_NODE ? xmlGetProp(n, BAD_CAST "id") : NULL;
		int hit = v && !strcmp((const char *)v, id);
		xmlNode *c;

		xmlFree(v);
		if (hit)
			return n;
		if ((c = by_id(n->children, id)))
			return c;
	}
	return NULL;
}

static double num(xmlNode *n, const char *attr)
{
	xmlChar *v = xmlGetProp(n, BAD_CAST attr);
	double d;

	assert_non_null(v);
	d = strtod((const char *)v, NULL);
	xmlFree(v);
	return d;
}

static void takes_only_its_ended_records(void **state)
{
	struct timeline t = { .id = 7 };

	(void)state;
	assert_int_equal(timeline_add(&t, "not json"), -EBADMSG);
	assert_int_equal(timeline_add(&t, "{\"id\":7,\"role\":\"source\",\"outcome\":\"in progress\"}"), 0);
	assert_int_equal(timeline_add(&t, "{\"id\":8,\"role\":\"source\",\"outcome\":\"committed\"}"), 0);
	assert_int_equal(timeline_add(&t, "{\"id\":7,\"role\":\"other\",\"outcome\":\"committed\"}"), 0);
	assert_int_equal(timeline_svg(&t, stdout), -ENOENT);
	assert_int_equal(timeline_add(&t, src_line), 1);
	assert_int_equal(timeline_add(&t, dst_line), 1);
	assert_true(t.side[0].present && t.side[1].present);
	assert_string_equal(t.side[1].host, "hostb");
	assert_int_equal(t.side[1].fdb_us, 700);
	assert_int_equal(t.side[0].fdb_us, -1);
}

/* Where things are drawn follows their times: 1 s across 860 px. */
static void drawn_where_their_times_say(void **state)
{
	struct timeline t = { .id = 7 };
	xmlDoc *doc;
	xmlNode *root, *n, *m;
	size_t len;
	char *svg;
	double px_per_ms = (1000.0 - 110 - 30) / 1000.0;

	(void)state;
	assert_int_equal(timeline_add(&t, src_line), 1);
	assert_int_equal(timeline_add(&t, dst_line), 1);
	svg = draw(&t, &len);
	doc = xmlReadMemory(svg, (int)len, "t.svg", NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "svg");
	/* The source's blackout: 100 ms in, lasting 200 ms. */
	n = by_id(root, "source-blackout");
	assert_non_null(n);
	assert_float_equal(num(n, "x"), 110 + 100 * px_per_ms, 0.2);
	assert_float_equal(num(n, "width"), 200 * px_per_ms, 0.2);
	/* The destination's commit lasts until its record (1000 ms). */
	n = by_id(root, "destination-commit");
	assert_non_null(n);
	assert_float_equal(num(n, "x") + num(n, "width"), 110 + 1000 * px_per_ms, 0.2);
	/* A phase not begun is not drawn. */
	assert_null(by_id(root, "source-rollback"));
	/* The VM's pause ends at the resume marker. */
	n = by_id(root, "vm-pause");
	m = by_id(root, "resume");
	assert_non_null(n);
	assert_non_null(m);
	assert_float_equal(num(n, "width"), 200 * px_per_ms, 0.2);
	assert_float_equal(num(n, "x") + num(n, "width"), num(m, "x1"), 0.2);
	n = by_id(root, "fdb");
	assert_non_null(n);
	assert_true(num(n, "x1") > num(m, "x1"));
	assert_non_null(by_id(root, "announce"));
	assert_non_null(by_id(root, "first-replay"));
	/* Text from the journal is escaped. */
	assert_non_null(strstr(svg, "committed &lt;ok&gt;"));
	xmlFreeDoc(doc);
	free(svg);
}

/* The polyline's points as x,y pairs into xs, ys (at most cap): how many. */
static int points(xmlNode *n, double *xs, double *ys, int cap)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)"points");
	const char *p = (const char *)v;
	int k = 0, used;

	assert_non_null(v);
	while (k < cap && sscanf(p, " %lf,%lf%n", &xs[k], &ys[k], &used) == 2) {
		p += used;
		k++;
	}
	xmlFree(v);
	return k;
}

/* The counts over time: a step line per series, where its times and counts
 * say, to its side's end; a series not given is not drawn; a point that
 * goes back in time or count ends a series where it is. */
static void frames_over_time(void **state)
{
	static const char src[] =
		"{\"time_us\":1796290001000000,\"host\":\"hosta\",\"id\":9,\"role\":\"source\","
		"\"phases_us\":{\"prepare\":1796290000000000},\"frames\":{\"buffered\":400},"
		"\"over_time\":{\"buffered\":[[1796290000100000,0],[1796290000300000,400]],"
		"\"shipped\":[[1796290000300000,100],[1796290000400000,400],[1796290000350000,500]]},"
		"\"outcome\":\"committed\"}";
	static const char dst[] =
		"{\"time_us\":1796290001000000,\"host\":\"hostb\",\"id\":9,\"role\":\"destination\","
		"\"phases_us\":{\"prepare\":1796290000000000},"
		"\"over_time\":{\"replayed\":[[1796290000300000,0],[1796290000500000,800]]},"
		"\"outcome\":\"committed\"}";
	struct timeline t = { .id = 9 };
	double xs[16], ys[16], px_per_ms = (1000.0 - 110 - 30) / 1000.0;
	double bottom = 215 + 90, top = 215;
	xmlDoc *doc;
	xmlNode *root, *n;
	size_t len;
	char *svg;

	(void)state;
	assert_int_equal(timeline_add(&t, src), 1);
	assert_int_equal(timeline_add(&t, dst), 1);
	assert_int_equal(t.side[0].series[TL_SHIPPED].n, 2);	/* the third went back */
	svg = draw(&t, &len);
	doc = xmlReadMemory(svg, (int)len, "t.svg", NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	/* Scaled to the largest count drawn, 800. */
	n = by_id(root, "frames-destination-replayed");
	assert_non_null(n);
	assert_int_equal(points(n, xs, ys, 16), 4);
	assert_float_equal(xs[0], 110 + 300 * px_per_ms, 0.2);
	assert_float_equal(ys[0], bottom, 0.2);
	assert_float_equal(xs[1], 110 + 500 * px_per_ms, 0.2);	/* held at 0 until then */
	assert_float_equal(ys[1], bottom, 0.2);
	assert_float_equal(ys[2], top, 0.2);
	assert_float_equal(xs[3], 110 + 1000 * px_per_ms, 0.2);	/* to the record's end */
	assert_float_equal(ys[3], top, 0.2);
	n = by_id(root, "frames-source-buffered");
	assert_non_null(n);
	assert_int_equal(points(n, xs, ys, 16), 4);
	assert_float_equal(ys[3], bottom - 400 * 90 / 800.0, 0.2);
	assert_non_null(by_id(root, "frames-source-shipped"));
	assert_null(by_id(root, "frames-source-replayed"));
	assert_null(by_id(root, "frames-destination-buffered"));
	n = by_id(root, "frames-max");
	assert_non_null(n);
	assert_non_null(strstr(svg, "0..800</text>"));
	xmlFreeDoc(doc);
	free(svg);
}

/* An SVG renderer takes it. */
static void renders_to_png(void **state)
{
	char svg_path[] = "/tmp/nm-timeline-XXXXXX", cmd[256], png[8] = { 0 };
	struct timeline t = { .id = 7 };
	FILE *f;
	int fd;

	(void)state;
	if (system("command -v rsvg-convert >/dev/null 2>&1") != 0) {
		print_message("skip: rsvg-convert not installed (librsvg2-bin)\n");
		skip();
	}
	assert_int_equal(timeline_add(&t, src_line), 1);
	fd = mkstemp(svg_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(timeline_svg(&t, f), 0);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rsvg-convert -o %s.png %s", svg_path, svg_path);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s.png", svg_path);
	f = fopen(cmd, "rb");
	assert_non_null(f);
	assert_int_equal(fread(png, 1, 8, f), 8);
	fclose(f);
	assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
	unlink(cmd);
	unlink(svg_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(takes_only_its_ended_records),
		cmocka_unit_test(drawn_where_their_times_say),
		cmocka_unit_test(frames_over_time),
		cmocka_unit_test(renders_to_png),
	};

	return cmocka_run_group_tests_name("timeline", tests, NULL, NULL);
}
