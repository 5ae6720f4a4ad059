#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Helpers for scripts/demo.sh: an HTTP client that works between connect()
and its request, the results table, the event log of one connection, and
the sequence diagram (SVG) drawn from packet captures.

Every figure printed or drawn comes from the files given on the command
line; nothing here knows what the numbers should be.
"""

import argparse
import calendar
import collections
import json
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from xml.sax.saxutils import escape

# ---- fetch: one HTTP/1.0 GET, the application busy for --work ms between
# connect() and send(): what a client that builds its request (TLS keys, a
# body read from disk) after connecting gains from the box.


def cmd_fetch(a):
    body = bytearray()
    t0 = time.monotonic()
    fam = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    s.connect((a.host, a.port))
    t_conn = time.monotonic()
    until = t_conn + a.work / 1000.0
    while time.monotonic() < until:  # busy, as real work would be
        pass
    req = 'GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n' % (a.path, a.host)
    s.sendall(req.encode())
    t_first = None
    resp = bytearray()
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        if t_first is None:
            t_first = time.monotonic()
        resp += chunk
    t_end = time.monotonic()
    s.close()
    head, sep, body = bytes(resp).partition(b'\r\n\r\n')
    if not sep or not head.startswith(b'HTTP/1.') or b' 200 ' not in head.split(b'\r\n')[0]:
        sys.exit('fetch: bad response: %r' % head[:80])
    with open(a.output, 'wb') as f:
        f.write(body)
    print('%.6f %.6f %.6f' % (t_conn - t0, t_first - t0, t_end - t0))


# ---- table: medians from results.tsv
# ---- table: medians from results.tsv
# columns: setup scenario size_bytes run connect_s ttfb_s total_s

# The three setups, in the table's order: kernel bridges in both box places,
# the ClientNIC alone (a bridge where the ServerNIC goes), both boxes.
MODES = ('bridge', 'clientnic', 'pair')
MODE_NAME = {'bridge': 'bridges', 'clientnic': 'ClientNIC', 'pair': 'pair'}
METRICS = (('connect', 'connect()'), ('ttfb', 'first byte'), ('total', 'total'))
NUMBER = {0: 'no', 1: 'one', 2: 'two', 3: 'three', 4: 'four', 5: 'five', 6: 'six'}


def human_size(n):
    for unit, div in (('MiB', 1 << 20), ('KiB', 1 << 10)):
        if n >= div and n % div == 0:
            return '%d %s' % (n // div, unit)
    return '%d B' % n


def load_results(path):
    rows = collections.defaultdict(lambda: collections.defaultdict(list))
    order = []
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith('#'):
                continue
            box, scen, size, _run, c, fb, tot = line.split()
            key = (scen, int(size))
            if key not in order:
                order.append(key)
            rows[key][box].append((float(c), float(fb), float(tot)))
    return order, rows


def fmt_ms(v):
    if v != v:
        return '-'
    return '%.2f' % v if v < 10 else '%.1f' % v


def scen_label(scen, size):
    label = 'GET ' + human_size(size)
    if scen.startswith('work:'):
        label += ', %s ms work' % scen[5:]
    return label


def cmd_table(a):
    order, rows = load_results(a.results)
    rtt = a.rtt_ms
    out = []
    w = out.append
    row = '%-22s %-11s %9s %10s %9s   %10s %9s'
    w(row % ('', '', '', 'median', '', 'minus the', 'bridges'))
    w(row % (('request', 'measure') + tuple(MODE_NAME[m] for m in MODES) +
             ('ClientNIC', 'pair')))
    w(row % ('', '', '(ms)', '(ms)', '(ms)', '(RTT)', '(RTT)'))
    summary = {}
    for key in order:
        scen, size = key
        n = {m: len(rows[key][m]) for m in MODES}
        for i, (mname, mlabel) in enumerate(METRICS):
            med = {}
            for m in MODES:
                vals = [r[i] * 1000.0 for r in rows[key][m]]
                med[m] = statistics.median(vals) if vals else float('nan')
            diffs = ['%+.2f' % ((med[m] - med['bridge']) / rtt) if rtt > 0 else '-'
                     for m in ('clientnic', 'pair')]
            w(row % ((scen_label(scen, size) if i == 0 else '', mlabel) +
                     tuple(fmt_ms(med[m]) for m in MODES) + tuple(diffs)))
            summary['%s/%d/%s' % (scen, size, mname)] = {
                m: round(med[m], 3) for m in MODES if med[m] == med[m]}
        w(row % (('', 'runs') + tuple(n[m] for m in MODES) + ('', '')))
    text = '\n'.join(line.rstrip() for line in out)
    print(text)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(summary, f, indent=1, sort_keys=True)


def in_rtts(v, rtt):
    """'two WAN round trips + 1.4 ms': v in whole round trips and the rest."""
    n = max(0, int(round(v / rtt)))
    rest = v - n * rtt
    return '%s %s %s %.1f ms' % (NUMBER.get(n, str(n)), 'round trip' if n == 1 else 'round trips',
                                 '+' if rest >= 0 else '-', abs(rest))


def say(*sentences):
    """One point of the verdict: a paragraph, wrapped."""
    # A number and its unit, and "N round trip(s)", stay on one line.
    text = re.sub(r'(\d) (?=KiB|MiB|ms|B\b|RTT|round trip)|(?<=round) (?=trip)', '\\1\0',
                  ' '.join(sentences))
    print(textwrap.fill(text, width=100, initial_indent='- ', subsequent_indent='  ',
                        break_on_hyphens=False).replace('\0', ' '))


def cmd_verdict(a):
    """A few sentences on what the medians say, worded from the numbers."""
    with open(a.summary) as f:
        s = json.load(f)
    rtt = a.rtt_ms
    med = statistics.median

    def rel(d):
        if abs(d) < 0.1 * rtt:
            return 'about the same (%+.2f ms)' % d
        return '%.1f ms %s (%.2f RTT)' % (abs(d), 'less' if d < 0 else 'more', abs(d) / rtt)

    def pick(curl, metric):
        return [(int(k.split('/')[1]), v) for k, v in sorted(s.items(), key=lambda kv: kv[0])
                if k.endswith('/' + metric) and k.startswith('curl/') == curl
                and all(m in v for m in MODES)]

    def medof(items, m):
        return med([v[m] for _size, v in items])

    conn, fb = pick(True, 'connect'), pick(True, 'ttfb')
    tot, work = pick(True, 'total'), pick(False, 'ttfb')
    tot.sort()
    if conn:
        c = {m: medof(conn, m) for m in MODES}
        say('connect(): %.2f ms through the ClientNIC alone and %.2f ms through the pair,'
            ' against %.1f ms through the bridges (%s): the ClientNIC answers the SYN on the'
            ' LAN.' % (c['clientnic'], c['pair'], c['bridge'], in_rtts(c['bridge'], rtt)))
    if fb:
        f = {m: medof(fb, m) for m in MODES}
        saved = f['bridge'] - f['pair']
        n = int(round(saved / rtt))
        if n >= 1:
            why = ('The pair takes %s off (%.1f ms, %.2f RTT): the request crosses the WAN'
                   ' right behind the SYN, and the ServerNIC holds it only until the'
                   ' server\'s SYN-ACK, a LAN round trip away.'
                   % ('one round trip' if n == 1 else NUMBER.get(n, str(n)) + ' round trips',
                      saved, saved / rtt))
        else:
            why = ('The pair saved no round trip here (%+.1f ms against the bridges): see its'
                   ' event logs (taken_over?) and flows_peer_early.' % -saved)
        say('first byte through the pair: %.1f ms = %s; bridges: %.1f ms = %s; ClientNIC'
            ' alone: %.1f ms = %s (curl, which sends its request as soon as connect()'
            ' returns; medians over the sizes).'
            % (f['pair'], in_rtts(f['pair'], rtt).replace('round trip', 'WAN round trip', 1),
               f['bridge'], in_rtts(f['bridge'], rtt), f['clientnic'],
               in_rtts(f['clientnic'], rtt)), why)
        say('the ClientNIC alone is %s against the bridges for curl\'s first byte: it holds'
            ' the request until the real SYN-ACK is back, so the request reaches the server'
            ' when it would have anyway.' % rel(f['clientnic'] - f['bridge']))
    if tot:
        parts = ', '.join('%+.1f ms (%s)' % (v['pair'] - v['bridge'], human_size(size))
                          for size, v in tot)
        # After the first byte: how long the transfer itself took.
        fbs = dict(fb)
        after = [(size, (v['pair'] - fbs[size]['pair']) - (v['bridge'] - fbs[size]['bridge']))
                 for size, v in tot if size in fbs]
        if all(abs(d) < 0.25 * rtt for _size, d in after):
            more = ('Each is about what the first byte saved: the round trip saved is the'
                    ' handshake\'s, the transfer itself takes as long.')
        else:
            more = ('The transfer itself, after the first byte, through the pair against the'
                    ' bridges: %s. The server\'s first RTT sample is the ServerNIC\'s LAN'
                    ' handshake, and its congestion control paces its first flights on it'
                    ' (docs/demo.md).'
                    % '; '.join('%s %s' % (human_size(size), rel(d)) for size, d in after))
        say('total, the pair minus the bridges: %s.' % parts, more)
    if work:
        f = {m: medof(work, m) for m in MODES}
        out = ['first byte for a client that works %.0f ms between connect() and its request'
               ' (building it, TLS keys, reading a file): bridges %.1f ms; ClientNIC alone'
               ' %.1f ms, %s; pair %.1f ms, %s.'
               % (a.work_ms, f['bridge'], f['clientnic'], rel(f['clientnic'] - f['bridge']),
                  f['pair'], rel(f['pair'] - f['bridge']))]
        if f['bridge'] - f['clientnic'] >= 0.5 * rtt:
            out.append('The work now overlaps the handshake instead of following it.')
        d = f['pair'] - f['clientnic']
        if abs(d) < 0.1 * rtt and a.work_ms >= 0.9 * rtt:
            out.append('The pair adds nothing to that (%+.2f ms against the ClientNIC alone):'
                       ' with work of a round trip or more, the handshake is over before the'
                       ' request leaves the client.' % d)
        elif d < 0:
            out.append('The pair is %.1f ms faster than the ClientNIC alone: the request left'
                       ' before the handshake was over.' % -d)
        say(*out)


# ---- events: the daemons' text event logs for one connection


def parse_kv(line):
    out = {}
    for word in line.split():
        k, sep, v = word.partition('=')
        if sep:
            out[k] = v
    return out


# Texts by event; (event, role) first where the two roles mean different things.
EVENT_TEXT = {
    'syn_spoofed': lambda e: 'client SYN: spoofed SYN-ACK sent back at once (ISN %s, mss %s,'
                             ' wscale %s), SYN forwarded to the server'
                             % (e.get('spoof_isn'), e.get('mss'), e.get('wscale')),
    'syn_respoofed': lambda e: 'client SYN again: the same spoofed SYN-ACK again',
    'syn_resent': lambda e: 'server silent: SYN sent again',
    'buffered': lambda e: 'early client frame held: %s frame(s), %s bytes so far'
                          % (e.get('frames'), e.get('bytes')),
    ('buffered', 'servernic'): lambda e: 'early client frame held until the server\'s SYN-ACK:'
                                         ' %s frame(s), %s bytes so far'
                                         % (e.get('frames'), e.get('bytes')),
    'synack_real': lambda e: 'real SYN-ACK absorbed (server ISN %s, delta %s): the round trip'
                             ' the client did not wait for is %s ms'
                             % (e.get('real_isn'), e.get('delta'), e.get('age_ms')),
    'flushed': lambda e: 'held frames sent to the server: %s frame(s), %s bytes'
                         % (e.get('frames'), e.get('bytes')),
    ('flushed', 'servernic'): lambda e: 'held frames sent to the server, translated:'
                                        ' %s frame(s), %s bytes' % (e.get('frames'),
                                                                   e.get('bytes')),
    'peer_syn': lambda e: 'SYN with a valid peer option (spoofed ISN %s, mss %s, wscale %s):'
                          ' flow tracked, option overwritten with NOPs'
                          % (e.get('spoof_isn'), e.get('mss'), e.get('wscale')),
    ('taken_over', 'servernic'): lambda e: 'server\'s SYN-ACK sent on translated into the'
                                           ' spoofed space (server ISN %s, delta %s), %s ms'
                                           ' after the SYN came in'
                                           % (e.get('real_isn'), e.get('delta'),
                                              e.get('age_ms')),
    ('taken_over', 'clientnic'): lambda e: 'SYN-ACK came back already translated (seq = the'
                                           ' spoofed ISN), %s ms after the SYN: the ServerNIC'
                                           ' translates this flow' % e.get('age_ms'),
    'peer_learned': lambda e: 'first SYN-ACK a ServerNIC translated for this server: it is'
                              ' remembered as having a peer (--peer auto sends early data to it'
                              ' at once from now on)',
    'peer_lost': lambda e: 'the expected ServerNIC did not answer: translated here, peer'
                           ' forgotten',
    'refused': lambda e: 'server refused: client reset',
    'syn_timeout': lambda e: 'no SYN-ACK in time: client reset',
    'reset': lambda e: 'flow reset',
    'closed': lambda e: 'flow closed',
}


def event_text(e, role):
    fn = EVENT_TEXT.get((e['event'], role)) or EVENT_TEXT.get(e['event'])
    return fn(e) if fn else ''


def named_files(specs):
    """NAME=FILE arguments (or FILE alone, named after itself)."""
    out = []
    for spec in specs:
        name, sep, path = spec.partition('=')
        out.append((name, path) if sep else (os.path.basename(spec), spec))
    return out


def log_ts(v):
    """Seconds since the epoch from a text record's RFC 3339 ts (UTC, with
    microseconds: 2026-12-01T11:22:33.123456Z)."""
    day, _t, clock = v.rstrip('Z').partition('T')
    hms, _dot, frac = clock.partition('.')
    stamp = time.strptime(day + 'T' + hms, '%Y-%m-%dT%H:%M:%S')
    return calendar.timegm(stamp) + int(frac.ljust(6, '0')) / 1e6


def cmd_events(a):
    """The events of one connection in one or more logs, on one time line
    (all daemons stamp wall-clock time on the same machine)."""
    want = 'client=%s' % a.client
    logs = named_files(a.logs)
    evs = []
    for name, path in logs:
        role = 'servernic' if 'servernic' in name.lower() else 'clientnic'
        with open(path) as f:
            for line in f:
                if want + ' ' not in line + ' ':
                    continue
                e = parse_kv(line)
                if 'ts' in e and 'event' in e:
                    evs.append((log_ts(e['ts']), name, role, e, line.rstrip('\n')))
        if not any(ev[1] == name for ev in evs):
            sys.exit('events: no event for %s in %s' % (a.client, path))
    evs.sort(key=lambda ev: ev[0])
    t0 = evs[0][0]
    width = max(len(name) for name, _p in logs)
    for ts, name, role, e, _raw in evs:
        who = '%-*s  ' % (width, name) if len(logs) > 1 else ''
        print('  %+9.3f ms  %s%-13s %s' % ((ts - t0) * 1000.0, who, e['event'],
                                            event_text(e, role)))
    if a.raw:
        print('  raw lines:')
        for _ts, name, _role, _e, raw in evs:
            print('    ' + ('%-*s  ' % (width, name) if len(logs) > 1 else '') + raw)


# Counters that are a state now rather than a count since the start.
GAUGES = ('flows_active', 'buffered_bytes')


def counter_blocks(path):
    """Every counter block of a daemon's stderr, in order, as dicts."""
    blocks, cur = [], None
    with open(path) as f:
        for line in f:
            if ': counters' in line and not line.startswith(' '):
                cur = collections.OrderedDict()
                blocks.append(cur)
                continue
            if cur is None:
                continue
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and line.startswith(' '):
                cur[parts[0]] = int(parts[1])
            else:
                cur = None
    return blocks


