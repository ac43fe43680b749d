"""Contingency definitions and the post-contingency response, as a TSO planner uses them.

Definitions
-----------
The EU System Operation Guideline (Commission Regulation (EU) 2017/1485, articles 3 and
33) sorts what can fail by how likely it is:

* an *ordinary contingency* is the loss of one element: one circuit of a line, one
  transformer, one HVDC link (or pole) or one generating unit. Every TSO keeps its grid
  secure against each of them (N-1);
* an *exceptional contingency* is the loss of several elements at once from one common
  cause: both circuits on one tower, a busbar. They form a separate list, studied where
  their likelihood or their consequences call for it;
* what goes beyond (out-of-range contingencies) is left to defence plans, not here.

In gridsim's tables a line with ``parallel = k`` is ``k`` identical circuits whose
``rate_mva`` is the rating of all of them together; a transformer with ``parallel = k``
is ``k`` identical units. So :func:`ordinary_contingencies` gives, per in-service
element of the compiled network:

* a line of ``k >= 2`` circuits: ``k`` outages of one circuit each (kind
  ``"line_circuit"``); the circuits are identical, so their results are identical and a
  study may solve one and report it for all (they differ only in ``circuit``); a single
  circuit line: one outage of the whole line (kind ``"line"``);
* a transformer of ``k >= 2`` units: ``k`` outages of one unit; one unit: the whole
  transformer (kind ``"trafo"``);
* each in-service HVDC link (the data have no poles; kind ``"hvdc"``);
* each in-service, energised generating unit of the ``gen`` table that is not a slack
  (``units="all"``), or only the unit with the largest output in each synchronous area
  (``units="largest_per_area"``: the bus ``area``, else the AC island). ``sgen``
  injections are not units that trip as one.

:func:`exceptional_contingencies` gives the loss of all circuits of every line of two or
more (kind ``"line"``, ``exceptional=True``); busbars are not in the data yet.
``parallel`` is rounded to a whole number of circuits.

Applying an outage
------------------
Losing ``c`` of ``k`` circuits leaves ``(k - c) / k`` of the branch: its series and shunt
admittances and its rating scale by that fraction (exactly what ``parallel = k - c``
and ``rate_mva (k - c) / k`` give on a rebuilt network). On the compiled network that
changes the branch's four Ybus entries and nothing else (:func:`scaled_ydata`,
:func:`scaled_view`), so the base case's Ybus pattern, ordering and Newton solvers serve
the outage; a fraction of 0 is the whole branch out, as
:func:`gridsim.analysis.contingency.outage_ydata` does. A unit or an HVDC trip sets the
element out of service.

An outage that cuts buses off every slack is solved, not skipped: the part cut off is
de-energised (also where it keeps generation: with no slack nothing holds its
frequency), its load and generation are reported as lost (``lost_load_mw``,
``lost_gen_mw``), and an HVDC link with an end in it trips with it.

Post-contingency response
-------------------------
After a unit or an HVDC trip, or an outage that cuts load or generation off (or trips a
link with it), frequency containment shares each AC island's imbalance among the
island's generators by their participation factors, while the other HVDC links hold
their setpoints. The factor is the ``gen`` column ``participation`` where the network
has it and it is not NaN, else the unit's rating ``max_p_mw``, else its ``|p_mw|``. The
slack takes part by its ``participation`` or rating where it has one (a slack without a
rating, such as an ``ext_grid``, takes no share). Done without a distributed-slack
Jacobian: solve (after a unit or an HVDC trip, with the output lost already shared among
the island's units), measure how far each island's slack moved from its pre-contingency
output, share the island's total imbalance (what the slack took plus what the units
already moved) among the units by their factors within their ``min_p_mw``/``max_p_mw``
(a unit at a limit stops there and the rest is shared again; a unit already beyond a
limit does not move further beyond it), re-solve, and repeat until every slack is within
``response_tol_mw`` of its own share (it takes the rest where every unit is at a limit).
The imbalance depends on the moves through the losses; the rounds find where they agree
by secant steps. Where the response applies, the loss change is shared as well; an
outage that cuts no load or generation off only changes losses, and the slack takes
that change, as in :func:`gridsim.analysis.contingency.ac_contingency`.

Reactive limits
---------------
With ``enforce_q_limits`` a post-contingency solve starts from the base case's limit
state (:func:`solve_outage`'s ``warm_limits``, :func:`gridsim.run_ac`'s ``q_start``): a
unit or converter end the base case holds at a reactive limit stays held, as its limiter
stays on through the disturbance, unless its bus voltage moves to the side of its
setpoint where it regains control; then it is released and solved again. Where that
solve does not converge it is solved again with every controller free and the limits
found round by round, as :func:`gridsim.run_ac` does on its own.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridsim.analysis.contingency import _base_case
from gridsim.analysis.powerflow import run_ac
from gridsim.exceptions import GridsimError
from gridsim.model.compile import (
    EXT_GRID,
    GEN,
    HVDC_FROM,
    HVDC_TO,
    LINE,
    NONE,
    PQ,
    PV,
    REF,
    SGEN,
    TRAFO,
    CompiledNetwork,
)
from gridsim.model.network import Network, plain
from gridsim.model.topology import components
from gridsim.numerics.ybus import ybus_pattern
from gridsim.results import PowerFlowResult
from gridsim.solvers.newton import setpoint_start

__all__ = [
    "Outage",
    "OutageResult",
    "apply_outage",
    "exceptional_contingencies",
    "ordinary_contingencies",
    "scaled_view",
    "scaled_ydata",
    "solve_outage",
]

MAX_HANDED_BACK = 64
KINDS = {"line_circuit": "line", "line": "line", "trafo": "trafo", "hvdc": "hvdc", "gen": "gen"}
UNITS = ("all", "largest_per_area")


@dataclass(frozen=True)
class Outage:
    """One contingency: what is lost, and whether it is ordinary or exceptional.

    Attributes
    ----------
    kind : {"line_circuit", "line", "trafo", "hvdc", "gen"}
        ``"line_circuit"``: one circuit of a multi-circuit line; ``"line"``: all circuits
        of a line; ``"trafo"``: one unit of a transformer (all of it when it has one).
    element : str
        The element table: ``"line"``, ``"trafo"``, ``"hvdc"`` or ``"gen"``.
    id
        The element's id.
    circuits : int
        Circuits (transformer units) lost; 1 for HVDC links and units.
    parallel : int
        Circuits (units) the element has (its ``parallel``, rounded).
    circuit : int, optional
        Which circuit (unit), 1-based, for the loss of one of several; None otherwise.
    exceptional : bool
        True for an exceptional contingency (several circuits from one cause).
    """

    kind: str
    element: str
    id: Any
    circuits: int = 1
    parallel: int = 1
    circuit: int | None = None
    exceptional: bool = False

    def __post_init__(self):
        if KINDS.get(self.kind) != self.element:
            raise GridsimError(
                f"outage kind {self.kind!r} does not fit element {self.element!r}; kinds: "
                + ", ".join(f"{k} ({e})" for k, e in KINDS.items())
            )
        if not 1 <= self.circuits <= self.parallel:
            raise GridsimError(
                f"{self.element} {plain(self.id)!r}: {self.circuits} of {self.parallel} "
                "circuits lost is not possible"
            )

    @property
    def key(self) -> tuple:
        """``(element, id, circuits)``: what is lost. The outages of any one of a line's
        identical circuits share it (their post-contingency states are the same)."""
        return (self.element, self.id, self.circuits)

    @property
    def label(self) -> str:
        """Readable name, e.g. ``"line L_RO_06 (circuit 1 of 2)"``."""
        name = f"{self.element} {plain(self.id)}"
        part = "circuit" if self.element == "line" else "unit"
        if self.parallel == 1:
            return name
        if self.circuits == self.parallel:
            return f"{name} (all {self.parallel} {part}s)"
        if self.circuit is None:
            return f"{name} ({self.circuits} of {self.parallel} {part}s)"
        return f"{name} ({part} {self.circuit} of {self.parallel})"


@dataclass(frozen=True, eq=False)
class OutageResult:
    """The post-contingency state of one outage (:func:`solve_outage`).

    Attributes
    ----------
    outage : Outage
    power_flow : PowerFlowResult
        The solved post-contingency state, response included (on a view of the base
        compiled network for branch outages that cut nothing off, else on the compiled
        network of :func:`apply_outage`).
    status : {"converged", "diverged", "unsettled"}
        ``"diverged"``: a post-contingency power flow did not converge;
        ``"unsettled"``: it converged, but the response did not bring every slack within
        ``response_tol_mw`` of its share in ``max_rounds`` rounds.
    message : str
        Why, when the status is not ``"converged"``.
    lost_load_mw, lost_gen_mw : float
        Load and generation (pre-contingency output of ``gen`` and ``sgen``) of the buses
        the outage de-energised, MW.
    de_energised_buses : list
        Ids of the buses the outage cut off every slack.
    hvdc_tripped : list
        Ids of the HVDC links tripped because an end was de-energised.
    response_mw : pandas.Series
        Per energised in-service ``gen`` (the slack gens included): post-contingency
        minus pre-contingency output, MW.
    rounds : int
        Re-solves the response took (0 where it did not apply or nothing moved).
    slack_deviation_mw : float
        Largest distance of an island's slack from its own share at the end, MW (NaN
        where the response did not apply).
    notes : list of str
        What was de-energised or tripped, in words.
    """

    outage: Outage
    power_flow: PowerFlowResult
    status: str
    message: str
    lost_load_mw: float
    lost_gen_mw: float
    de_energised_buses: list
    hvdc_tripped: list
    response_mw: pd.Series
    rounds: int
    slack_deviation_mw: float
    notes: list[str]

    @property
    def converged(self) -> bool:
        return self.status == "converged"


# -- contingency lists --------------------------------------------------------------------
def _circuit_counts(network: Network, element: str, ids: np.ndarray) -> np.ndarray:
    """Whole numbers of circuits (units) of branches ``ids`` (at least 1)."""
    table = network.columns(element)
    parallel = table.parallel[table.index.get_indexer(ids)]
    return np.maximum(np.rint(parallel), 1).astype(np.int64)


def _branch_ids(cn: CompiledNetwork, code: int) -> np.ndarray:
    return cn.br_id[cn.br_kind == code]


def ordinary_contingencies(
    network: Network,
    *,
    units: str | None = "all",
    hvdc: bool = True,
    branches: bool = True,
) -> list[Outage]:
    """The ordinary contingencies of a network (see the module docstring).

    Parameters
    ----------
    network : Network
    units : {"all", "largest_per_area"} or None
        Generating units: every in-service, energised, non-slack ``gen``; or in each
        synchronous area (bus ``area``, else the AC island) the one with the largest
        ``p_mw`` (the first in table order on a tie); None: none.
    hvdc : bool
        Each in-service HVDC link.
    branches : bool
        One circuit of each line, one unit of each transformer.

    Returns
    -------
    list of Outage
        Lines, transformers, HVDC links, units, each in table order; a line of ``k``
        circuits gives ``k`` outages of one circuit (``circuit`` 1..k).
    """
    if units is not None and units not in UNITS:
        raise GridsimError(f"units must be one of {UNITS} or None, got {units!r}")
    cn = network.compile()
    out: list[Outage] = []
    if branches:
        for element, code, several in (("line", LINE, "line_circuit"), ("trafo", TRAFO, "trafo")):
            ids = _branch_ids(cn, code)
            for eid, k in zip(ids, _circuit_counts(network, element, ids), strict=True):
                k = int(k)
                if k == 1:
                    out.append(Outage(element, element, eid))
                else:
                    out += [Outage(several, element, eid, 1, k, c) for c in range(1, k + 1)]
    if hvdc:
        out += [Outage("hvdc", "hvdc", eid) for eid in cn.hvdc_id]
    if units is not None:
        out += [Outage("gen", "gen", eid) for eid in _units(network, cn, units)]
    return out


def _units(network: Network, cn: CompiledNetwork, units: str) -> list:
    """Ids of the units to trip, in gen table order."""
    on = (cn.inj_kind == GEN) & ~cn.inj_slack & (cn.bus_type[cn.inj_bus] != NONE)
    pos = np.flatnonzero(on)
    if units == "all":
        return list(cn.inj_id[pos])
    bus = network.columns("bus")
    bus_area = bus.area[bus.index.get_indexer(cn.bus_ids)]
    areas = [str(bus_area[b]) if bus_area[b] else f"island {cn.island[b]}" for b in cn.inj_bus[pos]]
    largest: dict[str, int] = {}
    for area, k in zip(areas, pos, strict=True):
        if area not in largest or cn.inj_p[k] > cn.inj_p[largest[area]]:
            largest[area] = k
    return list(cn.inj_id[np.sort(list(largest.values()))])


def exceptional_contingencies(network: Network) -> list[Outage]:
    """The exceptional contingencies: all circuits of each in-service line of two or
    more circuits (kind ``"line"``, ``exceptional=True``), in table order."""
    cn = network.compile()
    ids = _branch_ids(cn, LINE)
    return [
        Outage("line", "line", eid, int(k), int(k), exceptional=True)
        for eid, k in zip(ids, _circuit_counts(network, "line", ids), strict=True)
        if k > 1
    ]


# -- a branch scaled on the compiled network -------------------------------------------
def scaled_ydata(cn: CompiledNetwork, k: int, keep: float) -> np.ndarray:
    """Ybus's data array (on ``cn``'s pattern) with branch ``k`` scaled to ``keep``.

    Parameters
    ----------
    cn : CompiledNetwork
    k : int
        Position of the branch in the compiled branch list.
    keep : float
        Fraction of the branch left: ``(k - c) / k`` after losing ``c`` of ``k``
        circuits; 0 takes it out (then the same numbers as
        :func:`gridsim.analysis.contingency.outage_ydata`).

    Returns
    -------
    ndarray of complex
        A copy of ``cn.ydata`` less ``1 - keep`` of the branch's four admittances;
        entries that become zero stay in the pattern.
    """
    yff, yft, ytf, ytt = cn.branch_y()
    data = cn.ydata.copy()
    pos = cn.ypos[:, k]
    cut = 1.0 - keep
    data[pos[0]] -= cut * yff[k]
    data[pos[1]] -= cut * yft[k]
    data[pos[2]] -= cut * ytf[k]
    data[pos[3]] -= cut * ytt[k]
    return data


def _shared_solvers(cn: CompiledNetwork) -> dict:
    """The cache entries that depend on the Ybus pattern only (ordering, Newton solvers)."""
    return {
        key: value
        for key, value in cn._cache.items()
        if key == "bus_order" or (isinstance(key, tuple) and key[0] == "newton")
    }


def _release_caches(*networks: CompiledNetwork) -> None:
    """Empty the caches of compiled networks no later solve uses (an outage's view or
    copy, kept in its result; not those ``reuse`` keeps): the Newton solvers built for
    its own bus types hold numeric factors (about 2 MB each at 800 buses, the ones worth
    keeping handed back to the base network first), the rest is rebuilt on demand, and
    a checker keeps a thousand such results."""
    for net in networks:
        net._cache.clear()


def _hand_back(cn: CompiledNetwork, other: CompiledNetwork) -> None:
    """Give ``cn`` the Newton solvers ``other`` (same pattern) built, while ``cn``'s
    cache holds fewer than ``MAX_HANDED_BACK`` entries (each view copies them: one per
    set of PV and PQ buses, which the Q limits and unit trips make many)."""
    if len(cn._cache) >= MAX_HANDED_BACK:
        return
    for key, value in _shared_solvers(other).items():
        cn._cache.setdefault(key, value)


def scaled_view(cn: CompiledNetwork, k: int, keep: float) -> CompiledNetwork:
    """``cn`` with branch ``k`` scaled to ``keep``: same pattern and solvers.

    Series and shunt admittances scale by ``keep``, and so does the rating where
    ``keep > 0`` (a branch taken out keeps its rating: its loading is 0). The view's
    cache starts with the base's ordering and Newton solvers (shared objects), so
    solving it reuses their symbolic work.
    """
    ys, yf, yt = cn.br_ys.copy(), cn.br_yf.copy(), cn.br_yt.copy()
    ys[k] *= keep
    yf[k] *= keep
    yt[k] *= keep
    rate = cn.br_rate_mva.copy()
    if keep > 0:
        rate[k] *= keep
    return dataclasses.replace(
        cn,
        ydata=scaled_ydata(cn, k, keep),
        br_ys=ys,
        br_yf=yf,
        br_yt=yt,
        br_rate_mva=rate,
        _cache=_shared_solvers(cn),
    )


def _cut_off(cn: CompiledNetwork, k: int) -> np.ndarray:
    """Per bus: energised now, and in no island with a slack once branch ``k`` is out."""
    keep = np.arange(cn.n_branch) != k
    indptr, indices, _, _ = ybus_pattern(cn.n_bus, cn.br_f[keep], cn.br_t[keep])
    count, labels = components(indptr, indices)
    fed = np.zeros(count, dtype=bool)
    fed[labels[cn.bus_type == REF]] = True
    return (cn.bus_type != NONE) & ~fed[labels]


# -- applying an outage ---------------------------------------------------------------
def _check(network: Network, cn: CompiledNetwork, outage: Outage) -> tuple[int, float] | None:
    """Check ``outage`` against the network. For a branch outage: the branch's position
    and the fraction left, ``(parallel - circuits) / parallel``."""
    if not isinstance(outage, Outage):
        raise GridsimError(f"expected an Outage, got {outage!r}")
    name = f"{outage.element} {plain(outage.id)!r}"
    if outage.element in ("line", "trafo"):
        code = LINE if outage.element == "line" else TRAFO
        at = np.flatnonzero((cn.br_kind == code) & (cn.br_id == outage.id))
        if at.size == 0:
            raise GridsimError(f"not in-service branches: [{(outage.element, outage.id)!r}]")
        k = int(at[0])
        have = int(_circuit_counts(network, outage.element, np.array([outage.id]))[0])
        if have != outage.parallel:
            raise GridsimError(
                f"outage {outage.label!r} is for {outage.parallel} circuit(s); {name} has {have}"
            )
        table = network.columns(outage.element)
        parallel = float(table.parallel[table.index.get_loc(outage.id)])
        return k, (parallel - outage.circuits) / parallel
    if outage.element == "hvdc":
        if outage.id not in set(cn.hvdc_id):
            raise GridsimError(f"{name} is not an in-service HVDC link")
        return None
    units = cn.inj_kind == GEN
    at = np.flatnonzero(units & (cn.inj_id == outage.id))
    if at.size == 0:
        raise GridsimError(f"{name} is not an in-service unit")
    if cn.inj_slack[at[0]]:
        raise GridsimError(
            f"{name} is its island's slack and cannot be tripped; give the island another slack"
        )
    return None


def _outaged_copy(network: Network, cn: CompiledNetwork, outage: Outage):
    """The network after the outage, the cut-off part de-energised.

    Returns ``(copy, dead, tripped)``: ``dead`` marks the buses energised before and not
    after (``cn``'s bus order, which the copy keeps), ``tripped`` the HVDC links taken
    out with them. The copy is compiled (warnings about de-energised islands are the
    caller's to report).
    """
    out = network.copy()
    element, eid = outage.element, outage.id
    if element in ("line", "trafo") and outage.circuits < outage.parallel:
        table = out[element]
        parallel = table.at[eid, "parallel"]
        table.at[eid, "rate_mva"] *= (parallel - outage.circuits) / parallel
        table.at[eid, "parallel"] = parallel - outage.circuits
    else:
        out[element].at[eid, "in_service"] = False
    out.unsupplied_islands = "isolate"
    out.invalidate()
    post = _quiet_compile(out)
    dead = (post.bus_type == NONE) & (cn.bus_type != NONE)
    ends_dead = dead[post.hvdc_from] | dead[post.hvdc_to]
    tripped = list(post.hvdc_id[ends_dead])
    if tripped:
        out["hvdc"].loc[tripped, "in_service"] = False
        out.invalidate()
        _quiet_compile(out)
    return out, dead, tripped


def _quiet_compile(network: Network) -> CompiledNetwork:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return network.compile()


def apply_outage(
    network: Network, outage: Outage, *, result: OutageResult | None = None
) -> Network:
    """A copy of ``network`` with ``outage`` applied, to check a result by a fresh solve.

    A line or transformer that loses ``c`` of its ``k`` circuits gets ``parallel = k -
    c`` and ``rate_mva`` scaled by ``(k - c) / k``; losing all takes it out of service,
    as does an HVDC or unit trip. The copy's ``unsupplied_islands`` is ``"isolate"``, so
    a part cut off every slack is de-energised, and HVDC links with an end there are
    out of service.

    Parameters
    ----------
    network : Network
    outage : Outage
    result : OutageResult, optional
        :func:`solve_outage`'s (solved) result for this outage: the non-slack units
        then also get their post-response ``p_mw``, so that :func:`gridsim.run_ac` on
        the copy gives ``result.power_flow``'s state.

    Returns
    -------
    Network
    """
    cn = network.compile()
    _check(network, cn, outage)
    out, _, _ = _outaged_copy(network, cn, outage)
    if result is not None:
        if result.outage != outage:
            raise GridsimError(f"result is for {result.outage.label!r}, not {outage.label!r}")
        if result.status == "diverged":
            raise GridsimError(f"the result for {outage.label!r} did not converge")
        gen = out["gen"]
        moved = result.response_mw.index[~gen.slack.loc[result.response_mw.index].to_numpy()]
        gen.loc[moved, "p_mw"] += result.response_mw.loc[moved]
        out.invalidate()
    return out


# -- solving an outage ----------------------------------------------------------------
def solve_outage(
    network: Network,
    outage: Outage,
    *,
    base: PowerFlowResult | None = None,
    enforce_q_limits: bool = False,
    response: bool = True,
    tol_mva: float = 1e-8,
    max_iter: int = 30,
    response_tol_mw: float = 0.1,
    max_rounds: int = 5,
    reuse: dict | None = None,
    warm_limits: bool = True,
) -> OutageResult:
    """Solve the AC power flow after ``outage``, with the post-contingency response.

    A branch outage that cuts nothing off is solved on a view of the base compiled
    network with the branch scaled (:func:`scaled_view`); any other on the compiled
    network of :func:`apply_outage`. Every solve starts from the base-case voltages (or
    the last round's), with voltage-controlled buses at their setpoints. See the
    module docstring for islanding and the response.

    Parameters
    ----------
    network : Network
    outage : Outage
    base : PowerFlowResult, optional
        The pre-contingency AC solution of ``network`` (default: solved here from
        run_ac's default start with at least 30 iterations).
    enforce_q_limits : bool or {0, 1, 2}
        As for :func:`gridsim.run_ac` (base case and every post-contingency solve).
    response : bool
        Share the imbalance of a unit or HVDC trip, or of a part cut off with load or
        generation, among each island's units by participation (default); False: each
        island's slack takes it, as a plain :func:`gridsim.run_ac` would.
    tol_mva, max_iter
        As for :func:`gridsim.run_ac`, per solve.
    response_tol_mw : float
        The response stops once every island's slack is within this of its own share.
    max_rounds : int
        Re-solves the response may take.
    reuse : dict, optional
        A dict kept by the caller between calls on dispatches of one network (the same
        elements in service with the same parameters; only the ``p_mw`` and ``q_mvar``
        of units, loads and links differ): the compiled post-contingency network of an
        outage that needs one (a unit or HVDC trip, a cut) is kept there and given the
        next dispatch's injections instead of being copied and compiled again, and
        whether a branch outage cuts buses off is kept too. Same results.
    warm_limits : bool
        With ``enforce_q_limits``: every post-contingency solve starts with the voltage
        controllers ``base`` holds at a reactive limit held (:func:`gridsim.run_ac`'s
        ``q_start``), as their limiters stay on through the disturbance, and releases
        those whose voltage moves to the side where they regain control (default; on
        the 816-bus corridor model it takes a third of the Newton solves, and the
        voltages differ from ``False``'s by less than 5e-5 p.u. at 9 outages in 10, up
        to 0.004 p.u. where a different set of controllers ends at a limit). False:
        from the network's own bus types, every limit found again after the outage
        (as :func:`gridsim.run_ac` on the post-contingency network).

    Returns
    -------
    OutageResult

    Raises
    ------
    GridsimError
        For an outage of an element that is not in service, a slack unit, or a
        circuit count that does not match the network.
    ConvergenceError
        When ``base`` is not given and the base case does not converge.
    """
    cn = network.compile()
    branch = _check(network, cn, outage)
    rule = network.q_limit_rule
    options = dict(enforce_q_limits=enforce_q_limits, tol_mva=tol_mva, q_limit_rule=rule)
    if base is None:
        opts = {k: v for k, v in options.items() if k != "q_limit_rule"}
        base = _base_case(cn, network, {**opts, "max_iter": max_iter})
    elif base.v.shape != (cn.n_bus,):
        raise GridsimError(f"base has {base.v.size} buses; the network has {cn.n_bus}")

    dead = np.zeros(cn.n_bus, dtype=bool)
    tripped: list = []
    if branch is not None and (branch[1] > 0 or not _cuts(cn, branch[0], reuse)):
        post = scaled_view(cn, *branch)
    else:
        post, dead, tripped = _post_network(network, cn, outage, reuse)
    same_pattern = np.array_equal(post.indptr, cn.indptr) and np.array_equal(
        post.indices, cn.indices
    )
    if same_pattern:
        post._cache.update(_shared_solvers(cn))

    start = base if warm_limits else None

    def solve(c: CompiledNetwork, v: np.ndarray, last: PowerFlowResult | None = None):
        """Solve ``c`` from voltages ``v`` (a response round: from the ``last`` round's
        solution, its reactive limits too)."""
        v0 = setpoint_start(c, v)
        v0[c.bus_type == NONE] = 0.0
        q = start if last is None or start is None else last
        return run_ac(c, init=v0, max_iter=max_iter, q_start=q, **options)

    rounds, deviation = 0, np.nan
    settled = True
    lost_load, lost_gen, notes = _lost(cn, post, base, dead, tripped)
    imbalance = outage.element in ("gen", "hvdc") or lost_load or lost_gen or tripped
    known = _lost_output(cn, post, base, outage) if response and not dead.any() else None
    res = None if known is not None else solve(post, base.v)
    if response and imbalance and (res is None or res.converged):
        p_before = _on_injectors(cn, post, base.injector_p_mw)
        res, rounds, deviation, settled = _respond(
            network, post, p_before, res, solve, response_tol_mw, max_rounds, known, base.v
        )
    live = post.bus_type[post.inj_bus] != NONE
    units = np.flatnonzero((post.inj_kind == GEN) & live)
    before = _on_injectors(cn, post, base.injector_p_mw)[units]  # before the caches go
    if same_pattern:
        _hand_back(cn, post)
    kept = None if reuse is None else reuse.get(_post_key(outage))
    if kept is None or kept[0]._cache is not post._cache:  # solved once, kept by its result
        _release_caches(post, res.cn)

    if not res.converged:
        status = "diverged"
        during = f" (response round {rounds})" if rounds else ""
        message = (
            f"the AC power flow after the outage of {outage.label}{during} did not converge after "
            f"{res.iterations} iterations ({res.message}); largest mismatch "
            f"{res.max_mismatch_mva:.4g} MVA"
        )
    elif not settled:
        status = "unsettled"
        message = (
            f"the response to the outage of {outage.label} did not settle in {max_rounds} "
            f"rounds: a slack is {deviation:.3g} MW from its share"
        )
    else:
        status, message = "converged", ""
    after = res.injector_p_mw[units] if res.converged else np.nan
    return OutageResult(
        outage=outage,
        power_flow=res,
        status=status,
        message=message,
        lost_load_mw=lost_load,
        lost_gen_mw=lost_gen,
        de_energised_buses=list(cn.bus_ids[dead]),
        hvdc_tripped=tripped,
        response_mw=pd.Series(
            after - before, index=pd.Index(post.inj_id[units], name="id"), name="response_mw"
        ),
        rounds=rounds,
        slack_deviation_mw=deviation,
        notes=notes,
    )


def _lost_output(cn, post, base, outage) -> np.ndarray | None:
    """Per AC island of ``post``, the output (MW) a unit or an HVDC trip takes away
    from it (a link's two ends each from its own island): what the island's units must
    make up; None for other outages."""
    if outage.element == "gen":
        lost = (cn.inj_kind == GEN) & (cn.inj_id == outage.id)
    elif outage.element == "hvdc":
        lost = np.isin(cn.inj_kind, (HVDC_FROM, HVDC_TO)) & (cn.inj_id == outage.id)
    else:
        return None
    known = np.zeros(len(post.islands))
    for k in np.flatnonzero(lost):
        island = post.island[cn.inj_bus[k]]
        if post.bus_type[cn.inj_bus[k]] == NONE or island < 0:
            return None
        known[island] += base.injector_p_mw[k]
    return known


def _cuts(cn: CompiledNetwork, k: int, reuse: dict | None) -> bool:
    """Whether taking branch ``k`` out cuts buses off every slack (kept in ``reuse``)."""
    if reuse is None:
        return bool(_cut_off(cn, k).any())
    key = ("cuts", k)
    if key not in reuse:
        reuse[key] = bool(_cut_off(cn, k).any())
    return reuse[key]


def _post_key(outage: Outage) -> tuple:
    """The key of ``outage``'s compiled post-contingency network in ``reuse``."""
    return ("post", outage.element, outage.id, outage.circuits)


def _post_network(network: Network, cn: CompiledNetwork, outage: Outage, reuse: dict | None):
    """``(compiled post-contingency network, dead, tripped)`` of :func:`_outaged_copy`;
    with ``reuse``, compiled once per outage and then given ``cn``'s injections (units,
    loads, links) and the change of its voltage setpoints since (all a dispatch
    changes) for the next dispatches; compiled again where the bus shunts changed (a
    switched bank's steps)."""
    if outage.element == "gen":
        post = _unit_out(
            network, cn, int(np.flatnonzero((cn.inj_kind == GEN) & (cn.inj_id == outage.id))[0])
        )
        if post is not None:
            return post, np.zeros(cn.n_bus, dtype=bool), []
    key = _post_key(outage)
    kept = None if reuse is None else reuse.get(key)
    if kept is not None and not np.array_equal(kept[3][5], cn.ysh):
        kept = None  # its admittances hold other shunt steps
    if kept is None:
        out, dead, tripped = _outaged_copy(network, cn, outage)
        post = out.compile()
        if reuse is not None:
            maps = (
                _on_injectors(cn, post, np.arange(cn.inj_kind.size)),
                pd.Index(cn.load_id).get_indexer(post.load_id),
                pd.Index(cn.hvdc_id).get_indexer(post.hvdc_id),
                cn.bus_ids.get_indexer(post.bus_ids),
                cn.vm_set.copy(),
                cn.ysh.copy(),
            )
            reuse[key] = (post, dead, tripped, maps)
        return post, dead, tripped
    post, dead, tripped, (inj, load, link, bus, vm_then, _) = kept
    vm_set = post.vm_set
    if not np.array_equal(cn.vm_set, vm_then):  # the setpoints moved (same controllers)
        moved = np.where(bus >= 0, (cn.vm_set - vm_then)[np.maximum(bus, 0)], 0.0)
        vm_set = post.vm_set + np.where(np.isin(post.bus_type, (PV, REF)), moved, 0.0)
    fresh = dataclasses.replace(
        post,
        inj_p=cn.inj_p[inj],
        inj_q=cn.inj_q[inj],
        load_s=cn.load_s[load],
        hvdc_p=cn.hvdc_p[link],
        hvdc_loss=cn.hvdc_loss[link],
        vm_set=vm_set,
        _cache=post._cache,
    )
    return fresh, dead, tripped


INJECTOR_FIELDS = ("kind", "id", "bus", "p", "q", "pv", "slack", "qmin", "qmax", "weight")


def _unit_out(network: Network, cn: CompiledNetwork, i: int) -> CompiledNetwork | None:
    """``cn`` (compiled from ``network``) without injector ``i`` (a non-slack unit): what
    compiling the network with the unit out of service gives, without the copy and the
    compile. Its bus turns PQ (setpoint 1 p.u.) where the unit was its only voltage
    controller; where others control it too, it keeps its type, and its setpoint is
    the one of the controller of highest precedence left (compile's rule: an ext_grid,
    else the last in table order; its own setpoint read from its table). None where
    that controller's setpoint cannot be read (not a unit or a converter end)."""
    bus = cn.inj_bus[i]
    keep = np.arange(cn.inj_kind.size) != i
    others = np.flatnonzero(keep & cn.inj_pv & (cn.inj_bus == bus))
    bus_type, vm_set = cn.bus_type, cn.vm_set
    if cn.inj_pv[i] and others.size:
        if ((cn.inj_kind[others] != EXT_GRID) & (others < i)).all():  # it set the setpoint
            vm_next = _own_setpoint(network, cn, int(others.max()))
            if vm_next is None:
                return None
            vm_set = vm_set.copy()
            vm_set[bus] = vm_next
    fields = {f"inj_{name}": getattr(cn, f"inj_{name}")[keep] for name in INJECTOR_FIELDS}
    if cn.inj_pv[i] and not others.size:
        bus_type, vm_set = bus_type.copy(), vm_set.copy()
        bus_type[bus], vm_set[bus] = PQ, 1.0
    cache = _shared_solvers(cn)
    cache["base_injectors"] = np.flatnonzero(keep)
    return dataclasses.replace(cn, bus_type=bus_type, vm_set=vm_set, _cache=cache, **fields)


_SETPOINT_COLUMNS = {
    GEN: ("gen", "vm_pu"),
    HVDC_FROM: ("hvdc", "vm_from_pu"),
    HVDC_TO: ("hvdc", "vm_to_pu"),
}


def _own_setpoint(network: Network, cn: CompiledNetwork, k: int) -> float | None:
    """The voltage setpoint injector ``k`` of ``cn`` holds in its table (a unit or a
    converter end; None for another kind)."""
    where = _SETPOINT_COLUMNS.get(int(cn.inj_kind[k]))
    if where is None:
        return None
    table = network.columns(where[0])
    return float(getattr(table, where[1])[table.index.get_loc(cn.inj_id[k])])


def _on_injectors(cn: CompiledNetwork, post: CompiledNetwork, values: np.ndarray) -> np.ndarray:
    """Per-injector ``values`` of ``cn`` on ``post``'s injectors (matched by kind and id)."""
    if post.inj_kind is cn.inj_kind:  # a view: the same injectors
        return values
    rows = post._cache.get("base_injectors")  # post's own cache: made for this base
    if rows is None:
        where = {key: n for n, key in enumerate(zip(cn.inj_kind, cn.inj_id, strict=True))}
        rows = [where[key] for key in zip(post.inj_kind, post.inj_id, strict=True)]
        rows = post._cache["base_injectors"] = np.asarray(rows, dtype=np.int64)
    return values[rows]


def _lost(cn, post, base, dead, tripped):
    """Lost load and generation (MW) of the de-energised buses, and notes on them."""
    lost_load = float(cn.load_s.real[dead[cn.load_bus]].sum())
    units = np.isin(cn.inj_kind, (GEN, SGEN))
    gen_p = np.where(units & dead[cn.inj_bus], base.injector_p_mw, 0.0)
    notes = []
    if dead.any():
        _, labels = components(post.indptr, post.indices)
        for label in np.unique(labels[dead]):
            part = dead & (labels == label)
            ids = ", ".join(repr(plain(b)) for b in cn.bus_ids[part][:5])
            more = f" and {part.sum() - 5} more" if part.sum() > 5 else ""
            load = cn.load_s.real[part[cn.load_bus]].sum()
            gen = gen_p[part[cn.inj_bus]].sum()
            keeps = f"; it keeps {gen:.6g} MW of generation but no slack" if gen else ""
            notes.append(
                f"{part.sum()} bus(es) ({ids}{more}) cut off every slack: de-energised, "
                f"{load:.6g} MW of load and {gen:.6g} MW of generation lost{keeps}"
            )
    for link in tripped:
        notes.append(f"hvdc {plain(link)!r} tripped: a converter end is de-energised")
    return lost_load, float(gen_p.sum()), notes


# -- the response ---------------------------------------------------------------------
def _weights(network: Network, element: str, ids: np.ndarray, fallback: np.ndarray):
    """Participation factors of ``ids`` in table ``element``: ``participation``, else
    ``max_p_mw``, else ``fallback``; with the units' P limits (±inf where not given)."""
    index, columns = network.compile().memo(
        f"participation-{element}", (network,), lambda: _participation_columns(network, element)
    )
    rows = index.get_indexer(ids)

    def column(name):
        return columns[name][rows]

    given, rating = column("participation"), column("max_p_mw")
    w = np.where(np.isnan(given), np.where(np.isnan(rating), fallback, rating), given)
    if (w < 0).any():
        bad = ids[np.flatnonzero(w < 0)[0]]
        raise GridsimError(f"{element} {plain(bad)!r}: negative participation factor")
    lo, hi = column("min_p_mw"), rating
    return w, np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)


def _participation_columns(network: Network, element: str):
    """The table's index and its ``participation``, ``max_p_mw`` and ``min_p_mw`` as float
    arrays (NaN where a column is absent): what :func:`_weights` reads, once per
    network (kept with its compiled arrays, which an edit drops)."""
    table = network.columns(element)
    n = len(table.index)
    columns = {
        name: (
            np.asarray(table.cols[name], dtype=float) if name in table.cols else np.full(n, np.nan)
        )
        for name in ("participation", "max_p_mw", "min_p_mw")
    }
    return pd.Index(table.index), columns


def _share(total: float, w, down, up, w_slack: float) -> np.ndarray:
    """Moves of the units sharing ``total`` MW by weights ``w`` with the slack (weight
    ``w_slack``), each within ``[down, up]``; the slack takes what is left."""
    moves = np.zeros(w.size)
    free = w > 0
    rest = total
    while free.any():
        wsum = w[free].sum() + w_slack
        trial = rest * w / wsum
        hit = free & ((trial > up) | (trial < down))
        if not hit.any():
            moves[free] = trial[free]
            break
        moves[hit] = np.clip(trial[hit], down[hit], up[hit])
        rest -= moves[hit].sum()
        free &= ~hit
    return moves


SECANT_GROWTH = 4.0  # a response round's secant step: at most this times the plain one


def _respond(network, post, p_before, res, solve, tol_mw, max_rounds, known=None, v0=None):
    """Share each island's imbalance by participation (module docstring).

    ``known`` (per island of ``post``, MW): an imbalance known before any solve (the
    output of a unit or a link end lost), shared among the units before the first
    solve, from ``v0`` (``res`` is then None), so that the rounds are left the change
    of the losses only; where that solve does not converge, the slack takes it all
    first, as it does without ``known``.

    Returns ``(result, rounds, slack deviation from its share, settled)``.
    """
    live = post.bus_type[post.inj_bus] != NONE
    island = post.island[post.inj_bus]
    units = np.flatnonzero((post.inj_kind == GEN) & ~post.inj_slack & live)
    p0 = post.inj_p[units]
    w, lo, hi = _weights(network, "gen", post.inj_id[units], np.abs(p0))
    down, up = np.minimum(lo - p0, 0.0), np.maximum(hi - p0, 0.0)
    slacks = np.flatnonzero(post.inj_slack & live)
    w_slack = np.zeros(slacks.size)
    for kind, element in ((GEN, "gen"), (EXT_GRID, "ext_grid")):
        m = post.inj_kind[slacks] == kind
        if m.any():
            w_slack[m] = _weights(network, element, post.inj_id[slacks[m]], np.zeros(m.sum()))[0]
    unit_island, slack_island = island[units], island[slacks]

    n_islands = len(post.islands)
    guess = np.zeros(n_islands)  # per island: the imbalance the moves were shared from
    before = None  # the previous round's guess and gap, for the secant step
    moves = np.zeros(units.size)
    if known is not None:
        shared = np.zeros(units.size)
        for i in range(n_islands):
            u, s = unit_island == i, slack_island == i
            shared[u] = _share(known[i], w[u], down[u], up[u], w_slack[s].sum())
        p = post.inj_p.copy()
        p[units] += shared
        res = solve(dataclasses.replace(post, inj_p=p, _cache=post._cache), v0)
        if res.converged:
            guess, moves = np.asarray(known, dtype=float).copy(), shared
        else:
            res = solve(post, v0)
            if not res.converged:
                return res, 0, np.nan, False
    for rounds in range(max_rounds + 1):
        p_now = res.injector_p_mw
        imbalance = np.zeros(n_islands)
        deviation = 0.0
        for i in range(n_islands):
            u, s = unit_island == i, slack_island == i
            imbalance[i] = (p_now[slacks[s]] - p_before[slacks[s]]).sum() + moves[u].sum()
            due = _share(imbalance[i], w[u], down[u], up[u], w_slack[s].sum())
            deviation = max(deviation, abs(due.sum() - moves[u].sum()))
        if deviation < tol_mw or rounds == max_rounds:
            return res, rounds, deviation, deviation < tol_mw
        # the imbalance depends on the moves through the losses: find where it equals
        # the guess by secant steps (the first one, and any without slope, take it as is)
        gap = imbalance - guess
        step = gap.copy()
        if before is not None:
            d_guess, d_gap = guess - before[0], gap - before[1]
            slope = (d_guess != 0) & (d_gap != 0)
            secant = np.zeros_like(gap)
            secant[slope] = -gap[slope] * d_guess[slope] / d_gap[slope]
            # a secant on a nearly flat gap can throw the units far off (a response
            # round of a Turkish outage diverged at 5e12 MVA): at most SECANT_GROWTH
            # times the plain step
            sane = slope & (np.abs(secant) <= SECANT_GROWTH * np.abs(gap) + tol_mw)
            step[sane] = secant[sane]
        before = (guess, gap)
        last = res
        for attempt in (step, gap):  # the plain step where the secant one fails
            trial = guess + attempt
            for i in range(n_islands):
                u, s = unit_island == i, slack_island == i
                moves[u] = _share(trial[i], w[u], down[u], up[u], w_slack[s].sum())
            p = post.inj_p.copy()
            p[units] += moves
            res = solve(dataclasses.replace(post, inj_p=p, _cache=post._cache), last.v, last)
            if res.converged or np.array_equal(attempt, gap):
                break
        guess = trial
        if not res.converged:
            return res, rounds + 1, deviation, False
