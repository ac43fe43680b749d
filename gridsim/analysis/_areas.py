"""Areas, shift keys and the per-MW plan of a transfer, shared by
:mod:`gridsim.analysis.transfer` (the search), :mod:`gridsim.analysis.scopf` and
:mod:`gridsim.analysis.ttc` (the optimisation), and the sweeps.

An area is a bus zone or a group of zones (``network.groups``); a transfer raises the
source's non-slack units by their headroom and the sink's loads by their size (or lowers
the sink's units), and moves the HVDC links joining the two AC islands.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from gridsim.exceptions import GridsimError
from gridsim.model.network import Network, plain


class TransferError(GridsimError, ValueError):
    """A transfer request that cannot be studied (unknown area, empty or overlapping
    source and sink, no HVDC path, limits exceeded with no transfer)."""


@dataclasses.dataclass
class _Plan:
    """What a transfer of 1 MW changes: per-element shares and directions."""

    gen_ids: pd.Index
    gen_share: np.ndarray
    sink_element: str
    sink_ids: pd.Index
    sink_share: np.ndarray
    hvdc_ids: pd.Index
    hvdc_share: np.ndarray
    hvdc_dir: np.ndarray  # +1: the link's from end is on the source side
    cap_mw: float
    cap_type: str
    cap_element: tuple | None


def _zones_of(network: Network, area: str) -> list[str]:
    groups = getattr(network, "groups", None) or {}
    if area in groups:
        return list(groups[area])
    zones = set(network.bus["zone"].astype(str))
    if area in zones:
        return [area]
    raise TransferError(
        f"unknown area {area!r}: neither a bus zone nor a group (groups: {sorted(groups)!r})"
    )


def _in_service_ids(network: Network, element: str, ids: list, what: str) -> pd.Index:
    table = network[element]
    ids = list(ids)
    if not ids:
        raise TransferError(f"the {what} is empty")
    missing = [i for i in ids if i not in table.index]
    if missing:
        raise TransferError(f"the {what} names unknown {element} ids {missing[:5]!r}")
    if len(set(ids)) != len(ids):
        raise TransferError(f"the {what} names some {element} twice")
    out = [i for i in ids if not bool(table.in_service[i])]
    if out:
        raise TransferError(f"the {what} names out-of-service {element}s {out[:5]!r}")
    return pd.Index(ids)


def _area_members(network: Network, element: str, area: str, what: str) -> pd.Index:
    zones = _zones_of(network, area)
    table = network[element]
    bus_zone = network.bus["zone"].astype(str)
    on = table.in_service.to_numpy(dtype=bool) & network.bus.in_service.reindex(table.bus).to_numpy(
        dtype=bool
    )
    if element == "gen":
        on &= ~table.slack.to_numpy(dtype=bool)
    members = table.index[on & bus_zone.reindex(table.bus).isin(zones).to_numpy()]
    if members.empty:
        kind = "non-slack generator" if element == "gen" else element
        raise TransferError(f"the {what} {area!r} has no in-service {kind}")
    return members


def _island_of(cn, network: Network, element: str, ids: pd.Index, what: str) -> int:
    buses = network[element].bus.reindex(ids)
    pos = cn.bus_ids.get_indexer(buses)
    islands = set(cn.island[pos[pos >= 0]].tolist()) if (pos >= 0).any() else set()
    if (pos < 0).any() or -1 in islands or not islands:
        raise TransferError(f"the {what} has {element}s on de-energised buses")
    if len(islands) > 1:
        raise TransferError(
            f"the {what} spans {len(islands)} AC islands; give elements of one island"
        )
    return islands.pop()


def _plan(network: Network, source, sink, sink_element: str, hvdc_shares, max_mw) -> _Plan:
    cn = network.compile()
    gen = network.gen
    # source generators
    if isinstance(source, str):
        gen_ids = _area_members(network, "gen", source, "source area")
    else:
        gen_ids = _in_service_ids(network, "gen", source, "source")
        slack = [g for g in gen_ids if bool(gen.slack[g])]
        if slack:
            raise TransferError(f"source generators {slack!r} are slacks; their p_mw is not set")
    p0 = gen.p_mw.reindex(gen_ids).to_numpy(dtype=float)
    pmax = gen.max_p_mw.reindex(gen_ids).to_numpy(dtype=float)
    head = np.where(np.isfinite(pmax), pmax - p0, np.abs(p0))
    if not (head.sum() > 0):
        raise TransferError("the source generators have no headroom (max_p_mw - p_mw)")
    gen_share = np.maximum(head, 0.0) / np.maximum(head, 0.0).sum()
    # sink
    if sink_element not in ("load", "gen"):
        raise TransferError(f"sink_element must be 'load' or 'gen', got {sink_element!r}")
    if isinstance(sink, str):
        sink_ids = _area_members(network, sink_element, sink, "sink area")
        if isinstance(source, str):
            common = set(_zones_of(network, source)) & set(_zones_of(network, sink))
            if common:
                raise TransferError(
                    f"source {source!r} and sink {sink!r} overlap in zones {sorted(common)!r}"
                )
    else:
        sink_ids = _in_service_ids(network, sink_element, sink, "sink")
    table = network[sink_element]
    if sink_element == "load":
        w = np.maximum(table.p_mw.reindex(sink_ids).to_numpy(dtype=float), 0.0)
    else:
        sp = table.p_mw.reindex(sink_ids).to_numpy(dtype=float)
        smin = np.nan_to_num(table.min_p_mw.reindex(sink_ids).to_numpy(dtype=float))
        w = np.maximum(sp - smin, 0.0)
        if not (w.sum() > 0):
            raise TransferError("the sink generators cannot be lowered (p_mw <= min_p_mw)")
    sink_share = w / w.sum() if w.sum() > 0 else np.full(w.size, 1.0 / w.size)
    # overlap
    if sink_element == "gen":
        both = set(gen_ids) & set(sink_ids)
        if both:
            raise TransferError(f"generators {sorted(both, key=str)!r} are in source and sink")
    shared_buses = set(gen.bus.reindex(gen_ids)) & set(table.bus.reindex(sink_ids))
    if shared_buses:
        raise TransferError(
            f"source and sink overlap: both have elements at buses "
            f"{sorted(shared_buses, key=str)[:5]!r}"
        )
    # HVDC links between the islands
    src_island = _island_of(cn, network, "gen", gen_ids, "source")
    snk_island = _island_of(cn, network, sink_element, sink_ids, "sink")
    hv_ids, hv_share, hv_dir = pd.Index([]), np.zeros(0), np.zeros(0)
    if src_island != snk_island:
        isl_f, isl_t = cn.island[cn.hvdc_from], cn.island[cn.hvdc_to]
        fwd = (isl_f == src_island) & (isl_t == snk_island)
        rev = (isl_f == snk_island) & (isl_t == src_island)
        join = fwd | rev
        if not join.any():
            raise TransferError(
                "source and sink lie in different AC islands and no in-service HVDC link joins them"
            )
        hv_ids = pd.Index(cn.hvdc_id[join])
        hv_dir = np.where(fwd[join], 1.0, -1.0)
        hv = network.hvdc
        hp0 = hv.p_mw.reindex(hv_ids).to_numpy(dtype=float)
        hmax = hv.max_p_mw.reindex(hv_ids).to_numpy(dtype=float)
        head_hv = hmax - hv_dir * hp0
        if hvdc_shares is not None:
            given = pd.Series(dict(hvdc_shares), dtype=float)
            extra = [i for i in given.index if i not in hv_ids]
            if extra:
                raise TransferError(
                    f"hvdc_shares names links {extra!r} that do not join the source's "
                    f"island to the sink's ({list(hv_ids)!r})"
                )
            hv_share = given.reindex(hv_ids).fillna(0.0).to_numpy()
            if (hv_share < 0).any() or not (hv_share.sum() > 0):
                raise TransferError("hvdc_shares must be non-negative with a positive sum")
            hv_share = hv_share / hv_share.sum()
        elif np.isfinite(hmax).all() and np.maximum(head_hv, 0).sum() > 0:
            hv_share = np.maximum(head_hv, 0.0) / np.maximum(head_hv, 0.0).sum()
        else:
            hv_share = np.full(hv_ids.size, 1.0 / hv_ids.size)
    plan = _Plan(
        gen_ids,
        gen_share,
        sink_element,
        sink_ids,
        sink_share,
        hv_ids,
        hv_share,
        hv_dir,
        np.inf,
        "",
        None,
    )
    _set_cap(network, plan, max_mw)
    return plan


def _set_cap(network: Network, plan: _Plan, max_mw) -> None:
    """The largest transfer the setpoint limits allow (generators, HVDC, ``max_mw``)."""
    gen = network.gen
    caps: list[tuple[float, str, tuple | None]] = []
    if plan.hvdc_ids.size:
        hv = network.hvdc
        hp0 = hv.p_mw.reindex(plan.hvdc_ids).to_numpy(dtype=float)
        hmax = hv.max_p_mw.reindex(plan.hvdc_ids).to_numpy(dtype=float)
        head_hv = hmax - plan.hvdc_dir * hp0
        share = plan.hvdc_share
        with np.errstate(divide="ignore", invalid="ignore"):
            t_hv = np.where((share > 0) & np.isfinite(hmax), np.maximum(head_hv, 0) / share, np.inf)
        if np.isfinite(t_hv).any():
            k = int(np.argmin(t_hv))
            caps.append((float(t_hv[k]), "hvdc", ("hvdc", plain(plan.hvdc_ids[k]))))
    p0 = gen.p_mw.reindex(plan.gen_ids).to_numpy(dtype=float)
    pmax = gen.max_p_mw.reindex(plan.gen_ids).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_gen = np.where(
            (plan.gen_share > 0) & np.isfinite(pmax), (pmax - p0) / plan.gen_share, np.inf
        )
    if np.isfinite(t_gen).any():
        k = int(np.argmin(t_gen))
        caps.append((max(float(t_gen[k]), 0.0), "generation", ("gen", plain(plan.gen_ids[k]))))
    if plan.sink_element == "gen":
        sp = gen.p_mw.reindex(plan.sink_ids).to_numpy(dtype=float)
        smin = np.nan_to_num(gen.min_p_mw.reindex(plan.sink_ids).to_numpy(dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_snk = np.where(plan.sink_share > 0, (sp - smin) / plan.sink_share, np.inf)
        k = int(np.argmin(t_snk))
        caps.append((max(float(t_snk[k]), 0.0), "generation", ("gen", plain(plan.sink_ids[k]))))
    if max_mw is not None:
        caps.append((float(max_mw), "max_mw", None))
    # the first of equal caps wins: HVDC before generation before max_mw
    cap = min(caps, key=lambda c: c[0]) if caps else (np.inf, "", None)
    plan.cap_mw, plan.cap_type, plan.cap_element = cap
