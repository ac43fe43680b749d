"""Fuzz runner: mutated network files through ``gridsim pf``/``info``, one process per format.

Run as ``python tests/fuzz/runner.py FORMAT N SEED [--start I] [--seeds] [--only I ...]
[--keep DIR]`` with FORMAT ``matpower``, ``yaml`` or ``json`` (pandapower): cases
``I..N-1`` (``--seeds``: the unmodified seed files first). Case ``I`` is generated from
``random.Random(f"{SEED}/{FORMAT}/{I}")`` alone, so ``--only I`` reproduces one case and
``--keep DIR`` saves the inputs. Each case mutates one seed file (``seeds/``, the MATPOWER
cases in ``tests/data/matpower``, the example network, pandapower nets written by
``pandapower.to_json``) structurally (fields and rows deleted, duplicated or retyped,
NaN/Inf/huge values, wrong nesting, empty tables, hostile ``_module`` objects) or byte by
byte (truncation, flipped bytes, invalid UTF-8, BOM, CR/CRLF line ends, UTF-16, NUL),
writes it to a temporary file and runs ``gridsim.cli.main`` on it in this process, with
stdout and stderr captured, under a per-case time bound (SIGALRM) and the process's
address-space limit (``RLIMIT_AS``).

Output: one JSON line per case on stdout, ``{"i", "seed_file", "mutation", "argv",
"path", "status", "stderr", "seconds", "facts", "problems_runner", "problems"}``,
preceded by ``{"begin": i}`` so that a case that kills the process is known;
:func:`problems` is the contract the test asserts. A summary goes to stderr.
Environment: ``GRIDSIM_FUZZ_CASE_S`` (time bound per case, default 60 s),
``GRIDSIM_FUZZ_MEM_GB`` (address-space limit, default 4 GB).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import faulthandler
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().with_name("seeds")
FORMATS = {"matpower": ".m", "yaml": ".yaml", "json": ".json"}
PAYLOAD_MODULE = "gridsim_fuzz_payload"  # a module file beside the inputs, see main()
PAYLOAD_MARKER = "PAYLOAD_RAN"
FORBIDDEN_MODULES = (PAYLOAD_MODULE, "this", "antigravity")
MAX_LINE = 2000  # characters on one stderr line
NAN, INF = float("nan"), float("inf")


class CaseTimeout(BaseException):
    """Raised by SIGALRM when a case runs past its time bound (not an Exception, so
    that no ``except Exception`` in gridsim swallows it)."""


# ======================================================================================
# the contract
# ======================================================================================
def problems(rec: dict) -> list[str]:
    """What a case's record breaks of the contract (empty when it keeps it).

    Exit 0 with finite results and at most ``gridsim: warning:`` lines on stderr; exit 2
    with exactly one line ``gridsim: error: FILE: ...``; exit 1 for a power flow that
    failed (did not converge), said in one such line after any warnings. Never a traceback,
    an ``internal error``, a hang, a memory error, code imported by the file, a NumPy
    warning ("divide by zero encountered in divide"), or a stderr line over
    :data:`MAX_LINE` characters.
    """
    out = list(rec.get("problems_runner", []))
    status, err, path = rec["status"], rec["stderr"], rec["path"]
    lines = [line for line in err if line.strip()]
    head = f"gridsim: error: {path}: "
    if any("Traceback" in line or "internal error" in line for line in lines):
        out.append("traceback or internal error")
    long = [len(line) for line in lines if len(line) > MAX_LINE]
    if long:
        out.append(f"stderr line of {max(long)} characters")
    if any(re.search(r"encountered in \w+$", line) for line in lines):
        out.append("a NumPy warning on stderr")
    others = [line for line in lines if not line.startswith("gridsim: warning: ")]
    if status == 0:
        if others:
            out.append("exit 0 with stderr lines that are not gridsim warnings")
        out.extend(rec["facts"].get("nonfinite", []))
    elif status == 2:
        if len(lines) != 1 or not lines[0].startswith(head):
            out.append("exit 2 without exactly one 'gridsim: error: FILE: ...' line")
    elif status == 1:
        if len(others) != 1 or not others[0].startswith(head):
            out.append("exit 1 without exactly one 'gridsim: error: FILE: ...' line")
    elif status is not None:
        out.append(f"exit status {status}")
    if rec["facts"].get("payload") and status != 2:
        out.append("a file naming code to import was not refused (exit 2)")
    return out


# ======================================================================================
# values
# ======================================================================================
HUGE_INT = 10**30
SCALARS = [None, True, False, 0, -1, 1, 0.5, 1e308, -1e308, NAN, INF, -INF, 1e-300, HUGE_INT]
STRINGS = ["", "lots", "1e3", "NaN", " ", "\u0000", "Niš ☃", "x" * 5000]
NESTED = [[], {}, [1, 2], {"a": 1}, [[1.0]], [None]]
YAML_EXTRA = [datetime.date(2001, 12, 14), b"\x00\xff", {1, 2}]
MATPOWER_TOKENS = [
    "NaN", "Inf", "-Inf", "1e308", "-1e308", "1e400", "0", "-0", "-1", "1e-300", "2.5",
    "99999999999999999999", "abc", "'x'", "''", "[]", "{}", "0x10", "1e", "--1", ".", "+",
    "1 2", "1;2", "NaN,", "4", "3", "2", "1", "5", "100000", "-100000", "1i", "true", "%",
    "...", "]", "[", "'", "\"",
]  # fmt: skip
PAYLOADS = [
    {"_module": PAYLOAD_MODULE, "_class": "x", "_object": "1"},
    {"_module": PAYLOAD_MODULE, "_class": "DataFrame", "_object": "{}", "orient": "split"},
    {"_module": "this", "_class": "x", "_object": "1"},
    {"_module": "os", "_class": "function", "_object": "system"},
    {"_module": "builtins", "_class": "function", "_object": "eval"},
    {"_module": "subprocess", "_class": "Popen", "_object": '["true"]'},
]


def value(rng: random.Random, extra: list | None = None):
    pool = SCALARS + STRINGS + NESTED + (extra or [])
    return copy.deepcopy(rng.choice(pool))


def short(x) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


DEEP = "__FUZZ_DEEP_{}__"  # a string the serialised text replaces by a nested list


def undeep(text: str) -> str:
    """``text`` with each :data:`DEEP` marker (quoted or not) replaced by ``[[...]]``."""
    return re.sub(
        r"""(['"]?)__FUZZ_DEEP_(\d+)__\1""", lambda m: "[" * int(m[2]) + "]" * int(m[2]), text
    )


# ======================================================================================
# byte-level mutations (every format)
# ======================================================================================
def _truncate(rng, data):
    k = rng.randrange(len(data) + 1)
    return data[:k], f"truncated at byte {k}"


def _flip(rng, data):
    data = bytearray(data)
    n = rng.randint(1, 8)
    for _ in range(n):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data), f"{n} random byte(s) replaced"


