"""Column specifications of the network element tables.

One :class:`Column` per field: name, kind, unit, default, whether it is required, and
for numbers the physical range of allowed values (checked once, for every reader, by
:mod:`gridsim.model.validate`). Names and units follow pandapower wherever pandapower
has the field, so an engineer who knows pandapower can read a gridsim table at a
glance. ``REF`` columns hold bus ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT, BOOL, STR, REF = "float", "bool", "str", "ref"


@dataclass(frozen=True)
class Range:
    """Allowed values of a number field: ``low`` to ``high``, each end open or closed.

    NaN is never outside a range: whether a field may be NaN is decided by its
    default (see :class:`Column`).
    """

    low: float = -np.inf
    high: float = np.inf
    low_open: bool = False
    high_open: bool = False

    def outside(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of the ``values`` outside the range (NaN: False)."""
        below = values <= self.low if self.low_open else values < self.low
        above = values >= self.high if self.high_open else values > self.high
        return below | above

    def __str__(self) -> str:
        low, high = f"{self.low:g}", f"{self.high:g}"
        if np.isfinite(self.low) and np.isfinite(self.high):
            return (
                f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
            )
        if np.isfinite(self.low):
            return f"{'>' if self.low_open else '>='} {low}"
        return f"{'<' if self.high_open else '<='} {high}"


POSITIVE = Range(0.0, low_open=True)
NON_NEGATIVE = Range(0.0)
#: A transformer winding's rated voltage, moved by its tap changer, is within this
#: factor of its bus's ``vn_kv`` (MATPOWER's cases: 0.55 to 1.58; a ratio beyond it
#: is a unit or typing error, e.g. ``TAP = 1e-300``).
WINDING_RATIO_MAX = 3.0


@dataclass(frozen=True)
class Column:
    """One field of an element table."""

    name: str
    kind: str
    default: object = None  #: ``None`` means required
    unit: str = ""
    description: str = ""
    allowed: Range | None = None  #: physical range of a number field (None: any)

    @property
    def required(self) -> bool:
        return self.default is None


_INF = np.inf
_NAN = np.nan
_PARALLEL = Range(1.0, 1000.0)


def _participation(default: str) -> Column:
    """Frequency-containment participation factor of a unit (``default``: what NaN means)."""
    return Column(
        "participation",
        FLOAT,
        _NAN,
        "",
        f"frequency-containment participation factor after a unit or HVDC trip, >= 0 "
        f"(NaN: {default})",
        NON_NEGATIVE,
    )


