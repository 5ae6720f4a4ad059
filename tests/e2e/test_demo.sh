#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo in its quick mode: both boxes measured, the ClientNIC's connect
# on LAN time and the bridge's a WAN round trip, every response byte-exact,
# the box's own log and capture tell the story, the picture is drawn.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl tshark tcpdump python3 sha256sum
need_bin clientnic
need_bin linkem

delay=25
rtt=$((2 * delay))
work=$rtt
OUTD=$(mktemp -d "${TMPDIR:-/tmp}/cn-demo.XXXXXX")
trap 'rm -rf "$OUTD"' EXIT
DEMO=$REPO_DIR/scripts/demo.sh

# The command line is checked before anything is set up.
"$DEMO" --help | grep -q -- '--short' || fail "demo --help does not list --short"
log "ok: --help lists the options"
if "$DEMO" --runs zero >/dev/null 2>&1; then fail "demo accepted --runs zero"; fi
log "ok: a bad --runs is refused"
if command -v setpriv >/dev/null; then
	rc=0
	msg=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$DEMO" --short 2>&1) || rc=$?
	assert_ne "exit status of the demo without root" 0 "$rc"
	grep -q 'must run as root' <<<"$msg" || fail "no word about root: $msg"
	log "ok: without root it says so"
fi

rc=0
"$DEMO" --short --delay $delay --work $work --out "$OUTD" >"$OUTD/stdout" 2>&1 &
demo_pid=$!
wait $demo_pid || rc=$?
[ $rc -eq 0 ] || { cat "$OUTD/stdout"; fail "demo exited with status $rc"; }
sed 's/^/# | /' "$OUTD/stdout"

# ---- the table: both boxes, every size, medians that make sense

assert_file_has "table header names both boxes" "$OUTD/stdout" 'measure +bridge +ClientNIC +difference'
for s in '1 KiB' '100 KiB'; do
	assert_file_has "table row GET $s" "$OUTD/stdout" "^GET $s +TCP connect +[0-9.]+ +[0-9.]+ +[-+][0-9.]+"
done
assert_file_has "table row with work after connect()" "$OUTD/stdout" "^GET 1 KiB, $work ms work +TCP connect"
for mode in bridge clientnic; do
	for size in 1024 102400; do
		assert_eq "$mode runs of $size B" 3 \
			"$(awk -v m=$mode -v s=$size '$1 == m && $2 == "curl" && $3 == s' "$OUTD/results.tsv" | wc -l)"
	done
done

median() { # key box
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
		"$OUTD/summary.json" "$1" "$2"
}
for size in 1024 102400; do
	assert_num "ClientNIC connect ms, $size B (< RTT/4)" "$(median curl/$size/connect clientnic)" '<' \
		"$(awk -v r=$rtt 'BEGIN { print r / 4 }')"
	assert_num "bridge connect ms, $size B (>= 0.9 RTT)" "$(median curl/$size/connect bridge)" '>=' \
		"$(awk -v r=$rtt 'BEGIN { print r * 0.9 }')"
	# The request cannot reach the server before the real handshake: two
	# round trips either way, and the box must not add to them.
	for mode in bridge clientnic; do
		assert_num "$mode first byte ms, $size B (>= 1.9 RTT)" \
			"$(median curl/$size/ttfb $mode)" '>=' "$(awk -v r=$rtt 'BEGIN { print r * 1.9 }')"
	done
	assert_num "ClientNIC first byte minus the bridge's, $size B (< RTT/10)" \
		"$(awk -v a="$(median curl/$size/ttfb clientnic)" -v b="$(median curl/$size/ttfb bridge)" \
			'BEGIN { print a - b }')" '<' "$(awk -v r=$rtt 'BEGIN { print r / 10 }')"
done
# What the box buys: work after connect() overlaps the handshake.
assert_num "first byte saved with $work ms of work after connect() (> 0.8 RTT)" \
	"$(awk -v a="$(median "work:$work/1024/ttfb" bridge)" -v b="$(median "work:$work/1024/ttfb" clientnic)" \
		'BEGIN { print a - b }')" '>' "$(awk -v r=$rtt 'BEGIN { print r * 0.8 }')"

# ---- byte-exact responses, for both boxes and both sizes

for name in 1k 100k; do
	for mode in bridge clientnic; do
		assert_same_file "GET $name through $mode" "$OUTD/files/served-$name.bin" \
			"$OUTD/files/got-$mode-$name.bin"
	done
