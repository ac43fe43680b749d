"""Acceptance 3 of issue 16: one hand-built net per pandapower element type (and per
option that changes the model), each solved by pandapower and by
``gridsim.pandapower.runpp`` and compared table by table (tolerances in ``pp_dropin``)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from pp_dropin import assert_same_results, check, pp, solve_both

import gridsim
import gridsim.pandapower as gp
from gridsim.exceptions import UnsupportedElementError


def _base(sn_mva=1.0):
    """110 kV grid, a 110/20 kV transformer and a 20 kV feeder with a load and an sgen."""
    net = pp.create_empty_network(sn_mva=sn_mva)
    hv = pp.create_bus(net, 110)
    mv = pp.create_bus(net, 20)
    far = pp.create_bus(net, 20)
    pp.create_ext_grid(net, hv, vm_pu=1.02, va_degree=5)
    pp.create_transformer(net, hv, mv, "25 MVA 110/20 kV")
    pp.create_line(net, mv, far, 4.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_load(net, far, p_mw=3.0, q_mvar=1.0)
    pp.create_sgen(net, mv, p_mw=1.0, q_mvar=-0.3)
    return net, hv, mv, far


def _trafo3w(net, hv, mv, **kwargs):
    lv = pp.create_bus(net, 10)
    pp.create_load(net, lv, p_mw=2.0, q_mvar=0.5)
    t = pp.create_transformer3w_from_parameters(
        net,
        hv,
        mv,
        lv,
        vn_hv_kv=110,
        vn_mv_kv=20.5,
        vn_lv_kv=10.2,
        sn_hv_mva=40,
        sn_mv_mva=25,
        sn_lv_mva=15,
        vk_hv_percent=10.5,
        vk_mv_percent=11.0,
        vk_lv_percent=9.5,
        vkr_hv_percent=0.3,
        vkr_mv_percent=0.35,
        vkr_lv_percent=0.4,
        pfe_kw=30,
        i0_percent=0.2,
        shift_mv_degree=0,
        shift_lv_degree=150,
        tap_min=-9,
        tap_max=9,
        tap_neutral=0,
        tap_changer_type="Ratio",
        **kwargs,
    )
    return t, lv


@pytest.mark.parametrize("side", ["hv", "mv", "lv"])
@pytest.mark.parametrize("at_star", [False, True], ids=["terminal", "star-point"])
@pytest.mark.parametrize("losses", ["hv", "mv", "lv", "star"])
def test_trafo3w_taps_on_each_side(side, at_star, losses):
    net, hv, mv, _ = _base()
    _trafo3w(
        net,
        hv,
        mv,
        tap_side=side,
        tap_pos=-3,
        tap_step_percent=1.5,
        tap_step_degree=0.0,
        tap_at_star_point=at_star,
    )
    check(net, trafo3w_losses=losses)


@pytest.mark.parametrize("side", ["hv", "mv", "lv"])
def test_trafo3w_open_switch_at_each_end(side):
    """The winding behind an open switch stays energised from the star point: its
    charging and the magnetising current flow, as in pandapower."""
    net, hv, mv, _ = _base()
    t, lv = _trafo3w(net, hv, mv, tap_side="mv", tap_pos=2, tap_step_percent=1.25)
    pp.create_transformer_from_parameters(  # feeds lv when the trafo3w is cut there
        net, mv, lv, sn_mva=10, vn_hv_kv=20, vn_lv_kv=10, vkr_percent=0.5, vk_percent=8,
        pfe_kw=5, i0_percent=0.1, shift_degree=150,
    )  # fmt: skip
    bus = {"hv": hv, "mv": mv, "lv": lv}[side]
    pp.create_switch(net, bus, t, et="t3", closed=False)
    ours = check(net)
    assert ours.res_trafo3w.vm_internal_pu.notna().all()


def test_trafo3w_out_of_service():
    net, hv, mv, _ = _base()
    t, _ = _trafo3w(net, hv, mv)
    net.trafo3w.loc[t, "in_service"] = False
    check(net)


def test_open_line_and_trafo_switches_keep_the_branch_energised():
    net, hv, mv, far = _base()
    far2 = pp.create_bus(net, 20)
    line = pp.create_line(net, far, far2, 6.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_switch(net, far2, line, et="l", closed=False)  # cable charged from far
    other = pp.create_line(net, mv, far2, 3.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_switch(net, mv, other, et="l", closed=False)  # cut at its from end
    lone = pp.create_bus(net, 20)
    both = pp.create_line(net, far, lone, 1.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_switch(net, far, both, et="l", closed=False)
    pp.create_switch(net, lone, both, et="l", closed=False)
    t = pp.create_transformer(net, hv, far2, "25 MVA 110/20 kV")
    pp.create_switch(net, far2, t, et="t", closed=False)  # magnetised from hv
    ours = check(net)
    assert ours.res_line.loc[line, "p_from_mw"] > 0
    assert ours.res_line.loc[line, "q_from_mvar"] < 0  # charging
    check(net, neglect_open_switch_branches=True)


def test_bus_bus_switches_fuse_buses_and_report_each_bus():
    net, hv, mv, far = _base()
    a = pp.create_bus(net, 20)
    b = pp.create_bus(net, 20)
    pp.create_switch(net, far, a, et="b", closed=True)
    pp.create_switch(net, a, b, et="b", closed=True)
    pp.create_load(net, a, p_mw=0.5, q_mvar=0.1)
    pp.create_sgen(net, b, p_mw=0.2)
    c = pp.create_bus(net, 20)
    pp.create_switch(net, far, c, et="b", closed=False)  # de-energised
    pp.create_load(net, c, p_mw=0.1)
    d = pp.create_bus(net, 20)
    pp.create_switch(net, mv, d, et="b", closed=True, z_ohm=0.5, in_ka=0.4)
    pp.create_load(net, d, p_mw=0.4, q_mvar=0.2)
    ours = check(net)
    assert ours.res_bus.loc[a, "p_mw"] == pytest.approx(0.5)
    assert ours.res_bus.loc[b, "p_mw"] == pytest.approx(-0.2)
    assert np.isnan(ours.res_bus.loc[c, "vm_pu"])


def test_impedance():
    net, hv, mv, far = _base()
    other = pp.create_bus(net, 20)
    pp.create_load(net, other, p_mw=1.0, q_mvar=0.2)
    pp.create_impedance(
        net, far, other, rft_pu=0.02, xft_pu=0.05, rtf_pu=0.02, xtf_pu=0.05, sn_mva=10,
        gf_pu=0.001, bf_pu=0.02, gt_pu=0.0, bt_pu=0.01,
    )  # fmt: skip
    check(net)
    net.impedance.loc[0, "xtf_pu"] = 0.06
    with pytest.raises(UnsupportedElementError, match="'impedance' .*row 0.*asymmetric"):
        gp.runpp(net)


@pytest.mark.parametrize("in_service", [True, False])
def test_ward_and_xward(in_service):
    net, hv, mv, far = _base()
    pp.create_ward(net, far, ps_mw=0.5, qs_mvar=0.2, pz_mw=0.1, qz_mvar=-0.3)
    pp.create_xward(
        net, mv, ps_mw=0.8, qs_mvar=0.1, pz_mw=0.05, qz_mvar=0.2, r_ohm=0.4, x_ohm=4.0,
        vm_pu=1.01, in_service=in_service,
    )  # fmt: skip
    ours = check(net)
    assert ours.res_xward.vm_internal_pu.notna().all() == in_service


def test_storage_motor_and_shunt_steps():
    net, hv, mv, far = _base()
    pp.create_storage(net, far, p_mw=-0.6, max_e_mwh=2, q_mvar=0.1, scaling=0.5)
    pp.create_storage(net, mv, p_mw=0.3, max_e_mwh=1, in_service=False)
    pp.create_motor(
        net, far, pn_mech_mw=0.4, cos_phi=0.85, efficiency_percent=92, loading_percent=80,
        scaling=0.9,
    )  # fmt: skip
    pp.create_shunt(net, far, q_mvar=-0.2, p_mw=0.01, step=3, max_step=4, vn_kv=21)
    pp.create_shunt(net, mv, q_mvar=-0.1, step=1, max_step=1)  # pandapower's default
    check(net)
    # a bank of several steps is a switched one (n1_ttc's voltage control may move it);
    # one of a single step is taken as fixed; both written back as they were
    ours = gridsim.from_pandapower(net)
    assert list(ours.shunt.max_step.fillna(-1.0)) == [4.0, -1.0]
    back = gridsim.to_pandapower(ours)
    assert list(back.shunt.max_step) == [4, 1] and list(back.shunt.step) == [3, 1]


def test_voltage_dependent_loads():
    """pandapower averages a bus's constant-impedance and constant-current shares over its
    loads and applies them to the bus's whole demand (sgens included); res_load uses each
    load's own."""
    net, hv, mv, far = _base()
    pp.create_load(net, far, p_mw=1.0, q_mvar=0.4, const_z_p_percent=30, const_z_q_percent=50)
    pp.create_load(net, mv, p_mw=2.0, q_mvar=0.5, const_z_p_percent=100, const_z_q_percent=20)
    pp.create_load(net, mv, p_mw=0.7, q_mvar=0.2, const_i_p_percent=60, const_i_q_percent=10)
    pp.create_sgen(net, far, p_mw=0.3)
    check(net)
    check(net, voltage_depend_loads=False)
    net.load.loc[0, "const_i_p_percent"] = 20
    net.load.loc[0, "const_i_q_percent"] = 45
    check(net)
    back = gridsim.to_pandapower(gridsim.from_pandapower(net))
    for c in ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent"):
        np.testing.assert_array_equal(back.load[c].to_numpy(float), net.load[c].to_numpy(float))


