/* Unit tests for netmove/agent/planrank.c: netmove plan's decision, fed
 * tables of facts (every reason, the ranking, the buffer arithmetic), the
 * candidates' answer on the wire, upcall/show's text, the rendering.  No
 * root, no network. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "planrank.h"
#include "netmove/proto.h"

#define MIB (1ull << 20)

static struct plan_vm vm_at(double rate, uint64_t blackout_ms)
{
	struct plan_vm vm = {
		.mac = { { 0x52, 0x54, 0, 0, 0, 0x20 } },
		.port = "vnet-vm1",
		.rate_fps = rate,
		.mean_bytes = 106,	/* a 64-byte UDP payload */
		.window_us = 400000,
		.blackout_ms = blackout_ms,
		.answers_probe = true,
		.max_per_peer = 16,
		.ring_bytes = 16 * MIB,
		.spill_bytes = 256 * MIB,
	};

	inet_pton(AF_INET, "198.18.0.20", &vm.ip);
	return vm;
}

/* A candidate that answered and has nothing against it (every byte set:
 * the wire test compares whole structs). */
static void fill_good(struct plan_facts *f, const char *host, uint64_t ring_mib)
{
	memset(f, 0, sizeof(*f));
	f->peer = true;
	f->stage = PLAN_ST_DONE;
	f->answer_us = 3000;
	snprintf(f->host, sizeof(f->host), "%s", host);
	f->p.ring_bytes = ring_mib * MIB;
	f->p.spill_bytes = 256 * MIB;
	f->p.progs_ready = 2;
	f->p.dp_flows = 10;
	f->p.dp_limit = 200000;
	inet_pton(AF_INET, "198.18.0.1", &f->p.gateway);
	f->p.gw_answered = true;
	f->p.gw_rtt_ns = 200000;
	f->p.vm_answered = true;
	f->p.vm_rtt_ns = 300000;
	f->p.knows_asker = true;
}

static struct plan_facts good(const char *host, uint64_t ring_mib)
{
	struct plan_facts f;

	fill_good(&f, host, ring_mib);
	return f;
}

static void arithmetic(void **state)
{
	struct plan_vm vm = vm_at(2000, 1000);

	(void)state;
	/* 8 (the BPF ring's header) + 40 (struct nm_rec) + 106, rounded up to 8. */
	assert_int_equal(plan_record_bytes(106), 160);
	assert_int_equal(plan_record_bytes(105.2), 160);
	assert_int_equal(plan_record_bytes(1500), 1552);
	/* An idle VM's frames count as minimum-size ones. */
	assert_int_equal(plan_record_bytes(0), 112);
	assert_int_equal(plan_ring_frames(16 * MIB, 106), 104857);
	assert_int_equal(plan_spill_frames(1 * MIB, 106), 6990);	/* 44 + 106 each */
	assert_int_equal(plan_need_frames(&vm), 3000);
	vm.rate_fps = 0;
	assert_int_equal(plan_need_frames(&vm), 0);
	vm.rate_fps = 0.1;
	vm.blackout_ms = 1;
	assert_int_equal(plan_need_frames(&vm), 1);	/* rounded up */
}

