"""The substation-level corridor model networks/corridor_substation.yaml (issue 19):
size and countries, provenance of every element, every scenario solved with reactive
limits within its limits and at the balances' net positions, the builder's determinism,
and what `gridsim info` says about it."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml

import gridsim
from gridsim.cli import main
from gridsim.cli.info import provenance

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "networks" / "corridor_substation.yaml"
BUILDER = ROOT / "networks" / "build_corridor_substation.py"
BALANCES = ROOT / "networks" / "data" / "country_balances.yaml"
COUNTRIES = {"GE", "TR", "BG", "RO", "RS", "HU", "GR", "MK", "AL", "ME", "BA", "HR", "XK", "AZ"}
HOURS = ("winter_peak", "summer_peak", "low_load_high_res")
SCENARIOS = [f"{y}_{h}" for y in (2026, 2030, 2032) for h in HOURS]
NIS_SITES = ("krusce", "trupale", "niskabanja")
#: Buses of the network around Niš (Niš 2, Leskovac 2, Kruševac 1, the 110 kV, the sites)
NIS_AREA = re.compile(r"\bRS_(2735|2772|2732|NIS|ALEKSINAC|PROKUPLJE)")
SITE_SCENARIOS = [f"{y}_nis_{s}" for y in (2030, 2032) for s in NIS_SITES]
TABLES = ("bus", "line", "trafo", "gen", "sgen", "ext_grid", "load", "shunt", "hvdc")
NP_TOLERANCE_MW = 25.0  # the builder's stated tolerance (corridor_substation.dispatch)

sys.path.insert(0, str(ROOT / "networks"))
from build_corridor_substation import SHARED, net_positions  # noqa: E402


@cache
def _raw() -> dict:
    return yaml.safe_load(MODEL.read_text(encoding="utf-8"))


@cache
def _solved(scenario: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = gridsim.load_network(MODEL, scenario=scenario)
    res = gridsim.run_ac(net, enforce_q_limits=True)
    return net, res


def test_size_countries_and_areas():
    raw = _raw()
    assert len(raw["bus"]) >= 800
    assert len(raw["line"]) + len(raw["trafo"]) >= 1000
    zones = {b["zone"] for b in raw["bus"]}
    assert COUNTRIES <= zones
    # UPS and continental Europe apart, each with its own slack
    net, res = _solved("2026_winter_peak")
    cn = net.compile()
    assert len(cn.islands) == 2
    assert set(net.bus.area) == {"UPS", "CE"}


def test_every_element_has_a_provenance():
    raw = _raw()
    for table in TABLES:
        for rec in raw[table]:
            assert provenance(rec.get("source")) != "unspecified", (table, rec["id"])
    kinds = {provenance(r["source"]) for t in ("bus", "line", "gen") for r in raw[t]}
    assert kinds == {"sourced", "derived", "estimated"}


def test_scenarios_and_aliases():
    raw = _raw()
    assert set(SCENARIOS + SITE_SCENARIOS) | {"2026", "2030", "2032"} == set(raw["scenarios"])
    for y in ("2026", "2030", "2032"):
        alias, peak = dict(raw["scenarios"][y]), dict(raw["scenarios"][f"{y}_winter_peak"])
        alias.pop("description"), peak.pop("description")
        assert alias == peak


@pytest.mark.parametrize("scenario", SCENARIOS + SITE_SCENARIOS)
def test_scenario_converges_within_limits(scenario):
    net, res = _solved(scenario)
    assert res.converged
    vm = res.bus.vm_pu
    assert (vm >= net.bus.min_vm_pu.loc[vm.index] - 1e-6).all()
    assert (vm <= net.bus.max_vm_pu.loc[vm.index] + 1e-6).all()
    assert res.branch.loading_percent.max() <= 100.0 + 1e-6
    gen = net.gen[net.gen.in_service]
    assert (gen.p_mw <= gen.max_p_mw + 1e-6).all()
    assert (gen.p_mw >= gen.min_p_mw - 1e-6).all()
    q = res.gen.q_mvar.loc[gen.index]
    assert (q <= gen.max_q_mvar + 1e-3).all() and (q >= gen.min_q_mvar - 1e-3).all()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_net_positions_match_the_balances(scenario):
    """Within the tolerance, or the country runs every unit at its maximum (the balances'
    capacity cannot reach the net position: XK's winter peaks, HU's 2030 winter peak;
    listed in networks/README.md)."""
    year, hour = int(scenario[:4]), scenario[5:]
    countries = yaml.safe_load(BALANCES.read_text(encoding="utf-8"))["countries"]
    net, res = _solved(scenario)
    got = net_positions(net, res)
    zone = net.bus.zone
    gen = net.gen[net.gen.in_service]
    short = []
    for cc, c in countries.items():
        if cc not in set(zone) or cc == "AM":  # Armenia is an equivalent (fixed exchange)
            continue
        want = c["hours"][hour]["net_position_mw"][year]
        if abs(got[cc] - want) > NP_TOLERANCE_MW:
            units = gen[zone.loc[gen.bus].to_numpy() == cc]
            assert got[cc] < want, cc  # only a shortfall of capacity is accepted
            assert (units.p_mw >= units.max_p_mw - 0.1).all(), cc
            short.append(cc)
    assert set(short) <= {"XK", "HU"}


def _pandapower_voltages(net):
    """pandapower's AC solution (Q limits on) of ``gridsim.to_pandapower(net)``: the
    vm_pu and va_degree of every energised bus, by gridsim bus id.

    pandapower's dcline needs voltage setpoints at both ends, so the links that gridsim
    runs at a fixed P with Q = 0 (no setpoints: the LCC back-to-backs) travel as the two
    loads that gridsim applies for them (P, less the losses at the receiving end)."""
    pp = pytest.importorskip("pandapower")
    copy = net.copy()
    hvdc = net.hvdc
    fixed = hvdc[hvdc.vm_from_pu.isna() | hvdc.vm_to_pu.isna()]
    for hid in fixed.index:
        copy.set("hvdc", hid, "in_service", False)
        copy.set("hvdc", hid, "vm_from_pu", 1.0)
        copy.set("hvdc", hid, "vm_to_pu", 1.0)
    ppnet = gridsim.to_pandapower(copy)
    bus = dict(zip(ppnet.bus.gridsim_id, ppnet.bus.index, strict=True))
    for hid, h in fixed[fixed.in_service].iterrows():
        loss = h.loss_mw + h.loss_percent / 100 * abs(h.p_mw)
        p_from, p_to = (h.p_mw, loss - h.p_mw) if h.p_mw >= 0 else (h.p_mw + loss, -h.p_mw)
        pp.create_load(ppnet, bus[h.from_bus], p_mw=p_from, name=f"{hid} from")
        pp.create_load(ppnet, bus[h.to_bus], p_mw=p_to, name=f"{hid} to")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(
            ppnet,
            lightsim2grid=False,
            calculate_voltage_angles=True,
            init="flat",
            tolerance_mva=1e-8,
            enforce_q_lims=True,
            trafo_model=ppnet.user_pf_options["trafo_model"],
        )
    ref = ppnet.res_bus.set_axis(ppnet.bus.gridsim_id.loc[ppnet.res_bus.index].to_numpy())
    return ref[ref.vm_pu.notna()]


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(s, marks=[] if s == "2026_winter_peak" else pytest.mark.slow)
        for s in SCENARIOS + SITE_SCENARIOS
    ],
)
def test_pandapower_solves_the_same(scenario):
    """Acceptance 6: pandapower's solution of the exported scenario, voltages to 1e-6 p.u."""
    net, res = _solved(scenario)
    ref = _pandapower_voltages(net)
    assert len(ref) == res.bus.vm_pu.notna().sum()
    ours = res.bus.loc[ref.index]
    assert np.abs(ours.vm_pu - ref.vm_pu).max() <= 1e-6
    assert np.abs(ours.va_degree - ref.va_degree).max() <= 1e-5


