#!/usr/bin/env python3
"""Pools hyperfine's JSON exports of several passes over the same commands into one.

run.sh times the commands in two passes, the second in reverse order, so that a host that
speeds up or slows down during the run (this VM does, by a fifth within minutes) weighs on
every command alike instead of on whichever ran last. Each command's times from all passes
are pooled and its statistics recomputed; the output has hyperfine's shape, in the first
pass's command order. Usage:
    merge_passes.py <pass1.json> <pass2.json> ... > startup.json
"""
import json
import statistics
import sys


def pooled(name, runs):
    times = [t for run in runs for t in run["times"]]
    return {
        "command": name,
        "mean": statistics.fmean(times),
        "stddev": statistics.stdev(times) if len(times) > 1 else 0.0,
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "times": times,
        "passes": [{"mean": run["mean"], "runs": len(run["times"])} for run in runs],
    }


def main():
    passes = []
    for path in sys.argv[1:]:
        with open(path) as f:
            passes.append(json.load(f)["results"])
    if not passes:
        sys.exit("merge_passes.py: give at least one hyperfine JSON export")
    order = [result["command"] for result in passes[0]]
    by_name = {name: [r for results in passes for r in results if r["command"] == name] for name in order}
    json.dump({"results": [pooled(name, by_name[name]) for name in order]}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