SCHEMA: dict[str, tuple[Column, ...]] = {
    "bus": (
        Column("name", STR, ""),
        Column(
            "vn_kv",
            FLOAT,
            None,
            "kV",
            "nominal voltage (base of the per-unit system), in (0, 2000] (UHV AC is 1150 kV)",
            Range(0.0, 2000.0, low_open=True),
        ),
        Column("in_service", BOOL, True),
        Column(
            "min_vm_pu",
            FLOAT,
            _NAN,
            "p.u.",
            "lower voltage limit, >= 0 (NaN: not checked)",
            NON_NEGATIVE,
        ),
        Column(
            "max_vm_pu",
            FLOAT,
            _NAN,
            "p.u.",
            "upper voltage limit, > 0 (NaN: not checked)",
            POSITIVE,
        ),
        Column("zone", STR, "", "", "zone, e.g. a country code (AZ, GE, RS, ...)"),
        Column("area", STR, "", "", "synchronous area"),
        Column("lat", FLOAT, _NAN, "degree", "latitude, in [-90, 90]", Range(-90.0, 90.0)),
        Column("lon", FLOAT, _NAN, "degree", "longitude, in [-180, 180]", Range(-180.0, 180.0)),
    ),
    "line": (
        Column("name", STR, ""),
        Column("from_bus", REF, None),
        Column("to_bus", REF, None),
        Column("length_km", FLOAT, 1.0, "km", "length, > 0", POSITIVE),
        Column("r_ohm_per_km", FLOAT, None, "ohm/km"),
        Column("x_ohm_per_km", FLOAT, None, "ohm/km"),
        Column("b_us_per_km", FLOAT, 0.0, "uS/km", "total shunt susceptance (charging)"),
        Column("g_us_per_km", FLOAT, 0.0, "uS/km", "total shunt conductance"),
        Column(
            "parallel",
            FLOAT,
            1.0,
            "",
            "number of identical parallel circuits, in [1, 1000]",
            _PARALLEL,
        ),
        Column(
            "rate_mva",
            FLOAT,
            _NAN,
            "MVA",
            "rating of all circuits together, > 0 (NaN: unrated)",
            POSITIVE,
        ),
        Column("in_service", BOOL, True),
    ),
    "trafo": (
        Column("name", STR, ""),
        Column("hv_bus", REF, None, "", "winding 1 bus (the tap side in MATPOWER terms)"),
        Column("lv_bus", REF, None, "", "winding 2 bus"),
        Column("sn_mva", FLOAT, None, "MVA", "rated power of one unit, > 0", POSITIVE),
        Column(
            "vn_hv_kv",
            FLOAT,
            None,
            "kV",
            "rated voltage of winding 1, > 0; moved by the tap changer, within a factor "
            f"{WINDING_RATIO_MAX:g} of hv_bus's vn_kv",
            POSITIVE,
        ),
        Column(
            "vn_lv_kv",
            FLOAT,
            None,
            "kV",
            "rated voltage of winding 2, > 0; moved by the tap changer, within a factor "
            f"{WINDING_RATIO_MAX:g} of lv_bus's vn_kv",
            POSITIVE,
        ),
        Column("vk_percent", FLOAT, None, "%", "short-circuit voltage; its sign is x's sign"),
        Column("vkr_percent", FLOAT, 0.0, "%", "real part of the short-circuit voltage"),
        Column("pfe_kw", FLOAT, 0.0, "kW", "iron losses, >= 0", NON_NEGATIVE),
        Column("i0_percent", FLOAT, 0.0, "%", "open-circuit current (< 0: capacitive)"),
        Column("shift_degree", FLOAT, 0.0, "degree", "phase shift, hv leads lv"),
        Column("tap_side", STR, "", "", "'hv', 'lv' or '' (no tap changer)"),
        Column("tap_neutral", FLOAT, 0.0),
        Column("tap_pos", FLOAT, 0.0),
        Column("tap_step_percent", FLOAT, 0.0, "%"),
        Column("tap_step_degree", FLOAT, 0.0, "degree"),
        Column(
            "parallel",
            FLOAT,
            1.0,
            "",
            "number of identical parallel units, in [1, 1000]",
            _PARALLEL,
        ),
        Column(
            "rate_mva",
            FLOAT,
            _NAN,
            "MVA",
            "rating of all units together, > 0 (NaN: unrated)",
            POSITIVE,
        ),
        Column("in_service", BOOL, True),
    ),
    "gen": (
        Column("name", STR, ""),
        Column("bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW"),
        Column("vm_pu", FLOAT, 1.0, "p.u.", "voltage setpoint, > 0", POSITIVE),
        Column("min_q_mvar", FLOAT, -_INF, "Mvar"),
        Column("max_q_mvar", FLOAT, _INF, "Mvar"),
        Column("min_p_mw", FLOAT, _NAN, "MW"),
        Column("max_p_mw", FLOAT, _NAN, "MW"),
        Column("slack", BOOL, False, "", "angle reference of its island"),
        Column("va_degree", FLOAT, 0.0, "degree", "angle setpoint when slack"),
        Column(
            "slack_weight",
            FLOAT,
            1.0,
            "",
            "share of the slack power at its bus, >= 0",
            NON_NEGATIVE,
        ),
        _participation("by max_p_mw"),
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
        Column("vm_pu", FLOAT, 1.0, "p.u.", "voltage setpoint, > 0", POSITIVE),
        Column("va_degree", FLOAT, 0.0, "degree"),
        Column("min_q_mvar", FLOAT, -_INF, "Mvar"),
        Column("max_q_mvar", FLOAT, _INF, "Mvar"),
        Column(
            "slack_weight",
            FLOAT,
            1.0,
            "",
            "share of the slack power at its bus, >= 0",
            NON_NEGATIVE,
        ),
        _participation("none"),
        Column("in_service", BOOL, True),
    ),
    "load": (
        Column("name", STR, ""),
        Column("bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW"),
        Column("q_mvar", FLOAT, 0.0, "Mvar"),
        *(
            Column(
                f"const_{share}_{part}_percent",
                FLOAT,
                0.0,
                "%",
                f"share of {'p_mw' if part == 'p' else 'q_mvar'} drawn at constant {kind} "
                f"(scales with |V|{power}; pandapower's), in [0, 100]",
                Range(0.0, 100.0),
            )
            for part in ("p", "q")
            for share, kind, power in (("z", "impedance", "^2"), ("i", "current", ""))
        ),
        Column("in_service", BOOL, True),
    ),
    "shunt": (
        Column("name", STR, ""),
        Column("bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW", "active power drawn at vn_kv"),
        Column("q_mvar", FLOAT, 0.0, "Mvar", "reactive power drawn at vn_kv (< 0: capacitor)"),
        Column("vn_kv", FLOAT, _NAN, "kV", "rated voltage, > 0 (NaN: the bus's vn_kv)", POSITIVE),
        Column("step", FLOAT, 1.0, "", "number of steps in service, >= 0", NON_NEGATIVE),
        Column(
            "max_step",
            FLOAT,
            _NAN,
            "",
            "steps a switched bank has (its steps in service are then a preventive "
            "voltage control of n1_ttc, from 0 to max_step), >= 0; NaN: fixed at step",
            NON_NEGATIVE,
        ),
        Column("in_service", BOOL, True),
    ),
    "hvdc": (
        Column("name", STR, ""),
        Column("from_bus", REF, None),
        Column("to_bus", REF, None),
        Column("p_mw", FLOAT, 0.0, "MW", "power sent from from_bus (scheduled)"),
        Column(
            "loss_percent",
            FLOAT,
            0.0,
            "%",
            "losses in percent of the power sent, in [0, 100)",
            Range(0.0, 100.0, high_open=True),
        ),
        Column("loss_mw", FLOAT, 0.0, "MW", "fixed losses, >= 0", NON_NEGATIVE),
        Column("max_p_mw", FLOAT, _NAN, "MW", "converter rating, > 0 (NaN: unrated)", POSITIVE),
        Column(
            "vm_from_pu", FLOAT, _NAN, "p.u.", "voltage setpoint, > 0 (NaN: Q fixed at 0)", POSITIVE
        ),
        Column(
            "vm_to_pu", FLOAT, _NAN, "p.u.", "voltage setpoint, > 0 (NaN: Q fixed at 0)", POSITIVE
        ),
        Column("min_q_from_mvar", FLOAT, -_INF, "Mvar"),
        Column("max_q_from_mvar", FLOAT, _INF, "Mvar"),
        Column("min_q_to_mvar", FLOAT, -_INF, "Mvar"),
        Column("max_q_to_mvar", FLOAT, _INF, "Mvar"),
        Column("in_service", BOOL, True),
    ),
}