def _insert(rng, data):
    pieces = [b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x1b[2J", b"\xe2\x80\xae"]
    piece = rng.choice(pieces)
    k = rng.randrange(len(data) + 1)
    return data[:k] + piece + data[k:], f"{piece!r} inserted at byte {k}"


def _bom(rng, data):
    return b"\xef\xbb\xbf" + data, "UTF-8 byte order mark"


def _crlf(rng, data):
    return data.replace(b"\n", b"\r\n"), "CRLF line ends"


def _cr(rng, data):
    return data.replace(b"\n", b"\r"), "CR line ends"


def _utf16(rng, data):
    enc = rng.choice(["utf-16", "utf-16-be"])
    return data.decode("utf-8").encode(enc), f"encoded {enc}"


def _latin1(rng, data):
    text = data.decode("utf-8")
    k = rng.randrange(len(text) + 1)
    return (text[:k] + "Niš Ünïcode" + text[k:]).encode("latin-1", "replace"), "latin-1 text"


def _splice(rng, data):
    a, b = sorted(rng.randrange(len(data) + 1) for _ in range(2))
    if rng.random() < 0.5:
        return data[:a] + data[b:], f"bytes {a}:{b} deleted"
    k = rng.randrange(len(data) + 1)
    return data[:k] + data[a:b] + data[k:], f"bytes {a}:{b} copied to {k}"


def _blank(rng, data):
    return rng.choice([b"", b" \n\t\n", b"\x00" * 16]), "empty or blank file"


BYTE_MUTATIONS = [_truncate, _flip, _insert, _bom, _crlf, _cr, _utf16, _latin1, _splice, _blank]


# ======================================================================================
# MATPOWER
# ======================================================================================
def _statements(text: str) -> list[tuple[str, int, int]]:
    """``(field, start, end)`` character spans of ``mpc.FIELD = ...`` statements."""
    out = []
    for m in re.finditer(r"^[ \t]*mpc\.(\w+)\s*=", text, re.M):
        rest = text[m.end() :].lstrip(" \t")
        if rest[:1] in "[{":
            close = "]" if rest[0] == "[" else "}"
            end = text.find(close, m.end())
            end = len(text) if end < 0 else end + 1
        else:
            end = m.end()
        eol = text.find("\n", end)
        out.append((m.group(1), m.start(), len(text) if eol < 0 else eol + 1))
    return out


def _rows(text: str, field: str) -> list[tuple[int, int]]:
    """Spans of the data lines of ``mpc.FIELD = [ ... ];`` (one row a line)."""
    for name, start, end in _statements(text):
        if name == field:
            body_start = text.find("\n", start) + 1
            spans = []
            pos = body_start
            while pos < end:
                eol = text.find("\n", pos)
                eol = end if eol < 0 or eol > end else eol + 1
                line = text[pos:eol]
                if re.match(r"\s*[-+\d.NI]", line):
                    spans.append((pos, eol))
                pos = eol
            return spans
    return []


def _mp_row_op(rng, text):
    field = rng.choice(["bus", "gen", "branch", "bus", "branch", "gencost"])
    rows = _rows(text, field)
    if not rows:
        return text, f"no {field} rows"
    a, b = rng.choice(rows)
    op = rng.choice(["delete", "duplicate", "many", "swap", "delete all"])
    if op == "delete":
        return text[:a] + text[b:], f"{field} row deleted"
    if op == "duplicate":
        return text[:b] + text[a:b] + text[b:], f"{field} row duplicated"
    if op == "many":
        n = rng.choice([50, 3000])
        return text[:b] + text[a:b] * n + text[b:], f"{field} row repeated {n} times"
    if op == "swap":
        c, d = rng.choice(rows)
        if (c, d) == (a, b):
            return text, f"{field} row swapped with itself"
        (a, b), (c, d) = sorted([(a, b), (c, d)])
        return text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:], f"{field} rows swapped"
    return text[: rows[0][0]] + text[rows[-1][1] :], f"every {field} row deleted"


def _split_row(line: str) -> tuple[list[str], str]:
    body, sep, tail = line.partition(";")
    return re.split(r"[\s,]+", body.strip()), sep + tail


def _mp_cell(rng, text):
    field = rng.choice(["bus", "gen", "branch"])
    rows = _rows(text, field)
    if not rows:
        return text, f"no {field} rows"
    every = rng.random() < 0.3
    targets = rows if every else [rng.choice(rows)]
    tokens, _ = _split_row(text[targets[0][0] : targets[0][1]])
    j = rng.randrange(min(len(tokens), 13))
    new = rng.choice(MATPOWER_TOKENS)
    op = rng.choice(["set", "set", "set", "delete", "insert"])
    pieces, last = [], 0
    for a, b in targets:
        toks, tail = _split_row(text[a:b])
        if j < len(toks):
            if op == "set":
                toks[j] = new
            elif op == "delete":
                del toks[j]
            else:
                toks.insert(j, new)
        pieces += [text[last:a], "\t" + "\t".join(toks) + tail.rstrip("\n") + "\n"]
        last = b
    what = f"{'every' if every else 'one'} {field} row: column {j + 1} {op}"
    return "".join(pieces) + text[last:], what + (f" {new!r}" if op != "delete" else "")


MATPOWER_VALUES = [
    "[]", "[ ]", "{}", "0", "-100", "NaN", "Inf", "1e308", "1e-300", "'2'", "'abc'", "\"x\"",
    "[1 2 3]", "[1 2; 3 4]", "{1, 2; 3, 4}", "{'a'; 'b'}", "[[1 2] [3 4]]", "[1 2 3",
    "1 2", "[NaN]", "struct()", "zeros(3, 13)", "mpc.bus", "[1e400 1]", "'", "[];[]",
]  # fmt: skip


def _mp_field(rng, text):
    spans = _statements(text)
    if not spans:
        return text, "no mpc statement"
    name, a, b = rng.choice(spans)
    op = rng.choice(["delete", "duplicate", "retype", "retype", "nest", "index"])
    if op == "delete":
        return text[:a] + text[b:], f"mpc.{name} deleted"
    if op == "duplicate":
        k = rng.choice([s[1] for s in spans] + [len(text)])
        return text[:k] + text[a:b] + text[k:], f"mpc.{name} assigned twice"
    if op == "retype":
        v = rng.choice(MATPOWER_VALUES)
        return text[:a] + f"mpc.{name} = {v};\n" + text[b:], f"mpc.{name} = {v}"
    if op == "nest":
        stmt = text[a:b].replace(f"mpc.{name}", f"mpc.{name}.x", 1)
        return text[:a] + stmt + text[b:], f"mpc.{name}.x = ..."
    stmt = text[a:b].replace(f"mpc.{name}", f"mpc.{name}(1, :)", 1)
    return text[:a] + stmt + text[b:], f"mpc.{name}(1, :) = ..."


MATPOWER_LINES = [
    "x = 1;", "mpc.bus(:, 10) = 230;", "if true", "end", "disp('x')", "function mpc = x",
    "function [a, b] = y", "%{", "mpc = loadcase('case9');", "mpc.version = '1';",
    "mpc.baseMVA = 0;", "mpc.bus_name = {'a'; 'b'};", "mpc.gen(1, 8) = 0;", "...", "[",
    "mpc.", "= 3;", "mpc.bus = mpc.bus;", "return", "endfunction",
]  # fmt: skip


def _mp_line(rng, text):
    lines = text.split("\n")
    k = rng.randrange(len(lines) + 1)
    new = rng.choice(MATPOWER_LINES)
    return "\n".join(lines[:k] + [new] + lines[k:]), f"line {k + 1} inserted: {new!r}"


def _mp_column(rng, text):
    field, col, vals = rng.choice(
        [
            ("bus", 1, ["1", "2", "4", "5"]),  # BUS_TYPE
            ("bus", 9, ["0", "-1", "1e-300"]),  # BASE_KV
            ("gen", 7, ["0", "-1", "2"]),  # GEN_STATUS
            ("gen", 0, ["1", "999"]),  # GEN_BUS
            ("gen", 5, ["0", "-1", "1e-300", "100"]),  # VG
            ("branch", 10, ["0", "2"]),  # BR_STATUS
            ("branch", 8, ["1e-300", "-1", "1e300", "0"]),  # TAP
            ("branch", 3, ["0", "1e-300", "-1e-300", "1e300"]),  # BR_X
            ("branch", 2, ["0", "-1", "1e300"]),  # BR_R
        ]
    )
    v = rng.choice(vals)
    pieces, last = [], 0
    for a, b in _rows(text, field):
        toks, tail = _split_row(text[a:b])
        if col < len(toks):
            toks[col] = v
        pieces += [text[last:a], "\t" + "\t".join(toks) + tail.rstrip("\n") + "\n"]
        last = b
    return "".join(pieces) + text[last:], f"{field} column {col + 1} = {v} in every row"


MATPOWER_MUTATIONS = [_mp_row_op, _mp_cell, _mp_cell, _mp_field, _mp_field, _mp_line, _mp_column]


def matpower_case(rng, seeds):
    name, data = rng.choice(seeds)
    text = data.decode("utf-8")
    steps = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        text, what = rng.choice(MATPOWER_MUTATIONS)(rng, text)
        steps.append(what)
    return text.encode("utf-8"), name, steps, {}


# ======================================================================================
# tree mutations (YAML and JSON documents)
# ======================================================================================
def _slots(tree, skip: Callable[[list], bool] = lambda path: False):
    """Every ``(container, key, path)`` of a parsed document, breadth first."""
    out, todo = [], [(tree, [])]
    while todo:
        node, path = todo.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, v in list(items):
            p = [*path, key]
            if skip(p):
                continue
            out.append((node, key, p))
            if isinstance(v, dict | list):
                todo.append((v, p))
    return out


def mutate_tree(rng, tree, extra: list | None = None, skip=lambda path: False) -> str:
    """One structural change to a parsed document, in place; returns its description."""
    slots = _slots(tree, skip)
    if not slots:
        return "nothing to mutate"
    node, key, path = rng.choice(slots)
    where = "/".join(map(str, path))
    op = rng.choice(
        ["delete", "duplicate", "set", "set", "set", "wrap", "empty", "rename", "add", "deep"]
    )
    v = node[key]
    if op == "delete":
        del node[key]
        return f"{where} deleted"
    if op == "duplicate" and isinstance(node, list):
        node.insert(key, copy.deepcopy(v))
        return f"{where} duplicated"
    if op == "wrap":
        node[key] = rng.choice([[v], {"value": v}, [v, v]])
        return f"{where} wrapped in {type(node[key]).__name__}"
    if op == "empty" and isinstance(v, dict | list):
        node[key] = rng.choice([[], {}, None, ""])
        return f"{where} = {node[key]!r} (was a {type(v).__name__})"
    if op == "rename" and isinstance(node, dict):
        new = rng.choice([key + "x", key.upper(), key[:-1], "id", "bus", "p_mw", "", "1"])
        node[new] = node.pop(key)
        return f"{where} renamed {new!r}"
    if op == "add" and isinstance(node, dict):
        new = rng.choice(["extra", "id", "in_service", "vn_kv", "bus", "_module", "scenarios"])
        node[new] = value(rng, extra)
        return f"{where}: key {new!r} = {short(node[new])} added"
    if op == "deep":
        n = rng.choice([30, 200, 3000, 100000])
        node[key] = DEEP.format(n)
        return f"{where} = a list nested {n} deep"
    node[key] = value(rng, extra)
    return f"{where} = {short(node[key])}"


# ======================================================================================
# YAML
# ======================================================================================
def _bomb(depth: int) -> str:
    levels = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for k in range(1, depth):
        levels.append(f"&a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]")
    return "[" + ", ".join(levels) + "]"


YAML_TEXT_VALUES = [
    "!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!!binary AAEC",
    "!!set {a, b}", "!!float 'nan'", "*undefined", "&anchor", "{a: 1", "[1, 2", "'unclosed",
    "2001-12-14", "0x1F", "0o17", "1_000", ".inf", "-.inf", ".nan", "~", "yes", "NO", "1e400",
    "!!str", "!!int '3'", "!!map []", "? complex key", "|\n  block", "@reserved", "`tick",
]  # fmt: skip


def _yaml_text(rng, text, tree):
    op = rng.choice(["line", "line", "tab", "value", "bomb", "docs", "dupkey", "deep"])
    lines = text.split("\n")
    k = rng.randrange(len(lines))
    if op == "line":
        return "\n".join(lines[: k + 1] + lines[k:]), f"line {k + 1} duplicated"
    if op == "tab":
        lines[k] = re.sub(r"^ +", "\t", lines[k])
        return "\n".join(lines), f"line {k + 1} indented with a tab"
    if op == "docs":
        return text + "\n---\nbus: []\n", "a second YAML document"
    if op == "dupkey":
        m = [i for i, s in enumerate(lines) if re.match(r"^\w+:", s)]
        if not m:
            return text, "no top-level key"
        i = rng.choice(m)
        key = lines[i].split(":")[0]
        return text + f"\n{key}: []\n", f"top-level key {key!r} given twice"
    mark = "__FUZZ_VALUE__"
    slots = _slots(tree)
    node, key, path = rng.choice(slots)
    node[key] = mark
    if op == "bomb":
        depth = rng.randint(2, 9)
        new, what = _bomb(depth), f"alias bomb 9**{depth}"
    elif op == "deep":
        n = rng.choice([100, 1000, 100000])
        new, what = "[" * n + "]" * n, f"flow list nested {n} deep"
    else:
        new = rng.choice(YAML_TEXT_VALUES)
        what = repr(new)
    out = _dump_yaml(tree).replace(mark, new.replace("\n", "\n    "))
    return out, f"{'/'.join(map(str, path))} = {what}"


def _dump_yaml(tree) -> str:
    import yaml

    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, default_flow_style=None)
    return undeep(text)


