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

:func:`dc_n1_flows` gives the N-1 post-outage flows as one matrix (outages x branches,
:class:`DcN1Flows`, with the most loaded branch per outage); :func:`dc_contingency` is its
long table.

The factorisation of the reduced B matrix is cached on the compiled network
(``cn._cache["dc_sensitivity"]``, sharing ``"dc_lu"`` with :func:`gridsim.run_dc`); a
change to the network drops both with the compiled arrays.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

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
from gridsim.solvers.ptdf import DcFactor, flatten_outage_rows
from gridsim.solvers.sparse_lu import NumbaLU

__all__ = [
    "DcN1Flows",
    "dc_contingency",
    "dc_n1_flows",
    "hvdc_ptdf",
    "lodf",
    "ptdf",
    "zone_ptdf",
]

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
    return _factor(cn).outage_rows(np.asarray(outaged, dtype=np.int64))


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


@dataclass(frozen=True, eq=False)
class DcN1Flows:
    """DC post-outage flows of every branch for each outage: the matrix behind
    :func:`dc_contingency` (see :func:`dc_n1_flows`).

    Attributes
    ----------
    flows : ndarray, shape (n_outage, n_branch)
        Active power at each branch's from end after each outage, MW. Row ``k`` is
        outage ``k`` (branch outages first, then HVDC links); the outaged branch itself
        carries exactly 0; rows of islanding outages are NaN.
    base_mw : ndarray, shape (n_branch,)
        Pre-outage flows (those of :func:`gridsim.run_dc`), MW.
    islanding : ndarray of bool, shape (n_outage,)
        Outages that cut buses off their island's slack (no post-outage DC state).
    outage_branch : ndarray of int, shape (n_outage,)
        Position (column of ``flows``) of the outaged branch, ``-1`` for HVDC outages.
    outage_hvdc : ndarray of int, shape (n_outage,)
        Position of the outaged HVDC link in ``compiled.hvdc_id``, ``-1`` for branches.
    compiled : CompiledNetwork
        The network the positions refer to.
    """

    flows: np.ndarray
    base_mw: np.ndarray
    islanding: np.ndarray
    outage_branch: np.ndarray
    outage_hvdc: np.ndarray
    compiled: CompiledNetwork = field(repr=False)

    @property
    def outages(self) -> pd.MultiIndex:
        """Outages (rows of ``flows``) as ``(element, id)``, element ``line``, ``trafo``
        or ``hvdc``."""
        cn = self.compiled
        is_br = self.outage_branch >= 0
        kind = np.where(is_br, cn.br_kind[np.maximum(self.outage_branch, 0)], 2)
        names = np.array(["", "", "hvdc"], dtype=object)
        names[LINE], names[TRAFO] = "line", "trafo"
        ids = np.empty(kind.size, dtype=object)
        ids[is_br] = cn.br_id[self.outage_branch[is_br]]
        ids[~is_br] = cn.hvdc_id[self.outage_hvdc[~is_br]]
        return pd.MultiIndex.from_arrays([names[kind], _typed(ids)], names=["element", "id"])

    @property
    def branches(self) -> pd.MultiIndex:
        """Monitored branches (columns of ``flows``) as ``(element, id)``."""
        return _branch_index(self.compiled)

    @property
    def rate_mva(self) -> np.ndarray:
        """Branch ratings, MVA (NaN where unrated)."""
        return self.compiled.br_rate_mva

    def loading_percent(self) -> np.ndarray:
        """``100 |flows| / rate_mva``, shape ``(n_outage, n_branch)``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * np.abs(self.flows) / self.rate_mva

    def worst(self) -> pd.DataFrame:
        """The most loaded branch of each outage.

        Returns
        -------
        pandas.DataFrame
            Indexed by outage ``(element, id)``: ``element``, ``id`` of the branch with
            the highest ``loading_percent`` (unrated branches and the outaged branch
            ignored), its ``p_mw`` and ``loading_percent``, and ``status`` (``"ok"`` or
            ``"islanded"``; for these, and where no branch is rated, the other columns
            are empty/NaN).
        """
        loading = self.loading_percent()
        if self.flows.shape[0]:
            rows = np.flatnonzero(self.outage_branch >= 0)
            loading[rows, self.outage_branch[rows]] = np.nan
        filled = np.where(np.isnan(loading), -np.inf, loading)
        col = filled.argmax(axis=1) if filled.shape[1] else np.zeros(len(filled), dtype=int)
        found = np.isfinite(filled[np.arange(len(filled)), col]) if filled.shape[1] else col > 0
        branch = _branch_index(self.compiled)
        n = len(col)
        element = np.where(found, np.asarray(branch.get_level_values(0), dtype=object)[col], None)
        ids = np.where(found, np.asarray(branch.get_level_values(1), dtype=object)[col], None)
        take = np.arange(n), col
        return pd.DataFrame(
            {
                "element": pd.Categorical(element, categories=list(BRANCH_ELEMENTS)),
                "id": ids,
                "p_mw": np.where(found, self.flows[take] if n else 0.0, np.nan),
                "loading_percent": np.where(found, loading[take] if n else 0.0, np.nan),
                "status": pd.Categorical.from_codes(
                    self.islanding.astype(np.int8), dtype=_STATUS_DTYPE
                ),
            },
            index=self.outages,
        )

    def table(self, screen: float | None = None) -> pd.DataFrame:
        """The long table of :func:`dc_contingency` (``screen``: as there)."""
        cn = self.compiled
        is_br = self.outage_branch >= 0
        out_code = np.where(is_br, cn.br_kind[np.maximum(self.outage_branch, 0)], 2)
        out_ids = _typed(self.outages.get_level_values(1).to_numpy())
        br_ids = _typed(cn.br_id)
        # integer ids go through the kernel as they are, others as positions
        row_key = out_ids if out_ids.dtype.kind in "iu" else np.arange(out_ids.size)
        col_key = br_ids if br_ids.dtype.kind in "iu" else np.arange(br_ids.size)
        o_code, o_key, e_code, e_key, p0, p, loading, status = flatten_outage_rows(
            self.flows,
            self.outage_branch,
            self.islanding,
            out_code.astype(np.int8),
            row_key,
            cn.br_kind.astype(np.int8),
            col_key,
            self.base_mw,
            cn.br_rate_mva,
            np.nan if screen is None else float(screen),
        )
        return pd.DataFrame(
            {
                "outage_element": pd.Categorical.from_codes(
                    o_code, dtype=_OUTAGE_DTYPE, validate=False
                ),
                "outage_id": o_key if row_key is out_ids else out_ids[o_key],
                "element": pd.Categorical.from_codes(e_code, dtype=_ELEMENT_DTYPE, validate=False),
                "id": e_key if col_key is br_ids else br_ids[e_key],
                "p0_mw": p0,
                "p_mw": p,
                "loading_percent": loading,
                "status": pd.Categorical.from_codes(status, dtype=_STATUS_DTYPE, validate=False),
            },
            copy=False,
        )


def _categories() -> list[str]:
    names = ["", "", "hvdc"]  # categories by code: LINE, TRAFO, then HVDC links
    names[LINE], names[TRAFO] = "line", "trafo"
    return names


_OUTAGE_DTYPE = pd.CategoricalDtype(_categories())
_ELEMENT_DTYPE = pd.CategoricalDtype(_categories()[:2])
_STATUS_DTYPE = pd.CategoricalDtype(["ok", "islanded"])


def dc_n1_flows(network, outages: Iterable[tuple] | None = None) -> DcN1Flows:
    """DC post-outage flows of every branch for each outage, as one matrix.

    Branch outages: for each outaged branch ``k`` one sparse solve
    ``B_r x = e_f - e_t`` (the LU of the reduced B matrix is shared with
    :func:`gridsim.run_dc` and cached) gives ``H_lk``, and the flows are
    ``F_l + H_lk F_k / (1 - H_kk)`` (the LODF of :func:`lodf`), computed in Numba in
    batches, threaded over outages; no bus PTDF matrix is formed. HVDC outages remove the
    link's injections at its two ends (each end's island rebalanced by its slack).

    Parameters
    ----------
    network : Network or CompiledNetwork
    outages : iterable of (element, id), optional
        ``("line", id)``, ``("trafo", id)`` or ``("hvdc", id)`` of in-service elements;
        default every in-service branch, then every in-service HVDC link. Branch outages
        come first in the result, then HVDC outages, each in the order given.

    Returns
    -------
    DcN1Flows
        ``flows`` (MW, shape ``(n_outage, n_branch)``), ``islanding``, ``base_mw`` and
        the outage/branch labels; :meth:`DcN1Flows.table` gives the long table of
        :func:`dc_contingency`, :meth:`DcN1Flows.worst` the most loaded branch per
        outage.

    Raises
    ------
    GridsimError
        When the base DC power flow fails or an outage is not an in-service element.
    """
    cn = compiled(network)
    res = _base_flows(cn)
    flow = np.ascontiguousarray(res.branch_p_from_mw, dtype=np.float64)
    if outages is None:
        branch_out = np.arange(cn.n_branch, dtype=np.int64)
        hvdc_out = np.arange(cn.hvdc_id.size, dtype=np.int64)
    else:
        outages = list(outages)
        is_hvdc = [isinstance(o, tuple) and len(o) == 2 and o[0] == "hvdc" for o in outages]
        branch_out = _branch_positions(
            cn, [o for o, h in zip(outages, is_hvdc, strict=True) if not h]
        )
        hvdc_out = _hvdc_positions(cn, [o[1] for o, h in zip(outages, is_hvdc, strict=True) if h])
    m_br, m_hv = branch_out.size, hvdc_out.size
    post = np.empty((m_br + m_hv, cn.n_branch))
    _, islanding = _factor(cn).outage_rows(branch_out, flow, out=post)
    if m_hv:  # HVDC outages: take both end injections away
        fm, tm = cn.inj_kind == HVDC_FROM, cn.inj_kind == HVDC_TO
        p_from = _by_id(cn.inj_id[fm], cn.inj_p[fm], cn.hvdc_id)
        p_to = _by_id(cn.inj_id[tm], cn.inj_p[tm], cn.hvdc_id)
        post[m_br:] = flow[None, :] + _hvdc_flows(cn, -p_from, -p_to)[hvdc_out]
    return DcN1Flows(
        flows=post,
        base_mw=flow,
        islanding=np.concatenate([islanding, np.zeros(m_hv, dtype=bool)]),
        outage_branch=np.concatenate([branch_out, np.full(m_hv, -1, dtype=np.int64)]),
        outage_hvdc=np.concatenate([np.full(m_br, -1, dtype=np.int64), hvdc_out]),
        compiled=cn,
    )


def dc_contingency(
    network, outages: Iterable[tuple] | None = None, *, screen: float | None = None
) -> pd.DataFrame:
    """N-1 DC screening: post-outage flows of every branch for each outage.

    Branch outages use the LODF; HVDC outages remove the link's injections at its two
    ends (``dF = PTDF[:, from] (-P_from) + PTDF[:, to] (-P_to)``, each end's island
    rebalanced by its slack). The base flows are those of :func:`gridsim.run_dc`. The
    flows come from :func:`dc_n1_flows` (use it directly for the matrix).

    Parameters
    ----------
    network : Network or CompiledNetwork
    outages : iterable of (element, id), optional
        ``("line", id)``, ``("trafo", id)`` or ``("hvdc", id)`` of in-service elements;
        default every in-service branch, then every in-service HVDC link.
    screen : float, optional
        Keep only the rows whose ``loading_percent`` reaches ``screen`` percent, and
        every row of islanding outages (so that they are still reported). Default: all
        rows.

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
    return dc_n1_flows(network, outages).table(screen)


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
