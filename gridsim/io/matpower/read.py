"""A parsed MATPOWER case (or a PYPOWER ``ppc``) -> :class:`~gridsim.model.network.Network`,
with MATPOWER's ``runpf`` semantics (see the package docstring for the mapping)."""

from __future__ import annotations

import codecs
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridsim.exceptions import InvalidNetworkError
from gridsim.io.matpower.columns import (
    _COLUMNS,
    _INF_OK,
    BASE_KV,
    BR_B,
    BR_R,
    BR_STATUS,
    BR_X,
    BRANCH_COLUMNS,
    BS,
    BUS_AREA,
    BUS_I,
    BUS_TYPE,
    F_BUS,
    GEN_BUS,
    GEN_COLUMNS,
    GEN_STATUS,
    GS,
    ISOLATED,
    PD,
    PG,
    PMAX,
    PMIN,
    PV_BUS,
    QD,
    QG,
    QMAX,
    QMIN,
    RATE_A,
    REF_BUS,
    SHIFT,
    T_BUS,
    TAP,
    VA,
    VG,
    VM,
    VMAX,
    VMIN,
    ZONE,
)
from gridsim.io.matpower.parse import parse_matpower


# ======================================================================================
# ppc -> Network
# ======================================================================================
def read_matpower(path: str | os.PathLike) -> Any:
    """Read a MATPOWER version-2 case file into a network.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.m`` file.

    Returns
    -------
    gridsim.Network
        With ``sn_mva = baseMVA``, ``trafo_model = "pi"``, the function name (or the file
        stem) as name and ``source = str(path)``. See the module docstring for the
        element mapping and ids (buses by number, gens and branches by row number).

    Raises
    ------
    InvalidNetworkError
        When the file is missing or unreadable, or its data are malformed or
        inconsistent; the message names the file, the element and the problem.

    Notes
    -----
    The file is read as UTF-8 (a byte order mark is dropped), as UTF-16 when it starts
    with a UTF-16 byte order mark, and as Latin-1 when it is not valid UTF-8.

    Warns
    -----
    UserWarning
        For ``BASE_KV <= 0`` (or out of range) and when a PV bus must stand in for a missing
        reference.
    """
    src = str(path)
    p = Path(path)
    if not p.exists():
        raise InvalidNetworkError("no such file", src)
    if not p.is_file():
        raise InvalidNetworkError("not a file", src)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InvalidNetworkError(f"cannot read the file ({exc.strerror})", src) from None
    ppc = parse_matpower(_decode(raw, src), src)
    return _build_network(ppc, name=ppc.get("name") or p.stem, source=src)


