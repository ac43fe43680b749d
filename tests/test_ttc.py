"""N-1 transfer capability by successive security-constrained LPs (gridsim.analysis.ttc).

Small cases: two case14 islands (zones A and B) joined by HVDC links (the builders of
``test_scopf``), with every branch rated at 1.05-1.6 times its largest AC loading over
the base case and every ordinary branch outage, plus 2 MVA, so that the base case is AC
N-1 secure; voltage limits 0.9-1.1 p.u.; reactive limits off (case14's line 0 outage does
not converge with them).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridsim
from gridsim.analysis import ttc
from gridsim.analysis.outages import ordinary_contingencies, solve_outage
from gridsim.analysis.ttc import base as ttc_base
from gridsim.analysis.ttc import check as ttc_check
from gridsim.analysis.ttc import n1_ttc, verify_shadow_price

sys.path.insert(0, str(Path(__file__).parent))
from test_scopf import _link, _rated, _tables, two_islands, zone_triangle  # noqa: E402

ROOT = Path(__file__).parents[1]
TOL_MW, REL_TOL = 10.0, 0.01
OPTIONS = dict(units=None, enforce_q_limits=False, tol_mw=TOL_MW, rel_tol=REL_TOL)


def ac_rated(net: gridsim.Network, seed: int) -> gridsim.Network:
    """``net`` with branch ratings 1.05-1.6 times their largest AC loading (base case and
    every ordinary branch outage) plus 2 MVA, voltage limits 0.9-1.1 p.u."""
    rng = np.random.default_rng(seed)
    net.bus["min_vm_pu"], net.bus["max_vm_pu"] = 0.9, 1.1
    net.invalidate()
    base = gridsim.run_ac(net)

    def mva(res):
        b = res.branch
        return (b.loading_percent * b.rate_mva / 100.0).fillna(0.0)

    worst = mva(base)
    for outage in ordinary_contingencies(net, units=None, hvdc=False):
        post = solve_outage(net, outage, base=base)
        assert post.converged, outage.label
        worst = np.fmax(worst, mva(post.power_flow).reindex(worst.index).fillna(0.0))
    rate = worst * rng.uniform(1.05, 1.6, worst.size) + 2.0
    for element in set(rate.index.get_level_values(0)):
        part = rate.loc[element]
        net[element].loc[part.index, "rate_mva"] = part.to_numpy()
    net.invalidate()
    return net


def case(seed: int, ratings=(40.0, 60.0, 80.0)) -> gridsim.Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ac_rated(two_islands(seed, ratings=ratings), seed)


def slack(ttc: float) -> float:
    """The search tolerance at ``ttc``."""
    return TOL_MW + REL_TOL * ttc


@pytest.mark.parametrize("seed", [0, 1])
def test_ttc_holds_in_ac_and_a_step_more_breaks(seed):
    net = case(seed)
    result = n1_ttc(net, "A", "B", **OPTIONS)
    assert result.status == "optimal" and result.ttc_mw > 0
    assert result.atc_mw == result.ttc_mw
    assert len(result.next_step) and result.next_step_mw == pytest.approx(
        result.ttc_mw + max(TOL_MW, REL_TOL * result.ttc_mw)
    )
    # an independent AC check of the dispatch at the TTC: every limit within 0.5 %
    at = result.network
    base = gridsim.run_ac(at)
    assert base.converged
    rate = base.branch.rate_mva
    for res in [base] + [
        solve_outage(at, o, base=base).power_flow for o in ordinary_contingencies(at, units=None)
    ]:
        b = res.branch
        mva = b.loading_percent * b.rate_mva / 100.0
        assert (mva <= rate.reindex(mva.index) * 1.005 + 1e-6).all()
        vm = res.bus.vm_pu[res.bus.vm_pu > 0]
        assert vm.between(0.9 - 1e-3, 1.1 + 1e-3).all()
    assert (at.hvdc.p_mw.abs() <= at.hvdc.max_p_mw + 1e-6).all()
    assert result.hvdc.p_mw.abs().le(result.hvdc.max_p_mw + 1e-6).all()


def _variants(net: gridsim.Network, result):
    """(name, less, more): ``more`` can carry at least what ``less`` can."""
    out = []
    less = net.copy()
    less.hvdc.loc["H2", "in_service"] = False
    less.invalidate()
    out.append(("link added", less, net))
    more = net.copy()
    more.hvdc["max_p_mw"] *= 1.5
    more.invalidate()
    out.append(("link ratings raised", net, more))
    b = result.binding
    if b is not None and b["element"] in ("line", "trafo"):
        more = net.copy()
        more[b["element"]].loc[b["id"], "rate_mva"] *= 1.2
        more.invalidate()
        out.append(("binding rating raised", net, more))
    return out


@pytest.mark.parametrize("seed", [0, 2])
def test_ttc_never_decreases_with_more_capacity(seed):
    net = case(seed)
    first = n1_ttc(net, "A", "B", **OPTIONS)
    for name, less, more in _variants(net, first):
        low = first if less is net else n1_ttc(less, "A", "B", **OPTIONS)
        high = first if more is net else n1_ttc(more, "A", "B", **OPTIONS)
        assert high.ttc_mw >= low.ttc_mw - slack(low.ttc_mw), name
    emergency = n1_ttc(net, "A", "B", emergency_rating_percent=120.0, **OPTIONS)
    assert emergency.ttc_mw >= first.ttc_mw - slack(first.ttc_mw)
    face = {"id": "AB", "members": [("hvdc", h, 1) for h in ("H0", "H1", "H2")], "limit_mw": 30.0}
    tight = n1_ttc(net, "A", "B", interfaces=[face], **OPTIONS)
    loose = n1_ttc(net, "A", "B", interfaces=[{**face, "limit_mw": 60.0}], **OPTIONS)
    assert tight.ttc_mw <= 30.0 + 1e-6
    assert loose.ttc_mw >= tight.ttc_mw - slack(tight.ttc_mw)


def random_pair(name: str, seed: int, n_links: int) -> gridsim.Network:
    """Two islands of MATPOWER case ``name`` (zones A, buses 0-; B, buses 1000-) joined by
    ``n_links`` HVDC links between random buses, rated 20-60 MW, at 0 MW; branch ratings
    as :func:`ac_rated`, voltage limits 0.8-1.2 p.u. (case30 falls to 0.86 p.u. after
    some outages)."""
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = _tables(name, 0, "A"), _tables(name, 1000, "B")
        tables = {k: pd.concat([a[k], b[k]]) for k in a}
        ends = zip(
            rng.choice(a["bus"].index, n_links, replace=False),
            rng.choice(b["bus"].index, n_links, replace=False),
            rng.uniform(20.0, 60.0, n_links),
            strict=True,
        )
        tables["hvdc"] = pd.DataFrame(
            [_link(f"H{i}", int(f), int(t), 0.0, float(r)) for i, (f, t, r) in enumerate(ends)]
        ).set_index("id")
        net = ac_rated(_rated(tables, rng), seed)
    net.bus["min_vm_pu"], net.bus["max_vm_pu"] = 0.8, 1.2
    net.invalidate()
    return net


@pytest.mark.parametrize(
    "name, seed, n_links",
    [("case14", 0, 4), ("case30", 0, 3), pytest.param("case118", 0, 3, marks=pytest.mark.slow)],
)
def test_random_cases_ttc_never_decreases_with_more_capacity(name, seed, n_links):
    """Acceptance 1 on random cases: adding a link, raising the link ratings, the
    binding branch's rating or the emergency rating, relaxing an interface: the TTC with
    optimal controls does not fall (within the search tolerance)."""
    net = random_pair(name, seed, n_links)
    first = n1_ttc(net, "A", "B", **OPTIONS)
    assert first.defined and first.ttc_mw > 0, first.message
    links = list(net.hvdc.index)
    fewer = net.copy()
    fewer.hvdc.loc[links[-1], "in_service"] = False
    fewer.invalidate()
    higher = net.copy()
    higher.hvdc["max_p_mw"] *= 1.5
    higher.invalidate()
    pairs = [("link added", n1_ttc(fewer, "A", "B", **OPTIONS), first)]
    pairs.append(("link ratings raised", first, n1_ttc(higher, "A", "B", **OPTIONS)))
    b = first.binding
    if b["element"] in ("line", "trafo"):
        rated = net.copy()
        rated[b["element"]].loc[b["id"], "rate_mva"] *= 1.2
        rated.invalidate()
        pairs.append(("binding rating raised", first, n1_ttc(rated, "A", "B", **OPTIONS)))
    emergency = n1_ttc(net, "A", "B", emergency_rating_percent=120.0, **OPTIONS)
    pairs.append(("emergency rating 120 %", first, emergency))
    face = {"id": "AB", "members": [("hvdc", h, 1) for h in links], "kind": "thermal"}
    tight, loose = (
        n1_ttc(net, "A", "B", interfaces=[{**face, "limit_mw": f * first.ttc_mw}], **OPTIONS)
        for f in (0.5, 0.8)
    )
    assert tight.ttc_mw <= 0.5 * first.ttc_mw + 1e-6
    pairs.append(("interface relaxed", tight, loose))
    for what, low, high in pairs:
        assert high.ttc_mw >= low.ttc_mw - slack(low.ttc_mw), (what, low.ttc_mw, high.ttc_mw)


def test_published_limits_side_by_side_with_the_physical_ttc():
    """The network's own interfaces: a published one (ntc) gives the TTC within it beside
    the physical TTC; a thermal one is held in the physical TTC itself."""
    net = case(1)
    links = [("hvdc", h, 1) for h in ("H0", "H1", "H2")]
    plain = n1_ttc(net, "A", "B", **OPTIONS)
    net.interfaces = [{"id": "AB", "members": links, "limit_mw": 30.0, "kind": "ntc"}]
    both = n1_ttc(net, "A", "B", **OPTIONS)
    assert both.ttc_mw == pytest.approx(plain.ttc_mw, abs=1e-6)  # physical: no ntc
    assert plain.ttc_mw > 30.0 + slack(30.0)
    assert both.published is not None and both.ttc_published_mw <= 30.0 + 1e-6
    assert both.ttc_published_mw >= 30.0 - slack(30.0)
    assert plain.published is None and np.isnan(plain.ttc_published_mw)
    held = n1_ttc(net, "A", "B", published_limits="hold", **OPTIONS)
    assert held.ttc_mw == pytest.approx(both.ttc_published_mw, abs=1e-6)
    net.interfaces[0]["kind"] = "thermal"
    thermal = n1_ttc(net, "A", "B", **OPTIONS)
    assert thermal.published is None and thermal.ttc_mw <= 30.0 + 1e-6


def test_physical_ttc_is_searched_from_both_secured_base_cases():
    """Issue 17, acceptance 1 with published limits: a published limit (10 MW over the
    three links) below the schedule (H0 at 30 MW) makes the base case secured with it
    send 20 MW less (``base_exchange_change_mw``: the links' moves, each from island A,
    the source's, so +1). That base case holds the physical limits too, so the physical
    answer's total (base-case change and TTC) is at least the larger of the physical
    searches from each base case (the second by a fresh ``n1_ttc`` of its dispatch,
    which needs no redispatch) and at least the total within the published limits, less
    the search tolerance."""
    net = case(1)
    net.hvdc.loc["H0", "p_mw"] = 30.0
    net.invalidate()
    links = [("hvdc", h, 1) for h in ("H0", "H1", "H2")]
    net.interfaces = [{"id": "AB", "members": links, "limit_mw": 10.0, "kind": "ntc"}]
    r = n1_ttc(net, "A", "B", **OPTIONS)
    pub = r.published
    assert pub is not None and pub.started_from == "published"
    assert set(net.bus.zone[net.hvdc.from_bus]) == {"A"}  # every link leaves the source's
    moved = pub.base_hvdc_change_mw
    assert pub.base_exchange_change_mw == pytest.approx(moved.sum(), abs=1e-9)
    assert pub.base_exchange_change_mw == pytest.approx(-20.0, abs=1e-6)  # 30 -> 10 MW
    assert pub.total_change_mw == pytest.approx(pub.base_exchange_change_mw + pub.ttc_mw)
    plain = n1_ttc(net, "A", "B", published_limits="ignore", **OPTIONS)
    assert plain.base_exchange_change_mw == 0.0 and len(plain.base_redispatch_mw) == 0
    base = ttc.secured_base(net, units=None, enforce_q_limits=False)
    assert base.published is not None and base.published.secured
    from_pub = n1_ttc(base.published.network, "A", "B", published_limits="ignore", **OPTIONS)
    assert len(from_pub.base_redispatch_mw) == 0  # it holds the physical limits already
    best = max(plain.total_change_mw, pub.base_exchange_change_mw + from_pub.ttc_mw)
    assert r.total_change_mw >= best - slack(abs(best))
    assert r.total_change_mw >= pub.total_change_mw - slack(abs(pub.total_change_mw))
    if r.started_from == "physical":  # within the tolerance: the one that moves less
        assert r.ttc_mw == pytest.approx(plain.ttc_mw, abs=1e-6)


def test_physical_ttc_keeps_the_start_that_exports_more(monkeypatch):
    """The choice between the two starts, on stand-in searches: the physical search from
    the base case secured with the published limits replaces the one from the base case
    secured without them only where its total is larger by more than the search
    tolerance (max(tol_mw, rel_tol x total)), and says so in its message."""
    from gridsim.analysis.ttc import method

    net = case(1)
    links = [("hvdc", h, 1) for h in ("H0", "H1", "H2")]
    net.interfaces = [{"id": "AB", "members": links, "limit_mw": 10.0, "kind": "ntc"}]
    base = ttc.secured_base(net, units=None, enforce_q_limits=False)
    first = n1_ttc(net, "A", "B", published_limits="ignore", **OPTIONS)
    totals = {}

    def fake(network, b, source, sink, options, start):
        out = dataclasses.replace(first, message="m", published=None)
        kind = (
            "published"
            if options["published_limits"] == "hold"
            else "alt"
            if b.network is base.published.network
            else "physical"
        )
        out.base_exchange_change_mw, out.ttc_mw = totals[kind]
        return out

    monkeypatch.setattr(method, "_transfer", fake)
    monkeypatch.setattr(method, "_moved", lambda a, b: True)
    for alt, kept in (((-20.0, 135.0), "published"), ((-20.0, 125.0), "physical")):
        totals.update(physical=(0.0, 100.0), published=(-20.0, 30.0), alt=alt)
        r = n1_ttc(net, "A", "B", base=base, **OPTIONS)
        assert r.started_from == kept, alt
        assert r.total_change_mw == pytest.approx(sum(alt) if kept == "published" else 100.0)
        assert ("exports 15 MW more" in r.message) == (kept == "published")
        assert r.published.started_from == "published"


def test_ttc_beats_every_hvdc_split_of_the_heuristic_search():
    """Brute force: transfer_capability with fixed shares (5 % steps) over two links,
    the same branch outages (single circuits, non-islanding: transfer trips whole
    lines and skips islanding ones), no HVDC or unit trips."""
    net = case(1, ratings=(40.0, 60.0, 80.0))
    net.hvdc.loc["H2", "in_service"] = False
    net.invalidate()
    from gridsim.analysis.scopf import LinearisedGrid

    outages = ordinary_contingencies(net, units=None, hvdc=False)
    grid = LinearisedGrid(net, gridsim.run_dc(net), outages=outages)
    outages = [o for o, isl in zip(grid.outages, grid.islanding, strict=True) if not isl]
    assert all(o.parallel == 1 for o in outages)
    ours = n1_ttc(net, "A", "B", contingencies=outages, **OPTIONS)
    best = 0.0
    for share in np.linspace(0.0, 1.0, 21):
        r = gridsim.transfer_capability(
            net,
            "A",
            "B",
            n_1=True,
            contingencies=[(o.element, o.id) for o in outages],
            hvdc_contingencies=False,
            hvdc_shares={"H0": share, "H1": 1.0 - share},
            enforce_q_limits=False,
            tol_mw=TOL_MW,
        )
        best = max(best, r.ttc_mw)
    assert ours.ttc_mw >= best - slack(best)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shadow_price_of_the_binding_element(seed):
    """Raising the binding element's rating by 1 % moves the TTC by price x rating
    change within 10 % (tight search so that the TTC sits on the AC limit). Binding:
    line 105 after line 102 (seed 0), trafo 1 after trafo 4 (1), line 114 after line 111
    (2). The LP's own dual is 1.2 times too large where line 105 binds (ratio 0.83: the
    AC flow moves more per MW than the DC sensitivities say); the AC-corrected price
    gives 1.01, 1.01 and 0.93."""
    net = case(seed)
    options = {**OPTIONS, "tol_mw": 1e-3, "rel_tol": 0.0, "max_rounds": 12}
    result = n1_ttc(net, "A", "B", **options)
    assert result.binding["kind"] in ("n-0", "n-1") and result.binding["shadow_price"] > 0
    check = verify_shadow_price(net, "A", "B", result, 0)
    assert check["observed_mw"] == pytest.approx(check["predicted_mw"], rel=0.10)


@pytest.mark.parametrize("scenario", ["2026", "2030", "2032"])
def test_corridor_base_case_secured_or_said_not_to_be(scenario):
    net = gridsim.load_network(ROOT / "networks" / "caspian_eu.yaml", scenario=scenario)
    for sink in ("RS", "EU"):
        r = n1_ttc(net, "AZ", sink)
        assert not r.set_aside
        if r.defined:
            assert r.status == "optimal"
            if r.base_rounds:
                assert len(r.base_violations_removed) and r.base_redispatch_mw.abs().sum() > 0
        else:
            assert r.status == "base case cannot be secured"
            assert len(r.residual) and "base case cannot be secured" in r.message


@pytest.mark.parametrize("seed", [0, 1])
def test_screened_checks_give_the_ttc_of_full_checks(seed, monkeypatch):
    """The screen of the AC checks on the way (every outage solved at the TTC found)
    changes the TTC by less than the search tolerance: against every check solving
    every outage (a screen loading of 0 passes none over)."""
    net = case(seed)
    screened = n1_ttc(net, "A", "B", **OPTIONS)
    monkeypatch.setattr(ttc_check, "SCREEN_LOADING", 0.0)
    full = n1_ttc(net, "A", "B", **OPTIONS)
    assert screened.status == full.status == "optimal"
    assert screened.ttc_mw == pytest.approx(full.ttc_mw, abs=slack(full.ttc_mw))


@pytest.mark.parametrize("seed", [0, 1])
def test_an_outage_the_screen_missed_is_forced_not_every_outage_solved(seed, monkeypatch):
    """A screen that passes over the outage binding at the TTC (as a poor prediction
    would) until it is forced: the full check at the TTC found finds it broken, the
    screened search runs again with it solved at every check (``_Checker.force``) and
    gives the TTC of full checks, with no search of complete checks (one full check per
    screened search, at its end, besides the base case's)."""
    net = case(seed)
    monkeypatch.setattr(ttc_check, "SCREEN_LOADING", 0.0)
    full = n1_ttc(net, "A", "B", **OPTIONS)
    monkeypatch.undo()
    binding = full.binding["contingency"]
    forced, complete = [], []
    check, suspects, force = (
        getattr(ttc_check._Checker, name) for name in ("__call__", "_suspects", "force")
    )

    def checked(self, net, *, fail_fast=False, grid=None):
        complete.append(grid is None)
        return check(self, net, fail_fast=fail_fast, grid=grid)

    def missing(self, res, grid):
        near, guess = suspects(self, res, grid)
        key = next(o.key for o in self.outages if o.label == binding)
        return (near - {key} if key in guess else near), guess

    def forcing(self, chk):
        forced.append(force(self, chk))
        return forced[-1]

    monkeypatch.setattr(ttc_check._Checker, "__call__", checked)
    monkeypatch.setattr(ttc_check._Checker, "_suspects", missing)
    monkeypatch.setattr(ttc_check._Checker, "force", forcing)
    found = n1_ttc(net, "A", "B", **OPTIONS)
    assert found.status == full.status == "optimal"
    assert found.ttc_mw == pytest.approx(full.ttc_mw, abs=slack(full.ttc_mw))
    assert forced and forced[0] > 0  # the first search missed the binding outage
    assert sum(complete) <= len(forced) + 3


@pytest.mark.parametrize("scenario, sink", [("2026", "RS"), ("2032", "EU"), ("2032", "RS")])
def test_corridor_outages_the_screen_passes_over_hold_every_limit(scenario, sink, monkeypatch):
    """Every outage the screen passes over in an AC check on the way to the TTC holds
    every limit in AC there (solved afterwards; thermal within 0.5 %, voltage within
    1e-3 p.u.); the insecure outages of the base case set aside, as the model stands."""
    passed_over = []
    check = ttc_check._Checker.__call__

    def checked(self, net, *, fail_fast=False, grid=None):
        out = check(self, net, fail_fast=fail_fast, grid=grid)
        if grid is not None and out.complete:
            solved = {post.outage.key for post in out.posts}
            for outage in self.outages:
                if outage.key not in solved:
                    post = solve_outage(net, outage, base=out.result, enforce_q_limits=True)
                    rows = self._n1(net, post, [])
                    passed_over.append(
                        (outage.label, [r for r in rows if r[6] > ttc_check._tol_row(r)])
                    )
        return out

    monkeypatch.setattr(ttc_check._Checker, "__call__", checked)
    net = gridsim.load_network(ROOT / "networks" / "caspian_eu.yaml", scenario=scenario)
    result = n1_ttc(
        net,
        "AZ",
        sink,
        redispatch_areas=["AZ", sink],
        set_aside_insecure=True,
        published_limits="ignore",
    )
    assert result.defined and result.ttc_mw > 0
    assert len(passed_over) > 0  # the screen passed outages over (2026 RS: 26)
    assert [(label, rows) for label, rows in passed_over if rows] == []


def _same_result(a: ttc.TtcResult, b: ttc.TtcResult) -> None:
    """Every field of ``a`` equals ``b``'s (the time taken aside), the published TTC too."""
    for field in dataclasses.fields(ttc.TtcResult):
        name = field.name
        x, y = getattr(a, name), getattr(b, name)
        if name == "elapsed_s":
            continue
        if name == "published":
            assert (x is None) == (y is None) and (x is a) == (y is b)
            if x is not None and x is not a:
                _same_result(x, y)
        elif name in ("network", "secured_network"):
            for element in ("gen", "hvdc", "load"):
                pd.testing.assert_frame_equal(x[element], y[element])
        elif name == "_proposal":
            assert (x[0] is None) == (y[0] is None) and x[1] == y[1], name
        elif isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y)
        elif isinstance(x, pd.Series):
            pd.testing.assert_series_equal(x, y)
        elif isinstance(x, float) and np.isnan(x):
            assert np.isnan(y), name
        else:
            assert x == y, name


