"""Print benchmark medians and ratios from a pytest-benchmark JSON file.

Usage: ``python benchmarks/ratios.py bench.json``. For each group, the median of every
row and its ratio to the group's gridsim row (> 1: gridsim is faster).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main(path: str) -> None:
    data = json.load(open(path))
    groups: dict[str, dict[str, float]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        tool = bench["name"].split("[")[0].rsplit("_", 1)[-1]
        if "cold" in bench["name"]:
            tool = bench["param"].split("-")[0] if bench.get("param") else tool
        groups[bench["group"]][tool] = bench["stats"]["median"]
        inner = bench.get("extra_info", {}).get("in_process_s")
        if inner is not None:
            groups[bench["group"] + " (in-process)"][tool] = inner
    print(
        f"machine: {data['machine_info'].get('cpu', {}).get('brand_raw', '?')}, "
        f"python {data['machine_info']['python_version']}"
    )
    print("| group | tool | median | gridsim speed-up |")
    print("|---|---|---|---|")
    for group in sorted(groups):
        rows = groups[group]
        ours = rows.get("gridsim")
        for tool, median in sorted(rows.items()):
            ratio = "" if ours is None or tool == "gridsim" else f"{median / ours:.2f}x"
            print(f"| {group} | {tool} | {_fmt(median)} | {ratio} |")


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main(sys.argv[1])
