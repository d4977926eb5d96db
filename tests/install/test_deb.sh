#!/bin/bash
# The Debian package as operators install it.  Builds it from the tree
# (packaging/build-deb.sh: from a copy in /tmp, reusing the libopenvswitch
# cache of `make deps`), checks its contents, then, on a clean root,
# installs it with dpkg, starts netmoved as its systemd unit says, checks
# it is ready and answers, stops it and purges the package.
#
# The clean root: systemd is not PID 1 here, so no systemctl.  The root is
# a copy-on-write overlay of this machine's root (its libraries satisfy the
# package's Depends) in a mount namespace of the test's own, with netmove
# purged from it first if this machine has it: nothing dpkg or netmoved do
# reaches this machine's root.  netmoved runs chrooted there, in a network
# namespace nmpkg-PID with a veth uplink, under the unit's
# EnvironmentFile, ExecCondition, ExecStart, StateDirectory,
# RuntimeDirectory, CapabilityBoundingSet, NoNewPrivileges and
# LimitMEMLOCK; the unit's other sandboxing is not applied.  No OVS runs:
# netmoved starts without one (its start-up recovery says the bridge is
# unreachable); tests/net runs it against OVS.
set -u
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }
did() { echo "did: $*"; }

# ---- the clean root (runs in the test's own mount namespace) ----
if [ "${1:-}" = --in-root ]; then
	deb=$2 work=$3 ns=$4
	root=$work/root
	pid=
	stop_agent() {
		[ -n "$pid" ] || return 0
		if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = netmoved ]; then
			kill -KILL "$pid"
			wait "$pid" 2>/dev/null
		fi
		pid=
	}
	trap stop_agent EXIT
	inroot() { chroot "$root" "$@"; }
	# A unit's setting: the value of its first KEY= line.
	unit_get() { sed -n "s/^$1=//p" "$root/lib/systemd/system/netmoved.service" | head -1; }

	mount -t tmpfs -o mode=0700 nmpkg "$work/layers" || fail "tmpfs for the overlay"
	mkdir "$work/layers/upper" "$work/layers/work"
	mount -t overlay nmpkg -o "lowerdir=/,upperdir=$work/layers/upper,workdir=$work/layers/work" \
		"$root" || fail "overlay of / on $root"
	mount -t proc proc "$root/proc" && mount --rbind /sys "$root/sys" &&
		mount --rbind /dev "$root/dev" && mount -t tmpfs -o mode=0755 run "$root/run" &&
		mount -t tmpfs -o mode=1777 tmp "$root/tmp" || fail "mounting /proc, /sys, /dev, /run, /tmp in the root"
	did "a scratch root: an overlay of / on $root, private /run and /tmp, in a mount namespace of its own"

	if inroot dpkg-query -W -f='${db:Status-Abbrev}' netmove 2>/dev/null | grep -q '^.[^n]'; then
		inroot dpkg --purge netmove >/dev/null 2>&1 || fail "purging the machine's netmove from the scratch root"
		did "purged this machine's netmove package from the scratch root (not from the machine)"
	fi
	while read -r f; do
		if [ -e "$root/$f" ] || [ -L "$root/$f" ]; then
			rm -f "$root/$f"
			did "removed $f, left by a manual install, from the scratch root (not from the machine)"
		fi
	done < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./||; /[^/]$/p')

	cp "$deb" "$root/tmp/" || fail "copying the package into the root"
	inroot dpkg -i "/tmp/${deb##*/}" >"$work/dpkg-i.log" 2>&1 ||
		fail "dpkg -i: $(tail -5 "$work/dpkg-i.log")"
	[ "$(inroot dpkg-query -W -f='${db:Status-Abbrev}' netmove)" = "ii " ] || fail "netmove not installed after dpkg -i"
	did "dpkg -i ${deb##*/} in the scratch root"
	inroot dpkg-query -W -f='${Conffiles}\n' netmove | grep -q '^ /etc/default/netmove ' ||
		fail "/etc/default/netmove is not a conffile"
	[ -L "$root/etc/systemd/system/multi-user.target.wants/netmoved.service" ] ||
		fail "the package did not enable netmoved.service (multi-user.target.wants)"
	did "checked: /etc/default/netmove is a conffile, netmoved.service is enabled"
	inroot man -w netmoved >/dev/null 2>&1 || fail "man netmoved: no page in the root"
	out=$(inroot /etc/libvirt/hooks/qemu.d/netmove vm1 reconnect begin - </dev/null 2>&1) ||
		fail "the installed libvirt hook failed for an operation it does not handle"
	[ -z "$out" ] || fail "the installed libvirt hook printed: $out"
	if command -v systemd-analyze >/dev/null; then
		out=$(systemd-analyze verify --root="$root" --man=no netmoved.service 2>&1) ||
			fail "systemd-analyze verify: $out"
		[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
		did "systemd-analyze verify --root of the installed unit: no complaint"
	else
		did "no systemd-analyze here: the unit was not verified"
	fi

	envfile=$(unit_get EnvironmentFile)
	envfile=${envfile#-}
	cond=$(unit_get ExecCondition)
	exec_start=$(unit_get ExecStart)
	[ "$envfile" = /etc/default/netmove ] || fail "the unit's EnvironmentFile is '$envfile'"
	case $exec_start in /usr/sbin/netmoved\ *\$NETMOVED_ARGS*) ;; *) fail "ExecStart is '$exec_start'" ;; esac
	[ "$(unit_get Restart)" = on-failure ] || fail "the unit's Restart is not on-failure"
	grep -Eq '^After=.*openvswitch-switch\.service' "$root/lib/systemd/system/netmoved.service" ||
		fail "the unit is not ordered after openvswitch-switch.service"
	caps=$(unit_get CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
	[ -n "$caps" ] || fail "the unit has no CapabilityBoundingSet"
	[ "$(unit_get NoNewPrivileges)" = yes ] && nnp=--no-new-privs || nnp=
	memlock=$(unit_get LimitMEMLOCK)
	[ "$memlock" = infinity ] && memlock=unlimited
	if [ -n "$memlock" ] && ! (ulimit -l "$memlock") 2>/dev/null; then
		did "LimitMEMLOCK=$memlock not applied: this machine's hard limit is $(ulimit -Hl) and cannot be raised here"
		memlock=
	fi
	# As systemd runs the unit's commands: the environment file's
	# variables, $$ a dollar, $VAR split on white space, never globbed.
	as_unit() { # CMD, then the rest of the runner's shell
		inroot /bin/bash -c 'set -f -a; . "$1"; set +a; [ -z "$3" ] || ulimit -l "$3"; eval "exec $2"' \
			_ "$envfile" "${1//\$\$/\$}" "$memlock"
	}

	out=$(as_unit "$cond" 2>&1) && fail "the unit's ExecCondition passes with the packaged default file"
	case $out in *"not configured"*) ;; *) fail "an unconfigured netmoved says: $out" ;; esac
	did "as installed (NETMOVED_ARGS empty) the unit's ExecCondition skips netmoved: $out"

	mkdir -p "$root/etc/netmove"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$root/etc/netmove/agent.key"
	chmod 0600 "$root/etc/netmove/agent.key"
	sed -i 's|^NETMOVED_ARGS=.*|NETMOVED_ARGS="--name hosta --key-file /etc/netmove/agent.key \\\
  --listen 127.0.0.1:7870 --peer hostb=127.0.0.2:7870 \\\
  --ofctl unix:/run/openvswitch/br-int.mgmt --ovs-ctl /run/openvswitch/ovs-vswitchd.ctl \\\
  --uplink uplink --gateway 198.18.0.1"|' "$root$envfile"
	as_unit "$cond" >/dev/null 2>&1 || fail "the unit's ExecCondition fails once configured"
	did "configured $envfile: a PSK in /etc/netmove/agent.key, uplink 'uplink' of $ns, no OVS"

	for d in $(unit_get StateDirectory); do install -d -m "$(unit_get StateDirectoryMode)" "$root/var/lib/$d"; done
	for d in $(unit_get RuntimeDirectory); do install -d -m "$(unit_get RuntimeDirectoryMode)" "$root/run/$d"; done
	log=$work/netmoved.log
	nsenter --net="/run/netns/$ns" chroot "$root" /bin/bash -c \
		'set -f -a; . "$1"; set +a; [ -z "$3" ] || ulimit -l "$3"; eval "exec setpriv $4 --bounding-set -all,$5 -- $2"' \
		_ "$envfile" "${exec_start//\$\$/\$}" "$memlock" "$nnp" "$caps" >"$log" 2>&1 9>&- &
	pid=$!
	did "started netmoved as the unit would (pid $pid): $exec_start, bounding set $caps${nnp:+, no new privileges}"
	for ((i = 0; i < 200; i++)); do
		grep -q 'ready: socket' "$log" && break
		kill -0 "$pid" 2>/dev/null || { wait "$pid"; st=$?; pid=; fail "netmoved exited ($st): $(tail -5 "$log")"; }
		sleep 0.05
	done
	grep -q 'ready: socket /run/netmove/netmoved.sock, peers on 127.0.0.1:7870' "$log" ||
		fail "netmoved not ready in 10 s: $(tail -5 "$log")"
	[ "$(cat /proc/"$pid"/comm)" = netmoved ] || fail "pid $pid is not netmoved"
	[ "$(readlink /proc/"$pid"/exe)" = "$root/usr/sbin/netmoved" ] ||
		fail "pid $pid runs $(readlink /proc/"$pid"/exe), not the package's netmoved"
	# The agent loads its buffer programs ahead, on a thread of its own.
	for ((i = 0; i < 200; i++)); do
		nprog=$(ls -l /proc/"$pid"/fd 2>/dev/null | grep -c 'anon_inode:bpf-prog')
		[ "$nprog" -gt 0 ] && break
		grep -q 'loading a spare buffer program' "$log" && break
		sleep 0.05
	done
	! grep -E 'loading (a spare buffer program|buffer programs ahead)|watching for new taps' "$log" ||
		fail "netmoved could not load its eBPF programs or watch taps with the unit's capabilities"
	[ "$nprog" -gt 0 ] || fail "netmoved holds no eBPF program 10 s after it started"
	[ -S "$root/run/netmove/netmoved.sock" ] || fail "no socket /run/netmove/netmoved.sock"
	out=$(inroot netmove status 2>&1) || fail "the package's netmove status against it: $out"
	did "netmoved ready: $(grep -m1 'ready: socket' "$log"); it holds $nprog eBPF program(s) loaded ahead; 'netmove status' answered"

	sed 's/^/  netmoved: /' "$log"
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && fail "netmoved still running 5 s after SIGTERM"
	wait "$pid"
	st=$?
	pid=
	[ "$st" -eq 0 ] || fail "netmoved exited $st after SIGTERM: $(tail -3 "$log")"
	grep -q 'stopped$' "$log" || fail "netmoved did not log 'stopped': $(tail -3 "$log")"
	did "SIGTERM: netmoved stopped, exit 0: $(tail -1 "$log")"

	inroot dpkg --purge netmove >"$work/dpkg-purge.log" 2>&1 || fail "dpkg --purge: $(tail -5 "$work/dpkg-purge.log")"
	inroot dpkg-query -W -f='${db:Status-Abbrev}' netmove 2>/dev/null | grep -q '^.[^n]' &&
		fail "netmove still known to dpkg after the purge"
	for f in /usr/sbin/netmoved /etc/default/netmove /lib/systemd/system/netmoved.service \
		/etc/libvirt/hooks/qemu.d/netmove /etc/systemd/system/multi-user.target.wants/netmoved.service; do
		[ -e "$root$f" ] || [ -L "$root$f" ] && fail "$f still there after the purge"
	done
	did "dpkg --purge netmove: programs, unit, default file, hook and enable link gone"
	exit 0