#: Kinds of an interface (flowgate): a thermal limit, a published net transfer capacity
#: (NTC: what the operators offer, not a physical limit), a stability limit.
INTERFACE_KINDS = ("thermal", "ntc", "stability")
#: Elements an interface's members may be (each with a direction, +1 or -1).
INTERFACE_MEMBERS = ("line", "trafo", "hvdc")
#: Fields of an ``interface`` record besides ``id`` and ``members`` (a list of
#: ``{element, id, direction}``): the flowgate's limit on ``sum direction * flow`` (a
#: branch's active flow at its from end, a link's setpoint ``p_mw``). Interfaces are
#: not an element table of the network (their members are lists); network files hold
#: them in ``interface:`` and :func:`gridsim.io.network_file.load_network` puts the
#: in-service ones on ``network.interfaces``.
INTERFACE: tuple[Column, ...] = (
    Column("name", STR, ""),
    Column(
        "limit_mw",
        FLOAT,
        None,
        "MW",
        "largest sum of the members' flows, each times its direction, > 0",
        POSITIVE,
    ),
    Column("kind", STR, "ntc", "", "thermal, ntc (published net transfer capacity), stability"),
    Column("in_service", BOOL, True),
)

#: Network-level fields (attributes of :class:`~gridsim.model.network.Network`).
NETWORK_FIELDS: tuple[Column, ...] = (
    Column("sn_mva", FLOAT, 100.0, "MVA", "base power of the per-unit system, > 0", POSITIVE),
    Column("f_hz", FLOAT, 50.0, "Hz", "system frequency, > 0", POSITIVE),
)

ELEMENTS: tuple[str, ...] = tuple(SCHEMA)
BRANCH_ELEMENTS = ("line", "trafo")