def yaml_case(rng, seeds):
    import yaml

    name, data = rng.choice(seeds)
    text = data.decode("utf-8")
    tree = yaml.safe_load(text)
    steps = []
    if rng.random() < 0.25:
        text, what = _yaml_text(rng, text, tree)
        steps.append(what)
    else:
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            steps.append(mutate_tree(rng, tree, YAML_EXTRA))
        text = _dump_yaml(tree)
    options = {}
    if "scenarios" in name and rng.random() < 0.5:
        options["scenario"] = rng.choice(["2026", "2030", "1999", "x"])
    return text.encode("utf-8"), name, steps, options


# ======================================================================================
# pandapower JSON
# ======================================================================================
ELEMENTS = ("bus", "line", "trafo", "load", "gen", "sgen", "ext_grid", "shunt")


def _frames(doc) -> list[str]:
    obj = doc.get("_object") if isinstance(doc, dict) else None
    if not isinstance(obj, dict):
        return []
    return [
        k
        for k, v in obj.items()
        if isinstance(v, dict)
        and v.get("_class") == "DataFrame"
        and isinstance(v.get("_object"), str)
    ]


def _json_frame(rng, doc):
    """A change inside one DataFrame (its split-orient JSON string)."""
    frames = _frames(doc)
    used = [k for k in frames if k in ELEMENTS and '"data":[]' not in doc["_object"][k]["_object"]]
    name = rng.choice(used or frames)
    entry = doc["_object"][name]
    inner = json.loads(entry["_object"])
    cols, index, data = inner["columns"], inner["index"], inner["data"]
    op = rng.choice(["row", "dup", "col", "cell", "cell", "column", "dtype", "ragged", "payload"])
    if op == "row" and data:
        k = rng.randrange(len(data))
        del data[k], index[k]
        what = f"{name} row {k} deleted"
    elif op == "dup" and data:
        k = rng.randrange(len(data))
        data.append(copy.deepcopy(data[k]))
        last = max((n for n in index if isinstance(n, int)), default=0)
        index.append(rng.choice([index[k], last + 1, "x", -1, 1.5]))
        what = f"{name} row {k} duplicated with index {index[-1]!r}"
    elif op == "col" and cols:
        j = rng.randrange(len(cols))
        what = f"{name} column {cols[j]} deleted"
        if isinstance(entry.get("dtype"), dict):
            entry["dtype"].pop(cols[j], None)
        del cols[j]
        for row in data:
            del row[j : j + 1]
    elif op in ("cell", "column") and data and cols:
        j = rng.randrange(len(cols))
        new = value(rng)
        rows = data if op == "column" else [rng.choice(data)]
        for row in rows:
            row[j : j + 1] = [copy.deepcopy(new)]
        what = f"{name}.{cols[j]} = {short(new)} in {'every row' if op == 'column' else 'one row'}"
    elif op == "dtype" and cols:
        c = rng.choice(cols)
        if not isinstance(entry.get("dtype"), dict):
            entry["dtype"] = {}
        entry["dtype"][c] = rng.choice(["object", "bool", "int8", "foo", 3, None])
        what = f"{name} dtype of {c} = {entry['dtype'][c]!r}"
    elif op == "ragged" and data:
        row = rng.choice(data)
        if rng.random() < 0.5:
            row.append(1.0)
        else:
            row.pop()
        what = f"{name}: one row with a wrong length"
    elif op == "payload" and data and cols and name in ELEMENTS:
        j = rng.randrange(len(cols))
        rng.choice(data)[j : j + 1] = [copy.deepcopy(rng.choice(PAYLOADS))]
        entry["_object"] = json.dumps(inner)
        return f"{name}.{cols[j]} = a _module object", True
    else:
        return f"{name}: nothing to change ({op})", False
    entry["_object"] = json.dumps(inner)
    return what, False


