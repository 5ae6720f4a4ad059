#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Live benchmark in the end-to-end namespace topology (tests/e2e/lib.sh):
#
#   client ns        clientnic ns         wan ns             servernic ns        server ns
#   [c0] ---------- [eth0  BOX  eth1] -- [wan0 br1 wan1] -- [eth0 br2 eth1] -- [s0]
#   iperf3 -c,                                                                 iperf3 -s,
#   loadgen conn/rr                                                            loadgen server
#
# BOX is the daemon (clientnic) or, as the baseline, a Linux bridge; the
# WAN namespace is always a plain bridge (no delay: the box's own cost is
# what is measured), and so, for now, is the ServerNIC's place.
#
#   bench/live.sh BOX        measure one box; prints "live NAME VALUE UNIT"
#
# Environment: BUILD (binaries), LIVE_SECONDS (per measurement, default 5),
# LIVE_PROFILE=DIR (perf record the daemon during the bulk and connection
# runs and leave the reports in DIR), LIVE_CLIENTNIC_ARGS (more daemon
# options for every run, e.g. "--workers 2").
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
source "$here/../tests/e2e/lib.sh"

box=${1:?usage: live.sh clientnic|bridge}
CLIENTNIC_ARGS="${LIVE_CLIENTNIC_ARGS:-} $CLIENTNIC_ARGS"
secs=${LIVE_SECONDS:-5}
profile=${LIVE_PROFILE:-}
LOADGEN=$BUILD/bench/loadgen
IPERF_PORT=5201
CONN_PORT=7000
RR_PORT=7001

need_cmd iperf3 awk
[ -x "$LOADGEN" ] || skip "$LOADGEN is not built (make bench)"

emit() { printf 'live %s %s %s\n' "$1" "$2" "$3"; }

# CPU ticks (user + system) of a process, and of the whole machine
# (busy: everything but idle and iowait).
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
HZ=$(getconf CLK_TCK)

T_WALL=0 T_BOX=0 T_ALL=0
meter_start() {
	T_WALL=$(date +%s%N)
	T_ALL=$(busy_ticks)
	T_BOX=0
	[ -n "$BOX_PID" ] && T_BOX=$(proc_ticks "$BOX_PID")
	return 0
}
# meter_stop: sets BOX_CORES and ALL_CORES, the cores busy on average.
meter_stop() {
	local wall all bx=0
	wall=$(($(date +%s%N) - T_WALL))
	all=$(($(busy_ticks) - T_ALL))
	[ -n "$BOX_PID" ] && bx=$(($(proc_ticks "$BOX_PID") - T_BOX))
	BOX_CORES=$(awk -v t="$bx" -v hz="$HZ" -v w="$wall" 'BEGIN { printf "%.4f", t / hz / (w / 1e9) }')
	ALL_CORES=$(awk -v t="$all" -v hz="$HZ" -v w="$wall" 'BEGIN { printf "%.4f", t / hz / (w / 1e9) }')
}

# perf record the daemon for a while in the background (LIVE_PROFILE).
PERF_PID=
profile_start() { # name
	[ -n "$profile" ] && [ -n "$BOX_PID" ] || return 0
	command -v perf >/dev/null || return 0
	perf record -q -g -e cpu-clock -p "$BOX_PID" -o "$profile/$1.data" \
		-- sleep "$((secs - 1))" >/dev/null 2>&1 &
	PERF_PID=$!
}
profile_stop() { # name
	[ -n "$PERF_PID" ] || return 0
	wait "$PERF_PID" || true
	PERF_PID=
	perf report -q --no-children --stdio -i "$profile/$1.data" \
		--percent-limit 1 -g none >"$profile/$1.txt" 2>/dev/null || true
	perf report -q --children --stdio -i "$profile/$1.data" \
		--percent-limit 3 -g none >"$profile/$1.children.txt" 2>/dev/null || true
}

iperf_gbps() { # streams -> Gbit/s received by the server
	local out
	out=$(C iperf3 -c "$S_IP4" -p $IPERF_PORT -t "$secs" -O 1 -P "$1" -J)
	printf '%s' "$out" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
e = d["end"]
print("%.3f %d" % (e["sum_received"]["bits_per_second"] / 1e9,
                   e["sum_sent"].get("retransmits", 0)))'
}

