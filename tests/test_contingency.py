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
    table = ac_contingency(network, outages, flows="float64").table()
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
    table = ac_contingency(network, flows="float32").table()
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
    table = ac_contingency(network, flows="float64").table()
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
    table = ac_contingency(network, [("line", 0), ("line", 1)], max_iter=0, flows="float64").table()
    assert (table.status == "diverged").all()
    assert (table.iterations == 0).all() and (table.max_mismatch_mva > 1).all()
    assert table.p_from_mw.isna().all()
    loose = ac_contingency(network, [("line", 0)], max_iter=1, tol_mva=1e-12).outages
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
    empty = ac_contingency(network, [], flows="float64")
    assert list(empty.table().columns) == COLUMNS and len(empty.table()) == 0
    assert len(empty.outages) == len(empty.violations) == 0
    with pytest.raises(GridsimError, match="flows must be"):
        ac_contingency(network, [], flows="float16")
    with pytest.raises(GridsimError, match="chunk_size"):
        ac_contingency(network, [], chunk_size=0)
    with pytest.raises(GridsimError, match="needs the post-outage flows"):
        ac_contingency(network, []).table()


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
    table = ac_contingency(network, outages, flows="float64").table()
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
    one = ac_contingency(network, outages, threads=1, flows="float64")
    two = ac_contingency(network, outages, threads=2, flows="float64")
    pd.testing.assert_frame_equal(one.table(), two.table(), check_exact=True)
    pd.testing.assert_frame_equal(one.outages, two.outages, check_exact=True)


def test_q_limit_path_matches_single_outages():
    """With reactive limits the outages go one by one through run_ac; the table rows are
    those of ac_outage with the same options."""
    network = gridsim.from_pandapower(pandapower_case("case118"))
    outages = _non_islanding(network.compile(), 3, seed=9)
    table = ac_contingency(network, outages, enforce_q_limits=True, flows="float64").table()
    assert list(table.columns) == COLUMNS
    for key in outages:
        res = ac_outage(network, key, enforce_q_limits=True)
        rows = _rows(table, key)
        flows = res.branch.drop(key)
        np.testing.assert_allclose(rows.p_from_mw, flows.p_from_mw, rtol=0, atol=1e-9)
        assert rows.iterations.iloc[0] == res.iterations
        assert rows.status.iloc[0] == "converged"


# -- the planner's result: per outage, violations, streamed in chunks ----------------------


def test_result_per_outage_and_violations_match_single_outages():
    """Each outage's row (worst loading and where, voltage extremes and where, counts)
    and its violations against ac_outage of that outage; a 2 % loading limit (case118's
    branches are loaded to 5 % at most) so that there are overloads to report, and
    outages of lines 14 and 27, which take buses below their 0.94 p.u. limit."""
    network = gridsim.from_pandapower(pandapower_case("case118"))
    cn = network.compile()
    outages = [*_non_islanding(cn, 8, seed=2), ("line", 14), ("line", 27)]
    result = ac_contingency(network, outages, loading_limit=2.0)
    assert list(result.outages.index) == outages
    assert result.outages.n_overloads.sum() > 0 and result.outages.n_voltage_violations.sum() > 0
    for key in outages:
        res = ac_outage(network, key)
        row = result.outages.loc[key]
        loading = res.branch.loading_percent.drop(key)
        assert row.status == "converged"
        assert res.iterations <= row.iterations <= 2 * res.iterations  # chord steps too
        assert row.max_loading_percent == pytest.approx(loading.max(), abs=1e-7)
        assert (row.max_loading_element, row.max_loading_id) == loading.idxmax()
        vm = res.bus.vm_pu.dropna()
        assert row.min_vm_pu == pytest.approx(vm.min(), abs=1e-9)
        assert row.max_vm_pu == pytest.approx(vm.max(), abs=1e-9)
        # the buses named hold the extremes (several PV buses may share the highest)
        assert vm[row.min_vm_bus] == pytest.approx(vm.min(), abs=1e-9)
        assert vm[row.max_vm_bus] == pytest.approx(vm.max(), abs=1e-9)
        over = loading[loading > 2.0]
        low = vm[vm < network.bus.min_vm_pu.reindex(vm.index)]
        high = vm[vm > network.bus.max_vm_pu.reindex(vm.index)]
        assert row.n_overloads == len(over) and row.n_voltage_violations == len(low) + len(high)
        found = _rows(result.violations, key)
        branches = found[found.type == "overload"]
        assert list(zip(branches.element.astype(str), branches["id"], strict=True)) == list(
            over.index
        )
        np.testing.assert_allclose(branches.value, over, rtol=0, atol=1e-7)
        assert (branches.limit == 2.0).all()
        buses = found[found.type != "overload"]
        assert (buses.element == "bus").all()
        assert sorted(buses["id"]) == sorted([*low.index, *high.index])


