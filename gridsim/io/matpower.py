"""MATPOWER version-2 case files: reader, writer and a text-level parser.

:func:`read_matpower` turns a ``.m`` case file (``function mpc = caseX`` with literal
``mpc.baseMVA``, ``mpc.bus``, ``mpc.gen`` and ``mpc.branch`` assignments) into a
:class:`~gridsim.model.network.Network` that solves to MATPOWER's ``runpf`` answer.
:func:`write_matpower` goes the other way, from a network or a PYPOWER-style ``ppc``
dict. :func:`parse_matpower` is the text layer under both: it reads the literal
assignments and returns the matrices as arrays, skipping fields it does not use
(``mpc.gencost`` and other matrices are returned, ``mpc.bus_name`` and other cell arrays
as lists of strings). It understands ``%`` comments, ``%{ ... %}`` blocks, ``...``
continuations, rows ended by ``;`` and/or newlines and values separated by blanks or
commas.

MATLAB code (26 of MATPOWER 8.1's own cases compute part of their data) is interpreted,
never run, as MATPOWER would run it, for the closed subset those files use: constant
expressions in matrices and scalars (``135/sqrt(3)``); from the first statement that is
not a literal assignment to the end of the file, ``[PQ, PV, ...] = idx_bus`` (likewise
``idx_gen``, ``idx_brch``: MATPOWER's 1-based column indices), assignments to local
variables, to ``mpc.<field>`` and to ``mpc.<field>(rows, cols)`` (``:``, numbers, names,
``[a b]`` rows or ``find`` results as subscripts), element-wise arithmetic
(``+ - * / ^ .* ./ .^``, ``*``, ``/`` and ``^`` with a scalar), ``&``, ``|``,
``sqrt``, ``sin``, ``cos``, ``acos``, ``isinf``, ``find``, ``if``/``end`` blocks,
comments and ``...`` continuations. Any other statement is an error that names its line.

Mapping (MATPOWER's semantics, as ``runpf`` applies them)
---------------------------------------------------------
Element ids:

* buses keep their MATPOWER bus numbers (``int``);
* ``gen``/``sgen`` ids and ``line``/``trafo`` ids are the 1-based **row numbers** of the
  row in ``mpc.gen`` and ``mpc.branch`` (so ``gen`` 3 is the third gen row, and the
  ``gen`` and ``sgen`` tables together hold each row number once; likewise ``line`` and
  ``trafo``);
* ``load`` and ``shunt`` ids are bus numbers (one per bus with non-zero ``PD``/``QD``,
  respectively ``GS``/``BS``; the shunt draws ``p_mw = GS``, ``q_mvar = -BS``).

Buses: ``vn_kv = BASE_KV`` (``BASE_KV <= 0``, or one whose impedance base
``BASE_KV^2 / baseMVA`` under- or overflows, becomes 1 kV, with a warning: it only sets
the base of the ohmic values, which are converted back to the same per-unit values);
``min_vm_pu``/``max_vm_pu`` from ``VMIN``/``VMAX``; ``area``/``zone`` are the area and
zone numbers as strings; type 4 (isolated) buses are out of service, and so are the
gens at them and the branches touching them. A bus's type is otherwise not stored:
gridsim derives it from the generators, exactly as MATPOWER's ``bustypes`` does
(a gen row at an isolated bus is kept as an out-of-service ``gen``). ``VM``/``VA`` are
kept as the bus columns ``vm_pu``/``va_degree``: a stored solution, the start of
``run_ac``'s default ``init="auto"`` (and of ``"case"``) as of MATPOWER's ``runpf``, not
a setpoint; :func:`write_matpower` writes them back as ``VM``/``VA`` where finite.

Generators: a gen row at a PV (2) or REF (3) bus becomes a voltage-controlling ``gen``
(``p_mw = PG``, ``vm_pu = VG``, reactive and active limits); a gen row at a PQ (1) bus
becomes an ``sgen`` with fixed ``p_mw = PG``, ``q_mvar = QG``, since MATPOWER treats it
as a fixed injection. ``GEN_STATUS <= 0`` means out of service. At each REF bus the
first in-service gen becomes the slack (``slack=True``, ``va_degree`` = the bus's
``VA``); if no REF bus has an in-service gen, the first PV bus (in file order) with an
in-service gen takes the role, as in ``bustypes`` (with a warning); with neither, the case
is refused, as ``runpf`` has no reference bus either. Several in-service
gens at one bus: MATPOWER uses the *last* one's ``VG``. gridsim does the same at PV
buses; at a REF bus it would prefer the slack's setpoint, so the slack gen's ``vm_pu``
is set to the last in-service gen's ``VG`` there (the other gens keep their own).
``QMAX``/``QMIN`` may be ``±Inf`` (no limit); infinite ``PMAX``/``PMIN`` become NaN.

Branches: ``TAP == 0`` and ``SHIFT == 0`` gives a ``line`` of 1 km (``parallel = 1``)
whose ohmic values reproduce ``BR_R``, ``BR_X``, ``BR_B`` on the from bus's base
(``z_base = BASE_KV(from)^2 / baseMVA``, the base that gridsim's compiler uses). Any
other branch is a ``trafo`` with the ideal tap on the from side (``hv_bus = F_BUS``,
``lv_bus = T_BUS``, whichever has the higher voltage) and the series impedance on the
to side, as MATPOWER models it: ``sn_mva = baseMVA``, ``vn_lv_kv = BASE_KV(to)``,
``vn_hv_kv = ratio * BASE_KV(from)`` with ``ratio = TAP`` (1 when ``TAP == 0``),
``shift_degree = SHIFT``, ``vk_percent = sign(BR_X) * hypot(BR_R, BR_X) * 100``,
``vkr_percent = BR_R * 100``, ``pfe_kw = 0``, ``i0_percent = -BR_B * 100`` (a capacitive
magnetising branch: with ``trafo_model = "pi"`` it puts ``BR_B / 2`` at each end, the
from half divided by ``|tap|^2`` like MATPOWER's ``Yff``) and no tap changer. A branch
with ``TAP == 0``, ``SHIFT == 0`` but ``BR_R < 0`` (allowed by MATPOWER, refused by
gridsim's line checks) becomes such a ``trafo`` of ratio 1 as well. ``RATE_A = 0``
(unrated) becomes NaN. ``BR_STATUS`` must be 0 or 1, and a branch whose ohmic or
percent values overflow is refused.

The network is built with ``sn_mva = baseMVA`` and ``trafo_model = "pi"``. Its compiled
bus admittance matrix equals MATPOWER's ``makeYbus`` (in-service buses in file order).

Known differences from MATPOWER: with several in-service gens at one PQ bus, gridsim
reports each ``sgen``'s own ``QG`` where MATPOWER's ``pfsoln`` re-shares the bus total
among them (totals agree); gens at PQ buses are not subject to Q-limit enforcement.
"""

from __future__ import annotations

import codecs
import math
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridsim.exceptions import InvalidNetworkError, UnsupportedElementError

__all__ = ["parse_matpower", "read_matpower", "write_matpower"]

BUS_COLUMNS = tuple("BUS_I BUS_TYPE PD QD GS BS BUS_AREA VM VA BASE_KV ZONE VMAX VMIN".split())
GEN_COLUMNS = tuple("GEN_BUS PG QG QMAX QMIN VG MBASE GEN_STATUS PMAX PMIN".split())
BRANCH_COLUMNS = tuple(
    "F_BUS T_BUS BR_R BR_X BR_B RATE_A RATE_B RATE_C TAP SHIFT BR_STATUS".split()
)
_COLUMNS = {"bus": BUS_COLUMNS, "gen": GEN_COLUMNS, "branch": BRANCH_COLUMNS}

# column indices
(BUS_I, BUS_TYPE, PD, QD, GS, BS, BUS_AREA, VM, VA, BASE_KV, ZONE, VMAX, VMIN) = range(13)
(GEN_BUS, PG, QG, QMAX, QMIN, VG, MBASE, GEN_STATUS, PMAX, PMIN) = range(10)
(F_BUS, T_BUS, BR_R, BR_X, BR_B, RATE_A, RATE_B, RATE_C, TAP, SHIFT, BR_STATUS) = range(11)
PQ_BUS, PV_BUS, REF_BUS, ISOLATED = 1, 2, 3, 4

