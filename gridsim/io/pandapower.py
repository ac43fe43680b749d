"""pandapower interop: :func:`from_pandapower` and :func:`to_pandapower`.

Element ids are pandapower's indices. ``from_pandapower`` models every symmetric element
as ``pandapower.runpp`` does, on gridsim's elements plus auxiliary buses:

- buses joined by closed bus-bus switches are one node (the lowest index names it; a
  switch with ``z_ohm > 0`` is a branch instead, as pandapower's ``switch_rx_ratio``);
  an open line, transformer or trafo3w switch leaves its branch energised from the other
  end through an auxiliary bus (charging and magnetising current flow);
- ``trafo3w``: three two-winding transformers to a star-point bus (``"trafo3w K hv"``,
  ``"... mv"``, ``"... lv"``), taps on any side or at the star point, losses where
  ``trafo3w_losses`` puts them;
- ``impedance``: a line ``"impedance K"`` (its shunts, if any, as bus shunts);
- ``ward``: a load and a shunt; ``xward``: the same plus a line ``"xward K"`` to an
  auxiliary bus held by a gen ``"xward K"`` at ``vm_pu`` (its internal voltage source);
- ``storage`` and ``motor``: loads ``"storage K"``, ``"motor K"``;
- ``svc``: at a fixed firing angle (``controllable=False``) a shunt ``"svc K"``;
  controllable, a gen ``"svc K"`` holding ``set_vm_pu`` with P = 0 and no reactive limit
  (pandapower's power flow leaves the firing angle unbounded too);
- ``ssc``: controllable, a gen ``"ssc K"`` holding ``set_vm_pu`` with P = 0; fixed, a
  line ``"ssc K"`` (``r_ohm``, ``x_ohm``) to an auxiliary bus held at ``vm_internal_pu``
  by a gen ``"ssc K"`` with P = 0;
- ``tcsc``: a line ``"tcsc K"`` with the reactance of its firing angle;
- loads with ``const_z_*_percent``/``const_i_*_percent``: per bus a voltage-dependent
  load ``"load_v B"`` and its constant-power part taken off (``"load_v B constant"``), as
  pandapower averages the shares over a bus's loads and applies them to the bus's whole
  demand;
- ``tap_changer_type`` as pandapower 3.x: "Ratio"/"Symmetrical" move the voltage,
  "Ideal" only the angle, none (or NaN) no tap at all; second tap changers too.

A controllable tcsc's reactance (set so that its flow is ``set_p_to_mw``) and the loss
in a controllable ssc's ``r_ohm`` are set by :func:`gridsim.pandapower.runpp`'s outer
loop; ``from_pandapower`` alone keeps the given firing angle and leaves the loss out, and
says so in a warning.

What gridsim cannot model is refused with one line naming the table and rows
(asymmetric loads and sgens, VSC and DC grids, asymmetric impedances, characteristic
tables, a controllable svc or ssc at a bus whose voltage something else holds). Tables
that take no part in a power flow (measurements, controllers, characteristics, costs,
geodata) are ignored with a warning. pandapower is imported only by
:func:`to_pandapower`, which writes svc, ssc and tcsc back as they were.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.exceptions import InvalidNetworkError, UnsupportedElementError
from gridsim.model.compile import trafo_parameters
from gridsim.model.network import Network, plain

_SQRT3 = np.sqrt(3.0)
#: element tables from_pandapower models (the rest, when in use, is refused or ignored)
MODELLED = (
    "bus",
    "line",
    "trafo",
    "trafo3w",
    "impedance",
    "gen",
    "sgen",
    "ext_grid",
    "load",
    "storage",
    "motor",
    "shunt",
    "ward",
    "xward",
    "svc",
    "ssc",
    "tcsc",
    "dcline",
    "switch",
)
#: tables that take no part in a power flow
_IGNORED = (
    "measurement",
    "controller",
    "characteristic",
    "trafo_characteristic_table",
    "shunt_characteristic_table",
    "q_capability_curve_table",
    "q_capability_characteristic",
    "group",
    "protection",
    "bus_geodata",
    "line_geodata",
)
# optimal power flow data: no part in a power flow, and in most of pandapower's cases,
# so ignored without a note
_OPF_ONLY = ("poly_cost", "pwl_cost")
_REFUSED = (
    "asymmetric_load",
    "asymmetric_sgen",
    "vsc",
    "vsc_stacked",
    "vsc_bipolar",
    "b2b_vsc",
    "bus_dc",
    "line_dc",
    "source_dc",
    "load_dc",
)
# the columns from_pandapower reads without a default (the optional tables: when present)
_REQUIRED = {
    "bus": ("vn_kv", "in_service"),
    "line": ("from_bus", "to_bus", "length_km", "r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km")
    + ("max_i_ka", "parallel", "in_service"),
    "trafo": ("hv_bus", "lv_bus", "sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent")
    + ("pfe_kw", "i0_percent", "parallel", "in_service"),
    "gen": ("bus", "p_mw", "vm_pu", "in_service"),
    "sgen": ("bus", "p_mw", "q_mvar", "in_service"),
    "ext_grid": ("bus", "vm_pu", "va_degree", "in_service"),
    "load": ("bus", "p_mw", "q_mvar", "in_service"),
    "shunt": ("bus", "p_mw", "q_mvar", "in_service"),
    "dcline": ("from_bus", "to_bus", "p_mw", "loss_percent", "loss_mw", "vm_from_pu", "vm_to_pu")
    + ("in_service",),
    "switch": ("bus", "element", "et", "closed"),
    "trafo3w": ("hv_bus", "mv_bus", "lv_bus", "sn_hv_mva", "sn_mv_mva", "sn_lv_mva")
    + ("vn_hv_kv", "vn_mv_kv", "vn_lv_kv", "vk_hv_percent", "vk_mv_percent", "vk_lv_percent")
    + ("vkr_hv_percent", "vkr_mv_percent", "vkr_lv_percent", "pfe_kw", "i0_percent")
    + ("in_service",),
    "impedance": ("from_bus", "to_bus", "rft_pu", "xft_pu", "sn_mva", "in_service"),
    "ward": ("bus", "ps_mw", "qs_mvar", "pz_mw", "qz_mvar", "in_service"),
    "xward": ("bus", "ps_mw", "qs_mvar", "pz_mw", "qz_mvar", "r_ohm", "x_ohm", "vm_pu")
    + ("in_service",),
    "storage": ("bus", "p_mw", "q_mvar", "in_service"),
    "motor": ("bus", "pn_mech_mw", "cos_phi", "efficiency_percent", "in_service"),
    "svc": ("bus", "x_l_ohm", "x_cvar_ohm", "thyristor_firing_angle_degree", "set_vm_pu")
    + ("in_service",),
    "ssc": ("bus", "r_ohm", "x_ohm", "vm_internal_pu", "set_vm_pu", "in_service"),
    "tcsc": ("from_bus", "to_bus", "x_l_ohm", "x_cvar_ohm", "set_p_to_mw")
    + ("thyristor_firing_angle_degree", "in_service"),
}
_REQUIRED_ALWAYS = ("bus", "line", "trafo", "gen", "sgen", "ext_grid", "load", "shunt")
_SIDES = ("hv", "mv", "lv")
# bus references of the tables gridsim also has, and load columns gridsim lacks
_REFS = {
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "gen": ("bus",),
    "sgen": ("bus",),
    "ext_grid": ("bus",),
    "load": ("bus",),
    "shunt": ("bus",),
    "hvdc": ("from_bus", "to_bus"),
}
_LOAD_SHARES = ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent")
_LOAD_SHARES += ("const_i_q_percent",)
# pandapower tables written back as they were (gridsim models them with other elements)
_COMPOSITE = ("switch", "trafo3w", "impedance", "ward", "xward", "storage", "motor", "svc")
_COMPOSITE += ("ssc", "tcsc")


@dataclass(frozen=True)
class Options:
    """The ``pandapower.runpp`` options that change the model."""

    trafo_model: str = "t"
    calculate_voltage_angles: bool = True
    voltage_depend_loads: bool = True
    trafo3w_losses: str = "hv"
    switch_rx_ratio: float = 2.0
    enforce_q_lims: bool = False  # pandapower clips sgen Q to its limits then
    neglect_open_switch_branches: bool = False  # open switch: branch out, no auxiliary bus


@dataclass
class Layout:
    """How a pandapower net maps onto the gridsim network built from it.

    ``node`` gives, per pandapower bus (in ``net.bus`` order), the gridsim bus id that
    carries it (buses fused by closed switches share one); ``aux_bus`` lists the
    auxiliary buses (open switch ends, trafo3w star points, xward internal buses).
    ``originals`` holds what :func:`to_pandapower` needs to write the pandapower
    elements back: copies of the tables gridsim models with other elements, the fused
    buses and every table's bus references.
    """

    node: np.ndarray
    aux_bus: np.ndarray
    impedance_y: dict = field(default_factory=dict)  # end shunts (p.u.) per impedance end
    originals: dict = field(default_factory=dict)
    load_z: bool = False  # voltage-dependent loads in use (they follow the bus demand)


def _col(df: pd.DataFrame, name: str, default) -> np.ndarray:
    if name in df.columns:
        values = df[name].to_numpy()
        if isinstance(default, float):
            values = values.astype(float)
            return np.where(np.isnan(values), default, values)
        return values
    return np.full(len(df), default)


def _flag(df: pd.DataFrame, name: str, nonzero: bool = False) -> np.ndarray:
    """Rows where an optional column is set (true, or non-zero); NaN/None count as unset."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    values = df[name].to_numpy()
    missing = pd.isna(values)
    if nonzero:
        return ~missing & (np.where(missing, 0, values) != 0)
    return ~missing & np.where(missing, False, values).astype(bool)