def cmd_counters(a):
    """The daemons' counters, the non-zero ones: one file in two columns,
    or several side by side. --delta: the last block minus the one before
    (a SIGUSR1 snapshot), gauges as they are in the last."""
    files = named_files(a.files)
    tables = []
    for name, path in files:
        blocks = counter_blocks(path)
        if not blocks or (a.delta and len(blocks) < 2):
            sys.exit('counters: %s in %s' % ('no counters' if not blocks else
                                              'no snapshot before the last block', path))
        last = blocks[-1]
        if a.delta:
            prev = blocks[-2]
            last = collections.OrderedDict(
                (k, v if k in GAUGES else v - prev.get(k, 0)) for k, v in last.items())
        tables.append(last)
    # Both daemons print every counter in the same order: keep it.
    names = []
    for t in tables:
        names += [k for k in t if k not in names]
    names = [k for k in names if any(t.get(k, 0) != 0 for t in tables)]
    if not names:
        sys.exit('counters: all zero')
    if len(files) == 1:
        items = [(k, tables[0][k]) for k in names]
        half = (len(items) + 1) // 2
        for i in range(half):
            left = '%-26s %10d' % items[i]
            right = '%-26s %10d' % items[i + half] if i + half < len(items) else ''
            print(('  ' + left + '    ' + right).rstrip())
        return
    print('  %-26s' % 'counter' + ''.join(' %11s' % name for name, _p in files))
    for k in names:
        label = k + (' (now)' if a.delta and k in GAUGES else '')
        print('  %-26s' % label + ''.join(' %11d' % t.get(k, 0) for t in tables))


