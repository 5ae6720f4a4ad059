#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A server behind a smaller MTU (1300 for IPv4, 1280 for IPv6) and no
# router to say "fragmentation needed": its SYN-ACK announces an MSS below
# the one the ClientNIC promised the client from a cold cache. The box cuts
# the client's longer segments to the server's MSS (GSO, the kernel does
# the cutting), so the first connection's upload and echo get through,
# byte-exact: through the ClientNIC alone, and through the pair, where the
# ServerNIC cuts.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
LINKEM_ARGS="--delay 1ms $LINKEM_ARGS"
topo_setup clientnic linkem bridge

head -c $((1 << 20)) /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080
spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

server_mtu() { # mtu: the server's link, both ends
	P ip link set eth1 mtu "$1"
	S ip link set s0 mtu "$1"
}

# first_connection LABEL HOST: upload and echo 1 MiB, each the first
# connection to its server port of a freshly started ClientNIC.
first_connection() {
	local label=$1 host=$2 url_host=$2 answer out
	[[ $host == *:* ]] && url_host="[$host]"
	rm -f "$TOPO_DIR/www/up"
	answer=$(C curl -sS --fail -m 20 -H 'Expect:' -T "$TOPO_DIR/blob" \
		"http://$url_host:8080/up") || fail "$label: PUT failed"
	assert_same_file "$label: 1 MiB PUT" "$TOPO_DIR/blob" "$TOPO_DIR/www/up"
	assert_eq "$label: sha256 the server computed" "$(sha256 "$TOPO_DIR/blob")" "$answer"
	out=$(C $TOOL echo-clients "$host" 7000 --size $((1 << 20)) --timeout 20) ||
		fail "$label: 1 MiB echo: $out"
	log "$label: echo $out"
}

for snic in bridge servernic; do
	[ $snic = servernic ] && topo_bridge_to_snic
	for case in "1300 $S_IP4 on" "1300 $S_IP4 off" "1280 $S_IP6 on"; do
		read -r mtu host offloads <<<"$case"
		topo_offloads "$offloads"
		server_mtu "$mtu"
		topo_box_restart "$CLIENTNIC_ARGS"
		[ $snic = servernic ] && snic_restart "$SERVERNIC_ARGS"
		first_connection "server MTU $mtu, $host, offloads $offloads, box place of the ServerNIC: $snic" "$host"
		box_stop
		if [ $snic = servernic ]; then
			snic_stop
			assert_snic_counter frames_cut '>' 0
			assert_counter flows_taken_over '==' 2
		else
			assert_counter frames_cut '>' 0
		fi
		server_mtu 1500
	done
done
