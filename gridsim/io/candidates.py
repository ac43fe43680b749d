"""Candidate-project tables (YAML): the reinforcements an expansion plan may choose from.

A file of the network-file family (same safe YAML reader, same one-line errors naming
the file, the candidate and the field), for :func:`gridsim.expansion_path`::

    gridsim: 1
    name: caspian_eu candidates
    network: caspian_eu.yaml          # the model whose element ids the edits use
    unit_costs:                       # the rules behind "estimated" costs (free text)
      hvdc_converter_meur_per_mw: {value: 0.15, source: "estimated: ..."}
    candidates:
      - id: BLACKSEA_2
        name: Black Sea cable 2 (+1,300 MW)
        switch_in: [hvdc:DC_BLACKSEA_2]          # element:id put in service
        set: {"line:L_RS_05:circuits": 2}        # ELEMENT:ID:FIELD -> value
        cost_meur: 2300
        cost_source: D21                         # a source id, or "estimated: <rule>"
        earliest_year: 2035
        depends_on: [BLACKSEA_1]                 # needs these projects
        excludes: [NIS_TRUPALE]                  # never together with these
        note: needs cable 1's Anaklia station

``switch_in`` puts elements in service; an HVDC link switched in starts at 0 MW (the
transfer sets it). ``set`` uses the keys of :mod:`gridsim.analysis.sweep.params`:
``line:ID:rate_mva``, ``hvdc:ID:max_p_mw``, ``line:ID:circuits`` (circuits and rating
together), any numeric or true/false field, and text fields such as the bus of a unit
(``gen:G1:bus: B7``, to move a plant to another site). ``excludes`` works both ways. Ids in the
edits are checked against a network when the table is used
(:meth:`Candidate.apply`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from gridsim.exceptions import GridsimError, InvalidNetworkError
from gridsim.io.network_file import FORMAT_VERSION, _is_number, _listed, _read_yaml
from gridsim.model.network import Network, shown

__all__ = ["Candidate", "CandidateTable", "candidate_table", "read_candidates"]

HEADER_KEYS = {"gridsim", "name", "description", "network", "unit_costs", "candidates"}
CANDIDATE_KEYS = {
    "id",
    "name",
    "switch_in",
    "set",
    "cost_meur",
    "cost_source",
    "earliest_year",
    "depends_on",
    "excludes",
    "note",
}
ESTIMATED = "estimated"
# edits that never lower a TTC with optimal controls (issue 17): thermal and converter
# ratings, HVDC links switched in (at 0 MW), unit limits; any other edit (an AC line or
# circuit switched in, impedances) may redistribute flows and lower it
_MONOTONE = {e: {"rate_mva", "max_p_mw"} for e in ("hvdc", "line", "trafo", "gen", "sgen")}
_BUS_FIELDS = {"bus", "from_bus", "to_bus", "hv_bus", "lv_bus"}


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One reinforcement project.

    Attributes
    ----------
    id, name : str
    edits : tuple of (key, value)
        Sweep parameter keys (``ELEMENT:ID:FIELD``) and their values, applied in order.
    cost_meur : float
        Capital cost, million EUR.
    cost_source : str
        A source id, or ``"estimated: <rule>"``.
    earliest_year : int or None
        First year it can be in service.
    depends_on, excludes : tuple of str
        Projects it needs; projects it cannot be built with.
    note : str
    """

    id: str
    name: str
    edits: tuple[tuple[str, object], ...]
    cost_meur: float
    cost_source: str
    earliest_year: int | None = None
    depends_on: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    note: str = ""

    @property
    def estimated(self) -> bool:
        """True when the cost is an estimate, not a sourced figure."""
        return self.cost_source.strip().lower().startswith(ESTIMATED)

    @property
    def monotone(self) -> bool:
        """True when every edit only adds controllable capacity or raises a rating
        (HVDC links, converter, thermal and unit ratings): such a project never lowers
        the N-1 TTC with optimal controls. An AC line or circuit switched in may."""
        for key, value in self.edits:
            element, _, field = _split(key)
            if field in _MONOTONE.get(element, ()):
                continue  # a rating (taken to be raised)
            if element in ("hvdc", "bus") and field == "in_service" and value is True:
                continue  # a link switched in (at 0 MW), a bus (alone it carries nothing)
            if element == "hvdc" and field == "p_mw" and value == 0:
                continue
            return False
        return True

    def apply(self, network: Network, source: str | None = None) -> Network:
        """A copy of ``network`` with this project built.

        Raises
        ------
        InvalidNetworkError
            Naming ``source`` (the candidate file) and the project, for an edit the
            network cannot take (unknown element, id or field, bad value).
        """
        return apply_candidates(network, [self], source)


