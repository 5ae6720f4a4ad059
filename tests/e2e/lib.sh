# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# End-to-end test library: real TCP stacks in five network namespaces.
#
#   client ns    clientnic ns         wan ns                servernic ns          server ns
#   [c0] ------ [eth0  box  eth1] -- [wan0  wan  wan1] --- [eth0  snic  eth1] -- [s0]
#   10.77.0.1/24                                                                  10.77.0.2/24
#   fd77::1/64                                                                    fd77::2/64
#
# box    = clientnic: build/clientnic --client-if eth0 --server-if eth1 $CLIENTNIC_ARGS
#          bridge:    a Linux bridge br0 over eth0 and eth1
# wan    = linkem:    build/linkem -a wan0 -b wan1 $LINKEM_ARGS   (a2b: towards the server)
#          bridge:    a Linux bridge br1 over wan0 and wan1
# snic   = servernic: build/servernic --client-if eth0 --server-if eth1 $SERVERNIC_ARGS
#          bridge:    a Linux bridge br2 over eth0 and eth1
#
# Both boxes name their ports alike, eth0 towards the clients and eth1
# towards the server, so that one command line shape fits either daemon.
#
# A test sources this file, sets CLIENTNIC_ARGS / LINKEM_ARGS /
# SERVERNIC_ARGS if it needs to, calls `topo_setup BOX WAN SNIC` (defaults:
# $BOX, $WAN, $SNIC from the environment, else clientnic, bridge and bridge)
# and uses C/N/W/P/S to run commands in the namespaces. Cleanup runs from a
# trap on EXIT, INT and TERM. Exit 77 means skipped.
#
# Environment: BUILD (binaries, default build), BOX, WAN, SNIC,
# CLIENTNIC_BIN / SERVERNIC_BIN (another binary for a daemon), DATAPATH
# (--datapath for both daemons, before their own arguments), E2E_KEEP=1
# (keep $TOPO_DIR), PYTHON (default /usr/bin/python3 when it exists).

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
SERVERNIC_ARGS=${SERVERNIC_ARGS:-}

E2E_SKIP=77
# What a daemon's line on stderr starts with, before "clientnic: ": its
# RFC 3339 time (absent when stderr is the journal). For grep -E after ^.
LOG_TS='([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z )?'

NS_PREFIX="cne2e$$"
NS_C=$NS_PREFIX-client
NS_N=$NS_PREFIX-clientnic
NS_W=$NS_PREFIX-wan
NS_P=$NS_PREFIX-servernic
NS_S=$NS_PREFIX-server
NS_ALL="$NS_C $NS_N $NS_W $NS_P $NS_S"

C_IP4=10.77.0.1
S_IP4=10.77.0.2
C_IP6=fd77::1
S_IP6=fd77::2
C_MAC=02:77:00:00:00:01
S_MAC=02:77:00:00:00:02
VETHS="$NS_C:c0 $NS_N:eth0 $NS_N:eth1 $NS_W:wan0 $NS_W:wan1 $NS_P:eth0 $NS_P:eth1 $NS_S:s0"

TOPO_DIR=
TOPO_BOX=
TOPO_WAN=
TOPO_SNIC=
TOPO_PIDS=()
# shellcheck disable=SC2034 # also set and read by name (daemon_start)
{
	BOX_PID=
	SNIC_PID=
	LINKEM_PID=
	SPAWNED_PID=
	BOX_RUNS=0
	SNIC_RUNS=0
}

C() { ip netns exec "$NS_C" "$@"; }
N() { ip netns exec "$NS_N" "$@"; }
W() { ip netns exec "$NS_W" "$@"; }
P() { ip netns exec "$NS_P" "$@"; }
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
need_bin() { # name: the binary that will run, so $<NAME>_BIN for a box if set
	local bin=$BUILD/$1
	case $1 in
	clientnic) bin=${CLIENTNIC_BIN:-$bin} ;;
	servernic) bin=${SERVERNIC_BIN:-$bin} ;;
	esac
	[ -x "$bin" ] || skip "$bin is not built (make all)"
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

# _bridge NSFN BR PORT PORT: a plain kernel bridge in a box's place; no STP
# and no forward delay, so that it forwards the moment it is up.
_bridge() {
	"$1" ip link add "$2" type bridge forward_delay 0 stp_state 0
	"$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
	"$1" ip link set "$3" master "$2"
	"$1" ip link set "$4" master "$2"
	"$1" ip link set "$2" up
}

