"""The corridor model networks/caspian_eu.yaml: every scenario solves within its limits,
HVDC exports arrive less their losses, the synchronous areas stay apart, pandapower agrees."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import gridsim
from gridsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "networks" / "caspian_eu.yaml"
SCENARIOS = list(gridsim.load_network(MODEL).scenarios)
UPS_AREAS = {"UPS_CAUCASUS", "NAKHCHIVAN_ISLAND"}


@cache
def _solved(scenario: str):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no conflicting setpoints, no dead islands
        net = gridsim.load_network(MODEL, scenario=scenario)
        res = gridsim.run_ac(net, enforce_q_limits=True)
    return net, res


def test_scenarios_are_the_years_and_nis_sites():
    assert {"2026", "2030", "2032"} <= set(SCENARIOS)
    for site in ("trupale", "niskabanja"):
        assert f"2030-{site}" in SCENARIOS and f"2032-{site}" in SCENARIOS
    assert gridsim.load_network(MODEL).scenario == "2026"  # default_scenario


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_converges_within_limits(scenario):
    net, res = _solved(scenario)
    assert res.converged, res.message
    bus = res.bus.join(net.bus[["min_vm_pu", "max_vm_pu"]])
    assert bus.vm_pu.notna().all()
    assert (bus.vm_pu >= bus.min_vm_pu - 1e-9).all(), bus.vm_pu.idxmin()
    assert (bus.vm_pu <= bus.max_vm_pu + 1e-9).all(), bus.vm_pu.idxmax()
    loading = res.branch.loading_percent
    assert loading.notna().all(), "every in-service branch is rated"
    assert loading.max() <= 100.0, loading.idxmax()
    assert (res.hvdc.loading_percent <= 100.0).all()
    # published limits (the interfaces) hold too at the default export
    assert {f["id"] for f in net.interfaces} >= {"IF_TR_to_CE", "IF_AZ_to_GE_500"}
    flows = {"line": res.line.p_from_mw, "trafo": res.trafo.p_hv_mw, "hvdc": res.hvdc.p_from_mw}
    for face in net.interfaces:
        total = sum(d * flows[e].get(i, 0.0) for e, i, d in face["members"])
        assert total <= face["limit_mw"] + 1e-6, face["id"]
    # units within their limits (the file would not load otherwise)
    gen = net.gen[net.gen.in_service]
    assert (gen.p_mw <= gen.max_p_mw).all() and (gen.p_mw >= gen.min_p_mw).all()
    # the export block matches the HVDC setpoints it names
    assert net.export["source"] == "AZ"
    for hid, p in net.export["hvdc"].items():
        assert net.hvdc.p_mw[hid] == p


@pytest.mark.parametrize("scenario", ["2030", "2030-trupale", "2030-niskabanja"])
def test_nis_site_choice_switches_exactly_one_site(scenario):
    net, res = _solved(scenario)
    sites = [b for b in net.bus.index if b.startswith("RS_NISCCGT_")]
    on = [b for b in sites if net.bus.in_service[b]]
    assert len(on) == 1
    assert net.gen.bus["G_RS_NIS_CCGT"] == on[0]
    assert res.gen.p_mw["G_RS_NIS_CCGT"] > 0


def test_hvdc_export_arrives_less_losses_and_moves_the_slacks():
    net, res = _solved("2032")
    for hid, row in res.hvdc.iterrows():
        link = net.hvdc.loc[hid]
        assert row.p_from_mw == pytest.approx(link.p_mw, abs=1e-9)
        arrives = link.p_mw * (1 - link.loss_percent / 100) - link.loss_mw
        assert -row.p_to_mw == pytest.approx(arrives, abs=1e-9)
        assert row.pl_mw == pytest.approx(link.p_mw - arrives, abs=1e-9)
    cable = net.hvdc.loc["DC_BLACKSEA_1"]
    assert cable.loss_percent > 4  # 1,155 km: PyPSA-Eur's efficiency 0.954 (S28)
    more = net.copy()
    more.set("hvdc", "DC_BLACKSEA_1", "p_mw", cable.p_mw - 200.0)
    res2 = gridsim.run_ac(more, enforce_q_limits=True)
    assert res2.converged
    # 200 MW less sent: the UPS slack (Russia) keeps it, the CE slack makes up what no
    # longer arrives (0.954 x 200 MW); each also covers its own island's change in AC losses
    area = net.bus.area

    def island_losses(r, areas):
        br = r.branch
        return br.pl_mw[area.loc[br.from_bus].isin(areas).to_numpy()].sum()

    d_ups = res2.ext_grid.p_mw["ext_RU_UPS"] - res.ext_grid.p_mw["ext_RU_UPS"]
    d_ce = res2.ext_grid.p_mw["ext_EU_CE"] - res.ext_grid.p_mw["ext_EU_CE"]
    dl_ups = island_losses(res2, UPS_AREAS) - island_losses(res, UPS_AREAS)
    dl_ce = island_losses(res2, {"CE_ENTSOE"}) - island_losses(res, {"CE_ENTSOE"})
    assert d_ups - dl_ups == pytest.approx(-200.0, abs=1e-6)
    assert d_ce - dl_ce == pytest.approx(200.0 * (1 - cable.loss_percent / 100), abs=1e-6)
    assert abs(dl_ce) < 50 and abs(dl_ups) < 50


def _ac_graph(net) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(net.bus.index[net.bus.in_service])
    for element, a, b in (("line", "from_bus", "to_bus"), ("trafo", "hv_bus", "lv_bus")):
        t = net[element]
        for _, row in t[t.in_service].iterrows():
            if row[a] in g and row[b] in g:
                g.add_edge(row[a], row[b])
    return g


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_ac_path_from_azerbaijan_or_georgia_to_continental_europe(scenario):
    net, res = _solved(scenario)
    g = _ac_graph(net)
    bus = net.bus[net.bus.in_service]
    ups = set(bus.index[bus.area.isin(UPS_AREAS)])
    ce = set(bus.index[bus.area == "CE_ENTSOE"])
    assert ups and ce
    # AZ/GE buses on the CE side are exactly the converters' AC terminals
    az_ge_ce = {b for b in ce if bus.zone[b] in ("AZ", "GE")}
    assert az_ge_ce <= {"GE_AKHALTSIKHE_400", "AZ_NAKHCHIVAN_400"}
    for comp in nx.connected_components(g):
        assert not (comp & ups and comp & ce), scenario
    # each island (as the solver sees it) has exactly one slack
    cn = net.compile()
    assert len(cn.islands) == nx.number_connected_components(g)
    for members in cn.islands:
        assert (cn.bus_type[members] == 3).sum() == 1
    # Nakhchivan is its own island until the Zangezur line joins it to the UPS
    joined = nx.has_path(g, "AZ_NAKHCHIVAN_154", "AZ_ABSHERON_500")
    assert joined == (net.scenario_info["year"] >= 2028)


@pytest.mark.parametrize("q_limits", [False, True])
def test_pandapower_solves_2032_the_same(q_limits):
    pp = pytest.importorskip("pandapower")
    net = gridsim.load_network(MODEL, scenario="2032")
    res = gridsim.run_ac(net, enforce_q_limits=q_limits)
    ppnet = gridsim.to_pandapower(net)
    options = dict(ppnet.user_pf_options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(
            ppnet,
            lightsim2grid=False,
            calculate_voltage_angles=True,
            init="flat",
            tolerance_mva=1e-8,
            enforce_q_lims=q_limits,
            trafo_model=options.get("trafo_model", "t"),
        )
    # pandapower numbers buses 0..n-1 in gridsim's bus order when the ids are strings
    # (here `name` holds the bus's descriptive name, not its id)
    ref = ppnet.res_bus.set_axis(net.bus.index.to_numpy()[ppnet.res_bus.index.to_numpy()])
    assert (ppnet.bus.name.to_numpy() == net.bus.name.to_numpy()).all()
    ref = ref[ref.vm_pu.notna()]
    ours = res.bus.loc[ref.index]
    assert np.abs(ours.vm_pu - ref.vm_pu).max() <= 1e-6
    assert np.abs(ours.va_degree - ref.va_degree).max() <= 1e-5
    assert len(ref) == res.bus.vm_pu.notna().sum()


def test_cli_info_and_pf_with_border_flows_and_map(tmp_path, capsys):
    assert main(["info", str(MODEL)]) == 0
    out = capsys.readouterr().out
    for word in ("UPS_CAUCASUS", "CE_ENTSOE", "2032-trupale", "DC_BLACKSEA_1", "group EU"):
        assert word in out, word
    png = tmp_path / "map.png"
    assert main(["pf", str(MODEL), "--scenario", "2032", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "border flows" in out and ("BG -> RS" in out or "RS -> BG" in out)
    assert "DC_BLACKSEA_1" in out
    assert png.is_file() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
