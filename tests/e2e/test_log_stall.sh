#!/usr/bin/env bash
# The event log never holds up forwarding: the daemon's stdout goes into a
# pipe that nobody reads. Connections keep working byte-exact, the records
# that do not fit are counted as dropped, and SIGTERM still ends the daemon
# promptly.
. "$(dirname "$0")/lib.sh"
need_cmd timeout
topo_setup clientnic bridge
box_stop

fifo=$TOPO_DIR/stalled.fifo
mkfifo "$fifo"
# A reader that holds the pipe open and never reads it.
sleep 300 <"$fifo" &
reader=$!
TOPO_PIDS+=("$reader")
ip netns exec "$NS_N" "${CLIENTNIC_BIN:-$BUILD/clientnic}" --client-if eth0 \
	--server-if eth1 --control "$TOPO_DIR/clientnic.sock" --log-level debug \
	>"$fifo" 2>"$TOPO_DIR/clientnic.err" &
BOX_PID=$!
TOPO_PIDS+=("$BOX_PID")
wait_ready clientnic "$BOX_PID"

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
for round in 1 2 3; do
	out=$(C $TOOL echo-clients $S_IP4 7000 --count 200 --size 4096 \
		--seed $((round + $$)) --timeout 30 2>&1) || fail "round $round: $out"
	val() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$out" | tail -n 1; }
	assert_eq "round $round: connections echoed byte-exact" 200 "$(val ok)"
done

t0=$(date +%s%N)
kill -TERM "$BOX_PID"
rc=0
wait "$BOX_PID" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
BOX_PID=
assert_eq "exit status after SIGTERM" 0 "$rc"
assert_num "ms from SIGTERM to exit, log reader stalled" "$ms" '<' 3000
box_assert_clean
assert_counter flows_established '==' 600
assert_counter events_dropped '>' 0
