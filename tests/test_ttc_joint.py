"""``n1_ttc(..., joint_base=True)``: the base case's redispatch chosen with the transfer
(:mod:`gridsim.analysis.scopf.joint`), on a random case whose base case needs securing.

Case: ``test_ttc_optimality.joined("case14", 3, 3)`` with every branch rated at 0.85-1.3
times its largest AC loading at zero transfer (intact and after each branch outage)
plus 2 MVA (:func:`tightened`, seed 300): the least securing redispatch moves 45.6 MW,
the TTC from there is 9.9 MW of export beyond the schedule, and the base case the joint
LP proposes (46.9 MW moved once secured in AC) lets 13.7 MW through. The answer is
checked with the brute force's own AC N-1 check (``test_ttc_optimality.AcN1``), not with
``n1_ttc``'s.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import gridsim
from gridsim.analysis.scopf import LinearisedGrid
from gridsim.analysis.scopf.joint import secure_for_transfer
from gridsim.analysis.scopf.problems import _joining_signs

sys.path.insert(0, str(Path(__file__).parent))
from test_ttc_optimality import PROPS, AcN1, joined, shift_keys, ttc  # noqa: E402


def tightened(net: gridsim.Network, seed: int) -> gridsim.Network:
    """``net`` with every branch rated at 0.85-1.3 times its largest AC loading (MVA, at
    zero transfer: intact and after each ordinary branch or link outage) plus 2 MVA."""
    base = gridsim.run_ac(net, enforce_q_limits=False)
    b = base.branch
    worst = (b.loading_percent * b.rate_mva / 100.0).fillna(0.0)
    for outage in gridsim.ordinary_contingencies(net, units=None):
        pb = gridsim.solve_outage(net, outage, base=base).power_flow.branch
        mva = (pb.loading_percent * pb.rate_mva / 100.0).reindex(worst.index).fillna(0.0)
        worst = np.maximum(worst, mva)
    rng = np.random.default_rng(seed)
    out = net.copy()
    for (element, eid), w in worst.items():
        out[element].loc[eid, "rate_mva"] = w * rng.uniform(0.85, 1.3) + 2.0
    out.invalidate()
    return out


@pytest.fixture(scope="module")
def case():
    net = tightened(joined("case14", 3, 3), 300)
    return net, ttc(net, PROPS), ttc(net, PROPS, joint_base=True)


def test_the_joint_base_case_lets_more_through_and_holds_in_ac(case):
    net, least, joint = case
    assert least.status == "optimal" and len(least.base_redispatch_mw) > 0, least.message
    assert joint.started_from == "joint", joint.message  # not vacuous
    tol = PROPS["tol_mw"] + PROPS["rel_tol"] * abs(least.total_change_mw)
    assert joint.total_change_mw > least.total_change_mw + tol
    check = AcN1(net)
    assert check.violation(joint.secured_network) is None  # the base case: N-1 secure
    assert check.violation(joint.network) is None  # and the TTC
    # the base case exports no more than the schedule, nor than the least securing did
    assert joint.base_exchange_change_mw <= max(0.0, least.base_exchange_change_mw) + 1e-6


def test_the_joint_lp_keeps_its_bounds(case):
    """One LP on the secured base case (both states linearised there): each zone moves
    no more than the least securing moved there, the base case's export stays at most
    the room given, and links that do not join hold their setpoints."""
    net, least, _ = case
    base_net = least.secured_network
    src, snk = shift_keys(net)
    outages = gridsim.ordinary_contingencies(net, units=None)
    grid = LinearisedGrid(
        base_net, gridsim.run_ac(base_net, enforce_q_limits=False), outages=outages
    )
    zones = least.base_redispatch_zone
    budget = {z: float(zones.up_mw.get(z, 0.0) + zones.down_mw.get(z, 0.0)) for z in ("A", "B")}
    signs = _joining_signs(grid, src, snk, "load")
    assert len(signs) == 3
    move, gain = secure_for_transfer(
        grid,
        grid,
        src,
        snk,
        signs,
        t_now=0.0,
        exchange_room=0.0,
        redispatch_limit_mw=budget,
        redispatched_mw=least.base_redispatch_mw,
    )
    assert move is not None and gain >= 0.0
    total = least.base_redispatch_mw.add(move.redispatch_mw, fill_value=0.0)
    zone = net.bus.zone.reindex(net.gen.bus.reindex(total.index)).to_numpy()
    used = total.abs().groupby(zone).sum()
    for z, limit in budget.items():
        assert used.get(z, 0.0) <= limit + 1e-6, (z, used.get(z, 0.0), limit)
    export = sum(signs[j] * move.hvdc.change_mw[j] for j in signs)
    assert export <= 1e-6  # the base case's export: not raised


def test_cli_passes_joint_base(tmp_path, capsys):
    from conftest import run_cli
    from test_scopf import zone_triangle

    zone_triangle(tmp_path / "net.yaml")
    args = ["transfer", tmp_path / "net.yaml", "--source", "A", "--sink", "B", "--method"]
    args += ["optimal", "--units", "none", "--json"]
    for flag, on in (([], False), (["--joint-base"], True)):
        status, out, err = run_cli([*args, *flag], capsys)
        assert status == 0, err
        doc = json.loads(out)
        assert doc["joint_base"] is on
        assert doc["started_from"] in ("physical", "published", "joint")
