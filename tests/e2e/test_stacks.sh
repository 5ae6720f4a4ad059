#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Stacks of every setting: the client's and the server's TCP options
# switched off or on with sysctl (each network namespace has its own), over
# a 5 ms WAN (linkem, each way), through the ClientNIC alone and then
# through the pair (ClientNIC + ServerNIC). Each case runs twice: with the
# daemons just restarted (cold options cache: the spoofed SYN-ACK guesses
# from the defaults and the box repairs what it guessed wrong) and then
# again (warm cache: the guess is right, and through the pair the peer is
# known, so the early data goes out at once). Each run is a 256 KiB GET and
# a 256 KiB PUT, checked byte for byte (sha256 on both ends), to two server
# ports (the cache is per address and port), so each of the two is the
# first connection to its server in a cold run.
#
#   server without timestamps, without SACK, without window scaling,
#   without all three; client without all three; ECN asked on both ends
#   (the ClientNIC takes the request out of the SYN); data in the SYN (TFO
#   without a cookie: client tcp_fastopen=0x5, server 0x602; a SYN with
#   data gets no peer option, so the pair works as the ClientNIC alone);
#   a server behind a 1300-byte MTU (the cold run's upload is cut by the
#   box that translates).
#
# After each run the counters of both daemons: connections spoofed,
# established, taken over as expected; every drop.* counter 0.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
LINKEM_ARGS="--delay 5ms $LINKEM_ARGS"
topo_setup clientnic linkem bridge

GET_PORT=8080
PUT_PORT=8081
size=$((256 << 10))
head -c $size /dev/urandom >"$TOPO_DIR/blob"
blob_sha=$(sha256 "$TOPO_DIR/blob")
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"

KEYS="net.ipv4.tcp_timestamps net.ipv4.tcp_sack net.ipv4.tcp_window_scaling net.ipv4.tcp_ecn net.ipv4.tcp_fastopen"
declare -A DEFAULT
for ns in C S; do
	for k in $KEYS; do DEFAULT[$ns:$k]=$($ns sysctl -n "$k"); done
done
restore_defaults() {
	local ns k
	for ns in C S; do
		for k in $KEYS; do "$ns" sysctl -qw "$k=${DEFAULT[$ns:$k]}"; done
	done
	P ip link set eth1 mtu 1500
	S ip link set s0 mtu 1500
}

# The listeners get a Fast Open queue only if TFO is on for listeners
# without the socket option (0x400, with 0x2) when they listen; the
# sysctl in force when a SYN arrives decides whether it is used (off
# again with the default, 1, for every case but one).
S sysctl -qw net.ipv4.tcp_fastopen=0x602
for port in $GET_PORT $PUT_PORT; do
	spawn S "$TOPO_DIR/http-$port.log" $TOOL http-server $port "$TOPO_DIR/www"
	wait_listen S $port
done
restore_defaults

# The cases: name, then NS:key=value words.
CASES=(
	"server without timestamps|S:net.ipv4.tcp_timestamps=0"
	"server without SACK|S:net.ipv4.tcp_sack=0"
	"server without window scaling|S:net.ipv4.tcp_window_scaling=0"
	"server without timestamps, SACK, window scaling|S:net.ipv4.tcp_timestamps=0 S:net.ipv4.tcp_sack=0 S:net.ipv4.tcp_window_scaling=0"
	"client without timestamps, SACK, window scaling|C:net.ipv4.tcp_timestamps=0 C:net.ipv4.tcp_sack=0 C:net.ipv4.tcp_window_scaling=0"
	"ECN on both ends|C:net.ipv4.tcp_ecn=1 S:net.ipv4.tcp_ecn=1"
	"data in the SYN (TFO, no cookie)|C:net.ipv4.tcp_fastopen=0x5 S:net.ipv4.tcp_fastopen=0x602"
	"server MTU 1300|mtu=1300"
)

apply_case() { # words
	local w
	for w in "$@"; do
		case $w in
		mtu=*)
			P ip link set eth1 mtu "${w#mtu=}"
			S ip link set s0 mtu "${w#mtu=}"
			;;
		*:*) "${w%%:*}" sysctl -qw "${w#*:}" ;;
		esac
	done
}

tfo_passive() { S nstat -asz TcpExtTCPFastOpenPassive | awk '$1 == "TcpExtTCPFastOpenPassive" { print $2 }'; }

# transfer LABEL [curl options]: GET and PUT of the blob, byte for byte.
transfer() {
	local label=$1 answer
	shift
	rm -f "$TOPO_DIR/got" "$TOPO_DIR/www/up"
	C curl -sS --fail -m 10 "$@" -o "$TOPO_DIR/got" "http://$S_IP4:$GET_PORT/blob" ||
		fail "$label: GET failed"
	assert_same_file "$label: GET" "$TOPO_DIR/blob" "$TOPO_DIR/got"
	answer=$(C curl -sS --fail -m 10 "$@" -H 'Expect:' -T "$TOPO_DIR/blob" \
		"http://$S_IP4:$PUT_PORT/up") || fail "$label: PUT failed"
	assert_same_file "$label: PUT" "$TOPO_DIR/blob" "$TOPO_DIR/www/up"
	assert_eq "$label: PUT sha256 the server computed" "$blob_sha" "$answer"
}

