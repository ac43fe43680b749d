"""Sweep parameters: their syntax, validation, and how a point is applied to a network.

Keys
----
``ELEMENT:ID:FIELD``
    One numeric or true/false field of one element, with the field names of
    :data:`gridsim.model.schema.SCHEMA`: ``line:L_RS_05:rate_mva``,
    ``line:L_BGRS_01:parallel``, ``hvdc:DC_BLACKSEA_1:in_service``,
    ``hvdc:DC_AKH_B2B:max_p_mw``, ``gen:G_RS_NIS_CCGT:max_p_mw``. The element is the
    text before the first colon, the field the text after the last one, the id what
    lies between (so ids may hold colons; integer ids of MATPOWER and pandapower networks
    are matched as integers). ``line:ID:circuits`` / ``trafo:ID:circuits`` (a whole
    number >= 1) sets ``parallel`` *and* scales ``rate_mva`` with it (the rating per
    circuit kept), whereas ``parallel`` alone keeps ``rate_mva``, the rating of all
    circuits together, as it is.
``scenario``
    A scenario of the network file (the network is re-read with it).
``load_scale`` / ``load_scale:AREA``
    Factor on ``p_mw`` and ``q_mvar`` of every in-service or out-of-service load, or of
    the loads at buses of a zone or a group of zones (``load_scale:AZ``,
    ``load_scale:WB``). Factors multiply: ``load_scale=1.1`` with ``load_scale:AZ=1.2``
    scales Azerbaijan's loads by 1.32.
``export_mw``
    A transfer added on top of the scenario's own export, from the scenario's export
    ``source`` to its ``sink`` (or the source and sink given to the sweep), made by
    :func:`gridsim.analysis.transfer.apply_transfer`; negative values lower the export.

Values
------
``V1,V2,...`` (a list), ``START:STOP:STEP`` (a range; the stop is *included* when the
steps reach it within 1e-9 of a step), or one value. Booleans: ``true``/``false``
(also ``yes``/``no``, ``on``/``off``, ``1``/``0``).

Order in which a point is applied
---------------------------------
1. ``scenario`` (the file re-read with it), 2. element fields, 3. ``load_scale:AREA``
then ``load_scale``, 4. ``export_mw``. The transfer's shares (see
:mod:`gridsim.analysis.transfer`) are computed on the network after step 3.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from gridsim.exceptions import GridsimError, InvalidNetworkError
from gridsim.model.network import Network, plain
from gridsim.model.schema import BOOL, FLOAT, SCHEMA

SCENARIO, EXPORT, LOAD_SCALE, FIELD = "scenario", "export_mw", "load_scale", "field"
CIRCUITS = "circuits"  # pseudo-field of lines and transformers: parallel and rating together
MAX_VALUES = 10_000_000  # values one range may produce

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

# physical ranges of fields: (lower bound, bound included?); other fields: any finite value
_POSITIVE = {"rate_mva", "length_km", "sn_mva", "vn_kv", "vn_hv_kv", "vn_lv_kv", "vm_pu"}
_POSITIVE |= {"min_vm_pu", "max_vm_pu", "vm_from_pu", "vm_to_pu"}
_NON_NEGATIVE = {"loss_percent", "loss_mw", "r_ohm_per_km", "b_us_per_km", "step"}
_NON_NEGATIVE |= {"slack_weight", "vkr_percent", "pfe_kw"}
_BOUNDS: dict[tuple[str, str], tuple[float, bool]] = {("hvdc", "max_p_mw"): (0.0, False)}
_BOUNDS[("gen", "max_p_mw")] = (0.0, True)
_BOUNDS[("sgen", "max_p_mw")] = (0.0, True)


class ParameterError(GridsimError, ValueError):
    """A sweep parameter that cannot be used (unknown key, bad value, empty range)."""


@dataclass(frozen=True)
class Parameter:
    """One swept quantity and its values.

    Attributes
    ----------
    key : str
        As written (``line:L_RS_05:rate_mva``, ``scenario``, ``load_scale:AZ``, ...).
    kind : {"field", "scenario", "load_scale", "export_mw"}
    element, element_id, field : str, object, str
        For ``kind == "field"``; ``field`` holds the area of a ``load_scale:AREA``.
    values : tuple
        Python floats, bools or strings, in the order given.
    """

    key: str
    kind: str
    values: tuple
    element: str | None = None
    element_id: Any = None
    field: str | None = None

    @property
    def structural(self) -> bool:
        """Whether points that differ in it need a network compiled of their own.

        ``load_scale`` and ``export_mw`` change nothing but injections.
        """
        return self.kind not in (EXPORT, LOAD_SCALE)

    @property
    def dtype(self) -> str:
        if self.kind == SCENARIO:
            return "str"
        if (
            self.kind == FIELD
            and self.field != CIRCUITS
            and _column(self.element, self.field).kind == BOOL
        ):
            return "bool"
        return "float"


def _column(element: str, field: str):
    for col in SCHEMA[element]:
        if col.name == field:
            return col
    return None


# -- parsing ---------------------------------------------------------------------------


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``KEY=VALUES`` (the command line's ``--param``) into key and value text."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        raise ParameterError(f"parameter {text!r}: expected KEY=VALUES")
    if not value:
        raise ParameterError(f"parameter {key!r}: no value given")
    return key, value


def _split_values(key: str, spec: Any, dtype: str) -> list:
    """Raw values from a value spec: text (list or range), a scalar or an iterable."""
    if isinstance(spec, str):
        text = spec.strip()
        if dtype != "str" and text.count(":") == 2 and "," not in text:
            return _range(key, text)
        items = [s.strip() for s in text.split(",")]
        if any(not s for s in items):
            raise ParameterError(f"parameter {key!r}: empty item in {spec!r}")
        return items
    if isinstance(spec, Iterable) and not isinstance(spec, bytes):
        return list(spec)
    return [spec]


def _range(key: str, text: str) -> list[float]:
    parts = text.split(":")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise ParameterError(
            f"parameter {key!r}: range {text!r} is not START:STOP:STEP with numbers"
        ) from None
    if not all(math.isfinite(x) for x in (start, stop, step)):
        raise ParameterError(f"parameter {key!r}: range {text!r} has a non-finite number")
    if step == 0:
        raise ParameterError(f"parameter {key!r}: range {text!r} has a zero step")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count < 1:
        raise ParameterError(f"parameter {key!r}: range {text!r} is empty")
    if count > MAX_VALUES:
        raise ParameterError(f"parameter {key!r}: range {text!r} has {count} values (too many)")
    # rounded so that 0.8:1.2:0.1 gives 0.9, not 0.9000000000000001
    return [round(start + k * step, 12) + 0.0 for k in range(count)]


def _as_float(key: str, v: Any) -> float:
    if isinstance(v, bool | np.bool_):
        raise ParameterError(f"parameter {key!r}: {v!r} is not a number")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {key!r}: {plain(v)!r} is not a number") from None
    if not math.isfinite(x):
        raise ParameterError(f"parameter {key!r}: {plain(v)!r} is not a finite number")
    return x


def _as_bool(key: str, v: Any) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        if v.strip().lower() in _TRUE:
            return True
        if v.strip().lower() in _FALSE:
            return False
    raise ParameterError(f"parameter {key!r}: {plain(v)!r} is not true/false")


def _match_id(index, raw: Any):
    """The id of ``index`` that ``raw`` names (integer ids matched from text), or None."""
    candidates = [raw]
    if isinstance(raw, str):
        try:
            candidates.insert(0, int(raw))
        except ValueError:
            pass
    for c in candidates:
        try:
            if c in index:
                return c
        except TypeError:
            continue
    return None


def _zones(network: Network, area: str) -> list[str] | None:
    groups = getattr(network, "groups", None) or {}
    if area in groups:
        return list(groups[area])
    zones = set(network.columns("bus").zone.astype(str))
    return [area] if area in zones else None


def parse_parameter(network: Network, key: str, spec: Any) -> Parameter:
    """Parse and check one parameter against ``network``.

    Parameters
    ----------
    network : Network
        The base network (element ids, zones and scenarios are looked up in it).
    key : str
        See the module docstring.
    spec : str, scalar or iterable
        Values: text (``"1,2,3"``, ``"0.8:1.2:0.1"``), one value, or a list of values.

    Returns
    -------
    Parameter

    Raises
    ------
    ParameterError
        One line naming the parameter: unknown element, id or field, a field that is
        neither a number nor true/false, a value of the wrong type or outside the
        field's physical range, an empty range, a repeated value.
    """
    key = str(key).strip()
    src = network.source or network.name or "network"
    if key == SCENARIO:
        names = list(getattr(network, "scenarios", None) or {})
        if not names:
            raise ParameterError(f"parameter 'scenario': {src} defines no scenarios")
        if not _is_file(network.source):
            raise ParameterError("parameter 'scenario': the network was not read from a file")
        values = [str(v).strip() for v in _split_values(key, spec, "str")]
        for v in values:
            if v not in names:
                raise ParameterError(
                    f"parameter 'scenario': {v!r} is not a scenario of {src} "
                    f"(scenarios: {', '.join(names)})"
                )
        return _checked(Parameter(key, SCENARIO, tuple(values)))
    if key == EXPORT:
        values = [_as_float(key, v) for v in _split_values(key, spec, "float")]
        return _checked(Parameter(key, EXPORT, tuple(values)))
    if key == LOAD_SCALE or key.startswith(LOAD_SCALE + ":"):
        area = key[len(LOAD_SCALE) + 1 :] or None
        if area is not None and _zones(network, area) is None:
            raise ParameterError(
                f"parameter {key!r}: {area!r} is neither a zone nor a group of {src}"
            )
        values = [_as_float(key, v) for v in _split_values(key, spec, "float")]
        for v in values:
            if v < 0:
                raise ParameterError(f"parameter {key!r}: load scale {v:g} is negative")
        return _checked(Parameter(key, LOAD_SCALE, tuple(values), field=area))

    if key.count(":") < 2:
        raise ParameterError(
            f"parameter {key!r}: unknown key; expected ELEMENT:ID:FIELD, scenario, "
            "export_mw, load_scale or load_scale:AREA"
        )
    element, rest = key.split(":", 1)
    raw_id, field = rest.rsplit(":", 1)
    if element not in SCHEMA:
        raise ParameterError(
            f"parameter {key!r}: unknown element type {element!r} (known: {', '.join(SCHEMA)})"
        )
    table = network.columns(element)
    element_id = _match_id(table.index, raw_id)
    if element_id is None:
        raise ParameterError(f"parameter {key!r}: {src} has no {element} {raw_id!r}")
    if field == CIRCUITS and element in ("line", "trafo"):
        values = [_as_float(key, v) for v in _split_values(key, spec, "float")]
        for v in values:
            if v < 1 or v != int(v):
                raise ParameterError(
                    f"parameter {key!r}: circuits = {v:g} is not a whole number >= 1"
                )
        return _checked(Parameter(key, FIELD, tuple(values), element, plain(element_id), field))
    col = _column(element, field)
    if col is None:
        raise ParameterError(f"parameter {key!r}: {element} has no field {field!r}")
    if col.kind not in (FLOAT, BOOL):
        raise ParameterError(
            f"parameter {key!r}: {element} field {field!r} is not a number or true/false"
        )
    raw = _split_values(key, spec, "bool" if col.kind == BOOL else "float")
    if col.kind == BOOL:
        values = [_as_bool(key, v) for v in raw]
    else:
        values = [_as_float(key, v) for v in raw]
        for v in values:
            _check_range(key, element, field, v)
    return _checked(Parameter(key, FIELD, tuple(values), element, plain(element_id), field))


def _check_range(key: str, element: str, field: str, v: float) -> None:
    if field == "parallel":
        if v < 1:
            raise ParameterError(f"parameter {key!r}: parallel = {v:g} is below 1")
        return
    bound = _BOUNDS.get((element, field))
    if bound is None and field in _POSITIVE:
        bound = (0.0, False)
    elif bound is None and field in _NON_NEGATIVE:
        bound = (0.0, True)
    if bound is not None:
        lo, inclusive = bound
        if v < lo or (v == lo and not inclusive):
            what = "negative" if v < 0 else "not positive"
            raise ParameterError(f"parameter {key!r}: {field} = {v:g} is {what}")
    if field == "loss_percent" and v >= 100:
        raise ParameterError(f"parameter {key!r}: loss_percent = {v:g} is not below 100")


def _checked(p: Parameter) -> Parameter:
    if not p.values:
        raise ParameterError(f"parameter {p.key!r}: no values")
    seen = set()
    for v in p.values:
        if v in seen:
            raise ParameterError(f"parameter {p.key!r}: value {v!r} is given twice")
        seen.add(v)
    return p


def _is_file(path) -> bool:
    return bool(path) and os.path.isfile(path)


def parse_parameters(network: Network, parameters: Mapping[str, Any]) -> list[Parameter]:
    """Parse and check every parameter (see :func:`parse_parameter`), in order.

    Besides each parameter on its own, the network is validated with every field
    parameter at its smallest and largest value (so that e.g. a ``min_q_mvar`` above
    the element's ``max_q_mvar`` is caught before any work starts), and the export's
    source and sink are checked when ``export_mw`` is swept.
    """
    if not isinstance(parameters, Mapping):
        raise ParameterError("parameters must map a key to its values")
    if not parameters:
        raise ParameterError("no parameters given")
    params = [parse_parameter(network, k, v) for k, v in parameters.items()]
    keys = [p.key for p in params]
    for k in keys:
        if keys.count(k) > 1:
            raise ParameterError(f"parameter {k!r} is given twice")
    from gridsim.model.validate import validate_network

    for p in params:
        if p.kind != FIELD or p.dtype == "bool":
            continue
        for v in {min(p.values), max(p.values)}:
            trial = network.copy()
            set_field(trial, p, v)
            try:
                validate_network(trial)
            except InvalidNetworkError as exc:
                raise ParameterError(f"parameter {p.key!r} = {v:g}: {exc.detail}") from None
    return params


# -- applying --------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _scenario_network(path: str, mtime: float, scenario: str) -> Network:
    from gridsim.io import load_network

    return load_network(path, scenario=scenario)


def scenario_network(network: Network, scenario: str) -> Network:
    """``network``'s file read with ``scenario`` (cached per process; a copy is returned)."""
    path = os.path.abspath(network.source)
    return _scenario_network(path, os.path.getmtime(path), scenario).copy()


def export_area(network: Network, source=None, sink=None) -> tuple[Any, Any]:
    """Source and sink of the export: the ones given, else the scenario's ``export``."""
    export = getattr(network, "export", None) or {}
    source = source if source is not None else export.get("source")
    sink = sink if sink is not None else export.get("sink")
    if source is None or sink is None:
        scen = getattr(network, "scenario", None)
        raise ParameterError(
            f"parameter 'export_mw': {network.source or 'the network'}"
            + (f" scenario {scen!r}" if scen else "")
            + " has no export source and sink; give them (--source/--sink)"
        )
    return source, sink


def scale_loads(network: Network, factor: float, area: str | None = None) -> None:
    """Multiply ``p_mw`` and ``q_mvar`` of the loads (of ``area``'s zones) in place."""
    load = network.load
    if area is None:
        mask = np.ones(len(load), dtype=bool)
    else:
        zones = _zones(network, area) or []
        bus_zone = network.bus["zone"].astype(str)
        mask = bus_zone.reindex(load.bus).isin(zones).to_numpy()
    if mask.any():
        load.loc[mask, "p_mw"] = load.p_mw.to_numpy()[mask] * factor
        load.loc[mask, "q_mvar"] = load.q_mvar.to_numpy()[mask] * factor
    network.invalidate()


def set_field(network: Network, p: Parameter, value) -> None:
    """Set a field parameter on ``network`` (``circuits``: ``parallel`` and ``rate_mva``)."""
    if p.field == CIRCUITS:
        table = network[p.element]
        parallel = float(table.at[p.element_id, "parallel"])
        rate = float(table.at[p.element_id, "rate_mva"])
        network.set(p.element, p.element_id, "parallel", value)
        network.set(p.element, p.element_id, "rate_mva", rate / parallel * value)
        return
    network.set(p.element, p.element_id, p.field, value)


def structural_network(network: Network, params: list[Parameter], point: Mapping) -> Network:
    """Steps 1-2 of a point: the network a group of points shares (a copy; ``network``
    is not modified)."""
    by_kind = {p.kind: p for p in params}
    if SCENARIO in by_kind:
        net = scenario_network(network, point[SCENARIO])
    else:
        net = network.copy()
    for p in params:
        if p.kind == FIELD:
            value = point[p.key]
            set_field(net, p, bool(value) if p.dtype == "bool" else value)
    net.invalidate()
    return net


def finish_point(
    net: Network, params: list[Parameter], point: Mapping, source=None, sink=None
) -> Network:
    """Steps 3 and 4 on a structural network (in place for the load scales; returns the
    network with the export applied)."""
    for p in params:
        if p.kind == LOAD_SCALE and p.field is not None:
            scale_loads(net, point[p.key], p.field)
    for p in params:
        if p.kind == LOAD_SCALE and p.field is None:
            scale_loads(net, point[p.key])
    for p in params:
        if p.kind == EXPORT:
            from gridsim.analysis.transfer import apply_transfer

            src, snk = export_area(net, source, sink)
            net = apply_transfer(net, src, snk, point[p.key])
    return net


def apply_parameters(
    network: Network, parameters: Mapping[str, Any], *, source=None, sink=None
) -> Network:
    """A copy of ``network`` with one value of each parameter applied.

    The single-run counterpart of a sweep point: ``gridsim pf --param KEY=VALUE`` and
    ``gridsim transfer --param KEY=VALUE`` call it, so that any sweep row can be
    reproduced with the values of its parameter columns.

    Parameters
    ----------
    network : Network
        Not modified. For ``scenario`` it must have been read from a network file.
    parameters : mapping of str to value
        Key (see :mod:`gridsim.analysis.sweep.params`) to one value (a number, a bool,
        a scenario name, or their text).
    source, sink : str, optional
        The export's source and sink for ``export_mw`` (default: the scenario's).

    Returns
    -------
    Network

    Raises
    ------
    ParameterError
        For an unknown key or a bad value (one line naming the parameter), or a key
        given more than one value.
    """
    params = parse_parameters(network, parameters)
    for p in params:
        if len(p.values) != 1:
            raise ParameterError(f"parameter {p.key!r}: one value expected, got {len(p.values)}")
    point = {p.key: p.values[0] for p in params}
    net = structural_network(network, params, point)
    return finish_point(net, params, point, source, sink)