fi

# ---- build, contents, and the machine left as it was ----
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg in a scratch root, mount and network namespaces)"
for t in dpkg-buildpackage dh fakeroot unshare nsenter setpriv ip flock; do
	command -v "$t" >/dev/null || skip "$t not found: run 'make deps'"
done
ovs=$(mk/deps.sh --ovs-dir 2>/dev/null) && [ -f "$ovs/.built" ] ||
	skip "no libopenvswitch cache: run 'make deps'"

work=$(mktemp -d /tmp/nmpkg-deb.XXXXXX)
ns=nmpkg-$$
status_before=$(dpkg-query -W -f='${db:Status-Abbrev}' netmove 2>/dev/null)
cleanup() {
	[ -e "/run/netns/$ns" ] && ip netns del "$ns"
	rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s)
deb=$(packaging/build-deb.sh "$work/out" 2>"$work/build-deb.err") ||
	fail "packaging/build-deb.sh: $(tail -20 "$work/build-deb.err")"
t1=$(date +%s)
did "built $(basename "$deb") from a copy of the tree ($((t1 - t0)) s; dpkg-buildpackage -b)"
for f in ../netmove_0.1_amd64.deb debian/netmove debian/.debhelper debian/files debian/debhelper-build-stamp; do
	[ -e "$f" ] && fail "the package build left $f in or beside the work tree"
