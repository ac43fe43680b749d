"""AC sensitivity of branch MVA loading to bus injections (issue 17, finding 1) against
central differences of AC re-solves: an extra static generator of +-``STEP_MW`` (or Mvar)
at each bus in turn, the slack taking the change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import pandapower_case

import gridsim
from gridsim.analysis.ac_sensitivity import branch_mva_sensitivity, bus_voltage_sensitivity
from gridsim.analysis.scopf import LinearisedGrid
from gridsim.analysis.scopf import lp as scopf_lp
from gridsim.exceptions import GridsimError
from gridsim.model.compile import LINE, PQ, PV

# 0.01 MW keeps the differences' curvature error below 2e-5 MVA/MW (1 MW gives up to
# 4e-3 on case14: |S| bends where a branch's flow is small) and the solves' own error
# (1e-8 MVA mismatch) near 1e-6
STEP_MW = 0.01
TOL = 1e-4  # MVA per MW (per Mvar)


def _mva(res) -> np.ndarray:
    return np.maximum(np.abs(res._s_from), np.abs(res._s_to))


def _vm(res) -> np.ndarray:
    return np.abs(res.v)


def _differences(net, res, q_limits: bool, measure=_mva) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of ``measure`` (default every branch's MVA) per MW and per
    Mvar at each bus."""
    cn = res.cn
    out = np.zeros((2, measure(res).size, cn.n_bus))
    for k, bus in enumerate(cn.bus_ids):
        for part in range(2):
            mva = []
            for sign in (1.0, -1.0):
                moved = net.copy()
                p, q = (sign * STEP_MW, 0.0) if part == 0 else (0.0, sign * STEP_MW)
                moved.sgen.loc[9999] = dict(
                    name="probe", bus=bus, p_mw=p, q_mvar=q, min_p_mw=np.nan,
                    max_p_mw=np.nan, in_service=True,
                )  # fmt: skip
                moved.invalidate()
                again = gridsim.run_ac(moved, enforce_q_limits=q_limits)
                assert again.converged
                assert np.array_equal(again.bus_type, res.bus_type)  # no switching
                mva.append(measure(again))
            out[part, :, k] = (mva[0] - mva[1]) / (2 * STEP_MW)
    return out[0], out[1]


def _limited(net):
    """case14 with generator 1's reactive limit below its output: its bus 2 turns PQ."""
    net.gen.loc[1, "max_q_mvar"] = 20.0
    net.invalidate()
    return net


def _zip(net):
    """case14 with every load half constant impedance, a fifth constant current."""
    for part in ("p", "q"):
        net.load[f"const_z_{part}_percent"] = 50.0
        net.load[f"const_i_{part}_percent"] = 20.0
    net.invalidate()
    return net


# the cases: plain, a unit switched to PQ at its reactive limit, ZIP loads
CASES = [
    ("case14", None, False),
    ("case30", None, False),
    ("case14", _limited, True),
    ("case14", _zip, False),
]


def _solved(name: str, change, q_limits: bool):
    net = gridsim.from_pandapower(pandapower_case(name))
    if change is not None:
        net = change(net)
    res = gridsim.run_ac(net, enforce_q_limits=q_limits)
    assert res.converged
    return net, res


@pytest.mark.parametrize("name, change, q_limits", CASES)
def test_mva_sensitivity_matches_ac_re_solves(name, change, q_limits):
    net, res = _solved(name, change, q_limits)
    if change is _limited:
        assert res.bus_type[res.cn.bus_ids.get_loc(2)] == PQ  # switched at its limit
    zip_loads = net.compile().voltage_dependence()
    d_p, d_q = branch_mva_sensitivity(res, np.arange(res.cn.n_branch), voltage_dependence=zip_loads)
    fd_p, fd_q = _differences(net, res, q_limits)
    assert np.abs(d_p - fd_p).max() < TOL
    assert np.abs(d_q - fd_q).max() < TOL
    if change is _zip:  # the loads' voltage dependence matters (3e-2 MVA/MW here)
        at_constant_power, _ = branch_mva_sensitivity(res, np.arange(res.cn.n_branch))
        assert np.abs(at_constant_power - fd_p).max() > 100 * TOL
    assert np.abs(d_p).max() > 0.5  # not trivially zero
    # the slack's own injection moves nothing; nor does Q at a voltage-held bus
    held = res.bus_type != PQ
    assert not d_p[:, res.bus_type == 3].any() and not d_q[:, held].any()
    assert (res.bus_type == PV).any()


