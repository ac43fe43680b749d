"""run_ac's per-network caches (start vectors, scheduled injections, start choice) follow
edits: a solve after an edit equals a fresh network's solve of the edited case."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import gridsim

CASE118 = Path(__file__).parent / "data" / "matpower" / "case118.m"
EDITS = {
    "load": ("load", 3, "p_mw", 75.0),
    "gen-setpoint": ("gen", 3, "vm_pu", 1.0),
    "line-out": ("line", 1, "in_service", False),
}


def _v(res) -> np.ndarray:
    assert res.converged, res.message
    return res.v


@pytest.mark.parametrize("init", ["auto", "flat", "dc"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_edit_between_solves_matches_fresh_network(edit, init):
    net = gridsim.read_matpower(CASE118)
    before = _v(gridsim.run_ac(net, init=init))
    _v(gridsim.run_ac(net.compile(), init=init))  # the caches filled on the compiled arrays
    net.set(*EDITS[edit])
    after = _v(gridsim.run_ac(net, init=init))
    fresh = gridsim.read_matpower(CASE118)
    fresh.set(*EDITS[edit])
    expected = _v(gridsim.run_ac(fresh, init=init))
    np.testing.assert_allclose(after, expected, rtol=0, atol=1e-12)
    assert np.abs(after - before).max() > 1e-6  # the edit changed the solution


@pytest.mark.parametrize("enforce", [False, True])
def test_copy_sharing_the_cache_solves_its_own_injections(enforce):
    """A copy made with dataclasses.replace that keeps the cache (as sweeps and outage
    studies make) solves its own loads, not the cached injections of the original."""
    cn = gridsim.read_matpower(CASE118).compile()
    gridsim.run_ac(cn, enforce_q_limits=enforce)
    shared = dataclasses.replace(cn, load_s=cn.load_s * 1.1, _cache=cn._cache)
    alone = dataclasses.replace(cn, load_s=cn.load_s * 1.1, _cache={})
    got = _v(gridsim.run_ac(shared, enforce_q_limits=enforce))
    expected = _v(gridsim.run_ac(alone, enforce_q_limits=enforce))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    again = _v(gridsim.run_ac(cn, enforce_q_limits=enforce))  # the original's own again
    base = _v(gridsim.run_ac(dataclasses.replace(cn, _cache={}), enforce_q_limits=enforce))
    np.testing.assert_allclose(again, base, rtol=0, atol=1e-12)
    assert np.abs(got - again).max() > 1e-4


def test_q_limited_solve_does_not_leak_into_the_next():
    """Reactive limits change bus types and fixed outputs in one solve only; the next
    solve without limits starts from the cached state of the compiled network."""
    cn = gridsim.read_matpower(CASE118).compile()
    plain = _v(gridsim.run_ac(cn))
    limited = gridsim.run_ac(cn, enforce_q_limits=True)
    assert limited.q_limited_buses
    np.testing.assert_allclose(_v(gridsim.run_ac(cn)), plain, rtol=0, atol=1e-12)
    fresh = gridsim.read_matpower(CASE118).compile()
    np.testing.assert_allclose(
        _v(limited), _v(gridsim.run_ac(fresh, enforce_q_limits=True)), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("field", ["load_s", "br_ys", "br_tap"])
def test_dc_start_follows_a_copy_sharing_the_cache(field):
    """The DC start is cached on the compiled network (it costs a DC power flow: 3 ms
    on case9241pegase, where init="auto" starts from it); a copy sharing the cache with
    other loads or branch parameters gets its own. One iteration from the start: the
    result depends on the start."""
    cn = gridsim.read_matpower(CASE118).compile()
    gridsim.run_ac(cn, init="dc")
    change = {"load_s": 1.1, "br_ys": 1.05, "br_tap": np.exp(0.05j)}[field]
    changed = {field: getattr(cn, field) * change}
    shared = dataclasses.replace(cn, **changed, _cache=cn._cache)
    alone = dataclasses.replace(cn, **changed, _cache={})
    got = gridsim.run_ac(shared, init="dc", max_iter=1).v
    expected = gridsim.run_ac(alone, init="dc", max_iter=1).v
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    base = gridsim.run_ac(dataclasses.replace(cn, _cache={}), init="dc", max_iter=1).v
    np.testing.assert_allclose(gridsim.run_ac(cn, init="dc", max_iter=1).v, base, rtol=0, atol=0)
    assert np.abs(got - base).max() > 1e-4


def test_a_table_cannot_be_replaced_by_assignment():
    """``net.shunt = frame`` would leave the table the solvers read as it was (the new
    frame shadowing it as an attribute): refused, naming the ways that work; other
    attributes are set as before."""
    net = gridsim.read_matpower(CASE118)
    with pytest.raises(AttributeError, match="Network.shunt cannot be replaced"):
        net.shunt = net.shunt.iloc[:0]
    assert len(net.shunt) == len(net.columns("shunt"))
    net.name = "renamed"
    assert net.name == "renamed"
