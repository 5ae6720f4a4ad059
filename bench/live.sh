#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Live benchmark in the end-to-end namespace topology (tests/e2e/lib.sh):
#
#   client ns        clientnic ns         wan ns             servernic ns        server ns
#   [c0] ---------- [eth0  BOX  eth1] -- [wan0 br1 wan1] -- [eth0 SNIC eth1] -- [s0]
#   iperf3 -c,                                                                 iperf3 -s,
#   loadgen conn/rr, curl                                                      loadgen server,
#                                                                              HTTP server
#
#   bench/live.sh bridge     bridges in the box, WAN and ServerNIC places
#   bench/live.sh clientnic  the daemon in the box place, bridges elsewhere
#   bench/live.sh pair       build/clientnic and build/servernic in their
#                            places, a bridge in the WAN place: bulk,
#                            connections, latency
#   bench/live.sh clientnic_afpacket, pair_afpacket
#                            the same with --datapath afpacket (every frame
#                            through the daemons); clientnic and pair use
#                            the daemons' default datapath (auto: the
#                            kernel fast path, bpf, where it can be had)
#   bench/live.sh wan        linkem (LIVE_WAN_MS each way) in the WAN place;
#                            a 1 KiB GET's connect() and first byte through
#                            bridges in both box places, the ClientNIC alone,
#                            ClientNIC + ServerNIC and (where curl and the
#                            kernel do it) TCP Fast Open between the
#                            endpoints, all in this one run
#   bench/live.sh h2h        bulk head to head: in one topology the box
#                            places switch between bridges and the daemons
#                            (default datapath) after every iperf3 run, so
#                            each daemon run has a bridge run next to it;
#                            per setting the median of the paired ratios
#                            (LIVE_H2H_PAIRS pairs, default 5, of
#                            LIVE_H2H_SECONDS runs, default 3), the
#                            ClientNIC alone, then the pair; bulk (offloads
#                            on and off, 1 and 4 streams), then connections
#                            (as conn_rate)
#
# Prints "live NAME VALUE UNIT" (the run.sh caller files it under the box
# it asked for), or, for `wan`, "live.SETUP NAME VALUE UNIT" with SETUP one
# of bridge, clientnic, pair, tfo. The daemons' setups also print the
# fast path's share of frames over the bulk runs (fastpath.*). The bridge, clientnic and pair runs have
# no delay in the WAN place: the boxes' own cost is what is measured.
#
# Environment: BUILD (binaries), LIVE_SECONDS (per measurement, default 5),
# LIVE_PROFILE=DIR (perf record the daemon during the bulk and connection
# runs and leave the reports in DIR), LIVE_CLIENTNIC_ARGS (more daemon
# options for every run, e.g. "--workers 2"), LIVE_SERVERNIC_ARGS (the
# same for the ServerNIC), LIVE_WAN_MS (one-way delay of the `wan` run,
# default 20), LIVE_REQUESTS (timed GETs per setup in the `wan` run, after
# one untimed; the median is printed; default 7), LIVE_ROUND (the round
# number from run.sh: even rounds take the `wan` setups in reverse order),
# LIVE_BPF_STATS=1 (kernel datapath: after the measured runs, one more
# iperf3 run per offload setting with kernel.bpf_stats_enabled=1, and the
# ns per run of each of the daemons' BPF programs; off by default, the
# statistics cost time on every program run of the machine).
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
source "$here/../tests/e2e/lib.sh"

usage="live.sh bridge|clientnic|clientnic_afpacket|pair|pair_afpacket|wan|h2h"
box=${1:?usage: $usage}
case $box in
bridge | clientnic | pair | wan | h2h) ;;
# The same runs, every frame through the daemons (lib.sh's DATAPATH).
clientnic_afpacket | pair_afpacket)
	DATAPATH=afpacket
	box=${box%_afpacket}
	;;
*) fail "usage: $usage, not '$box'" ;;
esac
bpf_stats=${LIVE_BPF_STATS:-0}
CLIENTNIC_ARGS="${LIVE_CLIENTNIC_ARGS:-} $CLIENTNIC_ARGS"
SERVERNIC_ARGS="${LIVE_SERVERNIC_ARGS:-} $SERVERNIC_ARGS"
secs=${LIVE_SECONDS:-5}
wan_ms=${LIVE_WAN_MS:-20}
requests=${LIVE_REQUESTS:-7}
round=${LIVE_ROUND:-1}
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

