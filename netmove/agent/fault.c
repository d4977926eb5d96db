/* fault: test faults injected at a phase of a relocation (see fault.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "fault.h"

int fault_parse(const char *spec, struct fault *f)
{
	char buf[64], *role, *phase, *action, *end;
	int p;

	memset(f, 0, sizeof(*f));
	if (!spec || !*spec)
		return 0;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	role = strtok(buf, ":");
	phase = strtok(NULL, ":");
	action = strtok(NULL, ":");
	if (!role || !phase || !action || strtok(NULL, ":"))
		return -EINVAL;
	if (!strcmp(role, "source"))
		f->is_src = true;
	else if (strcmp(role, "destination"))
		return -EINVAL;
	for (p = 0; p < PH_ROLLBACK && strcmp(phase, reloc_phase_name((enum phase)p)); p++)
		;
	if (p == PH_ROLLBACK)
		return -EINVAL;
	f->phase = p;
	if (!strcmp(action, "kill")) {
		f->kill = true;
	} else if (!strncmp(action, "hold=", 5)) {
		unsigned long ms = strtoul(action + 5, &end, 10);

		if (end == action + 5 || *end || ms == 0 || ms > 60000)
			return -EINVAL;
		f->hold_ms = (unsigned)ms;
	} else {
		return -EINVAL;
	}
	f->set = true;
	return 0;
}

void fault_hit(const struct agent *a, const struct fault *f, bool is_src, int phase)
{
	if (!f->set || f->is_src != is_src || f->phase != phase)
		return;
	agent_log(a, "fault: %s at %s (NETMOVED_FAULT)", f->kill ? "SIGKILL" : "holding",
		  reloc_phase_name((enum phase)phase));
	if (f->kill)
		raise(SIGKILL);
	usleep(f->hold_ms * 1000u);
	agent_log(a, "fault: held %u ms", f->hold_ms);
}