def _site_study(scenario: str) -> dict[str, float]:
    """N-0 losses (MW, all AC branches) and the largest loading (%) of the CCGT's
    connection branches, N-0 and after the ordinary contingencies of the branches
    around Niš (one circuit, one transformer unit), and the largest post-contingency
    loading of those branches."""
    net, res = _solved(scenario)
    branch = res.branch

    def ends(key):
        el, i = key
        return (
            str(net[el].loc[i, "from_bus" if el == "line" else "hv_bus"])
            + " "
            + str(net[el].loc[i, "to_bus" if el == "line" else "lv_bus"])
        )

    near = [k for k in branch.index if NIS_AREA.search(ends(k))]
    site = [k for k in near if "NISCCGT" in ends(k)]
    assert site
    n1_site = n1_area = 0.0
    for outage in gridsim.ordinary_contingencies(net, units=None, hvdc=False):
        if (outage.element, outage.id) not in near:
            continue
        after = gridsim.solve_outage(net, outage, base=res, enforce_q_limits=True).power_flow
        assert after.converged, outage
        loading = after.branch.loading_percent
        n1_site = max(n1_site, float(loading[site].max()))
        n1_area = max(n1_area, float(loading[near].max()))
    return {
        "losses": float((branch.p_from_mw + branch.p_to_mw).sum()),
        "site": float(branch.loading_percent[site].max()),
        "n1_site": n1_site,
        "n1_area": n1_area,
    }


