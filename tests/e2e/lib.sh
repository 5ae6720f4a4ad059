# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# End-to-end test library: real TCP stacks in four network namespaces.
#
#   client ns        clientnic ns              servernic ns             server ns
#   [c0] ---------- [eth0  box  eth1] ------- [wan0  linkem  wan1] ---- [s0]
#   10.77.0.1/24                                                        10.77.0.2/24
#   fd77::1/64                                                          fd77::2/64
#
# box    = clientnic: build/clientnic --client-if eth0 --server-if eth1 $CLIENTNIC_ARGS
#          bridge:    a Linux bridge br0 over eth0 and eth1
# wan    = linkem:    build/linkem -a wan0 -b wan1 $LINKEM_ARGS   (a2b: towards the server)
#          bridge:    a Linux bridge br1 over wan0 and wan1
#
# A test sources this file, sets CLIENTNIC_ARGS / LINKEM_ARGS if it needs to,
# calls `topo_setup BOX WAN` (defaults: $BOX, $WAN from the environment, else
# clientnic and bridge) and uses C/N/W/S to run commands in the namespaces.
# Cleanup runs from a trap on EXIT, INT and TERM. Exit 77 means skipped.
#
# Environment: BUILD (binaries, default build), BOX, WAN, E2E_KEEP=1 (keep
# $TOPO_DIR), PYTHON (default /usr/bin/python3 when it exists).

set -o errexit -o nounset -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$E2E_DIR/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO_DIR/$BUILD ;; esac
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
TOOL="$PYTHON $E2E_DIR/e2e_tool.py"
CLIENTNIC_ARGS=${CLIENTNIC_ARGS:-}
LINKEM_ARGS=${LINKEM_ARGS:-}

E2E_SKIP=77
NS_PREFIX="cne2e$$"
NS_C=$NS_PREFIX-client
NS_N=$NS_PREFIX-clientnic
NS_W=$NS_PREFIX-servernic
NS_S=$NS_PREFIX-server

C_IP4=10.77.0.1
S_IP4=10.77.0.2
C_IP6=fd77::1
S_IP6=fd77::2
C_MAC=02:77:00:00:00:01
S_MAC=02:77:00:00:00:02
VETHS="$NS_C:c0 $NS_N:eth0 $NS_N:eth1 $NS_W:wan0 $NS_W:wan1 $NS_S:s0"

TOPO_DIR=
TOPO_BOX=
TOPO_WAN=
TOPO_PIDS=()
BOX_PID=
LINKEM_PID=
SPAWNED_PID=
BOX_RUNS=0

C() { ip netns exec "$NS_C" "$@"; }
N() { ip netns exec "$NS_N" "$@"; }
W() { ip netns exec "$NS_W" "$@"; }
S() { ip netns exec "$NS_S" "$@"; }

log() { printf '# %s\n' "$*"; }
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
skip() {
	printf 'SKIP: %s\n' "$*"
	exit $E2E_SKIP
}

# ---- assertions: each prints what it checked, and expected vs. got on failure

