#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What crosses the wire through the pair, read off tshark captures on the
# client (c0), the WAN (wan1, between linkem and the ServerNIC) and the
# server (s0) while four GETs run (two IPv4, two IPv6):
#  - on the WAN every client SYN carries the peer option (kind 253, ExID
#    0x4e43) after the client's own options, and every SYN-ACK is in the
#    client's (spoofed) space: its seq is the one the client got, not the
#    server's, and it carries the ServerNIC's receipt (kind 253, ExID
#    0x4e43, the real ISN);
#  - at the server and at the client no packet carries kind 253; the
#    server's SYN has the client's seq and the client's options (MSS, SACK,
#    timestamps, window scale) byte for byte, the peer option's bytes now
#    NOPs; the client segments there are in the server's own space.
. "$(dirname "$0")/lib.sh"
need_cmd tshark
LINKEM_ARGS="--delay 2ms $LINKEM_ARGS"
topo_setup clientnic linkem servernic

head -c 1024 /dev/urandom >"$TOPO_DIR/blob"
mkdir "$TOPO_DIR/www"
cp "$TOPO_DIR/blob" "$TOPO_DIR/www/blob"
spawn S "$TOPO_DIR/http.log" $TOOL http-server 8080 "$TOPO_DIR/www"
wait_listen S 8080

filter="tcp port 8080 or icmp"
cap_start C c0 "$TOPO_DIR/c0.pcapng" "$filter"
cap_c=$CAP_PID
cap_start W wan1 "$TOPO_DIR/wan.pcapng" "$filter"
cap_w=$CAP_PID
cap_start S s0 "$TOPO_DIR/s0.pcapng" "$filter"
cap_s=$CAP_PID
# Each capture records before the first SYN: a ping shows up in all three.
_cap_sees_icmp() {
	local f
	C ping -c 1 -W 1 -n -q $S_IP4 >/dev/null
	for f in c0 wan s0; do
		tshark -n -r "$TOPO_DIR/$f.pcapng" -Y icmp 2>/dev/null | grep -q . || return 1
	done
}
wait_until 10 _cap_sees_icmp || fail "the captures do not record pings"

conns=0
for host in $S_IP4 $S_IP4 $S_IP6 $S_IP6; do
	out=$(C $TOOL connect-time "$host" 8080 --path blob) || fail "GET from $host failed: $out"
	log "$host: $out"
	assert_eq "sha256 from $host" "$(sha256 "$TOPO_DIR/blob")" "$(sed -n 's/.* sha256=\([0-9a-f]*\).*/\1/p' <<<"$out")"
	conns=$((conns + 1))
done
cap_stop "$cap_c" "$TOPO_DIR/c0.pcapng"
cap_stop "$cap_w" "$TOPO_DIR/wan.pcapng"
cap_stop "$cap_s" "$TOPO_DIR/s0.pcapng"

