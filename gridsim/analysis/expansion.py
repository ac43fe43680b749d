"""The least-cost reinforcement path to each export target (issue 20).

For each target ``T`` (MW of N-1 transfer capability from ``source`` to ``sink``),
:func:`expansion_path` finds the cheapest set ``S`` of candidate projects (a
:class:`~gridsim.io.candidates.CandidateTable`) with ``TTC(S) >= T`` in every snapshot,
where ``TTC`` is :func:`gridsim.n1_ttc` on the network with ``S`` built (its
``total_change_mw``: the transfer on top of the snapshot's setpoints, the secured base
case's moves of the joining links counted): the AC-verified N-1 TTC from a secured base
case, with the joining HVDC links and redispatch optimised
by successive linearised security-constrained LPs (HiGHS). Each set's base case is
secured from the snapshot's own secured base case (``secured_base(..., start=...)``):
the snapshot's secured dispatch is kept where it holds every limit with the set built,
and the LP rounds go on from it where not, so a set is judged at the operating point of
the grid it reinforces, not at one its own securing happened to find.

Method: a combinatorial Benders decomposition. The master problem is a 0/1 program
(HiGHS through ``highspy``)::

    min  sum_i cost_i x_i                    x_i = 1: project i is built
    s.t. x_i <= x_j                          i depends on j
         x_i + x_j <= 1                      i and j exclude each other
         x_i = 0                             i not available by ``year``
         cuts                                (below)

Its optimum ``S`` is checked by the subproblem, the AC N-1 TTC of the network with
``S`` built, in every snapshot. Where ``min TTC(S) >= T`` the search ends: every cheaper
set was cut off by a check that failed, so ``S`` is the least-cost set. Otherwise ``S`` is
cut off and the master solved again. Adding controllable capacity or raising a rating
never lowers the TTC with optimal controls (issue 17, within the TTC's search tolerance
``max(tol_mw, rel_tol TTC)``; "monotone" projects, :attr:`Candidate.monotone`), so a set
whose TTC is below the target by more than that tolerance cuts off with it every subset
that differs from it only by monotone projects::

    sum_(i not in S) x_i + sum_(i in S, i not monotone) (1 - x_i) >= 1

A set below the target by less than the tolerance is cut off alone (its subsets may
reach the target within the search's own noise), and so is a set whose AC power flow
failed (a :class:`~gridsim.exceptions.ConvergenceError` in ``n1_ttc``: no claim on
other sets). An AC line may lower the TTC, so removing one from ``S`` stays open: exact,
but where many projects are AC lines the number of AC checks grows quickly;
``assume_monotone=True`` takes every project as monotone (far fewer checks, exact only
where that holds). Either way the set found is then checked for minimality in AC: each
project whose removal keeps every dependency is removed in turn and the rest checked;
a rest that still reaches the target replaces the set (this happens only where the
assumption failed).

Sets checked for one target are remembered for the next (a set below ``T`` is below any
larger target). The search starts with no project and with every largest compatible set
(one per choice among mutually exclusive projects). A target that no set not cut off
can reach is "unreachable", and the reason given is the best set checked: its TTC and
the limit a step beyond it breaks, or "base case cannot be secured" (with
:func:`gridsim.n1_ttc`'s residual violation) where no dispatch makes even that network's
base case N-1 secure. A tie in cost goes to the set with fewer projects. Costs are
compared as given (MEUR); a set reaches a target when its TTC, found to within
``n1_ttc``'s search tolerance, is at least the target.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import time
from collections.abc import Iterable, Mapping, Sequence

import highspy
import numpy as np
import pandas as pd

from gridsim.analysis.scopf.lp import _QuietHighs
from gridsim.analysis.ttc import BASE_OPTIONS, SecuredBase, TtcResult, n1_ttc, secured_base
from gridsim.exceptions import ConvergenceError, GridsimError
from gridsim.io.candidates import (
    Candidate,
    CandidateTable,
    apply_candidates,
    candidate_table,
    read_candidates,
)
from gridsim.model.network import Network

__all__ = ["ExpansionError", "ExpansionResult", "TargetPlan", "expansion_path"]

MAX_EXCLUSIVE = 12  # projects in exclusion pairs enumerated for the largest sets
TIE_MEUR = 1e-6  # per project: equal costs go to the set with fewer projects
_TTC_DEFAULTS = inspect.signature(n1_ttc).parameters  # its search tolerance


class ExpansionError(GridsimError, ValueError):
    """Bad input to :func:`expansion_path` (targets, snapshots, options)."""


@dataclasses.dataclass
class TargetPlan:
    """The least-cost path to one export target.

    Attributes
    ----------
    target_mw : float
    status : str
        ``"reached"`` (with no project: ``"reached today"``), ``"unreachable"`` or
        ``"search limit"`` (``max_checks`` spent before an answer).
    projects : list of str
        The chosen projects in build order (each after the projects it needs, then by
        earliest year and cost).
    cost_meur : float
        Their total cost (NaN where the target is not reached).
    ttc_mw : float
        The transfer reached on top of each snapshot's setpoints
        (:attr:`gridsim.TtcResult.total_change_mw`: what its secured base case sends over
        the joining links beyond them, and the N-1 TTC), the smallest over the snapshots
        (for an unreachable target, of the best set checked).
    ttc_by_snapshot : dict
    binding : str
        What limits next (the limit a step beyond the TTC breaks, in the snapshot with
        the smallest TTC), or why the target is out of reach.
    """

    target_mw: float
    status: str
    projects: list
    cost_meur: float
    ttc_mw: float
    ttc_by_snapshot: dict
    binding: str

    @property
    def reached(self) -> bool:
        return self.status.startswith("reached")


@dataclasses.dataclass
class ExpansionResult:
    """Outcome of :func:`expansion_path`.

    Attributes
    ----------
    source, sink : str
    plans : list of TargetPlan
        In the order of the targets given.
    checks : pandas.DataFrame
        Every set checked in AC: ``projects`` (comma-separated), ``cost_meur``,
        ``ttc_mw`` (smallest over the snapshots; NaN where not defined), one
        ``ttc_mw:<snapshot>`` column per snapshot, ``status`` (n1_ttc's, of the worst
        snapshot, or ``"failed"`` where its AC power flow did not converge) and
        ``limit`` (what limits it, or why it is not defined).
    candidates : CandidateTable
    year : int or None
        Projects with a later ``earliest_year`` were left out.
    left_out : list of str
        Those projects.
    elapsed_s : float
    """

    source: str
    sink: str
    plans: list
    checks: pd.DataFrame
    candidates: CandidateTable
    year: int | None
    left_out: list
    elapsed_s: float

    @property
    def table(self) -> pd.DataFrame:
        """One row per target: ``target_mw``, ``status``, ``projects`` (build order,
        comma-separated), ``cost_meur``, ``ttc_mw``, ``binding``."""
        rows = [
            {
                "target_mw": p.target_mw,
                "status": p.status,
                "projects": ", ".join(p.projects),
                "cost_meur": p.cost_meur,
                "ttc_mw": p.ttc_mw,
                "binding": p.binding,
            }
            for p in self.plans
        ]
        return pd.DataFrame(rows).set_index("target_mw")


def _snapshots(network) -> dict[str, Network]:
    """Snapshot name -> network (a list's by scenario name, else by position)."""
    if isinstance(network, Network):
        network = [network]
    if isinstance(network, Mapping):
        snaps = {str(k): v for k, v in network.items()}
    elif isinstance(network, Sequence):
        names = [str(getattr(n, "scenario", None) or i) for i, n in enumerate(network)]
        if len(set(names)) < len(names):
            names = [str(i) for i in range(len(names))]
        snaps = dict(zip(names, network, strict=True))
    else:
        snaps = {}
    if not snaps or not all(isinstance(n, Network) for n in snaps.values()):
        raise ExpansionError("network must be a Network, or a non-empty list or mapping of them")
    return snaps


def _table(candidates) -> CandidateTable:
    if isinstance(candidates, CandidateTable):
        return candidates
    if isinstance(candidates, str) or hasattr(candidates, "__fspath__"):
        return read_candidates(candidates)
    return candidate_table(candidates)


def _build_order(chosen: Iterable[Candidate]) -> list[Candidate]:
    """Each project after the projects it needs, then by earliest year, cost and id."""
    left = {c.id: c for c in chosen}
    order: list[Candidate] = []
    while left:
        ready = [c for c in left.values() if not set(c.depends_on) & set(left)]
        first = min(ready, key=lambda c: (c.earliest_year or 0, c.cost_meur, c.id))
        order.append(first)
        del left[first.id]
    return order


def _largest_sets(cands: list[Candidate], allowed: np.ndarray) -> list[frozenset[int]]:
    """Every largest set of allowed projects compatible with the exclusions and
    dependencies (one per choice among the mutually exclusive projects; none where more
    than :data:`MAX_EXCLUSIVE` projects exclude others)."""
    index = {c.id: i for i, c in enumerate(cands)}
    pairs = {
        tuple(sorted((index[c.id], index[e])))
        for c in cands
        for e in c.excludes
        if allowed[index[c.id]] and allowed[index[e]]
    }
    clash = sorted({i for p in pairs for i in p})
    if len(clash) > MAX_EXCLUSIVE:
        return []
    free = {i for i in range(len(cands)) if allowed[i]} - set(clash)
    found = set()
    for pick in itertools.product((False, True), repeat=len(clash)):
        chosen = {i for i, b in zip(clash, pick, strict=True) if b}
        if any(a in chosen and b in chosen for a, b in pairs):
            continue  # two exclusive projects
        found.add(frozenset(_closed(cands, index, free | chosen)))
    return sorted((s for s in found if not any(s < t for t in found)), key=sorted)


def _closed(cands: list[Candidate], index: dict, members: set[int]) -> set[int]:
    """``members`` less every project whose dependencies are not all in it."""
    members = set(members)
    while True:
        drop = {i for i in members if any(index[d] not in members for d in cands[i].depends_on)}
        if not drop:
            return members
        members -= drop


class _Master:
    """The 0/1 master problem over the projects (HiGHS)."""

    def __init__(self, cands: list[Candidate], allowed: np.ndarray, assume_monotone: bool):
        self.n = len(cands)
        self.monotone = [assume_monotone or c.monotone for c in cands]
        self.cut_off: set[tuple[frozenset[int], bool]] = set()
        self.h = _QuietHighs()
        for i, c in enumerate(cands):
            self.h.addVar(0.0, 1.0 if allowed[i] else 0.0)
            self.h.changeColCost(i, c.cost_meur + TIE_MEUR)
            self.h.changeColIntegrality(i, highspy.HighsVarType.kInteger)
        index = {c.id: i for i, c in enumerate(cands)}
        for i, c in enumerate(cands):
            for dep in c.depends_on:
                self._row(-highspy.kHighsInf, 0.0, {i: 1.0, index[dep]: -1.0})
            for other in c.excludes:
                self._row(-highspy.kHighsInf, 1.0, {i: 1.0, index[other]: 1.0})

    def _row(self, lower: float, upper: float, coefs: dict[int, float]) -> None:
        idx = np.array(list(coefs), dtype=np.int32)
        val = np.array(list(coefs.values()), dtype=float)
        self.h.addRow(lower, upper, len(idx), idx, val)

    def cut(self, members: frozenset[int], *, subsets: bool) -> None:
        """Cut off ``members``; with ``subsets``, every subset that lacks only monotone
        projects too."""
        if (members, subsets) in self.cut_off:
            return
        self.cut_off.add((members, subsets))
        coefs = {i: 1.0 for i in range(self.n) if i not in members}
        hard = [i for i in members if not (subsets and self.monotone[i])]
        coefs.update({i: -1.0 for i in hard})
        self._row(1.0 - len(hard), highspy.kHighsInf, coefs)

    def solve(self) -> frozenset[int] | None:
        """The cheapest set not cut off, or None where every set is."""
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(self.h.getSolution().col_value)
        return frozenset(int(i) for i in np.flatnonzero(x > 0.5))


def expansion_path(
    network: Network | Sequence[Network] | Mapping[str, Network],
    source,
    sink,
    targets_mw: Iterable[float],
    candidates,
    *,
    year: int | None = None,
    assume_monotone: bool = False,
    max_checks: int = 200,
    progress=None,
    **ttc_options,
) -> ExpansionResult:
    """The least-cost set of candidate projects whose AC-verified N-1 TTC reaches each
    export target (see the module docstring for the method).

    Parameters
    ----------
    network : Network, or a list or mapping of Networks
        The snapshots (e.g. scenarios or hours of one year); a plan must reach its
        target in each. Not modified.
    source, sink : str
        Zone codes or group names, as :func:`gridsim.n1_ttc`.
    targets_mw : iterable of float
        Export targets, MW of N-1 transfer on top of each snapshot's own setpoints
        (:attr:`gridsim.TtcResult.total_change_mw`: TTC = BCE + dE, the secured base
        case's joining-link moves counted).
    candidates : CandidateTable, path of a candidate file, or iterable of Candidate or
        records
        The projects (:mod:`gridsim.io.candidates`).
    year : int, optional
        Leave out projects whose ``earliest_year`` is later.
    assume_monotone : bool
        Take every project, AC lines too, not to lower the TTC by more than the
        search tolerance: stronger cuts, far fewer AC checks where many projects are AC
        lines, exact only where the assumption holds (the minimality check still
        removes each chosen project in AC). Default False: only HVDC and rating
        projects (:attr:`Candidate.monotone`).
    max_checks : int
        Largest number of candidate sets checked in AC (each is one :func:`n1_ttc`
        per snapshot); a target not settled by then has status ``"search limit"``.
    progress : callable, optional
        Called with one line of text per set checked.
    **ttc_options
        Passed to :func:`gridsim.n1_ttc` (e.g. ``emergency_rating_percent``,
        ``redispatch_areas``, ``set_aside_insecure``).

    Returns
    -------
    ExpansionResult

    Raises
    ------
    ExpansionError
        For bad targets, snapshots or options.
    InvalidNetworkError
        For a project whose edits a snapshot cannot take (naming the candidate file and
        the project).
    """
    start = time.perf_counter()
    snaps = _snapshots(network)
    table = _table(candidates)
    targets = [float(t) for t in targets_mw]
    if not targets or not all(np.isfinite(t) and t >= 0 for t in targets):
        raise ExpansionError(f"targets must be non-negative numbers of MW, got {targets!r}")
    if not (isinstance(max_checks, int) and max_checks >= 1):
        raise ExpansionError(f"max_checks must be a positive whole number, got {max_checks!r}")
    cands = list(table)
    for cand in cands:  # every edit fits every snapshot, before anything is solved
        for net in snaps.values():
            cand.apply(net, table.source)
    allowed = np.array([year is None or (c.earliest_year or 0) <= year for c in cands])
    master = _Master(cands, allowed, assume_monotone)
    checked: dict[frozenset[int], _Checked] = {}
    base_options = {k: v for k, v in ttc_options.items() if k in BASE_OPTIONS}
    parents: dict[str, SecuredBase | None] = {}  # per snapshot, with no project built

    def secured(name: str, built_net: Network, members: frozenset[int]) -> SecuredBase:
        """The base case of ``built_net`` secured from the snapshot's own secured base
        case (its dispatch, then LP rounds only where that fails): a set is compared with
        the grid it reinforces at the same operating point."""
        if name not in parents:
            try:
                parents[name] = secured_base(snaps[name], **base_options)
            except ConvergenceError:
                parents[name] = None  # each set secured from its own dispatch
        parent = parents[name]
        if not members and parent is not None:
            return parent
        return secured_base(built_net, start=parent, **base_options)

    def check(members: frozenset[int]) -> _Checked:
        if members not in checked:
            built = _build_order([cands[i] for i in members])
            worst = None
            values = {}
            for name, net in snaps.items():
                built_net = apply_candidates(net, built, table.source)
                try:
                    base = secured(name, built_net, members)
                    r = n1_ttc(built_net, source, sink, base=base, **ttc_options)
                except ConvergenceError as exc:  # a failed solve: no claim on other sets
                    one = _Checked(-np.inf, {}, "failed", f"{name}: {exc}", failed=True)
                    values[name] = np.nan
                else:
                    # on top of the snapshot's setpoints (TTC = BCE + dE): each set's base
                    # case is secured for itself and may move the joining links
                    reached = r.total_change_mw
                    value = reached if np.isfinite(reached) else -np.inf
                    values[name] = reached
                    one = _Checked(value, {}, r.status, _limit(r))
                if worst is None or one.value < worst.value:
                    worst = one
            checked[members] = dataclasses.replace(worst, values=values)
            if progress is not None:
                ids = ", ".join(c.id for c in built) or "no project"
                progress(f"checked {ids}: N-1 TTC {_mw(worst.value)}")
        return checked[members]

    tol_mw = ttc_options.get("tol_mw", _TTC_DEFAULTS["tol_mw"].default)
    rel_tol = ttc_options.get("rel_tol", _TTC_DEFAULTS["rel_tol"].default)

    def slack(value: float) -> float:
        return max(tol_mw, rel_tol * value) if np.isfinite(value) else 0.0

    def budget_left() -> bool:
        return len(checked) < max_checks

    seeds = [frozenset()] + _largest_sets(cands, allowed)
    for members in seeds[:max_checks]:
        check(members)
    plans: dict[float, TargetPlan] = {}
    for target in sorted(set(targets)):  # a set cut off for a target stays cut off
        plans[target] = _plan(target, master, checked, check, budget_left, cands, slack, seeds[1:])
    elapsed = time.perf_counter() - start
    rows = []
    for members, c in checked.items():
        built = _build_order([cands[i] for i in members])
        rows.append(
            {
                "projects": ", ".join(p.id for p in built),
                "cost_meur": sum(p.cost_meur for p in built),
                "ttc_mw": _finite(c.value),
                **{f"ttc_mw:{k}": v for k, v in c.values.items()},
                "status": c.status,
                "limit": c.note,
            }
        )
    return ExpansionResult(
        source=str(source),
        sink=str(sink),
        plans=[plans[t] for t in targets],
        checks=pd.DataFrame(rows),
        candidates=table,
        year=year,
        left_out=[c.id for c, ok in zip(cands, allowed, strict=True) if not ok],
        elapsed_s=elapsed,
    )


def _plan(target, master, checked, check, budget_left, cands, slack, largest) -> TargetPlan:
    """Master and AC checks until the cheapest set not cut off reaches ``target``."""
    while True:
        for members, c in list(checked.items()):
            if c.value < target:  # below the target; its subsets too, beyond the tolerance
                master.cut(members, subsets=not c.failed and c.value + slack(c.value) < target)
        members = master.solve()
        if members is None:
            best = max(checked, key=lambda m: (checked[m].value, len(m)))
            c = checked[best]
            ids = _describe(best, cands, largest)
            if np.isfinite(c.value):
                why = f"best set checked ({ids}) reaches {_mw(c.value)}; {c.note}"
            else:
                why = f"with {ids}: {c.note}"
            return TargetPlan(target, "unreachable", [], np.nan, _finite(c.value), c.values, why)
        if members not in checked and not budget_left():
            return TargetPlan(
                target,
                "search limit",
                [],
                np.nan,
                np.nan,
                {},
                "max_checks sets checked (raise it, or assume every project monotone)",
            )
        c = check(members)
        if c.value >= target:
            members, c = _minimal(members, target, checked, check, budget_left, cands)
            built = _build_order([cands[i] for i in members])
            return TargetPlan(
                target,
                "reached" if built else "reached today",
                [p.id for p in built],
                float(sum(p.cost_meur for p in built)),
                c.value,
                c.values,
                c.note,
            )


def _describe(members: frozenset[int], cands: list[Candidate], largest) -> str:
    """The projects of a set, in build order; a largest compatible set as "every
    project", with its choice among the mutually exclusive ones."""
    if members in largest and len(largest) > 1:
        shared = frozenset.intersection(*largest)
        choice = ", ".join(cands[i].id for i in sorted(members - shared))
        return f"every project, of the exclusive ones {choice}"
    if members in largest:
        return "every project"
    return ", ".join(p.id for p in _build_order([cands[i] for i in members])) or "no project"


def _minimal(members, target, checked, check, budget_left, cands):
    """``members`` (reaching ``target``) less projects, one at a time, while a set
    without one (that keeps every dependency) still reaches it in AC: each chosen
    project is checked to be needed. Under the cuts' assumptions nothing is removed."""
    c = check(members)
    shrunk = True
    while shrunk:
        shrunk = False
        for i in sorted(members, key=lambda i: -cands[i].cost_meur):
            rest = members - {i}
            if any(cands[i].id in cands[j].depends_on for j in rest):
                continue  # another chosen project needs it
            if rest not in checked and not budget_left():
                return members, c
            c_rest = check(rest)
            if c_rest.value >= target:
                members, c, shrunk = rest, c_rest, True
                break
    return members, c


@dataclasses.dataclass(frozen=True)
class _Checked:
    """One candidate set checked in AC: its smallest TTC over the snapshots (-inf where
    not defined), per snapshot, n1_ttc's status and what limits (of the worst snapshot);
    ``failed``: a power flow did not converge."""

    value: float
    values: dict
    status: str
    note: str
    failed: bool = False


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else np.nan


def _limit(r: TtcResult) -> str:
    """What binds one step beyond ``r``'s TTC (else the LP's binding limit, else why the
    TTC is not defined)."""
    if len(r.next_step):
        row = r.next_step.iloc[0]
        return "next limit: " + _named(row.kind, row.element, row.id, row.contingency)
    if r.binding is not None:
        b = r.binding
        return "binding: " + _named(b["kind"], b["element"], b["id"], b["contingency"])
    return r.message


def _named(kind, element, eid, contingency) -> str:
    text = f"{element} {eid}" if kind == element else f"{kind} {element} {eid}"
    return text + (f" after the outage of {contingency}" if contingency else "")


def _mw(value: float) -> str:
    return f"{value:.6g} MW" if np.isfinite(value) else "not defined"