assert_eq() { # what expected got
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
	log "ok: $1 = $3"
}
assert_ne() { # what unexpected got
	[ "$2" != "$3" ] || fail "$1: expected anything but '$2', got '$3'"
	log "ok: $1 = $3 (not $2)"
}
# Numeric comparisons accept decimals.
num_cmp() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }
assert_num() { # what got op limit     e.g. assert_num "connect ms" 3.2 '<' 100
	[[ $2 =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] ||
		fail "$1: expected a number $3 $4, got '$2'"
	num_cmp "$2" "$3" "$4" || fail "$1: expected $3 $4, got $2"
	log "ok: $1 = $2 ($3 $4)"
}
assert_between() { # what got low high
	assert_num "$1" "$2" '>=' "$3"
	assert_num "$1" "$2" '<=' "$4"
}
assert_file_has() { # what file regex
	grep -Eq -- "$3" "$2" || {
		tail -n 20 "$2" >&2 || true
		fail "$1: no line matching '$3' in $2"
	}
	log "ok: $1"
}
assert_file_lacks() { # what file regex
	if grep -Eq -- "$3" "$2"; then
		grep -E -m 5 -- "$3" "$2" >&2 || true
		fail "$1: found '$3' in $2"
	fi
	log "ok: $1"
}
sha256() { sha256sum "$1" | cut -d' ' -f1; }
assert_same_file() { # what file_a file_b
	[ -f "$2" ] || fail "$1: $2 missing"
	[ -f "$3" ] || fail "$1: $3 missing"
	local a b sa sb
	a=$(stat -c %s "$2")
	b=$(stat -c %s "$3")
	sa=$(sha256 "$2")
	sb=$(sha256 "$3")
	[ "$a" = "$b" ] && [ "$sa" = "$sb" ] ||
		fail "$1: $2 ($a bytes, sha256 $sa) != $3 ($b bytes, sha256 $sb)"
	log "ok: $1: $a bytes, sha256 $sa on both ends"
}

# ---- polling

# wait_until SECONDS cmd...: run cmd every 20 ms until it succeeds.
wait_until() {
	local limit=$1 deadline
	shift
	deadline=$(($(date +%s%N) + ${limit%.*} * 1000000000))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}
pid_alive() { kill -0 "$1" 2>/dev/null; }
# wait_line SECONDS file regex pid: poll a log for a line while pid lives.
wait_line() {
	local limit=$1 file=$2 re=$3 pid=$4 deadline
	deadline=$(($(date +%s%N) + limit * 1000000000))
	until grep -Eq -- "$re" "$file" 2>/dev/null; do
		pid_alive "$pid" || return 2
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}
# wait_listen NSFN PORT [tcp|udp]
wait_listen() {
	local ns=$1 port=$2 proto=${3:-tcp} flag=-ltnH
	[ "$proto" = udp ] && flag=-lunH
	wait_until 10 _has_listener "$ns" "$flag" "$port" ||
		fail "nothing listening on $proto port $port in $ns ns"
}
_has_listener() { [ -n "$("$1" ss "$2" "sport = :$3")" ]; }

# ---- processes

# spawn NSFN OUTFILE cmd...: run in the background in a namespace, stdout and
# stderr to OUTFILE; the pid lands in SPAWNED_PID and is killed at cleanup.
spawn() {
	local ns=$1 out=$2
	shift 2
	# A simple command, not a function: $! is then the program itself (ip
	# netns exec execs it), so signals reach it.
	ip netns exec "$(_nsname "$ns")" "$@" >"$out" 2>&1 &
	SPAWNED_PID=$!
	TOPO_PIDS+=("$SPAWNED_PID")
}
stop_pid() { # pid [signal]: signal it and wait up to 5 s, then SIGKILL
	local pid=$1 sig=${2:-TERM} i
	pid_alive "$pid" || return 0
	kill -s "$sig" "$pid" 2>/dev/null || true
	for i in $(seq 250); do
		pid_alive "$pid" || break
		sleep 0.02
	done
	pid_alive "$pid" && kill -s KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

# ---- topology

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, AF_PACKET)"
}
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c is not installed"
	done
}
need_bin() { # name
	[ -x "$BUILD/$1" ] || skip "$BUILD/$1 is not built (make all)"
}

_ns_base() { # ns
	ip netns add "$1"
	ip netns exec "$1" ip link set lo up
	# Before any interface exists, so they all inherit it: no DAD, no
	# router solicitations, no surprises in captures.
	ip netns exec "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.default.dad_transmits=0
}

_iface_quiet() { # nsfn ifname: an L2-only port, no addresses, no IPv6 chatter
	"$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
	"$1" ip link set "$2" up
}

_link_up() { [ "$("$1" cat "/sys/class/net/$2/operstate")" = up ]; }

_box_start() {
	BOX_RUNS=$((BOX_RUNS + 1))
	if [ -f "$TOPO_DIR/clientnic.err" ]; then
		mv "$TOPO_DIR/clientnic.err" "$TOPO_DIR/clientnic.err.$BOX_RUNS"
		mv "$TOPO_DIR/clientnic.log" "$TOPO_DIR/clientnic.log.$BOX_RUNS"
	fi
	# shellcheck disable=SC2086
	ip netns exec "$NS_N" "${CLIENTNIC_BIN:-$BUILD/clientnic}" --client-if eth0 --server-if eth1 $CLIENTNIC_ARGS \
		>"$TOPO_DIR/clientnic.log" 2>"$TOPO_DIR/clientnic.err" &
	BOX_PID=$!
	TOPO_PIDS+=("$BOX_PID")
	wait_ready clientnic "$BOX_PID"
}

# wait_ready NAME PID: wait for "NAME: ready" in $TOPO_DIR/NAME.err while
# PID lives; on failure show that log and fail.
wait_ready() {
	local rc=0
	wait_line 10 "$TOPO_DIR/$1.err" "^$1: ready" "$2" || rc=$?
	[ $rc -eq 0 ] && return 0
	cat "$TOPO_DIR/$1.err" >&2
	[ $rc -eq 2 ] && fail "$1 exited before it was ready"
	fail "$1 not ready after 10 s"
}

_wan_start() {
	# shellcheck disable=SC2086
	ip netns exec "$NS_W" "$BUILD/linkem" -a wan0 -b wan1 $LINKEM_ARGS \
		>"$TOPO_DIR/linkem.log" 2>"$TOPO_DIR/linkem.err" &
	LINKEM_PID=$!
	TOPO_PIDS+=("$LINKEM_PID")
	wait_ready linkem "$LINKEM_PID"
}

