"""Wall time, CPU time and peak RSS of one N-1 TTC on the 816-bus substation model: the
secured base case (``gridsim.secured_base``) and ``n1_ttc`` AZ -> EU from it (``--sink RS``
to Serbia), 2026 winter peak (``--scenario`` another), the study's options; it prints the
start the physical TTC kept, the base case's exchange beyond the schedule, the TTC and
their total, physical and within the published limits (networks/README.md's table of
N-1 TTCs); ``--base-only`` stops after the
secured base case and prints what securing moved; ``--no-voltage-rows`` searches the
transfer with the bisection alone where it meets a voltage (``voltage_rows=False``);
``--joint-base`` also arranges the base case's redispatch for the transfer
(``joint_base=True``); ``--emergency-rating PERCENT`` holds that post-contingency rating,
with the base case secured at 100 % as the start (``secured_base(..., start=...)``).
One fresh process (JIT compile included); run it beside an older checkout
(``PYTHONPATH=<old checkout> python benchmarks/substation_n1.py``) to compare. Figures
in benchmarks/README.md."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from gridsim.analysis.ttc import n1_ttc, secured_base
from gridsim.io import read_network
from gridsim.study import cases

MODEL = Path(__file__).parents[1] / "networks" / "corridor_substation.yaml"


def _rss_gb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1e6
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="2026_winter_peak")
    parser.add_argument("--sink", default="EU", choices=("EU", "RS"))
    parser.add_argument("--base-only", action="store_true")
    parser.add_argument("--no-voltage-rows", action="store_true")
    parser.add_argument("--joint-base", action="store_true")
    parser.add_argument("--emergency-rating", type=float, default=None)
    args = parser.parse_args()
    peak = [0.0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], _rss_gb())
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    net = read_network(MODEL, scenario=args.scenario)
    wall, cpu = time.perf_counter(), time.process_time()
    base = secured_base(net, **cases.N1_OPTIONS)
    print(
        f"secured_base: secured={base.secured} wall {time.perf_counter() - wall:.1f} s "
        f"cpu {time.process_time() - cpu:.1f} s peak {peak[0]:.2f} GB",
        flush=True,
    )
    if args.base_only:
        zones = base.base_redispatch_zone
        print(
            f"redispatch {base.base_redispatch_mw.abs().sum():.1f} MW in {base.base_rounds} "
            f"LP rounds, {base.ac_checks} AC checks"
        )
        print(zones.round(1).to_string() if len(zones) else "no redispatch")
        for title, moved in (
            ("HVDC schedule changes (MW)", base.base_hvdc_change_mw),
            ("voltage setpoint changes (p.u.)", base.base_voltage_change_pu),
            ("shunt bank steps switched", base.base_shunt_step_change),
        ):
            print(f"{title}: {moved.round(4).to_dict() if len(moved) else 'none'}")
        if not base.secured:
            print(base.residual.head(10).to_string())
        return
    options = dict(cases.N1_OPTIONS)
    if args.emergency_rating is not None:
        options["emergency_rating_percent"] = args.emergency_rating
        base = secured_base(net, **options, start=base)
        print(f"secured at {args.emergency_rating:g} % from it: {base.base_rounds} LP rounds")
    wall, cpu = time.perf_counter(), time.process_time()
    rows = not args.no_voltage_rows
    r = n1_ttc(
        net,
        "AZ",
        args.sink,
        base=base,
        voltage_rows=rows,
        joint_base=args.joint_base,
        **options,
    )
    print(
        f"n1_ttc AZ->{args.sink}: ttc {r.ttc_mw:.2f} MW published {r.ttc_published_mw:.2f} MW "
        f"checks {r.ac_checks} wall {time.perf_counter() - wall:.1f} s "
        f"cpu {time.process_time() - cpu:.1f} s peak {peak[0]:.2f} GB",
        flush=True,
    )
    for name, x in (("physical", r), ("within published limits", r.published)):
        if x is not None:
            print(
                f"{name}: from the {x.started_from} start, base beyond schedule "
                f"{x.base_exchange_change_mw:.1f} MW + TTC {x.ttc_mw:.1f} MW = "
                f"{x.total_change_mw:.1f} MW; {x.message}"
            )


if __name__ == "__main__":
    main()