@pytest.mark.parametrize("set_aside", [False, True])
def test_a_secured_base_reused_gives_the_same_ttc(set_aside):
    """``n1_ttc(..., base=secured_base(...))`` skips the base-case phase and gives every
    field as without it, for each sink of the same secured base (used twice)."""
    net = gridsim.load_network(ROOT / "networks" / "caspian_eu.yaml", scenario="2032")
    base = ttc.secured_base(net, set_aside_insecure=set_aside)
    assert base.published is not None  # the network has published limits
    for sink in ("RS", "EU"):
        alone = n1_ttc(net, "AZ", sink, set_aside_insecure=set_aside)
        reused = n1_ttc(net, "AZ", sink, set_aside_insecure=set_aside, base=base)
        _same_result(reused, alone)
        assert reused.ac_checks == alone.ac_checks > 0


def test_a_secured_base_of_another_network_or_options_is_refused():
    net = case(0)
    base = ttc.secured_base(net, units=None, enforce_q_limits=False)
    with pytest.raises(ttc.TtcError, match="other options .*max_lost_mw"):
        n1_ttc(net, "A", "B", base=base, max_lost_mw=10.0, **OPTIONS)
    other = net.copy()
    other.gen.loc[other.gen.index[0], "p_mw"] += 1.0
    other.invalidate()
    with pytest.raises(ttc.TtcError, match="another network"):
        n1_ttc(other, "A", "B", base=base, **OPTIONS)
    with pytest.raises(ttc.TtcError, match="SecuredBase"):
        n1_ttc(net, "A", "B", base=object(), **OPTIONS)
    # options of the transfer alone may differ
    reused = n1_ttc(net, "A", "B", base=base, **{**OPTIONS, "trm_mw": 5.0})
    _same_result(reused, n1_ttc(net, "A", "B", **{**OPTIONS, "trm_mw": 5.0}))


