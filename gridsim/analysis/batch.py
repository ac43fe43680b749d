"""Batched AC power flows: many injection scenarios on one compiled network.

:func:`run_ac_batch` is the analysis-level entry to
:func:`gridsim.solvers.batch.solve_batch`: it turns per-point load, generator and
injector arrays into scheduled bus injections, solves every point in one parallel Numba
call on the network's shared Jacobian pattern and symbolic LU, and returns arrays
(:class:`BatchPowerFlowResult`), one row per point. Any point can be rebuilt as a full
:class:`~gridsim.results.PowerFlowResult` (:meth:`BatchPowerFlowResult.point`).
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

import numpy as np
import pandas as pd

from gridsim.analysis.dispatch import injector_q_share
from gridsim.analysis.powerflow import compiled, run_ac
from gridsim.analysis.qlimits import MATPOWER_Q_VIOLATION, _LimitState
from gridsim.exceptions import GridsimError
from gridsim.model.compile import GEN, NONE, PV, REF, SGEN, CompiledNetwork
from gridsim.results import PowerFlowResult
from gridsim.solvers.batch import (
    _flat_start,
    branch_flows,
    numba_threads,
    point_injections,
    solve_batch,
)

__all__ = ["BatchPowerFlowResult", "batch_elements", "run_ac_batch"]


def batch_elements(network) -> dict[str, pd.Index]:
    """Ids of the elements whose values :func:`run_ac_batch` takes, in column order.

    Returns
    -------
    dict
        ``"load"``, ``"gen"``, ``"sgen"``: in-service element ids in the order of the
        columns of ``load_p_mw``/``load_q_mvar``/``load_scale``, ``gen_p_mw`` and
        ``sgen_p_mw``; ``"injector"``: ``(kind, id)`` pairs of every injector (gen,
        sgen, ext_grid, hvdc_from, hvdc_to) in the column order of ``injector_p_mw``.
    """
    cn = compiled(network)
    kinds = np.array(["gen", "sgen", "ext_grid", "hvdc_from", "hvdc_to"], dtype=object)
    return {
        "load": pd.Index(cn.load_id),
        "gen": pd.Index(cn.inj_id[cn.inj_kind == GEN]),
        "sgen": pd.Index(cn.inj_id[cn.inj_kind == SGEN]),
        "injector": pd.MultiIndex.from_arrays([kinds[cn.inj_kind], cn.inj_id]),
    }


def _points_array(a, n_cols: int, name: str, dtype=float) -> np.ndarray:
    a = np.asarray(a, dtype=dtype)
    if a.ndim != 2 or a.shape[1] != n_cols:
        raise GridsimError(f"{name} must be [n_points, {n_cols}], got shape {a.shape}")
    return a


def run_ac_batch(
    network,
    *,
    load_scale: np.ndarray | None = None,
    load_p_mw: np.ndarray | None = None,
    load_q_mvar: np.ndarray | None = None,
    gen_p_mw: np.ndarray | None = None,
    sgen_p_mw: np.ndarray | None = None,
    injector_p_mw: np.ndarray | None = None,
    init: str | np.ndarray | PowerFlowResult = "flat",
    tol_mva: float = 1e-8,
    max_iter: int = 30,
    enforce_q_limits: bool = False,
    threads: int | None = None,
    linear_solver: str = "numba",
    reuse_lu: float = 0.01,
) -> BatchPowerFlowResult:
    """AC power flows of many injection scenarios of one network, solved together.

    Contract (for sweeps and time series): every point shares the network's topology,
    branch parameters, bus types and voltage setpoints; only injections differ. The
    network is compiled once (cached on it) and its Newton solver, Jacobian pattern and
    symbolic LU serve every point; all points are solved in one parallel Numba call
    (``prange`` over points; each point's result is independent of the others and of
    the thread count). Group points by topology and call once per group.

    Parameters
    ----------
    network : Network or CompiledNetwork
    load_scale : ndarray, ``[n_points]`` or ``[n_points, n_load]``, optional
        Factor on every load's P and Q (after ``load_p_mw``/``load_q_mvar``).
    load_p_mw, load_q_mvar : ndarray, ``[n_points, n_load]``, optional
        Load values per point; default the network's.
    gen_p_mw, sgen_p_mw : ndarray, ``[n_points, n_gen]`` / ``[n_points, n_sgen]``
        Active output of generators / static generators per point (slack generators'
        values are ignored: the slack balances).
    injector_p_mw : ndarray, ``[n_points, n_injector]``, optional
        Active output of every injector (HVDC ends included), applied before
        ``gen_p_mw``/``sgen_p_mw``. Column orders: :func:`batch_elements`.
    init : {"flat"}, complex ndarray ``[n_bus]`` or ``[n_points, n_bus]``, or PowerFlowResult
        Start of every point (a solved base case is a good warm start); the magnitudes
        of a given start at PV and slack buses are set to their setpoints first.
    tol_mva, max_iter
        As for :func:`gridsim.run_ac` (``max_iter`` per point).
    enforce_q_limits : bool or {0, 1, 2}
        The batch kernel keeps bus types fixed. When set, every converged point whose
        voltage controllers leave their reactive limits is solved again by
        :func:`gridsim.run_ac` with enforcement (one Python call per such point, from
        the batch solution).
    threads : int, optional
        Numba threads (default: Numba's current setting).
    linear_solver : {"numba", "scipy"}
        As for :func:`gridsim.solvers.batch.solve_batch` (``"scipy"``: point by point
        with SuperLU, a slow reference).
    reuse_lu : float
        Chord steps: a point keeps its LU for the next step while its last step cut its
        largest mismatch below ``reuse_lu`` times what it was; 0 gives plain
        Newton-Raphson (iteration counts as :func:`gridsim.run_ac`'s). As for
        :func:`gridsim.solvers.batch.solve_batch`.

    Returns
    -------
    BatchPowerFlowResult

    Raises
    ------
    GridsimError
        When arrays have the wrong shape or their point counts differ.
    """
    cn = compiled(network)
    n_load = cn.load_s.size
    given = (load_scale, load_p_mw, load_q_mvar, gen_p_mw, sgen_p_mw, injector_p_mw)
    counts = {np.shape(a)[0] for a in given if a is not None and np.ndim(a) > 0} - {1}
    if len(counts) > 1:
        raise GridsimError(f"point counts differ between the arrays: {sorted(counts)}")
    load_s = None
    if load_p_mw is not None or load_q_mvar is not None or load_scale is not None:
        if cn.load_z is not None:
            raise GridsimError(
                "load changes per point are not supported with voltage-dependent loads "
                "(const_z/const_i shares): solve each point with run_ac"
            )
        p = np.broadcast_to(cn.load_s.real, (1, n_load))
        q = np.broadcast_to(cn.load_s.imag, (1, n_load))
        if load_p_mw is not None:
            p = _points_array(load_p_mw, n_load, "load_p_mw")
        if load_q_mvar is not None:
            q = _points_array(load_q_mvar, n_load, "load_q_mvar")
        load_s = p + 1j * q
        if load_scale is not None:
            scale = np.asarray(load_scale, dtype=float)
            if scale.ndim == 1:
                scale = scale[:, None]
            if scale.ndim != 2 or scale.shape[1] not in (1, n_load):
                raise GridsimError(
                    f"load_scale must be [n_points] or [n_points, {n_load}], "
                    f"got shape {scale.shape}"
                )
            load_s = load_s * scale
    inj_p = None
    if injector_p_mw is not None or gen_p_mw is not None or sgen_p_mw is not None:
        inj_p = np.broadcast_to(cn.inj_p, (1, cn.inj_p.size))
        if injector_p_mw is not None:
            inj_p = _points_array(injector_p_mw, cn.inj_p.size, "injector_p_mw")
        for kind, values, name in ((GEN, gen_p_mw, "gen_p_mw"), (SGEN, sgen_p_mw, "sgen_p_mw")):
            if values is None:
                continue
            cols = np.flatnonzero(cn.inj_kind == kind)
            values = _points_array(values, cols.size, name)
            rows = max(values.shape[0], inj_p.shape[0])
            inj_p = np.broadcast_to(inj_p, (rows, inj_p.shape[1])).copy()
            inj_p[:, cols] = values

    v0 = _start(cn, init)
    with numba_threads(threads):
        sbus = _sbus(cn, load_s, inj_p)
        res = solve_batch(
            cn,
            sbus,
            v0=v0,
            tol_mva=tol_mva,
            max_iter=max_iter,
            linear_solver=linear_solver,
            reuse_lu=reuse_lu,
        )
    out = BatchPowerFlowResult(
        cn=cn,
        v=res.v,
        converged=res.converged,
        iterations=res.iterations,
        max_mismatch_mva=res.max_mismatch * cn.sn_mva,
        messages=dict(res.messages),
        load_s=load_s,
        inj_p=inj_p,
        q_limit_rule=getattr(network, "q_limit_rule", None),
    )
    if enforce_q_limits:
        out._enforce_q_limits(enforce_q_limits, tol_mva, max_iter)
    return out


def _sbus(cn: CompiledNetwork, load_s, inj_p) -> np.ndarray:
    """Scheduled injections per point, p.u. (``cn.sbus()`` with the points' values; the
    Q of voltage controllers is not scheduled, so injectors change P only)."""
    base = cn.sbus()
    if load_s is None and inj_p is None:
        return base
    return point_injections(
        base,
        cn.bus_type != NONE,
        float(cn.sn_mva),
        cn.load_bus,
        cn.load_s.astype(np.complex128),
        np.ascontiguousarray(cn.load_s[None, :] if load_s is None else load_s, dtype=complex),
        cn.inj_bus,
        cn.inj_p.astype(np.float64),
        np.ascontiguousarray(cn.inj_p[None, :] if inj_p is None else inj_p, dtype=float),
    )


def _start(cn: CompiledNetwork, init) -> np.ndarray:
    if isinstance(init, PowerFlowResult):
        init = init.v
    if isinstance(init, str):
        if init != "flat":
            raise GridsimError(f"init must be 'flat', an array or a result; got {init!r}")
        return _flat_start(cn, cn.bus_type)
    v0 = np.asarray(init, dtype=np.complex128)
    if v0.shape[-1] != cn.n_bus or v0.ndim > 2:
        raise GridsimError(f"init has shape {v0.shape}; the network has {cn.n_bus} buses")
    return v0


@dataclasses.dataclass
class BatchPowerFlowResult:
    """Per-point results of :func:`run_ac_batch` (first axis: points; buses and branches
    in compiled order, ids in ``bus_ids`` and ``branch_ids``).

    Attributes
    ----------
    v : ndarray of complex, ``[n_points, n_bus]``
    converged : ndarray of bool
    iterations : ndarray of int
        Newton iterations (including a reactive-limit re-solve).
    max_mismatch_mva : ndarray of float
    messages : dict
        Point → reason, for points that did not converge.
    """

    cn: CompiledNetwork
    v: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    max_mismatch_mva: np.ndarray
    messages: dict
    load_s: np.ndarray | None = None  # MVA per point and load, or None: the network's
    inj_p: np.ndarray | None = None  # MW per point and injector, or None
    q_limit_rule: str | None = None
    resolved: dict = dataclasses.field(default_factory=dict)  # point -> run_ac result

    @property
    def n_points(self) -> int:
        return self.v.shape[0]

    @property
    def bus_ids(self) -> pd.Index:
        return self.cn.bus_ids

    @property
    def branch_ids(self) -> pd.MultiIndex:
        kinds = np.array(["line", "trafo"], dtype=object)
        return pd.MultiIndex.from_arrays([kinds[self.cn.br_kind], self.cn.br_id])

    @property
    def vm_pu(self) -> np.ndarray:
        """Voltage magnitudes, ``[n_points, n_bus]`` (NaN where de-energised)."""
        vm = np.abs(self.v)
        vm[:, self.cn.bus_type == NONE] = np.nan
        return vm

    @property
    def va_degree(self) -> np.ndarray:
        """Voltage angles, degrees, ``[n_points, n_bus]`` (NaN where de-energised)."""
        va = np.rad2deg(np.angle(self.v))
        va[:, self.cn.bus_type == NONE] = np.nan
        return va

    @cached_property
    def _flows(self):
        cn = self.cn
        yff, yft, ytf, ytt = cn.branch_y()
        v = np.ascontiguousarray(self.v)
        sf, st = branch_flows(
            v, cn.br_f, cn.br_t, yff, yft, ytf, ytt, np.full(self.n_points, -1, dtype=np.int64)
        )
        return sf * cn.sn_mva, st * cn.sn_mva

    @property
    def s_from_mva(self) -> np.ndarray:
        """Complex power entering each branch at its from end, MVA, ``[n_points, n_branch]``."""
        return self._flows[0]

    @property
    def s_to_mva(self) -> np.ndarray:
        """Complex power entering each branch at its to end, MVA, ``[n_points, n_branch]``."""
        return self._flows[1]

    @property
    def loading_percent(self) -> np.ndarray:
        """``100 max(|S_from|, |S_to|) / rate_mva`` (NaN where unrated)."""
        sf, st = self._flows
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * np.maximum(np.abs(sf), np.abs(st)) / self.cn.br_rate_mva

    @property
    def losses_mw(self) -> np.ndarray:
        """Active losses of all branches per point, MW (the sum of ``pl_mw``); NaN where
        the point did not converge."""
        sf, st = self._flows
        losses = (sf.real + st.real).sum(axis=1)
        return np.where(self.converged, losses, np.nan)

    def network(self, i: int) -> CompiledNetwork:
        """The compiled network of point ``i`` (shares the base's solvers and caches)."""
        cn = self.cn
        changes = {}
        if self.load_s is not None:
            changes["load_s"] = np.asarray(self.load_s[i if self.load_s.shape[0] > 1 else 0])
        if self.inj_p is not None:
            changes["inj_p"] = np.asarray(self.inj_p[i if self.inj_p.shape[0] > 1 else 0])
        if not changes:
            return cn
        return dataclasses.replace(cn, **changes, _cache=dict(cn._cache))

    def point(self, i: int) -> PowerFlowResult:
        """Point ``i`` as a full :class:`~gridsim.results.PowerFlowResult` (tables)."""
        i = int(i)
        if not -self.n_points <= i < self.n_points:
            raise GridsimError(f"point {i} out of range ({self.n_points} points)")
        i %= self.n_points
        if i in self.resolved:
            return self.resolved[i]
        cn = self.network(i)
        converged = bool(self.converged[i])
        return PowerFlowResult.from_ac(
            cn,
            self.v[i],
            _LimitState(cn),
            converged=converged,
            iterations=int(self.iterations[i]),
            max_mismatch_mva=float(self.max_mismatch_mva[i]),
            message="" if converged else self.messages.get(i, "not converged"),
            q_limited=np.zeros(0, dtype=np.int64),
        )

    def _enforce_q_limits(self, mode, tol_mva: float, max_iter: int) -> None:
        """Re-solve with :func:`run_ac` every converged point whose voltage controllers
        leave their reactive limits."""
        base = self.cn
        state = _LimitState(base)
        matpower = self.q_limit_rule == "matpower"
        bt = base.bus_type[base.inj_bus]
        candidates = base.inj_pv & ((bt == PV) | (matpower & (bt == REF)))
        margin = MATPOWER_Q_VIOLATION if matpower else 0.0
        for i in np.flatnonzero(self.converged):
            cn = self.network(int(i))
            q, _ = injector_q_share(cn, self.v[i], state.bus_type, state.q_fixed)
            if not np.any(candidates & ((q > cn.inj_qmax + margin) | (q < cn.inj_qmin - margin))):
                continue
            res = run_ac(
                cn,
                tol_mva=tol_mva,
                max_iter=max_iter,
                enforce_q_limits=mode,
                init=self.v[i],
                q_limit_rule=self.q_limit_rule,
            )
            self.resolved[int(i)] = res
            self.v[i] = res.v
            self.converged[i] = res.converged
            self.iterations[i] += res.iterations
            self.max_mismatch_mva[i] = res.max_mismatch_mva
            if not res.converged:
                self.messages[int(i)] = res.message
        self.__dict__.pop("_flows", None)
