#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ServerNIC is killed (SIGKILL) in the middle of a download and of
# paced echo connections, and a bridge takes its place: no connection
# fails. The flows it translated carry on with the ClientNIC translating
# (its receipt gave the deltas): a server segment that arrives
# untranslated hands the flow over, and where the client speaks next its
# retransmission goes along translated. Connections opened afterwards fall
# back to the ClientNIC alone.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
LINKEM_ARGS="--delay 5ms $LINKEM_ARGS"
CLIENTNIC_ARGS="--peer always $CLIENTNIC_ARGS"
topo_setup clientnic linkem servernic

size_mb=24
serve_blob $((size_mb << 20))
spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

# About 4 s each: 8 MiB/s, and 40 chunks 100 ms apart.
spawn C "$TOPO_DIR/curl.out" curl -sS --fail -m 30 --limit-rate 6M \
	-o "$TOPO_DIR/got" "http://$S_IP4:8080/blob"
curl_pid=$SPAWNED_PID
spawn C "$TOPO_DIR/echo4.out" $TOOL echo-clients $S_IP4 7000 --count 8 \
	--size $((40 << 14)) --pace-ms 100 --timeout 30
echo4_pid=$SPAWNED_PID
spawn C "$TOPO_DIR/echo6.out" $TOOL echo-clients $S_IP6 7000 --count 4 \
	--size $((40 << 14)) --pace-ms 100 --timeout 30 --seed 2
echo6_pid=$SPAWNED_PID

sleep 1.5
pid_alive $curl_pid || fail "the download ended before the peer was killed"
topo_snic_to_bridge

for pid in $curl_pid $echo4_pid $echo6_pid; do
	rc=0
	wait "$pid" || rc=$?
	[ $rc -eq 0 ] || {
		cat "$TOPO_DIR/curl.out" "$TOPO_DIR/echo4.out" "$TOPO_DIR/echo6.out" >&2
		fail "a connection through the killed peer failed (exit $rc)"
	}
done
assert_same_file "download across the peer's death" "$TOPO_DIR/blob" "$TOPO_DIR/got"
assert_file_has "IPv4 echoes across the peer's death" "$TOPO_DIR/echo4.out" '^ok=8 errors=0'
assert_file_has "IPv6 echoes across the peer's death" "$TOPO_DIR/echo6.out" '^ok=4 errors=0'

# New connections: the first finds no peer and falls back, the rest know.
out=$(C $TOOL echo-clients $S_IP4 7000 --count 20 --size 20000 --timeout 20 --seed 3) ||
	fail "connections after the peer's death: $out"
log "after: $out"

box_stop
assert_counter flows_taken_over '>=' 13
assert_counter flows_resumed '>=' 13
assert_counter peers_lost '>=' 1
assert_counter flows_fallback '>=' 1
