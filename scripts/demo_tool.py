#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Helpers for scripts/demo.sh: an HTTP client that works between connect()
and its request, the results table, the event log of one connection, and
the sequence diagram (SVG) drawn from packet captures.

Every figure printed or drawn comes from the files given on the command
line; nothing here knows what the numbers should be.
"""

import argparse
import collections
import json
import math
import os
import socket
import statistics
import subprocess
import sys
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
# columns: box scenario size_bytes run connect_s ttfb_s total_s

MODES = ('bridge', 'clientnic')
MODE_NAME = {'bridge': 'bridge', 'clientnic': 'ClientNIC'}
METRICS = (('connect', 'TCP connect'), ('ttfb', 'first byte'), ('total', 'total'))


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
    return '%.2f' % v if v < 10 else '%.1f' % v


def cmd_table(a):
    order, rows = load_results(a.results)
    rtt = a.rtt_ms
    out = []
    w = out.append
    w('%-22s %-11s %10s %10s %11s' % ('request', 'measure', 'bridge', 'ClientNIC',
                                       'difference'))
    w('%-22s %-11s %10s %10s %11s' % ('', '', '(ms)', '(ms)', '(ms)'))
    summary = {}
    for key in order:
        scen, size = key
        label = 'GET ' + human_size(size)
        if scen.startswith('work:'):
            label += ', %s ms work' % scen[5:]
        n = {m: len(rows[key][m]) for m in MODES}
        for i, (mname, mlabel) in enumerate(METRICS):
            med = {}
            for m in MODES:
                vals = [r[i] * 1000.0 for r in rows[key][m]]
                med[m] = statistics.median(vals) if vals else float('nan')
            diff = med['clientnic'] - med['bridge']
            rtts = ' (%+.2f RTT)' % (diff / rtt) if rtt > 0 and abs(diff) >= 0.05 * rtt else ''
            w('%-22s %-11s %10s %10s %+11.2f%s' % (label if i == 0 else '', mlabel,
                                                   fmt_ms(med['bridge']),
                                                   fmt_ms(med['clientnic']), diff, rtts))
            summary['%s/%d/%s' % (scen, size, mname)] = {m: round(med[m], 3) for m in MODES}
        w('%-22s %-11s %10s %10s' % ('', 'runs', n['bridge'], n['clientnic']))
    text = '\n'.join(out)
    print(text)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(summary, f, indent=1, sort_keys=True)


def cmd_verdict(a):
    """A few sentences on what the medians say, worded from the numbers."""
    with open(a.summary) as f:
        s = json.load(f)
    rtt = a.rtt_ms

    def rel(d):
        if abs(d) < 0.1 * rtt:
            return 'about the same (%+.2f ms)' % d
        return '%.1f ms %s (%.2f RTT)' % (abs(d), 'less' if d < 0 else 'more', abs(d) / rtt)

    conn = [v for k, v in s.items() if k.startswith('curl/') and k.endswith('/connect')]
    fb = [v for k, v in s.items() if k.startswith('curl/') and k.endswith('/ttfb')]
    work = [v for k, v in s.items() if not k.startswith('curl/') and k.endswith('/ttfb')]
    med = statistics.median
    if conn:
        c_b = med([v['bridge'] for v in conn])
        c_n = med([v['clientnic'] for v in conn])
        print('- connect(): %.2f ms through the ClientNIC against %.1f ms through the bridge:'
              ' the handshake is answered on the LAN.' % (c_n, c_b))
    if fb:
        d = med([v['clientnic'] - v['bridge'] for v in fb])
        print('- first byte for curl, which sends its request as soon as connect() returns: %s.'
              % rel(d))
        print('  The request waits in the box until the real SYN-ACK is back, so it reaches the'
              ' server when it would have anyway.')
        if abs(d) >= 0.1 * rtt:
            print('  The rest of the difference is the box\'s own cost or noise (a busy machine);'
                  ' more --runs tell which.')
    if work:
        d = med([v['clientnic'] - v['bridge'] for v in work])
        print('- first byte for a client that works %.0f ms between connect() and its request'
              ' (building it, TLS keys, reading a file): %s:' % (a.work_ms, rel(d)))
        print('  that work now overlaps the handshake instead of following it.')


# ---- events: the daemon's text event log for one connection


def parse_kv(line):
    out = {}
    for word in line.split():
        k, sep, v = word.partition('=')
        if sep:
            out[k] = v
    return out


EVENT_TEXT = {
    'syn_spoofed': lambda e: 'client SYN: spoofed SYN-ACK sent back at once (ISN %s, mss %s,'
                             ' wscale %s), SYN forwarded to the server'
                             % (e.get('spoof_isn'), e.get('mss'), e.get('wscale')),
    'syn_respoofed': lambda e: 'client SYN again: the same spoofed SYN-ACK again',
    'syn_resent': lambda e: 'server silent: SYN sent again',
    'buffered': lambda e: 'early client frame held: %s frame(s), %s bytes so far'
                          % (e.get('frames'), e.get('bytes')),
    'synack_real': lambda e: 'real SYN-ACK absorbed (server ISN %s, delta %s): the round trip'
                             ' the client did not wait for is %s ms'
                             % (e.get('real_isn'), e.get('delta'), e.get('age_ms')),
    'flushed': lambda e: 'held frames sent to the server: %s frame(s), %s bytes'
                         % (e.get('frames'), e.get('bytes')),
    'refused': lambda e: 'server refused: client reset',
    'syn_timeout': lambda e: 'no SYN-ACK in time: client reset',
    'reset': lambda e: 'flow reset',
    'closed': lambda e: 'flow closed',
}


def cmd_events(a):
    want = 'client=%s' % a.client
    evs = []
    with open(a.log) as f:
        for line in f:
            if want + ' ' not in line + ' ':
                continue
            e = parse_kv(line)
            if 'ts' in e and 'event' in e:
                evs.append((float(e['ts']), e, line.rstrip('\n')))
    if not evs:
        sys.exit('events: no event for %s in %s' % (a.client, a.log))
    t0 = evs[0][0]
    for ts, e, raw in evs:
        text = EVENT_TEXT.get(e['event'], lambda _e: '')(e)
        print('  %+9.3f ms  %-13s %s' % ((ts - t0) * 1000.0, e['event'], text))
    if a.raw:
        print('  raw lines:')
        for _ts, _e, raw in evs:
            print('    ' + raw)


def cmd_counters(a):
    """The daemon's exit counters, the non-zero ones, two columns."""
    items = []
    seen = False
    with open(a.err) as f:
        for line in f:
            if line.startswith('clientnic: counters'):
                seen, items = True, []
                continue
            if not seen:
                continue
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if int(parts[1]) != 0:
                    items.append((parts[0], int(parts[1])))
            elif not line.startswith(' '):
                seen = False
    if not items:
        sys.exit('counters: none found in %s' % a.err)
    half = (len(items) + 1) // 2
    for i in range(half):
        left = '%-26s %10d' % items[i]
        right = '%-26s %10d' % items[i + half] if i + half < len(items) else ''
        print('  ' + left + '    ' + right)