def _json_payload(rng, doc):
    payload = copy.deepcopy(rng.choice(PAYLOADS))
    where = rng.choice(["document", "name", "f_hz", "table", "module"])
    obj = doc.get("_object")
    if where == "document" or not isinstance(obj, dict):
        return payload, f"the document is {short(payload)}"
    tables = [k for k in ("bus", "line", "load", "gen") if isinstance(obj.get(k), dict)]
    if where in ("name", "f_hz") or not tables:
        obj[where] = payload
    elif where == "table":
        obj[rng.choice(tables)] = payload
    else:
        obj[rng.choice(tables)]["_module"] = payload["_module"]
    return doc, f"{where} names module {payload['_module']!r}"


def _names_code(node) -> bool:
    """Whether a decoded document still holds a payload (a later mutation may delete the
    row or table that held one): dicts naming a payload module, also inside the JSON
    texts of the serialised tables."""
    if isinstance(node, dict):
        if node.get("_module") in {p["_module"] for p in PAYLOADS}:
            return True
        return any(_names_code(v) for v in node.values())
    if isinstance(node, list):
        return any(_names_code(v) for v in node)
    if isinstance(node, str) and node[:1] in "{[" and node:
        try:
            return _names_code(json.loads(node))
        except ValueError:
            return False
    return False


