"""DC sensitivities (issue 4): PTDF, zone PTDF, LODF, HVDC outages and the N-1 table
against DC re-solves, on pandapower cases and on the corridor model."""

from __future__ import annotations

import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import pandapower_case

import gridsim
from gridsim.analysis.sensitivity import (
    dc_contingency,
    dc_n1_flows,
    hvdc_ptdf,
    lodf,
    ptdf,
    zone_ptdf,
)
from gridsim.exceptions import GridsimError, InvalidNetworkError
from gridsim.model.compile import NONE, REF
from gridsim.numerics.dc import bbus_values, dc_branch_parameters
from gridsim.solvers.ptdf import DcFactor, lodf_from_ptdf, post_outage_flows
from gridsim.solvers.sparse_lu import NumbaLU

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "networks" / "caspian_eu.yaml"
TOL_MW = 1e-6
N_SAMPLE = 30


def _network(name: str):
    if name == "corridor":
        return gridsim.load_network(MODEL, scenario="2032")
    return gridsim.from_pandapower(pandapower_case(name))


def _dc_flows(network) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gridsim.run_dc(network)
    assert res.converged, res.message
    return res.branch.p_from_mw


def _bridges(cn) -> set[int]:
    """Branches whose removal cuts buses off every fixed angle: the bridges of the branch
    graph with all slack (and de-energised) buses joined to one ground node."""
    g = nx.MultiGraph()
    ground = -1
    fixed = (cn.bus_type == REF) | (cn.bus_type == NONE)
    g.add_nodes_from(range(cn.n_bus))
    g.add_edges_from((ground, b) for b in np.flatnonzero(fixed))
    for k, (f, t) in enumerate(zip(cn.br_f, cn.br_t, strict=True)):
        g.add_edge(int(f), int(t), key=("branch", k))
    out = set()
    for u, v in nx.bridges(g):
        keys = list(g[u][v])
        if len(keys) == 1 and isinstance(keys[0], tuple):
            out.add(keys[0][1])
    return out


# -- PTDF ------------------------------------------------------------------------------


def _load_at(network, zone_or_none, island_of, cn):
    """A load with p > 0 in the given island (and zone, when given)."""
    load = network.load[network.load.in_service & (network.load.p_mw > 0)]
    for lid, row in load.iterrows():
        k = cn.bus_ids.get_loc(row.bus)
        if cn.island[k] != island_of:
            continue
        if zone_or_none is None or network.bus.zone[row.bus] == zone_or_none:
            return lid, row.bus
    raise AssertionError("no such load")


def _check_ptdf_against_resolve(network, cases, delta=37.5):
    factors = ptdf(network)
    base = _dc_flows(network)
    for lid, bus in cases:
        p0 = network.load.p_mw[lid]
        network.set("load", lid, "p_mw", p0 + delta)
        flows = _dc_flows(network)
        network.set("load", lid, "p_mw", p0)
        predicted = base + factors[bus] * (-delta)
        err = (flows - predicted.reindex(flows.index)).abs().max()
        assert err <= TOL_MW, f"load {lid!r} at bus {bus!r}: {err:.3e} MW"
        assert (flows - base).abs().max() > 1e-3  # the change did move flows


