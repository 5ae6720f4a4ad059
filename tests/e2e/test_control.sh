#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The control socket and the metrics server of a running ClientNIC (two
# workers, so answers come through the workers' snapshots and questions):
# clientnicctl lists a live connection's flow with its addresses, state and
# bytes (JSON parsed, text filtered by server and state), answers while
# GETs run through the box (byte-exact), counters in JSON match
# those printed at the exit, metrics are well formed Prometheus text on
# the socket and over HTTP, the learned cache lists the server. Idle
# clients holding every slot neither stall forwarding (a transfer timed
# with and without them) nor the loop: the next one is turned away, they
# are closed after 2 s, and the socket answers again. The socket is the
# daemon's (0600 root): nobody is refused, a member of --control-group
# (0660) is let in; the file is gone when the daemon stops.
. "$(dirname "$0")/lib.sh"
need_cmd curl setpriv stat
id nobody >/dev/null 2>&1 || skip "no user nobody"
CTL=${CLIENTNICCTL_BIN:-$BUILD/clientnicctl}
[ -x "$CTL" ] || skip "$CTL is not built (make all)"
CLIENTNIC_ARGS="--workers 2 --metrics-listen 9100 $CLIENTNIC_ARGS"
topo_setup
sock=$TOPO_DIR/clientnic.sock
ctl() { "$CTL" --socket "$sock" "$@"; }
assert_eq "control socket: mode and owner" "600 root" "$(stat -c '%a %U' "$sock")"

# ---- a live connection's flow, and answers while GETs run
serve_blob $((4 << 20))
spawn S "$TOPO_DIR/echo.log" $TOOL echo-server 7000
wait_listen S 7000
# echo64 MODE: 64 KiB each way, then hold the connection open for a minute
# (hold) or close it both ways (close).
ECHO64_PY='import socket, sys, time
s = socket.create_connection((sys.argv[1], 7000))
data = bytes(range(256)) * 256
s.sendall(data)
got = b""
while len(got) < len(data):
    got += s.recv(65536)
print("echoed %d" % len(got), flush=True)
if sys.argv[2] == "hold":
    time.sleep(60)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()'
# A connection that has moved 64 KiB each way and stays open.
spawn C "$TOPO_DIR/holder.log" "$PYTHON" -c "$ECHO64_PY" "$S_IP4" hold
wait_line 10 "$TOPO_DIR/holder.log" '^echoed 65536' "$SPAWNED_PID" ||
	fail "the echo connection did not complete"
# An established flow's segments cross the kernel path where it runs.
datapath=daemon
grep -q 'kernel path: tc programs' "$TOPO_DIR/clientnic.err" && datapath=kernel
ctl flows --json >"$TOPO_DIR/flows.json" || fail "flows --json failed"
"$PYTHON" - "$TOPO_DIR/flows.json" "$C_IP4" "$S_IP4:7000" "$datapath" <<'PY' || fail "flows --json: not the live connection"
import json, sys
flows = json.load(open(sys.argv[1]))
c_ip, server, datapath = sys.argv[2], sys.argv[3], sys.argv[4]
live = [f for f in flows if f["server"] == server]
assert len(live) == 1, "flows to %s: %r" % (server, flows)
f = live[0]
for k in ("client", "server", "state", "age_ms", "idle_ms", "delta", "held_frames",
          "held_bytes", "frames_from_client", "bytes_from_client",
          "frames_from_server", "bytes_from_server", "datapath"):
    assert k in f, "no key %s in %r" % (k, f)
assert f["client"].startswith(c_ip + ":"), f
assert f["state"] == "established", f
assert f["datapath"] == datapath, f
assert f["age_ms"] > 0 and f["held_frames"] == 0, f
# 64 KiB each way, headers and all, in frames of any size (GSO).
assert f["bytes_from_client"] > 65536 and f["bytes_from_server"] > 65536, f
assert f["frames_from_client"] >= 2 and f["frames_from_server"] >= 2, f
print("# ok: flows --json: %s -> %s %s, age %.1f ms, %d/%d frames/bytes from the"
      " client, %d/%d from the server, %s" % (f["client"], f["server"], f["state"],
      f["age_ms"], f["frames_from_client"], f["bytes_from_client"],
      f["frames_from_server"], f["bytes_from_server"], f["datapath"]))
PY
# A connection closed both ways: with the kernel path the kernel closed it
# (its FINs and last ACK crossed the kernel alone, the close came on the
# worker's ring) and its record, with the programs' counts, stays for the
# close grace; without it the daemon saw it all.
C "$PYTHON" -c "$ECHO64_PY" "$S_IP4" close >/dev/null || fail "the closing echo connection failed"
closed_listed() { [ -n "$(ctl flows --state closed)" ]; }
wait_until 5 closed_listed || fail "no closed flow listed"
ctl flows --json --state closed >"$TOPO_DIR/closed.json" || fail "flows --json --state closed failed"
"$PYTHON" - "$TOPO_DIR/closed.json" "$datapath" <<'PY' || fail "flows --json: the closed flow lost its counts"
import json, sys
flows = json.load(open(sys.argv[1]))
assert len(flows) == 1, flows
f = flows[0]
assert f["bytes_from_client"] > 65536 and f["bytes_from_server"] > 65536, f
# (Its stragglers cross the kernel, where it runs: the list says so.)
assert f["datapath"] == sys.argv[2], f
print("# ok: closed flow: %d/%d frames/bytes from the client, %d/%d from the server, %s"
      % (f["frames_from_client"], f["bytes_from_client"], f["frames_from_server"],
         f["bytes_from_server"], f["datapath"]))
