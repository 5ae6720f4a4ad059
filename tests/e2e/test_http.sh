#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# HTTP GET and PUT of several MB through the box, with offloads on and then
# off: the sha256 of what arrives equals that of what was sent.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
topo_setup

size_mb=8
serve_blob $((size_mb << 20))

http_transfer "offloads on, IPv4" $S_IP4
topo_offloads off
http_transfer "offloads off, IPv4" $S_IP4
http_transfer "offloads off, IPv6" "[$S_IP6]"

box_stop
assert_counter synacks_spoofed '>=' 6
assert_counter flows_established '>=' 6
