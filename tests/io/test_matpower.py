"""MATPOWER reader and writer, checked against PYPOWER's runpf and makeYbus.

The ``.m`` files in ``tests/data/matpower`` are PYPOWER's bundled cases written by
``make_cases.py`` plus the hand-made ``case8_quirks.m``. Reference solutions come from
PYPOWER (``runpf``); gridsim starts flat, PYPOWER from the case's voltages.

PYPOWER 5.1 needs two patches under numpy 2 / for MATPOWER fidelity, applied in the
helpers below only:

* ``ext2int`` orders generators with an unstable ``argsort``, which can reorder gens at
  one bus (MATLAB's ``sort`` is stable, and the order decides which gen takes the slack
  power and whose ``VG`` counts); it is patched to a stable sort.
* ``runpf``'s Q-limit branch (``ENFORCE_Q_LIMS``) indexes with a float array and
  compares ``bus_type == PV | bus_type == REF`` without parentheses, so it crashes;
  :func:`_runpf_qlim` is a line-by-line port of MATPOWER's ``runpf.m`` Q-limit loop
  built on PYPOWER's own ``bustypes``/``makeYbus``/``makeSbus``/``newtonpf``/``pfsoln``.
"""

from __future__ import annotations

import copy
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pypower = pytest.importorskip("pypower")

import pypower.ext2int as pp_ext2int  # noqa: E402
from pypower.bustypes import bustypes  # noqa: E402
from pypower.idx_brch import PF, PT, QF, QT  # noqa: E402
from pypower.idx_bus import BUS_TYPE, PD, PQ, PV, QD, REF, VA, VM  # noqa: E402
from pypower.idx_gen import GEN_BUS, GEN_STATUS, PG, QG, QMAX, QMIN, VG  # noqa: E402
from pypower.int2ext import int2ext  # noqa: E402
from pypower.makeSbus import makeSbus  # noqa: E402
from pypower.makeYbus import makeYbus  # noqa: E402
from pypower.newtonpf import newtonpf  # noqa: E402
from pypower.pfsoln import pfsoln  # noqa: E402
from pypower.ppoption import ppoption  # noqa: E402
from pypower.runpf import runpf  # noqa: E402

from gridsim import Network, run_ac  # noqa: E402
from gridsim.exceptions import InvalidNetworkError, UnsupportedElementError  # noqa: E402
from gridsim.io.matpower import parse_matpower, read_matpower, write_matpower  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "matpower"
_spec = importlib.util.spec_from_file_location("make_cases", DATA / "make_cases.py")
make_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_cases)

CASE_FILES = sorted(DATA.glob("*.m"))
QUIRKS = DATA / "case8_quirks.m"
PF_OPTIONS = {"VERBOSE": 0, "OUT_ALL": 0, "PF_TOL": 1e-10}


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _stable_gen_order(monkeypatch):
    """PYPOWER's ext2int sorts gens by bus with an unstable argsort; MATLAB's is stable."""
    monkeypatch.setattr(pp_ext2int, "argsort", lambda a: np.argsort(a, kind="stable"))


def _ppc(path: Path) -> dict:
    d = parse_matpower(path.read_text(), str(path))
    return {k: copy.deepcopy(d[k]) for k in ("baseMVA", "bus", "gen", "branch")}


def _read(path: Path) -> Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_matpower(path)


