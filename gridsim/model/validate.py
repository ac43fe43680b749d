"""Checks on a :class:`~gridsim.model.network.Network`'s tables.

Each check raises :class:`~gridsim.exceptions.InvalidNetworkError` naming the file, the
element and the field, at the first problem found, so nothing half-checked is solved.
Physical ranges are those of :mod:`gridsim.model.schema` (``Column.allowed``), checked
here once for every reader. Topology checks (islands without a slack) belong to
:mod:`gridsim.model.topology`.
"""

from __future__ import annotations

import numpy as np

from gridsim.exceptions import InvalidNetworkError
from gridsim.model.network import ColumnTable, shown
from gridsim.model.schema import FLOAT, NETWORK_FIELDS, REF, SCHEMA, WINDING_RATIO_MAX

# Fields that may hold +-inf (reactive limits) besides NaN-by-default ones.
_INF_OK = {"min_q_mvar", "max_q_mvar", "min_q_from_mvar", "max_q_from_mvar"}
_INF_OK |= {"min_q_to_mvar", "max_q_to_mvar"}


def validate_network(network) -> None:
    """Raise :class:`InvalidNetworkError` at the first problem in ``network``."""
    src = network.source
    _check_network(network, src)
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
                        f"{element} {shown(table.index[k])}: {col.name} "
                        f"{shown(table[col.name][k])} is not a bus of this network",
                        src,
                    )
    _check_physics(tables, src)
    _check_windings(tables["trafo"], tables["bus"], lookup, src)


def _with_unit(value: object, unit: str) -> str:
    return f"{value} {unit}" if unit else str(value)


def _check_network(network, src) -> None:
    for col in NETWORK_FIELDS:
        v = getattr(network, col.name)
        if not np.isfinite(v) or col.allowed.outside(np.float64(v)):
            raise InvalidNetworkError(
                f"{col.name} = {_with_unit(f'{v:g}', col.unit)}: must be a finite number "
                f"{_with_unit(col.allowed, col.unit)}",
                src,
            )


def _fail(element: str, table: ColumnTable, mask: np.ndarray, message: str, src) -> None:
    if mask.any():
        k = int(np.argmax(mask))
        raise InvalidNetworkError(f"{element} {shown(table.index[k])}: {message}", src)


def _check_ids(element: str, table: ColumnTable, src) -> None:
    if table.index.has_duplicates:
        dup = table.index[table.index.duplicated()][0]
        raise InvalidNetworkError(f"duplicate {element} id {shown(dup)}", src)
    if len(table) and table.index.hasnans:
        raise InvalidNetworkError(f"a {element} has no id", src)


def _check_numbers(element: str, table: ColumnTable, src) -> None:
    """NaN only where the default is NaN, inf only in reactive limits, and ranges."""
    for col in SCHEMA[element]:
        if col.kind != FLOAT or not len(table):
            continue
        values = table[col.name]
        if not np.isfinite(values).all():
            nan_ok = not col.required and isinstance(col.default, float) and np.isnan(col.default)
            if not nan_ok:
                _fail(element, table, np.isnan(values), f"{col.name} is missing or NaN", src)
            if col.name not in _INF_OK:
                _fail(element, table, np.isinf(values), f"{col.name} is infinite", src)
        if col.allowed is not None:
            bad = col.allowed.outside(values)
            if bad.any():
                k = int(np.argmax(bad))
                raise InvalidNetworkError(
                    f"{element} {shown(table.index[k])}: {col.name} = "
                    f"{_with_unit(f'{values[k]:g}', col.unit)}: must be "
                    f"{_with_unit(col.allowed, col.unit)}",
                    src,
                )


