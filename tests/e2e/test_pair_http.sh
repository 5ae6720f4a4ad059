#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# HTTP GET and PUT of 8 MiB through the pair (ClientNIC, a 2 ms WAN each
# way, ServerNIC), IPv4 and IPv6, offloads on and then off: byte-exact
# (sha256) both ways, and the ServerNIC translates every flow, the ClientNIC
# none.
#
# The ClientNIC runs with its default --peer auto, as deployed: the first
# connection to each server address (IPv4, IPv6) is taken over by the
# ServerNIC while the ClientNIC still holds the request (the held frames
# then go on untranslated), every later one sends its request at once.
# Both ways of reaching a ServerNIC carry 8 MiB here.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
LINKEM_ARGS="--delay 2ms $LINKEM_ARGS"
topo_setup clientnic linkem servernic

size_mb=8
serve_blob $((size_mb << 20))

http_transfer "pair, offloads on, IPv4" $S_IP4
http_transfer "pair, offloads on, IPv6" "[$S_IP6]"
topo_offloads off
http_transfer "pair, offloads off, IPv4" $S_IP4
http_transfer "pair, offloads off, IPv6" "[$S_IP6]"

box_stop
snic_stop
log "figure: clientnic frames_in_client $(box_counter frames_in_client), servernic frames_rewritten $(snic_counter frames_rewritten)"
# 8 connections: all taken over, the first to each address family held
# (peer not known yet), the other 6 early.
assert_counter flows_taken_over '>=' 6
assert_counter flows_peer_early '>=' 6
assert_counter peers_learned '==' 2
assert_counter flows_fallback '==' 0
assert_counter frames_rewritten '==' 0
assert_snic_counter flows_taken_over '>=' 6
assert_snic_counter frames_rewritten '>' 0
assert_snic_counter peer_opts_bad '==' 0