# -- the base case: zone-balanced and bounded redispatch -------------------------------------
ZONE_OPTIONS = dict(contingencies=[], units=None, enforce_q_limits=False)


def test_base_redispatch_zone_balanced_and_bounded_in_ac(tmp_path):
    """The zone triangle of ``test_scopf`` in AC (line 1-2 about 10 MW over): the area
    balance secures it with about 15 MW each way across the border, the zone balance
    with about 30 MW each way inside zone A (each zone's net 0, its share of the zone's
    150 MW of generation reported); a 30 % bound per zone cannot secure it (40 % is
    needed) and says so, 45 % can."""
    net = zone_triangle(tmp_path / "net.yaml")
    area = ttc.secured_base(net, **ZONE_OPTIONS)
    assert area.secured
    table = area.base_redispatch_zone
    assert table.down_mw["A"] == pytest.approx(15.0, rel=0.02)
    table_area_down = table.down_mw["A"]
    assert table.up_mw["B"] == pytest.approx(15.0, rel=0.02)
    zone = ttc.secured_base(net, base_redispatch_balance="zone", **ZONE_OPTIONS)
    assert zone.secured
    table = zone.base_redispatch_zone
    assert list(table.index) == ["A"]
    assert table.net_mw["A"] == pytest.approx(0.0, abs=1e-6)
    assert table.generation_mw["A"] == pytest.approx(150.0, abs=1e-6)
    assert table.share_percent["A"] == pytest.approx(40.0, rel=0.02)
    assert table.share_percent["A"] == pytest.approx(
        100 * (table.up_mw["A"] + table.down_mw["A"]) / 150.0, abs=1e-9
    )
    options = dict(ZONE_OPTIONS, base_redispatch_balance="zone")
    tight = n1_ttc(net, "A", "B", base_redispatch_limit_percent=30.0, **options)
    assert not tight.defined and tight.status == "base case cannot be secured"
    assert "cannot be secured within 30 % redispatch per zone" in tight.message
    assert list(tight.residual.id) == [12]
    loose = ttc.secured_base(net, base_redispatch_limit_percent=45.0, **options)
    assert loose.secured
    assert loose.base_redispatch_zone.share_percent["A"] <= 45.0
    # both options are part of the base options a secured base is checked against
    with pytest.raises(ttc.TtcError, match="other options .*base_redispatch_limit_percent"):
        n1_ttc(net, "A", "B", base=loose, base_redispatch_limit_percent=50.0, **options)
    with pytest.raises(ttc.TtcError, match="other options .*base_redispatch_balance"):
        n1_ttc(net, "A", "B", base=area, base_redispatch_balance="zone", **ZONE_OPTIONS)
    with pytest.raises(ttc.TtcError, match="base_redispatch_balance must be"):
        ttc.secured_base(net, base_redispatch_balance="island")
    with pytest.raises(ttc.TtcError, match="base_redispatch_limit_percent must be"):
        ttc.secured_base(net, base_redispatch_limit_percent=-1.0)
    # a flow reliability margin: more redispatch (about 26 MW each way for 10 % in DC),
    # part of the base options, refused outside [0, 100)
    margin = ttc.secured_base(net, base_margin_percent=10.0, **ZONE_OPTIONS)
    assert margin.secured
    assert margin.base_redispatch_zone.down_mw["A"] > 1.5 * table_area_down
    with pytest.raises(ttc.TtcError, match="other options .*base_margin_percent"):
        n1_ttc(net, "A", "B", base=area, base_margin_percent=10.0, **ZONE_OPTIONS)
    with pytest.raises(ttc.TtcError, match="base_margin_percent must be"):
        ttc.secured_base(net, base_margin_percent=100.0)


