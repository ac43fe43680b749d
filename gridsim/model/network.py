"""The network model: one validated pandas table per element type, indexed by element id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gridsim.exceptions import InvalidNetworkError
from gridsim.model.schema import BOOL, ELEMENTS, FLOAT, SCHEMA, STR

TRAFO_MODELS = ("t", "pi")
_EMPTY_INDEX = pd.Index([], name="id")


class ColumnTable:
    """An element table as an id index plus one NumPy array per field.

    What compile and validation read: attribute or item access gives the column
    array, so ``t.p_mw`` works as on a DataFrame but costs nothing.
    """

    __slots__ = ("index", "cols")

    def __init__(self, index: pd.Index, cols: dict[str, np.ndarray]):
        self.index = index
        self.cols = cols

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("__") or name == "cols":  # e.g. unpickling, before cols is set
            raise AttributeError(name)
        try:
            return self.cols[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def __len__(self) -> int:
        return len(self.index)

    def rows(self, mask: np.ndarray) -> ColumnTable:
        """The rows where ``mask`` is true."""
        return ColumnTable(self.index[mask], {k: v[mask] for k, v in self.cols.items()})


class Network:
    """A power network as element tables.

    Tables (``bus``, ``line``, ``trafo``, ``gen``, ``sgen``, ``ext_grid``, ``load``,
    ``shunt``, ``hvdc``) are :class:`pandas.DataFrame` objects indexed by element id,
    with the columns of :data:`gridsim.model.schema.SCHEMA` (extra columns are kept).

    Parameters
    ----------
    tables : mapping of str to DataFrame or list of dict or dict of arrays
        Element tables; missing ones are empty. A list of dicts needs an ``id`` key.
    sn_mva : float
        Base power of the per-unit system.
    f_hz : float
        System frequency (used only when converting capacitances).
    trafo_model : {"t", "pi"}
        Transformer equivalent circuit, as pandapower's ``trafo_model``.
    name : str
        Name of the network.
    source : str, optional
        File the network came from; named in error messages.
    validate : bool
        Check the tables now (default). Readers that built clean tables may skip it.
    unsupplied_islands : {"error", "isolate"}
        What to do with an island that has load or generation but no slack: raise
        (default) or de-energise it, as pandapower does.

    Notes
    -----
    Solvers work on :meth:`compile`'s arrays, which are cached. Edit tables through
    :meth:`set` (or call :meth:`invalidate` after editing a table in place) so that the
    next solve sees the change.
    """

    def __init__(
        self,
        tables: Mapping[str, Any] | None = None,
        *,
        sn_mva: float = 100.0,
        f_hz: float = 50.0,
        trafo_model: str = "t",
        name: str = "",
        source: str | None = None,
        validate: bool = True,
        unsupplied_islands: str = "error",
    ):
        tables = dict(tables or {})
        unknown = set(tables) - set(ELEMENTS)
        if unknown:
            raise InvalidNetworkError(
                f"unknown element table(s) {sorted(unknown)}; known: {', '.join(ELEMENTS)}", source
            )
        if trafo_model not in TRAFO_MODELS:
            raise InvalidNetworkError(
                f"trafo_model must be 't' or 'pi', got {shown(trafo_model)}", source
            )
        if not (np.isfinite(sn_mva) and sn_mva > 0):
            raise InvalidNetworkError(f"sn_mva must be positive, got {sn_mva!r}", source)
        self.sn_mva = float(sn_mva)
        self.f_hz = float(f_hz)
        self.trafo_model = trafo_model
        self.name = name
        self.source = source
        if unsupplied_islands not in ("error", "isolate"):
            raise InvalidNetworkError("unsupplied_islands must be 'error' or 'isolate'", source)
        self.unsupplied_islands = unsupplied_islands
        #: Q-limit rule of :func:`gridsim.run_ac` for this network ("matpower" from .m files)
        self.q_limit_rule = "pandapower"
        self.groups: dict[str, list[str]] = {}
        #: published and stability limits over groups of branches and HVDC links (flowgates):
        #: dicts ``id``, ``members`` (``(element, id, sign)``), ``limit_mw``, ``kind``
        self.interfaces: list[dict] = []
        # A table lives as columns until someone asks for its DataFrame; from then on the
        # DataFrame is the truth (building 9 DataFrames costs more than solving case118).
        self._columns: dict[str, ColumnTable] = {}
        self._tables: dict[str, pd.DataFrame] = {}
        for element in ELEMENTS:
            index, cols = _make_table(element, tables.get(element), source)
            self._columns[element] = ColumnTable(index, cols)
        self._compiled = None
        if validate:
            from gridsim.model.validate import validate_network

            validate_network(self)

    # -- table access -------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if name in ELEMENTS:  # else an attribute that shadows the table solvers read
            raise AttributeError(
                f"Network.{name} cannot be replaced: edit it in place "
                f"(net.{name}.loc[...] = ...) and call invalidate(), or build a new Network "
                "from a dict of tables"
            )
        super().__setattr__(name, value)

    def __getattr__(self, item: str) -> pd.DataFrame:
        if item in ELEMENTS and "_tables" in self.__dict__:
            return self._frame(item)
        raise AttributeError(item)

    def __getitem__(self, element: str) -> pd.DataFrame:
        return self._frame(element)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """All element tables as DataFrames, by element type."""
        return {e: self._frame(e) for e in ELEMENTS}

    def columns(self, element: str) -> ColumnTable:
        """One element table as column arrays (cheap; what solvers read)."""
        table = self._columns.get(element)
        if table is not None:
            return table
        frame = self._element_table(element)
        return ColumnTable(frame.index, {c: frame[c].to_numpy() for c in frame.columns})

    def _frame(self, element: str) -> pd.DataFrame:
        frame = self._tables.get(element)
        if frame is None:
            if element not in self._columns:
                raise KeyError(element)
            table = self._columns.pop(element)
            index = table.index if table.index.name == "id" else table.index.rename("id")
            frame = pd.DataFrame(table.cols, index=index, copy=False)
            self._tables[element] = frame
        return frame

    def __repr__(self) -> str:
        counts = ", ".join(f"{len(self.columns(e))} {e}" for e in ELEMENTS if len(self.columns(e)))
        return f"<gridsim.Network {self.name or '(unnamed)'}: {counts}>"

    # -- edits --------------------------------------------------------------------------
    def set(self, element: str, element_id: Any, field: str, value: Any) -> None:
        """Set one field of one element and drop the compiled arrays.

        Raises
        ------
        InvalidNetworkError
            For an unknown element type, id or field.
        """
        table = self._element_table(element)
        if element_id not in table.index:
            raise InvalidNetworkError(f"{element} {shown(element_id)} does not exist", self.source)
        if field not in table.columns:
            raise InvalidNetworkError(f"{element} has no field {shown(field)}", self.source)
        table.loc[element_id, field] = value
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the compiled arrays; the next solve compiles again."""
        self._compiled = None

    def compile(self):
        """The network as contiguous arrays for the solvers (cached).

        Returns
        -------
        gridsim.model.compile.CompiledNetwork
        """
        if self._compiled is None:
            from gridsim.model.compile import compile_network

            self._compiled = compile_network(self)
        return self._compiled

    def copy(self) -> Network:
        """A deep copy (tables copied, compiled arrays not shared)."""
        new = Network.__new__(Network)
        new.__dict__.update(self.__dict__)
        new._tables = {e: t.copy() for e, t in self._tables.items()}
        new._columns = {
            e: ColumnTable(t.index.copy(), {k: v.copy() for k, v in t.cols.items()})
            for e, t in self._columns.items()
        }
        new.groups = {k: list(v) for k, v in self.groups.items()}
        new.interfaces = [dict(i) for i in self.interfaces]
        new._compiled = None
        return new

    def _element_table(self, element: str) -> pd.DataFrame:
        if element not in ELEMENTS:
            raise InvalidNetworkError(f"unknown element type {shown(element)}", self.source)
        return self._frame(element)


