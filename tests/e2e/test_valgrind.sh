#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Both daemons under valgrind memcheck (the plain build: the ASan build that
# make check names in CLIENTNIC_BIN / SERVERNIC_BIN cannot run under
# valgrind), through the pair over a 2 ms WAN each way:
#  - 1 MiB GET and PUT over IPv4 (the first connections, held by the
#    ClientNIC, taken over by the ServerNIC), again (the peer is known: the
#    request goes out at once, a copy kept) and over IPv6;
#  - 20 concurrent 64 KiB echoes;
#  - a closed port (nothing listens on 9), IPv4 and IPv6;
#  - a silent server (its SYN-ACKs vanish in a blackhole route; short
#    --syn-timeout on both boxes), IPv4 and IPv6;
# with a capture, the debug log (JSON on the ServerNIC), a stats interval
# and a SIGUSR1 snapshot, and two workers on the ServerNIC, so those paths
# run under memcheck too. Then SIGTERM both: valgrind must report no error
# ("ERROR SUMMARY: 0 errors") and nothing definitely lost, and each daemon
# must exit 0 (valgrind's --error-exitcode is 99).
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null ||
	skip "valgrind is not installed (apt-get install valgrind): no memcheck run of the daemons"
need_cmd curl sha256sum
for name in clientnic servernic; do
	# Explicitly the plain build, whatever $<NAME>_BIN says.
	[ -x "$BUILD/$name" ] || skip "$BUILD/$name is not built (make all)"
	! grep -aq __asan_init "$BUILD/$name" ||
		skip "$BUILD/$name is an ASan build: valgrind cannot run it (make all)"
done
timeout_s=1
LINKEM_ARGS="--delay 2ms $LINKEM_ARGS"
# Bridges first: the wrappers live in $TOPO_DIR, which topo_setup makes.
topo_setup bridge linkem bridge

for name in clientnic servernic; do
	cat >"$TOPO_DIR/vg-$name" <<EOF
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
	--suppressions=$E2E_DIR/valgrind-libbpf.supp --track-fds=no "$BUILD/$name" "\$@"
EOF
	chmod +x "$TOPO_DIR/vg-$name"
done
# shellcheck disable=SC2034 # read by lib.sh (daemon_start)
{
	CLIENTNIC_BIN=$TOPO_DIR/vg-clientnic
	SERVERNIC_BIN=$TOPO_DIR/vg-servernic
}
CLIENTNIC_ARGS="--syn-timeout $timeout_s --syn-rto 200 --pcap $TOPO_DIR/cn.pcap --log-level debug --stats-interval 1 $CLIENTNIC_ARGS"
SERVERNIC_ARGS="--syn-timeout $timeout_s --pcap $TOPO_DIR/snic.pcap --log-level debug --log-format json --workers 2 --stats-interval 1 $SERVERNIC_ARGS"
t0=$(date +%s%N)
topo_from_bridge servernic
topo_from_bridge clientnic
log "figure: both daemons ready under valgrind in $((($(date +%s%N) - t0) / 1000000)) ms"
topo_wait_path
grep -q '^==[0-9]*== Memcheck' "$TOPO_DIR/clientnic.err" ||
	fail "the clientnic does not run under memcheck: $(head -3 "$TOPO_DIR/clientnic.err")"

head -c $((1 << 20)) /dev/urandom >"$TOPO_DIR/blob"
blob_sha=$(sha256 "$TOPO_DIR/blob")
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080
spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

transfer() { # label url-host
	local label=$1 host=$2 answer
	rm -f "$TOPO_DIR/got" "$TOPO_DIR/www/up"
	C curl -sS --fail -m 20 -o "$TOPO_DIR/got" "http://$host:8080/blob" ||
		fail "$label: GET failed"
	assert_same_file "$label: 1 MiB GET" "$TOPO_DIR/blob" "$TOPO_DIR/got"
	answer=$(C curl -sS --fail -m 20 -H 'Expect:' -T "$TOPO_DIR/blob" \
		"http://$host:8080/up") || fail "$label: PUT failed"
	assert_same_file "$label: 1 MiB PUT" "$TOPO_DIR/blob" "$TOPO_DIR/www/up"
	assert_eq "$label: PUT sha256 the server computed" "$blob_sha" "$answer"
}
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$out"; }

