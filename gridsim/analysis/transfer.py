"""Transfer capability (TTC) between a source and a sink, verified with AC power flows.

Method
------
A transfer of ``T`` MW is a change of dispatch applied to a copy of the network:

* **Source**: in-service, non-slack ``gen`` elements of a zone, a group of zones
  (``network.groups``) or an explicit list of gen ids. Each raises its ``p_mw`` by
  ``T * share``; the shares are proportional to the generators' headroom
  ``max_p_mw - p_mw`` (``p_mw`` where ``max_p_mw`` is unset, i.e. such a unit is taken
  able to double its output). Static generators (``sgen``) and slacks never participate.
* **Sink**: in-service loads of a zone/group or a list of load ids, each raised by
  ``T * share`` with shares proportional to their ``p_mw`` (evenly when all are zero);
  ``q_mvar`` is scaled with ``p_mw`` (constant power factor). With
  ``sink_element="gen"`` the listed generators are lowered instead, in proportion to
  their downward headroom ``p_mw - min_p_mw`` (``min_p_mw`` unset: 0).
* **HVDC**: when source and sink lie in different AC islands, every in-service link
  joining the source's island to the sink's island moves its setpoint by ``T * share``
  towards the sink. Links inside one island, or chained links through a third island,
  are not moved. Converter losses and AC losses are taken by each island's slack. The
  shares (``hvdc_allocation``):

  - ``"optimal"`` (default, with two or more joining links): a linear program
    (:func:`scipy.optimize.linprog`, HiGHS) over ``[T, x_1..x_m]`` (``x_j`` the MW
    moved on link ``j``) maximises ``T`` subject to ``sum x = T``, each link's
    headroom, and the DC-linearised thermal limits (the PTDFs of the source and sink
    and of each link applied to the AC base-case flows; with ``n_1`` also every studied
    branch outage through LODFs, at the emergency rating). Among the splits reaching
    that ``T`` it keeps the one that leaves the most relative headroom on the tightest
    link. Because the DC model can mislead, the headroom split below is also searched
    in AC and the split with the larger AC-verified TTC is reported
    (``TransferResult.hvdc_allocation`` says which).
  - ``"headroom"``: shares proportional to each link's remaining headroom
    ``max_p_mw -/+ p_mw`` (equal shares when a joining link is unrated).
  - ``hvdc_shares``: fixed shares as given (normalised).

Limits checked at every trial transfer: branch thermal rating (``loading_percent`` <=
100, rated branches only), bus voltage limits (``min_vm_pu``/``max_vm_pu`` where set),
HVDC link ratings (``|p_mw| <= max_p_mw``), source generator limits (``max_p_mw``; sink
generators ``min_p_mw``, default 0), reactive limits (with ``enforce_q_limits`` the
power flow turns PV buses into PQ at their limit, and the voltage limits then bind;
without it a generator outside its reactive limits is a ``"reactive"`` limit), and
voltage stability (``"voltage_stability"``, below). HVDC and generation limits are
linear in ``T`` and give an exact upper bound ``T_cap`` of the search.

Voltage stability: when a trial's power flow does not converge (intact, or after an
outage with ``n_1``), a continuation power flow (:func:`gridsim.continuation`) runs
along the same transfer direction (the same source shares, sink shares and HVDC
shares; after the outage, on the post-outage network) from the largest transfer at
which that power flow converged, to the nose ``T_nose`` of the P–V curve. Then:

* the nose lies at or below the trial: the transfer is limited to ``T_nose (1 -
  voltage_stability_margin)`` (5 % by default, as planning criteria often ask), a
  ``"voltage_stability"`` limit naming the outage and, as its element, the bus with
  the largest share of the critical voltage direction at the nose;
* the curve passes the trial with a solution (the Newton iterations failed, not the
  physics): the trial is solved again from the curve's voltages there and the search
  goes on (the nose found still limits the transfer to ``T_nose (1 - margin)``);
* the continuation fails before any nose: :class:`TransferSolverError`, a solver
  failure at that transfer, not a limit.

So that the margin holds where no trial diverges (a nose just above a converter or
generator cap, say), the TTC found is checked once: the intact network and the
``MARGIN_OUTAGES`` (5) outages whose lowest voltage fell most from no transfer to the
TTC are solved at ``TTC / (1 - margin)``, past every setpoint cap; one that diverges is
traced as above. Continuation power flows run only on a divergence below every limit
found so far, so a search far from collapse costs one power flow (N-0) or six (N-1)
more than it did. A power flow that diverges with no transfer at all is a
``"diverged"`` violation of the base case (an error) or of that outage (set aside,
below).

Search: a DC screen (the transfer's PTDF from :func:`gridsim.ptdf` and
:func:`gridsim.hvdc_ptdf`, applied to the AC base-case flows; with ``n_1`` also each
studied branch outage through LODFs) gives a first guess of the thermal limit; from
there a bracket ``[lo, hi]`` (``lo`` within all limits, ``hi`` not) is found with full
AC power flows (run_ac's default start; the last converged trial's voltages if that fails) and
bisected until ``hi - lo <= max(1 % of lo, tol_mw)`` (``tol_mw`` default 10 MW).
The reported TTC is ``lo``: every limit holds there in AC. The limiting element is the
most severe violation at ``hi`` (relative excess). A voltage-stability limit ``T_vs``
found below ``hi`` is tried itself: if every other limit holds there, the TTC is
``T_vs`` exactly; if not, the bisection goes on below it.

With ``n_1=True`` each trial also solves every outage of the contingency set
(``contingencies``, or every in-service line and transformer and, with
``hvdc_contingencies``, every in-service HVDC link): a branch outage on the trial's
compiled network with the branch's admittances taken out (as :func:`gridsim.ac_outage`
does), warm-started from the trial's base case; an HVDC outage trips the link (out of
service, so its setpoint is 0 at both ends and each island's slack takes the
difference). Branch outages that island part of the grid are skipped and listed. After
an outage the thermal limit is ``emergency_rating_percent`` of ``rate_mva`` (default
100); the other limits are as in the base case. The outage that violates is the
limiting contingency. Outages under which some limit is already exceeded (or the power
flow diverges) with no transfer are set aside and listed in ``excluded_contingencies``:
the transfer cannot be blamed for them, and counting them would make every TTC zero.
This is a choice, not a guarantee of N-1 security.

ATC: ``atc_mw = ttc_mw - trm_mw - committed_mw`` (the transmission reliability margin
and transfers already committed); a TRM plus committed transfers larger than the TTC is
a :class:`TransferError`.

If a limit is exceeded in the base case with no transfer, :class:`TransferError` is
raised, naming the violation: a TTC would be meaningless.

The TTC is the transfer *added* to the operating point the network describes (its own
setpoints, e.g. a scenario's ``export``), not counting any transfer already in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gridsim.analysis._areas import TransferError, _Plan, _plan, _set_cap
from gridsim.analysis.borders import border_flows
from gridsim.analysis.contingency import ac_outage
from gridsim.analysis.continuation import (
    ContinuationResult,
    _with_outage,
    continuation,
    plan_direction,
)

try:  # the outage solve on the compiled network, without ac_outage's per-call checks
    from gridsim.analysis.contingency import _solve as _outage_solve
except ImportError:  # pragma: no cover (contingency.py reorganised)
    _outage_solve = None
from gridsim.analysis.powerflow import run_ac
from gridsim.analysis.sensitivity import _branch_positions, _lodf_arrays, hvdc_ptdf, ptdf
from gridsim.exceptions import ConvergenceError
from gridsim.model.compile import LINE
from gridsim.model.network import Network, plain
from gridsim.results import PowerFlowResult

__all__ = [
    "TransferError",
    "TransferResult",
    "TransferSolverError",
    "apply_transfer",
    "transfer_capability",
]

VOLTAGE_STABILITY = "voltage_stability"
DIVERGED = "diverged"  # no AC solution with no transfer (never a TTC's limit)
LIMIT_TYPES = ("thermal", "voltage", "reactive", "hvdc", "generation", VOLTAGE_STABILITY, "max_mw")
VOLTAGE_STABILITY_MARGIN = 0.05  # default distance kept from the nose (fraction of it)
MARGIN_OUTAGES = 5  # outages whose voltages fell most, checked for the margin at the TTC
EPS_PERCENT = 1e-6  # loading tolerance, percent
EPS_PU = 1e-6  # voltage tolerance, p.u.
EPS_MW = 1e-6  # setpoint tolerance, MW
SEVERITY_TIE = 1e-9  # relative excesses this close name the same limit (see _worst)
DEFAULT_TOL_MW = 10.0
REL_TOL = 0.01
MAX_TRIALS = 80


class TransferSolverError(ConvergenceError):
    """A trial's power flow diverged and the continuation power flow along the transfer
    found no nose at or below it (it failed first, or its own voltages there did not
    converge either): a solver failure, not a limit.

    Attributes
    ----------
    transfer_mw : float
        The trial transfer.
    contingency : tuple or None
        The outage ``(element, id)`` after which it diverged; None in the intact network.
    iterations, max_mismatch_mva
        Of the diverged power flow (as :class:`gridsim.ConvergenceError`).
    """

    def __init__(self, message, transfer_mw, contingency, iterations, max_mismatch_mva):
        super().__init__(message, iterations, max_mismatch_mva)
        self.transfer_mw = transfer_mw
        self.contingency = contingency


@dataclasses.dataclass
class _Violation:
    limit_type: str
    element: tuple | None
    severity: float  # relative excess (inf for a divergence with no transfer)
    contingency: tuple | None = None

    def describe(self) -> str:
        where = f" after the outage of {self.contingency!r}" if self.contingency else ""
        what = f" on {self.element!r}" if self.element is not None else ""
        return f"{self.limit_type}{what}{where}"


@dataclasses.dataclass
class TransferResult:
    """Outcome of :func:`transfer_capability`.

    Attributes
    ----------
    ttc_mw : float
        Total transfer capability: the largest transfer found with every limit held in
        AC (base case, and every studied outage with ``n_1``).
    limit_type : str
        ``"thermal"``, ``"voltage"``, ``"reactive"``, ``"hvdc"``, ``"generation"``,
        ``"voltage_stability"`` (the TTC is ``nose_mw * (1 -
        voltage_stability_margin)``) or ``"max_mw"`` (the requested cap was reached).
    limiting_element : tuple or None
        ``(element, id)``: ``("line", id)``, ``("trafo", id)``, ``("bus", id)``,
        ``("hvdc", id)`` or ``("gen", id)``; for voltage stability the bus with the
        largest share of the critical voltage direction at the nose; None for
        ``max_mw``.
    limiting_contingency : tuple or None
        The outage ``(element, id)`` under which the limit binds; None in the base case.
    curve : pandas.DataFrame
        One row per AC trial, by transfer: ``transfer_mw``, ``converged`` (base case),
        ``max_loading_percent``, ``min_vm_pu``, ``max_vm_pu`` (base case),
        ``within_limits`` and ``violation`` (the first one found, or empty).
    border_flows : pandas.DataFrame
        At the TTC (base case): ``from_zone``, ``to_zone``, ``p_mw`` over the AC
        branches between zones (see :func:`gridsim.analysis.borders.border_flows`).
    link_flows : pandas.DataFrame
        At the TTC, per in-service HVDC link: ``p_from_mw``, ``p_to_mw``, ``pl_mw``,
        ``max_p_mw``, ``loading_percent`` and ``moved_mw`` (change of setpoint).
    losses_mw : float
        AC branch plus HVDC losses at the TTC.
    losses_increase_mw : float
        ``losses_mw`` less the losses with no transfer.
    source_shares, sink_shares, hvdc_shares : pandas.Series
        Participation of each element per MW transferred (sink gens are lowered).
    hvdc_capacity_mw : float
        Sum of the joining links' remaining headroom (inf when none is needed).
    skipped_contingencies : list of tuple
        Outages not studied because they island part of the grid.
    excluded_contingencies : list of tuple
        Outages set aside because some limit is already exceeded under them with no
        transfer (the TTC does not hold them; see the module docstring).
    result : PowerFlowResult
        The AC base-case solution at the TTC.
    atc_mw : float
        Available transfer capability: ``ttc_mw - trm_mw - committed_mw`` (>= 0).
    trm_mw, committed_mw : float
        The transmission reliability margin and the already committed transfers, MW.
    emergency_rating_percent : float
        Post-contingency thermal limit used, percent of ``rate_mva``.
    hvdc_allocation : str
        How the transfer was split over the joining HVDC links: ``"optimal"`` (linear
        program), ``"headroom"`` (by remaining headroom; also the fallback when the
        linear program finds no transfer), ``"fixed"`` (``hvdc_shares``) or ``"none"``
        (source and sink in one AC island).
    contingencies_studied : int
        Outages held at the TTC (the contingency set less skipped and excluded ones).
    studied_contingencies : list of tuple
        Those outages, ``(element, id)``; ``("hvdc", id)`` trips a link.
    nose_mw : float
        The lowest nose (MW of transfer) of the continuation power flows the search ran
        (after a trial diverged), intact or after ``nose_contingency``; NaN when none
        ran or none found a nose.
    nose_contingency : tuple or None
        The outage of ``nose_mw``'s curve (None: the intact network).
    voltage_stability_margin : float
        Fraction of the nose kept as margin: a voltage-stability limit is
        ``nose_mw * (1 - voltage_stability_margin)``.
    """

    ttc_mw: float
    limit_type: str
    limiting_element: tuple | None
    limiting_contingency: tuple | None
    curve: pd.DataFrame
    border_flows: pd.DataFrame
    link_flows: pd.DataFrame
    losses_mw: float
    losses_increase_mw: float
    source_shares: pd.Series
    sink_shares: pd.Series
    hvdc_shares: pd.Series
    hvdc_capacity_mw: float
    skipped_contingencies: list
    excluded_contingencies: list
    result: PowerFlowResult
    atc_mw: float = float("nan")
    trm_mw: float = 0.0
    committed_mw: float = 0.0
    emergency_rating_percent: float = 100.0
    hvdc_allocation: str = ""
    contingencies_studied: int = 0
    studied_contingencies: list = dataclasses.field(default_factory=list)
    nose_mw: float = float("nan")
    nose_contingency: tuple | None = None
    voltage_stability_margin: float = VOLTAGE_STABILITY_MARGIN
    _network: Network = dataclasses.field(repr=False, default=None)
    _plan: _Plan = dataclasses.field(repr=False, default=None)

    def network_at(self, transfer_mw: float) -> Network:
        """A copy of the studied network with ``transfer_mw`` applied (for checks)."""
        return _apply(self._network, self._plan, float(transfer_mw))

    def pv_curve(self, contingency: tuple | None = None, **options) -> ContinuationResult:
        """The P–V curves of this transfer from no transfer to the nose: a continuation
        power flow along the direction the TTC was found on (the same source, sink and
        HVDC shares), intact or after ``contingency``; λ is the transfer in MW.

        Parameters
        ----------
        contingency : (element, id), optional
            As for :func:`gridsim.continuation` (an HVDC link tripped leaves the
            direction).
        **options
            Passed to :func:`gridsim.continuation` (``enforce_q_limits``, ``buses``,
            ...).

        Returns
        -------
        ContinuationResult
        """
        studied = self._network if contingency is None else _with_outage(self._network, contingency)
        return continuation(studied, plan_direction(studied, self._plan), **options)


def _apply(base: Network, plan: _Plan, t: float) -> Network:
    net = base.copy()
    gen = net.gen
    gen.loc[plan.gen_ids, "p_mw"] = gen.p_mw.reindex(plan.gen_ids).to_numpy() + t * plan.gen_share
    table = net[plan.sink_element]
    p0 = table.p_mw.reindex(plan.sink_ids).to_numpy(dtype=float)
    if plan.sink_element == "load":
        p1 = p0 + t * plan.sink_share
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(p0 != 0, p1 / p0, 1.0)
        q0 = table.q_mvar.reindex(plan.sink_ids).to_numpy(dtype=float)
        table.loc[plan.sink_ids, "p_mw"] = p1
        table.loc[plan.sink_ids, "q_mvar"] = q0 * ratio
    else:
        table.loc[plan.sink_ids, "p_mw"] = p0 - t * plan.sink_share
    if plan.hvdc_ids.size:
        hv = net.hvdc
        hv.loc[plan.hvdc_ids, "p_mw"] = (
            hv.p_mw.reindex(plan.hvdc_ids).to_numpy() + t * plan.hvdc_dir * plan.hvdc_share
        )
    net.invalidate()
    return net


def apply_transfer(
    network: Network,
    source: str | Iterable,
    sink: str | Iterable,
    transfer_mw: float,
    *,
    hvdc_shares: Mapping | None = None,
    sink_element: str = "load",
) -> Network:
    """A copy of ``network`` with a transfer of ``transfer_mw`` applied.

    The dispatch change is the one :func:`transfer_capability` studies (see the module
    docstring): source generators raised by headroom, sink loads (or generators)
    by share, joining HVDC links moved. No limit is checked here; a negative transfer
    runs the other way.

    Parameters
    ----------
    network : Network
        Not modified.
    source, sink, hvdc_shares, sink_element
        As for :func:`transfer_capability`.
    transfer_mw : float
        MW added on top of the network's own operating point.

    Returns
    -------
    Network

    Raises
    ------
    TransferError
        For an unknown area, an empty or overlapping source/sink or no HVDC path.
    """
    if not isinstance(source, str):
        source = list(source)
    if not isinstance(sink, str):
        sink = list(sink)
    t = float(transfer_mw)
    if not np.isfinite(t):
        raise TransferError(f"transfer_mw must be finite, got {transfer_mw!r}")
    plan = _plan(network, source, sink, sink_element, hvdc_shares, None)
    return _apply(network, plan, t)


def _setpoint_violations(net: Network, plan: _Plan) -> list[_Violation]:
    out = []
    if plan.hvdc_ids.size:
        hv = net.hvdc.reindex(plan.hvdc_ids)
        excess = np.abs(hv.p_mw.to_numpy(dtype=float)) - hv.max_p_mw.to_numpy(dtype=float)
        for i, e, m in zip(plan.hvdc_ids, excess, hv.max_p_mw, strict=True):
            if e > EPS_MW:
                out.append(_Violation("hvdc", ("hvdc", plain(i)), e / m))
    g = net.gen.reindex(plan.gen_ids)
    excess = g.p_mw.to_numpy(dtype=float) - g.max_p_mw.to_numpy(dtype=float)
    for i, e, m in zip(plan.gen_ids, excess, g.max_p_mw, strict=True):
        if e > EPS_MW:
            out.append(_Violation("generation", ("gen", plain(i)), e / max(abs(m), 1.0)))
    if plan.sink_element == "gen":
        s = net.gen.reindex(plan.sink_ids)
        lack = np.nan_to_num(s.min_p_mw.to_numpy(dtype=float)) - s.p_mw.to_numpy(dtype=float)
        for i, e in zip(plan.sink_ids, lack, strict=True):
            if e > EPS_MW:
                out.append(_Violation("generation", ("gen", plain(i)), e))
    return out


def _flow_violations(
    net: Network, res: PowerFlowResult, contingency: tuple | None, check_q: bool
) -> list[_Violation]:
    """The limits a converged AC solution ``res`` of ``net`` exceeds (through the
    tables)."""
    out = []
    loading = res.branch.loading_percent
    over = loading[loading > 100.0 + EPS_PERCENT]
    for key, value in over.items():
        element = (key[0], plain(key[1]))
        out.append(_Violation("thermal", element, value / 100.0 - 1.0, contingency))
    bus = res.bus
    vm = bus.vm_pu.to_numpy()
    vmin = net.bus.min_vm_pu.reindex(bus.index).to_numpy(dtype=float)
    vmax = net.bus.max_vm_pu.reindex(bus.index).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = (vmin - vm) / vmin
        high = (vm - vmax) / vmax
        worst = np.fmax(low, high)
        bad = np.flatnonzero(worst > EPS_PU)
    for k in bad:
        out.append(_Violation("voltage", ("bus", plain(bus.index[k])), worst[k], contingency))
    if check_q and len(res.gen):
        g = net.gen.reindex(res.gen.index)
        q = res.gen.q_mvar.to_numpy()
        qmin, qmax = g.min_q_mvar.to_numpy(dtype=float), g.max_q_mvar.to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            ex = np.fmax(qmin - q, q - qmax)
            slack = g.slack.to_numpy(dtype=bool)
            for k in np.flatnonzero((ex > EPS_MW) & ~slack):
                scale = max(abs(qmax[k]), abs(qmin[k]), 1.0)
                out.append(
                    _Violation("reactive", ("gen", plain(g.index[k])), ex[k] / scale, contingency)
                )
    return out


@dataclasses.dataclass
class _Trial:
    t: float
    res: PowerFlowResult
    violations: list[_Violation]
    complete: bool = True  # every outage was solved (not stopped at the first violation)
    outage_vm: dict = dataclasses.field(default_factory=dict)  # outage -> lowest |V|, p.u.


def _branch_mva(res: PowerFlowResult) -> np.ndarray:
    """``max(|S_from|, |S_to|)`` per compiled branch of an AC solution, MVA (from its
    voltages and its compiled network's branch admittances: an outage view's outaged
    branch carries 0)."""
    cn, v = res.cn, res.v
    yff, yft, ytf, ytt = cn.branch_y()
    vf, vt = v[cn.br_f], v[cn.br_t]
    s_from = np.abs(vf * np.conj(yff * vf + yft * vt))
    s_to = np.abs(vt * np.conj(ytf * vf + ytt * vt))
    return np.maximum(s_from, s_to) * cn.sn_mva


class _Limits:
    """Branch ratings and voltage limits in the compiled order of the studied network
    (a transfer changes setpoints only, so every trial compiles to the same order)."""

    def __init__(self, net: Network, emergency_percent: float):
        cn = net.compile()
        self.kind = np.where(cn.br_kind == LINE, "line", "trafo")
        self.br_id = cn.br_id
        self.bus_ids = cn.bus_ids
        self.rate = cn.br_rate_mva
        self.rate_post = cn.br_rate_mva * (emergency_percent / 100.0)
        self.vmin = net.bus.min_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
        self.vmax = net.bus.max_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)

    def violations(
        self, net: Network, res: PowerFlowResult, contingency: tuple | None, check_q: bool
    ) -> list[_Violation]:
        """Every limit the converged AC solution ``res`` of ``net`` exceeds."""
        out = []
        rate = self.rate if contingency is None else self.rate_post
        s = _branch_mva(res)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = s / rate - 1.0
        for k in np.flatnonzero(rel > EPS_PERCENT / 100.0):
            element = (str(self.kind[k]), plain(self.br_id[k]))
            out.append(_Violation("thermal", element, float(rel[k]), contingency))
        vm = np.abs(res.v)
        if vm.shape == self.vmin.shape:
            with np.errstate(invalid="ignore", divide="ignore"):
                worst = np.fmax((self.vmin - vm) / self.vmin, (vm - self.vmax) / self.vmax)
            for k in np.flatnonzero(worst > EPS_PU):
                element = ("bus", plain(self.bus_ids[k]))
                out.append(_Violation("voltage", element, float(worst[k]), contingency))
        else:  # a different compiled network (an HVDC outage): through the tables
            out += [
                v
                for v in _flow_violations(net, res, contingency, False)
                if v.limit_type == "voltage"
            ]
        if check_q:
            found = _flow_violations(net, res, contingency, True)
            out += [v for v in found if v.limit_type == "reactive"]
        return out


@dataclasses.dataclass
class _Curve:
    """A continuation power flow of the search: the P–V curve of one case (intact, or
    after ``contingency``) from ``start_mw`` of transfer (λ is the MW added to it)."""

    contingency: tuple | None
    start_mw: float
    cpf: ContinuationResult

    @property
    def nose_mw(self) -> float:
        """The transfer at the nose (inf when none was found)."""
        return self.start_mw + self.cpf.transfer_nose_mw if self.cpf.converged else np.inf

    @property
    def reach_mw(self) -> float:
        """The largest transfer the curve reached with a solution."""
        return self.start_mw + self.cpf.lambda_max

    @property
    def bus(self) -> tuple | None:
        """``("bus", id)`` with the largest share of the critical voltage direction."""
        weakest = self.cpf.limiting_buses.index
        return ("bus", plain(weakest[0])) if len(weakest) else None

    def voltages(self, t: float, bus_ids: pd.Index) -> np.ndarray:
        """Bus voltages at transfer ``t`` (in the order ``bus_ids``), interpolated
        between the two points of the upper branch on either side of it."""
        lam = self.cpf.curve["lambda"].to_numpy()
        x = t - self.start_mw
        top = int(np.argmax(lam))  # the upper branch: points 0..top
        k1 = int(np.clip(np.searchsorted(lam[: top + 1], x), 1, max(top, 1)))
        k0, k1 = min(k1 - 1, top), min(k1, top)
        span = lam[k1] - lam[k0]
        f = float(np.clip((x - lam[k0]) / span, 0.0, 1.0)) if span > 0 else 1.0
        v0, v1 = self.cpf.v[k0], self.cpf.v[k1]
        with np.errstate(invalid="ignore", divide="ignore"):
            turn = np.nan_to_num(np.angle(v1 / v0))
        v = ((1 - f) * np.abs(v0) + f * np.abs(v1)) * np.exp(1j * (np.angle(v0) + f * turn))
        pos = self.cpf.bus_ids.get_indexer(bus_ids)
        return np.where(pos >= 0, v[pos], 0.0)


class _Study:
    """Evaluates trial transfers (cached) for one request.

    Branch outages are solved on the trial's compiled network with the branch's
    admittances taken out (:mod:`gridsim.analysis.contingency`'s outage view, warm
    started from the trial's base case); an HVDC outage trips the link (out of service,
    each island's slack takes the difference) and is solved from the trial's voltages.
    A power flow that diverges is judged by a continuation power flow (see the module
    docstring); the curves traced are kept in ``curves``.
    """

    def __init__(
        self,
        base,
        plan,
        n_1,
        outages,
        enforce_q_limits,
        emergency_percent=100.0,
        margin=VOLTAGE_STABILITY_MARGIN,
    ):
        self.base, self.plan, self.n_1 = base, plan, n_1
        self.outages = outages
        self.q = enforce_q_limits
        self.margin = margin
        self.trials: dict[float, _Trial] = {}
        self.last_v: np.ndarray | None = None
        self.priority: dict = {}
        self.curves: list[_Curve] = []
        self.limits = _Limits(base, emergency_percent)
        cn = base.compile()
        index = pd.MultiIndex.from_arrays([self.limits.kind, cn.br_id])
        self.position = {o: int(k) for o, k in zip(index, range(cn.n_branch), strict=True)}
        self.options = dict(enforce_q_limits=enforce_q_limits, tol_mva=1e-8, max_iter=30)
        self.rule = getattr(base, "q_limit_rule", None)

    @property
    def binding(self) -> _Curve | None:
        """The traced curve with the lowest nose (None when no curve found one)."""
        found = [c for c in self.curves if np.isfinite(c.nose_mw)]
        return min(found, key=lambda c: c.nose_mw) if found else None

    @property
    def stability_mw(self) -> float:
        """The voltage-stability limit found so far (inf: none)."""
        curve = self.binding
        return np.inf if curve is None else curve.nose_mw * (1.0 - self.margin)

    def _stability(self, t: float) -> list[_Violation]:
        """The voltage-stability violation of a trial at ``t``, if past the limit."""
        limit = self.stability_mw
        if not t > limit:
            return []
        curve = self.binding
        return [_Violation(VOLTAGE_STABILITY, curve.bus, (t - limit) / limit, curve.contingency)]

    def outage(self, net: Network, init, outage: tuple) -> PowerFlowResult:
        """The AC solution of trial ``net`` after ``outage``, started from ``init`` (the
        trial's base-case solution, or voltages)."""
        if outage[0] == "hvdc":
            tripped = net.copy()
            tripped.set("hvdc", outage[1], "in_service", False)
            r = run_ac(tripped, init=init, q_limit_rule=self.rule, **self.options)
            if not r.converged:
                r = run_ac(tripped, q_limit_rule=self.rule, **{**self.options, "max_iter": 50})
            return r
        if _outage_solve is None:  # pragma: no cover
            return ac_outage(net.compile(), outage, init=init, **self.options)
        return _outage_solve(net.compile(), self.position[outage], init, self.options, self.rule)

    def __call__(self, t: float, *, complete: bool = False) -> _Trial:
        t = float(t)
        trial = self.trials.get(t)
        if trial is None or (complete and not trial.complete):
            trial = self.trials[t] = self._evaluate(t, complete)
        # a nose found since the trial was solved may put it past the limit
        kept = [v for v in trial.violations if v.limit_type != VOLTAGE_STABILITY]
        trial.violations = kept + self._stability(t)
        return trial

    def _evaluate(self, t: float, complete: bool) -> _Trial:
        net = _apply(self.base, self.plan, t)
        viol = _setpoint_violations(net, self.plan)
        res = self._solve(net)
        if not res.converged:
            res = self._diverged(t, net, None, res)
        check_q = not self.q
        viol += self._case_violations(t, net, res, None, check_q)
        outage_vm = {}
        if res.converged and self.n_1 and (complete or not (viol or self._stability(t))):
            order = sorted(self.outages, key=lambda o: -self.priority.get(o, 0.0))
            for outage in order:
                r = self.outage(net, res, outage)
                if not r.converged:
                    r = self._diverged(t, net, outage, r)
                if r.converged:
                    vm = np.abs(r.v)
                    outage_vm[outage] = float(vm[vm > 0].min())
                found = self._case_violations(t, net, r, outage, check_q)
                if found:
                    self.priority[outage] = self.priority.get(outage, 0.0) + 1.0
                    viol += found
                if (found or self._stability(t)) and not complete:
                    break
        return _Trial(t, res, viol, complete or not self.n_1, outage_vm)

    def check_margin(self, lo: float) -> None:
        """The margin kept from the noses of a TTC ``lo``: the intact network and the
        ``MARGIN_OUTAGES`` outages whose lowest voltage fell most from no transfer to
        ``lo`` are solved at ``lo / (1 - margin)``; one that diverges is judged by its
        P–V curve (:meth:`_diverged`), which finds its nose if it lies below."""
        t = lo / (1.0 - self.margin)
        net = _apply(self.base, self.plan, t)
        res = self._solve(net)
        if not res.converged:
            res = self._diverged(t, net, None, res)
        if not (res.converged and self.n_1):
            return
        zero, at = self.trials[0.0].outage_vm, self.trials[lo].outage_vm
        drop = {o: zero[o] - at[o] for o in at if o in zero}
        for outage in sorted(drop, key=drop.get, reverse=True)[:MARGIN_OUTAGES]:
            r = self.outage(net, res, outage)
            if not r.converged:
                self._diverged(t, net, outage, r, resolve=False)

    def _case_violations(self, t, net, res, contingency, check_q) -> list[_Violation]:
        """The limits ``res`` (intact, or after ``contingency``) exceeds; a power flow
        left diverged is past a voltage-stability limit (reported by
        :meth:`_stability`), or has no transfer to start a continuation from."""
        if res.converged:
            return self.limits.violations(net, res, contingency, check_q)
        if t > self.stability_mw:
            return []
        return [_Violation(DIVERGED, None, np.inf, contingency)]

    def _diverged(self, t, net, contingency, failed, resolve=True) -> PowerFlowResult:
        """Judge the diverged power flow ``failed`` of trial ``t`` (intact, or after
        ``contingency``) by the P–V curve of that case: ``failed`` itself when ``t`` is
        past a voltage-stability limit (the nose at or below ``t``, or a limit found
        before) or nothing converged below ``t``; the trial solved again from the
        curve's voltages when the curve passes it (with ``resolve``; else ``failed``).

        Raises
        ------
        TransferSolverError
            When the curve ends before any nose below ``t``, or passes ``t`` but its
            voltages there do not converge either.
        """
        if t > self.stability_mw:
            return failed  # past a limit already: why it diverged does not matter
        curve = next(
            (
                c
                for c in self.curves
                if c.contingency == contingency
                and c.start_mw < t
                and (np.isfinite(c.nose_mw) or c.reach_mw >= t)
            ),
            None,
        )
        if curve is None:
            start = self._start(t, contingency)
            if start is None:
                return failed
            curve = self._trace(start, contingency)
            self.curves.append(curve)
        if curve.nose_mw <= t or t > self.stability_mw:
            return failed
        where = (
            "in the intact network"
            if contingency is None
            else f"after the outage of {contingency[0]} {plain(contingency[1])}"
        )
        msg = (
            f"solver failure at {t:.1f} MW {where}, not a limit: the power flow does not "
            f"converge ({failed.iterations} iterations, largest mismatch "
            f"{failed.max_mismatch_mva:.3g} MVA) and the continuation power flow from "
            f"{curve.start_mw:.1f} MW "
        )
        failure = (t, contingency, failed.iterations, failed.max_mismatch_mva)
        if not curve.reach_mw >= t:  # NaN: not even its first point
            msg += f"ended before any nose ({curve.cpf.message})"
            raise TransferSolverError(msg, *failure)
        if not resolve:
            return failed
        v = curve.voltages(t, net.compile().bus_ids)
        if contingency is None:
            r = run_ac(net, enforce_q_limits=self.q, max_iter=50, init=v, q_limit_rule=self.rule)
            if r.converged:
                self.last_v = r.v
        else:
            r = self.outage(net, v, contingency)
        if not r.converged:
            msg += "passes it, yet the power flow from the curve's voltages does not converge"
            raise TransferSolverError(msg, *failure)
        return r

    def _start(self, t: float, contingency: tuple | None) -> float | None:
        """The largest transfer below ``t`` at which the case's power flow converged."""
        if contingency is None:
            below = [s for s, tr in self.trials.items() if s < t and tr.res.converged]
        else:
            below = [s for s, tr in self.trials.items() if s < t and contingency in tr.outage_vm]
        return max(below, default=None)

    def _trace(self, start: float, contingency: tuple | None) -> _Curve:
        """The P–V curve of the case from the transfer ``start`` to its nose."""
        net = _apply(self.base, self.plan, start)
        init = self.trials[start].res
        studied = net
        if contingency is not None:
            init = self.outage(net, init, contingency)
            studied = net.copy()
            studied.set(contingency[0], contingency[1], "in_service", False)
        v0 = init.v if init.converged and init.v.shape == (studied.compile().n_bus,) else None
        cpf = continuation(
            studied,
            plan_direction(studied, self.plan),
            enforce_q_limits=self.q,
            q_limit_rule=self.rule,
            init=v0,
        )
        return _Curve(contingency, start, cpf)

    def _solve(self, net: Network) -> PowerFlowResult:
        """run_ac's default start (what a user's own check does); the last converged trial's
        voltages only when that fails."""
        res = run_ac(net, enforce_q_limits=self.q, max_iter=50, q_limit_rule=self.rule)
        if not res.converged and self.last_v is not None:
            if self.last_v.shape == (net.compile().n_bus,):
                res = run_ac(
                    net,
                    enforce_q_limits=self.q,
                    max_iter=50,
                    init=self.last_v,
                    q_limit_rule=self.rule,
                )
        if res.converged:
            self.last_v = res.v
        return res


HVDC_ALLOCATIONS = ("optimal", "headroom")


def _dc_rows(
    base: Network,
    plan: _Plan,
    res0: PowerFlowResult,
    outage_pos: np.ndarray,
    emergency_percent: float,
):
    """Linearised limits of the transfer: rows ``A z <= b`` over ``z = [T, x_1..x_m]``
    (``T`` the transfer, ``x_j`` the MW moved on joining link ``j`` towards the sink).

    DC sensitivities (:func:`gridsim.ptdf`, :func:`gridsim.hvdc_ptdf`, LODFs for the
    branch outages ``outage_pos``) applied to the AC base-case active flows; each
    rated branch gives two rows in the base case and two per outage (emergency rating
    after an outage). Rows already violated with no transfer, or that the transfer
    does not move, are left out.
    """
    cn = base.compile()
    gen_bus = base.gen.bus.reindex(plan.gen_ids).to_numpy()
    snk_bus = base[plan.sink_element].bus.reindex(plan.sink_ids).to_numpy()
    buses = pd.unique(np.concatenate([gen_bus, snk_bus]))
    pt = ptdf(cn, buses=buses)
    w = pd.Series(0.0, index=pt.columns)
    for b, s in zip(gen_bus, plan.gen_share, strict=True):
        w[b] += s
    for b, s in zip(snk_bus, plan.sink_share, strict=True):
        w[b] -= s
    a = np.empty((cn.n_branch, 1 + plan.hvdc_ids.size))
    a[:, 0] = pt.to_numpy() @ w.to_numpy()
    if plan.hvdc_ids.size:
        a[:, 1:] = hvdc_ptdf(base)[list(plan.hvdc_ids)].to_numpy() * plan.hvdc_dir
    f0 = res0.branch_p_from_mw
    rate = cn.br_rate_mva
    rows_a, rows_f, rows_r = [a], [f0], [rate]
    if outage_pos.size:
        lodf_t, _ = _lodf_arrays(cn, outage_pos)  # rows: outages
        lodf_t = np.nan_to_num(lodf_t)
        post = emergency_percent / 100.0 * rate
        for i, k in enumerate(outage_pos):
            m = lodf_t[i]
            fa = a + m[:, None] * a[k]
            ff = f0 + m * f0[k]
            r = post.copy()
            r[k] = np.nan  # the outaged branch carries nothing
            rows_a.append(fa)
            rows_f.append(ff)
            rows_r.append(r)
    big_a = np.concatenate(rows_a)
    big_f = np.concatenate(rows_f)
    big_r = np.concatenate(rows_r)
    keep = np.isfinite(big_r) & (np.abs(big_f) <= big_r) & (np.abs(big_a).max(axis=1) > 1e-6)
    big_a, big_f, big_r = big_a[keep], big_f[keep], big_r[keep]
    return np.concatenate([big_a, -big_a]), np.concatenate([big_r - big_f, big_r + big_f])


def _dc_guess(a: np.ndarray, b: np.ndarray, plan: _Plan) -> float:
    """First crossing of a linearised limit with the plan's fixed shares (inf if none)."""
    c = a[:, 0] + (a[:, 1:] @ plan.hvdc_share if plan.hvdc_ids.size else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(c > 1e-9, b / c, np.inf)
    return float(t.min()) if t.size else np.inf


def _optimal_shares(network: Network, plan: _Plan, a: np.ndarray, b: np.ndarray, tol: float):
    """HVDC shares that maximise the linearised transfer (``None`` when the LP gives no
    transfer to share, or fails).

    First ``max T`` over ``z = [T, x]`` with ``sum x = T``, ``0 <= x_j <= headroom_j``
    and ``a z <= b``; then, at that ``T``, the ``x`` that leaves the most headroom on the
    tightest link (so the split itself is not what limits the AC search).
    """
    from scipy.optimize import linprog

    m = plan.hvdc_ids.size
    hv = network.hvdc
    pmax = hv.max_p_mw.reindex(plan.hvdc_ids).to_numpy(dtype=float)
    head = pmax - plan.hvdc_dir * hv.p_mw.reindex(plan.hvdc_ids).to_numpy(dtype=float)
    head = np.maximum(head, 0.0)
    if not np.isfinite(head).all():
        return None
    gen_cap = plan.cap_mw if plan.cap_type != "hvdc" else np.inf
    t_max = min(float(head.sum()), gen_cap)
    eq = np.concatenate([[1.0], -np.ones(m)])[None, :]
    bounds = [(0.0, t_max)] + [(0.0, h) for h in head]
    first = linprog(
        np.concatenate([[-1.0], np.zeros(m)]),
        A_ub=a if len(a) else None,
        b_ub=b if len(b) else None,
        A_eq=eq,
        b_eq=[0.0],
        bounds=bounds,
        method="highs",
    )
    if first.status != 0 or not first.x[0] > tol:
        return None
    t_star = float(first.x[0])
    # second stage: z = [T, x, u], max u with u <= 1 - x_j / head_j (links with
    # headroom), T fixed at t_star: the most relative headroom left on the tightest link
    # (a split by headroom when no limit tells the links apart)
    has = head > 0
    link_rows = np.hstack(
        [np.zeros((m, 1)), np.diag(1.0 / np.where(has, head, 1.0)), np.ones((m, 1))]
    )[has]
    a2 = np.hstack([a, np.zeros((len(a), 1))])
    second = linprog(
        np.concatenate([np.zeros(1 + m), [-1.0]]),
        A_ub=np.vstack([a2, link_rows]),
        b_ub=np.concatenate([b, np.ones(int(has.sum()))]),
        A_eq=np.hstack([eq, [[0.0]]]),
        b_eq=[0.0],
        bounds=[(t_star * (1 - 1e-9), t_star)] + [(0.0, h) for h in head] + [(None, None)],
        method="highs",
    )
    x = second.x[1 : 1 + m] if second.status == 0 else first.x[1:]
    x = np.maximum(x, 0.0)
    return x / x.sum() if x.sum() > 0 else None


def _contingency_set(base: Network, contingencies, hvdc_contingencies: bool):
    """``(branch outages, HVDC outages)`` to study, each a list of ``(element, id)``."""
    if contingencies is None:
        hv = base.hvdc
        links = [("hvdc", plain(i)) for i in hv.index[hv.in_service.to_numpy(dtype=bool)]]
        return None, (links if hvdc_contingencies else [])
    branches, links = [], []
    for item in contingencies:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TransferError(f"contingency {item!r} is not an (element, id) pair")
        element, ident = item
        if element not in ("line", "trafo", "hvdc"):
            raise TransferError(
                f"contingency {item!r}: element must be 'line', 'trafo' or 'hvdc', not {element!r}"
            )
        table = base[element]
        if ident not in table.index:
            raise TransferError(f"contingency {item!r}: no {element} with id {ident!r}")
        if not bool(table.in_service[ident]):
            raise TransferError(f"contingency {item!r}: {element} {ident!r} is out of service")
        (links if element == "hvdc" else branches).append((element, plain(ident)))
    return branches, links


def transfer_capability(
    network: Network,
    source: str | Iterable,
    sink: str | Iterable,
    *,
    n_1: bool = False,
    contingencies: Iterable[tuple] | None = None,
    hvdc_shares: Mapping | None = None,
    enforce_q_limits: bool = True,
    tol_mw: float | None = None,
    max_mw: float | None = None,
    sink_element: str = "load",
    trm_mw: float = 0.0,
    committed_mw: float = 0.0,
    emergency_rating_percent: float = 100.0,
    hvdc_contingencies: bool = True,
    hvdc_allocation: str = "optimal",
    voltage_stability_margin: float = VOLTAGE_STABILITY_MARGIN,
) -> TransferResult:
    """Total (and available) transfer capability from a source to a sink, verified in AC.

    See the module docstring for the transfer definition, the limits and the search.

    Parameters
    ----------
    network : Network
        Not modified; trials are solved on copies.
    source : str or iterable of gen ids
        A zone code, a group name (``network.groups``) or a list of generator ids.
    sink : str or iterable of ids
        A zone code or group name, or a list of load ids (gen ids with
        ``sink_element="gen"``).
    n_1 : bool
        Also hold every limit under each outage of the contingency set.
    contingencies : iterable of (element, id), optional
        Outages studied with ``n_1``: ``("line", id)``, ``("trafo", id)`` or
        ``("hvdc", id)``. Default: every in-service branch and (with
        ``hvdc_contingencies``) every in-service HVDC link.
    hvdc_shares : mapping, optional
        Link id -> share of the transfer its setpoint carries (normalised); only links
        joining the source's island to the sink's may be named. Overrides
        ``hvdc_allocation``.
    enforce_q_limits : bool
        Reactive limits of voltage controllers in every power flow (PV -> PQ).
    tol_mw : float, optional
        Absolute search tolerance (default 10 MW); the relative one is 1 %.
    max_mw : float, optional
        Largest transfer studied.
    sink_element : {"load", "gen"}
        What a listed or area sink is made of.
    trm_mw : float
        Transmission reliability margin, MW (>= 0).
    committed_mw : float
        Transfers already committed on the path, MW (>= 0). ``atc_mw = ttc_mw - trm_mw -
        committed_mw``.
    emergency_rating_percent : float
        Post-contingency thermal limit in percent of ``rate_mva`` (default 100: the
        normal rating holds after an outage too).
    hvdc_contingencies : bool
        With the default contingency set, also trip each in-service HVDC link.
    hvdc_allocation : {"optimal", "headroom"}
        How the transfer is split over several joining links when ``hvdc_shares`` is
        not given: ``"optimal"`` solves a linear program (HiGHS) over the DC
        sensitivities for the split that maximises the linearised transfer (base case
        and, with ``n_1``, branch outages); ``"headroom"`` splits in proportion to each
        link's remaining headroom.
    voltage_stability_margin : float
        Fraction of the nose kept as margin when a trial's power flow diverges and a
        continuation power flow finds the nose below it (default 0.05: the transfer
        is limited to 95 % of the nose); in [0, 1).

    Returns
    -------
    TransferResult

    Raises
    ------
    TransferError
        For an unknown area, an empty, unknown or overlapping source/sink, no HVDC link
        between the islands, limits exceeded with no transfer, a contingency naming a
        missing element, a negative TRM or committed transfer, a margin outside [0, 1),
        or a TRM plus committed transfer larger than the TTC.
    TransferSolverError
        When a trial diverges and the continuation power flow finds no nose at or below
        it (a solver failure, not a limit; see the module docstring).
    """
    if not isinstance(network, Network):
        raise TransferError("transfer_capability needs a Network (not a compiled one)")
    if not isinstance(source, str):
        source = list(source)
    if not isinstance(sink, str):
        sink = list(sink)
    tol = DEFAULT_TOL_MW if tol_mw is None else float(tol_mw)
    if not tol > 0:
        raise TransferError(f"tol_mw must be positive, got {tol_mw!r}")
    if max_mw is not None and not max_mw >= 0:
        raise TransferError(f"max_mw must be non-negative, got {max_mw!r}")
    for name, value in (("trm_mw", trm_mw), ("committed_mw", committed_mw)):
        if not (np.isfinite(value) and value >= 0):
            raise TransferError(f"{name} must be a non-negative number of MW, got {value!r}")
    if not (np.isfinite(emergency_rating_percent) and emergency_rating_percent > 0):
        raise TransferError(
            f"emergency_rating_percent must be positive, got {emergency_rating_percent!r}"
        )
    margin = float(voltage_stability_margin)
    if not 0.0 <= margin < 1.0:
        raise TransferError(
            f"voltage_stability_margin must be in [0, 1), got {voltage_stability_margin!r}"
        )
    if hvdc_allocation not in HVDC_ALLOCATIONS:
        raise TransferError(
            f"hvdc_allocation must be one of {HVDC_ALLOCATIONS!r}, got {hvdc_allocation!r}"
        )
    base = network.copy()
    plan = _plan(base, source, sink, sink_element, hvdc_shares, max_mw)

    outages: list[tuple] = []
    skipped: list[tuple] = []
    if n_1:
        branch_set, link_set = _contingency_set(base, contingencies, hvdc_contingencies)
        cn = base.compile()
        pos = _branch_positions(cn, branch_set)
        if pos.size:
            _, islanding = _lodf_arrays(cn, pos)
            kinds = np.where(cn.br_kind[pos] == LINE, "line", "trafo")
            for kind, bid, isl in zip(kinds, cn.br_id[pos], islanding, strict=True):
                (skipped if isl else outages).append((str(kind), plain(bid)))
        outages += link_set
    study = _Study(base, plan, n_1, outages, enforce_q_limits, emergency_rating_percent, margin)

    zero = study(0.0, complete=True)
    # outages already violating with no transfer are set aside (reported, not binding)
    pre = [v for v in zero.violations if v.contingency is not None]
    excluded = sorted({v.contingency for v in pre}, key=str)
    if excluded:
        study.outages = [o for o in outages if o not in set(excluded)]
        zero.violations = [v for v in zero.violations if v.contingency is None]
    if zero.violations:
        worst = _worst(zero.violations)
        raise TransferError(
            f"limits are exceeded with no transfer ({len(zero.violations)} violations, "
            f"worst: {worst.describe()}); fix the base case first"
        )
    studied_branches = [o for o in study.outages if o[0] != "hvdc"]
    outage_pos = np.array([study.position[o] for o in studied_branches], dtype=np.int64)
    a, b = _dc_rows(base, plan, zero.res, outage_pos, emergency_rating_percent)
    # candidate splits over the joining HVDC links, each searched in AC; the best wins
    candidates = [(plan, study, "headroom" if plan.hvdc_ids.size else "none")]
    if hvdc_shares is not None:
        candidates = [(plan, study, "fixed")]
    elif hvdc_allocation == "optimal" and plan.hvdc_ids.size > 1:
        shares = _optimal_shares(base, plan, a, b, tol)
        if shares is not None and np.abs(shares - plan.hvdc_share).max() > 1e-3:
            lp_plan = dataclasses.replace(plan, hvdc_share=shares)
            _set_cap(base, lp_plan, max_mw)
            lp_study = _Study(base, lp_plan, n_1, study.outages, enforce_q_limits, 1.0, margin)
            lp_study.limits, lp_study.priority = study.limits, study.priority
            lp_study.trials[0.0] = zero
            candidates.insert(0, (lp_plan, lp_study, "optimal"))
        elif shares is not None:
            candidates = [(plan, study, "optimal")]
    best = None
    for cand_plan, cand_study, label in candidates:
        lo, hi = _search(cand_study, cand_plan, a, b, tol)
        if best is None or lo > best[0]:
            best = (lo, hi, cand_plan, cand_study, label)
    lo, hi, plan, study, allocation = best
    cap = plan.cap_mw

    nose = study.binding
    if nose is not None and lo == study.stability_mw:  # every transfer above is past it
        limit_type, element, contingency = VOLTAGE_STABILITY, nose.bus, nose.contingency
    elif hi is None:  # feasible up to the cap
        limit_type, element, contingency = plan.cap_type, plan.cap_element, None
        if not np.isfinite(cap):
            raise TransferError("no limit found within the trials; give max_mw")
    else:
        v = _worst(study(hi, complete=True).violations)
        limit_type, element, contingency = v.limit_type, v.element, v.contingency
    reserved = float(trm_mw) + float(committed_mw)
    if reserved > lo:
        raise TransferError(
            f"TRM ({float(trm_mw):g} MW) plus committed transfers ({float(committed_mw):g} MW) "
            f"exceed the TTC ({lo:.1f} MW, {limit_type} limit): no transfer is available"
        )
    at = study(lo)
    out = _result(
        base, plan, study, lo, limit_type, element, contingency, zero, at, skipped, excluded
    )
    out.trm_mw, out.committed_mw = float(trm_mw), float(committed_mw)
    out.atc_mw = lo - reserved
    out.emergency_rating_percent = float(emergency_rating_percent)
    out.hvdc_allocation = allocation
    out.studied_contingencies = list(study.outages) if n_1 else []
    out.contingencies_studied = len(out.studied_contingencies)
    out.voltage_stability_margin = margin
    if nose is not None:
        out.nose_mw, out.nose_contingency = nose.nose_mw, nose.contingency
    return out


def _search(study: _Study, plan: _Plan, a: np.ndarray, b: np.ndarray, tol: float):
    """``(lo, hi)``: the largest transfer found within every limit in AC and the
    smallest found past one (None when the setpoint cap was reached)."""
    cap = plan.cap_mw
    guess = _dc_guess(a, b, plan)
    guess = min(0.95 * guess, cap) if np.isfinite(guess) else cap
    if not np.isfinite(guess) or guess <= 0:
        guess = max(100.0, 10 * tol) if not np.isfinite(cap) else min(cap, max(100.0, 10 * tol))
    lo, hi = 0.0, None
    n = 0
    t = guess
    step = max(0.1 * guess, 5 * tol)
    while hi is None and n < MAX_TRIALS:  # bracket
        n += 1
        if study(t).violations:
            hi = t
            break
        lo = t
        if t >= cap:
            break
        t = min(t + step, cap)
        step *= 2
    lo, hi, n = _bisect(study, lo, hi, tol, n)
    checked = set()
    while n < MAX_TRIALS:
        limit = study.stability_mw
        if not limit < (np.inf if hi is None else hi):
            # the margin: solutions at lo / (1 - margin), intact and after every outage,
            # put each nose beyond it; one that diverges is traced (a limit, maybe)
            if lo in checked or not 0 < lo < lo / (1.0 - study.margin):
                break
            checked.add(lo)
            n += 1
            study.check_margin(lo)
            continue
        # a voltage-stability limit below hi (a nose found on the way): tried itself; if
        # it holds every other limit it is the TTC, else the search goes on below it
        if lo > limit:  # found within limits before the nose was known
            lo = max(
                (t for t, tr in study.trials.items() if t <= limit and not tr.violations),
                default=0.0,
            )
        n += 1
        if not study(limit).violations:
            return limit, hi
        hi = limit
        lo, hi, n = _bisect(study, lo, hi, tol, n)
    return lo, hi


def _bisect(study: _Study, lo: float, hi: float | None, tol: float, n: int):
    """Bisect ``[lo, hi]`` to the search tolerance, or until a voltage-stability limit
    below ``hi`` is found; ``(lo, hi, trials so far)``."""
    while hi is not None and hi - lo > max(REL_TOL * lo, tol) and n < MAX_TRIALS:
        if study.stability_mw < hi:
            break
        n += 1
        mid = 0.5 * (lo + hi)
        if study(mid).violations:
            hi = mid
        else:
            lo = mid
    return lo, hi, n


def _worst(violations: list[_Violation]) -> _Violation:
    """The most severe violation. Severities within ``SEVERITY_TIE`` of the largest are
    one limit reached alike in several cases (an outage far from the element, say), so
    the choice among them does not hang on round-off: the intact network first, then
    the outages and elements in the order of their names."""
    top = max(v.severity for v in violations)
    tied = [v for v in violations if v.severity >= top - SEVERITY_TIE]
    return min(tied, key=lambda v: (v.contingency is not None, str(v.contingency), str(v.element)))


def _result(base, plan, study, ttc, limit_type, element, contingency, zero, at, skipped, excluded):
    rows = []
    for t in sorted(study.trials):
        tr = study.trials[t]
        r = tr.res
        rows.append(
            {
                "transfer_mw": t,
                "converged": r.converged,
                "max_loading_percent": float(np.nanmax(r.branch.loading_percent))
                if r.converged and r.branch.loading_percent.notna().any()
                else np.nan,
                "min_vm_pu": float(np.nanmin(r.bus.vm_pu)) if r.converged else np.nan,
                "max_vm_pu": float(np.nanmax(r.bus.vm_pu)) if r.converged else np.nan,
                "within_limits": not tr.violations,
                "violation": tr.violations[0].describe() if tr.violations else "",
            }
        )
    curve = pd.DataFrame(rows)
    res = at.res
    net_at = _apply(base, plan, ttc)
    borders = pd.DataFrame(
        [(a, b, p) for (a, b), p in border_flows(net_at, res).items()],
        columns=["from_zone", "to_zone", "p_mw"],
    )
    links = res.hvdc.copy()
    links["max_p_mw"] = base.hvdc.max_p_mw.reindex(links.index).to_numpy()
    moved = pd.Series(plan.hvdc_dir * plan.hvdc_share * ttc, index=plan.hvdc_ids)
    links["moved_mw"] = moved.reindex(links.index).fillna(0.0).to_numpy()
    links = links[["p_from_mw", "p_to_mw", "pl_mw", "max_p_mw", "loading_percent", "moved_mw"]]

    def losses(r):
        return r.losses_mw + (float(r.hvdc.pl_mw.sum()) if len(r.hvdc) else 0.0)

    hv_cap = np.inf
    if plan.hvdc_ids.size:
        hv = base.hvdc.reindex(plan.hvdc_ids)
        hv_cap = float(np.sum(hv.max_p_mw.to_numpy() - plan.hvdc_dir * hv.p_mw.to_numpy()))
    return TransferResult(
        ttc_mw=float(ttc),
        limit_type=limit_type,
        limiting_element=element,
        limiting_contingency=contingency,
        curve=curve,
        border_flows=borders,
        link_flows=links,
        losses_mw=losses(res),
        losses_increase_mw=losses(res) - losses(zero.res),
        source_shares=pd.Series(plan.gen_share, index=plan.gen_ids, name="share"),
        sink_shares=pd.Series(plan.sink_share, index=plan.sink_ids, name="share"),
        hvdc_shares=pd.Series(plan.hvdc_share * plan.hvdc_dir, index=plan.hvdc_ids, name="share"),
        hvdc_capacity_mw=hv_cap,
        skipped_contingencies=skipped,
        excluded_contingencies=excluded,
        result=res,
        _network=base,
        _plan=plan,
    )
