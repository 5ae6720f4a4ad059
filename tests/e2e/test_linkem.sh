#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# linkem, the WAN emulator, on its own: kernel bridges in the places of both
# boxes, linkem between wan0 and wan1 (a2b: towards the server).
#
#   client ns    clientnic ns         wan ns                  servernic ns         server ns
#   [c0] ------ [eth0  br0  eth1] -- [wan0  linkem  wan1] -- [eth0  br2  eth1] -- [s0]
#
# Checks, each with its tolerance: delay accuracy (ping RTT against twice
# the setting, per-direction options), jitter that keeps order, loss within
# binomial 5-sigma bounds and repeatable with a seed, reordering and
# duplication seen by a receiver of numbered UDP datagrams, a TCP transfer
# with delay and loss byte-exact, the rate limit. Prints the achieved delay
# distribution and iperf3 throughput of linkem (no delay) against a kernel
# bridge in the same place. Closing line: 'linkem: N passed, N failed'.
. "$(dirname "$0")/lib.sh"

PROBE="$PYTHON $E2E_DIR/linkem_probe.py"
N_DGRAMS=2000
passed=0 failed=0 failures=

check() { # what cmd...: count a check that must hold, never exit
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		log "ok: $what"
	else
		failed=$((failed + 1))
		failures+="FAIL: $what"$'\n'
		printf 'FAIL: %s\n' "$what"
	fi
}
between() { num_cmp "$1" '>=' "$2" && num_cmp "$1" '<=' "$3"; }
check_between() { # what got low high
	check "$1 = $2 (in [$3, $4])" between "$2" "$3" "$4"
}
check_eq() { # what expected got
	check "$1 = $3 (expected $2)" [ "$2" = "$3" ]
}
jget() { # json-file key.key...: one value
	$PYTHON -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"
}
# Binomial bounds: mean +- 5 sigma for n trials of probability p.
binom_lo() { awk -v n="$1" -v p="$2" 'BEGIN { m = n*p; s = sqrt(n*p*(1-p)); v = m - 5*s; printf "%d", v < 0 ? 0 : v }'; }
binom_hi() { awk -v n="$1" -v p="$2" 'BEGIN { m = n*p; s = sqrt(n*p*(1-p)); printf "%d", m + 5*s + 0.999 }'; }

# ---- linkem runs: each case restarts it with its own options

LK_JSON=
LK_ERR=
LK_RUN=0
linkem_start() { # options...
	LK_RUN=$((LK_RUN + 1))
	LK_JSON=$TOPO_DIR/linkem.$LK_RUN.json
	LK_ERR=$TOPO_DIR/linkem.$LK_RUN.err
	LINKEM_ARGS="$* --stats-file $LK_JSON"
	log "linkem $LINKEM_ARGS"
	_wan_start
}
# Stop it with SIGTERM: it must exit 0 and leave its JSON statistics.
linkem_stop() {
	local rc=0
	kill -TERM "$LINKEM_PID"
	wait "$LINKEM_PID" || rc=$?
	cp "$TOPO_DIR/linkem.err" "$LK_ERR"
	check_eq "linkem exit status after SIGTERM" 0 "$rc"
	check "linkem wrote $LK_JSON" [ -s "$LK_JSON" ]
	local trunc
	trunc=$(awk '/rx_truncated/ { s += $7 } END { print s + 0 }' "$LK_ERR")
	check_eq "frames truncated on receive (never forwarded)" 0 "$trunc"
	grep -E 'delay_us|queue_drops' "$LK_ERR" | sed 's/^/# figure: /'
}
linkem_restart() { # options...
	linkem_stop
	linkem_start "$@"
}

# udp_run PORT [burst options]: numbered datagrams client -> server; the
# receiver's JSON counts land in UDP_OUT.
UDP_PORT=6000
udp_run() {
	UDP_PORT=$((UDP_PORT + 1))
	local out=$TOPO_DIR/udp.$UDP_PORT.json
	spawn S "$out" $PROBE udp-sink $UDP_PORT --count $N_DGRAMS --idle 1
	local sink=$SPAWNED_PID
	wait_listen S $UDP_PORT udp
	C $PROBE udp-burst $S_IP4 $UDP_PORT --count $N_DGRAMS "$@"
	wait "$sink" || true
	UDP_OUT=$out
	log "receiver: $(cat "$out")"
}

