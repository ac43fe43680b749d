"""Warm starts honour voltage setpoints (issue 14, item 1).

The magnitudes of PV and slack buses are not unknowns of the Newton iterations: a given
start (an earlier result, an array) has them set to the setpoints first, angles kept, as
MATPOWER's ``runpf`` and pandapower do. A warm start after a setpoint change therefore
ends where a flat start does, in ``run_ac``, in batches and in contingency analysis.

Tolerances: voltages 1e-9 p.u. (two iterates that both meet the 1e-8 MVA mismatch
test), flows 1e-6 MW/Mvar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridsim
from gridsim.analysis.batch import run_ac_batch
from gridsim.analysis.contingency import ac_contingency, ac_outage
from gridsim.io.matpower import read_matpower
from gridsim.model.compile import LINE
from gridsim.solvers.batch import outage_deltas, solve_batch

CASE118 = Path(__file__).parent / "data" / "matpower" / "case118.m"
TOL_V = 1e-9  # p.u.
TOL_MW = 1e-6
GEN, BUS, OLD, NEW = 1, 1, 0.955, 1.05  # case118's gen 1 (bus 1): 0.955 -> 1.05 p.u.
OUTAGES = [("line", i) for i in (3, 21, 38, 50, 62, 97, 120, 151)]  # none islands


def _case118():
    return read_matpower(CASE118)


def _changed():
    """case118 solved (flat start), then gen 1's setpoint raised to 1.05 p.u."""
    net = _case118()
    before = gridsim.run_ac(net)
    assert before.converged and before.bus.vm_pu.loc[BUS] == pytest.approx(OLD, abs=TOL_V)
    net.set("gen", GEN, "vm_pu", NEW)
    return net, before


def _outaged(outage):
    net = _case118()
    net.set("gen", GEN, "vm_pu", NEW)
    net.set(*outage, "in_service", False)
    return net


@pytest.mark.parametrize("as_array", [False, True])
def test_warm_start_after_setpoint_change_equals_flat_start(as_array):
    net, before = _changed()
    warm = gridsim.run_ac(net, init=before.v if as_array else before)
    flat = gridsim.run_ac(net)
    assert warm.converged and flat.converged
    assert warm.iterations > 0
    assert warm.bus.vm_pu.loc[BUS] == pytest.approx(NEW, abs=TOL_V)
    np.testing.assert_allclose(warm.v, flat.v, rtol=0, atol=TOL_V)
    # the given array is not changed
    if as_array:
        assert abs(before.v[0]) == pytest.approx(OLD, abs=TOL_V)


def test_warm_start_from_q_limited_result_limits_again():
    """A start from a solution with buses held at reactive limits (their magnitudes off
    the setpoints): the solve starts from the setpoints and limits the same buses."""
    net = _case118()
    limited = gridsim.run_ac(net, enforce_q_limits=True)
    assert limited.converged and limited.q_limited_buses
    again = gridsim.run_ac(net, init=limited, enforce_q_limits=True)
    assert again.converged and again.iterations > 0
    assert sorted(again.q_limited_buses) == sorted(limited.q_limited_buses)
    np.testing.assert_allclose(again.v, limited.v, rtol=0, atol=TOL_V)


