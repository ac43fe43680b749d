"""The base-case redispatch chosen for the transfer: one LP over two operating states.

:func:`secure_base_case` finds the least redispatch that secures the base case, and
:func:`max_transfer` the largest transfer from there; done in that order, the answer
depends on which of many securing redispatches the first LP picked, and a relaxed limit
can lower the TTC (issue 17: the corridor's 2032 summer peak, AZ->EU, 142.6 MW of export
beyond the schedule at the normal post-contingency rating, -0.7 MW at 110 %: the
cheaper securing that the looser limit allows moves the links and units so that the
transfer from there stops lower). :func:`secure_for_transfer` chooses the base-case
redispatch and the transfer together:

* **base state** (linearised at the secured base case's AC point, ``base_grid``):
  variables ``u_b = [0, h_b, r^+, r^-]`` as :func:`secure_base_case`'s (every link's
  setpoint change ``h_b``, the base-case units' redispatch ``r``), every N-0 and N-1 row
  of that problem and its balance (and zone bounds);
* **transfer state** (linearised at the TTC's AC point, ``transfer_grid``): variables
  ``u_t = [t, H, r^+, r^-]`` as :func:`max_transfer`'s with every link free, where
  ``t`` is the further transfer along the shift keys (at least ``-t_now``), ``H`` each
  link's setpoint change from the TTC's, and ``r`` **the same columns** as the base
  state's: the units that move in the base case move at the transfer too. A link that
  does not join the areas keeps at the TTC the setpoint it has in the base case
  (``H_j = h_b,j``); the joining ones are free;
* **objective**: the export at the transfer state, ``sum_j s_j H_j`` over the joining
  links (``s_j`` their direction from the source), maximised; then, at that export, the
  base case's moves ``sum c_g |r_g| + sum c_j |h_b,j|`` minimised (the dispatch nearest
  the secured one);
* **the base case may not export more than its schedule by redispatch**:
  ``sum_j s_j h_b,j <= exchange_room`` (the caller's room: what the secured base case
  cut from the schedule, or 0), so that the base-case redispatch serves security and
  the transfer is made by the shift keys, not by moving units across the border.

At given linearisation points and redispatch bounds, relaxing a limit (a rating, an
emergency rating, an interface) only enlarges this LP's feasible set, so its optimum never
falls; :func:`gridsim.n1_ttc` (``joint_base``) then secures the proposed base case in AC
and searches the transfer from it, keeping the larger answer. Its bounds are the least
securing's volume per zone where no bound is given, and those change with the limits.
Both states' thermal rows are held within ``thermal_tol`` at their AC flows (the two AC
points the caller passes are secure), so ``u = 0`` is feasible; no flow reliability
margin is applied here (it exists so that a least redispatch does not leave the transfer
at a limit, which this LP cannot do).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridsim.analysis.scopf.grid import Interface, LinearisedGrid, ScopfError
from gridsim.analysis.scopf.lp import ADD_ROWS, INF, _append_rows, _highs_model, _Lp, _solve
from gridsim.analysis.scopf.problems import _balance, _unit_ids
from gridsim.analysis.scopf.result import ScopfResult, _outcome

GAIN_TOL = 1e-6  # MW: the second LP keeps the first's export within this


def secure_for_transfer(
    base_grid: LinearisedGrid,
    transfer_grid: LinearisedGrid,
    source: pd.Series,
    sink: pd.Series,
    signs: Mapping[str, float],
    *,
    t_now: float,
    exchange_room: float,
    sink_element: str = "load",
    redispatch: Iterable[str] | str | Mapping | None = "all",
    interfaces: Iterable | None = None,
    redispatch_balance: str = "island",
    redispatch_limit_mw: Mapping | None = None,
    redispatched_mw: pd.Series | None = None,
    hvdc_cost: float = 1.0,
    thermal_tol: float = 0.0,
    voltage_tol: float = 0.0,
) -> tuple[ScopfResult | None, float]:
    """The base-case redispatch that lets the largest export through (module docstring).

    Parameters
    ----------
    base_grid, transfer_grid : LinearisedGrid
        The linearisations at the secured base case and at the transfer's AC point
        (the same network's dispatches: the same compiled layout).
    source, sink : pandas.Series
        Shift keys (shares by gen / ``sink_element`` id).
    signs : mapping link id -> +1 or -1
        The joining links and their direction from the source.
    t_now : float
        The transfer at ``transfer_grid``'s point (``t`` may back off to 0).
    exchange_room : float
        How much the base case's redispatch may raise the export (MW, >= 0).
    redispatch, redispatch_balance, redispatch_limit_mw, redispatched_mw, hvdc_cost
        As :func:`secure_base_case`'s, for the base case's moves.
    interfaces : iterable of Interface or dict, optional
        Held in both states.
    thermal_tol, voltage_tol : float
        As :func:`max_transfer`'s (both states).

    Returns
    -------
    (ScopfResult or None, float)
        The base-case move (:meth:`ScopfResult.apply` to the secured base case's
        network; ``problem`` ``"secure_for_transfer"``) and the export gained at the
        transfer state by the LP (MW); ``(None, 0.0)`` where the LP is not solved to
        optimality.
    """
    start = time.perf_counter()
    if base_grid.cn.hvdc_id.size != transfer_grid.cn.hvdc_id.size or not np.array_equal(
        base_grid.cn.hvdc_id, transfer_grid.cn.hvdc_id
    ):
        raise ScopfError("the two linearisations are not of one network's dispatches")
    if not exchange_room >= 0:
        raise ScopfError(f"exchange_room must be >= 0, got {exchange_room!r}")
    net = base_grid.network
    if isinstance(redispatch, str) and redispatch == "all":
        redispatch = sorted(set(net.bus["zone"].astype(str)))
    costs = _unit_ids(net, redispatch)
    links = list(base_grid.cn.hvdc_id)
    faces = [Interface.parse(i) for i in interfaces or []]
    common = dict(hvdc=links, redispatch=costs, interfaces=faces, thermal_tol=thermal_tol)
    lp_b = _Lp(
        base_grid,
        source=None,
        sink=None,
        sink_element=sink_element,
        max_mw=None,
        transfer=False,
        redispatch_balance=_balance(redispatch_balance),
        redispatch_limit=redispatch_limit_mw,
        redispatched=redispatched_mw,
        link_cost=np.full(len(links), float(hvdc_cost)),
        **common,
    )
    lp_t = _Lp(
        transfer_grid,
        source=source,
        sink=sink,
        sink_element=sink_element,
        max_mw=None,
        transfer=True,
        min_mw=-float(t_now),
        redispatch_balance="island",
        voltage_tol=voltage_tol,
        **common,
    )
    joint = _Joint(lp_b, lp_t, [float(signs.get(j, 0.0)) for j in links], exchange_room)
    status, x = joint.solve()
    if status != "Optimal":
        return None, 0.0
    gain = float(joint.export @ x)
    x_b = x[: lp_b.nv]
    solve_s = time.perf_counter() - start - lp_b.build_s - lp_t.build_s
    message = (
        f"base-case moves of {np.abs(x_b[1:]).sum():.6g} MW (units and links) let "
        f"{gain:.6g} MW more through"
    )
    out = _outcome(lp_b, "secure_for_transfer", x_b, gain, status, message, None, None, solve_s, 1)
    return out, gain


class _Joint:
    """The two states' LPs in one HiGHS model (columns: the base LP's, its auxiliary
    columns, then the transfer's ``t`` and ``H``), solved by row generation over both
    candidate sets."""

    def __init__(self, lp_b: _Lp, lp_t: _Lp, signs: list[float], room: float):
        self.lp_b, self.lp_t = lp_b, lp_t
        m, nb, na = lp_b.m, lp_b.nv, lp_b.n_aux
        if lp_t.n_aux or lp_t.m != m or lp_t.n != lp_b.n:
            raise ScopfError("the transfer state's LP must have the base state's columns")
        self.c_t = nb + na  # the transfer's t, then H
        self.width = nb + na + 1 + m
        # the transfer LP's columns in the joint model: t, H, then the shared r
        self.map_t = np.concatenate([[self.c_t], self.c_t + 1 + np.arange(m), np.arange(1 + m, nb)])
        sign = np.asarray(signs, dtype=float)
        self.export = np.zeros(self.width)
        self.export[self.c_t + 1 + np.arange(m)] = sign
        lo = np.concatenate([lp_b.lower, np.zeros(na), lp_t.lower[: 1 + m]])
        hi = np.concatenate([lp_b.upper, np.full(na, INF), lp_t.upper[: 1 + m]])
        lo[0] = hi[0] = 0.0  # the base state has no transfer
        r = np.arange(1 + m, nb)  # a unit's move within its limits in both states
        hi[r] = np.minimum(hi[r], lp_t.upper[1 + m :])
        self.col_lo, self.col_hi = lo, hi
        # hard rows: both balances (and the base's zone bounds and link costs), the links
        # that do not join held at their base setpoints, the base case's export bound
        held = np.flatnonzero(sign == 0)
        link_rows = sp.csr_matrix(
            (
                np.concatenate([np.ones(held.size), -np.ones(held.size)]),
                (np.tile(np.arange(held.size), 2), np.concatenate([self.c_t + 1 + held, 1 + held])),
            ),
            shape=(held.size, self.width),
        )
        cap = np.zeros((1, self.width))
        cap[0, 1 : 1 + m] = sign
        self.hard = sp.vstack(
            [self._pad(lp_b.hard), self._of_t(lp_t.hard), link_rows, sp.csr_matrix(cap)],
            format="csr",
        )
        self.hard_lo = np.concatenate([lp_b.hard_lo, lp_t.hard_lo, np.zeros(held.size), [-INF]])
        self.hard_hi = np.concatenate([lp_b.hard_hi, lp_t.hard_hi, np.zeros(held.size), [room]])
        self.second = np.concatenate([np.zeros(nb), lp_b.aux_cost, np.zeros(1 + m)])
        self.second[1 + m : nb] = np.concatenate([lp_b.redispatch.to_numpy()] * 2)

    def _pad(self, a) -> sp.csr_matrix:
        a = sp.csr_matrix(a)
        return sp.hstack([a, sp.csr_matrix((a.shape[0], self.width - a.shape[1]))], format="csr")

    def _of_t(self, a) -> sp.csr_matrix:
        """Rows over the transfer LP's columns, moved onto the joint columns."""
        a = sp.coo_matrix(a)
        return sp.csr_matrix((a.data, (a.row, self.map_t[a.col])), shape=(a.shape[0], self.width))

    def _rows(self, block: int, rows: np.ndarray):
        lp = self.lp_b if block == 0 else self.lp_t
        coef = lp.coefs(rows)
        coef = self._pad(coef) if block == 0 else self._of_t(coef)
        return (coef, *lp.row_bounds(rows))

    def _x(self, block: int, x: np.ndarray) -> np.ndarray:
        return x[: self.lp_b.nv] if block == 0 else x[self.map_t]

    def solve(self) -> tuple[str, np.ndarray | None]:
        """Maximise the export, then minimise the base case's moves at it."""
        rows = [self.lp_b.first_rows(), self.lp_t.first_rows()]
        parts = [self._rows(b, rows[b]) for b in (0, 1)]
        coef = sp.vstack([parts[0][0], parts[1][0], self.hard], format="csr")
        h = _highs_model(
            coef,
            self.export,
            self.col_lo,
            self.col_hi,
            np.concatenate([parts[0][1], parts[1][1], self.hard_lo]),
            np.concatenate([parts[0][2], parts[1][2], self.hard_hi]),
            maximise=True,
        )
        status, x = self._generate(h, rows)
        if status != "Optimal":
            return status, None
        best = float(self.export @ x)
        idx = np.flatnonzero(self.export)
        h.addRow(best - GAIN_TOL, INF, idx.size, idx.astype(np.int32), self.export[idx])
        h.changeObjectiveSense(highspy.ObjSense.kMinimize)
        h.changeColsCost(self.width, np.arange(self.width, dtype=np.int32), self.second)
        second, x2 = self._generate(h, rows)
        return status, (x2 if second == "Optimal" else x)

    def _generate(self, h, rows: list) -> tuple[str, np.ndarray | None]:
        """Solve, add the candidates of either state the solution violates (the
        ``ADD_ROWS`` most violated of each at a time), until none is."""
        while True:
            status = _solve(h)
            if status != "Optimal":
                return status, None
            x = np.asarray(h.getSolution().col_value, dtype=float)
            added = 0
            for b, lp in enumerate((self.lp_b, self.lp_t)):
                flows = lp.activity(self._x(b, x))
                more = np.setdiff1d(np.flatnonzero(lp.violated(flows)), rows[b])
                if more.size > ADD_ROWS:
                    with np.errstate(invalid="ignore"):
                        excess = np.fmax(flows[more] - lp.hi[more], lp.lo[more] - flows[more])
                    more = more[np.argsort(-excess, kind="stable")[:ADD_ROWS]]
                if more.size:
                    _append_rows(h, *self._rows(b, more))
                    rows[b] = np.concatenate([rows[b], more])
                    added += more.size
            if not added:
                return status, x
