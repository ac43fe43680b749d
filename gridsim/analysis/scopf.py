"""Security-constrained linear programs at an AC operating point (HiGHS through highspy).

Two problems share one linearisation, :class:`LinearisedGrid`:

* :func:`secure_base_case`: the least preventive redispatch (MW moved, optionally
  cost-weighted) with the HVDC setpoints free that holds every N-0 and N-1 limit;
  where none does, the base case "cannot be secured" and the residual violations are
  listed;
* :func:`max_transfer`: the largest transfer ``t`` (source generators up and sink loads
  up by their shift keys) with the joining HVDC links free within their ratings and
  optional redispatch, subject to the same limits; with the shadow price of every
  binding limit.

Both are one successive-LP step: the caller re-solves the AC power flow at the LP's
solution, builds a new :class:`LinearisedGrid` there and solves again until the AC
solution holds every limit (:mod:`gridsim.analysis.ttc`).

The linear model
----------------
Variables ``u``: the transfer ``t`` (MW, >= 0), the setpoint change ``h_j`` of each free
HVDC link (``|p_j + h_j| <= max_p_mw``), and the redispatch of each redispatchable unit
split as ``r_g = r_g^+ - r_g^-`` (``r^+, r^- >= 0`` within ``min_p_mw``/``max_p_mw``).
A variable changes injections: a source unit ``g`` by ``share_g t``, a sink load by
``-share t``, a free link's ends by ``d_from h`` and ``d_to h`` (``d_from = -1``,
``d_to = 1 - loss_percent/100`` for forward flow; the losses on the sending end in
reverse, as :func:`gridsim.hvdc_ptdf`), a unit by ``r_g``. Each AC island's balance
holds without its slack: ``sum share_g t - sum share_l t + sum r_g + sum_(links) (+-h)
= 0`` per island (HVDC lossless in the balance; the slack takes converter and AC losses
only, as in :func:`gridsim.transfer_capability`). With ``redispatch_balance="zone"``
(:func:`max_transfer`'s default) the redispatch also nets to zero in each zone, so
that only the transfer changes the zones' net positions; in :func:`secure_base_case`
the moves of the links with an end in the zone count too (lossless), so that every
zone's net position is kept. A bound on a zone's redispatch
(``redispatch_limit_mw``) adds a column ``a_g >= 0`` per unit of the zone with
``a_g >= |m_g + r_g|`` (two rows; ``m_g`` the moves made before, in earlier
successive-LP steps) and the row ``sum_g a_g <= limit``; these rows, like the balance,
are never relaxed (the least-violation LP holds them too).

Flows: ``F(u) = F_AC + S u`` with ``S = PTDF @ (bus injection per variable)``, the PTDF
of :func:`gridsim.ptdf` (each island to its own slack), ``F_AC`` the AC active flows at
the from ends. Every thermal row is ``-L' <= F_l(u) <= L'`` with
``L' = L - (|S_l| - |P_l|)``: the row's limit less the reactive part of the branch's
loading at the operating point (``max(|S_from|, |S_to|) - |P_from|``, held constant), so
that at ``u = 0`` the row is exactly the AC loading check ``max |S| <= L``. With
:func:`max_transfer`'s ``thermal_tol``, a row over ``L'`` at ``u = 0`` by at most that
fraction of its rating is held at ``|F_l(0)|`` instead (the AC check's tolerance).

Holding the reactive part constant assumes that every MW through a branch adds the same
MVA whatever control causes it, which is not so (issue 17: 1 MW more through each of three
links into the same load adds 0.42, 0.43 and 0.47 MVA to the line feeding it). So a thermal row
loaded to ``MVA_LOADING`` (90 %) of its limit or more in AC at ``u = 0`` is held on its
MVA loading instead, ``S_AC + s u <= L``: ``S_AC = max(|S_from|, |S_to|)`` of the AC
solution and ``s`` its AC sensitivity there
(:func:`gridsim.analysis.ac_sensitivity.branch_mva_sensitivity`, ``dS/dP`` at each bus
with the slack taking it, and ``dS/dQ`` for the sink loads' reactive draw at constant
power factor) on the variables' bus injections. Intact rows use the operating point's
solution; N-1 rows the AC post-contingency solution of their outage where one is given
(``post_results``) and the outage is of a branch that cuts nothing off (the others keep
the rows above). Such a row is one-sided (``S >= 0``), is never dropped by the screen,
is held at ``S_AC`` within ``thermal_tol`` like the others; its ``flow_mw`` and
``limit_mw`` (:attr:`ScopfResult.binding`) are MVA and its shadow price is per MVA of limit
(so :meth:`ScopfResult.rating_prices` stays MW per MVA of rating).

Post-contingency flows, each linear in ``u`` (``w``: participation factors, below):

* losing a fraction ``a = c / k`` of branch ``k`` (``c`` of its ``k`` circuits):
  removing ``a b_k`` from ``B`` (Sherman-Morrison, the phase-shift term scaled with the
  branch) gives ``theta' = theta + a y F_k / (1 - a H_kk)`` with ``y = B^-1 (e_f - e_t)``,
  hence for ``l != k``::

      F'_l = F_l + LODF_a[l, k] F_k,   LODF_a[l, k] = a H_lk / (1 - a H_kk)

  and for what is left of ``k``: ``F'_k = (1 - a) F_k / (1 - a H_kk)``, i.e.
  ``LODF_a[k, k] = -a (1 - H_kk) / (1 - a H_kk)`` (``H_lk = PTDF[l, f_k] -
  PTDF[l, t_k]``; ``a = 1`` is :func:`gridsim.lodf`). The rest of ``k`` is rated
  ``(1 - a) L_k``. A partial outage never islands (``1 - a H_kk >= 1 - a > 0``);
* losing all of a bridge ``k`` (``|1 - H_kk| < 1e-9``): the part cut off every slack is
  de-energised (:mod:`gridsim.analysis.outages`), the flow ``F_k`` it drew stops at the
  kept end ``e`` of ``k`` and the kept island's units take the imbalance:
  ``F' = F + s F_k (PTDF[:, e] - PTDF w)`` (``s = +1`` when ``e = f_k``, ``-1`` when
  ``e = t_k``); links with an end cut off trip with it (their other end as an HVDC
  trip below); branches of the dead part are not monitored;
* an HVDC trip: each end's injection ``p_end(u)`` is lost and shared by its island's
  units: ``F' = F - p_from(u) (PTDF[:, f] - PTDF w_f) - p_to(u) (PTDF[:, t] - PTDF w_t)``;
* a unit trip: ``F' = F - p_g(u) (PTDF[:, g] - PTDF w^(-g))``, with ``p_g(u)`` the unit's
  output (``p_g + share_g t + r_g``: linear in the variables).

``PTDF w`` is the participation-weighted PTDF of the island (the tripped unit and a
cut-off part left out): the post-contingency response of
:func:`gridsim.analysis.outages.solve_outage`, whose participation factors
(``participation``, else ``max_p_mw``, else ``|p_mw|``; a slack by its own factor or
rating, an ``ext_grid`` by none) are used here; the response's clipping at the units'
limits is not modelled (linear). An island whose factors are all zero leaves the
imbalance to its slack. Constants: ``F_AC`` plugged in, or the AC post-contingency
flows where given (``post_results``), which makes the N-1 rows exact at the operating
point too.

Post-contingency thermal rows use ``emergency_rating_percent`` of ``rate_mva``.
Interface rows (flowgates): ``sum_m dir_m F_m(u) <= limit_mw`` over branches and HVDC
links (a link's flow is its setpoint ``p_mw + h``; a member out of service adds
nothing), base case only. Generation rows:
``min_p <= p_g(u) <= max_p`` for the units the transfer moves (a unit already outside
a limit may stay there, not go further).

Rows that cannot bind are dropped. A row ``|c + s u| <= L'`` is dropped when ``|c| +
sum_i |s_i| R_i <= L'`` with ``R_i = max(|lower_i|, |upper_i|)`` the largest magnitude
variable ``i`` can take (for ``t``: what the source units' limits, and ``max_mw``,
allow): no feasible ``u`` reaches the limit, so the LP's solution and duals do not
change. For post-contingency rows ``|s_i|`` is bounded by ``|S_li| + sum |a_l| |g_i|``
(a row's outage terms ``a g``), so rows are screened before they are formed. The rows
left (the candidates) enter the LP by row generation: the first LP holds the N-0,
interface and generation rows and the N-1 rows loaded to ``FIRST_LOADING`` (90 %) of
their limit at ``u = 0`` (the ``FIRST_ROWS`` most loaded of them); every candidate the
solution violates is added and the LP solved again, until none is. The last LP's
optimum holds every candidate, so it is the full LP's optimum, and its duals (0 on the
rows left out) are the full LP's.
Coefficients at or below ``COEF_TOL`` are dropped (HiGHS ignores them too).

Shadow prices
-------------
``shadow_price`` of a binding row is ``d(objective) / d(limit)``, MW per MW of the row's
limit ``L'`` (both of its sides relax together): for :func:`max_transfer` the MW of
``t`` gained per MW of limit (>= 0), from the row duals of the maximisation (HiGHS:
``row_dual = d objective / d bound``; the upper side gives ``+dual``, the lower side
``-dual``); for :func:`secure_base_case` the change of the redispatch objective (<= 0).
``limit_per_rating`` is ``d L' / d rate_mva`` (1 in the base case, the emergency factor,
times what is left of a partly lost branch, after an outage), so
:meth:`ScopfResult.rating_prices` gives MW of ``t`` per MVA of each element's rating.
The prices hold while the optimal basis does not change. :func:`max_transfer` first
maximises ``t`` (its duals are reported), then minimises the redispatch at that ``t``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridsim.analysis._areas import _plan, _zones_of
from gridsim.analysis.ac_sensitivity import branch_mva_sensitivity
from gridsim.analysis.outages import (
    Outage,
    OutageResult,
    _check,
    _circuit_counts,
    _cut_off,
    _weights,
    ordinary_contingencies,
)
from gridsim.analysis.sensitivity import _branch_positions, _factor, _hvdc_loss_rate
from gridsim.exceptions import GridsimError
from gridsim.model.compile import EXT_GRID, GEN, HVDC_FROM, HVDC_TO, LINE, NONE, TRAFO
from gridsim.model.network import Network, plain
from gridsim.results import PowerFlowResult
from gridsim.solvers.ptdf import ISLANDING_TOL

__all__ = [
    "Interface",
    "LinearisedGrid",
    "ScopfError",
    "ScopfResult",
    "max_transfer",
    "secure_base_case",
]

COEF_TOL = 1e-9  # |coefficient| at or below this is dropped (HiGHS's small_matrix_value)
ACTIVE_TOL = 1e-6  # MW: a row within this of a limit is binding
DUAL_TOL = 1e-9  # a row with a larger |dual| is binding
FIRST_LOADING = 0.9  # N-1 rows loaded this much at u = 0 are in the first LP,
FIRST_ROWS = 500  # at most this many (the most loaded): more make HiGHS slow on the dense
# PTDF rows (814 buses: 14 s with every row at 90 %, 1.1 s with those at 99 %)
ADD_ROWS = 500  # violated rows added to the LP per round, the most violated first
MVA_LOADING = 0.9  # thermal rows loaded this much in AC at u = 0 are MVA rows
INF = highspy.kHighsInf

# row kinds (codes of ScopfResult tables)
N0, N1, INTERFACE, GENERATION = 0, 1, 2, 3
ROW_KINDS = ("n-0", "n-1", "interface", "generation")


class ScopfError(GridsimError, ValueError):
    """A security-constrained LP that cannot be set up (unknown elements, bad limits)."""


class _QuietHighs(highspy.Highs):
    """``highspy.Highs`` with its output off before its first call (the banner would
    otherwise go to stdout when the callbacks are set up in the constructor)."""

    def enableCallbacks(self):  # noqa: N802 (highspy's name)
        self.setOptionValue("output_flag", False)
        super().enableCallbacks()


@dataclasses.dataclass(frozen=True)
class Interface:
    """A flowgate: a directed sum of branch and HVDC flows with a limit.

    Attributes
    ----------
    id
        Its name.
    members : tuple of (element, id, direction)
        ``element`` ``"line"``, ``"trafo"`` or ``"hvdc"``; ``direction`` +1 counts the
        flow from the element's from end (a link's setpoint ``p_mw``), -1 against it.
    limit_mw : float
        Largest allowed ``sum direction * flow``, MW.
    kind : str
        ``"thermal"``, ``"ntc"`` (a published net transfer capacity), ``"stability"``
        (:data:`gridsim.model.schema.INTERFACE_KINDS`).
    source : str
        Where the limit comes from.
    """

    id: object
    members: tuple
    limit_mw: float
    kind: str = "ntc"
    source: str = ""

    @classmethod
    def parse(cls, item) -> Interface:
        """An :class:`Interface` from itself or a dict ``{"id", "members", "limit_mw",
        "kind", "source"}`` (as ``network.interfaces`` holds them) with members as
        ``(element, id, direction)`` or dicts with those keys (``direction`` default
        +1)."""
        if isinstance(item, Interface):
            return item
        if not isinstance(item, Mapping) or "members" not in item or "limit_mw" not in item:
            raise ScopfError(f"interface {item!r}: give a dict with 'members' and 'limit_mw'")
        members = []
        for m in item["members"]:
            if isinstance(m, Mapping):
                m = (m.get("element"), m.get("id"), m.get("direction", 1))
            if len(m) == 2:
                m = (*m, 1)
            element, eid, direction = m
            if element not in ("line", "trafo", "hvdc") or direction not in (1, -1):
                raise ScopfError(
                    f"interface {item.get('id')!r}: member {m!r} must be (element, id, +1/-1) "
                    "with element 'line', 'trafo' or 'hvdc'"
                )
            members.append((element, eid, int(direction)))
        limit = float(item["limit_mw"])
        if not np.isfinite(limit):
            raise ScopfError(f"interface {item.get('id')!r}: limit_mw must be finite")
        kind, source = str(item.get("kind", "ntc")), str(item.get("source", ""))
        return cls(item.get("id"), tuple(members), limit, kind, source)


def _as_outage(network: Network, item) -> Outage:
    """An Outage from itself or an ``(element, id)`` pair (all circuits of a branch)."""
    if isinstance(item, Outage):
        return item
    if not (isinstance(item, tuple) and len(item) == 2):
        raise ScopfError(f"outage {item!r} is neither an Outage nor an (element, id) pair")
    element, eid = item
    if element in ("line", "trafo"):
        k = int(_circuit_counts(network, element, np.array([eid], dtype=object))[0])
        return Outage(element, element, eid, k, k)
    if element in ("hvdc", "gen"):
        return Outage(element, element, eid)
    raise ScopfError(f"outage {item!r}: element must be line, trafo, hvdc or gen")


class LinearisedGrid:
    """DC sensitivities and N-1 outage models at an AC operating point.

    Parameters
    ----------
    network : Network
        The network the operating point is of (not modified).
    result : PowerFlowResult
        Its solved power flow (AC, or DC for a pure DC model), on ``network.compile()``.
    outages : iterable of Outage or (element, id), optional
        The contingency set; default
        :func:`gridsim.analysis.outages.ordinary_contingencies` (every circuit, unit and
        link). Outages that differ only in which of identical circuits is lost share
        their rows.
    emergency_rating_percent : float
        Post-contingency thermal limit, percent of ``rate_mva``.
    post_results : iterable of OutageResult, optional
        AC post-contingency solutions of some outages
        (:func:`gridsim.analysis.outages.solve_outage`): their flows and reactive
        offsets replace the DC prediction as the N-1 rows' constants, and those of
        branch outages that cut nothing off give the MVA rows (module docstring).
    post_estimates : iterable of (Outage, ndarray, ndarray), optional
        For outages without an AC solution here: estimates of their post-contingency
        active flows and reactive offsets (compiled branch order; NaN where none), e.g.
        an earlier AC solution moved by the linearised change since, used as the N-1
        constants instead of the DC prediction.
    reuse : dict, optional
        A dict kept by the caller between grids of dispatches of one network (the same
        elements in service with the same parameters): the PTDF rows, which depend on
        the topology and the reactances only, are kept there.
    cnecs : CnecSelection, optional
        :func:`gridsim.analysis.cnec.select_cnecs` of this topology: thermal rows only
        on its CNECs (intact and after each outage). Default: every rated branch.

    Attributes
    ----------
    flows_mw : ndarray
        AC active flows at the branches' from ends (compiled order), MW.
    offset_mw : ndarray
        ``max(|S_from|, |S_to|) - |P_from|`` per branch, MVA (0 for a DC result).
    outages : list of Outage
        The distinct outages (rows of :attr:`post_flows_mw`).
    post_flows_mw : ndarray, shape (n_outage, n_branch)
        Post-contingency flows at the operating point (NaN where not energised: the
        outaged branch, a part cut off).
    alive : ndarray of bool, shape (n_outage, n_branch)
        Branches energised after each outage.
    islanding : ndarray of bool, shape (n_outage,)
        Outages that cut buses off every slack (their lost load and generation are not
        limited here).
    n0_monitored, monitored : ndarray of bool, shapes (n_branch,), (n_outage, n_branch)
        The branches whose thermal limits are rows, intact and after each outage:
        rated, energised and, with ``cnecs``, CNECs.
    ac_post : ndarray of bool, shape (n_outage, n_branch)
        The branches whose post-contingency MVA loading has an AC solution here to be
        linearised at (:meth:`mva_sensitivity`).
    """

    def __init__(
        self,
        network: Network,
        result: PowerFlowResult,
        *,
        outages: Iterable | None = None,
        emergency_rating_percent: float = 100.0,
        post_results: Iterable[OutageResult] | None = None,
        post_estimates: Iterable[tuple] | None = None,
        reuse: dict | None = None,
        cnecs=None,
    ):
        if not isinstance(network, Network):
            raise ScopfError("LinearisedGrid needs a Network (not a compiled one)")
        cn = network.compile()
        if not result.converged:
            raise ScopfError(f"the operating point did not converge: {result.message}")
        rcn = result.cn
        if rcn.n_branch != cn.n_branch or not np.array_equal(rcn.br_id, cn.br_id):
            raise ScopfError("result is not a solution of this network (branches differ)")
        if not (np.isfinite(emergency_rating_percent) and emergency_rating_percent > 0):
            raise ScopfError(
                f"emergency_rating_percent must be positive, got {emergency_rating_percent!r}"
            )
        self.network, self.cn, self.result = network, cn, result
        self.emergency = float(emergency_rating_percent) / 100.0
        self.flows_mw = np.asarray(result.branch_p_from_mw, dtype=float)
        s_max = np.maximum(np.abs(result._s_from), np.abs(result._s_to))
        self.offset_mw = np.nan_to_num(np.maximum(s_max - np.abs(self.flows_mw), 0.0))
        self.rate = np.where(cn.br_rate_mva > 0, cn.br_rate_mva, np.nan)
        self.p_inj = np.asarray(result.injector_p_mw, dtype=float)
        self._ptdf_rows: dict[int, np.ndarray] = (
            {} if reuse is None else reuse.setdefault("ptdf_rows", {})
        )
        self._participation()
        if outages is None:
            outages = ordinary_contingencies(network)
        self._outage_terms([_as_outage(network, o) for o in outages])
        self.n0_monitored = np.isfinite(self.rate)
        self.ac_post = np.zeros(self.alive.shape, dtype=bool)
        self._post_ac: dict[int, tuple[PowerFlowResult, np.ndarray]] = {}
        self._mva: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        if cnecs is not None:
            kind = np.where(cn.br_kind == LINE, "line", "trafo")
            intact, post = cnecs.masks(self.outages, pd.MultiIndex.from_arrays([kind, cn.br_id]))
            self.n0_monitored &= intact
            self.monitored &= post
        if post_estimates is not None:
            self._post_estimated(post_estimates)
        if post_results is not None:
            self._post_from_ac(post_results)

    # -- sensitivities -------------------------------------------------------------------
    def ptdf(self, buses: np.ndarray) -> np.ndarray:
        """PTDF columns of bus positions ``buses``, transposed: ``(len(buses), n_branch)``
        (cached)."""
        buses = np.asarray(buses, dtype=np.int64)
        new = np.unique(buses[[b not in self._ptdf_rows for b in buses.tolist()]])
        if new.size:
            for b, row in zip(new.tolist(), _factor(self.cn).bus_ptdf(new), strict=True):
                self._ptdf_rows[b] = row
        if buses.size == 0:
            return np.zeros((0, self.cn.n_branch))
        return np.stack([self._ptdf_rows[b] for b in buses.tolist()])

    def _participation(self) -> None:
        """Participation factor per injector and, per island, ``sum w`` and
        ``sum w PTDF[:, bus]`` (the weighted response before normalising)."""
        cn, net = self.cn, self.network
        w = np.zeros(cn.inj_kind.size)
        live = cn.bus_type[cn.inj_bus] != NONE
        for kind, element in ((GEN, "gen"), (EXT_GRID, "ext_grid")):
            for slack in (False, True):
                pos = np.flatnonzero((cn.inj_kind == kind) & (cn.inj_slack == slack) & live)
                if pos.size == 0 or (kind == EXT_GRID and not slack):
                    continue
                fallback = np.zeros(pos.size) if slack else np.abs(cn.inj_p[pos])
                w[pos] = _weights(net, element, cn.inj_id[pos], fallback)[0]
        self.weight = w
        self.resp = np.flatnonzero(w > 0)  # injectors that respond
        self.resp_ptdf = self.ptdf(cn.inj_bus[self.resp])  # rows: responding injectors
        n_isl = max(len(cn.islands), int(cn.island.max()) + 1 if cn.island.size else 0)
        isl = cn.island[cn.inj_bus[self.resp]]
        self.island_w = np.bincount(isl, weights=w[self.resp], minlength=n_isl)
        self.island_wp = np.zeros((n_isl, cn.n_branch))
        np.add.at(self.island_wp, isl, w[self.resp][:, None] * self.resp_ptdf)

    def _response(self, island: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """``PTDF w`` of ``island``'s response, injectors ``exclude`` (mask over all
        injectors) left out; zero when no unit responds (the slack takes it)."""
        total, wp = self.island_w[island], self.island_wp[island].copy()
        if exclude is not None:
            out = exclude[self.resp] & (self.cn.island[self.cn.inj_bus[self.resp]] == island)
            total -= self.weight[self.resp][out].sum()
            wp -= self.weight[self.resp][out] @ self.resp_ptdf[out]
        return wp / total if total > 1e-12 else np.zeros_like(wp)

    # -- outages -------------------------------------------------------------------------
    def _outage_terms(self, outages: list[Outage]) -> None:
        """Each distinct outage as terms ``a g``: post flows ``F + sum a g(u)``, where
        ``g`` is a branch's flow or an injector's output."""
        cn, net = self.cn, self.network
        unique: dict[tuple, int] = {}
        self.outages: list[Outage] = []
        self.outage_index: list[int] = []  # per given outage: its distinct row
        for o in outages:
            key = _outage_key(o)
            if key not in unique:
                unique[key] = len(self.outages)
                self.outages.append(o)
            self.outage_index.append(unique[key])
        info = _checked(net, cn, self.outages)
        n_out, nbr = len(self.outages), cn.n_branch
        self.alive = np.ones((n_out, nbr), dtype=bool)  # branches energised after it
        self.islanding = np.zeros(n_out, dtype=bool)
        self.rating_scale = np.ones((n_out, nbr))
        term_out, term_kind, term_ref, term_a = [], [], [], []

        def term(o, kind, ref, a):
            term_out.append(o)
            term_kind.append(kind)
            term_ref.append(ref)
            term_a.append(a)

        ends = {kind: _link_injectors(cn, kind) for kind in (HVDC_FROM, HVDC_TO)}
        link_pos = {lid: j for j, lid in enumerate(cn.hvdc_id.tolist())}

        def trip_link(o, j, dead=None):
            for kind, bus in ((HVDC_FROM, cn.hvdc_from[j]), (HVDC_TO, cn.hvdc_to[j])):
                if dead is not None and dead[bus]:
                    continue
                row = self.ptdf([bus])[0] - self._response(cn.island[bus], dead_inj(dead))
                term(o, 1, ends[kind][j], -row)

        def dead_inj(dead):
            return None if dead is None else dead[cn.inj_bus]

        branch_o = [o for o, i in enumerate(info) if i is not None]
        if branch_o:
            ks = np.array([info[o][0] for o in branch_o], dtype=np.int64)
            m = ks.size
            idx = np.empty(2 * m, dtype=np.int64)
            idx[0::2], idx[1::2] = cn.br_f[ks], cn.br_t[ks]
            val = np.tile([1.0, -1.0], m)
            h = _factor(cn).solve_flows(np.arange(0, 2 * m + 1, 2), idx, val)
            for row, (o, k) in enumerate(zip(branch_o, ks.tolist(), strict=True)):
                keep = info[o][1]
                alpha = 1.0 - keep
                hkk = h[row, k]
                if keep == 0.0 and abs(1.0 - hkk) < ISLANDING_TOL:
                    dead = _cut_off(cn, k)
                    self.islanding[o] = True
                    kept_from = not dead[cn.br_f[k]]
                    e = cn.br_f[k] if kept_from else cn.br_t[k]
                    a = self.ptdf([e])[0] - self._response(cn.island[e], dead[cn.inj_bus])
                    term(o, 0, k, a if kept_from else -a)
                    for j in np.flatnonzero(dead[cn.hvdc_from] | dead[cn.hvdc_to]):
                        trip_link(o, j, dead)
                    self.alive[o, dead[cn.br_f] | dead[cn.br_t]] = False
                    self.alive[o, k] = False
                    continue
                a = alpha * h[row] / (1.0 - alpha * hkk)
                a[k] = -alpha * (1.0 - hkk) / (1.0 - alpha * hkk)
                term(o, 0, k, a)
                if keep == 0.0:
                    self.alive[o, k] = False
                else:
                    self.rating_scale[o, k] = keep
        gen_pos = {
            gid: i
            for i, gid in zip(
                np.flatnonzero(cn.inj_kind == GEN).tolist(),
                cn.inj_id[cn.inj_kind == GEN].tolist(),
                strict=True,
            )
        }
        for o, out in enumerate(self.outages):
            if out.element == "hvdc":
                trip_link(o, link_pos[out.id])
            elif out.element == "gen":
                i = gen_pos[out.id]
                bus = cn.inj_bus[i]
                mask = np.zeros(cn.inj_kind.size, dtype=bool)
                mask[i] = True
                row = self.ptdf([bus])[0] - self._response(cn.island[bus], mask)
                term(o, 1, i, -row)
        self.term_out = np.asarray(term_out, dtype=np.int64)
        self.term_kind = np.asarray(term_kind, dtype=np.int64)
        self.term_ref = np.asarray(term_ref, dtype=np.int64)
        self.term_a = np.array(term_a).reshape(len(term_a), nbr)
        on_branch = self.term_kind == 0
        g0 = np.empty(self.term_ref.size)
        g0[on_branch] = self.flows_mw[self.term_ref[on_branch]]
        g0[~on_branch] = self.p_inj[self.term_ref[~on_branch]]
        post = np.tile(self.flows_mw, (n_out, 1))
        np.add.at(post, self.term_out, self.term_a * g0[:, None])
        self.monitored = self.alive & np.isfinite(self.rate)
        self.post_flows_mw = np.where(self.alive, post, np.nan)
        self.post_offset_mw = self.offset_mw * self.rating_scale
        # per outage, its terms in slots (-1: none), for the vectorised row build
        n_slot = int(np.bincount(self.term_out, minlength=n_out).max()) if n_out and term_out else 0
        self.slots = np.full((n_slot, n_out), -1, dtype=np.int64)
        seen = np.zeros(n_out, dtype=np.int64)
        for t_idx, o in enumerate(self.term_out.tolist()):
            self.slots[seen[o], o] = t_idx
            seen[o] += 1

    def _post_estimated(self, estimates: Iterable[tuple]) -> None:
        """Estimated post-contingency flows and offsets as N-1 constants."""
        index = {key: o for o, key in enumerate(_outage_key(o) for o in self.outages)}
        for outage, flows, offsets in estimates:
            o = index.get(_outage_key(outage))
            if o is None:
                continue
            ok = self.alive[o] & np.isfinite(flows) & np.isfinite(offsets)
            self.post_flows_mw[o, ok] = flows[ok]
            self.post_offset_mw[o, ok] = offsets[ok]

    def _post_from_ac(self, post_results: Iterable[OutageResult]) -> None:
        """AC post-contingency flows and offsets as the N-1 constants of their outages."""
        cn = self.cn
        index = {key: o for o, key in enumerate(_outage_key(o) for o in self.outages)}
        names = pd.MultiIndex.from_arrays([cn.br_kind, cn.br_id])
        for r in post_results:
            o = index.get(_outage_key(r.outage))
            if o is None or not r.converged:
                continue
            pf = r.power_flow
            pcn = pf.cn
            if (
                pcn.n_branch == cn.n_branch
                and (pcn.br_kind == cn.br_kind).all()
                and (pcn.br_id == cn.br_id).all()
            ):
                pos = np.arange(cn.n_branch)  # a scaled view keeps the branch order
            else:
                pos = pd.MultiIndex.from_arrays([pcn.br_kind, pcn.br_id]).get_indexer(names)
            found = pos >= 0
            p = np.full(cn.n_branch, np.nan)
            s = np.full(cn.n_branch, np.nan)
            p[found] = pf.branch_p_from_mw[pos[found]]
            s[found] = np.maximum(np.abs(pf._s_from), np.abs(pf._s_to))[pos[found]]
            ok = found & np.isfinite(p)
            self.post_flows_mw[o, ok] = p[ok]
            self.post_offset_mw[o, ok] = np.maximum(s[ok] - np.abs(p[ok]), 0.0)
            if (
                pf.kind == "ac"
                and r.outage.element in ("line", "trafo")
                and not self.islanding[o]
                and not r.de_energised_buses
                and (pcn.bus_ids is cn.bus_ids or pcn.bus_ids.equals(cn.bus_ids))
            ):  # MVA rows can be formed on this solution (mva_sensitivity)
                self._post_ac[o] = (pf, pos)
                self.ac_post[o] = ok & self.alive[o]

    def mva_sensitivity(self, o: int, branches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """AC sensitivity of the MVA loading of ``branches`` (compiled positions) intact
        (``o = -1``) or after outage ``o`` (one with an AC solution here: ``ac_post[o]``),
        per MW and per Mvar injected at each bus (compiled bus order, the slack taking
        it): :func:`gridsim.analysis.ac_sensitivity.branch_mva_sensitivity` at that
        solution (cached). Returns ``(d_p, d_q)``, each ``(len(branches), n_bus)``."""
        branches = np.asarray(branches, dtype=np.int64)
        new = [b for b in np.unique(branches).tolist() if (o, b) not in self._mva]
        if new:
            res, pos = (self.result, None) if o < 0 else self._post_ac[o]
            at = np.asarray(new) if pos is None else pos[new]
            vdep = self.cn.voltage_dependence()
            d_p, d_q = branch_mva_sensitivity(res, at, voltage_dependence=vdep)
            for n, b in enumerate(new):
                self._mva[(o, b)] = (d_p[n], d_q[n])
        if branches.size == 0:
            return np.zeros((0, self.cn.n_bus)), np.zeros((0, self.cn.n_bus))
        rows = [self._mva[(o, b)] for b in branches.tolist()]
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    # -- labels --------------------------------------------------------------------------
    def branch_label(self, k: int) -> tuple[str, object]:
        """``(element, id)`` of compiled branch ``k``."""
        return ("line" if self.cn.br_kind[k] == LINE else "trafo", plain(self.cn.br_id[k]))


def _outage_key(o: Outage) -> tuple:
    return (o.element, o.id, o.circuits)


def _checked(network: Network, cn, outages: list[Outage]) -> list:
    """:func:`gridsim.analysis.outages._check` of each outage (``(position, fraction
    left)`` for a branch, else None), the branches looked up together."""
    info: list = [None] * len(outages)
    branches = [i for i, o in enumerate(outages) if o.element in ("line", "trafo")]
    for i in sorted(set(range(len(outages))) - set(branches)):
        _check(network, cn, outages[i])
    if not branches:
        return info
    pos = _branch_positions(cn, [(outages[i].element, outages[i].id) for i in branches])
    for element in ("line", "trafo"):
        at = [n for n, i in enumerate(branches) if outages[i].element == element]
        if not at:
            continue
        ids = np.array([outages[branches[n]].id for n in at], dtype=object)
        have = _circuit_counts(network, element, ids)
        table = network.columns(element)
        parallel = np.asarray(table.parallel, dtype=float)[table.index.get_indexer(ids)]
        for n, k, par in zip(at, have.tolist(), parallel.tolist(), strict=True):
            o = outages[branches[n]]
            if k != o.parallel:
                raise ScopfError(
                    f"outage {o.label!r} is for {o.parallel} circuit(s); "
                    f"{element} {plain(o.id)!r} has {k}"
                )
            info[branches[n]] = (int(pos[n]), (par - o.circuits) / par)
    return info


# -- the problems ---------------------------------------------------------------------------
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
        ``hvdc``, ``max_mw``), ``element``, ``id``, ``contingency`` (the outage's label,
        None in the base case), ``flow_mw`` (linearised, at the solution; MVA for a
        row held on its MVA loading), ``limit_mw``, ``shadow_price`` (see the module
        docstring),
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


class _Lp:
    """One LP over ``u = [t, h_1..h_m, r+_1..r+_n, r-_1..r-_n]`` on a LinearisedGrid."""

    def __init__(
        self,
        grid: LinearisedGrid,
        *,
        source: pd.Series | None,
        sink: pd.Series | None,
        sink_element: str,
        hvdc: Iterable,
        redispatch: pd.Series,
        interfaces: list[Interface],
        max_mw: float | None,
        transfer: bool,
        redispatch_balance: str = "island",
        min_mw: float = 0.0,
        redispatch_limit: Mapping | None = None,
        redispatched: pd.Series | None = None,
        thermal_tol: float = 0.0,
    ):
        start = time.perf_counter()
        self.thermal_tol = thermal_tol
        cn, net = grid.cn, grid.network
        self.grid = grid
        gen_ids = cn.inj_id[cn.inj_kind == GEN]
        gen_pos = pd.Index(gen_ids).get_indexer
        self.gen_inj = np.flatnonzero(cn.inj_kind == GEN)
        # variables
        links = pd.Index(list(hvdc))
        jpos = pd.Index(cn.hvdc_id).get_indexer(links)
        if (jpos < 0).any():
            raise ScopfError(f"not in-service HVDC links: {list(links[jpos < 0])[:5]!r}")
        rpos = gen_pos(redispatch.index)
        if (rpos < 0).any():
            bad = list(redispatch.index[rpos < 0])[:5]
            raise ScopfError(f"redispatch names units that are not in-service gens: {bad!r}")
        rinj = self.gen_inj[rpos]
        if cn.inj_slack[rinj].any():
            raise ScopfError("a slack unit cannot be redispatched (its output is not set)")
        m, n = jpos.size, rpos.size
        nv = 1 + m + 2 * n
        self.links, self.jpos, self.redispatch, self.rinj = links, jpos, redispatch, rinj
        self.m, self.n, self.nv = m, n, nv
        gtab = net.columns("gen")
        grow = gtab.index.get_indexer(cn.inj_id[self.gen_inj])
        p0_gen = grid.p_inj[self.gen_inj]
        hi = np.nan_to_num(np.asarray(gtab.max_p_mw, dtype=float)[grow], nan=np.inf)
        lo = np.nan_to_num(np.asarray(gtab.min_p_mw, dtype=float)[grow], nan=0.0)
        self.gen_hi, self.gen_lo = np.maximum(hi, p0_gen), np.minimum(lo, p0_gen)
        lower = np.zeros(nv)
        upper = np.zeros(nv)
        upper[0] = INF if transfer else 0.0
        if transfer and max_mw is not None:
            upper[0] = float(max_mw)
        if transfer:
            lower[0] = float(min_mw)
        hp0 = cn.hvdc_p[jpos]
        hmax = np.nan_to_num(cn.hvdc_rating[jpos], nan=np.inf)
        lower[1 : 1 + m] = np.minimum(-hmax - hp0, 0.0)
        upper[1 : 1 + m] = np.maximum(hmax - hp0, 0.0)
        k = self.gen_inj.searchsorted(rinj)
        upper[1 + m : 1 + m + n] = self.gen_hi[k] - p0_gen[k]
        upper[1 + m + n :] = p0_gen[k] - self.gen_lo[k]
        self.lower, self.upper = lower, np.where(np.isinf(upper), INF, upper)
        # injections per variable (J: injectors x variables; loads: load positions x t)
        ninj = cn.inj_kind.size
        rows, cols, vals = [], [], []
        self.source, self.sink, self.sink_element = source, sink, sink_element
        for shares, element in ((source, "gen"), (sink, sink_element)):
            ids = cn.inj_id[self.gen_inj] if element == "gen" else cn.load_id
            if shares is not None and (pd.Index(ids).get_indexer(shares.index) < 0).any():
                raise ScopfError(f"shift keys name {element}s that are not in service")
        if source is not None:
            spos = gen_pos(source.index)
            rows.append(self.gen_inj[spos])
            cols.append(np.zeros(spos.size, dtype=np.int64))
            vals.append(source.to_numpy(dtype=float))
        load_share = np.zeros(cn.load_id.size)
        if sink is not None and sink_element == "gen":
            spos = gen_pos(sink.index)
            rows.append(self.gen_inj[spos])
            cols.append(np.zeros(spos.size, dtype=np.int64))
            vals.append(-sink.to_numpy(dtype=float))
        elif sink is not None:
            load_share[pd.Index(cn.load_id).get_indexer(sink.index)] = sink.to_numpy(dtype=float)
        rate = _hvdc_loss_rate(cn, net)[jpos]
        forward = cn.hvdc_p[jpos] >= 0
        inj_f = _link_injectors(cn, HVDC_FROM)[jpos]
        inj_t = _link_injectors(cn, HVDC_TO)[jpos]
        hcols = np.arange(1, 1 + m)
        rows += [inj_f, inj_t, rinj, rinj]
        cols += [hcols, hcols, np.arange(1 + m, 1 + m + n), np.arange(1 + m + n, nv)]
        d_from = np.where(forward, -1.0, -1.0 + rate)
        d_to = np.where(forward, 1.0 - rate, 1.0)
        vals += [d_from, d_to, np.ones(n), -np.ones(n)]
        rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        self.jac = sp.csr_matrix((vals, (rows, cols)), shape=(ninj, nv))
        # bus injections per variable: injectors, then the sink loads (on t)
        sink_loads = np.flatnonzero(load_share)
        bus = np.concatenate([cn.inj_bus[rows], cn.load_bus[sink_loads]])
        col = np.concatenate([cols, np.zeros(sink_loads.size, dtype=np.int64)])
        val = np.concatenate([vals, -load_share[sink_loads]])
        bus_inj = sp.csr_matrix((val, (bus, col)), shape=(cn.n_bus, nv))
        used = np.flatnonzero(np.diff(bus_inj.indptr))
        self.sens = grid.ptdf(used).T @ bus_inj[used].toarray()  # branches x variables
        # the sink loads' reactive draw follows their active (constant power factor)
        load_s = cn.load_s[sink_loads]
        ratio = np.divide(
            load_s.imag, load_s.real, out=np.zeros(load_s.size), where=load_s.real != 0
        )
        q_at = (cn.load_bus[sink_loads], np.zeros(sink_loads.size, dtype=np.int64))
        self.bus_inj = bus_inj
        self.bus_inj_q = sp.csr_matrix((-load_share[sink_loads] * ratio, q_at), (cn.n_bus, nv))
        # balance per island, the HVDC lossless (the slacks take the converter losses)
        lossless = val.copy()
        lossless[: rows.size][np.isin(cols, hcols) & (vals < 0)] = -1.0
        lossless[: rows.size][np.isin(cols, hcols) & (vals > 0)] = 1.0
        isl = cn.island[bus]
        on = isl >= 0
        n_isl = grid.island_w.size
        balance = np.zeros((n_isl, nv))
        np.add.at(balance, (isl[on], col[on]), lossless[on])
        bus_zone = net.bus["zone"].astype(str).reindex(cn.bus_ids).to_numpy()
        if redispatch_balance == "zone":  # each zone's redispatch nets to zero on its own
            # (the base case: with the moves of the links, so each zone's net position)
            part = np.isin(col, np.arange(1 + m, nv)) if transfer else col > 0
            labels, code = np.unique(bus_zone[bus[part]], return_inverse=True)
            by_zone = np.zeros((labels.size, nv))
            np.add.at(by_zone, (code, col[part]), lossless[part])
            balance = np.vstack([balance, by_zone])
        balance = balance[np.abs(balance).max(axis=1) > COEF_TOL]
        self._hard_rows(balance, bus_zone[cn.inj_bus[rinj]], redispatch_limit, redispatched)
        # the largest |value| each variable can take (for the screen)
        reach = np.maximum(np.abs(self.lower), np.abs(self.upper))
        reach[0] = max(
            self._t_reach(transfer, max_mw, source, sink, sink_element, gen_pos), -lower[0]
        )
        self.reach = reach
        self._rows(interfaces)
        self.build_s = time.perf_counter() - start

    def _hard_rows(self, balance, unit_zone, limit, done) -> None:
        """The rows every LP holds as they are (never relaxed): the balance rows (``=
        0``) and, with ``limit`` (zone -> MW), each zone's redispatch bound: ``sum_g a_g
        <= limit`` over its units, with one more column ``a_g >= 0`` per unit (after the
        ``nv`` variables) held above ``|done_g + r_g|`` by two rows; ``done``: the units'
        moves made before this LP (MW, counted in the bound)."""
        m, n, nv = self.m, self.n, self.nv
        limit = dict(limit or {})
        units = np.flatnonzero(np.isin(unit_zone, list(limit)))
        na = units.size
        if done is None:
            done = pd.Series(dtype=float)
        done = done.reindex(self.redispatch.index).fillna(0.0).to_numpy(dtype=float)[units]
        labels, code = np.unique(unit_zone[units], return_inverse=True)
        nb, at = balance.shape[0], np.arange(na)
        # rows nb + g: a_g - r_g >= done_g; nb + na + g: a_g + r_g >= -done_g
        r_up, r_down = 1 + m + units, 1 + m + n + units
        row = np.concatenate([nb + at] * 3 + [nb + na + at] * 3 + [nb + 2 * na + code])
        col = np.concatenate([nv + at, r_up, r_down, nv + at, r_up, r_down, nv + at])
        one = np.ones(na)
        val = np.concatenate([one, -one, one, one, one, -one, one])
        dense = sp.coo_matrix(balance)
        self.n_aux = na
        self.hard = sp.csr_matrix(
            (
                np.concatenate([dense.data, val]),
                (np.concatenate([dense.row, row]), np.concatenate([dense.col, col])),
            ),
            shape=(nb + 2 * na + labels.size, nv + na),
        )
        self.hard_lo = np.concatenate([np.zeros(nb), done, -done, np.full(labels.size, -INF)])
        self.hard_hi = np.concatenate(
            [np.zeros(nb), np.full(2 * na, INF), [float(limit[z]) for z in labels]]
        )

    def _t_reach(self, transfer, max_mw, source, sink, sink_element, gen_pos) -> float:
        """The largest ``t`` the generation limits (and ``max_mw``) allow."""
        if not transfer:
            return 0.0
        caps = [np.inf if max_mw is None else float(max_mw)]
        redisp = np.isin(self.gen_inj, self.rinj)
        for shares, sign in ((source, 1.0), (sink if sink_element == "gen" else None, -1.0)):
            if shares is None:
                continue
            k = gen_pos(shares.index)
            s = shares.to_numpy(dtype=float)
            p0 = self.grid.p_inj[self.gen_inj[k]]
            room = self.gen_hi[k] - p0 if sign > 0 else p0 - self.gen_lo[k]
            room = np.where(redisp[k], self.gen_hi[k] - self.gen_lo[k], room)
            with np.errstate(divide="ignore", invalid="ignore"):
                caps.append(float(np.min(np.where(s > 0, room / s, np.inf))))
        return min(caps)

    # -- rows ---------------------------------------------------------------------------
    def _rows(self, interfaces: list[Interface]) -> None:
        """The candidate rows: every row the screen keeps (module docstring), in the
        order N-0, N-1, interfaces, generation; coefficients are formed on demand."""
        grid, cn = self.grid, self.grid.cn
        S = self.sens
        big = np.isinf(self.reach)
        fin = np.where(big, 0.0, self.reach)
        abs_s = np.abs(S)
        reach_base = abs_s @ fin
        unb_base = (abs_s > COEF_TOL) @ big > 0
        parts = []  # (kind, element, outage, limit, factor, const, lo, hi, mva)
        ac = grid.result.kind == "ac"
        # N-0
        limit = self._held(grid.rate - grid.offset_mw, grid.flows_mw, grid.rate)
        rated = np.isfinite(limit) & grid.n0_monitored
        mva = np.abs(grid.flows_mw) + grid.offset_mw  # max(|S_from|, |S_to|)
        by_mva = rated & ac & (mva >= MVA_LOADING * np.nan_to_num(grid.rate, nan=np.inf))
        keep = rated & ((np.abs(grid.flows_mw) + reach_base > limit) | unb_base | by_mva)
        self.dropped = int(rated.sum() - keep.sum())
        k0 = np.flatnonzero(keep)
        m0 = by_mva[k0]
        lim0 = np.where(m0, self._held(grid.rate, mva, grid.rate)[k0], limit[k0])
        const0 = np.where(m0, mva[k0], grid.flows_mw[k0])
        parts.append((N0, k0, -1, lim0, 1.0, const0, np.where(m0, -np.inf, -lim0), lim0, m0))
        # N-1: terms a g, g = F_k(u) (kind 0) or an injector's output (kind 1)
        on_branch = grid.term_kind == 0
        self.g_rows = np.empty((grid.term_ref.size, self.nv))
        self.g_rows[on_branch] = S[grid.term_ref[on_branch]]
        self.g_rows[~on_branch] = self.jac[grid.term_ref[~on_branch]].toarray()
        if grid.term_out.size:
            g_reach = np.abs(self.g_rows) @ fin
            g_unb = (np.abs(self.g_rows) > COEF_TOL) @ big > 0
            n_out = len(grid.outages)
            reach = np.tile(reach_base, (n_out, 1))
            unb = np.tile(unb_base, (n_out, 1))
            abs_a = np.abs(grid.term_a)
            np.add.at(reach, grid.term_out, abs_a * g_reach[:, None])
            np.logical_or.at(unb, grid.term_out, (abs_a > 0) & g_unb[:, None])
            const = grid.post_flows_mw
            rating1 = grid.emergency * grid.rate * grid.rating_scale
            limit1 = self._held(rating1 - grid.post_offset_mw, const, rating1)
            mon = grid.monitored & np.isfinite(limit1) & np.isfinite(const)
            mva1 = np.abs(const) + grid.post_offset_mw
            with np.errstate(invalid="ignore"):
                by_mva1 = mon & grid.ac_post & ac & (mva1 >= MVA_LOADING * rating1)
                keep1 = mon & ((np.abs(const) + reach > limit1) | unb | by_mva1)
            self.dropped += int(mon.sum() - keep1.sum())
            o_idx, l_idx = np.nonzero(keep1)
            m1 = by_mva1[o_idx, l_idx]
            lim1 = limit1[o_idx, l_idx]
            r1 = rating1[o_idx, l_idx]
            lim1[m1] = self._held(r1, mva1[o_idx, l_idx], r1)[m1]
            const1 = np.where(m1, mva1[o_idx, l_idx], const[o_idx, l_idx])
            factor = grid.emergency * grid.rating_scale[o_idx, l_idx]
            lo1 = np.where(m1, -np.inf, -lim1)
            parts.append((N1, l_idx, o_idx, lim1, factor, const1, lo1, lim1, m1))
        # interfaces (base case, one-sided) and the units the transfer moves: dense rows
        self.interfaces = interfaces
        extra = []
        for i, face in enumerate(interfaces):
            coef, const = np.zeros(self.nv), 0.0
            for element, eid, direction in face.members:
                if eid not in grid.network.columns(element).index:
                    raise ScopfError(f"interface {face.id!r}: no {element} {eid!r}")
                if element == "hvdc":
                    j = np.flatnonzero(cn.hvdc_id == eid)
                    if j.size == 0:
                        continue  # out of service: no flow
                    const += direction * cn.hvdc_p[j[0]]
                    free = np.flatnonzero(self.jpos == j[0])
                    if free.size:
                        coef[1 + free[0]] += direction
                    continue
                code = LINE if element == "line" else TRAFO
                k = np.flatnonzero((cn.br_kind == code) & (cn.br_id == eid))
                if k.size == 0:
                    continue
                const += direction * grid.flows_mw[k[0]]
                coef += direction * S[k[0]]
            extra.append(coef)
            lim = face.limit_mw
            parts.append((INTERFACE, i, -1, lim, 0.0, np.array([const]), -np.inf, lim, False))
        moved = np.flatnonzero(self.jac[:, 0].toarray().ravel() != 0)
        if moved.size:
            k = self.gen_inj.searchsorted(moved)
            extra.append(self.jac[moved].toarray())
            lo, hi = self.gen_lo[k], self.gen_hi[k]
            parts.append((GENERATION, moved, -1, np.nan, 0.0, grid.p_inj[moved], lo, hi, False))
        self.extra_coef = np.vstack(extra) if extra else np.zeros((0, self.nv))
        self.extra_coef[np.abs(self.extra_coef) <= COEF_TOL] = 0.0
        sizes = [np.size(p[5]) for p in parts]

        def column(i, dtype):
            return np.concatenate(
                [
                    np.broadcast_to(np.asarray(p[i], dtype=dtype), (n,))
                    for p, n in zip(parts, sizes, strict=True)
                ]
            )

        self.kind = column(0, np.int64)
        self.element = column(1, np.int64)
        self.outage = column(2, np.int64)
        self.limit = column(3, float)
        self.factor = column(4, float)
        self.const = column(5, float)
        self.lo = column(6, float)
        self.hi = column(7, float)
        self.n_cand = self.const.size
        self.extra_start = int(np.sum(self.kind <= N1))
        self._mva_rows(column(8, bool))

    def _mva_rows(self, mva: np.ndarray) -> None:
        """The coefficients of the thermal rows ``mva`` (a mask over the candidates) held
        on the AC MVA loading: ``S_AC + s u <= L`` with ``s = dS/dP_bus`` (and ``dS/dQ_bus``
        of the sink loads) on the variables' bus injections, at the intact or the
        post-outage AC solution (:meth:`LinearisedGrid.mva_sensitivity`)."""
        grid = self.grid
        self.mva_rows = np.flatnonzero(mva)
        self.mva_of = np.full(self.n_cand, -1, dtype=np.int64)
        self.mva_of[self.mva_rows] = np.arange(self.mva_rows.size)
        self.mva_coef = np.zeros((self.mva_rows.size, self.nv))
        outage = self.outage[self.mva_rows]
        for o in np.unique(outage).tolist():
            at = np.flatnonzero(outage == o)
            d_p, d_q = grid.mva_sensitivity(o, self.element[self.mva_rows[at]])
            self.mva_coef[at] = (self.bus_inj.T @ d_p.T + self.bus_inj_q.T @ d_q.T).T
        self.mva_coef[np.abs(self.mva_coef) <= COEF_TOL] = 0.0

    def _held(self, limit: np.ndarray, const: np.ndarray, rating: np.ndarray) -> np.ndarray:
        """Thermal limits ``limit`` (MW) of rows whose flow at ``u = 0`` is ``const``,
        raised to ``|const|`` where that is over by at most ``thermal_tol`` of the
        ``rating`` (MVA): a point the AC check accepts stays feasible."""
        with np.errstate(invalid="ignore"):
            within = np.abs(const) <= limit + self.thermal_tol * rating
            return np.where(within, np.fmax(limit, np.abs(const)), limit)

    def coefs(self, rows: np.ndarray) -> np.ndarray:
        """Coefficient rows of candidates ``rows`` (dense, tiny entries zeroed)."""
        grid = self.grid
        out = np.empty((rows.size, self.nv))
        flow = rows < self.extra_start
        l_idx = self.element[rows[flow]]
        o_idx = self.outage[rows[flow]]
        coef = self.sens[l_idx]
        post = o_idx >= 0
        for slot in grid.slots:
            t_idx = np.where(post, slot[np.maximum(o_idx, 0)], -1)
            has = t_idx >= 0
            coef[has] += grid.term_a[t_idx[has], l_idx[has]][:, None] * self.g_rows[t_idx[has]]
        out[flow] = coef
        out[~flow] = self.extra_coef[rows[~flow] - self.extra_start]
        at = self.mva_of[rows]
        out[at >= 0] = self.mva_coef[at[at >= 0]]
        out[np.abs(out) <= COEF_TOL] = 0.0
        return out

    def flows(self, x: np.ndarray, l_idx: np.ndarray, o_idx: np.ndarray) -> np.ndarray:
        """Linearised flows of branches ``l_idx`` after outages ``o_idx`` (-1: none) at
        ``u = x``, less their constants (``S u`` plus the outage terms)."""
        grid = self.grid
        x = x[: self.nv]
        gx = self.g_rows @ x
        val = (self.sens @ x)[l_idx]
        post = o_idx >= 0
        for slot in grid.slots:
            t_idx = np.where(post, slot[np.maximum(o_idx, 0)], -1)
            has = t_idx >= 0
            val[has] += grid.term_a[t_idx[has], l_idx[has]] * gx[t_idx[has]]
        return val

    def post_flows(self, x: np.ndarray) -> np.ndarray:
        """Every branch's linearised flow after every outage at ``u = x``, shape
        ``(n_outage, n_branch)`` (NaN where not energised)."""
        grid = self.grid
        o_idx, l_idx = np.indices(grid.post_flows_mw.shape)
        delta = self.flows(x, l_idx.ravel(), o_idx.ravel()).reshape(o_idx.shape)
        return grid.post_flows_mw + delta

    def activity(self, x: np.ndarray) -> np.ndarray:
        """Every candidate row's flow at ``u = x`` (MW; MVA for the MVA rows)."""
        flow = np.arange(self.extra_start)
        val = self.flows(x, self.element[flow], self.outage[flow])
        val[self.mva_rows] = self.mva_coef @ x[: self.nv]
        return self.const + np.concatenate([val, self.extra_coef @ x[: self.nv]])

    def violated(self, flows: np.ndarray) -> np.ndarray:
        """Candidates whose ``flows`` leave their limits by more than ``ACTIVE_TOL``."""
        with np.errstate(invalid="ignore"):
            return (flows > self.hi + ACTIVE_TOL) | (flows < self.lo - ACTIVE_TOL)

    # -- solving -----------------------------------------------------------------------
    def highs(
        self, rows: np.ndarray, cost: np.ndarray, maximise: bool, elastic: bool, t_lower: float
    ) -> highspy.Highs:
        """HiGHS holding the LP on candidate ``rows`` and the balance rows (``elastic``:
        each candidate row with two slack columns of cost 1; ``cost`` then ignored)."""
        nr, nv, na = rows.size, self.nv, self.n_aux
        coef = sp.hstack([sp.csr_matrix(self.coefs(rows)), sp.csr_matrix((nr, na))])
        col_lo = np.concatenate([self.lower, np.zeros(na)])
        col_hi = np.concatenate([self.upper, np.full(na, INF)])
        col_cost = np.concatenate([cost, np.zeros(na)])
        col_lo[0] = max(col_lo[0], t_lower)
        if elastic:
            eye = sp.identity(nr, format="csr")
            coef = sp.hstack([coef, eye, -eye], format="csr")
            col_lo = np.concatenate([col_lo, np.zeros(2 * nr)])
            col_hi = np.concatenate([col_hi, np.full(2 * nr, INF)])
            col_cost = np.concatenate([np.zeros(nv + na), np.ones(2 * nr)])
        width = coef.shape[1]
        nb = self.hard.shape[0]
        hard = sp.hstack([self.hard, sp.csr_matrix((nb, width - nv - na))])
        coef = sp.vstack([coef, hard], format="csr")
        coef.eliminate_zeros()
        const = self.const[rows]
        lp = highspy.HighsLp()
        lp.num_col_ = width
        lp.num_row_ = nr + nb
        lp.col_cost_ = np.asarray(col_cost, dtype=float)
        lp.col_lower_ = np.asarray(col_lo, dtype=float)
        lp.col_upper_ = np.asarray(col_hi, dtype=float)
        with np.errstate(invalid="ignore"):
            lo = np.where(np.isfinite(self.lo[rows]), self.lo[rows] - const, -INF)
            hi = np.where(np.isfinite(self.hi[rows]), self.hi[rows] - const, INF)
        lp.row_lower_ = np.concatenate([lo, self.hard_lo])
        lp.row_upper_ = np.concatenate([hi, self.hard_hi])
        lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = coef.indptr.astype(np.int32)
        lp.a_matrix_.index_ = coef.indices.astype(np.int32)
        lp.a_matrix_.value_ = coef.data.astype(float)
        h = _QuietHighs()
        h.setOptionValue("threads", 1)
        h.passModel(lp)
        return h

    def label(self, rows: np.ndarray) -> pd.DataFrame:
        """``kind``, ``element``, ``id``, ``contingency`` of candidate ``rows``."""
        grid = self.grid
        kinds, elements, ids, outages = [], [], [], []
        for kind, el, o in zip(
            self.kind[rows].tolist(),
            self.element[rows].tolist(),
            self.outage[rows].tolist(),
            strict=True,
        ):
            kinds.append(ROW_KINDS[kind])
            if kind in (N0, N1):
                element, eid = grid.branch_label(el)
            elif kind == INTERFACE:
                element, eid = "interface", self.interfaces[el].id
            else:
                element, eid = "gen", plain(grid.cn.inj_id[el])
            elements.append(element)
            ids.append(eid)
            outages.append(grid.outages[o].label if o >= 0 else None)
        return pd.DataFrame({"kind": kinds, "element": elements, "id": ids, "contingency": outages})

    def violations(self, flows: np.ndarray) -> pd.DataFrame:
        """Candidates whose ``flows`` leave their limits, worst first."""
        bad = np.flatnonzero(self.violated(flows))
        table = self.label(bad)
        over = flows[bad] > self.hi[bad]
        table["flow_mw"] = flows[bad]
        table["limit_mw"] = np.where(over, self.hi[bad], self.lo[bad])
        table["excess_mw"] = np.abs(flows[bad] - table.limit_mw.to_numpy())
        return table.sort_values("excess_mw", ascending=False, ignore_index=True)

    def first_rows(self) -> np.ndarray:
        """The rows the first LP holds: N-0, interfaces, generation, and the N-1 rows
        loaded to ``FIRST_LOADING`` of their limit or more at ``u = 0`` (the
        ``FIRST_ROWS`` most loaded of them)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            loaded = np.abs(self.const) >= FIRST_LOADING * self.limit
            loading = np.where(self.limit > 0, np.abs(self.const) / self.limit, np.inf)
        n1 = np.flatnonzero((self.kind == N1) & loaded)
        if n1.size > FIRST_ROWS:
            n1 = np.sort(n1[np.argsort(-loading[n1], kind="stable")[:FIRST_ROWS]])
        return np.union1d(np.flatnonzero(self.kind != N1), n1)

    def solve(self, cost, maximise, *, elastic=False, rows=None, t_lower=-np.inf):
        """Solve by row generation: the LP on a set of rows, then add the candidates its
        solution violates (the ``ADD_ROWS`` most violated, relative to their limits, at
        a time; HiGHS goes on from its last basis) until none is: the full LP's optimum.

        Returns ``(status, highs, rows, position, x)``: the candidates in the LP, their
        row positions in HiGHS, and the solution (None unless optimal).
        """
        rows = self.first_rows() if rows is None else rows
        h = self.highs(rows, cost, maximise, elastic, t_lower)
        position = np.arange(rows.size)
        while True:
            status = _solve(h)
            if status == "Unbounded" and rows.size < self.n_cand:
                rows = np.arange(self.n_cand)  # the subset does not bound t: take all
                h = self.highs(rows, cost, maximise, elastic, t_lower)
                position = np.arange(rows.size)
                continue
            if status != "Optimal":
                return status, h, rows, position, None
            x = np.asarray(h.getSolution().col_value, dtype=float)
            flows = self.activity(x)
            more = np.flatnonzero(self.violated(flows))
            more = np.setdiff1d(more, rows, assume_unique=True)
            if more.size == 0:
                return status, h, rows, position, x
            if more.size > ADD_ROWS:
                with np.errstate(invalid="ignore", divide="ignore"):
                    excess = np.fmax(flows[more] - self.hi[more], self.lo[more] - flows[more])
                    rel = excess / np.maximum(
                        np.abs(np.where(np.isfinite(self.hi), self.hi, 0.0))[more], 1.0
                    )
                more = more[np.argsort(-rel, kind="stable")[:ADD_ROWS]]
            first = h.getNumRow()
            self._add_rows(h, more, elastic)
            rows = np.concatenate([rows, more])
            position = np.concatenate([position, first + np.arange(more.size)])

    def _add_rows(self, h: highspy.Highs, rows: np.ndarray, elastic: bool) -> None:
        """Append candidate ``rows`` to ``h`` (with their two slack columns if
        ``elastic``)."""
        coef = sp.csr_matrix(self.coefs(rows))
        const = self.const[rows]
        with np.errstate(invalid="ignore"):
            lo = np.where(np.isfinite(self.lo[rows]), self.lo[rows] - const, -INF)
            hi = np.where(np.isfinite(self.hi[rows]), self.hi[rows] - const, INF)
        first = h.getNumRow()
        h.addRows(
            rows.size,
            lo,
            hi,
            coef.nnz,
            coef.indptr[:-1].astype(np.int32),
            coef.indices.astype(np.int32),
            coef.data.astype(float),
        )
        if elastic:
            n = rows.size
            at = np.tile(first + np.arange(n, dtype=np.int32), 2)
            h.addCols(
                2 * n,
                np.ones(2 * n),
                np.zeros(2 * n),
                np.full(2 * n, INF),
                2 * n,
                np.arange(2 * n, dtype=np.int32),
                at,
                np.concatenate([np.ones(n), -np.ones(n)]),
            )


def _link_injectors(cn, kind: int) -> np.ndarray:
    """Injector position of each in-service link's end ``kind`` (in ``cn.hvdc_id`` order)."""
    pos = np.flatnonzero(cn.inj_kind == kind)
    order = pd.Index(cn.inj_id[pos]).get_indexer(cn.hvdc_id)
    return pos[order]