# columns in which +-Inf means "no limit"
_INF_OK = {"bus": {VMAX, VMIN}, "gen": {QMAX, QMIN, PMAX, PMIN}, "branch": set()}

_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf|NaN|nan)\Z")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_KEYWORDS = ("if", "for", "parfor", "while", "switch", "try")  # statements that start code
_ROW_BREAK = None  # marker between rows in a token stream
_COMMENT = re.compile(r"%[^\n]*")
_PLAIN_NUMBERS = re.compile(r"[0-9eE+\-. \t\n\r\f\v;,]*\Z")  # once Inf/NaN are taken out
_QUOTED = r"'[^'\n]*(?:''[^'\n]*)*'"  # ('' is a quote inside)
_STRING_COLUMN = re.compile(rf"[ \t]*\n((?:[ \t]*{_QUOTED}[ \t]*;?[ \t]*\n)+)[ \t]*\}}")


# ======================================================================================
# text layer
# ======================================================================================
class _Parser:
    """Reads the literal assignments of a MATPOWER case file, statement by statement."""

    def __init__(self, text: str, source: str | None):
        self.text = text
        self.src = source
        self.pos = 0
        self.line = 1
        self.out_var = "mpc"
        self.code: tuple[str, int] | None = None  # the MATLAB code from the first statement
        self.locals: dict[str, tuple[str, int]] = {}  # scalar literals of other variables

    def fail(self, message: str) -> None:
        raise InvalidNetworkError(message, self.src)

    # -- characters -------------------------------------------------------------------
    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _advance(self, n: int = 1) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + n)
        self.pos += n

    def _eol(self) -> int:
        eol = self.text.find("\n", self.pos)
        return len(self.text) if eol < 0 else eol

    def _skip_comment(self) -> None:
        """Skip a ``%`` comment to the end of its line, or a whole ``%{ ... %}`` block."""
        eol = self._eol()
        line_start = self.text.rfind("\n", 0, self.pos) + 1
        own_line = not self.text[line_start : self.pos].strip()
        if own_line and self.text[self.pos : eol].strip() == "%{":
            start = self.line
            self._advance(eol - self.pos)
            while self.pos < len(self.text):
                self._advance(1)  # the newline
                eol = self._eol()
                body = self.text[self.pos : eol].strip()
                self._advance(eol - self.pos)
                if body == "%}":
                    return
            self.fail(f"line {start}: block comment '%{{' is never closed")
        self.pos = eol

    def _skip_blank(self, newlines: bool) -> None:
        """Skip blanks, comments and continuations (and newlines, ``;``, ``,`` if asked)."""
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t\r\f\v" or (newlines and c in "\n;,"):
                self._advance(1)
            elif c == "%":
                self._skip_comment()
            elif text.startswith("...", self.pos):
                self.pos = self._eol()
                if self.pos < len(text):
                    self._advance(1)
            else:
                return

    def _identifier(self) -> str | None:
        m = _IDENT.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return m.group()

    def _string(self) -> str:
        """A quoted string at the cursor (``''`` inside single quotes is one quote)."""
        quote = self.text[self.pos]
        start = self.line
        self.pos += 1
        out = []
        text = self.text
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                self.fail(f"line {start}: string is never closed")
            c = text[self.pos]
            if c == quote:
                if text.startswith(quote * 2, self.pos):
                    out.append(quote)
                    self.pos += 2
                    continue
                self.pos += 1
                return "".join(out)
            out.append(c)
            self.pos += 1

    # -- statements --------------------------------------------------------------------
    def parse(self) -> tuple[str | None, dict[str, tuple[Any, int]]]:
        """All ``<out>.<field> = <literal>`` assignments: ``(function name, fields)``."""
        if not self.text.strip():
            self.fail("file is empty")
        fields: dict[str, tuple[Any, int]] = {}
        out_var, name = "mpc", None
        while True:
            self._skip_blank(newlines=True)
            if self.pos >= len(self.text):
                break
            line = self.line
            start = self.pos
            word = self._identifier()
            if (word is None and self._peek() == "[") or word in _KEYWORDS:
                self.code = (self.text[start:], line)  # MATLAB code, to the end of the file
                break
            if word is None:
                c = self._peek()
                self.fail(f"line {line}: unexpected character {c!r}")
            if word == "function":
                out_var, name = self._function_header(line)
                continue
            if word in ("end", "endfunction", "return"):
                self._end_statement(line, word)
                continue
            path = [word]
            while self._peek() == ".":
                self.pos += 1
                part = self._identifier()
                if part is None:
                    lhs = _clip(".".join(path))
                    self.fail(f"line {line}: expected a field name after '{lhs}.'")
                path.append(part)
            lhs = _clip(".".join(path))
            self._skip_blank(newlines=False)
            if self._peek() == "(":  # an indexed assignment: code to the end of the file
                self.code = (self.text[start:], line)
                break
            if self._peek() == "{":
                self.fail(
                    f"line {line}: indexed assignment '{lhs}{{...' is not supported "
                    "(only literal assignments such as 'mpc.bus = [...];' are read)"
                )
            if self._peek() != "=" or self.text.startswith("==", self.pos):
                self.fail(f"line {line}: expected '=' after '{lhs}'")
            self.pos += 1
            self._skip_blank(newlines=False)
            value = self._value(lhs, line)
            self._end_statement(line, lhs)
            if len(path) == 2 and path[0] == out_var:
                fields[path[1]] = (value, line)
            elif len(path) == 1 and value[0] == "scalar":
                self.locals[word] = (value[1], line)
        self.out_var = out_var
        return name, fields

    def _function_header(self, line: int) -> tuple[str, str]:
        eol = self._eol()
        header = self.text[self.pos : eol]
        cut = header.find("%")
        header = (header[:cut] if cut >= 0 else header).strip().rstrip(";").strip()
        self.pos = eol
        if "=" in header:
            outputs, _, fname = (s.strip() for s in header.partition("="))
        else:
            outputs, fname = "", header
        if outputs.startswith("["):
            self.fail(
                f"line {line}: MATPOWER version 1 case file ('function [baseMVA, bus, ...] = "
                "...') is not supported; only version 2 ('function mpc = ...')"
            )
        if not _IDENT.fullmatch(fname) or (outputs and not _IDENT.fullmatch(outputs)):
            self.fail(f"line {line}: cannot read the function header {_clip(header)!r}")
        return outputs or "mpc", fname

    def _end_statement(self, line: int, what: str) -> None:
        self._skip_blank(newlines=False)
        c = self._peek()
        if c in ("", "\n", ";", ","):
            return
        eol = self._eol()
        rest = _clip(self.text[self.pos : eol].strip())
        self.fail(f"line {line}: unexpected {rest!r} after {_clip(what)}")

    def _value(self, lhs: str, line: int) -> Any:
        c = self._peek()
        if c == "[":
            self.pos += 1
            block = self._plain_matrix()
            if block is not None:
                return ("matrix", block)
            return ("matrix", self._bracketed("]", lhs, line))
        if c == "{":
            self.pos += 1
            m = _STRING_COLUMN.match(self.text, self.pos)
            if m:  # one quoted string per line, such as mpc.bus_name
                self._advance(m.end() - self.pos)
                strings = [t[1:-1] for t in re.findall(_QUOTED, m.group(1))]
                if "''" in m.group(1):
                    strings = [t.replace("''", "'") for t in strings]
                return ("strings", strings)
            return ("cell", self._bracketed("}", lhs, line))
        if c in ("'", '"'):
            return ("string", self._string())
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] not in " \t\r\n;,%":
            self.pos += 1
        token = text[start : self.pos]
        if not token:
            self.fail(f"line {line}: expected a value after '{lhs} ='")
        return ("scalar", token)

    def _plain_matrix(self) -> np.ndarray | None:
        """A ``[...]`` body of plain numbers and comments, read with NumPy in one go.

        None (cursor unmoved) for anything else, such as strings, expressions,
        continuations, block comments or ragged rows: :meth:`_bracketed` reads those.
        """
        text = self.text
        end = text.find("]", self.pos)
        if end < 0:
            return None
        body = text[self.pos : end]
        if "%" in body[body.rfind("\n") + 1 :] or "%{" in body:  # "]" in a comment
            return None
        body = _COMMENT.sub("", body)
        if not body.strip():
            return None
        plain = body
        for word in ("Inf", "inf", "NaN", "nan"):
            plain = plain.replace(word, "")
        if "..." in body or not _PLAIN_NUMBERS.match(plain):
            return None
        body = body.replace(";", "\n").replace(",", " ")
        chars = np.frombuffer(body.encode("ascii"), dtype=np.uint8)
        blank = chars <= ord(" ")  # the only control characters left are blanks
        starts = np.flatnonzero(~blank & np.concatenate(([True], blank[:-1])))
        ends = np.append(np.flatnonzero(chars == ord("\n")), chars.size)  # of the lines
        counts = np.diff(np.searchsorted(starts, ends), prepend=0)  # tokens per line
        counts = counts[counts > 0]
        if counts.size == 0 or (counts != counts[0]).any():
            return None
        try:
            values = np.array(body.split(), dtype=float)
        except ValueError:  # such as "1-2": an expression
            return None
        self._advance(end + 1 - self.pos)
        return values.reshape(counts.size, counts[0])

    def _bracketed(self, closer: str, lhs: str, line: int) -> list[list[str]]:
        """Rows of raw tokens up to ``closer`` (empty rows dropped)."""
        rows: list[list[str]] = []
        row: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                self.fail(f"line {line}: '{lhs}' has no closing '{closer}' (truncated file?)")
            eol = self._eol()
            items, stop, end = self._scan_line(text[self.pos : eol], closer)
            for item in items:
                if item is _ROW_BREAK:
                    if row:
                        rows.append(row)
                    row = []
                else:
                    row.append(item)
            if stop == "close":
                self.pos += end
                if row:
                    rows.append(row)
                return rows
            if stop == "eol" and row:  # a newline ends a row; "..." continues it
                rows.append(row)
                row = []
            self.pos = eol
            if self.pos < len(text):
                self._advance(1)

    def _scan_line(self, seg: str, closer: str) -> tuple[list[str | None], str, int]:
        """Tokens of one physical line inside brackets.

        Returns the tokens (``_ROW_BREAK`` where a ``;`` splits rows), how the line ends
        (``"eol"``, ``"cont"`` for ``...`` or ``"close"``) and where the scan stopped.
        """
        if "'" not in seg and '"' not in seg:  # fast path: plain numbers
            stops = [
                (k, kind)
                for k, kind in (
                    (seg.find("%"), "eol"),
                    (seg.find("..."), "cont"),
                    (seg.find(closer), "close"),
                )
                if k >= 0
            ]
            k, kind = min(stops) if stops else (len(seg), "eol")
            items: list[str | None] = []
            for n, part in enumerate(seg[:k].split(";")):
                if n:
                    items.append(_ROW_BREAK)
                items.extend(part.replace(",", " ").split())
            return items, kind, k + (1 if kind == "close" else 0)
        items = []
        token: list[str] = []
        k = 0

        def flush() -> None:
            if token:
                items.append("".join(token))
                token.clear()

        while k < len(seg):
            c = seg[k]
            if c in ("'", '"') and not token:
                end = k + 1
                while True:
                    end = seg.find(c, end)
                    if end < 0:
                        self.fail(f"line {self.line}: string is never closed")
                    if seg.startswith(c * 2, end):
                        end += 2
                        continue
                    break
                items.append(seg[k : end + 1])
                k = end + 1
                continue
            if c == closer:
                flush()
                return items, "close", k + 1
            if c == "%":
                flush()
                return items, "eol", k
            if seg.startswith("...", k):
                flush()
                return items, "cont", k
            if c in " \t\r,":
                flush()
            elif c == ";":
                flush()
                items.append(_ROW_BREAK)
            else:
                token.append(c)
            k += 1
        flush()
        return items, "eol", k


