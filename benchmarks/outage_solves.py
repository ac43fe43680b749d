"""Newton solves, iterations and time per ordinary outage on the 816-bus substation model,
post-contingency solves started from the base case's reactive-limit state
(``solve_outage(warm_limits=True)``, the default) and without it (``--cold``): every
ordinary contingency of the 2026 winter peak (``--scenario`` another) at the scenario's
dispatch, reactive limits enforced, per outage kind. One fresh process; figures in
benchmarks/README.md."""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

import numpy as np

import gridsim
from gridsim.analysis import powerflow

MODEL = Path(__file__).parents[1] / "networks" / "corridor_substation.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="2026_winter_peak")
    parser.add_argument("--cold", action="store_true", help="warm_limits=False")
    args = parser.parse_args()
    net = gridsim.load_network(MODEL, scenario=args.scenario)
    base = gridsim.run_ac(net, enforce_q_limits=True)
    counts = collections.Counter()
    newton = powerflow._newton

    def counted(*a, **k):
        res = newton(*a, **k)
        counts["newton"] += 1
        counts["iterations"] += res.iterations
        return res

    powerflow._newton = counted
    outages = gridsim.ordinary_contingencies(net, units="all")
    reuse: dict = {}
    for o in outages[:50]:  # the JIT and the kept post-contingency networks warm
        gridsim.solve_outage(net, o, base=base, enforce_q_limits=True, reuse=reuse)
    per = collections.defaultdict(list)
    for o in outages:
        before = dict(counts)
        start = time.perf_counter()
        r = gridsim.solve_outage(
            net, o, base=base, enforce_q_limits=True, reuse=reuse, warm_limits=not args.cold
        )
        per[o.element].append(
            (
                counts["newton"] - before.get("newton", 0),
                counts["iterations"] - before.get("iterations", 0),
                time.perf_counter() - start,
                r.converged,
            )
        )
    print(f"{args.scenario}, {'cold' if args.cold else 'warm'} reactive limits")
    for kind, rows in per.items():
        a = np.array(rows, dtype=float)
        print(
            f"{kind:6s} {len(rows):5d} outages: {a[:, 0].mean():.2f} Newton solves, "
            f"{a[:, 1].mean():.1f} iterations, {1e3 * a[:, 2].mean():.2f} ms each; "
            f"{int(a[:, 3].sum())} converged"
        )


if __name__ == "__main__":
    main()
