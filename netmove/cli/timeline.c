/* timeline: one relocation as SVG (see timeline.h). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <jansson.h>

#include "timeline.h"

static const char *const phases[TIMELINE_PHASES] = {
	"prepare", "blackout", "switchover", "handoff", "verify", "commit", "rollback",
};
static const char *const colours[TIMELINE_PHASES] = {
	"#9ecae1", "#fc9272", "#fdd0a2", "#a1d99b", "#bcbddc", "#74c476", "#bdbdbd",
};
static const char *const series_keys[TL_SERIES] = { "buffered", "shipped", "replayed" };
/* [side][series]: the source's red and blue, the destination's orange and green. */
static const char *const series_colours[2][TL_SERIES] = {
	{ "#de2d26", "#3182bd", "#756bb1" }, { "#fd8d3c", "#6baed6", "#31a354" },
};

#define W 1000		/* drawing width (px) */
#define LEFT 110	/* where the time axis begins */
#define RIGHT 30
#define LANE_H 34
#define CHART_Y 215	/* the frames chart: top */
#define CHART_H 90	/* and height */
#define SVG_H 410

static uint64_t u64_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static int64_t delta_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static void str_of(json_t *o, const char *key, char *buf, size_t size)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(buf, size, "%s", s ? s : "");
}

/* over_time.key: points with rising times and counts, the rest ignored. */
static void series_of(json_t *o, const char *key, struct timeline_series *s)
{
	json_t *a = json_object_get(o, key), *pt;
	size_t i;

	s->n = 0;
	json_array_foreach(a, i, pt) {
		json_t *t = json_array_get(pt, 0), *v = json_array_get(pt, 1);

		if (s->n == TIMELINE_POINTS || !json_is_integer(t) || !json_is_integer(v) ||
		    json_integer_value(t) <= 0 || json_integer_value(v) < 0)
			break;
		s->t_us[s->n] = (uint64_t)json_integer_value(t);
		s->v[s->n] = (uint64_t)json_integer_value(v);
		if (s->n && (s->t_us[s->n] < s->t_us[s->n - 1] || s->v[s->n] < s->v[s->n - 1]))
			break;
		s->n++;
	}
}

int timeline_add(struct timeline *t, const char *line)
{
	json_t *o = json_loads(line, 0, NULL), *ph, *fr;
	struct timeline_side *s;
	const char *role, *outcome;
	int i, ret = 0;

	if (!json_is_object(o)) {
		json_decref(o);
		return -EBADMSG;
	}
	role = json_string_value(json_object_get(o, "role"));
	outcome = json_string_value(json_object_get(o, "outcome"));
	if (u64_of(o, "id") != t->id || !role || !outcome || !strcmp(outcome, "in progress") ||
	    (strcmp(role, "source") && strcmp(role, "destination")))
		goto out;
	s = &t->side[strcmp(role, "source") ? 1 : 0];
	memset(s, 0, sizeof(*s));
	s->present = 1;
	str_of(o, "host", s->host, sizeof(s->host));
	str_of(o, "outcome", s->outcome, sizeof(s->outcome));
	str_of(o, "mac", t->mac, sizeof(t->mac));
	ph = json_object_get(o, "phases_us");
	for (i = 0; i < TIMELINE_PHASES; i++)
		s->phase_us[i] = u64_of(ph, phases[i]);
	s->end_us = u64_of(o, "time_us");
	s->resumed_us = u64_of(o, "resumed_us");
	s->pause_ms = json_number_value(json_object_get(o, "vm_pause_ms"));
	s->announce_us = delta_of(o, "resume_to_announce_us");
	s->fdb_us = delta_of(o, "resume_to_fdb_us");
	s->replay_us = delta_of(o, "resume_to_first_replay_us");
	fr = json_object_get(o, "frames");
	s->buffered = u64_of(fr, "buffered");
	s->shipped = u64_of(fr, "shipped");
	s->received = u64_of(fr, "received");
	s->replayed = u64_of(fr, "replayed");
	s->lost = u64_of(fr, "lost");
	for (i = 0; i < TL_SERIES; i++)
		series_of(json_object_get(o, "over_time"), series_keys[i], &s->series[i]);
	ret = 1;
out:
	json_decref(o);
	return ret;
}

