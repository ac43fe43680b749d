"""A map of a solved network from the buses' coordinates, coloured by line loading.

matplotlib is imported only here, with the Agg backend, so the rest of gridsim does not
need it.
"""

from __future__ import annotations

import os

import numpy as np


def plot_map(network, res, path: str | os.PathLike, *, title: str | None = None) -> None:
    """Write a PNG map: branches coloured by loading, HVDC links dashed, buses by area.

    Buses without ``lat``/``lon`` are left out (and so are their branches).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    bus = network.bus
    lon, lat = bus.lon, bus.lat
    fig, ax = plt.subplots(figsize=(14, 7.5), dpi=110)
    norm = colors.Normalize(vmin=0.0, vmax=100.0)
    cmap = matplotlib.colormaps["RdYlGn_r"]
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
    fig.savefig(path, format="png")
    plt.close(fig)
