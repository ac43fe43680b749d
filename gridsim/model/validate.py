"""Checks on a :class:`~gridsim.model.network.Network`'s tables.

Each check raises :class:`~gridsim.exceptions.InvalidNetworkError` naming the file, the
element and the field, at the first problem found, so nothing half-checked is solved.
Topology checks (islands without a slack) belong to :mod:`gridsim.model.topology`.
"""

from __future__ import annotations

import numpy as np

from gridsim.exceptions import InvalidNetworkError
from gridsim.model.network import ColumnTable, plain
from gridsim.model.schema import FLOAT, REF, SCHEMA

# Fields that may hold +-inf (reactive limits) besides NaN-by-default ones.
_INF_OK = {"min_q_mvar", "max_q_mvar", "min_q_from_mvar", "max_q_from_mvar"}
_INF_OK |= {"min_q_to_mvar", "max_q_to_mvar"}


def validate_network(network) -> None:
    """Raise :class:`InvalidNetworkError` at the first problem in ``network``."""
    src = network.source
    tables = {element: network.columns(element) for element in SCHEMA}
    for element, table in tables.items():
        _check_ids(element, table, src)
        _check_numbers(element, table, src)
    from gridsim.model.compile import bus_lookup

    lookup = bus_lookup(tables["bus"].index)
    for element, table in tables.items():
        for col in SCHEMA[element]:
            if col.kind == REF and len(table):
                missing = lookup(table[col.name]) < 0
                if missing.any():
                    k = int(np.argmax(missing))
                    raise InvalidNetworkError(
                        f"{element} {plain(table.index[k])!r}: {col.name} "
                        f"{plain(table[col.name][k])!r} "
                        "is not a bus of this network",
                        src,
                    )
    _check_physics(tables, src)


def _fail(element: str, table: ColumnTable, mask: np.ndarray, message: str, src) -> None:
    if mask.any():
        k = int(np.argmax(mask))
        raise InvalidNetworkError(f"{element} {plain(table.index[k])!r}: {message}", src)


def _check_ids(element: str, table: ColumnTable, src) -> None:
    if table.index.has_duplicates:
        dup = table.index[table.index.duplicated()][0]
        raise InvalidNetworkError(f"duplicate {element} id {plain(dup)!r}", src)
    if len(table) and table.index.hasnans:
        raise InvalidNetworkError(f"a {element} has no id", src)


def _check_numbers(element: str, table: ColumnTable, src) -> None:
    for col in SCHEMA[element]:
        if col.kind != FLOAT or not len(table):
            continue
        values = table[col.name]
        if np.isfinite(values).all():  # the common case: one pass, nothing to report
            continue
        nan_allowed = not col.required and isinstance(col.default, float) and np.isnan(col.default)
        if not nan_allowed:
            _fail(element, table, np.isnan(values), f"{col.name} is missing or NaN", src)
        if col.name not in _INF_OK:
            _fail(element, table, np.isinf(values), f"{col.name} is infinite", src)


def _check_physics(tables: dict[str, ColumnTable], src) -> None:
    bus, line, trafo = tables["bus"], tables["line"], tables["trafo"]
    _fail("bus", bus, ~(bus["vn_kv"] > 0), "vn_kv must be positive", src)
    lo, hi = bus["min_vm_pu"], bus["max_vm_pu"]
    _fail("bus", bus, lo > hi, "min_vm_pu exceeds max_vm_pu", src)

    for element in ("line", "hvdc"):
        t = tables[element]
        _fail(element, t, _same(t["from_bus"], t["to_bus"]), "from_bus equals to_bus", src)
    _fail("trafo", trafo, _same(trafo["hv_bus"], trafo["lv_bus"]), "hv_bus equals lv_bus", src)

    r, x = line["r_ohm_per_km"], line["x_ohm_per_km"]
    _fail(
        "line", line, (r == 0) & (x == 0), "zero impedance (r_ohm_per_km = x_ohm_per_km = 0)", src
    )
    _fail("line", line, ~(line["length_km"] > 0), "length_km must be positive", src)
    for element in ("line", "trafo"):
        t = tables[element]
        _fail(element, t, ~(t["parallel"] >= 1), "parallel must be at least 1", src)
        _fail(element, t, t["rate_mva"] <= 0, "rate_mva must be positive", src)

    for field in ("sn_mva", "vn_hv_kv", "vn_lv_kv"):
        _fail("trafo", trafo, ~(trafo[field] > 0), f"{field} must be positive", src)
    vk, vkr = trafo["vk_percent"], trafo["vkr_percent"]
    _fail("trafo", trafo, vk == 0, "zero impedance (vk_percent = 0)", src)
    _fail("trafo", trafo, np.abs(vkr) > np.abs(vk), "|vkr_percent| exceeds |vk_percent|", src)
    side = trafo["tap_side"]
    _fail(
        "trafo",
        trafo,
        ~((side == "") | (side == "hv") | (side == "lv")),
        "tap_side must be 'hv', 'lv' or ''",
        src,
    )

    for element in ("gen", "ext_grid"):
        t = tables[element]
        bad = t["min_q_mvar"] > t["max_q_mvar"]
        _fail(element, t, bad, "min_q_mvar exceeds max_q_mvar", src)
        _fail(element, t, ~(t["vm_pu"] > 0), "vm_pu must be positive", src)
    hvdc = tables["hvdc"]
    for end in ("from", "to"):
        bad = hvdc[f"min_q_{end}_mvar"] > hvdc[f"max_q_{end}_mvar"]
        _fail("hvdc", hvdc, bad, f"min_q_{end}_mvar exceeds max_q_{end}_mvar", src)
    _fail("hvdc", hvdc, hvdc["loss_percent"] < 0, "loss_percent is negative", src)
    _fail("hvdc", hvdc, hvdc["loss_mw"] < 0, "loss_mw is negative", src)
    _fail("hvdc", hvdc, hvdc["max_p_mw"] <= 0, "max_p_mw must be positive", src)


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise equality of two id columns (object arrays compare per element)."""
    if a.dtype == object or b.dtype == object:
        return np.array([x == y for x, y in zip(a, b, strict=True)], dtype=bool)
    return a == b
