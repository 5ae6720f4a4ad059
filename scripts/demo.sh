#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make demo: real curl requests over an emulated WAN through three setups,
# side by side: the ClientNIC alone, the ClientNIC and the ServerNIC (the
# pair), and plain kernel bridges in both box places; then, for one
# connection each, the boxes' event logs and counters, their packet captures
# and sequence diagrams drawn from them.
#
#   client ns    clientnic ns          wan ns                  servernic ns           server ns
#   [c0] ------ [eth0  box  eth1] -- [wan0  linkem  wan1] -- [eth0  box  eth1] -- [s0]
#   10.77.0.1/24  1. ClientNIC         --delay each way        1. a kernel bridge     HTTP :8080
#                 2. ClientNIC                                 2. ServerNIC
#                 3. a kernel bridge                           3. a kernel bridge
#
# Needs root (network namespaces). See --help.

set -o errexit -o nounset -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

usage() {
	cat <<EOF
usage: scripts/demo.sh [options]      (as root; 'make demo DEMO_ARGS="..."')

Measures HTTP requests over an emulated WAN through the ClientNIC alone,
through the ClientNIC and the ServerNIC (the pair) and through kernel
bridges in both places, prints the medians side by side, the boxes' logs and
counters for one connection, and where the captures and the sequence
diagrams were written.

  --delay MS     one-way WAN delay in ms, each direction (default 25: RTT 50 ms)
  --loss P       WAN loss probability per frame, 0-1 (default 0)
  --sizes LIST   response sizes, comma-separated, suffix k or m for KiB/MiB
                 (default 1k,100k,1m)
  --runs N       requests per size and setup; medians are printed (default 5)
  --work MS      the extra scenario: a client busy MS ms between connect()
                 and its request (default: one RTT; 0 leaves it out)
  --peer MODE    the pair's ClientNIC: auto (the default: it has learned the
                 server's ServerNIC from a warm-up connection before it is
                 measured) or always (early data at once to every server)
  --out DIR      output folder (default ./demo-out)
  --short        quick mode for the test suite: sizes 1k,100k, 3 runs
  -h, --help     this text

Environment: BUILD (folder with clientnic, servernic and linkem, default build).
EOF
}

die() {
	echo "demo: $*" >&2
	exit 1
}

delay=25 loss=0 sizes=1k,100k,1m runs=5 out=./demo-out peer=auto work=
sizes_set=0 runs_set=0 short=0
while [ $# -gt 0 ]; do
	case $1 in
	--delay) delay=${2:?--delay needs a value}; shift ;;
	--loss) loss=${2:?--loss needs a value}; shift ;;
	--sizes) sizes=${2:?--sizes needs a value}; sizes_set=1; shift ;;
	--runs) runs=${2:?--runs needs a value}; runs_set=1; shift ;;
	--work) work=${2:?--work needs a value}; shift ;;
	--out) out=${2:?--out needs a value}; shift ;;
	--peer) peer=${2:?--peer needs a value}; shift ;;
	--short) short=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	shift
done
if [ $short = 1 ]; then
	[ $sizes_set = 1 ] || sizes=1k,100k
	[ $runs_set = 1 ] || runs=3
