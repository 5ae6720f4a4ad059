#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo in its quick mode: three setups measured (bridges, the ClientNIC
# alone, the pair), the ClientNIC's connect on LAN time and the bridges' a
# WAN round trip, the pair's first byte a round trip sooner than the
# bridges', every response byte-exact, both boxes' logs and captures tell
# the story, the pictures are drawn.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl tshark tcpdump python3 sha256sum
need_bin clientnic
need_bin servernic
need_bin linkem

delay=25
rtt=$((2 * delay))
work=$rtt
OUTD=$(mktemp -d "${TMPDIR:-/tmp}/cn-demo.XXXXXX")
trap 'rm -rf "$OUTD"' EXIT
DEMO=$REPO_DIR/scripts/demo.sh
rtts() { awk -v r=$rtt -v f="$1" 'BEGIN { print r * f }'; } # a fraction of the RTT, in ms

# The command line is checked before anything is set up.
"$DEMO" --help | grep -q -- '--peer MODE' || fail "demo --help does not list --peer"
for bad in "--runs zero" "--peer never"; do
	# shellcheck disable=SC2086 # an option and its value
	if "$DEMO" $bad >/dev/null 2>&1; then fail "demo accepted $bad"; fi
done
log "ok: --help lists the options, a bad --runs or --peer is refused"
if command -v setpriv >/dev/null; then
	# As nobody, from a copy nobody can reach: the checkout may sit under a
	# folder other users cannot enter (a clone in a 0700 temporary folder).
	# The script says it needs root before it reads anything else.
	rc=0
	nobody=$(mktemp -d /tmp/cn-demo-nobody.XXXXXX)
	chmod 755 "$nobody"
	install -m 755 "$DEMO" "$nobody/demo.sh"
	msg=$(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$nobody/demo.sh" --short 2>&1) || rc=$?
	rm -rf "$nobody"
	assert_ne "exit status of the demo without root" 0 "$rc"
	grep -q 'must run as root' <<<"$msg" || fail "no word about root: $msg"
fi

rc=0
"$DEMO" --short --delay $delay --work $work --out "$OUTD" >"$OUTD/stdout" 2>&1 &
demo_pid=$!
wait $demo_pid || rc=$?
[ $rc -eq 0 ] || { cat "$OUTD/stdout"; fail "demo exited with status $rc"; }
sed 's/^/# | /' "$OUTD/stdout"
OUT=$OUTD/stdout

# ---- the table: three setups, every size, numbers that parse and make sense

assert_file_has "table header names the three setups" "$OUT" '^request +measure +bridges +ClientNIC +pair '
num='[0-9]+\.[0-9]+' diff='[-+][0-9]+\.[0-9]+'
for row in 'GET 1 KiB' 'GET 100 KiB' "GET 1 KiB, $work ms work"; do
	assert_file_has "table row $row" "$OUT" "^$row +connect\(\) +$num +$num +$num +$diff +$diff$"
done
assert_file_has "first byte and total rows" "$OUT" "^ +first byte +$num +$num +$num +$diff +$diff$"
assert_file_has "the output says how the pair was measured" "$OUT" 'pair: ClientNIC \+ ServerNIC, measured after one warm-up connection'
assert_file_has "the warm-up taught the ClientNIC" "$OUT" '^  warm-up connection .*\(peer_learned\)$'
for mode in bridge clientnic pair; do
	assert_eq "$mode: runs of each request" "3 3 3" "$(for s in 'curl 1024' 'curl 102400' "work:$work 1024"; do
		awk -v m=$mode -v k="$s" '$1 == m && $2 " " $3 == k' "$OUTD/results.tsv" | wc -l
	done | xargs)"
done

med() { # key setup: a median from summary.json
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
		"$OUTD/summary.json" "$1" "$2"
}
for size in 1024 102400; do
	for mode in clientnic pair; do
		assert_num "$mode connect ms, $size B (< RTT/4)" "$(med curl/$size/connect $mode)" '<' "$(rtts 0.25)"
	done
	assert_num "bridges connect ms, $size B (>= 0.9 RTT)" "$(med curl/$size/connect bridge)" '>=' "$(rtts 0.9)"
	# Alone, the ClientNIC holds the request until the real handshake: two
	# round trips, as through the bridges, and the box must not add to them.
	for mode in bridge clientnic; do
		assert_num "$mode first byte ms, $size B (>= 1.9 RTT)" "$(med curl/$size/ttfb $mode)" '>=' "$(rtts 1.9)"
	done
	assert_num "ClientNIC first byte minus the bridges', $size B (< RTT/10)" \
		"$(awk -v a="$(med curl/$size/ttfb clientnic)" -v b="$(med curl/$size/ttfb bridge)" 'BEGIN { print a - b }')" \
		'<' "$(rtts 0.1)"
	# The pair: the request crosses right behind the SYN, one round trip.
	assert_num "pair first byte ms, $size B (< 1.5 RTT)" "$(med curl/$size/ttfb pair)" '<' "$(rtts 1.5)"
	assert_num "bridges' first byte minus the pair's, $size B (> 0.7 RTT)" \
		"$(awk -v a="$(med curl/$size/ttfb bridge)" -v b="$(med curl/$size/ttfb pair)" 'BEGIN { print a - b }')" \
		'>' "$(rtts 0.7)"