# ---- svg: a sequence diagram of one connection, from captures


FIELDS = ['frame.time_epoch', 'ip.src', 'ipv6.src', 'tcp.srcport', 'tcp.dstport',
          'tcp.flags', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.len', 'sll.ifindex',
          'sll.pkttype', 'http.request.method', 'http.request.uri']

SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04

Obs = collections.namedtuple('Obs', 't dir seq ack flags len http where')


def read_pcap(path, port, client_ip):
    """Frames of the connection client_ip:port, as Obs with dir 'cs' (from
    the client) or 'sc'; where = (ifindex, outgoing) for SLL2 captures."""
    cmd = ['tshark', '-n', '-r', path, '-Y', 'tcp.port == %d' % port, '-T', 'fields',
           '-E', 'separator=\t', '-E', 'occurrence=f']
    for f in FIELDS:
        cmd += ['-e', f]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = []
    for line in res.stdout.splitlines():
        v = dict(zip(FIELDS, line.split('\t')))
        src = v['ip.src'] or v['ipv6.src']
        d = 'cs' if src == client_ip and v['tcp.srcport'] == str(port) else 'sc'
        http = ''
        if v['http.request.method']:
            http = '%s %s' % (v['http.request.method'], v['http.request.uri'])
        where = None
        if v['sll.ifindex']:
            where = (int(v['sll.ifindex']), v['sll.pkttype'] == '4')
        out.append(Obs(float(v['frame.time_epoch']), d, int(v['tcp.seq_raw']),
                       int(v['tcp.ack_raw']), int(v['tcp.flags'], 16), int(v['tcp.len'] or 0),
                       http, where))
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
        return 'SYN-ACK' if o.flags & ACK else 'SYN'
    name = 'FIN' if o.flags & FIN else ''
    if o.len:
        name = ('data %d B' % o.len) + (' + FIN' if name else '')
    return name or 'ACK'