def _unit_ids(network: Network, areas) -> pd.Series:
    """Redispatch costs per unit from ``areas``: None (no unit), an iterable of zone or
    group names (every in-service, energised non-slack unit there, cost 1) or a mapping
    gen id -> cost per MW."""
    if areas is None:
        return pd.Series(dtype=float)
    if isinstance(areas, Mapping):
        costs = pd.Series(dict(areas), dtype=float)
        if (costs < 0).any() or not np.isfinite(costs).all():
            raise ScopfError("redispatch costs must be finite and non-negative")
        return costs

    if isinstance(areas, str):
        areas = [areas]
    zones = set()
    for area in areas:
        zones.update(_zones_of(network, area))
    cn = network.compile()
    on = (cn.inj_kind == GEN) & ~cn.inj_slack & (cn.bus_type[cn.inj_bus] != NONE)
    bus_zone = network.bus["zone"].astype(str).reindex(cn.bus_ids).to_numpy()
    pick = on & np.isin(bus_zone[cn.inj_bus], list(zones))
    return pd.Series(1.0, index=pd.Index(cn.inj_id[pick]), dtype=float)


def _shift_keys(network: Network, source, sink, sink_element: str):
    """``(source shares, sink shares)``: Series as given, or transfer's plan of an area
    or id list (source units by headroom, sink loads by size)."""
    if isinstance(source, pd.Series) and isinstance(sink, pd.Series):
        return source.astype(float), sink.astype(float)

    if not isinstance(source, str | pd.Series):
        source = list(source)
    if not isinstance(sink, str | pd.Series):
        sink = list(sink)
    plan = _plan(
        network,
        list(source.index) if isinstance(source, pd.Series) else source,
        list(sink.index) if isinstance(sink, pd.Series) else sink,
        sink_element,
        None,
        None,
    )
    src = source if isinstance(source, pd.Series) else pd.Series(plan.gen_share, plan.gen_ids)
    snk = sink if isinstance(sink, pd.Series) else pd.Series(plan.sink_share, plan.sink_ids)
    return src.astype(float), snk.astype(float)