def _solve(net: Network, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = run_ac(net, tol_mva=1e-8, **kw)
    assert res.converged, res.message
    return res


def _runpf_qlim(ppc: dict, ppopt: dict, limit_ref: bool = True) -> dict:
    """MATPOWER's ``runpf`` with ``ENFORCE_Q_LIMS = 1`` (see the module docstring).

    ``limit_ref=False`` exempts gens at REF buses from the limits (pandapower's rule).
    """
    nbr = ppc["branch"].shape[0]
    ppc["branch"] = np.c_[ppc["branch"], np.zeros((nbr, QT + 1 - ppc["branch"].shape[1]))]
    ppc = pp_ext2int.ext2int(ppc)
    base, bus, gen, branch = ppc["baseMVA"], ppc["bus"], ppc["gen"], ppc["branch"]
    ref, pv, pq = bustypes(bus, gen)
    on = np.flatnonzero(gen[:, GEN_STATUS] > 0)
    gbus = gen[on, GEN_BUS].astype(int)
    v0 = bus[:, VM] * np.exp(1j * np.pi / 180 * bus[:, VA])
    vcb = np.ones(v0.shape)
    vcb[pq] = 0
    k = np.flatnonzero(vcb[gbus])
    v0[gbus[k]] = gen[on[k], VG] / abs(v0[gbus[k]]) * v0[gbus[k]]
    ref0, va_ref0 = ref, bus[ref, VA].copy()
    limited = np.zeros(0, dtype=int)
    fixed_qg = np.zeros(gen.shape[0])
    ybus, yf, yt = makeYbus(base, bus, branch)
    while True:
        sbus = makeSbus(base, bus, gen)
        v, success, _ = newtonpf(ybus, sbus, v0, ref, pv, pq, ppopt)
        assert success
        bus, gen, branch = pfsoln(base, bus, gen, branch, ybus, yf, yt, v, ref, pv, pq)
        status = gen[:, GEN_STATUS] > 0
        gbus_all = gen[:, GEN_BUS].astype(int)
        if not limit_ref:
            status &= bus[gbus_all, BUS_TYPE] != REF
        mx = np.flatnonzero(status & (gen[:, QG] > gen[:, QMAX] + ppopt["OPF_VIOLATION"]))
        mn = np.flatnonzero(status & (gen[:, QG] < gen[:, QMIN] - ppopt["OPF_VIOLATION"]))
        if mx.size == 0 and mn.size == 0:
            break
        remaining = np.flatnonzero(status & np.isin(bus[gbus_all, BUS_TYPE], (PV, REF)))
        assert not np.array_equal(np.union1d(mx, mn), remaining), "infeasible Q limits"
        fixed_qg[mx] = gen[mx, QMAX]
        fixed_qg[mn] = gen[mn, QMIN]
        mx = np.r_[mx, mn].astype(int)
        gen[mx, QG] = fixed_qg[mx]
        for i in mx:  # one at a time, since they may be at the same bus
            gen[i, GEN_STATUS] = 0
            bus[gbus_all[i], [PD, QD]] -= gen[i, [PG, QG]]
        assert not (len(ref) > 1 and (bus[gbus_all[mx], BUS_TYPE] == REF).any())
        bus[gbus_all[mx], BUS_TYPE] = PQ
        ref_temp = ref
        ref, pv, pq = bustypes(bus, gen)
        if not np.array_equal(ref, ref_temp):
            bus[ref, BUS_TYPE] = REF
            bus[pv, BUS_TYPE] = PV
        limited = np.r_[limited, mx].astype(int)
    if limited.size:
        gen[limited, QG] = fixed_qg[limited]
        for i in limited:
            bus[int(gen[i, GEN_BUS]), [PD, QD]] += gen[i, [PG, QG]]
            gen[i, GEN_STATUS] = 1
        if not np.array_equal(ref, ref0):
            bus[:, VA] = bus[:, VA] - bus[ref0, VA] + va_ref0
    ppc["bus"], ppc["gen"], ppc["branch"] = bus, gen, branch
    return int2ext(ppc)


def _pypower(ppc: dict, qlim: bool = False, limit_ref: bool = True) -> dict:
    opt = ppoption(**PF_OPTIONS)
    if qlim:
        return _runpf_qlim(copy.deepcopy(ppc), opt, limit_ref)
    res, ok = runpf(copy.deepcopy(ppc), opt)
    assert ok
    return res


def _compare(net: Network, res, ref: dict) -> None:
    """gridsim result ``res`` of ``net`` against PYPOWER's solved case ``ref``."""
    bus = ref["bus"]
    on = bus[:, BUS_TYPE] != 4
    ids = bus[on, 0].astype(int)
    rb = res.bus.loc[ids]
    np.testing.assert_allclose(rb.vm_pu.to_numpy(), bus[on, VM], atol=1e-6, rtol=0)
    np.testing.assert_allclose(rb.va_degree.to_numpy(), bus[on, VA], atol=1e-5, rtol=0)
    # branches: ids are row numbers; out-of-service ones are not in the result
    br = res.branch.droplevel("element")
    rows = br.index.to_numpy(dtype=int) - 1
    assert br.index.is_unique
    expected = ref["branch"][rows][:, [PF, QF, PT, QT]]
    got = br[["p_from_mw", "q_from_mvar", "p_to_mw", "q_to_mvar"]].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-3, rtol=0)
    out_rows = np.setdiff1d(np.arange(len(ref["branch"])), rows)
    assert not ref["branch"][out_rows][:, [PF, QF, PT, QT]].any()
    # generators: gen and sgen ids are row numbers
    gens = pd.concat([res.gen[["p_mw", "q_mvar"]], res.sgen[["p_mw", "q_mvar"]]])
    rows = gens.index.to_numpy(dtype=int) - 1
    np.testing.assert_allclose(gens.to_numpy(), ref["gen"][rows][:, [PG, QG]], atol=1e-3, rtol=0)
    online = np.flatnonzero(ref["gen"][:, GEN_STATUS] > 0)
    online = online[np.isin(ref["gen"][online, GEN_BUS], ids)]
    assert set(rows) == set(online)