def _text(df: pd.DataFrame, name: str) -> np.ndarray:
    """A string column with None/NaN as ""."""
    values = df[name].to_numpy(dtype=object) if name in df.columns else np.full(len(df), "")
    out = values.copy()
    out[pd.isna(values)] = ""
    return out.astype(str)


def _active(df: pd.DataFrame) -> np.ndarray:
    return df["in_service"].to_numpy(dtype=bool, copy=True)


def _table(net, element: str) -> pd.DataFrame | None:
    """``net[element]`` when the net has it as a non-empty table."""
    table = net[element] if element in net else None
    if isinstance(table, pd.DataFrame) and len(table):
        return table
    return None


def _rows(table: pd.DataFrame, mask: np.ndarray) -> str:
    """'rows 1, 4, 7' (at most five, then how many more) of a table."""
    ids = [str(i) for i in table.index[mask]]
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return f"row{'s' if len(ids) > 1 else ''} {', '.join(ids[:5])}{more}"


def from_pandapower(
    net,
    *,
    trafo_model: str = "t",
    source: str | None = None,
    calculate_voltage_angles: bool = True,
    voltage_depend_loads: bool = True,
) -> Network:
    """Build a :class:`Network` from a pandapower net, as ``pandapower.runpp`` models it.

    Parameters
    ----------
    net : pandapower.pandapowerNet
    trafo_model : {"t", "pi"}
        Transformer equivalent circuit, as ``pandapower.runpp``'s option (default "t").
    source : str, optional
        Where the net came from (a file name), for error messages.
    calculate_voltage_angles : bool
        As ``pandapower.runpp``'s option: False ignores transformer phase shifts
        (``shift_degree``, not those of tap changers) and ext_grid angles.
    voltage_depend_loads : bool
        As ``pandapower.runpp``'s option: False treats every load as constant power.

    Returns
    -------
    Network
        Ids are pandapower indices (see the module docstring for the elements built for
        pandapower elements gridsim lacks); islands without an ``ext_grid`` or slack
        ``gen`` are de-energised, as pandapower does. ``network.pandapower_layout`` tells
        how pandapower's buses and elements map onto it.

    Raises
    ------
    UnsupportedElementError
        For elements or options gridsim does not model (table and rows named).
    InvalidNetworkError
        For a table without a column gridsim needs, or a net with no in-service
        ``ext_grid`` or slack ``gen`` at an in-service bus (pandapower: "No reference bus
        is available").
    """
    options = Options(
        trafo_model=trafo_model,
        calculate_voltage_angles=bool(calculate_voltage_angles),
        voltage_depend_loads=bool(voltage_depend_loads),
    )
    network, _ = convert(net, options, source)
    _note_controls(net, source or network.source)
    return network


def _note_controls(net, name: str) -> None:
    """Warn where the network holds a control only the drop-in runpp's outer loop adds."""
    held = []
    tcsc = _table(net, "tcsc")
    if tcsc is not None:
        m = _active(tcsc) & _col(tcsc, "controllable", True).astype(bool)
        if m.any():
            held.append(f"tcsc {_rows(tcsc, m)} at their given firing angle")
    ssc = _table(net, "ssc")
    if ssc is not None:
        m = _active(ssc) & _col(ssc, "controllable", True).astype(bool)
        m &= ssc.r_ohm.to_numpy(dtype=float) > 0
        if m.any():
            held.append(f"ssc {_rows(ssc, m)} without the loss in r_ohm")
    if held:
        warnings.warn(
            f"{name}: controllable {' and '.join(held)}; gridsim.pandapower.runpp sets "
            "them as pandapower's power flow does",
            UserWarning,
            stacklevel=3,
        )


def convert(net, options: Options, source: str | None = None) -> tuple[Network, Layout]:
    """:func:`from_pandapower` with every model option, returning the layout too.

    Parameters
    ----------
    net : pandapower.pandapowerNet
    options : Options
        The ``pandapower.runpp`` options that change the model.
    source : str, optional
        Where the net came from, for error messages.

    Returns
    -------
    network : Network
    layout : Layout
        How pandapower's buses and elements map onto ``network``.
    """
    title = str(net.name) if getattr(net, "name", None) else "pandapower net"
    name = source or title  # what error messages name
    for element, columns in _REQUIRED.items():
        table = net[element] if element in net else None
        if element in _REQUIRED_ALWAYS and not isinstance(table, pd.DataFrame):
            raise InvalidNetworkError(f"pandapower net has no {element!r} table", name)
        if not isinstance(table, pd.DataFrame) or (
            element not in _REQUIRED_ALWAYS and not len(table)
        ):
            continue
        if not table.index.is_unique:
            twice = table.index[table.index.duplicated()][0]
            raise InvalidNetworkError(
                f"pandapower table {element!r} has index {plain(twice)!r} twice", name
            )
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise InvalidNetworkError(
                f"pandapower table {element!r} has no column {', '.join(missing)}", name
            )
    _check_reference(net, name)
    ignored = _check_tables(net, name)
    builder = _Builder(net, options, name)
    network = Network(
        builder.tables,
        sn_mva=float(net.sn_mva),
        f_hz=float(net.f_hz),
        trafo_model=options.trafo_model,
        name=title,
        source=name,
        unsupplied_islands="isolate",
    )
    layout = builder.layout
    network.pandapower_layout = layout
    # once the net is known to be good
    if "controller" in ignored:
        warnings.warn(
            f"{name}: {len(net.controller)} pandapower controller(s) ignored: controllers "
            "take no part in a power flow",
            UserWarning,
            stacklevel=3,
        )
    others = [e for e in ignored if e != "controller"]
    if others:
        warnings.warn(
            f"{name}: pandapower table(s) {', '.join(others)} ignored: they take no part in "
            "a power flow",
            UserWarning,
            stacklevel=3,
        )
    return network, layout


def _check_reference(net, name: str) -> None:
    """pandapower's rule: an in-service ext_grid or slack gen at an in-service bus."""
    live = net.bus.index[_active(net.bus)]
    ext, gen = net.ext_grid, net.gen
    if (_active(ext) & np.isin(ext.bus, live)).any():
        return
    if (_active(gen) & _flag(gen, "slack") & np.isin(gen.bus, live)).any():
        return
    raise InvalidNetworkError(
        "no reference bus: no in-service ext_grid or gen with slack=True at an in-service bus "
        "(pandapower: 'No reference bus is available')",
        name,
    )


def _check_tables(net, name: str) -> list[str]:
    """Refuse what cannot be modelled; the tables to ignore, with a note."""
    for element in _REFUSED:
        table = _table(net, element)
        if table is None:
            continue
        used = _active(table) if "in_service" in table.columns else np.ones(len(table), bool)
        if used.any():
            raise UnsupportedElementError(
                f"pandapower table {element!r} ({_rows(table, used)}): gridsim does not model "
                f"{element} elements",
                name,
            )
    known = set(MODELLED) | set(_IGNORED) | set(_REFUSED) | set(_OPF_ONLY)
    ignored = [e for e in _IGNORED if _table(net, e) is not None]
    for element in net.keys() if hasattr(net, "keys") else ():
        if element in known or not isinstance(element, str) or element.startswith(("_", "res_")):
            continue
        table = _table(net, element)
        if table is None:
            continue
        if {"bus", "from_bus", "hv_bus"} & set(table.columns):  # an element: refuse it
            raise UnsupportedElementError(
                f"pandapower table {element!r} ({_rows(table, np.ones(len(table), bool))}): "
                f"gridsim does not model {element} elements",
                name,
            )
        ignored.append(element)  # e.g. SimBench's substation and loadcases
    return ignored