def test_q_start_holds_the_limits_and_releases_those_that_regain_control():
    """``q_start``: the controllers an earlier solution held at a reactive limit start
    held. From case118's own solution the solve ends where it did (same buses limited,
    1e-9 p.u.) in fewer iterations; from the solution at 140 % of the active and 160 %
    of the reactive load (28 buses limited against 6) every controller whose voltage
    rises past its setpoint is released, and the solve ends where a cold one does: the
    same 6 buses, the same voltages. Every controller left held is at a limit with its
    voltage on the limited side; without ``enforce_q_limits`` it is ignored."""
    net = _case118()
    cold = gridsim.run_ac(net, enforce_q_limits=True)
    own = gridsim.run_ac(net, enforce_q_limits=True, q_start=cold)
    assert own.converged and own.iterations < cold.iterations
    assert sorted(own.q_limited_buses) == sorted(cold.q_limited_buses)
    np.testing.assert_allclose(own.v, cold.v, rtol=0, atol=TOL_V)
    heavy = net.copy()
    heavy.load["p_mw"] *= 1.4
    heavy.load["q_mvar"] *= 1.6
    heavy.invalidate()
    loaded = gridsim.run_ac(heavy, enforce_q_limits=True)
    assert loaded.converged and len(loaded.q_limited_buses) > 3 * len(cold.q_limited_buses)
    warm = gridsim.run_ac(net, enforce_q_limits=True, q_start=loaded)
    assert warm.converged
    assert sorted(warm.q_limited_buses) == sorted(cold.q_limited_buses)
    np.testing.assert_allclose(warm.v, cold.v, rtol=0, atol=TOL_V)
    for bus in warm.q_limited_buses:
        units = net.gen[net.gen.bus == bus]
        q = warm.gen.q_mvar[units.index]
        upper = np.isclose(q, units.max_q_mvar, atol=1e-6).any()
        lower = np.isclose(q, units.min_q_mvar, atol=1e-6).any()
        vm, vset = warm.bus.vm_pu[bus], units.vm_pu.iloc[0]
        assert upper or lower, bus
        assert (not upper or vm <= vset + 1e-9) and (not lower or vm >= vset - 1e-9), bus
    plain = gridsim.run_ac(net, q_start=loaded)
    np.testing.assert_allclose(plain.v, gridsim.run_ac(net).v, rtol=0, atol=TOL_V)


def test_injector_map_between_a_network_and_its_variants():
    """``q_start``'s matching of injectors by kind and id: the same injectors (None), one
    unit taken out (its position skipped), and any other set (positions, -1 where
    absent), each checked against a plain look-up."""
    from gridsim.analysis.qlimits import _injector_map

    cn = _case118().compile()
    assert _injector_map(cn, cn) is None
    keys = list(zip(cn.inj_kind.tolist(), cn.inj_id.tolist(), strict=True))
    for drop in (0, 7, cn.inj_kind.size - 1):
        keep = np.delete(np.arange(cn.inj_kind.size), drop)
        other = dataclasses.replace(cn, inj_kind=cn.inj_kind[keep], inj_id=cn.inj_id[keep])
        np.testing.assert_array_equal(_injector_map(cn, other), keep)
    order = np.random.default_rng(0).permutation(cn.inj_kind.size)[:-3]
    other = dataclasses.replace(cn, inj_kind=cn.inj_kind[order], inj_id=cn.inj_id[order])
    np.testing.assert_array_equal(_injector_map(cn, other), order)
    other = dataclasses.replace(other, inj_id=np.array(["nobody", *other.inj_id[1:]], dtype=object))
    got = _injector_map(cn, other)
    assert got[0] == -1 and [keys[i] for i in got[1:]] == [keys[i] for i in order[1:]]


@pytest.mark.parametrize("per_point", [False, True])
@pytest.mark.parametrize("reuse_lu", [0.0, 0.01])
def test_batch_warm_start_after_setpoint_change(per_point, reuse_lu):
    """One shared start (the shared-first-LU path) or one start per point, each from
    a solution at a different old setpoint."""
    scale = np.array([0.9, 1.0, 1.1])
    net, before = _changed()
    if per_point:
        starts = []
        for vm in (0.94, OLD, 1.0):
            old = _case118()
            old.set("gen", GEN, "vm_pu", vm)
            starts.append(gridsim.run_ac(old).v)
        init = np.array(starts)
    else:
        init = before
    warm = run_ac_batch(net, load_scale=scale, init=init, reuse_lu=reuse_lu)
    flat = run_ac_batch(net, load_scale=scale, reuse_lu=reuse_lu)
    assert warm.converged.all() and flat.converged.all()
    assert (warm.iterations > 0).all()
    bus = warm.bus_ids.get_loc(BUS)
    np.testing.assert_allclose(warm.vm_pu[:, bus], NEW, rtol=0, atol=TOL_V)
    np.testing.assert_allclose(warm.v, flat.v, rtol=0, atol=TOL_V)
    for i in range(scale.size):
        ref = gridsim.run_ac(warm.network(i))
        np.testing.assert_allclose(warm.v[i], ref.v, rtol=0, atol=TOL_V)


