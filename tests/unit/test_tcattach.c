/* Unit tests for netmove/lib/tcattach.c: netmove's place on a port's
 * clsact hooks, with stand-in programs on dummy ports of a private network
 * namespace.  Needs root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "netns_helper.h"
#include "tcattach.h"

static const char *net_skip = "not set up";
static int prog_a = -1, prog_b = -1;

/* A tc program that lets every frame through: r0 = TC_ACT_OK; exit. */
static int prog_load(const char *name)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "GPL", insns, 2, NULL);
}

static int group_setup(void **state)
{
	(void)state;
	if (test_private_netns() < 0) {
		net_skip = "needs root and unshare(CLONE_NEWNET)";
		return 0;
	}
	prog_a = prog_load("nm_test_a");
	prog_b = prog_load("nm_test_b");
	if (prog_a < 0 || prog_b < 0) {
		net_skip = "could not load a tc program (CAP_BPF)";
		return 0;
	}
	net_skip = NULL;
	return 0;
}

/* A fresh port per test (a veth: this kernel may have no dummy driver);
 * its peer goes with it. */
static int port_setup(void **state)
{
	static int n;
	char cmd[128];
	int *ifindex = malloc(sizeof(*ifindex));

	*ifindex = 0;
	*state = ifindex;
	if (net_skip)
		return 0;
	snprintf(cmd, sizeof(cmd),
		 "ip link add tcat%d type veth peer name tcat%dp && ip link set tcat%d up", n, n, n);
	if (test_sh(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "tcat%d", n);
		*ifindex = (int)if_nametoindex(cmd);
	}
	n++;
	return *ifindex > 0 ? 0 : -1;
}

static int port_teardown(void **state)
{
	int *ifindex = *state;
	char name[IF_NAMESIZE], cmd[64];

	if (*ifindex > 0 && if_indextoname((unsigned)*ifindex, name)) {
		snprintf(cmd, sizeof(cmd), "ip link del %s", name);
		(void)test_sh(cmd);
	}
	free(ifindex);
	return 0;
}

static __u32 id_of(int fd)
{
	__u32 id = 0;

	assert_int_equal(tcattach_prog_id(fd, &id), 0);
	assert_true(id > 0);
	return id;
}

static void clsact_made_and_released(void **state)
{
	int ifindex = *(int *)*state;

	NEED_NET();
	assert_int_equal(tcattach_clsact(ifindex), 0);
	assert_int_equal(tcattach_clsact_release(ifindex), 0);
	assert_int_equal(tcattach_clsact_create(ifindex), 1);
	assert_int_equal(tcattach_clsact_create(ifindex), 0);
	assert_int_equal(tcattach_clsact(ifindex), 1);
	assert_int_equal(tcattach_filters(ifindex), 0);
	assert_int_equal(tcattach_clsact_release(ifindex), 1);
	assert_int_equal(tcattach_clsact(ifindex), 0);
}

/* A plain ingress qdisc sits where clsact would: said, not replaced. */
static void plain_ingress_is_ebusy(void **state)
{
	int ifindex = *(int *)*state;
	char name[IF_NAMESIZE], cmd[96];

	NEED_NET();
	assert_non_null(if_indextoname((unsigned)ifindex, name));
	snprintf(cmd, sizeof(cmd), "tc qdisc add dev %s ingress", name);
	assert_int_equal(test_sh(cmd), 0);
	assert_int_equal(tcattach_clsact(ifindex), -EBUSY);
	assert_int_equal(tcattach_clsact_create(ifindex), -EBUSY);
}

/* Attach, find, replace; a detach by the replaced program's owner leaves
 * the newer one, its own owner's removes it. */