def _make_table(element: str, data: Any, source: str | None):
    """Build an element table with every schema column, filling defaults.

    Returns the id index and the columns as arrays.

    Built in one ``DataFrame`` construction from a dict of arrays: column-by-column
    assignment costs more than the solve on small networks.
    """
    columns = SCHEMA[element]
    if data is None:
        raw, index = {}, _EMPTY_INDEX
    elif isinstance(data, pd.DataFrame):
        raw = {c: data[c].to_numpy() for c in data.columns}
        index = data.index
    elif isinstance(data, Mapping):
        index = data["id"] if "id" in data else []
        raw = {k: np.asarray(v) for k, v in data.items() if k != "id"}
    else:
        rows = list(data)
        for n, row in enumerate(rows):
            if not isinstance(row, Mapping) or "id" not in row:
                raise InvalidNetworkError(f"{element} entry {n + 1} has no 'id'", source)
        keys = list(dict.fromkeys(k for row in rows for k in row if k != "id"))
        raw = {}
        for key in keys:
            col = np.empty(len(rows), dtype=object)
            col[:] = [row.get(key) for row in rows]
            raw[key] = col
        index = [row["id"] for row in rows]
    if not isinstance(index, pd.Index):  # an Index is kept as is (named "id" when shown)
        index = pd.Index(index, name="id")
    n = len(index)
    for name, values in raw.items():
        if len(values) != n:
            raise InvalidNetworkError(
                f"{element} field {name!r} has {len(values)} values for {n} elements", source
            )
    out: dict[str, np.ndarray] = {}
    for col in columns:
        if col.name in raw:
            values = raw[col.name]
            if values.dtype == object and not col.required and col.kind != STR:
                absent = values == None  # noqa: E711 (elementwise on object arrays)
                if absent.any():
                    values = values.copy()
                    values[absent] = col.default
            if col.kind == FLOAT:
                values = _as_float(values, index, element, col.name, source)
            elif col.kind == BOOL:
                values = _as_bool(values, index, element, col.name, source)
            elif col.kind == STR:
                values = _as_str(values)
            out[col.name] = values
        elif col.required and n:
            raise InvalidNetworkError(
                f"{element} table lacks the required field {col.name!r}", source
            )
        elif col.kind == FLOAT:
            out[col.name] = np.full(n, np.nan if col.required else col.default, dtype=float)
        elif col.kind == BOOL:
            out[col.name] = np.full(n, col.default, dtype=bool)
        else:
            out[col.name] = np.full(n, "" if col.kind == STR else None, dtype=object)
    for name, values in raw.items():
        if name not in out:
            out[name] = values
    return index, out