/* Every way a candidate falls, one per row, and the accepted ranked. */
static void table(void **state)
{
	struct plan_vm vm = vm_at(2000, 10000);	/* needs 30000 frames */
	struct plan_facts f[14];
	struct plan_verdict v[14];
	int order[14], n = 0, i;
	struct {
		const char *host;
		uint32_t reasons;
	} want[14];

	(void)state;
#define ROW(fact, bits) do { f[n] = (fact); want[n].host = f[n].host; want[n].reasons = (bits); n++; } while (0)
	ROW(good("hostb", 16), 0);				/* 104857 frames: 3.5x */
	ROW(good("hostc", 32), 0);				/* 7x: ranks first */
	{
		struct plan_facts x = good("busy", 64);

		x.p.in_flight = 1;
		ROW(x, 0);					/* more load: after both */
	}
	{
		struct plan_facts x = { .peer = true, .stage = PLAN_ST_CONNECT,
					.why = "198.19.0.2:7879: Connection refused" };

		snprintf(x.host, sizeof(x.host), "down");
		ROW(x, 1u << PLAN_R_UNREACHABLE);
	}
	{
		struct plan_facts x = { .peer = true, .stage = PLAN_ST_TLS, .why = "TLS failed" };

		snprintf(x.host, sizeof(x.host), "badkey");
		ROW(x, 1u << PLAN_R_UNAUTHENTICATED);
	}
	{
		struct plan_facts x = { .peer = true, .stage = PLAN_ST_ANSWER, .why = "timed out" };

		snprintf(x.host, sizeof(x.host), "mute");
		ROW(x, 1u << PLAN_R_NO_ANSWER);
	}
	{
		struct plan_facts x = good("nogw", 16);

		x.p.gw_answered = false;
		ROW(x, 1u << PLAN_R_GATEWAY);
	}
	{
		struct plan_facts x = good("far", 16);

		x.p.vm_answered = false;
		ROW(x, 1u << PLAN_R_L2);
	}
	ROW(good("small", 2), 1u << PLAN_R_BUFFER);		/* 13107 frames */
	{
		struct plan_facts x = good("full", 16);

		x.p.dp_flows = 950;
		x.p.dp_limit = 1000;
		ROW(x, 1u << PLAN_R_FLOWS);
	}
	{
		struct plan_facts x = good("stranger", 16);

		x.peer = false;
		x.stage = PLAN_ST_NONE;
		ROW(x, 1u << PLAN_R_NOT_PEER);
	}
	{
		struct plan_facts x = { .peer = true, .self = true };

		snprintf(x.host, sizeof(x.host), "hosta");
		ROW(x, 1u << PLAN_R_SELF);
	}
	{
		struct plan_facts x = good("limit", 16);

		x.in_flight_to = 16;
		ROW(x, 1u << PLAN_R_LIMIT);
	}
	{
		struct plan_facts x = good("broken", 16);

		x.p.stopping = true;
		x.p.knows_asker = false;
		snprintf(x.p.bridge_err, sizeof(x.p.bridge_err), "bridge br-int not reachable");
		snprintf(x.p.uplink_err, sizeof(x.p.uplink_err), "uplink uplink is down");
		x.p.prog_err = -EPERM;
		ROW(x, 1u << PLAN_R_STOPPING | 1u << PLAN_R_ASKER_UNKNOWN | 1u << PLAN_R_BRIDGE |
			       1u << PLAN_R_UPLINK | 1u << PLAN_R_BUFFER_PROG);
	}
#undef ROW
	assert_int_equal(plan_rank(&vm, f, n, v, order), 3);
	for (i = 0; i < n; i++) {
		if (v[i].reasons != want[i].reasons)
			fail_msg("%s: reasons %#x, expected %#x", want[i].host, v[i].reasons,
				 want[i].reasons);
		assert_int_equal(v[i].accepted, want[i].reasons == 0);
		if (v[i].reasons & (1u << PLAN_R_UNREACHABLE))
			assert_non_null(strstr(v[i].text[PLAN_R_UNREACHABLE], "Connection refused"));
	}
	/* The accepted by rank, then the rejected as given. */
	assert_string_equal(f[order[0]].host, "hostc");
	assert_string_equal(f[order[1]].host, "hostb");
	assert_string_equal(f[order[2]].host, "busy");
	assert_int_equal(v[order[0]].rank, 1);
	assert_int_equal(v[order[2]].rank, 3);
	for (i = 3; i < n; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(v[i].rank, 0);
	}
	/* Each reason in words. */
	assert_non_null(strstr(v[8].text[PLAN_R_BUFFER], "holds 13107 frames of 106 bytes"));
	assert_non_null(strstr(v[8].text[PLAN_R_BUFFER], "needs 30000"));
	assert_non_null(strstr(v[9].text[PLAN_R_FLOWS], "950 of 1000"));
	assert_non_null(strstr(v[6].text[PLAN_R_GATEWAY], "198.18.0.1"));
	assert_non_null(strstr(v[7].text[PLAN_R_L2], "198.18.0.20"));
	assert_non_null(strstr(v[13].text[PLAN_R_BUFFER_PROG], strerror(EPERM)));
}

/* A longer blackout needs more than the ring: the same host falls, for
 * its buffer alone. */
static void blackout_turns(void **state)
{
	struct plan_facts f = good("hostb", 16);
	struct plan_vm vm = vm_at(2000, 1000);
	struct plan_verdict v;

	(void)state;
	plan_decide(&vm, &f, &v);
	assert_true(v.accepted);
	assert_int_equal(v.capacity_frames, 104857);
	vm.blackout_ms = 34952;	/* needs 104856 frames: just fits */
	plan_decide(&vm, &f, &v);
	assert_true(v.accepted);
	vm.blackout_ms = 34953;
	plan_decide(&vm, &f, &v);
	assert_false(v.accepted);
	assert_int_equal(v.reasons, 1u << PLAN_R_BUFFER);
	/* An idle VM needs nothing whatever the blackout. */
	vm.rate_fps = 0;
	vm.blackout_ms = PLAN_BLACKOUT_MAX_MS;
	plan_decide(&vm, &f, &v);
	assert_true(v.accepted);
}