# ---- svg: a sequence diagram of one connection, from captures


FIELDS = ['frame.time_epoch', 'ip.src', 'ipv6.src', 'tcp.srcport', 'tcp.dstport',
          'tcp.flags', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.len', 'sll.ifindex',
          'sll.pkttype', 'http.request.method', 'http.request.uri', 'tcp.option_kind']

SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04
PEER_OPT_KIND = 253  # RFC 6994 experimental option: the ClientNIC's peer option

Obs = collections.namedtuple('Obs', 't dir seq ack flags len http where opts')


def read_pcap(path, port, client_ip):
    """Frames of the connection client_ip:port, as Obs with dir 'cs' (from
    the client) or 'sc'; where = (ifindex, outgoing) for SLL2 captures;
    opts: the TCP option kinds."""
    cmd = ['tshark', '-n', '-r', path, '-Y', 'tcp.port == %d' % port, '-T', 'fields',
           '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,']
    for f in FIELDS:
        cmd += ['-e', f]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = []
    for line in res.stdout.splitlines():
        raw = dict(zip(FIELDS, line.split('\t')))
        v = {k: x.split(',')[0] for k, x in raw.items()}
        src = v['ip.src'] or v['ipv6.src']
        d = 'cs' if src == client_ip and v['tcp.srcport'] == str(port) else 'sc'
        http = ''
        if v['http.request.method']:
            http = '%s %s' % (v['http.request.method'], v['http.request.uri'])
        where = None
        if v['sll.ifindex']:
            where = (int(v['sll.ifindex']), v['sll.pkttype'] == '4')
        opts = frozenset(int(k) for k in raw.get('tcp.option_kind', '').split(',') if k)
        out.append(Obs(float(v['frame.time_epoch']), d, int(v['tcp.seq_raw']),
                       int(v['tcp.ack_raw']), int(v['tcp.flags'], 16), int(v['tcp.len'] or 0),
                       http, where, opts))
    return out


