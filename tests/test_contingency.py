"""AC contingency analysis: outages solved on the base Ybus pattern against pandapower
with the element out of service and against gridsim re-solves of the rebuilt network."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_matches_pandapower, pandapower_case, run_pandapower

import gridsim
from gridsim.analysis.contingency import ac_contingency, ac_outage, contingency_summary
from gridsim.analysis.sensitivity import dc_contingency, lodf
from gridsim.exceptions import GridsimError

SAMPLES = {"case14": None, "case118": 10, "case1354pegase": 5}
COLUMNS = [
    "outage_element",
    "outage_id",
    "element",
    "id",
    "p_from_mw",
    "q_from_mvar",
    "loading_percent",
    "min_vm_pu",
    "max_vm_pu",
    "iterations",
    "max_mismatch_mva",
    "status",
]


def _key(cn, k: int) -> tuple:
    return ("line" if cn.br_kind[k] == 0 else "trafo", cn.br_id[k])


def _non_islanding(cn, size: int | None, seed: int = 7) -> list[tuple]:
    """Keys of ``size`` sampled branches (all if None) whose outage islands nothing."""
    _, islanding = lodf(cn)
    keys = list(islanding.index[~islanding.to_numpy()])
    if size is None:
        return keys
    rng = np.random.default_rng(seed)
    return [keys[i] for i in np.sort(rng.choice(len(keys), size=size, replace=False))]


@pytest.mark.parametrize("case", list(SAMPLES))
def test_ac_outage_matches_pandapower_with_element_out(case):
    net = pandapower_case(case)
    network = gridsim.from_pandapower(net)
    cn = network.compile()
    outages = _non_islanding(cn, SAMPLES[case])
    table = ac_contingency(network, outages)
    assert (table.status == "converged").all()
    for element, eid in outages:
        res = ac_outage(network, (element, eid))
        assert res.converged, res.message
        ref = pandapower_case(case)
        ref[element].loc[eid, "in_service"] = False
        run_pandapower(ref)
        assert ref.converged
        assert_matches_pandapower(res, ref)
        # the table row of each monitored branch is the outage's result
        rows = table[(table.outage_element == element) & (table.outage_id == eid)]
        flows = res.branch.drop((element, eid))
        # batch kernel (chord steps near the solution) against one run_ac per outage
        # (Newton): two iterates that both meet the 1e-8 MVA mismatch test, so 1e-7
        # MW/Mvar, 1e-7 percent
        np.testing.assert_allclose(
            rows.p_from_mw.to_numpy(), flows.p_from_mw.to_numpy(), rtol=0, atol=1e-7
        )
        np.testing.assert_allclose(
            rows.q_from_mvar.to_numpy(), flows.q_from_mvar.to_numpy(), rtol=0, atol=1e-7
        )
        np.testing.assert_allclose(
            rows.loading_percent.to_numpy(),
            flows.loading_percent.to_numpy(),
            rtol=0,
            atol=1e-7,
        )
        assert rows.min_vm_pu.iloc[0] == pytest.approx(res.bus.vm_pu.min())
        assert rows.max_vm_pu.iloc[0] == pytest.approx(res.bus.vm_pu.max())


def test_pattern_reuse_equals_rebuilt_network():
    network = gridsim.from_pandapower(pandapower_case("case118"))
    cn = network.compile()
    gridsim.run_ac(cn)
    solvers = {k: v for k, v in cn._cache.items() if isinstance(k, tuple) and k[0] == "newton"}
    for element, eid in _non_islanding(cn, 10, seed=11):
        res = ac_outage(cn, (element, eid))
        rebuilt = gridsim.from_pandapower(pandapower_case("case118"))
        rebuilt.set(element, eid, "in_service", False)
        ref = gridsim.run_ac(rebuilt)
        assert res.converged and ref.converged
        np.testing.assert_allclose(res.v, ref.v, rtol=0, atol=1e-9)
        ours = res.branch.drop((element, eid))
        theirs = ref.branch.loc[ours.index]
        for col in ("p_from_mw", "q_from_mvar", "p_to_mw", "q_to_mvar"):
            np.testing.assert_allclose(ours[col], theirs[col], rtol=0, atol=1e-6)
        np.testing.assert_allclose(res.gen.p_mw, ref.gen.p_mw, rtol=0, atol=1e-6)
        np.testing.assert_allclose(res.ext_grid.p_mw, ref.ext_grid.p_mw, rtol=0, atol=1e-6)
        assert res.branch.loc[(element, eid), "p_from_mw"] == 0.0
    # every outage reused the base case's solver (same pattern, ordering, symbolic LU)
    after = {k: v for k, v in cn._cache.items() if isinstance(k, tuple) and k[0] == "newton"}
    assert after.keys() == solvers.keys()
    assert all(after[k] is solvers[k] for k in solvers)


def test_islanding_outages_reported_not_solved():
    network = gridsim.from_pandapower(pandapower_case("case14"))
    cn = network.compile()
    radial = [k for k in range(cn.n_branch) if 7 in (cn.br_f[k], cn.br_t[k])]
    assert len(radial) == 1
    key = _key(cn, radial[0])
    table = ac_contingency(network)
    out = table[(table.outage_element == key[0]) & (table.outage_id == key[1])]
    assert len(out) == cn.n_branch - 1
    assert (out.status == "islanded").all()
    assert out[["p_from_mw", "q_from_mvar", "min_vm_pu", "max_mismatch_mva"]].isna().all().all()
    assert (out.iterations == 0).all()
    # exactly the LODF's islanding outages are islanded
    _, islanding = lodf(cn)
    summary = contingency_summary(table)
    islanded = set(summary.index[summary.status == "islanded"])
    assert islanded == set(islanding.index[islanding.to_numpy()]) == {key}
    with pytest.raises(GridsimError, match="islands"):
        ac_outage(network, key)


def test_table_layout_and_summary():
    network = gridsim.from_pandapower(pandapower_case("case30"))
    cn = network.compile()
    table = ac_contingency(network)
    assert list(table.columns) == COLUMNS
    assert len(table) == cn.n_branch * (cn.n_branch - 1)
    assert set(table.status) <= {"converged", "islanded"}
    ok = table[table.status == "converged"]
    assert ok.p_from_mw.notna().all() and (ok.iterations > 0).all()
    assert (ok.max_mismatch_mva < 1e-8).all()
    summary = contingency_summary(table)
    assert len(summary) == cn.n_branch
    assert summary.max_loading_percent.is_monotonic_decreasing or (
        summary.max_loading_percent.dropna().is_monotonic_decreasing
    )
    top = summary.iloc[0]
    rows = table[(table.outage_element == top.name[0]) & (table.outage_id == top.name[1])]
    worst = rows.loc[rows.loading_percent.idxmax()]
    assert top.max_loading_percent == worst.loading_percent
    assert (top.max_loading_element, top.max_loading_id) == (worst.element, worst.id)


def test_diverged_outages_keep_iterations_and_mismatch():
    network = gridsim.from_pandapower(pandapower_case("case14"))
    table = ac_contingency(network, [("line", 0), ("line", 1)], max_iter=0)
    assert (table.status == "diverged").all()
    assert (table.iterations == 0).all() and (table.max_mismatch_mva > 1).all()
    assert table.p_from_mw.isna().all()
    loose = ac_contingency(network, [("line", 0)], max_iter=1, tol_mva=1e-12)
    assert (loose.status == "diverged").all() and (loose.iterations == 1).all()


def test_dc_screen_keeps_only_heavily_loaded_outages():
    network = gridsim.from_pandapower(pandapower_case("case118"))
    threshold = 60.0
    dc = dc_contingency(network)
    worst = dc.groupby(["outage_element", "outage_id"], observed=True).agg(
        loading=("loading_percent", "max"), status=("status", "first")
    )
    expected = set(worst.index[(worst.loading >= threshold) | (worst.status == "islanded")])
    screened = ac_contingency(network, screen=threshold)
    got = set(contingency_summary(screened).index)
    assert got == expected
    assert 0 < len(got) < len(worst)


def test_outage_errors():
    network = gridsim.from_pandapower(pandapower_case("case14"))
    with pytest.raises(GridsimError, match="not in-service branches"):
        ac_contingency(network, [("line", 999)])
    with pytest.raises(GridsimError):
        ac_contingency(network, [("hvdc", 0)])
    empty = ac_contingency(network, [])
    assert list(empty.columns) == COLUMNS and len(empty) == 0


def _rows(table, key):
    return table[(table.outage_element == key[0]) & (table.outage_id == key[1])]


def test_batched_outages_match_rebuilt_networks():
    """The one-kernel-call N-1 against one run_ac per outage on the network rebuilt
    without the branch: |dVm| via min/max 1e-9 p.u., flows 1e-6 MW/Mvar."""
    case = "case118"
    network = gridsim.from_pandapower(pandapower_case(case))
    cn = network.compile()
    base = gridsim.run_ac(cn)
    outages = _non_islanding(cn, 6, seed=5)
    table = ac_contingency(network, outages)
    for element, eid in outages:
        rebuilt = gridsim.from_pandapower(pandapower_case(case))
        rebuilt.set(element, eid, "in_service", False)
        ref = gridsim.run_ac(rebuilt, init=base.v)
        assert ref.converged
        rows = _rows(table, (element, eid))
        flows = ref.branch.loc[list(zip(rows.element.astype(str), rows["id"], strict=True))]
        np.testing.assert_allclose(rows.p_from_mw, flows.p_from_mw, rtol=0, atol=1e-6)
        np.testing.assert_allclose(rows.q_from_mvar, flows.q_from_mvar, rtol=0, atol=1e-6)
        assert rows.min_vm_pu.iloc[0] == pytest.approx(ref.bus.vm_pu.min(), abs=1e-9)
        assert rows.max_vm_pu.iloc[0] == pytest.approx(ref.bus.vm_pu.max(), abs=1e-9)
        # Newton's steps, plus the chord steps the batch takes once it reuses an LU
        assert ref.iterations <= rows.iterations.iloc[0] <= 2 * ref.iterations


def test_thread_count_does_not_change_the_table():
    network = gridsim.from_pandapower(pandapower_case("case118"))
    outages = _non_islanding(network.compile(), 30, seed=3)
    one = ac_contingency(network, outages, threads=1)
    two = ac_contingency(network, outages, threads=2)
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_q_limit_path_matches_single_outages():
    """With reactive limits the outages go one by one through run_ac; the table rows are
    those of ac_outage with the same options."""
    network = gridsim.from_pandapower(pandapower_case("case118"))
    outages = _non_islanding(network.compile(), 3, seed=9)
    table = ac_contingency(network, outages, enforce_q_limits=True)
    assert list(table.columns) == COLUMNS
    for key in outages:
        res = ac_outage(network, key, enforce_q_limits=True)
        rows = _rows(table, key)
        flows = res.branch.drop(key)
        np.testing.assert_allclose(rows.p_from_mw, flows.p_from_mw, rtol=0, atol=1e-9)
        assert rows.iterations.iloc[0] == res.iterations
        assert rows.status.iloc[0] == "converged"