# |V| bends less than |S| near a zero flow: the same step, a tighter bound
VM_TOL = 1e-6  # p.u. per MW (per Mvar)


@pytest.mark.parametrize("name, change, q_limits", CASES)
def test_voltage_sensitivity_matches_ac_re_solves(name, change, q_limits):
    net, res = _solved(name, change, q_limits)
    zip_loads = net.compile().voltage_dependence()
    buses = np.arange(res.cn.n_bus)
    d_p, d_q = bus_voltage_sensitivity(res, buses, voltage_dependence=zip_loads)
    fd_p, fd_q = _differences(net, res, q_limits, _vm)
    assert np.abs(d_p - fd_p).max() < VM_TOL
    assert np.abs(d_q - fd_q).max() < VM_TOL
    assert np.abs(d_q).max() > 1e-4  # not trivially zero (p.u. per Mvar)
    if change is _zip:
        at_constant_power, _ = bus_voltage_sensitivity(res, buses)
        assert np.abs(at_constant_power - fd_p).max() > 10 * VM_TOL
    # a voltage-held bus does not move; the slack's own injection moves nothing
    held = res.bus_type != PQ
    assert not d_p[held].any() and not d_q[held].any()
    assert not d_p[:, res.bus_type == 3].any() and not d_q[:, held].any()
    some, _ = bus_voltage_sensitivity(res, [7, 3], voltage_dependence=zip_loads)
    np.testing.assert_allclose(some, d_p[[7, 3]], rtol=0, atol=1e-15)
    with pytest.raises(GridsimError, match="converged AC"):
        bus_voltage_sensitivity(gridsim.run_dc(net), [0])


def test_mva_sensitivity_of_some_branches_and_its_errors():
    net = gridsim.from_pandapower(pandapower_case("case14"))
    res = gridsim.run_ac(net)
    d_p, _ = branch_mva_sensitivity(res, np.arange(res.cn.n_branch))
    some, _ = branch_mva_sensitivity(res, [5, 2])
    np.testing.assert_allclose(some, d_p[[5, 2]], rtol=0, atol=1e-12)
    with pytest.raises(GridsimError, match="converged AC"):
        branch_mva_sensitivity(gridsim.run_dc(net), [0])


def _seed0_lp(**grid_options):
    """``test_ttc_optimality``'s case14 seed-0 pair with three links at 5 MW (away from
    0, where the links' losses change ends), the outage of line 1002 solved in AC, and
    the transfer LP on their linearisation: ``(net, source keys, sink keys, links,
    outage, base result, grid, lp)``."""
    from test_ttc_optimality import joined, shift_keys

    net = joined("case14", 0, 3)
    net.hvdc["p_mw"] = 5.0
    net.invalidate()
    src, snk = shift_keys(net)
    links = list(net.hvdc.index)
    outage = next(o for o in gridsim.ordinary_contingencies(net) if o.label == "line 1002")
    res = gridsim.run_ac(net)
    post = gridsim.solve_outage(net, outage, base=res)
    grid = LinearisedGrid(net, res, outages=[outage], post_results=[post], **grid_options)
    lp = scopf_lp._Lp(
        grid, source=src, sink=snk, sink_element="load", hvdc=links,
        redispatch=pd.Series(dtype=float), interfaces=[], max_mw=None, transfer=True,
    )  # fmt: skip
    return net, src, snk, links, outage, res, grid, lp


