"""Readers and writers: MATPOWER .m files, pandapower nets, gridsim YAML network files."""

from __future__ import annotations

import os
from pathlib import Path

from gridsim.exceptions import InvalidNetworkError

__all__ = ["from_pandapower", "load_network", "read_matpower", "read_network", "to_pandapower"]

# the readers and converters are imported on first use (PEP 562)
_EXPORTS = {
    "read_matpower": "gridsim.io.matpower",
    "load_network": "gridsim.io.network_file",
    "from_pandapower": "gridsim.io.pandapower",
    "to_pandapower": "gridsim.io.pandapower",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gridsim.io' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


def read_network(path: str | os.PathLike, scenario: str | None = None):
    """Read any supported network file, chosen by extension.

    ``.yaml``/``.yml``: gridsim network file; ``.m``: MATPOWER case; ``.json``:
    pandapower net (``pandapower.to_json``).

    Raises
    ------
    InvalidNetworkError
        For an unknown extension, a missing or unreadable file, or bad content.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        from gridsim.io.network_file import load_network

        return load_network(p, scenario=scenario)
    if scenario is not None:
        raise InvalidNetworkError("--scenario applies to gridsim .yaml files only", str(p))
    if suffix == ".m":
        from gridsim.io.matpower import read_matpower

        return read_matpower(p)
    if suffix == ".json":
        return _read_pandapower_json(p)
    raise InvalidNetworkError(
        f"unknown file type {suffix or '(none)'!r}: expected .yaml, .m or .json", str(p)
    )


def _read_pandapower_json(path: Path):
    from gridsim.io.pandapower_json import read_pandapower_json

    return read_pandapower_json(path)
