"""Evaluating sweep points: one chunk of points that share a network structure at a time.

A *group* is the set of points that agree on every structural parameter (scenario,
element fields, zone load scales): they share one network, compiled once. Within a
group only the uniform ``load_scale`` and ``export_mw`` vary, and for the power flow
they change nothing but the injections: :func:`_evaluate_pf_group` builds each point's
injections on arrays (the same arithmetic as :func:`~gridsim.analysis.sweep.params.
apply_parameters` on the tables) and solves it on the group's compiled network, whose
Ybus, ordering and symbolic LU are reused.

Every point is solved from a flat start, never from a neighbour's solution, so a row
does not depend on how points were chunked or which process solved them.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

import numpy as np

from gridsim.analysis.sweep.params import (
    EXPORT,
    LOAD_SCALE,
    Parameter,
    export_area,
    finish_point,
    structural_network,
)
from gridsim.exceptions import GridsimError
from gridsim.model.compile import GEN, HVDC_FROM, HVDC_TO, LINE, NONE
from gridsim.model.network import Network

ANALYSES = ("pf", "transfer", "contingency")

PF_COLUMNS = {
    "converged": bool,
    "iterations": "int64",
    "max_mismatch_mva": float,
    "losses_mw": float,
    "hvdc_losses_mw": float,
    "max_loading_percent": float,
    "max_loading_branch": object,
    "n_overloaded": "int64",
    "min_vm_pu": float,
    "max_vm_pu": float,
    "n_voltage_violations": "int64",
}
TRANSFER_COLUMNS = {
    "ttc_mw": float,
    "limit_type": object,
    "limiting_element": object,
    "limiting_contingency": object,
    "ttc_losses_mw": float,
}
CONTINGENCY_COLUMNS = {
    "n_outages": "int64",
    "n_violating_outages": "int64",
    "n_islanding_outages": "int64",
    "worst_outage": object,
    "worst_outage_loading_percent": float,
    "worst_outage_branch": object,
}


def result_columns(analysis: str) -> dict[str, Any]:
    """Result columns of an analysis (after ``point_id`` and the parameters), with dtypes."""
    cols = dict(PF_COLUMNS)
    if analysis == "transfer":
        cols.update(TRANSFER_COLUMNS)
    elif analysis == "contingency":
        cols.update(CONTINGENCY_COLUMNS)
    cols["error"] = object
    return cols


@dataclasses.dataclass
class SweepSpec:
    """What every task needs besides its points (pickled to the workers).

    Attributes
    ----------
    network : Network
        The base network (no compiled arrays).
    params : list of Parameter
    analysis : {"pf", "transfer", "contingency"}
    options : dict
        ``source``, ``sink``, ``n_1``, ``enforce_q_limits``, ``tol_mva``, ``max_iter``.
    token : str
        Fingerprint of the sweep (keys the per-process group cache).
    """

    network: Network
    params: list[Parameter]
    analysis: str
    options: dict
    token: str

    def group_key(self, values: tuple) -> tuple:
        return tuple(v for p, v in zip(self.params, values, strict=True) if p.structural)


def _label(element: Any, element_id: Any) -> str | None:
    if element is None:
        return None
    return f"{element}:{element_id}"


def _pair(t: tuple | None) -> str | None:
    return None if t is None else _label(*t)


# -- per-process cache of group networks ------------------------------------------------

_GROUPS: OrderedDict = OrderedDict()
_GROUPS_MAX = 8


class _Group:
    """The shared network of a group, compiled once, and the export's plans."""

    def __init__(self, spec: SweepSpec, point: dict):
        self.error = ""
        self.network = None
        self.cn = None
        self.spec = spec
        self.plans: dict[tuple, tuple] = {}
        try:
            net = structural_network(spec.network, spec.params, point)
            self.network = net
            if spec.analysis == "pf":
                self.cn = net.compile()
                self._index_loads()
        except GridsimError as exc:
            self.error = " ".join(str(exc).split())

    def _index_loads(self) -> None:
        """Per ``load_scale:AREA`` parameter, which compiled loads it scales."""
        from gridsim.analysis.sweep.params import _zones

        cn, net = self.cn, self.network
        bus = net.columns("bus")
        zone_of = dict(zip(bus.index, bus.zone.astype(str), strict=True))
        load_zone = np.array([zone_of[b] for b in cn.bus_ids[cn.load_bus]], dtype=object)
        self.zone_masks = {}
        for p in self.spec.params:
            if p.kind == LOAD_SCALE and p.field is not None:
                self.zone_masks[p.key] = np.isin(load_zone, _zones(net, p.field) or [])

    def plan(self, point: dict) -> tuple:
        """The export's plan at a point's zone load scales, with compiled positions.

        The plan does not depend on the uniform ``load_scale`` (the sink's shares are
        proportional to its loads), so it is computed once per set of zone scales.
        """
        from gridsim.analysis.sweep.params import scale_loads
        from gridsim.analysis.transfer import _plan

        zone_keys = list(self.zone_masks)
        key = tuple(point[k] for k in zone_keys)
        found = self.plans.get(key)
        if found is not None:
            return found
        net = self.network
        if zone_keys:
            net = net.copy()
            for p in self.spec.params:
                if p.key in self.zone_masks:
                    scale_loads(net, point[p.key], p.field)
        opts = self.spec.options
        src, snk = export_area(net, opts.get("source"), opts.get("sink"))
        plan = _plan(net, src, snk, "load", None, None)
        cn = self.cn
        gen_pos = {i: k for k, i in enumerate(cn.inj_id) if cn.inj_kind[k] == GEN}
        load_pos = {i: k for k, i in enumerate(cn.load_id)}
        hv_pos = {i: k for k, i in enumerate(cn.hvdc_id)}
        found = (
            plan,
            np.array([gen_pos[i] for i in plan.gen_ids], dtype=np.int64),
            np.array([load_pos[i] for i in plan.sink_ids], dtype=np.int64),
            np.array([hv_pos[i] for i in plan.hvdc_ids], dtype=np.int64),
        )
        self.plans[key] = found
        return found

    def hv_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """Injector positions of the HVDC links' to and from ends (link order)."""
        if not hasattr(self, "_hv_ends"):
            kind = self.cn.inj_kind
            self._hv_ends = (np.flatnonzero(kind == HVDC_TO), np.flatnonzero(kind == HVDC_FROM))
        return self._hv_ends

    def hv_loss_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """``loss_mw`` and ``loss_percent`` of the compiled HVDC links, in their order."""
        if not hasattr(self, "_hv_terms"):
            hv = self.network.columns("hvdc")
            pos = {i: k for k, i in enumerate(hv.index)}
            take = np.array([pos[i] for i in self.cn.hvdc_id], dtype=np.int64)
            self._hv_terms = (hv.loss_mw[take].astype(float), hv.loss_percent[take].astype(float))
        return self._hv_terms


