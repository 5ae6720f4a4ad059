#!/usr/bin/env bash
# The daemon's command line and its start-up errors, as an operator meets
# them: every option documented with its default, bad values refused with a
# message and exit 2, a missing interface exit 3, a missing capability exit
# 4 naming it, and a daemon that does start stops cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
need_root
need_bin clientnic
need_cmd setpriv
BIN=${CLIENTNIC_BIN:-$BUILD/clientnic}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run() { # expected-status what args...: run the daemon, check its exit status
	local want=$1 what=$2 rc=0
	shift 2
	timeout 10 "$BIN" "$@" >"$out/stdout" 2>"$out/stderr" || rc=$?
	[ "$rc" -eq "$want" ] || {
		cat "$out/stderr" >&2
		fail "$what: exit $rc, expected $want"
	}
	log "ok: $what: exit $rc"
}

# --help: every option line carries its default.
run 0 "--help" --help
opts=$(grep -cE '^  --[a-z]' "$out/stdout")
assert_num "options listed by --help" "$opts" '>=' 20
missing=$(awk '/^  --/ { if (o && !d) print o; o = $1; d = 0 }
	/\[default:/ { d = 1 } END { if (o && !d) print o }' "$out/stdout" |
	grep -vE '^--(help|version)$' || true)
assert_eq "options without a documented default" "" "$missing"
for o in --client-if --server-if --pcap --log-level --log-format --syn-timeout \
	--max-flows --buf-flow-bytes --buf-total-bytes --idle-timeout; do
	grep -q -- "^  $o " "$out/stdout" || fail "--help does not document $o"
done
run 0 "--version" --version
assert_file_has "version printed" "$out/stdout" '[0-9]'

# Bad values: exit 2 and a message naming the option.
bad() { # option value
	run 2 "$1 '$2'" --client-if lo --server-if lo2 "$1" "$2"
	assert_file_has "message names $1" "$out/stderr" -- "$1"
}
bad --syn-timeout -1
bad --syn-timeout abc
bad --max-flows 0
bad --max-flows 99999999999
bad --log-level loud
bad --log-format xml
bad --default-wscale 15
bad --buf-flow-bytes ''
run 2 "unknown option" --frobnicate
assert_file_has "message names the unknown option" "$out/stderr" frobnicate
run 2 "the same interface twice" --client-if lo --server-if lo
assert_file_has "message says twice" "$out/stderr" 'same|twice|both'

# Start-up failures, in a namespace of our own with two ports (a veth pair).
ns=cncli$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$out"' EXIT
ip -n "$ns" link add name cna type veth peer name cnb
ip -n "$ns" link set cna up
ip -n "$ns" link set cnb up
run_ns() { # expected-status what args...
	local want=$1 what=$2 rc=0
	shift 2
	timeout 10 ip netns exec "$ns" "$@" >"$out/stdout" 2>"$out/stderr" || rc=$?
	[ "$rc" -eq "$want" ] || {
		cat "$out/stderr" >&2
		fail "$what: exit $rc, expected $want"
	}
	log "ok: $what: exit $rc"
}
run_ns 3 "missing interface" "$BIN" --client-if nosuch0 --server-if cnb
assert_file_has "message names the interface" "$out/stderr" nosuch0
# Root without CAP_NET_RAW in its bounding set cannot open packet sockets.
run_ns 4 "without CAP_NET_RAW" setpriv --bounding-set -net_raw,-net_admin \
	--inh-caps -net_raw,-net_admin "$BIN" --client-if cna --server-if cnb
assert_file_has "message names the capability" "$out/stderr" CAP_NET_RAW

# With the capability it starts, says it is ready, and stops on SIGTERM
# with exit 0 and its counters.
ip netns exec "$ns" "$BIN" --client-if cna --server-if cnb >"$out/stdout" 2>"$out/stderr" &
pid=$!
wait_until 5 grep -q 'clientnic: ready' "$out/stderr" || fail "daemon never ready"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq "exit status after SIGTERM" 0 "$rc"
assert_file_has "counters printed at exit" "$out/stderr" 'flows_created'
assert_file_lacks "no sanitizer report" "$out/stderr" 'Sanitizer|runtime error'
echo "cli: all checks passed"
