"""Contingency definitions and the post-contingency response (gridsim.analysis.outages),
each against an independent reference: a network rebuilt by hand and solved afresh,
pandapower, or a hand calculation of the participation shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_matches_pandapower, run_pandapower

import gridsim
from gridsim.analysis.contingency import outage_ydata
from gridsim.analysis.outages import (
    Outage,
    apply_outage,
    exceptional_contingencies,
    ordinary_contingencies,
    scaled_ydata,
    solve_outage,
)
from gridsim.exceptions import GridsimError

DATA = Path(__file__).parent / "data" / "outages"
CORRIDOR = Path(__file__).parents[1] / "networks" / "caspian_eu.yaml"
SUBSTATION = Path(__file__).parents[1] / "networks" / "corridor_substation.yaml"
RESPONSE_TOL_MW = 0.1  # solve_outage's default: a slack within this of its share


def _load(name: str) -> gridsim.Network:
    return gridsim.load_network(DATA / f"{name}.yaml")


def _balance_mw(res) -> float:
    """Generation - load - AC losses of a solution without HVDC links or shunts."""
    gen = res.gen.p_mw.sum() + res.ext_grid.p_mw.sum()
    return gen - res.load.p_mw.sum() - res.losses_mw


def test_a_two_circuit_line_gives_one_ordinary_outage_per_circuit():
    network = _load("circuits")
    outages = ordinary_contingencies(network)
    line12 = [o for o in outages if o.element == "line" and o.id == 12]
    assert [(o.kind, o.circuits, o.parallel, o.circuit) for o in line12] == [
        ("line_circuit", 1, 2, 1),
        ("line_circuit", 1, 2, 2),
    ]
    assert [o.label for o in line12] == ["line 12 (circuit 1 of 2)", "line 12 (circuit 2 of 2)"]
    assert not any(o.exceptional for o in outages)
    by_element = {(o.element, o.id): o for o in outages}
    assert by_element["line", 23] == Outage("line", "line", 23)
    assert by_element["line", 23].label == "line 23"
    assert [o.circuit for o in outages if o.element == "trafo"] == [1, 2]
    assert [o.id for o in outages if o.element == "gen"] == [1]  # the ext_grid is the slack
    assert len(outages) == 2 + 1 + 1 + 2 + 1
    assert len(ordinary_contingencies(network, units=None, branches=False)) == 0

    exceptional = exceptional_contingencies(network)
    assert exceptional == [Outage("line", "line", 12, 2, 2, exceptional=True)]
    assert exceptional[0].label == "line 12 (all 2 circuits)"


def test_largest_unit_per_synchronous_area():
    """By bus area where given (the largest output per area), else by AC island."""
    hvdc = ordinary_contingencies(_load("hvdc"), units="largest_per_area", branches=False)
    assert [o.label for o in hvdc] == ["hvdc H1", "hvdc H2", "gen GW3", "gen GE2"]
    units = ordinary_contingencies(_load("units"), units="largest_per_area", branches=False)
    assert [o.id for o in units] == ["G3"]


def test_scaled_ydata_at_zero_is_the_branch_outage_of_contingency_analysis():
    cn = _load("circuits").compile()
    for k in range(cn.n_branch):
        np.testing.assert_array_equal(scaled_ydata(cn, k, 0.0), outage_ydata(cn, k))
    np.testing.assert_array_equal(scaled_ydata(cn, 0, 1.0), cn.ydata)


def _reduced(network, element, eid, circuits):
    """The reference network, rebuilt by hand: ``circuits`` fewer, rating scaled."""
    ref = gridsim.load_network(network.source)
    k = ref[element].at[eid, "parallel"]
    if circuits == k:
        ref.set(element, eid, "in_service", False)
    else:
        ref.set(element, eid, "parallel", k - circuits)
        ref.set(element, eid, "rate_mva", ref[element].at[eid, "rate_mva"] * (k - circuits) / k)
    return ref


@pytest.mark.parametrize(
    "outage",
    [
        Outage("line_circuit", "line", 12, 1, 2, 2),
        Outage("trafo", "trafo", 34, 1, 2, 1),
        Outage("line", "line", 12, 2, 2, exceptional=True),
    ],
    ids=lambda o: o.label,
)
def test_circuit_outage_equals_the_network_with_fewer_circuits(outage):
    network = _load("circuits")
    result = solve_outage(network, outage)
    assert result.converged and result.rounds == 0 and result.lost_load_mw == 0
    res = result.power_flow

    ref_network = _reduced(network, outage.element, outage.id, outage.circuits)
    ref = gridsim.run_ac(ref_network)
    assert ref.converged
    assert np.abs(res.v - ref.v).max() <= 1e-9
    common = ref.branch.index
    np.testing.assert_allclose(
        res.branch.loc[common, "loading_percent"], ref.branch.loading_percent, rtol=1e-9
    )
    np.testing.assert_allclose(
        res.branch.loc[common, "p_from_mw"], ref.branch.p_from_mw, rtol=0, atol=1e-7
    )
    assert res.losses_mw == pytest.approx(ref.losses_mw, abs=1e-7)
    if outage.circuits == outage.parallel:
        assert res.branch.loc[(outage.element, outage.id), "p_from_mw"] == 0

    net = gridsim.to_pandapower(ref_network)
    run_pandapower(net)
    assert_matches_pandapower(res, net)


def test_islanding_outage_is_solved_and_its_lost_mw_reported():
    network = _load("radial")
    base = gridsim.run_ac(network)
    outage = next(o for o in ordinary_contingencies(network) if o.id == 34)
    result = solve_outage(network, outage, base=base)
    assert result.converged, result.message
    assert abs(result.lost_load_mw - 50.0) <= 1e-9
    assert abs(result.lost_gen_mw - 20.0) <= 1e-9
    assert result.de_energised_buses == [4, 5]
    assert "no slack" in result.notes[0] and "20 MW of generation" in result.notes[0]
    res = result.power_flow
    assert res.bus.vm_pu.loc[[4, 5]].isna().all()
    assert res.bus.vm_pu.loc[[1, 2, 3]].notna().all()

    # hand calculation: the core lost 50 MW of load and 20 MW of generation; its one
    # participating unit (gen 2; the ext_grid has no rating) takes -30 MW + the loss change
    d_loss = res.losses_mw - base.losses_mw
    assert abs(result.response_mw.loc[2] - (-30.0 + d_loss)) <= RESPONSE_TOL_MW
    assert abs(res.ext_grid.p_mw.loc[1] - base.ext_grid.p_mw.loc[1]) <= RESPONSE_TOL_MW

    # the same state from a fresh solve of the network as left after the outage, and in
    # pandapower (which de-energises the buses without a slack itself)
    after = apply_outage(network, outage, result=result)
    with pytest.warns(UserWarning, match=r"island of 2 bus\(es\) \(4, 5\) has no slack"):
        fresh = gridsim.run_ac(after)
    live = ~np.isnan(res.bus.vm_pu.to_numpy())
    assert np.abs(res.v[live] - fresh.v[live]).max() <= 1e-9
    assert fresh.bus.vm_pu.loc[[4, 5]].isna().all()
    net = gridsim.to_pandapower(after)
    run_pandapower(net)
    assert net.res_bus.vm_pu.loc[[4, 5]].isna().all()
    assert_matches_pandapower(res, net)


def test_a_part_with_generation_and_no_slack_is_de_energised():
    network = _load("radial")
    result = solve_outage(network, Outage("line", "line", 45))
    assert result.converged
    assert result.lost_load_mw == 0 and abs(result.lost_gen_mw - 20.0) <= 1e-9
    assert result.de_energised_buses == [5]
    assert "keeps 20 MW of generation but no slack" in result.notes[0]


def _unit_trip(network):
    """Trip G4 (60 MW); the result, and the MW the island must make up."""
    base = gridsim.run_ac(network)
    result = solve_outage(network, Outage("gen", "gen", "G4"), base=base)
    assert result.converged, result.message
    res = result.power_flow
    d_loss = res.losses_mw - base.losses_mw
    assert abs(d_loss) > RESPONSE_TOL_MW  # the loss change matters in these checks
    assert abs(_balance_mw(res)) <= 1e-6
    return base, result, 60.0 + d_loss


def test_unit_outage_is_shared_by_rating():
    base, result, lost = _unit_trip(_load("units"))
    for gen, rating in (("G1", 100.0), ("G2", 200.0), ("G3", 300.0)):
        expected = lost * rating / 600.0
        assert abs(result.response_mw.loc[gen] - expected) <= RESPONSE_TOL_MW, gen
    assert "G4" not in result.response_mw.index
    slack_move = result.power_flow.ext_grid.p_mw.loc["X1"] - base.ext_grid.p_mw.loc["X1"]
    assert abs(slack_move) <= RESPONSE_TOL_MW
    assert abs(result.slack_deviation_mw) <= RESPONSE_TOL_MW and result.rounds >= 1


def test_unit_outage_by_participation_column_and_rated_slack():
    network = _load("units")
    network.gen["participation"] = [1.0, 1.0, 2.0, np.nan]
    network.invalidate()
    _, result, lost = _unit_trip(network)
    for gen, share in (("G1", 0.25), ("G2", 0.25), ("G3", 0.5)):
        assert abs(result.response_mw.loc[gen] - lost * share) <= RESPONSE_TOL_MW, gen

    # a slack gen with a rating takes its own share: 400 of 1,000 MW
    network = _load("units")
    network.set("ext_grid", "X1", "in_service", False)
    network.set("gen", "G1", "slack", True)
    network.set("gen", "G1", "max_p_mw", 400.0)
    _, result, lost = _unit_trip(network)
    for gen, rating in (("G1", 400.0), ("G2", 200.0), ("G3", 300.0)):
        assert abs(result.response_mw.loc[gen] - lost * rating / 900.0) <= RESPONSE_TOL_MW, gen


def test_unit_outage_respects_p_limits():
    """G1 at 95 of 100 MW can give 5 MW; G2 and G3 share the rest by 200:300."""
    network = _load("units")
    network.set("gen", "G1", "p_mw", 95.0)
    network.set("load", "D2", "p_mw", 245.0)
    _, result, lost = _unit_trip(network)
    assert abs(result.response_mw.loc["G1"] - 5.0) <= 1e-9
    for gen, rating in (("G2", 200.0), ("G3", 300.0)):
        expected = (lost - 5.0) * rating / 500.0
        assert abs(result.response_mw.loc[gen] - expected) <= RESPONSE_TOL_MW, gen


def test_hvdc_trip_each_island_shares_its_own_imbalance():
    network = _load("hvdc")
    base = gridsim.run_ac(network)
    result = solve_outage(network, Outage("hvdc", "hvdc", "H1"), base=base)
    assert result.converged, result.message
    res = result.power_flow

    def island_loss(r, prefix):
        lines = r.line.index.str.startswith(prefix)
        return r.line.pl_mw[lines].sum()

    # west no longer sends 200 MW; east no longer receives 200 - 1 % - 1 MW = 197 MW
    for prefix, imbalance, units in (
        ("LW", -200.0, {"GW2": 400.0, "GW3": 600.0}),
        ("LE", 197.0, {"GE2": 300.0, "GE3": 100.0}),
    ):
        lost = imbalance + island_loss(res, prefix) - island_loss(base, prefix)
        total = sum(units.values())
        for gen, rating in units.items():
            expected = lost * rating / total
            assert abs(result.response_mw.loc[gen] - expected) <= RESPONSE_TOL_MW, gen
    for slack in ("XW", "XE"):
        move = res.ext_grid.p_mw.loc[slack] - base.ext_grid.p_mw.loc[slack]
        assert abs(move) <= RESPONSE_TOL_MW
    assert list(res.hvdc.index) == ["H2"]
    for column in ("p_from_mw", "p_to_mw"):
        assert res.hvdc.loc["H2", column] == pytest.approx(base.hvdc.loc["H2", column], abs=1e-9)

    # with response=False each island's slack takes it all, as run_ac does
    plain = solve_outage(network, Outage("hvdc", "hvdc", "H1"), base=base, response=False)
    assert (plain.response_mw.abs() <= 1e-9).all() and plain.rounds == 0


def test_unsettled_response_and_bad_outages_are_reported():
    network = _load("units")
    result = solve_outage(network, Outage("gen", "gen", "G4"), max_rounds=0)
    assert result.status == "unsettled" and not result.converged
    assert "did not settle in 0 rounds" in result.message

    with pytest.raises(GridsimError, match="does not fit"):
        Outage("gen", "line", "L12")
    with pytest.raises(GridsimError, match="3 of 2 circuits"):
        Outage("line", "line", "L12", 3, 2)
    with pytest.raises(GridsimError, match="slack"):
        network.set("gen", "G1", "slack", True)
        solve_outage(network, Outage("gen", "gen", "G1"))
    circuits = _load("circuits")
    with pytest.raises(GridsimError, match="is for 3 circuit"):
        solve_outage(circuits, Outage("line_circuit", "line", 12, 1, 3, 1))
    circuits.set("line", 23, "in_service", False)
    with pytest.raises(GridsimError, match="not in-service"):
        solve_outage(circuits, Outage("line", "line", 23))
    with pytest.raises(GridsimError, match="not an in-service HVDC"):
        solve_outage(circuits, Outage("hvdc", "hvdc", "H9"))


def test_corridor_2032_has_one_circuit_outages_of_every_multi_circuit_line():
    network = gridsim.load_network(CORRIDOR, scenario="2032")
    outages = ordinary_contingencies(network)
    cn = network.compile()
    lines = network.line.loc[cn.br_id[cn.br_kind == 0]]
    circuits = np.rint(lines.parallel).astype(int)
    for eid, k in circuits[circuits > 1].items():
        mine = [o for o in outages if o.element == "line" and o.id == eid]
        assert [(o.kind, o.circuit) for o in mine] == [("line_circuit", c) for c in range(1, k + 1)]
    trafos = np.rint(network.trafo.loc[cn.br_id[cn.br_kind == 1]].parallel).astype(int)
    gens = network.gen[network.gen.in_service & ~network.gen.slack]
    expected = circuits.sum() + trafos.sum() + len(cn.hvdc_id) + len(gens)
    assert len(outages) == expected
    assert len(exceptional_contingencies(network)) == (circuits > 1).sum()

    # one circuit of L_RO_06 (both at once do not converge, issue 17): solved
    result = solve_outage(network, Outage("line_circuit", "line", "L_RO_06", 1, 2, 1))
    assert result.converged, result.message
    assert result.power_flow.branch.loading_percent.max() > 100.0


def test_reuse_gives_the_same_post_contingency_states_on_another_dispatch():
    """Outages solved with ``reuse`` (the compiled networks of HVDC and islanding
    outages kept from one dispatch and given the next one's injections) equal fresh
    solves."""
    net = gridsim.load_network(CORRIDOR, scenario="2032")
    outages = ordinary_contingencies(net)
    reuse: dict = {}
    base = gridsim.run_ac(net, enforce_q_limits=True)
    for outage in outages:
        solve_outage(net, outage, base=base, enforce_q_limits=True, reuse=reuse)
    links = sum(o.element == "hvdc" for o in outages)
    assert sum(key[0] == "post" for key in reuse) > links  # and islanding ones
    other = net.copy()
    other.gen["p_mw"] = other.gen.p_mw * 1.03
    other.load["p_mw"] = other.load.p_mw * 1.03
    other.load["q_mvar"] = other.load.q_mvar * 0.98
    other.hvdc["p_mw"] = other.hvdc.p_mw * 0.9
    other.invalidate()
    base = gridsim.run_ac(other, enforce_q_limits=True)
    for outage in outages:
        kept = solve_outage(other, outage, base=base, enforce_q_limits=True, reuse=reuse)
        fresh = solve_outage(other, outage, base=base, enforce_q_limits=True)
        assert kept.status == fresh.status, outage.label
        if fresh.converged:
            np.testing.assert_allclose(kept.power_flow.v, fresh.power_flow.v, atol=1e-12)
            np.testing.assert_allclose(kept.response_mw, fresh.response_mw, atol=1e-9)
            assert kept.lost_load_mw == fresh.lost_load_mw


def test_results_keep_no_solvers_of_their_own():
    """A post-contingency result keeps its compiled network but not the Newton solvers
    (numeric factors) its solve built, which a checker holding a thousand results would
    hold too; the base network and the networks ``reuse`` keeps for the next dispatch
    keep theirs, and a result's flows and MVA sensitivities still come from it."""
    from gridsim.analysis.ac_sensitivity import branch_mva_sensitivity

    net = gridsim.load_network(CORRIDOR, scenario="2032")
    base = gridsim.run_ac(net, enforce_q_limits=True)
    reuse: dict = {}
    posts = [
        solve_outage(net, o, base=base, enforce_q_limits=True, reuse=reuse)
        for o in ordinary_contingencies(net)
    ]

    def solvers(cn) -> int:
        return sum(isinstance(k, tuple) and k[0].startswith("newton") for k in cn._cache)

    kept = [v[0] for k, v in reuse.items() if k[0] == "post"]
    assert kept and all(solvers(cn) for cn in kept)
    assert solvers(base.cn)
    own = [p for p in posts if not any(p.power_flow.cn._cache is cn._cache for cn in kept)]
    assert len(own) > len(posts) // 2
    assert all(solvers(p.power_flow.cn) == 0 for p in own)
    line = next(p for p in own if p.outage.element == "line" and p.converged)
    pf = line.power_flow
    fresh = solve_outage(net, line.outage, base=base, enforce_q_limits=True).power_flow
    np.testing.assert_allclose(pf.branch_p_from_mw, fresh.branch_p_from_mw, atol=1e-9)
    loaded = np.argsort(-np.abs(pf.branch_p_from_mw))[:3]
    vdep = fresh.cn.voltage_dependence()
    for a, b in zip(
        branch_mva_sensitivity(pf, loaded, voltage_dependence=vdep),
        branch_mva_sensitivity(fresh, loaded, voltage_dependence=vdep),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_unit_trip_on_the_compiled_network_equals_compiling_the_network_without_it():
    """A unit outage is applied on the compiled arrays (its injector dropped, its bus
    PQ where it was the only voltage controller, the next controller's setpoint where
    it set its bus's among several) instead of compiling a copy: every array equals
    the compiled copy's, on every unit of the corridor model and of the substation
    model's units that set their bus's setpoint among several controllers."""
    import dataclasses

    from gridsim.analysis.outages import _outaged_copy, _unit_out
    from gridsim.model.compile import GEN

    def setter(cn, i):  # it sets its bus's setpoint, and another unit controls it too
        others = (cn.inj_bus == cn.inj_bus[i]) & cn.inj_pv & (np.arange(cn.inj_kind.size) != i)
        return bool(cn.inj_pv[i] and others.any() and (np.flatnonzero(others) < i).all())

    checked = {"all": 0, "setter": 0}
    for path, scenario, only_setters in (
        (CORRIDOR, "2032", False),
        (SUBSTATION, "2030_summer_peak", True),
    ):
        net = gridsim.load_network(path, scenario=scenario)
        cn = net.compile()
        for outage in ordinary_contingencies(net):
            if outage.element != "gen":
                continue
            i = int(np.flatnonzero((cn.inj_kind == GEN) & (cn.inj_id == outage.id))[0])
            if only_setters and not setter(cn, i):
                continue
            fast = _unit_out(net, cn, i)
            assert fast is not None, outage.label
            checked["all"] += 1
            checked["setter"] += setter(cn, i)
            compiled = _outaged_copy(net, cn, outage)[0].compile()
            for field in dataclasses.fields(cn):
                ours, theirs = getattr(fast, field.name), getattr(compiled, field.name)
                if isinstance(ours, np.ndarray):
                    assert ours.dtype == theirs.dtype, (outage.label, field.name)
                    np.testing.assert_array_equal(ours, theirs, err_msg=field.name)
            assert fast.bus_ids.equals(compiled.bus_ids)
    assert checked["all"] >= 100 and checked["setter"] >= 20, checked
