#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make soak: many echo connections of mixed sizes through a bad WAN, first
# through kernel bridges, then through the boxes, in one namespace topology
# (tests/e2e/lib.sh):
#
#   client ns        clientnic ns         wan ns                servernic ns        server ns
#   [c0] ---------- [eth0  BOX  eth1] -- [wan0 linkem wan1] -- [eth0 SNIC eth1] -- [s0]
#   e2e_tool                              loss, reordering,                         e2e_tool
#   echo-soak                             duplication, delay                        echo-server
#                                         both ways
#
#   bench/soak.sh [clientnic|pair|both]   (default: $SOAK_MODE, else both)
#
#   bridge     kernel bridges in both box places: the baseline, always run
#   clientnic  build/clientnic in its place, a bridge in the ServerNIC's
#   pair       build/clientnic and build/servernic in their places
#
# Every setup runs the same connections (one seed: the same sizes and
# bytes): SOAK_COUNT of them, SOAK_CONCURRENCY at a time, 0 B to
# SOAK_MAX_SIZE B each (log-uniform, some empty). A connection is ok (every
# byte back in order), bad (other bytes back: wrong, short, long), hung (not
# done within SOAK_TIMEOUT s) or an error (reset, refused). After each
# daemon setup, the daemons (--close-grace 1) must drain their flow tables:
# flows_active and buffered_bytes back to 0 on SIGUSR1 counters, and the
# server must hold no connection its client no longer has.
#
# Passes (exit 0) when every setup has zero bad, zero hung, zero errors and
# the tables drained; the bridge run is held to the same (a failure there
# is the topology's or the test's, not the box's, and says so).
#
# Environment: BUILD, CLIENTNIC_BIN, SERVERNIC_BIN (see lib.sh); SOAK_MODE,
# SOAK_COUNT (1000), SOAK_CONCURRENCY (32), SOAK_MAX_SIZE (2097152),
# SOAK_TIMEOUT (60), SOAK_SEED (default: the pid), SOAK_WAN (linkem options,
# default "--delay 5ms --loss 0.01 --reorder 0.01 --dup 0.005", both
# directions), SOAK_CLOSE_GRACE (1), SOAK_DRAIN_SECONDS (how long a table
# may take to drain after the last connection, default 15),
# CLIENTNIC_ARGS / SERVERNIC_ARGS (more daemon options).
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
source "$here/../tests/e2e/lib.sh"

mode=${1:-${SOAK_MODE:-both}}
case $mode in
clientnic | pair | both) ;;
*) fail "usage: soak.sh [clientnic|pair|both], not '$mode'" ;;
esac
count=${SOAK_COUNT:-1000}
conc=${SOAK_CONCURRENCY:-32}
max_size=${SOAK_MAX_SIZE:-2097152}
timeout_s=${SOAK_TIMEOUT:-60}
seed=${SOAK_SEED:-$$}
grace=${SOAK_CLOSE_GRACE:-1}
drain_s=${SOAK_DRAIN_SECONDS:-15}
wan=${SOAK_WAN:---delay 5ms --loss 0.01 --reorder 0.01 --dup 0.005}
PORT=7000

CLIENTNIC_ARGS="--close-grace $grace $CLIENTNIC_ARGS"
SERVERNIC_ARGS="--close-grace $grace $SERVERNIC_ARGS"

say() { printf 'soak: %s\n' "$*"; }
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | tail -n 1; }

# linkem's counters so far, per direction: "lost dup reord" for a2b then b2a.
LINKEM_STATS=
linkem_stats() {
	local before
	before=$(stat -c %Y.%s "$LINKEM_STATS" 2>/dev/null || echo none)
	kill -USR1 "$LINKEM_PID"
	# shellcheck disable=SC2016
	wait_until 5 sh -c '[ "$(stat -c %Y.%s "$1" 2>/dev/null)" != "$2" ]' _ "$LINKEM_STATS" "$before" ||
		true
	"$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%d %d %d" % (d[k]["lost"], d[k]["duplicated"], d[k]["reordered"])
               for k in ("a2b", "b2a")))' "$LINKEM_STATS"
}

# Every counter the drain check wants, from a fresh SIGUSR1 snapshot.
_drained() { # daemon...
	local d
	for d in "$@"; do
		daemon_snapshot "$d"
		[ "$(daemon_counter "$d" flows_active)" = 0 ] &&
			[ "$(daemon_counter "$d" buffered_bytes)" = 0 ] || return 1
	done
}
_server_clear() {
	[ -z "$(S ss -Htn state established state syn-recv "( sport = :$PORT )")" ]
}