def _as_str(values) -> np.ndarray:
    """Strings, with None/NaN as "" (vectorised: names of 10^4 elements are common)."""
    values = np.asarray(values, dtype=object)
    if (values == None).all():  # noqa: E711 (elementwise); pandapower's usual names
        return np.full(values.size, "", dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values
    missing = pd.isna(values)
    out = values.astype(str).astype(object)
    out[missing] = ""
    return out


def _names(element: str) -> set[str]:
    return {c.name for c in SCHEMA[element]}


def _as_float(values, index, element: str, field: str, source: str | None) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "fiu":
        return values.astype(float, copy=False)
    out = np.empty(len(values))
    for k, v in enumerate(values):
        try:
            if isinstance(v, bool | str):
                raise TypeError
            out[k] = np.nan if v is None else float(v)
        except (TypeError, ValueError):
            raise InvalidNetworkError(
                f"{element} {shown(index[k])}: {field} = {shown(v)} is not a number", source
            ) from None
        except OverflowError:  # an integer beyond float's range
            raise InvalidNetworkError(
                f"{element} {shown(index[k])}: {field} = {shown(v)} is too large", source
            ) from None
    return out


def _as_bool(values, index, element: str, field: str, source: str | None) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == bool:
        return values
    out = np.empty(len(values), dtype=bool)
    for k, v in enumerate(values):
        if isinstance(v, bool | np.bool_) or (
            isinstance(v, int | float | np.number) and v in (0, 1)
        ):
            out[k] = bool(v)
        else:
            raise InvalidNetworkError(
                f"{element} {shown(index[k])}: {field} = {shown(v)} is not true/false", source
            )
    return out


def plain(value):
    """A NumPy scalar as plain Python (``5``, not ``np.int64(5)``), e.g. for messages."""
    return value.item() if isinstance(value, np.generic) else value


def shown(value, limit: int = 80) -> str:
    """``repr(value)`` for a message, NumPy scalars made plain, cut to ``limit`` characters.

    Whatever a file holds (a 10,000-character id, a huge nested list) stays one short
    line in an error message.
    """
    try:
        text = repr(plain(value))
    except ValueError:  # an integer with more digits than Python will print
        text = f"<an integer of {value.bit_length()} bits>"
    except RecursionError:  # nested deeper than repr goes
        text = f"<a deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