ping_rtt() { # host count -> "min avg max" in ms
	C ping -c "$2" -i 0.02 -W 2 -n -q "$1" |
		sed -n 's|.* = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p'
}

need_cmd iperf3 ping
LINKEM_ARGS="--delay 20ms"
topo_setup bridge linkem bridge
stop_pid "$LINKEM_PID" # started without a statistics file

# ---- 0. command line: bad values and missing interfaces are clear errors
rc=0; out=$(W "$BUILD/linkem" -a wan0 -b wan1 --a2b-loss 1.5 2>&1) || rc=$?
check_eq "bad probability: exit status 2" 2 "$rc"
check "bad probability: message names the option" grep -q -- '--a2b-loss' <<<"$out"
rc=0; out=$(W "$BUILD/linkem" -a wan0 -b nosuch0 2>&1) || rc=$?
check_eq "missing interface: exit status 1" 1 "$rc"
check "missing interface: message says so" grep -q 'nosuch0: no such interface' <<<"$out"

# ---- 1. delay: RTT is twice the one-way delay, never less; the average at
# most 5 % more (ping's own wake-ups count in it, and a shared machine holds
# a process back for a millisecond or two now and then); linkem's own
# measure of each frame: the minimum within 100 us, the median within 1 ms,
# the 99th percentile within 2.5 ms of the setting. A wrong delay (none,
# doubled, per burst instead of per frame) is off by far more.
linkem_start --delay 20ms
ping_i() { C ping -c "$2" -i 0.005 -W 2 -n -q "$1" |
	sed -n 's|.* = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p'; }
read -r mn avg mx <<<"$(ping_i $S_IP4 200)"
log "figure: ping RTT over 2 x 20 ms (200 pings): min $mn avg $avg max $mx ms"
check_between "ping RTT min ms (2 x 20 ms, may not be less)" "$mn" 40.0 41.0
check_between "ping RTT avg ms" "$avg" 40.0 42.0
read -r mn avg mx <<<"$(ping_i $S_IP6 50)"
check_between "ping6 RTT min ms" "$mn" 40.0 41.0
check_between "ping6 RTT avg ms" "$avg" 40.0 42.0
linkem_stop
for d in a2b b2a; do
	n=$(jget "$LK_JSON" $d.delay_us.count)
	mn=$(jget "$LK_JSON" $d.delay_us.min)
	p50=$(jget "$LK_JSON" $d.delay_us.p50)
	p99=$(jget "$LK_JSON" $d.delay_us.p99)
	check_between "$d frames measured" "$n" 250 100000
	check_between "$d achieved delay min us (set 20000, never less)" "$mn" 20000 20100
	# A shared VM's scheduler adds up to a few ms to some deadlines (runs
	# here measured p99 +1065 and +1605 us); a wrong delay would be off by
	# far more.
	check_between "$d achieved delay p50 us" "$p50" 20000 21000
	check_between "$d achieved delay p99 us" "$p99" 20000 22500
	check "$d frames all sent" [ "$(jget "$LK_JSON" $d.received)" = "$(jget "$LK_JSON" $d.sent)" ]
done

# ---- 2. per-direction options win over the shared one, in any order
linkem_start --a2b-delay 30ms --delay 1ms --b2a-delay 5ms
read -r mn avg mx <<<"$(ping_rtt $S_IP4 20)"
log "figure: ping RTT over 30 ms + 5 ms: min $mn avg $avg max $mx ms"
check_between "asymmetric RTT avg ms (30 ms + 5 ms)" "$avg" 35.0 37.0