# _run_daemon NAME NSNAME PIDVAR cmd...: a daemon in the background, stdout
# to $TOPO_DIR/NAME.log, stderr to NAME.err, its pid in the variable PIDVAR
# (and killed at cleanup); back once it is ready.
_run_daemon() {
	local name=$1 ns=$2 pidvar=$3
	shift 3
	ip netns exec "$ns" "$@" >"$TOPO_DIR/$name.log" 2>"$TOPO_DIR/$name.err" &
	printf -v "$pidvar" %s $!
	TOPO_PIDS+=("${!pidvar}")
	wait_ready "$name" "${!pidvar}"
}

# wait_ready NAME PID: wait for "[TIME ]NAME: ready" in $TOPO_DIR/NAME.err while
# PID lives; on failure show that log and fail.
wait_ready() {
	local rc=0
	# The verifier's pass over the kernel path's programs takes seconds
	# on a loaded machine.
	wait_line 30 "$TOPO_DIR/$1.err" "^$LOG_TS$1: ready" "$2" || rc=$?
	[ $rc -eq 0 ] && return 0
	cat "$TOPO_DIR/$1.err" >&2
	[ $rc -eq 2 ] && fail "$1 exited before it was ready"
	fail "$1 not ready after 30 s"
}

_wan_start() {
	# shellcheck disable=SC2086 # options, split on purpose
	_run_daemon linkem "$NS_W" LINKEM_PID "$BUILD/linkem" -a wan0 -b wan1 $LINKEM_ARGS
}

# ---- the two boxes: clientnic and servernic
#
# Both are driven by the same functions, given the daemon's name. Each has a
# namespace and a prefix for its state: TOPO_<prefix> says what sits in its
# place (the daemon's name or bridge), <prefix>_PID is its pid (empty once
# stopped), <prefix>_RUNS how often it was started. The binary is
# $<NAME>_BIN (default $BUILD/NAME), its options $<NAME>_ARGS, its logs
# $TOPO_DIR/NAME.log (stdout: events) and NAME.err (stderr: counters), its
# control socket $TOPO_DIR/NAME.sock.
_dmn_ns() {
	case $1 in
	clientnic) echo "$NS_N" ;; servernic) echo "$NS_P" ;;
	*) fail "no daemon '$1'" ;;
	esac
}
_dmn_prefix() {
	case $1 in
	clientnic) echo BOX ;; servernic) echo SNIC ;;
	*) fail "no daemon '$1'" ;;
	esac
}
_dmn_in_place() { # name: is the daemon (not a bridge) in its place?
	local place
	place=TOPO_$(_dmn_prefix "$1")
	[ "${!place}" = "$1" ]
}

# daemon_start NAME: the logs of the run before, if any, are kept as
# NAME.err.N and NAME.log.N, N the number of this run.
daemon_start() {
	local name=$1 prefix ns bin args runs
	prefix=$(_dmn_prefix "$name")
	ns=$(_dmn_ns "$name")
	bin=${name^^}_BIN
	args=${name^^}_ARGS
	runs=${prefix}_RUNS
	printf -v "$runs" %d $((${!runs} + 1))
	if [ -f "$TOPO_DIR/$name.err" ]; then
		mv "$TOPO_DIR/$name.err" "$TOPO_DIR/$name.err.${!runs}"
		mv "$TOPO_DIR/$name.log" "$TOPO_DIR/$name.log.${!runs}"
	fi
	# A control socket of the test's own, not the host's /run/clientnic
	# (a test may give another: the last --control wins).
	# shellcheck disable=SC2086 # options, split on purpose
	_run_daemon "$name" "$ns" "${prefix}_PID" "${!bin:-$BUILD/$name}" \
		--client-if eth0 --server-if eth1 --control "$TOPO_DIR/$name.sock" \
		${DATAPATH:+--datapath $DATAPATH} ${!args}
}
_box_start() { daemon_start clientnic; }
_snic_start() { daemon_start servernic; }

