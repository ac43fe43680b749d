"""Dispatch arithmetic of both phases of :func:`~gridsim.analysis.ttc.n1_ttc`: setpoints
between two dispatches (:func:`_blend`), the units' moves (:func:`_moves`) and their
totals per zone (:func:`_zones`; with each zone's generation and share:
:func:`_zone_generation`, :func:`_zone_shares`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.model.network import Network
from gridsim.results import PowerFlowResult


def _blend(lo: Network, hi: Network, s: float) -> Network:
    """``lo + s (hi - lo)`` in every setpoint a transfer moves (units' active power and
    voltage, links, loads); the switched banks' steps (whole numbers) of ``hi`` where
    ``s >= 1`` (a step beyond ``hi``: the banks the voltage control switched there stay
    in), else of ``lo`` (a point between the two)."""
    net = lo.copy()
    if len(net.shunt) and s >= 1.0:
        net.shunt["step"] = hi.shunt.step.to_numpy()
    blended = (("gen", ("p_mw", "vm_pu")), ("hvdc", ("p_mw",)), ("load", ("p_mw", "q_mvar")))
    for element, cols in blended:
        if not len(net[element]):
            continue
        table = net[element]
        for col in cols:
            a, b = lo[element][col].to_numpy(dtype=float), hi[element][col].to_numpy(dtype=float)
            table[col] = a + s * (b - a)
    net.invalidate()
    return net


def _zones(net: Network, moves: pd.Series) -> pd.DataFrame:
    zone = net.bus["zone"].astype(str).reindex(net.gen.bus.reindex(moves.index)).to_numpy()
    table = pd.DataFrame(
        {"zone": zone, "up_mw": np.maximum(moves, 0.0), "down_mw": np.maximum(-moves, 0.0)}
    )
    table = table.groupby("zone", sort=True).sum()
    table["net_mw"] = table.up_mw - table.down_mw
    return table


def _zone_generation(net: Network, res: PowerFlowResult) -> pd.Series:
    """Per zone, the in-service units' AC output (``res``, MW; positive parts)."""
    p = res.gen.p_mw.clip(lower=0.0)
    zone = net.bus["zone"].astype(str).reindex(net.gen.bus.reindex(p.index)).to_numpy()
    return p.groupby(zone).sum().rename("generation_mw")


def _zone_shares(table: pd.DataFrame, generation: pd.Series) -> pd.DataFrame:
    """``table`` (per zone ``up_mw``, ``down_mw``, ``net_mw``) with each zone's
    ``generation_mw`` and ``share_percent``: ``(up + down) / generation`` in percent."""
    table = table.copy()
    table["generation_mw"] = generation.reindex(table.index).fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 100.0 * (table.up_mw + table.down_mw) / table.generation_mw
    table["share_percent"] = share.where(table.generation_mw > 0)
    return table


def _moves(before: Network, after: Network, units: pd.Index) -> pd.Series:
    diff = after.gen.p_mw.loc[units] - before.gen.p_mw.loc[units]
    return diff[np.abs(diff) > 1e-6].rename("redispatch_mw")