class _Builder:
    """Builds gridsim's tables and the layout from a pandapower net."""

    def __init__(self, net, options: Options, name: str):
        self.net, self.options, self.name = net, options, name
        self.parts: dict[str, list[dict]] = {}
        bus = net.bus
        self.bus_pos = pd.Index(bus.index)
        self.vn = bus.vn_kv.to_numpy(dtype=float)
        self.next_aux = int(bus.index.max()) + 1 if len(bus) else 0
        self.aux: list[dict] = []
        self.originals: dict[str, pd.DataFrame] = {}
        self.node = self._fuse_buses()
        self._buses()
        self._lines()
        self._trafos()
        self._trafo3w()
        imp_y = self._impedance()
        self._injections()
        load_z = self._loads()
        self._wards()
        self._shunts()
        self._svcs()
        self._sscs()
        self._tcscs()
        self._dclines()
        self.tables = {k: _stack(v) for k, v in self.parts.items()}
        if self.aux:
            self.tables["bus"] = _stack([self.tables["bus"], *self.aux])
        self.layout = Layout(
            node=self.node,
            aux_bus=np.concatenate([a["id"] for a in self.aux] or [np.zeros(0, np.int64)]),
            impedance_y=imp_y,
            originals=self.originals,
            load_z=load_z,
        )

    # -- helpers ------------------------------------------------------------------------
    def add(self, element: str, part: dict) -> None:
        if len(part["id"]):
            self.parts.setdefault(element, []).append(part)

    def at(self, buses) -> np.ndarray:
        """Gridsim node of pandapower buses (an unknown bus as it is: the network's
        validation names the element that refers to it)."""
        buses = np.asarray(buses)
        pos = self.bus_pos.get_indexer(buses)
        if (pos < 0).any():
            return np.where(pos >= 0, self.node[np.maximum(pos, 0)], buses)
        return self.node[pos]

    def vn_at(self, buses) -> np.ndarray:
        pos = self.bus_pos.get_indexer(np.asarray(buses))
        return np.where(pos >= 0, self.vn[np.maximum(pos, 0)], np.nan)

    def new_buses(self, vn_kv: np.ndarray, in_service: np.ndarray, label: str) -> np.ndarray:
        """Auxiliary buses (ids after pandapower's largest bus index)."""
        ids = np.arange(self.next_aux, self.next_aux + vn_kv.size, dtype=np.int64)
        self.next_aux += vn_kv.size
        if ids.size:
            self.aux.append(
                {
                    "id": ids,
                    "name": np.array([f"{label} {k}" for k in range(ids.size)], dtype=object),
                    "vn_kv": vn_kv.astype(float),
                    "in_service": in_service.astype(bool),
                    "min_vm_pu": np.full(ids.size, np.nan),
                    "max_vm_pu": np.full(ids.size, np.nan),
                    "zone": np.full(ids.size, "", dtype=object),
                }
            )
        return ids

    def keep(self, element: str) -> pd.DataFrame | None:
        table = _table(self.net, element)
        if table is not None:
            self.originals[element] = table.copy()
        return table

    # -- buses and switches -------------------------------------------------------------
    def _fuse_buses(self) -> np.ndarray:
        """Node id per bus: buses joined by closed zero-impedance bus-bus switches fuse."""
        bus_ids = self.bus_pos.to_numpy()
        sw = self.keep("switch")
        if sw is None:
            return bus_ids.astype(np.int64)
        et = sw.et.to_numpy()
        closed = sw.closed.to_numpy(dtype=bool)
        fuse = (et == "b") & closed & (_col(sw, "z_ohm", 0.0) == 0)
        if not fuse.any():
            return bus_ids.astype(np.int64)
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        a = self.bus_pos.get_indexer(sw.bus.to_numpy()[fuse])
        b = self.bus_pos.get_indexer(sw.element.to_numpy()[fuse])
        if (a < 0).any() or (b < 0).any():
            bad = np.zeros(len(sw), dtype=bool)
            bad[np.flatnonzero(fuse)[(a < 0) | (b < 0)]] = True
            raise InvalidNetworkError(
                f"pandapower table 'switch' ({_rows(sw, bad)}): a bus-bus switch to a bus "
                "that does not exist",
                self.name,
            )
        n = bus_ids.size
        graph = coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        first = np.full(label.max() + 1, n, dtype=np.int64)
        np.minimum.at(first, label, np.arange(n))
        return bus_ids[first[label]].astype(np.int64)

    def _buses(self) -> None:
        bus = self.net.bus
        min_vm = _col(bus, "min_vm_pu", np.nan)
        table = {
            "id": bus.index.to_numpy(),
            "name": _col(bus, "name", ""),
            "vn_kv": bus.vn_kv.to_numpy(dtype=float),
            "in_service": _active(bus),
            # pandapower fills in 0 (and 2 p.u. above) for a bus created without limits
            "min_vm_pu": np.where(min_vm == 0, np.nan, min_vm),
            "max_vm_pu": _col(bus, "max_vm_pu", np.nan),
            "zone": _col(bus, "zone", ""),
        }
        rep = self.node == self.bus_pos.to_numpy()
        self.add("bus", {k: v[rep] for k, v in table.items()})
        if not rep.all():  # the fused buses, for to_pandapower
            self.originals["fused_bus"] = {k: v[~rep] for k, v in table.items()}
        for element, cols in _REFS.items():  # pandapower's bus references, likewise
            table = _table(self.net, "dcline" if element == "hvdc" else element)
            if table is not None:
                extra = [c for c in _LOAD_SHARES if c in table.columns] if element == "load" else []
                self.originals[f"refs_{element}"] = table[list(cols) + extra].copy()

    def _open_ends(self, et: str, table: pd.DataFrame, bus_cols: tuple[str, ...]):
        """Per branch end: whether an open switch of type ``et`` cuts it there."""
        out = [np.zeros(len(table), dtype=bool) for _ in bus_cols]
        sw = _table(self.net, "switch")
        if sw is None:
            return out
        m = (sw.et.to_numpy() == et) & ~sw.closed.to_numpy(dtype=bool)
        if not m.any():
            return out
        pos = table.index.get_indexer(sw.element.to_numpy()[m])
        ok = pos >= 0
        pos, sbus = pos[ok], sw.bus.to_numpy()[m][ok]
        for k, col in enumerate(bus_cols):
            hit = table[col].to_numpy()[pos] == sbus
            out[k][pos[hit]] = True
        return out

    def _cut(self, ends: np.ndarray, buses: np.ndarray, on: np.ndarray, label: str) -> np.ndarray:
        """Node at each branch end, an auxiliary bus where an open switch cuts it (or,
        under ``neglect_open_switch_branches``, the branch out of service: ``on``)."""
        node = self.at(buses)
        if self.options.neglect_open_switch_branches:
            on &= ~ends
            return node
        cut = ends & on
        if cut.any():
            node = node.copy()
            node[cut] = self.new_buses(self.vn_at(buses[cut]), np.ones(cut.sum(), bool), label)
        return node

    # -- branches -----------------------------------------------------------------------
    def _lines(self) -> None:
        line = self.net.line
        on = _active(line)
        fo, to = self._open_ends("l", line, ("from_bus", "to_bus"))
        f = self._cut(fo, line.from_bus.to_numpy(), on, "open switch of line")
        t = self._cut(to, line.to_bus.to_numpy(), on, "open switch of line")
        parallel = line.parallel.to_numpy(dtype=float)
        self.add(
            "line",
            {
                "id": line.index.to_numpy(),
                "name": _col(line, "name", ""),
                "from_bus": f,
                "to_bus": t,
                "length_km": line.length_km.to_numpy(dtype=float),
                "r_ohm_per_km": line.r_ohm_per_km.to_numpy(dtype=float),
                "x_ohm_per_km": line.x_ohm_per_km.to_numpy(dtype=float),
                "b_us_per_km": 2e-3
                * np.pi
                * self.net.f_hz
                * line.c_nf_per_km.to_numpy(dtype=float),
                "g_us_per_km": _col(line, "g_us_per_km", 0.0),
                "parallel": parallel,
                "rate_mva": _SQRT3
                * self.vn_at(line.from_bus.to_numpy())
                * line.max_i_ka.to_numpy(dtype=float)
                * _col(line, "df", 1.0)
                * parallel,
                "in_service": on,
            },
        )
        sw = _table(self.net, "switch")
        if sw is not None:
            z = _col(sw, "z_ohm", 0.0)
            m = (sw.et.to_numpy() == "b") & sw.closed.to_numpy(dtype=bool) & (z > 0)
            if m.any():
                rx = self.options.switch_rx_ratio
                zs = z[m]
                self.add(
                    "line",
                    _series_line(
                        np.array([f"switch {k}" for k in sw.index[m]], dtype=object),
                        self.at(sw.bus.to_numpy()[m]),
                        self.at(sw.element.to_numpy()[m]),
                        zs * rx / np.sqrt(1 + rx**2),
                        zs / np.sqrt(1 + rx**2),
                        np.ones(zs.size, bool),
                    ),
                )

    def _trafos(self) -> None:
        t = self.net.trafo
        on = _active(t)
        ho, lo = self._open_ends("t", t, ("hv_bus", "lv_bus"))
        hv = self._cut(ho, t.hv_bus.to_numpy(), on, "open switch of trafo")
        lv = self._cut(lo, t.lv_bus.to_numpy(), on, "open switch of trafo")
        if _flag(t, "tap_dependency_table").any():
            raise UnsupportedElementError(
                f"pandapower table 'trafo' ({_rows(t, _flag(t, 'tap_dependency_table'))}): "
                "tap_dependency_table is not supported",
                self.name,
            )
        for ratio_col in ("leakage_resistance_ratio_hv", "leakage_reactance_ratio_hv"):
            odd = _col(t, ratio_col, 0.5) != 0.5
            if odd.any():
                raise UnsupportedElementError(
                    f"pandapower table 'trafo' ({_rows(t, odd)}): {ratio_col} other than 0.5 "
                    "is not supported",
                    self.name,
                )
        shift = _col(t, "shift_degree", 0.0)
        if not self.options.calculate_voltage_angles:
            shift = np.zeros(len(t))
        cols = {  # copies: _taps may fold taps into them
            "vn_hv_kv": t.vn_hv_kv.to_numpy(dtype=float, copy=True),
            "vn_lv_kv": t.vn_lv_kv.to_numpy(dtype=float, copy=True),
            "shift_degree": shift.copy(),
        }
        taps = _taps(t, cols, self.name, "trafo")
        self.add(
            "trafo",
            {
                "id": t.index.to_numpy(),
                "name": _col(t, "name", ""),
                "hv_bus": hv,
                "lv_bus": lv,
                "sn_mva": t.sn_mva.to_numpy(dtype=float),
                "vk_percent": t.vk_percent.to_numpy(dtype=float),
                "vkr_percent": t.vkr_percent.to_numpy(dtype=float),
                "pfe_kw": t.pfe_kw.to_numpy(dtype=float),
                # pandapower's magnetising branch is inductive whatever i0's sign
                "i0_percent": np.abs(t.i0_percent.to_numpy(dtype=float)),
                **cols,
                **taps,
                "parallel": t.parallel.to_numpy(dtype=float),
                "rate_mva": t.sn_mva.to_numpy(dtype=float)
                * t.parallel.to_numpy(dtype=float)
                * _col(t, "df", 1.0),
                "in_service": on,
            },
        )

    def _trafo3w(self) -> None:
        t3 = self.keep("trafo3w")
        if t3 is None:
            return
        if _flag(t3, "tap_dependency_table").any():
            raise UnsupportedElementError(
                f"pandapower table 'trafo3w' ({_rows(t3, _flag(t3, 'tap_dependency_table'))}): "
                "tap_dependency_table is not supported",
                self.name,
            )
        on = _active(t3)
        n = len(t3)
        star = self.new_buses(self.vn_at(t3.hv_bus.to_numpy()), on, "trafo3w star")
        opened = self._open_ends("t3", t3, ("hv_bus", "mv_bus", "lv_bus"))
        ends = {
            s: self._cut(o, t3[f"{s}_bus"].to_numpy(), on, "open switch of trafo3w")
            for s, o in zip(_SIDES, opened, strict=True)
        }
        sn = np.stack([t3[f"sn_{s}_mva"].to_numpy(dtype=float) for s in _SIDES])
        vk = np.stack([t3[f"vk_{s}_percent"].to_numpy(dtype=float) for s in _SIDES])
        vkr = np.stack([t3[f"vkr_{s}_percent"].to_numpy(dtype=float) for s in _SIDES])
        vk_star, vkr_star = _star_impedances(vk, vkr, sn)
        loss_side = _text(t3, "loss_side")
        loss_side = np.where(loss_side == "", self.options.trafo3w_losses, loss_side)
        shifts = {
            "hv": np.zeros(n),
            "mv": _col(t3, "shift_mv_degree", 0.0),
            "lv": _col(t3, "shift_lv_degree", 0.0),
        }
        tap_side = _text(t3, "tap_side")
        at_star = _flag(t3, "tap_at_star_point")
        pfe = t3.pfe_kw.to_numpy(dtype=float)
        i0 = t3.i0_percent.to_numpy(dtype=float)
        for k, s in enumerate(_SIDES):
            cols = {  # copies: _taps may fold taps into them
                "vn_hv_kv": t3.vn_hv_kv.to_numpy(dtype=float, copy=True),
                "vn_lv_kv": t3[f"vn_{s}_kv"].to_numpy(dtype=float, copy=True),
                "shift_degree": shifts[s].copy()
                if self.options.calculate_voltage_angles
                else np.zeros(n),
            }
            # the winding's tap: on its outer end, or at the star point (the other end,
            # its step re-referred as pandapower does)
            frame = pd.DataFrame(
                {
                    c: _col(t3, c, np.nan)
                    for c in ("tap_pos", "tap_neutral", "tap_step_percent", "tap_step_degree")
                },
                index=t3.index,
            )
            mine = tap_side == s
            outer = "hv" if s == "hv" else "lv"
            inner = "lv" if s == "hv" else "hv"
            frame["tap_side"] = np.where(mine, np.where(at_star, inner, outer), None)
            if "tap_changer_type" in t3.columns:
                frame["tap_changer_type"] = t3.tap_changer_type.to_numpy(dtype=object)
            star_tap = mine & at_star
            if star_tap.any():
                # as pandapower: a NaN step angle leaves no tap at all
                step = frame.tap_step_percent.to_numpy() * np.exp(
                    1j * np.deg2rad(frame.tap_step_degree.to_numpy())
                )
                d = frame.tap_pos.to_numpy() - frame.tap_neutral.to_numpy()
                corrected = 100 * step / (100 + step * d)
                frame.loc[star_tap, "tap_step_percent"] = np.abs(corrected)[star_tap]
                frame.loc[star_tap, "tap_step_degree"] = (np.rad2deg(np.angle(corrected)) - 180)[
                    star_tap
                ]
            taps = _taps(frame, cols, self.name, "trafo3w")
            loss = loss_side == s
            self.add(
                "trafo",
                {
                    "id": np.array([f"trafo3w {i} {s}" for i in t3.index], dtype=object),
                    "name": _col(t3, "name", ""),
                    "hv_bus": ends["hv"] if s == "hv" else star,
                    "lv_bus": star if s == "hv" else ends[s],
                    "sn_mva": sn[k],
                    "vk_percent": vk_star[k],
                    "vkr_percent": vkr_star[k],
                    "pfe_kw": np.where(loss, pfe, 0.0),
                    "i0_percent": np.where(loss, np.abs(i0), 0.0),
                    **cols,
                    **taps,
                    "parallel": np.ones(n),
                    "rate_mva": sn[k],
                    "in_service": on,
                },
            )
        star_loss = loss_side == "star"
        if star_loss.any():
            sn_hv = sn[0]
            q = np.sqrt(np.maximum((sn_hv * i0 / 100.0) ** 2 - (pfe / 1e3) ** 2, 0.0))
            ratio = (self.vn_at(t3.hv_bus.to_numpy()) / t3.vn_hv_kv.to_numpy(dtype=float)) ** 2
            self.add(
                "shunt",
                _shunt(
                    np.array([f"trafo3w {i} star" for i in t3.index[star_loss]], dtype=object),
                    star[star_loss],
                    (pfe / 1e3 * ratio)[star_loss],
                    (q * ratio)[star_loss],
                    on[star_loss],
                ),
            )

    def _impedance(self) -> dict:
        imp = self.keep("impedance")
        if imp is None:
            return {}
        sn_net = float(self.net.sn_mva)
        r = imp.rft_pu.to_numpy(dtype=float)
        x = imp.xft_pu.to_numpy(dtype=float)
        asym = (_col(imp, "rtf_pu", np.nan) != r) | (_col(imp, "xtf_pu", np.nan) != x)
        asym &= _active(imp)
        if asym.any():
            raise UnsupportedElementError(
                f"pandapower table 'impedance' ({_rows(imp, asym)}): an asymmetric impedance "
                "(rft_pu != rtf_pu or xft_pu != xtf_pu) is not supported",
                self.name,
            )
        scale = sn_net / imp.sn_mva.to_numpy(dtype=float)
        f = self.at(imp.from_bus.to_numpy())
        t = self.at(imp.to_bus.to_numpy())
        base = self.vn_at(imp.from_bus.to_numpy()) ** 2 / sn_net
        on = _active(imp)
        ids = np.array([f"impedance {k}" for k in imp.index], dtype=object)
        self.add("line", _series_line(ids, f, t, r * scale * base, x * scale * base, on))
        y = {}
        for end, bus in (("f", f), ("t", t)):
            g = _col(imp, f"g{end}_pu", 0.0)
            b = _col(imp, f"b{end}_pu", 0.0)
            yk = (g + 1j * b) / scale  # p.u. on the net's base
            y[end] = yk
            m = yk != 0
            if m.any():
                self.add(
                    "shunt",
                    _shunt(
                        np.array([f"impedance {k} {end}" for k in imp.index[m]], dtype=object),
                        bus[m],
                        yk.real[m] * sn_net,
                        -yk.imag[m] * sn_net,
                        on[m],
                    ),
                )
        return y

    # -- injections ---------------------------------------------------------------------
    def _injections(self) -> None:
        net = self.net
        gen = net.gen
        self.add(
            "gen",
            {
                "id": gen.index.to_numpy(),
                "name": _col(gen, "name", ""),
                "bus": self.at(gen.bus.to_numpy()),
                "p_mw": gen.p_mw.to_numpy(dtype=float) * _col(gen, "scaling", 1.0),
                "vm_pu": gen.vm_pu.to_numpy(dtype=float),
                "min_q_mvar": _col(gen, "min_q_mvar", -np.inf),
                "max_q_mvar": _col(gen, "max_q_mvar", np.inf),
                "min_p_mw": _col(gen, "min_p_mw", np.nan),
                "max_p_mw": _col(gen, "max_p_mw", np.nan),
                "slack": _col(gen, "slack", False).astype(bool),
                "slack_weight": _col(gen, "slack_weight", 1.0),
                "in_service": _active(gen),
            },
        )
        sgen = net.sgen
        p, q = sgen_pq(sgen, self.options)
        self.add(
            "sgen",
            {
                "id": sgen.index.to_numpy(),
                "name": _col(sgen, "name", ""),
                "bus": self.at(sgen.bus.to_numpy()),
                "p_mw": p,
                "q_mvar": q,
                "in_service": _active(sgen),
            },
        )
        ext = net.ext_grid
        va = ext.va_degree.to_numpy(dtype=float)
        self.add(
            "ext_grid",
            {
                "id": ext.index.to_numpy(),
                "name": _col(ext, "name", ""),
                "bus": self.at(ext.bus.to_numpy()),
                "vm_pu": ext.vm_pu.to_numpy(dtype=float),
                "va_degree": va if self.options.calculate_voltage_angles else np.zeros(va.size),
                "min_q_mvar": _col(ext, "min_q_mvar", -np.inf),
                "max_q_mvar": _col(ext, "max_q_mvar", np.inf),
                "slack_weight": _col(ext, "slack_weight", 1.0),
                "in_service": _active(ext),
            },
        )

    def _loads(self) -> bool:
        """Loads, storage, motors; constant-impedance shares as shunts. True if any."""
        net = self.net
        load = net.load
        self.add("load", _load_part(load.index.to_numpy(), load, *load_pq(load), self))
        for element in ("storage", "motor"):
            table = self.keep(element)
            if table is None:
                continue
            p, q = motor_pq(table) if element == "motor" else load_pq(table)
            ids = np.array([f"{element} {k}" for k in table.index], dtype=object)
            self.add("load", _load_part(ids, table, p, q, self))
        if not self.options.voltage_depend_loads or not len(load):
            return False
        on = _active(load)
        share = {  # pandapower 3's split columns, plus the older common ones
            c: _col(load, c, 0.0) + _col(load, c.replace("_p_", "_").replace("_q_", "_"), 0.0)
            for c in _LOAD_SHARES
        }
        if not any(v[on].any() for v in share.values()):
            return False
        # pandapower: per bus, the mean share over its in-service loads, applied to the
        # bus's whole constant-power demand (loads, motors, storage, wards, minus sgens):
        # a voltage-dependent load of that demand's share, and its constant-power part
        # taken off
        node = self.at(load.bus.to_numpy())[on]
        buses, inv = np.unique(node, return_inverse=True)
        count = np.bincount(inv)
        mean = {c: np.bincount(inv, v[on] / 100.0) / count for c, v in share.items()}
        demand = _bus_demand(self, buses)
        ids = np.array([f"load_v {b}" for b in buses], dtype=object)
        live = np.ones(buses.size, bool)
        part = {"id": ids, "name": ids, "bus": buses, "in_service": live}
        for x, power in (("p", demand.real), ("q", demand.imag)):
            z, i = mean[f"const_z_{x}_percent"], mean[f"const_i_{x}_percent"]
            total = z + i
            part["p_mw" if x == "p" else "q_mvar"] = total * power
            for c, v in ((f"const_z_{x}_percent", z), (f"const_i_{x}_percent", i)):
                part[c] = np.divide(100.0 * v, total, out=np.zeros(v.size), where=total > 0)
        self.add("load", part)
        self.add(
            "load",
            {
                "id": np.array([f"load_v {b} constant" for b in buses], dtype=object),
                "name": ids,
                "bus": buses,
                "p_mw": -part["p_mw"],
                "q_mvar": -part["q_mvar"],
                "in_service": live,
            },
        )
        return True

    def _wards(self) -> None:
        for element in ("ward", "xward"):
            w = self.keep(element)
            if w is None:
                continue
            on = _active(w)
            bus = self.at(w.bus.to_numpy())
            ids = np.array([f"{element} {k}" for k in w.index], dtype=object)
            self.add(
                "load",
                {
                    "id": ids,
                    "name": _col(w, "name", ""),
                    "bus": bus,
                    "p_mw": w.ps_mw.to_numpy(dtype=float),
                    "q_mvar": w.qs_mvar.to_numpy(dtype=float),
                    "in_service": on,
                },
            )
            self.add(
                "shunt",
                _shunt(
                    ids, bus, w.pz_mw.to_numpy(dtype=float), w.qz_mvar.to_numpy(dtype=float), on
                ),
            )
            if element == "ward":
                continue
            vn = self.vn_at(w.bus.to_numpy())
            aux = self.new_buses(vn, on, "xward internal")
            self.add(
                "line",
                _series_line(
                    ids, bus, aux, w.r_ohm.to_numpy(dtype=float), w.x_ohm.to_numpy(dtype=float), on
                ),
            )
            self.add(
                "gen",
                {
                    "id": ids,
                    "name": _col(w, "name", ""),
                    "bus": aux,
                    "p_mw": np.zeros(len(w)),
                    "vm_pu": w.vm_pu.to_numpy(dtype=float),
                    "min_q_mvar": np.full(len(w), -np.inf),
                    "max_q_mvar": np.full(len(w), np.inf),
                    "min_p_mw": np.full(len(w), np.nan),
                    "max_p_mw": np.full(len(w), np.nan),
                    "slack": np.zeros(len(w), bool),
                    "slack_weight": _col(w, "slack_weight", 0.0),
                    "in_service": on,
                },
            )

    def _shunts(self) -> None:
        shunt = self.net.shunt
        used = _flag(shunt, "step_dependency_table") & _active(shunt)
        if used.any():
            raise UnsupportedElementError(
                f"pandapower table 'shunt' ({_rows(shunt, used)}): step_dependency_table is "
                "not supported",
                self.name,
            )
        part = _shunt(
            shunt.index.to_numpy(),
            self.at(shunt.bus.to_numpy()),
            shunt.p_mw.to_numpy(dtype=float),
            shunt.q_mvar.to_numpy(dtype=float),
            _active(shunt),
        )
        vn = _col(shunt, "vn_kv", np.nan)
        part["name"] = _col(shunt, "name", "")
        part["vn_kv"] = np.where(np.isnan(vn), self.vn_at(shunt.bus.to_numpy()), vn)
        part["step"] = _col(shunt, "step", 1.0)
        # a bank of several steps is switched (a voltage control); pandapower gives every
        # shunt max_step 1, so one of a single step is taken as fixed
        max_step = _col(shunt, "max_step", np.nan).astype(float)
        part["max_step"] = np.where(max_step > 1, max_step, np.nan)
        self.add("shunt", part)

    def _facts_gens(self, element: str, table, at, vm, on) -> None:
        """Voltage-holding units with P = 0 and no reactive limit (``"svc K"``, ``"ssc K"``)."""
        n = len(table)
        self.add(
            "gen",
            {
                "id": np.array([f"{element} {k}" for k in table.index], dtype=object),
                "name": _col(table, "name", ""),
                "bus": at,
                "p_mw": np.zeros(n),
                "vm_pu": vm,
                "min_q_mvar": np.full(n, -np.inf),
                "max_q_mvar": np.full(n, np.inf),
                "min_p_mw": np.full(n, np.nan),
                "max_p_mw": np.full(n, np.nan),
                "slack": np.zeros(n, bool),
                "slack_weight": np.zeros(n),
                "in_service": on,
            },
        )

    def _svcs(self) -> None:
        """SVCs: at a fixed firing angle (``controllable=False``) a shunt ``"svc K"``;
        controllable ones hold ``set_vm_pu`` as a gen ``"svc K"`` with P = 0 and no
        reactive limit (pandapower's power flow does not hold the firing angle to its
        range either)."""
        svc = self.keep("svc")
        if svc is None:
            return
        on = _active(svc)
        control = _col(svc, "controllable", True).astype(bool)
        sn = float(self.net.sn_mva)
        bus = svc.bus.to_numpy()
        fixed = ~control
        self.add(
            "shunt",
            _shunt(
                np.array([f"svc {k}" for k in svc.index[fixed]], dtype=object),
                self.at(bus[fixed]),
                np.zeros(fixed.sum()),
                svc_susceptance(svc[fixed], self.vn_at(bus[fixed]), sn) * sn,
                on[fixed],
            ),
        )
        held = control & on
        self._check_free("svc", svc, held)
        self._facts_gens(
            "svc",
            svc[control],
            self.at(bus[control]),
            svc.set_vm_pu.to_numpy(dtype=float)[control],
            on[control],
        )

    def _check_free(self, element: str, table: pd.DataFrame, held: np.ndarray) -> None:
        """Refuse voltage-holding FACTS at a bus whose voltage something else holds
        (pandapower fails on them too)."""
        node = self.at(table.bus.to_numpy())
        parts = self.parts.get("gen", []) + self.parts.get("ext_grid", [])
        taken = np.concatenate([p["bus"][p["in_service"]] for p in parts] or [node[:0]])
        values, counts = np.unique(node[held], return_counts=True)
        bad = held & (np.isin(node, taken) | np.isin(node, values[counts > 1]))
        if bad.any():
            raise UnsupportedElementError(
                f"pandapower table {element!r} ({_rows(table, bad)}): a voltage-controlling "
                f"{element} at a bus whose voltage a gen, ext_grid, svc or ssc already holds "
                "is not supported (pandapower's power flow fails there too)",
                self.name,
            )

    def _sscs(self) -> None:
        """SSCs (STATCOMs): controllable ones hold ``set_vm_pu`` as a gen ``"ssc K"`` at
        their bus with P = 0 (the loss in ``r_ohm`` is added by the drop-in runpp's outer
        loop); fixed ones as pandapower: a line ``"ssc K"`` to an auxiliary bus held at
        ``vm_internal_pu`` by a gen ``"ssc K"`` with P = 0."""
        ssc = self.keep("ssc")
        if ssc is None:
            return
        on = _active(ssc)
        control = _col(ssc, "controllable", True).astype(bool)
        bus = ssc.bus.to_numpy()
        self._check_free("ssc", ssc, control & on)
        self._facts_gens(
            "ssc",
            ssc[control],
            self.at(bus[control]),
            ssc.set_vm_pu.to_numpy(dtype=float)[control],
            on[control],
        )
        fixed = ~control
        aux = self.new_buses(self.vn_at(bus[fixed]), on[fixed], "ssc internal")
        ids = np.array([f"ssc {k}" for k in ssc.index[fixed]], dtype=object)
        self.add(
            "line",
            _series_line(
                ids,
                self.at(bus[fixed]),
                aux,
                ssc.r_ohm.to_numpy(dtype=float)[fixed],
                ssc.x_ohm.to_numpy(dtype=float)[fixed],
                on[fixed],
            ),
        )
        self._facts_gens(
            "ssc", ssc[fixed], aux, ssc.vm_internal_pu.to_numpy(dtype=float)[fixed], on[fixed]
        )

    def _tcscs(self) -> None:
        """TCSCs: a line ``"tcsc K"`` with the reactance of the firing angle (the drop-in
        runpp sets a controllable one's so that its flow meets ``set_p_to_mw``)."""
        tcsc = self.keep("tcsc")
        if tcsc is None:
            return
        sn = float(self.net.sn_mva)
        f = tcsc.from_bus.to_numpy()
        vn = self.vn_at(f)
        self.add(
            "line",
            _series_line(
                np.array([f"tcsc {k}" for k in tcsc.index], dtype=object),
                self.at(f),
                self.at(tcsc.to_bus.to_numpy()),
                np.zeros(len(tcsc)),
                vn**2 / sn / svc_susceptance(tcsc, vn, sn),
                _active(tcsc),
            ),
        )

    def _dclines(self) -> None:
        dc = _table(self.net, "dcline")
        if dc is None:
            return
        self.add(
            "hvdc",
            {
                "id": dc.index.to_numpy(),
                "name": _col(dc, "name", ""),
                "from_bus": self.at(dc.from_bus.to_numpy()),
                "to_bus": self.at(dc.to_bus.to_numpy()),
                "p_mw": dc.p_mw.to_numpy(dtype=float),
                "loss_percent": dc.loss_percent.to_numpy(dtype=float),
                "loss_mw": dc.loss_mw.to_numpy(dtype=float),
                "max_p_mw": _col(dc, "max_p_mw", np.nan),
                "vm_from_pu": dc.vm_from_pu.to_numpy(dtype=float),
                "vm_to_pu": dc.vm_to_pu.to_numpy(dtype=float),
                "min_q_from_mvar": _col(dc, "min_q_from_mvar", -np.inf),
                "max_q_from_mvar": _col(dc, "max_q_from_mvar", np.inf),
                "min_q_to_mvar": _col(dc, "min_q_to_mvar", -np.inf),
                "max_q_to_mvar": _col(dc, "max_q_to_mvar", np.inf),
                "in_service": _active(dc),
            },
        )


