"""Security-constrained LPs (gridsim.analysis.scopf), each against an independent reference.

The reference model is built from DC power flows only: the network with the dispatch
applied by hand, the outage applied by :func:`gridsim.analysis.outages.apply_outage`, and
the post-contingency response done by hand (each island's slack deviation shared among
its units by ``max_p_mw``, then solved again). DC flows are linear in the dispatch, so a
few such solves give the exact linear model of every outage, with no PTDF or LODF.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import pandapower_case
from scipy.optimize import linprog

import gridsim
from gridsim.analysis.outages import Outage, apply_outage, ordinary_contingencies
from gridsim.analysis.scopf import LinearisedGrid, ScopfError, max_transfer, secure_base_case
from gridsim.analysis.scopf.lp import _Lp
from gridsim.analysis.scopf.problems import _unit_ids

TOL_MW = 1e-6
ROOT = Path(__file__).parents[1]


# -- networks ---------------------------------------------------------------------------
def _tables(case: str, offset: int = 0, zone: str = "A") -> dict[str, pd.DataFrame]:
    """A pandapower case's gridsim tables, ids and bus references shifted by ``offset``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = gridsim.from_pandapower(pandapower_case(case))
    out = {}
    refs = ("bus", "from_bus", "to_bus", "hv_bus", "lv_bus")
    for element, table in net.tables.items():
        table = table.copy()
        table.index = table.index + offset
        for col in refs:
            if col in table.columns and element != "bus":
                table[col] = table[col] + offset
        out[element] = table
    out["bus"]["zone"] = zone
    return out


def _rated(tables: dict, rng: np.random.Generator) -> gridsim.Network:
    """The network with every branch rated at 1.05-1.6 times its largest DC flow, intact
    or after an ordinary outage, plus 2 MW (so that the DC base case is N-1 secure)."""
    net = gridsim.Network({k: v for k, v in tables.items() if len(v)})
    grid = LinearisedGrid(net, gridsim.run_dc(net))
    worst = np.fmax(np.abs(grid.flows_mw), np.nanmax(np.abs(grid.post_flows_mw), axis=0))
    rate = worst * rng.uniform(1.05, 1.6, worst.size) + 2.0
    for element, code in (("line", 0), ("trafo", 1)):
        at = grid.cn.br_kind == code
        if at.any():
            net[element].loc[grid.cn.br_id[at], "rate_mva"] = rate[at]
    net.invalidate()
    return net


def _link(lid, f, t, p, rating, loss_percent=0.0):
    return {
        "id": lid,
        "from_bus": f,
        "to_bus": t,
        "p_mw": p,
        "max_p_mw": rating,
        "loss_percent": loss_percent,
        "loss_mw": 0.0,
    }