fi
[[ $delay =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v d="$delay" 'BEGIN { exit !(d > 0 && d <= 2000) }' ||
	die "--delay: a number of ms in (0, 2000], not '$delay'"
[[ $loss =~ ^[0-9]*(\.[0-9]+)?$ ]] && awk -v p="$loss" 'BEGIN { exit !(p >= 0 && p < 1) }' ||
	die "--loss: a probability in [0, 1), not '$loss'"
[[ $runs =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 100 ] ||
	die "--runs: 1-100, not '$runs'"
case $peer in auto | always) ;; *) die "--peer: auto or always, not '$peer'" ;; esac
rtt=$(awk -v d="$delay" 'BEGIN { print 2 * d }')
[ -n "$work" ] || work=$rtt
[[ $work =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--work: a number of ms, not '$work'"

# Sizes in bytes, with a name for each file.
size_bytes=() size_names=()
IFS=, read -r -a size_list <<<"$sizes"
for s in "${size_list[@]}"; do
	[[ $s =~ ^[0-9]{1,8}[kKmM]?$ ]] ||
		die "--sizes: '$s' is not a size (like 1k, 100k, 1m or 500)"
	case $s in
	*[kK]) b=$((10#${s%?} << 10)) ;;
	*[mM]) b=$((10#${s%?} << 20)) ;;
	*) b=$((10#$s)) ;;
	esac
	[ "$b" -ge 1 ] && [ "$b" -le $((64 << 20)) ] ||
		die "--sizes: '$s' must be between 1 byte and 64m"
	size_bytes+=("$b")
	size_names+=("$(echo "$s" | tr 'KM' 'km')")
done

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: must run as root: it creates network namespaces and veth links," >&2
	echo "demo: and the box opens packet sockets. Try: sudo make demo" >&2
	exit 1
fi
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
for b in clientnic servernic linkem; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b is not built: run 'make' (or 'make demo') first"
done
for c in ip curl tshark tcpdump python3 sha256sum ethtool ss; do
	command -v "$c" >/dev/null || die "$c is not installed: run scripts/install-deps.sh"
done
export BUILD

mkdir -p "$out"
OUT=$(cd "$out" && pwd)
rm -f "$OUT"/*.pcap "$OUT"/*.svg "$OUT"/*.png "$OUT"/*.tsv "$OUT"/*.json "$OUT"/*.txt \
	"$OUT"/*.log
rm -rf "$OUT/files"
mkdir "$OUT/files"

# shellcheck source=tests/e2e/lib.sh
. "$REPO/tests/e2e/lib.sh"
DT="$PYTHON $HERE/demo_tool.py"
PORT=8080

step() { printf '\n==> %s\n' "$*"; }
T_START=$(date +%s)
if [ "$peer" = always ]; then
	peer_how="with --peer always: the ClientNIC sends the early data at once to every server, without learning first"
else
	peer_how="after one warm-up connection, so that the ClientNIC has learned that the server has a ServerNIC (--peer auto, the default)"
fi
para() { fold -s -w 94 | sed 's/^/  /; s/ *$//'; } # indented, wrapped text
cat <<EOF
ClientNIC demo: the same HTTP requests (curl) over the same emulated WAN
through three setups:
  bridges    plain kernel bridges in both box places: the baseline
  ClientNIC  the ClientNIC alone (a kernel bridge in the ServerNIC's place):
             it answers the client's SYN itself, holds the client's early
             data until the server's real SYN-ACK is back, then splices the
             two connections together
  pair       the ClientNIC and the ServerNIC: the early data crosses the WAN
             right behind the SYN and the ServerNIC next to the server does
             the splicing
Rows "N ms work": a client that is busy N ms between connect() and sending
its request.
EOF
echo "The pair is measured $peer_how." | para

# ---- topology: the ClientNIC first, capturing every frame it handles

# shellcheck disable=SC2034 # read by lib.sh
LINKEM_ARGS="--delay ${delay}ms --loss $loss --seed 1"
CLIENTNIC_ARGS="--log-level debug --pcap $OUT/clientnic-box.pcap"
step "setting up: client, ClientNIC, WAN (linkem: ${delay} ms each way, loss $loss), bridge, server"
topo_setup clientnic linkem bridge

for i in "${!size_bytes[@]}"; do
	head -c "${size_bytes[$i]}" /dev/urandom >"$OUT/files/served-${size_names[$i]}.bin"
done
mkdir "$TOPO_DIR/www"
cp "$OUT"/files/served-*.bin "$TOPO_DIR/www/"
spawn S "$TOPO_DIR/http.log" $TOOL http-server $PORT "$TOPO_DIR/www"
wait_listen S $PORT
URL=http://$S_IP4:$PORT
# Connections per setup: the warm-up, then every size and the work row, --runs times.
n_work=$(awk -v w="$work" 'BEGIN { print (w > 0) ? 1 : 0 }')
N_CONN=$((1 + runs * (${#size_bytes[@]} + n_work)))

# The connection is over when neither end holds it other than in TIME-WAIT.
_conn_open() { # nsfn port
	[ -n "$("$1" ss -Htn exclude time-wait exclude listening "( sport = :$2 or dport = :$2 )")" ]
}
conn_gone() { # local port of the client
	! _conn_open C "$1" && ! _conn_open S "$1"
}

# A capture that holds every frame: tcpdump in immediate mode writes each
# one as it comes and says "listening" only once the socket is bound (tshark
# reports ready early and loses the frames still in the kernel's block when
# stopped).
demo_cap_start() { # nsfn iface file
	spawn "$1" "$3.err" tcpdump -n -Z root -i "$2" -U --immediate-mode \
		--time-stamp-precision=nano -w "$3" "tcp port $PORT"
	wait_line 10 "$3.err" "listening on" "$SPAWNED_PID" ||
		{ cat "$3.err" >&2; fail "tcpdump on $2 did not start"; }
	CAP_PID=$SPAWNED_PID
}

# The ServerNIC in its place instead of the bridge there: servernic_in
# ARGS...: the daemon with these options (the path is not waited for: the
# ClientNIC's place may be empty yet); servernic_out: the bridge back, the
# daemon's counters and log kept in $OUT.
servernic_in() {
	topo_bridge_to_snic "$@"
}
servernic_out() {
	snic_stop
	cp "$TOPO_DIR/servernic.err" "$OUT/servernic-counters.txt"
	cp "$TOPO_DIR/servernic.log" "$OUT/servernic-measure-events.log"
	_bridge P br2 eth0 eth1
	TOPO_SNIC=bridge
	topo_wait_path
}
# demo_snapshot NAME: the running daemon prints its counters (SIGUSR1);
# back once the whole block is there (it ends with server.sock_errors).
_blocks() { grep -c '^[[:space:]]*server\.sock_errors[[:space:]]' "$TOPO_DIR/$1.err" || true; }
_more_blocks() { [ "$(_blocks "$1")" -gt "$2" ]; }
demo_snapshot() {
	local name=$1 pidvar before
	pidvar=$(_dmn_prefix "$name")_PID
	before=$(_blocks "$name")
	kill -USR1 "${!pidvar}"
	wait_until 5 _more_blocks "$name" "$before" || fail "no counters from $name after SIGUSR1"
}

# proof SETUP: one small request with captures on the client and the server
# (and, through the bridges, on the WAN port of each); the daemons capture
# for themselves. Sets PROOF_PORT.
proof() {
	local mode=$1 name=${size_names[0]} caps=() p
	demo_cap_start C c0 "$OUT/client-$mode.pcap"
	caps+=("$CAP_PID")
	demo_cap_start S s0 "$OUT/server-$mode.pcap"
	caps+=("$CAP_PID")
	if [ "$mode" = bridge ]; then
		demo_cap_start N eth1 "$OUT/bridge-wan-port.pcap"
		caps+=("$CAP_PID")
		demo_cap_start P eth0 "$OUT/bridge2-wan-port.pcap"
		caps+=("$CAP_PID")
	fi
	PROOF_PORT=$(C curl -sS --fail -m 30 -o "$OUT/files/proof-$mode-$name.bin" \
		-w '%{local_port}' "$URL/served-$name.bin") || fail "$mode: first request failed"
	wait_until 10 conn_gone "$PROOF_PORT" || log "connection $PROOF_PORT still open after 10 s"
	for p in "${caps[@]}"; do stop_pid "$p" INT; done
	rm -f "$OUT"/*.pcap.err
}

# measure SETUP: one warm-up request, then every size, --runs times, runs
# outermost so that drift hits all sizes alike; every response is checked
# against the served file.
measure() {
	local mode=$1 run i name got t
	C curl -sS --fail -m 30 -o /dev/null "$URL/served-${size_names[0]}.bin" ||
		fail "$mode: warm-up request failed"
	for run in $(seq "$runs"); do
		for i in "${!size_bytes[@]}"; do
			name=${size_names[$i]}
			got="$OUT/files/got-$mode-$name.bin"
			t=$(C curl -sS --fail -m 60 -o "$got" \
				-w '%{time_connect} %{time_starttransfer} %{time_total}' \
				"$URL/served-$name.bin") || fail "$mode: GET $name failed (run $run)"
			[ "$(sha256 "$got")" = "$(sha256 "$OUT/files/served-$name.bin")" ] ||
				fail "$mode: GET $name: response differs from the served file"
			echo "$mode curl ${size_bytes[$i]} $run $t" >>"$OUT/results.tsv"
		done
		if [ "$n_work" = 1 ]; then
			name=${size_names[0]}
			got="$OUT/files/got-$mode-work-$name.bin"
			t=$(C $DT fetch $S_IP4 $PORT "served-$name.bin" --work "$work" -o "$got") ||
				fail "$mode: fetch with work failed (run $run)"
			[ "$(sha256 "$got")" = "$(sha256 "$OUT/files/served-$name.bin")" ] ||
				fail "$mode: fetch $name: response differs from the served file"
			echo "$mode work:$work ${size_bytes[0]} $run $t" >>"$OUT/results.tsv"
		fi
		printf '.'
	done
	echo
	# Every connection closed before the boxes change: none may straddle two setups.
	wait_until 10 conn_gone $PORT || log "connections to port $PORT still open after 10 s"
}
what="$runs runs of GET $(echo "${size_names[*]}" | tr ' ' ,)$(awk -v w="$work" \
	'BEGIN { if (w > 0) printf " and of a client working %s ms after connect()", w }')"

# ---- 1. the ClientNIC alone, a bridge in the ServerNIC's place

step "ClientNIC alone: one request with captures on the client, in the box and on the server"
proof clientnic
CN_PORT=$PROOF_PORT
BOX_IFINDEX=$(N cat /sys/class/net/eth0/ifindex)
# A fresh daemon for the measurements: no capture to write, info log.
topo_box_restart --log-level info
# lib.sh keeps the stopped run's logs under the number of the new run.
cp "$TOPO_DIR/clientnic.log.$BOX_RUNS" "$OUT/clientnic-events.log"
cp "$TOPO_DIR/clientnic.err.$BOX_RUNS" "$OUT/clientnic-proof-counters.txt"

step "ClientNIC alone: $what"
measure clientnic
box_stop
cp "$TOPO_DIR/clientnic.err" "$OUT/clientnic-counters.txt"
cp "$TOPO_DIR/clientnic.log" "$OUT/clientnic-measure-events.log"

# ---- 2. the pair: the ServerNIC in its place, a fresh ClientNIC

step "the pair: the ServerNIC instead of the bridge next to the server, a fresh ClientNIC (--peer $peer)"
servernic_in --log-level debug --pcap "$OUT/servernic-box.pcap"
CLIENTNIC_ARGS="--log-level debug --pcap $OUT/pair-clientnic-box.pcap --peer $peer"
daemon_start clientnic
topo_wait_path
if [ "$peer" = auto ]; then
	WARM_PORT=$(C curl -sS --fail -m 30 -o /dev/null -w '%{local_port}' \
		"$URL/served-${size_names[0]}.bin") || fail "pair: warm-up request failed"
	wait_until 10 conn_gone "$WARM_PORT" || log "connection $WARM_PORT still open after 10 s"
	grep -q "event=peer_learned client=$C_IP4:$WARM_PORT " "$TOPO_DIR/clientnic.log" ||
		fail "pair: the ClientNIC did not learn the ServerNIC from the warm-up connection"
	echo "  warm-up connection (client port $WARM_PORT): the ClientNIC learned that the server has a ServerNIC (peer_learned)"
fi
# Counters now, so that those of the proof connection alone can be told.
demo_snapshot clientnic
demo_snapshot servernic
step "the pair: one request with captures on the client, in both boxes and on the server"
proof pair
PAIR_PORT=$PROOF_PORT
SNIC_IFINDEX=$(P cat /sys/class/net/eth0/ifindex)
# Fresh daemons for the measurements, as above; measure's warm-up teaches
# the new ClientNIC again.
snic_restart --log-level info
topo_box_restart --log-level info --peer "$peer"
cp "$TOPO_DIR/clientnic.log.$BOX_RUNS" "$OUT/pair-clientnic-events.log"
cp "$TOPO_DIR/clientnic.err.$BOX_RUNS" "$OUT/pair-clientnic-proof-counters.txt"
cp "$TOPO_DIR/servernic.log.$SNIC_RUNS" "$OUT/servernic-events.log"
cp "$TOPO_DIR/servernic.err.$SNIC_RUNS" "$OUT/servernic-proof-counters.txt"

step "the pair: $what"
measure pair
box_stop
cp "$TOPO_DIR/clientnic.err" "$OUT/pair-clientnic-counters.txt"
cp "$TOPO_DIR/clientnic.log" "$OUT/pair-clientnic-measure-events.log"
PAIR_EARLY=$(daemon_counter clientnic flows_peer_early)

# ---- 3. the same places, the same WAN, plain kernel bridges in both

step "baseline: kernel bridges in both box places, same WAN"
_bridge N br0 eth0 eth1
TOPO_BOX=bridge
servernic_out
PAIR_TAKEN=$(daemon_counter servernic flows_taken_over)
proof bridge
BR_PORT=$PROOF_PORT
step "bridges: $what"
measure bridge

# ---- report

step "results: median of $runs runs, WAN RTT $rtt ms (${delay} ms each way), loss $loss"
{
	echo "bridges: kernel bridges in both box places; ClientNIC: the ClientNIC alone (a bridge" \
		"in the ServerNIC's place); pair: ClientNIC + ServerNIC, measured $peer_how."
	echo "Through the pair, of $N_CONN connections (the warm-up included), the ClientNIC sent" \
		"the early data at once on ${PAIR_EARLY:-?} (flows_peer_early) and the ServerNIC" \
		"translated ${PAIR_TAKEN:-?} (flows_taken_over)."
} | para
echo
$DT table "$OUT/results.tsv" --rtt-ms "$rtt" --json "$OUT/summary.json" |
	tee "$OUT/table.txt"
echo
$DT verdict "$OUT/summary.json" --rtt-ms "$rtt" --work-ms "$work" | tee "$OUT/verdict.txt"

step "the ClientNIC alone: its event log for the first connection (client port $CN_PORT)"
$DT events "$C_IP4:$CN_PORT" "ClientNIC=$OUT/clientnic-events.log" --raw
echo "  (log level debug for that connection; full log: $OUT/clientnic-events.log)"

step "the ClientNIC alone: its counters after the measured runs (non-zero ones)"
$DT counters "$OUT/clientnic-counters.txt"

step "the pair: both boxes' event logs for one connection (client port $PAIR_PORT), on one time line"
$DT events "$C_IP4:$PAIR_PORT" "ClientNIC=$OUT/pair-clientnic-events.log" \
	"ServerNIC=$OUT/servernic-events.log" --raw
echo "  (log level debug; full logs: $OUT/pair-clientnic-events.log, $OUT/servernic-events.log)"

step "the pair: both boxes' counters for that connection alone (non-zero ones)"
$DT counters --delta "ClientNIC=$OUT/pair-clientnic-proof-counters.txt" \
	"ServerNIC=$OUT/servernic-proof-counters.txt" | tee "$OUT/pair-counters.txt"
echo "  (the counters at exit minus a snapshot, SIGUSR1, taken just before the connection;"
echo "  after the measured runs: $OUT/pair-clientnic-counters.txt, servernic-counters.txt)"

step "proof and pictures in $OUT"
note="WAN $delay ms each way; GET ${size_names[0]}."
$DT svg --out "$OUT/sequence.svg" --client-ip $C_IP4 --note "$note" \
	--panel "kernel bridges in both places" "$BR_PORT" "$OUT/client-bridge.pcap" \
	bridge "$OUT/bridge-wan-port.pcap" - bridge "$OUT/bridge2-wan-port.pcap" - \
	"$OUT/server-bridge.pcap" \
	--panel "ClientNIC + ServerNIC" "$PAIR_PORT" "$OUT/client-pair.pcap" \
	ClientNIC "$OUT/pair-clientnic-box.pcap" "$BOX_IFINDEX" \
	ServerNIC "$OUT/servernic-box.pcap" "$SNIC_IFINDEX" "$OUT/server-pair.pcap"
$DT svg --out "$OUT/sequence-clientnic.svg" --client-ip $C_IP4 --note "$note" \
	--panel "plain kernel bridge" "$BR_PORT" "$OUT/client-bridge.pcap" \
	"kernel bridge" "$OUT/bridge-wan-port.pcap" - "$OUT/server-bridge.pcap" \
	--panel "with ClientNIC" "$CN_PORT" "$OUT/client-clientnic.pcap" \
	ClientNIC "$OUT/clientnic-box.pcap" "$BOX_IFINDEX" "$OUT/server-clientnic.pcap"
pngs=
if command -v rsvg-convert >/dev/null; then
	for f in sequence sequence-clientnic; do
		rsvg-convert -o "$OUT/$f.png" "$OUT/$f.svg" && pngs+=" $f.png"
	done
fi
cat <<EOF
  sequence diagrams    $OUT/sequence.svg            (the bridges and the pair)
                       $OUT/sequence-clientnic.svg  (a bridge and the ClientNIC alone)${pngs:+
                       and as PNG:$pngs}
  box captures         $OUT/pair-clientnic-box.pcap, servernic-box.pcap (the pair: every
                       frame in and out of each box), clientnic-box.pcap (the ClientNIC alone)
  client, server       $OUT/client-pair.pcap, server-pair.pcap, client-clientnic.pcap, server-clientnic.pcap
  baseline captures    $OUT/client-bridge.pcap, bridge-wan-port.pcap, bridge2-wan-port.pcap, server-bridge.pcap
  measurements         $OUT/results.tsv (seconds: connect, first byte, total), table.txt

  To read a box's capture, each frame as it came in and as it went out
  (ifindex $BOX_IFINDEX is the client side; pkttype 4 = sent by the box):
    tshark -r $OUT/pair-clientnic-box.pcap -Y 'tcp.port == $PAIR_PORT' -T fields \\
      -e frame.time_relative -e sll.ifindex -e sll.pkttype -e ip.src -e ip.dst \\
      -e tcp.flags.str -e tcp.seq_raw -e tcp.ack_raw -e tcp.len
  The same for servernic-box.pcap (ifindex $SNIC_IFINDEX is its client side), and for
  clientnic-box.pcap with port $CN_PORT.
EOF
# Under sudo, hand the results to the person who asked for them.
[ -z "${SUDO_UID:-}" ] || chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$OUT"
echo
echo "demo: done in $(($(date +%s) - T_START)) s"
