"""The text layer of MATPOWER case files: literal data and the MATLAB subset that
MATPOWER's own cases use to compute part of theirs (see the package docstring)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from gridsim.exceptions import InvalidNetworkError
from gridsim.io.matpower.columns import _COLUMNS

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
