#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn the raw lines of bench/run.sh into one table and a JSON file.

Input lines:
  result engine.NAME VALUE UNIT        in-process engine figure
  live.SETUP NAME VALUE UNIT           live figure for SETUP: bridge (the
                                       baseline: kernel bridges), clientnic,
                                       clientnic_afpacket, pair (ClientNIC +
                                       ServerNIC), pair_afpacket or tfo
                                       (TCP Fast Open, bridges), h2h
                                       (bulk head to head, its own
                                       ratios); repeated rounds: the
                                       median is shown
  note TEXT                            printed under the table, kept in JSON
Each live figure of a setup other than bridge is one row, named NAME for
the ClientNIC and SETUP.NAME for the others, against the bridge's median
of the same NAME. clientnic and pair run the daemons' default datapath
(the kernel fast path, bpf), the *_afpacket setups --datapath afpacket;
each row's "datapath" says which (null for the bridge's and TFO's). The SYN flood (bench/flood.sh) runs once: its rows are
flood.VARIANT.NAME, the ClientNIC against a bridge under the same flood.
Usage: report.py RAW OUT.json
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(__file__)),
                                check=False).stdout.strip()
    except OSError:
        commit = ""
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."],
                               capture_output=True, text=True,
                               cwd=os.path.join(os.path.dirname(
                                   os.path.abspath(__file__)), ".."),
                               check=False).stdout.split("\n")
        dirty = sorted(line[3:] for line in dirty if line[3:])
    except OSError:
        dirty = []
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
        "uncommitted": dirty,
    }


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def parse(path):
    engine, live, notes = [], {}, []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "note":
                notes.append(line[5:].strip())
            elif parts[0] == "result" and len(parts) >= 4:
                engine.append((parts[1], num(parts[2]), " ".join(parts[3:])))
            elif parts[0].startswith("live.") and len(parts) >= 4:
                box = parts[0][5:]
                v = num(parts[2])
                if v is None:
                    continue
                live.setdefault(parts[1], {}).setdefault(
                    box, ([], " ".join(parts[3:])))[0].append(v)
    return engine, live, notes


ORDER = ["throughput", "retransmits", "conn", "conn_nolog", "rr",
         "cpu_all", "cpu_box", "cpu_client", "cpu_server", "fastpath", "bpf", "counter", "wan", "flood"]
SETUPS = ["clientnic", "clientnic_afpacket", "pair", "pair_afpacket", "tfo",
          "h2h"]
DATAPATH = {"clientnic": "bpf", "pair": "bpf",
            "clientnic_afpacket": "afpacket", "pair_afpacket": "afpacket"}
BASELINE = "bridge"


def head(name):
    h = name.split(".")[0]
    # wan20, wan50...: the WAN run, whatever its delay
    if h.startswith("wan") and h[3:].isdigit():
        return "wan"
    return h


def rank(name):
    h = head(name)
    return ORDER.index(h) if h in ORDER else len(ORDER)


def setup_rank(setup):
    return SETUPS.index(setup) if setup in SETUPS else len(SETUPS)


def row(figure, setup, value, baseline, unit, rounds=None):
    r = {"figure": figure, "setup": setup, "datapath": DATAPATH.get(setup),
         "value": value, setup: value,
         "baseline": baseline, "ratio": None, "unit": unit}
    if value is not None and baseline:
        r["ratio"] = value / baseline
    if rounds is not None:
        r["rounds"] = rounds
    return r


def rows(engine, live):
    out = []
    for name, v, unit in engine:
        out.append(row(name, "clientnic", v, None, unit))
    keyed = []
    for seen, (name, boxes) in enumerate(live.items()):
        bv, bu = boxes.get(BASELINE, ([], None))
        b = statistics.median(bv) if bv else None
        setups = [x for x in boxes if x != BASELINE] or ["clientnic"]
        for setup in setups:
            sv, su = boxes.get(setup, ([], None))
            v = statistics.median(sv) if sv else None
            unit = su or bu
            figure = name if setup == "clientnic" else setup + "." + name
            r = [row(figure, setup, v, b, unit,
                     {setup: sv, "baseline": bv})]
            # Latency the box adds, in the figure's own unit.
            if name.startswith("rr.p") and v is not None and b is not None:
                r.append(row(figure + ".added", setup, v - b, None, unit))
            # The WAN run side by side (every setup's connect(), then every
            # setup's first byte, counters last); elsewhere the ClientNIC's
            # rows first, then the pair's.
            if head(name) == "wan":
                key = (rank(name), ".counter." in name, seen, setup_rank(setup))
            else:
                key = (rank(name), setup_rank(setup), seen, 0)
            keyed.append((key, r))
    for _, r in sorted(keyed, key=lambda kr: kr[0]):
        out.extend(r)
    return out


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v


