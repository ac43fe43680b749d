"""The AC-corrected shadow prices of the transfer LP at the TTC (:func:`_ac_prices`, the
package docstring's last paragraph): each priced thermal row's dual scaled by the AC
loading change that a ``PRICE_STEP`` raise of its rating brings (:func:`_loading`).
:func:`~gridsim.analysis.ttc.verify_shadow_price` (:mod:`gridsim.analysis.ttc.method`)
checks a price by re-solving the whole TTC."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from gridsim.analysis.outages import solve_outage
from gridsim.analysis.powerflow import run_ac
from gridsim.analysis.scopf import LinearisedGrid, ScopfResult, max_transfer
from gridsim.analysis.ttc.check import BASE_MAX_ITER
from gridsim.model.network import Network
from gridsim.results import PowerFlowResult

PRICE_STEP = 0.01  # rating raise of the AC finite difference of a shadow price


def _ac_prices(check, grid: LinearisedGrid, net: Network, fallback: ScopfResult, lp_args):
    """The transfer LP re-linearised at the AC optimum ``net`` (``grid``), its thermal
    shadow prices corrected by a finite difference in AC.

    For each line or transformer with a priced thermal row, the LP is solved again with
    its rating raised by ``PRICE_STEP`` (a fraction): the change ``du`` of the solution
    moves the row's linearised flow by the limit change ``dL`` and ``t`` by ``dt``. Both
    solutions are applied to ``net`` and the element's AC loading (after the row's
    outage) compared: where AC moves it by ``dS``, holding the limit needs ``du`` scaled
    by ``dL / dS``, so the row's price is scaled by that factor. ``shadow_price_dc``
    keeps the LP's dual. Returns ``fallback`` (the last LP) where this LP fails.
    """
    lp0 = max_transfer(grid, **lp_args)
    if lp0.status != "optimal":
        return fallback
    table = lp0.binding.copy()
    table["shadow_price_dc"] = table.shadow_price
    thermal = table.kind.isin(["n-0", "n-1"]) & (table.shadow_price > 0)
    keys = pd.MultiIndex.from_arrays([grid.cn.br_kind, grid.cn.br_id])
    outages = {o.label: o for o in check.outages}
    base0 = run_ac(lp0.apply(net), enforce_q_limits=check.q_limits, max_iter=BASE_MAX_ITER)
    for (element, eid), rows in table[thermal].groupby(["element", "id"], sort=False):
        k = keys.get_loc((0 if element == "line" else 1, eid))
        raised = copy.copy(grid)
        raised.rate = grid.rate.copy()
        raised.rate[k] *= 1.0 + PRICE_STEP
        lp1 = max_transfer(raised, **lp_args)
        dt = lp1.transfer_mw - lp0.transfer_mw
        if lp1.status != "optimal" or not dt > 0:
            continue
        row = rows.iloc[0]  # its row with the largest price
        net1 = lp1.apply(net)
        base1 = run_ac(net1, enforce_q_limits=check.q_limits, max_iter=BASE_MAX_ITER)
        if not (base0.converged and base1.converged):
            continue
        outage = outages.get(row.contingency)
        ds = _loading(net1, base1, outage, (k, keys), check) - _loading(
            lp0.apply(net), base0, outage, (k, keys), check
        )
        dl = grid.rate[k] * PRICE_STEP * row.limit_per_rating
        if np.isfinite(ds) and ds > 0:
            table.loc[rows.index, "shadow_price"] = rows.shadow_price * dl / ds
    lp0.binding = table.sort_values("shadow_price", ascending=False, ignore_index=True)
    return lp0


def _loading(net: Network, base: PowerFlowResult, outage, branch, check) -> float:
    """AC loading (``max(|S_from|, |S_to|)``, MVA) of ``branch = (position, keys)`` in
    ``net`` (solved ``base``), after ``outage`` where it is not None."""
    k, keys = branch
    res = base
    if outage is not None:
        post = solve_outage(net, outage, base=base, enforce_q_limits=check.q_limits)
        if post.status == "diverged":
            return np.nan
        res = post.power_flow
    pos = pd.MultiIndex.from_arrays([res.cn.br_kind, res.cn.br_id]).get_indexer([keys[k]])[0]
    if pos < 0:
        return np.nan
    return float(max(abs(res._s_from[pos]), abs(res._s_to[pos])))
