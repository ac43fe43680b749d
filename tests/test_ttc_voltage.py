"""Preventive voltage control of the base case (gridsim.analysis.ttc.voltage).

The small case of ``test_ttc`` (two case14 islands joined by HVDC links, AC N-1 secure)
with one load bus's lower voltage limit raised 4 mV above its lowest post-contingency
voltage: the redispatch LP (active power) cannot hold it, the units' voltage setpoints
can. Checked independently (``run_ac`` and ``solve_outage`` over every outage, no TTC
code) and against a brute-force grid of setpoints of the two nearest units.
"""

from __future__ import annotations

import itertools
import json
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridsim
from gridsim.analysis.outages import Outage, ordinary_contingencies, solve_outage
from gridsim.analysis.ttc import n1_ttc, secured_base
from gridsim.analysis.ttc.check import _tolerance
from gridsim.analysis.ttc.voltage import MARGIN_PU

sys.path.insert(0, str(Path(__file__).parent))
from test_ttc import OPTIONS, case, slack  # noqa: E402
from test_ttc_optimality import AcN1, half_way  # noqa: E402

VOLTAGE_TOL_PU = 1e-3  # the AC check's voltage tolerance
THERMAL_TOL = 0.005
RAISE_PU = 0.004  # the lower limit set this far above the lowest post-contingency voltage
GRID_STEP_PU = 0.0025  # the brute force's setpoint step


def states(net: gridsim.Network) -> list:
    """The intact AC solution and every ordinary outage's (units not tripped)."""
    base = gridsim.run_ac(net)
    assert base.converged
    outs = [solve_outage(net, o, base=base) for o in ordinary_contingencies(net, units=None)]
    return [base] + [o.power_flow for o in outs if o.converged]


def worst_margin(net: gridsim.Network, at=None) -> tuple[float, float]:
    """The smallest voltage margin (p.u., negative: out of limits; of bus ``at`` only
    where given) and the largest loading over its limit (fraction of the rating) over
    every state."""
    lo = net.bus.min_vm_pu
    hi = net.bus.max_vm_pu
    margin, over = np.inf, -np.inf
    for res in states(net):
        vm = res.bus.vm_pu[res.bus.vm_pu > 0]
        if at is not None:
            vm = vm[[at]]
        margin = min(margin, float(np.min(np.fmin(vm - lo[vm.index], hi[vm.index] - vm))))
        loading = res.branch.loading_percent[res.branch.rate_mva > 0]
        over = max(over, float(np.nanmax(loading)) / 100.0 - 1.0)
    return margin, over


@cache
def tight() -> tuple[gridsim.Network, object]:
    """``case(0)`` with the lower limit of the load bus lowest after an outage raised
    ``RAISE_PU`` above that voltage (the base case keeps it)."""
    net = case(0)
    lowest = {}
    for res in states(net)[1:]:
        vm = res.bus.vm_pu
        for b, v in vm[vm > 0].items():
            lowest[b] = min(lowest.get(b, np.inf), v)
    pq = set(net.load.bus) - set(net.gen.bus) - set(net.ext_grid.bus)
    bus = min(pq, key=lambda b: lowest[b])
    out = net.copy()
    out.bus.loc[bus, "min_vm_pu"] = lowest[bus] + RAISE_PU
    out.invalidate()
    return out, bus


def test_base_voltage_is_secured_by_setpoints_and_holds_in_ac():
    net, bus = tight()
    margin, _ = worst_margin(net)
    assert margin < -VOLTAGE_TOL_PU  # insecure as built, by a voltage
    base = secured_base(net, units=None, enforce_q_limits=False)
    assert base.secured, base.residual
    assert len(base.base_voltage_change_pu) > 0
    assert base.base_redispatch_mw.abs().sum() < 1e-6  # active power did not move
    moved = base.network
    changed = moved.gen.vm_pu - net.gen.vm_pu
    changed = changed[changed.abs() > 1e-12].sort_index()
    np.testing.assert_allclose(changed, base.base_voltage_change_pu.sort_index(), atol=1e-12)
    assert list(changed.index) == sorted(base.base_voltage_change_pu.index)
    margin, over = worst_margin(moved)  # independently: every state, every limit
    assert margin >= -VOLTAGE_TOL_PU
    assert over <= THERMAL_TOL
    # without the control the base case cannot be secured
    off = secured_base(net, units=None, enforce_q_limits=False, voltage_control=False)
    left = off.residual[off.residual.excess > _tolerance(off.residual)]
    assert not off.secured and len(left) and (left.kind == "voltage").all()