def test_outage_from_old_base_after_setpoint_change():
    """ac_outage from the base solved before the change, and the contingency kernel
    (solve_batch from that base: shared first LU, compensated steps) against run_ac of
    the network with the branch out."""
    net, before = _changed()
    cn = net.compile()
    positions = [np.flatnonzero((cn.br_kind == LINE) & (cn.br_id == eid))[0] for _, eid in OUTAGES]
    dpos, dval = outage_deltas(cn, np.array(positions))
    batch = solve_batch(cn, cn.sbus(), dpos=dpos, dval=dval, v0=before.v)
    assert batch.converged.all() and (batch.iterations > 0).all()
    for i, outage in enumerate(OUTAGES):
        res = ac_outage(net, outage, init=before)
        ref = gridsim.run_ac(_outaged(outage))
        assert res.converged and ref.converged and res.iterations > 0
        assert res.bus.vm_pu.loc[BUS] == pytest.approx(NEW, abs=TOL_V)
        np.testing.assert_allclose(res.v, ref.v, rtol=0, atol=TOL_V)
        np.testing.assert_allclose(batch.v[i], ref.v, rtol=0, atol=TOL_V)


def test_contingency_with_q_limits_equals_fresh_solves():
    """ac_contingency warm-starts each outage from its base case; with reactive limits
    that base has buses held off their setpoints, which the outage's solve (starting
    from the network's bus types) must not keep."""
    net, _ = _changed()
    table = ac_contingency(net, OUTAGES, enforce_q_limits=True, flows="float64").table()
    assert (table.status == "converged").all()
    for outage in OUTAGES:
        ref = gridsim.run_ac(_outaged(outage), enforce_q_limits=True)
        assert ref.converged
        rows = table[(table.outage_element == outage[0]) & (table.outage_id == outage[1])]
        keys = pd.MultiIndex.from_arrays([rows.element.astype(str), rows["id"]])
        theirs = ref.branch.loc[keys]
        for col in ("p_from_mw", "q_from_mvar"):
            np.testing.assert_allclose(rows[col], theirs[col], rtol=0, atol=TOL_MW)
        energised = ref.bus.vm_pu.dropna()
        assert rows.min_vm_pu.iloc[0] == pytest.approx(energised.min(), abs=TOL_V)
        assert rows.max_vm_pu.iloc[0] == pytest.approx(energised.max(), abs=TOL_V)


@pytest.mark.parametrize("seed", range(8))
def test_changed_setpoints_always_move_the_solution(seed):
    """Random setpoint changes at the slack and at random PV generators: from the
    earlier solution, every changed bus ends at its new setpoint (run_ac and a batch),
    and the state is the flat start's."""
    rng = np.random.default_rng(seed)
    net = _case118()
    before = gridsim.run_ac(net)
    gen = net.gen
    chosen = [*gen.index[gen.slack], *rng.choice(gen.index[~gen.slack], 4, replace=False)]
    setpoints = {}
    for gid in chosen:
        old = float(gen.vm_pu.loc[gid])
        new = old + rng.choice([-1, 1]) * rng.uniform(0.005, 0.03)
        net.set("gen", gid, "vm_pu", new)
        setpoints[int(gen.bus.loc[gid])] = new
    warm = gridsim.run_ac(net, init=before)
    batch = run_ac_batch(net, load_scale=np.array([1.0, 1.02]), init=before)
    flat = gridsim.run_ac(net)
    assert warm.converged and batch.converged.all()
    buses = list(setpoints)
    expected = np.array(list(setpoints.values()))
    np.testing.assert_allclose(warm.bus.vm_pu.loc[buses], expected, rtol=0, atol=TOL_V)
    at = warm.cn.bus_ids.get_indexer(buses)
    np.testing.assert_allclose(batch.vm_pu[:, at], expected[None, :].repeat(2, 0), atol=TOL_V)
    np.testing.assert_allclose(warm.v, flat.v, rtol=0, atol=TOL_V)
    np.testing.assert_allclose(batch.v[0], flat.v, rtol=0, atol=TOL_V)
