#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make demo: real curl requests over an emulated WAN, once through the
# ClientNIC and once through a plain kernel bridge in the same place, side by
# side; then the box's event log and counters for one connection, its packet
# captures and a sequence diagram drawn from them.
#
#   client ns    clientnic ns         wan ns                  servernic ns         server ns
#   [c0] ------ [eth0  box  eth1] -- [wan0  linkem  wan1] -- [eth0  br2  eth1] -- [s0]
#   10.77.0.1/24  ClientNIC, then      --delay each way        a kernel bridge      HTTP :8080
#                 a bridge                                     (the ServerNIC's
#                                                              place, for now)
#
# Needs root (network namespaces). See --help.

set -o errexit -o nounset -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

usage() {
	cat <<EOF
usage: scripts/demo.sh [options]      (as root; 'make demo DEMO_ARGS="..."')

Measures HTTP requests over an emulated WAN with and without the ClientNIC
and prints the medians side by side, the box's log and counters for one
connection, and where the captures and the sequence diagram were written.

  --delay MS     one-way WAN delay in ms, each direction (default 25: RTT 50 ms)
  --loss P       WAN loss probability per frame, 0-1 (default 0)
  --sizes LIST   response sizes, comma-separated, suffix k or m for KiB/MiB
                 (default 1k,100k,1m)
  --runs N       requests per size and box; medians are printed (default 5)
  --work MS      the extra scenario: a client busy MS ms between connect()
                 and its request (default: one RTT; 0 leaves it out)
  --out DIR      output folder (default ./demo-out)
  --short        quick mode for the test suite: sizes 1k,100k, 3 runs
  -h, --help     this text

Environment: BUILD (folder with clientnic and linkem, default build).
EOF
}

die() {
	echo "demo: $*" >&2
	exit 1
}

delay=25 loss=0 sizes=1k,100k,1m runs=5 out=./demo-out work=
sizes_set=0 runs_set=0 short=0
while [ $# -gt 0 ]; do
	case $1 in
	--delay) delay=${2:?--delay needs a value}; shift ;;
	--loss) loss=${2:?--loss needs a value}; shift ;;
	--sizes) sizes=${2:?--sizes needs a value}; sizes_set=1; shift ;;
	--runs) runs=${2:?--runs needs a value}; runs_set=1; shift ;;
	--work) work=${2:?--work needs a value}; shift ;;
	--out) out=${2:?--out needs a value}; shift ;;
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
for b in clientnic linkem; do
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
cat <<EOF
ClientNIC demo: the same HTTP requests (curl) over the same emulated WAN,
once through the ClientNIC and once through a plain kernel bridge in its
place. The box answers the client's SYN itself, holds the client's early
data until the server's real SYN-ACK is back, then splices the two
connections together. Rows "N ms work": a client that is busy N ms between
connect() and sending its request.
EOF

# ---- topology: the ClientNIC first, capturing every frame it handles

# shellcheck disable=SC2034 # read by lib.sh
LINKEM_ARGS="--delay ${delay}ms --loss $loss --seed 1"
CLIENTNIC_ARGS="--log-level debug --pcap $OUT/clientnic-box.pcap"
step "setting up: client, ClientNIC, WAN (linkem: ${delay} ms each way, loss $loss), server"
# A kernel bridge where the ServerNIC goes: the demo measures the ClientNIC
# alone for now.
topo_setup clientnic linkem bridge

for i in "${!size_bytes[@]}"; do
	head -c "${size_bytes[$i]}" /dev/urandom >"$OUT/files/served-${size_names[$i]}.bin"
done
mkdir "$TOPO_DIR/www"
cp "$OUT"/files/served-*.bin "$TOPO_DIR/www/"
spawn S "$TOPO_DIR/http.log" $TOOL http-server $PORT "$TOPO_DIR/www"
wait_listen S $PORT
URL=http://$S_IP4:$PORT

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

# The ServerNIC in its place instead of the bridge there, for when the demo
# measures it too (nothing calls these yet). servernic_in ARGS...: the
# daemon with these options, if it is built; servernic_out: the bridge back,
# the daemon's counters kept in $OUT/servernic-counters.txt.
servernic_in() {
	[ -x "$BUILD/servernic" ] || return 1
	topo_bridge_to_snic "$@"
	topo_wait_path
}
servernic_out() {
	snic_stop
	cp "$TOPO_DIR/servernic.err" "$OUT/servernic-counters.txt"
	_bridge P br2 eth0 eth1
	TOPO_SNIC=bridge
	topo_wait_path
}