done
# What the ClientNIC alone buys: work after connect() overlaps the handshake.
assert_num "first byte saved by the ClientNIC with $work ms of work after connect() (> 0.8 RTT)" \
	"$(awk -v a="$(med "work:$work/1024/ttfb" bridge)" -v b="$(med "work:$work/1024/ttfb" clientnic)" 'BEGIN { print a - b }')" \
	'>' "$(rtts 0.8)"
assert_file_has "verdict on the pair's first byte" "$OUT" "^- first byte through the pair: $num ms = one WAN round trip [-+] $num ms; bridges: $num ms = two"

# ---- byte-exact responses, through every setup

for mode in bridge clientnic pair; do
	for name in 1k 100k work-1k; do
		assert_same_file "GET $name through $mode" "$OUTD/files/served-${name#work-}.bin" \
			"$OUTD/files/got-$mode-$name.bin"
	done
done

# ---- the boxes' story of one connection each

for ev in syn_spoofed buffered synack_real flushed; do
	assert_file_has "ClientNIC alone: event $ev shown" "$OUT" "^ +[-+][0-9.]+ ms +$ev "
done
for ev in 'ClientNIC +syn_spoofed' 'ServerNIC +peer_syn' 'ServerNIC +buffered' \
	'ServerNIC +taken_over' 'ServerNIC +flushed' 'ClientNIC +taken_over'; do
	assert_file_has "pair: event $ev shown" "$OUT" "^ +[-+][0-9.]+ ms +$ev "
done
assert_file_has "counters of the ClientNIC alone shown" "$OUT" '^ +synacks_spoofed +[0-9]+'
for c in 'flows_taken_over +1 +1' 'flows_peer_early +1 +0' 'syns_peer +0 +1' 'frames_flushed +0 +[1-9]'; do
	assert_file_has "pair: counters of the connection: $c" "$OUTD/pair-counters.txt" "^ +$c\$"
done

# The SYN-ACK the client saw came from the box (its ISN differs from the
# server's) with the ClientNIC, alone or in the pair; through the bridges,
# from the server.
synack_seq() {
	tshark -n -r "$1" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 1' -T fields -e tcp.seq_raw \
		2>/dev/null | head -n 1
}
for mode in clientnic pair; do
	s=$(synack_seq "$OUTD/server-$mode.pcap")
	[ -n "$s" ] || fail "no SYN-ACK in the server's capture ($mode)"
	assert_ne "ISN of the client's SYN-ACK through $mode (server's: $s)" "$s" "$(synack_seq "$OUTD/client-$mode.pcap")"
done
assert_eq "ISN of the client's SYN-ACK through the bridges" \
	"$(synack_seq "$OUTD/server-bridge.pcap")" "$(synack_seq "$OUTD/client-bridge.pcap")"

# ---- the pictures

for f in sequence sequence-clientnic; do
	python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$OUTD/$f.svg" ||
		fail "$f.svg is not well-formed XML"
	if command -v rsvg-convert >/dev/null; then
		[ -s "$OUTD/$f.png" ] || fail "$f.png not written"
	fi
done
for text in '>ServerNIC<' 'SYN + peer option' 'SYN-ACK (spoofed)' '(early)' 'held' \
	'SYN-ACK (translated): absorbed' 'connect() returns' 'first byte'; do
	grep -qF "$text" "$OUTD/sequence.svg" || fail "sequence.svg lacks '$text'"
done
log "ok: sequence.svg draws the pair's connection"
grep -qF 'SYN-ACK (real): absorbed' "$OUTD/sequence-clientnic.svg" ||
	fail "sequence-clientnic.svg lacks the absorbed real SYN-ACK"
log "ok: sequence-clientnic.svg draws the ClientNIC alone"

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
	"$(ps -eo args | grep -c "[c]lientnic.*$OUTD/int\|[s]ervernic.*$OUTD/int\|[t]cpdump.*$OUTD/int" || true)"