CTL = SYN | FIN | RST | ACK


def match(deps, arrs, keys, slack=0.0005):
    """Pair each departure with the first unused arrival not before it that
    agrees on one of keys (tried in order). Returns {dep index: arr index}."""
    used = set()
    pairs = {}
    for i, d in enumerate(deps):
        for key in keys:
            kd = key(d)
            for j, r in enumerate(arrs):
                if j in used or r.t < d.t - slack or key(r) != kd:
                    continue
                pairs[i] = j
                used.add(j)
                break
            if i in pairs:
                break
    return pairs


K_EXACT = (lambda o: (o.seq, o.ack, o.flags & CTL, o.len), lambda o: (o.seq, o.flags & CTL))
K_CS_INSIDE = (lambda o: (o.seq, o.flags & CTL, o.len), lambda o: (o.seq, o.flags & CTL))
K_SC_INSIDE = (lambda o: (o.ack, o.flags & CTL, o.len), lambda o: (o.ack, o.flags & CTL))


def frame_label(o):
    if o.http.startswith('GET'):
        return '%s (%d B)' % (o.http, o.len)
    if o.flags & RST:
        return 'RST'
    if o.flags & SYN:
        if o.flags & ACK:
            return 'SYN-ACK'
        return 'SYN + peer option' if PEER_OPT_KIND in o.opts else 'SYN'
    name = 'FIN' if o.flags & FIN else ''
    if o.len:
        name = ('data %d B' % o.len) + (' + FIN' if name else '')
    return name or 'ACK'


