#!/bin/bash
# In a guest of tests/vm/check.sh, as PID 1's child: each daemon's
# kernel path on two veth pairs under Linux 6.1. Programs in /t; each
# check prints "ok: ..." or "FAIL: ..." and the exit status is the count
# of failures.
# shellcheck disable=SC2123 # the guest's programs are all in /t
PATH=/t
fails=0
echo # the firmware leaves the console's last line open
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() { grep -q -- "$2" "$1"; }
# start_daemon ERR ARGS...: run $dmn (behind the words of $pre, if any)
# until it says ready (10 s).
pre=
start_daemon() {
	local err=$1
	shift
	# shellcheck disable=SC2086 # the command words of $pre, split on purpose
	$pre "/t/$dmn" --client-if cna --server-if cnb --control none "$@" >/dev/null 2>"$err" &
	pid=$!
	for _ in $(seq 1 100); do
		has "$err" "$dmn: ready" && return 0
		sleep 0.1
	done
	bad "$dmn $* never ready:"
	cat "$err"
	return 1
}
stop_daemon() {
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	if [ "$rc" = 0 ]; then ok "exit 0 on SIGTERM"; else bad "exit $rc on SIGTERM"; fi
}

for p in a b; do
	ip link add "cn$p" type veth peer name "p$p" || bad "veth cn$p"
	ip link set "cn$p" up && ip link set "p$p" up
done

for dmn in clientnic servernic; do
	# The first start needs neither CAP_PERFMON (the verifier then also
	# follows the paths of mispredicted branches) nor CAP_SYS_ADMIN (no
	# predecessor to open by id).
	pre="setpriv --bounding-set -perfmon,-sys_admin --inh-caps -perfmon,-sys_admin"
	if start_daemon /tmp/1.err --datapath bpf; then
		if has /tmp/1.err 'kernel path: tc programs on cna and cnb$'; then
			ok "$dmn: --datapath bpf without CAP_PERFMON and CAP_SYS_ADMIN: tc programs attached"
		else
			bad "$dmn: no kernel path without CAP_PERFMON and CAP_SYS_ADMIN"
			cat /tmp/1.err
		fi
		stop_daemon
	fi
	pre=
	if tc filter show dev cna ingress | grep -q cn_tc_client; then
		ok "$dmn: tc program on cna after SIGTERM"
	else
		bad "$dmn: no tc program left on cna"
	fi
	# A successor finds the programs on the port (bpf_tc_query) and takes
	# their maps over; with two workers the fanout program picks them.
	if start_daemon /tmp/2.err --datapath bpf --workers 2; then
		if has /tmp/2.err 'kernel path: tc programs on cna and cnb, flows of a predecessor taken over'; then
			ok "$dmn: a successor with two workers takes the kernel path over"
		else
			bad "$dmn: no take-over"
			cat /tmp/2.err
		fi
		stop_daemon
	fi
	if start_daemon /tmp/3.err --datapath bpf --detach; then
		stop_daemon
		if tc filter show dev cna ingress | grep -q cn_tc_client; then
			bad "$dmn: --detach left the tc program on cna"
		else
			ok "$dmn: --detach took the kernel path off"
		fi
	fi
done
exit "$fails"
