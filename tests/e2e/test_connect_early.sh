#!/usr/bin/env bash
# connect() returns before the server has answered: linkem delays each
# direction by 150 ms (RTT 300 ms); through the box connect() takes a tiny
# fraction of that, through a bridge at least one RTT. The request sent on
# the young connection (early data, held by the box) is answered in full.
. "$(dirname "$0")/lib.sh"
one_way_ms=150
rtt_ms=$((2 * one_way_ms))
LINKEM_ARGS="--delay ${one_way_ms}ms $LINKEM_ARGS"
topo_setup "${BOX:-clientnic}" linkem

head -c 300000 /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080

for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL connect-time "$host" 8080 --path blob) || fail "request to $host failed: $out"
	log "$host: $out"
	val() { sed -n "s/.*\\b$1=\\([0-9.a-f]*\\).*/\\1/p" <<<"$out"; }
	assert_eq "bytes received from $host" 300000 "$(val bytes)"
	assert_eq "sha256 received from $host" "$(sha256 "$TOPO_DIR/blob")" "$(val sha256)"
	log "figure: $host connect $(val connect_ms) ms, first byte $(val first_byte_ms) ms, RTT $rtt_ms ms"
	if [ "$TOPO_BOX" = clientnic ]; then
		assert_num "connect() ms to $host, RTT $rtt_ms ms" "$(val connect_ms)" '<' $((rtt_ms / 10))
	else
		assert_num "connect() ms to $host through a bridge" "$(val connect_ms)" '>=' $((rtt_ms * 9 / 10))
	fi
	# Either way the answer needs the real handshake plus one round trip.
	assert_num "first byte ms from $host" "$(val first_byte_ms)" '>=' $((rtt_ms * 2 * 9 / 10))
done

box_stop
assert_counter synacks_spoofed '==' 2
assert_counter frames_buffered '>=' 2
assert_counter flows_established '==' 2