def test_cli_base_redispatch_options(tmp_path, capsys):
    """``gridsim transfer --method optimal`` passes the base-case redispatch balance and
    bound; a bound of 0 % cannot secure the zone triangle and says so."""
    from conftest import one_line_error, run_cli

    zone_triangle(tmp_path / "net.yaml")
    args = ["transfer", tmp_path / "net.yaml", "--source", "A", "--sink", "B", "--method"]
    args += ["optimal", "--units", "none", "--base-redispatch-balance", "zone"]
    status, out, err = run_cli([*args, "--base-redispatch-limit", "0", "--json"], capsys)
    assert status == 0, err
    doc = json.loads(out)
    assert doc["base_redispatch_balance"] == "zone"
    assert doc["base_redispatch_limit_percent"] == 0.0
    assert doc["ttc_mw"] is None
    assert "cannot be secured within 0 % redispatch per zone" in doc["message"]
    status, _, err = run_cli([*args, "--base-redispatch-limit", "-1"], capsys)
    assert status == 2 and "--base-redispatch-limit" in one_line_error(err)
    # the CNEC selection: counted in the JSON and the text
    status, out, err = run_cli([*args, "--cnec-threshold", "5", "--json"], capsys)
    assert status == 0, err
    doc = json.loads(out)
    cnecs, pairs = doc["cnecs"]
    assert doc["cnec_threshold_percent"] == 5.0 and 0 < cnecs < pairs
    assert isinstance(doc["outside_cnec"], list)
    status, out, err = run_cli([*args, "--cnec-threshold", "5"], capsys)
    assert status == 0 and f"{cnecs} of {pairs} (branch, outage) pairs" in out


