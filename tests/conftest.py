"""Shared fixtures: pandapower reference cases and comparison helpers."""

from __future__ import annotations

import copy
import shutil
import warnings
from functools import cache

import numpy as np
import pytest

pp = pytest.importorskip("pandapower", reason="pandapower is the reference")
import pandapower.networks as pn  # noqa: E402

# pandapower's bundled cases the core is validated on (case6515rte only from a DC start)
PANDAPOWER_CASES = [
    "case9",
    "case14",
    "case30",
    "case57",
    "case118",
    "case300",
    "case1354pegase",
    "case2869pegase",
    "case9241pegase",
    "GBnetwork",
]

# A two-bus gridsim network file: the base that the bad-input tests mutate.
GOOD = """\
gridsim: 1
bus:
  - {id: A, vn_kv: 400}
  - {id: B, vn_kv: 400}
line:
  - {id: L1, from_bus: A, to_bus: B, length_km: 100, r_ohm_per_km: 0.03, x_ohm_per_km: 0.3}
ext_grid:
  - {id: G, bus: A}
load:
  - {id: D, bus: B, p_mw: 300, q_mvar: 50}
"""

# Tolerances of the core issue, in the quantities' units.
TOL_VM_PU = 1e-6
TOL_VA_DEG = 1e-5
TOL_P_MW = 1e-3


@cache
def _case(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(pn, name)()


def pandapower_case(name: str):
    """A fresh copy of a pandapower bundled case (loaded once per session)."""
    return copy.deepcopy(_case(name))


def run_pandapower(net, **kwargs):
    """pandapower's own Newton-Raphson: never lightsim2grid, angles always on."""
    options = dict(
        lightsim2grid=False,
        calculate_voltage_angles=True,
        init="flat",
        tolerance_mva=1e-8,
        max_iteration=30,
    )
    options.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, **options)
    return net


def assert_matches_pandapower(res, net, *, tol_vm=TOL_VM_PU, tol_va=TOL_VA_DEG, tol_p=TOL_P_MW):
    """Compare a gridsim AC result with ``net.res_*`` element by element."""
    energized = net.res_bus.vm_pu.notna()
    buses = net.res_bus.index[energized]
    dvm = np.abs(res.bus.vm_pu.loc[buses].to_numpy() - net.res_bus.vm_pu.loc[buses].to_numpy())
    dva = np.abs(
        res.bus.va_degree.loc[buses].to_numpy() - net.res_bus.va_degree.loc[buses].to_numpy()
    )
    assert dvm.max() <= tol_vm, f"|dVm| = {dvm.max():.2e} p.u. at bus {buses[dvm.argmax()]}"
    assert dva.max() <= tol_va, f"|dVa| = {dva.max():.2e} deg at bus {buses[dva.argmax()]}"
    for element, sides in (("line", ("from", "to")), ("trafo", ("hv", "lv"))):
        ref = net[f"res_{element}"]
        ours = getattr(res, element)
        ids = net[element].index[
            net[element].in_service & ref.p_from_mw.notna()
            if element == "line"
            else net[element].in_service
        ]
        for side in sides:
            for q in ("p", "q"):
                unit = "mw" if q == "p" else "mvar"
                col = f"{q}_{side}_{unit}"
                d = np.abs(ours[col].loc[ids].to_numpy() - ref[col].loc[ids].to_numpy())
                if d.size:
                    assert d.max() <= tol_p, (
                        f"{element} {col}: |d| = {d.max():.2e} at {ids[d.argmax()]}"
                    )


def run_cli(args, capsys):
    """Run ``gridsim`` in-process; returns ``(status, stdout, stderr)``."""
    from gridsim.cli import main

    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(err: str) -> str:
    """The single ``gridsim: error: ...`` line of ``err`` (no traceback, nothing else)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("gridsim: error: ")
    return lines[0]


def chromium() -> str | None:
    """A headless-capable Chromium or Chrome on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None
