/* series: a count over time in bounded memory (see series.h). */
#include <string.h>

#include "series.h"

/* Keep every other point and the newest: the spacing kept doubles. */
static void thin(struct series *s)
{
	uint32_t i, m = 0;
	struct series_point last = s->p[s->n - 1];

	for (i = 0; i < s->n; i += 2)
		s->p[m++] = s->p[i];
	if ((s->n - 1) % 2)
		s->p[m++] = last;
	s->n = m;
	s->step_us = (s->step_us ? s->step_us : SERIES_STEP_US) * 2;
}

void series_add(struct series *s, uint64_t t_us, uint64_t v)
{
	uint64_t step;

	if (s->n && v == s->p[s->n - 1].v)
		return;
	step = s->step_us ? s->step_us : SERIES_STEP_US;
	/* The last point stands for everything since the one before it,
	 * until it is step_us older than that one. */
	if (s->n >= 2 && t_us < s->p[s->n - 2].t_us + step) {
		s->p[s->n - 1] = (struct series_point){ t_us, v };
		return;
	}
	if (s->n == SERIES_POINTS) {
		thin(s);
		series_add(s, t_us, v);
		return;
	}
	s->p[s->n++] = (struct series_point){ t_us, v };
}

void series_render(const struct series *s, const char *key, struct out *o)
{
	uint32_t i;

	if (!s->n)
		return;
	out_arr_begin(o, key);
	for (i = 0; i < s->n; i++) {
		out_arr_begin(o, NULL);
		out_u64(o, NULL, s->p[i].t_us);
		out_u64(o, NULL, s->p[i].v);
		out_arr_end(o);
	}
	out_arr_end(o);
}