Arrow = collections.namedtuple('Arrow', 'a ta b tb label kind')
# A lane of a panel: its name, its capture, and what it is: 'end' (the
# client's or the server's own interface), 'tap' (a capture on one port of
# a bridge, frames unchanged) or the client-side ifindex of a daemon's own
# capture (SLL2: every frame in and out, on both ports).
Lane = collections.namedtuple('Lane', 'name obs box')


def lane_frames(lane, d, towards_server, out):
    """Frames of direction d (cs, sc) leaving (out) or reaching a lane on its
    side towards the server (towards_server) or towards the client."""
    if lane.box in ('end', 'tap'):
        return [o for o in lane.obs if o.dir == d]
    return [o for o in lane.obs if o.dir == d and o.where and
            (o.where[0] != lane.box) == towards_server and o.where[1] == out]


def panel_arrows(lanes):
    """Arrows between neighbouring lanes, 0 the client, the last the server,
    and the bars of frames a box held."""
    arrows, holds = [], []
    last = len(lanes) - 1
    # Per lane: frames out towards the server / the client, frames in from
    # the client / the server, and how each box labels what it sends.
    out_cs = [lane_frames(ln, 'cs', True, True) for ln in lanes]
    out_sc = [lane_frames(ln, 'sc', False, True) for ln in lanes]
    in_cs = [lane_frames(ln, 'cs', False, False) for ln in lanes]
    in_sc = [lane_frames(ln, 'sc', True, False) for ln in lanes]
    label_cs = [dict() for _ in lanes]  # id(frame) -> (suffix, kind)
    label_sc = [dict() for _ in lanes]
    absorbed = []  # (lane, frame, translated)
    for i, ln in enumerate(lanes):
        if ln.box in ('end', 'tap'):
            continue
        synack_in = next((o.t for o in in_sc[i] if o.flags & SYN), None)
        # A box that passes the SYN-ACK on (the ServerNIC) flushes what it
        # held while it handles it: a frame in before that SYN-ACK went
        # out was held, even one whose capture time is a hair after the
        # SYN-ACK's (both came in during one turn of the box's loop, the
        # frame read first). A box that absorbs it: in before it came in.
        synack_out = next((o.t for o in out_sc[i] if o.flags & SYN), None)
        inside = match(in_cs[i], out_cs[i], K_CS_INSIDE, slack=0)
        for j, k in inside.items():
            fin, fout = in_cs[i][j], out_cs[i][k]
            if synack_in is None:
                held = fout.t - fin.t > 0.001
            elif synack_out is not None:
                held = fin.t < synack_out and synack_in <= fout.t
            else:
                held = fin.t < synack_in <= fout.t
            if held:
                label_cs[i][id(fout)] = (', held %.1f ms' % ((fout.t - fin.t) * 1000), 'flushed')
                holds.append((i, fin.t, fout.t))
            elif not fout.flags & SYN and (synack_in is None or fout.t < synack_in):
                label_cs[i][id(fout)] = (' (early)', 'early')
        for k, o in enumerate(out_cs[i]):
            if k not in inside.values():
                label_cs[i][id(o)] = (' (from box)', 'spoofed')
        inside = match(in_sc[i], out_sc[i], K_SC_INSIDE, slack=0)
        for j, k in inside.items():
            fin, fout = in_sc[i][j], out_sc[i][k]
            if fout.flags & SYN and fout.seq != fin.seq:
                label_sc[i][id(fout)] = (' (translated)', 'translated')
        for k, o in enumerate(out_sc[i]):
            if k not in inside.values():
                label_sc[i][id(o)] = (' (spoofed)' if o.flags & SYN else ' (from box)',
                                      'spoofed')
        for j, o in enumerate(in_sc[i]):
            if j not in inside and o.flags & SYN:
                absorbed.append((i, o))

    def hop(deps, arrs, a, b, labels):
        pairs = match(deps, arrs, K_EXACT)
        sent = set()
        for n, d in enumerate(deps):
            suffix, kind = labels.get(id(d), ('', 'plain'))
            lab = frame_label(d) + suffix
            # The same segment sent on again by this lane: a retransmission.
            if d.len or d.flags & (SYN | FIN):
                if (d.seq, d.len, d.flags & CTL) in sent:
                    lab += ' (again)'
                sent.add((d.seq, d.len, d.flags & CTL))
            if n in pairs:
                arrows.append(Arrow(a, d.t, b, arrs[pairs[n]].t, lab, kind))
            else:
                arrows.append(Arrow(a, d.t, b, None, lab + ' (lost)', 'lost'))

    for i in range(last):
        hop(out_cs[i], in_cs[i + 1], i, i + 1, label_cs[i])
        hop(out_sc[i + 1], in_sc[i], i + 1, i, label_sc[i + 1])
    # A SYN-ACK that ends in a box: say so on the arrow that brought it.
    for i, o in absorbed:
        for k, ar in enumerate(arrows):
            if ar.b == i and ar.a == i + 1 and ar.tb is not None and abs(ar.tb - o.t) < 1e-9:
                how = 'translated' if ar.kind == 'translated' else 'real'
                arrows[k] = ar._replace(label='SYN-ACK (%s): absorbed' % how, kind='real')
    return arrows, holds