# ---- 3. jitter: pings 20 ms apart see delay 10 ms +- 5 ms; a dense
# burst must keep its order (and so gets later deadlines, not earlier)
linkem_restart --delay 10ms --jitter 5ms
read -r pmn avg mx <<<"$(ping_rtt $S_IP4 60)"
log "figure: ping RTT over 2 x (10 ms +- 5 ms): min $pmn avg $avg max $mx ms"
kill -USR1 "$LINKEM_PID"
wait_until 5 test -s "$LK_JSON" || fail "linkem wrote no statistics on SIGUSR1"
mn=$(jget "$LK_JSON" a2b.delay_us.min)
mx=$(jget "$LK_JSON" a2b.delay_us.max)
log "figure: a2b one-way delay with jitter: min $mn max $mx us over $(jget "$LK_JSON" a2b.delay_us.count) frames"
check_between "jitter: a2b min delay us (10 ms - 5 ms, 60 samples)" "$mn" 5000 6500
# The top of the jitter, plus what the scheduler adds to its deadline
# (runs here: +941 us, once +1612 us on a loaded machine). No jitter
# would stay under 13.5 ms, twice the jitter reach 20 ms.
check_between "jitter: a2b max delay us (10 ms + 5 ms, 60 samples)" "$mx" 13500 18000
check_between "jitter: ping RTT min ms (never below 2 x 5 ms)" "$pmn" 10 40
udp_run --gap-us 100
check_eq "jitter: datagrams missing" 0 "$(jget "$UDP_OUT" missing)"
check_eq "jitter: datagrams out of order" 0 "$(jget "$UDP_OUT" late)"
check_eq "jitter: duplicates" 0 "$(jget "$UDP_OUT" dups)"
check_eq "jitter: corrupt datagrams" 0 "$(jget "$UDP_OUT" corrupt)"
linkem_stop

# ---- 4. loss: 20 % a2b, binomial bounds, the same seed loses the same frames
lo=$(binom_lo $N_DGRAMS 0.2)
hi=$(binom_hi $N_DGRAMS 0.2)
missing=()
for run in 1 2; do
	linkem_start --a2b-loss 0.2 --seed 7
	udp_run --gap-us 50
	missing+=("$(jget "$UDP_OUT" missing)")
	check_between "loss 20 %: datagrams missing of $N_DGRAMS (run $run)" "${missing[-1]}" "$lo" "$hi"
	check_eq "loss: duplicates" 0 "$(jget "$UDP_OUT" dups)"
	linkem_stop
	check_eq "loss: linkem a2b lost = receiver missing" "${missing[-1]}" "$(jget "$LK_JSON" a2b.lost)"
	check_eq "loss: nothing lost b2a" 0 "$(jget "$LK_JSON" b2a.lost)"
done
check_eq "loss: same seed, same losses" "${missing[0]}" "${missing[1]}"

# ---- 5. reordering: 10 % held back by 2 ms, overtaken by later datagrams
linkem_start --delay 1ms --a2b-reorder 0.1 --reorder-gap 2ms
udp_run --gap-us 50
lo=$(binom_lo $N_DGRAMS 0.1)
hi=$(binom_hi $N_DGRAMS 0.1)
late=$(jget "$UDP_OUT" late)
check_between "reorder 10 %: datagrams arriving late" "$late" "$lo" "$hi"
check_eq "reorder: datagrams missing" 0 "$(jget "$UDP_OUT" missing)"
check_eq "reorder: duplicates" 0 "$(jget "$UDP_OUT" dups)"
linkem_stop
# Within a few of linkem's own count: a datagram it held back that nothing
# overtook (the sender paused) is not late, and two of its frames sent from
# different CPUs can swap in the kernel's per-CPU queues.
reordered=$(jget "$LK_JSON" a2b.reordered)
check_between "reorder: late at the receiver, against linkem's a2b reordered $reordered" \
	"$late" $((reordered > 10 ? reordered - 10 : 0)) $((reordered + 10))

# ---- 6. duplication: 10 %, exact copies
linkem_start --a2b-dup 0.1
udp_run --gap-us 50
dups=$(jget "$UDP_OUT" dups)
check_between "dup 10 %: duplicates received" "$dups" "$lo" "$hi"
check_eq "dup: corrupt datagrams" 0 "$(jget "$UDP_OUT" corrupt)"
check_eq "dup: datagrams missing" 0 "$(jget "$UDP_OUT" missing)"
check_eq "dup: datagrams out of order" 0 "$(jget "$UDP_OUT" late)"
linkem_stop
check_eq "dup: linkem a2b duplicated = duplicates received" "$dups" "$(jget "$LK_JSON" a2b.duplicated)"

