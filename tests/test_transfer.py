"""Transfer capability: AC-true TTC, the limit it reports, HVDC caps and bad requests."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import pandapower_case

import gridsim
from gridsim.analysis.transfer import TransferError, transfer_capability

MODEL = Path(__file__).resolve().parents[1] / "networks" / "caspian_eu.yaml"


def _case14():
    """case14 with thermal ratings (1.3 x base-case MVA + 10) and 0.94-1.10 p.u. limits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = gridsim.from_pandapower(pandapower_case("case14"))
    res = gridsim.run_ac(net, enforce_q_limits=True)
    s = np.maximum(np.abs(res.branch.p_from_mw + 1j * res.branch.q_from_mvar), 1.0)
    for (element, bid), value in s.items():
        net.set(element, bid, "rate_mva", 1.3 * value + 10.0)
    for b in net.bus.index:
        net.set("bus", b, "max_vm_pu", 1.10)
    return net


def _violations(net, res, source=()):
    """Independent limit check of one AC solution: list of (type, element); generator
    P limits are checked on the source generators only."""
    if not res.converged:
        return [("collapse", None)]
    out = []
    loading = res.branch.loading_percent
    out += [("thermal", (e, i)) for (e, i), v in loading.items() if v > 100.0 + 1e-6]
    bus = res.bus.join(net.bus[["min_vm_pu", "max_vm_pu"]])
    bad = (bus.vm_pu < bus.min_vm_pu - 1e-6) | (bus.vm_pu > bus.max_vm_pu + 1e-6)
    out += [("voltage", ("bus", b)) for b in bus.index[bad]]
    hv = net.hvdc[net.hvdc.in_service]
    out += [("hvdc", ("hvdc", h)) for h in hv.index[hv.p_mw.abs() > hv.max_p_mw + 1e-6]]
    gen = net.gen.loc[list(source)]
    out += [("generation", ("gen", g)) for g in gen.index[gen.p_mw > gen.max_p_mw + 1e-6]]
    return out


def _solve(net):
    return gridsim.run_ac(net, enforce_q_limits=True, max_iter=50)


def _check_ttc(result, *, outages=()):
    """At the TTC no limit is exceeded (base case and outages); just above, the reported
    limiting element exceeds under the reported contingency (or the solve diverges)."""
    net = result.network_at(result.ttc_mw)
    res = _solve(net)
    source = result.source_shares.index
    assert _violations(net, res, source) == []
    for outage in outages:
        r = gridsim.ac_outage(net, outage, init=res, enforce_q_limits=True)
        assert _violations(net, r) == [], outage
    above = result.ttc_mw + max(0.02 * result.ttc_mw, 20.0)
    net2 = result.network_at(above)
    res2 = _solve(net2)
    if result.limiting_contingency is not None:
        res2 = gridsim.ac_outage(
            net2, result.limiting_contingency, init=res2, enforce_q_limits=True
        )
    found = _violations(net2, res2, source)
    if result.limit_type == "collapse":
        assert found == [("collapse", None)]
    else:
        assert (result.limit_type, result.limiting_element) in found


def test_case14_base_case_ttc_is_ac_true_and_binds():
    net = _case14()
    result = transfer_capability(net, [1, 2], [5, 6, 9, 10], tol_mw=2.0)
    assert result.ttc_mw > 0
    assert result.limit_type in ("thermal", "voltage", "generation", "collapse")
    _check_ttc(result)
    # the dispatch moves T MW up at the source and T MW more load at the sink
    moved = result.network_at(50.0)
    assert moved.gen.p_mw[[1, 2]].sum() - net.gen.p_mw[[1, 2]].sum() == pytest.approx(50.0)
    assert moved.load.p_mw[[5, 6, 9, 10]].sum() - net.load.p_mw[
        [5, 6, 9, 10]
    ].sum() == pytest.approx(50)
    assert result.curve.transfer_mw.is_monotonic_increasing
    assert result.losses_increase_mw > 0
    assert net.gen.p_mw[1] == 0.0  # the input network is not modified


