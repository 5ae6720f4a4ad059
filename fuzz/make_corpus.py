#!/usr/bin/env python3
"""Write seed inputs for fuzz_engine: whole flows in the harness's format
([conf][ctl][len16][frame]...), IPv4 and IPv6, with options, for both roles
(the ServerNIC's with the peer option on the SYN), so the fuzzer starts
from frames that reach every state of the engine."""
import os
import struct
import sys

CMAC, SMAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp(src, dst, sp, dp, seq, ack, flags, opts=b"", payload=b"", v6=False, vlan=None):
    opts += b"\x01" * (-len(opts) % 4)
    hl = 20 + len(opts)
    th = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, (hl // 4) << 4, flags, 502, 0, 0) + opts
    seg = th + payload
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
    else:
        pseudo = src + dst + struct.pack("!xBH", 6, len(seg))
    c = csum(pseudo + seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(seg), 6, 64) + src + dst
        et = 0x86DD
    else:
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(seg), 0, 0x4000, 64, 6, 0) + src + dst
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        et = 0x0800
    l2 = struct.pack("!H", et)
    if vlan is not None:
        l2 = struct.pack("!HH", 0x8100, vlan) + l2
    return l2 + ip + seg


def rec(side, frame, dt=1):
    return bytes([(dt << 2) | side]) + struct.pack("!H", len(frame)) + frame


def peer_opt(spoof_isn, spoof_tsval):
    """The ClientNIC's option (src/engine/peer_opt.h): MSS 1400, wscale 7,
    SACK, timestamps, no tag."""
    return struct.pack("!BBHIHBI", 253, 15, 0x4E43, spoof_isn, 1400, 0x37, spoof_tsval)


def flow(v6, vlan, refused=False, peer=False, server_mss=0x578):
    if v6:
        c, s = bytes(15) + b"\1", bytes(15) + b"\2"
    else:
        c, s = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    cisn, sisn = 0xFFFFFF00, 0x7FFFFFF0
    synopt = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\0\0\0\x10\0\0\0\0\x01\x03\x03\x07"
    saopt = b"\x02\x04" + struct.pack("!H", server_mss) + b"\x04\x02\x08\x0a\0\0\x01\0\0\0\0\x10\x01\x03\x03\x05"
    ts = b"\x01\x01\x08\x0a\0\0\0\x11\0\0\x01\0"
    sack = b"\x01\x01\x05\x0a" + struct.pack("!II", sisn + 100, sisn + 200)
    C = lambda *a, **k: SMAC + CMAC + tcp(c, s, 40000, 80, *a, v6=v6, vlan=vlan, **k)
    S = lambda *a, **k: CMAC + SMAC + tcp(s, c, 80, 40000, *a, v6=v6, vlan=vlan, **k)
    if peer:
        synopt += peer_opt(0x5000, 0x100)
    out = rec(0, C(cisn, 0, 0x02, synopt))
    if refused:
        return out + rec(0, C(cisn + 1, 0x1234, 0x10, ts)) + rec(1, S(0, cisn + 1, 0x14), 9)
    req = b"GET / HTTP/1.0\r\n\r\n" if server_mss >= 1000 else b"P" * 900
    end = (cisn + 1 + len(req)) & 0xFFFFFFFF
    out += rec(0, C(cisn + 1, 0x1234, 0x10, ts))
    out += rec(0, C(cisn + 1, 0x1234, 0x18, ts, req))
    out += rec(1, S(sisn, cisn + 1, 0x12, saopt), 20)
    out += rec(1, S(sisn + 1, end, 0x18, ts, b"x" * 300))
    out += rec(0, C(end, sisn + 301, 0x10, sack))
    out += rec(1, S(sisn + 301, end, 0x11, ts))
    out += rec(0, C(end, sisn + 302, 0x11, ts))
    out += rec(1, S(sisn + 302, (end + 1) & 0xFFFFFFFF, 0x10, ts))
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus"
    os.makedirs(d, exist_ok=True)
    seeds = {"v4": flow(False, None), "v6": flow(True, None), "vlan": flow(False, 7)}
    seeds["refused"] = flow(False, None, refused=True)
    # Configuration byte: ClientNIC with --peer auto, then always.
    for name, data in list(seeds.items()):
        seeds[name] = bytes([1 << 1]) + data
        seeds["always-" + name] = bytes([2 << 1]) + data
    seeds["servernic-v4"] = b"\x01" + flow(False, None, peer=True)
    seeds["servernic-v6"] = b"\x01" + flow(True, None, peer=True)
    seeds["servernic-refused"] = b"\x01" + flow(False, None, refused=True, peer=True)
    seeds["servernic-plain"] = b"\x01" + flow(False, None)
    # A server MSS below the spoofed one: long client segments are cut.
    seeds["small-mss"] = bytes([1 << 1]) + flow(False, None, server_mss=600)
    seeds["servernic-small-mss"] = b"\x01" + flow(True, None, peer=True, server_mss=600)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


main()
