"""Helpers of the pandapower drop-in tests: solve a net with pandapower and with
``gridsim.pandapower.runpp`` from the same start and compare every result table.

Tolerances (issue 16): |dVm| <= 1e-6 p.u., |dVa| <= 1e-5 degrees, P/Q <= 1e-3 MW/Mvar,
loading <= 1e-3 %, currents <= 1e-6 kA, reactances <= 1e-6 ohm or 1e-6 of their value (an
svc's or tcsc's reactance follows from its reactive power or flow, which both power flows
solve to about 1e-9 of its size).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest

pp = pytest.importorskip("pandapower")

import gridsim.pandapower as gp  # noqa: E402

TOLERANCE = {"_pu": 1e-6, "_degree": 1e-5, "_mw": 1e-3, "_mvar": 1e-3, "_percent": 1e-3}
TOLERANCE.update(_ka=1e-6, _ohm=1e-6)


def tolerance(column: str) -> float:
    return next(t for suffix, t in TOLERANCE.items() if column.endswith(suffix))


def filled_tables(net) -> list[str]:
    """The result tables a power flow filled (non-empty, three-phase ones aside)."""
    return [
        k
        for k, v in net.items()
        if k.startswith("res_") and isinstance(v, pd.DataFrame) and len(v) and "_3ph" not in k
    ]


def solve_both(net, **kwargs):
    """``(pandapower's net, gridsim's net)``, each solved on its own copy of ``net``.

    Raises pandapower.LoadflowNotConverged (after checking that gridsim raises it too)
    when pandapower's power flow diverges.
    """
    ref, ours = copy.deepcopy(net), copy.deepcopy(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pp.runpp(ref, lightsim2grid=False, **kwargs)
        except pp.LoadflowNotConverged:
            with pytest.raises(pp.LoadflowNotConverged):
                gp.runpp(ours, **kwargs)
            assert ours.converged is False
            raise
        gp.runpp(ours, **kwargs)
    assert ours.converged is True
    return ref, ours


def assert_same_results(ref, ours, *, skip: tuple[str, ...] = ()) -> None:
    """Every table ``ref`` holds results in: same columns, index and values."""
    problems = []
    for key in filled_tables(ref):
        if key not in ours:
            problems.append(f"{key} missing")
            continue
        a, b = ref[key], ours[key]
        if list(a.columns) != list(b.columns) or not a.index.equals(b.index):
            problems.append(f"{key}: columns {list(b.columns)}, index {list(b.index[:5])}...")
            continue
        for col in a.columns:
            if f"{key}.{col}" in skip:
                continue
            x, y = a[col].to_numpy(float), b[col].to_numpy(float)
            nan = np.isnan(x) != np.isnan(y)
            d = np.nan_to_num(np.abs(x - y))
            scale = np.maximum(np.nan_to_num(np.abs(x)), 1.0) if col.endswith("_ohm") else 1.0
            bad = nan | (d > tolerance(col) * scale)
            if bad.any():
                i = np.flatnonzero(bad)[0]
                problems.append(
                    f"{key}.{col}: {bad.sum()} rows, e.g. {a.index[i]}: pandapower {x[i]!r}, "
                    f"gridsim {y[i]!r}"
                )
    assert not problems, "\n".join(problems)


def check(net, **kwargs):
    """Solve with both and compare; returns gridsim's solved net."""
    ref, ours = solve_both(net, **kwargs)
    assert_same_results(ref, ours)
    return ours