def client_marks(client):
    """connect() (the client's ACK of a SYN-ACK), first and last response byte."""
    marks = []
    syn_ack = next((o for o in client if o.dir == 'sc' and o.flags & SYN), None)
    if syn_ack:
        ack = next((o for o in client if o.dir == 'cs' and o.t >= syn_ack.t and
                    not o.flags & SYN), None)
        marks.append(('connect() returns', (ack or syn_ack).t))
    data = [o for o in client if o.dir == 'sc' and o.len > 0]
    if data:
        marks.append(('first byte', data[0].t))
        # The first arrival of the last byte, not a retransmission of it.
        end = max((o.seq + o.len) & 0xffffffff for o in data)
        last = next(o for o in data if (o.seq + o.len) & 0xffffffff == end)
        if last.t - data[0].t > 0.0005:
            marks.append(('last byte', last.t))
    return marks


class TimeMap:
    """Time (ms) down the page at a fixed scale, plus room added where
    events come closer than gap pixels, so that each can be read: an
    interval without events keeps its true length. The axis shows true
    times."""

    def __init__(self, times_ms, top, px_per_ms, gap):
        pts = sorted(set(round(t, 4) for t in times_ms))
        self.t, self.y = [], []
        shift = 0.0
        for t in pts:
            y = top + t * px_per_ms + shift
            if self.y and y < self.y[-1] + gap:
                shift += self.y[-1] + gap - y
                y = self.y[-1] + gap
            self.t.append(t)
            self.y.append(y)
        self.scale = px_per_ms

    def __call__(self, t):
        t = round(t, 4)
        ts, ys = self.t, self.y
        if t <= ts[0]:
            return ys[0] - (ts[0] - t) * self.scale
        for i in range(1, len(ts)):
            if t <= ts[i]:
                # Between two events: the added room goes first, then time
                # runs at the true scale up to the next event.
                return max(ys[i - 1], ys[i] - (ts[i] - t) * self.scale)
        return ys[-1] + (t - ts[-1]) * self.scale


COLORS = {'plain': '#444444', 'spoofed': '#d9480f', 'early': '#0b7285', 'flushed': '#1864ab',
          'translated': '#2f9e44', 'real': '#5f3dc4', 'lost': '#c92a2a'}
LEGEND = [('plain', 'frame on the wire'), ('spoofed', 'made by a box'),
          ('early', 'early data, on at once'), ('flushed', 'held in a box, then sent'),
          ('translated', 'translated by the ServerNIC'), ('real', 'SYN-ACK absorbed'),
          ('lost', 'lost on the WAN')]


def lane_xs(x0, n):
    """Lane positions: LAN hops at the ends, the WAN in between."""
    if n <= 3:
        gaps = [230] * (n - 1)
    else:
        gaps = [190] + [250] * (n - 3) + [190]
    xs = [x0 + 70]
    for g in gaps:
        xs.append(xs[-1] + g)
    return xs


def panel_width(n):
    xs = lane_xs(0, n)
    return xs[-1] + 110