@pytest.mark.parametrize("year", [2030, 2032])
def test_nis_sites_are_distinct_connection_options(year):
    """Acceptance 5: the three CCGT sites, same dispatch otherwise, give different N-0
    losses and connection loadings (when written, 2030 at Krušce / Trupale / Niška Banja:
    losses 801.08 / 801.44 / 800.90 MW, connection 14.1 / 30.0 / 33.9 %, after the
    worst outage near Niš 28.1 / 33.2 / 38.2 %), the network around Niš N-1 secure."""
    study = {s: _site_study(f"{year}_nis_{s}") for s in NIS_SITES}
    for s in NIS_SITES:
        net, res = _solved(f"{year}_nis_{s}")
        assert res.gen.p_mw["G_RS_NIS_CCGT"] == pytest.approx(500.0)
        assert net.gen.bus["G_RS_NIS_CCGT"].startswith("RS_NISCCGT_")
        assert ((net.bus.vn_kv == 110) & (net.bus.zone == "RS")).sum() >= 7
        assert study[s]["n1_area"] <= 100.0
    for key, step in (("losses", 0.05), ("site", 1.5)):  # every pair apart (2032: 28.1 / 34.7)
        assert np.diff(sorted(v[key] for v in study.values())).min() >= step, key
    # after outages the sites stay apart (2032: 28.1 / 31.2 / 38.8 %)
    n1 = [v["n1_site"] for v in study.values()]
    assert max(n1) - min(n1) >= 5.0


def test_build_rules_of_the_n1_fixes():
    """The rules that removed artificial N-1 violations (networks/README.md, "N-1
    security"): line reactors go with their line, large plants feed the EHV level of their
    station, never-built map plants are gone, weakly fed stations carry less load."""
    raw = _raw()
    assert not [sh for sh in raw["shunt"] if sh["id"].startswith("R_")]
    compensated = [ln for ln in raw["line"] if "line reactors" in ln["note"]]
    assert len(compensated) > 100
    for ln in compensated:  # 30 % of the 400 kV type's charging (b = 2 pi f c)
        if ln["from_bus"].endswith("_400"):
            assert ln["b_us_per_km"] == pytest.approx(0.3 * 2 * np.pi * 50 * 13.8e-3, abs=2e-4)
    bus = {b["id"]: b for b in raw["bus"]}
    gens = {g["name"]: g for g in raw["gen"]}
    for name in ("Kozloduy", "Maritsa Iztok 2", "TENT B", "Portile de Fier 1"):
        assert bus[gens[name]["bus"]]["vn_kv"] == 400, name
    assert not [g for g in raw["gen"] if re.search(r"Gerze|Sinop TES", g["name"])]
    loads = {d["bus"]: d["p_mw"] for d in raw["load"] if d["id"].startswith("D_")}
    # BG 220 kV: a station at the end of one circuit against a meshed one
    assert loads["BG_2534_220"] < 0.5 * loads["BG_2532_220"]


def _scenario_max_p(raw: dict, scenario: str) -> dict[str, float]:
    out = {g["id"]: g["max_p_mw"] for g in raw["gen"]}
    for s in raw["scenarios"][scenario]["set"]:
        if s["element"] == "gen" and s["field"] == "max_p_mw":
            out[s["id"]] = s["value"]
    return out