def test_transfer_lp_holds_near_limit_rows_on_the_ac_mva_sensitivity(monkeypatch):
    """The transfer LP's MVA row of line 1005 after line 1002 (``test_ttc_optimality``'s
    case14 seed-0 pair with three links; every row an MVA row here) has, per MW of the
    transfer and of each link's setpoint, the MVA change of AC re-solves of the dispatch
    and the outage; the links' coefficients differ (their MW rows' would not)."""
    from test_ttc_optimality import dispatch

    monkeypatch.setattr(scopf_lp, "MVA_LOADING", 0.0)
    net, src, snk, links, outage, res, grid, lp = _seed0_lp()
    k = int(np.flatnonzero((res.cn.br_kind == LINE) & (res.cn.br_id == 1005))[0])
    row = np.flatnonzero((lp.kind == scopf_lp.N1) & (lp.element == k))
    assert row.size == 1 and lp.mva_of[row[0]] >= 0
    coef = lp.coefs(row)[0]

    def mva(t: float, hvdc_mw: dict) -> float:
        moved = dispatch(net, src, snk, hvdc_mw, t)
        after = gridsim.solve_outage(moved, outage, base=gridsim.run_ac(moved)).power_flow
        return float(np.maximum(np.abs(after._s_from[k]), np.abs(after._s_to[k])))

    assert lp.const[row[0]] == pytest.approx(mva(0.0, {}), abs=1e-9)
    fd = [(mva(STEP_MW, {}) - mva(-STEP_MW, {})) / (2 * STEP_MW)]
    for lid in links:
        up, down = (mva(0.0, {lid: 5.0 + sign * STEP_MW}) for sign in (1.0, -1.0))
        fd.append((up - down) / (2 * STEP_MW))
    np.testing.assert_allclose(coef, fd, rtol=0, atol=TOL)
    assert np.ptp(coef[1:]) > 0.02  # MVA per MW through H0, H1, H2
    assert np.ptp(lp.sens[k, 1:] + grid.term_a[0, k] * lp.g_rows[0, 1:]) < 1e-9  # MW: equal


def test_transfer_lp_voltage_row_matches_ac_re_solves():
    """A voltage row of the transfer LP (bus 1013 after line 1002 on
    ``test_ttc_optimality``'s case14 seed-0 pair with three links, and the same bus
    intact) has, per MW of the transfer and of each link's setpoint, the voltage change
    of AC re-solves of the dispatch and the outage; its constant is the AC voltage."""
    from test_ttc_optimality import dispatch

    watch = [(("line", 1002, 1), 1013), (None, 1013), ("line 1002", 1004)]  # key, label
    net, src, snk, links, outage, res, grid, lp = _seed0_lp(voltage_watch=watch)
    rows = np.flatnonzero(lp.kind == scopf_lp.VOLTAGE)
    table = lp.label(rows)
    assert sorted(zip(table.contingency.fillna(""), table.id, strict=True)) == [
        ("", 1013),
        ("line 1002", 1004),
        ("line 1002", 1013),
    ]
    coef = lp.coefs(rows)
    at = res.cn.bus_ids.get_indexer([1013])[0]

    def vm(t: float, hvdc_mw: dict, after: bool) -> float:
        moved = dispatch(net, src, snk, hvdc_mw, t)
        pf = gridsim.run_ac(moved)
        if after:
            pf = gridsim.solve_outage(moved, outage, base=pf).power_flow
        return float(np.abs(pf.v[at]))

    for k, row in enumerate(rows):
        if table.id[k] != 1013:
            continue
        after = table.contingency[k] is not None
        assert lp.const[row] == pytest.approx(vm(0.0, {}, after), abs=1e-12)
        fd = [(vm(STEP_MW, {}, after) - vm(-STEP_MW, {}, after)) / (2 * STEP_MW)]
        for lid in links:
            up, down = (vm(0.0, {lid: 5.0 + sign * STEP_MW}, after) for sign in (1.0, -1.0))
            fd.append((up - down) / (2 * STEP_MW))
        np.testing.assert_allclose(coef[k], fd, rtol=0, atol=VM_TOL)
        assert np.abs(coef[k]).max() > 1e-4  # p.u. per MW: not trivially zero