transfer "IPv4, first connections" $S_IP4
transfer "IPv4, peer known" $S_IP4
transfer "IPv6" "[$S_IP6]"
out=$(C $TOOL echo-clients $S_IP4 7000 --count 20 --size 65536 --timeout 20) ||
	fail "20 echoes: $out"
log "20 echoes of 64 KiB: $out"
daemon_snapshot clientnic
daemon_snapshot servernic
assert_counter flows_taken_over '==' 26
assert_counter flows_fallback '==' 0
assert_snic_counter flows_taken_over '==' 26

for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL reset-time "$host" 9 --timeout 10)
	log "closed port, $host: $out"
	[[ $(field outcome) =~ ^(reset|refused)$ ]] ||
		fail "closed port, $host: expected the connection reset, got outcome '$(field outcome)'"
	log "ok: closed port, $host: connection $(field outcome)"
done

S ip route add blackhole $C_IP4/32
S ip -6 route add blackhole $C_IP6/128
for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL reset-time "$host" 7000 --timeout $((timeout_s * 5)))
	log "silent server, $host: $out"
	assert_eq "silent server, $host: outcome" reset "$(field outcome)"
	# Under valgrind the timers are late by the daemon's slowness; the
	# reset must still come from the box's --syn-timeout, well before
	# the client's own patience.
	assert_between "silent server, $host: ms until reset, --syn-timeout ${timeout_s} s" \
		"$(field end_ms)" $((timeout_s * 1000 - 100)) $((timeout_s * 3000))
done
# The ServerNIC forgets the flows on the ClientNIC's RST to the server.
_snic_forgot() {
	daemon_snapshot servernic
	[ "$(snic_counter flows_reset)" -ge 2 ] || { sleep 0.2; return 1; }
}
wait_until 5 _snic_forgot || true

# vg_stop NAME: SIGTERM, then valgrind's verdict and the exit status.
vg_stop() {
	local name=$1 pidvar pid rc=0 f=$TOPO_DIR/$1.err
	pidvar=$(_dmn_prefix "$name")_PID
	pid=${!pidvar}
	pid_alive "$pid" || { cat "$f" >&2; fail "$name died during the test"; }
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	printf -v "$pidvar" %s ""
	grep -E '^==[0-9]+== +(in use at exit|total heap usage|ERROR SUMMARY|definitely lost|All heap blocks)' "$f" |
		sed "s/^==[0-9]*== */# $name valgrind: /"
	grep -Eq '^==[0-9]+== ERROR SUMMARY: 0 errors' "$f" || {
		grep -E '^==[0-9]+==' "$f" | tail -n 60 >&2
		fail "$name: valgrind found errors: $(grep -E 'ERROR SUMMARY' "$f")"
	}
	log "ok: $name: valgrind ERROR SUMMARY: 0 errors"
	grep -Eq '^==[0-9]+== +definitely lost: 0 bytes|^==[0-9]+== All heap blocks were freed' "$f" || {
		grep -E '^==[0-9]+==' "$f" | tail -n 60 >&2
		fail "$name: valgrind: memory definitely lost, or no leak summary: $(grep -E 'definitely lost' "$f")"
	}
	log "ok: $name: valgrind: definitely lost: 0 bytes"
	[ $rc -eq 0 ] || { tail -n 40 "$f" >&2; fail "$name exited with status $rc after SIGTERM"; }
	log "ok: $name exited 0"
}
vg_stop clientnic
vg_stop servernic

assert_counter flows_taken_over '==' 26
# Early: every connection to a server address and port the peer answered
# for before: the second to fourth to 10.77.0.2:8080, the second to
# [fd77::2]:8080, the silent 10.77.0.2:7000 (learned from the echoes, which
# all start at once, so few if any of them); never to port 9 or to
# [fd77::2]:7000.
assert_counter flows_peer_early '>=' 5
assert_counter flows_refused '==' 2
assert_counter flows_timed_out '==' 2
assert_counter syns_resent '>=' 2
assert_counter flows_fallback '==' 0
assert_snic_counter flows_taken_over '==' 26
assert_snic_counter flows_refused '==' 2
assert_snic_counter flows_reset '==' 2
assert_snic_counter peer_opts_bad '==' 0