def _split(key: str) -> tuple[str, str, str]:
    element, _, rest = key.partition(":")
    rid, _, field = rest.rpartition(":")
    return element, rid, field


def apply_candidates(
    network: Network, candidates: Iterable[Candidate], source: str | None = None
) -> Network:
    """A copy of ``network`` with ``candidates`` built, in the order given (a later
    project's value of a field wins).

    Raises
    ------
    InvalidNetworkError
        Naming ``source`` and the project whose edit the network cannot take.
    """
    from gridsim.analysis.sweep.params import apply_parameters

    net = network.copy()
    for cand in candidates:
        where = f"candidate {shown(cand.id)}"
        numbers = {k: v for k, v in cand.edits if not isinstance(v, str)}
        try:
            net = apply_parameters(net, numbers) if numbers else net
        except GridsimError as exc:
            raise InvalidNetworkError(f"{where}: {exc}", source) from None
        for key, value in cand.edits:
            if isinstance(value, str):
                _set_name(net, key, value, where, source)
    return net


def _set_name(net: Network, key: str, value: str, where: str, source) -> None:
    """``ELEMENT:ID:FIELD = value`` for a text field (e.g. the bus a unit is moved to)."""
    element, rid, field = _split(key)
    table = net.tables.get(element)
    if table is None:
        raise InvalidNetworkError(f"{where}: {key}: no {element} table", source)
    ident = next((i for i in table.index if str(i) == rid), rid)
    if field in _BUS_FIELDS and value not in net.bus.index:
        raise InvalidNetworkError(f"{where}: {key} = {shown(value)}: no such bus", source)
    try:
        net.set(element, ident, field, value)
    except InvalidNetworkError as exc:
        raise InvalidNetworkError(f"{where}: {key}: {exc.detail}", source) from None


@dataclasses.dataclass(frozen=True)
class CandidateTable:
    """The projects of a candidate file, in file order.

    Attributes
    ----------
    candidates : tuple of Candidate
    name, network : str
        The table's name and the network file its ids refer to ("" if not given).
    unit_costs : dict
        The unit-cost rules behind estimated costs, as written.
    source : str or None
        The file read.
    """

    candidates: tuple[Candidate, ...]
    name: str = ""
    network: str = ""
    unit_costs: dict = dataclasses.field(default_factory=dict)
    source: str | None = None

    def __iter__(self):
        return iter(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, cid: str) -> Candidate:
        for cand in self.candidates:
            if cand.id == cid:
                return cand
        raise KeyError(cid)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.candidates]