# daemon_stop NAME: SIGTERM the daemon so that it prints its counters;
# fails if it died earlier, exits non-zero, or reports a sanitizer error.
# Nothing to do with a bridge in its place or once it is stopped.
daemon_stop() {
	local name=$1 pidvar pid rc=0
	_dmn_in_place "$name" || return 0
	pidvar=$(_dmn_prefix "$name")_PID
	pid=${!pidvar}
	[ -n "$pid" ] || return 0
	pid_alive "$pid" || {
		cat "$TOPO_DIR/$name.err" >&2
		fail "$name died during the test"
	}
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	printf -v "$pidvar" %s ""
	daemon_assert_clean "$name"
	[ $rc -eq 0 ] || {
		cat "$TOPO_DIR/$name.err" >&2
		fail "$name exited with status $rc after SIGTERM"
	}
}
daemon_assert_clean() { # name
	_dmn_in_place "$1" || return 0
	assert_file_lacks "no sanitizer report from $1" "$TOPO_DIR/$1.err" \
		'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer'
}
# daemon_restart NAME ARGS...: stop the daemon (its counters land in the
# old log) and start it again with other options.
daemon_restart() {
	local name=$1
	shift
	_dmn_in_place "$name" || return 0
	daemon_stop "$name"
	printf -v "${name^^}_ARGS" %s "$*"
	daemon_start "$name"
}
# daemon_kill NAME: SIGKILL the daemon, as a crash would end it: no
# counters, nothing cleaned up (its kernel path stays on the ports).
daemon_kill() {
	local name=$1 pidvar
	pidvar=$(_dmn_prefix "$name")_PID
	[ -n "${!pidvar}" ] || fail "daemon_kill: $name is not running"
	kill -KILL "${!pidvar}" 2>/dev/null || true
	wait "${!pidvar}" 2>/dev/null || true
	printf -v "$pidvar" %s ""
	daemon_assert_clean "$name"
	log "$name killed (SIGKILL)"
}
# daemon_tracked NAME: the flows the running daemon tracks now (SIGUSR1).
daemon_tracked() {
	daemon_snapshot "$1"
	daemon_counter "$1" flows_active
}
# daemon_adopted NAME: how many flows of a predecessor's kernel path the
# daemon's last start adopted (empty: it found none).
daemon_adopted() {
	sed -n 's/.*kernel path: \([0-9]*\) of [0-9]* flows of a predecessor adopted.*/\1/p' \
		"$TOPO_DIR/$1.err" | tail -n 1
}
# daemon_counter NAME COUNTER: a counter from the stderr of the daemon's
# last run ("name value", "name: value" or "name=value"); empty when absent.
daemon_counter() {
	sed -n -E "s/^[[:space:]]*$2[[:space:]]*[:=]?[[:space:]]+([0-9]+).*/\\1/p; s/^[[:space:]]*$2=([0-9]+).*/\\1/p" \
		"$TOPO_DIR/$1.err" | tail -n 1
}
assert_daemon_counter() { # name counter op value
	_dmn_in_place "$1" || return 0
	local v
	v=$(daemon_counter "$1" "$2")
	[ -n "$v" ] || {
		cat "$TOPO_DIR/$1.err" >&2
		fail "counter $2 not found in the output of $1"
	}
	assert_num "$1 counter $2" "$v" "$3" "$4"
}

# The ClientNIC, "the box", under the names every test uses.
topo_box_restart() { daemon_restart clientnic "$@"; }
box_stop() { daemon_stop clientnic; }
box_assert_clean() { daemon_assert_clean clientnic; }
box_counter() { daemon_counter clientnic "$1"; }
assert_counter() { assert_daemon_counter clientnic "$@"; }
# The ServerNIC, likewise.
snic_restart() { daemon_restart servernic "$@"; }
snic_stop() { daemon_stop servernic; }
snic_assert_clean() { daemon_assert_clean servernic; }
snic_counter() { daemon_counter servernic "$1"; }
assert_snic_counter() { assert_daemon_counter servernic "$@"; }