def _clip(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters (with "...") for an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: Any) -> str:
    """A field's value as an error message quotes it: a matrix or cell array by its size."""
    if isinstance(value, np.ndarray):
        return "a {}x{} matrix".format(*np.atleast_2d(value).shape) if value.size else "[]"
    if isinstance(value, list):
        return f"a cell array of {len(value)} rows"
    return repr(_clip(value) if isinstance(value, str) else value)


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in ("'", '"'):
        q = token[0]
        return token[1:-1].replace(q * 2, q)
    return token


def _number(token: str) -> float | None:
    return float(token) if _NUMBER.match(token) else None


def _matrix(field: str, rows: list[list[str]] | np.ndarray, src: str | None) -> np.ndarray:
    """A numeric matrix from raw token rows, with the checks that name the bad row."""
    columns = _COLUMNS.get(field, ())
    required = len(columns)
    if isinstance(rows, np.ndarray):  # read by _Parser._plain_matrix: not ragged
        if rows.shape[1] < required:
            raise InvalidNetworkError(
                f"{field} row 1 (mpc.{field}): expected {required} columns, found "
                f"{rows.shape[1]} (truncated matrix?)",
                src,
            )
        return rows
    if not rows:
        return np.zeros((0, required))
    width = len(rows[0])
    for k, row in enumerate(rows, start=1):
        if len(row) < required:
            raise InvalidNetworkError(
                f"{field} row {k} (mpc.{field}): expected {required} columns, found {len(row)} "
                "(truncated matrix?)",
                src,
            )
        if len(row) != width:
            raise InvalidNetworkError(
                f"{field} row {k} (mpc.{field}): {len(row)} values, but row 1 has {width}", src
            )
    out = np.empty((len(rows), width))
    for k, row in enumerate(rows, start=1):
        for j, token in enumerate(row):
            value = _number(token)
            if value is None:
                value = _constant(token)  # such as 135/sqrt(3)
            if value is None:
                col = columns[j] if j < required else f"column {j + 1}"
                raise InvalidNetworkError(
                    f"{field} row {k}: {col} = {_clip(_unquote(token))!r} is not a number", src
                )
            out[k - 1, j] = value
    return out


# ======================================================================================
# MATLAB code after the data (unit conversions and the like)
# ======================================================================================
#: The outputs of MATPOWER's idx_bus, idx_gen and idx_brch, in order (their values are
#: 1-based column indices; idx_bus starts with the bus types PQ, PV, REF, NONE = 1..4).
_IDX = {
    "idx_bus": [1, 2, 3, 4, *range(1, 18)],
    "idx_gen": list(range(1, 26)),
    "idx_brch": list(range(1, 22)),
}
_FUNCTIONS = {
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "acos": np.arccos,
    "isinf": np.isinf,
    "find": lambda a: (np.flatnonzero(a.T) + 1.0).reshape(-1, 1),
}
_BUILTINS = {"pi": math.pi, "Inf": math.inf, "inf": math.inf, "NaN": math.nan, "nan": math.nan}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>\.\*|\./|\.\^|[-+*/^&|()\[\],:=.]))"
)


