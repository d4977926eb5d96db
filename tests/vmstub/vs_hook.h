/* nm-vmstub: hook commands run with /bin/sh -c. */
#ifndef VS_HOOK_H
#define VS_HOOK_H

#include <sys/types.h>

/* Start cmd in a child with the extra environment vars ("KEY=VALUE", NULL-ended),
 * default signal dispositions and an empty signal mask, in a process group of its
 * own (kill -pid reaches all of it); returns its pid or -errno. */
pid_t vs_hook_spawn(const char *cmd, char *const vars[]);

/* Describe a wait status ("exit 3", "signal 9") into buf. */
const char *vs_hook_status(int status, char *buf, size_t len);

#endif