# The three captures side by side, as key=value figures; the details of
# anything wrong on stderr.
out=$($PYTHON - "$TOPO_DIR" 8080 <<'EOF' 2>&1
import subprocess, sys
d, port = sys.argv[1], sys.argv[2]
F = ['tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.seq', 'tcp.ack',
     'tcp.option_kind', 'tcp.options']
def read(name):
    cmd = ['tshark', '-n', '-r', '%s/%s.pcapng' % (d, name), '-o',
           'tcp.relative_sequence_numbers:FALSE', '-Y', 'tcp', '-T', 'fields',
           '-E', 'occurrence=a', '-E', 'aggregator=,']
    for f in F:
        cmd += ['-e', f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        r = dict(zip(F, line.split('\t')))
        r['kinds'] = [int(k) for k in r['tcp.option_kind'].split(',') if k]
        r['opts'] = bytes.fromhex(r['tcp.options'].replace(':', ''))
        rows.append(r)
    return rows
def syns(rows):      # client SYNs by (client port, seq)
    return {(r['tcp.srcport'], r['tcp.seq']): r for r in rows
            if r['tcp.flags.syn'] == '1' and r['tcp.flags.ack'] == '0'}
def synacks(rows):   # SYN-ACKs by client port
    return {r['tcp.dstport']: r for r in rows
            if r['tcp.flags.syn'] == '1' and r['tcp.flags.ack'] == '1'}
def walk(opts):      # [(offset, kind, length)], NOP and EOL length 1
    out, i = [], 0
    while i < len(opts):
        k = opts[i]
        n = 1 if k in (0, 1) else opts[i + 1]
        out.append((i, k, n))
        if k == 0 or n < 2 and k not in (0, 1):
            break
        i += n
    return out
c, w, s = read('c0'), read('wan'), read('s0')
cs, ws, ss = syns(c), syns(w), syns(s)
bad = []
fig = dict(c0_syns=len(cs), wan_syns=len(ws), s0_syns=len(ss))
fig['wan_syns_kind253'] = sum(253 in r['kinds'] for r in ws.values())
fig['wan_syns_exid'] = 0
fig['s0_kind253'] = sum(253 in r['kinds'] for r in s)
fig['c0_kind253'] = sum(253 in r['kinds'] for r in c)
fig['wan_kind253'] = sum(253 in r['kinds'] for r in w)
fig['s0_syns_std'] = sum(all(k in r['kinds'] for k in (2, 3, 4, 8)) for r in ss.values())
fig['syns_same_seq'] = fig['syns_opts_nopped'] = fig['syns_client_opts'] = 0
for key, cr in cs.items():
    wr, sr = ws.get(key), ss.get(key)
    if not wr or not sr:
        bad.append('SYN %s seq %s: on the WAN %s, at the server %s' % (key[0], key[1], bool(wr), bool(sr)))
        continue
    fig['syns_same_seq'] += 1
    # On the WAN: the client's options, then the peer option (ExID 0x4e43).
    exp = [o for o in walk(wr['opts']) if o[1] == 253]
    if len(exp) == 1 and wr['opts'][exp[0][0] + 2:exp[0][0] + 4] == b'\x4e\x43':
        fig['wan_syns_exid'] += 1
    else:
        bad.append('SYN %s on the WAN: peer options %r in %s' % (key[0], exp, wr['opts'].hex()))
    # At the server: the WAN's options with the peer option's bytes NOPs.
    want = bytearray(wr['opts'])
    for off, k, n in exp:
        want[off:off + n] = b'\x01' * n
    if sr['opts'] == bytes(want):
        fig['syns_opts_nopped'] += 1
    else:
        bad.append('SYN %s: server options %s, WAN %s' % (key[0], sr['opts'].hex(), wr['opts'].hex()))
    # ... which are the client's own, byte for byte, and NOPs after them.
    co = cr['opts']
    if sr['opts'][:len(co)] == co and set(sr['opts'][len(co):]) <= {1}:
        fig['syns_client_opts'] += 1
    else:
        bad.append('SYN %s: server options %s, client %s' % (key[0], sr['opts'].hex(), co.hex()))
ca, wa, sa = synacks(c), synacks(w), synacks(s)
fig['c0_synacks'], fig['wan_synacks'], fig['s0_synacks'] = len(ca), len(wa), len(sa)
fig['wan_synacks_spoofed'] = fig['wan_synacks_receipt'] = 0
for p, cr in ca.items():
    wr, sr = wa.get(p), sa.get(p)
    if not wr or not sr:
        bad.append('SYN-ACK to %s: on the WAN %s, at the server %s' % (p, bool(wr), bool(sr)))
        continue
    if wr['tcp.seq'] == cr['tcp.seq'] and sr['tcp.seq'] != cr['tcp.seq']:
        fig['wan_synacks_spoofed'] += 1
    else:
        bad.append('SYN-ACK to %s: seq client %s, WAN %s, server %s' % (p, cr['tcp.seq'], wr['tcp.seq'], sr['tcp.seq']))
    rc = [o for o in walk(wr['opts']) if o[1] == 253]
    real = int(sr['tcp.seq']).to_bytes(4, 'big')
    if len(rc) == 1 and wr['opts'][rc[0][0] + 2:rc[0][0] + 8] == b'\x4e\x43' + real:
        fig['wan_synacks_receipt'] += 1
    else:
        bad.append('SYN-ACK to %s on the WAN: options %s, real ISN %s' % (p, wr['opts'].hex(), real.hex()))
for b in bad[:10]:
    print('bad: ' + b, file=sys.stderr)
print(' '.join('%s=%d' % kv for kv in fig.items()))
EOF
) || fail "reading the captures: $out"
log "captures: $out"
fig() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$out" | tail -n 1; }
[ -z "$(grep '^bad:' <<<"$out")" ] || fail "captures disagree: $(grep '^bad:' <<<"$out" | head -n 5)"
assert_eq "client SYNs on c0" $conns "$(fig c0_syns)"
assert_eq "client SYNs on the WAN" $conns "$(fig wan_syns)"
assert_eq "client SYNs at the server" $conns "$(fig s0_syns)"
assert_eq "SYNs on the WAN with option kind 253" $conns "$(fig wan_syns_kind253)"
assert_eq "SYNs on the WAN with one peer option, ExID 0x4e43" $conns "$(fig wan_syns_exid)"
assert_eq "packets at the server with option kind 253" 0 "$(fig s0_kind253)"
assert_eq "packets at the client with option kind 253" 0 "$(fig c0_kind253)"
assert_num "packets on the WAN with option kind 253 (the same filter, where they are)" \
	"$(fig wan_kind253)" '>=' $((2 * conns))
assert_eq "server SYNs with MSS, SACK-permitted, timestamps and window scale" $conns "$(fig s0_syns_std)"
assert_eq "client SYNs found with the same seq on the WAN and at the server" $conns "$(fig syns_same_seq)"
assert_eq "server SYNs: the WAN's options, the peer option NOPs" $conns "$(fig syns_opts_nopped)"
assert_eq "server SYNs: the client's options byte for byte, then NOPs" $conns "$(fig syns_client_opts)"
assert_eq "SYN-ACKs on c0 (the spoofed ones)" $conns "$(fig c0_synacks)"
assert_eq "SYN-ACKs on the WAN in the client's space, not the server's" $conns "$(fig wan_synacks_spoofed)"
assert_eq "SYN-ACKs on the WAN with the ServerNIC's receipt (real ISN)" $conns "$(fig wan_synacks_receipt)"
log "figure: $conns connections: SYNs on c0/WAN/s0 $(fig c0_syns)/$(fig wan_syns)/$(fig s0_syns), kind 253 on c0/WAN/s0 $(fig c0_kind253)/$(fig wan_kind253)/$(fig s0_kind253)"

out=$($TOOL check-pcap "$TOPO_DIR/s0.pcapng" 8080 2>&1) || fail "client segments at the server: $out"
log "ok: client ACKs and TSecrs at the server are in its own space: $out"
assert_num "client ACKs checked at the server" "$(sed -n 's/.*acks=\([0-9]*\).*/\1/p' <<<"$out")" '>=' $((2 * conns))

box_stop
snic_stop
assert_counter syns_peer_opt '==' $conns
assert_counter flows_taken_over '==' $conns
assert_snic_counter syns_peer '==' $conns
assert_snic_counter peer_opts_stripped '==' $conns
