"""AC N-1 contingency analysis: one full Newton-Raphson power flow per branch outage.

The network is compiled once. A branch outage changes four entries of Ybus (the
branch's ``Yff, Yft, Ytf, Ytt``), never its pattern: each outage subtracts those four
admittances from a copy of the data array and solves on the *same* pattern, so the
Jacobian pattern, the fill-reducing ordering and the Numba LU's symbolic factorisation
of the base case (the :class:`~gridsim.solvers.newton.NewtonSolver` cached per set of
bus types in ``cn._cache``) serve every outage. Each solve starts from the base-case
voltages.

:func:`ac_contingency` solves all outages in one parallel Numba call
(:func:`gridsim.solvers.batch.solve_batch`: ``prange`` over outages, the Ybus copy made
inside the kernel, every outage's first Newton step taken from one shared LU of the
base-case Jacobian by the compensation method, outages whose LU pivot is rejected
finished with SuperLU) and builds the table's columns in Numba too
(:func:`gridsim.solvers.batch.outage_table`, :func:`~gridsim.solvers.batch.outage_keys`). With
``enforce_q_limits`` the outages go one by one through :func:`gridsim.run_ac`, whose
reactive-limit rounds change bus types and so the Jacobian pattern.

Outages that cut buses off their island's slack (the islanding flags of
:func:`gridsim.analysis.sensitivity.lodf`) are reported as ``"islanded"`` and not solved.

:func:`ac_contingency` gives the tidy per-branch table; :func:`contingency_summary`
reduces it to one row per outage (worst loading and where, voltage range, status);
:func:`ac_outage` solves one outage and returns a full
:class:`~gridsim.results.PowerFlowResult`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd

from gridsim.analysis.powerflow import compiled, run_ac
from gridsim.analysis.sensitivity import (
    _branch_positions,
    _lodf_arrays,
    _typed,
    dc_n1_flows,
)
from gridsim.exceptions import ConvergenceError, GridsimError
from gridsim.model.compile import LINE, NONE, TRAFO, CompiledNetwork
from gridsim.results import PowerFlowResult
from gridsim.solvers.batch import (
    numba_threads,
    outage_deltas,
    outage_keys,
    outage_table,
    solve_batch,
)

__all__ = ["ac_contingency", "ac_outage", "contingency_summary"]

STATUSES = ("converged", "diverged", "islanded")
CONVERGED, DIVERGED, ISLANDED = 0, 1, 2
BASE_MAX_ITER = 30  # iterations the base case is allowed at least

_ELEMENTS = ["", ""]
_ELEMENTS[LINE], _ELEMENTS[TRAFO] = "line", "trafo"


def outage_ydata(cn: CompiledNetwork, k: int) -> np.ndarray:
    """Ybus's data array (on ``cn``'s pattern) with branch ``k`` taken out.

    Parameters
    ----------
    cn : CompiledNetwork
    k : int
        Position of the branch in the compiled branch list.

    Returns
    -------
    ndarray of complex
        A copy of ``cn.ydata`` less the branch's four admittances; entries that become
        zero stay in the pattern.
    """
    yff, yft, ytf, ytt = cn.branch_y()
    data = cn.ydata.copy()
    pos = cn.ypos[:, k]
    data[pos[0]] -= yff[k]
    data[pos[1]] -= yft[k]
    data[pos[2]] -= ytf[k]
    data[pos[3]] -= ytt[k]
    return data


def _outage_view(cn: CompiledNetwork, k: int) -> CompiledNetwork:
    """``cn`` with branch ``k`` out: same pattern and solvers, branch admittances zero.

    The view's cache starts with the base's ordering and Newton solvers (shared objects),
    so solving it reuses their symbolic work; :func:`_keep_solvers` hands any solver the
    view builds (Q-limit bus-type sets) back to the base.
    """
    ys, yf, yt = cn.br_ys.copy(), cn.br_yf.copy(), cn.br_yt.copy()
    ys[k] = yf[k] = yt[k] = 0.0
    shared = {
        key: value
        for key, value in cn._cache.items()
        if key == "bus_order" or (isinstance(key, tuple) and key[0] == "newton")
    }
    return dataclasses.replace(
        cn, ydata=outage_ydata(cn, k), br_ys=ys, br_yf=yf, br_yt=yt, _cache=shared
    )


def _keep_solvers(cn: CompiledNetwork, view: CompiledNetwork) -> None:
    for key, value in view._cache.items():
        if isinstance(key, tuple) and key[0] == "newton":
            cn._cache.setdefault(key, value)


def _base_case(cn: CompiledNetwork, network, options: dict) -> PowerFlowResult:
    """The base-case AC power flow (run_ac's default start, at least 30 iterations)."""
    options = {**options, "max_iter": max(options["max_iter"], BASE_MAX_ITER)}
    base = run_ac(cn, **options, q_limit_rule=_rule(network))
    if not base.converged:
        raise ConvergenceError(
            f"the base AC power flow did not converge after {base.iterations} iterations "
            f"({base.message}); largest mismatch {base.max_mismatch_mva:.4g} MVA",
            base.iterations,
            base.max_mismatch_mva,
        )
    return base


def _rule(network) -> str | None:
    return getattr(network, "q_limit_rule", None)


def _solve(cn, k, v0, options, rule) -> PowerFlowResult:
    view = _outage_view(cn, k)
    res = run_ac(view, init=v0, q_limit_rule=rule, **options)
    _keep_solvers(cn, view)
    return res


def ac_outage(
    network,
    outage: tuple,
    *,
    init: str | np.ndarray | PowerFlowResult | None = None,
    enforce_q_limits: bool = False,
    tol_mva: float = 1e-8,
    max_iter: int = 30,
) -> PowerFlowResult:
    """Solve the AC power flow with one branch out, on the base network's Ybus pattern.

    Parameters
    ----------
    network : Network or CompiledNetwork
    outage : tuple
        ``("line", id)`` or ``("trafo", id)`` of an in-service branch.
    init : {"flat", "dc"}, complex ndarray or PowerFlowResult, optional
        Start of the Newton iterations; default the base case's solved voltages.
    enforce_q_limits, tol_mva, max_iter
        As for :func:`gridsim.run_ac`.

    Returns
    -------
    PowerFlowResult
        On the compiled network with the branch's admittances zeroed: its flows are 0
        and every other table is that of the network without the branch.

    Raises
    ------
    GridsimError
        When the outage cuts buses off their island's slack, or (with the default
        ``init``) the base case does not converge.
    """
    cn = compiled(network)
    pos = _branch_positions(cn, [outage])
    _, islanding = _lodf_arrays(cn, pos)
    if islanding[0]:
        raise GridsimError(f"the outage of {outage!r} islands part of the grid")
    options = dict(enforce_q_limits=enforce_q_limits, tol_mva=tol_mva, max_iter=max_iter)
    if init is None:
        init = _base_case(cn, network, options)
    return _solve(cn, int(pos[0]), init, options, _rule(network))


def _screened(cn: CompiledNetwork, positions: np.ndarray, threshold: float) -> np.ndarray:
    """The outages whose DC post-outage loading reaches ``threshold`` percent somewhere
    (islanding outages are kept: they are reported, not solved)."""
    index = pd.MultiIndex.from_arrays(
        [np.where(cn.br_kind[positions] == LINE, "line", "trafo"), cn.br_id[positions]]
    )
    result = dc_n1_flows(cn, list(index))
    keep = (result.worst().loading_percent.to_numpy() >= threshold) | result.islanding
    return positions[keep]


def ac_contingency(
    network,
    outages: Iterable[tuple] | None = None,
    *,
    enforce_q_limits: bool = False,
    tol_mva: float = 1e-8,
    max_iter: int = 30,
    screen: float | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """N-1 AC contingency analysis: a full AC power flow for each branch outage.

    The network is compiled once; each outage reuses the base case's Ybus pattern, Newton
    solver and symbolic LU (see the module docstring) and starts from the base-case
    voltages. Without ``enforce_q_limits`` every non-islanding outage is solved in one
    parallel Numba call (:func:`gridsim.solvers.batch.solve_batch`); with it, outage by
    outage through :func:`gridsim.run_ac`.

    Parameters
    ----------
    network : Network or CompiledNetwork
    outages : iterable of (element, id), optional
        ``("line", id)`` or ``("trafo", id)`` of in-service branches; default every
        in-service branch.
    enforce_q_limits : bool or {0, 1, 2}
        Reactive limits of voltage controllers, as :func:`gridsim.run_ac` (for the base
        case and every outage).
    tol_mva : float
        Convergence tolerance on the largest bus mismatch, MVA.
    max_iter : int
        Newton iterations allowed per outage (per Q-limit round); the base case, solved
        from run_ac's default start, is allowed at least 30.
    screen : float, optional
        DC pre-screen: solve only the outages whose DC post-outage loading
        (:func:`gridsim.dc_contingency`) reaches ``screen`` percent on some branch;
        islanding outages are always kept. Default: no screening.
    threads : int, optional
        Numba threads for the outage solves (default: Numba's current setting, all
        cores unless ``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads` says
        otherwise). Results do not depend on it.

    Returns
    -------
    pandas.DataFrame
        One row per (outage, monitored branch), the outaged branch itself left out,
        outages in the order given. Columns: ``outage_element``, ``outage_id``,
        ``element``, ``id``, ``p_from_mw``, ``q_from_mvar`` (power entering the branch at
        its from end), ``loading_percent`` (``100 max(|S_from|, |S_to|) / rate_mva``, NaN
        where unrated), then per-outage values repeated on each of its rows:
        ``min_vm_pu``, ``max_vm_pu`` (over energised buses), ``iterations``,
        ``max_mismatch_mva`` and ``status``: ``"converged"``, ``"diverged"`` (flows and
        voltages NaN; iterations and mismatch of the last iterate) or ``"islanded"``
        (not solved; all values NaN, iterations 0). Without ``enforce_q_limits``,
        ``iterations`` counts chord steps too (steps that reuse the outage's last LU
        once the mismatch falls a hundredfold per step; see
        :func:`gridsim.solvers.batch.solve_batch`). Element and status columns are
        categorical. :func:`contingency_summary` reduces the table to one row per
        outage.

    Raises
    ------
    GridsimError
        When the base case does not converge or an outage is not an in-service branch.
    """
    cn = compiled(network)
    positions = _branch_positions(cn, outages)
    if screen is not None and positions.size:
        positions = _screened(cn, positions, float(screen))
    options = dict(enforce_q_limits=enforce_q_limits, tol_mva=tol_mva, max_iter=max_iter)
    base = _base_case(cn, network, options)
    rule = _rule(network)
    _, islanding = (
        _lodf_arrays(cn, positions) if positions.size else (None, np.zeros(0, dtype=bool))
    )

    with numba_threads(threads):
        if enforce_q_limits:
            v, row, iterations, mismatch, status = _solve_one_by_one(
                cn, positions, islanding, base, options, rule
            )
        else:
            v, row, iterations, mismatch, status = _solve_batch(
                cn, positions, islanding, base, tol_mva, max_iter
            )
        return _table(cn, positions, v, row, iterations, mismatch, status)


_NUMERIC = [
    "p_from_mw",
    "q_from_mvar",
    "loading_percent",
    "min_vm_pu",
    "max_vm_pu",
    "max_mismatch_mva",
]


def _table(cn, positions, v, row, iterations, mismatch, status) -> pd.DataFrame:
    """The tidy N-1 table from the outages' voltages (numbers computed in Numba)."""
    yff, yft, ytf, ytt = cn.branch_y()
    values = outage_table(
        v,
        row,
        cn.br_f,
        cn.br_t,
        yff,
        yft,
        ytf,
        ytt,
        np.ascontiguousarray(cn.br_rate_mva, dtype=np.float64),
        positions,
        cn.bus_type != NONE,
        float(cn.sn_mva),
        mismatch,
    )
    ids = _typed(cn.br_id)
    integer_ids = ids.dtype.kind in "iu"
    out_kind, out_id, kind, el_id, its, st = outage_keys(
        positions,
        cn.br_kind.astype(np.int8),
        ids.astype(np.int64) if integer_ids else np.arange(ids.size, dtype=np.int64),
        iterations.astype(np.int64),
        status.astype(np.int8),
    )
    if not integer_ids:  # object ids: the kernel gave branch positions
        out_id, el_id = ids[out_id], ids[el_id]
    columns = {
        "outage_element": _categorical(out_kind, _ELEMENTS),
        "outage_id": out_id,
        "element": _categorical(kind, _ELEMENTS),
        "id": el_id,
        **{name: values[c] for c, name in enumerate(_NUMERIC[:5])},
        "iterations": its,
        "max_mismatch_mva": values[5],
        "status": _categorical(st, STATUSES),
    }
    # copy=False: the columns are taken as they are (no copy into consolidated blocks)
    return pd.DataFrame(columns, copy=False)


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    codes = codes.astype(np.int8, copy=False)
    dtype = pd.CategoricalDtype(list(categories))
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _solve_batch(cn, positions, islanding, base, tol_mva, max_iter):
    """Every non-islanding outage in one parallel kernel call, from the base voltages.

    Returns ``(v, row, iterations, mismatch_mva, status)``: ``v[row[i]]`` is outage
    ``i``'s state (``row[i] = -1`` where it is islanded or did not converge).
    """
    n_out = positions.size
    iterations = np.zeros(n_out, dtype=np.int64)
    mismatch = np.full(n_out, np.nan)
    status = np.full(n_out, ISLANDED, dtype=np.int8)
    row = np.full(n_out, -1, dtype=np.int64)
    solved = np.flatnonzero(~islanding)
    dpos, dval = outage_deltas(cn, positions[solved])
    res = solve_batch(
        cn,
        cn.sbus(),
        dpos=dpos,
        dval=dval,
        v0=base.v,
        tol_mva=tol_mva,
        max_iter=max_iter,
    )
    iterations[solved] = res.iterations
    mismatch[solved] = res.max_mismatch * cn.sn_mva
    status[solved] = np.where(res.converged, CONVERGED, DIVERGED)
    row[solved] = np.where(res.converged, np.arange(solved.size), -1)
    return res.v, row, iterations, mismatch, status


def _solve_one_by_one(cn, positions, islanding, base, options, rule):
    """Outage by outage through :func:`run_ac` (reactive-limit rounds need it); returns
    what :func:`_solve_batch` does."""
    n_out = positions.size
    iterations = np.zeros(n_out, dtype=np.int64)
    mismatch = np.full(n_out, np.nan)
    status = np.full(n_out, ISLANDED, dtype=np.int8)
    row = np.full(n_out, -1, dtype=np.int64)
    states = []
    for i, k in enumerate(positions):
        if islanding[i]:
            continue
        res = _solve(cn, int(k), base.v, options, rule)
        iterations[i] = res.iterations
        mismatch[i] = res.max_mismatch_mva
        if not res.converged:
            status[i] = DIVERGED
            continue
        status[i] = CONVERGED
        row[i] = len(states)
        states.append(res.v)
    v = np.array(states, dtype=np.complex128).reshape(len(states), cn.n_bus)
    return v, row, iterations, mismatch, status


def contingency_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per outage of an :func:`ac_contingency` (or ``dc_contingency``) table,
    worst first.

    Parameters
    ----------
    table : pandas.DataFrame
        As returned by :func:`ac_contingency` or
        :func:`gridsim.analysis.sensitivity.dc_contingency` (whose voltage and iteration
        columns come out NaN).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(outage_element, outage_id)``, with ``status``,
        ``max_loading_percent`` and the branch carrying it (``max_loading_element``,
        ``max_loading_id``; empty where no monitored branch is rated or the outage was
        not solved), ``min_vm_pu``, ``max_vm_pu``, ``iterations`` and
        ``max_mismatch_mva``; sorted by ``max_loading_percent`` descending (unsolved
        outages last).
    """
    keys = ["outage_element", "outage_id"]
    per_outage = ["status", "min_vm_pu", "max_vm_pu", "iterations", "max_mismatch_mva"]
    present = [c for c in per_outage if c in table.columns]  # a DC table has no voltages
    groups = table.groupby(keys, observed=True, sort=False)
    out = groups[present].first()
    for c in per_outage:
        if c not in out.columns:
            out[c] = np.nan
    out["max_loading_percent"] = np.nan
    out["max_loading_element"] = None
    out["max_loading_id"] = None
    rated = table[table.loading_percent.notna()]
    if len(rated):
        at = rated.groupby(keys, observed=True, sort=False).loading_percent.idxmax()
        worst = rated.loc[at].astype({"id": object}).set_index(keys).reindex(out.index)
        out["max_loading_percent"] = worst.loading_percent.to_numpy()
        out["max_loading_element"] = worst.element.astype(object).to_numpy()
        out["max_loading_id"] = worst["id"].to_numpy(dtype=object)
    columns = [
        "status",
        "max_loading_percent",
        "max_loading_element",
        "max_loading_id",
        *per_outage[1:],
    ]
    return out[columns].sort_values("max_loading_percent", ascending=False, na_position="last")