# topo_setup [BOX [WAN]]
topo_setup() {
	TOPO_BOX=${1:-${BOX:-clientnic}}
	TOPO_WAN=${2:-${WAN:-bridge}}
	need_root
	need_cmd ip ethtool ss
	case $TOPO_BOX in
	clientnic) need_bin clientnic ;;
	bridge) ;;
	*) fail "topo_setup: box must be clientnic or bridge, not '$TOPO_BOX'" ;;
	esac
	case $TOPO_WAN in
	linkem) need_bin linkem ;;
	bridge) ;;
	*) fail "topo_setup: wan must be linkem or bridge, not '$TOPO_WAN'" ;;
	esac

	TOPO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cn-e2e.XXXXXX")
	trap topo_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	log "topology: box=$TOPO_BOX wan=$TOPO_WAN dir=$TOPO_DIR"

	local ns
	for ns in "$NS_C" "$NS_N" "$NS_W" "$NS_S"; do _ns_base "$ns"; done
	ip link add c0 netns "$NS_C" address $C_MAC type veth \
		peer name eth0 netns "$NS_N" address 02:77:00:00:01:00
	ip link add eth1 netns "$NS_N" address 02:77:00:00:01:01 type veth \
		peer name wan0 netns "$NS_W" address 02:77:00:00:02:00
	ip link add wan1 netns "$NS_W" address 02:77:00:00:02:01 type veth \
		peer name s0 netns "$NS_S" address $S_MAC

	C ip addr add $C_IP4/24 dev c0
	C ip addr add $C_IP6/64 dev c0 nodad
	S ip addr add $S_IP4/24 dev s0
	S ip addr add $S_IP6/64 dev s0 nodad
	topo_static_neigh
	C ip link set c0 up
	S ip link set s0 up

	_iface_quiet N eth0
	_iface_quiet N eth1
	_iface_quiet W wan0
	_iface_quiet W wan1
	if [ "$TOPO_BOX" = bridge ]; then
		N ip link add br0 type bridge forward_delay 0 stp_state 0
		N sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
		N ip link set eth0 master br0
		N ip link set eth1 master br0
		N ip link set br0 up
	fi
	if [ "$TOPO_WAN" = bridge ]; then
		W ip link add br1 type bridge forward_delay 0 stp_state 0
		W sysctl -qw net.ipv6.conf.br1.disable_ipv6=1
		W ip link set wan0 master br1
		W ip link set wan1 master br1
		W ip link set br1 up
	fi
	local pair
	for pair in $VETHS; do
		wait_until 5 _link_up "$(_nsfn "${pair%%:*}")" "${pair#*:}" ||
			fail "link ${pair#*:} not up"
	done
	[ "$TOPO_WAN" = linkem ] && _wan_start
	[ "$TOPO_BOX" = clientnic ] && _box_start
	topo_wait_path
}

_nsname() { # wrapper function name -> namespace name
	case $1 in
	C) echo "$NS_C" ;; N) echo "$NS_N" ;; W) echo "$NS_W" ;; S) echo "$NS_S" ;;
	*) fail "no namespace wrapper '$1'" ;;
	esac
}
_nsfn() { # namespace name -> wrapper function name
	case $1 in
	"$NS_C") echo C ;; "$NS_N") echo N ;; "$NS_W") echo W ;; "$NS_S") echo S ;;
	esac
}

# Static neighbours: no ARP/ND timing in the measurements.
topo_static_neigh() {
	C ip neigh replace $S_IP4 lladdr $S_MAC dev c0 nud permanent
	C ip neigh replace $S_IP6 lladdr $S_MAC dev c0 nud permanent
	S ip neigh replace $C_IP4 lladdr $C_MAC dev s0 nud permanent
	S ip neigh replace $C_IP6 lladdr $C_MAC dev s0 nud permanent
}
# Dynamic neighbours: ARP and ND must cross the box.
topo_dynamic_neigh() {
	C ip neigh flush dev c0
	S ip neigh flush dev s0
	C ip neigh del $S_IP4 dev c0 2>/dev/null || true
	C ip neigh del $S_IP6 dev c0 2>/dev/null || true
	S ip neigh del $C_IP4 dev s0 2>/dev/null || true
	S ip neigh del $C_IP6 dev s0 2>/dev/null || true
}

# The path is up when a ping crosses it both ways (ICMP is bridged).
topo_wait_path() {
	wait_until 10 C ping -c 1 -W 1 -n -q $S_IP4 ||
		fail "no IPv4 path from client to server"
	wait_until 10 C ping -6 -c 1 -W 1 -n -q $S_IP6 ||
		fail "no IPv6 path from client to server"
}

