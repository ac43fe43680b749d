"""DC sensitivities of a network: PTDF, zone-to-zone PTDF, LODF and N-1 screening.

All factors are those of :func:`gridsim.run_dc`'s model, computed per AC island by the
kernels of :mod:`gridsim.solvers.ptdf` (formulas and the islanding rule are stated
there):

* ``PTDF[l, k]``: MW more on branch ``l`` (measured at its from end) per MW injected at
  bus ``k`` and withdrawn at the slack of ``k``'s island (MATPOWER's ``makePTDF``).
* ``LODF[l, k] = H_lk / (1 - H_kk)``, ``H_lk = PTDF[l, f_k] - PTDF[l, t_k]``, with
  ``LODF[k, k] = -1`` (MATPOWER's ``makeLODF``): the post-outage flow is
  ``F_l + LODF[l, k] F_k``. Outages with ``|1 - H_kk| < 1e-9`` split an island off its
  slack; they are flagged and their column is NaN.
* HVDC links are fixed injections at their two AC ends (setpoint less losses on the
  receiving end). Their outage changes the injections by ``-P_from`` and ``-P_to``, so
  ``dF = PTDF[:, from] dP_from + PTDF[:, to] dP_to``, each end's island rebalanced by
  its own slack. :func:`hvdc_ptdf` gives the sensitivity to a link's setpoint.

The factorisation of the reduced B matrix is cached on the compiled network
(``cn._cache["dc_sensitivity"]``, sharing ``"dc_lu"`` with :func:`gridsim.run_dc`); a
change to the network drops both with the compiled arrays.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import numpy as np
import pandas as pd

from gridsim.analysis.powerflow import compiled, run_dc
from gridsim.exceptions import GridsimError
from gridsim.model.compile import (
    EXT_GRID,
    GEN,
    HVDC_FROM,
    HVDC_TO,
    LINE,
    NONE,
    REF,
    SGEN,
    TRAFO,
    CompiledNetwork,
)
from gridsim.numerics.dc import bbus_values, dc_branch_parameters
from gridsim.solvers.ptdf import (
    ISLANDING_TOL,
    DcFactor,
    lodf_from_ptdf,
    post_outage_flows,
)
from gridsim.solvers.sparse_lu import NumbaLU

__all__ = ["dc_contingency", "hvdc_ptdf", "lodf", "ptdf", "zone_ptdf"]

BRANCH_ELEMENTS = ("line", "trafo")


def _factor(cn: CompiledNetwork) -> DcFactor:
    """The cached LU of the reduced DC B matrix of ``cn``."""
    factor = cn._cache.get("dc_sensitivity")
    if factor is None:
        b, _ = dc_branch_parameters(cn.br_ys, cn.br_tap)
        bdata = bbus_values(cn.indices.size, cn.ypos, cn.ydiag, b)
        fixed = (cn.bus_type == REF) | (cn.bus_type == NONE)
        lu = cn._cache.get("dc_lu")
        if lu is None:
            lu = cn._cache["dc_lu"] = NumbaLU(cn.indptr, cn.indices, cn.n_bus, order=cn.bus_order())
        factor = DcFactor(cn.indptr, cn.indices, cn.ydiag, bdata, fixed, b, cn.br_f, cn.br_t, lu)
        cn._cache["dc_sensitivity"] = factor
    return factor


def _branch_index(cn: CompiledNetwork, rows: np.ndarray | None = None) -> pd.MultiIndex:
    kind, ids = cn.br_kind, cn.br_id
    if rows is not None:
        kind, ids = kind[rows], ids[rows]
    return pd.MultiIndex.from_arrays(
        [np.where(kind == LINE, "line", "trafo"), ids], names=["element", "id"]
    )


def _bus_positions(cn: CompiledNetwork, buses) -> np.ndarray:
    ids = list(buses) if not isinstance(buses, pd.Index) else buses
    pos = cn.bus_ids.get_indexer(ids)
    if (pos < 0).any():
        missing = [b for b, p in zip(ids, pos, strict=True) if p < 0]
        raise GridsimError(f"not in-service buses: {missing[:5]!r}")
    return pos.astype(np.int64)


def _base_flows(cn: CompiledNetwork):
    res = run_dc(cn)
    if not res.converged:
        raise GridsimError(f"the base DC power flow failed: {res.message}")
    return res


def ptdf(network, *, buses: Iterable | None = None) -> pd.DataFrame:
    """Bus PTDFs: branch-flow change per MW injected at a bus, taken by its island's slack.

    Parameters
    ----------
    network : Network or CompiledNetwork
    buses : iterable of bus ids, optional
        The buses (columns) wanted; default every in-service bus.

    Returns
    -------
    pandas.DataFrame
        Rows: branches indexed by ``(element, id)`` (as ``run_dc(...).branch``);
        columns: bus ids. Flows are measured at the branches' from ends. Columns of
        slack and de-energised buses are zero, and so are the rows of branches outside
        the bus's island.

    Raises
    ------
    GridsimError
        For a bus id that is not an in-service bus.
    """
    cn = compiled(network)
    pos = np.arange(cn.n_bus) if buses is None else _bus_positions(cn, buses)
    pt = _factor(cn).bus_ptdf(pos)
    cols = pd.Index(cn.bus_ids[pos], name="bus")
    return pd.DataFrame(pt.T, index=_branch_index(cn), columns=cols)


def _zone_labels(cn: CompiledNetwork, network, zones) -> np.ndarray:
    if zones is None:
        if isinstance(network, CompiledNetwork):
            raise GridsimError("give zones= (bus id -> zone) with a CompiledNetwork")
        zones = network.bus["zone"]
    zones = pd.Series(zones) if isinstance(zones, Mapping) else zones
    return zones.reindex(cn.bus_ids).to_numpy(dtype=object)


def _zone_weights(
    cn: CompiledNetwork, labels: np.ndarray, zone, per_bus_mw: np.ndarray
) -> np.ndarray:
    """Normalised weights over the energised buses of ``zone`` (uniform if all zero)."""
    wanted = {zone} if isinstance(zone, str) else set(zone)
    members = np.isin(labels, list(wanted)) & (cn.bus_type != NONE)
    if not members.any():
        raise GridsimError(f"zone {zone!r} has no energised bus")
    w = np.where(members, np.maximum(per_bus_mw, 0.0), 0.0)
    if w.sum() <= 0.0:  # no generation (load) there: spread evenly
        w = members.astype(float)
    return w / w.sum()


def zone_ptdf(
    network,
    source_zone: str | Collection[str],
    sink_zone: str | Collection[str],
    *,
    zones: Mapping | pd.Series | None = None,
) -> pd.Series:
    """Branch-flow change per MW transferred from one zone to another.

    The injection is spread over the source zone's energised buses in proportion to the
    active power their generators (``gen``, ``sgen``, ``ext_grid``; HVDC ends excluded)
    produce in the base DC power flow; the withdrawal is spread over the sink zone's
    buses in proportion to their in-service load. A zone without generation (load) is
    spread evenly over its buses. Buses of either zone in different AC islands are
    balanced by their own island's slack, so across islands this is a sum of two
    slack-referenced injections, not a transfer.

    Parameters
    ----------
    network : Network or CompiledNetwork
    source_zone, sink_zone : str or collection of str
        Zone label(s) (the bus ``zone`` field, e.g. ``"AZ"``).
    zones : mapping or Series, optional
        Bus id -> zone; default the network's ``bus.zone`` (required for a
        CompiledNetwork).

    Returns
    -------
    pandas.Series
        Per branch, indexed by ``(element, id)``; named ``"<source>-><sink>"``.
    """
    cn = compiled(network)
    labels = _zone_labels(cn, network, zones)
    res = _base_flows(cn)
    producing = np.isin(cn.inj_kind, (GEN, SGEN, EXT_GRID))
    gen_mw = np.bincount(
        cn.inj_bus[producing], weights=res.injector_p_mw[producing], minlength=cn.n_bus
    )
    load_mw = np.bincount(cn.load_bus, weights=cn.load_s.real, minlength=cn.n_bus)
    w_src = _zone_weights(cn, labels, source_zone, gen_mw)
    w_snk = _zone_weights(cn, labels, sink_zone, load_mw)
    net_inj = w_src - w_snk
    idx = np.flatnonzero(net_inj)
    flows = _factor(cn).solve_flows(np.array([0, idx.size]), idx, net_inj[idx])[0]
    name = f"{_zone_name(source_zone)}->{_zone_name(sink_zone)}"
    return pd.Series(flows, index=_branch_index(cn), name=name)


def _zone_name(zone) -> str:
    return zone if isinstance(zone, str) else "+".join(sorted(zone))


def hvdc_ptdf(network) -> pd.DataFrame:
    """Branch-flow change per MW more of each HVDC link's setpoint ``p_mw``.

    The link draws ``dp`` more at its from bus and delivers ``dp (1 - loss_percent/100)``
    more at its to bus (forward flow; for reverse flow the losses fall on the from
    end), linearised at the current setpoint. Each end's island is balanced by its slack.

    Returns
    -------
    pandas.DataFrame
        Rows: branches ``(element, id)``; columns: in-service HVDC link ids.
    """
    cn = compiled(network)
    rate = _hvdc_loss_rate(cn, network)
    forward = cn.hvdc_p >= 0
    d_from = np.where(forward, -1.0, -1.0 + rate)
    d_to = np.where(forward, 1.0 - rate, 1.0)
    flows = _hvdc_flows(cn, d_from, d_to)
    return pd.DataFrame(flows.T, index=_branch_index(cn), columns=pd.Index(cn.hvdc_id, name="hvdc"))


def _hvdc_loss_rate(cn: CompiledNetwork, network) -> np.ndarray:
    """``loss_percent / 100`` per in-service link (in ``cn.hvdc_id`` order).

    A CompiledNetwork keeps only the total loss at the setpoint, so without the Network
    the whole loss is taken as proportional (``hvdc_loss / |hvdc_p|``).
    """
    if not isinstance(network, CompiledNetwork):
        h = network.columns("hvdc")
        rate = pd.Series(h.loss_percent / 100.0, index=h.index)
        return rate.reindex(cn.hvdc_id).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = cn.hvdc_loss / np.abs(cn.hvdc_p)
    return np.where(np.isfinite(rate), rate, 0.0)


def _hvdc_flows(cn: CompiledNetwork, d_from: np.ndarray, d_to: np.ndarray) -> np.ndarray:
    """Branch-flow changes for injection changes at the ends of each link (rows: links)."""
    m = cn.hvdc_id.size
    idx = np.empty(2 * m, dtype=np.int64)
    idx[0::2], idx[1::2] = cn.hvdc_from, cn.hvdc_to
    val = np.empty(2 * m)
    val[0::2], val[1::2] = d_from, d_to
    return _factor(cn).solve_flows(np.arange(0, 2 * m + 1, 2), idx, val)


def _branch_positions(cn: CompiledNetwork, outages) -> np.ndarray:
    index = _branch_index(cn)
    if outages is None:
        return np.arange(cn.n_branch)
    outages = list(outages)
    bad = [o for o in outages if not (isinstance(o, tuple) and o[0] in BRANCH_ELEMENTS)]
    if bad:
        raise GridsimError(
            f"outages must be ('line', id) or ('trafo', id) pairs; got {bad[:5]!r} "
            "(HVDC outages: see dc_contingency)"
        )
    pos = index.get_indexer(outages) if outages else np.zeros(0, dtype=np.int64)
    if (pos < 0).any():
        missing = [o for o, p in zip(outages, pos, strict=True) if p < 0]
        raise GridsimError(f"not in-service branches: {missing[:5]!r}")
    return pos.astype(np.int64)


def _lodf_arrays(cn: CompiledNetwork, outaged: np.ndarray):
    """``(lodf_t, islanding)`` for branch positions ``outaged`` (rows: outages)."""
    ends = np.concatenate([cn.br_f[outaged], cn.br_t[outaged]])
    buses, inverse = np.unique(ends, return_inverse=True)
    pt = _factor(cn).bus_ptdf(buses)
    m = outaged.size
    col_f = inverse[:m].astype(np.int64)
    col_t = inverse[m:].astype(np.int64)
    return lodf_from_ptdf(pt, col_f, col_t, outaged, ISLANDING_TOL)


def lodf(network, outages: Iterable[tuple] | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """Line outage distribution factors, with islanding outages flagged.

    Parameters
    ----------
    network : Network or CompiledNetwork
    outages : iterable of (element, id), optional
        Branches taken out, ``("line", id)`` or ``("trafo", id)``; default every
        in-service branch.

    Returns
    -------
    lodf : pandas.DataFrame
        Rows: monitored branches, columns: outaged branches, both ``(element, id)``.
        ``LODF[l, k]`` is the share of branch ``k``'s pre-outage flow that moves onto
        ``l``; ``-1`` on the outaged branch; NaN columns for islanding outages.
    islanding : pandas.Series of bool
        Per outage: True where the outage cuts buses off their island's slack
        (``|1 - H_kk| < 1e-9``).
    """
    cn = compiled(network)
    outaged = _branch_positions(cn, outages)
    lodf_t, islanding = _lodf_arrays(cn, outaged)
    out_index = _branch_index(cn, outaged)
    frame = pd.DataFrame(lodf_t.T, index=_branch_index(cn), columns=out_index)
    return frame, pd.Series(islanding, index=out_index, name="islanding")


def dc_contingency(network, outages: Iterable[tuple] | None = None) -> pd.DataFrame:
    """N-1 DC screening: post-outage flows of every branch for each outage.

    Branch outages use the LODF; HVDC outages remove the link's injections at its two
    ends (``dF = PTDF[:, from] (-P_from) + PTDF[:, to] (-P_to)``, each end's island
    rebalanced by its slack). The base flows are those of :func:`gridsim.run_dc`.

    Parameters
    ----------
    network : Network or CompiledNetwork
    outages : iterable of (element, id), optional
        ``("line", id)``, ``("trafo", id)`` or ``("hvdc", id)`` of in-service elements;
        default every in-service branch, then every in-service HVDC link.

    Returns
    -------
    pandas.DataFrame
        One row per (outage, monitored branch), the outaged branch itself left out, with
        columns ``outage_element``, ``outage_id``, ``element``, ``id``, ``p0_mw`` (base
        flow at the from end), ``p_mw`` (post-outage), ``loading_percent``
        (``100 |p_mw| / rate_mva``, NaN where unrated) and ``status``: ``"ok"``, or
        ``"islanded"`` for an outage that splits an island off its slack (its flows are
        NaN: the DC model has no post-outage state for it). The element and status
        columns are categorical; ids keep an integer dtype where all ids are integers.
    """
    cn = compiled(network)
    res = _base_flows(cn)
    flow = np.ascontiguousarray(res.branch_p_from_mw)
    if outages is None:
        branch_out = np.arange(cn.n_branch)
        hvdc_out = np.arange(cn.hvdc_id.size)
    else:
        outages = list(outages)
        is_hvdc = [isinstance(o, tuple) and o[0] == "hvdc" for o in outages]
        branch_out = _branch_positions(
            cn, [o for o, h in zip(outages, is_hvdc, strict=True) if not h]
        )
        hvdc_out = _hvdc_positions(cn, [o[1] for o, h in zip(outages, is_hvdc, strict=True) if h])
    lodf_t, islanding = _lodf_arrays(cn, branch_out)
    post = post_outage_flows(lodf_t, branch_out, flow)
    # HVDC outages: take both end injections away
    fm, tm = cn.inj_kind == HVDC_FROM, cn.inj_kind == HVDC_TO
    p_from = _by_id(cn.inj_id[fm], cn.inj_p[fm], cn.hvdc_id)
    p_to = _by_id(cn.inj_id[tm], cn.inj_p[tm], cn.hvdc_id)
    d_hvdc = _hvdc_flows(cn, -p_from, -p_to)[hvdc_out]
    post = np.vstack([post, flow[None, :] + d_hvdc])
    status = np.concatenate([islanding.astype(np.int8), np.zeros(hvdc_out.size, np.int8)])

    n_out, nbr = post.shape
    keep = np.ones((n_out, nbr), dtype=bool)
    keep[np.arange(branch_out.size), branch_out] = False
    o_rows, l_cols = np.nonzero(keep)
    out_kind = np.concatenate([cn.br_kind[branch_out], np.full(hvdc_out.size, 2)])
    out_id = _typed(np.concatenate([cn.br_id[branch_out], cn.hvdc_id[hvdc_out]]))
    p = post[o_rows, l_cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        loading = 100.0 * np.abs(p) / cn.br_rate_mva[l_cols]
    elements = ["", "", "hvdc"]  # categories by code: LINE, TRAFO, then HVDC links
    elements[LINE], elements[TRAFO] = "line", "trafo"
    return pd.DataFrame(
        {
            "outage_element": pd.Categorical.from_codes(out_kind[o_rows], elements),
            "outage_id": out_id[o_rows],
            "element": pd.Categorical.from_codes(cn.br_kind[l_cols], elements[:2]),
            "id": _typed(cn.br_id)[l_cols],
            "p0_mw": flow[l_cols],
            "p_mw": p,
            "loading_percent": loading,
            "status": pd.Categorical.from_codes(status[o_rows], ["ok", "islanded"]),
        }
    )


def _typed(ids: np.ndarray) -> np.ndarray:
    """Ids as an integer array where they all are integers (object otherwise)."""
    values = pd.Index(list(ids)).to_numpy()
    return values if values.dtype.kind in "iu" else np.asarray(ids, dtype=object)


def _by_id(ids: np.ndarray, values: np.ndarray, order: np.ndarray) -> np.ndarray:
    return pd.Series(values, index=pd.Index(ids)).reindex(order).to_numpy(dtype=float)


def _hvdc_positions(cn: CompiledNetwork, ids: list) -> np.ndarray:
    pos = pd.Index(cn.hvdc_id).get_indexer(ids) if ids else np.zeros(0, dtype=np.int64)
    if (pos < 0).any():
        missing = [i for i, p in zip(ids, pos, strict=True) if p < 0]
        raise GridsimError(f"not in-service HVDC links: {missing[:5]!r}")
    return pos.astype(np.int64)