PY
text=$(ctl flows --server "$S_IP4:7000" --state established)
assert_eq "flows --server --state: lines" 1 "$(grep -c . <<<"$text")"
assert_file_has "flows: text line" <(echo "$text") \
	"^ipv4 client=$C_IP4:[0-9]+ server=$S_IP4:7000 state=established .* datapath=$datapath$"
assert_eq "flows to another port" "" "$(ctl flows --server "$S_IP4:9")"
assert_eq "flows in syn_sent" "" "$(ctl flows --state syn_sent)"
# GETs one after the other while the socket is asked again and again.
C bash -c "for i in 1 2 3 4 5; do curl -sS --fail -m 30 -o $TOPO_DIR/got.\$i \
	http://$S_IP4:8080/blob || exit 1; done" &
gets=$!
asked=0
while pid_alive "$gets"; do
	ctl flows >/dev/null && ctl counters --json >/dev/null || fail "no answer while GETs run"
	asked=$((asked + 1))
done
wait "$gets" || fail "a GET failed while the socket was asked"
for i in 1 2 3 4 5; do
	assert_same_file "GET $i while the socket answered" "$TOPO_DIR/blob" "$TOPO_DIR/got.$i"
done
log "ok: $asked flows and counters answers during 5 GETs of 4 MiB"
[ "$asked" -gt 0 ] || fail "the GETs ended before a question"

# ---- idle clients in every slot do not stall forwarding
# A GET small enough to end well within the 2 s the idle clients are
# given, timed without them, then while they hold every slot.
head -c $((256 << 10)) /dev/urandom >"$TOPO_DIR/www/small"
get_time() { C curl -sS --fail -m 30 -o "$TOPO_DIR/got" -w '%{time_total}' \
	"http://$S_IP4:8080/small"; }
t_free=$(get_time) || fail "GET failed"
"$PYTHON" - "$sock" 8 >"$TOPO_DIR/idle.out" 2>&1 <<'PY' &
import socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    conns.append(s)
print("connected %d" % n, flush=True)
t0 = time.monotonic()
for s in conns:
    s.settimeout(10)
    s.recv(1)          # the daemon closes an idle client: EOF
print("closed after %.2f s" % (time.monotonic() - t0), flush=True)
PY
idle_pid=$!
TOPO_PIDS+=("$idle_pid")
wait_line 5 "$TOPO_DIR/idle.out" '^connected 8' "$idle_pid" || fail "idle clients did not connect"
t0=$(date +%s%N)
rc=0
ctl counters >"$TOPO_DIR/busy.out" 2>&1 || rc=$?
t_idle=$(get_time) || fail "GET with idle control clients failed"
during=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
assert_eq "a ninth client while 8 wait: exit status" 1 "$rc"
assert_file_has "it is told why" "$TOPO_DIR/busy.out" 'too many control clients'
assert_same_file "GET with 8 idle control clients" "$TOPO_DIR/www/small" "$TOPO_DIR/got"
wait "$idle_pid" || { cat "$TOPO_DIR/idle.out" >&2; fail "idle clients were not closed"; }
closed=$(sed -n 's/^closed after \([0-9.]*\) s/\1/p' "$TOPO_DIR/idle.out")
log "figure: 256 KiB GET $t_free s alone, $t_idle s with 8 idle control clients (over after $during s of their $closed s)"
assert_num "the GET ended while the idle clients were connected (s)" "$during" '<' "$closed"
assert_num "GET time with idle control clients (s)" "$t_idle" '<' \
	"$(awk -v t="$t_free" 'BEGIN { print 3 * t + 0.2 }')"
assert_between "idle clients closed after (s)" "$closed" 1.5 4
ctl counters >/dev/null || fail "the socket does not answer after the idle clients"

# ---- counters, metrics, cache
sleep 0.3 # the last ACKs and FINs of the GETs
ctl counters --json >"$TOPO_DIR/counters.json" || fail "counters --json failed"
ctl metrics >"$TOPO_DIR/metrics.txt" || fail "metrics failed"
"$PYTHON" "$E2E_DIR/prom_check.py" clientnic_ <"$TOPO_DIR/metrics.txt" ||
	fail "metrics on the socket: not the Prometheus text format"
N curl -sS --fail -m 5 -o "$TOPO_DIR/metrics.http" http://127.0.0.1:9100/metrics ||
	fail "GET /metrics failed"
