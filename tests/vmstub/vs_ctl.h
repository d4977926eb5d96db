/* nm-vmstub: the control socket (unix stream, one line per command and reply). */
#ifndef VS_CTL_H
#define VS_CTL_H

#include <stddef.h>

/* Longest command or reply line, newline included. */
#define VS_CTL_LINE_MAX 4096

/* Listen on a unix stream socket at path, mode 0600, non-blocking; a stale socket file
 * is replaced, a live one gives -EADDRINUSE.  Returns the fd or -errno. */
int vs_ctl_listen(const char *path);

/* Client: send line (a newline is added) and read one reply line into reply (newline
 * stripped), waiting at most timeout_ms overall.  Returns 0 or -errno. */
int vs_ctl_request(const char *path, const char *line, char *reply, size_t len,
		   int timeout_ms);

#endif
