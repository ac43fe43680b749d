"""``gridsim.pandapower.rundcpp`` against ``pandapower.rundcpp``: the active-power and
angle columns pandapower's DC power flow writes (its reactive columns are left unset)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from pp_dropin import pp, tolerance

import gridsim.pandapower as gp

pn = pytest.importorskip("pandapower.networks")

COLUMNS = {
    "res_bus": ("va_degree", "p_mw"),
    "res_line": ("p_from_mw", "p_to_mw", "i_ka", "loading_percent"),
    "res_trafo": ("p_hv_mw", "p_lv_mw", "loading_percent"),
    "res_ext_grid": ("p_mw",),
    "res_gen": ("p_mw",),
    "res_load": ("p_mw",),
    "res_sgen": ("p_mw",),
}


@pytest.mark.parametrize(
    "name", ["example_simple", "example_multivoltage", "case118", "mv_oberrhein"]
)
def test_rundcpp_matches_pandapower(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = getattr(pn, name)()
        ref, ours = copy.deepcopy(net), copy.deepcopy(net)
        pp.rundcpp(ref)
        gp.rundcpp(ours)
    assert ours.converged
    for table, columns in COLUMNS.items():
        if not len(ref[table]):
            continue
        for col in columns:
            x, y = ref[table][col].to_numpy(float), ours[table][col].to_numpy(float)
            d = x - y
            if col.startswith("va"):  # gridsim reports angles within +-180 degrees
                d = (d + 180) % 360 - 180
            np.testing.assert_array_equal(np.isnan(x), np.isnan(y), err_msg=f"{table}.{col}")
            assert np.nanmax(np.abs(d), initial=0) <= tolerance(col), f"{table}.{col}"