def draw_panel(svg, x0, title, lanes, arrows, holds, marks, tm, t0, y_end):
    lx = lane_xs(x0, len(lanes))
    mid = (lx[0] + lx[-1]) // 2
    svg.append('<text x="%d" y="28" font-size="17" font-weight="bold" text-anchor="middle">%s'
               '</text>' % (mid, escape(title)))
    sub = ' \u00b7 '.join('%s %.1f ms' % (label.replace(' returns', ''), (t - t0) * 1000)
                           for label, t in marks)
    svg.append('<text x="%d" y="47" font-size="12.5" fill="#2b8a3e" text-anchor="middle">%s'
               '</text>' % (mid, escape(sub)))
    for x, name in zip(lx, lanes):
        svg.append('<rect x="%d" y="60" width="120" height="24" rx="4" fill="#f1f3f5" '
                   'stroke="#868e96"/>' % (x - 60))
        svg.append('<text x="%d" y="77" font-size="13" text-anchor="middle">%s</text>'
                   % (x, escape(name)))
        svg.append('<line x1="%d" y1="84" x2="%d" y2="%d" stroke="#adb5bd" '
                   'stroke-dasharray="4 3"/>' % (x, x, y_end))
    for i in range(len(lx) - 1):
        seg = 'LAN' if i == 0 or (i == len(lx) - 2 and len(lx) > 3) else 'WAN (linkem)'
        svg.append('<text x="%d" y="100" font-size="10" fill="#868e96" text-anchor="middle">'
                   '%s</text>' % ((lx[i] + lx[i + 1]) // 2, seg))
    for lane in sorted(set(h[0] for h in holds)):
        mine = [h for h in holds if h[0] == lane]
        x = lx[lane]
        for _l, a, b in mine:
            ya, yb = tm((a - t0) * 1000), tm((b - t0) * 1000)
            svg.append('<rect x="%d" y="%.1f" width="10" height="%.1f" fill="#a5d8ff" '
                       'stroke="#1864ab"/>' % (x - 5, ya, max(yb - ya, 2)))
        ya = tm((min(h[1] for h in mine) - t0) * 1000)
        yb = tm((max(h[2] for h in mine) - t0) * 1000)
        text = 'early data held in the box'
        if yb - ya > 6.2 * len(text):
            ym = (ya + yb) / 2
            svg.append('<text x="%d" y="%.1f" font-size="11" fill="#1864ab" text-anchor="middle" '
                       'transform="rotate(-90 %d %.1f)">%s</text>'
                       % (x - 10, ym, x - 10, ym, text))
    for label, t in marks:
        y = tm((t - t0) * 1000)
        svg.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#2b8a3e" '
                   'stroke-width="1.5"/>' % (x0 + 4, y, lx[0], y))
        svg.append('<text x="%d" y="%.1f" font-size="10.5" fill="#2b8a3e">%s</text>'
                   % (x0 + 4, y - 3, escape(label)))
        svg.append('<text x="%d" y="%.1f" font-size="10.5" fill="#2b8a3e" font-weight="bold">'
                   '%.1f ms</text>' % (x0 + 4, y + 10, (t - t0) * 1000))
    along = collections.Counter()
    last_label = {}  # (lanes) -> (y, below) of the last short arrow's label
    for ar in sorted(arrows, key=lambda ar: ar.ta):
        xa, xb = lx[ar.a], lx[ar.b]
        ya = tm((ar.ta - t0) * 1000)
        color = COLORS[ar.kind]
        if ar.tb is None:
            xb = (xa + xb) / 2
            yb = ya + 12
        else:
            yb = tm((ar.tb - t0) * 1000)
        svg.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" '
                   'stroke-width="%s" marker-end="url(#%s)"/>'
                   % (xa, ya, xb, yb, color, 1.8 if ar.kind != 'plain' else 1.2,
                      'x' if ar.tb is None else 'arrow-' + ar.kind))
        ang = math.degrees(math.atan2(yb - ya, xb - xa))
        if ang > 90:
            ang -= 180
        elif ang < -90:
            ang += 180
        # Labels of arrows between the same lanes at staggered places, so
        # that close parallel arrows do not print over each other.
        f = 0.5
        if ar.tb is not None and abs(yb - ya) > 25:
            f = (0.5, 0.3, 0.7)[along[(ar.a, ar.b)] % 3]
            along[(ar.a, ar.b)] += 1
        mx, my = xa + f * (xb - xa), ya + f * (yb - ya)
        # A short arrow right below another between the same lanes: its label
        # goes under the line, so that the two do not print over each other.
        dy = -3
        if abs(yb - ya) <= 25:
            key = (min(ar.a, ar.b), max(ar.a, ar.b))
            prev = last_label.get(key)
            below = prev is not None and my - prev[0] < 14 and not prev[1]
            last_label[key] = (my, below)
            if below:
                dy = 11
        svg.append('<text x="%.1f" y="%.1f" font-size="10.5" fill="%s" text-anchor="middle" '
                   'transform="rotate(%.2f %.1f %.1f)">%s</text>'
                   % (mx, my + dy, color, ang, mx, my, escape(ar.label)))


def parse_panel(spec):
    """TITLE PORT CLIENT_PCAP [NAME PCAP IFINDEX|-]... SERVER_PCAP"""
    if len(spec) < 4 or (len(spec) - 4) % 3:
        sys.exit('svg: --panel TITLE PORT CLIENT_PCAP [NAME PCAP IFINDEX]... SERVER_PCAP,'
                 ' not %r' % (spec,))
    title, port, client = spec[0], int(spec[1]), spec[2]
    middles = [spec[i:i + 3] for i in range(3, len(spec) - 1, 3)]
    return title, port, client, middles, spec[-1]


