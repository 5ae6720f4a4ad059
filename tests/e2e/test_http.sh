#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# HTTP GET and PUT of several MB through the box, with offloads on and then
# off: the sha256 of what arrives equals that of what was sent.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
topo_setup

size_mb=8
head -c $((size_mb << 20)) /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080

transfer() { # label url-host
	local label=$1 host=$2 speed
	rm -f "$TOPO_DIR/got" "$TOPO_DIR/www/up"
	speed=$(C curl -sS --fail -m 30 -o "$TOPO_DIR/got" -w '%{speed_download}' \
		"http://$host:8080/blob") || fail "$label: GET failed"
	assert_same_file "$label GET" "$TOPO_DIR/blob" "$TOPO_DIR/got"
	log "figure: $label GET $(awk -v s="$speed" 'BEGIN { printf "%.0f", s * 8 / 1e6 }') Mbit/s"

	local answer
	answer=$(C curl -sS --fail -m 30 -H 'Expect:' -T "$TOPO_DIR/blob" \
		-w ' %{speed_upload}' "http://$host:8080/up") || fail "$label: PUT failed"
	assert_same_file "$label PUT" "$TOPO_DIR/blob" "$TOPO_DIR/www/up"
	assert_eq "$label PUT sha256 the server computed" "$(sha256 "$TOPO_DIR/blob")" \
		"$(echo $answer | cut -d' ' -f1)"
	log "figure: $label PUT $(awk -v s="$(echo $answer | cut -d' ' -f2)" 'BEGIN { printf "%.0f", s * 8 / 1e6 }') Mbit/s"
}

transfer "offloads on, IPv4" $S_IP4
topo_offloads off
transfer "offloads off, IPv4" $S_IP4
transfer "offloads off, IPv6" "[$S_IP6]"

box_stop
assert_counter synacks_spoofed '>=' 6
assert_counter flows_established '>=' 6
