#!/usr/bin/env bash
# Malformed frames injected from both sides (raw AF_PACKET sockets in the
# client and server namespaces): runts, cut IPv4/IPv6/TCP headers, bad IHL
# and lengths, TCP data offsets past the end, option lengths 0/1/too long,
# VLAN stacks, fragments, flag soup and random mutations. The daemon keeps
# running, prints no sanitizer report, and the next connections work.
# Uses the ASan+UBSan build ($ASAN_BUILD, default build/asan) when it exists.
. "$(dirname "$0")/lib.sh"
asan=${ASAN_BUILD:-build/asan}
case $asan in /*) ;; *) asan=$REPO_DIR/$asan ;; esac
if [ -x "$asan/clientnic" ]; then
	CLIENTNIC_BIN=$asan/clientnic
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
topo_setup
log "daemon: ${CLIENTNIC_BIN:-$BUILD/clientnic}"

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
echo_ok() { # label
	local out
	out=$(C $TOOL echo-clients "$2" 7000 --count 5 --size 20000 --seed $$ --timeout 10 2>&1) ||
		fail "$1: echo through the box failed: $out"
	assert_eq "$1: connections echoed to $2" 5 "$(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$out")"
}
echo_ok "before injection" $S_IP4

inject() { # nsfn iface side src-mac dst-mac src4 dst4 src6 dst6
	"$1" $TOOL inject "$2" "$3" --src-mac "$4" --dst-mac "$5" --src4 "$6" --dst4 "$7" \
		--src6 "$8" --dst6 "$9" --seed $$ --rounds 3
}
# Flows that are open in the box while the garbage flies, checked after.
spawn C "$TOPO_DIR/live.out" $TOOL echo-clients $S_IP4 7000 --count 10 --size $((1 << 20)) \
	--pace-ms 20 --seed $$ --timeout 60
live=$SPAWNED_PID
out=$(inject C c0 client $C_MAC $S_MAC $C_IP4 $S_IP4 $C_IP6 $S_IP6) || fail "inject: $out"
log "client side: $out"
out=$(inject S s0 server $S_MAC $C_MAC $S_IP4 $C_IP4 $S_IP6 $C_IP6) || fail "inject: $out"
log "server side: $out"
# Same frames with the broadcast address, so a box filtering by MAC sees them too.
out=$(inject C c0 client $C_MAC ff:ff:ff:ff:ff:ff $C_IP4 $S_IP4 $C_IP6 $S_IP6) || fail "inject: $out"
out=$(inject S s0 server $S_MAC ff:ff:ff:ff:ff:ff $S_IP4 $C_IP4 $S_IP6 $C_IP6) || fail "inject: $out"

wait "$live" || { cat "$TOPO_DIR/live.out"; fail "flows open during the injection broke"; }
log "flows open during the injection: $(cat "$TOPO_DIR/live.out")"
if [ "$TOPO_BOX" = clientnic ]; then
	pid_alive "$BOX_PID" || fail "clientnic died under malformed frames"
	log "ok: clientnic alive (pid $BOX_PID)"
	box_assert_clean
fi
topo_wait_path
echo_ok "after injection" $S_IP4
echo_ok "after injection" $S_IP6

box_stop
assert_counter passed_malformed '>' 0
assert_counter synacks_spoofed '>=' 15