def single_island(case: str, seed: int, links=()) -> gridsim.Network:
    """``case`` in two zones (A: the first half of the buses), two lines of two circuits,
    random ratings and the given internal HVDC links."""
    rng = np.random.default_rng(seed)
    tables = _tables(case)
    bus = tables["bus"]
    bus.loc[bus.index[len(bus) // 2 :], "zone"] = "B"
    line = tables["line"]
    for lid in rng.choice(line.index, 2, replace=False):
        line.loc[lid, "parallel"] = 2.0
    tables["hvdc"] = pd.DataFrame(list(links)).set_index("id") if links else pd.DataFrame()
    return _rated(tables, rng)


def two_islands(seed: int, ratings=(40.0, 60.0, 80.0), source_margin=1.0) -> gridsim.Network:
    """Two case14 islands (zones A and B, each with its ext_grid) joined by HVDC links
    from A to B at 0 MW; island A's ratings times ``source_margin``."""
    rng = np.random.default_rng(seed)
    a, b = _tables("case14", 0, "A"), _tables("case14", 100, "B")
    tables = {k: pd.concat([a[k], b[k]]) for k in a}
    ends = [(3, 104), (8, 112), (12, 109)]
    tables["hvdc"] = pd.DataFrame(
        [
            _link(f"H{i}", f, t, 0.0, r)
            for i, ((f, t), r) in enumerate(zip(ends, ratings, strict=True))
        ]
    ).set_index("id")
    net = _rated(tables, rng)
    for element in ("line", "trafo"):
        table = net[element]
        table.loc[table.index < 100, "rate_mva"] *= source_margin
    net.invalidate()
    return net


# -- the reference: DC re-solves --------------------------------------------------------
def _apply(net: gridsim.Network, lp: _Lp, x: np.ndarray) -> gridsim.Network:
    """A copy of ``net`` with ``u = x`` applied by hand."""
    out = net.copy()
    gen = out.gen
    if lp.source is not None:
        gen.loc[lp.source.index, "p_mw"] += x[0] * lp.source.to_numpy()
    if lp.sink is not None:
        out.load.loc[lp.sink.index, "p_mw"] += x[0] * lp.sink.to_numpy()
    for j, lid in enumerate(lp.links):
        out.hvdc.loc[lid, "p_mw"] += x[1 + j]
    r = x[1 + lp.m : 1 + lp.m + lp.n] - x[1 + lp.m + lp.n :]
    gen.loc[lp.redispatch.index, "p_mw"] += r
    out.invalidate()
    return out


def _reference(net: gridsim.Network, outage: Outage | None) -> pd.Series:
    """DC flows after ``outage``: each island's slack deviation from its pre-outage
    output shared among the island's energised non-slack units by ``max_p_mw``."""
    return _reference_net(net, outage)[1]


def _reference_net(net: gridsim.Network, outage: Outage | None, pre: pd.Series | None = None):
    """``(network after the outage and the response, its DC branch flows)``; ``pre``:
    the slacks' outputs before the outage, if known."""
    if outage is None:
        return net, gridsim.run_dc(net).branch.p_from_mw
    if pre is None:
        pre = gridsim.run_dc(net).ext_grid.p_mw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the part cut off is de-energised
        post_net = apply_outage(net, outage)
        post = gridsim.run_dc(post_net)
    deviation = post.ext_grid.p_mw - pre.reindex(post.ext_grid.index)
    if np.abs(deviation).max() < 1e-9:  # a branch outage that cuts nothing off
        return post_net, post.branch.p_from_mw
    cn = post_net.compile()
    gen = post_net.gen
    pos = cn.bus_ids.get_indexer(gen.bus)
    island = np.where(pos >= 0, cn.island[np.maximum(pos, 0)], -1)
    units = (gen.in_service & ~gen.slack).to_numpy() & (island >= 0)
    for eid, d in deviation.items():
        mine = units & (island == cn.island[cn.bus_ids.get_loc(post_net.ext_grid.bus[eid])])
        w = gen.max_p_mw[mine]
        gen.loc[w.index, "p_mw"] += d * w / w.sum()
    post_net.invalidate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return post_net, gridsim.run_dc(post_net).branch.p_from_mw


def _labels(grid: LinearisedGrid) -> list[tuple]:
    return [grid.branch_label(k) for k in range(grid.cn.n_branch)]


def _lp(grid, *, source=None, sink=None, links=(), redispatch=None, transfer=False):
    return _Lp(
        grid,
        source=source,
        sink=sink,
        sink_element="load",
        hvdc=list(links),
        redispatch=_unit_ids(grid.network, redispatch),
        interfaces=[],
        max_mw=None,
        transfer=transfer,
    )


def _shares(net: gridsim.Network, source_zone: str, sink_zone: str):
    bus_zone = net.bus.zone
    gen = net.gen[~net.gen.slack & (bus_zone.reindex(net.gen.bus).to_numpy() == source_zone)]
    head = gen.max_p_mw - gen.p_mw
    load = net.load[bus_zone.reindex(net.load.bus).to_numpy() == sink_zone]
    return head / head.sum(), load.p_mw / load.p_mw.sum()


def _linear_model(net, lp, outages, x0_steps):
    """Exact linear model of every outage (None: the base case) from DC re-solves:
    flows at ``u = 0`` and the change per unit of each variable (columns of
    ``x0_steps``)."""
    labels = None
    base, slope = [], []
    moved = [(m, gridsim.run_dc(m).ext_grid.p_mw) for m in [_apply(net, lp, s) for s in x0_steps]]
    pre0 = gridsim.run_dc(net).ext_grid.p_mw
    for outage in outages:
        f0 = _reference_net(net, outage, pre0)[1]
        labels = f0.index if labels is None else labels
        f0 = f0.reindex(labels).to_numpy()
        cols = [
            _reference_net(m, outage, pre)[1].reindex(labels).to_numpy() - f0 for m, pre in moved
        ]
        base.append(f0)
        slope.append(np.stack(cols, axis=1))
    return labels, np.array(base), np.array(slope)


# -- (1) rows equal DC re-solves --------------------------------------------------------
@pytest.mark.parametrize(("case", "seed"), [("case14", 1), ("case30", 2)])
def test_linearised_rows_equal_dc_resolves(case, seed):
    """Post-outage rows of every outage kind (one and all circuits of a multi-circuit
    line, every other branch (bridges island buses), HVDC trips, unit trips), at u = 0
    and at a random dispatch, equal DC re-solves with the outage applied."""
    rng = np.random.default_rng(seed)
    base = single_island(case, seed)
    buses = base.bus.index
    links = [
        _link("HA", buses[1], buses[-2], 30.0, 100.0, 1.5),
        _link("HB", buses[4], buses[-4], -20.0, 100.0, 2.0),
    ]
    net = single_island(case, seed, links)
    outages = ordinary_contingencies(net) + [o for o in _exceptional(net) if o.element == "line"]
    assert {o.kind for o in outages} >= {"line_circuit", "line", "hvdc", "gen"}
    grid = LinearisedGrid(net, gridsim.run_dc(net), outages=outages)
    assert len(grid.outages) < len(outages)  # identical circuits share their rows
    src, snk = _shares(net, "A", "B")
    lp = _lp(grid, source=src, sink=snk, links=["HA", "HB"], redispatch=["A", "B"], transfer=True)
    x = np.zeros(lp.nv)
    x[0] = 7.0
    x[1 : 1 + lp.m] = [5.0, -8.0]  # the links keep their direction
    x[1 + lp.m :] = rng.uniform(0.0, 3.0, 2 * lp.n)
    labels = _labels(grid)
    for point in (np.zeros(lp.nv), x):
        post = lp.post_flows(point)
        moved = _apply(net, lp, point)
        pre = gridsim.run_dc(moved).ext_grid.p_mw
        ref = _reference(moved, None).reindex(labels).to_numpy()
        intact = np.full(len(labels), -1)
        n0 = grid.flows_mw + lp.flows(point, np.arange(len(labels)), intact)
        np.testing.assert_allclose(n0, ref, rtol=0, atol=TOL_MW)
        for o, outage in enumerate(grid.outages):
            ref = _reference_net(moved, outage, pre)[1].reindex(labels).to_numpy()
            alive = grid.alive[o]
            err = np.abs(post[o, alive] - ref[alive])
            assert err.max() <= TOL_MW, f"{case} {outage.label}: {err.max():.3g} MW"
            assert np.isnan(post[o, ~alive]).all()
    assert grid.islanding.any()  # some outages cut buses off (bridges)
    # the LP's rows are these flows: coefficients times x plus constants
    rows = np.arange(lp.n_cand)
    np.testing.assert_allclose(lp.const + lp.coefs(rows) @ x, lp.activity(x), rtol=0, atol=1e-9)


def _exceptional(net):
    from gridsim.analysis.outages import exceptional_contingencies

    return exceptional_contingencies(net)


def _limits(net: gridsim.Network, outage: Outage | None, labels, emergency=1.0):
    """Branch ratings (MVA) after ``outage`` in ``labels`` order, from the network the
    reference solves (NaN: unrated or not energised)."""
    post_net, flows = _reference_net(net, outage)
    rates = pd.concat(
        {e: post_net[e].rate_mva for e in ("line", "trafo") if len(post_net[e])}
    ).reindex(labels)
    scale = 1.0 if outage is None else emergency
    out = rates.to_numpy(dtype=float) * scale
    return np.where(np.isfinite(flows.reindex(labels).to_numpy()), out, np.nan)


# -- (2) optimality against a brute-force grid over the HVDC splits ----------------------
@pytest.mark.parametrize("seed", [1, 7])
def test_max_transfer_beats_every_hvdc_split(seed):
    """Two case14 islands joined by three links: max_transfer's t is at least the best
    of every split of t over the links in 5 % steps, each checked with the linear model
    built from DC re-solves (N-0 and every ordinary outage), and its own solution holds
    every limit of that model."""
    net = two_islands(seed, source_margin=3.0)  # the limits in the sink's island
    grid = LinearisedGrid(net, gridsim.run_dc(net))
    result = max_transfer(grid, "A", "B")
    assert result.status == "optimal", result.message
    t_lp = result.transfer_mw
    assert t_lp > 1.0
    lp = _lp(
        grid,
        source=result.source_shares,
        sink=result.sink_shares,
        links=["H0", "H1", "H2"],
        transfer=True,
    )
    steps = np.eye(lp.nv)  # t, then the links
    outages = [None, *grid.outages]
    labels, base, slope = _linear_model(net, lp, outages, steps)
    limits = np.array([_limits(net, o, labels) for o in outages])
    hv = net.hvdc.loc[["H0", "H1", "H2"]]
    src = result.source_shares
    gen_room = (net.gen.max_p_mw.loc[src.index] - net.gen.p_mw.loc[src.index]) / src

    def largest_t(shares):
        """The largest t with the links at ``shares`` of it, in the reference model."""
        direction = slope[:, :, 0] + slope[:, :, 1:] @ shares  # flow per MW of t
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(direction > 0, limits - base, -limits - base) / direction
        room = room[np.isfinite(room) & (np.abs(direction) > 1e-12)]
        link_room = np.where(
            shares > 0, hv.max_p_mw.to_numpy() / np.maximum(shares, 1e-300), np.inf
        )
        return min(room.min(), link_room.min(), gen_room[src > 0].min())

    grid_steps = np.arange(0, 21) / 20
    best = max(
        largest_t(np.array([a, b, 1 - a - b]))
        for a, b in itertools.product(grid_steps, grid_steps)
        if a + b <= 1 + 1e-12
    )
    single = max(largest_t(np.eye(3)[j]) for j in range(3))
    assert t_lp >= best - TOL_MW, (t_lp, best)
    assert best > single + 1.0  # the split matters: no single link does as well
    assert best >= 0.95 * t_lp  # the grid comes within its resolution
    # the LP's own dispatch holds every limit of the reference model
    x = np.concatenate([[t_lp], result.hvdc.change_mw.to_numpy()])
    flows = base + slope @ x
    with np.errstate(invalid="ignore"):
        excess = np.nanmax(np.abs(flows) - limits)
    assert excess <= TOL_MW
    assert np.all(np.abs(result.hvdc.p_mw) <= hv.max_p_mw.to_numpy() + TOL_MW)
    assert result.hvdc.change_mw.sum() == pytest.approx(t_lp, abs=TOL_MW)


# -- (3) shadow prices --------------------------------------------------------------------
def _price_cases():
    """(network, source, sink) pairs: two islands joined by links, and case30 A -> B."""
    for seed in (1, 2, 5, 7):
        yield two_islands(seed, source_margin=3.0), "A", "B"
    for seed in (11, 12, 13):
        yield single_island("case30", seed), "A", "B"


def _solve(net, source, sink, **kwargs):
    grid_kwargs = {k: kwargs.pop(k) for k in ("emergency_rating_percent",) if k in kwargs}
    grid = LinearisedGrid(net, gridsim.run_dc(net), **grid_kwargs)
    return max_transfer(grid, source, sink, **kwargs)


def _priced(result) -> set:
    """The rows and bounds with a non-zero price: the optimal basis, in effect."""
    b = result.binding
    b = b[np.abs(b.shadow_price) > 1e-9]
    return set(map(tuple, b[["kind", "element", "id", "contingency"]].astype(str).to_numpy()))


def test_shadow_price_is_the_gain_per_mw_of_rating():
    """Raising the most valuable element's rating by 1 % raises t by its price times the
    rating change (within 1e-6 relative) wherever the optimal basis stays the same."""
    checked = 0
    for net, source, sink in _price_cases():
        result = _solve(net, source, sink)
        assert result.status == "optimal", result.message
        prices = result.rating_prices()
        assert (prices >= -1e-12).all()  # relaxing a limit never costs transfer
        if prices.empty or prices.max() <= 1e-9:
            continue
        (element, eid), price = prices.idxmax(), prices.max()
        raised = net.copy()
        delta = 0.01 * raised[element].rate_mva[eid]
        raised[element].loc[eid, "rate_mva"] += delta
        raised.invalidate()
        again = _solve(raised, source, sink)
        gain = again.transfer_mw - result.transfer_mw
        assert gain >= -TOL_MW
        if _priced(again) != _priced(result):
            continue  # the basis changed: the price holds only up to that point
        assert gain == pytest.approx(price * delta, rel=1e-6, abs=1e-9), (element, eid)
        checked += 1
    assert checked >= 3


# -- (4) monotonicity -----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_more_capacity_never_lowers_the_transfer(seed):
    """Raising a rating or the emergency rating, adding a link or raising its rating, or
    relaxing an interface never lowers t."""
    rng = np.random.default_rng(seed)
    net = two_islands(seed)
    t0 = _solve(net, "A", "B").transfer_mw
    assert t0 > 0
    # a rating
    for _ in range(3):
        raised = net.copy()
        element = rng.choice(["line", "trafo"])
        eid = rng.choice(raised[element].index)
        raised[element].loc[eid, "rate_mva"] *= rng.uniform(1.05, 2.0)
        raised.invalidate()
        assert _solve(raised, "A", "B").transfer_mw >= t0 - TOL_MW
    assert _solve(net, "A", "B", emergency_rating_percent=120.0).transfer_mw >= t0 - TOL_MW
    # a link's rating, a new link (at 0 MW: the operating point does not change)
    raised = net.copy()
    raised.hvdc.loc["H1", "max_p_mw"] *= 1.5
    raised.invalidate()
    assert _solve(raised, "A", "B").transfer_mw >= t0 - TOL_MW
    tables = {k: v for k, v in net.tables.items() if len(v)}
    new = tables["hvdc"].loc[["H0"]].rename(index={"H0": "H3"})
    new[["from_bus", "to_bus", "max_p_mw"]] = [10, 113, 50.0]
    tables["hvdc"] = pd.concat([tables["hvdc"], new])
    more = gridsim.Network(tables)
    t_more = _solve(more, "A", "B").transfer_mw
    assert t_more >= t0 - TOL_MW
    # an interface over two links and a line, relaxed step by step
    face = {"id": "AB", "members": [("hvdc", "H0", 1), ("hvdc", "H2", 1)], "kind": "published"}
    last = 0.0
    for limit in (5.0, 20.0, 40.0, 1e4):
        t = _solve(net, "A", "B", interfaces=[{**face, "limit_mw": limit}]).transfer_mw
        assert t >= last - TOL_MW
        last = t
    assert last == pytest.approx(t0, abs=TOL_MW)


# -- (5) the secured base case --------------------------------------------------------------
def _insecure(seed: int) -> tuple[gridsim.Network, tuple]:
    """case30 with an internal link, the rating of its most loaded line cut to 85 % of
    the DC flow."""
    base = single_island("case30", seed)
    buses = base.bus.index
    net = single_island("case30", seed, [_link("HA", buses[3], buses[-3], 10.0, 40.0)])
    flows = gridsim.run_dc(net).branch.p_from_mw.loc["line"]
    eid = flows.abs().idxmax()
    net.line.loc[eid, "rate_mva"] = 0.85 * abs(flows[eid])
    net.invalidate()
    return net, ("line", eid)


@pytest.mark.parametrize("seed", [21, 22])
@pytest.mark.parametrize(("link_cost", "margin"), [(0.0, 0.0), (0.02, 0.0), (1.0, 0.0), (1.0, 2.0)])
def test_secure_base_case_is_the_least_redispatch(seed, link_cost, margin):
    """The redispatch that secures an insecure case is the least-cost one: the same
    objective as an LP (scipy's linprog) over the linear model built from DC re-solves,
    with the link's setpoint change priced at ``link_cost`` per MW and every thermal
    limit at ``100 - margin`` % of itself, and it holds every limit of that model."""
    net, cut = _insecure(seed)
    grid = LinearisedGrid(net, gridsim.run_dc(net))
    result = secure_base_case(grid, hvdc_cost=link_cost, margin_percent=margin)
    # reference: variables [h+, h-, r+_1..r+_n, r-_1..r-_n], min c (h+ + h-) + sum |r|
    units = net.gen.index[~net.gen.slack]
    lp = _lp(grid, links=["HA"], redispatch=sorted(set(net.bus.zone)))
    assert list(lp.redispatch.index) == list(units)
    n = units.size
    steps = np.zeros((1 + n, lp.nv))
    steps[0, 1] = 1.0  # the link
    steps[1:, 2 : 2 + n] = np.eye(n)  # each unit up (r+)
    outages = [None, *grid.outages]
    labels, base, slope = _linear_model(net, lp, outages, steps)
    limits = (1.0 - margin / 100.0) * np.array([_limits(net, o, labels) for o in outages])
    rows = np.isfinite(limits) & np.isfinite(base)
    coef = slope[rows]  # (rows, 1 + n): per MW of h and of each unit
    full = np.hstack([coef[:, :1], -coef[:, :1], coef[:, 1:], -coef[:, 1:]])
    a_ub = np.vstack([full, -full])
    b_ub = np.concatenate([limits[rows] - base[rows], limits[rows] + base[rows]])
    p0, pmax = net.gen.p_mw[units].to_numpy(), net.gen.max_p_mw[units].to_numpy()
    up, down = np.maximum(pmax, p0) - p0, p0 - np.minimum(0.0, p0)
    rating, hp = net.hvdc.max_p_mw["HA"], net.hvdc.p_mw["HA"]
    bounds = [(0, max(rating - hp, 0.0)), (0, max(rating + hp, 0.0))]
    bounds += [(0, u) for u in up] + [(0, d) for d in down]
    cost = np.concatenate([[link_cost, link_cost], np.ones(2 * n)])
    a_eq = np.concatenate([[0.0, 0.0], np.ones(n), -np.ones(n)])[None, :]  # balance
    ref = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[0.0], bounds=bounds, method="highs")
    if margin and ref.status == 2:  # a row no control moves is within the margin
        assert result.status == "cannot be secured", result.message
        return
    assert ref.status == 0
    assert result.status == "optimal", result.message
    assert not result.violations_before.empty
    assert (cut[0], cut[1], "n-0") in set(
        zip(
            result.violations_before.element,
            result.violations_before.id,
            result.violations_before.kind,
            strict=True,
        )
    )
    h = result.hvdc.change_mw["HA"]
    assert result.objective == pytest.approx(ref.fun, abs=TOL_MW)
    assert result.redispatch_total_mw + link_cost * abs(h) == pytest.approx(ref.fun, abs=TOL_MW)
    # the LP's redispatch holds every limit of the reference model
    x = np.concatenate([[h], result.redispatch_mw[units].to_numpy()])
    excess = np.abs(base[rows] + coef @ x) - limits[rows]
    assert excess.max() <= TOL_MW
    assert result.redispatch_mw.sum() == pytest.approx(0.0, abs=TOL_MW)
    zone = result.redispatch_zone
    assert zone.net_mw.sum() == pytest.approx(0.0, abs=TOL_MW)
    assert (zone.up_mw + zone.down_mw).sum() == pytest.approx(
        result.redispatch_total_mw, abs=TOL_MW
    )


def test_a_case_no_redispatch_can_secure_says_so():
    """With one redispatchable unit (the island's balance holds it) and no link, the
    overloaded line stays overloaded: "cannot be secured", naming it, by its excess."""
    net, (element, eid) = _insecure(21)
    grid = LinearisedGrid(net, gridsim.run_dc(net))
    unit = net.gen.index[~net.gen.slack][0]
    result = secure_base_case(grid, redispatch={unit: 1.0}, hvdc=[])
    assert result.status == "cannot be secured"
    assert not result.secured
    assert "cannot be secured" in result.message
    row = result.residual[(result.residual.kind == "n-0") & (result.residual.id == eid)].iloc[0]
    flow = gridsim.run_dc(net).branch.p_from_mw[(element, eid)]
    assert row.excess_mw == pytest.approx(abs(flow) - net.line.rate_mva[eid], abs=TOL_MW)
    assert result.redispatch_total_mw == pytest.approx(0.0, abs=TOL_MW)
    # max_transfer on it: the transfer capability is not defined
    again = max_transfer(grid, "A", "B")
    assert again.status == "cannot be secured"
    assert again.message.startswith("transfer capability not defined")


# -- the AC operating point, applying a solution, the HiGHS banner --------------------------
def test_rows_are_exact_at_the_ac_operating_point():
    """At u = 0 every row is the AC loading check: |P| + offset = max(|S_from|, |S_to|),
    in the base case and, where AC post-contingency states are given, after them."""
    from gridsim.analysis.outages import solve_outage

    net = single_island("case14", 5)
    res = gridsim.run_ac(net)
    outages = [o for o in ordinary_contingencies(net) if o.element in ("line", "gen")][:4]
    post = [solve_outage(net, o, base=res) for o in outages]
    grid = LinearisedGrid(net, res, outages=outages, post_results=post)
    s_max = res.branch[["p_from_mw", "q_from_mvar", "p_to_mw", "q_to_mvar"]]
    mva = np.maximum(
        np.hypot(s_max.p_from_mw, s_max.q_from_mvar), np.hypot(s_max.p_to_mw, s_max.q_to_mvar)
    )
    np.testing.assert_allclose(np.abs(grid.flows_mw) + grid.offset_mw, mva.to_numpy(), atol=1e-9)
    for o, r in zip(grid.outages, post, strict=True):
        b = r.power_flow.branch
        s = np.maximum(np.hypot(b.p_from_mw, b.q_from_mvar), np.hypot(b.p_to_mw, b.q_to_mvar))
        row = grid.outages.index(o)
        alive = grid.alive[row]
        got = np.abs(grid.post_flows_mw[row]) + grid.post_offset_mw[row]
        np.testing.assert_allclose(got[alive], s.to_numpy()[alive], atol=1e-9)


def test_apply_gives_the_dispatch_the_lp_planned():
    """The network from ScopfResult.apply solved in DC has the LP's flows (the HVDC links
    are lossless here, so the linear model is exact)."""
    net = two_islands(1, source_margin=3.0)
    grid = LinearisedGrid(net, gridsim.run_dc(net))
    result = max_transfer(grid, "A", "B", redispatch=["A"])
    assert result.status == "optimal"
    lp = _lp(
        grid,
        source=result.source_shares,
        sink=result.sink_shares,
        links=["H0", "H1", "H2"],
        redispatch=["A"],
        transfer=True,
    )
    x = np.concatenate(
        [
            [result.transfer_mw],
            result.hvdc.change_mw,
            np.maximum(result.redispatch_mw, 0),
            np.maximum(-result.redispatch_mw, 0),
        ]
    )
    planned = grid.flows_mw + lp.flows(
        x, np.arange(grid.cn.n_branch), np.full(grid.cn.n_branch, -1)
    )
    moved = result.apply(net)
    got = gridsim.run_dc(moved).branch.p_from_mw.reindex(_labels(grid))
    np.testing.assert_allclose(got.to_numpy(), planned, rtol=0, atol=TOL_MW)
    # a successive-LP step re-linearised there (exact in DC) finds nothing more to move
    again = LinearisedGrid(moved, gridsim.run_dc(moved))
    step = max_transfer(
        again,
        result.source_shares,
        result.sink_shares,
        redispatch=["A"],
        min_mw=-result.transfer_mw,
    )
    assert step.status == "optimal"
    assert step.transfer_mw == pytest.approx(0.0, abs=TOL_MW)

    # an interface over a line and a link, held at half its flow at that optimum
    def interface_mw(res):
        flows = gridsim.run_dc(res.apply(net)).branch.p_from_mw
        return flows[("line", 102)] - res.hvdc.p_mw["H1"]

    members = [{"element": "line", "id": 102}, ("hvdc", "H1", -1)]
    limit = 0.5 * interface_mw(result)
    assert limit > 1.0
    face = {"id": "B-gate", "members": members, "limit_mw": limit, "kind": "published"}
    held = max_transfer(grid, "A", "B", redispatch=["A"], interfaces=[face])
    assert held.status == "optimal"
    assert held.transfer_mw <= result.transfer_mw + TOL_MW
    assert interface_mw(held) <= limit + TOL_MW
    row = held.binding[held.binding.kind == "interface"].iloc[0]
    assert (row.id, row.limit_mw) == ("B-gate", limit)
    assert row.flow_mw == pytest.approx(limit, abs=TOL_MW)
    assert row.shadow_price >= 0


def test_highs_prints_nothing():
    """Solving writes nothing to stdout (HiGHS's banner included): the CLI's JSON stays
    clean."""
    code = (
        "import gridsim\n"
        "from gridsim.analysis.scopf import LinearisedGrid, secure_base_case\n"
        "net = gridsim.load_network('networks/examples/two_area_hvdc.yaml')\n"
        "r = secure_base_case(LinearisedGrid(net, gridsim.run_ac(net)))\n"
        "assert r.status == 'optimal', r.message\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout == ""


# -- (6) zone-balanced and bounded base-case redispatch -----------------------------------
ZONE_TRIANGLE = """\
gridsim: 1
name: zone-triangle
sn_mva: 100
bus:
  - {id: 1, vn_kv: 400, zone: A}
  - {id: 2, vn_kv: 400, zone: A}
  - {id: 3, vn_kv: 400, zone: A}
  - {id: 4, vn_kv: 400, zone: B}
  - {id: 5, vn_kv: 400, zone: B}
line:
  - {id: 12, from_bus: 1, to_bus: 2, length_km: 50, r_ohm_per_km: 0.01, x_ohm_per_km: 0.3,
     b_us_per_km: 0, rate_mva: %(rate)s}
  - {id: 23, from_bus: 2, to_bus: 3, length_km: 50, r_ohm_per_km: 0.01, x_ohm_per_km: 0.3,
     b_us_per_km: 0, rate_mva: 1000}
  - {id: 13, from_bus: 1, to_bus: 3, length_km: 50, r_ohm_per_km: 0.01, x_ohm_per_km: 0.3,
     b_us_per_km: 0, rate_mva: 1000}
  - {id: 24, from_bus: 2, to_bus: 4, length_km: 50, r_ohm_per_km: 0.01, x_ohm_per_km: 0.3,
     b_us_per_km: 0, rate_mva: 1000}
  - {id: 45, from_bus: 4, to_bus: 5, length_km: 50, r_ohm_per_km: 0.01, x_ohm_per_km: 0.3,
     b_us_per_km: 0, rate_mva: 1000}
ext_grid:
  - {id: 1, bus: 4, vm_pu: 1.0}
gen:
  - {id: G1, bus: 1, p_mw: 100, vm_pu: 1.0, max_p_mw: 200}
  - {id: G2, bus: 3, p_mw: 50, vm_pu: 1.0, max_p_mw: 200}
  - {id: G3, bus: 5, p_mw: 50, vm_pu: 1.0, max_p_mw: 200}
load:
  - {id: L2, bus: 2, p_mw: 100, q_mvar: 0}
  - {id: L4, bus: 4, p_mw: 100, q_mvar: 0}
"""


def zone_triangle(path: Path, rate: float = 220.0 / 3.0) -> gridsim.Network:
    """Zone A: a triangle of equal lines 1-2-3 (G1 100 MW at 1, G2 50 MW at 3, 100 MW of
    load at 2); zone B behind bus 2 (the slack at 4 with 100 MW of load, G3 50 MW at 5).
    DC flows: line 1-2 carries 2/3 of G1 and 1/3 of G2, 83.33 MW; rated ``rate``
    (73.33 MVA: 10 MW over)."""
    path.write_text(ZONE_TRIANGLE % {"rate": repr(rate)})
    return gridsim.load_network(path)


def test_zone_balance_moves_mw_inside_the_zone(tmp_path):
    """Hand calculation: 1 MW from G1 to zone B relieves line 1-2 by 2/3 MW, from G1 to
    G2 (inside zone A) by 1/3 MW. The 10 MW excess costs 15 + 15 MW across the border
    with the area balanced, 30 + 30 MW inside zone A with the zones balanced (zone B's
    net position, and so the tie flow, kept)."""
    net = zone_triangle(tmp_path / "net.yaml")
    dc = gridsim.run_dc(net)
    assert dc.branch.p_from_mw[("line", 12)] == pytest.approx(250.0 / 3.0, abs=TOL_MW)
    grid = LinearisedGrid(net, dc, outages=[])
    area = secure_base_case(grid)
    assert area.secured
    assert area.redispatch_mw.to_dict() == pytest.approx({"G1": -15, "G2": 0, "G3": 15}, abs=1e-6)
    zone = secure_base_case(grid, redispatch_balance="zone")
    assert zone.secured
    assert zone.redispatch_mw.to_dict() == pytest.approx({"G1": -30, "G2": 30, "G3": 0}, abs=1e-6)
    assert zone.redispatch_zone.net_mw.to_numpy() == pytest.approx([0.0, 0.0], abs=1e-9)
    tie = gridsim.run_dc(zone.apply(net)).branch.p_from_mw[("line", 24)]
    assert tie == pytest.approx(dc.branch.p_from_mw[("line", 24)], abs=TOL_MW)


def test_margin_holds_thermal_rows_below_their_limits(tmp_path):
    """Hand calculation: with a 10 % margin line 1-2 is held at 66 MW (90 % of 73.33 MVA),
    16.67 + 0.67 = 17.33 MW below its flow: 26 MW each way across the border (2/3 MW of
    relief per MW). Margins outside [0, 100) are refused."""
    net = zone_triangle(tmp_path / "net.yaml")
    grid = LinearisedGrid(net, gridsim.run_dc(net), outages=[])
    held = secure_base_case(grid, margin_percent=10.0)
    assert held.secured
    assert held.redispatch_mw.to_dict() == pytest.approx({"G1": -26, "G2": 0, "G3": 26}, abs=1e-6)
    flow = gridsim.run_dc(held.apply(net)).branch.p_from_mw[("line", 12)]
    assert flow == pytest.approx(0.9 * 220.0 / 3.0, abs=TOL_MW)
    for bad in (-1.0, 100.0):
        with pytest.raises(ScopfError, match="margin_percent"):
            secure_base_case(grid, margin_percent=bad)


def test_zone_balance_keeps_net_positions_with_a_link_between_zones(tmp_path):
    """A link from bus 3 (zone A) to bus 5 (zone B): moving it 30 MW relieves line 1-2
    by 10 MW at no redispatch, with the area balanced; with the zones balanced its move
    must be matched in both zones, and the least redispatch is 60 MW again (hand
    calculation: the relief is r_G1 / 3 whatever the link does), with each zone's net
    position (the tie line and the link) kept. Priced at 1 per MW (the default), the
    link's 30 MW cost as much as the cheapest redispatch for the same relief (G1 down
    and G3 up 15 MW each, 2/3 MW of relief per MW moved): a cost of 30 either way."""
    tables = dict(zone_triangle(tmp_path / "net.yaml").tables)
    tables["hvdc"] = pd.DataFrame([_link("HAB", 3, 5, 0.0, 100.0)]).set_index("id")
    net = gridsim.Network(tables)
    dc = gridsim.run_dc(net)
    grid = LinearisedGrid(net, dc, outages=[])
    area = secure_base_case(grid, hvdc_cost=0.0)
    assert area.secured and area.redispatch_total_mw == pytest.approx(0.0, abs=1e-6)
    assert area.hvdc.change_mw["HAB"] >= 30.0 - 1e-6  # free: any move of 30 MW or more
    priced = secure_base_case(grid)
    assert priced.secured and priced.objective == pytest.approx(30.0, abs=1e-6)
    moved = priced.redispatch_total_mw + abs(priced.hvdc.change_mw["HAB"])
    assert moved == pytest.approx(30.0, abs=1e-6)
    zone = secure_base_case(grid, redispatch_balance="zone")
    assert zone.secured and zone.redispatch_total_mw == pytest.approx(60.0, abs=1e-6)
    after = zone.apply(net)
    flows = gridsim.run_dc(after).branch.p_from_mw
    export = flows[("line", 24)] + after.hvdc.p_mw["HAB"]
    assert export == pytest.approx(dc.branch.p_from_mw[("line", 24)], abs=1e-6)


@pytest.mark.parametrize(
    ("balance", "limit", "done", "excess"),
    [
        # zone balance needs 60 MW in A: a bound of 60 holds, 58.5 leaves
        # 10 - 58.5 / 2 / 3 = 0.25 MW over
        ("zone", {"A": 60.0}, None, 0.0),
        ("zone", {"A": 58.5}, None, 0.25),
        # area balance: 15 MW in each zone; B bounded at 14: G1 -14.5, G3 +14, G2 +0.5
        # (PTDFs on line 1-2 to the slack: 2/3, 0, 1/3) relieve 14.5 * 2/3 - 0.5 / 3 =
        # 9.5 MW: 0.5 over
        ("island", {"A": 15.0, "B": 15.0}, None, 0.0),
        ("island", {"A": 15.0, "B": 14.0}, None, 0.5),
        # moves made before (an earlier round) count: G1 -10 / G2 +10 leave 6.67 MW over,
        # 20 + 20 MW more, 60 MW in all; G1 +10 / G2 -10 leave 13.33 MW over, 40 + 40 MW
        # more, but only 30 + 30 away from the first dispatch: 60 MW in all again
        ("zone", {"A": 60.0}, {"G1": -10.0, "G2": 10.0}, 0.0),
        ("zone", {"A": 58.5}, {"G1": -10.0, "G2": 10.0}, 0.25),
        ("zone", {"A": 60.0}, {"G1": 10.0, "G2": -10.0}, 0.0),
        ("zone", {"A": 58.5}, {"G1": 10.0, "G2": -10.0}, 0.25),
    ],
)
def test_redispatch_bound_per_zone(tmp_path, balance, limit, done, excess):
    """The per-zone bound on sum |move| (moves made before included) against a hand
    calculation: where it holds the least redispatch is kept, where it does not the
    result says so and the residual is the least excess within the bound."""
    net = zone_triangle(tmp_path / "net.yaml")
    if done is not None:
        for gid, move in done.items():
            net.gen.loc[gid, "p_mw"] += move
        net.invalidate()
    grid = LinearisedGrid(net, gridsim.run_dc(net), outages=[])
    result = secure_base_case(
        grid,
        redispatch_balance=balance,
        redispatch_limit_mw=limit,
        redispatched_mw=None if done is None else pd.Series(done),
    )
    moved = result.redispatch_mw.add(pd.Series(done or {}, dtype=float), fill_value=0.0)
    zone = net.bus.zone.reindex(net.gen.bus.reindex(moved.index)).to_numpy()
    used = moved.abs().groupby(zone).sum()
    for z, bound in limit.items():
        assert used.get(z, 0.0) <= bound + 1e-6
    if excess == 0.0:
        assert result.secured, result.message
        assert result.residual.empty
    else:
        assert result.status == "cannot be secured"
        assert "within the zones' redispatch bounds" in result.message
        assert result.residual.excess_mw.sum() == pytest.approx(excess, abs=1e-6)
        assert list(result.residual.id) == [12]


def test_a_row_over_its_limit_within_thermal_tol_is_held_at_its_flow():
    """A transfer's most loaded branch rated 0.3 % below its flow at u = 0: the LP at its
    limit is infeasible ("cannot be secured"); with ``thermal_tol=0.005`` (the AC check's
    tolerance) the row is held at its flow: t = 0 with that row binding, priced at 1 /
    (its flow per MW of transfer)."""
    net = single_island("case14", 0)
    dc = gridsim.run_dc(net)
    grid = LinearisedGrid(net, dc, outages=[])
    free = max_transfer(grid, "A", "B")
    after = gridsim.run_dc(free.apply(net)).branch.p_from_mw
    before = dc.branch.p_from_mw
    growth = (after.abs() - before.abs()).where(before.abs() > 5.0)
    element, eid = growth.idxmax()
    assert growth.max() > 5.0
    tight = net.copy()
    tight[element].loc[eid, "rate_mva"] = abs(before[(element, eid)]) / 1.003
    tight.invalidate()
    grid = LinearisedGrid(tight, gridsim.run_dc(tight), outages=[])
    assert max_transfer(grid, "A", "B").status == "cannot be secured"
    held = max_transfer(grid, "A", "B", thermal_tol=0.005)
    assert held.status == "optimal" and held.transfer_mw == pytest.approx(0.0, abs=1e-6)
    top = held.binding.iloc[0]
    assert (top.kind, top.element, top.id) == ("n-0", element, eid)
    assert abs(top.limit_mw) == pytest.approx(abs(before[(element, eid)]), rel=1e-9)
    per_mw = growth.max() / free.transfer_mw
    assert top.shadow_price == pytest.approx(1.0 / per_mw, rel=1e-6)
