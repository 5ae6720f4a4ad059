#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel path outlives its daemon (ClientNIC):
#
#   client --- [eth0 tc clientnic tc eth1] --- bridge --- bridge --- server
#                   \___ flow map ___/
#
# An iperf3 upload and paced echoes run while the daemon is killed with
# SIGKILL: the tc programs keep translating their flows, and once the
# heartbeat is stale they let new connections through as plain TCP. A new
# daemon finds the programs on the ports, adopts the flows (they close and
# are freed as usual) and spoofs again. SIGTERM leaves the path in place
# for the next start; --detach takes it off.
. "$(dirname "$0")/lib.sh"
need_cmd iperf3 tc
CLIENTNIC_ARGS="--datapath bpf --close-grace 0.2 $CLIENTNIC_ARGS"
topo_setup clientnic bridge bridge

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
spawn S "$TOPO_DIR/iperf-s.log" iperf3 -s -p 5201
wait_listen S 7000
wait_listen S 5201
assert_file_has "the daemon runs the kernel path" "$TOPO_DIR/clientnic.err" \
	'kernel path: tc programs on eth0 and eth1'

# About 6 s each: iperf3's own clock, and 60 chunks 100 ms apart.
spawn C "$TOPO_DIR/iperf.json" iperf3 -c $S_IP4 -p 5201 -t 6 -J
iperf_pid=$SPAWNED_PID
spawn C "$TOPO_DIR/echo4.out" $TOOL echo-clients $S_IP4 7000 --count 4 \
	--size $((60 << 14)) --pace-ms 100 --timeout 40
echo4_pid=$SPAWNED_PID
spawn C "$TOPO_DIR/echo6.out" $TOOL echo-clients $S_IP6 7000 --count 2 \
	--size $((60 << 14)) --pace-ms 100 --timeout 40 --seed 2
echo6_pid=$SPAWNED_PID

sleep 1.5
# The flows the daemon tracks now are the ones to survive it (on a loaded
# machine a connection may have gone through as plain TCP while the
# daemon was late with its heartbeat).
tracked=$(daemon_tracked clientnic)
assert_num "flows the daemon tracks before it is killed" "$tracked" '>=' 1
daemon_kill clientnic

# While it is down (past --fail-open, 500 ms): new connections work, as
# plain TCP.
sleep 0.7
out=$(C $TOOL echo-clients $S_IP4 7000 --count 5 --size 20000 --timeout 10 --seed 3) ||
	fail "connections while the daemon was down: $out"
log "while down: $out"
ss_out=$(C ss -tnH state established "( dport = :7000 )" | wc -l)
assert_num "echo connections still open" "$ss_out" '>=' 6

daemon_start clientnic
assert_file_has "the new daemon found the kernel path" "$TOPO_DIR/clientnic.err" \
	'flows of a predecessor taken over'
assert_eq "flows adopted (those the killed daemon tracked)" "$tracked" \
	"$(daemon_adopted clientnic)"

for pid in $iperf_pid $echo4_pid $echo6_pid; do
	rc=0
	wait "$pid" || rc=$?
	[ $rc -eq 0 ] || {
		cat "$TOPO_DIR/echo4.out" "$TOPO_DIR/echo6.out" >&2
		fail "a connection across the daemon's death failed (exit $rc)"
	}
done
assert_file_has "IPv4 echoes across the daemon's death" "$TOPO_DIR/echo4.out" '^ok=4 errors=0'
assert_file_has "IPv6 echoes across the daemon's death" "$TOPO_DIR/echo6.out" '^ok=2 errors=0'
# iperf3 checks no content (the echoes do): it must end without an error,
# its last interval still moving data.
read -r err received last <<<"$($PYTHON -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j.get("error", "none").replace(" ", "_"), j["end"]["sum_received"]["bytes"],
      j["intervals"][-1]["sum"]["bytes"])' "$TOPO_DIR/iperf.json")"
assert_eq "iperf3 error across the daemon's death" none "$err"
assert_num "iperf3 bytes received across the daemon's death" "$received" '>' $((10 << 20))
assert_num "iperf3 bytes in its last second" "$last" '>' 0

# The restarted daemon spoofs again, and the adopted flows are gone.
out=$(C $TOOL echo-clients $S_IP4 7000 --count 5 --size 20000 --timeout 10 --seed 4) ||
	fail "connections after the restart: $out"