# ---- 7. no corruption: 8 MB over TCP with 5 ms delay and 3 % loss
# (GSO frames make this only a few hundred frames: 3 % in both directions
# makes a run without a single loss a one-in-50000 event)
head -c $((8 << 20)) /dev/urandom >"$TOPO_DIR/tx.bin"
linkem_start --delay 5ms --loss 0.03 --seed $$
spawn S "$TOPO_DIR/tcp-sink.log" $PROBE tcp-sink 7001 "$TOPO_DIR/rx.bin"
sink=$SPAWNED_PID
wait_listen S 7001
secs=$(C $PROBE tcp-send $S_IP4 7001 "$TOPO_DIR/tx.bin") || secs=fail
wait "$sink" || true
log "figure: 8 MB over TCP with 5 ms delay and 3 % loss took $secs s"
check_eq "TCP through delay and loss: sha256 of 8 MB on both ends" \
	"$(sha256 "$TOPO_DIR/tx.bin")" "$(sha256 "$TOPO_DIR/rx.bin" 2>/dev/null || echo missing)"
linkem_stop
check "TCP: linkem actually lost frames" num_cmp \
	"$(($(jget "$LK_JSON" a2b.lost) + $(jget "$LK_JSON" b2a.lost)))" '>' 0

# ---- 8. rate limit: 50 Mbit/s; TCP goodput can reach it but not pass it
linkem_start --rate 50
spawn S "$TOPO_DIR/tcp-sink2.log" $PROBE tcp-sink 7002 "$TOPO_DIR/rx2.bin"
sink=$SPAWNED_PID
wait_listen S 7002
head -c $((4 << 20)) "$TOPO_DIR/tx.bin" >"$TOPO_DIR/tx2.bin"
secs=$(C $PROBE tcp-send $S_IP4 7002 "$TOPO_DIR/tx2.bin")
wait "$sink" || true
mbit=$(awk -v s="$secs" 'BEGIN { printf "%.1f", 4 * 8 * 1.048576 / s }')
log "figure: 4 MiB at --rate 50 took $secs s: $mbit Mbit/s goodput"
check_between "rate 50 Mbit/s: TCP goodput Mbit/s" "$mbit" 35 50.5
check_eq "rate: data intact" "$(sha256 "$TOPO_DIR/tx2.bin")" "$(sha256 "$TOPO_DIR/rx2.bin")"

# ---- 9. throughput with no delay, against a kernel bridge in the same place
iperf_gbit() { # extra iperf3 options
	C iperf3 -c $S_IP4 -p 5201 -t 3 -J "$@" | $PYTHON -c 'import json, sys
e = json.load(sys.stdin)["end"]
print("%.2f %d" % (e["sum_received"]["bits_per_second"] / 1e9, e["sum_sent"].get("retransmits", 0)))'
}
linkem_restart
spawn S "$TOPO_DIR/iperf3.log" iperf3 -s -p 5201
wait_listen S 5201
read -r lk_gbit lk_retr <<<"$(iperf_gbit)"
read -r lk_gbit_r lk_retr_r <<<"$(iperf_gbit -R)"
linkem_stop
W ip link add br1 type bridge forward_delay 0 stp_state 0
W ip link set wan0 master br1
W ip link set wan1 master br1
W ip link set br1 up
wait_until 5 C ping -c 1 -W 1 -n -q $S_IP4 || fail "no path through the kernel bridge"
read -r br_gbit br_retr <<<"$(iperf_gbit)"
read -r br_gbit_r br_retr_r <<<"$(iperf_gbit -R)"
log "figure: iperf3 client->server: linkem $lk_gbit Gbit/s ($lk_retr retransmits), kernel bridge $br_gbit Gbit/s ($br_retr retransmits)"
log "figure: iperf3 server->client: linkem $lk_gbit_r Gbit/s ($lk_retr_r retransmits), kernel bridge $br_gbit_r Gbit/s ($br_retr_r retransmits)"
check "iperf3 through linkem carried data" num_cmp "$lk_gbit" '>' 0
check "iperf3 through the bridge carried data" num_cmp "$br_gbit" '>' 0

# The failures again, last, where a runner's tail shows them.
printf '%s' "$failures"
echo "linkem: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
