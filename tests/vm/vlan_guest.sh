#!/bin/bash
# In a guest of tests/vm/check.sh: TCP inside VLAN 10 (802.1Q) and VLAN 20
# (802.1ad) through the ClientNIC with the kernel path, on a kernel with
# VLAN devices. The daemon's ports carry the tagged frames; tc hands them
# to the daemon's sockets for the two VLAN EtherTypes with their tag back
# in the frame (docs/fastpath.md). Each check prints "ok: ..." or
# "FAIL: ..."; the exit status is the count of failures.
#
#   [c: pa.10 10.99.0.1] pa --- cna [clientnic] cnb --- pb [s: pb.10 10.99.0.2]
#   [c: pa.20 10.98.0.1]                                   [s: pb.20 10.98.0.2]
# shellcheck disable=SC2123 # the guest's programs are all in /t
PATH=/t
fails=0
echo # the firmware leaves the console's last line open
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
mkdir -p /run/netns
for n in c s; do
	ip netns add "$n" || bad "netns $n"
	ip -n "$n" link set lo up
done
ip link add cna type veth peer name pa netns c
ip link add cnb type veth peer name pb netns s
ip link set cna up
ip link set cnb up
ip -n c link set pa up
ip -n s link set pb up
ip -n c link add link pa name pa.10 type vlan id 10 || bad "no VLAN device"
ip -n s link add link pb name pb.10 type vlan id 10
ip -n c link add link pa name pa.20 type vlan proto 802.1ad id 20 ||
	bad "no 802.1ad VLAN device"
ip -n s link add link pb name pb.20 type vlan proto 802.1ad id 20
ip -n c addr add 10.99.0.1/24 dev pa.10
ip -n s addr add 10.99.0.2/24 dev pb.10
ip -n c addr add 10.98.0.1/24 dev pa.20
ip -n s addr add 10.98.0.2/24 dev pb.20
for v in 10 20; do
	ip -n c link set pa.$v up
	ip -n s link set pb.$v up
done

# Two workers: a tagged flow's frames are picked by its key too.
clientnic --client-if cna --server-if cnb --control none --datapath bpf --workers 2 >/dev/null 2>/tmp/cn.err &
pid=$!
for _ in $(seq 1 100); do
	grep -q 'clientnic: ready' /tmp/cn.err && break
	sleep 0.1
done
if grep -q 'kernel path: tc programs on cna and cnb$' /tmp/cn.err; then
	ok "kernel path on the ports"
else
	bad "no kernel path"
	cat /tmp/cn.err
fi
n=0
conns() { # server address, what to call its VLAN
	local srv out k e
	ip netns exec s /t/loadgen server --listen "$1":7000 --close-after 1000 >/dev/null 2>&1 &
	srv=$!
	sleep 0.5
	out=$(ip netns exec c /t/loadgen conn --connect "$1":7000 --conns 4 --size 1000 --seconds 2 2>&1)
	echo "loadgen: $out"
	k=$(echo "$out" | sed -n 's/.*completed=\([0-9]*\).*/\1/p')
	e=$(echo "$out" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
	if [ "${k:-0}" -gt 0 ] && [ "${e:-1}" = 0 ]; then
		ok "$k connections over $2, 1000 bytes each way, no errors"
		n=$((n + k))
	else
		bad "connections over $2: $out"
	fi
	kill "$srv"
}
conns 10.99.0.2 "VLAN 10 (802.1Q)"
conns 10.98.0.2 "VLAN 20 (802.1ad)"
kill -TERM "$pid"
wait "$pid"
created=$(sed -n 's/^  flows_created *\([0-9]*\)$/\1/p' /tmp/cn.err)
spoofed=$(sed -n 's/^  synacks_spoofed *\([0-9]*\)$/\1/p' /tmp/cn.err)
if [ "${created:-0}" -ge "${n:-1}" ] && [ "${spoofed:-0}" -ge "${n:-1}" ]; then
	ok "the daemon tracked them: flows_created $created, synacks_spoofed $spoofed"
else
	bad "flows_created ${created:-?}, synacks_spoofed ${spoofed:-?} for ${n:-?} connections"
	grep -E '^  (flows_|synacks_|frames_|passed_|drop)' /tmp/cn.err
fi
exit "$fails"
