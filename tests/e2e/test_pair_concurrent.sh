#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 200 connections opened at once through the pair, each echoing 64 KiB of
# its own random data: every byte comes back exact on every one. Twice:
# first while the ClientNIC does not know the ServerNIC yet (--peer auto:
# the flows that start before the first translated SYN-ACK teaches it hold
# their data, the later ones send it at once), then with the peer known
# (all 200 send at once, copies kept).
. "$(dirname "$0")/lib.sh"
count=200
size=65536
LINKEM_ARGS="--delay 2ms $LINKEM_ARGS"
topo_setup clientnic linkem servernic

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

val() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$out" | tail -n 1; }
for round in "peer unknown" "peer known"; do
	out=$(C $TOOL echo-clients $S_IP4 7000 --count $count --size $size --seed $$ --timeout 40 2>&1) ||
		fail "$round: echo clients: $out"
	log "$round: $out"
	assert_eq "$round: connections echoed byte-exact" $count "$(val ok)"
	assert_eq "$round: connection errors" 0 "$(val errors)"
	log "figure: $round: $count x $size B echoed in $(val elapsed_ms) ms, median connect $(val connect_median_ms) ms"
	if [ "$round" = "peer unknown" ]; then
		daemon_snapshot clientnic
		early1=$(box_counter flows_peer_early)
		log "figure: peer unknown: $early1 of $count flows early, the rest held"
		assert_num "peer unknown: flows early (the first one cannot be)" "$early1" '<' $count
		assert_counter peers_learned '==' 1
	fi
done

box_stop
snic_stop
assert_counter synacks_spoofed '==' $((2 * count))
assert_counter flows_taken_over '==' $((2 * count))
assert_counter flows_peer_early '==' $((early1 + count))
assert_counter flows_fallback '==' 0
assert_counter frames_rewritten '==' 0
assert_counter passed_table_full '==' 0
assert_snic_counter flows_taken_over '==' $((2 * count))
assert_snic_counter frames_rewritten '>' 0
assert_snic_counter passed_table_full '==' 0