# topo_snic_to_bridge: the ServerNIC vanishes at once (SIGKILL: no
# counters, no goodbye to its peer) and a kernel bridge takes its place,
# so that the path still works: what a ClientNIC sees when the box at the
# other end is gone. What ran before still had to run clean. Does not wait
# for the path: a test may want to see the very next frames.
topo_snic_to_bridge() {
	[ "$TOPO_SNIC" = servernic ] || fail "topo_snic_to_bridge: no servernic in its place"
	if [ -n "$SNIC_PID" ]; then
		daemon_kill servernic
	fi
	# Its kernel path would outlive it: the box is gone, so is that.
	P tc qdisc del dev eth0 clsact 2>/dev/null || true
	P tc qdisc del dev eth1 clsact 2>/dev/null || true
	_bridge P br2 eth0 eth1
	TOPO_SNIC=bridge
	log "servernic killed, bridge br2 in its place"
}
# topo_bridge_to_snic [ARGS...]: the reverse, the ServerNIC (with these
# options, else $SERVERNIC_ARGS) instead of the bridge br2, for a script
# that measures both in one topology.
topo_bridge_to_snic() {
	[ "$TOPO_SNIC" = bridge ] || fail "topo_bridge_to_snic: no bridge in the servernic's place"
	need_bin servernic
	[ $# -eq 0 ] || SERVERNIC_ARGS="$*"
	P ip link del br2
	TOPO_SNIC=servernic
	daemon_start servernic
}

# topo_setup [BOX [WAN [SNIC]]]
topo_setup() {
	TOPO_BOX=${1:-${BOX:-clientnic}}
	TOPO_WAN=${2:-${WAN:-bridge}}
	TOPO_SNIC=${3:-${SNIC:-bridge}}
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
	case $TOPO_SNIC in
	servernic) need_bin servernic ;;
	bridge) ;;
	*) fail "topo_setup: snic must be servernic or bridge, not '$TOPO_SNIC'" ;;
	esac

	TOPO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cn-e2e.XXXXXX")
	trap topo_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	log "topology: box=$TOPO_BOX wan=$TOPO_WAN snic=$TOPO_SNIC dir=$TOPO_DIR"

	local ns
	for ns in $NS_ALL; do _ns_base "$ns"; done
	ip link add c0 netns "$NS_C" address $C_MAC type veth \
		peer name eth0 netns "$NS_N" address 02:77:00:00:01:00
	ip link add eth1 netns "$NS_N" address 02:77:00:00:01:01 type veth \
		peer name wan0 netns "$NS_W" address 02:77:00:00:02:00
	ip link add wan1 netns "$NS_W" address 02:77:00:00:02:01 type veth \
		peer name eth0 netns "$NS_P" address 02:77:00:00:03:00
	ip link add eth1 netns "$NS_P" address 02:77:00:00:03:01 type veth \
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
	_iface_quiet P eth0
	_iface_quiet P eth1
	[ "$TOPO_BOX" = bridge ] && _bridge N br0 eth0 eth1
	[ "$TOPO_WAN" = bridge ] && _bridge W br1 wan0 wan1
	[ "$TOPO_SNIC" = bridge ] && _bridge P br2 eth0 eth1
	local pair
	for pair in $VETHS; do
		wait_until 5 _link_up "$(_nsfn "${pair%%:*}")" "${pair#*:}" ||
			fail "link ${pair#*:} not up in ${pair%%:*}"
	done
	# From the server outwards: each box finds the path beyond it working
	# when it starts.
	[ "$TOPO_SNIC" = servernic ] && _snic_start
	[ "$TOPO_WAN" = linkem ] && _wan_start
	[ "$TOPO_BOX" = clientnic ] && _box_start
	topo_wait_path
}

_nsname() { # wrapper function name -> namespace name
	case $1 in
	C) echo "$NS_C" ;; N) echo "$NS_N" ;; W) echo "$NS_W" ;; P) echo "$NS_P" ;;
	S) echo "$NS_S" ;;
	*) fail "no namespace wrapper '$1'" ;;
	esac
}
_nsfn() { # namespace name -> wrapper function name
	case $1 in
	"$NS_C") echo C ;; "$NS_N") echo N ;; "$NS_W") echo W ;; "$NS_P") echo P ;;
	"$NS_S") echo S ;;
	esac
}

# Static neighbours: no ARP/ND timing in the measurements.
topo_static_neigh() {
	C ip neigh replace $S_IP4 lladdr $S_MAC dev c0 nud permanent
	C ip neigh replace $S_IP6 lladdr $S_MAC dev c0 nud permanent
	S ip neigh replace $C_IP4 lladdr $C_MAC dev s0 nud permanent
	S ip neigh replace $C_IP6 lladdr $C_MAC dev s0 nud permanent
}
# Dynamic neighbours: ARP and ND must cross both boxes.
topo_dynamic_neigh() {
	C ip neigh flush dev c0
	S ip neigh flush dev s0
	C ip neigh del $S_IP4 dev c0 2>/dev/null || true
	C ip neigh del $S_IP6 dev c0 2>/dev/null || true
	S ip neigh del $C_IP4 dev s0 2>/dev/null || true
	S ip neigh del $C_IP6 dev s0 2>/dev/null || true
}

# The path is up when a ping crosses it both ways: ICMP goes through every
# namespace in between, whatever sits in each (both boxes pass it as it is).
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
			fail "ethtool -K $dev $1 in $ns failed"
	done
	log "offloads $1 on all veths"
}

