"""Wall time, CPU time and peak RSS of one N-1 TTC on the 816-bus substation model: the
secured base case (``gridsim.secured_base``) and ``n1_ttc`` AZ -> EU from it, 2026 winter
peak, the study's options. One fresh process (JIT compile included); run it beside an
older checkout (``PYTHONPATH=<old checkout> python benchmarks/substation_n1.py``) to
compare. Figures in benchmarks/README.md."""

from __future__ import annotations

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
    peak = [0.0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], _rss_gb())
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    net = read_network(MODEL, scenario="2026_winter_peak")
    wall, cpu = time.perf_counter(), time.process_time()
    base = secured_base(net, **cases.N1_OPTIONS)
    print(
        f"secured_base: secured={base.secured} wall {time.perf_counter() - wall:.1f} s "
        f"cpu {time.process_time() - cpu:.1f} s peak {peak[0]:.2f} GB",
        flush=True,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    r = n1_ttc(net, "AZ", "EU", base=base, **cases.N1_OPTIONS)
    print(
        f"n1_ttc AZ->EU: ttc {r.ttc_mw:.2f} MW published {r.ttc_published_mw:.2f} MW "
        f"checks {r.ac_checks} wall {time.perf_counter() - wall:.1f} s "
        f"cpu {time.process_time() - cpu:.1f} s peak {peak[0]:.2f} GB",
        flush=True,
    )


if __name__ == "__main__":
    main()