def test_projects_units_and_reactive_rules():
    """The rules of networks/README.md, "N-1 security", second round: the projects built or
    under construction in service from their year (Trans-Balkan section 3 from 2027), plants
    as units, 220 kV plants not scaled beyond their map capacity nor their N-1 evacuation,
    reactive capability at power factor 0.85 of the largest capacity."""
    raw = _raw()
    lines = {ln["id"]: ln for ln in raw["line"]}
    tb3 = lines["L_TRANS_BALKAN_S3"]
    assert (tb3["from_bus"], tb3["to_bus"], tb3["parallel"]) == ("RS_8110_400", "RS_BB_400", 2)
    assert (tb3["status"], tb3["year"]) == ("under_construction", 2027)
    net26, _ = _solved("2026_winter_peak")
    net30, _ = _solved("2030_winter_peak")
    assert not net26.line.in_service["L_TRANS_BALKAN_S3"]
    assert not net26.trafo.in_service["T_RS_BB_400"]
    assert net30.line.in_service["L_TRANS_BALKAN_S3"] and net30.trafo.in_service["T_RS_BB_400"]
    assert net26.line.in_service["L_RO_GUTINAS_SMARDAN"]  # under construction, 2024
    units = {}
    for g in raw["gen"]:
        units.setdefault(g["name"], []).append(g)
    for name, n, mw in (("Kozloduy", 2, 1000.0), ("Atatürk HES", 8, 300.6), ("Paks", 4, 473.0)):
        assert len(units[name]) == n and {g["max_p_mw"] for g in units[name]} == {mw}, name
    assert [g["id"] for g in units["Niš CCGT (EPS/SOCAR)"]] == ["G_RS_NIS_CCGT"]  # keeps its id
    bus = {b["id"]: b for b in raw["bus"]}
    varna = [g["id"] for g in units["Varna"]]
    for scenario in SCENARIOS:
        max_p = _scenario_max_p(raw, scenario)
        # Varna's double circuit (2 x 491.6 MVA) carries one circuit's rating N-1
        assert sum(max_p[g] for g in varna) <= 491.6 + 0.5
        for g in raw["gen"]:
            if g["source"] == "S26" and bus[g["bus"]]["vn_kv"] <= 220:
                assert max_p[g["id"]] <= g["max_p_mw"] + 0.1, (scenario, g["id"])
    kozloduy = units["Kozloduy"][0]
    assert kozloduy["max_q_mvar"] == pytest.approx(np.tan(np.arccos(0.85)) * 1000.0, abs=1.0)


#: What still breaks a limit after some ordinary contingency of a winter peak (AC with Q
#: limits): branches above 100.5 % of their rating, buses more than 0.002 p.u. outside
#: their limits, and outages whose power flow diverges. Why each is left: networks/README.md,
#: "N-1 security".
N1_RESIDUE = {
    "2026_winter_peak": {
        *("L1687", "L1688", "L1698", "T15311"),  # RS: Bajina Bašta 220 kV east, Obrenovac
        "L2820",  # HU 220 kV double circuit
        "T15285",  # BG 400/220 kV
        # north-east Romania after the Bacău-Gutinaş 400 kV line L8251
        *("RO_3905_220", "RO_3905_400", "RO_3934_400", "RO_3936_400"),
        "T_AZ_ABS_500_330",  # AZ: Absheron 500/330 kV, one unit after the other
    },
    "2030_winter_peak": {
        *("L1687", "L1688", "L1698", "T15311", "L2820"),
        *("RO_3905_220", "RO_3905_400", "RO_3934_400", "RO_3936_400"),  # after L8251
        "AZ_NAKHCHIVAN_400",  # above 1.05 p.u. after the Turkish 400 kV line L11187
        "T_AZ_ABS_500_330",
    },
    "2032_winter_peak": {
        *("L1687", "L1688", "L1698", "T15311", "L2820"),
        "AZ_NAKHCHIVAN_330",  # after the trip of a Nakhchivan unit
    },
}


def _n1_violations(scenario: str) -> set[str]:
    """Branches and buses out of limits after some ordinary contingency, and the
    outages that do not converge (see N1_RESIDUE)."""
    net, res = _solved(scenario)
    lo, hi = net.bus.min_vm_pu, net.bus.max_vm_pu
    out = set()
    for outage in gridsim.ordinary_contingencies(net, units="all"):
        post = gridsim.solve_outage(net, outage, base=res, enforce_q_limits=True)
        if post.status == "diverged":
            out.add(f"diverged {outage.label}")
            continue
        pf = post.power_flow  # an outaged circuit's line is rated for what is left of it
        loading = pf.branch.loading_percent
        out |= {k[1] for k in loading.index[loading > 100.5]}
        vm = pf.bus.vm_pu.dropna()
        out |= set(vm.index[(vm < lo[vm.index] - 0.002) | (vm > hi[vm.index] + 0.002)])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(N1_RESIDUE))
