#!/usr/bin/env python3
"""Prints the VM startup table and targets from a vm.sh result directory.

Usage: summarize_vm.py <result-dir> [1]     # with 1, exit 1 when a target is missed
"""
import csv
import json
import sys
from pathlib import Path

from summarize import print_table, report_targets

STOCK = "qemu -M pc, Debian kernel"
QEMU_RSS_TARGET_KIB = 64 * 1024


def main():
    directory = Path(sys.argv[1])
    strict = len(sys.argv) > 2 and sys.argv[2] == "1"
    results = {r["command"]: r for r in json.loads((directory / "vm.json").read_text())["results"]}
    ms = {name: {k: r[k] * 1000 for k in ("mean", "stddev", "median", "min", "max")} for name, r in results.items()}
    stock = ms[STOCK]["mean"]
    rows = [("command", "mean ± σ (ms)", "median (ms)", "min … max (ms)", "× stock boot")]
    for name, t in ms.items():
        rows.append((name, f"{t['mean']:.0f} ± {t['stddev']:.0f}", f"{t['median']:.0f}",
                     f"{t['min']:.0f} … {t['max']:.0f}", f"{t['mean'] / stock:.2f}"))
    print("\nVM boot to exit (hyperfine -N):\n")
    print_table(rows)

    with open(directory / "rss.tsv") as f:
        rss = {row["process"]: row for row in csv.DictReader(f, delimiter="\t")}
    rows = [("process (idle VM)", "VmRSS (KiB)", "RssAnon (KiB)", "RssFile (KiB)", "Pss (KiB)")]
    for name, row in rss.items():
        rows.append((name, row["VmRSS_kB"], row["RssAnon_kB"], row["RssFile_kB"], row["Pss_kB"]))
    print("\nResident memory next to an idle VM, 5 s in:\n")
    print_table(rows)

    vm = ms["isorun vm"]["mean"]
    qemu_rss = int(rss["QEMU"]["VmRSS_kB"])
    checks = [
        ("isorun vm boot-to-exit ≤ 0.25× the stock -M pc boot", vm <= 0.25 * stock,
         f"{vm:.0f} ms = {vm / stock:.2f}× of {stock:.0f} ms"),
        ("QEMU RSS per idle VM ≤ 64 MiB", qemu_rss <= QEMU_RSS_TARGET_KIB,
         f"{qemu_rss / 1024:.1f} MiB"),
    ]
    report_targets(checks, strict)


if __name__ == "__main__":
    main()
