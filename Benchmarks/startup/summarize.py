#!/usr/bin/env python3
"""Prints the startup benchmark's table and its targets from a result directory.

Reads startup.json (hyperfine's export, or run.sh's passes pooled by merge_passes.py) and
rss.tsv (written by run.sh). Usage:
    summarize.py <result-dir> [1]     # with 1, exit 1 when a target is missed
"""
import csv
import json
import sys
from pathlib import Path

REFERENCE = "isorun sandbox"
RSS_TARGET_KIB = 2048


def ratio_text(mean, reference):
    if mean == reference:
        return "reference"
    if mean > reference:
        return f"{mean / reference:.1f}× slower than {REFERENCE}"
    return f"{reference / mean:.1f}× faster than {REFERENCE}"


def main():
    directory = Path(sys.argv[1])
    strict = len(sys.argv) > 2 and sys.argv[2] == "1"

    with open(directory / "startup.json") as f:
        results = {r["command"]: r for r in json.load(f)["results"]}
    ms = {name: {key: r[key] * 1000 for key in ("mean", "stddev", "median", "min", "max")}
          for name, r in results.items()}
    reference = ms[REFERENCE]["mean"]

    # Pooled from passes in opposite orders (run.sh): each pass's mean shows the host's drift.
    with_passes = all("passes" in r for r in results.values())
    rows = [("command", "mean ± σ (ms)", "median (ms)", "min … max (ms)")
            + (("mean per pass (ms)",) if with_passes else ()) + (f"vs {REFERENCE}",)]
    for name, t in ms.items():
        passes = (" / ".join(f"{p['mean'] * 1000:.2f}" for p in results[name]["passes"]),) if with_passes else ()
        rows.append((name, f"{t['mean']:.2f} ± {t['stddev']:.2f}", f"{t['median']:.2f}",
                     f"{t['min']:.2f} … {t['max']:.2f}") + passes
                    + (ratio_text(t["mean"], reference) if name != REFERENCE else "reference",))
    runs = f"{len(next(iter(results.values()))['times'])} runs each"
    environment = directory / "environment.txt"
    if environment.exists():
        for line in environment.read_text().splitlines():
            if line.startswith("runs:"):
                runs = line.split(":", 1)[1].strip()
    print(f"\nStartup, hyperfine -N, {runs}:\n")
    print_table(rows)

    with open(directory / "rss.tsv") as f:
        rss = {row["process"]: row for row in csv.DictReader(f, delimiter="\t")}
    rows = [("process (workload: sleep 5)", "VmRSS (KiB)", "RssAnon (KiB)", "RssFile (KiB)", "threads")]
    for name, row in rss.items():
        rows.append((name, row["VmRSS_kB"], row["RssAnon_kB"], row["RssFile_kB"], row["Threads"]))
    print("\nResident memory of the runtime process that stays next to the workload, 1 s in:\n")
    print_table(rows)

    sandbox, bare, true = ms[REFERENCE], ms["isorun bare"], ms["/bin/true"]
    bwrap, runc = ms["bwrap"], ms["runc"]
    supervisor_rss = int(rss[REFERENCE]["VmRSS_kB"])
    checks = [
        (f"{REFERENCE} no slower than bwrap",
         sandbox["mean"] <= bwrap["mean"],
         f"{sandbox['mean']:.2f} ms vs {bwrap['mean']:.2f} ms"),
        (f"{REFERENCE} ≥ 7× faster than runc",
         runc["mean"] >= 7 * sandbox["mean"],
         f"{runc['mean'] / sandbox['mean']:.1f}×"),
        ("isorun bare within 2 ms of /bin/true",
         bare["mean"] - true["mean"] <= 2,
         f"+{bare['mean'] - true['mean']:.2f} ms"),
        (f"{REFERENCE} supervisor VmRSS ≤ 2 MiB",
         supervisor_rss <= RSS_TARGET_KIB,
         f"{supervisor_rss} KiB of {RSS_TARGET_KIB} KiB"),
    ]
    print_scale(bwrap["mean"], runc["mean"])
    report_targets(checks, strict)


def print_scale(bwrap_ms, runc_ms):
    """What the 7× target asks, set against bwrap in the same run: bwrap makes the
    namespaces and a few mounts but no cgroup, seccomp filter or state, so its own ratio
    to runc shows how much of runc's time any namespace sandbox here cannot avoid."""
    needed = runc_ms / 7
    print(f"\nFor scale: bwrap is {runc_ms / bwrap_ms:.1f}× faster than runc in this run; "
          f"7× asks for {needed:.2f} ms, {100 * (1 - needed / bwrap_ms):.0f}% under bwrap's {bwrap_ms:.2f} ms.")


def report_targets(checks, strict):
    """Prints PASS/FAIL per (name, passed, detail); exits 1 on a miss when strict."""
    print("\nTargets (judged on means):\n")
    for name, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {detail}")
    if strict and not all(passed for _, passed, _ in checks):
        sys.exit(1)


def print_table(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * width for width in widths))


if __name__ == "__main__":
    main()
