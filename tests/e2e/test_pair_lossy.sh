#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A bad WAN between the two boxes (linkem: 5 ms each way, 5% loss each way,
# 2% reordering, 1% duplicates): 200 echo connections of mixed sizes at
# once through the pair, every one byte-exact, none hung. At that rate SYNs,
# translated SYN-ACKs and the early data behind the SYNs are lost too: the
# ClientNIC's SYN retransmissions and the ServerNIC's repeated SYN-ACKs must
# carry every flow to the peer, once: afterwards no flow at the ClientNIC
# still waits for a SYN-ACK and the server holds no connection that no
# client has. --peer always, so that every first request goes out right
# behind its SYN; --syn-rto 200 ms (RTT 10 ms), so that a flow gets six
# tries at its handshake within the 10 s SYN timeout rather than four: at
# 5% loss each way, four handshakes in a row lost out of 200 flows happen
# once in a few dozen runs, and the ClientNIC then rightly resets its
# client.
. "$(dirname "$0")/lib.sh"
CLIENTNIC_ARGS="--peer always --syn-rto 200 $CLIENTNIC_ARGS"
LINKEM_ARGS="--delay 5ms --loss 0.05 --reorder 0.02 --dup 0.01 --seed $$ $LINKEM_ARGS"
topo_setup clientnic linkem servernic

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

sizes="100 1500 16384 65536 200000"
per_size=40
count=$((per_size * $(wc -w <<<"$sizes")))
pids=()
for size in $sizes; do
	C $TOOL echo-clients $S_IP4 7000 --count $per_size --size $size --seed $((size + $$)) \
		--timeout 40 >"$TOPO_DIR/echo-$size.out" 2>&1 &
	pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
total=0
for size in $sizes; do
	out=$(cat "$TOPO_DIR/echo-$size.out")
	log "$size B: $out"
	val() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$out" | tail -n 1; }
	assert_eq "$size B: connections echoed byte-exact" $per_size "$(val ok)"
	assert_eq "$size B: connection errors (resets, timeouts)" 0 "$(val errors)"
	log "figure: $per_size x $size B echoed in $(val elapsed_ms) ms, median connect $(val connect_median_ms) ms"
	total=$((total + $(val ok)))
done
[ $rc -eq 0 ] || fail "an echo client batch failed"
assert_eq "connections byte-exact in all" $count $total

# None hung at either end. The ClientNIC keeps a flow's SYN until its
# SYN-ACK (buffered_bytes counts it): once every flow has one, nothing can
# reach the server on the clients' behalf any more, and every connection
# the server accepted must have ended with its client's.
_cn_idle() { daemon_snapshot clientnic; [ "$(box_counter buffered_bytes)" = 0 ] || { sleep 0.3; return 1; }; }
wait_until 12 _cn_idle ||
	log "the ClientNIC still keeps $(box_counter buffered_bytes) bytes for flows waiting for a SYN-ACK"
assert_eq "bytes the ClientNIC keeps for flows without a SYN-ACK, their clients done" 0 \
	"$(box_counter buffered_bytes)"
left=$(S ss -Htn state established state syn-recv '( sport = :7000 )')
[ -z "$left" ] || log "connections left at the server: $(echo $left | cut -c1-300)"
assert_eq "connections left at the server (established or half-open)" 0 "$(grep -c . <<<"$left" || true)"

stop_pid "$LINKEM_PID" TERM
log "linkem: $(grep -E '(a2b|b2a) received' "$TOPO_DIR/linkem.err" | tr -s ' \n' ' ')"
lost() { sed -n "s/^linkem: $1 received .* lost \\([0-9]*\\) .*/\\1/p" "$TOPO_DIR/linkem.err"; }
assert_num "frames linkem lost towards the server" "$(lost a2b)" '>' 0
assert_num "frames linkem lost towards the client" "$(lost b2a)" '>' 0
box_stop
snic_stop
log "figure: clientnic syns_resent $(box_counter syns_resent), servernic synacks_resent $(snic_counter synacks_resent), frames_copied $(box_counter frames_copied), frames_probes $(box_counter frames_probes), drop.rst_stray $(box_counter drop.rst_stray), frames_resent $(box_counter frames_resent)"
assert_counter syns_resent '>=' 1
assert_counter flows_timed_out '==' 0
assert_counter flows_peer_early '==' $count
assert_counter flows_taken_over '==' $count
# The peer stayed: the ClientNIC never fell back nor took a flow back.
assert_counter flows_fallback '==' 0
assert_counter flows_resumed '==' 0
assert_counter peers_lost '==' 0
assert_snic_counter flows_taken_over '==' $count
assert_snic_counter flows_replaced '==' 0
assert_snic_counter frames_rewritten '>' 0