def _decode(raw: bytes, src: str) -> str:
    """The text of a case file: UTF-8 (a byte order mark is dropped), UTF-16 with a byte
    order mark, or else Latin-1."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidNetworkError("not valid UTF-16 text", src) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _label(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _check_finite(kind: str, data: np.ndarray, names: list[str], src: str | None) -> None:
    """NaN anywhere, or Inf outside limit columns, of the used columns is an error."""
    columns = _COLUMNS[kind]
    used = data[:, : len(columns)]
    bad = np.isnan(used) | (np.isinf(used) & ~np.isin(np.arange(len(columns)), list(_INF_OK[kind])))
    if bad.any():
        k, j = np.argwhere(bad)[0]
        what = "NaN" if np.isnan(used[k, j]) else "infinite"
        raise InvalidNetworkError(f"{names[k]}: {columns[j]} is {what}", src)


def _build_network(ppc: Mapping[str, Any], name: str, source: str | None):
    """The network of a parsed (or PYPOWER) case; see the module docstring."""
    from gridsim.model.network import Network

    src = source
    base = float(ppc["baseMVA"])
    bus = np.asarray(ppc["bus"], dtype=float)
    gen = np.asarray(ppc["gen"], dtype=float)
    branch = np.asarray(ppc["branch"], dtype=float)
    if gen.size == 0:
        gen = gen.reshape(0, len(GEN_COLUMNS))
    if branch.size == 0:
        branch = branch.reshape(0, len(BRANCH_COLUMNS))
    for key, arr in (("bus", bus), ("gen", gen), ("branch", branch)):
        if arr.ndim != 2 or arr.shape[1] < len(_COLUMNS[key]):
            raise InvalidNetworkError(
                f"mpc.{key}: expected at least {len(_COLUMNS[key])} columns, got shape {arr.shape}",
                src,
            )

    # -- buses ------------------------------------------------------------------------
    num = bus[:, BUS_I]
    for k, b in enumerate(num):
        if not (np.isfinite(b) and b == int(b) and 0 < b < 2**53):
            raise InvalidNetworkError(
                f"bus row {k + 1}: BUS_I = {_label(b)} is not a positive integer bus number", src
            )
    ids = num.astype(np.int64)
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = ids[np.isin(ids, uniq[counts > 1])][0]
        raise InvalidNetworkError(f"duplicate bus number {dup}", src)
    _check_finite("bus", bus, [f"bus {b}" for b in ids], src)
    btype = bus[:, BUS_TYPE]
    bad = ~np.isin(btype, (1, 2, 3, 4))
    if bad.any():
        k = int(np.argmax(bad))
        raise InvalidNetworkError(
            f"bus {ids[k]}: BUS_TYPE = {_label(btype[k])} is not 1 (PQ), 2 (PV), 3 (REF) or "
            "4 (isolated)",
            src,
        )
    btype = btype.astype(np.int64)
    row_of = {int(b): k for k, b in enumerate(ids)}
    vn = bus[:, BASE_KV].copy()
    with np.errstate(all="ignore"):
        z_base = vn**2 / base
        no_kv = ~((vn > 0) & (z_base > 0) & np.isfinite(1.0 / z_base))
    notes = []  # warnings, given once the case is accepted
    if no_kv.any():
        notes.append(
            f"{int(no_kv.sum())} bus(es) have BASE_KV <= 0 or out of range (e.g. bus "
            f"{ids[np.argmax(no_kv)]}); using 1 kV as their voltage base"
        )
        vn[no_kv] = 1.0
    bus_on = btype != ISOLATED

    def limit(values: np.ndarray) -> np.ndarray:
        return np.where(np.isinf(values), np.nan, values)

    bus_names = ppc.get("bus_name")
    if not (
        isinstance(bus_names, list)
        and len(bus_names) == len(ids)
        and all(isinstance(s, str) for s in bus_names)
    ):
        bus_names = [""] * len(ids)
    bus_table = pd.DataFrame(
        {
            "name": bus_names,
            "vn_kv": vn,
            "in_service": bus_on,
            "min_vm_pu": limit(bus[:, VMIN]),
            "max_vm_pu": limit(bus[:, VMAX]),
            "zone": [_label(z) for z in bus[:, ZONE]],
            "area": [_label(a) for a in bus[:, BUS_AREA]],
            "vm_pu": bus[:, VM],
            "va_degree": bus[:, VA],
        },
        index=pd.Index(ids, name="id"),
    )

    def bus_rows(kind: str, numbers: np.ndarray, end: str) -> np.ndarray:
        rows = np.empty(numbers.size, dtype=np.int64)
        for k, b in enumerate(numbers):
            r = row_of.get(int(b)) if float(b).is_integer() else None
            if r is None:
                where = f"{end} bus" if end else "bus"
                raise InvalidNetworkError(
                    f"{kind} row {k + 1}: {where} {_label(b)} does not exist", src
                )
            rows[k] = r
        return rows

    # -- loads and shunts ---------------------------------------------------------------
    has_load = (bus[:, PD] != 0) | (bus[:, QD] != 0)
    load = pd.DataFrame(
        {"bus": ids[has_load], "p_mw": bus[has_load, PD], "q_mvar": bus[has_load, QD]},
        index=pd.Index(ids[has_load], name="id"),
    )
    has_sh = (bus[:, GS] != 0) | (bus[:, BS] != 0)
    shunt = pd.DataFrame(
        {"bus": ids[has_sh], "p_mw": bus[has_sh, GS], "q_mvar": 0.0 - bus[has_sh, BS]},
        index=pd.Index(ids[has_sh], name="id"),
    )

    # -- generators ----------------------------------------------------------------------
    ng = len(gen)
    gen_ids = np.arange(1, ng + 1)
    _check_finite("gen", gen, [f"gen row {k}" for k in gen_ids], src)
    grow = bus_rows("gen", gen[:, GEN_BUS], "")
    gtype = btype[grow]
    g_on = (gen[:, GEN_STATUS] > 0) & bus_on[grow]
    controls = np.isin(gtype, (PV_BUS, REF_BUS)) | (gtype == ISOLATED)
    slack = np.zeros(ng, dtype=bool)
    va = np.zeros(ng)
    vm = gen[:, VG].copy()
    has_gen = np.zeros(len(ids), dtype=bool)
    has_gen[grow[g_on]] = True
    ref_buses = np.flatnonzero(has_gen & (btype == REF_BUS)).tolist()
    if not ref_buses:
        pv_buses = np.flatnonzero(has_gen & (btype == PV_BUS)).tolist()
        if pv_buses:
            notes.append(
                f"no in-service generator at a REF bus; bus {ids[pv_buses[0]]} (the first PV "
                "bus with one) is the angle reference, as in MATPOWER"
            )
            ref_buses = pv_buses[:1]
        elif bus_on.any():  # MATPOWER's runpf has no reference bus either
            raise InvalidNetworkError(
                "no in-service generator at a REF or PV bus: the case has no angle reference",
                src,
            )
        else:
            raise InvalidNetworkError("every bus is isolated (BUS_TYPE = 4)", src)
    for r in ref_buses:
        at = np.flatnonzero(g_on & (grow == r))
        slack[at[0]] = True
        va[at[0]] = bus[r, VA]
        vm[at[0]] = gen[at[-1], VG]  # MATPOWER: the last online gen's VG sets the voltage
    vm = np.where(g_on | (vm > 0), vm, 1.0)  # offline gens: VG unused, keep validation happy
    ctl = controls
    gen_table = pd.DataFrame(
        {
            "bus": ids[grow[ctl]],
            "p_mw": gen[ctl, PG],
            "vm_pu": vm[ctl],
            "min_q_mvar": gen[ctl, QMIN],
            "max_q_mvar": gen[ctl, QMAX],
            "min_p_mw": limit(gen[ctl, PMIN]),
            "max_p_mw": limit(gen[ctl, PMAX]),
            "slack": slack[ctl],
            "va_degree": va[ctl],
            "in_service": g_on[ctl],
        },
        index=pd.Index(gen_ids[ctl], name="id"),
    )
    fixed = ~controls
    sgen_table = pd.DataFrame(
        {
            "bus": ids[grow[fixed]],
            "p_mw": gen[fixed, PG],
            "q_mvar": gen[fixed, QG],
            "min_p_mw": limit(gen[fixed, PMIN]),
            "max_p_mw": limit(gen[fixed, PMAX]),
            "in_service": g_on[fixed],
        },
        index=pd.Index(gen_ids[fixed], name="id"),
    )

    # -- branches ------------------------------------------------------------------------
    nbr = len(branch)
    br_ids = np.arange(1, nbr + 1)
    _check_finite("branch", branch, [f"branch row {k}" for k in br_ids], src)
    frow = bus_rows("branch", branch[:, F_BUS], "from")
    trow = bus_rows("branch", branch[:, T_BUS], "to")
    status = branch[:, BR_STATUS]
    bad = ~np.isin(status, (0, 1))
    if bad.any():
        k = int(np.argmax(bad))
        raise InvalidNetworkError(
            f"branch row {k + 1}: BR_STATUS = {_label(status[k])} is not 0 or 1", src
        )
    loop = frow == trow
    if loop.any():
        k = int(np.argmax(loop))
        raise InvalidNetworkError(
            f"branch row {k + 1}: from bus equals to bus ({ids[frow[k]]})", src
        )
    r, x, b = branch[:, BR_R], branch[:, BR_X], branch[:, BR_B]
    zero = (r == 0) & (x == 0)
    if zero.any():
        k = int(np.argmax(zero))
        raise InvalidNetworkError(f"branch row {k + 1}: zero impedance (BR_R = BR_X = 0)", src)
    br_on = (status == 1) & bus_on[frow] & bus_on[trow]
    rate = np.where(branch[:, RATE_A] == 0, np.nan, branch[:, RATE_A])
    tap, shift = branch[:, TAP], branch[:, SHIFT]
    is_line = (tap == 0) & (shift == 0) & (r >= 0)
    vf, vt = vn[frow], vn[trow]
    ratio = np.where(tap == 0, 1.0, tap)
    with np.errstate(all="ignore"):  # values that overflow are refused below
        zb = vf**2 / base
        line_values = {"r_ohm_per_km": r * zb, "x_ohm_per_km": x * zb, "b_us_per_km": b / zb * 1e6}
        trafo_values = {
            "vn_hv_kv": ratio * vf,
            "vk_percent": np.where(x < 0, -1.0, 1.0) * np.hypot(r, x) * 100.0,
            "vkr_percent": r * 100.0,
            "i0_percent": -b * 100.0,
        }
    for rows, values in ((is_line, line_values), (~is_line, trafo_values)):
        for field, v in values.items():
            bad = rows & ~np.isfinite(v)
            if bad.any():
                k = int(np.argmax(bad))
                raise InvalidNetworkError(
                    f"branch row {k + 1}: BR_R = {r[k]:g}, BR_X = {x[k]:g}, BR_B = {b[k]:g}, "
                    f"TAP = {tap[k]:g} with BASE_KV {vf[k]:g} kV are out of range ({field} "
                    "overflows)",
                    src,
                )
    li = is_line
    line_table = pd.DataFrame(
        {
            "from_bus": ids[frow[li]],
            "to_bus": ids[trow[li]],
            "length_km": 1.0,
            **{field: v[li] for field, v in line_values.items()},
            "parallel": 1.0,
            "rate_mva": rate[li],
            "in_service": br_on[li],
        },
        index=pd.Index(br_ids[li], name="id"),
    )
    tr = ~is_line
    trafo_table = pd.DataFrame(
        {
            "hv_bus": ids[frow[tr]],
            "lv_bus": ids[trow[tr]],
            "sn_mva": base,
            "vn_hv_kv": trafo_values["vn_hv_kv"][tr],
            "vn_lv_kv": vt[tr],
            "vk_percent": trafo_values["vk_percent"][tr],
            "vkr_percent": trafo_values["vkr_percent"][tr],
            "pfe_kw": 0.0,
            "i0_percent": trafo_values["i0_percent"][tr],
            "shift_degree": shift[tr],
            "tap_side": "",
            "parallel": 1.0,
            "rate_mva": rate[tr],
            "in_service": br_on[tr],
        },
        index=pd.Index(br_ids[tr], name="id"),
    )
    tables = {
        "bus": bus_table,
        "line": line_table,
        "trafo": trafo_table,
        "gen": gen_table,
        "sgen": sgen_table,
        "load": load,
        "shunt": shunt,
    }
    network = Network(tables, sn_mva=base, trafo_model="pi", name=name, source=source)
    network.q_limit_rule = "matpower"  # MATPOWER limits the slack's reactive power too
    for note in notes:
        warnings.warn(f"{src or name}: {note}", UserWarning, stacklevel=3)
    return network
