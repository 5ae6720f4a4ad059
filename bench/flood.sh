#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# SYN flood through the box place, against a kernel bridge in the same
# place, in the end-to-end topology (tests/e2e/lib.sh), bridges in the WAN
# and ServerNIC places (no delay: the box's own cost is measured):
#
#   client ns                       clientnic ns        wan, servernic ns    server ns
#   [c0] loadgen synflood  ------- [eth0 BOX eth1] ---- bridges ---------- [s0] loadgen server
#        e2e_tool connect-loop                                                  (port 7100)
#
# loadgen synflood sends SYNs to the server's port from random addresses of
# 198.18.0.0/15 and random ports, as fast as it goes, out of c0 with a MAC
# of its own (02:77:00:00:00:66); meanwhile 8 real clients (10.77.0.1)
# connect over and over (e2e_tool connect-loop --parallel 8: connect, 100 B
# echoed, 3 s timeout, 20 ms pause). Two variants, each through a bridge
# and a fresh ClientNIC (its defaults: --max-flows 65536):
#
#   answered  the server routes 198.18.0.0/15 back through the box (via a
#             gateway whose MAC is the flood's): it answers every SYN, as a
#             server would whose SYN-ACKs to those sources cross the box
#   silent    the server has no route back: no SYN is ever answered (sources
#             elsewhere on the Internet, or a dead server)
#
# Each phase: a fresh server (and a fresh daemon), FLOOD_SECONDS of flood
# with the real clients connecting from 0.5 s on, then, 2 s after the
# flood, one more second of real clients (after.*): what the flood left.
# Prints "live.SETUP flood.VARIANT.NAME VALUE UNIT" (SETUP bridge or
# clientnic) for bench/report.py, and notes; docs/benchmarks.md (SYN flood)
# says what each figure is.
#
# Environment: BUILD, FLOOD_SECONDS (per phase, default 8), FLOOD_RATE
# (SYNs a second, default 0: the generator's full rate), FLOOD_VARIANTS
# (default "answered silent"), LIVE_CLIENTNIC_ARGS (more daemon options).
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
source "$here/../tests/e2e/lib.sh"

CLIENTNIC_ARGS="${LIVE_CLIENTNIC_ARGS:-} $CLIENTNIC_ARGS"
secs=${FLOOD_SECONDS:-8}
rate=${FLOOD_RATE:-0}
variants=${FLOOD_VARIANTS:-answered silent}
LOADGEN=$BUILD/bench/loadgen
PORT=7100
FLOOD_NET=198.18.0.0/15
FLOOD_MAC=02:77:00:00:00:66
GW_IP=10.77.0.254

[ -x "$LOADGEN" ] || skip "$LOADGEN is not built (make bench)"
need_root
need_bin clientnic

# A figure; none where there is nothing to take it from (percentiles of no
# successful connection are -1).
emit() {
	case $4 in -1 | -1.00 | "") return 0 ;; esac
	printf 'live.%s flood.%s.%s %s %s\n' "$1" "$2" "$3" "$4" "$5"
}
note() { printf 'note %s\n' "$*"; }
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | tail -n 1; }
ifstat() { # nsfn dev counter
	"$1" cat "/sys/class/net/$2/statistics/$3"
}
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
vm_kib() { # pid field: VmRSS, VmHWM... in KiB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

server_start() {
	spawn S "$TOPO_DIR/server.log" "$LOADGEN" server --listen "$S_IP4:$PORT"
	SERVER_PID=$SPAWNED_PID
	wait_listen S $PORT
}
# A fresh server for each phase: the connections a phase left at the
# server (the answered flood through the box) go with it.
server_restart() {
	stop_pid "$SERVER_PID" TERM
	server_start
}

variant_routes() { # answered|silent
	S ip route del $FLOOD_NET 2>/dev/null || true
	if [ "$1" = answered ]; then
		S ip neigh replace $GW_IP lladdr $FLOOD_MAC dev s0 nud permanent
		S ip route add $FLOOD_NET via $GW_IP dev s0
	fi
}

to_clientnic() {
	if [ "$TOPO_BOX" = bridge ]; then
		topo_from_bridge clientnic
	else
		box_stop
		daemon_start clientnic
	fi
	topo_wait_path
}
to_bridge() {
	[ "$TOPO_BOX" = bridge ] && return 0
	box_stop
	# The daemon's kernel path outlives it: off the ports, or its tc
	# programs would forward in front of the bridge.
	N tc qdisc del dev eth0 clsact 2>/dev/null || true
	N tc qdisc del dev eth1 clsact 2>/dev/null || true
	_bridge N br0 eth0 eth1
	TOPO_BOX=bridge
	topo_wait_path
}

tcpext() { # nsfn field: a TcpExt counter of that namespace
	# shellcheck disable=SC2016 # awk, not shell
	"$1" awk -v f="$2" '$1 == "TcpExt:" {
		if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 }
		else { print (f in col) ? $col[f] : 0; exit } }' /proc/net/netstat
}
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# legit SECONDS PARALLEL: the real clients, connecting one after another.
legit() {
	# shellcheck disable=SC2086 # $TOOL is a command line
	C $TOOL connect-loop "$S_IP4" $PORT --seconds "$1" --parallel "$2" --size 100 \
		--timeout 3 --interval-ms 20 2>>"$TOPO_DIR/connect-loop.err" ||
		fail "connect-loop failed: $(tail -n 3 "$TOPO_DIR/connect-loop.err")"
}
DAEMON_COUNTERS="frames_in_client flows_created passed_table_full flows_evicted
	flows_established acks_synthesized syns_resent rsts_sent client.rx_kernel_drops"