bulk() { # offloads streams
	local name="bulk_${1}_${2}" r gbps retr
	profile_start "$name"
	meter_start
	r=$(iperf_gbps "$2")
	meter_stop
	profile_stop "$name"
	gbps=${r% *}
	retr=${r#* }
	emit "throughput.offload_$1.streams_$2" "$gbps" Gbit/s
	emit "retransmits.offload_$1.streams_$2" "$retr" segments
	emit "cpu_all.offload_$1.streams_$2" \
		"$(awk -v c="$ALL_CORES" -v g="$gbps" 'BEGIN { printf "%.2f", 100 * c / g }')" "%core/(Gbit/s)"
	[ "$box" = clientnic ] && emit "cpu_box.offload_$1.streams_$2" \
		"$(awk -v c="$BOX_CORES" -v g="$gbps" 'BEGIN { printf "%.2f", 100 * c / g }')" "%core/(Gbit/s)"
	return 0
}

kv() { # key line
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

conn_rate() { # figure-name prefix
	local out rate name=$1
	profile_start "$name"
	meter_start
	out=$(C "$LOADGEN" conn --connect "$S_IP4":$CONN_PORT --conns 64 --size 100 --seconds "$secs")
	meter_stop
	profile_stop "$name"
	log "loadgen: $out"
	rate=$(kv rate "$out")
	emit "$name.rate" "$rate" conn/s
	emit "$name.p50" "$(kv p50_us "$out")" us
	emit "$name.p99" "$(kv p99_us "$out")" us
	emit "$name.errors" "$(kv errors "$out")" errors
	emit "cpu_all.$name" \
		"$(awk -v c="$ALL_CORES" -v r="$rate" 'BEGIN { printf "%.2f", 100 * c / (r / 1000) }')" "%core/(1k conn/s)"
	[ "$box" = clientnic ] && emit "cpu_box.$name" \
		"$(awk -v c="$BOX_CORES" -v r="$rate" 'BEGIN { printf "%.2f", 100 * c / (r / 1000) }')" "%core/(1k conn/s)"
	return 0
}

rr_latency() {
	local out
	out=$(C "$LOADGEN" rr --connect "$S_IP4":$RR_PORT --conns 1 --seconds "$secs")
	log "loadgen: $out"
	emit rr.p50 "$(kv p50_us "$out")" us
	emit rr.p99 "$(kv p99_us "$out")" us
	emit rr.rate "$(kv rate "$out")" trans/s
}

topo_setup "$box" bridge bridge
[ -n "$profile" ] && mkdir -p "$profile"
spawn S "$TOPO_DIR/iperf3.log" iperf3 -s -p $IPERF_PORT
spawn S "$TOPO_DIR/lg-conn.log" "$LOADGEN" server --listen "$S_IP4":$CONN_PORT --close-after 100
spawn S "$TOPO_DIR/lg-rr.log" "$LOADGEN" server --listen "$S_IP4":$RR_PORT
wait_listen S $IPERF_PORT
wait_listen S $CONN_PORT
wait_listen S $RR_PORT
# Many short connections: the whole ephemeral port range. The server
# closes first, so TIME-WAIT stays on its side and ports are reused.
C sysctl -qw net.ipv4.ip_local_port_range="1024 65535"

rr_latency
conn_rate conn
bulk on 1
bulk on 4
topo_offloads off
bulk off 1
bulk off 4
topo_offloads on
# The daemon logs an event line per connection by default; how much of
# the connection rate that costs. (The bridge simply runs it again.)
# shellcheck disable=SC2086 # options, split on purpose
topo_box_restart $CLIENTNIC_ARGS --log-level warn
conn_rate conn_nolog

if [ "$box" = clientnic ]; then
	box_stop
	for c in flows_created frames_rewritten passed_table_full flows_evicted \
		frames_buffered; do
		v=$(box_counter "$c")
		[ -n "$v" ] && emit "counter.$c" "$v" count
	done
fi
exit 0
