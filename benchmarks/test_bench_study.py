"""The full study on the substation-level model (issue 19, acceptance 7: at most 120 s on
2 cores).

Group ``study-substation``: ``gridsim study --network networks/corridor_substation.yaml
--workers 2`` in a fresh process (imports, the file read, the workers' start, every case,
the figures and the report; the Numba cache warm from an untimed ``--quick`` run of the
96-bus model), one round; ``-quick``: the same with ``--quick``. ``extra_info``: the
cases, the N-0 and N-1 TTC calls of the headline, route and reinforcement cases with
their summed and largest seconds (each as its worker measured it; the Niš sites' TTCs
are not broken down), the load average. The N-1 TTC calls (:func:`gridsim.analysis.ttc.n1_ttc`)
take nearly all of the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "networks" / "corridor_substation.yaml"
TARGET_S = 120.0


def _study(out: Path, *options: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gridsim.cli", "study", "--no-progress", "--out", str(out)]
        + list(options),
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=6 * 3600,
    )
    return time.perf_counter() - t0


@pytest.fixture(scope="module")
def warm(tmp_path_factory) -> None:
    """Compile the kernels into Numba's cache (untimed)."""
    out = tmp_path_factory.mktemp("warm") / "study"
    _study(out, "--quick", "--network", str(ROOT / "networks" / "caspian_eu.yaml"))


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
def test_study_substation(benchmark, warm, tmp_path, quick):
    out = tmp_path / "study"
    options = ["--network", str(MODEL), "--workers", "2"] + (["--quick"] if quick else [])
    benchmark.group = "study-substation" + ("-quick" if quick else "")
    seconds = benchmark.pedantic(_study, (out, *options), rounds=1, iterations=1)
    meta = json.loads((out / "meta.json").read_text())
    rows = pd.concat(
        [
            pd.read_parquet(out / "data" / f"{name}.parquet")
            for name in ("headline", "routes", "reinforcements")
        ]
    )
    rows = rows.drop_duplicates(["year", "sink", "n_1", "case", "route"])
    sites = pd.read_parquet(out / "data" / "nis_sites.parquet")
    info = {
        "seconds": seconds,
        "target_s": TARGET_S,
        "cases": meta["cases"],
        "site_cases": len(sites),
        "load_average": os.getloadavg(),
    }
    for n_1, name in ((False, "n0"), (True, "n1")):
        s = rows[rows.n_1.astype(bool) == n_1]["seconds"].dropna()
        info[f"{name}_calls"] = len(s)
        info[f"{name}_seconds_sum"] = float(s.sum())
        info[f"{name}_seconds_max"] = float(s.max()) if len(s) else 0.0
    benchmark.extra_info.update(info)
