#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Servers, clients and a frame injector for the end-to-end tests.

Each subcommand prints its figures as `key=value` words on one line so that
the shell can pick them up; it exits non-zero on any mismatch.
"""

import argparse
import asyncio
import hashlib
import http.server
import os
import random
import socket
import struct
import sys
import time


def now_ms():
    return time.monotonic() * 1000.0


def family_of(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def dual_stack_socket(kind):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    return s


# ---- HTTP: GET serves files from a folder, PUT stores the body and answers
# with its sha256.

class HttpHandler(http.server.BaseHTTPRequestHandler):
    root = '.'

    def _path(self):
        name = os.path.basename(self.path.split('?')[0])
        return os.path.join(self.root, name) if name else None

    def do_GET(self):
        path = self._path()
        if not path or not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(size))
        self.end_headers()
        with open(path, 'rb') as f:
            while True:
                chunk = f.read(1 << 16)
                if not chunk:
                    break
                self.wfile.write(chunk)

    def do_PUT(self):
        path = self._path()
        length = int(self.headers.get('Content-Length', '0'))
        h = hashlib.sha256()
        got = 0
        with open(path + '.part', 'wb') as f:
            while got < length:
                chunk = self.rfile.read(min(1 << 16, length - got))
                if not chunk:
                    break
                f.write(chunk)
                h.update(chunk)
                got += len(chunk)
        os.rename(path + '.part', path)
        body = (h.hexdigest() + '\n').encode()
        self.send_response(201 if got == length else 400)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write('http: ' + (fmt % args) + '\n')


class DualStackHTTPServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    request_queue_size = 256

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def cmd_http_server(a):
    HttpHandler.root = a.dir
    srv = DualStackHTTPServer(('::', a.port), HttpHandler)
    srv.serve_forever()


# ---- TCP echo

async def echo_conn(reader, writer):
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def cmd_echo_server(a):
    async def main():
        sock = dual_stack_socket(socket.SOCK_STREAM)
        sock.bind(('::', a.port))
        srv = await asyncio.start_server(echo_conn, sock=sock, backlog=1024)
        async with srv:
            await srv.serve_forever()
    asyncio.run(main())


async def echo_one(host, port, size, rnd, timeout, pace=0.0):
    data = rnd.randbytes(size)
    t0 = now_ms()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port), timeout)
    t1 = now_ms()

    async def send():
        for i in range(0, size, 1 << 14):
            writer.write(data[i:i + (1 << 14)])
            await writer.drain()
            if pace:
                await asyncio.sleep(pace)
        writer.write_eof()

    sender = asyncio.ensure_future(send())
    got = await asyncio.wait_for(reader.read(-1), timeout)
    await sender
    writer.close()
    return got == data, t1 - t0, len(got)


def cmd_echo_clients(a):
    rnd = random.Random(a.seed)

    async def main():
        tasks = [echo_one(a.host, a.port, a.size, random.Random(rnd.random()),
                          a.timeout, a.pace_ms / 1000.0) for _ in range(a.count)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    t0 = now_ms()
    res = asyncio.run(main())
    elapsed = now_ms() - t0
    ok = sum(1 for r in res if not isinstance(r, BaseException) and r[0])
    errors = [r for r in res if isinstance(r, BaseException)]
    bad = [r for r in res if not isinstance(r, BaseException) and not r[0]]
    conn = sorted(r[1] for r in res if not isinstance(r, BaseException))
    for e in errors[:5]:
        print('error: %r' % (e,), file=sys.stderr)
    for r in bad[:5]:
        print('mismatch: got %d bytes of %d' % (r[2], a.size), file=sys.stderr)
    med = conn[len(conn) // 2] if conn else -1
    resets = sum(1 for e in errors
                 if isinstance(e, (ConnectionResetError, ConnectionRefusedError)))
    print('ok=%d errors=%d resets=%d mismatched=%d elapsed_ms=%.0f connect_median_ms=%.2f '
          'bytes=%d' % (ok, len(errors), resets, len(bad), elapsed, med, ok * a.size * 2))
    sys.exit(0 if ok == a.count else 1)


# ---- soak: many echo connections of mixed sizes, a bounded number at once

def soak_sizes(rnd, count, max_size, zero_share=0.05):
    """Sizes from 0 to max_size: a share of empty connections, the rest
    log-uniform (as many of 1-10 B as of 100k-1M), the first two 0 and
    max_size so that both ends are always in."""
    import math
    sizes = []
    for i in range(count):
        if i == 0 or max_size == 0:
            sizes.append(0)
        elif i == 1:
            sizes.append(max_size)
        elif rnd.random() < zero_share:
            sizes.append(0)
        else:
            sizes.append(min(max_size, int(math.exp(rnd.uniform(0, math.log(max_size + 1))))))
    rnd.shuffle(sizes)
    return sizes


def pct(sorted_vals, p):
    if not sorted_vals:
        return -1.0
    return sorted_vals[min(len(sorted_vals) - 1, int(p / 100.0 * (len(sorted_vals) - 1) + 0.5))]


async def soak_one(host, port, size, seed, st):
    """One echo connection; st records how far it got, for a hung one."""
    data = random.Random(seed).randbytes(size)
    t0 = now_ms()
    st['stage'] = 'connect'
    reader, writer = await asyncio.open_connection(host, port)
    st['connect_ms'] = now_ms() - t0
    st['stage'] = 'transfer'

    async def send():
        for i in range(0, size, 1 << 14):
            writer.write(data[i:i + (1 << 14)])
            await writer.drain()
        writer.write_eof()
        st['sent'] = True

    sender = asyncio.ensure_future(send())
    try:
        got = 0
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                break
            if st['bad_at'] is None and chunk != data[got:got + len(chunk)]:
                st['bad_at'] = got
            got += len(chunk)
            st['got'] = got
        await sender
    finally:
        if not sender.done():
            sender.cancel()
        writer.close()
    st['done_ms'] = now_ms() - t0
    st['stage'] = 'done'
    return got == size and st['bad_at'] is None


def cmd_echo_soak(a):
    """COUNT echo connections, CONCURRENCY at a time, of mixed sizes from 0
    to MAX_SIZE bytes (random bytes from SEED, so two runs with one seed
    send the same). Each is ok (every byte back, in order), bad (the bytes
    back differ from those sent: wrong, short or long), hung (not done
    within TIMEOUT s) or an error (reset, refused, ...). Prints the counts
    and the connect() and whole-connection time percentiles of the ok ones;
    exits 0 only when all are ok."""
    rnd = random.Random(a.seed)
    sizes = soak_sizes(rnd, a.count, a.max_size)
    seeds = [rnd.getrandbits(64) for _ in sizes]
    states = [{'stage': 'queued', 'got': 0, 'sent': False, 'bad_at': None,
               'connect_ms': None, 'done_ms': None} for _ in sizes]
    outcome = [None] * a.count

    async def main():
        sem = asyncio.Semaphore(a.concurrency)

        async def one(i):
            async with sem:
                try:
                    ok = await asyncio.wait_for(
                        soak_one(a.host, a.port, sizes[i], seeds[i], states[i]), a.timeout)
                    outcome[i] = 'ok' if ok else 'bad'
                except asyncio.TimeoutError:
                    outcome[i] = 'hung'
                except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError) as e:
                    outcome[i] = 'reset'
                    states[i]['error'] = repr(e)
                except OSError as e:
                    outcome[i] = 'error'
                    states[i]['error'] = repr(e)
        await asyncio.gather(*(one(i) for i in range(a.count)))

    t0 = now_ms()
    asyncio.run(main())
    elapsed = now_ms() - t0
    n = {k: outcome.count(k) for k in ('ok', 'bad', 'hung', 'reset', 'error')}
    shown = 0
    for i, (o, st) in enumerate(zip(outcome, states)):
        if o == 'ok' or shown >= 10:
            continue
        shown += 1
        print('%s: connection %d, %d B: stage %s, got %d B, sent all %s, first wrong byte %s%s' %
              (o, i, sizes[i], st['stage'], st['got'], st['sent'], st['bad_at'],
               ', ' + st['error'] if 'error' in st else ''), file=sys.stderr)
    ok_i = [i for i in range(a.count) if outcome[i] == 'ok']
    conn = sorted(states[i]['connect_ms'] for i in ok_i)
    done = sorted(states[i]['done_ms'] for i in ok_i)
    print('count=%d ok=%d bad=%d hung=%d resets=%d errors=%d elapsed_ms=%.0f '
          'connect_p50_ms=%.2f connect_p99_ms=%.2f connect_max_ms=%.2f '
          'done_p50_ms=%.2f done_p99_ms=%.2f done_max_ms=%.2f bytes=%d max_size=%d' %
          (a.count, n['ok'], n['bad'], n['hung'], n['reset'], n['error'], elapsed,
           pct(conn, 50), pct(conn, 99), pct(conn, 100),
           pct(done, 50), pct(done, 99), pct(done, 100),
           sum(sizes[i] for i in ok_i) * 2, max(sizes) if sizes else 0))
    sys.exit(0 if n['ok'] == a.count else 1)


# ---- a client that keeps connecting (e.g. while a flood runs)

def connect_loop_one(a, rnd, end, res, lock):
    while time.monotonic() < end:
        data = rnd.randbytes(a.size)
        s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        deadline = time.monotonic() + a.timeout
        t0 = now_ms()
        outcome, t_conn, t_done = 'ok', None, None
        try:
            s.connect((a.host, a.port))
            t_conn = now_ms() - t0
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            buf = b''
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout()
                s.settimeout(left)
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
            t_done = now_ms() - t0
            if buf != data:
                outcome = 'bad'
        except socket.timeout:
            outcome = 'timeout'
        except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
            outcome = 'reset'
        except OSError as e:
            outcome = 'error'
            print('error: %r' % (e,), file=sys.stderr)
        finally:
            s.close()
        with lock:
            res[outcome] += 1
            if outcome == 'ok':
                res['conn'].append(t_conn)
                res['done'].append(t_done)
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000.0)


def cmd_connect_loop(a):
    """For SECONDS, PARALLEL clients each make one connection after another
    (INTERVAL ms apart): connect, send SIZE bytes, half-close, read the echo
    to EOF. Each is ok (echo exact within TIMEOUT s), a timeout, a reset,
    bad (other bytes) or an error. Prints counts, the success rate and
    percentiles of connect() and of the whole exchange over the ok ones."""
    import threading
    rnd = random.Random(a.seed)
    end = time.monotonic() + a.seconds
    res = {'ok': 0, 'timeout': 0, 'reset': 0, 'bad': 0, 'error': 0, 'conn': [], 'done': []}
    lock = threading.Lock()
    threads = [threading.Thread(target=connect_loop_one,
                                args=(a, random.Random(rnd.random()), end, res, lock))
               for _ in range(a.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn, done = sorted(res['conn']), sorted(res['done'])
    tries = sum(res[k] for k in ('ok', 'timeout', 'reset', 'bad', 'error'))
    print('tries=%d ok=%d timeouts=%d resets=%d bad=%d errors=%d success_pct=%.2f '
          'connect_p50_ms=%.2f connect_p99_ms=%.2f done_p50_ms=%.2f done_p99_ms=%.2f' %
          (tries, res['ok'], res['timeout'], res['reset'], res['bad'], res['error'],
           100.0 * res['ok'] / tries if tries else 0.0,
           pct(conn, 50), pct(conn, 99), pct(done, 50), pct(done, 99)))


# ---- timing of connect() and of a request on the new connection

def cmd_connect_time(a):
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    t0 = now_ms()
    s.connect((a.host, a.port))
    t_conn = now_ms() - t0
    req = ('GET /%s HTTP/1.0\r\nHost: e2e\r\n\r\n' % a.path).encode()
    s.sendall(req)
    buf = b''
    t_first = None
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        if t_first is None:
            t_first = now_ms() - t0
        buf += chunk
    t_done = now_ms() - t0
    s.close()
    head, _, body = buf.partition(b'\r\n\r\n')
    status = head.split(b'\r\n', 1)[0].decode(errors='replace')
    digest = hashlib.sha256(body).hexdigest()
    print('connect_ms=%.2f first_byte_ms=%.2f done_ms=%.2f status="%s" bytes=%d '
          'sha256=%s' % (t_conn, t_first or -1, t_done, status, len(body), digest))
    sys.exit(0 if ' 200 ' in status + ' ' else 1)


def reuse_connect(a):
    # The previous round's socket may still wait for the last ACK of its
    # FIN (LAST_ACK) for a moment: the 4-tuple is busy until then.
    deadline = time.monotonic() + 2
    while True:
        s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(a.timeout)
        try:
            s.bind(('', a.sport))
            s.connect((a.host, a.port))
            return s
        except OSError as e:
            s.close()
            if e.errno not in (98, 99) or time.monotonic() > deadline:
                raise
            time.sleep(0.002)


def cmd_port_reuse(a):
    """GET a file over and over from one fixed client port: the server closes
    first (HTTP/1.0), or the client aborts with an RST every other time, so
    each new SYN lands on a 4-tuple the box saw closing a moment ago."""
    want = open(a.expect, 'rb').read()
    ok = 0
    for i in range(a.count):
        t0 = now_ms()
        try:
            s = reuse_connect(a)
            s.sendall(('GET /%s HTTP/1.0\r\n\r\n' % a.path).encode())
            buf = b''
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
            body = buf.partition(b'\r\n\r\n')[2]
            good = body == want
        except OSError as e:
            print('round %d: %r' % (i, e), file=sys.stderr)
            good = False
        if good and i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        if good:
            s.close()
        ok += good
        print('round %d: %s in %.1f ms' % (i, 'ok' if good else 'BAD', now_ms() - t0),
              file=sys.stderr)
    print('ok=%d count=%d' % (ok, a.count))
    sys.exit(0 if ok == a.count else 1)


def cmd_reset_time(a):
    """Connect, send a request and wait: report how the connection ended
    (refused, reset, closed, timeout) and after how long."""
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    t0 = now_ms()
    outcome = 'ok'
    t_conn = -1
    try:
        s.connect((a.host, a.port))
        t_conn = now_ms() - t0
        s.sendall(b'hello\n')
        data = s.recv(100)
        outcome = 'closed' if not data else 'data'
    except ConnectionRefusedError:
        outcome = 'refused'
    except ConnectionResetError:
        outcome = 'reset'
    except BrokenPipeError:
        outcome = 'reset'
    except socket.timeout:
        outcome = 'timeout'
    except OSError as e:
        outcome = 'error-%d' % e.errno
    t_end = now_ms() - t0
    s.close()
    print('outcome=%s connect_ms=%.2f end_ms=%.2f' % (outcome, t_conn, t_end))


# ---- UDP echo

def cmd_udp_echo_server(a):
    s = dual_stack_socket(socket.SOCK_DGRAM)
    s.bind(('::', a.port))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def cmd_udp_exchange(a):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    s.settimeout(0.5)
    rnd = random.Random(a.seed)
    ok = 0
    for i in range(a.count):
        msg = struct.pack('!I', i) + rnd.randbytes(a.size)
        for _ in range(5):  # UDP: tolerate the first datagram waiting for ARP/ND
            s.sendto(msg, (a.host, a.port))
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                continue
            if data == msg:
                ok += 1
                break
    print('ok=%d count=%d' % (ok, a.count))
    sys.exit(0 if ok == a.count else 1)


# ---- checking a capture taken at the server

def serial_le(a, b):
    return ((b - a) & 0xffffffff) < 0x80000000


def cmd_check_pcap(a):
    """Every client segment that reaches the server must live in the server's
    real sequence space: its ACK and SACK edges inside what the server sent,
    its TSecr an echo of a TSval the server sent. A wrong translation in the
    box puts them in the spoofed space, off by a random 32-bit delta."""
    import subprocess
    fields = ['tcp.stream', 'tcp.srcport', 'tcp.flags.syn', 'tcp.flags.ack',
              'tcp.flags.reset', 'tcp.seq', 'tcp.ack', 'tcp.len',
              'tcp.options.sack_le', 'tcp.options.sack_re',
              'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr']
    cmd = ['tshark', '-n', '-r', a.pcap, '-o', 'tcp.relative_sequence_numbers:FALSE',
           '-o', 'tcp.analyze_sequence_numbers:TRUE', '-T', 'fields', '-E', 'occurrence=a',
           '-E', 'aggregator=,', '-Y', 'tcp.port == %d' % a.port]
    for f in fields:
        cmd += ['-e', f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [dict(zip(fields, line.split('\t'))) for line in out.splitlines()]
    streams = {}
    for r in rows:
        st = streams.setdefault(r['tcp.stream'], {'isn': None, 'end': None, 'tsvals': set()})
        if int(r['tcp.srcport']) != a.port:
            continue
        seq = int(r['tcp.seq'])
        if r['tcp.flags.syn'] == '1':
            st['isn'] = seq
        end = (seq + int(r['tcp.len'] or 0) + (1 if r['tcp.flags.syn'] == '1' else 0)) & 0xffffffff
        if st['end'] is None or serial_le(st['end'], end):
            st['end'] = end
        if r['tcp.options.timestamp.tsval']:
            st['tsvals'].add(int(r['tcp.options.timestamp.tsval']))
    acks = sacks = tsecrs = 0
    bad = []
    for r in rows:
        if int(r['tcp.srcport']) == a.port or r['tcp.flags.ack'] != '1' or r['tcp.flags.reset'] == '1':
            continue
        st = streams[r['tcp.stream']]
        if st['isn'] is None:
            continue
        lo, hi = (st['isn'] + 1) & 0xffffffff, st['end']
        inside = lambda v: serial_le(lo, v) and serial_le(v, hi)
        ack = int(r['tcp.ack'])
        acks += 1
        if not inside(ack):
            bad.append('stream %s: ack %d outside [%d, %d]' % (r['tcp.stream'], ack, lo, hi))
        if r['tcp.options.sack_le']:
            les = r['tcp.options.sack_le'].split(',')
            res = r['tcp.options.sack_re'].split(',')
            for le, re_ in zip(les, res):
                sacks += 1
                if not (inside(int(le)) and inside(int(re_))):
                    bad.append('stream %s: SACK %s-%s outside [%d, %d]' % (r['tcp.stream'], le, re_, lo, hi))
        ecr = r['tcp.options.timestamp.tsecr']
        if ecr and st['tsvals']:
            tsecrs += 1
            if int(ecr) not in st['tsvals']:
                bad.append('stream %s: TSecr %s never sent by the server' % (r['tcp.stream'], ecr))
    for b in bad[:10]:
        print('bad: ' + b, file=sys.stderr)
    print('streams=%d acks=%d sack_blocks=%d tsecrs=%d bad=%d' %
          (len(streams), acks, sacks, tsecrs, len(bad)))
    sys.exit(1 if bad else 0)


# ---- malformed frames

ETH_P_ALL = 0x0003


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def mac(s):
    return bytes(int(x, 16) for x in s.split(':'))


class Frames:
    """Builds valid frames to be broken on purpose."""

    def __init__(self, src_mac, dst_mac, src4, dst4, src6, dst6):
        self.eth = mac(dst_mac) + mac(src_mac)
        self.src4 = socket.inet_aton(src4)
        self.dst4 = socket.inet_aton(dst4)
        self.src6 = socket.inet_pton(socket.AF_INET6, src6)
        self.dst6 = socket.inet_pton(socket.AF_INET6, dst6)

    def tcp(self, sport, dport, seq, ack, flags, opts=b'', payload=b'',
            doff=None, pseudo=None):
        hlen = 20 + len(opts)
        if doff is None:
            doff = hlen // 4
        hdr = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, (doff & 0xf) << 4,
                          flags, 65535, 0, 0) + opts
        seg = hdr + payload
        if pseudo is not None:
            c = csum(pseudo + seg)
            seg = seg[:16] + struct.pack('!H', c) + seg[18:]
        return seg

    def ip4(self, proto, payload, ihl=5, tot=None, frag=0, opts=b''):
        tot = 20 + len(opts) + len(payload) if tot is None else tot
        hdr = struct.pack('!BBHHHBBH4s4s', 0x40 | (ihl & 0xf), 0, tot & 0xffff,
                          0x1234, frag, 64, proto, 0, self.src4, self.dst4) + opts
        c = csum(hdr)
        hdr = hdr[:10] + struct.pack('!H', c) + hdr[12:]
        return hdr + payload

    def ip6(self, nh, payload, plen=None):
        plen = len(payload) if plen is None else plen
        return struct.pack('!IHBB16s16s', 0x60000000, plen & 0xffff, nh, 64,
                           self.src6, self.dst6) + payload

    def tcp4(self, *a, **k):
        seg = self.tcp(*a, **k)
        ph = self.src4 + self.dst4 + struct.pack('!BBH', 0, 6, len(seg))
        seg = self.tcp(*a, pseudo=ph, **k)
        return self.ip4(6, seg)

    def tcp6(self, *a, **k):
        seg = self.tcp(*a, **k)
        ph = self.src6 + self.dst6 + struct.pack('!IxxxB', len(seg), 6)
        seg = self.tcp(*a, pseudo=ph, **k)
        return self.ip6(6, seg)

    def frame(self, ethertype, payload):
        return self.eth + struct.pack('!H', ethertype) + payload


SYN, RST, ACK, FIN, PSH, URG = 0x02, 0x04, 0x10, 0x01, 0x08, 0x20

BAD_OPTIONS = [
    b'\x02\x00\x05\xb4',            # MSS, length 0
    b'\x02\x01\x05\xb4',            # MSS, length 1
    b'\x02\x28' + b'\0' * 2,        # MSS, length 40: past the header
    b'\x02\x03\x05\x00',            # MSS, length 3
    b'\x03\x00\x07\x00',            # window scale, length 0
    b'\x03\x02\x0e\x00',            # window scale, length 2
    b'\x03\x03\xff\x00',            # window scale 255
    b'\x04\x00\x00\x00',            # SACK-permitted, length 0
    b'\x04\x01\x00\x00',            # SACK-permitted, length 1
    b'\x08\x0a' + b'\x01' * 6,      # timestamps, cut short
    b'\x08\xff' + b'\x01' * 10,     # timestamps, length 255
    b'\x05\x03' + b'\0' * 2,        # SACK, length 3
    b'\x05\x0b' + b'\0' * 10,       # SACK, length 11
    b'\x05\x22' + b'\0' * 34,       # SACK, length 34, 4 blocks + 2
    b'\x05\xff' + b'\0' * 2,        # SACK, length 255
    b'\xfe\x00\x00\x00',            # experimental, length 0
    b'\xfe\x01\x00\x00',            # experimental, length 1
    b'\x01' * 40,                   # 40 NOPs
    b'\x00' * 4,                    # EOL then garbage
    b'\x01\x01\x01',                # 3 NOPs, header not a multiple of 4
    b'\x02',                        # a kind with no length byte
]


def malformed_frames(fb, side, rnd):
    """(name, frame) pairs. side 'client' sends towards the server."""
    out = []
    cp, sp = 40000 + rnd.randrange(1000), 9  # discard port: nothing listens
    isn = rnd.getrandbits(32)
    syn_opts = b'\x02\x04\x05\xb4\x04\x02\x08\x0a' + b'\0' * 8 + b'\x01\x03\x03\x07'
    if side == 'client':
        base4 = fb.tcp4(cp, sp, isn, 0, SYN, opts=syn_opts)
        base6 = fb.tcp6(cp, sp, isn, 0, SYN, opts=syn_opts)
    else:
        base4 = fb.tcp4(sp, cp, isn, rnd.getrandbits(32), SYN | ACK, opts=syn_opts)
        base6 = fb.tcp6(sp, cp, isn, rnd.getrandbits(32), SYN | ACK, opts=syn_opts)

    # Runts and cut headers.
    for n in (0, 1, 10, 19):
        out.append(('ipv4 cut to %d' % n, fb.frame(0x0800, base4[:n])))
    for n in (0, 1, 20, 39, 41):
        out.append(('ipv6 cut to %d' % n, fb.frame(0x86dd, base6[:n])))
    out.append(('ipv4 tcp cut to 10', fb.frame(0x0800, fb.ip4(6, base4[20:30]))))
    out.append(('ipv6 tcp cut to 10', fb.frame(0x86dd, fb.ip6(6, base6[40:50]))))
    # Bad IHL and total lengths.
    seg4 = base4[20:]
    for ihl in (0, 1, 4, 6, 15):
        out.append(('ihl %d' % ihl, fb.frame(0x0800, fb.ip4(6, seg4, ihl=ihl))))
    for tot in (0, 19, 20, 25, len(base4) + 1, 1500, 65535):
        out.append(('ipv4 total %d' % tot, fb.frame(0x0800, fb.ip4(6, seg4, tot=tot))))
    for plen in (0, 5, 19, len(base6) - 40 + 1, 65535):
        out.append(('ipv6 payload %d' % plen, fb.frame(0x86dd, fb.ip6(6, base6[40:], plen=plen))))
    out.append(('ipv4 version 6', fb.frame(0x0800, b'\x65' + base4[1:])))
    out.append(('ipv6 version 4', fb.frame(0x86dd, b'\x40' + base6[1:])))
    # Fragments and extension headers.
    out.append(('ipv4 first fragment', fb.frame(0x0800, fb.ip4(6, seg4, frag=0x2000))))
    out.append(('ipv4 later fragment', fb.frame(0x0800, fb.ip4(6, seg4, frag=0x0003))))
    out.append(('ipv6 hop-by-hop past the end',
                fb.frame(0x86dd, fb.ip6(0, bytes([6, 200]) + b'\0' * 6 + base6[40:]))))
    out.append(('ipv6 fragment header', fb.frame(0x86dd, fb.ip6(44, bytes([6, 0, 0, 1]) + b'\0' * 4 + base6[40:]))))
    out.append(('ipv6 routing loop', fb.frame(0x86dd, fb.ip6(43, bytes([43, 0]) + b'\0' * 6))))
    # TCP data offset.
    for doff in (0, 4, 15):
        if side == 'client':
            f4 = fb.tcp4(cp, sp, isn, 0, SYN, opts=syn_opts, doff=doff)
            f6 = fb.tcp6(cp, sp, isn, 0, SYN, opts=syn_opts, doff=doff)
        else:
            f4 = fb.tcp4(sp, cp, isn, 1, SYN | ACK, opts=syn_opts, doff=doff)
            f6 = fb.tcp6(sp, cp, isn, 1, SYN | ACK, opts=syn_opts, doff=doff)
        out.append(('doff %d v4' % doff, fb.frame(0x0800, f4)))
        out.append(('doff %d v6' % doff, fb.frame(0x86dd, f6)))
    # TCP options: on SYNs, SYN-ACKs and ACKs, v4 and v6.
    for i, o in enumerate(BAD_OPTIONS):
        pad = o + b'\0' * (-len(o) % 4)
        pad = pad[:40]
        p = cp + 1 + i
        for flags in (SYN, SYN | ACK, ACK, ACK | PSH):
            sport, dport = (p, sp) if side == 'client' else (sp, p)
            out.append(('option %s flags %#x v4' % (o[:2].hex(), flags),
                        fb.frame(0x0800, fb.tcp4(sport, dport, isn, 1, flags, opts=pad,
                                                 payload=b'x' if flags & PSH else b''))))
            out.append(('option %s flags %#x v6' % (o[:2].hex(), flags),
                        fb.frame(0x86dd, fb.tcp6(sport, dport, isn, 1, flags, opts=pad))))
    # Flag soup, bad checksum, SYN with data.
    for flags in (0, 0xff, SYN | FIN, SYN | RST, SYN | RST | ACK, FIN | URG | PSH, RST):
        sport, dport = (cp, sp) if side == 'client' else (sp, cp)
        out.append(('flags %#x' % flags, fb.frame(0x0800, fb.tcp4(sport, dport, isn, 1, flags))))
    bad = bytearray(base4)
    bad[36] ^= 0xff
    out.append(('bad tcp checksum', fb.frame(0x0800, bytes(bad))))
    bad = bytearray(base4)
    bad[10] ^= 0xff
    out.append(('bad ip checksum', fb.frame(0x0800, bytes(bad))))
    if side == 'client':
        out.append(('syn with data', fb.frame(0x0800, fb.tcp4(cp + 100, sp, isn, 0, SYN, opts=syn_opts, payload=b'x' * 500))))
    # VLAN stacks.
    tag = lambda tpid, vid: struct.pack('!HH', tpid, vid)
    out.append(('vlan, cut', fb.eth + tag(0x8100, 5)))
    out.append(('vlan, cut in tag', fb.eth + struct.pack('!H', 0x8100) + b'\x00'))
    out.append(('qinq then ipv4', fb.eth + tag(0x88a8, 5) + tag(0x8100, 6) + struct.pack('!H', 0x0800) + base4))
    out.append(('8 vlan tags then ipv4', fb.eth + tag(0x8100, 7) * 8 + struct.pack('!H', 0x0800) + base4))
    out.append(('40 vlan tags', fb.eth + tag(0x8100, 7) * 40))
    out.append(('vlan then cut ipv4', fb.eth + tag(0x8100, 5) + struct.pack('!H', 0x0800) + base4[:24]))
    out.append(('vlan then ipv6 cut', fb.eth + tag(0x8100, 5) + struct.pack('!H', 0x86dd) + base6[:50]))
    # Random mutations of valid frames.
    for i in range(200):
        f = bytearray(fb.frame(0x0800, base4) if i % 2 else fb.frame(0x86dd, base6))
        for _ in range(rnd.randrange(1, 6)):
            pos = rnd.randrange(14, len(f))
            f[pos] = rnd.randrange(256)
        cut = rnd.randrange(14, len(f) + 1) if i % 3 == 0 else len(f)
        out.append(('mutation %d' % i, bytes(f[:cut])))
    return out


def cmd_inject(a):
    rnd = random.Random(a.seed)
    fb = Frames(a.src_mac, a.dst_mac, a.src4, a.dst4, a.src6, a.dst6)
    frames = malformed_frames(fb, a.side, rnd)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    sent = refused = 0
    for _ in range(a.rounds):
        for name, f in frames:
            try:
                s.send(f)
                sent += 1
            except OSError as e:
                refused += 1
                if a.verbose:
                    print('not sent: %s: %s' % (name, e), file=sys.stderr)
    print('frames=%d sent=%d refused_by_kernel=%d' % (len(frames) * a.rounds, sent, refused))
    sys.exit(0 if sent > 0 else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest='cmd', required=True)

    c = sub.add_parser('http-server')
    c.add_argument('port', type=int)
    c.add_argument('dir')
    c.set_defaults(fn=cmd_http_server)

    c = sub.add_parser('echo-server')
    c.add_argument('port', type=int)
    c.set_defaults(fn=cmd_echo_server)

    c = sub.add_parser('echo-clients')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('--count', type=int, default=1)
    c.add_argument('--size', type=int, default=65536)
    c.add_argument('--seed', type=int, default=1)
    c.add_argument('--timeout', type=float, default=30)
    c.add_argument('--pace-ms', type=float, default=0,
                   help='pause after each 16 KiB written')
    c.set_defaults(fn=cmd_echo_clients)

    c = sub.add_parser('echo-soak')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('--count', type=int, default=1000)
    c.add_argument('--concurrency', type=int, default=32)
    c.add_argument('--max-size', type=int, default=2 << 20)
    c.add_argument('--seed', type=int, default=1)
    c.add_argument('--timeout', type=float, default=60,
                   help='seconds one connection may take before it counts as hung')
    c.set_defaults(fn=cmd_echo_soak)

    c = sub.add_parser('connect-loop')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('--seconds', type=float, default=10)
    c.add_argument('--size', type=int, default=100)
    c.add_argument('--interval-ms', type=float, default=10)
    c.add_argument('--timeout', type=float, default=3)
    c.add_argument('--parallel', type=int, default=1)
    c.add_argument('--seed', type=int, default=1)
    c.set_defaults(fn=cmd_connect_loop)

    c = sub.add_parser('connect-time')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('--path', default='')
    c.add_argument('--timeout', type=float, default=10)
    c.set_defaults(fn=cmd_connect_time)

    c = sub.add_parser('port-reuse')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('--path', required=True)
    c.add_argument('--expect', required=True, help='file the body must equal')
    c.add_argument('--sport', type=int, default=45678)
    c.add_argument('--count', type=int, default=6)
    c.add_argument('--timeout', type=float, default=10)
    c.set_defaults(fn=cmd_port_reuse)

    c = sub.add_parser('reset-time')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('--timeout', type=float, default=10)
    c.set_defaults(fn=cmd_reset_time)

    c = sub.add_parser('udp-echo-server')
    c.add_argument('port', type=int)
    c.set_defaults(fn=cmd_udp_echo_server)

    c = sub.add_parser('udp-exchange')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('--count', type=int, default=20)
    c.add_argument('--size', type=int, default=1000)
    c.add_argument('--seed', type=int, default=1)
    c.set_defaults(fn=cmd_udp_exchange)

    c = sub.add_parser('check-pcap')
    c.add_argument('pcap')
    c.add_argument('port', type=int)
    c.set_defaults(fn=cmd_check_pcap)

    c = sub.add_parser('inject')
    c.add_argument('iface')
    c.add_argument('side', choices=('client', 'server'))
    c.add_argument('--src-mac', required=True)
    c.add_argument('--dst-mac', required=True)
    c.add_argument('--src4', required=True)
    c.add_argument('--dst4', required=True)
    c.add_argument('--src6', required=True)
    c.add_argument('--dst6', required=True)
    c.add_argument('--rounds', type=int, default=3)
    c.add_argument('--seed', type=int, default=1)
    c.add_argument('--verbose', action='store_true')
    c.set_defaults(fn=cmd_inject)

    a = p.parse_args()
    a.fn(a)


if __name__ == '__main__':
    main()
