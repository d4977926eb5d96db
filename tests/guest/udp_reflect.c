/* udp-reflect: the QEMU test guest's UDP side.  Every datagram that reaches
 * PORT is sent on, unchanged and in arrival order, to TO_IP:TO_PORT (the
 * router's `netmove probe recv`), so the router counts what reached the guest:
 * lost, duplicated, reordered.  At each run's first END marker (a netmove
 * probe datagram: magic 4, version 1, flags 1 (0x01 END), reserved 2, run 4) it prints "REFLECT-RX <run> <n>" on stdout
 * (the console): how many datagrams of that run reached the guest, which
 * tells a loss on the way in from one on the way back.  Static, for the
 * guest's initramfs.
 *   udp-reflect PORT TO_IP TO_PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in me = { .sin_family = AF_INET }, to = { .sin_family = AF_INET };
	char buf[65536];
	int fd, rcv = 4 << 20;
	unsigned long long count = 0;
	unsigned int run = 0, ended = 0;

	if (argc != 4 || inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
		fprintf(stderr, "usage: udp-reflect PORT TO_IP TO_PORT\n");
		return 2;
	}
	me.sin_port = htons((uint16_t)atoi(argv[1]));
	to.sin_port = htons((uint16_t)atoi(argv[3]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("udp-reflect");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("udp-reflect: recv");
			return 1;
		}
		if (n >= 12) {
			const unsigned char *u = (const unsigned char *)buf;
			unsigned int r = (unsigned)u[8] << 24 | (unsigned)u[9] << 16 |
					 (unsigned)u[10] << 8 | u[11];

			if (r != run) {
				run = r;
				count = 0;
			}
			if (!(u[5] & 1))
				count++;
			else if (ended != run) {
				ended = run;
				printf("REFLECT-RX %u %llu\n", run, count);
				fflush(stdout);
			}
		}
		/* The guest's own send queue never drops silently: retry on ENOBUFS. */
		while (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
		       (errno == ENOBUFS || errno == EINTR || errno == EAGAIN))
			;
	}
}