class _Unsupported(Exception):
    """Code outside the subset the reader interprets (the message says what)."""


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """``(kind, text, blank before)`` of a statement."""
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if not text[pos:].strip():
                break
            raise _Unsupported(f"unexpected {text[pos:].strip()[:1]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind) > pos))
        pos = m.end()
    return out


class _Expr:
    """One statement's tokens, evaluated on 2-D float arrays (MATLAB's element-wise
    semantics, 1-based indices) against the variables ``env`` and the case ``out``."""

    def __init__(self, text: str, env: Mapping[str, Any], out: Mapping[str, Any], out_var: str):
        self.toks = _tokens(text)
        self.k = 0
        self.env, self.out, self.out_var = env, out, out_var

    def peek(self, k: int = 0) -> tuple[str, str, bool]:
        j = self.k + k
        return self.toks[j] if j < len(self.toks) else ("end", "", False)

    def take(self, text: str | None = None) -> str:
        kind, tok, _ = self.peek()
        if kind == "end" or (text is not None and tok != text):
            raise _Unsupported(f"expected {text!r}" if text else "unexpected end")
        self.k += 1
        return tok

    def done(self) -> None:
        if self.k != len(self.toks):
            raise _Unsupported(f"unexpected {self.peek()[1]!r}")

    # -- expressions, by MATLAB precedence --------------------------------------------
    def expr(self, in_brackets: bool = False) -> np.ndarray:
        return self._binary(0, in_brackets)

    _LEVELS = (("|",), ("&",), ("+", "-"), ("*", "/", ".*", "./"))

    def _binary(self, level: int, br: bool) -> np.ndarray:
        if level == len(self._LEVELS):
            return self._unary(br)
        left = self._binary(level + 1, br)
        while True:
            kind, op, blank = self.peek()
            if kind != "op" or op not in self._LEVELS[level]:
                return left
            if br and blank and not self.peek(1)[2] and op in "+-":
                raise _Unsupported(f"'{op}' between matrix elements is ambiguous")
            self.k += 1
            left = _apply(op, left, self._binary(level + 1, br))

    def _unary(self, br: bool) -> np.ndarray:
        if self.peek()[1] in ("-", "+") and self.peek()[0] == "op":
            op = self.take()
            value = self._unary(br)
            return -value if op == "-" else value
        base = self._primary()
        while self.peek()[1] in ("^", ".^"):
            op = self.take()
            base = _apply(op, base, self._unary(br) if self.peek()[1] == "-" else self._primary())
        return base

    def _primary(self) -> np.ndarray:
        kind, tok, _ = self.peek()
        if kind == "num":
            self.k += 1
            return np.array([[float(tok)]])
        if tok == "(":
            self.k += 1
            value = self.expr()
            self.take(")")
            return value
        if tok == "[":
            self.k += 1
            items = []
            while self.peek()[1] != "]":
                items.append(self.expr(in_brackets=True))
                if self.peek()[1] == ",":
                    self.k += 1
            self.take("]")
            if not all(v.shape == (1, 1) for v in items):
                raise _Unsupported("only rows of scalars '[a b]' are supported in brackets")
            return np.array([[v[0, 0] for v in items]])
        if kind != "name":
            raise _Unsupported(f"unexpected {tok!r}" if tok else "unexpected end")
        self.k += 1
        if tok == self.out_var and self.peek()[1] == ".":
            self.k += 1
            field = self.take()
            value = self.out.get(field)
            if not isinstance(value, np.ndarray | float):
                raise _Unsupported(f"{self.out_var}.{field} is not a numeric field")
            value = np.atleast_2d(np.array(value, dtype=float))  # a copy, as MATLAB's
            if self.peek()[1] == "(":
                rows, cols = self.indices(value.shape)
                value = value[np.ix_(rows, cols)]
            return value
        if tok in _FUNCTIONS:
            self.take("(")
            arg = self.expr()
            self.take(")")
            with np.errstate(invalid="ignore"):
                value = _FUNCTIONS[tok](arg)
            if np.isnan(value).any() and not np.isnan(arg).any():  # MATLAB: complex
                raise _Unsupported(f"{tok} of a value outside its real domain")
            return np.asarray(value, dtype=float)
        if tok in self.env:
            return self.env[tok]
        if tok in _BUILTINS:
            return np.array([[_BUILTINS[tok]]])
        raise _Unsupported(f"unknown name {tok!r}")

    def indices(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cols)``, 0-based, of a ``(i, j)`` subscript at the cursor."""
        self.take("(")
        out = []
        for dim in range(2):
            if dim:
                self.take(",")
            if self.peek()[1] == ":" and self.peek(1)[1] in (",", ")"):
                self.k += 1
                out.append(np.arange(shape[dim]))
                continue
            v = self.expr().ravel()
            if v.dtype == bool:
                raise _Unsupported("logical subscripts are not supported (use find)")
            if not (np.all(v == np.round(v)) and np.all(v >= 1) and np.all(v <= shape[dim])):
                raise _Unsupported(f"subscript out of range (1 to {shape[dim]})")
            out.append(v.astype(np.int64) - 1)
        self.take(")")
        return out[0], out[1]


def _apply(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a op b`` as MATLAB computes it, for the element-wise cases."""
    scalar = a.size == 1 or b.size == 1
    if (op in ("*", "^") and not scalar) or (op == "/" and b.size != 1):
        raise _Unsupported(f"matrix operation '{op}' (only element-wise arithmetic)")
    if op in ("&", "|"):
        a, b = a != 0, b != 0
    try:
        with np.errstate(all="ignore"):
            return {
                "+": np.add, "-": np.subtract, "*": np.multiply, ".*": np.multiply,
                "/": np.divide, "./": np.divide, "^": np.power, ".^": np.power,
                "&": np.logical_and, "|": np.logical_or,
            }[op](a, b)  # fmt: skip
    except ValueError:
        raise _Unsupported(f"sizes {a.shape} and {b.shape} do not agree for '{op}'") from None


def _constant(token: str) -> float | None:
    """The value of a constant expression such as ``135/sqrt(3)`` (None if it is not one)."""
    try:
        e = _Expr(token, {}, {}, "")
        value = e.expr()
        e.done()
    except (_Unsupported, RecursionError):
        return None
    return float(value[0, 0]) if value.shape == (1, 1) else None


def _statements(text: str, first_line: int) -> list[tuple[int, str]]:
    """``(line, statement)`` of code: comments dropped, ``...`` continuations joined,
    split at ``;``, ``,`` and line ends outside brackets and parentheses."""
    out: list[tuple[int, str]] = []
    buf, depth, start = [], 0, first_line
    for n, raw in enumerate(text.split("\n"), start=first_line):
        if not buf:
            start = n
        line = raw.split("%", 1)[0]
        cont = "..." in line
        line = line.split("...", 1)[0]
        for c in line:
            if c in "([":
                depth += 1
            elif c in ")]":
                depth -= 1
            if depth == 0 and c in ";,":
                if "".join(buf).strip():
                    out.append((start, "".join(buf).strip()))
                buf, start = [], n
                continue
            buf.append(c)
        if cont:
            buf.append(" ")
            continue
        if depth <= 0 or not "".join(buf).strip():
            if "".join(buf).strip():
                out.append((start, "".join(buf).strip()))
            buf, depth = [], 0
        else:
            buf.append(";")  # a newline in brackets starts a new row (refused below)
    if "".join(buf).strip():
        out.append((start, "".join(buf).strip()))
    return out


def _run_code(parser: _Parser, out: dict[str, Any]) -> None:
    """Interpret the MATLAB code after a case's data, as MATPOWER would run it."""
    text, first_line = parser.code
    env: dict[str, np.ndarray] = {}
    blocks: list[bool] = []  # per open 'if': whether its body runs
    for line, stmt in _statements(text, first_line):
        try:
            _statement(stmt, env, out, parser, blocks)
        except (_Unsupported, RecursionError) as exc:
            if isinstance(exc, RecursionError):
                exc = _Unsupported("nested too deeply")
            parser.fail(
                f"line {line}: MATLAB code {_clip(stmt)!r} is not supported ({_clip(str(exc))})"
            )
    if blocks:
        parser.fail(f"line {first_line}: 'if' without 'end'")


def _statement(stmt, env, out, parser: _Parser, blocks: list[bool]) -> None:
    m = _IDENT.match(stmt)
    word = m.group() if m else ""
    if word in (*_KEYWORDS, "else", "elseif") and word != "if":
        raise _Unsupported("of the blocks, only 'if ... end' is read")
    if word == "if":
        if all(blocks):
            cond = _Expr(stmt[2:], _locals(env, parser), out, parser.out_var)
            value = cond.expr()
            cond.done()
            blocks.append(bool(value.size) and bool(np.all(value != 0)))
        else:
            blocks.append(False)
        return
    if stmt in ("end", "endif", "endfunction", "return"):
        if blocks and stmt in ("end", "endif"):
            blocks.pop()
        elif stmt == "endif":
            raise _Unsupported("'endif' without 'if'")
        return
    if not all(blocks):
        return
    e = _Expr(stmt, _locals(env, parser), out, parser.out_var)
    if e.peek()[1] == "[":  # [A, B, ...] = idx_bus
        e.k += 1
        names = []
        while e.peek()[1] != "]":
            kind, name, _ = e.peek()
            if kind != "name":
                raise _Unsupported(f"unexpected {name!r}")
            names.append(e.take())
            if e.peek()[1] == ",":
                e.k += 1
        e.take("]")
        e.take("=")
        fn = e.take()
        e.done()
        if fn not in _IDX or len(names) > len(_IDX[fn]):
            raise _Unsupported("only '[...] = idx_bus', 'idx_gen' or 'idx_brch'")
        for name, value in zip(names, _IDX[fn], strict=False):
            env[name] = np.array([[float(value)]])
        return
    kind, target, _ = e.peek()
    if kind != "name":
        raise _Unsupported(f"unexpected {target!r}")
    e.k += 1
    field = rows = cols = None
    if target == parser.out_var:
        e.take(".")
        field = e.take()
        if e.peek()[1] == "(":
            matrix = out.get(field)
            if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
                raise _Unsupported(f"{parser.out_var}.{field} is not a numeric matrix")
            rows, cols = e.indices(matrix.shape)
    e.take("=")
    value = e.expr()
    e.done()
    if field is None:
        env[target] = value
    elif rows is None:
        out[field] = float(value[0, 0]) if value.shape == (1, 1) else value.astype(float)
    else:
        matrix = out[field]
        if value.size != 1 and value.shape != (rows.size, cols.size):
            raise _Unsupported(
                f"{value.shape[0]}x{value.shape[1]} values for {rows.size}x{cols.size} elements"
            )
        matrix[np.ix_(rows, cols)] = value


def _locals(env: dict[str, np.ndarray], parser: _Parser) -> dict[str, np.ndarray]:
    """``env`` with the scalar literals assigned before the code (``fixed = 0;``)."""
    merged = {}
    for name, (token, _line) in parser.locals.items():
        value = _constant(token)
        if value is not None:
            merged[name] = np.array([[value]])
    merged.update(env)
    return merged


def parse_matpower(text: str, source: str | None = None) -> dict[str, Any]:
    """Read the literal assignments of a MATPOWER version-2 case file.

    Parameters
    ----------
    text : str
        The contents of a ``.m`` case file.
    source : str, optional
        Where the text came from; prefixed to error messages.

    Returns
    -------
    dict
        ``baseMVA`` (float), ``version`` (str), ``name`` (the function name or None),
        ``bus``, ``gen`` and ``branch`` (float arrays with at least 13, 10 and 11
        columns), ``gencost`` when present, and every other field assigned a literal:
        numeric matrices as arrays, cell arrays as lists (of str for one column),
        strings as str and scalars as float (or as written if not a number).

    Raises
    ------
    InvalidNetworkError
        For syntax the reader does not accept, a missing or non-numeric required field,
        truncated or ragged matrices, and anything that is not a number in ``bus``,
        ``gen``, ``branch`` or ``gencost``. Values are not checked further here (see
        :func:`read_matpower`).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # CR-only line ends too
    parser = _Parser(text, source)
    name, fields = parser.parse()
    out: dict[str, Any] = {"name": name}
    for key, (value, _line) in fields.items():
        kind = value[0]
        if kind == "matrix":
            rows = value[1]
            if key in _COLUMNS or key == "gencost":
                out[key] = _matrix(key, rows, source)
            else:
                try:
                    out[key] = _matrix(key, rows, source)
                except InvalidNetworkError:
                    out[key] = [[_unquote(t) for t in row] for row in rows]
        elif kind == "cell":
            cells = [[_unquote(t) for t in row] for row in value[1]]
            out[key] = [r[0] for r in cells] if all(len(r) == 1 for r in cells) else cells
        elif kind in ("string", "strings"):
            out[key] = value[1]
        else:
            number = _number(value[1])
            if number is None:
                number = _constant(value[1])
            out[key] = number if number is not None else value[1]
    if parser.code is not None:
        _run_code(parser, out)
    for key in ("bus", "gen", "branch", "baseMVA"):
        if key not in out:
            raise InvalidNetworkError(f"mpc.{key} is missing", source)
        if key != "baseMVA" and fields[key][0][0] != "matrix":
            raise InvalidNetworkError(f"mpc.{key} must be a matrix '[...]'", source)
    base = out["baseMVA"]
    if isinstance(base, np.ndarray) and base.size == 1:  # MATLAB: [100] is 100
        base = out["baseMVA"] = float(base.flat[0])
    if not isinstance(base, float):
        raise InvalidNetworkError(f"mpc.baseMVA = {_show(base)} is not a number", source)
    if not (math.isfinite(base) and base > 0):
        raise InvalidNetworkError(f"mpc.baseMVA = {base!r} must be positive", source)
    version = out.get("version", "2")
    if isinstance(version, float) and version.is_integer():
        version = str(int(version))
    if not isinstance(version, str) or version != "2":
        raise InvalidNetworkError(
            f"mpc.version = {_show(version)} is not supported (only '2')", source
        )
    out["version"] = version
    if len(out["bus"]) == 0:
        raise InvalidNetworkError("mpc.bus is empty", source)
    return out


# ======================================================================================
# ppc -> Network
# ======================================================================================
def read_matpower(path: str | os.PathLike) -> Any:
    """Read a MATPOWER version-2 case file into a network.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.m`` file.

    Returns
    -------
    gridsim.Network
        With ``sn_mva = baseMVA``, ``trafo_model = "pi"``, the function name (or the file
        stem) as name and ``source = str(path)``. See the module docstring for the
        element mapping and ids (buses by number, gens and branches by row number).

    Raises
    ------
    InvalidNetworkError
        When the file is missing or unreadable, or its data are malformed or
        inconsistent; the message names the file, the element and the problem.

    Notes
    -----
    The file is read as UTF-8 (a byte order mark is dropped), as UTF-16 when it starts
    with a UTF-16 byte order mark, and as Latin-1 when it is not valid UTF-8.

    Warns
    -----
    UserWarning
        For ``BASE_KV <= 0`` (or out of range) and when a PV bus must stand in for a missing
        reference.
    """
    src = str(path)
    p = Path(path)
    if not p.exists():
        raise InvalidNetworkError("no such file", src)
    if not p.is_file():
        raise InvalidNetworkError("not a file", src)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InvalidNetworkError(f"cannot read the file ({exc.strerror})", src) from None
    ppc = parse_matpower(_decode(raw, src), src)
    return _build_network(ppc, name=ppc.get("name") or p.stem, source=src)


def _decode(raw: bytes, src: str) -> str:
    """The text of a case file: UTF-8 (a byte order mark is dropped), UTF-16 with a byte
    order mark, or else Latin-1."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidNetworkError("not valid UTF-16 text", src) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _label(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _check_finite(kind: str, data: np.ndarray, names: list[str], src: str | None) -> None:
    """NaN anywhere, or Inf outside limit columns, of the used columns is an error."""
    columns = _COLUMNS[kind]
    used = data[:, : len(columns)]
    bad = np.isnan(used) | (np.isinf(used) & ~np.isin(np.arange(len(columns)), list(_INF_OK[kind])))
    if bad.any():
        k, j = np.argwhere(bad)[0]
        what = "NaN" if np.isnan(used[k, j]) else "infinite"
        raise InvalidNetworkError(f"{names[k]}: {columns[j]} is {what}", src)


def _build_network(ppc: Mapping[str, Any], name: str, source: str | None):
    """The network of a parsed (or PYPOWER) case; see the module docstring."""
    from gridsim.model.network import Network

    src = source
    base = float(ppc["baseMVA"])
    bus = np.asarray(ppc["bus"], dtype=float)
    gen = np.asarray(ppc["gen"], dtype=float)
    branch = np.asarray(ppc["branch"], dtype=float)
    if gen.size == 0:
        gen = gen.reshape(0, len(GEN_COLUMNS))
    if branch.size == 0:
        branch = branch.reshape(0, len(BRANCH_COLUMNS))
    for key, arr in (("bus", bus), ("gen", gen), ("branch", branch)):
        if arr.ndim != 2 or arr.shape[1] < len(_COLUMNS[key]):
            raise InvalidNetworkError(
                f"mpc.{key}: expected at least {len(_COLUMNS[key])} columns, got shape {arr.shape}",
                src,
            )

    # -- buses ------------------------------------------------------------------------
    num = bus[:, BUS_I]
    for k, b in enumerate(num):
        if not (np.isfinite(b) and b == int(b) and 0 < b < 2**53):
            raise InvalidNetworkError(
                f"bus row {k + 1}: BUS_I = {_label(b)} is not a positive integer bus number", src
            )
    ids = num.astype(np.int64)
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = ids[np.isin(ids, uniq[counts > 1])][0]
        raise InvalidNetworkError(f"duplicate bus number {dup}", src)
    _check_finite("bus", bus, [f"bus {b}" for b in ids], src)
    btype = bus[:, BUS_TYPE]
    bad = ~np.isin(btype, (1, 2, 3, 4))
    if bad.any():
        k = int(np.argmax(bad))
        raise InvalidNetworkError(
            f"bus {ids[k]}: BUS_TYPE = {_label(btype[k])} is not 1 (PQ), 2 (PV), 3 (REF) or "
            "4 (isolated)",
            src,
        )
    btype = btype.astype(np.int64)
    row_of = {int(b): k for k, b in enumerate(ids)}
    vn = bus[:, BASE_KV].copy()
    with np.errstate(all="ignore"):
        z_base = vn**2 / base
        no_kv = ~((vn > 0) & (z_base > 0) & np.isfinite(1.0 / z_base))
    notes = []  # warnings, given once the case is accepted
    if no_kv.any():
        notes.append(
            f"{int(no_kv.sum())} bus(es) have BASE_KV <= 0 or out of range (e.g. bus "
            f"{ids[np.argmax(no_kv)]}); using 1 kV as their voltage base"
        )
        vn[no_kv] = 1.0
    bus_on = btype != ISOLATED

    def limit(values: np.ndarray) -> np.ndarray:
        return np.where(np.isinf(values), np.nan, values)

    bus_names = ppc.get("bus_name")
    if not (
        isinstance(bus_names, list)
        and len(bus_names) == len(ids)
        and all(isinstance(s, str) for s in bus_names)
    ):
        bus_names = [""] * len(ids)
    bus_table = pd.DataFrame(
        {
            "name": bus_names,
            "vn_kv": vn,
            "in_service": bus_on,
            "min_vm_pu": limit(bus[:, VMIN]),
            "max_vm_pu": limit(bus[:, VMAX]),
            "zone": [_label(z) for z in bus[:, ZONE]],
            "area": [_label(a) for a in bus[:, BUS_AREA]],
            "vm_pu": bus[:, VM],
            "va_degree": bus[:, VA],
        },
        index=pd.Index(ids, name="id"),
    )

    def bus_rows(kind: str, numbers: np.ndarray, end: str) -> np.ndarray:
        rows = np.empty(numbers.size, dtype=np.int64)
        for k, b in enumerate(numbers):
            r = row_of.get(int(b)) if float(b).is_integer() else None
            if r is None:
                where = f"{end} bus" if end else "bus"
                raise InvalidNetworkError(
                    f"{kind} row {k + 1}: {where} {_label(b)} does not exist", src
                )
            rows[k] = r
        return rows

    # -- loads and shunts ---------------------------------------------------------------
    has_load = (bus[:, PD] != 0) | (bus[:, QD] != 0)
    load = pd.DataFrame(
        {"bus": ids[has_load], "p_mw": bus[has_load, PD], "q_mvar": bus[has_load, QD]},
        index=pd.Index(ids[has_load], name="id"),
    )
    has_sh = (bus[:, GS] != 0) | (bus[:, BS] != 0)
    shunt = pd.DataFrame(
        {"bus": ids[has_sh], "p_mw": bus[has_sh, GS], "q_mvar": 0.0 - bus[has_sh, BS]},
        index=pd.Index(ids[has_sh], name="id"),
    )

    # -- generators ----------------------------------------------------------------------
    ng = len(gen)
    gen_ids = np.arange(1, ng + 1)
    _check_finite("gen", gen, [f"gen row {k}" for k in gen_ids], src)
    grow = bus_rows("gen", gen[:, GEN_BUS], "")
    gtype = btype[grow]
    g_on = (gen[:, GEN_STATUS] > 0) & bus_on[grow]
    controls = np.isin(gtype, (PV_BUS, REF_BUS)) | (gtype == ISOLATED)
    slack = np.zeros(ng, dtype=bool)
    va = np.zeros(ng)
    vm = gen[:, VG].copy()
    has_gen = np.zeros(len(ids), dtype=bool)
    has_gen[grow[g_on]] = True
    ref_buses = np.flatnonzero(has_gen & (btype == REF_BUS)).tolist()
    if not ref_buses:
        pv_buses = np.flatnonzero(has_gen & (btype == PV_BUS)).tolist()
        if pv_buses:
            notes.append(
                f"no in-service generator at a REF bus; bus {ids[pv_buses[0]]} (the first PV "
                "bus with one) is the angle reference, as in MATPOWER"
            )
            ref_buses = pv_buses[:1]
        elif bus_on.any():  # MATPOWER's runpf has no reference bus either
            raise InvalidNetworkError(
                "no in-service generator at a REF or PV bus: the case has no angle reference",
                src,
            )
        else:
            raise InvalidNetworkError("every bus is isolated (BUS_TYPE = 4)", src)
    for r in ref_buses:
        at = np.flatnonzero(g_on & (grow == r))
        slack[at[0]] = True
        va[at[0]] = bus[r, VA]
        vm[at[0]] = gen[at[-1], VG]  # MATPOWER: the last online gen's VG sets the voltage
    vm = np.where(g_on | (vm > 0), vm, 1.0)  # offline gens: VG unused, keep validation happy
    ctl = controls
    gen_table = pd.DataFrame(
        {
            "bus": ids[grow[ctl]],
            "p_mw": gen[ctl, PG],
            "vm_pu": vm[ctl],
            "min_q_mvar": gen[ctl, QMIN],
            "max_q_mvar": gen[ctl, QMAX],
            "min_p_mw": limit(gen[ctl, PMIN]),
            "max_p_mw": limit(gen[ctl, PMAX]),
            "slack": slack[ctl],
            "va_degree": va[ctl],
            "in_service": g_on[ctl],
        },
        index=pd.Index(gen_ids[ctl], name="id"),
    )
    fixed = ~controls
    sgen_table = pd.DataFrame(
        {
            "bus": ids[grow[fixed]],
            "p_mw": gen[fixed, PG],
            "q_mvar": gen[fixed, QG],
            "min_p_mw": limit(gen[fixed, PMIN]),
            "max_p_mw": limit(gen[fixed, PMAX]),
            "in_service": g_on[fixed],
        },
        index=pd.Index(gen_ids[fixed], name="id"),
    )

    # -- branches ------------------------------------------------------------------------
    nbr = len(branch)
    br_ids = np.arange(1, nbr + 1)
    _check_finite("branch", branch, [f"branch row {k}" for k in br_ids], src)
    frow = bus_rows("branch", branch[:, F_BUS], "from")
    trow = bus_rows("branch", branch[:, T_BUS], "to")
    status = branch[:, BR_STATUS]
    bad = ~np.isin(status, (0, 1))
    if bad.any():
        k = int(np.argmax(bad))
        raise InvalidNetworkError(
            f"branch row {k + 1}: BR_STATUS = {_label(status[k])} is not 0 or 1", src
        )
    loop = frow == trow
    if loop.any():
        k = int(np.argmax(loop))
        raise InvalidNetworkError(
            f"branch row {k + 1}: from bus equals to bus ({ids[frow[k]]})", src
        )
    r, x, b = branch[:, BR_R], branch[:, BR_X], branch[:, BR_B]
    zero = (r == 0) & (x == 0)
    if zero.any():
        k = int(np.argmax(zero))
        raise InvalidNetworkError(f"branch row {k + 1}: zero impedance (BR_R = BR_X = 0)", src)
    br_on = (status == 1) & bus_on[frow] & bus_on[trow]
    rate = np.where(branch[:, RATE_A] == 0, np.nan, branch[:, RATE_A])
    tap, shift = branch[:, TAP], branch[:, SHIFT]
    is_line = (tap == 0) & (shift == 0) & (r >= 0)
    vf, vt = vn[frow], vn[trow]
    ratio = np.where(tap == 0, 1.0, tap)
    with np.errstate(all="ignore"):  # values that overflow are refused below
        zb = vf**2 / base
        line_values = {"r_ohm_per_km": r * zb, "x_ohm_per_km": x * zb, "b_us_per_km": b / zb * 1e6}
        trafo_values = {
            "vn_hv_kv": ratio * vf,
            "vk_percent": np.where(x < 0, -1.0, 1.0) * np.hypot(r, x) * 100.0,
            "vkr_percent": r * 100.0,
            "i0_percent": -b * 100.0,
        }
    for rows, values in ((is_line, line_values), (~is_line, trafo_values)):
        for field, v in values.items():
            bad = rows & ~np.isfinite(v)
            if bad.any():
                k = int(np.argmax(bad))
                raise InvalidNetworkError(
                    f"branch row {k + 1}: BR_R = {r[k]:g}, BR_X = {x[k]:g}, BR_B = {b[k]:g}, "
                    f"TAP = {tap[k]:g} with BASE_KV {vf[k]:g} kV are out of range ({field} "
                    "overflows)",
                    src,
                )
    li = is_line
    line_table = pd.DataFrame(
        {
            "from_bus": ids[frow[li]],
            "to_bus": ids[trow[li]],
            "length_km": 1.0,
            **{field: v[li] for field, v in line_values.items()},
            "parallel": 1.0,
            "rate_mva": rate[li],
            "in_service": br_on[li],
        },
        index=pd.Index(br_ids[li], name="id"),
    )
    tr = ~is_line
    trafo_table = pd.DataFrame(
        {
            "hv_bus": ids[frow[tr]],
            "lv_bus": ids[trow[tr]],
            "sn_mva": base,
            "vn_hv_kv": trafo_values["vn_hv_kv"][tr],
            "vn_lv_kv": vt[tr],
            "vk_percent": trafo_values["vk_percent"][tr],
            "vkr_percent": trafo_values["vkr_percent"][tr],
            "pfe_kw": 0.0,
            "i0_percent": trafo_values["i0_percent"][tr],
            "shift_degree": shift[tr],
            "tap_side": "",
            "parallel": 1.0,
            "rate_mva": rate[tr],
            "in_service": br_on[tr],
        },
        index=pd.Index(br_ids[tr], name="id"),
    )
    tables = {
        "bus": bus_table,
        "line": line_table,
        "trafo": trafo_table,
        "gen": gen_table,
        "sgen": sgen_table,
        "load": load,
        "shunt": shunt,
    }
    network = Network(tables, sn_mva=base, trafo_model="pi", name=name, source=source)
    network.q_limit_rule = "matpower"  # MATPOWER limits the slack's reactive power too
    for note in notes:
        warnings.warn(f"{src or name}: {note}", UserWarning, stacklevel=3)
    return network


# ======================================================================================
# writer
# ======================================================================================
def write_matpower(network_or_ppc: Any, path: str | os.PathLike) -> Path:
    """Write a network, or a PYPOWER-style case dict, as a MATPOWER version-2 case file.

    Parameters
    ----------
    network_or_ppc : gridsim.Network or dict
        A network, or a dict with ``baseMVA`` and the ``bus``, ``gen`` and ``branch``
        arrays (``gencost`` and a ``bus_name`` list are written too when present), such
        as PYPOWER's ``case30()``; a dict's arrays are written as they are.
    path : str or os.PathLike
        The ``.m`` file to write; its stem, made a valid MATLAB identifier, is the
        function name.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    UnsupportedElementError
        For what a MATPOWER branch or gen row cannot express: in-service HVDC links,
        lines with shunt conductance, transformers with iron losses or a magnetising
        branch in the ``"t"`` model, transformers whose tap changer sits off-neutral on
        the lv side.

    Notes
    -----
    For a network: buses keep integer ids (other ids are numbered 1..n in table order
    and written as ``mpc.bus_name``); loads and shunts are summed per bus; each line or
    transformer is one branch row in its per-unit pi model (with the transformer's tap
    ratio and phase shift); ``ext_grid`` rows are written first, then slack gens, then
    the other gens, then the ``sgen`` rows, so that the first in-service gen at a REF bus
    is the slack when read back. A voltage-controlling bus gets MATPOWER type 2 (3 with
    a slack), and all gen rows there carry gridsim's effective voltage setpoint. An
    ``sgen`` becomes a fixed gen row only at a PQ bus; at a PV or REF bus (where
    MATPOWER would let it control the voltage) it is written as negative load instead,
    and an out-of-service one there is left out. NaN limits are written as ``Inf``.
    :func:`read_matpower` of the file solves to the same voltages. The bus columns
    ``vm_pu``/``va_degree`` (a stored solution, e.g. MATPOWER's own), where present and
    finite, are written as ``VM``/``VA`` (at REF buses ``VA`` is the slack's angle).
    """
    out = Path(path)
    fname = re.sub(r"\W", "_", out.stem) or "case"
    if not (fname[0].isalpha()):
        fname = "case_" + fname
    if isinstance(network_or_ppc, Mapping):
        ppc = dict(network_or_ppc)
        for key in ("baseMVA", "bus", "gen", "branch"):
            if key not in ppc:
                raise InvalidNetworkError(f"ppc has no {key!r}", str(path))
        title = f"{fname} (written from a PYPOWER case by gridsim)"
    else:
        ppc = _network_to_ppc(network_or_ppc)
        title = f"{network_or_ppc.name or fname} (written from a gridsim network)"
    out.write_text(_format_case(ppc, fname, title))
    return out


def _network_to_ppc(net) -> dict[str, Any]:
    from gridsim.model.compile import trafo_parameters

    src = net.source
    sn = net.sn_mva
    bus = net.bus
    nb = len(bus)
    hvdc_on = net.hvdc.in_service.to_numpy()
    if hvdc_on.any():
        raise UnsupportedElementError(
            f"hvdc {net.hvdc.index[hvdc_on][0]!r}: HVDC links cannot be written to a MATPOWER "
            "case (mpc.dcline is not supported)",
            src,
        )
    ids = list(bus.index)
    integer = all(
        isinstance(i, int | np.integer) and not isinstance(i, bool) and i > 0 for i in ids
    )
    numbers = np.array(ids, dtype=np.int64) if integer else np.arange(1, nb + 1)
    pos = {i: k for k, i in enumerate(ids)}
    on_bus = bus.in_service.to_numpy()
    vn = bus.vn_kv.to_numpy(dtype=float)

    def rows(series: pd.Series) -> np.ndarray:
        return np.array([pos[i] for i in series], dtype=np.int64)

    def col(table: pd.DataFrame, name: str) -> np.ndarray:
        return table[name].to_numpy(dtype=float)

    def inf(values: np.ndarray, sign: float) -> np.ndarray:
        return np.where(np.isnan(values), sign * np.inf, values)

    # -- bus types and effective setpoints (gridsim's compile rule) -------------------
    btype = np.where(on_bus, PQ_BUS, ISOLATED)
    vm_set = np.ones(nb)
    va_set = np.zeros(nb)
    gen, ext = net.gen, net.ext_grid
    g_rows, e_rows = rows(gen.bus), rows(ext.bus)
    g_slack = gen.slack.to_numpy(dtype=bool)
    cands = []  # (rank, table order, bus row, vm, slack, va): ext_grid > slack gen > gen
    for k in np.flatnonzero(gen.in_service.to_numpy() & on_bus[g_rows]):
        s = bool(g_slack[k])
        cands.append((2 if s else 1, k, g_rows[k], gen.vm_pu.iloc[k], s, gen.va_degree.iloc[k]))
    for k in np.flatnonzero(ext.in_service.to_numpy() & on_bus[e_rows]):
        cands.append((3, k, e_rows[k], ext.vm_pu.iloc[k], True, ext.va_degree.iloc[k]))
    for _rank, _k, rw, v, s, a in sorted(cands, key=lambda c: (c[0], c[1])):
        vm_set[rw] = v
        if s:
            btype[rw] = REF_BUS
            va_set[rw] = a
        elif btype[rw] != REF_BUS:
            btype[rw] = PV_BUS
    controlled = np.isin(btype, (PV_BUS, REF_BUS))

    # -- loads and shunts ---------------------------------------------------------------
    pd_, qd = np.zeros(nb), np.zeros(nb)
    ld = net.load[net.load.in_service.to_numpy()]
    np.add.at(pd_, rows(ld.bus), col(ld, "p_mw"))
    np.add.at(qd, rows(ld.bus), col(ld, "q_mvar"))
    gs, bs = np.zeros(nb), np.zeros(nb)
    sh = net.shunt[net.shunt.in_service.to_numpy()]
    sr = rows(sh.bus)
    vn_sh = col(sh, "vn_kv")
    scale = (vn[sr] / np.where(np.isnan(vn_sh), vn[sr], vn_sh)) ** 2 * col(sh, "step")
    np.add.at(gs, sr, col(sh, "p_mw") * scale)
    np.add.at(bs, sr, -col(sh, "q_mvar") * scale)

    # -- generator rows: ext_grids, slack gens, other gens, sgens at PQ buses ---------------
    def gen_block(brow, p, q, qmax, qmin, vg, on, pmax, pmin) -> np.ndarray:
        n = brow.size
        return np.column_stack(
            [numbers[brow], p, q, qmax, qmin, np.where(controlled[brow], vm_set[brow], vg),
             np.full(n, sn), on.astype(float), pmax, pmin]
        ).reshape(n, 10)  # fmt: skip

    ne = len(ext)
    ext_block = gen_block(
        e_rows, np.zeros(ne), np.zeros(ne), col(ext, "max_q_mvar"), col(ext, "min_q_mvar"),
        col(ext, "vm_pu"), ext.in_service.to_numpy(), np.full(ne, np.inf), np.full(ne, -np.inf),
    )  # fmt: skip
    order = np.argsort(~g_slack, kind="stable")
    g = gen.iloc[order]
    gen_block_ = gen_block(
        g_rows[order], col(g, "p_mw"), np.zeros(len(g)), col(g, "max_q_mvar"),
        col(g, "min_q_mvar"), col(g, "vm_pu"), g.in_service.to_numpy(),
        inf(col(g, "max_p_mw"), 1.0), inf(col(g, "min_p_mw"), -1.0),
    )  # fmt: skip
    sg = net.sgen
    s_rows = rows(sg.bus)
    s_on = sg.in_service.to_numpy()
    folded = controlled[s_rows]  # MATPOWER would let a gen row there control the voltage
    np.subtract.at(pd_, s_rows[folded & s_on], col(sg, "p_mw")[folded & s_on])
    np.subtract.at(qd, s_rows[folded & s_on], col(sg, "q_mvar")[folded & s_on])
    s = sg[~folded]
    ns = len(s)
    sgen_block = gen_block(
        s_rows[~folded], col(s, "p_mw"), col(s, "q_mvar"), np.full(ns, np.inf),
        np.full(ns, -np.inf), np.ones(ns), s_on[~folded], inf(col(s, "max_p_mw"), 1.0),
        inf(col(s, "min_p_mw"), -1.0),
    )  # fmt: skip

    # -- branch rows --------------------------------------------------------------------
    line = net.line
    g_line = col(line, "g_us_per_km") != 0
    if g_line.any():
        raise UnsupportedElementError(
            f"line {line.index[g_line][0]!r}: shunt conductance g_us_per_km cannot be written "
            "as a MATPOWER branch",
            src,
        )
    lf, lt = rows(line.from_bus), rows(line.to_bus)
    zb = vn[lf] ** 2 / sn
    length, par = col(line, "length_km"), col(line, "parallel")
    z = (col(line, "r_ohm_per_km") + 1j * col(line, "x_ohm_per_km")) * length / par / zb
    b_line = col(line, "b_us_per_km") * 1e-6 * length * par * zb
    nl = len(line)
    line_block = _branch_block(
        numbers[lf], numbers[lt], z, b_line, col(line, "rate_mva"), np.zeros(nl), np.zeros(nl),
        line.in_service.to_numpy(),
    )  # fmt: skip

    trafo = net.trafo
    steps = col(trafo, "tap_pos") - col(trafo, "tap_neutral")
    stepped = (col(trafo, "tap_step_percent") != 0) | (col(trafo, "tap_step_degree") != 0)
    lv_tap = (trafo.tap_side.to_numpy() == "lv") & (steps != 0) & stepped
    if lv_tap.any():
        raise UnsupportedElementError(
            f"trafo {trafo.index[lv_tap][0]!r}: a tap changer off neutral on the lv side cannot "
            "be written as a MATPOWER branch (its tap is on the from/hv side)",
            src,
        )
    tf, tt = rows(trafo.hv_bus), rows(trafo.lv_bus)
    if len(trafo):
        ys, yf, yt, tap = trafo_parameters(trafo, vn[tf], vn[tt], sn, net.trafo_model)
    else:
        ys = yf = yt = tap = np.zeros(0, dtype=complex)
    tol = 1e-14 * np.maximum(np.abs(yf), 1.0)
    bad = (np.abs(yf.real) > tol) | (np.abs(yf - yt) > tol)
    if bad.any():
        raise UnsupportedElementError(
            f"trafo {trafo.index[bad][0]!r}: its magnetising branch (iron losses pfe_kw, or "
            f"trafo_model {net.trafo_model!r}) cannot be written as MATPOWER's branch charging "
            "BR_B",
            src,
        )
    trafo_block = _branch_block(
        numbers[tf], numbers[tt], 1.0 / ys, 2.0 * yf.imag, col(trafo, "rate_mva"), np.abs(tap),
        np.degrees(np.angle(tap)), trafo.in_service.to_numpy(),
    )  # fmt: skip

    # -- stored voltages (bus columns vm_pu/va_degree) as VM/VA, where finite; the REF
    # buses' VA is the slack's angle, which read_matpower takes from it ---------------
    vm_bus = np.where(controlled, vm_set, 1.0)
    va_bus = va_set.copy()
    if "vm_pu" in bus.columns and "va_degree" in bus.columns:
        vm_st, va_st = col(bus, "vm_pu"), col(bus, "va_degree")
        vm_bus = np.where(np.isfinite(vm_st), vm_st, vm_bus)
        va_bus = np.where(np.isfinite(va_st) & (btype != REF_BUS), va_st, va_bus)

    def number_of(text: str) -> float:
        return float(text) if _NUMBER.match(text or "") and np.isfinite(float(text)) else 1.0

    bus_mat = np.column_stack(
        [numbers, btype, pd_, qd, gs, bs, [number_of(a) for a in bus.area],
         vm_bus, va_bus, vn, [number_of(z) for z in bus.zone],
         inf(col(bus, "max_vm_pu"), 1.0), inf(col(bus, "min_vm_pu"), -1.0)]
    )  # fmt: skip
    ppc: dict[str, Any] = {
        "baseMVA": sn,
        "bus": bus_mat,
        "gen": np.vstack([ext_block, gen_block_, sgen_block]),
        "branch": np.vstack([line_block, trafo_block]),
    }
    if not integer:
        ppc["bus_name"] = [str(i) for i in ids]
    return ppc


def _branch_block(f, t, z, b, rate, ratio, angle, on) -> np.ndarray:
    """MATPOWER branch rows (RATE_A = RATE_B = RATE_C; NaN rating written as 0)."""
    rate = np.nan_to_num(rate, nan=0.0)
    return np.column_stack(
        [f, t, z.real, z.imag, b, rate, rate, rate, ratio, angle, on.astype(float)]
    ).reshape(len(f), 11)


def _fmt(x: float) -> str:
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _format_matrix(name: str, data: Any, header: tuple[str, ...]) -> list[str]:
    arr = np.asarray(data, dtype=float)
    if arr.ndim != 2:
        arr = arr.reshape(len(arr), -1) if arr.size else arr.reshape(0, len(header))
    lines = [f"%\t{chr(9).join(header)}"] if header else []
    lines.append(f"mpc.{name} = [")
    lines.extend("\t" + "\t".join(_fmt(v) for v in row) + ";" for row in arr)
    lines.append("];")
    return lines


_BUS_HEADER = tuple("bus_i type Pd Qd Gs Bs area Vm Va baseKV zone Vmax Vmin".split())
_GEN_HEADER = tuple("bus Pg Qg Qmax Qmin Vg mBase status Pmax Pmin".split())
_BRANCH_HEADER = tuple("fbus tbus r x b rateA rateB rateC ratio angle status".split())


def _format_case(ppc: Mapping[str, Any], fname: str, title: str) -> str:
    out = [
        f"function mpc = {fname}",
        f"%{fname.upper()}  {title}.",
        "%   MATPOWER case format version 2; see MATPOWER's caseformat for the columns.",
        "",
        "%% MATPOWER Case Format : Version 2",
        "mpc.version = '2';",
        "",
        "%%-----  Power Flow Data  -----%%",
        "%% system MVA base",
        f"mpc.baseMVA = {_fmt(ppc['baseMVA'])};",
        "",
        "%% bus data",
        *_format_matrix("bus", ppc["bus"], _BUS_HEADER),
        "",
        "%% generator data",
        *_format_matrix("gen", ppc["gen"], _GEN_HEADER),
        "",
        "%% branch data",
        *_format_matrix("branch", ppc["branch"], _BRANCH_HEADER),
    ]
    if ppc.get("gencost") is not None and np.size(ppc["gencost"]):
        out += [
            "",
            "%%-----  OPF Data  -----%%",
            "%% generator cost data",
            *_format_matrix("gencost", ppc["gencost"], ()),
        ]
    names = ppc.get("bus_name")
    if names is not None and len(names):
        out += ["", "%% bus names", "mpc.bus_name = {"]
        out += ["\t'" + str(s).replace("'", "''") + "';" for s in names]
        out.append("};")
    return "\n".join(out) + "\n"