def test_winter_peak_n1_residue(scenario):
    """Acceptance 3 of issue 19, as far as it holds: after every ordinary contingency
    (one circuit, one transformer unit, one HVDC link, one unit; AC with Q limits) no
    limit is broken except the residue listed (and explained) in networks/README.md; a
    new violation fails. (Before the rules of test_build_rules_of_the_n1_fixes, 2026:
    87 violations; before those of test_projects_units_and_reactive_rules, 2026 / 2030 /
    2032: 19 / 41 / 47, after: 12 / 14 / 12; with storage hydro's peak tranche
    (dispatch.PEAK_STORAGE) 11 / 11 / 6, the Turkish residue gone.)"""
    assert _n1_violations(scenario) <= N1_RESIDUE[scenario]


def test_info_shows_countries_and_provenance(capsys):
    assert main(["info", str(MODEL)]) == 0
    out = capsys.readouterr().out
    assert "provenance (sourced, derived, estimated, unspecified):" in out
    zones = next(line for line in out.splitlines() if "zones (buses):" in line)
    for cc in COUNTRIES:
        assert f" {cc} " in zones
    total = next(line for line in out.splitlines() if line.strip().startswith("total"))
    sourced, derived, estimated, unspecified = (int(x) for x in total.split()[1::2])
    raw = _raw()
    assert sourced + derived + estimated == sum(len(v) for k, v in raw.items() if k in TABLES)
    assert unspecified == 0 and min(sourced, derived, estimated) > 0


def test_provenance_classes():
    assert provenance("S26") == "sourced"
    assert provenance("S26; derived: standard type per voltage level") == "derived"
    assert provenance("S40; partly estimated") == "estimated"
    assert provenance("estimated") == "estimated"
    assert provenance("") == provenance(None) == "unspecified"


@pytest.mark.slow
@pytest.mark.skipif(
    not (SHARED / "corridor_data.yaml").is_file(),
    reason=f"the builder's input data ({SHARED}) is not beside this checkout",
)
def test_builder_reproduces_the_file(tmp_path):
    out = tmp_path / "model.yaml"
    subprocess.run([sys.executable, str(BUILDER), "-o", str(out)], check=True, capture_output=True)
    assert out.read_bytes() == MODEL.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(N1_RESIDUE))
