#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: the engine benchmark, instructions per frame, then the live
# benchmark in rounds, each one run of every setup on the same topology:
# kernel bridges, the ClientNIC and ClientNIC + ServerNIC, each with the
# default datapath (the kernel fast path) and with --datapath afpacket,
# and over a WAN with delay the first byte through bridges, the daemons
# (default datapath) and TCP Fast Open;
# then, once, bulk head to head (daemon and bridge runs in pairs, live.sh
# h2h) and a SYN flood through a bridge and the ClientNIC (flood.sh).
# Prints one table and writes it as JSON to bench/results/latest.json
# (BENCH_OUT overrides). Figures only: nothing here passes or fails on a
# number.
#
# Environment: B (build dir, as for make), BENCH_FRAMES (frames per engine
# run, default 1000000), BENCH_RUNS (default 5), LIVE_SECONDS (default 5),
# LIVE_ROUNDS (rounds of all live setups, alternating; medians; default 3),
# LIVE_WAN_MS, LIVE_REQUESTS (the WAN run, see live.sh), BENCH_LIVE=0
# (engine only), LIVE_PROFILE=DIR (perf profiles of the daemon),
# LIVE_BPF_STATS=1 (ns per run of the kernel path's BPF programs, see
# live.sh), LIVE_SETUPS (the box setups of a round, default all five:
# "bridge clientnic clientnic_afpacket pair pair_afpacket"),
# BENCH_H2H=0 (no bulk head to head; LIVE_H2H_PAIRS, LIVE_H2H_SECONDS: see
# live.sh), BENCH_FLOOD=0 (no SYN flood), FLOOD_SECONDS, FLOOD_RATE,
# FLOOD_VARIANTS (see flood.sh).
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${B:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
bin=$build/bench
out=${BENCH_OUT:-$here/results/latest.json}
frames=${BENCH_FRAMES:-1000000}
runs=${BENCH_RUNS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/cn-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
raw=$work/raw.txt
: >"$raw"

say() { printf 'bench: %s\n' "$*" >&2; }
note() { printf 'note %s\n' "$*" >>"$raw"; }

# ---- engine, in process ---------------------------------------------------
say "engine: $runs runs x $frames frames per scenario and flow count"
# One scenario at a time: a failed check (the benchmark refuses to print a
# figure for a trace the engine did not handle as expected) costs that
# scenario's figures only, and the rest of the run goes on.
engine() { # what engine_bench-options...
	local what=$1
	shift
	"$bin/engine_bench" "$@" >>"$raw" 2>"$work/engine.err" && return 0
	say "engine: $what failed: $(tail -n 2 "$work/engine.err" | tr '\n' ' ')"
	note "engine $what not measured: $(head -n 1 "$work/engine.err")"
}
for sc in steady handshake passthrough; do
	engine "$sc" --frames "$frames" --runs "$runs" --scenario "$sc"
done
engine memory --memory

# Instructions per frame: the hardware counter where there is one (the
# engine benchmark reads it itself), else callgrind's count of the replay.
if grep -q instructions_per_frame "$raw"; then
	note "instructions: hardware counter (perf_event_open)"
elif command -v valgrind >/dev/null; then
	note "instructions: no hardware counter here; counted by callgrind (1k flows)"
	say "engine: instructions per frame under callgrind"
	for sc in steady handshake passthrough; do
		cg=$work/cg.$sc
		valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$cg" \
			"$bin/engine_bench" --frames 50000 --runs 1 --scenario "$sc" \
			--flows 1000 >/dev/null 2>&1 || continue
		ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$cg" | head -1)
		[ -n "$ir" ] && awk -v ir="$ir" -v sc="$sc" 'BEGIN {
			printf "result engine.%s.1k.instructions_per_frame %.0f instr/frame\n", sc, ir / 50000 }' >>"$raw"
	done
else
	note "instructions: not available (no hardware counter, no valgrind)"
fi

# ---- live, in network namespaces -------------------------------------------
live() { # box|flood round
	local rc=0 script=$here/live.sh
	case $1 in
	wan) say "live: wan (${LIVE_WAN_MS:-20} ms each way; GETs through every setup)" ;;
	flood)
		say "live: SYN flood (bridge and ClientNIC, answered and silent, ${FLOOD_SECONDS:-8} s each)"
		script=$here/flood.sh
		;;
	*) say "live: $1 (a few ${LIVE_SECONDS:-5} s measurements)" ;;
	esac
	LIVE_ROUND=$2 BUILD=$build bash "$script" "$1" >"$work/live.$1" 2>&1 || rc=$?
	case $rc in
	# "live NAME ..." is the box's; the wan run names each line's setup
	# itself ("live.SETUP NAME ...").
	0) sed -n -e "s/^live /live.$1 /p" -e t -e '/^live\./p' -e '/^note /p' \
		"$work/live.$1" >>"$raw" ;;
	77) note "live $1 skipped: $(grep -m1 '^SKIP' "$work/live.$1")" ;;
	*)
		tail -n 30 "$work/live.$1" >&2
		note "live $1 failed (exit $rc)"
		;;
	esac
}
# Alternating rounds, so that a slow minute of the machine does not land on
# one box only; the report takes the median of the rounds. Even rounds take
# the box setups in reverse order (drift over the run then spreads over all
# of them), the WAN run last in every round.
setups=${LIVE_SETUPS:-bridge clientnic clientnic_afpacket pair pair_afpacket}
if [ "${BENCH_LIVE:-1}" = 1 ]; then
	for round in $(seq "${LIVE_ROUNDS:-3}"); do
		say "live: round $round of ${LIVE_ROUNDS:-3}"
		order=$setups
		# shellcheck disable=SC2086 # a list, split on purpose
		[ $((round % 2)) = 0 ] && order=$(printf '%s\n' $setups | tac | tr '\n' ' ')
		for s in $order; do live "$s" "$round"; done
		live wan "$round"
	done
	# Once, pairs of runs of its own: bulk head to head.
	if [ "${BENCH_H2H:-1}" = 1 ]; then live h2h 1; fi
	# Once: a flood is not a figure to take the median of, and it is long.
	if [ "${BENCH_FLOOD:-1}" = 1 ]; then live flood 1; fi
fi

# ---- table and JSON --------------------------------------------------------
mkdir -p "$(dirname "$out")"
python3 "$here/report.py" "$raw" "$out"
say "wrote $out"