def svc_susceptance(svc: pd.DataFrame, vn_kv: np.ndarray, sn_mva: float) -> np.ndarray:
    """Inductive susceptance (p.u. on ``sn_mva``; > 0 draws reactive power) of SVCs (or
    TCSCs) at their firing angle: a thyristor-controlled reactor beside a capacitor, as
    pandapower."""
    base = vn_kv**2 / sn_mva
    x_l = svc.x_l_ohm.to_numpy(dtype=float) / base
    x_c = svc.x_cvar_ohm.to_numpy(dtype=float) / base
    alpha = np.deg2rad(svc.thyristor_firing_angle_degree.to_numpy(dtype=float))
    return (2 * (np.pi - alpha) + np.sin(2 * alpha) + np.pi * x_l / x_c) / (np.pi * x_l)


def firing_angle(
    y: np.ndarray, table: pd.DataFrame, vn_kv: np.ndarray, sn_mva: float
) -> np.ndarray:
    """The firing angle (degrees) at which SVCs or TCSCs have susceptance ``y`` (p.u. on
    ``sn_mva``), the inverse of :func:`svc_susceptance`.

    ``2 (pi - a) + sin 2a`` falls monotonically in ``a``, so the angle is unique (on the
    whole real line, as pandapower's Newton step leaves it: its power flow does not hold
    the angle to ``min_angle_degree``/``max_angle_degree``); it lies within 0.5 rad of
    ``pi - r / 2`` where ``r`` is that term's value, and is found by bisection there.
    """
    if not len(table):
        return np.empty(0)
    base = vn_kv**2 / sn_mva
    x_l = table.x_l_ohm.to_numpy(dtype=float) / base
    x_c = table.x_cvar_ohm.to_numpy(dtype=float) / base
    r = np.pi * x_l * (y - 1 / x_c)
    lo, hi = np.pi - (r + 1) / 2, np.pi - (r - 1) / 2
    for _ in range(60):  # the bracket (1 rad) halves each time
        mid = (lo + hi) / 2
        above = 2 * (np.pi - mid) + np.sin(2 * mid) > r  # the root lies right of mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return np.rad2deg((lo + hi) / 2)


