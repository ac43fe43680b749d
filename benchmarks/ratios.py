"""Print benchmark medians and ratios from a pytest-benchmark JSON file.

Usage: ``python benchmarks/ratios.py bench.json``. For each group, the median of every
row with its spread (the interquartile range over the rounds, and the round count), the
minimum, and their ratios to the group's gridsim row (> 1: gridsim is faster). On a
shared machine the minimum is the steadier figure (noise only adds time) and the paired
groups steadier still (their quartiles are printed apart). Rows with a ``peak_rss_gb``
in ``extra_info`` (fresh-process memory figures) are listed with it and the other
numbers they recorded (seconds of the measured call, load average).

A row's tool is its ``tool`` parameter, else ``extra_info["tool"]``, else the last word
of the test's name; a benchmark without a group is a group of its own (its name).
``extra_info["reference_s"]`` (tool -> seconds) adds rows timed outside the benchmark
fixture (e.g. an extrapolated pandapower total).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main(path: str) -> None:
    data = json.load(open(path))
    groups: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    paired: dict[str, tuple[float, float, float]] = {}
    memory: dict[str, dict] = {}
    for bench in data["benchmarks"]:
        params = bench.get("params") or {}
        stats = bench["stats"]
        extra = bench.get("extra_info") or {}
        tool = (
            params.get("tool")
            or extra.get("tool")
            or bench["name"].split("[")[0].rsplit("_", 1)[-1]
        )
        group = bench.get("group") or bench["name"]  # a benchmark without a group: its own
        if "speedup_median" in extra:
            paired[group] = (extra["speedup_q1"], extra["speedup_median"], extra["speedup_q3"])
            continue
        if "peak_rss_gb" in extra:
            memory[group] = extra
        spread = (stats.get("q1", stats["median"]), stats.get("q3", stats["median"]))
        groups[group][tool] = (stats["median"], stats["min"], spread, stats.get("rounds", 1))
        for other, seconds in (extra.get("reference_s") or {}).items():
            groups[group][other] = (seconds, seconds, (seconds, seconds), 1)
        inner = extra.get("in_process_s")
        if inner is not None:
            groups[group + " (in-process)"][tool] = (inner, inner, (inner, inner), 1)
    print(
        f"machine: {data['machine_info'].get('cpu', {}).get('brand_raw', '?')}, "
        f"python {data['machine_info']['python_version']}"
    )
    print(
        "| group | tool | median [quartiles], rounds | min | speed-up (median) | speed-up (min) |"
    )
    print("|---|---|---|---|---|---|")
    for group in sorted(groups):
        rows = groups[group]
        ours = rows.get("gridsim")
        for tool, (median, low, (q1, q3), rounds) in sorted(rows.items()):
            if ours is None or tool == "gridsim":
                r_med = r_min = ""
            else:
                r_med, r_min = f"{median / ours[0]:.2f}x", f"{low / ours[1]:.2f}x"
            middle = f"{_fmt(median)} [{_fmt(q1)}–{_fmt(q3)}], {rounds}"
            print(f"| {group} | {tool} | {middle} | {_fmt(low)} | {r_med} | {r_min} |")

    if paired:
        print()
        print("| paired group | speed-up: lower quartile | median | upper quartile |")
        print("|---|---|---|---|")
        for group, (q1, med, q3) in sorted(paired.items()):
            print(f"| {group} | {q1:.2f}x | {med:.2f}x | {q3:.2f}x |")

    if memory:
        print()
        print("| fresh process | peak RSS | seconds | load average | status |")
        print("|---|---|---|---|---|")
        for group, extra in sorted(memory.items()):
            seconds = extra.get("n1_seconds")
            load = extra.get("load_average")
            print(
                f"| {group} | {extra['peak_rss_gb']:.2f} GB | "
                f"{'' if seconds is None else _fmt(seconds)} | "
                f"{'' if load is None else f'{load:.1f}'} | {extra.get('status', '')} |"
            )


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main(sys.argv[1])