# The daemons' CPU together: the ClientNIC's and, in the pair, the
# ServerNIC's.
box_ticks() {
	local t=0 pid
	for pid in $BOX_PID $SNIC_PID; do t=$((t + $(proc_ticks "$pid"))); done
	echo $t
}
# The connection test's server (loadgen server), whose CPU is metered too.
LG_CONN_PID=
srv_ticks() { [ -n "$LG_CONN_PID" ] && proc_ticks "$LG_CONN_PID" || echo 0; }
T_WALL=0 T_BOX=0 T_ALL=0 T_SRV=0
meter_start() {
	T_WALL=$(date +%s%N)
	T_ALL=$(busy_ticks)
	T_BOX=$(box_ticks)
	T_SRV=$(srv_ticks)
}
cores() { # ticks wall_ns -> cores busy on average
	awk -v t="$1" -v hz="$HZ" -v w="$2" 'BEGIN { printf "%.4f", t / hz / (w / 1e9) }'
}
# meter_stop: sets BOX_CORES, ALL_CORES and SRV_CORES, the cores busy on
# average.
meter_stop() {
	local wall
	wall=$(($(date +%s%N) - T_WALL))
	ALL_CORES=$(cores $(($(busy_ticks) - T_ALL)) "$wall")
	BOX_CORES=$(cores $(($(box_ticks) - T_BOX)) "$wall")
	SRV_CORES=$(cores $(($(srv_ticks) - T_SRV)) "$wall")
}