def test_chunks_equal_one_call_and_bound_the_batch(monkeypatch):
    """Streaming: any chunk size gives the same result, each kernel call solves at most
    one chunk, and iter_contingency's chunks concatenate to ac_contingency's result."""
    from gridsim.analysis import contingency

    network = gridsim.from_pandapower(pandapower_case("case118"))
    whole = ac_contingency(network, flows="float64", loading_limit=60.0)
    sizes = []
    solve = contingency.solve_batch

    def counting(cn, sbus, **kwargs):
        sizes.append(kwargs["dpos"].shape[0])
        return solve(cn, sbus, **kwargs)

    monkeypatch.setattr(contingency, "solve_batch", counting)
    chunked = ac_contingency(network, flows="float64", loading_limit=60.0, chunk_size=7)
    assert max(sizes) <= 7 and sum(sizes) == (whole.outages.status != "islanded").sum()
    pd.testing.assert_frame_equal(chunked.outages, whole.outages, check_exact=True)
    pd.testing.assert_frame_equal(chunked.violations, whole.violations, check_exact=True)
    np.testing.assert_array_equal(chunked.p_from_mw, whole.p_from_mw)
    parts = list(contingency.iter_contingency(network, chunk_size=50, loading_limit=60.0))
    assert [len(p.outages) for p in parts] == [50, 50, 50, 36]
    pd.testing.assert_frame_equal(pd.concat([p.outages for p in parts]), whole.outages)
    single = ac_contingency(network, flows="float32", loading_limit=60.0)
    assert single.p_from_mw.dtype == np.float32
    np.testing.assert_allclose(single.p_from_mw, whole.p_from_mw, rtol=1e-6, atol=1e-4)
    from_table = contingency_summary(whole.table())  # the tidy table's own summary
    ours = contingency_summary(whole)[from_table.columns]
    pd.testing.assert_frame_equal(ours, from_table, check_like=True)


def test_parquet_holds_what_is_returned(tmp_path):
    network = gridsim.from_pandapower(pandapower_case("case118"))
    result = ac_contingency(network, loading_limit=60.0, chunk_size=40, parquet=tmp_path / "n1")
    assert sorted(p.name for p in (tmp_path / "n1").iterdir()) == [
        "outages.parquet",
        "violations.parquet",
    ]
    outages = pd.read_parquet(tmp_path / "n1" / "outages.parquet")
    expected = result.outages.reset_index()
    assert list(outages.columns) == list(expected.columns) and len(outages) == len(expected)
    for column in expected.columns:
        ours, theirs = outages[column], expected[column]
        if theirs.dtype.kind == "f":
            np.testing.assert_array_equal(ours, theirs)
        else:
            assert _plain(ours) == _plain(theirs), column
    violations = pd.read_parquet(tmp_path / "n1" / "violations.parquet")
    assert len(violations) == len(result.violations) > 0
    np.testing.assert_array_equal(violations.value, result.violations.value)
    assert list(violations.type) == list(result.violations.type.astype(str))
    ac_contingency(network, [], parquet=tmp_path / "none")  # no outage: empty files
    assert len(pd.read_parquet(tmp_path / "none" / "outages.parquet").columns) == 14
    assert len(pd.read_parquet(tmp_path / "none" / "violations.parquet")) == 0


def test_no_parquet_file_is_left_half_written(tmp_path, monkeypatch):
    from gridsim.analysis import contingency

    network = gridsim.from_pandapower(pandapower_case("case14"))
    calls = []

    def failing(*args):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return solve(*args)

    solve = contingency._solve_batch
    monkeypatch.setattr(contingency, "_solve_batch", failing)
    with pytest.raises(KeyboardInterrupt):
        ac_contingency(network, chunk_size=5, parquet=tmp_path / "n1")
    assert calls and list((tmp_path / "n1").iterdir()) == []


def _plain(column: pd.Series) -> list:
    """Values as plain Python objects, missing ones None (Parquet reads an integer column
    with missing values back as float)."""
    return [None if pd.isna(x) else (int(x) if isinstance(x, float) else x) for x in column]


@pytest.mark.parametrize("case", ["case14", "case118"])
def test_flows_equal_lightsim2grid(case):
    """Statuses and post-outage flows against lightsim2grid's ContingencyAnalysisCPP
    (Newton-Raphson, KLU) on every branch outage both solve: 1e-6 MW."""
    pytest.importorskip("lightsim2grid")
    from lightsim2grid.lightsim2grid_cpp import ContingencyAnalysisCPP
    from lightsim2grid.network import init_from_pandapower

    net = pandapower_case(case)
    run_pandapower(net)
    network = gridsim.from_pandapower(net)
    cn = network.compile()
    assert cn.n_branch == len(net.line) + len(net.trafo)  # lines, then trafos: theirs too
    ours = ac_contingency(network, flows="float64")
    model = init_from_pandapower(net, pp_orig_file="pandapower_v3")
    analysis = ContingencyAnalysisCPP(model)
    analysis.change_algorithm("NR_KLU")
    analysis.add_multiple_n1(list(range(cn.n_branch)))
    analysis.compute(model.ac_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8), 30, 1e-8)
    theirs = analysis.compute_power_flows()
    theirs_ok = np.asarray(analysis.converged_mask(), dtype=bool)
    solved = (ours.outages.status == "converged").to_numpy()
    islanded = (ours.outages.status == "islanded").to_numpy()
    assert islanded.any() and not theirs_ok[islanded].any()  # split grids: skipped by both
    np.testing.assert_array_equal(solved, theirs_ok)
    np.testing.assert_allclose(ours.p_from_mw[solved], theirs[solved], rtol=0, atol=1e-6)