# ---------------------------------------------------------------------------------------
# against PYPOWER
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_ybus_matches_makeybus(path):
    ppc = _ppc(path)
    internal = pp_ext2int.ext2int(copy.deepcopy(ppc))
    y_ref, _, _ = makeYbus(internal["baseMVA"], internal["bus"], internal["branch"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # conflicting setpoints (case8_quirks)
        cn = _read(path).compile()
    assert list(cn.bus_ids) == [int(b) for b in ppc["bus"][ppc["bus"][:, 1] != 4, 0]]
    diff = abs(cn.ybus() - y_ref)
    assert diff.max() <= 1e-12


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_ac_matches_runpf(path):
    net = _read(path)
    _compare(net, _solve(net), _pypower(_ppc(path)))


@pytest.mark.parametrize("name", ["case30", "case118", "case8_quirks", "case300"])
def test_ac_q_limits_match_matpower(name):
    """MATPOWER's rule (the default for .m files) limits the slack too. case300's REF gen
    (bus 7049, QMAX = 10 Mvar) needs 38.8 Mvar: MATPOWER fixes it at 10 Mvar, makes bus
    7049 PQ and bus 8 (bustypes: first PV bus) the reference; bus 8's gen then hits its
    own QMAX and bus 84 takes over; angles are turned back to bus 7049's."""
    path = DATA / f"{name}.m"
    net = _read(path)
    assert net.q_limit_rule == "matpower"
    res = _solve(net, enforce_q_limits=True)
    ref = _pypower(_ppc(path), qlim=True)
    _compare(net, res, ref)


@pytest.mark.parametrize("name", ["case30", "case118", "case300", "case8_quirks"])
def test_ac_q_limits_match_matpower_with_unlimited_slack(name):
    """With REF-bus gens exempt from Q limits (pandapower's rule), MATPOWER's loop and
    gridsim agree."""
    path = DATA / f"{name}.m"
    net = _read(path)
    res = _solve(net, enforce_q_limits=True, q_limit_rule="pandapower")
    _compare(net, res, _pypower(_ppc(path), qlim=True, limit_ref=False))
    assert (
        len(res.q_limited_buses)
        == {"case30": 0, "case118": 6, "case300": 10, "case8_quirks": 1}[name]
    )


def test_generated_files_match_pypower_cases():
    for name in make_cases.CASES:
        ppc = make_cases.pypower_case(name)
        parsed = parse_matpower((DATA / f"{name}.m").read_text())
        assert parsed["name"] == name
        assert parsed["baseMVA"] == ppc["baseMVA"]
        for key in ("bus", "gen", "branch", "gencost"):
            if key in ppc:
                np.testing.assert_array_equal(parsed[key], ppc[key])
            else:
                assert key not in parsed


def test_generated_files_are_current(tmp_path):
    for path in make_cases.main(tmp_path):
        assert path.read_text() == (DATA / path.name).read_text(), f"rerun make_cases.py ({path})"


# ---------------------------------------------------------------------------------------
# the hand-made case: mapping of MATPOWER's rules
# ---------------------------------------------------------------------------------------
def test_quirks_parse():
    d = parse_matpower(QUIRKS.read_text(), str(QUIRKS))
    assert d["name"] == "case8_quirks" and d["version"] == "2" and d["baseMVA"] == 100.0
    assert d["bus"].shape == (8, 13) and d["gen"].shape == (8, 10)
    assert d["branch"].shape == (13, 11) and d["gencost"].shape == (8, 7)
    assert d["bus_name"][7] == "South 'B' 138"
    assert d["genfuel"] == ["hydro", "gas", "coal", "gas", "wind", "gas", "diesel", "hydro"]
    np.testing.assert_array_equal(d["areas"], [[1, 1], [2, 4]])
    assert d["bus"][5, 5] == 15  # the comma-separated row


def test_quirks_mapping():
    net = _read(QUIRKS)
    assert (net.name, net.source, net.sn_mva, net.trafo_model) == (
        "case8_quirks",
        str(QUIRKS),
        100.0,
        "pi",
    )
    assert list(net.bus.index) == list(range(1, 9))
    assert net.bus.loc[3, "name"] == "Centre 345" and net.bus.loc[4, "zone"] == "2"
    assert not net.bus.loc[5, "in_service"] and net.bus.in_service.sum() == 7
    # gens at PV/REF buses are gens; the gen at PQ bus 3 is a fixed sgen
    assert list(net.gen.index) == [1, 2, 3, 4, 6, 7, 8]
    assert list(net.sgen.index) == [5]
    assert net.sgen.loc[5, ["p_mw", "q_mvar"]].tolist() == [30.0, 10.0]
    assert net.gen.slack.tolist() == [True] + [False] * 6
    assert net.gen.loc[1, "va_degree"] == 5.0
    assert net.gen.loc[1, "vm_pu"] == 1.05  # the last online gen at the REF bus sets V
    assert net.gen.in_service.tolist() == [True, True, True, True, False, False, True]
    # branches: lines and trafos by row number
    assert list(net.line.index) == [1, 2, 3, 4, 5, 6, 7, 11, 12, 13]
    assert list(net.trafo.index) == [8, 9, 10]
    assert np.isnan(net.line.loc[2, "rate_mva"]) and net.line.loc[1, "rate_mva"] == 400
    assert not net.line.loc[6, "in_service"] and not net.line.loc[7, "in_service"]
    t = net.trafo
    assert (t.loc[10, "hv_bus"], t.loc[10, "lv_bus"]) == (8, 4)  # the tap side, at 138 kV
    assert t.loc[10, "vn_hv_kv"] == pytest.approx(0.975 * 138) and t.loc[10, "vn_lv_kv"] == 345
    assert t.loc[9, "vn_hv_kv"] == 345 and t.loc[9, "shift_degree"] == 5
    assert t.loc[8, "i0_percent"] == pytest.approx(-3.0)
    assert net.line.loc[5, "x_ohm_per_km"] < 0
    assert net.load.loc[5, "p_mw"] == 10 and net.shunt.loc[6, "q_mvar"] == -15
    assert net.shunt.loc[3, "p_mw"] == 1 and net.shunt.loc[3, "q_mvar"] == 0


def test_quirks_voltage_setpoints_last_gen_wins():
    res = _solve(_read(QUIRKS))
    assert res.bus.loc[1, "vm_pu"] == pytest.approx(1.05, abs=1e-12)
    assert res.bus.loc[2, "vm_pu"] == pytest.approx(1.03, abs=1e-12)
    assert res.bus.loc[4, "vm_pu"] != pytest.approx(1.01, abs=1e-4)  # PV without gen: PQ
    assert 5 not in res.bus.index  # isolated: not energised


def test_no_ref_gen_first_pv_bus_is_reference(tmp_path):
    text = (
        QUIRKS.read_text()
        .replace("\t1\t0\t0\t300\t-300\t1.04\t100\t1", "\t1\t0\t0\t300\t-300\t1.04\t100\t0")
        .replace("\t1\t50\t0\t100\t-100\t1.05\t100\t1", "\t1\t50\t0\t100\t-100\t1.05\t100\t0")
    )
    path = tmp_path / "noref.m"
    path.write_text(text)
    with pytest.warns(UserWarning, match="bus 2 .*first PV bus"):
        net = read_matpower(path)
    assert net.gen.slack.tolist() == [False, False, True, False, False, False, False]
    assert net.gen.loc[3, "va_degree"] == 3.0
    ppc = _ppc(path)
    _compare(net, _solve(net), _pypower(ppc))


def test_base_kv_zero_warns(tmp_path):
    path = tmp_path / "c.m"
    path.write_text(_mini().replace("345\t1\t1.1", "0\t1\t1.1"))
    with pytest.warns(UserWarning, match="BASE_KV <= 0"):
        net = read_matpower(path)
    assert net.bus.vn_kv.tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------------------
# writer
# ---------------------------------------------------------------------------------------
def _rich_tables() -> dict:
    """Tables of a network using what the writer supports, with non-integer bus ids."""
    bus = [{"id": f"B{k}", "vn_kv": kv} for k, kv in enumerate((220, 220, 110, 110, 20), 1)]
    bus.append({"id": "X", "vn_kv": 20, "in_service": False})
    tables = {
        "bus": bus,
        "line": [
            {
                "id": "L1",
                "from_bus": "B1",
                "to_bus": "B2",
                "length_km": 80,
                "r_ohm_per_km": 0.05,
                "x_ohm_per_km": 0.4,
                "b_us_per_km": 2.8,
                "parallel": 2,
                "rate_mva": 500,
            },
            {
                "id": "L2",
                "from_bus": "B3",
                "to_bus": "B4",
                "length_km": 30,
                "r_ohm_per_km": 0.1,
                "x_ohm_per_km": 0.38,
                "b_us_per_km": 3.0,
            },
            {
                "id": "L3",
                "from_bus": "B5",
                "to_bus": "X",
                "length_km": 1,
                "r_ohm_per_km": 0.1,
                "x_ohm_per_km": 0.1,
            },
        ],
        "trafo": [
            {
                "id": "T1",
                "hv_bus": "B2",
                "lv_bus": "B3",
                "sn_mva": 250,
                "vn_hv_kv": 230,
                "vn_lv_kv": 110,
                "vk_percent": 12,
                "vkr_percent": 0.4,
                "i0_percent": 0.05,
                "shift_degree": 30,
                "tap_side": "hv",
                "tap_pos": 2,
                "tap_step_percent": 1.25,
                "parallel": 2,
            },
            {
                "id": "T2",
                "hv_bus": "B4",
                "lv_bus": "B5",
                "sn_mva": 40,
                "vn_hv_kv": 110,
                "vn_lv_kv": 21,
                "vk_percent": 10,
                "vkr_percent": 0.6,
                "i0_percent": -0.1,
                "tap_side": "lv",
                "tap_pos": 0,
                "tap_step_percent": 1.5,
            },
        ],
        "ext_grid": [{"id": "grid", "bus": "B1", "vm_pu": 1.02, "va_degree": 10}],
        "gen": [
            {
                "id": "G1",
                "bus": "B3",
                "p_mw": 80,
                "vm_pu": 1.01,
                "min_q_mvar": -60,
                "max_q_mvar": 60,
            },
            {"id": "G2", "bus": "B1", "p_mw": 30, "vm_pu": 1.0},
        ],
        "sgen": [
            {"id": "PV1", "bus": "B5", "p_mw": 10, "q_mvar": 1},
            {"id": "PV2", "bus": "B3", "p_mw": 5, "q_mvar": -2},
        ],
        "load": [
            {"id": "D1", "bus": "B4", "p_mw": 90, "q_mvar": 30},
            {"id": "D2", "bus": "B4", "p_mw": 10, "q_mvar": 5},
            {"id": "D3", "bus": "B5", "p_mw": 25, "q_mvar": 8},
        ],
        "shunt": [
            {"id": "C1", "bus": "B4", "q_mvar": -20, "vn_kv": 105, "step": 2},
            {"id": "R1", "bus": "B5", "p_mw": 0.5},
        ],
    }
    return tables


def _rich_network() -> Network:
    return Network(_rich_tables(), sn_mva=100, trafo_model="pi", name="rich")


def test_write_read_round_trip_network(tmp_path):
    net = _rich_network()
    res = _solve(net)
    path = write_matpower(net, tmp_path / "rich.m")
    back = _read(path)
    assert back.name == "rich" and list(back.bus.index) == list(range(1, 7))
    assert parse_matpower(path.read_text())["bus_name"] == [f"B{k}" for k in range(1, 6)] + ["X"]
    res2 = _solve(back)
    np.testing.assert_allclose(res2.v, res.v, atol=1e-9)
    np.testing.assert_allclose(
        abs(back.compile().ybus() - net.compile().ybus()).max(), 0, atol=1e-9
    )
    # slack power: the ext_grid (first gen row at the REF bus) takes what G2 does not
    assert res2.gen.loc[1, "p_mw"] == pytest.approx(res.ext_grid.loc["grid", "p_mw"], abs=1e-6)


def test_write_read_round_trip_matpower_network(tmp_path):
    net = _read(QUIRKS)
    back = _read(write_matpower(net, tmp_path / "again.m"))
    np.testing.assert_allclose(_solve(back).v, _solve(net).v, atol=1e-10)
    np.testing.assert_allclose(
        abs(back.compile().ybus() - net.compile().ybus()).max(), 0, atol=1e-12
    )


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda t: t.update(hvdc=[{"id": "H", "from_bus": "B1", "to_bus": "B5", "p_mw": 5}]),
            "hvdc 'H'",
        ),
        (lambda t: t["trafo"][1].update(tap_pos=2), "trafo 'T2': a tap changer off neutral"),
        (lambda t: t["trafo"][0].update(pfe_kw=30), "trafo 'T1': its magnetising branch"),
        (lambda t: t["line"][0].update(g_us_per_km=0.1), "line 'L1': shunt conductance"),
    ],
)
def test_write_unsupported(tmp_path, edit, words):
    tables = _rich_tables()
    edit(tables)
    bad = Network(tables, sn_mva=100, trafo_model="pi")
    with pytest.raises(UnsupportedElementError, match=words):
        write_matpower(bad, tmp_path / "x.m")