static void detach_only_by_owner(void **state)
{
	int ifindex = *(int *)*state, fd;
	__u32 id = 0;

	NEED_NET();
	assert_int_equal(tcattach_query(ifindex, TCATTACH_EGRESS, &id), -ENOENT);
	assert_int_equal(tcattach_detach(ifindex, TCATTACH_EGRESS, -1), -ENOENT);
	assert_int_equal(tcattach_clsact_create(ifindex), 1);
	assert_int_equal(tcattach_query(ifindex, TCATTACH_EGRESS, &id), -ENOENT);
	assert_int_equal(tcattach_prog_fd(ifindex, TCATTACH_EGRESS), -ENOENT);

	assert_int_equal(tcattach_attach(ifindex, TCATTACH_EGRESS, prog_a, false), 0);
	assert_int_equal(tcattach_query(ifindex, TCATTACH_EGRESS, &id), 0);
	assert_int_equal(id, id_of(prog_a));
	assert_int_equal(tcattach_query(ifindex, TCATTACH_INGRESS, &id), -ENOENT);
	assert_int_equal(tcattach_attach(ifindex, TCATTACH_EGRESS, prog_b, false), -EEXIST);
	assert_int_equal(tcattach_attach(ifindex, TCATTACH_EGRESS, prog_b, true), 0);
	assert_int_equal(tcattach_query(ifindex, TCATTACH_EGRESS, &id), 0);
	assert_int_equal(id, id_of(prog_b));

	fd = tcattach_prog_fd(ifindex, TCATTACH_EGRESS);
	assert_true(fd >= 0);
	assert_int_equal(id_of(fd), id_of(prog_b));
	close(fd);

	assert_int_equal(tcattach_detach(ifindex, TCATTACH_EGRESS, prog_a), -ESTALE);
	assert_int_equal(tcattach_query(ifindex, TCATTACH_EGRESS, &id), 0);
	assert_int_equal(id, id_of(prog_b));
	assert_int_equal(tcattach_detach(ifindex, TCATTACH_EGRESS, prog_b), 0);
	assert_int_equal(tcattach_query(ifindex, TCATTACH_EGRESS, &id), -ENOENT);
	assert_int_equal(tcattach_detach(ifindex, TCATTACH_EGRESS, prog_b), -ENOENT);
	assert_int_equal(tcattach_clsact_release(ifindex), 1);
}

/* Another owner's filter keeps the qdisc when ours goes. */
static void foreign_filter_keeps_clsact(void **state)
{
	int ifindex = *(int *)*state;
	char name[IF_NAMESIZE], cmd[160];
	int both, foreign;
	__u32 id;

	NEED_NET();
	assert_non_null(if_indextoname((unsigned)ifindex, name));
	assert_int_equal(tcattach_clsact_create(ifindex), 1);
	assert_int_equal(tcattach_attach(ifindex, TCATTACH_INGRESS, prog_a, false), 0);
	assert_true(tcattach_filters(ifindex) > 0);
	/* A classic BPF filter that matches nothing, put there by tc. */
	snprintf(cmd, sizeof(cmd), "tc filter add dev %s egress pref 9 bpf bytecode '1,6 0 0 0'",
		 name);
	assert_int_equal(test_sh(cmd), 0);
	both = tcattach_filters(ifindex);
	/* The foreign filter is not at netmove's place. */
	assert_int_equal(tcattach_query(ifindex, TCATTACH_EGRESS, &id), -ENOENT);
	assert_int_equal(tcattach_detach(ifindex, TCATTACH_INGRESS, prog_a), 0);
	foreign = tcattach_filters(ifindex);
	assert_true(foreign > 0 && foreign < both);
	assert_int_equal(tcattach_clsact_release(ifindex), 0);
	assert_int_equal(tcattach_clsact(ifindex), 1);
}

static void no_such_port(void **state)
{
	__u32 id;

	(void)state;
	NEED_NET();
	assert_true(tcattach_query(0x7ffffff0, TCATTACH_EGRESS, &id) < 0);
	assert_true(tcattach_attach(0x7ffffff0, TCATTACH_EGRESS, prog_a, false) < 0);
	assert_true(tcattach_clsact_create(0x7ffffff0) <= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(clsact_made_and_released, port_setup, port_teardown),
		cmocka_unit_test_setup_teardown(plain_ingress_is_ebusy, port_setup, port_teardown),
		cmocka_unit_test_setup_teardown(detach_only_by_owner, port_setup, port_teardown),
		cmocka_unit_test_setup_teardown(foreign_filter_keeps_clsact, port_setup,
						port_teardown),
		cmocka_unit_test(no_such_port),
	};

	return cmocka_run_group_tests_name("tcattach", tests, group_setup, NULL);
}
