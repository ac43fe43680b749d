"""N-1-secure transfer capability of the corridor model (issue 4, acceptance 5).

Group ``transfer-corridor``: ``transfer_capability(network, "AZ", "RS", n_1=True)`` on
``networks/caspian_eu.yaml`` in its 2032 scenario, everything included (the dispatch
copies, every AC trial with its branch and HVDC outages, the linear program of the HVDC
split, the result tables). The network file is read once, untimed. The warm figure runs
after one untimed call (JIT and solver caches); ``test_transfer_2032_first_call`` times a
fresh process (network file read and the first call, Numba's disk cache warm) with
``extra_info["seconds"]``. Target: under 5 s on 2 cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODEL = Path(__file__).resolve().parents[1] / "networks" / "caspian_eu.yaml"
TARGET_S = 5.0


def _network():
    import gridsim

    return gridsim.load_network(MODEL, scenario="2032")


def test_transfer_2032_n_1_warm(benchmark):
    from gridsim.analysis.transfer import transfer_capability

    network = _network()
    first = transfer_capability(network, "AZ", "RS", n_1=True)  # JIT and caches
    benchmark.group = "transfer-corridor"
    result = benchmark.pedantic(
        transfer_capability, (network, "AZ", "RS"), {"n_1": True}, rounds=5, iterations=1
    )
    assert result.ttc_mw == first.ttc_mw
    benchmark.extra_info["ttc_mw"] = result.ttc_mw
    benchmark.extra_info["limit"] = (
        f"{result.limit_type} {result.limiting_element} after {result.limiting_contingency}"
    )
    benchmark.extra_info["ac_trials"] = len(result.curve)
    benchmark.extra_info["outages_studied"] = result.contingencies_studied
    assert benchmark.stats.stats.median < TARGET_S


CODE = f"""
import time
t0 = time.perf_counter()
import gridsim
net = gridsim.load_network({str(MODEL)!r}, scenario="2032")
t1 = time.perf_counter()
r = gridsim.transfer_capability(net, "AZ", "RS", n_1=True)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def test_transfer_2032_first_call(benchmark):
    """A fresh process: import and file read, then the first transfer call (seconds)."""
    benchmark.group = "transfer-corridor-cold"

    def run():
        out = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
        )
        return [float(x) for x in out.stdout.split()]

    load_s, first_s = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["import_and_read_s"] = load_s
    benchmark.extra_info["first_call_s"] = first_s
