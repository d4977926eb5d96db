/* options: netmoved's command line (netmoved internals). */
#ifndef NETMOVE_AGENT_OPTIONS_H
#define NETMOVE_AGENT_OPTIONS_H

struct agent_cfg;

/* Fill cfg from the command line (defaults first); --help prints the usage
 * and exits 0.  Returns 0, or a negative errno after a message on stderr
 * (the caller exits 2). */
int options_parse(struct agent_cfg *cfg, int argc, char **argv);

#endif