def load_pq(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Scaled P and Q of loads and storage (MW, Mvar drawn)."""
    scaling = _col(table, "scaling", 1.0)
    return table.p_mw.to_numpy(dtype=float) * scaling, table.q_mvar.to_numpy(dtype=float) * scaling


def sgen_pq(sgen: pd.DataFrame, options: Options) -> tuple[np.ndarray, np.ndarray]:
    """Scaled P and Q of sgens; Q clipped to its limits under ``enforce_q_lims``."""
    p, q = load_pq(sgen)
    if options.enforce_q_lims:
        scaling = _col(sgen, "scaling", 1.0)
        raw = sgen.q_mvar.to_numpy(dtype=float)
        clipped = np.clip(raw, _col(sgen, "min_q_mvar", -np.inf), _col(sgen, "max_q_mvar", np.inf))
        q = clipped * scaling
    return p, q


def motor_pq(motor: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """P and Q drawn by motors, as pandapower's power flow: from the mechanical rating."""
    scale = _col(motor, "loading_percent", 100.0) / 100.0 * _col(motor, "scaling", 1.0)
    p = motor.pn_mech_mw.to_numpy(dtype=float) / motor.efficiency_percent.to_numpy(dtype=float)
    p = p * 100.0 * scale
    s = p / motor.cos_phi.to_numpy(dtype=float)
    return p, np.sqrt(np.maximum(s**2 - p**2, 0.0))


def _bus_demand(builder: _Builder, buses: np.ndarray) -> np.ndarray:
    """Constant-power demand (MVA) at gridsim buses: every load-like part so far, less sgens."""
    total = np.zeros(buses.size, dtype=complex)
    for element, sign in (("load", 1.0), ("sgen", -1.0)):
        for part in builder.parts.get(element, []):
            on = part["in_service"].astype(bool)
            pos = np.searchsorted(buses, part["bus"])
            pos = np.minimum(pos, buses.size - 1)
            hit = on & (buses[pos] == part["bus"])
            np.add.at(total, pos[hit], sign * (part["p_mw"] + 1j * part["q_mvar"])[hit])
    for element in ("ward", "xward"):  # their constant-power part counts too
        w = _table(builder.net, element)
        if w is None:
            continue
        bus = builder.at(w.bus.to_numpy())
        pos = np.minimum(np.searchsorted(buses, bus), buses.size - 1)
        hit = _active(w) & (buses[pos] == bus)
        np.add.at(total, pos[hit], (w.ps_mw.to_numpy(float) + 1j * w.qs_mvar.to_numpy(float))[hit])
    return total


def _load_part(ids, table, p, q, builder: _Builder) -> dict:
    return {
        "id": ids,
        "name": _col(table, "name", ""),
        "bus": builder.at(table.bus.to_numpy()),
        "p_mw": p,
        "q_mvar": q,
        "in_service": _active(table),
    }


def _series_line(ids, f, t, r_ohm, x_ohm, on) -> dict:
    """Lines of 1 km with the given series impedance and nothing else."""
    n = len(ids)
    return {
        "id": ids,
        "name": ids,
        "from_bus": f,
        "to_bus": t,
        "length_km": np.ones(n),
        "r_ohm_per_km": np.asarray(r_ohm, dtype=float),
        "x_ohm_per_km": np.asarray(x_ohm, dtype=float),
        "b_us_per_km": np.zeros(n),
        "g_us_per_km": np.zeros(n),
        "parallel": np.ones(n),
        "rate_mva": np.full(n, np.nan),
        "in_service": np.asarray(on, dtype=bool),
    }


def _shunt(ids, bus, p_mw, q_mvar, on) -> dict:
    n = len(ids)
    return {
        "id": ids,
        "name": ids,
        "bus": bus,
        "p_mw": np.asarray(p_mw, dtype=float),
        "q_mvar": np.asarray(q_mvar, dtype=float),
        "vn_kv": np.full(n, np.nan),
        "step": np.ones(n),
        "max_step": np.full(n, np.nan),
        "in_service": np.asarray(on, dtype=bool),
    }


def _stack(parts: list[dict]) -> dict:
    """One table from parts (ids of mixed types become objects); a load share that a part
    lacks is 0 there."""
    if len(parts) == 1:
        return parts[0]
    out = {}
    for key in dict.fromkeys(k for p in parts for k in p):
        values = [
            np.asarray(p[key]) if key in p or key not in _LOAD_SHARES else np.zeros(len(p["id"]))
            for p in parts
        ]
        if any(v.dtype == object for v in values) or len({v.dtype.kind for v in values}) > 1:
            values = [v.astype(object) for v in values]
        out[key] = np.concatenate(values)
    return out


def _star_impedances(vk, vkr, sn):
    """Short-circuit voltages of a trafo3w's three star windings, each on its own rating
    (pandapower's conversion: pairwise values to the hv rating, wye-delta)."""

    def to_hv_base(z):
        return sn[0] * np.array(
            [
                z[0] / np.minimum(sn[0], sn[1]),
                z[1] / np.minimum(sn[1], sn[2]),
                z[2] / np.minimum(sn[0], sn[2]),
            ]
        )

    def wye(z):
        return (
            0.5
            * sn
            / sn[0]
            * np.array([z[0] + z[2] - z[1], z[1] + z[0] - z[2], z[2] + z[1] - z[0]])
        )

    vk_d, vkr_d = to_hv_base(vk), to_hv_base(vkr)
    vki = wye(np.sqrt(vk_d**2 - vkr_d**2))
    vkr_s = wye(vkr_d)
    vk_s = np.sign(vki) * np.sqrt(vki**2 + vkr_s**2)
    return vk_s, vkr_s


def _taps(t: pd.DataFrame, cols: dict, name: str, element: str) -> dict:
    """gridsim's tap fields of transformers, as pandapower 3.x reads tap_changer_type.

    "Ratio" and "Symmetrical" move the rated voltage of their side (with an angle where
    ``tap_step_degree`` is set), "Ideal" shifts the angle only, an empty type means no
    tap changer (pandapower ignores tap_pos then). A single Ratio/Symmetrical tap stays
    in gridsim's tap fields; an Ideal one or a second tap changer is folded into the
    rated voltages and the shift (``cols``, changed in place).
    """
    n = len(t)
    none = {
        "tap_side": np.full(n, "", dtype=object),
        "tap_neutral": np.zeros(n),
        "tap_pos": np.zeros(n),
        "tap_step_percent": np.zeros(n),
        "tap_step_degree": np.zeros(n),
    }
    out = {k: v.copy() for k, v in none.items()}
    for t_ in ("", "2"):
        if f"tap{t_}_pos" not in t.columns:
            continue
        side = _text(t, f"tap{t_}_side")
        pos = _col(t, f"tap{t_}_pos", np.nan)
        neutral = _col(t, f"tap{t_}_neutral", np.nan)
        pct = _col(t, f"tap{t_}_step_percent", np.nan)
        deg = _col(t, f"tap{t_}_step_degree", np.nan)
        if f"tap{t_}_changer_type" in t.columns:
            kind = _text(t, f"tap{t_}_changer_type")
        elif f"tap{t_}_phase_shifter" in t.columns:  # pandapower 2.x
            kind = np.where(_flag(t, f"tap{t_}_phase_shifter"), "Ideal", "Ratio")
            kind = np.where(np.isfinite(pct) | (kind == "Ideal"), kind, "")
        else:
            kind = np.full(n, "Ratio")
        odd = ~np.isin(kind, ("", "Ratio", "Symmetrical", "Ideal")) & np.isin(side, ("hv", "lv"))
        if odd.any():
            raise UnsupportedElementError(
                f"pandapower table {element!r} ({_rows(t, odd)}): tap{t_}_changer_type "
                f"{kind[odd][0]!r} is not supported",
                name,
            )
        d = pos - neutral
        for s, vn_col, direction in (("hv", "vn_hv_kv", 1.0), ("lv", "vn_lv_kv", -1.0)):
            ratio = (side == s) & np.isin(kind, ("Ratio", "Symmetrical"))
            ideal = (side == s) & (kind == "Ideal")
            if t_ == "" and ratio.any() and not _second_tap(t).any():
                keep = ratio & np.isfinite(d)
                out["tap_side"][keep] = s
                out["tap_neutral"][keep] = neutral[keep]
                out["tap_pos"][keep] = pos[keep]
                out["tap_step_percent"][keep] = np.nan_to_num(pct[keep])
                out["tap_step_degree"][keep] = np.nan_to_num(deg[keep])
            elif ratio.any():
                m = ratio & np.isfinite(d)
                vn = cols[vn_col]
                du = vn[m] * np.nan_to_num(pct[m] * d[m]) / 100.0
                ang = np.deg2rad(np.nan_to_num(deg[m]))
                re, im = vn[m] + du * np.cos(ang), du * np.sin(ang)
                cols["shift_degree"] = cols["shift_degree"].astype(float)
                cols["shift_degree"][m] += np.rad2deg(np.arctan(direction * im / re))
                vn[m] = np.hypot(re, im)
            if ideal.any():
                m = ideal & np.isfinite(d)
                with_deg = np.nan_to_num(deg[m]) != 0
                shift = np.where(
                    with_deg,
                    direction * d[m] * np.nan_to_num(deg[m]),
                    direction * 2 * np.rad2deg(np.arcsin(d[m] * np.nan_to_num(pct[m]) / 200.0)),
                )
                cols["shift_degree"] = cols["shift_degree"].astype(float)
                cols["shift_degree"][m] += shift
    return out


def _second_tap(t: pd.DataFrame) -> np.ndarray:
    """Transformers whose second tap changer moves anything."""
    if "tap2_pos" not in t.columns:
        return np.zeros(len(t), dtype=bool)
    return np.isin(_text(t, "tap2_side"), ("hv", "lv")) & np.isfinite(_col(t, "tap2_pos", np.nan))


def to_pandapower(network: Network):
    """Write ``network`` as a pandapower net, so any result can be re-checked there.

    Indices are the gridsim ids where they are integers; otherwise elements are numbered
    0..n-1. Every table gets a ``gridsim_id`` column with the gridsim ids either way.
    The transformer model and angle handling are stored in ``net.user_pf_options`` so a
    plain ``pandapower.runpp(net)`` uses them. A slack gen with a non-zero angle becomes a
    gen plus an ext_grid at its bus (pandapower takes slack angles from ext_grids only).
    A capacitive magnetising branch (``i0_percent < 0``, from MATPOWER transformer
    charging) becomes two shunts, exact for the ``"pi"`` model.

    Raises
    ------
    UnsupportedElementError
        For a capacitive magnetising branch under the ``"t"`` model.
    """
    import pandapower as pp

    layout = getattr(network, "pandapower_layout", None)
    if layout is not None:
        network = _base_network(network, layout)
    net = pp.create_empty_network(name=network.name, f_hz=network.f_hz, sn_mva=network.sn_mva)
    bus = network.bus
    bus_idx = _pp_index(bus.index)
    bus_map = pd.Series(bus_idx, index=bus.index)
    pp.create_buses(
        net,
        len(bus),
        vn_kv=bus.vn_kv.to_numpy(),
        index=bus_idx,
        name=_names(bus),
        in_service=bus.in_service.to_numpy(),
        zone=bus.zone.to_numpy(),
        min_vm_pu=bus.min_vm_pu.to_numpy(),
        max_vm_pu=bus.max_vm_pu.to_numpy(),
    )
    line = network.line
    if len(line):
        vn_from = bus.vn_kv.loc[line.from_bus].to_numpy()
        rate = line.rate_mva.to_numpy()
        max_i = np.where(np.isnan(rate), 1e6, rate / (_SQRT3 * vn_from * line.parallel.to_numpy()))
        pp.create_lines_from_parameters(
            net,
            bus_map.loc[line.from_bus].to_numpy(),
            bus_map.loc[line.to_bus].to_numpy(),
            length_km=line.length_km.to_numpy(),
            r_ohm_per_km=line.r_ohm_per_km.to_numpy(),
            x_ohm_per_km=line.x_ohm_per_km.to_numpy(),
            c_nf_per_km=line.b_us_per_km.to_numpy() / (2e-3 * np.pi * network.f_hz),
            g_us_per_km=line.g_us_per_km.to_numpy(),
            max_i_ka=max_i,
            parallel=line.parallel.to_numpy(),
            in_service=line.in_service.to_numpy(),
            index=_pp_index(line.index),
            name=_names(line),
        )
    trafo = network.trafo
    if len(trafo):
        i0 = trafo.i0_percent.to_numpy().copy()
        capacitive = i0 < 0
        if capacitive.any():
            if network.trafo_model == "t":
                k = trafo.index[capacitive][0]
                raise UnsupportedElementError(
                    f"trafo {k!r}: capacitive magnetising branch (i0_percent < 0) has no "
                    "pandapower equivalent under the 't' model",
                    network.source,
                )
            _charging_shunts(net, network, trafo[capacitive], bus_map)
            i0[capacitive] = 0.0
        side = trafo.tap_side.to_numpy()
        has_tap = side != ""
        pp.create_transformers_from_parameters(
            net,
            bus_map.loc[trafo.hv_bus].to_numpy(),
            bus_map.loc[trafo.lv_bus].to_numpy(),
            sn_mva=trafo.sn_mva.to_numpy(),
            vn_hv_kv=trafo.vn_hv_kv.to_numpy(),
            vn_lv_kv=trafo.vn_lv_kv.to_numpy(),
            vkr_percent=trafo.vkr_percent.to_numpy(),
            vk_percent=trafo.vk_percent.to_numpy(),
            pfe_kw=trafo.pfe_kw.to_numpy(),
            i0_percent=i0,
            shift_degree=trafo.shift_degree.to_numpy(),
            tap_side=[s if s else None for s in side],
            tap_neutral=np.where(has_tap, trafo.tap_neutral.to_numpy(), np.nan),
            tap_pos=np.where(has_tap, trafo.tap_pos.to_numpy(), np.nan),
            tap_step_percent=np.where(has_tap, trafo.tap_step_percent.to_numpy(), np.nan),
            tap_step_degree=np.where(has_tap, trafo.tap_step_degree.to_numpy(), np.nan),
            tap_changer_type=["Ratio" if s else None for s in side],
            parallel=trafo.parallel.to_numpy(),
            in_service=trafo.in_service.to_numpy(),
            index=_pp_index(trafo.index),
            name=_names(trafo),
        )
    gen = network.gen
    # pandapower refuses different setpoints at one bus: give every gen the one gridsim
    # uses there (MATPOWER's rule: the last online gen's; an ext_grid's first)
    cn = network.compile()
    at = cn.bus_ids.get_indexer(gen.bus)
    gen_vm = np.where(at >= 0, cn.vm_set[np.maximum(at, 0)], gen.vm_pu.to_numpy())
    angle_slacks = []
    for k, vm, row in zip(_pp_index(gen.index), gen_vm, gen.itertuples(), strict=True):
        # pandapower takes slack angles from ext_grids only: a slack gen with an angle
        # becomes a plain gen plus an ext_grid at its bus that holds voltage and angle
        # and supplies the balance (same bus voltages; the balance shows on the ext_grid)
        holds_angle = bool(row.slack and row.in_service and row.va_degree != 0)
        pp.create_gen(
            net,
            bus_map[row.bus],
            p_mw=row.p_mw,
            vm_pu=vm,
            min_q_mvar=row.min_q_mvar,
            max_q_mvar=row.max_q_mvar,
            slack=row.slack and not holds_angle,
            slack_weight=row.slack_weight,
            in_service=row.in_service,
            index=k,
            name=str(row.Index),
            controllable=False,
        )
        if holds_angle:
            angle_slacks.append((row, vm))
    for table, fn in ((network.sgen, pp.create_sgen), (network.load, pp.create_load)):
        shares = [c for c in _LOAD_SHARES if c in table.columns]
        for k, row in zip(_pp_index(table.index), table.itertuples(), strict=True):
            fn(
                net,
                bus_map[row.bus],
                p_mw=row.p_mw,
                q_mvar=row.q_mvar,
                in_service=row.in_service,
                index=k,
                name=str(row.Index),
                **{c: getattr(row, c) for c in shares},
            )
    for k, row in zip(
        _pp_index(network.ext_grid.index), network.ext_grid.itertuples(), strict=True
    ):
        pp.create_ext_grid(
            net,
            bus_map[row.bus],
            vm_pu=row.vm_pu,
            va_degree=row.va_degree,
            in_service=row.in_service,
            index=k,
            name=str(row.Index),
            slack_weight=row.slack_weight,
        )
    for row, vm in angle_slacks:
        pp.create_ext_grid(
            net,
            bus_map[row.bus],
            vm_pu=vm,
            va_degree=row.va_degree,
            name=f"slack of gen {row.Index}",
        )
    shunt = network.shunt
    for k, row in zip(_pp_index(shunt.index), shunt.itertuples(), strict=True):
        vn_kv = row.vn_kv if np.isfinite(row.vn_kv) else bus.vn_kv[row.bus]
        top = row.max_step if np.isfinite(row.max_step) else max(np.ceil(row.step), 1.0)
        pp.create_shunt(
            net,
            bus_map[row.bus],
            q_mvar=row.q_mvar,
            p_mw=row.p_mw,
            vn_kv=vn_kv,
            step=row.step,
            max_step=int(top),
            in_service=row.in_service,
            index=k,
            name=str(row.Index),
        )
    hvdc = network.hvdc
    for k, row in zip(_pp_index(hvdc.index), hvdc.itertuples(), strict=True):
        if np.isnan(row.vm_from_pu) or np.isnan(row.vm_to_pu):
            raise UnsupportedElementError(
                f"hvdc {row.Index!r}: pandapower's dcline needs voltage setpoints at both ends",
                network.source,
            )
        pp.create_dcline(
            net,
            bus_map[row.from_bus],
            bus_map[row.to_bus],
            p_mw=row.p_mw,
            loss_percent=row.loss_percent,
            loss_mw=row.loss_mw,
            vm_from_pu=row.vm_from_pu,
            vm_to_pu=row.vm_to_pu,
            max_p_mw=row.max_p_mw if np.isfinite(row.max_p_mw) else 1e9,
            min_q_from_mvar=row.min_q_from_mvar,
            max_q_from_mvar=row.max_q_from_mvar,
            min_q_to_mvar=row.min_q_to_mvar,
            max_q_to_mvar=row.max_q_to_mvar,
            in_service=row.in_service,
            index=k,
            name=str(row.Index),
        )
    for element in ("bus", "line", "trafo", "gen", "sgen", "load", "ext_grid", "shunt", "hvdc"):
        table = network.columns(element)
        target = net["dcline" if element == "hvdc" else element]
        if len(table):  # gridsim's ids, whatever pandapower's index became
            target.loc[_pp_index(table.index), "gridsim_id"] = np.asarray(table.index, dtype=object)
    pp.set_user_pf_options(net, trafo_model=network.trafo_model, calculate_voltage_angles=True)
    if layout is not None:
        for element in _COMPOSITE:
            if element in layout.originals:
                net[element] = layout.originals[element].copy()
        refs = layout.originals.get("refs_load")
        if refs is not None:
            for c in _LOAD_SHARES:
                if c in refs.columns:
                    net.load.loc[refs.index, c] = refs[c].to_numpy()
    return net


def _base_network(network: Network, layout: Layout) -> Network:
    """The elements of a network built by :func:`from_pandapower` that came from pandapower
    tables gridsim also has, on pandapower's own buses (auxiliary ones dropped, fused ones
    back)."""
    tables = {}
    for element, frame in network.tables.items():
        keep = np.array([not isinstance(i, str) for i in frame.index], dtype=bool)
        if element == "bus":
            keep &= ~np.isin(frame.index.to_numpy(), layout.aux_bus)
        frame = frame[keep].copy()
        refs = layout.originals.get(f"refs_{element}")
        if refs is not None and len(frame):
            for c in _REFS[element]:
                frame[c] = refs[c].reindex(frame.index).to_numpy()
        tables[element] = frame
    fused = layout.originals.get("fused_bus")
    if fused is not None:
        extra = pd.DataFrame({k: v for k, v in fused.items() if k != "id"}, index=fused["id"])
        tables["bus"] = pd.concat([tables["bus"], extra]).sort_index()
    base = Network(
        tables,
        sn_mva=network.sn_mva,
        f_hz=network.f_hz,
        trafo_model=network.trafo_model,
        name=network.name,
        source=network.source,
        unsupplied_islands="isolate",
    )
    return base


def _charging_shunts(net, network, trafo, bus_map) -> None:
    """Shunts equal to a capacitive magnetising branch under the pi model."""
    import pandapower as pp

    vn = network.bus.vn_kv
    _, yf, yt, tap = trafo_parameters(
        trafo,
        vn.loc[trafo.hv_bus].to_numpy(),
        vn.loc[trafo.lv_bus].to_numpy(),
        network.sn_mva,
        "pi",
    )
    y_hv = yf / np.abs(tap) ** 2 * network.sn_mva
    y_lv = yt * network.sn_mva
    for buses, y, end in ((trafo.hv_bus, y_hv, "hv"), (trafo.lv_bus, y_lv, "lv")):
        for tid, b, yk, on in zip(trafo.index, buses, y, trafo.in_service, strict=True):
            pp.create_shunt(
                net,
                bus_map[b],
                p_mw=yk.real,
                q_mvar=-yk.imag,
                vn_kv=vn[b],
                in_service=bool(on),
                name=f"trafo {tid} charging ({end})",
            )


def _pp_index(index: pd.Index) -> np.ndarray:
    try:
        values = np.asarray(index, dtype=np.int64)
        if (values == np.asarray(index)).all() and (values >= 0).all():
            return values
    except (TypeError, ValueError):
        pass
    return np.arange(len(index), dtype=np.int64)


def _names(table: pd.DataFrame) -> list[str]:
    return [n if n else str(i) for i, n in zip(table.index, table.name, strict=True)]
