/* The agent's counters and their Prometheus text (metrics.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

const uint64_t metrics_bucket_us[METRICS_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

static const char *const outcome_names[METRICS_OUTCOMES] = {
	[METRICS_COMMITTED] = "committed",
	[METRICS_COMMITTED_ERRORS] = "committed with errors",
	[METRICS_COMMITTED_LOSS] = "committed with loss",
	[METRICS_ROLLED_BACK] = "rolled back",
	[METRICS_FAILED] = "failed",
	[METRICS_INTERRUPTED] = "interrupted",
	[METRICS_CANCELLED] = "cancelled",
	[METRICS_OTHER] = "other",
};

static const char *const role_names[METRICS_ROLES] = { "source", "destination" };

enum metrics_outcome metrics_outcome(const char *outcome)
{
	int o;

	for (o = 0; o < METRICS_OTHER; o++)
		if (!strcmp(outcome, outcome_names[o]))
			return (enum metrics_outcome)o;
	return METRICS_OTHER;
}

const char *metrics_outcome_name(enum metrics_outcome o)
{
	return o < METRICS_OUTCOMES ? outcome_names[o] : "?";
}

void metrics_count(struct metrics *m, enum metrics_role role, const char *outcome)
{
	m->relocations[role][metrics_outcome(outcome)]++;
}

void metrics_observe(struct metrics_hist *h, uint64_t us)
{
	int i;

	for (i = 0; i < METRICS_BUCKETS; i++)
		if (us <= metrics_bucket_us[i]) {
			h->bucket[i]++;
			break;
		}
	h->count++;
	h->sum_us += us;
}

void metrics_reloc_end(struct metrics *m, const struct metrics_reloc *r)
{
	enum metrics_role role = r->is_src ? METRICS_SRC : METRICS_DST;
	uint64_t end;
	int p, q;

	metrics_count(m, role, r->outcome);
	m->frames_buffered += r->buffered;
	m->frames_replayed += r->replayed;
	m->frames_lost += r->lost;
	for (p = 0; p < METRICS_PHASES; p++) {
		if (!r->t_us[p])
			continue;
		end = r->end_us;
		for (q = p + 1; q < METRICS_PHASES; q++)
			if (r->t_us[q]) {
				end = r->t_us[q];
				break;
			}
		if (end >= r->t_us[p])
			metrics_observe(&m->phase[role][p], end - r->t_us[p]);
	}
}

/* µs as seconds, exactly: no float rounding between the counter and what
 * a test reads ("0.0025", "30", "1.000001"). */
static void put_seconds(FILE *f, uint64_t us)
{
	char frac[8];
	int n;

	fprintf(f, "%" PRIu64, us / 1000000);
	if (!(us % 1000000))
		return;
	n = snprintf(frac, sizeof(frac), "%06" PRIu64, us % 1000000);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = 0;
	fprintf(f, ".%s", frac);
}

/* A label value: backslash, double quote and line feed escaped. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric of one unlabelled sample. */
static void scalar(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	head(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void hist(FILE *f, const char *name, const char *role, const char *phase,
		 const struct metrics_hist *h)
{
	uint64_t cum = 0;
	int i;

	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->bucket[i];
		fprintf(f, "%s_bucket{role=\"%s\",phase=\"", name, role);
		put_label(f, phase);
		fputs("\",le=\"", f);
		put_seconds(f, metrics_bucket_us[i]);
		fprintf(f, "\"} %" PRIu64 "\n", cum);
	}
	fprintf(f, "%s_bucket{role=\"%s\",phase=\"", name, role);
	put_label(f, phase);
	fprintf(f, "\",le=\"+Inf\"} %" PRIu64 "\n", h->count);
	fprintf(f, "%s_sum{role=\"%s\",phase=\"", name, role);
	put_label(f, phase);
	fputs("\"} ", f);
	put_seconds(f, h->sum_us);
	fprintf(f, "\n%s_count{role=\"%s\",phase=\"", name, role);
	put_label(f, phase);
	fprintf(f, "\"} %" PRIu64 "\n", h->count);
}

int metrics_format(const struct metrics_snap *s, char **buf, size_t *len)
{
	const struct metrics *m = &s->m;
	FILE *f;
	int r, o, p, err;

	*buf = NULL;
	*len = 0;
	f = open_memstream(buf, len);
	if (!f)
		return -ENOMEM;
	head(f, "netmove_agent_info", "gauge", "This agent; always 1, its host name as a label.");
	fputs("netmove_agent_info{host=\"", f);
	put_label(f, s->host ? s->host : "");
	fputs("\"} 1\n", f);
	head(f, "netmove_agent_start_time_seconds", "gauge",
	     "When this agent started, seconds since the Unix epoch.");
	fputs("netmove_agent_start_time_seconds ", f);
	put_seconds(f, s->start_us);
	fputc('\n', f);
	head(f, "netmove_relocations_total", "counter",
	     "Relocations ended on this agent, by role and outcome (the journal's).");
	for (r = 0; r < METRICS_ROLES; r++)
		for (o = 0; o < METRICS_OUTCOMES; o++)
			fprintf(f, "netmove_relocations_total{role=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
				role_names[r], outcome_names[o], m->relocations[r][o]);
	head(f, "netmove_relocations_in_flight", "gauge",
	     "Relocations under way on this agent (outcome not known yet), by role.");
	for (r = 0; r < METRICS_ROLES; r++)
		fprintf(f, "netmove_relocations_in_flight{role=\"%s\"} %" PRIu64 "\n", role_names[r],
			s->in_flight[r]);
	scalar(f, "netmove_relocations_queued", "gauge",
	       "Source relocations waiting for their turn (netmoved --max-per-peer).", s->queued);
	scalar(f, "netmove_relocations_scheduled", "gauge",
	       "Relocations scheduled for later (netmove relocate --at).", s->scheduled);
	scalar(f, "netmove_frames_buffered_total", "counter",
	       "Frames buffered on this host by ended relocations (journal frames.buffered).",
	       m->frames_buffered);
	scalar(f, "netmove_frames_replayed_total", "counter",
	       "Frames replayed into VMs on this host by ended relocations (journal frames.replayed).",
	       m->frames_replayed);
	scalar(f, "netmove_frames_lost_total", "counter",
	       "Frames lost on this host by ended relocations (journal frames.lost).",
	       m->frames_lost);
	head(f, "netmove_phase_duration_seconds", "histogram",
	     "Time from a phase's begin to the next phase's, or to the outcome, by role.");
	for (r = 0; r < METRICS_ROLES; r++)
		for (p = 0; p < METRICS_PHASES; p++)
			hist(f, "netmove_phase_duration_seconds", role_names[r],
			     s->phase_name[p] ? s->phase_name[p] : "?", &m->phase[r][p]);
	err = ferror(f);
	if (fclose(f) != 0 || err) {
		free(*buf);
		*buf = NULL;
		*len = 0;
		return -ENOMEM;
	}
	return 0;
}