sleep 0.5
daemon_snapshot clientnic
assert_counter flows_adopted '==' "$tracked"
assert_counter synacks_spoofed '>=' 5
assert_counter flows_active '==' 0
assert_counter kernel.client.translated '>' 0
assert_counter kernel.server.translated '>' 0

# A half-closed flow stays in the kernel: the client sends its request
# and its FIN (held with it, so the daemon sees that FIN), the server
# answers with 8 MiB; the data and the ACKs cross the kernel.
spawn S "$TOPO_DIR/halfclose-s.log" "$PYTHON" -c 'import socket, sys
l = socket.socket(socket.AF_INET6)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("::", 7002))
l.listen(1)
c, _ = l.accept()
while c.recv(65536):
    pass
block = bytes(range(256)) * 4096
for i in range(8):
    c.sendall(block)
c.close()'
wait_listen S 7002
daemon_snapshot clientnic
k0=$(daemon_counter clientnic kernel.server.translated)
d0=$(daemon_counter clientnic frames_in_server)
got=$(C "$PYTHON" -c 'import hashlib, socket, sys
s = socket.create_connection((sys.argv[1], 7002))
s.sendall(b"request")
s.shutdown(socket.SHUT_WR)
h, n = hashlib.sha256(), 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest())' "$S_IP4") || fail "the half-closed download failed"
want="$((8 << 20)) $($PYTHON -c 'import hashlib; print(hashlib.sha256(bytes(range(256)) * 4096 * 8).hexdigest())')"
assert_eq "8 MiB after the client's FIN, byte-exact" "$want" "$got"
sleep 0.2
daemon_snapshot clientnic
k1=$(daemon_counter clientnic kernel.server.translated)
d1=$(daemon_counter clientnic frames_in_server)
log "half-closed download: server frames through the kernel $((k1 - k0)), through the daemon $((d1 - d0))"
assert_num "server frames of the half-closed flow through the daemon" $((d1 - d0)) '<=' 4
assert_num "server frames of the half-closed flow through the kernel" $((k1 - k0)) '>=' 8

# Short connections close in the kernel: the handshake and the held
# request cross the daemon; the FINs and the last ACK stay in the kernel,
# whose close events close the flows here.
daemon_snapshot clientnic
k0=$(daemon_counter clientnic flows_closed_kernel)
f0=$(( $(daemon_counter clientnic frames_in_client) + $(daemon_counter clientnic frames_in_server) ))
C $TOOL echo-clients $S_IP4 7000 --count 20 --size 1000 --timeout 20 >"$TOPO_DIR/short.out" ||
	fail "short echoes failed: $(cat "$TOPO_DIR/short.out")"
assert_file_has "20 short echoes" "$TOPO_DIR/short.out" '^ok=20 errors=0'
_closed20() { daemon_snapshot clientnic; [ $(($(daemon_counter clientnic flows_closed_kernel) - k0)) -ge 20 ]; }
wait_until 5 _closed20 || true
f1=$(( $(daemon_counter clientnic frames_in_client) + $(daemon_counter clientnic frames_in_server) ))
log "short connections: $((f1 - f0)) frames through the daemon for 20"
assert_eq "short connections the kernel closed" 20 \
	$(($(daemon_counter clientnic flows_closed_kernel) - k0))
assert_num "frames of 20 short connections through the daemon" $((f1 - f0)) '<=' 100
assert_counter fast_closes_stale '==' 0

# SIGTERM: the path stays for the next start, which carries a paced echo on.
spawn C "$TOPO_DIR/echo-term.out" $TOOL echo-clients $S_IP4 7000 --count 2 \
	--size $((30 << 14)) --pace-ms 100 --timeout 30 --seed 5
term_pid=$SPAWNED_PID
sleep 1
box_stop
filters=$(N tc filter show dev eth0 ingress | grep -c 'cn_tc_client' || true)
assert_num "tc program left on eth0 after SIGTERM" "$filters" '>=' 1
sleep 0.3
CLIENTNIC_ARGS="$CLIENTNIC_ARGS --detach"
daemon_start clientnic
wait "$term_pid" || { cat "$TOPO_DIR/echo-term.out" >&2; fail "echo across SIGTERM and start failed"; }
assert_file_has "echoes across SIGTERM and start" "$TOPO_DIR/echo-term.out" '^ok=2 errors=0'

box_stop
assert_file_has "--detach took the path off" "$TOPO_DIR/clientnic.err" 'kernel path taken off'
filters=$(N tc filter show dev eth0 ingress | grep -c 'cn_tc_client' || true)
assert_eq "tc programs on eth0 after --detach" 0 "$filters"
