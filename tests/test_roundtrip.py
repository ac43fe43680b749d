"""gridsim -> pandapower -> gridsim keeps the solution, and pandapower agrees."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_matches_pandapower, pandapower_case, run_pandapower

import gridsim

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "networks" / "examples" / "two_area_hvdc.yaml"


def _same_solution(a, b):
    np.testing.assert_allclose(a.bus.vm_pu.loc[b.bus.index], b.bus.vm_pu, atol=1e-9)
    np.testing.assert_allclose(a.bus.va_degree.loc[b.bus.index], b.bus.va_degree, atol=1e-7)
    pa = a.branch.p_from_mw.to_numpy()
    pb = b.branch.p_from_mw.to_numpy()
    np.testing.assert_allclose(np.sort(pa), np.sort(pb), atol=1e-6)


@pytest.mark.parametrize("q_limits", [False, True])
def test_yaml_network_round_trip_and_pandapower(q_limits):
    network = gridsim.load_network(EXAMPLE)
    res = gridsim.run_ac(network, enforce_q_limits=q_limits)
    net = gridsim.to_pandapower(network)
    run_pandapower(net, enforce_q_lims=q_limits)  # user_pf_options carry trafo_model
    # pandapower numbers buses 0..n-1 when gridsim ids are strings; names keep the ids
    by_name = net.res_bus.set_index(net.bus.name)
    np.testing.assert_allclose(res.bus.vm_pu.loc[by_name.index], by_name.vm_pu, atol=1e-6)
    np.testing.assert_allclose(res.bus.va_degree.loc[by_name.index], by_name.va_degree, atol=1e-5)
    np.testing.assert_allclose(
        res.hvdc.p_to_mw.to_numpy(), net.res_dcline.p_to_mw.to_numpy(), atol=1e-3
    )
    back = gridsim.from_pandapower(net)
    res_back = gridsim.run_ac(back, enforce_q_limits=q_limits)
    np.testing.assert_allclose(np.sort(res_back.bus.vm_pu), np.sort(res.bus.vm_pu), atol=1e-9)


@pytest.mark.parametrize("case", ["case14", "case118", "case1354pegase"])
def test_pandapower_case_round_trip(case):
    net = pandapower_case(case)
    first = gridsim.from_pandapower(net)
    res = gridsim.run_ac(first)
    again = gridsim.from_pandapower(gridsim.to_pandapower(first))
    _same_solution(gridsim.run_ac(again), res)


def test_to_pandapower_solves_the_same_in_pandapower():
    net = pandapower_case("case118")
    network = gridsim.from_pandapower(net)
    res = gridsim.run_ac(network)
    exported = run_pandapower(gridsim.to_pandapower(network))
    assert_matches_pandapower(res, exported)


@pytest.mark.parametrize("case", ["case118", "case300", "case8_quirks"])
def test_matpower_network_solves_the_same_in_pandapower(case):
    """MATPOWER cases (a 30 degree slack angle, transformer charging as shunts) exported
    with to_pandapower: pandapower finds the same voltages."""
    network = gridsim.read_matpower(ROOT / "tests" / "data" / "matpower" / f"{case}.m")
    res = gridsim.run_ac(network)
    net = run_pandapower(gridsim.to_pandapower(network))
    ids = net.bus.gridsim_id[net.res_bus.vm_pu.notna()]
    np.testing.assert_allclose(
        res.bus.vm_pu.loc[ids.values], net.res_bus.vm_pu.loc[ids.index], atol=1e-6
    )
    np.testing.assert_allclose(
        res.bus.va_degree.loc[ids.values], net.res_bus.va_degree.loc[ids.index], atol=1e-5
    )


def _element_counts(net) -> dict:
    return {
        k: len(v)
        for k, v in net.items()
        if isinstance(v, pd.DataFrame) and not k.startswith(("_", "res_")) and len(v)
    }


@pytest.mark.parametrize(
    "name", ["example_multivoltage", "example_simple", "mv_oberrhein", "cigre_mv_all_der"]
)
def test_pandapower_elements_survive_a_round_trip(name):
    """to_pandapower(from_pandapower(net)) keeps every element of nets with switches,
    trafo3w, impedance, xward, storage (issue 16) and pandapower finds the same voltages."""
    import pandapower.networks as pn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = (
            pn.create_cigre_network_mv(with_der="all")
            if name == "cigre_mv_all_der"
            else getattr(pn, name)()
        )
        back = gridsim.to_pandapower(gridsim.from_pandapower(net))
    kept = {k: v for k, v in _element_counts(back).items() if k in _element_counts(net)}
    assert kept == _element_counts(net)
    run_pandapower(net, init="dc")
    run_pandapower(back, init="dc")
    np.testing.assert_allclose(back.res_bus.vm_pu.loc[net.bus.index], net.res_bus.vm_pu, atol=1e-9)
    np.testing.assert_allclose(
        back.res_bus.va_degree.loc[net.bus.index], net.res_bus.va_degree, atol=1e-7
    )


def test_round_trip_of_a_net_with_every_element_type():
    """Fused buses, open switches at each end of a trafo3w, ward, motor, constant-impedance
    load: back in pandapower, the same elements and voltages."""
    import pandapower as pp

    net = pp.create_empty_network()
    hv, mv, lv, a = (pp.create_bus(net, v) for v in (110, 20, 10, 20))
    pp.create_ext_grid(net, hv)
    t = pp.create_transformer3w(net, hv, mv, lv, "63/25/38 MVA 110/20/10 kV")
    net.trafo3w.loc[t, ["tap_side", "tap_pos"]] = ["lv", 3]
    pp.create_switch(net, mv, a, et="b")
    pp.create_switch(net, lv, t, et="t3", closed=False)
    pp.create_load(net, a, p_mw=5, q_mvar=1, const_z_p_percent=40)
    pp.create_ward(net, mv, ps_mw=1, qs_mvar=0.2, pz_mw=0.1, qz_mvar=0.1)
    pp.create_motor(net, a, pn_mech_mw=0.5, cos_phi=0.9, efficiency_percent=95)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = gridsim.to_pandapower(gridsim.from_pandapower(net))
    assert _element_counts(back) == _element_counts(net)
    run_pandapower(net)
    run_pandapower(back)
    np.testing.assert_allclose(back.res_bus.vm_pu.loc[net.bus.index], net.res_bus.vm_pu, atol=1e-9)