def test_setpoints_moved_least_against_a_brute_force_grid():
    """sum |move| is at most the brute force's best over the two controls nearest the
    bus (every combination in GRID_STEP_PU steps, each checked by AC N-1: the bus
    ``MARGIN_PU`` inside its limit, as the LP aims, every other limit held), plus one
    grid step."""
    net, bus = tight()
    base = secured_base(net, units=None, enforce_q_limits=False)
    assert base.secured
    ours = float(base.base_voltage_change_pu.groupby(net.gen.bus).first().abs().sum())
    # the two voltage-controlling buses nearest the bus (graph distance)
    import networkx as nx

    graph = nx.Graph()
    graph.add_edges_from(zip(net.line.from_bus, net.line.to_bus, strict=True))
    graph.add_edges_from(zip(net.trafo.hv_bus, net.trafo.lv_bus, strict=True))
    dist = nx.single_source_shortest_path_length(graph, bus)
    ctl = sorted(set(net.gen.bus[net.gen.in_service]), key=lambda b: (dist.get(b, 99), b))[:2]
    steps = np.arange(0.0, 0.03 + 1e-12, GRID_STEP_PU)
    best = np.inf
    for d in itertools.product(steps, repeat=len(ctl)):
        if sum(d) >= best:
            continue
        trial = net.copy()
        for b, x in zip(ctl, d, strict=True):
            at = trial.gen.bus == b
            trial.gen.loc[at, "vm_pu"] = trial.gen.vm_pu[at] + x
        trial.invalidate()
        aimed = worst_margin(trial, at=bus)[0] >= MARGIN_PU - 1e-6
        if aimed and worst_margin(trial)[0] >= -VOLTAGE_TOL_PU:
            best = sum(d)
    assert np.isfinite(best)
    assert ours <= best + GRID_STEP_PU


def test_the_ttc_starts_from_the_voltage_secured_base():
    net, _ = tight()
    result = n1_ttc(net, "A", "B", **OPTIONS)
    assert result.defined and result.ttc_mw >= 0
    assert len(result.base_voltage_change_pu) > 0
    at = result.network
    for gid, change in result.base_voltage_change_pu.items():
        assert at.gen.vm_pu[gid] == pytest.approx(net.gen.vm_pu[gid] + change, abs=1e-12)


def test_reused_post_outage_networks_follow_moved_setpoints():
    """solve_outage with ``reuse`` (a post-contingency network compiled once per outage)
    after a unit's voltage setpoint moved gives the same voltages as a fresh solve."""
    net = case(0)
    link = Outage("hvdc", "hvdc", net.hvdc.index[0])
    reuse: dict = {}
    solve_outage(net, link, reuse=reuse)
    moved = net.copy()
    gid = moved.gen.index[0]
    moved.gen.loc[gid, "vm_pu"] = moved.gen.vm_pu[gid] + 0.02
    moved.invalidate()
    kept = solve_outage(moved, link, reuse=reuse).power_flow
    fresh = solve_outage(moved, link).power_flow
    assert kept.converged and fresh.converged
    np.testing.assert_allclose(np.abs(kept.v), np.abs(fresh.v), atol=1e-9)