/* Silence means something only from a VM that answers probes at all; a
 * probe that could not run says nothing of the gateway or the VM. */
static void probe_meaning(void **state)
{
	struct plan_vm vm = vm_at(100, 1000);
	struct plan_facts f = good("far", 16);
	struct plan_verdict v;

	(void)state;
	f.p.vm_answered = false;
	vm.answers_probe = false;
	plan_decide(&vm, &f, &v);
	assert_true(v.accepted);
	vm.answers_probe = true;
	plan_decide(&vm, &f, &v);
	assert_int_equal(v.reasons, 1u << PLAN_R_L2);
	f.p.gw_answered = false;
	snprintf(f.p.probe_err, sizeof(f.p.probe_err), "pcap_activate on uplink: down");
	plan_decide(&vm, &f, &v);
	assert_int_equal(v.reasons, 1u << PLAN_R_PROBE);
	assert_non_null(strstr(v.text[PLAN_R_PROBE], "pcap_activate"));
}

/* Buffer beyond PLAN_HEADROOM_ENOUGH times the need does not outrank a
 * quicker gateway; below it, more buffer wins over a quicker gateway; less
 * load wins over both. */
static void ranking(void **state)
{
	struct plan_vm vm = vm_at(100, 1000);	/* needs 150 frames */
	struct plan_facts f[4];
	struct plan_verdict v[4];
	int order[4];

	(void)state;
	f[0] = good("big", 64);
	f[0].p.gw_rtt_ns = 900000;
	f[1] = good("quick", 16);
	f[1].p.gw_rtt_ns = 100000;
	f[2] = good("zeta", 16);
	f[2].p.gw_rtt_ns = 100000;	/* a tie but for the name */
	f[3] = good("idle", 1);
	f[3].p.gw_rtt_ns = 999999999;
	f[0].p.in_flight = f[1].p.in_flight = f[2].p.in_flight = 1;
	assert_int_equal(plan_rank(&vm, f, 4, v, order), 4);
	assert_string_equal(f[order[0]].host, "idle");
	assert_string_equal(f[order[1]].host, "quick");
	assert_string_equal(f[order[2]].host, "zeta");
	assert_string_equal(f[order[3]].host, "big");
	/* Now the need is large: 64 MiB holds 8x, 16 MiB 2x. */
	vm = vm_at(2000, 17476);
	f[3].p.in_flight = 1;
	f[3].p.ring_bytes = 64 * MIB;
	assert_int_equal(plan_rank(&vm, f, 4, v, order), 4);
	assert_string_equal(f[order[0]].host, "big");
	assert_string_equal(f[order[1]].host, "idle");
	assert_string_equal(f[order[2]].host, "quick");
	/* Queued here for it counts as its load. */
	f[0].queued_to = 1;
	assert_int_equal(plan_rank(&vm, f, 4, v, order), 4);
	assert_string_equal(f[order[0]].host, "idle");
	assert_int_equal(v[0].load, 2);
}

static void wire_round_trip(void **state)
{
	struct plan_facts f;
	struct plan_peer_facts back;
	struct ctl_msg m;
	const struct mac pm = { { 0x02, 1, 2, 3, 4, 5 } };

	(void)state;
	fill_good(&f, "hostb", 16);
	f.p.probe_mac = pm;
	f.p.vm_answered = false;
	f.p.vm_rtt_ns = 0;
	f.p.prog_err = -ENOMEM;
	f.p.in_flight = 3;
	f.p.queued = 7;
	f.p.took_us = 1234;
	snprintf(f.p.uplink_err, sizeof(f.p.uplink_err), "uplink uplink is down");
	ctl_msg_init(&m, PROTO_PLAN_REPLY);
	assert_int_equal(plan_reply_encode(&m, &f.p), 0);
	assert_int_equal(plan_reply_decode(&m, &back), 0);
	assert_memory_equal(&back, &f.p, sizeof(back));

	/* Flows it could not read travel as their reason, not as numbers. */
	snprintf(f.p.flows_err, sizeof(f.p.flows_err), "ovs-vswitchd: no socket");
	f.p.dp_flows = f.p.dp_limit = 0;
	ctl_msg_reset(&m, PROTO_PLAN_REPLY);
	assert_int_equal(plan_reply_encode(&m, &f.p), 0);
	assert_int_equal(plan_reply_decode(&m, &back), 0);
	assert_string_equal(back.flows_err, "ovs-vswitchd: no socket");
	assert_int_equal(back.dp_limit, 0);

	/* No ring size: not an answer.  A gateway of 3 bytes: malformed. */
	ctl_msg_reset(&m, PROTO_PLAN_REPLY);
	assert_int_equal(plan_reply_decode(&m, &back), -EBADMSG);
	ctl_put_u64(&m, A_PLAN_RING, 16 * MIB);
	assert_int_equal(plan_reply_decode(&m, &back), 0);
	ctl_put(&m, A_GATEWAY, "abc", 3);
	assert_int_equal(plan_reply_decode(&m, &back), -EBADMSG);
	ctl_msg_reset(&m, PROTO_PLAN_REPLY);
	ctl_put_u64(&m, A_PLAN_RING, 16 * MIB);
	ctl_put_u64(&m, A_PLAN_PROG_ERR, 100000);
	assert_int_equal(plan_reply_decode(&m, &back), -EBADMSG);
	ctl_msg_free(&m);
}