def _joining_links(grid: LinearisedGrid, source: pd.Series, sink: pd.Series, sink_element):
    """In-service links with one end in the source's AC island and one in the sink's."""
    cn, net = grid.cn, grid.network
    src_bus = net.gen.bus.reindex(source.index)
    snk_bus = net[sink_element].bus.reindex(sink.index)
    isl_src = set(cn.island[cn.bus_ids.get_indexer(src_bus)].tolist())
    isl_snk = set(cn.island[cn.bus_ids.get_indexer(snk_bus)].tolist())
    if isl_src == isl_snk:
        return []
    f, t = cn.island[cn.hvdc_from], cn.island[cn.hvdc_to]
    join = (np.isin(f, list(isl_src)) & np.isin(t, list(isl_snk))) | (
        np.isin(f, list(isl_snk)) & np.isin(t, list(isl_src))
    )
    return list(cn.hvdc_id[join])


def _balance(value: str) -> str:
    if value not in ("zone", "island"):
        raise ScopfError(f"redispatch_balance must be 'zone' or 'island', got {value!r}")
    return value


def _solve(h: highspy.Highs) -> str:
    h.run()
    return h.modelStatusToString(h.getModelStatus())


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


def _run(lp: _Lp, problem: str, cost: np.ndarray, maximise: bool, then_cost=None):
    """Solve ``lp`` (then, when ``then_cost`` has an entry, minimise it at the optimal
    ``t``); on infeasibility solve the elastic LP for the residual violations."""
    start = time.perf_counter()
    sense = 1.0 if maximise else -1.0
    status, h, rows, position, x = lp.solve(cost, maximise)
    if status == "Optimal":
        sol = h.getSolution()
        duals = (rows, np.asarray(sol.row_dual)[position], np.asarray(sol.col_dual))
        objective = float(h.getInfo().objective_function_value)
        if then_cost is not None and np.any(then_cost):
            t_lower = x[0] - 1e-9 * max(1.0, abs(x[0]))
            second, _, _, _, x2 = lp.solve(then_cost, False, rows=rows, t_lower=t_lower)
            if second == "Optimal":
                x = x2
            status = f"{status}; then {second}"
        if problem == "max_transfer":
            message = f"largest transfer {x[0]:.6g} MW"
        else:
            message = f"secure with a redispatch cost of {objective:.6g}"
        solve_s = time.perf_counter() - start
        return _outcome(lp, problem, x, objective, status, message, duals, None, solve_s, sense)
    if status == "Infeasible":
        e_status, _, _, _, x = lp.solve(np.zeros(lp.nv), False, elastic=True)
        x = x[: lp.nv] if x is not None else np.zeros(lp.nv)
        residual = lp.violations(lp.activity(x))
        bound = " within the zones' redispatch bounds" if lp.n_aux else ""
        message = (
            f"base case cannot be secured: {len(residual)} limit(s) stay violated with every "
            f"control used{bound} ({residual.excess_mw.sum():.6g} MW over in all)"
        )
        if len(residual):
            worst = residual.iloc[0]
            after = f" after the outage of {worst.contingency}" if worst.contingency else ""
            message += (
                f"; worst: {worst.kind} {worst.element} {str(worst.id)!r}{after}, "
                f"{worst.excess_mw:.4g} MW over"
            )
        if problem == "max_transfer":
            message = "transfer capability not defined: " + message
        status = f"{status}; elastic {e_status}"
        solve_s = time.perf_counter() - start
        return _outcome(lp, problem, x, np.nan, status, message, None, residual, solve_s, sense)
    message = f"the LP could not be solved: HiGHS says {status}"
    if status == "Unbounded" and problem == "max_transfer":
        message += " (no limit bounds the transfer: give max_mw)"
    solve_s = time.perf_counter() - start
    out = _outcome(
        lp, problem, np.zeros(lp.nv), np.nan, status, message, None, None, solve_s, sense
    )
    out.status = "failed"
    return out