topo_cleanup() {
	local rc=$? pid ns
	trap - EXIT INT TERM
	set +o errexit
	for pid in "${TOPO_PIDS[@]}"; do
		pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${TOPO_PIDS[@]}"; do stop_pid "$pid" TERM; done 2>/dev/null
	for ns in $NS_ALL; do
		[ -e "/run/netns/$ns" ] || continue
		# Anything else a test left running in the namespace.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$TOPO_DIR" ] && [ -d "$TOPO_DIR" ]; then
		if [ $rc -ne 0 ] && [ $rc -ne $E2E_SKIP ]; then
			local f
			for f in clientnic.err clientnic.log linkem.err servernic.err servernic.log; do
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

# ---- a daemon or a kernel bridge in a box's place, in one topology

_dmn_bridge() { # name: "NSFN BRIDGE", the bridge topo_setup puts in its place
	case $1 in
	clientnic) echo "N br0" ;; servernic) echo "P br2" ;;
	*) fail "no daemon '$1'" ;;
	esac
}
# topo_from_bridge NAME [ARGS...]: the daemon NAME (with these options, else
# $<NAME>_ARGS) instead of the kernel bridge in its place, for a script that
# measures both in one topology (topo_bridge_to_snic, for either daemon);
# back once it is ready. Does not wait for the path (topo_wait_path does).
topo_from_bridge() {
	local name=$1 place nsfn br
	shift
	place=TOPO_$(_dmn_prefix "$name")
	[ "${!place}" = bridge ] || fail "topo_from_bridge: no bridge in the $name's place"
	need_bin "$name"
	[ $# -eq 0 ] || printf -v "${name^^}_ARGS" %s "$*"
	read -r nsfn br <<<"$(_dmn_bridge "$name")"
	"$nsfn" ip link del "$br"
	printf -v "$place" %s "$name"
	daemon_start "$name"
	log "bridge $br gone, $name in its place"
}

# daemon_snapshot NAME: SIGUSR1 the running daemon and wait for the counters
# it prints, so that daemon_counter / assert_daemon_counter read its figures
# as of now; it keeps running.
daemon_snapshot() {
	local name=$1 pidvar before
	_dmn_in_place "$name" || return 0
	pidvar=$(_dmn_prefix "$name")_PID
	[ -n "${!pidvar}" ] && pid_alive "${!pidvar}" ||
		fail "daemon_snapshot: $name is not running"
	before=$(_snapshot_count "$name")
	kill -USR1 "${!pidvar}"
	wait_until 5 _snapshot_done "$name" "$before" ||
		fail "no counters from $name within 5 s of SIGUSR1"
}
# Each counter block has one server.sock_errors line, after every counter
# daemon_counter is meant for.
_snapshot_count() { grep -c '^[[:space:]]*server\.sock_errors[[:space:]]' "$TOPO_DIR/$1.err" || true; }
_snapshot_done() { [ "$(_snapshot_count "$1")" -gt "$2" ]; }

# median: the median of the numbers on stdin, one a line (the lower middle
# one of an even count).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# ---- transfers

# serve_blob BYTES: BYTES of random data in $TOPO_DIR/blob, served as
# /blob by e2e_tool's http-server on port 8080 of the server namespace.
serve_blob() {
	head -c "$1" /dev/urandom >"$TOPO_DIR/blob"
	mkdir -p "$TOPO_DIR/www"
	cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
	spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
	wait_listen S 8080
}

# http_transfer LABEL HOST: a GET of $TOPO_DIR/www/blob and a PUT of
# $TOPO_DIR/blob (e2e_tool's http-server on port 8080, serving
# $TOPO_DIR/www), each checked byte for byte; their speeds are figures.
_mbit() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 8 / 1e6 }'; }
http_transfer() {
	local label=$1 host=$2 speed answer
	rm -f "$TOPO_DIR/got" "$TOPO_DIR/www/up"
	speed=$(C curl -sS --fail -m 30 -o "$TOPO_DIR/got" -w '%{speed_download}' \
		"http://$host:8080/blob") || fail "$label: GET failed"
	assert_same_file "$label GET" "$TOPO_DIR/www/blob" "$TOPO_DIR/got"
	log "figure: $label GET $(_mbit "$speed") Mbit/s"
	answer=$(C curl -sS --fail -m 30 -H 'Expect:' -T "$TOPO_DIR/blob" \
		-w ' %{speed_upload}' "http://$host:8080/up") || fail "$label: PUT failed"
	assert_same_file "$label PUT" "$TOPO_DIR/blob" "$TOPO_DIR/www/up"
	answer=${answer//$'\n'/ } # "SHA256\n SPEED"
	assert_eq "$label PUT sha256 the server computed" "$(sha256 "$TOPO_DIR/blob")" \
		"${answer%% *}"
	log "figure: $label PUT $(_mbit "${answer##* }") Mbit/s"
}
