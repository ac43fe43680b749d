"""The base case chosen with the transfer (:func:`gridsim.n1_ttc`'s ``joint_base``).

The least redispatch that secures the base case is one of many, and the transfer
searched from it depends on which (issue 17: on the corridor's 2032 summer peak the
cheaper securing that a 110 % emergency rating allows leaves 143 MW less export than
the securing at 100 %). After the search, :func:`_proposal` solves one LP over the two
states (:func:`gridsim.analysis.scopf.joint.secure_for_transfer`: the base case's moves
and the transfer together, the base case's export not raised above its schedule
or the least securing's);
where it lets more through than the search tolerance, :func:`_joint_base` secures the
base case it proposes in AC (the securing rounds of phase 1 from that dispatch) and
:func:`gridsim.n1_ttc` searches the transfer from it, keeping the larger total
(:attr:`TtcResult.started_from` ``"joint"``)."""

from __future__ import annotations

import dataclasses

from gridsim.analysis.scopf import LinearisedGrid
from gridsim.analysis.scopf.joint import secure_for_transfer
from gridsim.analysis.ttc.base import SecuredBase, _kept, _secure
from gridsim.analysis.ttc.check import THERMAL_TOL, VOLTAGE_TOL_PU
from gridsim.model.network import Network


def _proposal(
    base: SecuredBase,
    base_grid: LinearisedGrid,
    transfer_grid: LinearisedGrid,
    src,
    snk,
    signs: dict,
    t_now: float,
    exchange: float,
    options: dict,
) -> tuple[Network | None, float]:
    """The secured base case's dispatch moved as the two-state LP chooses, and the
    export it gains at the transfer (None, 0 where the LP fails or moves nothing)."""
    # each zone within its bound where one is given (fixed: then relaxing a limit only
    # enlarges the LP's feasible set), else as much as securing moved there, rearranged
    if base._limit_mw is not None:
        budget = dict(base._limit_mw)
    else:
        zones = base.network.bus["zone"].astype(str).unique()
        volume = base.base_redispatch_zone.up_mw + base.base_redispatch_zone.down_mw
        budget = {z: float(volume.get(z, 0.0)) for z in zones}
    move, gain = secure_for_transfer(
        base_grid,
        transfer_grid,
        src,
        snk,
        signs,
        t_now=t_now,
        exchange_room=max(0.0, -exchange),
        sink_element=options["sink_element"],
        redispatch=options["base_redispatch"],
        interfaces=base._faces,
        redispatch_balance="island" if options["base_redispatch_balance"] == "area" else "zone",
        redispatch_limit_mw=budget,
        redispatched_mw=base.base_redispatch_mw,
        thermal_tol=THERMAL_TOL,
        voltage_tol=VOLTAGE_TOL_PU,
    )
    if move is None or move.redispatch_total_mw + move.hvdc.change_mw.abs().sum() < 1e-6:
        return None, 0.0
    return move.apply(base.network), gain


def _joint_base(network: Network, base: SecuredBase, proposal: Network) -> SecuredBase:
    """``base``'s options and interfaces, secured in AC from the dispatch ``proposal``
    (phase 1's rounds, where it breaks a limit), the AC checks' state shared."""
    start = dataclasses.replace(base.as_start(), network=proposal, published=None)
    return _secure(network, base.options, base._faces, _kept(base._shared), base.fingerprint, start)