def secure_base_case(
    grid: LinearisedGrid,
    *,
    redispatch: Iterable[str] | str | Mapping | None = "all",
    hvdc: Iterable | None = None,
    interfaces: Iterable | None = None,
    redispatch_balance: str = "island",
    redispatch_limit_mw: Mapping | None = None,
    redispatched_mw: pd.Series | None = None,
) -> ScopfResult:
    """The least preventive redispatch that makes the operating point N-1 secure.

    Minimises ``sum cost_g |r_g|`` over the redispatchable units with the HVDC setpoints
    free within their ratings (no cost), subject to every N-0 and N-1 row of ``grid``,
    the interfaces, unit limits and each island's balance (module docstring). Where no
    dispatch holds every row, the result says the base case cannot be secured and lists
    the rows a least-violation dispatch (min total MW over) leaves violated.

    Parameters
    ----------
    grid : LinearisedGrid
    redispatch : "all", iterable of area names, mapping or None
        The units that may move: ``"all"`` every in-service non-slack unit, zone codes or
        group names (every such unit there), a mapping gen id -> cost per MW, or None.
        Costs default to 1 per MW (the objective is then the MW moved, up plus down).
    hvdc : iterable of link ids, optional
        The links whose setpoints are free; default every in-service link.
    interfaces : iterable of Interface or dict, optional
        Flowgates held in the base case.
    redispatch_balance : {"island", "zone"}
        The redispatch (with the HVDC moves) balances each AC island (default:
        cross-border redispatch allowed), or also each zone: the redispatch and the
        moves of the links with an end in the zone (lossless) net to zero there, so
        that every zone's net position is kept.
    redispatch_limit_mw : mapping zone -> MW, optional
        Bound on each named zone's redispatch: ``sum |move|`` over its units, the
        moves already made (``redispatched_mw``) included, as LP rows held also by
        the least-violation LP (a base case that cannot be secured within the bounds
        says so, with the residual). Default: unbounded.
    redispatched_mw : pandas.Series, optional
        Per unit, the redispatch made before this operating point (a successive-LP
        step), counted in ``redispatch_limit_mw``.

    Returns
    -------
    ScopfResult
        ``status`` ``"optimal"`` (secured; ``violations_before`` lists what the
        redispatch removed) or ``"cannot be secured"`` (with ``residual``).
    """
    net = grid.network
    if isinstance(redispatch, str) and redispatch == "all":
        redispatch = sorted(set(net.bus["zone"].astype(str)))
    costs = _unit_ids(net, redispatch)
    links = list(grid.cn.hvdc_id) if hvdc is None else list(hvdc)
    lp = _Lp(
        grid,
        source=None,
        sink=None,
        sink_element="load",
        hvdc=links,
        redispatch=costs,
        interfaces=[Interface.parse(i) for i in interfaces or []],
        max_mw=None,
        transfer=False,
        redispatch_balance=_balance(redispatch_balance),
        redispatch_limit=redispatch_limit_mw,
        redispatched=redispatched_mw,
    )
    cost = np.concatenate([np.zeros(1 + lp.m), costs.to_numpy(), costs.to_numpy()])
    return _run(lp, "secure_base_case", cost, maximise=False)


