"""AC N-1 contingency analysis: one full Newton-Raphson power flow per branch outage.

The network is compiled once. A branch outage changes four entries of Ybus (the
branch's ``Yff, Yft, Ytf, Ytt``), never its pattern: each outage subtracts those four
admittances from a copy of the data array and solves on the *same* pattern, so the
Jacobian pattern, the fill-reducing ordering and the Numba LU's symbolic factorisation
of the base case (the :class:`~gridsim.solvers.newton.NewtonSolver` cached per set of
bus types in ``cn._cache``) serve every outage. Each solve starts from the base-case
voltages.

:func:`ac_contingency` solves the outages in chunks (:func:`iter_contingency`): each
chunk in one parallel Numba call (:func:`gridsim.solvers.batch.solve_batch`: ``prange``
over outages, the Ybus change applied inside the kernel, every outage's first Newton
step taken from one shared LU of the base-case Jacobian by the compensation method,
outages whose LU pivot is rejected finished with SuperLU), then reduced in Numba to one
row per outage and its limit violations (:func:`_outage_scan`,
:func:`_outage_violations`) before the next chunk is solved: memory is that of one
chunk's states and branch loadings (64 MiB at most by default) plus the per-outage
rows and violations, not that of the outages x branches flows, which are kept only on
request. With ``enforce_q_limits`` the outages go one by one through
:func:`gridsim.run_ac`, whose reactive-limit rounds change bus types and so the
Jacobian pattern.

Outages that cut buses off their island's slack (the islanding flags of
:func:`gridsim.analysis.sensitivity.lodf`, chunk by chunk) are reported as
``"islanded"`` and not solved.

:func:`ac_contingency` gives a :class:`ContingencyResult` (per outage: status,
iterations, worst loading and where, voltage extremes and where, violation counts; the
violations; the flows where asked for); :func:`contingency_summary` sorts its outages
worst first (or reduces a tidy table to one row per outage); :func:`ac_outage` solves
one outage and returns a full :class:`~gridsim.results.PowerFlowResult`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numba
import numpy as np
import pandas as pd
from numba import prange

from gridsim.analysis.powerflow import compiled, run_ac
from gridsim.analysis.sensitivity import (
    _branch_positions,
    _lodf_arrays,
    _typed,
    dc_n1_flows,
)
from gridsim.exceptions import ConvergenceError, GridsimError
from gridsim.model.compile import LINE, NONE, TRAFO, CompiledNetwork
from gridsim.numerics._jit import njit
from gridsim.results import PowerFlowResult
from gridsim.solvers.batch import numba_threads, outage_deltas, solve_batch

__all__ = [
    "ContingencyResult",
    "ac_contingency",
    "ac_outage",
    "contingency_summary",
    "iter_contingency",
]

STATUSES = ("converged", "diverged", "islanded")
CONVERGED, DIVERGED, ISLANDED = 0, 1, 2
VIOLATION_TYPES = ("overload", "undervoltage", "overvoltage")
OVERLOAD = 0
BASE_MAX_ITER = 30  # iterations the base case is allowed at least
CHUNK_BYTES = 64 * 2**20  # a chunk's states, islanding rows and loadings (flows), at most
MAX_CHUNK = 1024  # outages per chunk, at most

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
    (islanding outages are kept: they are reported, not solved), in chunks of at most
    ``CHUNK_BYTES`` of DC flows."""
    size = max(1, CHUNK_BYTES // (8 * max(cn.n_branch, 1)))
    keep = []
    for start in range(0, positions.size, size):
        chunk = positions[start : start + size]
        index = pd.MultiIndex.from_arrays(
            [np.where(cn.br_kind[chunk] == LINE, "line", "trafo"), cn.br_id[chunk]]
        )
        result = dc_n1_flows(cn, list(index))
        worst = result.worst().loading_percent.to_numpy()
        keep.append(chunk[(worst >= threshold) | result.islanding])
    return np.concatenate(keep) if keep else positions


@dataclasses.dataclass(eq=False)
class ContingencyResult:
    """What an N-1 analysis gives a planner: one row per outage, the limit violations,
    and the post-outage flows only where asked for.

    Attributes
    ----------
    outages : pandas.DataFrame
        One row per outage, in the order given, indexed by ``(outage_element,
        outage_id)``: ``status`` (``"converged"``, ``"diverged"``: the last iterate's
        ``iterations`` and ``max_mismatch_mva``, or ``"islanded"``: not solved),
        ``max_loading_percent`` and the branch carrying it (``max_loading_element``,
        ``max_loading_id``; empty where no monitored branch is rated or the outage was
        not solved), ``min_vm_pu``, ``max_vm_pu`` (over energised buses), ``iterations``,
        ``max_mismatch_mva``, the buses of the voltage extremes (``min_vm_bus``,
        ``max_vm_bus``), ``n_overloads`` (monitored branches loaded above
        ``loading_limit``) and ``n_voltage_violations`` (buses outside their own
        ``min_vm_pu``/``max_vm_pu``; NaN limits are not checked).
    violations : pandas.DataFrame
        One row per violation, outage by outage (branches in branch order, then buses):
        ``outage_element``, ``outage_id``, ``element`` (``"line"``, ``"trafo"`` or
        ``"bus"``), ``id``, ``type`` (``"overload"``, ``"undervoltage"``,
        ``"overvoltage"``), ``value`` (``loading_percent`` or ``vm_pu``) and ``limit``.
    loading_limit : float
        Loading, percent, above which a branch counts as overloaded.
    positions : ndarray of int
        Compiled branch position of each outage.
    branches : pandas.MultiIndex
        ``(element, id)`` of every compiled branch: the columns of the flow matrices.
    p_from_mw, q_from_mvar, loading_percent : ndarray, ``[n_outage, n_branch]``, optional
        Post-outage flows entering each branch at its from end and its loading (only
        with ``flows``); the outaged branch carries 0, rows of outages not solved or not
        converged are NaN.
    """

    outages: pd.DataFrame
    violations: pd.DataFrame
    loading_limit: float
    positions: np.ndarray
    branches: pd.MultiIndex
    p_from_mw: np.ndarray | None = None
    q_from_mvar: np.ndarray | None = None
    loading_percent: np.ndarray | None = None

    def summary(self) -> pd.DataFrame:
        """:attr:`outages` sorted by ``max_loading_percent``, worst first (unsolved
        outages and outages without a rated branch last).

        Returns
        -------
        pandas.DataFrame
        """
        return self.outages.sort_values(
            "max_loading_percent", ascending=False, na_position="last", kind="stable"
        )

    def table(self) -> pd.DataFrame:
        """The tidy table: one row per (outage, monitored branch), the outaged branch
        left out, outages in order.

        Returns
        -------
        pandas.DataFrame
            Columns ``outage_element``, ``outage_id``, ``element``, ``id``,
            ``p_from_mw``, ``q_from_mvar``, ``loading_percent``, then the outage's
            ``min_vm_pu``, ``max_vm_pu``, ``iterations``, ``max_mismatch_mva`` and
            ``status`` repeated on each of its rows.

        Raises
        ------
        GridsimError
            When the result holds no flows (``ac_contingency(..., flows=...)``).
        """
        if self.p_from_mw is None:
            raise GridsimError(
                "the N-1 table needs the post-outage flows: ac_contingency(..., flows='float64')"
            )
        n_out, n_br = self.p_from_mw.shape
        keep = np.ones((n_out, n_br), dtype=bool)
        keep[np.arange(n_out), self.positions] = False
        per_branch = max(n_br - 1, 0)
        outage_element, outage_id = (self.outages.index.get_level_values(i) for i in (0, 1))
        branch_element, branch_id = (self.branches.get_level_values(i) for i in (0, 1))
        column = np.broadcast_to(np.arange(n_br), (n_out, n_br))[keep]

        def repeated(name):
            return np.repeat(self.outages[name].to_numpy(), per_branch)

        columns = {
            "outage_element": outage_element.repeat(per_branch),
            "outage_id": np.repeat(outage_id.to_numpy(), per_branch),
            "element": pd.Categorical(branch_element[column], categories=_ELEMENTS),
            "id": branch_id.to_numpy()[column],
            "p_from_mw": self.p_from_mw[keep].astype(np.float64),
            "q_from_mvar": self.q_from_mvar[keep].astype(np.float64),
            "loading_percent": self.loading_percent[keep].astype(np.float64),
            "min_vm_pu": repeated("min_vm_pu"),
            "max_vm_pu": repeated("max_vm_pu"),
            "iterations": repeated("iterations"),
            "max_mismatch_mva": repeated("max_mismatch_mva"),
            "status": self.outages.status.array.repeat(per_branch),
        }
        columns["outage_element"] = pd.Categorical(columns["outage_element"], _ELEMENTS)
        return pd.DataFrame(columns)


def ac_contingency(
    network,
    outages: Iterable[tuple] | None = None,
    *,
    enforce_q_limits: bool = False,
    tol_mva: float = 1e-8,
    max_iter: int = 30,
    screen: float | None = None,
    threads: int | None = None,
    loading_limit: float = 100.0,
    flows: str | None = None,
    chunk_size: int | None = None,
    parquet: str | os.PathLike | None = None,
) -> ContingencyResult:
    """N-1 AC contingency analysis: a full AC power flow for each branch outage.

    The network is compiled once; each outage reuses the base case's Ybus pattern, Newton
    solver and symbolic LU (see the module docstring) and starts from the base-case
    voltages. The outages are solved in chunks (:func:`iter_contingency`): without
    ``enforce_q_limits`` each chunk in one parallel Numba call
    (:func:`gridsim.solvers.batch.solve_batch`) over ``threads``, with it outage by
    outage through :func:`gridsim.run_ac`. Each chunk is reduced to its per-outage row
    and its violations before the next is solved, so memory stays bounded by the chunk
    (case9241pegase, all 16,049 outages: see ``benchmarks/README.md``) unless the flow
    matrices are asked for.

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
    loading_limit : float
        Branch loading, percent, above which a branch is reported as overloaded.
    flows : {None, "float32", "float64"}
        Keep the post-outage flow matrices (``p_from_mw``, ``q_from_mvar``,
        ``loading_percent``, outages x branches) in this precision; default none (three
        float32 matrices of case9241pegase's full N-1 take 3 GB). For the flows of a
        large N-1 chunk by chunk, use :func:`iter_contingency`.
    chunk_size : int, optional
        Outages per chunk; default as many as fit in 64 MiB of states and loadings (or
        flows), at least 8 per thread. Results do not depend on it.
    parquet : path, optional
        A folder: each chunk's rows are appended to ``outages.parquet`` and
        ``violations.parquet`` there as they come (the folder is created; the two
        files are replaced).

    Returns
    -------
    ContingencyResult
        ``outages`` (one row per outage), ``violations``, and the flows where asked for;
        :meth:`ContingencyResult.summary` sorts the outages worst first,
        :meth:`ContingencyResult.table` gives the tidy (outage, branch) table from the
        flows. Without ``enforce_q_limits``, ``iterations`` counts chord steps too
        (steps that reuse the outage's last LU once the mismatch falls a hundredfold per
        step; see :func:`gridsim.solvers.batch.solve_batch`).

    Raises
    ------
    GridsimError
        When the base case does not converge, an outage is not an in-service branch or
        an option is out of range.
    """
    if flows not in (None, "float32", "float64"):
        raise GridsimError(f"flows must be None, 'float32' or 'float64', got {flows!r}")
    chunks = iter_contingency(
        network,
        outages,
        enforce_q_limits=enforce_q_limits,
        tol_mva=tol_mva,
        max_iter=max_iter,
        screen=screen,
        threads=threads,
        loading_limit=loading_limit,
        flows=flows is not None,
        chunk_size=chunk_size,
    )
    cn = compiled(network)
    parts: list[ContingencyResult] = []
    matrices: list[np.ndarray] = []
    sink = _ParquetSink(parquet, cn) if parquet is not None else None
    try:
        for chunk in chunks:
            if sink is not None:
                sink.write(chunk)
            if flows is not None:
                matrices.append(_flow_stack(chunk, flows))
                chunk.p_from_mw = chunk.q_from_mvar = chunk.loading_percent = None
            parts.append(chunk)
    except BaseException:  # an error or Ctrl-C: no half-written Parquet file is left
        if sink is not None:
            sink.close(keep=False)
        raise
    if sink is not None:
        sink.close()
    if not parts:
        parts.append(_chunk_result(cn, *_nothing_solved(cn), loading_limit, False))
    result = ContingencyResult(
        outages=pd.concat([p.outages for p in parts]),
        violations=pd.concat([p.violations for p in parts], ignore_index=True),
        loading_limit=float(loading_limit),
        positions=np.concatenate([p.positions for p in parts]),
        branches=parts[0].branches,
    )
    if flows is not None:
        stacked = np.concatenate(matrices, axis=1) if matrices else np.zeros((3, 0, cn.n_branch))
        matrices.clear()
        result.p_from_mw, result.q_from_mvar, result.loading_percent = stacked
    return result


def _flow_stack(chunk: ContingencyResult, dtype: str) -> np.ndarray:
    return np.stack([chunk.p_from_mw, chunk.q_from_mvar, chunk.loading_percent]).astype(dtype)


def iter_contingency(
    network,
    outages: Iterable[tuple] | None = None,
    *,
    enforce_q_limits: bool = False,
    tol_mva: float = 1e-8,
    max_iter: int = 30,
    screen: float | None = None,
    threads: int | None = None,
    loading_limit: float = 100.0,
    flows: bool = False,
    chunk_size: int | None = None,
) -> Iterator[ContingencyResult]:
    """:func:`ac_contingency` chunk by chunk: the outages are solved ``chunk_size`` at a
    time and each chunk is given as soon as it is done, with its flows where ``flows``.

    Parameters
    ----------
    network, outages, enforce_q_limits, tol_mva, max_iter, screen, threads, loading_limit
        As for :func:`ac_contingency` (the base case is solved, the outages checked and
        screened before the first chunk).
    flows : bool
        Give each chunk's flow matrices (float64).
    chunk_size : int, optional
        As for :func:`ac_contingency`.

    Yields
    ------
    ContingencyResult
        One per chunk, outages in order (concatenated, the chunks are
        :func:`ac_contingency`'s result).
    """
    if not (loading_limit >= 0 and np.isfinite(loading_limit)):
        raise GridsimError(f"loading_limit must be a finite percentage >= 0, got {loading_limit!r}")
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size > 0):
        raise GridsimError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    cn = compiled(network)
    positions = _branch_positions(cn, outages)
    if screen is not None and positions.size:
        positions = _screened(cn, positions, float(screen))
    options = dict(enforce_q_limits=enforce_q_limits, tol_mva=tol_mva, max_iter=max_iter)
    base = _base_case(cn, network, options)
    return _chunks(
        cn,
        positions,
        base,
        options,
        _rule(network),
        threads,
        float(loading_limit),
        flows,
        chunk_size or _chunk_size(cn, threads, flows),
    )


