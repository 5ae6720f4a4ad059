#!/usr/bin/env bash
# The daemons' command lines and their start-up errors, as an operator
# meets them: every option documented with its default, bad values refused
# with a message and exit 2, options of the other role refused by name, bad
# peer key files refused naming the file, a missing interface exit 3, a
# missing capability exit 4 naming it, and a daemon that does start says
# so under its own name and stops cleanly on SIGTERM. clientnic first, then
# servernic.
. "$(dirname "$0")/lib.sh"
need_root
need_bin clientnic
need_bin servernic
need_cmd setpriv
BIN=${CLIENTNIC_BIN:-$BUILD/clientnic}
SNIC_BIN=${SERVERNIC_BIN:-$BUILD/servernic}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run() { # expected-status what args...: run $BIN, check its exit status
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
for o in --peer --peer-ttl --peer-key; do
	grep -q -- "^  $o " "$out/stdout" || fail "--help does not document $o"
done
run 0 "--version" --version
assert_file_has "version printed" "$out/stdout" '^clientnic [0-9]'

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
bad --peer maybe
bad --peer ''
bad --peer-ttl 0
bad --peer-ttl soon
run 2 "unknown option" --frobnicate
assert_file_has "message names the unknown option" "$out/stderr" frobnicate
run 2 "the same interface twice" --client-if lo --server-if lo
assert_file_has "message says twice" "$out/stderr" 'same|twice|both'

# The peer key: at least 32 hex digits, whitespace allowed; anything else
# stops the daemon with exit 2 and a message naming the file.
printf '00112233445566778899aabbccddeeff\n' >"$out/key"
printf ' 0011 2233 4455 6677\n8899 aabb ccdd eeff 0123\n' >"$out/key-spaced"
printf '00112233445566778899aabbccddee\n' >"$out/key-short"
printf '00112233445566778899aabbccddeefg\n' >"$out/key-nonhex"
printf '0x00112233445566778899aabbccddeeff\n' >"$out/key-0x"
: >"$out/key-empty"
chmod 600 "$out"/key*
badkey() { # what file: the key file is refused for both programs
	local b
	for b in "$BIN" "$SNIC_BIN"; do
		BIN=$b run 2 "$(basename "$b") --peer-key $1" \
			--client-if nosuch0 --server-if nosuch1 --peer-key "$2"
		assert_file_has "message names the key file" "$out/stderr" \
			-- "--peer-key $2: "
		assert_file_lacks "the key file is not taken for an interface" \
			"$out/stderr" nosuch0
	done
}
badkey "missing" "$out/key-missing"
assert_file_has "message says the file is missing" "$out/stderr" 'No such file'
badkey "too short" "$out/key-short"
assert_file_has "message counts the digits" "$out/stderr" '30 hex digits'
badkey "non-hex" "$out/key-nonhex"
assert_file_has "message says not hex" "$out/stderr" 'not a hex digit'
badkey "0x prefix" "$out/key-0x"
badkey "empty" "$out/key-empty"
badkey "a directory" "$out"
# A good key gets past the command line to the interfaces (exit 3 here);
# one readable by others gets a warning, a private one none.
run 3 "good key, spaced" --client-if nosuch0 --server-if nosuch1 \
	--peer-key "$out/key-spaced"
assert_file_lacks "no warning for a private key" "$out/stderr" 'warning'
chmod 644 "$out/key"
run 3 "key readable by others" --client-if nosuch0 --server-if nosuch1 \
	--peer-key "$out/key"
assert_file_has "warning for an exposed key" "$out/stderr" \
	"clientnic: warning: --peer-key $out/key: .*chmod 600"
chmod 600 "$out/key"
run 3 "key with --peer off" --client-if nosuch0 --server-if nosuch1 \
	--peer off --peer-key "$out/key"
assert_file_has "warning: no use with --peer off" "$out/stderr" \
	'warning: --peer-key has no use with --peer off'

# servernic: its own name everywhere, its own options only.
BIN=$SNIC_BIN
run 0 "servernic --help" --help
assert_file_has "usage names servernic" "$out/stdout" '^Usage: servernic '
missing=$(awk '/^  --/ { if (o && !d) print o; o = $1; d = 0 }
	/\[default:/ { d = 1 } END { if (o && !d) print o }' "$out/stdout" |
	grep -vE '^--(help|version)$' || true)
assert_eq "servernic options without a documented default" "" "$missing"
for o in --client-if --server-if --pcap --log-level --log-format --peer-key \
	--syn-timeout --max-flows --buf-flow-bytes --buf-flow-frames \
	--buf-total-bytes --idle-timeout --close-grace --workers --stats-interval; do
	grep -q -- "^  $o " "$out/stdout" || fail "servernic --help does not document $o"
done
# The ClientNIC's own options: not shown, and refused by name.
cnic_only="--peer auto|--peer-ttl 60|--syn-rto 100|--default-mss 1400|--max-mss 1460|--default-wscale 7|--cache-entries 64|--no-sack|--no-timestamps"
IFS='|' read -ra cnic_only <<<"$cnic_only"
for a in "${cnic_only[@]}"; do
	o=${a%% *}
	assert_file_lacks "servernic --help leaves out $o" "$out/stdout" "^  $o( |\$)"
done
for a in "${cnic_only[@]}"; do
	o=${a%% *}
	# shellcheck disable=SC2086 # option and value, split on purpose
	run 2 "servernic refuses $o" --client-if lo --server-if lo2 $a
	assert_file_has "message names $o as a clientnic option" "$out/stderr" \
		-- "^${LOG_TS}servernic: error: $o is a clientnic option"
done
run 0 "servernic --version" --version
assert_file_has "servernic version" "$out/stdout" '^servernic [0-9]'
bad --syn-timeout 0
bad --max-flows 0
bad --log-level loud
run 2 "servernic unknown option" --frobnicate
assert_file_has "servernic names the unknown option" "$out/stderr" \
	"^${LOG_TS}servernic: error: --frobnicate"
run 2 "servernic, the same interface twice" --client-if lo --server-if lo
# The ClientNIC's check of --syn-rto against --syn-timeout does not apply.
run 3 "servernic --syn-timeout below the ClientNIC's SYN RTO" \
	--client-if nosuch0 --server-if nosuch1 --syn-timeout 0.05
assert_file_has "servernic names the missing interface" "$out/stderr" \
	"^${LOG_TS}servernic: error: .*nosuch0"
BIN=${CLIENTNIC_BIN:-$BUILD/clientnic}

# Start-up failures, in a namespace of our own with two ports, cna and cnb,
# each a veth whose peer (cnx, cny) is in the namespace too; and lpa-lpb,
# one veth pair whose ends would forward into each other.
ns=cncli$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$out"' EXIT
ip -n "$ns" link add name cna type veth peer name cnx
ip -n "$ns" link add name cnb type veth peer name cny
ip -n "$ns" link add name lpa type veth peer name lpb
for i in cna cnb cnx cny lpa lpb; do ip -n "$ns" link set "$i" up; done
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
# ready_then_term WHAT SECONDS cmd...: start a ClientNIC (the whole command,
# namespace entry included), wait for its ready line, SIGTERM it; it must
# exit 0. Its output stays in $out/stdout and $out/stderr.
ready_then_term() {
	local what=$1 secs=$2 pid rc=0
	shift 2
	"$@" >"$out/stdout" 2>"$out/stderr" &
	pid=$!
	wait_until "$secs" grep -q 'clientnic: ready' "$out/stderr" || fail "$what never ready"
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	assert_eq "$what: exit status after SIGTERM" 0 "$rc"
}
run_ns 3 "missing interface" "$BIN" --client-if nosuch0 --server-if cnb
assert_file_has "message names the interface" "$out/stderr" nosuch0
# Root without CAP_NET_RAW in its bounding set cannot open packet sockets.
run_ns 4 "without CAP_NET_RAW" setpriv --bounding-set -net_raw,-net_admin \
	--inh-caps -net_raw,-net_admin "$BIN" --client-if cna --server-if cnb
assert_file_has "message names the capability" "$out/stderr" CAP_NET_RAW

# The two ends of one veth pair: the kernel path would keep a loop going
# after the daemon; --datapath bpf refuses them, auto goes without it.
run_ns 2 "--datapath bpf on the two ends of one veth pair" "$BIN" \
	--client-if lpa --server-if lpb --datapath bpf
assert_file_has "message says why" "$out/stderr" 'two ends of one veth pair'
ready_then_term "daemon on one veth pair" 5 \
	ip netns exec "$ns" "$BIN" --client-if lpa --server-if lpb --control "$out/lp.sock"
assert_file_has "auto goes without the kernel path there" "$out/stderr" \
	'two ends of one veth pair: no kernel path'
assert_eq "tc programs left on lpa" "" "$(ip netns exec "$ns" tc filter show dev lpa ingress | grep -o cn_tc || true)"

# The kernel path's privileges: without CAP_BPF (and CAP_SYS_ADMIN,
# CAP_PERFMON) --datapath bpf stops with exit 4 naming the step; auto
# carries on without it, saying so.
nobpf="setpriv --bounding-set -bpf,-sys_admin,-perfmon --inh-caps -bpf,-sys_admin,-perfmon"
# shellcheck disable=SC2086 # the setpriv command line, split on purpose
run_ns 4 "--datapath bpf without CAP_BPF" $nobpf "$BIN" --client-if cna --server-if cnb \
	--datapath bpf --control none
assert_file_has "message names the step and the capability" "$out/stderr" \
	'--datapath bpf: loading the BPF programs failed \(needs CAP_BPF'
# shellcheck disable=SC2086
ready_then_term "daemon without CAP_BPF" 5 \
	ip netns exec "$ns" $nobpf "$BIN" --client-if cna --server-if cnb --control none
assert_file_has "auto without CAP_BPF says it goes without the kernel path" "$out/stderr" \
	'kernel path unavailable, every frame goes through the daemon'

# The kernel path stays after SIGTERM; a daemon started with --datapath
# afpacket takes it off (it would forward every frame a second time).
ready_then_term "daemon" 10 ip netns exec "$ns" "$BIN" --client-if cna --server-if cnb --control none
if grep -q 'kernel path: tc programs' "$out/stderr"; then
	assert_ne "tc program on cna after SIGTERM" "" \
		"$(ip netns exec "$ns" tc filter show dev cna ingress | grep -o cn_tc_client || true)"
	# Started under ip netns exec (its own /sys), found again from the
	# host's mounts: nsenter enters the network namespace only.
	ready_then_term "daemon under nsenter" 10 \
		nsenter --net="/run/netns/$ns" "$BIN" --client-if cna --server-if cnb --control none
	assert_file_has "nsenter --net finds the kernel path ip netns exec left" \
		"$out/stderr" 'kernel path: tc programs on cna and cnb, flows of a predecessor taken over'
	ready_then_term "afpacket daemon" 5 \
		ip netns exec "$ns" "$BIN" --client-if cna --server-if cnb --control none --datapath afpacket
	assert_file_has "--datapath afpacket takes a predecessor's kernel path off" \
		"$out/stderr" 'kernel path of a predecessor taken off the ports'
	assert_eq "tc program on cna after --datapath afpacket" "" \
		"$(ip netns exec "$ns" tc filter show dev cna ingress | grep -o cn_tc_client || true)"
	# Without CAP_PERFMON (or CAP_SYS_ADMIN, which implies it) the
	# verifier also checks every path a mispredicted branch could take,
	# and the programs load all the same (a packet read at a register
	# offset, or a narrow store into a stack slot that held a register on
	# 6.1, would fail it; tests/vm checks them so under 6.1).
	noperf="setpriv --bounding-set -sys_admin,-perfmon --inh-caps -sys_admin,-perfmon"
	# shellcheck disable=SC2086 # the setpriv command line, split on purpose
	ready_then_term "daemon without CAP_PERFMON" 10 \
		ip netns exec "$ns" $noperf "$BIN" --client-if cna --server-if cnb \
		--control none
	assert_file_has "without CAP_PERFMON the programs load on $(uname -r)" \
		"$out/stderr" 'kernel path: tc programs on cna and cnb$'
fi

# With the capability it starts, says it is ready, and stops on SIGTERM
# with exit 0 and its counters.
ready_then_term "daemon" 5 ip netns exec "$ns" "$BIN" --client-if cna --server-if cnb --control "$out/cn.sock"
assert_file_has "counters printed at exit" "$out/stderr" 'flows_created'
for c in syns_peer_opt peers_learned peers_lost drop.rst_fallback; do
	assert_file_has "counter $c printed" "$out/stderr" "^  $c +[0-9]+$"
done
assert_file_lacks "no sanitizer report" "$out/stderr" 'Sanitizer|runtime error'

# servernic the same, keyed, with two workers and JSON events: its own
# ready line, thread names and counters, in both streams.
run_ns 3 "servernic, missing interface" "$SNIC_BIN" --client-if nosuch0 --server-if cnb
assert_file_has "servernic names the interface" "$out/stderr" nosuch0
run_ns 4 "servernic without CAP_NET_RAW" setpriv --bounding-set -net_raw,-net_admin \
	--inh-caps -net_raw,-net_admin "$SNIC_BIN" --client-if cna --server-if cnb
assert_file_has "servernic names the capability" "$out/stderr" CAP_NET_RAW
ip netns exec "$ns" "$SNIC_BIN" --client-if cna --server-if cnb --workers 2 \
	--control "$out/sn.sock" --peer-key "$out/key" --log-format json >"$out/stdout" 2>"$out/stderr" &
pid=$!
wait_until 5 grep -Eq "^${LOG_TS}servernic: ready" "$out/stderr" || fail "servernic never ready"
names=$(cat /proc/"$pid"/task/*/comm | sort | tr '\n' ' ')
assert_eq "servernic thread names" "servernic servernic-w0 servernic-w1 " "$names"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq "servernic exit status after SIGTERM" 0 "$rc"
assert_file_has "servernic counters headed by its name" "$out/stderr" \
	"^${LOG_TS}servernic: counters \\(exit\\)"
for c in syns_peer flows_taken_over peer_opts_bad peer_tags_bad peer_opts_stripped; do
	assert_file_has "servernic counter $c printed" "$out/stderr" "^  $c +[0-9]+$"
	assert_file_has "servernic counter $c in the JSON record" "$out/stdout" \
		"\"event\":\"counters\".*\"$c\":[0-9]+"
done
assert_file_lacks "no clientnic prefix from servernic" "$out/stderr" "^${LOG_TS}clientnic:"
assert_file_lacks "no sanitizer report" "$out/stderr" 'Sanitizer|runtime error'
echo "cli: all checks passed"