# -- CNECs: thermal limits held on the CNECs only ---------------------------------------------
def test_cnec_threshold_zero_gives_the_unfiltered_ttc():
    """Threshold 0 selects every energised pair: the same result as no selection."""
    net = case(0)
    plain_ttc = n1_ttc(net, "A", "B", **OPTIONS)
    every = n1_ttc(net, "A", "B", cnec_threshold=0.0, **OPTIONS)
    assert every.cnecs is not None and every.outside_cnec.empty
    every.options, every.cnecs = plain_ttc.options, plain_ttc.cnecs
    _same_result(every, plain_ttc)


def test_a_non_cnec_overload_is_reported_not_held(tmp_path):
    """The zone triangle with line 1-3 rated 10 MVA (16.7 MW flow) and the tie 2-4 at 150
    MVA (50 MW): zone A's GSK (G1 and G2 both 200 MW) puts 1/3 - 1/3 = 0 of an A -> B
    exchange on line 1-3, so it is no CNEC at 5 % (line 2-4: 1, a CNEC). With CNECs the
    base case is left as it is, the transfer stops on the tie (about 100 MW) and the
    overload of line 1-3 is listed in ``outside_cnec`` and counted in the message;
    without, line 1-3 must be secured first."""
    from gridsim.analysis.cnec import select_cnecs

    net = zone_triangle(tmp_path / "net.yaml", rate=1000.0)
    net.line.loc[13, "rate_mva"] = 10.0
    net.line.loc[24, "rate_mva"] = 150.0
    net.invalidate()
    sel = select_cnecs(net, [], threshold=0.05)
    flags = dict(zip(sel.branches.get_level_values(1), sel.n_cnec, strict=True))
    assert not flags[13] and flags[24] and flags[12]
    assert sel.n_ptdf[sel.branches.get_loc(("line", 13))] == pytest.approx(0.0, abs=1e-9)
    held = n1_ttc(net, "A", "B", cnec_threshold=0.05, **ZONE_OPTIONS)
    assert held.status == "optimal" and held.base_redispatch_mw.empty
    assert held.binding["id"] == 24
    assert held.ttc_mw == pytest.approx(100.0, abs=TOL_MW + 1.0)
    out = held.outside_cnec
    assert list(zip(out.kind, out.id, out.contingency, strict=True)) == [("thermal", 13, None)]
    assert "1 thermal violation(s) outside the CNECs" in held.message
    every = n1_ttc(net, "A", "B", **ZONE_OPTIONS)
    assert every.outside_cnec.empty
    assert 13 in set(every.base_violations_removed.id)
    assert every.base_redispatch_mw.abs().sum() > 1.0


