"""Pictures: a map of a solved network from the buses' coordinates, coloured by line
loading; a transfer's export curve; a continuation's P–V curves.

matplotlib is imported only here, with the Agg backend, so the rest of gridsim does not
need it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np


def _pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``fig`` as a PNG (with ``metadata`` as text chunks) through a temporary file
    in the same folder (never a half-written file), and close it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", metadata=metadata)
    plt.close(fig)
    tmp.replace(path)


def borders() -> list[dict]:
    """Country borders of the corridor's region (Natural Earth admin-0 1:110m, public
    domain; see ``gridsim/data/README.md``): ``[{"name", "iso_a3", "rings"}]``, each
    ring a closed list of ``[lon, lat]``."""
    import json
    from importlib import resources

    text = resources.files("gridsim").joinpath("data/borders.json").read_text("utf-8")
    return json.loads(text)["countries"]


def short_name(name: str, default: str = "") -> str:
    """A substation's name without its voltage, notes and brackets:
    ``"Kruševac 1 220 kV (city of Kruševac)"`` -> ``"Kruševac 1"``."""
    text = re.sub(r"\s*\(.*?\)", "", str(name or ""))
    text = re.sub(r"\s+[\d/]+\s*kV\b.*$", "", text)
    text = re.sub(r"\s+-\s+.*$", "", text).strip()
    return text or default


def element_name(network, element: str, eid) -> str:
    """What a planner calls a network element: its ``name`` (a bus's shortened, with its
    voltage: ``"Niš 2 220 kV"``), or for an unnamed branch its ends and voltage
    (``"Niš 2–Kruševac 1 220 kV"``), for an unnamed HVDC link its ends and id
    (``"Akhaltsikhe HVDC converter (DC_AKH_B2B)"``)."""
    table = network[element]
    row = table.loc[eid]
    name = str(row.get("name") or "").strip()
    if element == "bus":
        return f"{short_name(name, str(eid))} {float(row.vn_kv):g} kV"
    if name:
        return name
    if element in ("line", "trafo"):
        a, b = branch_ends(network, element, eid)
        bus = network.bus
        names = [short_name(bus.name.get(x), str(x)) for x in (a, b)]
        kv = "/".join(f"{v:g}" for v in sorted({float(bus.vn_kv[a]), float(bus.vn_kv[b])})[::-1])
        if element == "trafo":
            where = names[0] if names[0] == names[1] else "–".join(names)
            return f"{where} {kv} kV transformer"
        return f"{'–'.join(names)} {kv} kV"
    if element == "hvdc":
        a, b = (short_name(network.bus.name.get(x), str(x)) for x in (row.from_bus, row.to_bus))
        where = f"{a} HVDC converter" if a == b else f"{a}–{b} HVDC"
        return f"{where} ({eid})"
    return str(eid)


def branch_ends(network, element: str, eid) -> tuple:
    """The two bus ids of a line (``from_bus``, ``to_bus``), transformer (``hv_bus``,
    ``lv_bus``) or HVDC link."""
    table = network[element]
    if element == "trafo":
        return table.hv_bus[eid], table.lv_bus[eid]
    return table.from_bus[eid], table.to_bus[eid]


def label_name(network, label: str) -> str:
    """:func:`element_name` of an ``"element id"`` label (as the study's tables write
    the limiting element and contingency); the label itself when it names nothing in
    ``network``."""
    element, _, eid = str(label or "").partition(" ")
    try:
        return element_name(network, element, eid)
    except (KeyError, AttributeError):
        return str(label or "")


VOLTAGE_WIDTHS = {500.0: 3.2, 400.0: 2.6, 330.0: 2.0, 220.0: 1.5, 154.0: 1.2}
"""Line width of a branch on the map by its highest voltage (kV); lower voltages 1.0."""


def _width(kv: float) -> float:
    return next((w for v, w in VOLTAGE_WIDTHS.items() if kv >= v), 1.0)


def plot_map(
    network,
    res,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    highlight: tuple | None = None,
    outage: tuple | None = None,
    names=None,
    metadata: dict | None = None,
) -> None:
    """Write a PNG map: country borders, branches coloured by loading (width by
    voltage), HVDC links dashed with their flows, buses coloured by voltage.

    Buses without ``lat``/``lon`` are left out (and so are their branches).

    Parameters
    ----------
    network : Network
        The network ``res`` solves (with ``outage`` still in service).
    res : PowerFlowResult
    path : str or PathLike
        The PNG file (written through a temporary file in the same folder).
    title : str, optional
        The first line of the title; the second says what state is drawn: the intact
        grid, or after the outage of ``outage``.
    highlight : (element, id), optional
        A branch, HVDC link or bus drawn out in black and labelled by name and
        loading or voltage (e.g. the limiting element).
    outage : (element, id), optional
        The branch or link out of service in ``res``: drawn crossed out and labelled.
    names : iterable of bus ids, optional
        Buses labelled by name (default: the HVDC terminals); the ends of
        ``highlight`` and ``outage`` are always labelled.
    metadata : dict, optional
        PNG text chunks; ``gridsim:highlight`` and ``gridsim:outage`` are added (the
        ``"element id"`` drawn out, or empty).
    """
    from matplotlib import cm, colormaps, colors
    from matplotlib.lines import Line2D

    plt = _pyplot()

    bus = network.bus
    lon, lat = bus.lon, bus.lat
    on = bus.in_service & np.isfinite(lon) & np.isfinite(lat)
    fig, ax = plt.subplots(figsize=(15, 6.2), dpi=110)
    box = (
        float(lon[on].min()) - 1.5,
        float(lon[on].max()) + 1.5,
        float(lat[on].min()) - 1.0,
        float(lat[on].max()) + 1.0,
    )
    for country in borders():
        for ring in country["rings"]:
            xy = np.asarray(ring)
            ax.fill(xy[:, 0], xy[:, 1], facecolor="#f4f1ea", edgecolor="0.55", lw=0.6, zorder=0)
    norm = colors.Normalize(vmin=0.0, vmax=100.0)
    cmap = colormaps["RdYlGn_r"]
    kv = bus.vn_kv.astype(float)
    labelled = (
        set(names) if names is not None else set(network.hvdc.from_bus) | set(network.hvdc.to_bus)
    )
    br = res.branch
    marked = {}
    for (element, eid), row in br.iterrows():
        a, b = row.from_bus, row.to_bus
        xs, ys = [lon[a], lon[b]], [lat[a], lat[b]]
        if not np.isfinite(xs + ys).all():
            continue
        load = row.loading_percent
        width = _width(max(kv[a], kv[b]))
        if (element, eid) == outage:
            ax.plot(xs, ys, color="k", lw=width, ls=(0, (2, 2)), zorder=5)
            ax.plot(np.mean(xs), np.mean(ys), marker="X", ms=13, color="k", mec="w", zorder=6)
            marked["outage"] = (element, eid, xs, ys, np.nan)
            continue
        if (element, eid) == highlight:
            ax.plot(xs, ys, color="k", lw=width + 5, zorder=2, solid_capstyle="round")
            marked["highlight"] = (element, eid, xs, ys, load)
        color = "0.6" if not np.isfinite(load) else cmap(norm(min(load, 100.0)))
        ax.plot(xs, ys, color=color, lw=width, zorder=3, solid_capstyle="round")
    pairs: dict = {}
    for hid, row in res.hvdc.iterrows():
        a, b = row.from_bus, row.to_bus
        xs, ys = [lon[a], lon[b]], [lat[a], lat[b]]
        if not np.isfinite(xs + ys).all():
            continue
        load = row.loading_percent
        color = "tab:purple" if not np.isfinite(load) else cmap(norm(min(load, 100.0)))
        if ("hvdc", hid) == highlight:
            ax.plot(xs, ys, color="k", lw=8, zorder=2)
            marked["highlight"] = ("hvdc", hid, xs, ys, load)
        ax.plot(xs, ys, color=color, lw=3.0, ls=(0, (4, 2)), zorder=4)
        pairs.setdefault(tuple(sorted((a, b))), []).append((hid, row))
    if outage is not None and "outage" not in marked and outage[1] in network[outage[0]].index:
        a, b = branch_ends(network, *outage)
        xs, ys = [lon[a], lon[b]], [lat[a], lat[b]]
        ax.plot(xs, ys, color="k", lw=2.0, ls=(0, (2, 2)), zorder=5)
        ax.plot(np.mean(xs), np.mean(ys), marker="X", ms=13, color="k", mec="w", zorder=6)
        marked["outage"] = (*outage, xs, ys, np.nan)
    for (a, b), links in pairs.items():  # one label for parallel links
        text = "\n".join(
            f"{str(hid).removeprefix('DC_')}: {row.p_from_mw:,.0f} MW"
            + (f" ({row.loading_percent:.0f} %)" if np.isfinite(row.loading_percent) else "")
            for hid, row in links
        )
        ax.annotate(
            text,
            ((lon[a] + lon[b]) / 2, (lat[a] + lat[b]) / 2),
            xytext=(0, -14),
            textcoords="offset points",
            fontsize=7,
            color="indigo",
            ha="center",
            va="top",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "indigo", "alpha": 0.85},
            zorder=7,
        )
    if highlight is not None and highlight[0] == "bus" and highlight[1] in bus.index:
        b = highlight[1]
        ax.plot(lon[b], lat[b], "o", ms=18, mfc="none", mec="k", mew=2.5, zorder=6)
        marked["highlight"] = ("bus", b, [lon[b]], [lat[b]], np.nan)
    for what, (element, eid, xs, ys, load) in marked.items():
        text = element_name(network, element, eid)
        if element == "bus":
            labelled.add(eid)
            text += f", {res.bus.vm_pu.get(eid, np.nan):.3f} p.u."
        else:
            labelled |= set(branch_ends(network, element, eid))
        if what == "outage":
            text = f"outage: {text}"
        else:
            text = f"limiting: {text}" + (f", {load:.0f} %" if np.isfinite(load) else "")
        right = np.mean(xs) > (box[0] + box[1]) / 2  # label towards the middle
        ax.annotate(
            text,
            (np.mean(xs), np.mean(ys)),
            xytext=(-18 if right else 18, 26 if what == "highlight" else -34),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=8.5,
            fontweight="bold",
            arrowprops={"arrowstyle": "-", "color": "k", "lw": 0.8},
            bbox={"boxstyle": "round", "fc": "#fff6c8" if what == "highlight" else "white"},
            zorder=8,
        )
    vm = res.bus.vm_pu.reindex(bus.index)
    sc = ax.scatter(
        lon[on],
        lat[on],
        c=vm[on],
        cmap="PuOr",
        vmin=0.9,
        vmax=1.1,
        s=26,
        edgecolors="k",
        linewidths=0.4,
        zorder=5,
    )
    done = set()
    for b in labelled:
        if b not in bus.index or not on[b]:
            continue
        text = short_name(bus.name[b], str(b))
        if (text, round(lon[b], 1), round(lat[b], 1)) in done:
            continue
        done.add((text, round(lon[b], 1), round(lat[b], 1)))
        ax.annotate(
            text,
            (lon[b], lat[b]),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=7,
            zorder=6,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
        )
    for k, (mappable, label) in enumerate(
        (
            (cm.ScalarMappable(norm=norm, cmap=cmap), "branch loading (%)"),
            (sc, "bus voltage |V| (p.u.)"),
        )
    ):
        bar = fig.colorbar(
            mappable,
            cax=ax.inset_axes([0.74, 0.94 - 0.13 * k, 0.24, 0.025]),
            orientation="horizontal",
        )
        bar.set_label(label, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    levels = sorted({v for v in kv[on] if np.isfinite(v)}, reverse=True)
    handles = [Line2D([], [], color="0.35", lw=_width(v), label=f"{v:g} kV") for v in levels]
    handles.append(Line2D([], [], color="tab:purple", lw=3.0, ls=(0, (4, 2)), label="HVDC"))
    if "highlight" in marked:
        handles.append(Line2D([], [], color="k", lw=6, label="limiting element"))
    if "outage" in marked:
        handles.append(Line2D([], [], color="k", ls=(0, (2, 2)), marker="X", ms=9, label="outage"))
    ax.legend(handles=handles, loc="lower left", fontsize=7, title="voltage level", ncol=2)
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_xlabel("longitude (degree)")
    ax.set_ylabel("latitude (degree)")
    ax.set_aspect(1.0 / np.cos(np.deg2rad((box[2] + box[3]) / 2)))
    scen = getattr(network, "scenario", None)
    first = title or f"{network.name}" + (f", scenario {scen}" if scen else "")
    state = (
        "intact grid (no outage)"
        if outage is None
        else f"after the outage of {element_name(network, *outage)}"
    )
    ax.set_title(f"{first}\n{state}")
    fig.tight_layout()
    meta = dict(metadata or {})
    meta["gridsim:highlight"] = " ".join(map(str, highlight)) if highlight else ""
    meta["gridsim:outage"] = " ".join(map(str, outage)) if outage else ""
    _save(plt, fig, path, meta)


def plot_transfer_curve(result, path: str | os.PathLike, *, title: str | None = None) -> None:
    """Write a PNG of a transfer's export curve: the highest branch loading and the lowest
    bus voltage (base case) against the transfer, each AC trial a point (filled within
    all limits, hollow past one), the TTC marked and the limit written beside it.

    Parameters
    ----------
    result : gridsim.analysis.transfer.TransferResult
    path : str or PathLike
        The PNG file (written through a temporary file in the same folder).
    title : str, optional
    """
    plt = _pyplot()
    curve = result.curve.sort_values("transfer_mw")
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    ax2 = ax.twinx()
    ok = curve.within_limits.to_numpy(dtype=bool)
    t = curve.transfer_mw.to_numpy(dtype=float)
    load = curve.max_loading_percent.to_numpy(dtype=float)
    vmin = curve.min_vm_pu.to_numpy(dtype=float)
    ax.plot(t, load, color="tab:red", lw=1.2, label="highest loading (%)")
    ax.scatter(t[ok], load[ok], color="tab:red", s=22, zorder=3)
    ax.scatter(t[~ok], load[~ok], facecolors="none", edgecolors="tab:red", s=22, zorder=3)
    ax2.plot(t, vmin, color="tab:blue", lw=1.2, label="lowest voltage (p.u.)")
    ax2.scatter(t[ok], vmin[ok], color="tab:blue", s=22, zorder=3)
    ax2.scatter(t[~ok], vmin[~ok], facecolors="none", edgecolors="tab:blue", s=22, zorder=3)
    ax.axhline(100.0, color="tab:red", ls=":", lw=0.8)
    ax.axvline(result.ttc_mw, color="k", ls="--", lw=1.0)

    def label(x):
        return "" if x is None else f"{x[0]} {x[1]}"

    text = f"TTC {result.ttc_mw:.0f} MW\n{result.limit_type}"
    if result.limiting_element is not None:
        text += f": {label(result.limiting_element)}"
    if result.limiting_contingency is not None:
        text += f"\nafter outage of {label(result.limiting_contingency)}"
    atc = getattr(result, "atc_mw", np.nan)
    if np.isfinite(atc) and atc != result.ttc_mw:
        text += f"\nATC {atc:.0f} MW"
    ax.annotate(
        text,
        (result.ttc_mw, 0.97),
        xycoords=("data", "axes fraction"),
        xytext=(6, 0),
        textcoords="offset points",
        va="top",
        fontsize=8,
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
    )
    ax.set_xlabel("transfer (MW)")
    ax.set_ylabel("highest branch loading, base case (%)", color="tab:red")
    ax2.set_ylabel("lowest bus voltage, base case (p.u.)", color="tab:blue")
    ax.grid(alpha=0.3)
    lines = ax.get_lines()[:1] + ax2.get_lines()[:1]
    ax.legend(lines, [ln.get_label() for ln in lines], loc="lower left", fontsize=8)
    ax.set_title(title or "export curve (hollow: a limit exceeded)")
    fig.tight_layout()
    _save(plt, fig, path)


def plot_pv_curves(
    result, path: str | os.PathLike, *, buses=None, title: str | None = None
) -> None:
    """Write a PNG of a continuation's P–V curves (``result.curve``'s buses, or ``buses``)
    against the MW moved along its direction, the nose marked, reactive-limit switches
    dotted.

    Parameters
    ----------
    result : gridsim.analysis.continuation.ContinuationResult
    path : str or PathLike
        The PNG file (written through a temporary file in the same folder).
    buses : iterable of bus ids, optional
    title : str, optional
    """
    from gridsim.exceptions import GridsimError
    from gridsim.model.network import plain

    plt = _pyplot()
    pos = result.bus_ids.get_indexer(list(buses)) if buses is not None else None
    if pos is None:
        ids = [c for c in result.curve.columns if c not in ("lambda", "transfer_mw", "point")]
        pos = result.bus_ids.get_indexer(ids)
    if (pos < 0).any():
        raise GridsimError("plot: some buses are not in the studied network")
    per = result.direction.transfer_mw
    in_mw = per == 1.0  # a transfer: λ is its MW
    x = result.curve.transfer_mw.to_numpy(dtype=float)
    vm = np.abs(result.v[:, pos])
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    for k, p in enumerate(pos):
        ax.plot(x, vm[:, k], lw=1.4, marker="o", ms=2.5, label=f"bus {plain(result.bus_ids[p])}")
    if result.converged:
        x_nose = result.transfer_nose_mw
        k = int(np.argmax(result.curve["lambda"].to_numpy()))
        ax.scatter(np.full(pos.size, x[k]), vm[k], marker="D", s=28, color="k", zorder=4)
        ax.axvline(x_nose, color="k", ls="--", lw=1.0)
        what = {"nose": "nose", "limit_induced": "limit-induced nose"}.get(
            result.status, "all voltage controllers at Q limits"
        )
        text = f"{what}\n{x_nose:.1f} MW" + ("" if in_mw else f" (λ = {result.lambda_nose:.4g})")
        ax.annotate(
            text,
            (x_nose, 0.97),
            xycoords=("data", "axes fraction"),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
        )
    if len(result.events):
        for e in result.events.transfer_mw.to_numpy(dtype=float):
            ax.axvline(e, color="tab:gray", ls=":", lw=0.8)
    ax.set_xlabel("transfer (MW)" if in_mw else f"MW along the direction (λ × {per:.6g} MW)")
    ax.set_ylabel("voltage magnitude (p.u.)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    label = "P–V curves" + (" (dotted: reactive-limit switches)" if len(result.events) else "")
    ax.set_title(title or label)
    fig.tight_layout()
    _save(plt, fig, path)