RESULTS=()
FAILED=()
# run SETUP DAEMON...: the soak through what sits in the box places now.
run() {
	local setup=$1 out rc=0 l0 l1 drain="-" t0 left
	shift
	say "$setup: $count connections, $conc at a time, 0-$max_size B, seed $seed"
	l0=$(linkem_stats)
	# shellcheck disable=SC2086 # $TOOL is a command line
	out=$(C $TOOL echo-soak $S_IP4 $PORT --count "$count" --concurrency "$conc" \
		--max-size "$max_size" --seed "$seed" --timeout "$timeout_s" \
		2>"$TOPO_DIR/soak-$setup.err") || rc=$?
	l1=$(linkem_stats)
	sed 's/^/soak:   /' "$TOPO_DIR/soak-$setup.err"
	[ -n "$out" ] || fail "$setup: echo-soak printed nothing (exit $rc)"
	say "$setup: $out"
	local -a a b
	read -ra a <<<"$l0"
	read -ra b <<<"$l1"
	say "$setup: linkem towards the server lost $((b[0] - a[0])) duplicated $((b[1] - a[1]))" \
		"reordered $((b[2] - a[2])); towards the client lost $((b[3] - a[3]))" \
		"duplicated $((b[4] - a[4])) reordered $((b[5] - a[5])) frames"

	# The daemons' tables, once the close grace has passed.
	if [ $# -gt 0 ]; then
		t0=$(date +%s%N)
		if wait_until "$drain_s" _drained "$@"; then
			drain=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
			say "$setup: drained ${drain} s after the last connection: flows_active 0, buffered_bytes 0 ($*)"
		else
			drain=no
			local d
			for d in "$@"; do
				daemon_snapshot "$d"
				say "$setup: $d NOT drained after $drain_s s: flows_active $(daemon_counter "$d" flows_active)," \
					"buffered_bytes $(daemon_counter "$d" buffered_bytes)"
			done
		fi
	fi
	if ! wait_until 10 _server_clear; then
		left=$(S ss -Htn state established state syn-recv "( sport = :$PORT )" | wc -l)
		say "$setup: $left connections left at the server (established or half-open)"
		drain=no
	fi

	local row
	row="$setup $(kv count "$out") $(kv ok "$out") $(kv bad "$out") $(kv hung "$out")"
	row+=" $(($(kv resets "$out") + $(kv errors "$out"))) $(kv connect_p50_ms "$out")"
	row+=" $(kv connect_p99_ms "$out") $(kv done_p50_ms "$out") $(kv done_p99_ms "$out")"
	row+=" $(awk -v e="$(kv elapsed_ms "$out")" 'BEGIN { printf "%.1f", e / 1000 }') $drain"
	RESULTS+=("$row")
	if [ "$(kv ok "$out")" != "$count" ] || [ "$drain" = no ]; then
		FAILED+=("$setup")
	fi
}

# The daemons' counters of this setup, on one line.
counters() { # daemon counter...
	local d=$1 c line=
	shift
	daemon_snapshot "$d"
	for c in "$@"; do line+="$c=$(daemon_counter "$d" "$c") "; done
	say "  $d: $line"
}

need_root
need_bin linkem
need_bin clientnic
[ "$mode" = clientnic ] || need_bin servernic
# linkem comes into the WAN place once the topology's folder exists, so
# that its stats file (read after every setup) lands there.
topo_setup bridge bridge bridge
LINKEM_STATS=$TOPO_DIR/linkem.json
# shellcheck disable=SC2034 # read by lib.sh
LINKEM_ARGS="$wan --seed $seed --stats-file $LINKEM_STATS"
W ip link del br1
TOPO_WAN=linkem
_wan_start
topo_wait_path
# Tens of connections at a time, each a new 4-tuple: plenty of ports.
C sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
# shellcheck disable=SC2086 # $TOOL is a command line
spawn S "$TOPO_DIR/echo.log" $TOOL echo-server $PORT
wait_listen S $PORT
say "wan: linkem $wan, both directions, seed $seed; daemons with --close-grace $grace"

run bridge
if [ "$mode" != pair ]; then
	topo_from_bridge clientnic
	topo_wait_path
	run clientnic clientnic
	counters clientnic flows_created flows_closed flows_replaced flows_reset flows_evicted \
		flows_timed_out passed_table_full syns_resent frames_held_dup rst_out_of_window
fi
if [ "$mode" != clientnic ]; then
	# A fresh ClientNIC with the ServerNIC, so that the counters are the
	# pair's own.
	topo_from_bridge servernic
	if [ "$TOPO_BOX" = clientnic ]; then
		topo_box_restart "$CLIENTNIC_ARGS"
	else
		topo_from_bridge clientnic
	fi
	topo_wait_path
	run pair clientnic servernic
	counters clientnic flows_created flows_taken_over flows_peer_early flows_fallback \
		flows_closed flows_replaced flows_reset flows_evicted flows_timed_out \
		passed_table_full syns_resent
	counters servernic flows_created flows_taken_over flows_closed flows_replaced \
		flows_reset flows_evicted flows_timed_out synacks_resent
fi
box_stop
snic_stop

printf '\nsoak: %s connections per setup, %s at a time, 0-%s B; linkem %s both ways\n' \
	"$count" "$conc" "$max_size" "$wan"
printf '%-10s %6s %6s %4s %5s %7s %19s %19s %9s %8s\n' setup conns ok bad hung errors \
	"connect p50/p99 ms" "done p50/p99 ms" elapsed drained
for r in "${RESULTS[@]}"; do
	read -r s n ok bad hung err cp50 cp99 dp50 dp99 el dr <<<"$r"
	[ "$dr" = "-" ] || [ "$dr" = no ] || dr="${dr} s"
	printf '%-10s %6s %6s %4s %5s %7s %19s %19s %8ss %8s\n' "$s" "$n" "$ok" "$bad" "$hung" \
		"$err" "$cp50 / $cp99" "$dp50 / $dp99" "$el" "$dr"
done
if [ ${#FAILED[@]} -gt 0 ]; then
	say "FAIL: ${FAILED[*]}"
	exit 1
fi
say "PASS: zero bad, zero hung, zero errors, tables drained"
