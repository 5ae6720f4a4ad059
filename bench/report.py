#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn the raw lines of bench/run.sh into one table and a JSON file.

Input lines:
  result engine.NAME VALUE UNIT        in-process engine figure
  live.BOX NAME VALUE UNIT             live figure for BOX (clientnic|bridge);
                                       repeated rounds: the median is shown
  note TEXT                            printed under the table, kept in JSON
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
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
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
         "cpu_all", "cpu_box", "counter"]


def rank(name):
    head = name.split(".")[0]
    return ORDER.index(head) if head in ORDER else len(ORDER)


def rows(engine, live):
    out = []
    for name, v, unit in engine:
        out.append({"figure": name, "clientnic": v, "baseline": None,
                    "ratio": None, "unit": unit})
    for name, boxes in sorted(live.items(), key=lambda kv: rank(kv[0])):
        cv, cu = boxes.get("clientnic", ([], None))
        bv, bu = boxes.get("bridge", ([], None))
        c = (statistics.median(cv) if cv else None, cu)
        b = (statistics.median(bv) if bv else None, bu)
        unit = c[1] or b[1]
        ratio = None
        if c[0] is not None and b[0]:
            ratio = c[0] / b[0]
        out.append({"figure": name, "clientnic": c[0], "baseline": b[0],
                    "ratio": ratio, "unit": unit,
                    "rounds": {"clientnic": cv, "baseline": bv}})
        # Latency the box adds, in the figure's own unit.
        if name.startswith("rr.p") and c[0] is not None and b[0] is not None:
            out.append({"figure": name + ".added", "clientnic": c[0] - b[0],
                        "baseline": None, "ratio": None, "unit": unit})
    return out


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    engine, live, notes = parse(sys.argv[1])
    table = rows(engine, live)
    m = machine()
    print("clientnic benchmark: %d cores, %s, kernel %s, %s" %
          (m["nproc"], m["cpu"], m["kernel"], m["date"]))
    w = max([len(r["figure"]) for r in table] + [6])
    print("%-*s  %10s  %10s  %7s  %s" % (w, "figure", "ClientNIC",
                                         "baseline", "ratio", "units"))
    for r in table:
        ratio = "-" if r["ratio"] is None else "%.2fx" % r["ratio"]
        print("%-*s  %10s  %10s  %7s  %s" % (w, r["figure"], fmt(r["clientnic"]),
                                             fmt(r["baseline"]), ratio, r["unit"]))
    for n in notes:
        print("note: " + n)
    print("baseline: the Linux kernel bridge in the same namespace topology;"
          " ratio = ClientNIC / baseline")
    with open(sys.argv[2], "w") as f:
        json.dump({"machine": m, "baseline": "linux bridge",
                   "figures": table, "notes": notes}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