def _group(spec: SweepSpec, point: dict, values: tuple) -> _Group:
    key = (spec.token, spec.group_key(values))
    group = _GROUPS.get(key)
    if group is None:
        group = _Group(spec, point)
        _GROUPS[key] = group
        while len(_GROUPS) > _GROUPS_MAX:
            _GROUPS.popitem(last=False)
    else:
        _GROUPS.move_to_end(key)
    return group


# -- power flow ---------------------------------------------------------------------------


def _point_injections(group: _Group, point: dict):
    """A point's ``load_s``, ``inj_p``, ``hvdc_p`` and ``hvdc_loss`` on the group's
    compiled network (arrays shared with it where the point leaves them unchanged).

    The arithmetic mirrors :func:`~gridsim.analysis.sweep.params.finish_point` (zone
    scales, then the uniform scale, then :func:`~gridsim.analysis.transfer.
    apply_transfer`), so the arrays equal those of the compiled network of
    :func:`~gridsim.analysis.sweep.params.apply_parameters` to rounding.
    """
    cn = group.cn
    load_s = cn.load_s
    changed = False
    for p in group.spec.params:
        if p.kind == LOAD_SCALE and p.field is not None and point[p.key] != 1.0:
            mask = group.zone_masks[p.key]
            load_s = load_s.copy() if not changed else load_s
            load_s[mask] = load_s[mask] * point[p.key]
            changed = True
    for p in group.spec.params:
        if p.kind == LOAD_SCALE and p.field is None and point[p.key] != 1.0:
            load_s = load_s * point[p.key]
    transfer = float(sum(point[p.key] for p in group.spec.params if p.kind == EXPORT))
    if transfer == 0.0:
        return load_s, cn.inj_p, cn.hvdc_p, cn.hvdc_loss
    plan, gen_pos, sink_pos, hv_pos = group.plan(point)
    inj_p = cn.inj_p.copy()
    inj_p[gen_pos] = inj_p[gen_pos] + transfer * plan.gen_share
    load_s = load_s.copy()
    p0, q0 = load_s.real[sink_pos], load_s.imag[sink_pos]
    p1 = p0 + transfer * plan.sink_share
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p0 != 0, p1 / p0, 1.0)
    load_s[sink_pos] = p1 + 1j * (q0 * ratio)
    hvdc_p, hvdc_loss = cn.hvdc_p, cn.hvdc_loss
    if hv_pos.size:
        hvdc_p = hvdc_p.copy()
        hvdc_p[hv_pos] = hvdc_p[hv_pos] + transfer * plan.hvdc_dir * plan.hvdc_share
        loss_mw, loss_pct = group.hv_loss_terms()
        hvdc_loss = loss_mw + loss_pct / 100.0 * np.abs(hvdc_p)
        to_end, from_end = group.hv_ends()
        inj_p[to_end] = np.where(hvdc_p >= 0, hvdc_p - hvdc_loss, hvdc_p)
        inj_p[from_end] = np.where(hvdc_p >= 0, -hvdc_p, -hvdc_p - hvdc_loss)
    return load_s, inj_p, hvdc_p, hvdc_loss