def test_write_t_model_magnetising_unsupported(tmp_path):
    net = _rich_network()
    t_net = Network(net.tables, sn_mva=100, trafo_model="t")
    with pytest.raises(UnsupportedElementError, match="trafo_model 't'"):
        write_matpower(t_net, tmp_path / "x.m")


# ---------------------------------------------------------------------------------------
# syntax and bad input
# ---------------------------------------------------------------------------------------
def _mini(
    bus: str | None = None, gen: str | None = None, branch: str | None = None, extra: str = ""
) -> str:
    bus = bus or (
        "\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        "\t2\t1\t50\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
    )
    gen = gen or "\t1\t0\t0\t100\t-100\t1.0\t100\t1\t100\t0;\n"
    branch = branch or "\t1\t2\t0.01\t0.1\t0.02\t100\t100\t100\t0\t0\t1;\n"
    return (
        "function mpc = mini\nmpc.version = '2';\nmpc.baseMVA = 100;\n"
        f"mpc.bus = [\n{bus}];\nmpc.gen = [\n{gen}];\nmpc.branch = [\n{branch}];\n{extra}"
    )


def test_syntax_variants(tmp_path):
    text = (
        "% leading comment\n\nfunction mpc = variants % trailing comment\n"
        "mpc.version = '2';\nmpc.baseMVA = 1e2 ;\n"
        "mpc.bus = [1, 3, 0, 0, 0, 0, 1, 1, 0, 345, 1, 1.1, 0.9; 2 1 50 10 0 0 1 1 0 ...\n"
        "   345 1 1.1 0.9\n\n];\n"
        "mpc.gen = [ 1 0 0 Inf -Inf 1.0 100 1 Inf -Inf ];\n"
        "mpc.branch = [\n  1 2 .01 1e-1 0.02 100 100 100 0 0 1 % c\n];\n"
        "mpc.note = 'text with % and ; inside';\nmpc.areas = [];\nmpc.other = 3\nend\n"
    )
    path = tmp_path / "variants.m"
    path.write_text(text)
    d = parse_matpower(text)
    assert d["bus"].shape == (2, 13) and d["bus"][1, 9] == 345
    assert d["note"] == "text with % and ; inside" and d["other"] == 3.0
    net = read_matpower(path)
    assert net.name == "variants"
    assert np.isinf(net.gen.loc[1, "max_q_mvar"]) and np.isnan(net.gen.loc[1, "max_p_mw"])
    assert _solve(net).converged


