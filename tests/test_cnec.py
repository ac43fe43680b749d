"""ENTSO-E CNEC selection (gridsim.analysis.cnec) against DC re-solves.

The reference: for every ordered pair of zones, 1 MW is injected over the source zone's
units and withdrawn over the sink zone's (shares by ``max_p_mw``, as extra loads of -/+
that many MW) in the network as given or with the outage applied by
:func:`gridsim.analysis.outages.apply_outage`, and the DC flows are solved again: the
flow change is the zone-to-zone PTDF, with no PTDF or LODF algebra.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridsim
from gridsim.analysis.cnec import select_cnecs
from gridsim.analysis.outages import apply_outage, ordinary_contingencies
from gridsim.model.compile import NONE

sys.path.insert(0, str(Path(__file__).parent))
from test_scopf import single_island  # noqa: E402


def three_zones(case: str, seed: int) -> gridsim.Network:
    """``case`` (two 2-circuit lines, random ratings) in three zones: A, B, C by thirds
    of the bus table."""
    net = single_island(case, seed)
    bus = net.bus
    third = len(bus) // 3
    bus["zone"] = ["A"] * third + ["B"] * third + ["C"] * (len(bus) - 2 * third)
    net.invalidate()
    return net


def _shifted(net: gridsim.Network, source: str, sink: str) -> gridsim.Network | None:
    """``net`` with 1 MW more injected over ``source``'s energised units and 1 MW more
    withdrawn over ``sink``'s (by ``max_p_mw``); None where either has none."""
    cn = net.compile()
    gen = net.gen[net.gen.in_service]
    pos = cn.bus_ids.get_indexer(gen.bus)
    live = (pos >= 0) & (cn.bus_type[np.maximum(pos, 0)] != NONE)
    gen = gen[live]
    zone = net.bus.zone.reindex(gen.bus).to_numpy()
    rows = []
    for z, sign in ((source, -1.0), (sink, 1.0)):
        w = gen.max_p_mw[zone == z]
        if w.sum() <= 0:
            return None
        for gid, share in (w / w.sum()).items():
            rows.append({"bus": gen.bus[gid], "p_mw": sign * share, "q_mvar": 0.0})
    tables = dict(net.tables)
    extra = tables["load"].iloc[[0] * len(rows)].copy()  # the other fields as a load's
    extra.index = pd.Index([f"shift{i}" for i in range(len(rows))])
    for col in ("bus", "p_mw", "q_mvar"):
        extra[col] = [r[col] for r in rows]
    extra["in_service"] = True
    tables["load"] = pd.concat([tables["load"], extra])
    out = gridsim.Network(tables)
    out.unsupplied_islands = net.unsupplied_islands
    return out


def _reference(net: gridsim.Network, outage) -> tuple[pd.Series, int]:
    """Per branch, the largest zone-to-zone PTDF by DC re-solves (NaN: de-energised),
    and how many buses the outage de-energises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = net if outage is None else apply_outage(net, outage)
        base = gridsim.run_dc(post).branch.p_from_mw
        best = pd.Series(0.0, index=base.index)
        for a, b in itertools.permutations(sorted(set(post.bus.zone)), 2):
            shifted = _shifted(post, a, b)
            if shifted is None:
                continue
            change = gridsim.run_dc(shifted).branch.p_from_mw - base
            best = np.fmax(best, change.reindex(best.index))
    dead = int((post.compile().bus_type == NONE).sum())
    return best.where(base.notna()), dead


@pytest.mark.parametrize(("case", "seed"), [("case14", 1), ("case30", 2)])
def test_selection_equals_dc_resolves(case, seed):
    """Every pair's largest zone-to-zone PTDF, intact and after every branch outage (one
    circuit of a 2-circuit line, islanding ones included), equals the re-solves' within
    1e-9; the CNEC flags are that value against the threshold; unit outages keep the
    intact topology's values."""
    net = three_zones(case, seed)
    outages = ordinary_contingencies(net)
    assert any(o.parallel == 2 for o in outages) and any(o.element == "gen" for o in outages)
    sel = select_cnecs(net, outages, threshold=0.05)
    branches = sel.branches
    cn = net.compile()
    islanding = 0
    for row, outage in enumerate([None, *sel.outages]):
        got = sel.n_ptdf if outage is None else sel.post_ptdf[row - 1]
        if outage is not None and outage.element == "gen":
            np.testing.assert_array_equal(got, sel.n_ptdf)
            continue
        ref, dead = _reference(net, outage)
        ref = ref.reindex(branches).to_numpy()
        islanding += dead > 0
        energised = np.isfinite(got)
        if outage is not None and outage.circuits == outage.parallel:
            k = branches.get_loc((outage.element, outage.id))
            assert not energised[k]  # the lost branch is not monitored
        islanding += int(np.isnan(got).sum() > (outage is not None))
        assert np.array_equal(energised, np.isfinite(ref)), outage
        np.testing.assert_allclose(got[energised], ref[energised], atol=1e-9, err_msg=str(outage))
    assert islanding > 0  # case14's bus 8 (a unit) hangs on one transformer; case30 too
    flags = sel.post_cnec
    with np.errstate(invalid="ignore"):
        assert np.array_equal(flags, sel.post_ptdf >= 0.05)
    assert 0 < flags.sum() < np.isfinite(sel.post_ptdf).sum()  # some selected, not all
    cnecs, pairs = sel.counts
    assert cnecs == len(sel.table()) and pairs == len(sel.table(cnec_only=False))
    assert cn.n_branch == branches.size


def test_threshold_zero_selects_every_energised_pair_and_bad_thresholds_are_refused():
    net = three_zones("case14", 1)
    sel = select_cnecs(net, threshold=0.0)
    assert sel.n_cnec.all()
    assert np.array_equal(sel.post_cnec, np.isfinite(sel.post_ptdf))
    for bad in (-0.01, np.nan, np.inf):
        with pytest.raises(gridsim.GridsimError, match="CNEC threshold"):
            select_cnecs(net, threshold=bad)


def test_selection_does_not_depend_on_ratings_dispatch_or_links():
    """Ratings, the dispatch and HVDC links (and their trips) leave the flags as they
    are: the TTC with CNECs only stays monotone in them."""
    net = three_zones("case30", 2)
    sel = select_cnecs(net)
    other = net.copy()
    other.line["rate_mva"] *= 2.0
    other.gen["p_mw"] *= 0.7
    buses = other.bus.index
    tables = dict(other.tables)
    tables["hvdc"] = pd.DataFrame(
        [{"id": "H", "from_bus": buses[2], "to_bus": buses[-2], "p_mw": 30.0, "max_p_mw": 50.0}]
    ).set_index("id")
    other = gridsim.Network(tables)
    again = select_cnecs(other)
    assert any(o.element == "hvdc" for o in again.outages)
    intact, post = again.masks(sel.outages, sel.branches)
    np.testing.assert_array_equal(intact, sel.n_cnec)
    np.testing.assert_array_equal(post, sel.post_cnec)
    hv = [i for i, o in enumerate(again.outages) if o.element == "hvdc"][0]
    np.testing.assert_array_equal(again.post_cnec[hv], sel.n_cnec)