# -- the base rounds: a redispatch whose AC power flow diverges is damped --------------------
def weak_tie() -> gridsim.Network:
    """Three 100 kV buses: the slack and unit G1 (300 MW) at bus 1, a 350 MW load and a
    voltage-holding unit G2 (no active power) at bus 2, unit G3 (50 MW) at bus 3. Line
    1-2 (10 ohm, rated 60 MVA) carries about 310 MW; the tie 3-2 (50 ohm: at most about
    200 MW in AC at 1 p.u.) is unlimited. Securing line 1-2 in the DC LP moves about 250
    MW from G1 to G3: 300 MW on the tie, past what AC can carry (no solution); half of it
    converges."""
    bus = pd.DataFrame(
        {"vn_kv": 100.0, "zone": "A", "min_vm_pu": 0.8, "max_vm_pu": 1.2}, index=[1, 2, 3]
    )
    line = pd.DataFrame(
        {
            "from_bus": [1, 3],
            "to_bus": [2, 2],
            "length_km": 1.0,
            "r_ohm_per_km": 1.0,
            "x_ohm_per_km": [10.0, 50.0],
            "b_us_per_km": 0.0,
            "rate_mva": [60.0, 9999.0],
        },
        index=[12, 32],
    )
    gen = pd.DataFrame(
        {
            "bus": [1, 2, 3],
            "p_mw": [300.0, 0.0, 50.0],
            "vm_pu": 1.0,
            "min_p_mw": 0.0,
            "max_p_mw": [400.0, 0.0, 400.0],
            "min_q_mvar": -500.0,
            "max_q_mvar": 500.0,
        },
        index=["G1", "G2", "G3"],
    )
    ext = pd.DataFrame({"bus": [1], "vm_pu": 1.0}, index=["X"])
    load = pd.DataFrame({"bus": [2], "p_mw": [350.0], "q_mvar": [0.0]}, index=["D"])
    return gridsim.Network({"bus": bus, "line": line, "gen": gen, "ext_grid": ext, "load": load})