static void upcall_text(void **state)
{
	static const char ovs31[] =
		"netdev@ovs-netdev:\n"
		"  flows         : (current 12) (avg 9) (max 40) (limit 200000)\n"
		"  dump duration : 1ms\n"
		"  ufid enabled : true\n"
		"\n"
		"  0: (keys 12)\n";
	uint64_t cur = 1, lim = 1;

	(void)state;
	assert_int_equal(plan_parse_upcall(ovs31, &cur, &lim), 0);
	assert_int_equal(cur, 12);
	assert_int_equal(lim, 200000);
	assert_int_equal(plan_parse_upcall("system@ovs-system:\n  flows : (current 0) (avg 0) "
					   "(max 0) (limit 50)", &cur, &lim), 0);
	assert_int_equal(cur, 0);
	assert_int_equal(lim, 50);
	assert_int_equal(plan_parse_upcall("", &cur, &lim), -EINVAL);
	assert_int_equal(plan_parse_upcall("flows: many\n", &cur, &lim), -EINVAL);
	assert_int_equal(plan_parse_upcall("  flows : (current x) (limit 5)\n", &cur, &lim),
			 -EINVAL);
	assert_int_equal(plan_parse_upcall("  flowsfoo : (current 1) (limit 5)\n", &cur, &lim),
			 -EINVAL);
}

/* The JSON names every candidate once, its verdict and reasons by key. */
static void render_json(void **state)
{
	struct plan_vm vm = vm_at(2000, 1000);
	struct plan_facts f[2] = { good("hostb", 16) };
	struct plan_verdict v[2];
	int order[2];
	char *buf = NULL;
	size_t len = 0;
	struct out o;
	FILE *out;

	(void)state;
	f[1] = (struct plan_facts){ .peer = true, .stage = PLAN_ST_CONNECT,
				    .why = "198.19.0.2:7879: Connection refused" };
	snprintf(f[1].host, sizeof(f[1].host), "down");
	assert_int_equal(plan_rank(&vm, f, 2, v, order), 1);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	out_init(&o, out, true);
	plan_render("hosta", &vm, f, v, order, 2, 512300, &o);
	out_finish(&o);
	fclose(out);
	assert_non_null(strstr(buf, "\"host\":\"hosta\""));
	assert_non_null(strstr(buf, "\"rate_fps\":2000.0"));
	assert_non_null(strstr(buf, "\"need_frames\":3000"));
	assert_non_null(strstr(buf, "\"accepted\":1"));
	assert_non_null(strstr(buf, "{\"host\":\"hostb\",\"verdict\":\"accepted\",\"rank\":1,"
				    "\"reasons\":{}"));
	assert_non_null(strstr(buf, "{\"host\":\"down\",\"verdict\":\"rejected\",\"rank\":null,"
				    "\"reasons\":{\"unreachable\":\"its netmoved is unreachable: "
				    "198.19.0.2:7879: Connection refused\"}"));
	assert_non_null(strstr(buf, "\"facts\":null"));
	assert_non_null(strstr(buf, "\"capacity_frames\":104857"));
	assert_non_null(strstr(buf, "\"took_ms\":512.3}"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arithmetic),
		cmocka_unit_test(table),
		cmocka_unit_test(blackout_turns),
		cmocka_unit_test(probe_meaning),
		cmocka_unit_test(ranking),
		cmocka_unit_test(wire_round_trip),
		cmocka_unit_test(upcall_text),
		cmocka_unit_test(render_json),
	};

	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
