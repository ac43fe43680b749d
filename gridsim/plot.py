"""Pictures: a map of a solved network from the buses' coordinates, coloured by line
loading; a transfer's export curve; a continuation's P–V curves.

matplotlib is imported only here, with the Agg backend, so the rest of gridsim does not
need it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | os.PathLike) -> None:
    """Write ``fig`` as a PNG through a temporary file in the same folder (never a
    half-written file), and close it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(path)


def plot_map(network, res, path: str | os.PathLike, *, title: str | None = None) -> None:
    """Write a PNG map: branches coloured by loading, HVDC links dashed, buses by area.

    Buses without ``lat``/``lon`` are left out (and so are their branches).
    """
    from matplotlib import cm, colormaps, colors

    plt = _pyplot()

    bus = network.bus
    lon, lat = bus.lon, bus.lat
    fig, ax = plt.subplots(figsize=(14, 7.5), dpi=110)
    norm = colors.Normalize(vmin=0.0, vmax=100.0)
    cmap = colormaps["RdYlGn_r"]
    br = res.branch
    for _, row in br.iterrows():
        a, b = row.from_bus, row.to_bus
        xs, ys = [lon[a], lon[b]], [lat[a], lat[b]]
        if not np.isfinite(xs + ys).all():
            continue
        load = row.loading_percent
        color = "0.6" if not np.isfinite(load) else cmap(norm(min(load, 100.0)))
        width = 1.2 + 2.5 * (0 if not np.isfinite(load) else min(load, 120.0) / 100.0)
        ax.plot(xs, ys, color=color, lw=width, zorder=2, solid_capstyle="round")
    for hid, row in res.hvdc.iterrows():
        a, b = row.from_bus, row.to_bus
        xs, ys = [lon[a], lon[b]], [lat[a], lat[b]]
        if not np.isfinite(xs + ys).all():
            continue
        load = row.loading_percent
        color = "tab:purple" if not np.isfinite(load) else cmap(norm(min(load, 100.0)))
        ax.plot(xs, ys, color=color, lw=2.5, ls="--", zorder=3)
        ax.annotate(
            f"{hid}\n{row.p_from_mw:.0f} MW",
            ((xs[0] + xs[1]) / 2, (ys[0] + ys[1]) / 2),
            fontsize=6,
            color="tab:purple",
            ha="center",
        )
    on = bus.in_service & np.isfinite(lon) & np.isfinite(lat)
    areas = sorted(set(bus.area[on]))
    markers = dict(zip(areas, ["o", "s", "^", "D", "v", "P"] * 4, strict=False))
    vm = res.bus.vm_pu.reindex(bus.index)
    for area in areas:
        m = on & (bus.area == area)
        ax.scatter(
            lon[m],
            lat[m],
            c=vm[m],
            cmap="coolwarm",
            vmin=0.9,
            vmax=1.1,
            marker=markers[area],
            s=28,
            edgecolors="k",
            linewidths=0.4,
            zorder=4,
            label=area or "(no area)",
        )
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, fraction=0.025, pad=0.01, label="branch loading (%)")
    ax.legend(loc="lower left", fontsize=7, title="synchronous area (colour: |V| p.u.)")
    ax.set_xlabel("longitude (degree)")
    ax.set_ylabel("latitude (degree)")
    ax.set_aspect(1.0 / np.cos(np.deg2rad(np.nanmean(lat[on]) if on.any() else 0.0)))
    scen = getattr(network, "scenario", None)
    ax.set_title(title or f"{network.name}" + (f", scenario {scen}" if scen else ""))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(plt, fig, path)


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