def json_case(rng, seeds):
    name, data = rng.choice(seeds)
    doc = json.loads(data)
    steps, payload = [], False
    r = rng.random()
    if r < 0.08:
        doc, what = _json_payload(rng, doc)
        steps.append(what)
        payload = True
    elif r < 0.14:
        doc = rng.choice([[1, 2, 3], {}, None, "net", 3, {"_object": {}}, [doc]])
        steps.append(f"the document is {short(doc)}")
    elif r < 0.18:
        n = rng.choice([1000, 100000])
        text = "[" * n + "]" * n
        return text.encode(), name, [f"a list nested {n} deep"], {}
    else:
        for _ in range(rng.choice([1, 1, 2, 3])):
            if rng.random() < 0.6 and _frames(doc):
                what, hostile = _json_frame(rng, doc)
                payload |= hostile
            else:  # top level: skip the DataFrames' JSON strings
                what = mutate_tree(
                    rng, doc, skip=lambda p: len(p) > 3 or (len(p) == 3 and p[2] == "_object")
                )
            steps.append(what)
    text = undeep(json.dumps(doc))
    return text.encode(), name, steps, {"payload": payload and _names_code(doc)}


def pandapower_seeds() -> list[tuple[str, bytes]]:
    """pandapower nets as ``pandapower.to_json`` writes them (made here, so that they
    match the installed pandapower): case9 as written; case14, and case5 with a
    ConstControl controller, without their empty and result tables."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower as pp
        import pandapower.networks as pn
        import pandas as pd
        from pandapower.control import ConstControl
        from pandapower.timeseries import DFData

        controlled = pn.case5()
        source = DFData(pd.DataFrame({"p": [1.0, 2.0]}))
        ConstControl(
            controlled, "load", "p_mw", element_index=[0], data_source=source, profile_name=["p"]
        )
        out = [("case9.json", pp.to_json(pn.case9()))]
        for name, net in (("case14", pn.case14()), ("case5_controller", controlled)):
            doc = json.loads(pp.to_json(net))
            for k in _frames(doc):  # reading is faster without them
                if k.startswith("res_") or '"data":[]' in doc["_object"][k]["_object"]:
                    del doc["_object"][k]
            out.append((f"{name}_stripped.json", json.dumps(doc)))
    return [(n, t.encode()) for n, t in out]


# ======================================================================================
# the run
# ======================================================================================
def seeds_for(fmt: str) -> list[tuple[str, bytes]]:
    if fmt == "matpower":
        names = ["case4gs.m", "case6ww.m", "case8_quirks.m", "case30.m"]
        return [(n, (ROOT / "tests/data/matpower" / n).read_bytes()) for n in names]
    if fmt == "yaml":
        files = [ROOT / "networks/examples/two_area_hvdc.yaml", *sorted(SEEDS.glob("*.yaml"))]
        return [(p.name, p.read_bytes()) for p in files]
    return pandapower_seeds()


GENERATORS = {"matpower": matpower_case, "yaml": yaml_case, "json": json_case}


def make_case(fmt: str, seeds, seed: int, i: int) -> tuple[bytes, str, list[str], dict]:
    """Case ``i``: ``(bytes, seed file name, mutation steps, options)``."""
    rng = random.Random(f"{seed}/{fmt}/{i}")
    if rng.random() < 0.3:
        name, data = rng.choice(seeds)
        steps, options = [], {}
        if rng.random() < 0.3:  # a structural change first
            data, name, steps, options = GENERATORS[fmt](rng, seeds)
        mutation = rng.choice(BYTE_MUTATIONS)
        data, what = mutation(rng, data)
        return data, name, [*steps, what], options
    return GENERATORS[fmt](rng, seeds)


def argv_for(rng: random.Random, path: str, options: dict) -> list[str]:
    r = rng.random()
    argv = ["info", "--json"] if r < 0.15 else ["pf", "--json", *(["--dc"] if r < 0.25 else [])]
    if "scenario" in options:
        argv += ["--scenario", options["scenario"]]
    return [*argv, path]


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} in the JSON output")

    return json.loads(text, parse_constant=refuse)


def nonfinite(argv: list[str], stdout: str, warnings_text: str) -> list[str]:
    """What is not finite in a successful command's JSON output (empty when all is)."""
    try:
        doc = _strict_json(stdout)
    except ValueError as exc:
        return [f"exit 0 with output that is not finite JSON: {exc}"]
    if argv[0] == "info":
        return []
    out = []
    if not doc.get("converged"):
        out.append("exit 0 but converged is false")
    for key in ("losses_mw", "max_mismatch_mva"):
        if key in doc and doc[key] is None:
            out.append(f"exit 0 with {key} null")
    fields = ("vm_pu", "va_degree", "p_mw", "q_mvar")
    null = [b for b, row in (doc.get("bus") or {}).items() if None in map(row.get, fields)]
    named = [b for b in null if re.search(rf"(?<![\w.]){re.escape(b)}(?![\w.])", warnings_text)]
    if null and not named:  # de-energised buses must be said (a warning naming some of them)
        out.append(f"exit 0 with bus {', '.join(null[:5])} results null, no warning naming them")
    return out