Arrow = collections.namedtuple('Arrow', 'a ta b tb label kind')


def panel_arrows(client, middle, server, box_ifindex):
    """Arrows between lanes 0 (client), 1 (middle) and 2 (server).
    box_ifindex: the box's client-side ifindex for a daemon capture (SLL2),
    or None when the middle capture is a plain tap on the bridge's WAN port."""
    c_out = [o for o in client if o.dir == 'cs']
    c_in = [o for o in client if o.dir == 'sc']
    s_in = [o for o in server if o.dir == 'cs']
    s_out = [o for o in server if o.dir == 'sc']
    if box_ifindex is None:
        m_in_c = m_out_s = [o for o in middle if o.dir == 'cs']
        m_in_s = m_out_c = [o for o in middle if o.dir == 'sc']
    else:
        def pick(d, on_client, out):
            return [o for o in middle if o.dir == d and o.where
                    and (o.where[0] == box_ifindex) == on_client and o.where[1] == out]
        m_in_c, m_out_s = pick('cs', True, False), pick('cs', False, True)
        m_in_s, m_out_c = pick('sc', False, False), pick('sc', True, True)
    arrows, holds = [], []

    def hop(deps, arrs, a, b, keys, label_of):
        pairs = match(deps, arrs, keys)
        for i, d in enumerate(deps):
            lab, kind = label_of(d)
            if i in pairs:
                arrows.append(Arrow(a, d.t, b, arrs[pairs[i]].t, lab, kind))
            else:
                arrows.append(Arrow(a, d.t, b, None, lab + ' (lost)', 'lost'))

    plain = lambda o: (frame_label(o), 'plain')
    hop(c_out, m_in_c, 0, 1, K_EXACT, plain)
    hop(s_out, m_in_s, 2, 1, K_EXACT, plain)
    if box_ifindex is None:
        hop(m_out_s, s_in, 1, 2, K_EXACT, plain)
        hop(m_out_c, c_in, 1, 0, K_EXACT, plain)
        return arrows, holds

    inside_cs = match(m_in_c, m_out_s, K_CS_INSIDE, slack=0)
    held_of = {}
    for i, j in inside_cs.items():
        wait = m_out_s[j].t - m_in_c[i].t
        if wait > 0.001:
            held_of[j] = wait
            holds.append((m_in_c[i].t, m_out_s[j].t))
    inside_sc = match(m_in_s, m_out_c, K_SC_INSIDE, slack=0)
    made_here = set(range(len(m_out_c))) - set(inside_sc.values())
    for i, o in enumerate(m_in_s):
        if i not in inside_sc and o.flags & SYN:
            # The real SYN-ACK ends in the box: mark it on the last arrow.
            for k in range(len(arrows) - 1, -1, -1):
                ar = arrows[k]
                if ar.a == 2 and ar.tb is not None and abs(ar.tb - o.t) < 1e-9:
                    arrows[k] = ar._replace(label='SYN-ACK (real): absorbed', kind='real')

    def to_server(o):
        j = m_out_s.index(o)
        if j in held_of:
            return ('%s, held %.1f ms' % (frame_label(o), held_of[j] * 1000), 'flushed')
        return (frame_label(o), 'plain')

    def to_client(o):
        if m_out_c.index(o) in made_here:
            return (frame_label(o) + (' (spoofed)' if o.flags & SYN else ' (from box)'),
                    'spoofed')
        return (frame_label(o), 'plain')

    hop(m_out_s, s_in, 1, 2, K_EXACT, to_server)
    hop(m_out_c, c_in, 1, 0, K_EXACT, to_client)
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
        if data[-1].t - data[0].t > 0.0005:
            marks.append(('last byte', data[-1].t))
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