SETUP_NAMES = {
    "bridge": "kernel bridges in every box place (the baseline)",
    "clientnic": "build/clientnic (default datapath: the kernel fast path)"
                 " in the ClientNIC's place, a bridge in the ServerNIC's",
    "clientnic_afpacket": "the same with --datapath afpacket (every frame"
                          " through the daemon)",
    "pair": "build/clientnic and build/servernic (default datapath) in"
            " their places",
    "pair_afpacket": "the same with --datapath afpacket on both",
    "tfo": "TCP Fast Open between client and server (curl --tcp-fastopen,"
           " cookie fetched first), bridges in both box places",
    "h2h": "bulk head to head: one topology, the box places switched between"
           " bridges and the daemons (default datapath) after every iperf3"
           " run",
}
LEGEND = [
    "measured: rows without a prefix the ClientNIC alone, pair.* ClientNIC +"
    " ServerNIC, both with the default datapath (the kernel fast path, bpf);"
    " clientnic_afpacket.*, pair_afpacket.* the same with --datapath"
    " afpacket; tfo.* TCP Fast Open between the endpoints (bridges in the"
    " box places)",
    "cpu_box: the daemons' own CPU; cpu_all: the whole machine's. With the"
    " kernel fast path a frame's work is softirq time of whatever core"
    " carries it, not the daemon's: compare setups by cpu_all;"
    " cpu_client, cpu_server: the connection test's two endpoints (loadgen"
    " conn and its server), the softirq work done in their context"
    " included",
    "fastpath.DAEMON.share: frames the tc programs forwarded (translated or"
    " passed) over those plus the frames the daemon received, over the bulk"
    " runs",
    "baseline: Linux kernel bridges in the same places of the same namespace"
    " topology; WAN place a bridge, for wanN.* linkem N ms each way;"
    " ratio = measured / baseline",
    "h2h.SETUP.*: iperf3 and connection runs in pairs, SETUP (clientnic:"
    " the ClientNIC alone; pair: ClientNIC + ServerNIC) next to kernel"
    " bridges in the same places; .ratio the median of the pairs' ratios"
    " (.ratio_min, .ratio_max their spread), .value and .bridge the medians"
    " of each side's runs. The rows above compare medians of runs minutes"
    " apart; on a shared machine these pairs are the closer comparison",
    "flood.*: random-source SYNs at the generator's full rate into the box"
    " place, a fresh ClientNIC against a bridge; answered: the server's"
    " SYN-ACKs come back through the box, silent: the server cannot answer;"
    " legit_*: real clients connecting meanwhile; rss_*: the daemon's"
    " VmRSS when ready, VmHWM after the flood, the bound its configuration"
    " sets",
]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    engine, live, notes = parse(sys.argv[1])
    notes = list(dict.fromkeys(notes))  # one of each, in order
    table = rows(engine, live)
    m = machine()
    print("clientnic benchmark: %d cores, %s, kernel %s, %s, commit %s%s" %
          (m["nproc"], m["cpu"], m["kernel"], m["date"], m["commit"] or "?",
           " + uncommitted changes" if m["uncommitted"] else ""))
    w = max([len(r["figure"]) for r in table] + [6])
    print("%-*s  %10s  %10s  %7s  %s" % (w, "figure", "measured",
                                         "baseline", "ratio", "units"))
    for r in table:
        ratio = "-" if r["ratio"] is None else (
            "%.3fx" % r["ratio"] if r["ratio"] < 0.095 else "%.2fx" % r["ratio"])
        print("%-*s  %10s  %10s  %7s  %s" % (w, r["figure"], fmt(r["value"]),
                                             fmt(r["baseline"]), ratio, r["unit"]))
    for n in notes:
        print("note: " + n)
    for line in LEGEND:
        print(line)
    with open(sys.argv[2], "w") as f:
        json.dump({"machine": m, "baseline": "linux bridge",
                   "setups": SETUP_NAMES, "legend": LEGEND,
                   "figures": table, "notes": notes}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