@pytest.mark.parametrize("end", ["\r\n", "\r"], ids=["crlf", "cr-only"])
def test_crlf_and_cr_line_endings(tmp_path, end):
    path = tmp_path / "crlf.m"
    path.write_bytes(_mini().replace("\n", end).encode())
    net = read_matpower(path)
    assert net.name == "mini" and len(net.bus) == 2 and len(net.line) == 1


def test_negative_resistance_branch_is_a_ratio_one_trafo(tmp_path):
    branch = (
        "\t1\t2\t0.01\t0.1\t0.02\t100\t100\t100\t0\t0\t1;\n"
        "\t1\t2\t-0.002\t0.05\t0.01\t100\t100\t100\t0\t0\t1;\n"
    )
    path = tmp_path / "negr.m"
    path.write_text(_mini(branch=branch))
    net = read_matpower(path)
    assert list(net.line.index) == [1] and list(net.trafo.index) == [2]
    assert net.trafo.loc[2, "vn_hv_kv"] == 345 and net.trafo.loc[2, "vkr_percent"] == -0.2
    ppc = pp_ext2int.ext2int(_ppc(path))
    y_ref, _, _ = makeYbus(ppc["baseMVA"], ppc["bus"], ppc["branch"])
    assert abs(net.compile().ybus() - y_ref).max() <= 1e-12
    _compare(net, _solve(net), _pypower(_ppc(path)))