def read_candidates(path: str | os.PathLike) -> CandidateTable:
    """Read a candidate-project file (see the module docstring).

    Raises
    ------
    InvalidNetworkError
        One line naming the file, the candidate and the problem.
    """
    src = str(path)
    data = _read_yaml(Path(path))
    unknown = set(data) - HEADER_KEYS
    if unknown:
        raise InvalidNetworkError(
            f"unknown top-level key(s) {_listed(unknown)}; known: {', '.join(sorted(HEADER_KEYS))}",
            src,
        )
    version = data.get("gridsim", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InvalidNetworkError(
            f"format version {shown(version)} is not supported (expected 1)", src
        )
    unit_costs = data.get("unit_costs") or {}
    if not isinstance(unit_costs, dict):
        raise InvalidNetworkError("unit_costs must map a name to its rule", src)
    records = data.get("candidates")
    if not isinstance(records, list) or not records:
        raise InvalidNetworkError("candidates must be a non-empty list of projects", src)
    table = candidate_table(records, src)
    return dataclasses.replace(
        table,
        name=str(data.get("name", Path(path).stem)),
        network=str(data.get("network", "")),
        unit_costs=dict(unit_costs),
    )


def candidate_table(records: Iterable, source: str | None = None) -> CandidateTable:
    """A :class:`CandidateTable` from records (mappings with the keys of a candidate
    file's entries, or :class:`Candidate` objects), checked as a file is.

    Raises
    ------
    InvalidNetworkError
        Naming ``source``, the candidate and the problem: unknown keys, missing cost or
        cost source, unknown or circular ``depends_on``, unknown ``excludes``, a project
        that depends on one it excludes.
    """
    out = []
    for n, rec in enumerate(records, start=1):
        out.append(rec if isinstance(rec, Candidate) else _candidate(n, rec, source))
    ids = [c.id for c in out]
    twice = {i for i in ids if ids.count(i) > 1}
    if twice:
        raise InvalidNetworkError(f"candidate id(s) {_listed(twice)} used more than once", source)
    known = set(ids)
    for c in out:
        for key, refs in (("depends_on", c.depends_on), ("excludes", c.excludes)):
            bad = set(refs) - known
            if bad:
                raise InvalidNetworkError(
                    f"candidate {shown(c.id)}: {key} names unknown project(s) {_listed(bad)}",
                    source,
                )
            if c.id in refs:
                raise InvalidNetworkError(f"candidate {shown(c.id)}: {key} names itself", source)
    by_id = {c.id: c for c in out}
    for c in out:
        needed = _needs(c.id, by_id, source)
        clash = needed & (set(c.excludes) | {e.id for e in out if c.id in e.excludes})
        if clash:
            raise InvalidNetworkError(
                f"candidate {shown(c.id)}: needs and excludes {_listed(clash)}", source
            )
    return CandidateTable(tuple(out), source=source)


def _needs(cid: str, by_id: Mapping[str, Candidate], source, path=()) -> set[str]:
    """Every project ``cid`` needs, directly or through others."""
    if cid in path:
        cycle = " -> ".join((*path[path.index(cid) :], cid))
        raise InvalidNetworkError(f"depends_on goes round in a circle: {cycle}", source)
    out: set[str] = set()
    for dep in by_id[cid].depends_on:
        out |= {dep} | _needs(dep, by_id, source, (*path, cid))
    return out


def _candidate(n: int, rec, src) -> Candidate:
    if not isinstance(rec, dict):
        raise InvalidNetworkError(f"candidates entry {n} is not a mapping: {shown(rec)}", src)
    cid = rec.get("id")
    if isinstance(cid, bool) or not isinstance(cid, str | int) or str(cid) == "":
        raise InvalidNetworkError(f"candidates entry {n}: id {shown(cid)} is not a name", src)
    cid = str(cid)
    where = f"candidate {shown(cid)}"
    bad = set(rec) - CANDIDATE_KEYS
    if bad:
        raise InvalidNetworkError(
            f"{where}: unknown field(s) {_listed(bad)}; known: {', '.join(sorted(CANDIDATE_KEYS))}",
            src,
        )
    edits: list[tuple[str, object]] = []
    for ref in _names(rec.get("switch_in"), where, "switch_in", src):
        element, sep, rid = ref.partition(":")
        if not sep or not rid:
            raise InvalidNetworkError(
                f"{where}: switch_in entry {shown(ref)} is not element:id", src
            )
        edits.append((f"{ref}:in_service", True))
        if element == "hvdc":
            edits.append((f"{ref}:p_mw", 0.0))
    setting = rec.get("set") or {}
    if not isinstance(setting, dict):
        raise InvalidNetworkError(f"{where}: set must map ELEMENT:ID:FIELD to a value", src)
    for key, value in setting.items():
        if not isinstance(key, str) or key.count(":") < 2:
            raise InvalidNetworkError(f"{where}: set key {shown(key)} is not ELEMENT:ID:FIELD", src)
        if not (_is_number(value) or isinstance(value, bool | str)):
            raise InvalidNetworkError(
                f"{where}: set {key} = {shown(value)} is not a number, true/false or a name",
                src,
            )
        edits.append((key, value))
    if not edits:
        raise InvalidNetworkError(f"{where}: no edits (switch_in or set)", src)
    cost = rec.get("cost_meur")
    if not (_is_number(cost) and 0 <= cost < float("inf")):
        raise InvalidNetworkError(
            f"{where}: cost_meur = {shown(cost)} must be a non-negative number", src
        )
    cost_source = rec.get("cost_source")
    if not isinstance(cost_source, str | int) or not str(cost_source).strip():
        raise InvalidNetworkError(
            f'{where}: cost_source missing (a source id, or "estimated: <rule>")', src
        )
    year = rec.get("earliest_year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise InvalidNetworkError(f"{where}: earliest_year {shown(year)} is not a whole year", src)
    return Candidate(
        id=cid,
        name=str(rec.get("name", cid)),
        edits=tuple(edits),
        cost_meur=float(cost),
        cost_source=str(cost_source),
        earliest_year=year,
        depends_on=tuple(_names(rec.get("depends_on"), where, "depends_on", src)),
        excludes=tuple(_names(rec.get("excludes"), where, "excludes", src)),
        note=str(rec.get("note", "")),
    )


def _names(value, where: str, key: str, src) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        raise InvalidNetworkError(f"{where}: {key} must be a list of names", src)
    return [str(v) for v in value]
