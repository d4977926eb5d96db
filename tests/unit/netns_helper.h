/* Helpers for unit tests that need a private network namespace. */
#ifndef NETMOVE_TEST_NETNS_HELPER_H
#define NETMOVE_TEST_NETNS_HELPER_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Move this test process into a fresh network namespace.  Returns 0, or -1
 * after printing why (not root, no CAP_SYS_ADMIN). */
static inline int test_private_netns(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skip: needs root for a private network namespace\n");
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		perror("skip: unshare(CLONE_NEWNET)");
		return -1;
	}
	if (system("ip link set lo up") != 0)
		return -1;
	return 0;
}

/* In a cmocka test (include cmocka.h first): skip, saying why, when why
 * (what the test's set-up is missing) is set. */
#define NEED_READY(why)                                   \
	do {                                              \
		if (why) {                                \
			print_message("skip: %s\n", (why)); \
			skip();                           \
		}                                         \
	} while (0)

/* The same for the file's network set-up (net_skip). */
#define NEED_NET() NEED_READY(net_skip)

/* Run a shell command; returns its exit status (0 on success). */
static inline int test_sh(const char *cmd)
{
	int st = system(cmd);

	if (st != 0)
		fprintf(stderr, "command failed (%d): %s\n", st, cmd);
	return st;
}

#endif
