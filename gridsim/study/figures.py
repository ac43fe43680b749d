"""The study's pictures (PNG, matplotlib's Agg backend): export curves, P–V curves, the
reinforcement heatmap and the Niš site bars. Loading maps come from
:func:`gridsim.plot.plot_map`.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from gridsim.study import cases

KEY = ("year", "sink", "n_1", "case", "route", "site")
"""The columns that name a TTC case."""
PV_BUSES = 3  # the weakest buses drawn per curve


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def export_curves(
    curve: pd.DataFrame,
    headline: pd.DataFrame,
    year: str,
    path: str | os.PathLike,
    n1_curve: pd.DataFrame | None = None,
) -> None:
    """Max branch loading and min voltage against the total export, per sink: intact
    (N-0) and, beside it, the worst after any single outage (N-1), with the scheduled
    export and the N-0 / N-1 limits marked.

    Parameters
    ----------
    curve : DataFrame
        The dense N-0 export curve rows of one year (``sink``, ``total_export_mw``,
        ``max_loading_percent``, ``min_vm_pu``).
    headline : DataFrame
        Headline TTC rows of that year (``sink``, ``n_1``, ``total_export_mw``,
        ``limiting_element``, ``limiting_contingency``).
    path : path-like
        The PNG; its metadata ``gridsim:n1_limits_mw`` lists each sink's N-1 limit
        (total export, ``RS=1234 EU=987``), ``gridsim:limiting_elements`` the
        limiting elements (``RS=line L_X``) and ``gridsim:n1_not_defined`` the sinks
        whose N-1 TTC is not defined (status other than ``ok``) with the worst
        post-outage loading at the scheduled export (``RS=143``).
    n1_curve : DataFrame, optional
        The N-1 export curve rows of that year (``sink``, ``total_export_mw``,
        ``n1_worst_loading_percent``, ``n1_min_vm_pu``, optionally
        ``from_secured_base``: the points run along the N-1 TTC's own dispatch).
    """
    plt = _plt()
    sinks = list(dict.fromkeys(curve.sink))
    fig, axes = plt.subplots(1, len(sinks), figsize=(6.6 * len(sinks), 5.4), dpi=100, squeeze=False)
    limits: list[str] = []
    elements: list[str] = []
    undefined: list[str] = []
    for ax, sink in zip(axes[0], sinks, strict=True):
        c = curve[curve.sink == sink].sort_values("total_export_mw")
        ax.plot(
            c.total_export_mw,
            c.max_loading_percent,
            "o-",
            color="tab:red",
            ms=3,
            label="max branch loading (N-0)",
        )
        ax.axhline(100.0, color="tab:red", lw=0.8, ls=":")
        ax.set_xlabel("total export from AZ (MW)")
        ax.set_ylabel("max branch loading (%)", color="tab:red")
        ax2 = ax.twinx()
        ax2.plot(
            c.total_export_mw,
            c.min_vm_pu,
            "s-",
            color="tab:blue",
            ms=3,
            label="min bus voltage (N-0)",
        )
        ax2.set_ylabel("min bus voltage (p.u.)", color="tab:blue")
        if n1_curve is not None and len(n1_curve):
            c1 = n1_curve[n1_curve.sink == sink].sort_values("total_export_mw")
            secured = "from_secured_base" in c1 and bool(c1.from_secured_base.all())
            along = ", along the N-1 TTC's dispatch" if secured and len(c1) else ""
            ax.plot(
                c1.total_export_mw,
                c1.n1_worst_loading_percent,
                "^--",
                color="darkred",
                ms=4,
                label=f"worst CNEC loading after an outage (N-1{along})",
            )
            ax2.plot(
                c1.total_export_mw,
                c1.n1_min_vm_pu,
                "v--",
                color="navy",
                ms=4,
                label=f"min bus voltage after an outage (N-1{along})",
            )
        h = headline[headline.sink == sink]
        title = f"{year}: AZ → {sink}"
        if len(c):
            ax.axvline(
                float(c.total_export_mw.iloc[0]),
                color="0.4",
                lw=1,
                ls="--",
                label=f"scheduled {c.total_export_mw.iloc[0]:.0f} MW",
            )
        for n_1, color, ls in ((False, "tab:green", "-"), (True, "tab:purple", "-.")):
            sel = h[h.n_1 == n_1]
            if len(sel) and str(sel.iloc[0].get("status", "ok")) == "ok":
                x = float(sel.total_export_mw.iloc[0])
                ax.axvline(
                    x,
                    color=color,
                    lw=1.6,
                    ls=ls,
                    label=f"{'N-1' if n_1 else 'N-0'} limit {x:,.0f} MW: "
                    + _limit_text(sel.iloc[0]),
                )
                if n_1:
                    limits.append(f"{sink}={x:.0f}")
                    elements.append(f"{sink}={sel.limiting_element.iloc[0]}")
            elif n_1 and len(sel) and str(sel.iloc[0].get("status")).startswith("not defined"):
                why, y0 = "base case not N-1 secure", np.nan
                if n1_curve is not None and len(c1):
                    x0, y0 = (
                        float(c1[k].iloc[0])
                        for k in ("total_export_mw", "n1_worst_loading_percent")
                    )
                if np.isfinite(y0):  # mark the worst post-outage loading with no transfer
                    why = f"already {y0:.0f} % after an outage"
                    ax.annotate(
                        f"{why}\nwith no added export",
                        (x0, y0),
                        xytext=(12, -28),
                        textcoords="offset points",
                        fontsize=8,
                        color="darkred",
                        arrowprops={"arrowstyle": "->", "color": "darkred"},
                        bbox={"boxstyle": "round", "fc": "white", "ec": "darkred"},
                    )
                title += f"\nN-1 TTC not defined: {why}"
                undefined.append(f"{sink}={y0:.0f}")
        ax.set_title(title, fontsize=10)
        shown = [c.max_loading_percent.to_numpy(dtype=float)]
        if n1_curve is not None and len(n1_curve):
            shown.append(c1.n1_worst_loading_percent.to_numpy(dtype=float))
        shown = np.concatenate(shown)
        shown = shown[np.isfinite(shown)]
        if shown.size:  # the story is near 100 %: zoom there
            ax.set_ylim(max(0.0, shown.min() - 5.0), max(shown.max(), 100.0) + 3.0)
        ax.grid(alpha=0.3)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(
            lines[0] + lines2[0],
            lines[1] + lines2[1],
            fontsize=6.5,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncol=1,  # two columns of these labels overran the panel and its neighbour
        )
    fig.tight_layout()
    metadata = {
        "gridsim:n1_limits_mw": " ".join(limits),
        "gridsim:limiting_elements": " ".join(elements),
        "gridsim:n1_not_defined": " ".join(undefined),
    }
    fig.savefig(path, format="png", metadata=metadata, bbox_inches="tight")
    plt.close(fig)


def _limit_text(row) -> str:
    """``line L_X after outage of line L_Y`` (ids: the figure is small)."""
    text = str(row.get("limiting_element") or row.get("limit_type") or "")
    cont = row.get("limiting_contingency")
    if isinstance(cont, str) and cont:
        text += f" after outage of {cont}"
    return text


def heatmap(
    gains: pd.DataFrame,
    title: str,
    path: str | os.PathLike,
    tolerance_mw: float = 10.0,
    security: str = "N-1",
) -> None:
    """Reinforcement × year heatmap of MW gained (NaN cells, greyed and marked –: not
    studied, or the TTC not defined with or without the reinforcement).

    The colour scale is symmetric-logarithmic (linear within five times
    ``tolerance_mw``), so a few large changes do not wash out the others. Gains within
    ``tolerance_mw`` (the TTC search tolerance) are written ``±0``: no finding.

    Parameters
    ----------
    gains : DataFrame
        Rows: reinforcement labels; columns: years; values: MW gained.
    title : str
    path : path-like
        The PNG; its metadata ``gridsim:scale_mw`` holds the colour scale's end (the
        largest change), ``gridsim:security`` ``security``.
    tolerance_mw : float
    security : str
        Which TTC gained: ``"N-1"`` or ``"N-0"``.
    """
    plt = _plt()
    values = gains.to_numpy(dtype=float)
    fig, ax = plt.subplots(
        figsize=(3.2 + 1.6 * max(1, gains.shape[1]), 1.2 + 0.45 * max(1, gains.shape[0])), dpi=100
    )
    from matplotlib.colors import SymLogNorm

    finite = np.abs(values[np.isfinite(values)])
    vmax = max(float(finite.max()) if finite.size else 0.0, 10.0 * tolerance_mw)
    shown = np.where(np.abs(values) < tolerance_mw, 0.0, values)
    masked = np.ma.masked_invalid(shown)
    cmap = plt.get_cmap("RdYlGn").with_extremes(bad="0.88")
    norm = SymLogNorm(linthresh=5.0 * tolerance_mw, vmin=-vmax, vmax=vmax)
    im = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if not np.isfinite(v):
                text = "–"
            elif abs(v) < tolerance_mw:
                text = "±0"
            else:
                text = f"{v:+,.0f}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="w" if np.isfinite(v) and abs(v) > 0.5 * vmax else "k",
            )
    ax.set_xticks(range(gains.shape[1]), [str(c) for c in gains.columns])
    ax.set_yticks(range(gains.shape[0]), list(gains.index), fontsize=8)
    ax.set_title(title, fontsize=10)
    bar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    ticks = [t for t in (-1000, -300, -100, -30, 0, 30, 100, 300, 1000) if abs(t) <= vmax]
    bar.set_ticks(ticks, labels=[f"{t:+,d}" if t else "0" for t in ticks], fontsize=7)
    bar.set_label(f"MW gained ({security} TTC); ±{tolerance_mw:g} MW: no change", fontsize=8)
    fig.tight_layout()
    metadata = {"gridsim:scale_mw": f"{vmax:.0f}", "gridsim:security": security}
    fig.savefig(path, format="png", metadata=metadata)
    plt.close(fig)


NIS_METRICS = (
    ("losses_mw", "total losses (MW)", 1.0, "MW of losses"),
    ("max_loading_rs_percent", "max Serbian line loading, N-0 (%)", 1.0, "point of loading"),
    (
        "n1_worst_loading_connection_percent",
        "worst N-1 loading of the plant's connection (%)",
        5.0,
        "points of connection loading",
    ),
    (
        "n1_worst_loading_plant_percent",
        "worst N-1 loading of the plant's branches (%)",
        1.0,
        "point of loading",
    ),
    (
        "secured_redispatch_mw",
        "preventive redispatch for N-1 security (MW)",
        10.0,
        "MW of redispatch",
    ),
    ("ttc_n1_rs_mw", "N-1 TTC AZ → RS (MW)", 10.0, "MW of N-1 TTC"),
)
"""The Niš site comparison's metrics: column, name, the smallest difference the model
resolves (losses 1 MW and loadings 1 percentage point, below the accuracy of the
equivalent network's data; the connection's own N-1 loading 5 points, since the
connection routes and conductors are estimated (no connection study is published) and a
few points at the 30–45 % such a connection carries after an outage decide nothing; the
redispatch that secures the base case and the TTC to the search tolerance of 10 MW) and
its unit in words."""


def site_bars(sites: pd.DataFrame, path: str | os.PathLike) -> None:
    """Per metric of :data:`NIS_METRICS` with a value (an N-1 TTC that is nowhere defined
    is left out): each site's difference from the base site
    (the table's first) per year, with the band the model cannot resolve shaded, so
    what differs shows and what does not is plain.

    Parameters
    ----------
    sites : DataFrame
        ``year``, ``site``, ``site_label`` and the metric columns.
    path : path-like
        The PNG; its metadata ``gridsim:resolved`` lists the metrics and years where
        some site differs from the base by more than the resolution,
        ``gridsim:metrics`` the metrics drawn.
    """
    plt = _plt()
    panels = [m for m in NIS_METRICS if m[0] in sites and sites[m[0]].notna().any()]
    years = list(dict.fromkeys(sites.year))
    labels = dict(zip(sites.site, sites.site_label, strict=True))
    base_key, *others = labels
    base = sites[sites.site == base_key].set_index("year").reindex(years)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.1 * len(panels), 4.0), dpi=100, squeeze=False
    )
    width = 0.8 / max(1, len(others))
    resolved = []
    for ax, (col, name, res, _) in zip(axes[0], panels, strict=True):
        ax.axhspan(-res, res, color="0.85", zorder=0, label=f"±{res:g}: not resolved")
        ax.axhline(0.0, color="k", lw=0.8)
        for k, site in enumerate(others):
            s = sites[sites.site == site].set_index("year").reindex(years)
            diff = s[col].to_numpy(dtype=float) - base[col].to_numpy(dtype=float)
            x = np.arange(len(years)) + (k - (len(others) - 1) / 2) * width
            ax.bar(x, diff, width, color=f"C{k}", label=labels[site], zorder=2)
            for xi, d in zip(x, diff, strict=True):
                if np.isfinite(d):
                    ax.annotate(
                        f"{d:+.1f}",
                        (xi, d),
                        xytext=(0, 3 if d >= 0 else -3),
                        textcoords="offset points",
                        ha="center",
                        va="bottom" if d >= 0 else "top",
                        fontsize=7,
                    )
            resolved += [f"{col}:{y}" for y, d in zip(years, diff, strict=True) if abs(d) > res]
        ticks = [
            f"{y}\n(base {v:,.1f})" if np.isfinite(v) else str(y)
            for y, v in zip(years, base[col].to_numpy(dtype=float), strict=True)
        ]
        ax.set_xticks(range(len(years)), ticks, fontsize=8)
        ax.set_title(f"{name}\nminus {labels[base_key]}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.25)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    metadata = {
        "gridsim:resolved": " ".join(dict.fromkeys(resolved)),
        "gridsim:metrics": " ".join(m[0] for m in panels),
    }
    fig.savefig(path, format="png", metadata=metadata)
    plt.close(fig)


def case_label(row) -> str:
    """``2030, AZ → RS, N-1`` and the case's reinforcement, route and site, as the
    report names them."""
    text = f"{row['year']}, {cases.SOURCE} → {row['sink']}, {'N-1' if row['n_1'] else 'N-0'}"
    labels = cases.labels()
    if row["case"] in labels:
        text += f", {labels[row['case']]}"
    if row["route"] in labels:
        text += f", via {labels[row['route']]}"
    if row["site"] in labels:
        text += f", Niš plant at {labels[row['site']]}"
    return text


def pv_name(row) -> str:
    """File name of a TTC case's P–V figure: ``pv_<year>_<sink>_<n0|n1>[_<case>]
    [_<route>][_<site>].png`` (the base case, all routes and the base site left out)."""
    parts = ["pv", str(row["year"]), str(row["sink"]), "n1" if bool(row["n_1"]) else "n0"]
    for col, default in (("case", "base"), ("route", "all"), ("site", "")):
        if row[col] not in (default, None) and not pd.isna(row[col]):
            parts.append(str(row[col]))
    return "_".join(parts) + ".png"


def pv_figures(rows: pd.DataFrame, curves: pd.DataFrame, folder: str | os.PathLike) -> list[str]:
    """Draw the P–V figure of every case with ``pv_near`` set; returns the file names.

    Parameters
    ----------
    rows : DataFrame
        TTC cases (:data:`KEY` columns, ``scheduled_export_mw``, ``ttc_mw``,
        ``limit_type``, ``limiting_contingency``, ``nose_intact_mw``,
        ``nose_after_outage_mw``, ``pv_near``).
    curves : DataFrame
        Their P–V curves (:data:`KEY`, ``outage``, ``transfer_mw``, ``bus``, ``vm_pu``).
    folder : path-like
    """
    from pathlib import Path

    names = []
    for _, row in rows[rows.pv_near.eq(True)].iterrows():
        mine = curves
        for col in KEY:
            mine = mine[mine[col] == row[col]]
        if len(mine):
            names.append(pv_name(row))
            _pv_figure(row, mine, Path(folder) / names[-1])
    return names


def _pv_figure(row, curves: pd.DataFrame, path) -> None:
    """Voltage of the weakest buses against the total export, intact (solid) and after
    the limiting outage (dashed), the noses (dotted) and the TTC marked; the PNG's
    metadata ``gridsim:case`` is :func:`case_label` of ``row``."""
    plt = _plt()
    sched = float(row["scheduled_export_mw"])
    fig, ax = plt.subplots(figsize=(8.0, 4.6), dpi=100)
    outages = list(dict.fromkeys(curves.outage))
    for outage, ls, nose_col in zip(
        outages, ("-", "--"), ("nose_intact_mw", "nose_after_outage_mw"), strict=False
    ):
        c = curves[curves.outage == outage]
        where = f"after outage of {outage}" if outage else "intact"
        # the weakest buses first, as the continuation ranked them
        for k, bus in enumerate(list(dict.fromkeys(c.bus))[:PV_BUSES]):
            b = c[c.bus == bus]
            ax.plot(
                sched + b.transfer_mw,
                b.vm_pu,
                ls=ls,
                marker="o",
                ms=2.5,
                lw=1.4,
                color=f"C{k}",
                label=f"bus {bus}, {where}",
            )
        nose = float(row[nose_col])
        if np.isfinite(nose):
            ax.axvline(sched + nose, color="k", ls=":", lw=1.0)
            ax.annotate(
                f"nose {where}\n{sched + nose:,.0f} MW in all (+{nose:,.0f})",
                (sched + nose, 0.82 if outage else 0.97),
                xycoords=("data", "axes fraction"),
                xytext=(-4, 0),
                textcoords="offset points",
                ha="right",
                va="top",
                fontsize=7,
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
            )
    ttc = float(row["ttc_mw"])
    security = "N-1" if bool(row["n_1"]) else "N-0"
    label = f"{security} limit {sched + ttc:,.0f} MW in all (TTC +{ttc:,.0f})"
    ax.axvline(sched + ttc, color="tab:purple", lw=1.6, label=label)
    if sched > 0:
        ax.axvline(sched, color="0.4", lw=1, ls="--", label=f"scheduled {sched:,.0f} MW")
    ax.set_xlabel(f"total export from {cases.SOURCE} (MW)")
    ax.set_ylabel("bus voltage (p.u.)")
    limit = str(row["limit_type"]).replace("_", " ")
    ax.set_title(f"P–V curves: {case_label(row)} (limit: {limit})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"gridsim:case": case_label(row)})
    plt.close(fig)