def run_case(argv: list[str], case_s: float) -> tuple[int | None, str, str, str | None]:
    """``gridsim.cli.main(argv)`` with output captured: ``(status, out, err, trouble)``."""
    from gridsim.cli import main

    out, err = io.StringIO(), io.StringIO()
    status, trouble = None, None
    signal.setitimer(signal.ITIMER_REAL, case_s)
    # code that holds the GIL never sees SIGALRM: end the process (with the tracebacks)
    faulthandler.dump_traceback_later(2 * case_s + 10, exit=True)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with warnings.catch_warnings():  # a fresh warning registry, as in a new process
                status = main(argv)
    except CaseTimeout:
        trouble = f"hang: still running after {case_s:g} s"
    except MemoryError:
        trouble = "memory: MemoryError escaped"
    except SystemExit as exc:
        trouble = f"SystemExit({exc.code}) escaped"
    except BaseException as exc:  # noqa: BLE001 - anything escaping main is a failure
        trouble = f"{type(exc).__name__} escaped: {exc}"[:500]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
    return status, out.getvalue(), err.getvalue(), trouble


def _timeout(signum, frame):
    raise CaseTimeout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("n", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--start", type=int, default=0, help="first case number")
    parser.add_argument("--seeds", action="store_true", help="first the seeds as they are")
    parser.add_argument("--only", type=int, nargs="*", help="run only these case numbers")
    parser.add_argument("--keep", type=Path, help="save each input in this folder")
    args = parser.parse_args(argv)
    limit = int(float(os.environ.get("GRIDSIM_FUZZ_MEM_GB", "4")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    case_s = float(os.environ.get("GRIDSIM_FUZZ_CASE_S", "60"))
    signal.signal(signal.SIGALRM, _timeout)
    faulthandler.enable()  # a crash names itself on stderr

    fmt, suffix = args.format, FORMATS[args.format]
    seeds = seeds_for(fmt)
    tmp = Path(tempfile.mkdtemp(prefix=f"gridsim-fuzz-{fmt}-"))
    # a module beside the inputs, importable as under `python -m gridsim.cli` run there
    (tmp / f"{PAYLOAD_MODULE}.py").write_text(
        f"import pathlib\npathlib.Path(__file__).with_name({PAYLOAD_MARKER!r}).touch()\n"
    )
    os.chdir(tmp)
    sys.path.insert(0, str(tmp))
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    counts = {0: 0, 1: 0, 2: 0, "failed": 0}
    cases = args.only if args.only is not None else range(args.start, args.n)
    if args.seeds:  # the seeds as they are, first (cases -1, -2, ...)
        cases = [*range(-1, -len(seeds) - 1, -1), *cases]
    for k, i in enumerate(cases):
        print(json.dumps({"begin": i}), flush=True)
        if i < 0:
            (seed_name, data), steps, options = seeds[-i - 1], ["none (the seed)"], {}
        else:
            data, seed_name, steps, options = make_case(fmt, seeds, args.seed, i)
        path = tmp / f"case{i:05d}{suffix}"
        path.write_bytes(data)
        if args.keep:
            (args.keep / path.name).write_bytes(data)
        argv_ = argv_for(random.Random(f"{args.seed}/{fmt}/{i}/argv"), str(path), options)
        if i < 0:
            argv_ = ["pf", "--json", str(path)]
        before = set(sys.modules)
        start = time.perf_counter()
        # the first case may compile gridsim's kernels: no time bound to speak of
        status, out, err, trouble = run_case(argv_, case_s if k else 600.0)
        seconds = time.perf_counter() - start
        lines = err.splitlines()
        facts: dict = {"payload": bool(options.get("payload"))}
        runner_problems = [trouble] if trouble else []
        imported = [m for m in FORBIDDEN_MODULES if m in sys.modules and m not in before]
        if imported or (tmp / PAYLOAD_MARKER).exists():
            runner_problems.append(f"imported code named by the file: {imported}")
            (tmp / PAYLOAD_MARKER).unlink(missing_ok=True)
            for m in imported:
                del sys.modules[m]
        if status == 0:
            said = (err + _warnings_of(out)).replace(str(path), "FILE")
            facts["nonfinite"] = nonfinite(argv_, out, said)
        rec = {
            "i": i,
            "seed_file": seed_name,
            "mutation": "; ".join(steps),
            "argv": argv_,
            "path": str(path),
            "status": status,
            "stderr": [
                line[:3000] for line in (lines if len(lines) <= 40 else lines[:20] + lines[-20:])
            ],
            "seconds": round(seconds, 3),
            "facts": facts,
            "problems_runner": runner_problems,
        }
        rec["problems"] = problems(rec)
        counts["failed" if rec["problems"] else status] += 1
        print(json.dumps(rec), flush=True)
        path.unlink()
    shutil.rmtree(tmp)
    print(f"{fmt}: {counts}", file=sys.stderr)
    return 0


def _warnings_of(stdout: str) -> str:
    """The ``warnings`` list of a pf JSON document, as text."""
    try:
        return "\n".join(map(str, json.loads(stdout).get("warnings") or []))
    except (ValueError, AttributeError):
        return ""


if __name__ == "__main__":
    sys.exit(main())