COLORS = {'plain': '#444444', 'spoofed': '#d9480f', 'flushed': '#1864ab', 'real': '#5f3dc4',
          'lost': '#c92a2a'}


def draw_panel(svg, x0, title, lanes, arrows, holds, marks, tm, t0, y_end):
    lx = [x0 + 70, x0 + 300, x0 + 530]
    svg.append('<text x="%d" y="28" font-size="17" font-weight="bold" text-anchor="middle">%s'
               '</text>' % (lx[1], escape(title)))
    sub = ' \u00b7 '.join('%s %.1f ms' % (label.replace(' returns', ''), (t - t0) * 1000)
                           for label, t in marks)
    svg.append('<text x="%d" y="47" font-size="12.5" fill="#2b8a3e" text-anchor="middle">%s'
               '</text>' % (lx[1], escape(sub)))
    for x, name in zip(lx, lanes):
        svg.append('<rect x="%d" y="60" width="120" height="24" rx="4" fill="#f1f3f5" '
                   'stroke="#868e96"/>' % (x - 60))
        svg.append('<text x="%d" y="77" font-size="13" text-anchor="middle">%s</text>'
                   % (x, escape(name)))
        svg.append('<line x1="%d" y1="84" x2="%d" y2="%d" stroke="#adb5bd" '
                   'stroke-dasharray="4 3"/>' % (x, x, y_end))
    svg.append('<text x="%d" y="100" font-size="10" fill="#868e96" text-anchor="middle">'
               'LAN</text>' % ((lx[0] + lx[1]) // 2))
    svg.append('<text x="%d" y="100" font-size="10" fill="#868e96" text-anchor="middle">'
               'WAN (linkem)</text>' % ((lx[1] + lx[2]) // 2))
    for a, b in holds:
        ya, yb = tm((a - t0) * 1000), tm((b - t0) * 1000)
        svg.append('<rect x="%d" y="%.1f" width="10" height="%.1f" fill="#a5d8ff" '
                   'stroke="#1864ab"/>' % (lx[1] - 5, ya, max(yb - ya, 2)))
    if holds:
        a = min(h[0] for h in holds)
        b = max(h[1] for h in holds)
        ym = (tm((a - t0) * 1000) + tm((b - t0) * 1000)) / 2
        svg.append('<text x="%d" y="%.1f" font-size="11" fill="#1864ab" text-anchor="end" '
                   'transform="rotate(-90 %d %.1f)">early data buffered in the box</text>'
                   % (lx[1] - 10, ym, lx[1] - 10, ym))
    for label, t in marks:
        y = tm((t - t0) * 1000)
        svg.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#2b8a3e" '
                   'stroke-width="1.5"/>' % (x0 + 4, y, lx[0], y))
        svg.append('<text x="%d" y="%.1f" font-size="10.5" fill="#2b8a3e">%s</text>'
                   % (x0 + 4, y - 3, escape(label)))
        svg.append('<text x="%d" y="%.1f" font-size="10.5" fill="#2b8a3e" font-weight="bold">'
                   '%.1f ms</text>' % (x0 + 4, y + 10, (t - t0) * 1000))
    along = collections.Counter()
    for ar in arrows:
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
        svg.append('<text x="%.1f" y="%.1f" font-size="10.5" fill="%s" text-anchor="middle" '
                   'transform="rotate(%.2f %.1f %.1f)">%s</text>'
                   % (mx, my - 3, color, ang, mx, my, escape(ar.label)))


def cmd_svg(a):
    panels = []
    for spec in a.panel:
        title, client_p, middle_p, server_p, port, ifidx = spec
        port = int(port)
        client = read_pcap(client_p, port, a.client_ip)
        middle = read_pcap(middle_p, port, a.client_ip)
        server = read_pcap(server_p, port, a.client_ip)
        if not client or not server or not middle:
            sys.exit('svg: %s: no frames of port %d in one of the captures' % (title, port))
        box = None if ifidx == '-' else int(ifidx)
        arrows, holds = panel_arrows(client, middle, server, box)
        syn = next(o for o in client if o.dir == 'cs' and o.flags & SYN)
        marks = client_marks(client)
        panels.append((title, box, arrows, holds, marks, syn.t))
    times = [0.0]
    tmax = 0.0
    for _title, _box, arrows, holds, marks, t0 in panels:
        for ar in arrows:
            times.append((ar.ta - t0) * 1000)
            if ar.tb is not None:
                times.append((ar.tb - t0) * 1000)
        times += [(t - t0) * 1000 for _l, t in marks]
        tmax = max(tmax, max(times))
    top = 122
    tm = TimeMap(times, top, a.height / max(tmax, 1e-3), 15)
    y_end = tm(tmax) + 30
    width = 640 * len(panels) + 60
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
    for i, (title, box, arrows, holds, marks, t0) in enumerate(panels):
        mid = 'ClientNIC' if box is not None else 'kernel bridge'
        draw_panel(svg, 40 + 640 * i, title, ('client', mid, 'server'), arrows, holds,
                   marks, tm, t0, y_end)
    ly = y_end + 22
    legend = [('plain', 'frame on the wire'), ('spoofed', 'made by the box'),
              ('flushed', 'held in the box, then sent'), ('real', 'real SYN-ACK, absorbed'),
              ('lost', 'lost on the WAN')]
    present = {ar.kind for p in panels for ar in p[2]} | {'plain'}
    x = 50
    for kind, text in [le for le in legend if le[0] in present]:
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
    c = sub.add_parser('events', help='event log of one connection')
    c.add_argument('log')
    c.add_argument('client', help='addr:port')
    c.add_argument('--raw', action='store_true')
    c = sub.add_parser('counters', help='non-zero exit counters')
    c.add_argument('err')
    c = sub.add_parser('svg', help='sequence diagram from captures')
    c.add_argument('--out', required=True)
    c.add_argument('--client-ip', required=True)
    c.add_argument('--panel', nargs=6, action='append', required=True,
                   metavar=('TITLE', 'CLIENT_PCAP', 'MIDDLE_PCAP', 'SERVER_PCAP', 'PORT',
                            'BOX_CLIENT_IFINDEX'),
                   help="BOX_CLIENT_IFINDEX: '-' for a tap on the bridge")
    c.add_argument('--height', type=float, default=560.0)
    c.add_argument('--note')
    a = p.parse_args()
    {'fetch': cmd_fetch, 'table': cmd_table, 'verdict': cmd_verdict, 'events': cmd_events,
     'counters': cmd_counters, 'svg': cmd_svg}[a.cmd](a)


if __name__ == '__main__':
    main()