def cmd_svg(a):
    panels = []
    for spec in a.panel:
        title, port, client_p, middles, server_p = parse_panel(spec)
        lanes = [Lane('client', read_pcap(client_p, port, a.client_ip), 'end')]
        for name, path, ifidx in middles:
            lanes.append(Lane(name, read_pcap(path, port, a.client_ip),
                              'tap' if ifidx == '-' else int(ifidx)))
        lanes.append(Lane('server', read_pcap(server_p, port, a.client_ip), 'end'))
        # tshark names a request only where it first sees it in a capture (in
        # a box's own, the copy sent on is a "retransmission"): name every
        # copy of it alike.
        http = {(o.dir, o.seq, o.len): o.http for ln in lanes for o in ln.obs if o.http}
        lanes = [ln._replace(obs=[o._replace(http=http.get((o.dir, o.seq, o.len), ''))
                                  if o.len and not o.http else o for o in ln.obs])
                 for ln in lanes]
        for ln in lanes:
            if not ln.obs:
                sys.exit('svg: %s: no frames of port %d in the capture of the %s'
                         % (title, port, ln.name))
        arrows, holds = panel_arrows(lanes)
        syn = next(o for o in lanes[0].obs if o.dir == 'cs' and o.flags & SYN)
        marks = client_marks(lanes[0].obs)
        panels.append((title, [ln.name for ln in lanes], arrows, holds, marks, syn.t))
    times = [0.0]
    tmax = 0.0
    for _title, _names, arrows, holds, marks, t0 in panels:
        for ar in arrows:
            times.append((ar.ta - t0) * 1000)
            if ar.tb is not None:
                times.append((ar.tb - t0) * 1000)
        times += [(t - t0) * 1000 for _l, t in marks]
        tmax = max(tmax, max(times))
    top = 122
    tm = TimeMap(times, top, a.height / max(tmax, 1e-3), 15)
    y_end = tm(tmax) + 30
    widths = [panel_width(len(p[1])) for p in panels]
    width = sum(widths) + 60
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="DejaVu Sans, Verdana, sans-serif">' % (width, y_end + 70),
           '<rect width="100%" height="100%" fill="white"/>', '<defs>']
    for kind, color in COLORS.items():
        svg.append('<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" '
                   'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                   '<path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>' % (kind, color))
    svg.append('<marker id="x" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="9" '
               'markerHeight="9"><path d="M1,1 L9,9 M9,1 L1,9" stroke="#c92a2a" '
               'stroke-width="2"/></marker>')
    svg.append('</defs>')
    # Time axis: true times at round values, on the left.
    step = 10 ** math.floor(math.log10(max(tmax, 1) / 2))
    if tmax / step > 12:
        step *= 5 if tmax / step > 30 else 2
    svg.append('<text x="8" y="112" font-size="10" fill="#868e96">ms</text>')
    t = 0.0
    while t <= tmax + 1e-9:
        y = tm(t)
        svg.append('<text x="8" y="%.1f" font-size="10" fill="#868e96">%g</text>' % (y + 3, t))
        svg.append('<line x1="34" y1="%.1f" x2="%d" y2="%.1f" stroke="#f1f3f5"/>'
                   % (y, width - 10, y))
        t += step
    x0 = 40
    for (title, names, arrows, holds, marks, t0), w in zip(panels, widths):
        draw_panel(svg, x0, title, names, arrows, holds, marks, tm, t0, y_end)
        x0 += w
    ly = y_end + 22
    present = {ar.kind for p in panels for ar in p[2]} | {'plain'}
    x = 50
    for kind, text in [le for le in LEGEND if le[0] in present]:
        svg.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" '
                   'marker-end="url(#arrow-%s)"/>' % (x, ly, x + 30, ly, COLORS[kind], kind))
        svg.append('<text x="%d" y="%d" font-size="11">%s</text>' % (x + 36, ly + 4, text))
        x += 60 + 6.5 * len(text)
    svg.append('<text x="50" y="%d" font-size="10.5" fill="#868e96">Time runs down from the '
               'client\'s SYN; events closer than the eye can tell apart are spread out, '
               'the times on the left are true. %s</text>' % (ly + 26, escape(a.note or '')))
    svg.append('</svg>')
    with open(a.out, 'w') as f:
        f.write('\n'.join(svg) + '\n')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('fetch', help='GET with work between connect() and send()')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('path')
    c.add_argument('--work', type=float, default=0.0, help='ms of work after connect()')
    c.add_argument('--timeout', type=float, default=30.0)
    c.add_argument('-o', '--output', default=os.devnull)
    c = sub.add_parser('table', help='medians side by side')
    c.add_argument('results')
    c.add_argument('--rtt-ms', type=float, required=True)
    c.add_argument('--json')
    c = sub.add_parser('verdict', help='what the medians say')
    c.add_argument('summary')
    c.add_argument('--rtt-ms', type=float, required=True)
    c.add_argument('--work-ms', type=float, default=0.0)
    c = sub.add_parser('events', help='event log of one connection, from one or more daemons')
    c.add_argument('client', help='addr:port')
    c.add_argument('logs', nargs='+', metavar='NAME=LOG')
    c.add_argument('--raw', action='store_true')
    c = sub.add_parser('counters', help='non-zero counters, one daemon or several side by side')
    c.add_argument('files', nargs='+', metavar='NAME=STDERR')
    c.add_argument('--delta', action='store_true',
                   help='the last block minus the one before (a SIGUSR1 snapshot)')
    c = sub.add_parser('svg', help='sequence diagram from captures')
    c.add_argument('--out', required=True)
    c.add_argument('--client-ip', required=True)
    c.add_argument('--panel', nargs='+', action='append', required=True,
                   metavar='ARG',
                   help="TITLE PORT CLIENT_PCAP [NAME PCAP IFINDEX]... SERVER_PCAP: one lane"
                        " per NAME between the client and the server; IFINDEX is the box's"
                        " client-side ifindex in its own capture, '-' for a tap on a bridge")
    c.add_argument('--height', type=float, default=560.0)
    c.add_argument('--note')
    a = p.parse_args()
    {'fetch': cmd_fetch, 'table': cmd_table, 'verdict': cmd_verdict, 'events': cmd_events,
     'counters': cmd_counters, 'svg': cmd_svg}[a.cmd](a)


if __name__ == '__main__':
    main()
