#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --cache-file: the options a server answered with survive a restart of
# the ClientNIC, so the first connection after it is spoofed right (a
# server without window scaling and SACK); a damaged or foreign file is
# refused with a warning and the daemon starts with an empty cache.
. "$(dirname "$0")/lib.sh"
topo_setup clientnic bridge bridge
cache=$TOPO_DIR/options.cache
S sysctl -qw net.ipv4.tcp_window_scaling=0 net.ipv4.tcp_sack=0
spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000

# one_connection: an echo, then the daemon stopped (its counters read).
one_connection() {
	C $TOOL echo-clients $S_IP4 7000 --size 3000 --timeout 10 >/dev/null ||
		fail "echo through the box failed"
	box_stop
}
spoofed() { grep -m1 'event=syn_spoofed' "$TOPO_DIR/clientnic.log"; }

topo_box_restart --cache-file "$cache"
one_connection
assert_counter cache_misses '==' 1
assert_file_has "the cache is written on a clean stop" "$TOPO_DIR/clientnic.err" \
	"options.cache: 1 servers' options written"
[ "$(stat -c %a "$cache")" = 600 ] || fail "cache file mode $(stat -c %a "$cache"), not 600"

topo_box_restart --cache-file "$cache"
assert_file_has "the cache is loaded at start" "$TOPO_DIR/clientnic.err" \
	"options.cache: 1 servers' options loaded"
one_connection
assert_counter cache_hits '==' 1
assert_counter cache_misses '==' 0
spoofed | grep -q 'wscale=-1 sack=false' ||
	fail "first connection after the restart not spoofed from the file: $(spoofed)"
log "ok: first connection after a restart: $(spoofed | grep -o 'mss=.*timestamps=[a-z]*')"

# damaged: one bit flipped in a record
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[20] ^= 1; open(p, "wb").write(b)' "$cache"
topo_box_restart --cache-file "$cache"
assert_file_has "a damaged file is refused" "$TOPO_DIR/clientnic.err" \
	"refused, its checksum does not match"
one_connection
assert_counter cache_misses '==' 1

# foreign: not a cache file at all; and one of another size than its count
head -c 300 /dev/urandom >"$cache"
topo_box_restart --cache-file "$cache"
assert_file_has "a foreign file is refused" "$TOPO_DIR/clientnic.err" "refused, not a cache file"
box_stop
printf 'CNOPTC\0\1\0\0\0\7junk-and-more-junk' >"$cache"
topo_box_restart --cache-file "$cache"
assert_file_has "a truncated file is refused" "$TOPO_DIR/clientnic.err" \
	"refused, its size does not match its record count"
one_connection
assert_counter cache_misses '==' 1
assert_file_has "and replaced on a clean stop" "$TOPO_DIR/clientnic.err" "1 servers' options written"
