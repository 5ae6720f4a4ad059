#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon with two worker threads (--workers 2: one PACKET_FANOUT hash
# group per interface). Both directions of every flow must reach the same
# worker, or its translation breaks: 200 concurrent echo connections and an
# 8 MB HTTP GET come back byte-exact, the summed counters add up, and the
# kernel's hash gave flows to both workers.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
workers=2
count=200
size=65536
CLIENTNIC_ARGS="--workers $workers $CLIENTNIC_ARGS"
topo_setup
assert_file_has "daemon runs $workers workers" "$TOPO_DIR/clientnic.err" \
	"^${LOG_TS}clientnic: $workers workers"

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
head -c $((8 << 20)) /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 7000
wait_listen S 8080

out=$(C $TOOL echo-clients $S_IP4 7000 --count $count --size $size --seed $$ --timeout 60 2>&1) ||
	fail "echo clients: $out"
log "$out"
val() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$out" | tail -n 1; }
assert_eq "connections echoed byte-exact" $count "$(val ok)"
assert_eq "connection errors" 0 "$(val errors)"

# SIGUSR1 while the workers carry the GET: the main thread sums their
# snapshots; the flows of the echo test are all in it.
C curl -sS --fail -m 30 --limit-rate 16M -o "$TOPO_DIR/got" "http://$S_IP4:8080/blob" &
curl_pid=$!
kill -USR1 "$BOX_PID"
wait_line 10 "$TOPO_DIR/clientnic.err" "^${LOG_TS}clientnic: counters \\(SIGUSR1\\)" "$BOX_PID" ||
	fail "no counters after SIGUSR1"
wait "$curl_pid" || fail "HTTP GET failed"
assert_same_file "8 MB HTTP GET" "$TOPO_DIR/blob" "$TOPO_DIR/got"
wait_until 5 grep -q '^  server.sock_errors' "$TOPO_DIR/clientnic.err" ||
	fail "the SIGUSR1 counters are incomplete"
usr1=$(sed -n 's/^  flows_created *\([0-9]*\)$/\1/p' "$TOPO_DIR/clientnic.err" | head -n 1)
assert_num "flows_created summed at SIGUSR1" "$usr1" '>=' $count

box_stop
conns=$((count + 1))
assert_counter synacks_spoofed '==' $conns
assert_counter flows_established '==' $conns
assert_counter flows_created '==' $conns
assert_counter passed_untracked '==' 0
sum=0
for i in $(seq 0 $((workers - 1))); do
	v=$(box_counter "worker$i.flows_created")
	[ -n "$v" ] || fail "counter worker$i.flows_created not found"
	# With 201 flows and a uniform hash, a worker without any flow has
	# a probability of 2^-200: zero means the fanout does not spread.
	assert_num "counter worker$i.flows_created" "$v" '>' 0
	sum=$((sum + v))
done
assert_eq "per-worker flows add up to the total" "$(box_counter flows_created)" "$sum"
log "figure: flows per worker: $(for i in $(seq 0 $((workers - 1))); do printf '%s ' "$(box_counter "worker$i.flows_created")"; done)"