/* The span drawn: the first phase's begin to the last record's end. */
static void span_of(const struct timeline *t, uint64_t *t0, uint64_t *t1)
{
	int k, i;

	*t0 = UINT64_MAX;
	*t1 = 0;
	for (k = 0; k < 2; k++) {
		const struct timeline_side *s = &t->side[k];

		if (!s->present)
			continue;
		for (i = 0; i < TIMELINE_PHASES; i++)
			if (s->phase_us[i] && s->phase_us[i] < *t0)
				*t0 = s->phase_us[i];
		if (s->end_us > *t1)
			*t1 = s->end_us;
	}
	if (*t0 == UINT64_MAX || *t1 <= *t0)
		*t1 = *t0 == UINT64_MAX ? (*t0 = 0) + 1 : *t0 + 1;
}

/* Text into the SVG, its markup characters escaped. */
static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static uint64_t next_step(uint64_t step)
{
	uint64_t d = step;

	while (d >= 10)
		d /= 10;
	return d == 2 ? step / 2 * 5 : step * 2;
}

static double x_of(uint64_t us, uint64_t t0, uint64_t t1)
{
	if (us < t0)
		us = t0;
	return LEFT + (double)(us - t0) * (W - LEFT - RIGHT) / (double)(t1 - t0);
}

static void marker(FILE *f, const char *id, const char *label, uint64_t us, uint64_t t0,
		   uint64_t t1, int y0, int y1, int row)
{
	double x = x_of(us, t0, t1);

	fprintf(f, "<line id=\"%s\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#d62728\" "
		"stroke-width=\"1.5\"><title>%s</title></line>\n", id, x, y0, x, y1, label);
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#d62728\">%s</text>\n",
		x + 3, y1 + 12 + 12 * row, label);
}

static void lane(FILE *f, const struct timeline_side *s, const char *role, int y, uint64_t t0,
		 uint64_t t1)
{
	int i, j;

	fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"13\">%s</text>\n", y + 14, role);
	fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"10\" fill=\"#555\">", y + 27);
	xml_text(f, s->host);
	fputs("</text>\n", f);
	for (i = 0; i < TIMELINE_PHASES; i++) {
		uint64_t b = s->phase_us[i], e = s->end_us;
		double x, w;

		if (!b)
			continue;
		/* A phase lasts until the next one begun after it. */
		for (j = 0; j < TIMELINE_PHASES; j++)
			if (s->phase_us[j] > b && s->phase_us[j] < e)
				e = s->phase_us[j];
		x = x_of(b, t0, t1);
		w = x_of(e > b ? e : b, t0, t1) - x;
		fprintf(f, "<rect id=\"%s-%s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
			"fill=\"%s\" stroke=\"#333\" stroke-width=\"0.5\"><title>%s %s: %.3f ms</title>"
			"</rect>\n", role, phases[i], x, y, w < 0.5 ? 0.5 : w, LANE_H - 10, colours[i],
			role, phases[i], (double)(e - b) / 1e3);
		if (w > 40)
			fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%s</text>\n", x + 2,
				y + 15, phases[i]);
	}
}

static double y_of(uint64_t v, uint64_t max)
{
	return CHART_Y + CHART_H - (double)v * CHART_H / (double)max;
}

/* The frames chart: each series a step line (a count holds until its next
 * point, then to its side's end), scaled to the largest count drawn. */
static void chart(FILE *f, const struct timeline *t, uint64_t t0, uint64_t t1)
{
	static const char *const roles[2] = { "source", "destination" };
	uint64_t max = 0;
	int k, i, j, row = 0;

	for (k = 0; k < 2; k++)
		for (i = 0; i < TL_SERIES; i++)
			for (j = 0; j < t->side[k].series[i].n; j++)
				if (t->side[k].series[i].v[j] > max)
					max = t->side[k].series[i].v[j];
	fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"13\">frames</text>\n", CHART_Y + 14);
	fprintf(f, "<text id=\"frames-max\" x=\"8\" y=\"%d\" font-size=\"10\" fill=\"#555\">0..%"
		PRIu64 "</text>\n", CHART_Y + 27, max);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
		"stroke=\"#bbb\" stroke-width=\"0.5\"/>\n", LEFT, CHART_Y, W - LEFT - RIGHT, CHART_H);
	if (!max)
		max = 1;
	for (k = 0; k < 2; k++) {
		const struct timeline_side *sd = &t->side[k];

		for (i = 0; i < TL_SERIES; i++) {
			const struct timeline_series *s = &sd->series[i];
			uint64_t last;

			if (!sd->present || !s->n)
				continue;
			fprintf(f, "<polyline id=\"frames-%s-%s\" fill=\"none\" stroke=\"%s\" "
				"stroke-width=\"1.5\" points=\"%.1f,%.1f", roles[k], series_keys[i],
				series_colours[k][i], x_of(s->t_us[0], t0, t1), y_of(s->v[0], max));
			for (j = 1; j < s->n; j++)
				fprintf(f, " %.1f,%.1f %.1f,%.1f", x_of(s->t_us[j], t0, t1),
					y_of(s->v[j - 1], max), x_of(s->t_us[j], t0, t1), y_of(s->v[j], max));
			last = sd->end_us > s->t_us[s->n - 1] ? sd->end_us : s->t_us[s->n - 1];
			fprintf(f, " %.1f,%.1f", x_of(last, t0, t1), y_of(s->v[s->n - 1], max));
			fprintf(f, "\"><title>%s %s: %" PRIu64 "</title></polyline>\n", roles[k],
				series_keys[i], s->v[s->n - 1]);
			fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"9\" fill=\"%s\">%s %s</text>\n",
				8, CHART_Y + 40 + 11 * row++, series_colours[k][i], roles[k],
				series_keys[i]);
		}
	}
}

