#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The server does not answer as hoped, through the pair (--peer always: the
# request goes out right behind the SYN and waits at the ServerNIC), over a
# 20 ms WAN RTT (linkem, 10 ms each way):
#  - a closed port: the server's RST crosses the ServerNIC untranslated, and
#    the ClientNIC resets its client on it: the client learns one WAN round
#    trip after its SYN, within a few ms of the RST's arrival; neither box
#    keeps a flow;
#  - a silent server (its SYN-ACKs vanish in a blackhole route): the
#    ClientNIC retries the SYN every --syn-rto and resets the client after
#    its --syn-timeout (2 s); the ServerNIC forgets the flow after its own
#    --syn-timeout, dropping the request it held.
. "$(dirname "$0")/lib.sh"
one_way_ms=10
rtt_ms=$((2 * one_way_ms))
timeout_s=2
CLIENTNIC_ARGS="--peer always --syn-timeout $timeout_s --syn-rto 200 $CLIENTNIC_ARGS"
SERVERNIC_ARGS="--syn-timeout $timeout_s $SERVERNIC_ARGS"
LINKEM_ARGS="--delay ${one_way_ms}ms $LINKEM_ARGS"
topo_setup clientnic linkem servernic

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$out"; }

# ---- a closed port (nothing listens on 9)
for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL reset-time "$host" 9 --timeout 5)
	log "closed port, $host: $out"
	outcome=$(field outcome)
	[[ $outcome =~ ^(reset|refused)$ ]] ||
		fail "closed port, $host: expected the connection reset, got outcome '$outcome'"
	log "ok: closed port, $host: connection $outcome"
	assert_num "closed port, $host: connect() ms (spoofed)" "$(field connect_ms)" '<' 5
	# Not before the RST can be back, and within a few ms of it.
	assert_between "closed port, $host: ms until the client learned, RTT $rtt_ms ms" \
		"$(field end_ms)" $((rtt_ms * 9 / 10)) $((rtt_ms + 20))
	log "figure: closed port, $host: reset after $(field end_ms) ms (RTT $rtt_ms ms)"
done
daemon_snapshot clientnic
daemon_snapshot servernic
assert_counter flows_refused '==' 2
assert_counter rsts_sent '>=' 2
assert_counter flows_active '==' 0
assert_counter buffered_bytes '==' 0
assert_snic_counter flows_refused '==' 2
assert_snic_counter flows_active '==' 0
assert_snic_counter buffered_bytes '==' 0

# ---- a silent server
spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
S ip route add blackhole $C_IP4/32
S ip -6 route add blackhole $C_IP6/128
for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL reset-time "$host" 7000 --timeout $((timeout_s * 3)))
	log "silent server, $host: $out"
	assert_num "silent server, $host: connect() ms (spoofed)" "$(field connect_ms)" '<' 50
	assert_eq "silent server, $host: outcome" reset "$(field outcome)"
	assert_between "silent server, $host: ms until reset, --syn-timeout ${timeout_s} s" \
		"$(field end_ms)" $((timeout_s * 1000 - 100)) $((timeout_s * 1000 + 1000))
	log "figure: silent server, $host: reset after $(field end_ms) ms (syn-timeout $timeout_s s)"
done
# When the ClientNIC gives up it resets the server too (the SYN reached it):
# the RST crosses the ServerNIC, which forgets its flow with it, a WAN
# one-way delay after the client's reset and before its own timer.
_snic_forgot() {
	daemon_snapshot servernic
	[ "$(snic_counter flows_reset)" -ge 2 ] && [ "$(snic_counter flows_active)" = 0 ] ||
		{ sleep 0.2; return 1; }
}
wait_until 5 _snic_forgot || log "the servernic still has $(snic_counter flows_active) flows"
assert_snic_counter flows_reset '>=' 2

box_stop
snic_stop
assert_counter flows_timed_out '==' 2
assert_counter syns_resent '>=' 2
assert_counter flows_taken_over '==' 0
assert_counter flows_active '==' 0
assert_snic_counter flows_reset '==' 2
assert_snic_counter flows_timed_out '==' 0
assert_snic_counter flows_taken_over '==' 0
assert_snic_counter flows_active '==' 0
assert_snic_counter buffered_bytes '==' 0
