#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Traffic for the linkem tests (stdlib only).

  udp-sink PORT --count N [--idle S]    receive sequence-numbered datagrams,
                                         print counts as JSON
  udp-burst HOST PORT --count N [--size B] [--gap-us G]
                                         send them
  tcp-sink PORT FILE                     accept one connection, store its bytes
  tcp-send HOST PORT FILE                send a file over one connection
"""
import argparse
import hashlib
import json
import socket
import struct
import sys
import time

HDR = struct.Struct('!I')


def family_of(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def payload(seq, size):
    """Contents derived from the sequence number, so any corruption shows."""
    body = hashlib.sha256(HDR.pack(seq)).digest()
    reps = (size - HDR.size) // len(body) + 1
    return HDR.pack(seq) + (body * reps)[:size - HDR.size]


def cmd_udp_sink(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(('::', a.port))
    seen = {}
    late = corrupt = datagrams = 0
    top = -1
    s.settimeout(a.wait)  # the first datagram may take a while
    while datagrams < a.expect:
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        s.settimeout(a.idle)
        datagrams += 1
        if len(data) < HDR.size:
            corrupt += 1
            continue
        seq = HDR.unpack_from(data)[0]
        if seq >= a.count or data != payload(seq, len(data)):
            corrupt += 1
            continue
        seen[seq] = seen.get(seq, 0) + 1
        if seen[seq] == 1 and seq < top:
            late += 1
        top = max(top, seq)
    print(json.dumps({
        'datagrams': datagrams,
        'unique': len(seen),
        'missing': a.count - len(seen),
        'dups': sum(n - 1 for n in seen.values()),
        'late': late,
        'corrupt': corrupt,
    }))


def cmd_udp_burst(a):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    gap = a.gap_us / 1e6
    t = time.monotonic()
    for seq in range(a.count):
        s.sendto(payload(seq, a.size), (a.host, a.port))
        # Sleep, do not spin: a spinning sender starves linkem of a CPU
        # on a small machine. Behind schedule, send back to back.
        t += gap
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)


def cmd_tcp_sink(a):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(('::', a.port))
    ls.listen(1)
    c, _ = ls.accept()
    with open(a.file, 'wb') as f:
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            f.write(b)
    c.close()


def cmd_tcp_send(a):
    t0 = time.monotonic()
    with socket.create_connection((a.host, a.port), timeout=60) as c, \
            open(a.file, 'rb') as f:
        c.sendfile(f)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)  # the peer closes after reading everything
    print('%.3f' % (time.monotonic() - t0))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('udp-sink')
    c.add_argument('port', type=int)
    c.add_argument('--count', type=int, required=True,
                   help='sequence numbers the sender uses')
    c.add_argument('--expect', type=int, default=1 << 30,
                   help='stop after this many datagrams')
    c.add_argument('--wait', type=float, default=20.0)
    c.add_argument('--idle', type=float, default=1.0)
    c.set_defaults(fn=cmd_udp_sink)
    c = sub.add_parser('udp-burst')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('--count', type=int, required=True)
    c.add_argument('--size', type=int, default=200)
    c.add_argument('--gap-us', type=float, default=50.0)
    c.set_defaults(fn=cmd_udp_burst)
    c = sub.add_parser('tcp-sink')
    c.add_argument('port', type=int)
    c.add_argument('file')
    c.set_defaults(fn=cmd_tcp_sink)
    c = sub.add_parser('tcp-send')
    c.add_argument('host')
    c.add_argument('port', type=int)
    c.add_argument('file')
    c.set_defaults(fn=cmd_tcp_send)
    a = p.parse_args()
    a.fn(a)


if __name__ == '__main__':
    sys.exit(main())
