#!/usr/bin/env bash
# Port reuse: one client port, six GETs in a row, the server closing first
# or the client aborting with an RST. Each new SYN on the same 4-tuple must
# start a fresh flow (new ISNs, new delta) and get its bytes exact, quickly.
. "$(dirname "$0")/lib.sh"
count=6
topo_setup

head -c 200000 /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080

for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL port-reuse "$host" 8080 --path blob --expect "$TOPO_DIR/blob" \
		--count $count --timeout 5 2>&1) || fail "port reuse to $host: $out"
	log "$host: $(tr '\n' ' ' <<<"$out")"
	assert_eq "GETs from one port to $host, bytes exact" "ok=$count count=$count" "$(tail -n 1 <<<"$out")"
done

box_stop
assert_counter synacks_spoofed '==' $((2 * count))
assert_counter flows_established '==' $((2 * count))
# Each SYN found the last flow closed (by the kernel path, which may tell
# the daemon after the SYN is read): none taken for a challenge, no
# SYN-ACK dropped as another connection's.
assert_counter syns_challenged '==' 0
assert_counter drop.synack_bad_ack '==' 0
