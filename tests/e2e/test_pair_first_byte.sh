#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the pair buys: the first byte of a 1 KiB GET over a 40 ms WAN RTT
# (linkem, 20 ms each way), measured in one topology for three setups:
#   bridges     kernel bridges in both box places: connect() one RTT, first
#               byte two RTTs;
#   ClientNIC   alone (a bridge in the ServerNIC's place): connect() in LAN
#               time, but the request is held until the real SYN-ACK, so the
#               first byte still takes two RTTs;
#   pair        ClientNIC + ServerNIC, after one warm-up connection per
#               address family so that the ClientNIC knows the peer: the
#               request crosses right behind the SYN, first byte in one RTT.
# shellcheck disable=SC2154 # <setup>_CONNECT, <setup>_FIRST: set by measure (printf -v)
. "$(dirname "$0")/lib.sh"
one_way_ms=20
rtt_ms=$((2 * one_way_ms))
runs=5
LINKEM_ARGS="--delay ${one_way_ms}ms $LINKEM_ARGS"
topo_setup bridge linkem bridge

head -c 1024 /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
blob_sha=$(sha256 "$TOPO_DIR/blob")
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080

# request LABEL HOST: one GET; its figures in CONNECT_MS and FIRST_MS.
request() {
	local out
	out=$(C $TOOL connect-time "$2" 8080 --path blob) || fail "$1: GET from $2 failed: $out"
	val() { sed -n "s/.*\\b$1=\\([0-9.a-f]*\\).*/\\1/p" <<<"$out"; }
	assert_eq "$1: bytes" 1024 "$(val bytes)" >/dev/null
	assert_eq "$1: sha256" "$blob_sha" "$(val sha256)" >/dev/null
	CONNECT_MS=$(val connect_ms)
	FIRST_MS=$(val first_byte_ms)
	log "$1: connect $CONNECT_MS ms, first byte $FIRST_MS ms"
}
# measure SETUP: $runs IPv4 GETs; medians in <SETUP>_CONNECT and <SETUP>_FIRST.
measure() {
	local i conns=() firsts=()
	for i in $(seq $runs); do
		request "$1 #$i" $S_IP4
		conns+=("$CONNECT_MS")
		firsts+=("$FIRST_MS")
	done
	printf -v "$1_CONNECT" %s "$(printf '%s\n' "${conns[@]}" | median)"
	printf -v "$1_FIRST" %s "$(printf '%s\n' "${firsts[@]}" | median)"
	local c=$1_CONNECT f=$1_FIRST
	log "figure: $1: median of $runs: connect ${!c} ms, first byte ${!f} ms (RTT $rtt_ms ms)"
}

# 1. Kernel bridges in both places.
measure bridges
# 2. The ClientNIC alone.
topo_from_bridge clientnic
topo_wait_path
measure clientnic
box_stop
assert_counter flows_established '>=' $runs
assert_counter flows_taken_over '==' 0
assert_counter flows_peer_early '==' 0
assert_counter frames_rewritten '>' 0
# 3. The pair: a ServerNIC in its place, and a ClientNIC started afresh so
# that its counters are this part's alone.
topo_from_bridge servernic
daemon_start clientnic
topo_wait_path
request "pair warm-up, IPv4" $S_IP4
request "pair warm-up, IPv6" $S_IP6
measure pair
request "pair, IPv6" $S_IP6
pair6_connect=$CONNECT_MS pair6_first=$FIRST_MS
log "figure: pair, IPv6: connect $pair6_connect ms, first byte $pair6_first ms"

log "figure: first byte medians: bridges $bridges_FIRST ms, ClientNIC alone $clientnic_FIRST ms, pair $pair_FIRST ms (RTT $rtt_ms ms)"
log "figure: connect() medians: bridges $bridges_CONNECT ms, ClientNIC alone $clientnic_CONNECT ms, pair $pair_CONNECT ms"
# The WAN is really there: through bridges, connect() takes a round trip
# and the first byte two.
assert_num "bridges: connect() ms" "$bridges_CONNECT" '>=' $((rtt_ms * 9 / 10))
assert_num "bridges: first byte ms" "$bridges_FIRST" '>=' $((rtt_ms * 2 * 9 / 10))
# The ClientNIC alone: connect() in LAN time, and the first byte still two
# RTTs (nothing can cross before the real SYN-ACK), no slower than bridges.
assert_num "ClientNIC alone: connect() ms" "$clientnic_CONNECT" '<' 5
assert_num "ClientNIC alone: first byte ms, 2 x RTT $((2 * rtt_ms)) ms" \
	"$clientnic_FIRST" '>=' $((rtt_ms * 2 * 9 / 10))
assert_num "ClientNIC alone: first byte ms, 1.25 x the bridges'" "$clientnic_FIRST" '<=' \
	"$(awk -v b="$bridges_FIRST" 'BEGIN { print 1.25 * b }')"
# The pair: one RTT (physics still holds), at most 3/4 of the bridges'.
pair_limit=$(awk -v b="$bridges_FIRST" 'BEGIN { print 0.75 * b }')
assert_num "pair: connect() ms" "$pair_CONNECT" '<' 5
assert_num "pair: first byte ms, 0.75 x the bridges' $bridges_FIRST ms" "$pair_FIRST" '<=' "$pair_limit"
assert_num "pair: first byte ms, at least one RTT" "$pair_FIRST" '>=' $((rtt_ms * 9 / 10))
assert_num "pair, IPv6: connect() ms" "$pair6_connect" '<' 5
assert_num "pair, IPv6: first byte ms, 0.75 x the bridges' (IPv4)" "$pair6_first" '<=' "$pair_limit"
assert_num "pair, IPv6: first byte ms, at least one RTT" "$pair6_first" '>=' $((rtt_ms * 9 / 10))

box_stop
snic_stop
# Every measured pair request went early; the warm-ups and those were all
# translated by the ServerNIC, none by the ClientNIC.
assert_counter flows_peer_early '>=' 3
assert_counter flows_taken_over '>=' 4
assert_counter peers_learned '==' 2
assert_counter flows_fallback '==' 0
assert_counter frames_rewritten '==' 0
assert_snic_counter flows_taken_over '>=' 4
assert_snic_counter syns_peer '>=' 4
assert_snic_counter frames_rewritten '>' 0
