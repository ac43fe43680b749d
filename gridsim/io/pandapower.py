"""pandapower interop: :func:`from_pandapower` and :func:`to_pandapower`.

Element ids are pandapower's indices. Supported: ``bus``, ``line``, ``trafo``, ``gen``,
``sgen``, ``ext_grid``, ``load`` (constant power), ``shunt``, ``dcline`` (as an HVDC
link) and ``switch`` (open line/trafo switches take their element out of service; closed
ones are ignored). Anything else in use raises :class:`UnsupportedElementError` rather
than being dropped; controllers, which take no part in a power flow, are ignored with a
warning. pandapower is imported only when these functions are called.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from gridsim.exceptions import InvalidNetworkError, UnsupportedElementError
from gridsim.model.compile import bus_lookup, trafo_parameters
from gridsim.model.network import Network

_UNSUPPORTED = (
    "trafo3w",
    "impedance",
    "ward",
    "xward",
    "storage",
    "motor",
    "asymmetric_load",
    "asymmetric_sgen",
    "tcsc",
    "svc",
    "ssc",
    "vsc",
    "line_dc",
    "bus_dc",
    "source_dc",
    "load_dc",
    "b2b_vsc",
    "measurement",
)
_SQRT3 = np.sqrt(3.0)
# the columns from_pandapower reads without a default (dcline and switch: when present)
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
    "switch": ("element", "et", "closed"),
}


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
    return out


def _active(df: pd.DataFrame) -> np.ndarray:
    return df["in_service"].to_numpy(dtype=bool)


def from_pandapower(net, *, trafo_model: str = "t", source: str | None = None) -> Network:
    """Build a :class:`Network` from a pandapower net.

    Parameters
    ----------
    net : pandapower.pandapowerNet
    trafo_model : {"t", "pi"}
        Transformer equivalent circuit, as ``pandapower.runpp``'s option (default "t").
    source : str, optional
        Where the net came from (a file name), for error messages.

    Returns
    -------
    Network
        Ids are pandapower indices; islands without an ``ext_grid`` or slack ``gen`` are
        de-energised, as pandapower does.

    Raises
    ------
    UnsupportedElementError
        For elements or options gridsim does not model (listed in the message).
    InvalidNetworkError
        For a table without a column gridsim needs, or a net with no in-service
        ``ext_grid`` or slack ``gen`` at an in-service bus (pandapower: "No reference bus
        is available").
    """
    title = str(net.name) if getattr(net, "name", None) else "pandapower net"
    name = source or title  # what error messages name
    for element, columns in _REQUIRED.items():
        if element not in net and element in ("dcline", "switch"):
            continue
        missing = [c for c in columns if c not in net[element].columns]
        if missing:
            raise InvalidNetworkError(
                f"pandapower table {element!r} has no column {', '.join(missing)}", name
            )
    _check_reference(net, name)
    for element in _UNSUPPORTED:
        if element in net and isinstance(net[element], pd.DataFrame) and len(net[element]):
            table = net[element]
            if "in_service" in table.columns and not table.in_service.any():
                continue
            raise UnsupportedElementError(
                f"pandapower element {element!r} ({len(table)} rows) is not supported", name
            )
    line_on = _active(net.line).copy()
    trafo_on = _active(net.trafo).copy()
    _apply_switches(net, line_on, trafo_on, name)

    tables: dict[str, dict] = {}
    bus = net.bus
    min_vm = _col(bus, "min_vm_pu", np.nan)
    tables["bus"] = {
        "id": bus.index,
        "name": _col(bus, "name", ""),
        "vn_kv": bus.vn_kv.to_numpy(dtype=float),
        "in_service": _active(bus),
        # pandapower fills in 0 (and 2 p.u. above) for a bus created without limits
        "min_vm_pu": np.where(min_vm == 0, np.nan, min_vm),
        "max_vm_pu": _col(bus, "max_vm_pu", np.nan),
        "zone": _col(bus, "zone", ""),
    }
    line = net.line
    vn = bus.vn_kv
    parallel = line.parallel.to_numpy(dtype=float)
    tables["line"] = {
        "id": line.index,
        "name": _col(line, "name", ""),
        "from_bus": line.from_bus.to_numpy(),
        "to_bus": line.to_bus.to_numpy(),
        "length_km": line.length_km.to_numpy(dtype=float),
        "r_ohm_per_km": line.r_ohm_per_km.to_numpy(dtype=float),
        "x_ohm_per_km": line.x_ohm_per_km.to_numpy(dtype=float),
        "b_us_per_km": 2e-3 * np.pi * net.f_hz * line.c_nf_per_km.to_numpy(dtype=float),
        "g_us_per_km": _col(line, "g_us_per_km", 0.0),
        "parallel": parallel,
        "rate_mva": _SQRT3
        * vn.to_numpy()[bus_lookup(bus.index)(line.from_bus.to_numpy())]
        * line.max_i_ka.to_numpy()
        * _col(line, "df", 1.0)
        * parallel,
        "in_service": line_on,
    }
    tables["trafo"] = _trafo_table(net, trafo_on, name)
    gen = net.gen
    tables["gen"] = {
        "id": gen.index,
        "name": _col(gen, "name", ""),
        "bus": gen.bus.to_numpy(),
        "p_mw": gen.p_mw.to_numpy(dtype=float) * _col(gen, "scaling", 1.0),
        "vm_pu": gen.vm_pu.to_numpy(dtype=float),
        "min_q_mvar": _col(gen, "min_q_mvar", -np.inf),
        "max_q_mvar": _col(gen, "max_q_mvar", np.inf),
        "min_p_mw": _col(gen, "min_p_mw", np.nan),
        "max_p_mw": _col(gen, "max_p_mw", np.nan),
        "slack": _col(gen, "slack", False).astype(bool),
        "slack_weight": _col(gen, "slack_weight", 1.0),
        "in_service": _active(gen),
    }
    sgen = net.sgen
    scaling = _col(sgen, "scaling", 1.0)
    tables["sgen"] = {
        "id": sgen.index,
        "name": _col(sgen, "name", ""),
        "bus": sgen.bus.to_numpy(),
        "p_mw": sgen.p_mw.to_numpy(dtype=float) * scaling,
        "q_mvar": sgen.q_mvar.to_numpy(dtype=float) * scaling,
        "in_service": _active(sgen),
    }
    ext = net.ext_grid
    tables["ext_grid"] = {
        "id": ext.index,
        "name": _col(ext, "name", ""),
        "bus": ext.bus.to_numpy(),
        "vm_pu": ext.vm_pu.to_numpy(dtype=float),
        "va_degree": ext.va_degree.to_numpy(dtype=float),
        "min_q_mvar": _col(ext, "min_q_mvar", -np.inf),
        "max_q_mvar": _col(ext, "max_q_mvar", np.inf),
        "slack_weight": _col(ext, "slack_weight", 1.0),
        "in_service": _active(ext),
    }
    load = net.load
    for field in (
        "const_z_p_percent",
        "const_i_p_percent",
        "const_z_q_percent",
        "const_i_q_percent",
        "const_z_percent",
        "const_i_percent",
    ):
        used = _flag(load, field, nonzero=True)
        if used.any():
            k = load.index[used][0]
            raise UnsupportedElementError(
                f"load {k}: voltage-dependent load ({field} != 0) is not supported", name
            )
    scaling = _col(load, "scaling", 1.0)
    tables["load"] = {
        "id": load.index,
        "name": _col(load, "name", ""),
        "bus": load.bus.to_numpy(),
        "p_mw": load.p_mw.to_numpy(dtype=float) * scaling,
        "q_mvar": load.q_mvar.to_numpy(dtype=float) * scaling,
        "in_service": _active(load),
    }
    shunt = net.shunt
    if _flag(shunt, "step_dependency_table").any():
        raise UnsupportedElementError("shunt with step_dependency_table is not supported", name)
    tables["shunt"] = {
        "id": shunt.index,
        "name": _col(shunt, "name", ""),
        "bus": shunt.bus.to_numpy(),
        "p_mw": shunt.p_mw.to_numpy(dtype=float),
        "q_mvar": shunt.q_mvar.to_numpy(dtype=float),
        "vn_kv": _col(shunt, "vn_kv", np.nan),
        "step": _col(shunt, "step", 1.0),
        "in_service": _active(shunt),
    }
    if "dcline" in net and len(net.dcline):
        dc = net.dcline
        tables["hvdc"] = {
            "id": dc.index,
            "name": _col(dc, "name", ""),
            "from_bus": dc.from_bus.to_numpy(),
            "to_bus": dc.to_bus.to_numpy(),
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
        }
    network = Network(
        tables,
        sn_mva=float(net.sn_mva),
        f_hz=float(net.f_hz),
        trafo_model=trafo_model,
        name=title,
        source=name,
        unsupplied_islands="isolate",
    )
    if "controller" in net and len(net.controller):  # once the net is known to be good
        warnings.warn(
            f"{name}: {len(net.controller)} pandapower controller(s) ignored: controllers "
            "take no part in a power flow",
            UserWarning,
            stacklevel=2,
        )
    return network


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


def _apply_switches(net, line_on: np.ndarray, trafo_on: np.ndarray, name: str) -> None:
    sw = net.switch if "switch" in net else None
    if sw is None or not len(sw):
        return
    closed = sw.closed.to_numpy(dtype=bool)
    et = sw.et.to_numpy()
    if ((et == "b") & closed).any():
        raise UnsupportedElementError(
            "closed bus-bus switches are not supported (merge the buses)", name
        )
    for kind, mask, table in (("l", line_on, net.line), ("t", trafo_on, net.trafo)):
        opened = sw.element.to_numpy()[(et == kind) & ~closed]
        mask[table.index.get_indexer(opened)] = False


def _trafo_table(net, trafo_on: np.ndarray, name: str) -> dict:
    t = net.trafo
    if _flag(t, "tap_dependency_table").any():
        raise UnsupportedElementError("trafo with tap_dependency_table is not supported", name)
    if "tap2_pos" in t.columns and t.tap2_pos.notna().any():
        raise UnsupportedElementError(
            "trafo with a second tap changer (tap2_*) is not supported", name
        )
    for ratio_col in ("leakage_resistance_ratio_hv", "leakage_reactance_ratio_hv"):
        if ratio_col in t.columns and (_col(t, ratio_col, 0.5) != 0.5).any():
            raise UnsupportedElementError(
                f"trafo {ratio_col} other than 0.5 is not supported", name
            )
    side = _text(t, "tap_side")
    pos = _col(t, "tap_pos", np.nan)
    if "tap_changer_type" in t.columns:
        kind = _text(t, "tap_changer_type")
        odd = (kind != "") & (kind != "Ratio") & (kind != "Symmetrical") & (side != "")
        if odd.any():
            k = t.index[odd][0]
            raise UnsupportedElementError(
                f"trafo {k}: tap_changer_type {kind[odd][0]!r} is not supported", name
            )
    no_tap = (side == "") | np.isnan(pos)
    side = np.where(no_tap, "", side)
    step_pct = _col(t, "tap_step_percent", 0.0)
    step_deg = _col(t, "tap_step_degree", 0.0)
    return {
        "id": t.index,
        "name": _col(t, "name", ""),
        "hv_bus": t.hv_bus.to_numpy(),
        "lv_bus": t.lv_bus.to_numpy(),
        "sn_mva": t.sn_mva.to_numpy(dtype=float),
        "vn_hv_kv": t.vn_hv_kv.to_numpy(dtype=float),
        "vn_lv_kv": t.vn_lv_kv.to_numpy(dtype=float),
        "vk_percent": t.vk_percent.to_numpy(dtype=float),
        "vkr_percent": t.vkr_percent.to_numpy(dtype=float),
        "pfe_kw": t.pfe_kw.to_numpy(dtype=float),
        # pandapower's magnetising branch is inductive whatever i0's sign
        "i0_percent": np.abs(t.i0_percent.to_numpy(dtype=float)),
        "shift_degree": _col(t, "shift_degree", 0.0),
        "tap_side": side.astype(str),
        "tap_neutral": np.where(no_tap, 0.0, _col(t, "tap_neutral", 0.0)),
        "tap_pos": np.where(no_tap, 0.0, pos),
        "tap_step_percent": np.where(no_tap, 0.0, step_pct),
        "tap_step_degree": np.where(no_tap, 0.0, step_deg),
        "parallel": t.parallel.to_numpy(dtype=float),
        "rate_mva": t.sn_mva.to_numpy(dtype=float)
        * t.parallel.to_numpy(dtype=float)
        * _col(t, "df", 1.0),
        "in_service": trafo_on,
    }


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
        for k, row in zip(_pp_index(table.index), table.itertuples(), strict=True):
            fn(
                net,
                bus_map[row.bus],
                p_mw=row.p_mw,
                q_mvar=row.q_mvar,
                in_service=row.in_service,
                index=k,
                name=str(row.Index),
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
        pp.create_shunt(
            net,
            bus_map[row.bus],
            q_mvar=row.q_mvar,
            p_mw=row.p_mw,
            vn_kv=vn_kv,
            step=row.step,
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
    return net


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
