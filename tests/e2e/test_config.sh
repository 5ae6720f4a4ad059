#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --config FILE: a bad file stops the daemon with exit 2 and a message
# naming the file and line (an unknown key, a bad value, an option of the
# other role, a line that is not key = value, a key twice), a missing file
# is named; the command line wins over the file. Then a running ClientNIC
# (two workers) reads the file again on SIGHUP: a debug line appears that
# info did not show (early data held over a 10 ms WAN), a shorter idle
# timeout expires an idle connection in every worker's engine, a key that
# needs a restart is named as such, and a bad file leaves everything as it
# was, the daemon running.
. "$(dirname "$0")/lib.sh"
need_root
need_bin clientnic
need_bin servernic
need_cmd curl
BIN=${CLIENTNIC_BIN:-$BUILD/clientnic}
SNIC_BIN=${SERVERNIC_BIN:-$BUILD/servernic}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

refused() { # what bin line regex file-lines...: exit 2, "FILE:LINE: regex"
	local what=$1 bin=$2 line=$3 re=$4 rc=0
	shift 4
	printf '%s\n' "$@" >"$tmp/bad.conf"
	"$bin" --config "$tmp/bad.conf" --control none >/dev/null 2>"$tmp/err" || rc=$?
	assert_eq "$what: exit status" 2 "$rc"
	assert_file_has "$what: names the file and line" "$tmp/err" \
		"error: $tmp/bad.conf:$line: $re"
}
refused "unknown key" "$BIN" 3 "unknown key 'frobnicate' .*see --help" \
	"# a comment" "" "frobnicate = 1"
refused "bad value" "$BIN" 2 "max-flows = 0: out of range" \
	"client-if = eth0" "max-flows = 0"
refused "a flag's value" "$BIN" 1 "no-sack = maybe: one of yes, no" "no-sack = maybe"
refused "the other role's key" "$SNIC_BIN" 1 "cache-file is a clientnic option" \
	"cache-file = /tmp/x"
refused "not key = value" "$BIN" 2 "not a 'key = value' line" "workers = 2" "workers 2"
refused "a key twice" "$BIN" 2 "the key is given twice" "workers = 2" "workers = 3"
refused "a leading --" "$BIN" 1 "a key is a long option's name" "--workers = 2"
refused "a command-line option" "$BIN" 1 "config: not a key of the file" "config = /x"
rc=0
"$BIN" --config "$tmp/none.conf" 2>"$tmp/err" || rc=$?
assert_eq "missing file: exit status" 2 "$rc"
assert_file_has "missing file: named" "$tmp/err" "error: --config $tmp/none.conf: No such file"
# The command line wins: its interface is the one looked for (exit 3).
printf 'client-if = nosuch0\nserver-if = nosuch2\n' >"$tmp/if.conf"
rc=0
"$BIN" --config "$tmp/if.conf" --client-if nosuch1 2>"$tmp/err" || rc=$?
assert_eq "file and command line: exit status" 3 "$rc"
assert_file_has "the command line's interface" "$tmp/err" "interface nosuch1"
assert_file_lacks "not the file's" "$tmp/err" "nosuch0"

rm -rf "$tmp"
trap - EXIT

# ---- SIGHUP on a running daemon
LINKEM_ARGS="--delay 10ms $LINKEM_ARGS"
topo_setup clientnic linkem bridge
conf=$TOPO_DIR/cn.conf
printf '# the test ClientNIC\nlog-level = info\nworkers = 2\n' >"$conf"
topo_box_restart --config "$conf"
sock=$TOPO_DIR/clientnic.sock
ctl() { "$BUILD/clientnicctl" --socket "$sock" "$@"; }
serve_blob 20000
get() { C curl -sS --fail -m 10 -o /dev/null "http://$S_IP4:8080/blob" || fail "GET failed"; }
get
assert_file_lacks "at info: no held-frame event" "$TOPO_DIR/clientnic.log" 'event=buffered'

spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
# An idle connection: it stays in the table for the idle timeout.
spawn C "$TOPO_DIR/idle.log" bash -c "exec 3<>/dev/tcp/$S_IP4/7000; sleep 20"
listed() { ctl flows --server "$S_IP4:7000" --state established | grep -q .; }
wait_until 5 listed || fail "the idle connection is not listed"

printf 'log-level = debug\nworkers = 2\nidle-timeout = 1\nmax-flows = 1000\n' >"$conf"
kill -HUP "$BOX_PID"
wait_line 5 "$TOPO_DIR/clientnic.err" 'SIGHUP: changed, but kept until a restart: max-flows$' "$BOX_PID" ||
	fail "no word of the keys that need a restart"
assert_file_has "SIGHUP: the log level" "$TOPO_DIR/clientnic.err" \
	"^${LOG_TS}clientnic: SIGHUP: log-level: info -> debug$"
assert_file_has "SIGHUP: the idle timeout" "$TOPO_DIR/clientnic.err" \
	"^${LOG_TS}clientnic: SIGHUP: idle-timeout: 7440 -> 1$"
get
wait_line 5 "$TOPO_DIR/clientnic.log" 'event=buffered' "$BOX_PID" ||
	fail "no debug event after SIGHUP set log-level = debug"
log "ok: a debug event after SIGHUP: $(grep -m1 'event=buffered' "$TOPO_DIR/clientnic.log" | cut -c1-100)"
expired() { [ "$(ctl counters | sed -n 's/^flows_expired //p')" -ge 1 ]; }
wait_until 5 expired || fail "the idle connection did not expire under idle-timeout = 1"
log "ok: the new idle timeout reached the worker that holds the idle flow"

printf 'log-level = info\nidle-timeout = soon\n' >"$conf"
kill -HUP "$BOX_PID"
wait_line 5 "$TOPO_DIR/clientnic.err" 'refused: the running configuration stays' "$BOX_PID" ||
	fail "a bad file on SIGHUP was not refused"
assert_file_has "SIGHUP: the bad line named" "$TOPO_DIR/clientnic.err" \
	"error: $conf:2: idle-timeout = soon: not a number"
assert_file_lacks "nothing changed" "$TOPO_DIR/clientnic.err" 'log-level: debug -> info'
box_stop