done

contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }') || fail "dpkg-deb -c"
has() { grep -qx "./$1" <<<"$contents" || fail "the package lacks /$1"; }
for p in netmove netmoved nm-ovs nm-migrate nm-qemu nm-libvirt nm-libvirt-hook; do has "usr/sbin/$p"; done
has usr/bin/nm-vmstub
for m in docs/*.[1-8]; do has "usr/share/man/man${m##*.}/${m##*/}.gz"; done
has lib/systemd/system/netmoved.service
has etc/default/netmove
has etc/libvirt/hooks/qemu.d/netmove
dpkg-deb -c "$deb" | grep -q ' ./etc/libvirt/hooks/qemu.d/netmove -> /usr/sbin/nm-libvirt-hook$' ||
	fail "the libvirt hook is not a link to /usr/sbin/nm-libvirt-hook"
dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "Depends has no shared libraries: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -f "$deb" Recommends | grep -q 'openvswitch-switch' || fail "openvswitch-switch not recommended"
did "checked the contents (dpkg-deb -c): 8 programs, $(ls docs/*.[1-8] | wc -l) man pages, unit, default file, hook; Depends: $(dpkg-deb -f "$deb" Depends)"

exec 9>/tmp/netmove-nettest.lock
flock -w 600 9 || fail "waited 10 min for /tmp/netmove-nettest.lock (network tests running?)"
t1l=$(date +%s)
ip netns add "$ns" || fail "ip netns add $ns"
ip -n "$ns" link set lo up && ip -n "$ns" link add uplink type veth peer name uplink-peer &&
	ip -n "$ns" link set uplink up || fail "the uplink in $ns"
did "network namespace $ns with a veth 'uplink' (its peer in $ns too)"
mkdir "$work/root" "$work/layers"
unshare --mount --propagation private bash "$0" --in-root "$deb" "$work" "$ns" 9>&- || exit 1
t2=$(date +%s)

ip netns del "$ns" || fail "ip netns del $ns"
[ -e "/run/netns/$ns" ] && fail "/run/netns/$ns still there"
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' netmove 2>/dev/null)" = "$status_before" ] ||
	fail "this machine's netmove package changed state"
did "this machine: netmove package state unchanged ('${status_before:-not known}'), $ns removed"
echo "measured: package build $((t1 - t0)) s, waiting for the namespace lock $((t1l - t1)) s, install/start/stop/purge $((t2 - t1l)) s"
echo "PASS"
