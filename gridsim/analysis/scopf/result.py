"""What a security-constrained LP returns (:class:`ScopfResult`): the solution, the
binding rows with their shadow prices, the residual violations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from gridsim.analysis.scopf.lp import ACTIVE_TOL, DUAL_TOL, _Lp
from gridsim.model.network import Network, plain


@dataclasses.dataclass
class ScopfResult:
    """Outcome of :func:`secure_base_case` or :func:`max_transfer`.

    Attributes
    ----------
    problem : {"secure_base_case", "max_transfer"}
    status : {"optimal", "cannot be secured", "failed"}
        ``"cannot be secured"``: no dispatch within the controls holds every limit (for
        :func:`max_transfer`: not even at ``t = 0``); ``residual`` lists what is left.
    highs_status : str
        HiGHS's model status of the (last) solve.
    message : str
        The outcome in words.
    transfer_mw : float
        ``t`` (0 for :func:`secure_base_case`).
    hvdc : pandas.DataFrame
        Per free link: ``p0_mw``, ``p_mw`` (new setpoint), ``change_mw``, ``max_p_mw``.
    redispatch_mw : pandas.Series
        Per redispatchable unit: output change, MW (the transfer's own share excluded).
    redispatch_zone : pandas.DataFrame
        Per zone: ``up_mw``, ``down_mw``, ``net_mw``.
    redispatch_total_mw : float
        ``sum |redispatch_mw|``.
    objective : float
        ``t`` or the redispatch cost.
    binding : pandas.DataFrame
        The binding limits: ``kind`` (``n-0``, ``n-1``, ``interface``, ``generation``,
        ``voltage``, ``hvdc``, ``max_mw``), ``element``, ``id``, ``contingency`` (the
        outage's label, None in the base case), ``flow_mw`` (linearised, at the
        solution; MVA for a row held on its MVA loading, p.u. for a voltage row),
        ``limit_mw`` (p.u. for a voltage row), ``shadow_price`` (see the module
        docstring; MW per p.u. of a voltage limit relaxed),
        ``limit_per_rating``; largest price first.
    violations_before : pandas.DataFrame
        The rows violated at ``u = 0`` (``kind``, ``element``, ``id``, ``contingency``,
        ``flow_mw``, ``limit_mw``, ``excess_mw``): what a secured base case removed.
    residual : pandas.DataFrame
        Where the base case cannot be secured: the rows left violated by the dispatch
        that violates least (sum of MW), same columns.
    n_rows, n_rows_dropped, n_cols : int
        LP size, and the rows the screen left out.
    build_s, solve_s : float
        Seconds spent forming the LP and in HiGHS.
    """

    problem: str
    status: str
    highs_status: str
    message: str
    transfer_mw: float
    hvdc: pd.DataFrame
    redispatch_mw: pd.Series
    redispatch_zone: pd.DataFrame
    redispatch_total_mw: float
    objective: float
    binding: pd.DataFrame
    violations_before: pd.DataFrame
    residual: pd.DataFrame
    n_rows: int
    n_rows_dropped: int
    n_cols: int
    build_s: float
    solve_s: float
    source_shares: pd.Series = dataclasses.field(repr=False, default=None)
    sink_shares: pd.Series = dataclasses.field(repr=False, default=None)
    sink_element: str = "load"

    @property
    def secured(self) -> bool:
        return self.status == "optimal"

    def rating_prices(self) -> pd.Series:
        """MW of objective per MVA of ``rate_mva``, per branch binding in some row:
        ``sum shadow_price * limit_per_rating`` over its thermal rows."""
        b = self.binding[self.binding.kind.isin(["n-0", "n-1"])]
        price = b.shadow_price * b.limit_per_rating
        return price.groupby([b.element, b.id], sort=False).sum().rename("shadow_price")

    def apply(self, network: Network) -> Network:
        """A copy of ``network`` with the solution's dispatch: source units up and sink
        loads up (constant power factor) by ``t`` times their shares, the redispatch,
        and the new HVDC setpoints (to verify in AC)."""
        net = network.copy()
        gen = net.gen
        delta = pd.Series(0.0, index=gen.index)
        if self.source_shares is not None:
            delta = delta.add(self.transfer_mw * self.source_shares, fill_value=0.0)
        delta = delta.add(self.redispatch_mw, fill_value=0.0)
        if self.sink_shares is not None and self.sink_element == "gen":
            delta = delta.sub(self.transfer_mw * self.sink_shares, fill_value=0.0)
        moved = delta.index[delta != 0]
        gen.loc[moved, "p_mw"] = gen.p_mw.loc[moved] + delta.loc[moved]
        if self.sink_shares is not None and self.sink_element == "load":
            load = net.load
            ids = self.sink_shares.index
            p0 = load.p_mw.loc[ids].to_numpy(dtype=float)
            p1 = p0 + self.transfer_mw * self.sink_shares.to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(p0 != 0, p1 / p0, 1.0)
            load.loc[ids, "q_mvar"] = load.q_mvar.loc[ids].to_numpy(dtype=float) * ratio
            load.loc[ids, "p_mw"] = p1
        if len(self.hvdc):
            net.hvdc.loc[self.hvdc.index, "p_mw"] = self.hvdc.p_mw.to_numpy()
        net.invalidate()
        return net


def _outcome(lp: _Lp, problem, x, objective, status, message, duals, residual, solve_s, sense):
    """The ScopfResult of solution ``x``; ``duals``: ``(rows, row_dual, col_dual)`` of the
    LP whose duals are reported, or None."""
    grid = lp.grid
    cn, net = grid.cn, grid.network
    m, n = lp.m, lp.n
    h = x[1 : 1 + m]
    p0 = cn.hvdc_p[lp.jpos]
    hvdc = pd.DataFrame(
        {"p0_mw": p0, "p_mw": p0 + h, "change_mw": h, "max_p_mw": cn.hvdc_rating[lp.jpos]},
        index=pd.Index([plain(i) for i in lp.links], name="hvdc"),
    )
    r = x[1 + m : 1 + m + n] - x[1 + m + n : lp.nv]
    redispatch = pd.Series(r, index=lp.redispatch.index, name="redispatch_mw")
    zone = net.bus["zone"].astype(str).reindex(net.gen.bus.reindex(redispatch.index)).to_numpy()
    redispatch_zone = (
        pd.DataFrame({"zone": zone, "up_mw": np.maximum(r, 0), "down_mw": np.maximum(-r, 0)})
        .groupby("zone", sort=True)
        .sum()
    )
    redispatch_zone["net_mw"] = redispatch_zone.up_mw - redispatch_zone.down_mw
    flows = lp.activity(x)
    before = lp.violations(lp.const)
    return ScopfResult(
        problem=problem,
        status="optimal" if residual is None else "cannot be secured",
        highs_status=status,
        message=message,
        transfer_mw=float(x[0]),
        hvdc=hvdc,
        redispatch_mw=redispatch,
        redispatch_zone=redispatch_zone,
        redispatch_total_mw=float(np.abs(r).sum()),
        objective=float(objective),
        binding=_binding(lp, x[: lp.nv], flows, duals, sense),
        violations_before=before,
        residual=residual if residual is not None else before.iloc[:0],
        n_rows=int(lp.n_cand + lp.hard.shape[0]),
        n_rows_dropped=lp.dropped,
        n_cols=lp.nv,
        build_s=lp.build_s,
        solve_s=solve_s,
        source_shares=lp.source,
        sink_shares=lp.sink,
        sink_element=lp.sink_element,
    )


def _binding(lp: _Lp, x, flows, duals, sense: float) -> pd.DataFrame:
    """Rows at a limit or with a dual, and HVDC/generation/max_mw bounds at a limit.

    ``sense``: +1 for a maximisation, -1 for a minimisation (HiGHS's duals are
    ``d objective / d bound``: >= 0 at an upper side of a maximisation).
    """
    row_dual = np.zeros(lp.n_cand)
    col_dual = np.zeros(lp.nv)
    if duals is not None:
        rows, y, z = duals
        row_dual[rows] = y
        col_dual = z[: lp.nv].copy()
    row_dual[np.abs(row_dual) <= DUAL_TOL] = 0.0  # round-off, and no -0.0
    col_dual[np.abs(col_dual) <= DUAL_TOL] = 0.0
    lo, hi = lp.lo, lp.hi
    with np.errstate(invalid="ignore"):
        scale = np.maximum(1.0, np.abs(np.where(np.isfinite(hi), hi, 0.0)))
        at_hi = np.abs(flows - hi) <= ACTIVE_TOL * scale
        at_lo = np.abs(flows - lo) <= ACTIVE_TOL * scale
    rows = np.flatnonzero(at_hi | at_lo | (np.abs(row_dual) > DUAL_TOL))
    y = row_dual[rows]
    side_hi = np.where(at_hi[rows] ^ at_lo[rows], at_hi[rows], sense * y >= 0)
    table = lp.label(rows)
    table["flow_mw"] = flows[rows]
    table["limit_mw"] = np.where(side_hi, hi[rows], lo[rows])
    table["shadow_price"] = np.where(side_hi, y, -y) + 0.0  # raising L lifts hi, lowers lo
    table["limit_per_rating"] = lp.factor[rows]
    extra = []
    cn = lp.grid.cn
    for j in range(lp.m):
        rating, p = cn.hvdc_rating[lp.jpos[j]], cn.hvdc_p[lp.jpos[j]] + x[1 + j]
        if np.isfinite(rating) and abs(p) >= rating - ACTIVE_TOL:
            up = p > 0  # at +max_p_mw (the column's upper bound) or at -max_p_mw
            price = col_dual[1 + j] if up else -col_dual[1 + j]
            extra.append(("hvdc", "hvdc", plain(lp.links[j]), p, np.sign(p) * rating, price, 1.0))
    for i in range(lp.n):
        k = lp.gen_inj.searchsorted(lp.rinj[i])
        p0 = lp.grid.p_inj[lp.rinj[i]]
        gid = plain(lp.redispatch.index[i])
        for col, sign, limit in (
            (1 + lp.m + i, 1.0, lp.gen_hi[k]),
            (1 + lp.m + lp.n + i, -1.0, lp.gen_lo[k]),
        ):
            if lp.upper[col] > 0 and x[col] >= lp.upper[col] - ACTIVE_TOL:
                extra.append(
                    ("generation", "gen", gid, p0 + sign * x[col], limit, col_dual[col], 0.0)
                )
    if np.isfinite(lp.upper[0]) and lp.upper[0] > 0 and x[0] >= lp.upper[0] - ACTIVE_TOL:
        extra.append(("max_mw", None, None, x[0], lp.upper[0], col_dual[0], 0.0))
    if extra:
        cols = ["kind", "element", "id", "flow_mw", "limit_mw", "shadow_price", "limit_per_rating"]
        more = pd.DataFrame(extra, columns=cols)
        more.insert(3, "contingency", None)
        table = pd.concat([table, more], ignore_index=True) if len(table) else more
    return table.sort_values("shadow_price", ascending=False, ignore_index=True, key=np.abs)