done
assert_same_file "fetch with work through clientnic" "$OUTD/files/served-1k.bin" \
	"$OUTD/files/got-clientnic-work-1k.bin"
assert_eq "size of the served 100k file" 102400 "$(stat -c %s "$OUTD/files/served-100k.bin")"

# ---- the box's story of its first connection

for ev in syn_spoofed buffered synack_real flushed; do
	assert_file_has "event $ev shown" "$OUTD/stdout" "^ +[-+][0-9.]+ ms +$ev "
done
age=$(sed -n 's/.*event=synack_real .*age_ms=\([0-9.]*\).*/\1/p' "$OUTD/clientnic-events.log" | head -n 1)
assert_num "real SYN-ACK after ms (>= 0.9 RTT)" "$age" '>=' "$(awk -v r=$rtt 'BEGIN { print r * 0.9 }')"
spoofed=$(sed -n 's/^ *synacks_spoofed *\([0-9]*\)$/\1/p' "$OUTD/clientnic-counters.txt")
assert_num "counter synacks_spoofed" "${spoofed:-missing}" '>=' 6
assert_file_has "counters shown" "$OUTD/stdout" '^ +synacks_spoofed +[0-9]+'

# The SYN-ACK the client saw came from the box with the ClientNIC (its ISN
# differs from the server's), from the server through the bridge.
synack_seq() {
	tshark -n -r "$1" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 1' -T fields -e tcp.seq_raw \
		2>/dev/null | head -n 1
}
c=$(synack_seq "$OUTD/client-clientnic.pcap")
s=$(synack_seq "$OUTD/server-clientnic.pcap")
[ -n "$c" ] && [ -n "$s" ] || fail "no SYN-ACK in the ClientNIC captures"
assert_ne "ISN of the client's SYN-ACK with the ClientNIC (server's: $s)" "$s" "$c"
assert_eq "ISN of the client's SYN-ACK through the bridge" \
	"$(synack_seq "$OUTD/server-bridge.pcap")" "$(synack_seq "$OUTD/client-bridge.pcap")"
n=$(tshark -n -r "$OUTD/clientnic-box.pcap" -Y 'sll.pkttype == 4' 2>/dev/null | wc -l)
assert_num "frames the box sent, in its capture" "$n" '>=' 5
assert_file_has "the tshark command to read it is printed" "$OUTD/stdout" "tshark -r $OUTD/clientnic-box.pcap"

# ---- the picture

python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$OUTD/sequence.svg" ||
	fail "sequence.svg is not well-formed XML"
for text in 'SYN-ACK (spoofed)' 'SYN-ACK (real): absorbed' 'held' 'connect() returns' 'first byte'; do
	grep -qF "$text" "$OUTD/sequence.svg" || fail "sequence.svg lacks '$text'"
	log "ok: sequence.svg shows '$text'"
done
if command -v rsvg-convert >/dev/null; then
	[ -s "$OUTD/sequence.png" ] || fail "sequence.png not written"
	log "ok: sequence.png rendered ($(stat -c %s "$OUTD/sequence.png") bytes)"
fi

# ---- nothing left behind, also when interrupted

demo_ns() { ip netns list | grep -c "^cne2e$1-" || true; }
assert_eq "namespaces the demo left" 0 "$(demo_ns $demo_pid)"

# Ctrl-C in the middle of the measurements. An asynchronous command of a
# script ignores SIGINT, so it is started with the default disposition.
mkdir "$OUTD/int"
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
	"$DEMO" --short --out "$OUTD/int" >"$OUTD/int.stdout" 2>&1 &
int_pid=$!
has_results() { [ -s "$OUTD/int/results.tsv" ]; }
wait_until 60 has_results || { cat "$OUTD/int.stdout"; fail "interrupted demo never measured"; }
assert_eq "namespaces of the running demo" 5 "$(demo_ns $int_pid)"
kill -INT $int_pid
rc=0
wait $int_pid || rc=$?
assert_eq "exit status after SIGINT" 130 "$rc"
assert_eq "namespaces left after SIGINT" 0 "$(demo_ns $int_pid)"
assert_eq "processes of the demo left after SIGINT" 0 \
	"$(ps -eo args | grep -c "[c]lientnic.*$OUTD/int\|[t]cpdump.*$OUTD/int" || true)"