int timeline_svg(const struct timeline *t, FILE *f)
{
	const struct timeline_side *src = &t->side[0], *dst = &t->side[1];
	const struct timeline_side *r = dst->resumed_us ? dst : src;
	uint64_t t0, t1, step, tick;
	int h = SVG_H;

	if (!src->present && !dst->present)
		return -ENOENT;
	span_of(t, &t0, &t1);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, h, W, h);
	fprintf(f, "<text id=\"title\" x=\"8\" y=\"20\" font-size=\"15\">relocation %" PRIu64
		" of ", t->id);
	xml_text(f, t->mac);
	fputs(": ", f);
	xml_text(f, src->present ? src->host : "?");
	fputs(" -&gt; ", f);
	xml_text(f, dst->present ? dst->host : "?");
	fputs("</text>\n", f);
	if (src->present)
		lane(f, src, "source", 40, t0, t1);
	if (dst->present)
		lane(f, dst, "destination", 40 + LANE_H + 6, t0, t1);
	/* The VM: stopped for its pause, up to its resume. */
	fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"13\">VM</text>\n", 40 + 2 * (LANE_H + 6) + 14);
	if (r->resumed_us && r->pause_ms > 0) {
		uint64_t stop = r->resumed_us - (uint64_t)(r->pause_ms * 1e3);
		double x = x_of(stop, t0, t1);

		fprintf(f, "<rect id=\"vm-pause\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
			"fill=\"#636363\"><title>VM paused %.3f ms</title></rect>\n", x,
			40 + 2 * (LANE_H + 6), x_of(r->resumed_us, t0, t1) - x, LANE_H - 10, r->pause_ms);
	}
	if (r->resumed_us) {
		int y0 = 36, y1 = 40 + 3 * (LANE_H + 6);

		marker(f, "resume", "resume", r->resumed_us, t0, t1, y0, y1, 0);
		if (dst->announce_us >= 0)
			marker(f, "announce", "first announce", r->resumed_us + (uint64_t)dst->announce_us,
			       t0, t1, y0, y1, 1);
		if (dst->fdb_us >= 0)
			marker(f, "fdb", "upstream FDB read back", r->resumed_us + (uint64_t)dst->fdb_us,
			       t0, t1, y0, y1, 2);
		if (dst->replay_us >= 0)
			marker(f, "first-replay", "first replayed frame",
			       r->resumed_us + (uint64_t)dst->replay_us, t0, t1, y0, y1, 3);
	}
	chart(f, t, t0, t1);
	/* The time axis, ticks at a round step: 1, 2, 5, 10, 20 ... ms. */
	for (step = 1000; (t1 - t0) / step > 10; step = next_step(step))
		;
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", LEFT,
		h - 60, W - RIGHT, h - 60);
	for (tick = 0; t0 + tick <= t1; tick += step)
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%" PRIu64 " ms</text>\n",
			x_of(t0 + tick, t0, t1), h - 46, tick / 1000);
	fprintf(f, "<text id=\"frames\" x=\"8\" y=\"%d\" font-size=\"12\">frames: source buffered %"
		PRIu64 ", shipped %" PRIu64 "; destination received %" PRIu64 ", replayed %" PRIu64
		"; lost %" PRIu64 " (journal totals)</text>\n", h - 26, src->buffered, src->shipped,
		dst->received, dst->replayed, src->lost + dst->lost);
	fprintf(f, "<text id=\"outcome\" x=\"8\" y=\"%d\" font-size=\"12\">outcome: source ",
		h - 10);
	xml_text(f, src->present ? src->outcome : "(no record)");
	fputs(", destination ", f);
	xml_text(f, dst->present ? dst->outcome : "(no record)");
	fputs("</text>\n</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}