def _chunks(cn, positions, base, options, rule, threads, limit, flows, size):
    """The generator behind :func:`iter_contingency` (its checks and the base case run
    when it is called, not at the first chunk)."""
    for start in range(0, positions.size, size):
        chunk = positions[start : start + size]
        _, islanding = _lodf_arrays(cn, chunk)
        with numba_threads(threads):
            if options["enforce_q_limits"]:
                states = _solve_one_by_one(cn, chunk, islanding, base, options, rule)
            else:
                states = _solve_batch(
                    cn, chunk, islanding, base, options["tol_mva"], options["max_iter"]
                )
            result = _chunk_result(cn, chunk, *states, limit, flows)
        yield result


def _chunk_size(cn: CompiledNetwork, threads: int | None, flows: bool) -> int:
    """Outages per chunk: their states, LODF rows (islanding check) and loadings (or
    flows) within ``CHUNK_BYTES``, at least 8 per thread so that every thread has work
    to the end of the chunk."""
    per_outage = 16 * cn.n_bus + 8 * cn.n_branch * (4 if flows else 2)
    n_threads = threads or numba.get_num_threads()
    return int(max(8 * n_threads, min(MAX_CHUNK, CHUNK_BYTES // per_outage)))


def _nothing_solved(cn: CompiledNetwork) -> tuple:
    """Arguments of :func:`_chunk_result` for no outage at all."""
    empty = np.zeros(0, dtype=np.int64)
    return empty, np.zeros((0, cn.n_bus), complex), empty, empty, np.zeros(0), empty


def _chunk_result(cn, positions, v, row, iterations, mismatch, status, limit, flows):
    """A chunk's :class:`ContingencyResult` from its outages' states (``v[row[i]]``)."""
    arrays, br_ids, bus_ids, kind, branches = _reduction_inputs(cn)
    n_out = positions.size
    matrix = np.empty((3 if flows else 1, n_out, cn.n_branch))  # [p, q,] loading
    scan = _outage_scan(v, row, positions, *arrays, limit, matrix)
    worst, worst_at, vlo, vlo_at, vhi, vhi_at, n_over, n_volt = scan
    offsets = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(n_over + n_volt, out=offsets[1:])
    v_out, v_at, v_type, v_value, v_limit = _outage_violations(
        v, row, arrays[7], arrays[8], arrays[9], limit, matrix[-1], not flows, offsets
    )

    out_index = pd.MultiIndex.from_arrays(
        [_categorical(kind[positions], _ELEMENTS), br_ids[positions]],
        names=["outage_element", "outage_id"],
    )
    found = worst_at >= 0
    at = np.where(found, worst_at, 0)
    element = np.asarray(_ELEMENTS, dtype=object)
    outages = pd.DataFrame(
        {
            "status": _categorical(status, STATUSES),
            "max_loading_percent": worst,
            "max_loading_element": np.where(found, element[kind[at]], None),
            "max_loading_id": np.where(found, br_ids.astype(object)[at], None),
            "min_vm_pu": vlo,
            "max_vm_pu": vhi,
            "iterations": iterations.astype(np.int64),
            "max_mismatch_mva": mismatch,
            "min_vm_bus": _ids_at(bus_ids, vlo_at),
            "max_vm_bus": _ids_at(bus_ids, vhi_at),
            "n_overloads": n_over,
            "n_voltage_violations": n_volt,
        },
        index=out_index,
    )
    is_bus = v_type != OVERLOAD
    el_codes = np.where(is_bus, len(_ELEMENTS), kind[np.where(is_bus, 0, v_at)])
    if br_ids.dtype.kind in "iu" and bus_ids.dtype.kind in "iu":
        el_ids = np.where(is_bus, bus_ids[v_at * is_bus], br_ids[v_at * ~is_bus])
    else:
        el_ids = np.where(
            is_bus, bus_ids.astype(object)[v_at * is_bus], br_ids.astype(object)[v_at * ~is_bus]
        )
    violations = pd.DataFrame(
        {
            "outage_element": _categorical(kind[positions][v_out], _ELEMENTS),
            "outage_id": br_ids[positions][v_out],
            "element": _categorical(el_codes, [*_ELEMENTS, "bus"]),
            "id": el_ids,
            "type": _categorical(v_type, VIOLATION_TYPES),
            "value": v_value,
            "limit": v_limit,
        }
    )
    result = ContingencyResult(
        outages=outages,
        violations=violations,
        loading_limit=limit,
        positions=positions,
        branches=branches,
    )
    if flows:
        result.p_from_mw, result.q_from_mvar, result.loading_percent = matrix
    return result


def _reduction_inputs(cn: CompiledNetwork) -> tuple:
    """What every chunk's reduction needs of ``cn`` (cached on it): the kernels' network
    arrays, branch and bus ids (integer arrays where they all are integers, else
    objects), branch kinds (int8) and the branch index."""
    inputs = cn._cache.get("contingency_inputs")
    if inputs is None:
        yff, yft, ytf, ytt = cn.branch_y()
        with np.errstate(divide="ignore"):  # a zero rating: infinite loading, as 1 / 0
            inv_rate2 = 1.0 / np.asarray(cn.br_rate_mva, dtype=np.float64) ** 2
        arrays = (
            *(cn.br_f, cn.br_t, yff, yft, ytf, ytt, inv_rate2, cn.bus_type != NONE),
            *(np.asarray(cn.vm_min, float), np.asarray(cn.vm_max, float), float(cn.sn_mva)),
        )
        br_ids, kind = _typed(cn.br_id), cn.br_kind.astype(np.int8)
        branches = pd.MultiIndex.from_arrays(
            [_categorical(kind, _ELEMENTS), br_ids], names=["element", "id"]
        )
        inputs = (arrays, br_ids, _typed(cn.bus_ids.to_numpy()), kind, branches)
        cn._cache["contingency_inputs"] = inputs
    return inputs


def _ids_at(ids: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``ids[at]`` as objects, None where ``at < 0``."""
    return np.where(at >= 0, ids.astype(object)[np.maximum(at, 0)], None)


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    codes = codes.astype(np.int8, copy=False)
    dtype = pd.CategoricalDtype(list(categories))
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


@njit(inline="always")
def _branch_state(v, r, b, br_f, br_t, yff, yft, ytf, ytt, inv_rate2, sn_mva):  # pragma: no cover
    """``(p_from_mw, q_from_mvar, (loading_percent / 100) ** 2)`` of branch ``b`` in state
    ``v[r]`` (``inv_rate2``: ``1 / rate_mva ** 2``; no square root or division per
    branch)."""
    vf = v[r, br_f[b]]
    vt = v[r, br_t[b]]
    sf = vf * np.conj(yff[b] * vf + yft[b] * vt) * sn_mva
    st = vt * np.conj(ytf[b] * vf + ytt[b] * vt) * sn_mva
    a2 = sf.real * sf.real + sf.imag * sf.imag
    b2 = st.real * st.real + st.imag * st.imag
    return sf.real, sf.imag, max(a2, b2) * inv_rate2[b]


@njit(parallel=True)
def _outage_scan(
    v,
    row,
    positions,
    br_f,
    br_t,
    yff,
    yft,
    ytf,
    ytt,
    inv_rate2,
    energised,
    vm_min,
    vm_max,
    sn_mva,
    limit,
    flows,
):  # pragma: no cover (jitted)
    """Per outage: the most loaded branch, the voltage extremes, the counts of overloads
    (loading above ``limit``) and of buses outside ``[vm_min, vm_max]`` (NaN limits not
    checked), over energised buses and monitored branches. Outage ``i`` takes out
    branch ``positions[i]``, its state is ``v[row[i]]`` (``row[i] < 0``: none).

    ``flows`` ``[3, n_out, n_branch]`` receives ``p_from_mw``, ``q_from_mvar`` and
    ``loading_percent`` (``[1, n_out, n_branch]``: ``(loading_percent / 100) ** 2``
    only); the outaged branch carries 0, rows of outages without a state are NaN.
    """
    n_out = positions.size
    nbr = br_f.size
    keep = flows.shape[0] == 3
    last = flows.shape[0] - 1
    limit2 = (limit / 100.0) ** 2
    worst = np.full(n_out, np.nan)
    worst_at = np.full(n_out, -1, dtype=np.int64)
    vlo = np.full(n_out, np.nan)
    vlo_at = np.full(n_out, -1, dtype=np.int64)
    vhi = np.full(n_out, np.nan)
    vhi_at = np.full(n_out, -1, dtype=np.int64)
    n_over = np.zeros(n_out, dtype=np.int64)
    n_volt = np.zeros(n_out, dtype=np.int64)
    for i in prange(n_out):
        r = row[i]
        k = positions[i]
        if r < 0:
            flows[:, i, :] = np.nan
            continue
        lo, hi, lo_at, hi_at, bad = np.inf, -np.inf, -1, -1, 0
        for b in range(energised.size):
            if energised[b]:
                mag = abs(v[r, b])
                if mag < lo:
                    lo, lo_at = mag, b
                if mag > hi:
                    hi, hi_at = mag, b
                if mag < vm_min[b] or mag > vm_max[b]:
                    bad += 1
        best, best_at, over = -np.inf, -1, 0
        for b in range(nbr):
            if b == k:
                flows[:, i, b] = 0.0
                flows[last, i, b] = 0.0 * inv_rate2[b]
                continue
            p, q, load2 = _branch_state(v, r, b, br_f, br_t, yff, yft, ytf, ytt, inv_rate2, sn_mva)
            if keep:
                flows[0, i, b] = p
                flows[1, i, b] = q
                flows[2, i, b] = 100.0 * np.sqrt(load2)
            else:
                flows[0, i, b] = load2
            if load2 > best:
                best, best_at = load2, b
            if load2 > limit2:
                over += 1
        if best_at >= 0:
            worst[i], worst_at[i] = 100.0 * np.sqrt(best), best_at
        if lo_at >= 0:
            vlo[i], vlo_at[i], vhi[i], vhi_at[i] = lo, lo_at, hi, hi_at
        n_over[i], n_volt[i] = over, bad
    return worst, worst_at, vlo, vlo_at, vhi, vhi_at, n_over, n_volt


@njit(parallel=True)
def _outage_violations(
    v, row, energised, vm_min, vm_max, limit, loading, squared, offsets
):  # pragma: no cover (jitted)
    """The violations :func:`_outage_scan` counted (from its ``loading`` rows, percent or
    ``squared`` as ``(percent / 100) ** 2``, and the voltages), outage ``i``'s at rows
    ``offsets[i]:offsets[i + 1]``: branches (overloads) in order, then buses.

    Returns ``(outage, at, type, value, limit)`` per violation: the outage's place in
    ``positions``, the branch or bus position, ``OVERLOAD``/``UNDERVOLTAGE``/
    ``OVERVOLTAGE``, the loading (percent) or voltage (p.u.) and the limit.
    """
    n = offsets[-1]
    out = np.empty(n, dtype=np.int64)
    at = np.empty(n, dtype=np.int64)
    kind = np.empty(n, dtype=np.int8)
    value = np.empty(n)
    bound = np.empty(n)
    threshold = (limit / 100.0) ** 2 if squared else limit
    for i in prange(row.size):
        q = offsets[i]
        if q == offsets[i + 1]:
            continue
        r = row[i]
        for b in range(loading.shape[1]):
            load = loading[i, b]
            if load > threshold:
                percent = 100.0 * np.sqrt(load) if squared else load
                out[q], at[q], kind[q], value[q], bound[q] = i, b, 0, percent, limit
                q += 1
        for b in range(energised.size):
            if energised[b]:
                mag = abs(v[r, b])
                if mag < vm_min[b]:
                    out[q], at[q], kind[q], value[q], bound[q] = i, b, 1, mag, vm_min[b]
                    q += 1
                elif mag > vm_max[b]:
                    out[q], at[q], kind[q], value[q], bound[q] = i, b, 2, mag, vm_max[b]
                    q += 1
    return out, at, kind, value, bound


class _ParquetSink:
    """``outages.parquet`` and ``violations.parquet`` in a folder, a row group per chunk
    (through temporary files, moved into place when closed)."""

    def __init__(self, folder, cn: CompiledNetwork) -> None:
        import pyarrow as pa

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        br = pa.int64() if _typed(cn.br_id).dtype.kind in "iu" else pa.string()
        bus = pa.int64() if _typed(cn.bus_ids.to_numpy()).dtype.kind in "iu" else pa.string()
        text, real, count = pa.string(), pa.float64(), pa.int64()
        self.schemas = {
            "outages": pa.schema(
                [
                    ("outage_element", text),
                    ("outage_id", br),
                    ("status", text),
                    ("max_loading_percent", real),
                    ("max_loading_element", text),
                    ("max_loading_id", br),
                    ("min_vm_pu", real),
                    ("max_vm_pu", real),
                    ("iterations", count),
                    ("max_mismatch_mva", real),
                    ("min_vm_bus", bus),
                    ("max_vm_bus", bus),
                    ("n_overloads", count),
                    ("n_voltage_violations", count),
                ]
            ),
            "violations": pa.schema(
                [
                    ("outage_element", text),
                    ("outage_id", br),
                    ("element", text),
                    ("id", br if br == bus else pa.string()),
                    ("type", text),
                    ("value", real),
                    ("limit", real),
                ]
            ),
        }
        self.writers: dict = {}

    def write(self, chunk: ContingencyResult) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for name, frame in (
            ("outages", chunk.outages.reset_index()),
            ("violations", chunk.violations),
        ):
            schema = self.schemas[name]
            arrays = [_arrow_column(frame[f.name], f.type) for f in schema]
            table = pa.Table.from_arrays(arrays, schema=schema)
            if name not in self.writers:
                self.writers[name] = pq.ParquetWriter(self.folder / f".{name}.parquet.tmp", schema)
            self.writers[name].write_table(table)

    def close(self, keep: bool = True) -> None:
        """Finish the files and move them into place (``keep``), or delete them."""
        import pyarrow.parquet as pq

        for name, schema in self.schemas.items():  # no outage at all: empty files
            if keep and name not in self.writers:
                self.writers[name] = pq.ParquetWriter(self.folder / f".{name}.parquet.tmp", schema)
        for name, writer in self.writers.items():
            writer.close()
            tmp = self.folder / f".{name}.parquet.tmp"
            if keep:
                tmp.replace(self.folder / f"{name}.parquet")
            else:
                tmp.unlink(missing_ok=True)


def _arrow_column(column: pd.Series, kind):
    import pyarrow as pa

    values = column.to_numpy(dtype=object) if kind == pa.string() else column.to_numpy()
    if kind == pa.string():
        values = np.array([None if x is None else str(x) for x in values], dtype=object)
    return pa.array(values, type=kind, from_pandas=True)


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


def contingency_summary(table) -> pd.DataFrame:
    """One row per outage, worst first, of an N-1 result.

    Parameters
    ----------
    table : ContingencyResult or pandas.DataFrame
        As returned by :func:`ac_contingency` (its :meth:`ContingencyResult.summary`),
        a tidy table (:meth:`ContingencyResult.table`) or
        :func:`gridsim.analysis.sensitivity.dc_contingency`'s table (whose voltage and
        iteration columns come out NaN).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(outage_element, outage_id)``, with ``status``,
        ``max_loading_percent`` and the branch carrying it (``max_loading_element``,
        ``max_loading_id``; empty where no monitored branch is rated or the outage was
        not solved), ``min_vm_pu``, ``max_vm_pu``, ``iterations`` and
        ``max_mismatch_mva`` (and, from a :class:`ContingencyResult`, its other
        per-outage columns); sorted by ``max_loading_percent`` descending (unsolved
        outages last).
    """
    if isinstance(table, ContingencyResult):
        return table.summary()
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
