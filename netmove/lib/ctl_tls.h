/* ctl_tls: what ctl.c needs of the TLS layer (ctl_tls.c); libnetmove only. */
#ifndef NETMOVE_LIB_CTL_TLS_H
#define NETMOVE_LIB_CTL_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "netmove/ctl.h"

/* Read exactly len bytes of application data by the deadline
 * (timeutil_deadline_ms).  Returns 0, -ETIMEDOUT, -ECONNRESET, -EIO or a
 * negative errno from the socket. */
int ctl_tls_read(struct ctl_conn *c, void *buf, size_t len, uint64_t deadline);
/* Write len bytes by the deadline; the same returns. */
int ctl_tls_write(struct ctl_conn *c, const void *buf, size_t len, uint64_t deadline);
/* Free c's TLS session (none: nothing). */
void ctl_tls_close(struct ctl_conn *c);

#endif
