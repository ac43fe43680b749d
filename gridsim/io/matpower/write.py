"""A network, or a PYPOWER ``ppc``, -> a MATPOWER version-2 case file."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridsim.exceptions import InvalidNetworkError, UnsupportedElementError
from gridsim.io.matpower.columns import ISOLATED, PQ_BUS, PV_BUS, REF_BUS
from gridsim.io.matpower.parse import _NUMBER


# ======================================================================================
# writer
# ======================================================================================
def write_matpower(network_or_ppc: Any, path: str | os.PathLike) -> Path:
    """Write a network, or a PYPOWER-style case dict, as a MATPOWER version-2 case file.

    Parameters
    ----------
    network_or_ppc : gridsim.Network or dict
        A network, or a dict with ``baseMVA`` and the ``bus``, ``gen`` and ``branch``
        arrays (``gencost`` and a ``bus_name`` list are written too when present), such
        as PYPOWER's ``case30()``; a dict's arrays are written as they are.
    path : str or os.PathLike
        The ``.m`` file to write; its stem, made a valid MATLAB identifier, is the
        function name.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    UnsupportedElementError
        For what a MATPOWER branch or gen row cannot express: in-service HVDC links,
        lines with shunt conductance, transformers with iron losses or a magnetising
        branch in the ``"t"`` model, transformers whose tap changer sits off-neutral on
        the lv side.

    Notes
    -----
    For a network: buses keep integer ids (other ids are numbered 1..n in table order
    and written as ``mpc.bus_name``); loads and shunts are summed per bus; each line or
    transformer is one branch row in its per-unit pi model (with the transformer's tap
    ratio and phase shift); ``ext_grid`` rows are written first, then slack gens, then
    the other gens, then the ``sgen`` rows, so that the first in-service gen at a REF bus
    is the slack when read back. A voltage-controlling bus gets MATPOWER type 2 (3 with
    a slack), and all gen rows there carry gridsim's effective voltage setpoint. An
    ``sgen`` becomes a fixed gen row only at a PQ bus; at a PV or REF bus (where
    MATPOWER would let it control the voltage) it is written as negative load instead,
    and an out-of-service one there is left out. NaN limits are written as ``Inf``.
    :func:`read_matpower` of the file solves to the same voltages. The bus columns
    ``vm_pu``/``va_degree`` (a stored solution, e.g. MATPOWER's own), where present and
    finite, are written as ``VM``/``VA`` (at REF buses ``VA`` is the slack's angle).
    """
    out = Path(path)
    fname = re.sub(r"\W", "_", out.stem) or "case"
    if not (fname[0].isalpha()):
        fname = "case_" + fname
    if isinstance(network_or_ppc, Mapping):
        ppc = dict(network_or_ppc)
        for key in ("baseMVA", "bus", "gen", "branch"):
            if key not in ppc:
                raise InvalidNetworkError(f"ppc has no {key!r}", str(path))
        title = f"{fname} (written from a PYPOWER case by gridsim)"
    else:
        ppc = _network_to_ppc(network_or_ppc)
        title = f"{network_or_ppc.name or fname} (written from a gridsim network)"
    out.write_text(_format_case(ppc, fname, title))
    return out


def _network_to_ppc(net) -> dict[str, Any]:
    from gridsim.model.compile import trafo_parameters

    src = net.source
    sn = net.sn_mva
    bus = net.bus
    nb = len(bus)
    hvdc_on = net.hvdc.in_service.to_numpy()
    if hvdc_on.any():
        raise UnsupportedElementError(
            f"hvdc {net.hvdc.index[hvdc_on][0]!r}: HVDC links cannot be written to a MATPOWER "
            "case (mpc.dcline is not supported)",
            src,
        )
    ids = list(bus.index)
    integer = all(
        isinstance(i, int | np.integer) and not isinstance(i, bool) and i > 0 for i in ids
    )
    numbers = np.array(ids, dtype=np.int64) if integer else np.arange(1, nb + 1)
    pos = {i: k for k, i in enumerate(ids)}
    on_bus = bus.in_service.to_numpy()
    vn = bus.vn_kv.to_numpy(dtype=float)

    def rows(series: pd.Series) -> np.ndarray:
        return np.array([pos[i] for i in series], dtype=np.int64)

    def col(table: pd.DataFrame, name: str) -> np.ndarray:
        return table[name].to_numpy(dtype=float)

    def inf(values: np.ndarray, sign: float) -> np.ndarray:
        return np.where(np.isnan(values), sign * np.inf, values)

    # -- bus types and effective setpoints (gridsim's compile rule) -------------------
    btype = np.where(on_bus, PQ_BUS, ISOLATED)
    vm_set = np.ones(nb)
    va_set = np.zeros(nb)
    gen, ext = net.gen, net.ext_grid
    g_rows, e_rows = rows(gen.bus), rows(ext.bus)
    g_slack = gen.slack.to_numpy(dtype=bool)
    cands = []  # (rank, table order, bus row, vm, slack, va): ext_grid > slack gen > gen
    for k in np.flatnonzero(gen.in_service.to_numpy() & on_bus[g_rows]):
        s = bool(g_slack[k])
        cands.append((2 if s else 1, k, g_rows[k], gen.vm_pu.iloc[k], s, gen.va_degree.iloc[k]))
    for k in np.flatnonzero(ext.in_service.to_numpy() & on_bus[e_rows]):
        cands.append((3, k, e_rows[k], ext.vm_pu.iloc[k], True, ext.va_degree.iloc[k]))
    for _rank, _k, rw, v, s, a in sorted(cands, key=lambda c: (c[0], c[1])):
        vm_set[rw] = v
        if s:
            btype[rw] = REF_BUS
            va_set[rw] = a
        elif btype[rw] != REF_BUS:
            btype[rw] = PV_BUS
    controlled = np.isin(btype, (PV_BUS, REF_BUS))

    # -- loads and shunts ---------------------------------------------------------------
    pd_, qd = np.zeros(nb), np.zeros(nb)
    ld = net.load[net.load.in_service.to_numpy()]
    np.add.at(pd_, rows(ld.bus), col(ld, "p_mw"))
    np.add.at(qd, rows(ld.bus), col(ld, "q_mvar"))
    gs, bs = np.zeros(nb), np.zeros(nb)
    sh = net.shunt[net.shunt.in_service.to_numpy()]
    sr = rows(sh.bus)
    vn_sh = col(sh, "vn_kv")
    scale = (vn[sr] / np.where(np.isnan(vn_sh), vn[sr], vn_sh)) ** 2 * col(sh, "step")
    np.add.at(gs, sr, col(sh, "p_mw") * scale)
    np.add.at(bs, sr, -col(sh, "q_mvar") * scale)

    # -- generator rows: ext_grids, slack gens, other gens, sgens at PQ buses ---------------
    def gen_block(brow, p, q, qmax, qmin, vg, on, pmax, pmin) -> np.ndarray:
        n = brow.size
        return np.column_stack(
            [numbers[brow], p, q, qmax, qmin, np.where(controlled[brow], vm_set[brow], vg),
             np.full(n, sn), on.astype(float), pmax, pmin]
        ).reshape(n, 10)  # fmt: skip

    ne = len(ext)
    ext_block = gen_block(
        e_rows, np.zeros(ne), np.zeros(ne), col(ext, "max_q_mvar"), col(ext, "min_q_mvar"),
        col(ext, "vm_pu"), ext.in_service.to_numpy(), np.full(ne, np.inf), np.full(ne, -np.inf),
    )  # fmt: skip
    order = np.argsort(~g_slack, kind="stable")
    g = gen.iloc[order]
    gen_block_ = gen_block(
        g_rows[order], col(g, "p_mw"), np.zeros(len(g)), col(g, "max_q_mvar"),
        col(g, "min_q_mvar"), col(g, "vm_pu"), g.in_service.to_numpy(),
        inf(col(g, "max_p_mw"), 1.0), inf(col(g, "min_p_mw"), -1.0),
    )  # fmt: skip
    sg = net.sgen
    s_rows = rows(sg.bus)
    s_on = sg.in_service.to_numpy()
    folded = controlled[s_rows]  # MATPOWER would let a gen row there control the voltage
    np.subtract.at(pd_, s_rows[folded & s_on], col(sg, "p_mw")[folded & s_on])
    np.subtract.at(qd, s_rows[folded & s_on], col(sg, "q_mvar")[folded & s_on])
    s = sg[~folded]
    ns = len(s)
    sgen_block = gen_block(
        s_rows[~folded], col(s, "p_mw"), col(s, "q_mvar"), np.full(ns, np.inf),
        np.full(ns, -np.inf), np.ones(ns), s_on[~folded], inf(col(s, "max_p_mw"), 1.0),
        inf(col(s, "min_p_mw"), -1.0),
    )  # fmt: skip

    # -- branch rows --------------------------------------------------------------------
    line = net.line
    g_line = col(line, "g_us_per_km") != 0
    if g_line.any():
        raise UnsupportedElementError(
            f"line {line.index[g_line][0]!r}: shunt conductance g_us_per_km cannot be written "
            "as a MATPOWER branch",
            src,
        )
    lf, lt = rows(line.from_bus), rows(line.to_bus)
    zb = vn[lf] ** 2 / sn
    length, par = col(line, "length_km"), col(line, "parallel")
    z = (col(line, "r_ohm_per_km") + 1j * col(line, "x_ohm_per_km")) * length / par / zb
    b_line = col(line, "b_us_per_km") * 1e-6 * length * par * zb
    nl = len(line)
    line_block = _branch_block(
        numbers[lf], numbers[lt], z, b_line, col(line, "rate_mva"), np.zeros(nl), np.zeros(nl),
        line.in_service.to_numpy(),
    )  # fmt: skip

    trafo = net.trafo
    steps = col(trafo, "tap_pos") - col(trafo, "tap_neutral")
    stepped = (col(trafo, "tap_step_percent") != 0) | (col(trafo, "tap_step_degree") != 0)
    lv_tap = (trafo.tap_side.to_numpy() == "lv") & (steps != 0) & stepped
    if lv_tap.any():
        raise UnsupportedElementError(
            f"trafo {trafo.index[lv_tap][0]!r}: a tap changer off neutral on the lv side cannot "
            "be written as a MATPOWER branch (its tap is on the from/hv side)",
            src,
        )
    tf, tt = rows(trafo.hv_bus), rows(trafo.lv_bus)
    if len(trafo):
        ys, yf, yt, tap = trafo_parameters(trafo, vn[tf], vn[tt], sn, net.trafo_model)
    else:
        ys = yf = yt = tap = np.zeros(0, dtype=complex)
    tol = 1e-14 * np.maximum(np.abs(yf), 1.0)
    bad = (np.abs(yf.real) > tol) | (np.abs(yf - yt) > tol)
    if bad.any():
        raise UnsupportedElementError(
            f"trafo {trafo.index[bad][0]!r}: its magnetising branch (iron losses pfe_kw, or "
            f"trafo_model {net.trafo_model!r}) cannot be written as MATPOWER's branch charging "
            "BR_B",
            src,
        )
    trafo_block = _branch_block(
        numbers[tf], numbers[tt], 1.0 / ys, 2.0 * yf.imag, col(trafo, "rate_mva"), np.abs(tap),
        np.degrees(np.angle(tap)), trafo.in_service.to_numpy(),
    )  # fmt: skip

    # -- stored voltages (bus columns vm_pu/va_degree) as VM/VA, where finite; the REF
    # buses' VA is the slack's angle, which read_matpower takes from it ---------------
    vm_bus = np.where(controlled, vm_set, 1.0)
    va_bus = va_set.copy()
    if "vm_pu" in bus.columns and "va_degree" in bus.columns:
        vm_st, va_st = col(bus, "vm_pu"), col(bus, "va_degree")
        vm_bus = np.where(np.isfinite(vm_st), vm_st, vm_bus)
        va_bus = np.where(np.isfinite(va_st) & (btype != REF_BUS), va_st, va_bus)

    def number_of(text: str) -> float:
        return float(text) if _NUMBER.match(text or "") and np.isfinite(float(text)) else 1.0

    bus_mat = np.column_stack(
        [numbers, btype, pd_, qd, gs, bs, [number_of(a) for a in bus.area],
         vm_bus, va_bus, vn, [number_of(z) for z in bus.zone],
         inf(col(bus, "max_vm_pu"), 1.0), inf(col(bus, "min_vm_pu"), -1.0)]
    )  # fmt: skip
    ppc: dict[str, Any] = {
        "baseMVA": sn,
        "bus": bus_mat,
        "gen": np.vstack([ext_block, gen_block_, sgen_block]),
        "branch": np.vstack([line_block, trafo_block]),
    }
    if not integer:
        ppc["bus_name"] = [str(i) for i in ids]
    return ppc


def _branch_block(f, t, z, b, rate, ratio, angle, on) -> np.ndarray:
    """MATPOWER branch rows (RATE_A = RATE_B = RATE_C; NaN rating written as 0)."""
    rate = np.nan_to_num(rate, nan=0.0)
    return np.column_stack(
        [f, t, z.real, z.imag, b, rate, rate, rate, ratio, angle, on.astype(float)]
    ).reshape(len(f), 11)


def _fmt(x: float) -> str:
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _format_matrix(name: str, data: Any, header: tuple[str, ...]) -> list[str]:
    arr = np.asarray(data, dtype=float)
    if arr.ndim != 2:
        arr = arr.reshape(len(arr), -1) if arr.size else arr.reshape(0, len(header))
    lines = [f"%\t{chr(9).join(header)}"] if header else []
    lines.append(f"mpc.{name} = [")
    lines.extend("\t" + "\t".join(_fmt(v) for v in row) + ";" for row in arr)
    lines.append("];")
    return lines


_BUS_HEADER = tuple("bus_i type Pd Qd Gs Bs area Vm Va baseKV zone Vmax Vmin".split())
_GEN_HEADER = tuple("bus Pg Qg Qmax Qmin Vg mBase status Pmax Pmin".split())
_BRANCH_HEADER = tuple("fbus tbus r x b rateA rateB rateC ratio angle status".split())


def _format_case(ppc: Mapping[str, Any], fname: str, title: str) -> str:
    out = [
        f"function mpc = {fname}",
        f"%{fname.upper()}  {title}.",
        "%   MATPOWER case format version 2; see MATPOWER's caseformat for the columns.",
        "",
        "%% MATPOWER Case Format : Version 2",
        "mpc.version = '2';",
        "",
        "%%-----  Power Flow Data  -----%%",
        "%% system MVA base",
        f"mpc.baseMVA = {_fmt(ppc['baseMVA'])};",
        "",
        "%% bus data",
        *_format_matrix("bus", ppc["bus"], _BUS_HEADER),
        "",
        "%% generator data",
        *_format_matrix("gen", ppc["gen"], _GEN_HEADER),
        "",
        "%% branch data",
        *_format_matrix("branch", ppc["branch"], _BRANCH_HEADER),
    ]
    if ppc.get("gencost") is not None and np.size(ppc["gencost"]):
        out += [
            "",
            "%%-----  OPF Data  -----%%",
            "%% generator cost data",
            *_format_matrix("gencost", ppc["gencost"], ()),
        ]
    names = ppc.get("bus_name")
    if names is not None and len(names):
        out += ["", "%% bus names", "mpc.bus_name = {"]
        out += ["\t'" + str(s).replace("'", "''") + "';" for s in names]
        out.append("};")
    return "\n".join(out) + "\n"