# phase SETUP VARIANT: one flood with the real clients connecting
# meanwhile, then (2 s after it) for one more second.
phase() {
	local setup=$1 v=$2 out lg after fl s n_in0 n_out0 s_in0 n_in1 n_out1 s_in1 estab
	local rss0=0 hwm t0=0 t1=0 c lo0 lo1
	declare -A c0 c1
	server_restart
	if [ "$setup" = clientnic ]; then
		to_clientnic
		rss0=$(vm_kib "$BOX_PID" VmRSS)
		daemon_snapshot clientnic
		for c in $DAEMON_COUNTERS; do c0[$c]=$(daemon_counter clientnic "$c"); done
		t0=$(proc_ticks "$BOX_PID")
	else
		to_bridge
	fi
	n_in0=$(ifstat N eth0 rx_packets)
	n_out0=$(ifstat N eth1 tx_packets)
	s_in0=$(ifstat S s0 rx_packets)
	lo0=$(tcpext S ListenOverflows)
	spawn C "$TOPO_DIR/flood.out" "$LOADGEN" synflood --connect "$S_IP4:$PORT" --iface c0 \
		--src-mac $FLOOD_MAC --dst-mac $S_MAC --src-net $FLOOD_NET --rate "$rate" \
		--seconds "$secs"
	fl=$SPAWNED_PID
	sleep 0.5
	lg=$(legit "$(awk -v s="$secs" 'BEGIN { print s - 1 }')" 8)
	wait "$fl" || fail "$setup/$v: the flood generator failed: $(cat "$TOPO_DIR/flood.out")"
	out=$(grep '^mode=synflood' "$TOPO_DIR/flood.out") ||
		fail "$setup/$v: no figures from the flood generator: $(cat "$TOPO_DIR/flood.out")"
	s=$(kv seconds "$out")
	n_in1=$(ifstat N eth0 rx_packets)
	n_out1=$(ifstat N eth1 tx_packets)
	s_in1=$(ifstat S s0 rx_packets)
	estab=$(S ss -Htn state established "( sport = :$PORT )" | wc -l)
	lo1=$(tcpext S ListenOverflows)
	if [ "$setup" = clientnic ]; then
		t1=$(proc_ticks "$BOX_PID")
		hwm=$(vm_kib "$BOX_PID" VmHWM)
		daemon_snapshot clientnic
		for c in $DAEMON_COUNTERS; do c1[$c]=$(daemon_counter clientnic "$c"); done
	fi
	log "$setup/$v: flood: $out"
	log "$setup/$v: during: $lg"
	# Once the flood is over: what is left of it for the next clients.
	sleep 2
	after=$(legit 1 4)
	log "$setup/$v: after: $after"

	emit "$setup" "$v" syn_sent_rate "$(kv rate "$out")" SYN/s
	emit "$setup" "$v" box_in_rate "$(per_s $((n_in1 - n_in0)) "$s")" frames/s
	emit "$setup" "$v" box_out_rate "$(per_s $((n_out1 - n_out0)) "$s")" frames/s
	emit "$setup" "$v" server_in_rate "$(per_s $((s_in1 - s_in0)) "$s")" frames/s
	emit "$setup" "$v" server_established "$estab" conns
	emit "$setup" "$v" server_listen_overflows $((lo1 - lo0)) count
	emit "$setup" "$v" legit_success "$(kv success_pct "$lg")" %
	emit "$setup" "$v" legit_tries "$(kv tries "$lg")" conns
	emit "$setup" "$v" legit_connect_p50 "$(kv connect_p50_ms "$lg")" ms
	emit "$setup" "$v" legit_connect_p99 "$(kv connect_p99_ms "$lg")" ms
	emit "$setup" "$v" legit_done_p50 "$(kv done_p50_ms "$lg")" ms
	emit "$setup" "$v" legit_done_p99 "$(kv done_p99_ms "$lg")" ms
	emit "$setup" "$v" after.legit_success "$(kv success_pct "$after")" %
	emit "$setup" "$v" after.legit_done_p50 "$(kv done_p50_ms "$after")" ms
	[ "$setup" = clientnic ] || return 0

	dv() { echo $((c1[$1] - c0[$1])); }
	emit "$setup" "$v" engine_syn_rate "$(per_s "$(dv frames_in_client)" "$s")" frames/s
	emit "$setup" "$v" ring_drop_rate "$(per_s "$(dv client.rx_kernel_drops)" "$s")" frames/s
	emit "$setup" "$v" box_cores "$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v s="$s" \
		'BEGIN { printf "%.2f", t / hz / s }')" cores
	for c in flows_created passed_table_full flows_evicted flows_established acks_synthesized \
		syns_resent rsts_sent; do
		emit "$setup" "$v" "counter.$c" "$(dv "$c")" count
	done
	# The table after the flood, and whether the clients after it were
	# tracked (0-RTT) or passed untracked for want of a slot.
	daemon_snapshot clientnic
	emit "$setup" "$v" after.flows_active "$(daemon_counter clientnic flows_active)" count
	emit "$setup" "$v" after.passed_table_full \
		$(($(daemon_counter clientnic passed_table_full) - c1[passed_table_full])) count
	emit "$setup" "$v" rss_ready "$(mib "$rss0")" MiB
	emit "$setup" "$v" rss_peak "$(mib "$hwm")" MiB
	# The ceiling the configuration sets: what the daemon held when ready
	# (flow table, buckets, options cache; with the kernel path its four
	# receive rings of --rx-ring-bytes and two small ones), two receive
	# rings more (mapped, resident once touched) and every byte
	# --buf-total-bytes lets it keep (early data and the SYNs it keeps for
	# retransmission).
	local rx=8388608 buf=67108864 w
	w=$(sed -n 's/.*--rx-ring-bytes[ =]\([0-9]*\).*/\1/p' <<<"$CLIENTNIC_ARGS")
	if [ -n "$w" ] && [ "$w" != 0 ]; then rx=$w; fi
	w=$(sed -n 's/.*--buf-total-bytes[ =]\([0-9]*\).*/\1/p' <<<"$CLIENTNIC_ARGS")
	if [ -n "$w" ]; then buf=$w; fi
	emit "$setup" "$v" rss_bound "$(mib $((rss0 + (2 * rx + buf) / 1024)))" MiB
}

topo_setup bridge bridge bridge
# The real client's connections are few; the flood's replies never reach
# c0 (they go to the flood's MAC, which c0 drops as another host's).
SERVER_PID=
server_start
for v in $variants; do
	case $v in answered | silent) ;; *) fail "no flood variant '$v'" ;; esac
	variant_routes "$v"
	phase bridge "$v"
	phase clientnic "$v"
done
to_bridge
what="the generator's full rate"
[ "$rate" = 0 ] || what="$rate SYN/s"
note "flood: loadgen synflood from random ${FLOOD_NET} sources at $what, ${secs} s a phase," \
	"8 real clients connecting one after another, 20 ms apart, meanwhile (100 B echoed, 3 s timeout);" \
	"answered: the server routes the sources back through the box; silent: it cannot answer"
exit 0
