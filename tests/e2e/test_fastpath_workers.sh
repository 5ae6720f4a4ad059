#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel path with two workers: the packet fanout sends a flow's
# frames to worker hash(key) % 2 (a BPF program, not the kernel's own
# hash), so a daemon restarted after SIGKILL gives each adopted flow to
# the worker that gets its frames, and the kernel's close event of each
# adopted flow reaches the engine that knows it: all are closed and freed.
#
#   client --- [eth0 tc clientnic (2 workers) tc eth1] --- bridge --- bridge --- server
. "$(dirname "$0")/lib.sh"
CLIENTNIC_ARGS="--datapath bpf --workers 2 --close-grace 0.2 $CLIENTNIC_ARGS"
topo_setup clientnic bridge bridge

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
spawn C "$TOPO_DIR/echo.out" $TOOL echo-clients $S_IP4 7000 --count 16 \
	--size $((40 << 14)) --pace-ms 100 --timeout 40
echo_pid=$SPAWNED_PID
sleep 1.5
tracked=$(daemon_tracked clientnic)
assert_num "flows the daemon tracks before it is killed" "$tracked" '>=' 8
daemon_kill clientnic
sleep 0.3
daemon_start clientnic
adopted=$(daemon_adopted clientnic)
assert_eq "flows adopted (those the killed daemon tracked)" "$tracked" "$adopted"
wait "$echo_pid" || { cat "$TOPO_DIR/echo.out" >&2; fail "echoes across the restart failed"; }
assert_file_has "echoes across SIGKILL and restart" "$TOPO_DIR/echo.out" '^ok=16 errors=0'
# Short connections close in the kernel, each close on the ring of the
# worker that has the flow: on another's it would be stale there, and the
# flow would stay open in its own. An idle worker reads its ring on a
# timer of its own (nothing else wakes it here: no snapshot is asked for
# until the flows are freed, their closed events logged).
sleep 1
closed_lines() { grep -c 'event=closed' "$TOPO_DIR/clientnic.log" || true; }
assert_num "adopted flows freed after their echoes (closed events logged)" \
	"$(closed_lines)" '>=' "$adopted"
n0=$(closed_lines)
C $TOOL echo-clients $S_IP4 7000 --count 20 --size 1000 --timeout 20 >"$TOPO_DIR/short.out" ||
	fail "short echoes failed: $(cat "$TOPO_DIR/short.out")"
assert_file_has "20 short echoes" "$TOPO_DIR/short.out" '^ok=20 errors=0'
_freed20() { [ "$(closed_lines)" -ge $((n0 + 20)) ]; }
wait_until 1 _freed20 || true
assert_num "short connections freed within 1 s (closed events logged)" \
	$(($(closed_lines) - n0)) '>=' 20
sleep 0.5
box_stop
assert_counter flows_closed_kernel '>=' $((adopted + 20))
assert_counter fast_closes_stale '==' 0
assert_counter flows_adopted '==' "$tracked"
assert_counter flows_active '==' 0
assert_counter passed_untracked '==' 0
log "figure: adopted $adopted flows over 2 workers"
assert_num "worker0 saw frames" "$(box_counter worker0.frames_in)" '>' 0
assert_num "worker1 saw frames" "$(box_counter worker1.frames_in)" '>' 0