def test_case14_n_1_ttc_holds_every_outage():
    net = _case14()
    base = transfer_capability(net, [1, 2], [5, 6, 9, 10], tol_mw=2.0)
    result = transfer_capability(net, [1, 2], [5, 6, 9, 10], n_1=True, tol_mw=2.0)
    assert result.ttc_mw <= base.ttc_mw + 1e-9
    studied = [
        o
        for o in [("line", i) for i in net.line.index] + [("trafo", i) for i in net.trafo.index]
        if o not in result.skipped_contingencies and o not in result.excluded_contingencies
    ]
    _check_ttc(result, outages=studied)


@pytest.mark.parametrize("scenario", ["2026", "2030", "2032"])
def test_corridor_ttc_is_ac_true_and_within_hvdc_capacity(scenario):
    net = gridsim.load_network(MODEL, scenario=scenario)
    result = transfer_capability(net, "AZ", "RS")
    _check_ttc(result)
    # independent HVDC capacity: links from the AZ generators' area to the RS loads' area
    area = net.bus.area
    src = set(area[net.gen.bus[net.gen.bus.map(net.bus.zone).eq("AZ") & ~net.gen.slack]])
    snk = set(area[net.load.bus[net.load.bus.map(net.bus.zone).eq("RS")]])
    hv = net.hvdc[net.hvdc.in_service]
    join = hv[area[hv.from_bus].isin(src).to_numpy() & area[hv.to_bus].isin(snk).to_numpy()]
    capacity = float((join.max_p_mw - join.p_mw).sum())
    assert result.hvdc_capacity_mw == pytest.approx(capacity)
    assert result.ttc_mw <= capacity + 1e-6
    at = result.network_at(result.ttc_mw).hvdc
    assert (at.p_mw.abs() <= at.max_p_mw + 1e-6).all()
    moved = at.p_mw[join.index] - join.p_mw
    assert moved.sum() == pytest.approx(result.ttc_mw)
    assert set(result.link_flows.index) >= set(join.index)
    assert len(result.border_flows) > 0


def test_hvdc_limit_binds_when_links_are_nearly_full():
    net = gridsim.load_network(MODEL, scenario="2026")
    net.set("hvdc", "DC_AKH_B2B", "p_mw", 680.0)  # 20 MW of headroom left
    result = transfer_capability(net, "AZ", "RS")
    assert result.limit_type == "hvdc"
    assert result.limiting_element == ("hvdc", "DC_AKH_B2B")
    assert result.ttc_mw == pytest.approx(20.0)
    _check_ttc(result)


def test_bad_requests_raise_clear_errors():
    net = gridsim.load_network(MODEL, scenario="2026")
    with pytest.raises(TransferError, match="unknown area 'XX'"):
        transfer_capability(net, "XX", "RS")
    with pytest.raises(gridsim.GridsimError, match="source is empty"):
        transfer_capability(net, [], "RS")
    with pytest.raises(gridsim.GridsimError, match="overlap"):
        transfer_capability(net, "AZ", "UPS")
    with pytest.raises(gridsim.GridsimError, match="unknown gen ids"):
        transfer_capability(net, ["NOPE"], "RS")
    with pytest.raises(gridsim.GridsimError, match="hvdc_shares names links"):
        transfer_capability(net, "AZ", "RS", hvdc_shares={"DC_BLACKSEA_1": 1.0})
    c14 = _case14()
    with pytest.raises(gridsim.GridsimError, match="source and sink overlap"):
        transfer_capability(c14, [1, 2], [0, 1])  # load 1 sits at gen 1's bus (bus 2)
    c14.set("line", 0, "rate_mva", 1.0)
    with pytest.raises(gridsim.GridsimError, match="no transfer"):
        transfer_capability(c14, [1, 2], [5, 6, 9, 10])