def _check_physics(tables: dict[str, ColumnTable], src) -> None:
    bus, line, trafo = tables["bus"], tables["line"], tables["trafo"]
    lo, hi = bus["min_vm_pu"], bus["max_vm_pu"]
    _fail("bus", bus, lo > hi, "min_vm_pu exceeds max_vm_pu", src)
    load = tables["load"]
    for part in ("p", "q"):
        shares = load[f"const_z_{part}_percent"] + load[f"const_i_{part}_percent"]
        message = f"const_z_{part}_percent + const_i_{part}_percent exceed 100"
        _fail("load", load, shares > 100.0, message, src)

    for element in ("line", "hvdc"):
        t = tables[element]
        _fail(element, t, _same(t["from_bus"], t["to_bus"]), "from_bus equals to_bus", src)
    _fail("trafo", trafo, _same(trafo["hv_bus"], trafo["lv_bus"]), "hv_bus equals lv_bus", src)

    r, x = line["r_ohm_per_km"], line["x_ohm_per_km"]
    _fail(
        "line", line, (r == 0) & (x == 0), "zero impedance (r_ohm_per_km = x_ohm_per_km = 0)", src
    )
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
    hvdc = tables["hvdc"]
    for end in ("from", "to"):
        bad = hvdc[f"min_q_{end}_mvar"] > hvdc[f"max_q_{end}_mvar"]
        _fail("hvdc", hvdc, bad, f"min_q_{end}_mvar exceeds max_q_{end}_mvar", src)


def _check_windings(trafo: ColumnTable, bus: ColumnTable, lookup, src) -> None:
    """Each winding's rated voltage, moved by its tap changer, near its bus's vn_kv."""
    if not len(trafo):
        return
    with np.errstate(all="ignore"):  # huge tap positions give inf: refused below
        steps = (trafo["tap_pos"] - trafo["tap_neutral"]) * trafo["tap_step_percent"] / 100.0
        tap = np.abs(1.0 + steps * np.exp(1j * np.deg2rad(trafo["tap_step_degree"])))
        for side in ("hv", "lv"):
            rated = trafo[f"vn_{side}_kv"]
            moved = trafo["tap_side"] == side
            kv = np.where(moved, rated * tap, rated)
            vn_bus = bus["vn_kv"][lookup(trafo[f"{side}_bus"])]
            ratio = kv / vn_bus
            bad = ~((ratio >= 1.0 / WINDING_RATIO_MAX) & (ratio <= WINDING_RATIO_MAX))
            if bad.any():
                k = int(np.argmax(bad))
                at = f" ({kv[k]:g} kV at tap_pos {trafo['tap_pos'][k]:g})" if moved[k] else ""
                raise InvalidNetworkError(
                    f"trafo {shown(trafo.index[k])}: vn_{side}_kv = {rated[k]:g} kV{at} is "
                    f"{ratio[k]:.3g} times the vn_kv of {side}_bus "
                    f"{shown(trafo[f'{side}_bus'][k])} ({vn_bus[k]:g} kV); a winding must be "
                    f"within a factor {WINDING_RATIO_MAX:g} of its bus",
                    src,
                )


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise equality of two id columns (object arrays compare per element)."""
    if a.dtype == object or b.dtype == object:
        return np.array([x == y for x, y in zip(a, b, strict=True)], dtype=bool)
    return a == b


def validate_interfaces(network, interfaces) -> None:
    """Raise :class:`InvalidNetworkError` at the first interface member that is not an
    element of ``network`` (in service or not).

    Parameters
    ----------
    network : Network
    interfaces : iterable of dict
        Records with ``id`` and ``members``, each a mapping ``{element, id, direction}``
        or an ``(element, id, direction)`` tuple.
    """
    for face in interfaces:
        for member in face["members"]:
            element, eid = (
                (member["element"], member["id"]) if isinstance(member, dict) else member[:2]
            )
            if eid not in network.columns(element).index:
                raise InvalidNetworkError(
                    f"interface {shown(face['id'])}: member {element} {shown(eid)} is not a "
                    f"{element} of this network",
                    network.source,
                )
