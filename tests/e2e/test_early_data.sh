#!/usr/bin/env bash
# Early data beyond the box's bounds: while the server's SYN-ACKs are held
# back (blackhole route, then the box's SYN retransmission), clients push
# 1 MB each into tiny early-data buffers (4 KiB and 4 frames per flow, 10000
# bytes in all). The box drops what does not fit (counted), never
# acknowledges it, and TCP retransmission delivers every byte exact.
. "$(dirname "$0")/lib.sh"
count=5
CLIENTNIC_ARGS="--syn-rto 200 --buf-flow-bytes 4096 --buf-flow-frames 4 --buf-total-bytes 10000 $CLIENTNIC_ARGS"
topo_setup

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
tcp_in() { S awk '/^Tcp:/ { if (h) print $11; h = 1 }' /proc/net/snmp; }
syns_arrived() { [ "$(tcp_in)" -ge "$1" ]; }
in0=$(tcp_in)
S ip route add blackhole $C_IP4/32
spawn C "$TOPO_DIR/client.out" $TOOL echo-clients $S_IP4 7000 --count $count \
	--size $((1 << 20)) --seed $$ --timeout 30
client=$SPAWNED_PID
wait_until 5 syns_arrived $((in0 + count)) || fail "the SYNs never reached the server"
S ip route del blackhole $C_IP4/32
wait "$client" || { cat "$TOPO_DIR/client.out"; fail "echo with early data failed"; }
out=$(tail -n 1 "$TOPO_DIR/client.out")
log "$out"
assert_eq "connections echoed byte-exact" $count "$(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$out")"

box_stop
[ "$TOPO_BOX" = clientnic ] || exit 0
log "figure: held $(box_counter frames_buffered) frames, dropped $(box_counter drop.buf_flow_full) over the flow bound, $(box_counter drop.buf_total_full) over the total bound"
assert_num "early frames dropped over a bound" \
	$(($(box_counter drop.buf_flow_full) + $(box_counter drop.buf_total_full))) '>' 0
assert_counter frames_buffered '>' 0
# Every frame held went to the server but the pure ACKs the requests
# behind them acknowledged for.
assert_counter acks_superseded '>' 0
assert_counter frames_flushed '==' "$(($(box_counter frames_buffered) - $(box_counter acks_superseded)))"
assert_counter flows_established '==' $count
