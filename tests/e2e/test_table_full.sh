#!/usr/bin/env bash
# A flow table far smaller than the load (--max-flows 20, 200 connections
# opened at once). An embryonic flow is evicted (and its client reset) only
# after its server has been silent for a SYN RTO; here every server answers
# within milliseconds, so no client may be reset: the SYNs that find no room
# pass untracked and every connection echoes byte-exact.
. "$(dirname "$0")/lib.sh"
max=20
count=200
CLIENTNIC_ARGS="--max-flows $max $CLIENTNIC_ARGS"
topo_setup

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
out=$(C $TOOL echo-clients $S_IP4 7000 --count $count --size 65536 --seed $$ --timeout 30 2>&1) || true
log "$(tail -n 1 <<<"$out")"
val() { grep '^ok=' <<<"$out" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
ok=$(val ok)
resets=$(val resets)
assert_eq "connections with wrong bytes" 0 "$(val mismatched)"
assert_eq "connections that failed other than by a reset" 0 $(($(val errors) - resets))
assert_eq "connections echoed or reset" $count $((ok + resets))

box_stop
if [ "$TOPO_BOX" = clientnic ]; then
	evicted=$(box_counter flows_evicted)
	log "figure: table of $max, $count at once: $ok echoed, $resets reset," \
		"$(box_counter synacks_spoofed) spoofed, $(box_counter passed_table_full) passed untracked, $evicted evicted"
	assert_eq "client resets = flows evicted" "$evicted" "$resets"
	assert_eq "connections reset" 0 "$resets"
	assert_eq "connections echoed" $count "$ok"
	assert_counter passed_table_full '>' 0
	assert_counter flows_established '<=' $max
else
	assert_eq "connections echoed through a bridge" $count "$ok"
fi