def test_file_without_function_header_uses_stem(tmp_path):
    path = tmp_path / "script_case.m"
    path.write_text(_mini().replace("function mpc = mini\n", ""))
    assert read_matpower(path).name == "script_case"


BAD_CASES = [
    ("", "file is empty"),
    ("   \n\n", "file is empty"),
    (
        _mini(branch="\t1\t999\t0.01\t0.1\t0\t0\t0\t0\t0\t0\t1;\n"),
        "branch row 1: to bus 999 does not exist",
    ),
    (
        _mini(
            branch="\t1\t2\t0.01\t0.1\t0\t0\t0\t0\t0\t0\t1;\n\t7\t2\t0.01\t0.1\t0\t0\t0\t0\t0\t0\t1;\n"
        ),
        "branch row 2: from bus 7 does not exist",
    ),
    (_mini(gen="\t3\t0\t0\t100\t-100\t1.0\t100\t1\t100\t0;\n"), "gen row 1: bus 3 does not exist"),
    (
        _mini(bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0;\n"),
        "bus row 1 (mpc.bus): expected 13 columns, found 9 (truncated matrix?)",
    ),
    (
        _mini(bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n\t2\t1\t50\t10\t0;\n"),
        "bus row 2 (mpc.bus): expected 13 columns, found 5 (truncated matrix?)",
    ),
    (
        _mini(
            bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9\t7;\n"
            "\t2\t1\t50\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        ),
        "bus row 2 (mpc.bus): 13 values, but row 1 has 14",
    ),
    (
        _mini(
            gen="\t1\t0\t0\t100\t-100\t1.0\t100\t1\t100\t0;\n\t1\tabc\t0\t100\t-100\t1\t100\t1\t1\t0;\n"
        ),
        "gen row 2: PG = 'abc' is not a number",
    ),
    (
        _mini(gen="\t1\t0\t0\t100\t-100\t1.0\t100\t1\t100\t0\tx;\n"),
        "gen row 1: column 11 = 'x' is not a number",
    ),
    (
        _mini(
            bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
            "\t7\t1\t50\t10\t0\t0\t1\tNaN\t0\t345\t1\t1.1\t0.9;\n"
        ),
        "bus 7: VM is NaN",
    ),
    (_mini(branch="\t1\t2\t0.01\tInf\t0\t0\t0\t0\t0\t0\t1;\n"), "branch row 1: BR_X is infinite"),
    (_mini(gen="\t1\t0\tnan\t100\t-100\t1.0\t100\t1\t100\t0;\n"), "gen row 1: QG is NaN"),
    (
        _mini().replace(
            "mpc.branch = [\n\t1\t2\t0.01\t0.1\t0.02\t100\t100\t100\t0\t0\t1;\n];\n", ""
        ),
        "mpc.branch is missing",
    ),
    (_mini().replace("mpc.baseMVA = 100;\n", ""), "mpc.baseMVA is missing"),
    (
        _mini().replace("mpc.baseMVA = 100;", "mpc.baseMVA = abc;"),
        "mpc.baseMVA = 'abc' is not a number",
    ),
    (
        _mini(
            bus="\t5\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
            "\t5\t1\t50\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        ),
        "duplicate bus number 5",
    ),
    (
        _mini(
            branch="\t1\t2\t0.01\t0.1\t0\t0\t0\t0\t0\t0\t1;\n" * 3
            + "\t1\t2\t0\t0\t0\t0\t0\t0\t0\t0\t1;\n"
        ),
        "branch row 4: zero impedance (BR_R = BR_X = 0)",
    ),
    (
        _mini(
            bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
            "\t2\t5\t50\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        ),
        "bus 2: BUS_TYPE = 5 is not",
    ),
    (
        _mini(
            bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
            "\t2.5\t1\t50\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        ),
        "bus row 2: BUS_I = 2.5 is not a positive integer",
    ),
    (_mini(branch="\t1\t2\t0.01\t0.1\t0\t0\t0\t0\t0\t0\t2;\n"), "BR_STATUS = 2 is not 0 or 1"),
    (
        _mini(branch="\t2\t2\t0.01\t0.1\t0\t0\t0\t0\t0\t0\t1;\n"),
        "branch row 1: from bus equals to bus (2)",
    ),
    (
        _mini()
        .replace("mpc.branch = [", "mpc.branch = [\n% only a comment")
        .replace("];\n", "", 3)
        .replace("mpc.branch", "mpc.branch", 1),
        "has no closing ']'",
    ),
    (
        _mini(extra="mpc.bus(:, 10) = rand(1);\n"),
        "line 14: MATLAB code 'mpc.bus(:, 10) = rand(1)' is not supported",
    ),
    (_mini().replace("'2'", "'1'"), "mpc.version = '1' is not supported"),
    ("function [baseMVA, bus, gen, branch] = case9\nbaseMVA = 100;\n", "version 1 case file"),
    (_mini(extra="mpc.x = [1 2;\n"), "'mpc.x' has no closing ']'"),
    (_mini(extra="mpc.y = 'abc;\n"), "string is never closed"),
    (_mini(extra="mpc.z = 1 2;\n"), "line 14: unexpected '2;' after mpc.z"),
    (_mini(extra="%{\nnever closed\n"), "block comment '%{' is never closed"),
    (
        _mini(
            bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t0.9\t1.1;\n"
            "\t2\t1\t50\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        ),
        "bus 1: min_vm_pu exceeds max_vm_pu",
    ),  # from Network validation
]


@pytest.mark.parametrize(("text", "words"), BAD_CASES, ids=[w for _, w in BAD_CASES])
def test_bad_input(tmp_path, text, words):
    path = tmp_path / "bad.m"
    path.write_text(text)
    with pytest.raises(InvalidNetworkError) as info:
        _read(path)
    message = str(info.value)
    assert words in message
    assert message.startswith(f"{path}: ")
    assert "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(InvalidNetworkError, match="no such file"):
        read_matpower(tmp_path / "nope.m")
    with pytest.raises(InvalidNetworkError, match="not a file"):
        read_matpower(tmp_path)


@pytest.mark.parametrize(("text", "words"), BAD_CASES, ids=[w for _, w in BAD_CASES])
def test_bad_input_from_the_command_line(tmp_path, capsys, text, words):
    """``gridsim pf bad.m``: exit status 2 and one line naming file, element, problem."""
    from gridsim.cli import main

    path = tmp_path / "bad.m"
    path.write_text(text)
    assert main(["pf", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith(f"gridsim: error: {path}: ") and words in lines[0]


def test_island_without_slack_and_divergence_from_the_command_line(tmp_path, capsys):
    from gridsim.cli import main

    island = _mini(
        bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        "\t2\t1\t50\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        "\t3\t1\t30\t5\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        "\t4\t1\t30\t5\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n",
        branch="\t1\t2\t0.01\t0.1\t0.02\t100\t100\t100\t0\t0\t1;\n"
        "\t3\t4\t0.01\t0.1\t0.02\t100\t100\t100\t0\t0\t1;\n",
    )
    path = tmp_path / "island.m"
    path.write_text(island)
    assert main(["pf", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "island of 2 bus(es) (3, 4) has no slack" in err[0]

    heavy = _mini(
        bus="\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        "\t2\t1\t50000\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
    )
    path = tmp_path / "heavy.m"
    path.write_text(heavy)
    assert main(["pf", str(path), "--max-iter", "15"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did not converge after" in err[0] and "MVA" in err[0]