# topo_offloads on|off: checksum offload, TSO, GSO and GRO on every veth.
topo_offloads() {
	local pair ns dev
	for pair in $VETHS; do
		ns=${pair%%:*}
		dev=${pair#*:}
		ip netns exec "$ns" ethtool -K "$dev" tx "$1" tso "$1" gso "$1" gro "$1" \
			>/dev/null 2>&1 ||
			ip netns exec "$ns" ethtool -K "$dev" tx "$1" tso "$1" gso "$1" ||
			fail "ethtool -K $dev $1 failed"
	done
	log "offloads $1 on all veths"
}

# topo_box_restart ARGS...: stop the daemon (its counters land in the old
# log) and start it again with other arguments.
topo_box_restart() {
	[ "$TOPO_BOX" = clientnic ] || return 0
	box_stop
	CLIENTNIC_ARGS="$*"
	_box_start
}

# box_stop: SIGTERM the daemon so that it prints its counters; fails if it
# died earlier, exits non-zero, or reports a sanitizer error.
box_stop() {
	[ "$TOPO_BOX" = clientnic ] || return 0
	[ -n "$BOX_PID" ] || return 0
	pid_alive "$BOX_PID" || {
		cat "$TOPO_DIR/clientnic.err" >&2
		fail "clientnic died during the test"
	}
	kill -TERM "$BOX_PID"
	local rc=0
	wait "$BOX_PID" || rc=$?
	BOX_PID=
	box_assert_clean
	[ $rc -eq 0 ] || {
		cat "$TOPO_DIR/clientnic.err" >&2
		fail "clientnic exited with status $rc after SIGTERM"
	}
}
box_assert_clean() {
	[ "$TOPO_BOX" = clientnic ] || return 0
	assert_file_lacks "no sanitizer report from clientnic" "$TOPO_DIR/clientnic.err" \
		'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer'
}
# box_counter NAME: a counter from the stderr of the last stopped daemon
# ("name value", "name: value" or "name=value"); empty when absent.
box_counter() {
	sed -n -E "s/^[[:space:]]*$1[[:space:]]*[:=]?[[:space:]]+([0-9]+).*/\\1/p; s/^[[:space:]]*$1=([0-9]+).*/\\1/p" \
		"$TOPO_DIR/clientnic.err" | tail -n 1
}
assert_counter() { # name op value
	[ "$TOPO_BOX" = clientnic ] || return 0
	local v
	v=$(box_counter "$1")
	[ -n "$v" ] || {
		cat "$TOPO_DIR/clientnic.err" >&2
		fail "counter $1 not found in the daemon's output"
	}
	assert_num "counter $1" "$v" "$2" "$3"
}

topo_cleanup() {
	local rc=$? pid ns
	trap - EXIT INT TERM
	set +o errexit
	for pid in "${TOPO_PIDS[@]}"; do
		pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${TOPO_PIDS[@]}"; do stop_pid "$pid" TERM; done 2>/dev/null
	for ns in "$NS_C" "$NS_N" "$NS_W" "$NS_S"; do
		[ -e "/run/netns/$ns" ] || continue
		# Anything else a test left running in the namespace.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$TOPO_DIR" ] && [ -d "$TOPO_DIR" ]; then
		if [ $rc -ne 0 ] && [ $rc -ne $E2E_SKIP ]; then
			local f
			for f in clientnic.err clientnic.log linkem.err; do
				[ -s "$TOPO_DIR/$f" ] || continue
				echo "---- last lines of $f"
				tail -n 30 "$TOPO_DIR/$f"
			done
		fi
		if [ "${E2E_KEEP:-0}" = 1 ]; then
			echo "# kept $TOPO_DIR"
		else
			rm -rf "$TOPO_DIR"
		fi
	fi
	exit $rc
}

# ---- captures

# cap_start NSFN IFACE FILE FILTER [tshark options]: a capture, ready when
# tshark says so; its pid in CAP_PID.
cap_start() {
	local ns=$1 ifc=$2 file=$3 filter=$4
	shift 4
	need_cmd tshark
	spawn "$ns" "$file.err" tshark -q -n -i "$ifc" -w "$file" -f "$filter" "$@"
	wait_line 10 "$file.err" "Capturing on" "$SPAWNED_PID" ||
		{ cat "$file.err" >&2; fail "tshark on $ifc did not start"; }
	CAP_PID=$SPAWNED_PID
}
# cap_stop PID FILE: let the capture settle (dumpcap writes every ~0.5 s and
# frames still in its ring are lost at SIGINT), then stop tshark.
cap_stop() {
	local pid=$1 file=$2 i last=-1 size
	for i in $(seq 20); do
		size=$(stat -c %s "$file" 2>/dev/null || echo 0)
		[ "$size" = "$last" ] && break
		last=$size
		sleep 0.6
	done
	stop_pid "$pid" INT
}