def test_winter_peak_is_secured_with_the_study_options(scenario):
    """Acceptance 3 of issue 19 for the winter peaks: with the study's options (CNECs at
    5 %) the base case is made N-1 secure by redispatch and the preventive voltage
    control (units' setpoints, switched banks' steps), and the secured dispatch holds in
    an independent AC check of every ordinary contingency: no divergence, no load cut
    off beyond 1,000 MW, voltages within 0.001 p.u. everywhere, CNEC loadings within
    0.5 % (the AC check's tolerances). The HVDC schedules move within the links' ratings
    and only with units that balance them: the redispatch nets to zero over the model
    and what the sending area's units net leaves over the links, within 1 MW; setpoints
    move by at most 0.05 p.u. and banks stay within their steps."""
    from gridsim.analysis.ttc import secured_base
    from gridsim.study import cases

    net = _solved(scenario)[0]
    base = secured_base(net, **cases.N1_OPTIONS)
    assert base.secured, base.residual.head()
    assert base.base_voltage_change_pu.abs().max() <= 0.05
    units, links_moved = base.base_redispatch_mw, base.base_hvdc_change_mw
    assert abs(units.sum()) <= 1.0, base.base_redispatch_zone
    area = net.bus.area[net.gen.bus[units.index]].to_numpy()
    sending = set(net.bus.area[net.hvdc.from_bus[links_moved.index]])  # the links' from side
    assert len(sending) <= 1
    sent = units[np.isin(area, list(sending))].sum()
    assert sent == pytest.approx(links_moved.sum(), abs=1.0), (
        base.base_redispatch_zone,
        links_moved,
    )
    links = base.network.hvdc
    assert (links.p_mw.abs() <= links.max_p_mw + 1e-6).all()
    steps = base.network.shunt.step
    top = base.network.shunt.max_step.fillna(net.shunt.step)
    assert (steps >= 0).all() and (steps <= top).all()
    assert (steps == steps.round()).all()
    moved = set(base.base_shunt_step_change.index)
    assert moved <= set(net.shunt.index[net.shunt.max_step.notna()])  # only switched banks
    held = {
        (r.element, str(r.id), r.contingency)
        for r in base.cnecs.table().itertuples()  # the CNEC pairs
    }
    secured = base.network
    lo, hi = secured.bus.min_vm_pu, secured.bus.max_vm_pu
    res = gridsim.run_ac(secured, enforce_q_limits=True)
    assert res.converged
    states = [(None, res)]
    for outage in gridsim.ordinary_contingencies(secured, units="all"):
        post = gridsim.solve_outage(secured, outage, base=res, enforce_q_limits=True)
        assert post.status != "diverged", outage.label
        assert post.lost_load_mw <= 1000.0, outage.label
        states.append((outage.label, post.power_flow))
    for label, pf in states:
        vm = pf.bus.vm_pu.dropna()
        vm = vm[vm > 0]
        out = vm[(vm < lo[vm.index] - 1e-3) | (vm > hi[vm.index] + 1e-3)]
        assert out.empty, (label, out)
        loading = pf.branch.loading_percent
        over = [k for k in loading.index[loading > 100.5] if (k[0], str(k[1]), label) in held]
        assert not over, (label, over)


def test_zangezur_stability_limit_is_rederived_and_brackets_the_collapse():
    """The derived voltage-stability limit of the Zangezur corridor (IF_ZANGEZUR_N1,
    networks/corridor_substation/stability.py) in the 2032 summer peak: the file's value
    is what the rule gives on the scenario; with the Nakhchivan converter set so that
    L_AZ_14 carries the limit, the loss of one of its circuits has an AC solution, and
    with it carrying the limit grown by the 5 % margin and 3 bisection tolerances (the
    collapse point lies within one tolerance of limit / 0.95) it has none."""
    from corridor_substation import stability

    from gridsim.analysis.outages import ordinary_contingencies, solve_outage

    net, res = _solved("2032_summer_peak")
    limit = next(f["limit_mw"] for f in net.interfaces if f["id"] == stability.ZANGEZUR["id"])
    assert limit == stability.limit_mw(net)
    assert 0 < limit < net.line.rate_mva[stability.LINE] / 2  # below one circuit's rating
    outage = next(
        o
        for o in ordinary_contingencies(net, units=None)
        if o.element == "line" and o.id == stability.LINE
    )

    def at_flow(mw: float):
        """The scenario with the converter moved so that the line carries ``mw`` (two
        secant steps on its setpoint), and whether the outage then solves."""
        trial = net.copy()
        p = [float(net.hvdc.p_mw[stability.LINK])]
        flows = [float(res.branch.p_from_mw[("line", stability.LINE)])]
        p.append(p[0] + (mw - flows[0]))
        for _ in range(2):
            trial.hvdc.loc[stability.LINK, "p_mw"] = p[-1]
            trial.invalidate()
            base = gridsim.run_ac(trial, enforce_q_limits=True)
            assert base.converged
            flows.append(float(base.branch.p_from_mw[("line", stability.LINE)]))
            slope = (flows[-1] - flows[-2]) / (p[-1] - p[-2])
            p.append(p[-1] + (mw - flows[-1]) / slope)
        trial.hvdc.loc[stability.LINK, "p_mw"] = p[-1]
        trial.invalidate()
        base = gridsim.run_ac(trial, enforce_q_limits=True)
        got = float(base.branch.p_from_mw[("line", stability.LINE)])
        assert got == pytest.approx(mw, abs=1.0)  # MW
        return solve_outage(trial, outage, base=base, enforce_q_limits=True).converged

    assert at_flow(limit)
    assert not at_flow(limit / (1 - stability.MARGIN) + 3 * stability.TOL_MW)


