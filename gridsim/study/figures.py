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
    curve: pd.DataFrame, headline: pd.DataFrame, year: str, path: str | os.PathLike
) -> None:
    """Max branch loading and min voltage against the total export, per sink, with the
    scheduled export and the N-0 / N-1 limits marked.

    Parameters
    ----------
    curve : DataFrame
        The dense N-0 export curve rows of one year (``sink``, ``total_export_mw``,
        ``max_loading_percent``, ``min_vm_pu``).
    headline : DataFrame
        Headline TTC rows of that year (``sink``, ``n_1``, ``total_export_mw``).
    """
    plt = _plt()
    sinks = list(dict.fromkeys(curve.sink))
    fig, axes = plt.subplots(1, len(sinks), figsize=(6.2 * len(sinks), 4.0), dpi=100, squeeze=False)
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
        h = headline[headline.sink == sink]
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
            if len(sel) and np.isfinite(sel.total_export_mw.iloc[0]):
                x = float(sel.total_export_mw.iloc[0])
                ax.axvline(
                    x,
                    color=color,
                    lw=1.6,
                    ls=ls,
                    label=f"{'N-1' if n_1 else 'N-0'} limit {x:.0f} MW",
                )
        ax.set_title(f"{year}: AZ → {sink}")
        ax.grid(alpha=0.3)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def heatmap(gains: pd.DataFrame, title: str, path: str | os.PathLike) -> None:
    """Reinforcement × year heatmap of MW gained (NaN cells: not studied, greyed).

    Parameters
    ----------
    gains : DataFrame
        Rows: reinforcement labels; columns: years; values: MW gained.
    """
    plt = _plt()
    values = gains.to_numpy(dtype=float)
    fig, ax = plt.subplots(
        figsize=(2.2 + 1.6 * max(1, gains.shape[1]), 0.9 + 0.45 * max(1, gains.shape[0])), dpi=100
    )
    finite = values[np.isfinite(values)]
    vmax = max(float(np.abs(finite).max()) if finite.size else 1.0, 1.0)
    masked = np.ma.masked_invalid(values)
    cmap = plt.get_cmap("RdYlGn").with_extremes(bad="0.88")
    im = ax.imshow(masked, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                "–" if not np.isfinite(v) else f"{v:+.0f}",
                ha="center",
                va="center",
                fontsize=8,
            )
    ax.set_xticks(range(gains.shape[1]), [str(c) for c in gains.columns])
    ax.set_yticks(range(gains.shape[0]), list(gains.index), fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="MW gained (N-1 TTC)")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def site_bars(sites: pd.DataFrame, path: str | os.PathLike) -> None:
    """Grouped bars per Niš site and year: losses, N-0 max loading in Serbia, worst
    N-1 loading in Serbia and the N-1 TTC AZ → RS."""
    plt = _plt()
    panels = [
        ("losses_mw", "total losses (MW)"),
        ("max_loading_rs_percent", "max loading of a Serbian line, N-0 (%)"),
        ("n1_worst_loading_rs_percent", "worst Serbian line loading, N-1 (%)"),
        ("ttc_n1_rs_mw", "N-1 TTC AZ → RS on top of the schedule (MW)"),
    ]
    panels = [p for p in panels if p[0] in sites.columns]
    years = list(dict.fromkeys(sites.year))
    labels = list(dict.fromkeys(sites.site_label))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.0 * len(panels), 3.6), dpi=100, squeeze=False
    )
    width = 0.8 / max(1, len(labels))
    for ax, (col, name) in zip(axes[0], panels, strict=True):
        for k, label in enumerate(labels):
            s = sites[sites.site_label == label].set_index("year").reindex(years)
            x = np.arange(len(years)) + (k - (len(labels) - 1) / 2) * width
            ax.bar(x, s[col].to_numpy(dtype=float), width, label=label)
        ax.set_xticks(range(len(years)), years)
        ax.set_title(name, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        if col.endswith("percent"):
            ax.axhline(100.0, color="k", lw=0.8, ls=":")
        finite = sites[col].to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        if col == "losses_mw" and finite.size:  # differences are small against the total
            span = max(finite.max() - finite.min(), 1.0)
            ax.set_ylim(finite.min() - 2 * span, finite.max() + span)
    axes[0][0].legend(fontsize=7, title="site", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def case_label(row) -> str:
    """``2030, AZ → RS, N-1`` and the case's reinforcement, route and site, as the
    report names them."""
    text = f"{row['year']}, {cases.SOURCE} → {row['sink']}, {'N-1' if row['n_1'] else 'N-0'}"
    labels = {r.key: r.label for r in cases.REINFORCEMENTS}
    labels[cases.PACKAGE_KEY] = cases.PACKAGE_LABEL
    if row["case"] in labels:
        text += f", {labels[row['case']]}"
    route = next((r.label for r in cases.ROUTES if r.key == row["route"]), None)
    if route:
        text += f", via {route}"
    site = next((s.label for s in cases.NIS_SITES if s.key == row["site"]), None)
    if site:
        text += f", Niš plant at {site}"
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
    the limiting outage (dashed), the noses (dotted) and the TTC marked."""
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
    fig.savefig(path, format="png")
    plt.close(fig)