# The drop.* counters of a daemon's latest counter block that are not 0.
drops_nonzero() { # name
	awk '$1 ~ /^drop\./ { v[$1] = $2 } END { for (k in v) if (v[k] != 0) printf "%s=%s ", k, v[k] }' \
		"$TOPO_DIR/$1.err"
}
assert_no_drops() { # name label
	_dmn_in_place "$1" || return 0
	local d
	d=$(drops_nonzero "$1")
	[ -z "$d" ] || fail "$2: $1 dropped frames: $d"
	log "ok: $2: $1 drop.* all 0"
}
# c NAME COUNTER: the counter of the latest block, 0 when it is absent.
c() { local v; v=$(daemon_counter "$1" "$2"); echo "${v:-0}"; }

# check SETUP CASE PHASE TFO_BEFORE: the counters, cumulative since the
# restart (PHASE 1: after the cold run, 2: after the warm one too).
check() {
	local setup=$1 name=$2 n=$(($3 * 2)) tfo0=$4 label phase=cold
	[ "$3" = 2 ] && phase="cold + warm"
	label="$setup, $name, $phase"
	assert_counter synacks_spoofed '==' $n
	assert_counter flows_created '==' $n
	assert_counter cache_misses '==' 2
	assert_counter cache_hits '==' $((n - 2))
	assert_counter flows_refused '==' 0
	assert_counter flows_timed_out '==' 0
	assert_counter flows_reset '==' 0
	assert_counter flows_fallback '==' 0
	assert_counter passed_table_full '==' 0
	assert_counter passed_untracked '==' 0
	assert_counter flows_established '==' $n
	assert_counter buffered_bytes '==' 0
	case $name in
	ECN*) assert_counter syns_ecn_stripped '==' $n ;;
	*) assert_counter syns_ecn_stripped '==' 0 ;;
	esac
	if [[ $name == data* ]]; then
		# No room for the peer option on a SYN with data: the
		# ClientNIC translates, in either setup; the server took the
		# data of every SYN.
		assert_counter syns_peer_nofit '==' $n
		assert_counter flows_taken_over '==' 0
		assert_counter frames_rewritten '>' 0
		assert_snic_counter syns_peer '==' 0
		assert_snic_counter flows_taken_over '==' 0
		assert_snic_counter flows_created '==' 0
		assert_snic_counter passed_untracked '>' 0
		assert_num "$label: data-in-SYN connections the server accepted (TCPFastOpenPassive)" \
			$(($(tfo_passive) - tfo0)) '==' $n
	elif [ "$setup" = pair ]; then
		assert_counter syns_peer_opt '==' $n
		assert_counter flows_taken_over '==' $n
		assert_counter peers_learned '==' 2
		assert_counter flows_peer_early '==' $((n - 2))
		assert_counter frames_rewritten '==' 0
		assert_snic_counter syns_peer '==' $n
		assert_snic_counter flows_taken_over '==' $n
		assert_snic_counter synacks_receipt '==' $n
		assert_snic_counter peer_opts_bad '==' 0
		assert_snic_counter frames_rewritten '>' 0
		assert_snic_counter passed_untracked '==' 0
	else
		assert_counter syns_peer_opt '==' $n
		assert_counter synacks_real '==' $n
		assert_counter flows_taken_over '==' 0
		assert_counter peers_learned '==' 0
		assert_counter frames_rewritten '>' 0
	fi
	if [[ $name == *MTU* ]]; then
		# The cold upload goes with the default MSS promised (1400)
		# and is cut for the server (1260); the warm one is promised
		# the server's own MSS.
		local cutter=clientnic
		[ "$setup" = pair ] && cutter=servernic
		[ "$3" = 1 ] && CUT_COLD=$(c $cutter frames_cut)
		assert_num "$label: $cutter frames_cut in the cold run" "$CUT_COLD" '>' 0
		assert_daemon_counter $cutter frames_cut '==' "$CUT_COLD"
		[ "$setup" = pair ] && assert_counter frames_cut '==' 0
	else
		assert_counter frames_cut '==' 0
		assert_snic_counter frames_cut '==' 0
	fi
	assert_no_drops clientnic "$label"
	assert_no_drops servernic "$label"
}

run_setup() { # setup
	local setup=$1 entry name words tfo0 t0
	for entry in "${CASES[@]}"; do
		name=${entry%%|*}
		read -ra words <<<"${entry#*|}"
		t0=$(date +%s%N)
		[ "$setup" = pair ] && snic_restart "$SERVERNIC_ARGS"
		topo_box_restart "$CLIENTNIC_ARGS"
		apply_case "${words[@]}"
		tfo0=$(tfo_passive)
		local curl_opts=()
		[[ $name == data* ]] && curl_opts=(--tcp-fastopen)

		log "==== $setup: $name: cold (daemons just restarted)"
		transfer "$setup, $name, cold" "${curl_opts[@]}"
		daemon_snapshot clientnic
		daemon_snapshot servernic
		check "$setup" "$name" 1 "$tfo0"

		log "==== $setup: $name: warm (the same again)"
		transfer "$setup, $name, warm" "${curl_opts[@]}"
		box_stop
		snic_stop
		check "$setup" "$name" 2 "$tfo0"
		restore_defaults
		log "figure: $setup, $name: cold + warm in $((($(date +%s%N) - t0) / 1000000)) ms"
	done
}

run_setup "ClientNIC alone"
topo_from_bridge servernic  # the ClientNIC is stopped: the next case starts it
run_setup pair