def _point_view(group: _Group, point: dict):
    """The group's compiled network with a point's injections (shared solvers)."""
    load_s, inj_p, hvdc_p, hvdc_loss = _point_injections(group, point)
    cn = group.cn
    return dataclasses.replace(
        cn, inj_p=inj_p, load_s=load_s, hvdc_p=hvdc_p, hvdc_loss=hvdc_loss, _cache=cn._cache
    )


def pf_summary(res) -> dict:
    """The power-flow columns of a row from a :class:`~gridsim.PowerFlowResult`."""
    cn = res.cn
    summary = _summaries(
        cn,
        res.v[None, :],
        np.array([res.converged]),
        np.array([res.iterations]),
        np.array([res.max_mismatch_mva]),
        np.array([float(np.sum(cn.hvdc_loss))]),
    )[0]
    if not res.converged:
        summary["error"] = res.message or "did not converge"
    return summary


def _summaries(cn, v, converged, iterations, mismatch_mva, hvdc_losses) -> list[dict]:
    """Power-flow columns of many solved points of one compiled network.

    ``v`` is ``[n_points, n_bus]``; the flows are those of
    :class:`~gridsim.PowerFlowResult` (``S = V conj(Y V)`` per branch end), worked out
    for all points at once.
    """
    n = v.shape[0]
    yff, yft, ytf, ytt = cn.branch_y()
    vf, vt = v[:, cn.br_f], v[:, cn.br_t]
    sf = vf * np.conj(yff * vf + yft * vt) * cn.sn_mva
    st = vt * np.conj(ytf * vf + ytt * vt) * cn.sn_mva
    losses = np.nansum((sf + st).real, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        loading = 100.0 * np.maximum(np.abs(sf), np.abs(st)) / cn.br_rate_mva
    rated = ~np.isnan(cn.br_rate_mva)
    if rated.any():
        masked = np.where(np.isnan(loading), -np.inf, loading)
        worst = np.argmax(masked, axis=1)
        n_over = np.sum(masked > 100.0, axis=1)
    on = cn.bus_type != NONE
    vm = np.abs(v[:, on])
    with np.errstate(invalid="ignore"):
        v_bad = (vm < cn.vm_min[on] - 1e-9) | (vm > cn.vm_max[on] + 1e-9)
    kinds = np.where(cn.br_kind == LINE, "line", "trafo")
    rows = []
    for i in range(n):
        row = {
            "converged": bool(converged[i]),
            "iterations": int(iterations[i]),
            "max_mismatch_mva": float(mismatch_mva[i]),
            "losses_mw": np.nan,
            "hvdc_losses_mw": float(hvdc_losses[i]),
            "max_loading_percent": np.nan,
            "max_loading_branch": None,
            "n_overloaded": 0,
            "min_vm_pu": np.nan,
            "max_vm_pu": np.nan,
            "n_voltage_violations": 0,
            "error": "",
        }
        if not converged[i]:
            row["error"] = "did not converge"
            rows.append(row)
            continue
        row["losses_mw"] = float(losses[i])
        if rated.any():
            k = int(worst[i])
            row["max_loading_percent"] = float(loading[i, k])
            row["max_loading_branch"] = _label(kinds[k], cn.br_id[k])
            row["n_overloaded"] = int(n_over[i])
        if vm.shape[1]:
            row["min_vm_pu"] = float(vm[i].min())
            row["max_vm_pu"] = float(vm[i].max())
            row["n_voltage_violations"] = int(v_bad[i].sum())
        rows.append(row)
    return rows


def _failed_row(analysis: str, message: str) -> dict:
    row = {}
    for name, dtype in result_columns(analysis).items():
        if dtype is bool:
            row[name] = False
        elif dtype == "int64":
            row[name] = 0
        elif dtype is float:
            row[name] = np.nan
        else:
            row[name] = None
    row["error"] = message
    return row


def _evaluate_pf_group(
    group: _Group, points: list[dict], options: dict, threads: int | None = None
) -> list[dict]:
    """Power-flow rows of points that share ``group``'s compiled network.

    Every point differs from the group's network only in its injections
    (:func:`_point_view`), so all of them are solved in one parallel Numba call by
    :func:`gridsim.analysis.batch.run_ac_batch` (flat starts, the group's Newton solver
    and symbolic LU; points that leave reactive limits re-solved with enforcement when
    asked), or, in an installation without it, by one :func:`gridsim.run_ac` each.
    Either way the rows are summarised together (:func:`_summaries`).
    """
    cn = group.cn
    injections = [_point_injections(group, point) for point in points]
    hvdc_losses = np.array([float(np.sum(inj[3])) for inj in injections])
    tol, max_iter = options.get("tol_mva", 1e-8), options.get("max_iter", 30)
    q_limits = options.get("enforce_q_limits", False)
    run_ac_batch = _batch_solver()
    if run_ac_batch is not None:
        load_s = np.stack([inj[0] for inj in injections])
        res = run_ac_batch(
            group.network,
            load_p_mw=load_s.real,
            load_q_mvar=load_s.imag,
            injector_p_mw=np.stack([inj[1] for inj in injections]),
            tol_mva=tol,
            max_iter=max_iter,
            enforce_q_limits=q_limits,
            threads=threads,
            reuse_lu=0.0,  # plain Newton from flat starts: rows as single runs give them
        )
        v, converged, iterations = res.v, res.converged, res.iterations
        mismatch, messages = res.max_mismatch_mva, dict(res.messages)
    else:  # pragma: no cover (an installation without the batch solver)
        from gridsim.analysis.powerflow import run_ac

        n = len(points)
        v = np.empty((n, cn.n_bus), dtype=complex)
        converged = np.zeros(n, dtype=bool)
        iterations = np.zeros(n, dtype=np.int64)
        mismatch = np.zeros(n)
        messages = {}
        for i, point in enumerate(points):
            r = run_ac(
                _point_view(group, point),
                tol_mva=tol,
                max_iter=max_iter,
                enforce_q_limits=q_limits,
                q_limit_rule=group.network.q_limit_rule,
            )
            v[i], converged[i], iterations[i] = r.v, r.converged, r.iterations
            mismatch[i] = r.max_mismatch_mva
            if not r.converged:
                messages[i] = r.message
    rows = _summaries(cn, v, converged, iterations, mismatch, hvdc_losses)
    for i, message in messages.items():
        if not rows[i]["converged"] and message:
            rows[i]["error"] = " ".join(str(message).split())
    return rows


def _batch_solver():
    """:func:`gridsim.analysis.batch.run_ac_batch`, where this installation has it."""
    try:
        from gridsim.analysis.batch import run_ac_batch
    except ImportError:  # pragma: no cover
        return None
    return run_ac_batch


# -- transfer and contingency -------------------------------------------------------------


def _point_network(spec: SweepSpec, group: _Group, point: dict) -> Network:
    net = group.network.copy()
    return finish_point(
        net, spec.params, point, spec.options.get("source"), spec.options.get("sink")
    )


def _evaluate_transfer(spec: SweepSpec, group: _Group, point: dict) -> dict:
    from gridsim.analysis.powerflow import run_ac
    from gridsim.analysis.transfer import transfer_capability

    opts = spec.options
    net = _point_network(spec, group, point)
    row = pf_summary(run_ac(net, enforce_q_limits=opts.get("enforce_q_limits", False)))
    src = opts.get("source") or (getattr(net, "export", None) or {}).get("source")
    snk = opts.get("sink") or (getattr(net, "export", None) or {}).get("sink")
    row.update({k: (np.nan if v is float else None) for k, v in TRANSFER_COLUMNS.items()})
    if src is None or snk is None:
        row["error"] = "no export source and sink in the scenario; give source and sink"
        return row
    try:
        res = transfer_capability(net, src, snk, n_1=bool(opts.get("n_1", False)))
    except GridsimError as exc:  # e.g. limits exceeded with no transfer: the row says so
        row["error"] = " ".join(str(exc).split())
        return row
    row.update(
        ttc_mw=float(res.ttc_mw),
        limit_type=res.limit_type,
        limiting_element=_pair(res.limiting_element),
        limiting_contingency=_pair(res.limiting_contingency),
        ttc_losses_mw=float(res.losses_mw),
    )
    return row


def _evaluate_contingency(spec: SweepSpec, group: _Group, point: dict) -> dict:
    from gridsim.analysis.contingency import ac_contingency, contingency_summary
    from gridsim.analysis.powerflow import run_ac

    opts = spec.options
    net = _point_network(spec, group, point)
    q = opts.get("enforce_q_limits", False)
    row = pf_summary(run_ac(net, enforce_q_limits=q))
    row.update(
        n_outages=0,
        n_violating_outages=0,
        n_islanding_outages=0,
        worst_outage=None,
        worst_outage_loading_percent=np.nan,
        worst_outage_branch=None,
    )
    try:
        summary = contingency_summary(ac_contingency(net, enforce_q_limits=q))
    except GridsimError as exc:  # e.g. the base case does not converge
        row["error"] = " ".join(str(exc).split())
        return row
    status = summary.status.astype(str)
    loading = summary.max_loading_percent.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        violating = (status == "diverged").to_numpy() | (loading > 100.0)
    row["n_outages"] = int(len(summary))
    row["n_violating_outages"] = int(violating.sum())
    row["n_islanding_outages"] = int((status == "islanded").sum())
    solved = summary[summary.max_loading_percent.notna()]
    if len(solved):
        (oel, oid), worst = solved.index[0], solved.iloc[0]
        row["worst_outage"] = _label(oel, oid)
        row["worst_outage_loading_percent"] = float(worst.max_loading_percent)
        row["worst_outage_branch"] = _label(worst.max_loading_element, worst.max_loading_id)
    return row


# -- the task -------------------------------------------------------------------------------


def evaluate_chunk(
    spec: SweepSpec, chunk: list[tuple[int, tuple]], threads: int | None = None
) -> list[dict]:
    """Rows of one chunk: ``(point_id, values)`` pairs that share one group.

    Pure: the same chunk gives the same rows in any process, so a task lost with its
    worker can be run again. Rows hold ``point_id``, the parameter values and the
    columns of :func:`result_columns`. ``threads``: Numba threads of the batched
    power flows (workers of a pool use 1; default: all).
    """
    import warnings

    keys = [p.key for p in spec.params]
    options = spec.options
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = [dict(zip(keys, values, strict=True)) for _, values in chunk]
        group = _group(spec, points[0], chunk[0][1])
        if group.error:
            results = [_failed_row(spec.analysis, group.error) for _ in chunk]
        elif spec.analysis == "pf":
            results = _evaluate_pf_group(group, points, options, threads)
        else:
            evaluate = _evaluate_transfer if spec.analysis == "transfer" else _evaluate_contingency
            results = []
            for point in points:
                try:
                    results.append(evaluate(spec, group, point))
                except GridsimError as exc:
                    results.append(_failed_row(spec.analysis, " ".join(str(exc).split())))
    for (pid, values), result in zip(chunk, results, strict=True):
        row = {"point_id": pid, **dict(zip(keys, values, strict=True)), **result}
        rows.append(row)
    return rows