def test_reused_post_outage_networks_follow_switched_banks():
    """The same after a switched bank's steps changed (the bus shunts of the kept
    post-contingency network are those of the dispatch solved), and the steps do move
    the voltages (by more than 1e-4 p.u. at the bank's bus)."""
    net = banked()
    link = Outage("hvdc", "hvdc", net.hvdc.index[0])
    reuse: dict = {}
    before = solve_outage(net, link, reuse=reuse).power_flow
    switched = net.copy()
    switched.shunt.loc["BANK", "step"] = 5.0
    switched.invalidate()
    kept = solve_outage(switched, link, reuse=reuse).power_flow
    fresh = solve_outage(switched, link).power_flow
    assert kept.converged and fresh.converged
    np.testing.assert_allclose(np.abs(kept.v), np.abs(fresh.v), atol=1e-9)
    bus = net.shunt.bus["BANK"]
    assert kept.bus.vm_pu[bus] - before.bus.vm_pu[bus] > 1e-4


def test_cli_reports_and_turns_off_the_voltage_control_and_rows(tmp_path, capsys):
    from conftest import run_cli
    from test_scopf import zone_triangle

    zone_triangle(tmp_path / "net.yaml")
    args = ["transfer", tmp_path / "net.yaml", "--source", "A", "--sink", "B", "--method"]
    args += ["optimal", "--units", "none", "--json"]
    for flag, on, rows in (
        ([], True, True),
        (["--no-voltage-control"], False, True),
        (["--no-voltage-rows"], True, False),
    ):
        status, out, err = run_cli([*args, *flag], capsys)
        assert status == 0, err
        doc = json.loads(out)
        assert doc["voltage_control"] is on and doc["voltage_rows"] is rows
        assert doc["base_voltage_change_pu"] == {}  # nothing to hold in this case
        assert doc["voltage_change_pu"] == {}


@cache
def voltage_limited() -> gridsim.Network:
    """``case(0)`` with the lower limit of the load bus whose lowest post-contingency
    voltage falls most between the base case and the N-1 TTC set half-way between the
    two: the base case holds, the transfer meets that voltage."""
    net = case(0)
    at_ttc = n1_ttc(net, "A", "B", voltage_control=False, **OPTIONS).network

    def lowest(n):
        low = {}
        for res in states(n)[1:]:
            vm = res.bus.vm_pu
            for b, v in vm[vm > 0].items():
                low[b] = min(low.get(b, np.inf), v)
        return low

    return half_way(net, lowest(net), lowest(at_ttc))


def test_voltage_control_never_lowers_the_ttc_and_its_answer_holds_in_ac():
    """A controllable asset never lowers a transfer capability: the TTC with the units'
    voltage setpoints free is at least the TTC with them fixed (less the search
    tolerance), with or without the voltages as rows of the LPs, and the dispatch at
    each holds in an independent AC N-1 check."""
    net = voltage_limited()
    bisected = n1_ttc(net, "A", "B", voltage_control=False, voltage_rows=False, **OPTIONS)
    fixed = n1_ttc(net, "A", "B", voltage_control=False, **OPTIONS)  # rows by default
    free = n1_ttc(net, "A", "B", **OPTIONS)
    assert bisected.defined and fixed.defined and free.defined
    # the transfer meets the voltage along the first LP's direction
    assert (bisected.next_step.kind == "voltage").any()
    for held in (bisected, fixed):
        assert free.ttc_mw >= held.ttc_mw - slack(held.ttc_mw)
        assert AcN1(net).violation(held.network) is None
    # here the setpoints lift the voltage limit (12.3 -> 21.0 MW, then thermal); the
    # voltage as a row turns the LPs' HVDC split away from it (20.7 MW)
    assert free.ttc_mw > bisected.ttc_mw + 5.0
    assert fixed.ttc_mw > bisected.ttc_mw + 5.0
    margin, over = worst_margin(free.network)
    assert margin >= -VOLTAGE_TOL_PU and over <= THERMAL_TOL
    moved = free.network.gen.vm_pu - net.gen.vm_pu
    moved = moved[moved.abs() > 1e-9]
    assert sorted(moved.index) == sorted(free.voltage_change_pu.index)


BANK_MVAR = 2.0  # one step of the switched capacitor bank of the bank tests
BANK_STEPS = 10