# proof MODE: one small request with captures on the client and the server
# (and on the bridge's WAN port in bridge mode); sets PROOF_PORT.
proof() {
	local mode=$1 name=${size_names[0]} caps=() p
	demo_cap_start C c0 "$OUT/client-$mode.pcap"
	caps+=("$CAP_PID")
	demo_cap_start S s0 "$OUT/server-$mode.pcap"
	caps+=("$CAP_PID")
	if [ "$mode" = bridge ]; then
		demo_cap_start N eth1 "$OUT/bridge-wan-port.pcap"
		caps+=("$CAP_PID")
	fi
	PROOF_PORT=$(C curl -sS --fail -m 30 -o "$OUT/files/proof-$mode-$name.bin" \
		-w '%{local_port}' "$URL/served-$name.bin") || fail "$mode: first request failed"
	wait_until 10 conn_gone "$PROOF_PORT" || log "connection $PROOF_PORT still open after 10 s"
	for p in "${caps[@]}"; do stop_pid "$p" INT; done
	rm -f "$OUT"/*.pcap.err
}

# measure MODE: every size, --runs times, runs outermost so that drift hits
# all sizes alike; every response is checked against the served file.
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
		if awk -v w="$work" 'BEGIN { exit !(w > 0) }'; then
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
}

step "ClientNIC: one request with captures on the client, in the box and on the server"
proof clientnic
CN_PORT=$PROOF_PORT
BOX_IFINDEX=$(N cat /sys/class/net/eth0/ifindex)
# A fresh daemon for the measurements: no capture to write, info log.
topo_box_restart --log-level info
# lib.sh keeps the stopped run's logs under the number of the new run.
cp "$TOPO_DIR/clientnic.log.$BOX_RUNS" "$OUT/clientnic-events.log"
cp "$TOPO_DIR/clientnic.err.$BOX_RUNS" "$OUT/clientnic-proof-counters.txt"

step "ClientNIC: $runs runs of GET $(echo "${size_names[*]}" | tr ' ' ,)" \
	"$(awk -v w="$work" 'BEGIN { if (w > 0) printf "and of a client working %s ms after connect()", w }')"
measure clientnic
box_stop
cp "$TOPO_DIR/clientnic.err" "$OUT/clientnic-counters.txt"
cp "$TOPO_DIR/clientnic.log" "$OUT/clientnic-measure-events.log"

# ---- the same place, the same WAN, a plain kernel bridge instead of the box

step "baseline: a kernel bridge in the box's place, same WAN"
_bridge N br0 eth0 eth1
TOPO_BOX=bridge
topo_wait_path
proof bridge
BR_PORT=$PROOF_PORT
step "bridge: $runs runs of the same requests"
measure bridge

# ---- report

step "results: median of $runs runs, WAN RTT $rtt ms (${delay} ms each way), loss $loss"
echo
$DT table "$OUT/results.tsv" --rtt-ms "$rtt" --json "$OUT/summary.json" |
	tee "$OUT/table.txt"
echo
$DT verdict "$OUT/summary.json" --rtt-ms "$rtt" --work-ms "$work" | tee "$OUT/verdict.txt"

step "the ClientNIC's event log for the first connection (client port $CN_PORT)"
$DT events "$OUT/clientnic-events.log" "$C_IP4:$CN_PORT" --raw
echo "  (log level debug for that connection; full log: $OUT/clientnic-events.log)"

step "the ClientNIC's counters after the measured runs (non-zero ones)"
$DT counters "$OUT/clientnic-counters.txt"

step "proof and picture in $OUT"
$DT svg --out "$OUT/sequence.svg" --client-ip $C_IP4 \
	--note "WAN $delay ms each way; GET ${size_names[0]}." \
	--panel "plain kernel bridge" "$OUT/client-bridge.pcap" "$OUT/bridge-wan-port.pcap" \
	"$OUT/server-bridge.pcap" "$BR_PORT" - \
	--panel "with ClientNIC" "$OUT/client-clientnic.pcap" "$OUT/clientnic-box.pcap" \
	"$OUT/server-clientnic.pcap" "$CN_PORT" "$BOX_IFINDEX"
png=
if command -v rsvg-convert >/dev/null; then
	rsvg-convert -o "$OUT/sequence.png" "$OUT/sequence.svg" && png=$OUT/sequence.png
fi
cat <<EOF
  sequence diagram     $OUT/sequence.svg${png:+
                       $png}
  box capture          $OUT/clientnic-box.pcap   (every frame in and out of the box)
  client, server       $OUT/client-clientnic.pcap, $OUT/server-clientnic.pcap
  baseline captures    $OUT/client-bridge.pcap, $OUT/bridge-wan-port.pcap, $OUT/server-bridge.pcap
  measurements         $OUT/results.tsv (seconds: connect, first byte, total), table.txt

  To read the box's capture, each frame as it came in and as it went out
  (ifindex $BOX_IFINDEX is the client side; pkttype 4 = sent by the box):
    tshark -r $OUT/clientnic-box.pcap -Y 'tcp.port == $CN_PORT' -T fields \\
      -e frame.time_relative -e sll.ifindex -e sll.pkttype -e ip.src -e ip.dst \\
      -e tcp.flags.str -e tcp.seq_raw -e tcp.ack_raw -e tcp.len
EOF
# Under sudo, hand the results to the person who asked for them.
[ -z "${SUDO_UID:-}" ] || chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$OUT"
echo
echo "demo: done in $(($(date +%s) - T_START)) s"
