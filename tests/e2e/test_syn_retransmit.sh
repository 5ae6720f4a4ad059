#!/usr/bin/env bash
# The server's answer to the first SYN is lost (a blackhole route in the
# server ns eats its SYN-ACK): the client still connects at once, and the
# box's own SYN retransmission gets the request through long before the
# client's kernel would have retried (1 s). Through a bridge, connect()
# takes that second instead.
. "$(dirname "$0")/lib.sh"
rto_ms=200
CLIENTNIC_ARGS="--syn-rto $rto_ms --syn-timeout 5 $CLIENTNIC_ARGS"
topo_setup

head -c 100000 /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080

tcp_in() { S awk '/^Tcp:/ { if (h) print $11; h = 1 }' /proc/net/snmp; }
syns_arrived() { [ "$(tcp_in)" -gt "$1" ]; }
in0=$(tcp_in)
S ip route add blackhole $C_IP4/32
spawn C "$TOPO_DIR/client.out" $TOOL connect-time $S_IP4 8080 --path blob
client=$SPAWNED_PID
wait_until 5 syns_arrived "$in0" || fail "the SYN never reached the server"
S ip route del blackhole $C_IP4/32
log "first SYN reached the server and went unanswered; route restored"
wait "$client" || { cat "$TOPO_DIR/client.out"; fail "the request failed"; }
out=$(cat "$TOPO_DIR/client.out")
log "$out"
val() { sed -n "s/.*\\b$1=\\([0-9.a-f]*\\).*/\\1/p" <<<"$out"; }
assert_eq "bytes received" 100000 "$(val bytes)"
assert_eq "sha256 received" "$(sha256 "$TOPO_DIR/blob")" "$(val sha256)"
log "figure: connect $(val connect_ms) ms, response complete after $(val done_ms) ms"
if [ "$TOPO_BOX" = clientnic ]; then
	assert_num "connect() ms with the server silent" "$(val connect_ms)" '<' 50
	# Served after the box's retransmission, well before the client's own.
	assert_num "request done ms" "$(val done_ms)" '<' 900
	box_stop
	assert_counter syns_resent '>=' 1
	assert_counter flows_established '==' 1
	assert_counter flows_timed_out '==' 0
else
	assert_num "connect() ms through a bridge (client's own SYN retry)" "$(val connect_ms)" '>=' 900
fi