@pytest.mark.parametrize(
    ("kind", "step_percent", "step_degree"),
    [
        ("Ratio", 1.5, np.nan),
        ("Ratio", 1.5, 0.0),
        ("Symmetrical", 1.5, 60.0),
        ("Ideal", np.nan, 2.0),
        ("Ideal", 1.0, np.nan),
        (None, 1.5, np.nan),  # no tap changer type: pandapower ignores the tap
    ],
)
@pytest.mark.parametrize("side", ["hv", "lv"])
def test_tap_changer_types(kind, step_percent, step_degree, side):
    net, hv, mv, far = _base()
    net.trafo.loc[0, ["tap_side", "tap_pos", "tap_neutral"]] = [side, 4, 0]
    net.trafo.loc[0, ["tap_step_percent", "tap_step_degree"]] = [step_percent, step_degree]
    net.trafo["tap_changer_type"] = net.trafo.tap_changer_type.astype(object)
    net.trafo.loc[0, "tap_changer_type"] = kind
    check(net)


def test_second_tap_changer():
    net, hv, mv, far = _base()
    net.trafo.loc[0, ["tap_side", "tap_pos", "tap_step_percent"]] = ["hv", -2, 1.5]
    for c, v in (("tap2_side", "lv"), ("tap2_pos", 3), ("tap2_neutral", 0)):
        net.trafo[c] = v
    net.trafo["tap2_step_percent"] = 0.0
    net.trafo["tap2_step_degree"] = 1.5
    net.trafo["tap2_changer_type"] = "Ideal"
    check(net)


