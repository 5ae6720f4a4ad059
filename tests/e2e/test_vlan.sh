#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TCP inside VLAN tags through the ClientNIC, on this machine's kernel
# (no VLAN devices: BPF on the endpoints' veths, vlan_tag.bpf.c, tags what
# they send and untags what they receive). The box's ports carry tagged
# frames, which the engine translates; with the kernel path, its tc
# programs hand them to the daemon's sockets for the VLAN EtherTypes
# (docs/fastpath.md). One round with 802.1Q tags of VID 10, one with
# 802.1ad tags of VID 20: echo connections byte-exact, each spoofed, and
# their frames tagged on the wire beyond the box (tshark on wan1). A
# packet socket sends at most MTU + 4 bytes past the Ethernet header for
# an 802.1Q frame only: inside the 802.1ad tag the endpoints' MTU is 4
# bytes less (docs/fastpath.md, limits).
#
#   [client c0 +tag] -- eth0 [clientnic] eth1 -- [wan bridge] -- [bridge] -- [s0 +tag server]
. "$(dirname "$0")/lib.sh"
need_cmd tc tshark
obj=$BUILD/tests/vlan_tag.bpf.o
[ -f "$obj" ] || fail "$obj is not built (make $obj)"
count=40
topo_setup clientnic bridge bridge

trunk() { # push section: both endpoints' veths tag with it
	local ns dev
	for ns in C:c0 S:s0; do
		dev=${ns#*:}
		ns=${ns%%:*}
		$ns tc qdisc replace dev "$dev" clsact
		$ns tc filter replace dev "$dev" egress pref 1 handle 1 bpf da obj "$obj" sec "$1"
		$ns tc filter replace dev "$dev" ingress pref 1 handle 1 bpf da obj "$obj" sec tc/pop
	done
}

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
spoofed=0
for round in tc/push_q:802.1Q:vlan.id==10 tc/push_ad:802.1ad:ieee8021ad.id==20; do
	IFS=: read -r sec name tagged <<<"$round"
	trunk "$sec"
	if [ "$name" = 802.1ad ]; then
		C ip link set c0 mtu 1496
		S ip link set s0 mtu 1496
	fi
	cap_start W wan1 "$TOPO_DIR/$name.pcapng" "not icmp6"
	out=$(C $TOOL echo-clients $S_IP4 7000 --count $count --size 20000 --seed $$ --timeout 30 2>&1) ||
		fail "echo clients, $name: $out"
	log "$name: $out"
	cap_stop "$CAP_PID" "$TOPO_DIR/$name.pcapng"
	n=$(tshark -n -r "$TOPO_DIR/$name.pcapng" -Y "$tagged && tcp.port == 7000" 2>/dev/null | wc -l)
	untagged=$(tshark -n -r "$TOPO_DIR/$name.pcapng" -Y "!vlan && !ieee8021ad && tcp.port == 7000" 2>/dev/null | wc -l)
	assert_num "frames of the connections tagged $name beyond the box" "$n" '>=' $((4 * count))
	assert_eq "frames of the connections untagged beyond the box" 0 "$untagged"
	val() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$out" | tail -n 1; }
	assert_eq "connections echoed byte-exact inside $name tags" $count "$(val ok)"
	assert_eq "connection errors inside $name tags" 0 "$(val errors)"
	daemon_snapshot clientnic
	now=$(box_counter synacks_spoofed)
	assert_num "SYN-ACKs spoofed inside $name tags" $((now - spoofed)) '>=' $count
	spoofed=$now
done
box_stop
assert_counter flows_established '>=' $((2 * count))
assert_counter passed_untracked '==' 0
assert_counter client.tx_errors '==' 0
assert_counter server.tx_errors '==' 0
