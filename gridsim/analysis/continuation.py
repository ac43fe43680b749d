"""Continuation power flow: P–V curves along a direction of change, up to the nose.

Method (MATPOWER's ``runcpf``, pseudo-arc-length parameterisation)
------------------------------------------------------------------
The injections move along a direction: ``S(λ) = S(0) + λ ΔS`` per bus (a transfer's
shift keys, or any injection change vector), with HVDC setpoints ``p(λ) = p(0) + λ Δp``
(each converter end's injection follows its link's loss model). The power-flow equations
``F(x, λ) = S_calc(V) - S(λ) = 0`` (P at every PV and PQ bus, Q at every PQ bus) have
one more unknown than equations; the solutions form a curve that rises to a largest λ,
the *nose* (saddle-node bifurcation: the Jacobian is singular there), and turns back.

Each step of the curve, from a solved point ``x_k`` with tangent ``z_k`` (scaled to
``max |z_k| = 1``):

* **predictor**: ``x̂ = x_k + σ z_k``;
* **corrector**: Newton-Raphson on the augmented system ``F(x, λ) = 0``,
  ``z_k · (x - x_k) = σ z_k · z_k`` (which the predictor meets): the power-flow
  Jacobian plus one column (``-∂S/∂λ``) and one row (``z_k``), factorised by gridsim's
  Numba LU on a pattern fixed per set of slack buses (a PV bus keeps its magnitude
  column and reactive row, padded with a 1 on the diagonal, so PV→PQ switching does not
  change the pattern); SuperLU with partial pivoting factorises a matrix whose pivot the
  Numba LU rejects;
* **tangent** at the new point: ``[J, -∂S/∂λ; z_k] z = [0; 1]`` (so ``z_k · z > 0``),
  solved with the corrector's last factorisation;
* **step size**: MATPOWER's rule on the predictor's error ``e = max |x - x̂|``:
  ``σ ← σ min(2, 1 + 0.7 (tol/e - 1))`` within ``[step_min, step_max]``; a corrector
  that fails halves the step.

Internally λ is rescaled so that at the base point the unknowns' sensitivity
``max |dx/dλ|`` is 1: steps then mean "the fastest-moving angle (rad) or magnitude
(p.u.) moves by about σ", whatever the size of the grid or the unit of the direction.

Events are located on the step length from the last point (regula falsi, Illinois
variant, on the event function whose secant crosses first, as MATPOWER's
``cpf_detect_events`` rolls steps back): the **nose** is where the tangent's λ
component changes sign (located to ``|z_λ| <= 1e-5``); a **reactive limit** is where a
voltage-controlling generator or converter end reaches its Q limit (located to 0.01
Mvar past it, MATPOWER's ``cpf.q_lims_tol``), whose bus then becomes PQ with Q at the
limit (the rule of :func:`gridsim.run_ac`, ``q_limit_rule`` included: under
``"matpower"`` a slack at its limit hands the reference to the island's first PV bus
and keeps its active output). After a switch the point is re-solved at the same λ and
the curve goes on along the new branch the way the limited voltage leaves its setpoint
(below it at an upper limit); if λ falls that way, the maximum is the switch point (a
*limit-induced* nose). ``limit_branch="lambda"`` goes on the way λ rises instead, as
``runcpf`` in effect does. When every voltage controller of an island is at a limit, no
slack is left and the curve ends there (MATPOWER: "No REF or PV buses remaining").
Generator active limits, HVDC ratings and thermal limits are not events here (the
transfer capability checks them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gridsim.analysis.contingency import BASE_MAX_ITER
from gridsim.analysis.dispatch import injector_q_share
from gridsim.analysis.powerflow import Q_LIMIT_RULES, _initial_voltage, _newton
from gridsim.analysis.qlimits import MATPOWER_Q_VIOLATION, _apply_q_limits, _LimitState
from gridsim.exceptions import GridsimError, InvalidNetworkError
from gridsim.model.compile import (
    EXT_GRID,
    GEN,
    HVDC_FROM,
    HVDC_TO,
    NONE,
    PQ,
    PV,
    REF,
    CompiledNetwork,
)
from gridsim.model.network import Network, plain
from gridsim.numerics.jacobian import jacobian_order, jacobian_pattern, jacobian_values
from gridsim.numerics.mismatch import bus_currents_into, mismatch
from gridsim.numerics.sums import bus_sum
from gridsim.solvers.linear import SingularMatrixError
from gridsim.solvers.sparse_lu import PIVOT_TOLERANCE, NumbaLU, numeric_lu, solve_lu

__all__ = ["ContinuationResult", "Direction", "continuation"]

OUTAGE_ELEMENTS = ("line", "trafo", "hvdc", "gen")
LIMIT_BRANCHES = ("voltage", "lambda")
NOSE_TOL = 1e-5  # |tangent's λ component| at a located nose (MATPOWER's cpf.nose_tol)
Q_TOL_MVAR = 0.01  # a reactive limit is located this far past it (cpf.q_lims_tol)
ADAPT_DAMPING = 0.7  # MATPOWER's cpf.adapt_step_damping
MAX_LOCATE = 40  # trial steps to locate one event
WEAKEST = 5  # buses drawn by default: the largest voltage components at the nose
PAST_STEP = 0.1  # the largest step "a little past the nose"
_INJ_ELEMENT = {GEN: "gen", EXT_GRID: "ext_grid", HVDC_FROM: "hvdc", HVDC_TO: "hvdc"}


@dataclasses.dataclass(frozen=True)
class Direction:
    """A direction of change of the injections, per unit of the continuation parameter λ.

    Attributes
    ----------
    p_mw, q_mvar : pandas.Series
        Change of the injection at each bus (indexed by bus id), MW and Mvar per unit λ:
        positive for more injection (negative for more load). Each field may be given as
        any mapping, or None for no change.
    gen_mw : pandas.Series
        Change of each generator's ``p_mw`` (indexed by gen id) per unit λ. Unlike a bus
        injection it stops when the generator is a slack, or a slack that reached its
        reactive limit (MATPOWER's rule freezes its output).
    hvdc_mw : pandas.Series
        Change of each HVDC link's setpoint ``p_mw`` (indexed by link id) per unit λ;
        its converter ends follow the link's loss model.
    transfer_mw : float
        MW transferred per unit λ: 1 for :meth:`transfer` (λ is the transfer in MW); by
        default the larger of the injection withdrawn (``sum(max(-p_mw, 0))``, the load
        added) and the injection added (bus and generator increases).
    """

    p_mw: pd.Series = None
    q_mvar: pd.Series = None
    gen_mw: pd.Series = None
    hvdc_mw: pd.Series = None
    transfer_mw: float = float("nan")

    def __post_init__(self):
        for name in ("p_mw", "q_mvar", "gen_mw", "hvdc_mw"):
            value = getattr(self, name)
            series = pd.Series({} if value is None else value, dtype=float)
            if not np.isfinite(series.to_numpy()).all():
                raise GridsimError(f"direction {name} has non-finite values")
            if series.index.has_duplicates:
                raise GridsimError(f"direction {name} names some id twice")
            object.__setattr__(self, name, series)
        if not np.isfinite(self.transfer_mw):
            withdrawn = np.maximum(-self.p_mw, 0.0).sum()
            added = np.maximum(self.p_mw, 0.0).sum() + np.maximum(self.gen_mw, 0.0).sum()
            object.__setattr__(self, "transfer_mw", float(max(withdrawn, added)))

    @classmethod
    def transfer(
        cls,
        network: Network,
        source: str | Iterable,
        sink: str | Iterable,
        *,
        hvdc_shares: Mapping | None = None,
        sink_element: str = "load",
    ) -> Direction:
        """A transfer of 1 MW per unit λ with the shift keys of
        :func:`gridsim.transfer_capability` (its own functions): source generators by
        headroom, sink loads by size at constant power factor (or sink generators
        lowered), HVDC links joining the two AC islands by their shares (by headroom, or
        ``hvdc_shares``).

        Raises
        ------
        TransferError
            For an unknown area, an empty or overlapping source/sink or no HVDC path.
        """
        from gridsim.analysis.transfer import _plan

        if not isinstance(source, str):
            source = list(source)
        if not isinstance(sink, str):
            sink = list(sink)
        plan = _plan(network, source, sink, sink_element, hvdc_shares, None)
        return plan_direction(network, plan)

    @classmethod
    def scaling(cls, network: Network, factor: float = 1.0, *, generation: bool = True):
        """Every in-service load (P and Q) and, with ``generation``, every in-service
        non-slack generator's ``p_mw`` grows by ``factor`` times its own value per unit
        λ (MATPOWER's ``runcpf`` examples: a target case with loads and generation times
        ``1 + factor``). ``transfer_mw`` is the load added per unit λ."""
        load = network.load[network.load.in_service.astype(bool)]
        p = (-factor * load.p_mw).groupby(load.bus).sum()
        q = (-factor * load.q_mvar).groupby(load.bus).sum()
        gen = None
        if generation:
            g = network.gen
            g = g[g.in_service.astype(bool) & ~g.slack.astype(bool)]
            gen = factor * g.p_mw
        return cls(p, q, gen)


def plan_direction(network: Network, plan) -> Direction:
    """The :class:`Direction` of a transfer plan of :mod:`gridsim.analysis.transfer`
    (1 MW per unit λ): source generators by their shares, sink loads at constant power
    factor (or sink generators lowered), HVDC links by their shares and directions; the
    plan's links out of service in ``network`` (a tripped link) are left out."""
    gen = pd.Series(plan.gen_share, index=plan.gen_ids)
    p = q = None
    if plan.sink_element == "load":
        load = network.load
        p0 = load.p_mw.reindex(plan.sink_ids).to_numpy(dtype=float)
        q0 = load.q_mvar.reindex(plan.sink_ids).to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            pf = np.where(p0 != 0, q0 / p0, 0.0)  # constant power factor
        bus = load.bus.reindex(plan.sink_ids).to_numpy()
        p = pd.Series(-plan.sink_share, index=bus).groupby(level=0).sum()
        q = pd.Series(-plan.sink_share * pf, index=bus).groupby(level=0).sum()
    else:
        gen = pd.concat([gen, pd.Series(-plan.sink_share, index=plan.sink_ids)])
    hvdc = pd.Series(plan.hvdc_dir * plan.hvdc_share, index=plan.hvdc_ids)
    on = network.hvdc.in_service.reindex(plan.hvdc_ids).fillna(False).to_numpy(dtype=bool)
    return Direction(p, q, gen, hvdc[on], transfer_mw=1.0)


@dataclasses.dataclass
class ContinuationResult:
    """Outcome of :func:`continuation`.

    Attributes
    ----------
    converged : bool
        The curve reached its maximum λ: ``status`` is ``"nose"``, ``"limit_induced"``
        or ``"reactive_limits"``.
    status : str
        ``"nose"`` (the smooth maximum, located); ``"limit_induced"`` (the curve turns
        back at a reactive-limit switch); ``"reactive_limits"`` (every voltage controller
        of an island reached its limit: no slack left, as MATPOWER's "No REF or PV buses
        remaining"); ``"failed"`` (base case or corrector failure, or an event not
        located); ``"max_steps"``.
    message : str
        What happened, in words (with the iteration count and largest mismatch on a
        failure).
    lambda_nose : float
        λ at the maximum of the curve (NaN unless ``converged``).
    transfer_nose_mw : float
        ``lambda_nose * direction.transfer_mw``.
    lambda_max : float
        The largest λ reached (also when not converged).
    curve : pandas.DataFrame
        One row per corrected point: ``lambda``, ``transfer_mw``, ``point`` (``"base"``,
        ``"step"``, ``"qlim"`` after a reactive-limit switch, ``"nose"``, ``"past"`` one
        step past the nose, ``"end"`` the lower-branch stop) and one column per chosen
        bus (its id) with ``vm_pu``.
    limiting_buses : pandas.DataFrame
        Indexed by bus id, the buses whose voltage moves along the curve, largest first:
        ``participation`` (``|dVm|`` of the tangent at the maximum, relative to the
        largest; at a smooth nose the tangent is the critical right eigenvector of the
        Jacobian) and ``vm_pu`` there.
    events : pandas.DataFrame
        Reactive-limit switches: ``step`` (row of ``curve``), ``element``, ``id``,
        ``bus``, ``limit`` (``"max"``/``"min"``), ``q_mvar``, ``lambda``, ``transfer_mw``.
    direction : Direction
    steps : int
        Corrected points after the base point.
    iterations : int
        Corrector Newton iterations in all (event location included).
    max_mismatch_mva : float
        Largest power mismatch left at any point of ``curve``.
    v : ndarray
        Complex bus voltages of each point of ``curve`` (rows), buses in the compiled
        order ``bus_ids``.
    bus_type : ndarray
        Bus types in force at each point (1 PQ, 2 PV, 3 REF, 4 out of service).
    bus_ids : pandas.Index
    network : Network
        The network studied (after the contingency, if any).
    """

    converged: bool
    status: str
    message: str
    lambda_nose: float
    transfer_nose_mw: float
    lambda_max: float
    curve: pd.DataFrame
    limiting_buses: pd.DataFrame
    events: pd.DataFrame
    direction: Direction
    steps: int
    iterations: int
    max_mismatch_mva: float
    v: np.ndarray
    bus_type: np.ndarray
    bus_ids: pd.Index
    network: Network = dataclasses.field(repr=False, default=None)

    def plot(self, path, *, buses: Iterable | None = None, title: str | None = None) -> None:
        """Write a PNG of the P–V curves (``curve``'s buses, or ``buses``) against the
        MW moved along the direction, the nose marked, reactive-limit switches dotted.

        Parameters
        ----------
        path : str or PathLike
            The PNG file (written through a temporary file in the same folder).
        buses : iterable of bus ids, optional
        title : str, optional
        """
        from gridsim.plot import plot_pv_curves

        plot_pv_curves(self, path, buses=buses, title=title)


# -- the model: injections as functions of λ ---------------------------------------------------


class _Model:
    """The compiled network, the direction as arrays, and the reactive-limit state."""

    def __init__(self, network: Network, direction: Direction, rule: str):
        self.cn = cn = network.compile()
        if cn.load_z is not None:
            raise GridsimError(
                "the continuation power flow models constant-power loads only; this network "
                "has loads with const_z/const_i shares"
            )
        self.rule = rule
        # bus changes as loads drawing -ΔS per unit λ, after the network's own loads
        ids = direction.p_mw.index.append(direction.q_mvar.index)
        bus_pos = cn.bus_ids.get_indexer(ids)
        if (bus_pos < 0).any() or (cn.bus_type[bus_pos] == NONE).any():
            bad = [
                plain(i)
                for i, b in zip(ids, bus_pos, strict=True)
                if b < 0 or cn.bus_type[b] == NONE
            ]
            raise GridsimError(
                f"the direction changes injections at buses {bad[:5]!r} not in service"
            )
        values = np.concatenate([direction.p_mw.to_numpy(), 1j * direction.q_mvar.to_numpy()])
        self.load_bus = np.concatenate([cn.load_bus, bus_pos])
        self.load_s0 = np.concatenate([cn.load_s, np.zeros(bus_pos.size, dtype=complex)])
        self.d_load = np.concatenate([np.zeros(cn.load_s.size, dtype=complex), -values])
        # generators moved: their injectors' p_mw
        self.d_inj = np.zeros(cn.inj_p.size)
        self.d_inj[_injectors(cn, (GEN,), direction.gen_mw.index, "generators")] = (
            direction.gen_mw.to_numpy()
        )
        # HVDC links moved: setpoint, its change, loss model, and their converter ends
        hv = direction.hvdc_mw
        link = pd.Index(cn.hvdc_id).get_indexer(hv.index)
        if (link < 0).any():
            bad = [plain(i) for i in hv.index[link < 0]]
            raise GridsimError(f"the direction moves HVDC links {bad[:5]!r} not in service")
        table = network.hvdc.reindex(hv.index)
        self.hv_p0 = cn.hvdc_p[link]
        self.hv_dp = hv.to_numpy()
        self.hv_loss_mw = table.loss_mw.to_numpy(dtype=float)
        self.hv_loss_pct = table.loss_percent.to_numpy(dtype=float) / 100.0
        self.hv_from = _injectors(cn, (HVDC_FROM,), hv.index, "HVDC links")
        self.hv_to = _injectors(cn, (HVDC_TO,), hv.index, "HVDC links")
        self.state = _LimitState(cn)
        self._affine = None

    def _hvdc_ends(self, lam: float):
        """Converter-end injections (MW) of the moved links at λ and their derivatives."""
        p = self.hv_p0 + lam * self.hv_dp
        loss = self.hv_loss_mw + self.hv_loss_pct * np.abs(p)
        fwd = p >= 0
        p_from = np.where(fwd, -p, -p - loss)
        p_to = np.where(fwd, p - loss, p)
        d_from = np.where(fwd, -1.0, -(1.0 - self.hv_loss_pct)) * self.hv_dp
        d_to = np.where(fwd, 1.0 - self.hv_loss_pct, 1.0) * self.hv_dp
        return p_from, p_to, d_from, d_to

    def at(self, lam: float, hvdc: bool = True) -> CompiledNetwork:
        """The compiled network with its injections at λ (bus changes as loads); with
        ``hvdc=False`` the moved links' converter ends inject nothing."""
        inj_p = self.cn.inj_p + lam * self.d_inj
        if self.hv_p0.size:
            p_from, p_to, _, _ = self._hvdc_ends(lam)
            inj_p[self.hv_from] = p_from if hvdc else 0.0
            inj_p[self.hv_to] = p_to if hvdc else 0.0
        return dataclasses.replace(
            self.cn,
            inj_p=inj_p,
            load_bus=self.load_bus,
            load_s=self.load_s0 + lam * self.d_load,
        )

    def changed(self) -> None:
        """The reactive-limit state changed (the scheduled injections with it)."""
        self._affine = None

    def _parts(self):
        """``S(λ) = a + λ b + (moved HVDC ends)``, p.u., under the present state."""
        if self._affine is None:
            st = self.state
            a = self.at(0.0, hvdc=False).sbus(st.bus_type, st.q_fixed, st.p_fixed)
            b = self.at(1.0, hvdc=False).sbus(st.bus_type, st.q_fixed, st.p_fixed) - a
            self._affine = (a, b)
        return self._affine

    def sbus(self, lam: float) -> np.ndarray:
        """Scheduled injections at λ, p.u., under the present reactive-limit state."""
        a, b = self._parts()
        s = a + lam * b
        if self.hv_p0.size:
            p_from, p_to, _, _ = self._hvdc_ends(lam)
            s = s + self._hvdc_bus(p_from, p_to)
        return s

    def dsbus(self, lam: float) -> np.ndarray:
        """``dS/dλ`` per bus, p.u."""
        _, b = self._parts()
        if self.hv_p0.size:
            _, _, d_from, d_to = self._hvdc_ends(lam)
            return b + self._hvdc_bus(d_from, d_to)
        return b

    def _hvdc_bus(self, p_from, p_to) -> np.ndarray:
        """Per-bus injections (p.u.) of the moved links' converter ends."""
        cn = self.cn
        buses = np.concatenate([cn.inj_bus[self.hv_from], cn.inj_bus[self.hv_to]])
        return bus_sum(buses, np.concatenate([p_from, p_to]).astype(complex), cn.n_bus) / cn.sn_mva

    def q_excess(self, lam: float, v: np.ndarray) -> np.ndarray:
        """Each injector's reactive excess over its limit, Mvar (negative within its
        limits; -inf for those that cannot switch: not voltage controlling, already held,
        a slack under the pandapower rule)."""
        st, cn = self.state, self.cn
        bt = st.bus_type[cn.inj_bus]
        limit_slack = self.rule == "matpower"
        cand = cn.inj_pv & np.isnan(st.q_fixed) & ((bt == PV) | (limit_slack & (bt == REF)))
        out = np.full(cand.size, -np.inf)
        if cand.any():
            q, _ = injector_q_share(self.at(lam), v, st.bus_type, st.q_fixed)
            with np.errstate(invalid="ignore"):
                ex = np.fmax(q[cand] - cn.inj_qmax[cand], cn.inj_qmin[cand] - q[cand])
            out[cand] = np.nan_to_num(ex, nan=-np.inf)
        return out


def _injectors(cn: CompiledNetwork, kinds: tuple, ids: pd.Index, what: str) -> np.ndarray:
    """Positions of the injectors of ``kinds`` with element ids ``ids``."""
    pos = np.flatnonzero(np.isin(cn.inj_kind, kinds))
    found = pd.Index(cn.inj_id[pos]).get_indexer(ids)
    if (found < 0).any():
        bad = [plain(i) for i in ids[found < 0]]
        raise GridsimError(f"the direction moves {what} {bad[:5]!r} not in service")
    return pos[found]


# -- the augmented system -------------------------------------------------------------------


class _System:
    """The augmented Jacobian on a pattern fixed for one set of slack buses.

    Unknowns ``[Va(sys), Vm(sys), μ]`` and equations ``[P(sys), Q(sys), param]`` over the
    system buses ``sys`` (every energised non-REF bus); PV buses' magnitude columns and
    reactive rows are padded (zeros, 1 on the diagonal). The LU is gridsim's Numba LU on
    the symbolic factorisation of this pattern; SuperLU (partial pivoting) factorises a
    matrix whose pivot it rejects.
    """

    def __init__(self, cn: CompiledNetwork, bus_type: np.ndarray):
        self.buses = buses = np.flatnonzero((bus_type == PV) | (bus_type == PQ))
        nb = buses.size
        pat = jacobian_pattern(cn.indptr, cn.indices, buses, buses)
        self.pos, self.nnz_j = pat.pos, pat.indices.size
        m = self.m = 2 * nb
        jp, ji = pat.indptr, pat.indices
        # augmented CSC: each column of J plus row m; column m dense
        indptr = np.zeros(m + 2, dtype=np.int64)
        indptr[1 : m + 1] = np.cumsum(np.diff(jp) + 1)
        indptr[m + 1] = indptr[m] + m + 1
        indices = np.empty(indptr[-1], dtype=np.int64)
        col_of = np.repeat(np.arange(m), np.diff(jp))
        self.j_at = np.arange(jp[-1]) + col_of  # where J's entries land
        indices[self.j_at] = ji
        self.row_at = indptr[1 : m + 1] - 1  # row m of each column j < m
        indices[self.row_at] = m
        self.col_at = np.arange(indptr[m], indptr[m + 1])  # column m, rows 0..m
        indices[self.col_at] = np.arange(m + 1)
        self.indptr, self.indices = indptr, indices
        # padding: the reactive rows and magnitude columns of PV buses
        self.q_row = ji >= nb
        self.vm_col = col_of >= nb
        self.row_bus = ji % nb  # the entry's bus, as a position in ``buses``
        self.col_bus = col_of % nb
        diag = (ji == col_of) & self.q_row
        self.diag_of = np.full(nb, -1, dtype=np.int64)
        self.diag_of[self.row_bus[diag]] = np.flatnonzero(diag)
        self._pad_key, self._pad = None, None
        order = np.concatenate([jacobian_order(cn.bus_order(), buses, buses), [m]])
        self.lu = NumbaLU(indptr, indices, m + 1, order=order)
        self.data = np.zeros(indptr[-1])
        self._factors = None

    def split(self, va, vm, mu):
        """The state vector ``[Va(sys), Vm(sys), μ]``."""
        return np.concatenate([va[self.buses], vm[self.buses], [mu]])

    def pqf(self, bus_type):
        """1.0 for PQ system buses, 0.0 for PV ones."""
        return (bus_type[self.buses] == PQ).astype(float)

    def residual(self, cn, v, sbus, pqf):
        """``[ΔP, ΔQ·pqf]`` over the system buses, and ``Ybus V``."""
        f, ibus = mismatch(cn.indptr, cn.indices, cn.ydata, v, sbus, self.buses, self.buses)
        f[self.buses.size :] *= pqf
        return f, ibus

    def factor(self, cn, v, ibus, pqf, dfdmu, row) -> None:
        """Factorise ``[J, dF/dμ; row]`` at ``v``."""
        jd = jacobian_values(cn.indptr, cn.indices, cn.ydata, v, ibus, self.pos, self.nnz_j)
        key = pqf.tobytes()
        if key != self._pad_key:
            pv = pqf == 0.0
            self._pad_key = key
            self._pad = (
                np.flatnonzero((self.q_row & pv[self.row_bus]) | (self.vm_col & pv[self.col_bus])),
                self.diag_of[pv],
            )
        zero, one = self._pad
        jd[zero] = 0.0
        jd[one] = 1.0
        data = self.data
        data[self.j_at] = jd
        data[self.row_at] = row[:-1]
        data[self.col_at[:-1]] = dfdmu
        data[self.col_at[-1]] = row[-1]
        lu = self.lu
        if lu.fallback is None:
            l_val, u_val, diag, ok = numeric_lu(
                lu.p_indptr,
                lu.p_indices,
                data[lu.gather],
                lu.l_ptr,
                lu.l_idx,
                lu.u_ptr,
                lu.u_idx,
                PIVOT_TOLERANCE,
            )
            if ok:
                self._factors = (l_val, u_val, diag)
                return
        import scipy.sparse as sp
        from scipy.sparse.linalg import splu

        a = sp.csc_matrix((data, self.indices, self.indptr), shape=(self.m + 1, self.m + 1))
        try:
            self._factors = splu(a, permc_spec="MMD_AT_PLUS_A")
        except RuntimeError as exc:  # "Factor is exactly singular"
            raise SingularMatrixError(str(exc)) from None

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Solve with the last factorisation."""
        factors, lu = self._factors, self.lu
        if isinstance(factors, tuple):
            y = solve_lu(
                lu.l_ptr,
                lu.l_idx,
                factors[0],
                lu.u_ptr,
                lu.u_idx,
                factors[1],
                factors[2],
                rhs[lu.order],
            )
            x = np.empty_like(y)
            x[lu.order] = y
        else:
            x = factors.solve(rhs)
        if not np.all(np.isfinite(x)):
            raise SingularMatrixError("the augmented Jacobian is singular")
        return x


@dataclasses.dataclass
class _Point:
    va: np.ndarray
    vm: np.ndarray
    mu: float
    z: np.ndarray | None = None  # unit tangent (max |z| = 1) in the system's layout
    layout: np.ndarray | None = None  # the system buses of ``z``'s layout
    error: float = 0.0  # predictor error of the step that reached it
    mismatch: float = 0.0

    @property
    def v(self) -> np.ndarray:
        return self.vm * np.exp(1j * self.va)


class _Tracer:
    """Predictor, corrector and tangent on the model (λ = μ / scale)."""

    def __init__(self, model: _Model, tol: float, max_iter: int):
        self.model = model
        self.tol = tol
        self.max_iter = max_iter
        self.scale = 1.0
        self.iterations = 0
        self._systems: dict[bytes, _System] = {}

    @property
    def system(self) -> _System:
        """The augmented system of the present slack buses (built once per set)."""
        bt = self.model.state.bus_type
        key = (bt == REF).tobytes() + (bt == NONE).tobytes()
        sysm = self._systems.get(key)
        if sysm is None:
            sysm = self._systems[key] = _System(self.model.cn, bt)
        return sysm

    def lam(self, mu: float) -> float:
        return mu / self.scale

    def _factor(self, sysm: _System, v, ibus, mu: float, row) -> None:
        pqf = sysm.pqf(self.model.state.bus_type)
        ds = self.model.dsbus(self.lam(mu))[sysm.buses] / self.scale
        sysm.factor(self.model.cn, v, ibus, pqf, -np.concatenate([ds.real, ds.imag * pqf]), row)

    def correct(self, start: _Point, row: np.ndarray, anchor: np.ndarray, sigma: float):
        """Newton on ``F = 0``, ``row · (x - anchor) = sigma`` from ``start``. Returns the
        corrected point (None: no convergence, or a singular matrix) and whether the
        system holds a factorisation taken on the way (of ``[J, dF/dμ; row]``)."""
        model, cn, sysm = self.model, self.model.cn, self.system
        pqf = sysm.pqf(model.state.bus_type)
        nb = sysm.buses.size
        va, vm, mu = start.va.copy(), start.vm.copy(), start.mu
        v = vm * np.exp(1j * va)
        it = 0
        while True:
            f, ibus = sysm.residual(cn, v, model.sbus(self.lam(mu)), pqf)
            g = float(row @ (sysm.split(va, vm, mu) - anchor) - sigma)
            norm = max(float(np.max(np.abs(f), initial=0.0)), abs(g))
            if not np.isfinite(norm):
                break
            if norm < self.tol:
                self.iterations += it
                return _Point(va, vm, mu, mismatch=norm), it > 0
            if it >= self.max_iter:
                break
            it += 1
            try:
                self._factor(sysm, v, ibus, mu, row)
                dx = sysm.solve(-np.append(f, g))
            except SingularMatrixError:
                break
            va[sysm.buses] += dx[:nb]
            vm[sysm.buses] += dx[nb : 2 * nb] * pqf
            mu += dx[-1]
            v = vm * np.exp(1j * va)
        self.iterations += it
        return None, False

    def tangent(self, point: _Point, row: np.ndarray, factored: bool = False) -> np.ndarray:
        """The unit tangent (``max |z| = 1``) at ``point`` with ``row · z > 0``; with
        ``factored`` the system's last factorisation (a corrector's, at the iterate
        before ``point``, with this row) is used."""
        sysm = self.system
        if not factored:
            cn, v = self.model.cn, point.v
            ibus = np.empty(v.size, dtype=complex)
            bus_currents_into(cn.indptr, cn.indices, cn.ydata, v, ibus)
            self._factor(sysm, v, ibus, point.mu, row)
        rhs = np.zeros(sysm.m + 1)
        rhs[-1] = 1.0
        z = sysm.solve(rhs)
        return z / np.max(np.abs(z))

    def natural_row(self) -> np.ndarray:
        row = np.zeros(self.system.m + 1)
        row[-1] = 1.0
        return row

    def step(self, point: _Point, sigma: float) -> _Point | None:
        """Predict along ``point.z`` by ``sigma``, correct, and take the new tangent."""
        sysm = self.system
        nb = sysm.buses.size
        z = point.z
        anchor = sysm.split(point.va, point.vm, point.mu)
        pred = _Point(point.va.copy(), point.vm.copy(), point.mu + sigma * z[-1])
        pred.va[sysm.buses] += sigma * z[:nb]
        pred.vm[sysm.buses] += sigma * z[nb : 2 * nb]
        # the arc condition z·(x - x_k) = σ z·z, which the predictor meets exactly
        new, factored = self.correct(pred, z / (z @ z), anchor, sigma)
        if new is None:
            return None
        try:
            new.z = self.tangent(new, z / (z @ z), factored)
        except SingularMatrixError:
            return None
        x_new = sysm.split(new.va, new.vm, new.mu)
        new.error = float(np.max(np.abs(x_new - sysm.split(pred.va, pred.vm, pred.mu))))
        new.layout = sysm.buses
        return new


# -- the curve ----------------------------------------------------------------------------------


def continuation(
    network: Network,
    direction: Direction | tuple,
    *,
    contingency: tuple | None = None,
    enforce_q_limits: bool = True,
    q_limit_rule: str | None = None,
    limit_branch: str = "voltage",
    buses: Iterable | str | None = None,
    step: float = 0.05,
    step_min: float = 1e-5,
    step_max: float = 0.5,
    adapt_tol: float = 1e-2,
    max_steps: int = 500,
    stop_at: str | float = "nose",
    tol_mva: float = 1e-8,
    max_iter: int = 10,
    init: np.ndarray | None = None,
) -> ContinuationResult:
    """Trace the P–V curves along ``direction`` up to the nose (continuation power flow).

    See the module docstring for the method (MATPOWER's ``runcpf``: tangent predictor,
    pseudo-arc-length corrector, adaptive steps, reactive limits as located events,
    the nose where the tangent's λ component changes sign).

    Parameters
    ----------
    network : Network
    direction : Direction or (source, sink)
        The change of the injections per unit λ; a pair is
        ``Direction.transfer(network, source, sink)`` on the network studied (after the
        contingency), and λ is then the transfer in MW.
    contingency : (element, id), optional
        Trace the curve of the network with this element out of service: ``("line",
        id)``, ``("trafo", id)``, ``("hvdc", id)`` or ``("gen", id)``.
    enforce_q_limits : bool
        Switch voltage controllers to PQ at their reactive limits, in the base case and
        along the curve.
    q_limit_rule : {"pandapower", "matpower"}, optional
        As for :func:`gridsim.run_ac` (default: the network's).
    limit_branch : {"voltage", "lambda"}
        Which way to go on after a reactive-limit switch. ``"voltage"``: the way the
        limited controller's voltage leaves its setpoint as the limit allows (below it
        at the upper limit, above it at the lower); if λ falls that way, the maximum is
        the switch point (``status`` ``"limit_induced"``). ``"lambda"``: the way λ
        rises, as MATPOWER's ``runcpf`` does; it can follow states in which a generator
        at its upper limit holds its voltage above the setpoint.
    buses : iterable of bus ids, "all" or None
        Buses whose voltage ``curve`` holds; None: the five with the largest voltage
        components of the tangent at the maximum (``limiting_buses``).
    step, step_min, step_max : float
        First, smallest and largest step, as the largest change of one unknown along the
        tangent (rad or p.u.; λ scaled as the module docstring says).
    adapt_tol : float
        Target predictor error ``max |x - x̂|`` of the adaptive step.
    max_steps : int
        Continuation steps allowed (located events included).
    stop_at : "nose" or float
        ``"nose"``: stop one step past the nose; a fraction ``f`` in [0, 1): go on
        along the lower branch until λ falls to ``f`` times its maximum.
    tol_mva : float
        Every corrected point solves the power-flow equations to this, MVA.
    max_iter : int
        Corrector iterations per step before the step is halved.
    init : complex ndarray or PowerFlowResult, optional
        Start of the base case's Newton iterations: bus voltages in the compiled order
        of the network studied (after the contingency), e.g. a converged power flow's
        ``v``; voltage-controlled buses start at their setpoints. Default: flat start.

    Returns
    -------
    ContinuationResult
        A failure (base case diverging, corrector failing below ``step_min``) is
        returned with ``converged=False`` and the reason in ``message``, not raised.

    Raises
    ------
    GridsimError
        For a bad direction, contingency or option.
    """
    if not isinstance(direction, Direction) and not (
        isinstance(direction, tuple) and len(direction) == 2
    ):
        raise GridsimError("direction must be a Direction or a (source, sink) pair")
    if not (stop_at == "nose" or (isinstance(stop_at, float | int) and 0 <= stop_at < 1)):
        raise GridsimError(f"stop_at must be 'nose' or a fraction in [0, 1), got {stop_at!r}")
    if not (0 < step_min <= step <= step_max) or not (tol_mva > 0) or not (adapt_tol > 0):
        raise GridsimError("need 0 < step_min <= step <= step_max, tol_mva > 0, adapt_tol > 0")
    if limit_branch not in LIMIT_BRANCHES:
        raise GridsimError(f"limit_branch must be one of {LIMIT_BRANCHES}, got {limit_branch!r}")
    rule = q_limit_rule or getattr(network, "q_limit_rule", None) or "pandapower"
    if rule not in Q_LIMIT_RULES:
        raise GridsimError(f"q_limit_rule must be one of {Q_LIMIT_RULES}, got {rule!r}")
    studied = _with_outage(network, contingency) if contingency is not None else network
    if isinstance(direction, tuple):  # shift keys of the network studied
        direction = Direction.transfer(studied, *direction)
    model = _Model(studied, direction, rule)
    cn = model.cn
    tracer = _Tracer(model, tol_mva / cn.sn_mva, max_iter)
    run = _Run(model, tracer, direction, bool(enforce_q_limits), limit_branch)
    run.trace(step, step_min, step_max, adapt_tol, max_steps, stop_at, init)
    return run.result(buses, studied)


def _with_outage(network: Network, contingency: tuple) -> Network:
    """A copy of ``network`` with one element out of service."""
    try:
        element, ident = contingency
    except (TypeError, ValueError):
        raise GridsimError(f"contingency must be (element, id), got {contingency!r}") from None
    if element not in OUTAGE_ELEMENTS:
        raise GridsimError(f"contingency element must be one of {OUTAGE_ELEMENTS}, got {element!r}")
    table = network[element]
    if ident not in table.index:
        raise GridsimError(f"contingency: no {element} with id {ident!r}")
    if not bool(table.in_service[ident]):
        raise GridsimError(f"contingency: {element} {ident!r} is already out of service")
    out = network.copy()
    out.set(element, ident, "in_service", False)
    try:
        out.compile()
    except InvalidNetworkError as exc:
        raise GridsimError(
            f"the outage of {contingency!r} islands part of the grid: {exc}"
        ) from None
    return out


class _Run:
    """One continuation: the points, the events and the outcome."""

    def __init__(self, model: _Model, tracer: _Tracer, direction: Direction, qlim, branch):
        self.model, self.tracer, self.direction, self.qlim = model, tracer, direction, qlim
        self.limit_branch = branch
        self.points: list[tuple[_Point, str, np.ndarray]] = []  # point, kind, bus types
        self.events: list[dict] = []
        self.status, self.message = "failed", ""
        self.nose: _Point | None = None  # the maximum of the curve, once found
        self.nose_lam = np.nan

    def _keep(self, point: _Point, kind: str, bus_type: np.ndarray | None = None) -> None:
        if bus_type is None:
            bus_type = self.model.state.bus_type
        self.points.append((point, kind, bus_type.copy()))

    def _lam(self, point: _Point) -> float:
        return self.tracer.lam(point.mu)

    def _fail(self, message: str) -> None:
        """End the run; a failure after the maximum was found leaves the outcome as is."""
        if self.nose is None:
            self.status, self.message = "failed", message
        else:
            self.message += f"; then {message}"

    def _base(self, init) -> _Point | None:
        """The base point (λ = 0), reactive limits enforced as :func:`run_ac` does."""
        model, tracer = self.model, self.tracer
        cn, state = model.cn, model.state
        v = _initial_voltage(cn, "flat" if init is None else init)
        iterations = 0
        while True:
            res = _newton(model.at(0.0), state, v, tracer.tol, BASE_MAX_ITER, "numba")
            iterations += res.iterations
            v = res.v
            if not res.converged:
                self._fail(
                    f"the base-case power flow did not converge after {iterations} iterations "
                    f"({res.message}); largest mismatch {res.max_mismatch * cn.sn_mva:.4g} MVA"
                )
                return None
            if not self.qlim:
                break
            newly, msg = _apply_q_limits(model.at(0.0), v, state, False, model.rule == "matpower")
            model.changed()
            if msg:
                self._fail(f"base case: {msg}")
                return None
            if newly.size == 0:
                break
        tracer.iterations += iterations
        point = _Point(np.angle(v), np.abs(v), 0.0, mismatch=res.max_mismatch)
        try:  # the natural tangent [dx/dλ, 1] sets the scale of λ
            t = tracer.tangent(point, tracer.natural_row())
        except SingularMatrixError:
            self._fail("the base-case Jacobian is singular")
            return None
        sens = float(np.max(np.abs(t[:-1]), initial=0.0))
        if not (np.isfinite(sens) and sens > 0):
            self._fail("the direction changes no injection that the power-flow equations see")
            return None
        tracer.scale = sens / t[-1]  # μ = scale λ: max |dx/dμ| = 1
        point.z = np.append(t[:-1] / sens, 1.0)
        point.layout = tracer.system.buses
        return point

    def trace(self, step, step_min, step_max, adapt_tol, max_steps, stop_at, init) -> None:
        tracer = self.tracer
        point = self._base(init)
        if point is None:
            return
        self._keep(point, "base")
        target = None  # λ at which to stop on the lower branch
        last = False  # the next point is the last (one step past the nose)
        for _ in range(max_steps):
            new = tracer.step(point, step)
            if new is None:
                step /= 2
                if step < step_min:
                    return self._fail(
                        f"the corrector did not converge (step below {step_min:g}) at "
                        f"λ = {self._lam(point):.6g}"
                    )
                continue
            if last:
                return self._keep(new, "past")
            events = self._events(point, new, target)
            if not events:
                self._keep(new, "step")
                if new.error > 0:  # MATPOWER's adaptive step
                    factor = min(2.0, 1.0 + ADAPT_DAMPING * (adapt_tol / new.error - 1.0))
                else:
                    factor = 2.0
                step = min(max(step * factor, step_min), step_max)
                point = new
                continue
            new, name = self._locate(point, step, new, events, target)
            if new is None:
                return self._fail(
                    f"could not locate the {name} event after λ = {self._lam(point):.6g}"
                )
            had_nose = self.nose is not None
            if name == "end":
                return self._keep(new, "end")
            if name == "nose":
                self._keep(new, "nose")
                self._set_nose(new, "nose")
            else:
                new = self._switch(new)
                if new is None:
                    return None
            if self.nose is not None and not had_nose:
                if stop_at == "nose":
                    last = True
                    step = min(step, PAST_STEP)
                else:
                    target = float(stop_at) * self.nose_lam
            point = new
        if self.nose is None:
            self.status = "max_steps"
            self.message = f"stopped after {max_steps} steps at λ = {self._lam(point):.6g}"
        else:
            self.message += f"; stopped after {max_steps} steps"

    def _set_nose(self, point: _Point, status: str) -> None:
        self.nose, self.nose_lam = point, self._lam(point)
        self.status = status
        what = {"nose": "nose", "limit_induced": "limit-induced nose (reactive limit)"}[status]
        self.message = f"{what} at λ = {self.nose_lam:.6g} after {len(self.points) - 1} steps"

    def _event_values(self, point: _Point, target) -> dict:
        """Event functions at ``point``, arrays; each component crosses from <= 0 to > 0:
        the nose (minus the tangent's λ component), the lower-branch stop, each voltage
        controller's reactive excess."""
        lam = self._lam(point)
        out = {}
        if self.nose is None:
            out["nose"] = np.array([-point.z[-1]])
        elif target is not None:
            out["end"] = np.array([target - lam])
        if self.qlim:
            out["qlim"] = self.model.q_excess(lam, point.v)
        return out

    def _windows(self) -> dict:
        """Window ``(lo, hi]`` in which an event function is taken as at its zero."""
        margin = MATPOWER_Q_VIOLATION if self.model.rule == "matpower" else 0.0
        lam_tol = NOSE_TOL * max(abs(self.nose_lam), 1.0) if self.nose is not None else 0.0
        return {
            "nose": (-NOSE_TOL, NOSE_TOL),
            "end": (-lam_tol, lam_tol),
            "qlim": (margin, Q_TOL_MVAR),
        }

    def _crossed(self, before: dict, after: dict) -> dict:
        """``{(event, component): fraction of the step where its secant enters the
        window}`` for the components past their window, or newly in it."""
        win, out = self._windows(), {}
        for name, f1 in after.items():
            f0 = before[name]
            lo, hi = win[name]
            with np.errstate(invalid="ignore", divide="ignore"):
                hit = np.isfinite(f1) & ((f1 > hi) | ((f1 > lo) & (f0 <= lo)))
                frac = (lo - f0) / (f1 - f0)
            for i in np.flatnonzero(hit):
                out[(name, int(i))] = float(np.clip(np.nan_to_num(frac[i]), 0.0, 1.0))
        return out

    def _events(self, point: _Point, new: _Point, target) -> dict:
        """The event components the step from ``point`` to ``new`` reached or went past
        (see :meth:`_crossed`)."""
        return self._crossed(self._event_values(point, target), self._event_values(new, target))

    def _locate(self, point: _Point, sigma: float, new: _Point, events: dict, target):
        """Shorten the step from ``point`` until the event component whose secant
        crosses first lies in its window, with no other past its own (regula falsi on
        the step length, Illinois variant). Returns ``(point, event name)``, the point
        None when it could not be found."""
        tracer, win = self.tracer, self._windows()
        key = min(events, key=events.get)
        at_lo = self._event_values(point, target)
        lo, hi, s, trial = 0.0, sigma, sigma, new
        g_lo = g_hi = None
        replaced = ""  # the end of the bracket that moved last
        for _ in range(MAX_LOCATE):
            values = self._event_values(trial, target)
            name, i = key
            over = {
                (k, int(j)): None for k, f in values.items() for j in np.flatnonzero(f > win[k][1])
            }
            f = values[name][i]
            if not over and f > win[name][0]:
                return trial, name
            if over and key not in over:  # another component went past first
                crossed = self._crossed(at_lo, values)
                key = min((k for k in crossed if k in over), key=crossed.get)
                name, i = key
                g_lo = None
            aim = 0.5 * (win[name][0] + win[name][1])
            if g_lo is None:
                g_lo = at_lo[name][i] - aim
            g = values[name][i] - aim
            if over:
                hi, g_hi = s, g
                if replaced == "hi":
                    g_lo /= 2
                replaced = "hi"
            else:
                lo, g_lo, at_lo = s, g, values
                if replaced == "lo":
                    g_hi /= 2
                replaced = "lo"
            s = lo - g_lo * (hi - lo) / (g_hi - g_lo)
            if not lo < s < hi:
                s = 0.5 * (lo + hi)
            trial = tracer.step(point, s)
            while trial is None:  # a corrector failure inside the bracket: shorter
                hi = s
                s = 0.5 * (lo + hi)
                if hi - lo < 1e-12 * sigma:
                    return None, name
                trial = tracer.step(point, s)
        return None, key[0]

    def _switch(self, point: _Point) -> _Point | None:
        """Switch the controllers at their limit to PQ at ``point``, re-solve at the same
        λ and take the tangent on the new branch; None when the run ends here."""
        model, tracer = self.model, self.tracer
        state, cn = model.state, model.cn
        lam = self._lam(point)
        before, types = state.q_fixed.copy(), state.bus_type.copy()
        _, msg = _apply_q_limits(model.at(lam), point.v, state, False, model.rule == "matpower")
        model.changed()
        step_index = len(self.points)
        fall = np.zeros(cn.n_bus)  # +1 where a voltage must fall past the switch, -1 rise
        for k in np.flatnonzero(np.isnan(before) & ~np.isnan(state.q_fixed)):
            limit = {cn.inj_qmax[k]: "max", cn.inj_qmin[k]: "min"}.get(state.q_fixed[k])
            if limit is None:
                continue  # a controller sharing the bus, held at its share
            fall[cn.inj_bus[k]] = 1.0 if limit == "max" else -1.0
            self.events.append(
                {
                    "step": step_index,
                    "element": _INJ_ELEMENT[int(cn.inj_kind[k])],
                    "id": plain(cn.inj_id[k]),
                    "bus": plain(cn.bus_ids[cn.inj_bus[k]]),
                    "limit": limit,
                    "q_mvar": float(state.q_fixed[k]),
                    "lambda": lam,
                    "transfer_mw": lam * self.direction.transfer_mw,
                }
            )
        if msg:  # no slack left: the curve ends at this point
            self._keep(point, "qlim", types)
            if self.nose is None:
                self.nose, self.nose_lam = point, lam
                self.status = "reactive_limits"
                self.message = f"{msg} at λ = {lam:.6g}"
            return None
        sysm = tracer.system  # the slack may have moved: a new layout
        anchor = sysm.split(point.va, point.vm, point.mu)
        new, _ = tracer.correct(point, tracer.natural_row(), anchor, 0.0)
        if new is None:
            self._fail(f"no solution after the reactive-limit switch at λ = {lam:.6g}")
            return None
        try:
            z = tracer.tangent(new, _remap(point.z, point.layout, sysm.buses, cn.n_bus))
        except SingularMatrixError:
            self._fail(f"singular Jacobian after the reactive-limit switch at λ = {lam:.6g}")
            return None
        # forward on the new branch ("voltage"): a voltage held at its upper Q limit falls
        # below its setpoint (at the lower limit, rises above it); the other way the
        # controller would be back within its limits. (The old tangent's angles may be
        # relative to a slack that has just moved, so it cannot orient the new one.)
        nb = sysm.buses.size
        if self.limit_branch == "lambda":  # MATPOWER's runcpf goes on while λ rises
            if z[-1] < 0:
                z = -z
        elif fall[sysm.buses] @ z[nb : 2 * nb] > 0:
            z = -z
        new.z, new.layout = z, sysm.buses
        self._keep(new, "qlim")
        if self.nose is None and new.z[-1] <= 0:  # the curve turns back at this limit
            self._set_nose(new, "limit_induced")
        return new

    def result(self, buses, network: Network) -> ContinuationResult:
        cn, tracer = self.model.cn, self.tracer
        points = [p for p, _, _ in self.points]
        lam = np.array([tracer.lam(p.mu) for p in points])
        v = np.array([p.v for p in points]) if points else np.zeros((0, cn.n_bus), complex)
        types = np.array([t for _, _, t in self.points]).reshape(len(points), cn.n_bus)
        converged = self.status in ("nose", "limit_induced", "reactive_limits")
        lam_nose = self.nose_lam if converged else np.nan
        # the tangent at the maximum (or at the last point) names the weakest buses
        ref = self.nose if self.nose is not None else (points[-1] if points else None)
        limiting = _limiting_buses(cn, ref)
        chosen = _chosen_buses(cn, buses, limiting)
        curve = pd.DataFrame(
            {
                "lambda": lam,
                "transfer_mw": lam * self.direction.transfer_mw,
                "point": [k for _, k, _ in self.points],
            }
        )
        vm = pd.DataFrame(np.abs(v[:, chosen]), columns=[plain(b) for b in cn.bus_ids[chosen]])
        events = pd.DataFrame(
            self.events,
            columns=["step", "element", "id", "bus", "limit", "q_mvar", "lambda", "transfer_mw"],
        )
        mismatch = max((p.mismatch for p in points), default=np.nan)
        return ContinuationResult(
            converged=converged,
            status=self.status,
            message=self.message,
            lambda_nose=float(lam_nose),
            transfer_nose_mw=float(lam_nose * self.direction.transfer_mw),
            lambda_max=float(lam.max()) if lam.size else np.nan,
            curve=pd.concat([curve, vm], axis=1),
            limiting_buses=limiting,
            events=events,
            direction=self.direction,
            steps=max(len(points) - 1, 0),
            iterations=tracer.iterations,
            max_mismatch_mva=float(mismatch) * cn.sn_mva,
            v=v,
            bus_type=types,
            bus_ids=cn.bus_ids,
            network=network,
        )


def _limiting_buses(cn: CompiledNetwork, point: _Point | None) -> pd.DataFrame:
    """Buses by the size of their voltage component of ``point``'s tangent."""
    empty = pd.DataFrame({"participation": [], "vm_pu": []}, index=pd.Index([], name="bus"))
    if point is None or point.z is None:
        return empty
    buses = point.layout
    dvm = np.abs(point.z[buses.size : 2 * buses.size])
    keep = np.flatnonzero(dvm > 0)
    if keep.size == 0:
        return empty
    keep = keep[np.argsort(-dvm[keep], kind="stable")]
    return pd.DataFrame(
        {"participation": dvm[keep] / dvm[keep[0]], "vm_pu": point.vm[buses[keep]]},
        index=pd.Index([plain(b) for b in cn.bus_ids[buses[keep]]], name="bus"),
    )


def _remap(z: np.ndarray, old: np.ndarray, new: np.ndarray, n_bus: int) -> np.ndarray:
    """A tangent in the layout of system buses ``old`` carried over to ``new`` (0 for
    the unknowns ``old`` lacks)."""
    if np.array_equal(old, new):
        return z
    va, vm = np.zeros(n_bus), np.zeros(n_bus)
    va[old] = z[: old.size]
    vm[old] = z[old.size : 2 * old.size]
    return np.concatenate([va[new], vm[new], z[-1:]])


def _chosen_buses(cn: CompiledNetwork, buses, limiting: pd.DataFrame) -> np.ndarray:
    """Positions of the buses whose voltages ``curve`` holds."""
    if buses is None:
        ids = list(limiting.index[:WEAKEST])
    elif isinstance(buses, str) and buses == "all":
        return np.flatnonzero(cn.bus_type != NONE)
    else:
        ids = [buses] if isinstance(buses, str) else list(buses)
    pos = cn.bus_ids.get_indexer(ids)
    if (pos < 0).any():
        bad = [ids[k] for k in np.flatnonzero(pos < 0)]
        raise GridsimError(f"buses {bad[:5]!r} are not in service in the network")
    return pos