def test_calculate_voltage_angles_false_ignores_shifts():
    net, hv, mv, far = _base()
    net.trafo.loc[0, "shift_degree"] = 150
    ref = check(net, calculate_voltage_angles=False)
    assert abs(ref.res_bus.va_degree).max() < 5


def test_gen_q_limits_and_sgen_clipping():
    net, hv, mv, far = _base()
    pp.create_gen(net, far, p_mw=1.0, vm_pu=1.05, min_q_mvar=-0.2, max_q_mvar=0.2)
    net.sgen["min_q_mvar"] = -0.1
    net.sgen["max_q_mvar"] = 0.1
    check(net, enforce_q_lims=True)


@pytest.mark.parametrize(
    "options",
    [
        {"trafo_loading": "power"},
        {"trafo_model": "pi"},
        {"init": "flat"},
        {"init": "dc", "tolerance_mva": 1e-6, "max_iteration": 20},
    ],
    ids=lambda o: ",".join(o),
)
def test_runpp_options(options):
    net, hv, mv, far = _base(sn_mva=10)
    net.trafo.loc[0, "shift_degree"] = 30
    check(net, **options)


def test_flags_about_how_pandapower_computes_are_ignored():
    net, *_ = _base()
    ref, _ = solve_both(net)
    ours = copy.deepcopy(net)
    gp.runpp(ours, numba=False, lightsim2grid=True, recycle=None, check_connectivity=False)
    assert_same_results(ref, ours)