WEAK = dict(contingencies=[], units=None, enforce_q_limits=False)


def test_a_base_round_whose_dispatch_diverges_is_damped():
    """The first LP round's full move (about 250 MW) does not converge in AC; half of it
    is taken (125 MW from G1 to G3, the LP's own move measured on the AC point), and the
    rounds go on from there instead of raising ConvergenceError."""
    net = weak_tie()
    one = ttc.secured_base(net, max_rounds=1, **WEAK)
    assert one.base_rounds == 1 and not one.secured
    moves = one.base_redispatch_mw
    assert moves["G3"] == pytest.approx(-moves["G1"], abs=1e-6)
    assert 110.0 <= moves["G3"] <= 140.0  # half of the LP's ~250 MW
    full = net.copy()
    full.gen.loc[["G1", "G3"], "p_mw"] += 2.0 * moves[["G1", "G3"]]
    full.invalidate()
    assert not gridsim.run_ac(full, enforce_q_limits=False, max_iter=ttc.BASE_MAX_ITER).converged
    assert gridsim.run_ac(one.network, enforce_q_limits=False).converged
    more = ttc.secured_base(net, **WEAK)
    assert more.base_rounds > 1
    assert more.base_redispatch_mw["G3"] > moves["G3"] + 1.0


def test_a_base_round_that_diverges_however_damped_says_so(monkeypatch):
    """Where no damped move converges either (here: none tried), the base case is not
    secured and the message says why, with the iteration count and the largest
    mismatch; no ConvergenceError."""
    monkeypatch.setattr(ttc_base, "DAMPING_STEPS", 0)
    result = n1_ttc(weak_tie(), ["G1"], ["D"], **WEAK)
    assert result.status == "base case cannot be secured" and not result.defined
    assert "round 1's dispatch did not converge" in result.message
    assert "iterations" in result.message and "largest mismatch" in result.message
    assert result.network.gen.p_mw["G3"] == 50.0  # the file's dispatch, AC-converged


def test_a_zero_ttc_names_the_row_at_its_limit_and_the_step_along_the_shift_keys():
    """``test_ttc_optimality``'s seed-0 case with a line added: at zero transfer line 1007
    after trafo 1002 is at 100.33 % (within the AC check's 0.5 %). The LP holds that row
    at its flow (not infeasible, not degenerate): TTC 0, binding on it with a positive
    price, and the step of 2 MW along the shift keys (the links held) breaks it in AC."""
    from test_ttc_optimality import PROPS, joined, shift_keys, with_line

    net = with_line(joined("case14", 0, 2))
    src, snk = shift_keys(net)
    result = n1_ttc(net, src, snk, **PROPS)
    assert result.ttc_mw == 0.0 and result.status == "optimal"
    b = result.binding
    assert (b["element"], b["id"], b["contingency"]) == ("line", 1007, "trafo 1002")
    assert b["shadow_price"] > 1.0
    assert result.next_step_mw == pytest.approx(PROPS["tol_mw"])
    top = result.next_step.iloc[0]
    assert (top.kind, top.id, top.contingency) == ("thermal", 1007, "trafo 1002")
    assert top.excess > ttc.THERMAL_TOL * top.limit


# -- a variant's base case warm-started from its parent's -------------------------------------
BASE_OPTIONS = dict(units=None, enforce_q_limits=False)


def parent_and_variant() -> tuple[gridsim.Network, gridsim.Network]:
    """``case(0)`` with line 3 rated 20 % lower (its base case needs about 52 MW of
    redispatch), without link H2 (the parent) and with it at 0 MW (the variant)."""
    variant = case(0)
    variant.line.loc[3, "rate_mva"] *= 0.8
    variant.invalidate()
    tables = {k: v.copy() for k, v in variant.tables.items() if len(v)}
    tables["hvdc"] = tables["hvdc"].drop("H2")
    return gridsim.Network(tables), variant


