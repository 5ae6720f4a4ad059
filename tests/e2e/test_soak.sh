#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A short soak through the pair (make soak is the long one, bench/soak.sh):
# 300 echo connections of mixed sizes (0 B to 256 KiB, some empty), 32 at a
# time, over a WAN that loses, reorders and duplicates frames both ways
# (linkem: 5 ms each way, 1% loss, 1% reordering, 0.5% duplicates). Every
# connection must come back byte-exact, none may hang, and afterwards both
# daemons' flow tables drain: with --close-grace 1 every flow is freed
# about a second after its last FIN was acknowledged (flows_active and
# buffered_bytes 0 in SIGUSR1 counters), whichever path its handshake took
# (held until the SYN-ACK for the first ones, sent at once behind the SYN
# once the ClientNIC knows its peer), and the server holds no connection.
. "$(dirname "$0")/lib.sh"
count=300
CLIENTNIC_ARGS="--close-grace 1 $CLIENTNIC_ARGS"
SERVERNIC_ARGS="--close-grace 1 $SERVERNIC_ARGS"
LINKEM_ARGS="--delay 5ms --loss 0.01 --reorder 0.01 --dup 0.005 --seed $$ $LINKEM_ARGS"
topo_setup clientnic linkem servernic
C sysctl -qw net.ipv4.ip_local_port_range="1024 65535"

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

rc=0
out=$(C $TOOL echo-soak $S_IP4 7000 --count $count --concurrency 32 --max-size 262144 \
	--seed $$ --timeout 30 2>"$TOPO_DIR/soak.err") || rc=$?
[ -s "$TOPO_DIR/soak.err" ] && sed 's/^/# /' "$TOPO_DIR/soak.err"
log "echo-soak: $out"
val() { tr ' ' '\n' <<<"$out" | sed -n "s/^$1=//p"; }
assert_eq "connections echoed byte-exact" $count "$(val ok)"
assert_eq "connections with other bytes back (wrong, short or long)" 0 "$(val bad)"
assert_eq "connections hung (not done within 30 s)" 0 "$(val hung)"
assert_eq "connections reset or failed" 0 $(($(val resets) + $(val errors)))
[ $rc -eq 0 ] || fail "echo-soak exited $rc"
log "figure: $count connections in $(val elapsed_ms) ms; connect p50/p99 $(val connect_p50_ms)/$(val connect_p99_ms) ms, whole connection p50/p99 $(val done_p50_ms)/$(val done_p99_ms) ms"

# The tables drain once the close grace has passed.
_drained() { # daemon
	daemon_snapshot "$1"
	[ "$(daemon_counter "$1" flows_active)" = 0 ] && [ "$(daemon_counter "$1" buffered_bytes)" = 0 ]
}
for d in clientnic servernic; do
	wait_until 10 _drained $d || true
	assert_eq "$d flows_active, 10 s after the last connection (close grace 1 s)" 0 \
		"$(daemon_counter $d flows_active)"
	assert_eq "$d buffered_bytes" 0 "$(daemon_counter $d buffered_bytes)"
done
_server_clear() { [ -z "$(S ss -Htn state established state syn-recv '( sport = :7000 )')" ]; }
wait_until 10 _server_clear || true
assert_eq "connections left at the server (established or half-open)" 0 \
	"$(S ss -Htn state established state syn-recv '( sport = :7000 )' | grep -c . || true)"

stop_pid "$LINKEM_PID" TERM
lost() { sed -n "s/^linkem: $1 received .* lost \\([0-9]*\\) .*/\\1/p" "$TOPO_DIR/linkem.err" | tail -n 1; }
assert_num "frames linkem lost towards the server" "$(lost a2b)" '>' 0
assert_num "frames linkem lost towards the client" "$(lost b2a)" '>' 0
box_stop
snic_stop
log "figure: clientnic flows_peer_early $(box_counter flows_peer_early), syns_resent $(box_counter syns_resent), frames_held_dup $(box_counter frames_held_dup)"
assert_counter flows_created '==' $count
# Every flow ended by FIN or RST and was freed after the close grace, or
# (a client port used again within that second) replaced by the next SYN.
assert_eq "clientnic flows closed or replaced" $count \
	$(($(box_counter flows_closed) + $(box_counter flows_replaced)))
assert_counter flows_taken_over '==' $count
assert_counter flows_fallback '==' 0
assert_counter flows_timed_out '==' 0
assert_counter flows_evicted '==' 0
assert_snic_counter flows_taken_over '==' $count
assert_eq "servernic flows closed or replaced" $count \
	$(($(snic_counter flows_closed) + $(snic_counter flows_replaced)))
