#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A ServerNIC without a ClientNIC (a kernel bridge in the ClientNIC's place,
# a 20 ms WAN RTT): plain clients ask for nothing, so every flow crosses it
# as through a bridge. GET and PUT of 8 MiB stay byte-exact on IPv4 and
# IPv6; connect() and the first byte of a 1 KiB GET are no slower than
# with a kernel bridge in the ServerNIC's place (measured after it in the
# same topology) beyond a wide margin; and the ServerNIC tracked nothing.
# shellcheck disable=SC2154 # <setup>_CONNECT, <setup>_FIRST: set by measure (printf -v)
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
one_way_ms=10
rtt_ms=$((2 * one_way_ms))
runs=5
LINKEM_ARGS="--delay ${one_way_ms}ms $LINKEM_ARGS"
topo_setup bridge linkem servernic

head -c $((8 << 20)) /dev/urandom >"$TOPO_DIR/blob"
head -c 1024 /dev/urandom >"$TOPO_DIR/small"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/small" "$TOPO_DIR/www/"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080

# measure SETUP: $runs GETs of 1 KiB; medians in <SETUP>_CONNECT, <SETUP>_FIRST.
measure() {
	local i out conns=() firsts=()
	for i in $(seq $runs); do
		out=$(C $TOOL connect-time $S_IP4 8080 --path small) || fail "$1: GET failed: $out"
		log "$1 #$i: $out"
		conns+=("$(sed -n 's/.*connect_ms=\([0-9.]*\).*/\1/p' <<<"$out")")
		firsts+=("$(sed -n 's/.*first_byte_ms=\([0-9.]*\).*/\1/p' <<<"$out")")
	done
	printf -v "$1_CONNECT" %s "$(printf '%s\n' "${conns[@]}" | median)"
	printf -v "$1_FIRST" %s "$(printf '%s\n' "${firsts[@]}" | median)"
	local c=$1_CONNECT f=$1_FIRST
	log "figure: $1: median of $runs: connect ${!c} ms, first byte ${!f} ms (RTT $rtt_ms ms)"
}

http_transfer "ServerNIC alone, IPv4" $S_IP4
http_transfer "ServerNIC alone, IPv6" "[$S_IP6]"
measure servernic
snic_stop
assert_snic_counter passed_untracked '>' 0
assert_snic_counter flows_created '==' 0
assert_snic_counter syns_peer '==' 0
assert_snic_counter peer_opts_stripped '==' 0
assert_snic_counter frames_rewritten '==' 0
assert_snic_counter flows_active '==' 0
log "figure: servernic passed_untracked $(snic_counter passed_untracked) of $(($(snic_counter frames_in_client) + $(snic_counter frames_in_server))) frames"

topo_snic_to_bridge
topo_wait_path
measure bridges

log "figure: connect() medians: ServerNIC $servernic_CONNECT ms, bridge $bridges_CONNECT ms; first byte: ServerNIC $servernic_FIRST ms, bridge $bridges_FIRST ms (RTT $rtt_ms ms)"
# The WAN is there either way, and the ServerNIC adds no round trip.
for setup in servernic bridges; do
	c=${setup}_CONNECT f=${setup}_FIRST
	assert_num "$setup: connect() ms, at least one RTT" "${!c}" '>=' $((rtt_ms * 9 / 10))
	assert_num "$setup: first byte ms, at least two RTTs" "${!f}" '>=' $((rtt_ms * 2 * 9 / 10))
done
assert_num "ServerNIC: connect() ms, at most 1.25 x the bridge's + 5" "$servernic_CONNECT" '<=' \
	"$(awk -v b="$bridges_CONNECT" 'BEGIN { print 1.25 * b + 5 }')"
assert_num "ServerNIC: first byte ms, at most 1.25 x the bridge's + 5" "$servernic_FIRST" '<=' \
	"$(awk -v b="$bridges_FIRST" 'BEGIN { print 1.25 * b + 5 }')"
