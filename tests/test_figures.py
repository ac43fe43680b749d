"""The study's figures on small made-up tables: each decodes and says what it shows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.study import cases, figures, report


def _text(path) -> dict:
    from PIL import Image

    with Image.open(path) as im:
        assert im.size[0] > 300 and im.size[1] > 200
        return dict(im.text)


def _sites(ttc_trupale: float) -> pd.DataFrame:
    rows = []
    for year in ("2030", "2032"):
        for site, ttc in zip(
            (s.key for s in cases.NIS_SITES), (100.0, ttc_trupale, 100.0), strict=True
        ):
            rows.append(
                {
                    "year": year,
                    "site": site,
                    "site_label": next(s.label for s in cases.NIS_SITES if s.key == site),
                    "losses_mw": 800.0 + (0.3 if site == "niskabanja" else 0.0),
                    "max_loading_rs_percent": 90.0,
                    "n1_worst_loading_plant_percent": 120.0,
                    "ttc_n1_rs_mw": ttc,
                }
            )
    return pd.DataFrame(rows)


def test_nis_sites_within_the_resolution_are_a_tie(tmp_path):
    sites = _sites(ttc_trupale=105.0)  # 5 MW: below the 10 MW search tolerance
    figures.site_bars(sites, tmp_path / "nis.png")
    assert _text(tmp_path / "nis.png")["gridsim:resolved"] == ""
    assert report.nis_verdict(sites) == (cases.NIS_SITES[0].label, [])


def test_a_nis_site_better_by_more_than_the_resolution_is_recommended(tmp_path):
    sites = _sites(ttc_trupale=140.0)  # +40 MW of N-1 TTC in both years
    figures.site_bars(sites, tmp_path / "nis.png")
    resolved = _text(tmp_path / "nis.png")["gridsim:resolved"]
    assert resolved == "ttc_n1_rs_mw:2030 ttc_n1_rs_mw:2032"
    best, deciding = report.nis_verdict(sites)
    assert best == "Trupale"
    assert deciding == [
        "N-1 TTC AZ → RS (MW) +40.0 in 2030 (better)",
        "N-1 TTC AZ → RS (MW) +40.0 in 2032 (better)",
    ]


def test_heatmap_scale_is_the_largest_change_and_small_gains_are_no_finding(tmp_path):
    gains = pd.DataFrame({"2026": [4.0, 60.0], "2030": [-600.0, np.nan]}, index=["cable", "line"])
    figures.heatmap(gains, "test", tmp_path / "h.png", tolerance_mw=10.0)
    assert _text(tmp_path / "h.png")["gridsim:scale_mw"] == "600"
    figures.heatmap(gains.clip(-20, 20), "test", tmp_path / "small.png", tolerance_mw=10.0)
    assert _text(tmp_path / "small.png")["gridsim:scale_mw"] == "100"  # at least 10x tol


def test_export_curves_mark_the_n1_limit_beside_the_n1_curve(tmp_path):
    t = np.linspace(0.0, 400.0, 9)
    curve = pd.DataFrame(
        {
            "sink": "RS",
            "total_export_mw": 500.0 + t,
            "max_loading_percent": 80.0 + 0.05 * t,
            "min_vm_pu": 1.0 - 1e-4 * t,
        }
    )
    n1 = pd.DataFrame(
        {
            "sink": "RS",
            "total_export_mw": 500.0 + t,
            "n1_worst_loading_percent": 95.0 + 0.05 * t,
            "n1_min_vm_pu": 0.98 - 1e-4 * t,
        }
    )
    head = pd.DataFrame(
        {
            "sink": ["RS", "RS"],
            "n_1": [False, True],
            "total_export_mw": [900.0, 600.0],
            "limiting_element": ["line A", "line B"],
            "limiting_contingency": [None, "line C"],
            "limit_type": ["thermal", "thermal"],
        }
    )
    figures.export_curves(curve, head, "2026", tmp_path / "c.png", n1)
    meta = _text(tmp_path / "c.png")
    assert meta["gridsim:n1_limits_mw"] == "RS=600"
    assert meta["gridsim:limiting_elements"] == "RS=line B"


def test_export_curves_say_when_the_n1_ttc_is_not_defined(tmp_path):
    t = np.linspace(0.0, 300.0, 7)
    curve = pd.DataFrame(
        {
            "sink": "EU",
            "total_export_mw": 500.0 + t,
            "max_loading_percent": 80.0 + 0.01 * t,
            "min_vm_pu": 0.93,
        }
    )
    n1 = curve.assign(n1_worst_loading_percent=143.2 + 0.01 * t, n1_min_vm_pu=0.81)
    head = pd.DataFrame(
        {
            "sink": ["EU", "EU"],
            "n_1": [False, True],
            "status": ["ok", report.NOT_DEFINED],
            "total_export_mw": [700.0, np.nan],
            "limiting_element": ["hvdc DC_AKH_B2B", ""],
            "limiting_contingency": ["", ""],
            "limit_type": ["hvdc", ""],
        }
    )
    figures.export_curves(curve, head, "2026", tmp_path / "c.png", n1)
    meta = _text(tmp_path / "c.png")
    assert meta["gridsim:n1_limits_mw"] == ""  # no N-1 limit drawn
    assert meta["gridsim:n1_not_defined"] == "EU=143"  # the loading with no added export


def test_heatmap_says_which_ttc_it_shows(tmp_path):
    gains = pd.DataFrame({"2026": [0.0, 60.0]}, index=["cable", "line"])
    figures.heatmap(gains, "test", tmp_path / "h.png", security="N-0")
    assert _text(tmp_path / "h.png")["gridsim:security"] == "N-0"


def test_nis_figure_leaves_out_an_n1_ttc_defined_nowhere(tmp_path):
    sites = _sites(ttc_trupale=140.0).assign(ttc_n1_rs_mw=np.nan)  # N-1 TTC not defined
    figures.site_bars(sites, tmp_path / "nis.png")
    meta = _text(tmp_path / "nis.png")
    assert meta["gridsim:metrics"] == (
        "losses_mw max_loading_rs_percent n1_worst_loading_plant_percent"
    )
    assert report.nis_verdict(sites) == (cases.NIS_SITES[0].label, [])