def max_transfer(
    grid: LinearisedGrid,
    source,
    sink,
    *,
    sink_element: str = "load",
    hvdc: Iterable | None = None,
    redispatch: Iterable[str] | str | Mapping | None = None,
    interfaces: Iterable | None = None,
    max_mw: float | None = None,
    redispatch_balance: str = "zone",
    min_mw: float = 0.0,
    thermal_tol: float = 0.0,
) -> ScopfResult:
    """The largest transfer from ``source`` to ``sink`` with optimal HVDC setpoints.

    Maximises ``t`` (source units up by ``share t``, sink loads up by ``share t``, or sink
    units down with ``sink_element="gen"``) with the free links' setpoints and the
    redispatch as further variables, subject to every N-0 and N-1 row of ``grid``, the
    interfaces, unit and converter limits and each island's balance; then, at that
    ``t``, minimises the redispatch. The duals of the first LP are the shadow prices.

    Parameters
    ----------
    grid : LinearisedGrid
    source, sink : str, iterable of ids or pandas.Series
        Area names or id lists (shift keys as :func:`gridsim.transfer_capability`'s:
        units by headroom, loads by size), or Series of shares indexed by gen (load) id.
    sink_element : {"load", "gen"}
    hvdc : iterable of link ids, optional
        Free links; default those joining the source's AC island to the sink's.
    redispatch : iterable of area names, mapping gen id -> cost, or None
        Units that may be redispatched (none by default).
    interfaces : iterable of Interface or dict, optional
    max_mw : float, optional
        Upper bound of ``t``.
    min_mw : float
        Lower bound of ``t`` (default 0). A successive-LP step re-linearised at an
        earlier solution ``t_k`` passes ``-t_k`` so that it may back off.
    redispatch_balance : {"zone", "island"}
        ``"zone"`` (default): the redispatch nets to zero in each zone, so that the
        transfer alone changes the zones' net positions (otherwise the sink's own
        units, redispatched up, would serve the sink's extra load and count as
        transfer); ``"island"``: it only balances each AC island.
    thermal_tol : float
        A thermal row over its limit at the operating point by at most this fraction
        of its rating is held at its flow there instead (an AC check that accepts
        loadings within a tolerance, e.g. :data:`gridsim.analysis.ttc.THERMAL_TOL`,
        then never meets an infeasible, degenerate LP at a point it accepted).
        Default 0: every row at its limit.

    Returns
    -------
    ScopfResult
        ``status`` ``"optimal"``, ``"cannot be secured"`` (no secure dispatch even at
        ``t = 0``: the transfer capability is not defined) or ``"failed"``.
    """
    net = grid.network
    if sink_element not in ("load", "gen"):
        raise ScopfError(f"sink_element must be 'load' or 'gen', got {sink_element!r}")
    if not (np.isfinite(min_mw) and min_mw <= 0):
        raise ScopfError(f"min_mw must be zero or negative, got {min_mw!r}")
    if max_mw is not None and not max_mw >= min_mw:
        raise ScopfError(f"max_mw must be at least min_mw, got {max_mw!r}")
    src, snk = _shift_keys(net, source, sink, sink_element)
    links = _joining_links(grid, src, snk, sink_element) if hvdc is None else list(hvdc)
    costs = _unit_ids(net, redispatch)
    lp = _Lp(
        grid,
        source=src,
        sink=snk,
        sink_element=sink_element,
        hvdc=links,
        redispatch=costs,
        interfaces=[Interface.parse(i) for i in interfaces or []],
        max_mw=max_mw,
        transfer=True,
        min_mw=min_mw,
        redispatch_balance=_balance(redispatch_balance),
        thermal_tol=thermal_tol,
    )
    cost = np.zeros(lp.nv)
    cost[0] = 1.0
    then = np.concatenate([np.zeros(1 + lp.m), costs.to_numpy(), costs.to_numpy()])
    return _run(lp, "max_transfer", cost, maximise=True, then_cost=then)