@pytest.mark.parametrize("case", ["case118", "case1354pegase"])
def test_ptdf_times_injection_change_equals_dc_resolve(case):
    net = _network(case)
    cn = net.compile()
    load = net.load[net.load.in_service & (net.load.p_mw > 0)]
    picks = load.index[[0, len(load) // 2, len(load) - 1]]
    cases = [(lid, load.bus[lid]) for lid in picks]
    assert all(cn.bus_type[cn.bus_ids.get_loc(b)] != REF for _, b in cases)
    _check_ptdf_against_resolve(net, cases)


def test_ptdf_corridor_both_islands():
    net = _network("corridor")
    cn = net.compile()
    assert len(cn.islands) == 2
    ce = cn.island[cn.bus_ids.get_loc("EU_CE_SINK")]
    ups = 1 - ce
    cases = [
        _load_at(net, "AZ", ups, cn),
        _load_at(net, "GE", ups, cn),
        _load_at(net, "RS", ce, cn),
    ]
    _check_ptdf_against_resolve(net, cases)
    # a column is zero outside its bus's island, and at the slacks
    factors = ptdf(net)
    island_of_branch = cn.island[cn.br_f]
    for _, bus in cases:
        other = island_of_branch != cn.island[cn.bus_ids.get_loc(bus)]
        assert np.all(factors[bus].to_numpy()[other] == 0.0)
    slacks = cn.bus_ids[cn.bus_type == REF]
    assert np.all(factors[slacks].to_numpy() == 0.0)


def test_ptdf_bus_subset_and_compiled_network_agree():
    net = _network("case118")
    cn = net.compile()
    full = ptdf(net)
    assert full.shape == (cn.n_branch, cn.n_bus)
    assert list(full.index.names) == ["element", "id"]
    sub = ptdf(cn, buses=[5, 20, 70])
    pd.testing.assert_frame_equal(sub, full[[5, 20, 70]])
    assert "dc_sensitivity" in cn._cache and "dc_lu" in cn._cache
    with pytest.raises(GridsimError, match="not in-service buses"):
        ptdf(net, buses=[123456])


def test_ptdf_matches_matpower_formula_and_superlu_fallback():
    """Numba kernel against a dense ``Bf B_r^-1`` (MATPOWER's makePTDF), also via SuperLU."""
    cn = _network("case30").compile()
    b, _ = dc_branch_parameters(cn.br_ys, cn.br_tap)
    bdata = bbus_values(cn.indices.size, cn.ypos, cn.ydiag, b)
    fixed = (cn.bus_type == REF) | (cn.bus_type == NONE)
    bbus = np.zeros((cn.n_bus, cn.n_bus))
    rows = np.repeat(np.arange(cn.n_bus), np.diff(cn.indptr))
    bbus[rows, cn.indices] = bdata
    free = np.flatnonzero(~fixed)
    bf = np.zeros((cn.n_branch, cn.n_bus))
    bf[np.arange(cn.n_branch), cn.br_f] = b
    bf[np.arange(cn.n_branch), cn.br_t] = -b
    dense = np.zeros((cn.n_branch, cn.n_bus))
    dense[:, free] = bf[:, free] @ np.linalg.inv(bbus[np.ix_(free, free)])
    for fallback in (False, True):
        lu = NumbaLU(cn.indptr, cn.indices, cn.n_bus, order=cn.bus_order())
        if fallback:
            lu.use_fallback()
        factor = DcFactor(cn.indptr, cn.indices, cn.ydiag, bdata, fixed, b, cn.br_f, cn.br_t, lu)
        got = factor.bus_ptdf(np.arange(cn.n_bus)).T
        np.testing.assert_allclose(got, dense, atol=1e-12)
        # makeLODF: H = PTDF Cft', LODF = H / (1 - diag(H)), diagonal -1
        lodf_t, isl = lodf_from_ptdf(got.T.copy(), cn.br_f, cn.br_t, np.arange(cn.n_branch), 1e-9)
        h = dense[:, cn.br_f] - dense[:, cn.br_t]
        den = 1.0 - np.diag(h)
        assert np.array_equal(isl, np.abs(den) < 1e-9)
        ok = ~isl
        expected = h[:, ok] / den[ok]
        expected[np.flatnonzero(ok), np.arange(ok.sum())] = -1.0
        np.testing.assert_allclose(lodf_t[ok].T, expected, atol=1e-10)
        assert np.isnan(lodf_t[isl]).all()


# -- LODF ------------------------------------------------------------------------------


def _outage_sample(cn, case: str) -> np.ndarray:
    if case == "case14":
        return np.arange(cn.n_branch)
    rng = np.random.default_rng(4)
    return np.sort(rng.choice(cn.n_branch, size=min(N_SAMPLE, cn.n_branch), replace=False))


@pytest.mark.parametrize("case", ["case14", "case118", "case1354pegase", "corridor"])
def test_lodf_post_outage_flows_equal_dc_resolve(case):
    net = _network(case)
    cn = net.compile()
    base = _dc_flows(net)
    # islanding flags are exactly the bridges that cut buses off their slack
    _, islanding_all = lodf(cn)
    bridges = _bridges(cn)
    assert set(np.flatnonzero(islanding_all.to_numpy())) == bridges
    picks = _outage_sample(cn, case)
    index = base.index
    outages = list(index[picks])
    factors, islanding = lodf(net, outages)
    assert factors.shape == (cn.n_branch, len(outages))
    n_checked = 0
    for k, (element, eid) in zip(picks, outages, strict=True):
        column = factors[(element, eid)]
        net.set(element, eid, "in_service", False)
        try:
            if islanding[(element, eid)]:
                assert column.isna().all()
                # the re-solve loses a slack: an error, or buses de-energised
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        cut = net.compile()
                    assert (cut.bus_type == NONE).sum() > (cn.bus_type == NONE).sum()
                except InvalidNetworkError:
                    pass
                continue
            flows = _dc_flows(net)
        finally:
            net.set(element, eid, "in_service", True)
        assert column[(element, eid)] == -1.0
        predicted = base + column * base.iloc[k]
        predicted = predicted.drop((element, eid))
        err = (flows - predicted.reindex(flows.index)).abs().max()
        assert err <= TOL_MW, f"outage of {element} {eid!r}: {err:.3e} MW"
        n_checked += 1
    assert n_checked >= min(10, len(outages) - int(islanding.sum()))
    assert n_checked > 0


def test_lodf_islanding_radial_line_flagged_not_divided():
    net = _network("case14")
    cn = net.compile()
    # bus 7 (0-based) hangs on one transformer only: taking it out islands bus 7
    radial = [k for k in range(cn.n_branch) if 7 in (cn.br_f[k], cn.br_t[k])]
    assert len(radial) == 1
    key = tuple(_branch_key(cn, radial[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division-by-zero warnings
        factors, islanding = lodf(net, [key])
    assert islanding[key] and factors[key].isna().all()
    table = dc_contingency(net, [key])
    assert (table.status == "islanded").all() and table.p_mw.isna().all()


def _branch_key(cn, k):
    return ("line" if cn.br_kind[k] == 0 else "trafo", cn.br_id[k])


def test_lodf_rejects_hvdc_and_unknown_outages():
    net = _network("case14")
    with pytest.raises(GridsimError, match="dc_contingency"):
        lodf(net, [("hvdc", "x")])
    with pytest.raises(GridsimError, match="not in-service branches"):
        lodf(net, [("line", 999)])


# -- HVDC ------------------------------------------------------------------------------


def _active_links(net):
    hv = net.hvdc
    return list(hv.index[hv.in_service & (hv.p_mw != 0)])


def test_hvdc_outage_equals_dc_resolve_corridor():
    net = _network("corridor")
    links = _active_links(net)
    assert len(links) >= 3
    table = dc_contingency(net, [("hvdc", h) for h in links])
    assert (table.status == "ok").all()
    for h in links:
        rows = table[table.outage_id == h].set_index(["element", "id"])
        net.set("hvdc", h, "in_service", False)
        try:
            flows = _dc_flows(net)
        finally:
            net.set("hvdc", h, "in_service", True)
        err = (flows - rows.p_mw.reindex(flows.index)).abs().max()
        assert err <= TOL_MW, f"outage of {h}: {err:.3e} MW"
        assert (flows - rows.p0_mw.reindex(flows.index)).abs().max() > 1.0


def test_hvdc_setpoint_sensitivity_equals_dc_resolve():
    net = _network("corridor")
    base = _dc_flows(net)
    factors = hvdc_ptdf(net)
    for h in _active_links(net):
        p0 = net.hvdc.p_mw[h]
        dp = 0.1 * p0  # same direction: the linearisation is exact
        net.set("hvdc", h, "p_mw", p0 + dp)
        try:
            flows = _dc_flows(net)
        finally:
            net.set("hvdc", h, "p_mw", p0)
        err = (flows - (base + factors[h] * dp)).abs().max()
        assert err <= TOL_MW, f"{h}: {err:.3e} MW"


# -- zones and the N-1 table ------------------------------------------------------------


def test_zone_ptdf_equals_dc_resolve_of_the_documented_transfer():
    """AZ -> GE: more output from AZ generators (in proportion to their base DC output),
    more load in GE (in proportion to its loads)."""
    net = _network("corridor")
    cn = net.compile()
    factors = zone_ptdf(net, "AZ", "GE")
    assert factors.name == "AZ->GE"
    res = gridsim.run_dc(net)
    base = res.branch.p_from_mw
    zone = net.bus.zone
    producers = []  # (element, id, base DC output) of AZ generators with output
    for element in ("gen", "sgen"):
        out = getattr(res, element).p_mw
        in_az = (zone[net[element].bus[out.index]] == "AZ").to_numpy()
        producers += [(element, i, p) for i, p in out[in_az & (out > 0)].items()]
    assert len(producers) and not net.gen.slack.any()
    assert not (zone[net.ext_grid.bus] == "AZ").any()
    total = sum(p for *_, p in producers)
    loads = net.load[net.load.in_service & (zone[net.load.bus] == "GE").to_numpy()]
    transfer = 50.0
    for element, i, p in producers:
        net.set(element, i, "p_mw", net[element].p_mw[i] + transfer * p / total)
    for lid, p in loads.p_mw.items():
        net.set("load", lid, "p_mw", p + transfer * p / loads.p_mw.sum())
    flows = _dc_flows(net)
    err = (flows - (base + factors * transfer)).abs().max()
    assert err <= TOL_MW, f"{err:.3e} MW"
    # the same factors from bus PTDF columns, and from a CompiledNetwork with zones given
    again = zone_ptdf(cn, ["AZ"], "GE", zones=zone.to_dict())
    np.testing.assert_allclose(again.to_numpy(), factors.to_numpy(), atol=1e-12)
    with pytest.raises(GridsimError, match="no energised bus"):
        zone_ptdf(net, "XX", "GE")


def test_dc_contingency_table():
    net = _network("corridor")
    cn = net.compile()
    table = dc_contingency(net)
    links = cn.hvdc_id.size
    assert len(table) == cn.n_branch * (cn.n_branch - 1) + links * cn.n_branch
    assert list(table.columns) == [
        "outage_element",
        "outage_id",
        "element",
        "id",
        "p0_mw",
        "p_mw",
        "loading_percent",
        "status",
    ]
    assert set(table.status) == {"ok", "islanded"}
    assert table.loc[table.status == "ok", "p_mw"].notna().all()
    assert table.loc[table.status == "islanded", "p_mw"].isna().all()
    # it agrees with the LODF
    factors, islanding = lodf(net)
    ok = table[(table.status == "ok") & (table.outage_element != "hvdc")].iloc[::97]
    base = _dc_flows(net)
    for row in ok.itertuples():
        k = (row.outage_element, row.outage_id)
        m = (row.element, row.id)
        assert row.p_mw == pytest.approx(base[m] + factors.at[m, k] * base[k], abs=1e-9)
        assert row.loading_percent == pytest.approx(
            100 * abs(row.p_mw) / cn.br_rate_mva[base.index.get_loc(m)]
        )
    islanded = {
        (r.outage_element, r.outage_id) for r in table[table.status == "islanded"].itertuples()
    }
    assert islanded == set(islanding.index[islanding.to_numpy()])


# -- the N-1 flow matrix -----------------------------------------------------------------


def _resolve_row(net, element, eid, n_dead: int):
    """DC flows with one element out of service; None where that loses a slack (the
    network is then invalid, or more buses are de-energised than the ``n_dead`` before)."""
    net.set(element, eid, "in_service", False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cut = net.compile()
            except InvalidNetworkError:
                return None
        if (cut.bus_type == NONE).sum() > n_dead:
            return None
        return _dc_flows(cut)
    finally:
        net.set(element, eid, "in_service", True)


@pytest.mark.parametrize(
    ("case", "n_sample"), [("case118", 40), ("case1354pegase", 8), ("corridor", 40)]
)
def test_dc_n1_flows_equal_dc_resolve(case, n_sample):
    """Each row of the matrix is the DC re-solve with the element removed (1e-6 MW);
    islanding outages are exactly the bridges, NaN rows, and nothing else is NaN."""
    net = _network(case)
    cn = net.compile()
    result = dc_n1_flows(cn)
    n_hvdc = cn.hvdc_id.size
    assert result.flows.shape == (cn.n_branch + n_hvdc, cn.n_branch)
    assert set(np.flatnonzero(result.islanding)) == _bridges(cn)
    assert np.isnan(result.flows[result.islanding]).all()
    assert np.isfinite(result.flows[~result.islanding]).all()
    branches = result.branches
    outages = result.outages
    assert list(outages[: cn.n_branch]) == list(branches)
    assert (result.outage_branch[: cn.n_branch] == np.arange(cn.n_branch)).all()
    # sample: non-islanding branch outages, a few islanding ones, every HVDC link
    rng = np.random.default_rng(7)
    ok = np.flatnonzero(~result.islanding[: cn.n_branch])
    picks = list(rng.choice(ok, size=min(n_sample, ok.size), replace=False))
    picks += list(np.flatnonzero(result.islanding)[:2])
    picks += list(range(cn.n_branch, cn.n_branch + n_hvdc))
    checked = 0
    for k in picks:
        element, eid = outages[k]
        resolved = _resolve_row(net, element, eid, int((cn.bus_type == NONE).sum()))
        assert (resolved is None) == bool(result.islanding[k]), (element, eid)
        if resolved is None:
            continue
        row = pd.Series(result.flows[k], index=branches)
        if element != "hvdc":
            assert row[(element, eid)] == 0.0
            row = row.drop((element, eid))
        err = (resolved - row.reindex(resolved.index)).abs().max()
        assert err <= TOL_MW, f"outage of {element} {eid!r}: {err:.3e} MW"
        assert len(resolved) == len(row)
        checked += 1
    assert checked >= min(n_sample, ok.size) + n_hvdc


@pytest.mark.parametrize("fallback", [False, True])
def test_dc_n1_flows_kernel_matches_ptdf_path(fallback):
    """The per-outage solve kernel against the bus-PTDF route (MATPOWER's makeLODF), for
    flows and LODF, with the Numba LU and with the SuperLU fallback."""
    cn = _network("case118").compile()
    b, _ = dc_branch_parameters(cn.br_ys, cn.br_tap)
    bdata = bbus_values(cn.indices.size, cn.ypos, cn.ydiag, b)
    fixed = (cn.bus_type == REF) | (cn.bus_type == NONE)
    lu = NumbaLU(cn.indptr, cn.indices, cn.n_bus, order=cn.bus_order())
    if fallback:
        lu.use_fallback()
    factor = DcFactor(cn.indptr, cn.indices, cn.ydiag, bdata, fixed, b, cn.br_f, cn.br_t, lu)
    assert (factor._factors is None) == fallback
    outaged = np.array([5, 0, 170, 3, 3, 100, 42, 7, 9, 11, 150], dtype=np.int64)
    pt = factor.bus_ptdf(np.arange(cn.n_bus))
    ref_lodf, ref_isl = lodf_from_ptdf(pt, cn.br_f[outaged], cn.br_t[outaged], outaged, 1e-9)
    flow = np.random.default_rng(1).normal(0.0, 100.0, cn.n_branch)
    ref_flows = post_outage_flows(ref_lodf, outaged, flow)
    got_lodf, isl = factor.outage_rows(outaged)
    got_flows, isl2 = factor.outage_rows(outaged, flow)
    assert np.array_equal(isl, ref_isl) and np.array_equal(isl2, ref_isl)
    assert ref_isl.any() and not ref_isl.all()
    np.testing.assert_allclose(got_lodf, ref_lodf, atol=1e-10)  # NaN rows alike
    np.testing.assert_allclose(got_flows, ref_flows, atol=1e-8)  # MW
    assert (got_flows[~isl, outaged[~isl]] == 0.0).all()
    assert (got_lodf[~isl, outaged[~isl]] == -1.0).all()
    # rows written into a larger buffer, in place
    buf = np.full((outaged.size + 2, cn.n_branch), 7.0)
    out, _ = factor.outage_rows(outaged, flow, out=buf)
    assert out is buf and (buf[-2:] == 7.0).all()
    np.testing.assert_array_equal(buf[: outaged.size], got_flows)


def test_dc_n1_flows_agree_with_lightsim2grid():
    """An independent DC N-1 (lightsim2grid's ContingencyAnalysisCPP, one KLU solve per
    outage) gives the same matrix (1e-6 MW); islanding outages left out."""
    pytest.importorskip("lightsim2grid")
    cpp = pytest.importorskip("lightsim2grid.lightsim2grid_cpp")
    from lightsim2grid.network import init_from_pandapower

    net = pandapower_case("case118")
    network = gridsim.from_pandapower(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_from_pandapower(net, pp_orig_file="pandapower_v3")
    analysis = cpp.ContingencyAnalysisCPP(model)
    analysis.change_algorithm("DC_KLU")
    analysis.add_all_n1()
    v0 = model.dc_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8)
    analysis.compute(v0, 30, 1e-8)
    theirs = analysis.compute_power_flows()
    ours = dc_n1_flows(network)
    assert theirs.shape == ours.flows.shape
    ok = ~ours.islanding
    assert np.abs(ours.flows[ok] - theirs[ok]).max() <= TOL_MW


def test_dc_n1_table_screen_and_worst():
    net = _network("corridor")
    result = dc_n1_flows(net)
    full = dc_contingency(net)
    pd.testing.assert_frame_equal(result.table(), full)
    # the screen keeps the rows at or above the threshold, and islanding outages whole
    screened = dc_contingency(net, screen=60.0)
    expected = full[(full.loading_percent >= 60.0) | (full.status == "islanded")]
    pd.testing.assert_frame_equal(screened, expected.reset_index(drop=True))
    assert 0 < (screened.status == "ok").sum() < (full.status == "ok").sum()
    # worst branch per outage: the maximum of the table's loading
    worst = result.worst()
    assert list(worst.index) == list(result.outages)
    top = full[full.status == "ok"].groupby(["outage_element", "outage_id"], observed=True)
    top = top.loading_percent.max()
    got = worst.loading_percent[worst.status == "ok"]
    pd.testing.assert_series_equal(
        got.reindex(top.index), top, check_names=False, check_index_type=False
    )
    isl = worst.status == "islanded"
    assert isl.any() and worst.loading_percent[isl].isna().all()
    w = worst[~isl].iloc[0]
    row = full[
        (full.outage_element == worst.index[~isl][0][0])
        & (full.outage_id == worst.index[~isl][0][1])
        & (full.element == w.element)
        & (full.id == w.id)
    ]
    assert row.loading_percent.iloc[0] == w.loading_percent and row.p_mw.iloc[0] == w.p_mw


def test_dc_n1_flows_outage_order_and_errors():
    net = _network("corridor")
    cn = net.compile()
    link = cn.hvdc_id[0]
    line = ("line", cn.br_id[np.flatnonzero(cn.br_kind == 0)[3]])
    result = dc_n1_flows(net, [("hvdc", link), line])
    assert list(result.outages) == [line, ("hvdc", link)]  # branch outages first
    full = dc_n1_flows(cn)
    k = list(full.outages).index(line)
    np.testing.assert_array_equal(result.flows[0], full.flows[k])
    np.testing.assert_array_equal(result.flows[1], full.flows[cn.n_branch])
    assert result.outage_hvdc.tolist() == [-1, 0]
    empty = dc_n1_flows(cn, [])
    assert empty.flows.shape == (0, cn.n_branch) and len(dc_contingency(cn, [])) == 0
    with pytest.raises(GridsimError, match="not in-service HVDC"):
        dc_n1_flows(net, [("hvdc", "nope")])
    with pytest.raises(GridsimError, match="not in-service branches"):
        dc_n1_flows(net, [("line", "nope")])