def test_user_pf_options_apply_unless_passed():
    """As pandapower: a user option holds unless an option is passed with a value other
    than its default."""
    net, hv, mv, far = _base()
    pp.set_user_pf_options(net, trafo_model="pi", trafo_loading="power")
    check(net)
    check(net, trafo_loading="current")  # the default: the user option holds
    check(net, trafo_model="t")


def test_init_results_restarts_from_the_last_solution():
    net, hv, mv, far = _base()
    gp.runpp(net)
    net.load.loc[0, "p_mw"] = 3.5
    check(net, init="results")


def test_dcline():
    net, hv, mv, far = _base()
    other = pp.create_bus(net, 110)
    pp.create_ext_grid(net, other, vm_pu=1.0)
    pp.create_dcline(
        net, hv, other, p_mw=5, loss_percent=1.2, loss_mw=0.2, vm_from_pu=1.02, vm_to_pu=1.0
    )
    check(net)


def test_refused_options_and_unknown_keywords():
    net, *_ = _base()
    with pytest.raises(UnsupportedElementError, match="enforce_p_lims"):
        gp.runpp(net, enforce_p_lims=True)
    with pytest.raises(TypeError, match="no_such_option"):
        gp.runpp(net, no_such_option=1)


def test_tables_without_a_part_in_the_power_flow_are_ignored_with_a_note():
    net, hv, mv, far = _base()
    pp.create_measurement(net, "v", "bus", 1.01, 0.01, element=far)
    pp.create_poly_cost(net, 0, "ext_grid", cp1_eur_per_mw=10)
    with pytest.warns(UserWarning, match="table\\(s\\) measurement ignored"):
        gridsim.from_pandapower(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(net)


def test_from_pandapower_models_open_switches_and_fused_buses():
    """Without the drop-in: from_pandapower + run_ac give pandapower's voltages on a net
    with bus-bus switches, an open line switch and a trafo3w (all refused or mis-modelled
    before issue 16)."""
    net, hv, mv, far = _base()
    _trafo3w(net, hv, mv, tap_side="lv", tap_pos=2, tap_step_percent=1.0)
    a = pp.create_bus(net, 20)
    pp.create_switch(net, far, a, et="b")
    line = pp.create_line(net, a, mv, 5.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_switch(net, mv, line, et="l", closed=False)
    ref, _ = (net, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(ref, lightsim2grid=False)
    res = gridsim.run_ac(gridsim.from_pandapower(net))
    assert res.converged
    vm = res.bus.vm_pu.loc[net.bus.index[net.bus.index != a]]
    np.testing.assert_allclose(vm, net.res_bus.vm_pu.loc[vm.index], atol=1e-6)


def test_svc_at_a_fixed_firing_angle():
    net, hv, mv, far = _base()
    net.trafo["shift_degree"] = 0.0  # pandapower's FACTS Newton diverges with the 150 degrees
    pp.create_svc(
        net, far, x_l_ohm=500, x_cvar_ohm=-600, set_vm_pu=1.0, thyristor_firing_angle_degree=145,
        controllable=False,
    )  # fmt: skip
    pp.create_svc(
        net, mv, x_l_ohm=400, x_cvar_ohm=-600, set_vm_pu=1.0, thyristor_firing_angle_degree=120,
        controllable=False, in_service=False,
    )  # fmt: skip
    check(net)
