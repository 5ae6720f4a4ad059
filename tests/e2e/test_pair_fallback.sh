#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A ClientNIC that expects a peer (--peer always) where there is none:
# its early data reaches a real Linux server untranslated, in SYN_RECV.
# The server answers each such segment with an RST at the bad ACK number
# and keeps its half-open connection; the ClientNIC, seeing the SYN-ACK
# come back untranslated, translates the flow itself and replays its
# copies, which complete the handshake. Every connection works, no client
# sees a reset, and the RSTs were really there (counted, dropped).
. "$(dirname "$0")/lib.sh"
LINKEM_ARGS="--delay 10ms $LINKEM_ARGS"
CLIENTNIC_ARGS="--peer always $CLIENTNIC_ARGS"
topo_setup clientnic linkem bridge

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL echo-clients "$host" 7000 --count 50 --size 3000 --timeout 20) ||
		fail "echoes to $host without the expected peer: $out"
	log "$host: $out"
	assert_file_has "no reset" <(echo "$out") 'resets=0 mismatched=0'
done

box_stop
assert_counter flows_fallback '==' 100
assert_counter frames_copied '>=' 100
assert_counter frames_replayed '>=' 100
assert_counter 'drop\.rst_fallback' '>=' 50
assert_counter rsts_sent '==' 0
