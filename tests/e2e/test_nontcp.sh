#!/usr/bin/env bash
# Everything that is not a tracked TCP flow crosses the box unchanged: ARP
# and neighbour discovery (static entries removed), ping over IPv4 and IPv6,
# UDP both ways; and TCP over IPv6 and inside a VLAN tag is byte-exact.
. "$(dirname "$0")/lib.sh"
topo_setup

topo_dynamic_neigh
assert_eq "client neighbour entries after the flush" "" "$(C ip neigh show dev c0 | grep -v FAILED || true)"
for host in $S_IP4 $S_IP6; do
	out=$(C ping -c 5 -i 0.05 -W 1 -n -q "$host" 2>&1) || fail "ping $host: $out"
	rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
	assert_eq "ping $host replies" 5 "$rx"
	log "figure: ping $host $(grep -o 'rtt.*' <<<"$out")"
done
mac4=$(C ip neigh show $S_IP4 dev c0 | awk '{ print $3 }')
mac6=$(C ip neigh show $S_IP6 dev c0 | awk '{ print $3 }')
assert_eq "server MAC learned by ARP across the box" $S_MAC "$mac4"
assert_eq "server MAC learned by ND across the box" $S_MAC "$mac6"

spawn S "$TOPO_DIR/udp.log" $TOOL udp-echo-server 5353
wait_listen S 5353 udp
for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL udp-exchange "$host" 5353 --count 50 --size 1200) || fail "UDP to $host: $out"
	assert_eq "UDP datagrams echoed by $host" "ok=50 count=50" "$out"
done

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
out=$(C $TOOL echo-clients $S_IP6 7000 --count 4 --size $((1 << 20)) --seed $$ 2>&1) ||
	fail "TCP over IPv6: $out"
log "$out"
assert_eq "IPv6 TCP connections echoed byte-exact" 4 "$(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$out")"

# 802.1Q: the tagged frames cross the box, TCP inside them still works
# (where the kernel has VLAN devices; this one may not).
if C ip link add link c0 name c0.10 type vlan id 10 2>/dev/null; then
	S ip link add link s0 name s0.10 type vlan id 10
	C ip addr add 10.78.0.1/24 dev c0.10
	S ip addr add 10.78.0.2/24 dev s0.10
	C ip link set c0.10 up
	S ip link set s0.10 up
	wait_until 10 C ping -c 1 -W 1 -n -q 10.78.0.2 || fail "no path over VLAN 10"
	out=$(C $TOOL echo-clients 10.78.0.2 7000 --count 4 --size $((1 << 20)) --seed $$ 2>&1) ||
		fail "TCP over VLAN 10: $out"
	assert_eq "VLAN 10 TCP connections echoed byte-exact" 4 \
		"$(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$out")"
else
	log "VLAN part not run: this kernel has no 802.1Q devices"
fi

box_stop
# Through the daemon, or (the kernel path) passed by the tc programs.
daemon_not_tcp=$(box_counter passed_not_tcp)
kernel_passed=$(box_counter kernel.client.passed)
not_tcp=$((${daemon_not_tcp:-0} + ${kernel_passed:-0}))
assert_num "frames passed unchanged (not TCP), daemon and kernel" "$not_tcp" '>' 0
assert_counter flows_established '>=' 4