def test_a_variant_warm_started_from_its_parents_base():
    """The parent's secured dispatch mapped onto the variant (H2 keeps its own 0 MW)
    holds in AC: the variant's secured base case with one AC check and no LP round, its
    redispatch reported against its own file dispatch; from it the TTC with the added
    link is at least the parent's (less the search tolerance). Other options are
    refused. The variant's file schedules H0 and H1 7 MW away from the parent's: the
    parent's are mapped onto it."""
    parent, variant = parent_and_variant()
    variant.hvdc.loc[["H0", "H1"], "p_mw"] += 7.0
    variant.invalidate()
    first = ttc.secured_base(parent, **BASE_OPTIONS)
    assert first.secured and first.base_rounds >= 1 and first.base_redispatch_mw.abs().sum() > 40
    warm = ttc.secured_base(variant, start=first, **BASE_OPTIONS)
    assert warm.secured and warm.base_rounds == 0 and warm.ac_checks == 1
    pd.testing.assert_series_equal(warm.base_redispatch_mw, first.base_redispatch_mw)
    assert warm.network.hvdc.p_mw["H2"] == 0.0
    for lid in ("H0", "H1"):
        assert warm.network.hvdc.p_mw[lid] == first.network.hvdc.p_mw[lid]
        assert warm.network.hvdc.p_mw[lid] != variant.hvdc.p_mw[lid]
    before = n1_ttc(parent, "A", "B", base=first, **OPTIONS)
    after = n1_ttc(variant, "A", "B", base=warm, **OPTIONS)
    assert before.ttc_mw > 0 and after.ttc_mw >= before.ttc_mw - slack(before.ttc_mw)
    with pytest.raises(ttc.TtcError, match="other options .*max_lost_mw"):
        ttc.secured_base(variant, start=first, max_lost_mw=10.0, **BASE_OPTIONS)
    with pytest.raises(ttc.TtcError, match="start must be a SecuredBase"):
        ttc.secured_base(variant, start=first.network, **BASE_OPTIONS)


def test_a_start_secured_at_other_limits():
    """A start made at another emergency rating is taken (``START_FREE``): at a looser
    rating its dispatch holds as it is (no LP round, the same redispatch), at a tighter
    one the LP rounds go on from it, and the TTC at the looser rating from that base
    case is at least the TTC at 100 % (less the search tolerance)."""
    parent, _ = parent_and_variant()
    first = ttc.secured_base(parent, **BASE_OPTIONS)
    assert set(ttc.START_FREE) == {"emergency_rating_percent", "interfaces"}
    looser = ttc.secured_base(parent, start=first, emergency_rating_percent=110.0, **BASE_OPTIONS)
    assert looser.secured and looser.base_rounds == 0
    pd.testing.assert_series_equal(looser.base_redispatch_mw, first.base_redispatch_mw)
    tighter = ttc.secured_base(parent, start=first, emergency_rating_percent=95.0, **BASE_OPTIONS)
    assert tighter.secured and tighter.base_rounds >= 1
    at_100 = n1_ttc(parent, "A", "B", base=first, **OPTIONS)
    at_110 = n1_ttc(parent, "A", "B", base=looser, emergency_rating_percent=110.0, **OPTIONS)
    assert at_110.ttc_mw >= at_100.ttc_mw - slack(at_100.ttc_mw)


def test_a_start_without_the_checks_state_secures_the_variant_alike():
    """``as_start()`` keeps what a variant's securing reads and lets the AC checks'
    state go: the variant secured from it equals the one secured from the whole base
    case (dispatch, redispatch, rounds, checks), and a TTC refuses it as its base."""
    parent, variant = parent_and_variant()
    first = ttc.secured_base(parent, **BASE_OPTIONS)
    light = first.as_start()
    assert light._shared == {} and light._check is None and first._check is not None
    whole = ttc.secured_base(variant, start=first, **BASE_OPTIONS)
    warm = ttc.secured_base(variant, start=light, **BASE_OPTIONS)
    assert ttc.network_fingerprint(warm.network) == ttc.network_fingerprint(whole.network)
    pd.testing.assert_series_equal(warm.base_redispatch_mw, whole.base_redispatch_mw)
    assert (warm.base_rounds, warm.ac_checks) == (whole.base_rounds, whole.ac_checks)
    with pytest.raises(ttc.TtcError, match="as_start"):
        n1_ttc(parent, "A", "B", base=light, **OPTIONS)


def test_a_variant_whose_mapped_dispatch_is_insecure_goes_on_with_lp_rounds():
    """With line 3 rated 5 % lower again in the variant, the parent's dispatch breaks it:
    the LP rounds go on from that dispatch and secure it with more redispatch."""
    parent, variant = parent_and_variant()
    variant.line.loc[3, "rate_mva"] *= 0.95
    variant.invalidate()
    first = ttc.secured_base(parent, **BASE_OPTIONS)
    warm = ttc.secured_base(variant, start=first, **BASE_OPTIONS)
    assert warm.secured and warm.base_rounds >= 1 and warm.ac_checks > 1
    assert 3 in set(warm.base_violations_removed.id)  # of the mapped dispatch
    moved = warm.base_redispatch_mw.abs().sum()
    assert moved > first.base_redispatch_mw.abs().sum() + 1.0
