#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Both boxes with two workers each (PACKET_FANOUT hash groups): 200
# concurrent echoes twice through the pair, all exact; each box spreads the
# flows over both workers, and every flow is taken over. A ClientNIC's
# workers learn the peer each for itself.
. "$(dirname "$0")/lib.sh"
count=200
CLIENTNIC_ARGS="--workers 2 $CLIENTNIC_ARGS"
SERVERNIC_ARGS="--workers 2 $SERVERNIC_ARGS"
LINKEM_ARGS="--delay 2ms $LINKEM_ARGS"
topo_setup clientnic linkem servernic

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
for round in 1 2; do
	out=$(C $TOOL echo-clients $S_IP4 7000 --count $count --size 20000 --seed $round --timeout 30) ||
		fail "round $round: $out"
	log "round $round: $out"
done

box_stop
snic_stop
for d in clientnic servernic; do
	assert_daemon_counter $d flows_taken_over '==' $((2 * count))
	assert_daemon_counter $d worker0.flows_created '>' 0
	assert_daemon_counter $d worker1.flows_created '>' 0
done
assert_counter peers_learned '>=' 1
assert_counter peers_learned '<=' 2
assert_counter flows_fallback '==' 0
assert_counter frames_rewritten '==' 0
