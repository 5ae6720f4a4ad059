#!/usr/bin/env bash
# 200 connections opened at once, each echoing 64 KiB of its own random data:
# every byte comes back exact on every one of them.
. "$(dirname "$0")/lib.sh"
count=200
size=65536
topo_setup

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

out=$(C $TOOL echo-clients $S_IP4 7000 --count $count --size $size --seed $$ --timeout 60 2>&1) ||
	fail "echo clients: $out"
log "$out"
val() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$out" | tail -n 1; }
assert_eq "connections echoed byte-exact" $count "$(val ok)"
assert_eq "connection errors" 0 "$(val errors)"
log "figure: $count x $size B echoed in $(val elapsed_ms) ms, median connect $(val connect_median_ms) ms"

box_stop
assert_counter synacks_spoofed '==' $count
assert_counter flows_established '==' $count
assert_counter passed_table_full '==' 0