def banked() -> gridsim.Network:
    """``tight()`` with a switched capacitor bank at the tight bus: ``BANK_STEPS`` steps
    of ``BANK_MVAR``, none in service."""
    net, bus = tight()
    tables = dict(net.tables)
    row = {"name": "bank", "bus": bus, "p_mw": 0.0, "q_mvar": -BANK_MVAR, "vn_kv": np.nan}
    row |= {"step": 0.0, "max_step": float(BANK_STEPS), "in_service": True}
    bank = pd.DataFrame([row], index=pd.Index(["BANK"], name="id"))
    tables["shunt"] = pd.concat([net.shunt, bank])
    return gridsim.Network(tables)


def test_a_switched_bank_secures_the_voltage_with_the_fewest_steps(monkeypatch):
    """With no unit's setpoint free to move (``MAX_CONTROLS = 0``), the bank's steps
    hold the voltage: the secured dispatch switches ``k`` steps in, holds every limit in
    an independent AC N-1 check, moves nothing else, and ``k`` is at most one more than
    the fewest steps that bring the bus ``MARGIN_PU`` inside its limit after every
    outage (brute force over 0..BANK_STEPS, each by AC N-1), and at least the fewest
    that hold it within the check's tolerance."""
    from gridsim.analysis.ttc import voltage

    monkeypatch.setattr(voltage, "MAX_CONTROLS", 0)
    net = banked()
    _, bus = tight()
    base = secured_base(net, units=None, enforce_q_limits=False)
    assert base.secured, base.residual
    assert len(base.base_voltage_change_pu) == 0
    assert base.base_redispatch_mw.abs().sum() < 1e-6
    assert list(base.base_shunt_step_change.index) == ["BANK"]
    k = base.base_shunt_step_change["BANK"]
    assert k == round(k) and base.network.shunt.step["BANK"] == k
    margin, over = worst_margin(base.network)
    assert margin >= -VOLTAGE_TOL_PU and over <= THERMAL_TOL
    fewest_aimed = fewest_held = None
    for steps in range(BANK_STEPS + 1):
        trial = net.copy()
        trial.shunt.loc["BANK", "step"] = float(steps)
        trial.invalidate()
        at_bus = worst_margin(trial, at=bus)[0]
        if fewest_held is None and worst_margin(trial)[0] >= -VOLTAGE_TOL_PU:
            fewest_held = steps
        if at_bus >= MARGIN_PU - 1e-6:
            fewest_aimed = steps
            break
    assert fewest_held is not None and fewest_aimed is not None
    assert fewest_held <= k <= fewest_aimed + 1
    # without the bank (fixed: max_step NaN) and no setpoint free, nothing secures it
    fixed = net.copy()
    fixed.shunt.loc["BANK", "max_step"] = np.nan
    fixed.invalidate()
    assert not secured_base(fixed, units=None, enforce_q_limits=False).secured


def test_a_step_beyond_keeps_the_banks_switched_at_the_ttc():
    """``_blend`` (the step beyond the TTC, the bisection): the units' setpoints between
    or beyond the two dispatches, the banks' steps of the far one where the blend goes
    past it (a bank the voltage control switched at the TTC stays in for the step
    beyond), else of the near one."""
    from gridsim.analysis.ttc.dispatch import _blend

    lo = banked()
    hi = lo.copy()
    hi.shunt.loc["BANK", "step"] = float(lo.shunt.step["BANK"]) + 3.0
    unit = hi.gen.index[0]
    hi.gen.loc[unit, "vm_pu"] = float(lo.gen.vm_pu[unit]) + 0.02
    hi.invalidate()
    for s, steps in ((0.5, lo), (1.0, hi), (1.2, hi)):
        out = _blend(lo, hi, s)
        assert out.shunt.step["BANK"] == steps.shunt.step["BANK"], s
        want = lo.gen.vm_pu[unit] + s * 0.02
        assert abs(out.gen.vm_pu[unit] - want) < 1e-12
