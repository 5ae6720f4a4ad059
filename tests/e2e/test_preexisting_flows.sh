#!/usr/bin/env bash
# Flows that existed before the box started: two connections opened through
# a plain bridge keep echoing after the bridge is removed and the daemon
# takes over mid-stream. The box must pass them untouched (untracked), with
# every byte exact.
. "$(dirname "$0")/lib.sh"
topo_setup
[ "$TOPO_BOX" = clientnic ] || skip "needs the box: it takes over from a bridge"

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
box_stop
mv "$TOPO_DIR/clientnic.err" "$TOPO_DIR/clientnic.err.first"
mv "$TOPO_DIR/clientnic.log" "$TOPO_DIR/clientnic.log.first"
N ip link add br0 type bridge forward_delay 0 stp_state 0
N sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
N ip link set eth0 master br0
N ip link set eth1 master br0
N ip link set br0 up

spawn C "$TOPO_DIR/client.out" $TOOL echo-clients $S_IP4 7000 --count 2 \
	--size $((1 << 20)) --pace-ms 20 --seed $$ --timeout 30
client=$SPAWNED_PID
established() { [ "$(C ss -tnH state established '( dport = :7000 )' | wc -l)" -ge 2 ]; }
wait_until 5 established || fail "connections through the bridge did not open"
N ip link del br0
_box_start
log "daemon took over two open connections"
wait "$client" || { cat "$TOPO_DIR/client.out"; fail "pre-existing flows broke"; }
log "$(tail -n 1 "$TOPO_DIR/client.out")"
assert_eq "pre-existing connections echoed byte-exact" 2 \
	"$(sed -n 's/^ok=\([0-9]*\).*/\1/p' "$TOPO_DIR/client.out")"

box_stop
assert_counter passed_untracked '>' 0
assert_counter synacks_spoofed '==' 0
assert_counter frames_rewritten '==' 0