@pytest.mark.slow
def test_2026_eu_ttc_is_bound_by_a_limit_a_fresh_solve_reproduces():
    """The 2026 winter peak's N-1 TTC AZ -> EU (study options) stops where a step more
    along its direction breaks a limit, and that limit is real: solved afresh (no kept
    post-contingency network, no cache), the step's dispatch breaks it after the same
    outage. (A response round's secant step once threw the units far off after the
    islanding outage of the Turkish 400 kV line L4412, 5e12 MVA of mismatch, and bound
    the TTC at 264 MW by a divergence no fresh solve showed.)

    Issue 17, acceptance 1 (relaxing an interface limit never lowers the TTC): the
    physical export at the TTC (the secured base case's exchange beyond the schedule
    and the TTC) is at least the one within the published limits, less the search
    tolerance. Each figure starts from its own secured base case; the one that holds
    the published limits once left north-east Romania's voltages more room (240 MW of
    total export within them against 217 MW physical), and the physical search now
    starts from both.

    The dispatch at the TTC holds in an independent AC check of every ordinary
    contingency (fresh solves): no divergence, voltages within 0.001 p.u., CNEC loadings
    within 0.5 %. (The step beyond a voltage-bound TTC once held with the units' voltage
    setpoints moved, and the search stopped after eight such steps with no limit found;
    it now goes on with LP rounds from there, to the AZ-GE 500 kV interface.)"""
    from gridsim.analysis.ttc import n1_ttc, secured_base
    from gridsim.analysis.ttc.dispatch import _blend
    from gridsim.study import cases

    net = _solved("2026_winter_peak")[0]
    base = secured_base(net, **cases.N1_OPTIONS)
    r = n1_ttc(net, "AZ", "EU", base=base, **cases.N1_OPTIONS)
    assert r.defined and r.ttc_mw > 0 and len(r.next_step)
    pub = r.published
    assert pub is not None and pub.defined
    tol = max(10.0, 0.01 * abs(pub.total_change_mw))  # n1_ttc's tol_mw, rel_tol
    assert r.total_change_mw >= pub.total_change_mw - tol, (r.message, pub.message)
    start = base.published if r.started_from == "published" else base
    moved = start.base_hvdc_change_mw
    joining = {"DC_AKH_B2B": 1.0}  # from the Georgian side; the only link to the EU in 2026
    assert r.base_exchange_change_mw == pytest.approx(
        sum(joining.get(j, 0.0) * mw for j, mw in moved.items()), abs=1e-9
    )
    at = r.network
    at_res = gridsim.run_ac(at, enforce_q_limits=True)
    assert at_res.converged
    held = {(e, str(i), c) for e, i, c in r.cnecs.table()[["element", "id", "contingency"]].values}
    lo, hi = at.bus.min_vm_pu, at.bus.max_vm_pu
    for o in gridsim.ordinary_contingencies(at, units="all"):
        post = gridsim.solve_outage(at, o, base=at_res, enforce_q_limits=True)
        assert post.status != "diverged", o.label
        vm = post.power_flow.bus.vm_pu.dropna()
        vm = vm[vm > 0]
        out = vm[(vm < lo[vm.index] - 1e-3) | (vm > hi[vm.index] + 1e-3)]
        assert out.empty, (o.label, out)
        loading = post.power_flow.branch.loading_percent
        over = [k for k in loading.index[loading > 100.5] if (k[0], str(k[1]), o.label) in held]
        assert not over, (o.label, over)
    step = r.next_step.iloc[0]
    probe = _blend(start.network, r.network, r.next_step_mw / r.ttc_mw)
    res = gridsim.run_ac(probe, enforce_q_limits=True)
    assert res.converged
    by_label = {o.label: o for o in gridsim.ordinary_contingencies(probe, units="all")}
    if step.contingency:
        outage = by_label[step.contingency]
        after = gridsim.solve_outage(probe, outage, base=res, enforce_q_limits=True)
    if step.kind == "diverged":
        assert not after.converged
    elif step.kind == "voltage":
        vm = after.power_flow.bus.vm_pu[step.id]
        lo, hi = probe.bus.min_vm_pu[step.id], probe.bus.max_vm_pu[step.id]
        assert vm < lo or vm > hi  # out of the bus's limits
        assert abs(vm - step.value) <= 1e-3  # p.u., what the search found
    elif step.kind == "interface":  # an intact-grid limit: the flow of its members
        face = next(f for f in probe.interfaces if f["id"] == step.id)
        flows = res.branch.p_from_mw
        flow = sum(
            d * (float(probe.hvdc.p_mw[i]) if e == "hvdc" else float(flows[(e, i)]))
            for e, i, d in face["members"]
        )
        assert flow > face["limit_mw"]
        assert abs(flow - step.value) <= 1.0  # MW, what the search found
    else:
        assert step.kind == "thermal"
        key = (step.element, step.id)
        assert after.power_flow.branch.loading_percent[key] > 100.0