"$PYTHON" "$E2E_DIR/prom_check.py" clientnic_ <"$TOPO_DIR/metrics.http" ||
	fail "GET /metrics: not the Prometheus text format"
assert_file_has "metrics: a drop reason as a label" "$TOPO_DIR/metrics.http" \
	'^clientnic_drops_total\{reason="bad_checksum"\} [0-9]+$'
assert_file_has "metrics: port counters by side" "$TOPO_DIR/metrics.http" \
	'^clientnic_port_rx_frames_total\{side="server"\} [1-9][0-9]*$'
assert_file_has "metrics: flows created" "$TOPO_DIR/metrics.http" \
	'^clientnic_flows_created_total [1-9]'
code=$(N curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9100/)
assert_eq "GET / on the metrics port" 404 "$code"
ctl cache --json >"$TOPO_DIR/cache.json" || fail "cache --json failed"
"$PYTHON" -c 'import json, sys
c = json.load(open(sys.argv[1]))
assert any(e["server"] == sys.argv[2] and e["mss"] > 0 for e in c), c
print("# ok: cache --json: %d servers, %s among them" % (len(c), sys.argv[2]))' \
	"$TOPO_DIR/cache.json" "$S_IP4:8080" || fail "cache --json lacks the server"

box_stop
[ ! -e "$sock" ] || fail "the control socket is left after the stop"
log "ok: the control socket is removed at the stop"
"$PYTHON" - "$TOPO_DIR/counters.json" "$TOPO_DIR/clientnic.err" "$REPO_DIR/src/engine/counters.h" <<'PY' ||
import json, re, sys
got = json.load(open(sys.argv[1]))
dump, block = {}, None
for line in open(sys.argv[2]):
    if re.search(r"clientnic: counters \(exit\)", line):
        block = {}
    elif block is not None:
        m = re.match(r"  (\S+) +(\d+)$", line)
        if m:
            block[m.group(1)] = int(m.group(2))
if not block:
    sys.exit("no exit counters in the log")
if set(got) != set(block):
    sys.exit("names differ: JSON only %s, exit only %s"
             % (sorted(set(got) - set(block)), sorted(set(block) - set(got))))
src = open(sys.argv[3]).read()
def xlist(macro):
    body = re.search(r"#define %s\(X\)(.*?)\n\n" % macro, src, re.S).group(1)
    return re.findall(r"X\((\w+),", body)
# What traffic on the ports may still move (stray frames, not TCP) aside.
still = ([n for n in xlist("CN_COUNTER_LIST") if not n.startswith("frames_in_")
          and n != "passed_not_tcp"] + ["drop." + d for d in xlist("CN_DROP_LIST")] +
         ["flows_active", "buffered_bytes"])
moved = ["%s %d -> %d" % (n, got[n], block[n]) for n in still if got[n] != block[n]]
if moved:
    sys.exit("counters moved between the query and the exit: " + ", ".join(moved))
print("# ok: counters --json: %d names, as at the exit; %d flow counters equal"
      " (flows_created %d)" % (len(got), len(still), got["flows_created"]))
PY
	fail "counters --json does not match the counters printed at the exit"

# ---- who may use the socket
pub=$TOPO_DIR/pub
mkdir -m 0755 "$pub"
chmod 0711 "$TOPO_DIR"
install -m 0755 "$CTL" "$pub/clientnicctl"
group=$(id -gn nobody)
as_nobody() { setpriv --reuid nobody --regid "$group" --clear-groups "$pub/clientnicctl" \
	--socket "$pub/cn.sock" "$@"; }
topo_box_restart --control "$pub/cn.sock"
rc=0
as_nobody counters >"$TOPO_DIR/nobody.out" 2>&1 || rc=$?
assert_eq "nobody on a 0600 socket: exit status" 4 "$rc"
assert_file_has "nobody is told what to do" "$TOPO_DIR/nobody.out" \
	'permission denied on .*: run as root, or as a member of the daemon.s --control-group'
ctl_one=$("$CTL" --socket "$pub/cn.sock" flows) || fail "flows with one worker failed"
log "ok: flows with one worker: $(grep -c . <<<"$ctl_one") lines"
topo_box_restart --control "$pub/cn.sock" --control-group "$group"
assert_eq "with --control-group: mode and group" "660 $group" "$(stat -c '%a %G' "$pub/cn.sock")"
as_nobody counters --json >"$TOPO_DIR/nobody.json" || fail "a member of the control group was refused"
"$PYTHON" -c 'import json, sys; json.load(open(sys.argv[1]))' "$TOPO_DIR/nobody.json" ||
	fail "counters --json as a member of the group: not JSON"
log "ok: a member of the control group reads the counters"
box_stop
rc=0
"$CTL" --socket "$pub/cn.sock" counters 2>"$TOPO_DIR/gone.out" || rc=$?
assert_eq "no daemon: exit status" 3 "$rc"
assert_file_has "no daemon: which path, and what to do" "$TOPO_DIR/gone.out" \
	"no daemon at $pub/cn.sock .*--name NAME .*--socket PATH"
