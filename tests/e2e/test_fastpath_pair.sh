#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ServerNIC's kernel path outlives its daemon:
#
#   client --- [clientnic] --- linkem 5 ms --- [eth0 tc servernic tc eth1] --- server
#
# A download and paced echoes the pair set up keep going while the
# ServerNIC is killed with SIGKILL (its tc programs translate them on, so
# the ClientNIC never sees its peer vanish), and a new ServerNIC adopts
# them and takes the next connections over again.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum tc
LINKEM_ARGS="--delay 5ms $LINKEM_ARGS"
CLIENTNIC_ARGS="--peer always $CLIENTNIC_ARGS"
SERVERNIC_ARGS="--datapath bpf --close-grace 0.2 $SERVERNIC_ARGS"
topo_setup clientnic linkem servernic

serve_blob $((24 << 20))
spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

spawn C "$TOPO_DIR/curl.out" curl -sS --fail -m 30 --limit-rate 6M \
	-o "$TOPO_DIR/got" "http://$S_IP4:8080/blob"
curl_pid=$SPAWNED_PID
spawn C "$TOPO_DIR/echo4.out" $TOOL echo-clients $S_IP4 7000 --count 4 \
	--size $((40 << 14)) --pace-ms 100 --timeout 30
echo4_pid=$SPAWNED_PID
spawn C "$TOPO_DIR/echo6.out" $TOOL echo-clients $S_IP6 7000 --count 2 \
	--size $((40 << 14)) --pace-ms 100 --timeout 30 --seed 2
echo6_pid=$SPAWNED_PID

sleep 1.5
pid_alive $curl_pid || fail "the download ended before the ServerNIC was killed"
tracked=$(daemon_tracked servernic)
assert_num "flows the ServerNIC tracks before it is killed" "$tracked" '>=' 1
daemon_kill servernic
sleep 0.5
daemon_start servernic
assert_eq "flows the new ServerNIC adopted (those it tracked)" "$tracked" \
	"$(daemon_adopted servernic)"

for pid in $curl_pid $echo4_pid $echo6_pid; do
	rc=0
	wait "$pid" || rc=$?
	[ $rc -eq 0 ] || {
		cat "$TOPO_DIR/curl.out" "$TOPO_DIR/echo4.out" "$TOPO_DIR/echo6.out" >&2
		fail "a connection across the ServerNIC's death failed (exit $rc)"
	}
done
assert_same_file "download across the ServerNIC's death" "$TOPO_DIR/blob" "$TOPO_DIR/got"
assert_file_has "IPv4 echoes across the ServerNIC's death" "$TOPO_DIR/echo4.out" '^ok=4 errors=0'
assert_file_has "IPv6 echoes across the ServerNIC's death" "$TOPO_DIR/echo6.out" '^ok=2 errors=0'

out=$(C $TOOL echo-clients $S_IP4 7000 --count 10 --size 20000 --timeout 20 --seed 3) ||
	fail "connections after the restart: $out"
sleep 0.5
snic_stop
assert_snic_counter flows_adopted '==' "$tracked"
assert_snic_counter flows_taken_over '>=' 10
assert_snic_counter flows_active '==' 0
assert_snic_counter kernel.server.translated '>' 0
box_stop
# The ClientNIC's peer never went away.
assert_counter flows_resumed '==' 0
assert_counter peers_lost '==' 0
