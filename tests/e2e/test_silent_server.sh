#!/usr/bin/env bash
# A server that never answers (its SYN-ACKs vanish in a blackhole route): the
# client, which believes it is connected, is reset after --syn-timeout, not
# left hanging; meanwhile the box retried the SYN.
. "$(dirname "$0")/lib.sh"
timeout_s=2
CLIENTNIC_ARGS="--syn-timeout $timeout_s --syn-rto 250 $CLIENTNIC_ARGS"
topo_setup
[ "$TOPO_BOX" = clientnic ] || skip "needs the box: a bridge leaves the client in SYN_SENT"

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
S ip route add blackhole $C_IP4/32
S ip -6 route add blackhole $C_IP6/128

for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL reset-time "$host" 7000 --timeout $((timeout_s * 3)))
	log "$host: $out"
	outcome=$(sed -n 's/.*outcome=\([^ ]*\).*/\1/p' <<<"$out")
	connect_ms=$(sed -n 's/.*connect_ms=\([0-9.]*\).*/\1/p' <<<"$out")
	end_ms=$(sed -n 's/.*end_ms=\([0-9.]*\).*/\1/p' <<<"$out")
	assert_num "$host: connect() ms (spoofed)" "$connect_ms" '<' 50
	assert_eq "$host: outcome" reset "$outcome"
	assert_between "$host: ms until reset, --syn-timeout ${timeout_s} s" "$end_ms" \
		$((timeout_s * 1000 - 100)) $((timeout_s * 1000 + 1000))
	log "figure: $host reset after $end_ms ms (syn-timeout $timeout_s s)"
done

box_stop
assert_counter flows_timed_out '==' 2
assert_counter syns_resent '>=' 2
assert_counter flows_established '==' 0
assert_counter flows_active '==' 0
