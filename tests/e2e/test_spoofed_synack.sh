#!/usr/bin/env bash
# The client's SYN-ACK comes from the box, not from the server: captures on
# c0 and s0 show two different ISNs for the same connection, and the bytes
# still arrive exact. With BOX=bridge the two ISNs must be equal (a check
# that the capture reading itself is right).
. "$(dirname "$0")/lib.sh"
need_cmd tshark
topo_setup

head -c $((2 << 20)) /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080

cap_start C c0 "$TOPO_DIR/c0.pcapng" "tcp port 8080"
cap_c=$CAP_PID
cap_start S s0 "$TOPO_DIR/s0.pcapng" "tcp port 8080"
cap_s=$CAP_PID

out=$(C $TOOL connect-time $S_IP4 8080 --path blob) || fail "GET failed: $out"
log "$out"
cap_stop "$cap_c" "$TOPO_DIR/c0.pcapng"
cap_stop "$cap_s" "$TOPO_DIR/s0.pcapng"
assert_eq "bytes received" "$(stat -c %s "$TOPO_DIR/blob")" "$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$out")"
assert_eq "sha256 received" "$(sha256 "$TOPO_DIR/blob")" "$(sed -n 's/.* sha256=\([0-9a-f]*\).*/\1/p' <<<"$out")"

synack() { # pcap: "seq ack" of each SYN-ACK, absolute numbers
	tshark -n -r "$1" -o tcp.relative_sequence_numbers:FALSE \
		-Y 'tcp.flags.syn == 1 && tcp.flags.ack == 1' -T fields -e tcp.seq -e tcp.ack \
		2>/dev/null
}
syn() {
	tshark -n -r "$1" -o tcp.relative_sequence_numbers:FALSE \
		-Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.seq 2>/dev/null
}
c_synack=$(synack "$TOPO_DIR/c0.pcapng")
s_synack=$(synack "$TOPO_DIR/s0.pcapng")
c_syn=$(syn "$TOPO_DIR/c0.pcapng" | head -n 1)
s_syn=$(syn "$TOPO_DIR/s0.pcapng" | head -n 1)
log "client side: SYN seq $c_syn, SYN-ACK seq/ack $(echo $c_synack)"
log "server side: SYN seq $s_syn, SYN-ACK seq/ack $(echo $s_synack)"
[ -n "$c_synack" ] || fail "no SYN-ACK captured on c0"
[ -n "$s_synack" ] || fail "no SYN-ACK captured on s0"
assert_eq "SYN-ACKs seen by the client" 1 "$(wc -l <<<"$c_synack")"
assert_eq "client ISN unchanged across the box" "$c_syn" "$s_syn"
assert_eq "client-side SYN-ACK acknowledges the SYN" $(((c_syn + 1) % 4294967296)) "$(cut -f2 <<<"$c_synack")"
c_isn=$(cut -f1 <<<"$c_synack")
s_isn=$(head -n 1 <<<"$s_synack" | cut -f1)
if [ "$TOPO_BOX" = clientnic ]; then
	assert_ne "server ISN as the client saw it (real one: $s_isn)" "$s_isn" "$c_isn"
else
	assert_eq "server ISN as the client saw it through a bridge" "$s_isn" "$c_isn"
fi

# The data on the client side is in the spoofed sequence space: the first
# data byte from the server is at ISN+1 on both sides of the box.
first_data() { # pcap port-filter
	tshark -n -r "$1" -o tcp.relative_sequence_numbers:FALSE \
		-Y 'tcp.srcport == 8080 && tcp.len > 0' -T fields -e tcp.seq 2>/dev/null | head -n 1
}
assert_eq "first server byte on c0 at spoofed ISN+1" $(((c_isn + 1) % 4294967296)) "$(first_data "$TOPO_DIR/c0.pcapng")"
assert_eq "first server byte on s0 at real ISN+1" $(((s_isn + 1) % 4294967296)) "$(first_data "$TOPO_DIR/s0.pcapng")"

out=$($TOOL check-pcap "$TOPO_DIR/s0.pcapng" 8080 2>&1) || fail "client segments at the server: $out"
log "ok: client ACKs and TSecrs at the server are in its own space: $out"

box_stop
assert_counter synacks_spoofed '==' 1
assert_counter synacks_real '==' 1
assert_counter frames_rewritten '>' 0
