"""Column specifications of the network element tables.

One :class:`Column` per field: name, kind, unit, default and whether it is required.
Names and units follow pandapower wherever pandapower has the field, so an engineer who
knows pandapower can read a gridsim table at a glance. ``REF`` columns hold bus ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT, BOOL, STR, REF = "float", "bool", "str", "ref"


@dataclass(frozen=True)
class Column:
    """One field of an element table."""

    name: str
    kind: str
    default: object = None  #: ``None`` means required
    unit: str = ""
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is None


_INF = np.inf
_NAN = np.nan

SCHEMA: dict[str, tuple[Column, ...]] = {
    "bus": (
        Column("name", STR, ""),
        Column("vn_kv", FLOAT, None, "kV", "nominal voltage (base of the per-unit system)"),
        Column("in_service", BOOL, True),
        Column("min_vm_pu", FLOAT, _NAN, "p.u.", "lower voltage limit (NaN: not checked)"),
        Column("max_vm_pu", FLOAT, _NAN, "p.u.", "upper voltage limit (NaN: not checked)"),
        Column("zone", STR, "", "", "zone, e.g. a country code (AZ, GE, RS, ...)"),
        Column("area", STR, "", "", "synchronous area"),
        Column("lat", FLOAT, _NAN, "degree"),
        Column("lon", FLOAT, _NAN, "degree"),
    ),
    "line": (
        Column("name", STR, ""),
        Column("from_bus", REF, None),
        Column("to_bus", REF, None),
        Column("length_km", FLOAT, 1.0, "km"),
        Column("r_ohm_per_km", FLOAT, None, "ohm/km"),
        Column("x_ohm_per_km", FLOAT, None, "ohm/km"),
        Column("b_us_per_km", FLOAT, 0.0, "uS/km", "total shunt susceptance (charging)"),
        Column("g_us_per_km", FLOAT, 0.0, "uS/km", "total shunt conductance"),
        Column("parallel", FLOAT, 1.0, "", "number of identical parallel circuits"),
        Column("rate_mva", FLOAT, _NAN, "MVA", "rating of all circuits together (NaN: unrated)"),
        Column("in_service", BOOL, True),
    ),
    "trafo": (
        Column("name", STR, ""),
        Column("hv_bus", REF, None, "", "winding 1 bus (the tap side in MATPOWER terms)"),
        Column("lv_bus", REF, None, "", "winding 2 bus"),
        Column("sn_mva", FLOAT, None, "MVA", "rated power of one unit"),
        Column("vn_hv_kv", FLOAT, None, "kV"),
        Column("vn_lv_kv", FLOAT, None, "kV"),
        Column("vk_percent", FLOAT, None, "%", "short-circuit voltage; its sign is x's sign"),
        Column("vkr_percent", FLOAT, 0.0, "%", "real part of the short-circuit voltage"),
        Column("pfe_kw", FLOAT, 0.0, "kW", "iron losses"),
        Column("i0_percent", FLOAT, 0.0, "%", "open-circuit current (< 0: capacitive)"),
        Column("shift_degree", FLOAT, 0.0, "degree", "phase shift, hv leads lv"),
        Column("tap_side", STR, "", "", "'hv', 'lv' or '' (no tap changer)"),
        Column("tap_neutral", FLOAT, 0.0),
        Column("tap_pos", FLOAT, 0.0),
        Column("tap_step_percent", FLOAT, 0.0, "%"),
        Column("tap_step_degree", FLOAT, 0.0, "degree"),
        Column("parallel", FLOAT, 1.0),
        Column("rate_mva", FLOAT, _NAN, "MVA", "rating of all units together (NaN: unrated)"),
        Column("in_service", BOOL, True),
    ),
    "gen": (
        Column("name", STR, ""),
        Column("bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW"),
        Column("vm_pu", FLOAT, 1.0, "p.u.", "voltage setpoint"),
        Column("min_q_mvar", FLOAT, -_INF, "Mvar"),
        Column("max_q_mvar", FLOAT, _INF, "Mvar"),
        Column("min_p_mw", FLOAT, _NAN, "MW"),
        Column("max_p_mw", FLOAT, _NAN, "MW"),
        Column("slack", BOOL, False, "", "angle reference of its island"),
        Column("va_degree", FLOAT, 0.0, "degree", "angle setpoint when slack"),
        Column("slack_weight", FLOAT, 1.0, "", "share of the slack power at its bus"),
        Column("in_service", BOOL, True),
    ),
    "sgen": (
        Column("name", STR, ""),
        Column("bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW"),
        Column("q_mvar", FLOAT, 0.0, "Mvar"),
        Column("min_p_mw", FLOAT, _NAN, "MW"),
        Column("max_p_mw", FLOAT, _NAN, "MW"),
        Column("in_service", BOOL, True),
    ),
    "ext_grid": (
        Column("name", STR, ""),
        Column("bus", REF, None),
        Column("vm_pu", FLOAT, 1.0, "p.u."),
        Column("va_degree", FLOAT, 0.0, "degree"),
        Column("min_q_mvar", FLOAT, -_INF, "Mvar"),
        Column("max_q_mvar", FLOAT, _INF, "Mvar"),
        Column("slack_weight", FLOAT, 1.0),
        Column("in_service", BOOL, True),
    ),
    "load": (
        Column("name", STR, ""),
        Column("bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW"),
        Column("q_mvar", FLOAT, 0.0, "Mvar"),
        Column("in_service", BOOL, True),
    ),
    "shunt": (
        Column("name", STR, ""),
        Column("bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW", "active power drawn at vn_kv"),
        Column("q_mvar", FLOAT, 0.0, "Mvar", "reactive power drawn at vn_kv (< 0: capacitor)"),
        Column("vn_kv", FLOAT, _NAN, "kV", "rated voltage (NaN: the bus's vn_kv)"),
        Column("step", FLOAT, 1.0),
        Column("in_service", BOOL, True),
    ),
    "hvdc": (
        Column("name", STR, ""),
        Column("from_bus", REF, None),
        Column("to_bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW", "power sent from from_bus (scheduled)"),
        Column("loss_percent", FLOAT, 0.0, "%"),
        Column("loss_mw", FLOAT, 0.0, "MW"),
        Column("max_p_mw", FLOAT, _NAN, "MW", "converter rating (NaN: unrated)"),
        Column("vm_from_pu", FLOAT, _NAN, "p.u.", "voltage setpoint (NaN: Q fixed at 0)"),
        Column("vm_to_pu", FLOAT, _NAN, "p.u."),
        Column("min_q_from_mvar", FLOAT, -_INF, "Mvar"),
        Column("max_q_from_mvar", FLOAT, _INF, "Mvar"),
        Column("min_q_to_mvar", FLOAT, -_INF, "Mvar"),
        Column("max_q_to_mvar", FLOAT, _INF, "Mvar"),
        Column("in_service", BOOL, True),
    ),
}

ELEMENTS: tuple[str, ...] = tuple(SCHEMA)
BRANCH_ELEMENTS = ("line", "trafo")
