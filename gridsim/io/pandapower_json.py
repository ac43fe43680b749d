"""pandapower JSON files (``pandapower.to_json``) read without running code they name.

pandapower's own reader imports whatever module a serialised object names in its
``_module`` field, before any check, so a file could run code. This reader parses the
file with :mod:`json` and builds every object itself, from a fixed list of types: the net
(``pandapower.auxiliary.pandapowerNet``), pandas ``DataFrame``, ``Series`` and ``Index``,
numpy scalars and arrays, and the builtins ``tuple``, ``set``, ``frozenset`` and
``complex``. Any other ``_module`` is refused with :class:`InvalidNetworkError` naming
where it is; nothing a file names is ever imported. The ``controller`` table's objects
are not built at all: controllers take no part in a power flow, and
:func:`~gridsim.io.pandapower.from_pandapower` says they are ignored.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_object_dtype

from gridsim.exceptions import InvalidNetworkError

__all__ = ["read_pandapower_json"]

_NET = ("pandapower.auxiliary", "pandapowerNet")
_FRAME_MODULES = ("pandas", "pandas.core.frame")
_SERIES_MODULES = ("pandas", "pandas.core.series")
_NUMPY_SCALARS = frozenset(
    ["bool", "bool_", "float16", "float32", "float64", "longlong", "ulonglong"]
    + [f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)]
)
_BUILTINS = {"tuple": tuple, "set": set, "frozenset": frozenset}
# the tables from_pandapower reads values from: their numeric columns must hold numbers
_READ_TABLES = ("bus", "line", "trafo", "gen", "sgen", "ext_grid", "load", "shunt", "dcline")
_READ_TABLES += ("switch", "trafo3w", "impedance", "ward", "xward", "storage", "motor", "svc")
# columns from_pandapower reads as text (or numbers: zones)
_TEXT = ("name", "zone", "tap_side", "tap_changer_type", "et")
# columns from_pandapower reads as numbers that pandapower's empty tables lack
_OPTIONAL_NUMERIC = {
    "bus": ("min_vm_pu", "max_vm_pu"),
    "trafo": ("tap2_pos", "leakage_resistance_ratio_hv", "leakage_reactance_ratio_hv"),
    "gen": ("min_p_mw", "max_p_mw"),
    "ext_grid": ("min_q_mvar", "max_q_mvar"),
    "load": ("const_z_percent", "const_i_percent"),
}


def read_pandapower_json(path: Path):
    """Read a pandapower JSON file as a :class:`~gridsim.model.network.Network`.

    Parameters
    ----------
    path : Path
        A file written by ``pandapower.to_json``.

    Returns
    -------
    Network
        As :func:`~gridsim.io.pandapower.from_pandapower` builds it.

    Raises
    ------
    InvalidNetworkError
        For a missing, empty or malformed file, for any serialised object outside the
        types above, and for anything :func:`from_pandapower` refuses.
    """
    src = str(path)
    if not path.is_file():
        raise InvalidNetworkError("no such file", src)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise InvalidNetworkError("file is empty", src)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidNetworkError(f"not valid JSON: {exc.msg} at line {exc.lineno}", src) from None
    except RecursionError:
        raise InvalidNetworkError("not a pandapower net: JSON nested too deeply", src) from None
    if not (
        isinstance(doc, dict)
        and (doc.get("_module"), doc.get("_class")) == _NET
        and isinstance(doc.get("_object"), dict)
    ):
        raise InvalidNetworkError(
            "not a pandapower net: expected the object pandapower.to_json writes "
            f"(_module {_NET[0]!r}, _class {_NET[1]!r}), found {_what(doc)}",
            src,
        )
    try:
        import pandapower as pp
    except ImportError:  # pragma: no cover - depends on the installation
        raise InvalidNetworkError(
            "reading pandapower JSON needs pandapower (pip install 'gridsim[pandapower]')", src
        ) from None
    net = pp.create_empty_network()
    numeric = {  # by pandapower's own dtypes
        key: {c for c, t in net[key].dtypes.items() if not is_object_dtype(t)}
        | set(_OPTIONAL_NUMERIC.get(key, ()))
        for key in _READ_TABLES
    }
    try:
        for key, value in doc["_object"].items():
            where = f"field {_short(key)}"
            if key == "controller":  # controllers are code: never built (see the module doc)
                net[key] = _frame(value, where, build_objects=False)
            else:
                net[key] = _decode(value, where)
        _check_fields(net, numeric)
    except RecursionError:
        raise InvalidNetworkError("not a pandapower net: JSON nested too deeply", src) from None
    except InvalidNetworkError as exc:
        raise InvalidNetworkError(exc.detail, src) from None
    from gridsim.io.pandapower import from_pandapower

    return from_pandapower(net, source=src)


def _decode(value, where: str):
    """``value`` with every serialised object built from the allowed types."""
    if isinstance(value, list):
        return [_decode(v, where) for v in value]
    if not isinstance(value, dict):
        return value
    if "_module" not in value and "_class" not in value:
        return {k: _decode(v, f"{where}[{k!r}]") for k, v in value.items()}
    module, cls = value.get("_module"), value.get("_class")
    obj = value.get("_object")
    if module in _FRAME_MODULES and cls == "DataFrame":
        return _frame(value, where)
    if module in _SERIES_MODULES and cls == "Series":
        return _series(value, where)
    if module == "pandas" and cls in ("Index", "RangeIndex") and isinstance(obj, list):
        return pd.Index(_decode(obj, where))
    if module == "numpy" and cls == "array" and isinstance(obj, list):
        return np.array(_decode(obj, where))
    if module == "numpy" and cls in _NUMPY_SCALARS:
        if cls.startswith("bool"):
            if obj not in (True, False, "true", "false"):
                raise InvalidNetworkError(f"{where}: numpy.{cls} value {_short(obj)} is not a bool")
            return np.bool_(obj in (True, "true"))
        try:
            return np.dtype(cls).type(obj)
        except (TypeError, ValueError, OverflowError):
            raise InvalidNetworkError(
                f"{where}: numpy.{cls} value {_short(obj)} is not a number"
            ) from None
    if module == "builtins" and cls in _BUILTINS and isinstance(obj, list):
        return _BUILTINS[cls](_decode(obj, where))
    if module == "builtins" and cls == "complex" and isinstance(obj, str):
        try:
            return complex(obj)
        except ValueError:
            raise InvalidNetworkError(f"{where}: {_short(obj)} is not a complex number") from None
    raise InvalidNetworkError(
        f"{where}: refusing serialised object {_what(value)}: gridsim builds only pandas "
        "tables, numpy values and plain data from a file, and imports no code a file names"
    )


def _frame(value, where: str, build_objects: bool = True) -> pd.DataFrame:
    """A serialised DataFrame (as pandapower's ``json_dataframe`` writes it)."""
    if not (
        isinstance(value, dict)
        and value.get("_module") in _FRAME_MODULES
        and value.get("_class") == "DataFrame"
    ):
        raise InvalidNetworkError(f"{where}: expected a table, found {_what(value)}")
    if value.get("is_multiindex") or value.get("is_multicolumn"):
        raise InvalidNetworkError(f"{where}: tables with a multi-index are not supported")
    orient, dtype = value.get("orient", "columns"), value.get("dtype")
    # pandas makes any text True in a bool column: read those as they are, check them below
    flags = [c for c, t in dtype.items() if t == "bool"] if isinstance(dtype, dict) else []
    if flags:
        dtype = dtype | dict.fromkeys(flags, "object")
    df = _read_json(value, where, dtype, orient=orient, convert_axes=False)
    if not len(df) or orient == "columns":
        try:  # pandapower's reader: integer row labels
            df.index = df.index.astype(np.int64)
        except (TypeError, ValueError):
            pass
    for key, setter in (("index_name", "index"), ("column_name", "columns")):
        name = value.get(key)
        if isinstance(name, str):
            getattr(df, setter).name = name
    if df.columns.has_duplicates:
        twice = df.columns[df.columns.duplicated()][0]
        raise InvalidNetworkError(f"{where}: column {_short(twice)} appears twice")
    for col in df.columns.intersection(flags):
        bad = [v for v in df[col] if not isinstance(v, (bool, np.bool_)) and v not in (0, 1)]
        if bad:
            message = f"{_what(bad[0])} is not a bool"
            raise InvalidNetworkError(f"{where}, column {_short(col)}: {message}")
        df[col] = df[col].astype(bool)
    for col in df.select_dtypes(include="object").columns:
        cells = df[col].to_numpy()
        if build_objects:
            cells = [
                _decode(c, f"{where}, row {_short(i)}, column {_short(col)}")
                for i, c in zip(df.index, cells, strict=True)
            ]
        df[col] = pd.Series(cells, index=df.index, dtype=object)
        df.loc[df[col].isna(), col] = None
    return df


def _series(value: dict, where: str) -> pd.Series:
    if value.get("is_multiindex"):
        raise InvalidNetworkError(f"{where}: series with a multi-index are not supported")
    orient = value.get("orient", "index")
    ser = _read_json(value, where, value.get("dtype"), orient=orient, typ="series")
    if is_object_dtype(ser):
        ser = pd.Series([_decode(c, where) for c in ser], index=ser.index, dtype=object)
    if isinstance(value.get("index_name"), str):
        ser.index.name = value["index_name"]
    return ser


def _read_json(value: dict, where: str, dtype, **options):
    """pandas' JSON reader on the text of one serialised table, never on a path."""
    text = value.get("_object")
    if not isinstance(text, str):
        raise InvalidNetworkError(f"{where}: the table's data are not a JSON text")
    if dtype is not None and not isinstance(dtype, (dict, str)):
        raise InvalidNetworkError(f"{where}: dtype must be a mapping, not {_what(dtype)}")
    try:
        with warnings.catch_warnings():  # e.g. 1e308 cast to an integer column: refused
            warnings.simplefilter("error", RuntimeWarning)
            return pd.read_json(io.StringIO(text), dtype=dtype, precise_float=True, **options)
    except Exception as exc:  # pandas raises many kinds on malformed tables
        raise InvalidNetworkError(f"{where}: unreadable table: {str(exc)[:200]}") from None


def _check_fields(net, numeric: dict[str, set[str]]) -> None:
    """The tables and numbers from_pandapower reads have the right types.

    ``numeric`` names the numeric and boolean columns of each table read; its text
    columns (``_TEXT``) must hold text, numbers or nulls.
    """
    numbers = (int, float, np.number, np.bool_)
    for key, columns in numeric.items():
        table = net[key]
        if not isinstance(table, pd.DataFrame):
            raise InvalidNetworkError(f"field {key!r} is not a table but {_what(table)}")
        for col in table.columns.intersection([*columns, *_TEXT]):
            if not is_object_dtype(table[col]):
                continue
            kinds = numbers if col in columns else (str, *numbers)
            bad = [v for v in table[col] if v is not None and not isinstance(v, kinds)]
            if bad:
                expected = "a number" if col in columns else "text"
                raise InvalidNetworkError(
                    f"table {key!r}, column {_short(col)}: {_what(bad[0])} is not {expected}"
                )
    for key in ("f_hz", "sn_mva"):
        value = net[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise InvalidNetworkError(f"field {key!r} must be a number, not {_what(value)}")


def _what(value) -> str:
    """A short description of a value, for messages."""
    if isinstance(value, dict) and ("_module" in value or "_class" in value):
        return f"(_module {_short(value.get('_module'))}, _class {_short(value.get('_class'))})"
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float, str)):
        return _short(value)
    names = {dict: "a JSON object", list: "a JSON list"}
    return names.get(type(value), f"a {type(value).__name__}")


def _short(value, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