@pytest.mark.slow
@pytest.mark.parametrize("year", [2026, 2030, 2032])
def test_n1_ttc_never_falls_with_more_capacity(year):
    """Issue 17, acceptance 1, on the corridor: for each winter peak and sink (AZ -> EU,
    AZ -> RS), the physical N-1 TTC (export beyond the schedule, the study's options,
    published limits not held) with a 110 % emergency rating, and with the joining link
    that carries most at the TTC rated 10 % higher, is at least the TTC as it is, less
    the search tolerance (max(10 MW, 1 %)). The link variant starts from the secured
    base case of the network as it is (as the study's reinforcement cases do); the 110 %
    case secures its own. (Before the voltages were rows of the transfer LPs, 2030
    AZ -> EU fell from 872.0 to 746.1 MW at 110 %: its least securing redispatch left
    north-east Romania's voltage after L8251 binding at 120 MW along the first LP's
    direction.)"""
    from gridsim.analysis.ttc import secured_base
    from gridsim.study import cases

    options = dict(cases.N1_OPTIONS, published_limits="ignore")
    net = _solved(f"{year}_winter_peak")[0]
    base = secured_base(net, **options)
    relaxed = secured_base(net, **options, emergency_rating_percent=110.0)
    _never_falls(net, base, relaxed, options)


def _never_falls(net, base, relaxed, options: dict) -> None:
    """For AZ -> EU and AZ -> RS: the TTC from ``base``, at a 110 % emergency rating
    from ``relaxed`` and with the joining link that carries most rated 10 % higher
    (from ``base``) is at least the first, less the search tolerance."""
    from gridsim.analysis.ttc import n1_ttc, secured_base

    for sink in ("EU", "RS"):
        r = n1_ttc(net, "AZ", sink, base=base, **options)
        assert r.defined, r.message
        link = str(r.hvdc.p_mw.idxmax())
        more = net.copy()
        more.hvdc.loc[link, "max_p_mw"] = 1.1 * float(more.hvdc.max_p_mw[link])
        more.invalidate()
        more_base = secured_base(more, **options, start=base)
        variants = {
            "110 % emergency rating": n1_ttc(
                net, "AZ", sink, base=relaxed, **options, emergency_rating_percent=110.0
            ),
            f"{link} +10 %": n1_ttc(more, "AZ", sink, base=more_base, **options),
        }
        for label, v in variants.items():
            assert v.defined, (sink, label, v.message)
            tol = max(10.0, 0.01 * r.total_change_mw, 0.01 * v.total_change_mw)
            assert v.total_change_mw >= r.total_change_mw - tol, (
                sink,
                label,
                r.total_change_mw,
                v.total_change_mw,
                r.message,
                v.message,
            )


@pytest.mark.slow
def test_n1_ttc_never_falls_with_more_capacity_from_one_base_case():
    """The same on the 2032 summer peak, both variants started from the secured base
    case of the network as it is (``secured_base(..., start=...)``; the 110 % case's
    start made at 100 %: ``START_FREE``), so that the two TTCs compare the limits and not
    two least securing redispatches. Secured on its own, the 110 % case is not monotonic
    there: AZ -> EU 142.6 MW as it is (published limits held beside), -0.7 MW at 110 %
    (its least securing moves 625 MW instead of 1,274 MW and leaves the units where the
    transfer stops early); from the base case as it is, 627.8 MW."""
    from gridsim.analysis.ttc import secured_base
    from gridsim.study import cases

    options = dict(cases.N1_OPTIONS, published_limits="ignore")
    net = _solved("2032_summer_peak")[0]
    base = secured_base(net, **options)
    relaxed = secured_base(net, **options, emergency_rating_percent=110.0, start=base)
    assert relaxed.base_rounds == 0  # the same dispatch: secure at the looser limits too
    _never_falls(net, base, relaxed, options)