# perf record the daemon for a while in the background (LIVE_PROFILE).
# The ClientNIC, unless PROFILE_PID names another daemon (the pair run
# profiles the ServerNIC, which does the translating there, and names its
# reports PROFILE_PREFIX...).
PERF_PID=
PROFILE_PID=
PROFILE_PREFIX=
profile_start() { # name
	local pid=${PROFILE_PID:-$BOX_PID}
	[ -n "$profile" ] && [ -n "$pid" ] || return 0
	command -v perf >/dev/null || return 0
	perf record -q -g -e cpu-clock -p "$pid" -o "$profile/$1.data" \
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
	local name="${PROFILE_PREFIX}bulk_${1}_${2}" r gbps retr
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
	[ "$box" != bridge ] && emit "cpu_box.offload_$1.streams_$2" \
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
	[ "$box" != bridge ] && emit "cpu_box.$name" \
		"$(awk -v c="$BOX_CORES" -v r="$rate" 'BEGIN { printf "%.2f", 100 * c / (r / 1000) }')" "%core/(1k conn/s)"
	# The endpoints: the client's own figure (us a connection), the
	# server's from its ticks.
	emit "cpu_client.$name" \
		"$(awk -v u="$(kv cpu_us "$out")" 'BEGIN { printf "%.2f", u / 10 }')" "%core/(1k conn/s)"
	emit "cpu_server.$name" \
		"$(awk -v c="$SRV_CORES" -v r="$rate" 'BEGIN { printf "%.2f", 100 * c / (r / 1000) }')" "%core/(1k conn/s)"
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

# ---- the kernel fast path: its share of the frames, its programs' cost

# Which datapath a daemon runs: "bpf" when it found or loaded the tc
# programs, else "afpacket"; a daemon of the default datapath that could
# not have the kernel path says why in a note.
datapath_of() { # name
	if grep -q 'kernel path: tc programs on' "$TOPO_DIR/$1.err" "$TOPO_DIR/$1.log" 2>/dev/null; then
		echo bpf
		return 0
	fi
	echo afpacket
	[ "${DATAPATH:-}" = afpacket ] && return 0
	printf 'note %s run: the %s had no kernel path: %s\n' "$box" "$1" \
		"$(grep -h -m1 'kernel path' "$TOPO_DIR/$1.err" "$TOPO_DIR/$1.log" 2>/dev/null | head -n 1)" >&2
}

# fast_frames NAME: "KERNEL DAEMON" as of now (a SIGUSR1 snapshot): the
# frames the tc programs forwarded (translated or passed as they are) and
# those the daemon received itself, both ports.
fast_frames() {
	local k=0 d=0 c v
	daemon_snapshot "$1"
	# The kernel.* lines come after the one daemon_snapshot waits for.
	sleep 0.2
	for c in kernel.client.translated kernel.client.passed \
		kernel.server.translated kernel.server.passed; do
		v=$(daemon_counter "$1" "$c")
		k=$((k + ${v:-0}))
	done
	for c in frames_in_client frames_in_server; do
		v=$(daemon_counter "$1" "$c")
		d=$((d + ${v:-0}))
	done
	echo "$k $d"
}
FAST0=()
fast_start() { # daemon names...
	local n
	FAST0=()
	for n in "$@"; do FAST0+=("$n $(fast_frames "$n")"); done
}
# fast_stop: fastpath.NAME.share, the kernel's share of the frames since
# fast_start, in %, and the two counts it comes from.
fast_stop() {
	local e n k0 d0 k1 d1 k d
	for e in "${FAST0[@]}"; do
		read -r n k0 d0 <<<"$e"
		read -r k1 d1 <<<"$(fast_frames "$n")"
		k=$((k1 - k0))
		d=$((d1 - d0))
		emit "fastpath.$n.share" \
			"$(awk -v k=$k -v d=$d 'BEGIN { printf "%.2f", (k + d) ? 100 * k / (k + d) : 0 }')" %
		emit "fastpath.$n.kernel_frames" $k frames
		emit "fastpath.$n.daemon_frames" $d frames
	done
}

# The BPF programs a daemon holds (its tc and fanout programs): "id name"
# a line.
bpf_progs() { # pid
	local ids
	ids=$(sed -n 's/^prog_id:[[:space:]]*//p' /proc/"$1"/fdinfo/* 2>/dev/null | sort -un | tr '\n' ' ')
	[ -n "$ids" ] || return 0
	bpftool -j prog show | "$PYTHON" -c '
import json, sys
ids = set(int(i) for i in sys.argv[1].split())
for p in json.load(sys.stdin):
    if p["id"] in ids:
        print(p["id"], p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))' "$ids"
}
# bpf_cost: LIVE_BPF_STATS=1 and a kernel path: one more iperf3 run (one
# stream) per offload setting with the kernel's BPF run-time statistics
# on; bpf.offload_X.DAEMON.PROG.ns_per_run and .runs for each program.
bpf_cost() { # daemon names...
	[ "$bpf_stats" = 1 ] || return 0
	command -v bpftool >/dev/null || { log "no bpftool: no BPF statistics"; return 0; }
	local was off n pid r id name t c t0 c0
	local -A before
	was=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
	for off in on off; do
		topo_offloads $off
		for n in "$@"; do
			pid=$BOX_PID
			[ "$n" = servernic ] && pid=$SNIC_PID
			while read -r id name t c; do before[$n.$id]="$t $c"; done < <(bpf_progs "$pid")
		done
		r=$(iperf_gbps 1)
		emit "bpf.offload_$off.throughput" "${r% *}" Gbit/s
		for n in "$@"; do
			pid=$BOX_PID
			[ "$n" = servernic ] && pid=$SNIC_PID
			while read -r id name t c; do
				read -r t0 c0 <<<"${before[$n.$id]:-0 0}"
				[ $((c - c0)) -gt 0 ] || continue
				emit "bpf.offload_$off.$n.$name.ns_per_run" \
					"$(awk -v t=$((t - t0)) -v c=$((c - c0)) 'BEGIN { printf "%.1f", t / c }')" ns
				emit "bpf.offload_$off.$n.$name.runs" $((c - c0)) count
			done < <(bpf_progs "$pid")
		done
	done
	topo_offloads on
	sysctl -qw kernel.bpf_stats_enabled="$was"
}

# A bridge back in a box's place: the tc programs a daemon leaves on its
# ports (they outlive it) would otherwise forward in front of the bridge.
ports_clear() { # nsfn
	"$1" tc qdisc del dev eth0 clsact 2>/dev/null || true
	"$1" tc qdisc del dev eth1 clsact 2>/dev/null || true
}

# ---- connect() and first byte over a WAN with delay (the `wan` run)

HTTP_PORT=8080
URL=
# The HTTP server of the end-to-end tests (tests/e2e/e2e_tool.py), with
# TCP Fast Open on its listening socket; it changes nothing for a SYN
# that asks for no cookie, so every setup uses the same server.
HTTP_TFO_PY='
import socket, sys
sys.path.insert(0, sys.argv[1])
import e2e_tool

class Server(e2e_tool.DualStackHTTPServer):
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 256)
        super().server_bind()

e2e_tool.HttpHandler.root = sys.argv[3]
Server(("::", int(sys.argv[2])), e2e_tool.HttpHandler).serve_forever()
'

tcpext() { # nsfn field: a TcpExt counter of that namespace
	# shellcheck disable=SC2016 # awk, not shell
	"$1" awk -v f="$2" '$1 == "TcpExt:" {
		if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 }
		else { print (f in col) ? $col[f] : ""; exit } }' /proc/net/netstat
}

median_of() { sort -g | awk '{ v[NR] = $1 } END {
	if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# get SETUP [curl options]: one untimed GET (the cookie for TFO, the
# options cache and the peer for the daemons), then LIVE_REQUESTS timed
# ones, one after the other; prints the medians of connect() and of the
# first byte in ms, as curl sees them (time_connect, time_starttransfer).
get() {
	local setup=$1 i out conn=() fb=()
	shift
	C curl -sS --fail -m 10 -o /dev/null "$@" "$URL" ||
		fail "$setup: warm-up GET failed"
	for i in $(seq "$requests"); do
		out=$(C curl -sS --fail -m 10 -o /dev/null "$@" \
			-w '%{time_connect} %{time_starttransfer} %{size_download}' "$URL") ||
			fail "$setup: GET $i failed"
		[ "${out##* }" = 1024 ] || fail "$setup: GET $i: ${out##* } bytes, not 1024"
		conn+=("$(awk -v t="${out%% *}" 'BEGIN { printf "%.3f", t * 1000 }')")
		out=${out#* }
		fb+=("$(awk -v t="${out%% *}" 'BEGIN { printf "%.3f", t * 1000 }')")
	done
	log "$setup: connect ms ${conn[*]}; first byte ms ${fb[*]}"
	printf 'live.%s wan%s.connect %s ms\n' "$setup" "$wan_ms" \
		"$(printf '%s\n' "${conn[@]}" | median_of)"
	printf 'live.%s wan%s.first_byte %s ms\n' "$setup" "$wan_ms" \
		"$(printf '%s\n' "${fb[@]}" | median_of)"
}

# The kernel bridges in both box places: plain TCP, then TCP Fast Open.
wan_bridges() {
	get bridge
	if ! C curl --help all 2>/dev/null | grep -q -- --tcp-fastopen; then
		log "curl has no --tcp-fastopen: no TFO row"
		return 0
	fi
	local a0 a1 p0 p1
	a0=$(tcpext C TCPFastOpenActive)
	p0=$(tcpext S TCPFastOpenPassive)
	get tfo --tcp-fastopen >"$TOPO_DIR/tfo.rows"
	a1=$(tcpext C TCPFastOpenActive)
	p1=$(tcpext S TCPFastOpenPassive)
	# Only when every timed GET really went out as SYN + data (the warm-up
	# only fetched the cookie) is it a TFO figure.
	if [ -n "$a0" ] && [ -n "$p0" ] && [ $((a1 - a0)) -ge "$requests" ] &&
		[ $((p1 - p0)) -ge "$requests" ]; then
		cat "$TOPO_DIR/tfo.rows"
		printf 'live.tfo wan%s.counter.tfo_active %s count\n' "$wan_ms" $((a1 - a0))
	else
		log "TFO did not happen (active $a0 -> $a1, passive $p0 -> $p1): no TFO row"
		printf 'note TFO row left out: %s of %s GETs went out as SYN + data\n' \
			"$((${a1:-0} - ${a0:-0}))" "$requests"
	fi
}

# ClientNIC + ServerNIC: the untimed GET lets the ClientNIC learn the peer
# (--peer auto); afterwards both daemons stop and their counters show
# that the timed GETs went out early and were taken over.
wan_pair() {
	get pair
	box_stop
	snic_stop
	local c
	for c in flows_peer_early flows_taken_over flows_fallback; do
		printf 'live.pair wan%s.counter.clientnic.%s %s count\n' "$wan_ms" "$c" \
			"$(box_counter "$c")"
	done
	printf 'live.pair wan%s.counter.servernic.flows_taken_over %s count\n' "$wan_ms" \
		"$(snic_counter flows_taken_over)"
}

# Changing what sits in the box places, in the same topology.
box_to_clientnic() { # a fresh daemon (no peer learned) in the ClientNIC's place
	if [ "$TOPO_BOX" = bridge ]; then
		N ip link del br0
		TOPO_BOX=clientnic
		daemon_start clientnic
	else
		box_stop
		daemon_start clientnic
	fi
	topo_wait_path
}
box_to_bridge() {
	box_stop
	ports_clear N
	_bridge N br0 eth0 eth1
	TOPO_BOX=bridge
	topo_wait_path
}
snic_to_servernic() {
	# shellcheck disable=SC2119 # no options: $SERVERNIC_ARGS
	topo_bridge_to_snic
	topo_wait_path
}
snic_to_bridge() { # after snic_stop; the path waits for the box place
	ports_clear P
	_bridge P br2 eth0 eth1
	TOPO_SNIC=bridge
}

main_wan() {
	need_cmd curl
	# shellcheck disable=SC2034 # read by lib.sh
	LINKEM_ARGS="--delay ${wan_ms}ms"
	# Odd rounds go bridges, TFO, ClientNIC, pair; even ones pair,
	# ClientNIC, bridges, TFO, so that drift over the run does not land on
	# one setup only.
	if [ $((round % 2)) = 1 ]; then
		topo_setup bridge linkem bridge
	else
		topo_setup clientnic linkem servernic
	fi
	C sysctl -qw net.ipv4.tcp_fastopen=3
	S sysctl -qw net.ipv4.tcp_fastopen=3
	mkdir "$TOPO_DIR/www"
	head -c 1024 /dev/urandom >"$TOPO_DIR/www/1k.bin"
	spawn S "$TOPO_DIR/http.log" "$PYTHON" -c "$HTTP_TFO_PY" "$E2E_DIR" $HTTP_PORT "$TOPO_DIR/www"
	wait_listen S $HTTP_PORT
	URL=http://$S_IP4:$HTTP_PORT/1k.bin
	if [ $((round % 2)) = 1 ]; then
		wan_bridges
		box_to_clientnic
		get clientnic
		snic_to_servernic
		box_to_clientnic
		wan_pair
	else
		wan_pair
		snic_to_bridge
		box_to_clientnic
		get clientnic
		box_to_bridge
		wan_bridges
	fi
}

# ---- bulk, connections, latency (the bridge, clientnic and pair runs)

servers_start() { # iperf3 and loadgen's servers
	spawn S "$TOPO_DIR/iperf3.log" iperf3 -s -p $IPERF_PORT
	wait_listen S $IPERF_PORT
	spawn S "$TOPO_DIR/lg-conn.log" "$LOADGEN" server --listen "$S_IP4":$CONN_PORT --close-after 100
	LG_CONN_PID=$SPAWNED_PID
	spawn S "$TOPO_DIR/lg-rr.log" "$LOADGEN" server --listen "$S_IP4":$RR_PORT
	wait_listen S $CONN_PORT
	wait_listen S $RR_PORT
	# Many short connections: the whole ephemeral port range. The server
	# closes first, so TIME-WAIT stays on its side and ports are reused.
	C sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
}

# The four iperf3 runs, offloads on and off, 1 and 4 streams; with the
# daemons named, their fast path's share of the frames over them.
bulk_all() { # daemon names...
	[ $# -gt 0 ] && fast_start "$@"
	bulk on 1
	bulk on 4
	topo_offloads off
	bulk off 1
	bulk off 4
	topo_offloads on
	[ $# -gt 0 ] && fast_stop
	return 0
}

main_box() {
	topo_setup "$box" bridge bridge
	[ -n "$profile" ] && mkdir -p "$profile"
	servers_start
	local daemons=
	if [ "$box" = clientnic ]; then
		daemons=clientnic
		log "clientnic datapath: $(datapath_of clientnic)"
	fi

	rr_latency
	conn_rate conn
	# shellcheck disable=SC2086 # none or one name
	bulk_all $daemons
	# shellcheck disable=SC2086
	[ -n "$daemons" ] && [ "$(datapath_of clientnic)" = bpf ] && bpf_cost $daemons
	# The daemon logs an event line per connection by default; how much of
	# the connection rate that costs (the default datapath only). (The
	# bridge simply runs it again.)
	if [ "${DATAPATH:-}" != afpacket ]; then
		# shellcheck disable=SC2086 # options, split on purpose
		topo_box_restart $CLIENTNIC_ARGS --log-level warn
		conn_rate conn_nolog
	fi

	if [ "$box" = clientnic ]; then
		box_stop
		for c in flows_created frames_rewritten passed_table_full flows_evicted \
			frames_buffered; do
			v=$(box_counter "$c")
			[ -n "$v" ] && emit "counter.$c" "$v" count
		done
	fi
	return 0
}

# ClientNIC + ServerNIC, a bridge between them, against the bridge run's
# figures (run.sh files them under "pair").
main_pair() {
	topo_setup clientnic bridge servernic
	[ -n "$profile" ] && mkdir -p "$profile"
	PROFILE_PID=$SNIC_PID
	PROFILE_PREFIX=pair_servernic_
	servers_start
	log "pair datapath: clientnic $(datapath_of clientnic), servernic $(datapath_of servernic)"
	rr_latency
	conn_rate conn
	bulk_all clientnic servernic
	[ "$(datapath_of servernic)" = bpf ] && bpf_cost clientnic servernic
	box_stop
	snic_stop
	local c v
	for c in flows_taken_over frames_rewritten; do
		v=$(box_counter "$c")
		[ -n "$v" ] && emit "counter.clientnic.$c" "$v" count
		v=$(snic_counter "$c")
		[ -n "$v" ] && emit "counter.servernic.$c" "$v" count
	done
	return 0
}

# ---- bulk head to head (h2h) ----------------------------------------------

# On a shared machine one iperf3 run can come out at half or twice another
# of the same setup a minute later (4 streams on 2 cores here: 6.4 to 15.5
# Gbit/s through the same kernel path). Runs taken in pairs, a daemon run
# next to a bridge run, compare like with like; the median of the pairs'
# ratios is the figure.
H2H_STATE=
h2h_to() { # bridge|clientnic|pair
	[ "$H2H_STATE" = "$1" ] && return 0
	case $1 in
	bridge)
		[ "$TOPO_SNIC" = servernic ] && { snic_stop; snic_to_bridge; }
		[ "$TOPO_BOX" = bridge ] || box_to_bridge
		;;
	clientnic)
		[ "$TOPO_SNIC" = servernic ] && { snic_stop; snic_to_bridge; }
		box_to_clientnic
		;;
	pair)
		[ "$TOPO_BOX" = bridge ] && box_to_clientnic
		snic_to_servernic
		;;
	esac
	H2H_STATE=$1
}
h2h_run() { # streams|conn -> Gbit/s, or connections/s
	local r
	if [ "$1" = conn ]; then
		r=$(C "$LOADGEN" conn --connect "$S_IP4":$CONN_PORT --conns 64 --size 100 --seconds "$secs")
		kv rate "$r"
		return 0
	fi
	r=$(iperf_gbps "$1")
	echo "${r% *}"
}
h2h_setting() { # setup figure streams|conn unit
	local setup=$1 fig=$2 what=$3 unit=$4 i g b ratios=() boxes=() bridges=()
	for i in $(seq "$h2h_pairs"); do
		# One switch per pair: the order alternates by itself.
		if [ "$H2H_STATE" = bridge ]; then
			b=$(h2h_run "$what")
			h2h_to "$setup"
			g=$(h2h_run "$what")
		else
			h2h_to "$setup"
			g=$(h2h_run "$what")
			h2h_to bridge
			b=$(h2h_run "$what")
		fi
		log "h2h $setup $fig, pair $i: $g vs bridges $b $unit"
		boxes+=("$g")
		bridges+=("$b")
		ratios+=("$(awk -v g="$g" -v b="$b" 'BEGIN { printf "%.4f", (b > 0 ? g / b : 0) }')")
	done
	emit "$setup.$fig.ratio" \
		"$(printf '%s\n' "${ratios[@]}" | median_of)" "x (median of $h2h_pairs paired runs)"
	emit "$setup.$fig.value" "$(printf '%s\n' "${boxes[@]}" | median_of)" "$unit"
	emit "$setup.$fig.bridge" "$(printf '%s\n' "${bridges[@]}" | median_of)" "$unit"
	emit "$setup.$fig.ratio_min" "$(printf '%s\n' "${ratios[@]}" | sort -g | head -n 1)" x
	emit "$setup.$fig.ratio_max" "$(printf '%s\n' "${ratios[@]}" | sort -g | tail -n 1)" x
}
main_h2h() {
	secs=${LIVE_H2H_SECONDS:-3}
	h2h_pairs=${LIVE_H2H_PAIRS:-5}
	topo_setup clientnic bridge bridge
	H2H_STATE=clientnic
	servers_start
	log "clientnic datapath: $(datapath_of clientnic)"
	local setup off streams
	for setup in clientnic pair; do
		for off in on off; do
			topo_offloads "$off"
			for streams in 1 4; do
				h2h_setting "$setup" "throughput.offload_$off.streams_$streams" \
					"$streams" Gbit/s
			done
		done
		topo_offloads on
		h2h_setting "$setup" conn conn conn/s
	done
	h2h_to bridge
	return 0
}

case $box in
bridge | clientnic) main_box ;;
pair) main_pair ;;
wan) main_wan ;;
h2h) main_h2h ;;
esac
exit 0
