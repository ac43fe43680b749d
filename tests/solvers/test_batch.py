"""Batched Newton-Raphson (one parallel Numba call for many points) against one
:func:`gridsim.run_ac` per point on networks rebuilt with the point's values.

Tolerances: |dVm| <= 1e-9 p.u., |dVa| <= 1e-7 degrees, flows and losses 1e-6 MW.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from conftest import pandapower_case

import gridsim
from gridsim.analysis.batch import batch_elements, run_ac_batch
from gridsim.analysis.sensitivity import lodf
from gridsim.exceptions import GridsimError
from gridsim.model.compile import PQ
from gridsim.solvers.batch import _flat_start, newton_solver, outage_deltas, solve_batch
from gridsim.solvers.linear import ScipyLU
from gridsim.solvers.newton import PIVOT_REJECTED, NewtonSolver

TOL_VM = 1e-9  # p.u.
TOL_VA = 1e-7  # degrees
TOL_MW = 1e-6


@cache
def _network(case: str):
    return gridsim.from_pandapower(pandapower_case(case))


def _assert_same_state(v, ref_v):
    np.testing.assert_allclose(np.abs(v), np.abs(ref_v), rtol=0, atol=TOL_VM)
    dva = np.rad2deg(np.angle(v * np.conj(ref_v)))
    np.testing.assert_allclose(dva, 0.0, rtol=0, atol=TOL_VA)


@pytest.mark.parametrize(("case", "n_points"), [("case118", 12), ("case1354pegase", 3)])
def test_load_scenarios_match_rebuilt_networks(case, n_points):
    network = _network(case)
    rng = np.random.default_rng(3)
    scale = rng.uniform(0.8, 1.2, n_points)
    batch = run_ac_batch(network, load_scale=scale)
    newton = run_ac_batch(network, load_scale=scale, reuse_lu=0.0)  # no chord steps
    assert batch.converged.all()
    load = network.columns("load")
    for i in range(n_points):
        rebuilt = gridsim.from_pandapower(pandapower_case(case))
        for lid, p, q in zip(load.index, load.p_mw, load.q_mvar, strict=True):
            rebuilt.set("load", lid, "p_mw", p * scale[i])
            rebuilt.set("load", lid, "q_mvar", q * scale[i])
        ref = gridsim.run_ac(rebuilt, init="flat")  # the batch's start
        assert ref.converged
        _assert_same_state(batch.v[i], ref.v)
        assert newton.iterations[i] == ref.iterations
        assert batch.losses_mw[i] == pytest.approx(ref.branch.pl_mw.sum(), abs=TOL_MW)
        one = batch.point(i)
        np.testing.assert_allclose(one.bus.vm_pu, ref.bus.vm_pu, rtol=0, atol=TOL_VM)
        np.testing.assert_allclose(one.gen.q_mvar, ref.gen.q_mvar, rtol=0, atol=TOL_MW)
        np.testing.assert_allclose(one.branch.p_from_mw, ref.branch.p_from_mw, rtol=0, atol=TOL_MW)
        np.testing.assert_allclose(
            batch.s_from_mva[i].real, ref.branch_p_from_mw, rtol=0, atol=TOL_MW
        )


def test_generator_and_per_load_values_match_rebuilt_network():
    network = _network("case118")
    ids = batch_elements(network)
    rng = np.random.default_rng(5)
    n = 3
    gen = network.columns("gen")
    gen_p = gen.p_mw[None, :] * rng.uniform(0.7, 1.3, (n, len(ids["gen"])))
    load = network.columns("load")
    load_p = load.p_mw[None, :] * rng.uniform(0.5, 1.5, (n, len(ids["load"])))
    batch = run_ac_batch(network, gen_p_mw=gen_p, load_p_mw=load_p)
    assert batch.converged.all()
    for i in range(n):
        rebuilt = gridsim.from_pandapower(pandapower_case("case118"))
        for gid, p in zip(ids["gen"], gen_p[i], strict=True):
            rebuilt.set("gen", gid, "p_mw", p)
        for lid, p in zip(ids["load"], load_p[i], strict=True):
            rebuilt.set("load", lid, "p_mw", p)
        ref = gridsim.run_ac(rebuilt)
        _assert_same_state(batch.v[i], ref.v)
        np.testing.assert_allclose(batch.point(i).gen.p_mw, ref.gen.p_mw, rtol=0, atol=TOL_MW)


@pytest.mark.parametrize(("case", "n_outages"), [("case118", 8), ("case1354pegase", 3)])
def test_outages_match_rebuilt_networks(case, n_outages):
    network = _network(case)
    cn = network.compile()
    base = gridsim.run_ac(cn)
    _, islanding = lodf(cn)
    keys = list(islanding.index[~islanding.to_numpy()])
    rng = np.random.default_rng(11)
    keys = [keys[k] for k in np.sort(rng.choice(len(keys), n_outages, replace=False))]
    index = {
        key: k
        for k, key in enumerate(
            zip(np.where(cn.br_kind == 0, "line", "trafo"), cn.br_id, strict=True)
        )
    }
    positions = np.array([index[key] for key in keys])
    dpos, dval = outage_deltas(cn, positions)
    res = solve_batch(cn, cn.sbus(), dpos=dpos, dval=dval, v0=base.v)
    assert res.converged.all()
    for i, (element, eid) in enumerate(keys):
        rebuilt = gridsim.from_pandapower(pandapower_case(case))
        rebuilt.set(element, eid, "in_service", False)
        ref = gridsim.run_ac(rebuilt, init=base.v)
        assert ref.converged
        _assert_same_state(res.v[i], ref.v)


def _all_outages(cn):
    """Compiled positions of every in-service branch and whether its outage islands."""
    _, islanding = lodf(cn)
    index = {
        key: k
        for k, key in enumerate(
            zip(np.where(cn.br_kind == 0, "line", "trafo"), cn.br_id, strict=True)
        )
    }
    positions = np.array([index[key] for key in islanding.index])
    return positions, islanding.to_numpy()


@pytest.mark.parametrize("case", ["case30", "case118"])
def test_shared_first_step_is_newtons_first_step(case):
    """The first step from the shared LU corrected by the low-rank (compensation)
    update equals the step with the point's own Jacobian: every branch outage (PV and
    slack terminals, transformers, parallel circuits, islanding ones) and load
    scenarios, after one iteration (1e-11 p.u.) and at the end (same iterations)."""
    cn = _network(case).compile()
    base = gridsim.run_ac(cn)
    positions, islanding = _all_outages(cn)
    dpos, dval = outage_deltas(cn, positions)
    scale = np.random.default_rng(4).uniform(0.7, 1.3, 20)
    sbus = cn.sbus()[None, :] * np.ones(20)[:, None]
    sbus[:, cn.bus_type == PQ] *= scale[:, None]
    runs = [
        dict(sbus=cn.sbus(), dpos=dpos, dval=dval, v0=base.v),  # outages
        dict(sbus=sbus, v0=base.v),  # injections
        dict(sbus=sbus, v0=_flat_start(cn, cn.bus_type)),  # from a flat start
    ]
    for kwargs in runs:
        for max_iter in (1, 30):
            shared = solve_batch(cn, **kwargs, max_iter=max_iter, reuse_lu=0.0)
            plain = solve_batch(
                cn, **kwargs, max_iter=max_iter, shared_first_step=False, reuse_lu=0.0
            )
            np.testing.assert_array_equal(shared.converged, plain.converged)
            ok = plain.converged | (max_iter == 1)
            ok &= np.isfinite(plain.v).all(axis=1) & ~plain.fallback
            np.testing.assert_allclose(shared.v[ok], plain.v[ok], rtol=0, atol=1e-11)
            np.testing.assert_array_equal(shared.iterations[ok], plain.iterations[ok])
    # the islanding outages fail either way; the others converge
    res = solve_batch(cn, cn.sbus(), dpos=dpos, dval=dval, v0=base.v)
    assert res.converged[~islanding].all()


@pytest.mark.parametrize("case", ["case118", "case1354pegase"])
def test_chord_steps_reach_newtons_solution(case):
    """Reusing a point's LU once its mismatch falls a hundredfold per step (the
    default) converges where plain Newton does, to the same state (1e-9 p.u.,
    1e-7 degrees) under the same test (largest mismatch below the tolerance): branch
    outages and load scenarios from the base case, load scenarios from a flat start.
    Chord steps contract linearly, so some points take more steps than Newton's: the
    sign that the LU was reused."""
    cn = _network(case).compile()
    base = gridsim.run_ac(cn)
    positions, islanding = _all_outages(cn)
    positions = positions[~islanding][:60]
    dpos, dval = outage_deltas(cn, positions)
    scale = np.random.default_rng(8).uniform(0.8, 1.2, 20)
    sbus = cn.sbus()[None, :] * np.ones(20)[:, None]
    sbus[:, cn.bus_type == PQ] *= scale[:, None]
    runs = [
        dict(sbus=cn.sbus(), dpos=dpos, dval=dval, v0=base.v),
        dict(sbus=sbus, v0=base.v),
        dict(sbus=sbus, v0=_flat_start(cn, cn.bus_type)),
    ]
    tol_mva = 1e-8
    for kwargs in runs:
        chord = solve_batch(cn, **kwargs, tol_mva=tol_mva)
        newton = solve_batch(cn, **kwargs, tol_mva=tol_mva, reuse_lu=0.0)
        ok = newton.converged  # all but one case1354pegase outage that Newton loses too
        assert ok.mean() > 0.95
        np.testing.assert_array_equal(chord.converged, ok)
        assert (chord.max_mismatch[ok] * cn.sn_mva < tol_mva).all()
        for a, b in zip(chord.v[ok], newton.v[ok], strict=True):
            _assert_same_state(a, b)
        assert (chord.iterations[ok] >= newton.iterations[ok]).all()
        assert (chord.iterations[ok] > newton.iterations[ok]).any()
    with pytest.raises(GridsimError, match="reuse_lu"):
        solve_batch(cn, cn.sbus(), reuse_lu=1.0)


def test_diverging_point_is_reported_and_leaves_others_alone():
    network = _network("case118")
    scale = np.array([1.0, 40.0, 0.9])  # 40x the load: no solution
    batch = run_ac_batch(network, load_scale=scale, max_iter=15)
    assert batch.converged.tolist() == [True, False, True]
    assert batch.max_mismatch_mva[1] > 1e-8
    assert 0 < batch.iterations[1] <= 15
    assert batch.messages[1]
    assert np.isnan(batch.losses_mw[1])
    alone = run_ac_batch(network, load_scale=scale[[0, 2]], max_iter=15)
    np.testing.assert_array_equal(batch.v[[0, 2]], alone.v)
    np.testing.assert_array_equal(batch.iterations[[0, 2]], alone.iterations)
    with pytest.raises(GridsimError):
        batch.point(3)
    assert not batch.point(1).converged


def test_results_do_not_depend_on_thread_count():
    network = _network("case118")
    scale = np.random.default_rng(2).uniform(0.8, 1.2, 64)
    one = run_ac_batch(network, load_scale=scale, threads=1)
    two = run_ac_batch(network, load_scale=scale, threads=2)
    np.testing.assert_array_equal(one.v, two.v)
    np.testing.assert_array_equal(one.iterations, two.iterations)
    np.testing.assert_array_equal(one.max_mismatch_mva, two.max_mismatch_mva)


def _leaf_pq_bus(cn):
    """A PQ bus with one neighbour, itself PQ, and the Ybus positions involved."""
    for i in np.flatnonzero(cn.bus_type == PQ):
        cols = cn.indices[cn.indptr[i] : cn.indptr[i + 1]]
        others = cols[cols != i]
        if others.size == 1 and cn.bus_type[others[0]] == PQ:
            j = others[0]
            ii = cn.indptr[i] + np.flatnonzero(cols == i)[0]
            ij = cn.indptr[i] + np.flatnonzero(cols == j)[0]
            cols_j = cn.indices[cn.indptr[j] : cn.indptr[j + 1]]
            ji = cn.indptr[j] + np.flatnonzero(cols_j == i)[0]
            return i, ii, ij, ji
    raise AssertionError("no leaf PQ bus")


def test_rejected_pivot_points_finish_with_superlu():
    """With a lossless leaf branch, starting the leaf bus i at |Vi| = |Vj| Bij / (-2 Bii)
    (same angle as its neighbour j) makes its Jacobian block [[dP/dVa, 0], [0, 0]]: the
    Numba LU rejects that pivot and the point goes on with SuperLU (partial pivoting) on
    the full, non-singular Jacobian. It must then follow exactly the path of a
    SuperLU-only Newton-Raphson from the same start. (That start is the vertex of the
    leaf's Q(V) parabola, from which Newton-Raphson does not find its way back: the
    reference does not converge either; the other point must not notice.)"""
    cn = _network("case30").compile()
    i, ii, ij, ji = _leaf_pq_bus(cn)
    j = cn.indices[ij]
    lossless = cn.ydata.copy()
    lossless[[ii, ij, ji]] = 1j * lossless[[ii, ij, ji]].imag
    ydata = np.stack([cn.ydata, lossless])
    flat = _flat_start(cn, cn.bus_type)
    v0 = np.stack([flat, flat])
    v0[1, i] = flat[j] * lossless[ij].imag / (-2.0 * lossless[ii].imag)
    res = solve_batch(cn, cn.sbus(), ydata=ydata, v0=v0, reuse_lu=0.0)  # plain Newton
    assert res.fallback.tolist() == [False, True]
    assert res.status[1] == PIVOT_REJECTED
    # reference: the same Newton-Raphson with SuperLU from the start
    _, pv, pq = cn.bus_sets()
    ref_solver = NewtonSolver(
        cn.indptr, cn.indices, np.concatenate([pv, pq]), pq, cn.bus_order(), ScipyLU
    )
    tol = 1e-8 / cn.sn_mva
    for k in range(2):
        ref = ref_solver.solve(ydata[k], cn.sbus(), v0[k], tol=tol, max_iter=30)
        assert res.converged[k] == ref.converged
        assert res.iterations[k] == ref.iterations
        _assert_same_state(res.v[k], ref.v)
    assert res.converged[0] and not res.converged[1]
    assert res.messages[1] == "iteration limit"


def test_one_row_of_ybus_changes_serves_every_point():
    """``dpos``/``dval`` with one row (one outage) and several injection rows: each
    point solves with that outage, as with the row repeated (it once read past the
    row)."""
    cn = _network("case118").compile()
    base = gridsim.run_ac(cn)
    positions, islanding = _all_outages(cn)
    dpos, dval = outage_deltas(cn, positions[~islanding][5:6])
    sbus = cn.sbus()[None, :] * np.ones(6)[:, None]
    sbus[:, cn.bus_type == PQ] *= np.linspace(0.9, 1.1, 6)[:, None]
    one = solve_batch(cn, sbus, dpos=dpos, dval=dval, v0=base.v)
    rows = solve_batch(
        cn, sbus, dpos=np.repeat(dpos, 6, axis=0), dval=np.repeat(dval, 6, axis=0), v0=base.v
    )
    assert one.converged.all() and rows.converged.all()
    np.testing.assert_array_equal(one.v, rows.v)
    np.testing.assert_array_equal(one.iterations, rows.iterations)


def test_solve_batch_shares_the_run_ac_solver_and_checks_shapes():
    cn = _network("case118").compile()
    gridsim.run_ac(cn)
    solver = newton_solver(cn)
    assert any(value is solver for value in cn._cache.values())
    with pytest.raises(GridsimError, match="columns"):
        solve_batch(cn, np.zeros((2, 5)))
    with pytest.raises(GridsimError, match="point counts"):
        solve_batch(cn, np.tile(cn.sbus(), (3, 1)), v0=np.ones((2, cn.n_bus)))
    with pytest.raises(GridsimError, match="point counts"):
        run_ac_batch(cn, load_scale=np.ones(3), gen_p_mw=np.zeros((2, 53)))
    empty = solve_batch(cn, np.zeros((0, cn.n_bus), dtype=complex))
    assert empty.v.shape == (0, cn.n_bus)


def test_q_limits_resolved_through_run_ac():
    network = _network("case118")
    scale = np.array([1.0, 1.15])
    batch = run_ac_batch(network, load_scale=scale, enforce_q_limits=True)
    assert batch.converged.all()
    assert batch.resolved, "case118 has generators at their reactive limits"
    load = network.columns("load")
    for i in range(2):
        rebuilt = gridsim.from_pandapower(pandapower_case("case118"))
        for lid, p, q in zip(load.index, load.p_mw, load.q_mvar, strict=True):
            rebuilt.set("load", lid, "p_mw", p * scale[i])
            rebuilt.set("load", lid, "q_mvar", q * scale[i])
        ref = gridsim.run_ac(rebuilt, enforce_q_limits=True)
        assert ref.converged
        _assert_same_state(batch.v[i], ref.v)
        one = batch.point(i)
        assert sorted(one.q_limited_buses) == sorted(ref.q_limited_buses)


def test_scipy_path_gives_the_same_states():
    network = _network("case118")
    scale = np.array([0.85, 1.1, 1.2])
    numba_res = run_ac_batch(network, load_scale=scale)
    newton_res = run_ac_batch(network, load_scale=scale, reuse_lu=0.0)
    scipy_res = run_ac_batch(network, load_scale=scale, linear_solver="scipy")
    assert scipy_res.converged.all()
    _assert_same_state(numba_res.v, scipy_res.v)
    _assert_same_state(newton_res.v, scipy_res.v)
    np.testing.assert_array_equal(newton_res.iterations, scipy_res.iterations)
    with pytest.raises(GridsimError, match="linear_solver"):
        run_ac_batch(network, load_scale=scale, linear_solver="klu")
