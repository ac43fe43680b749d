"""The NumPy fast path of the MATPOWER parser (plain numeric ``[...]`` blocks read in one
go, issue 14 item 4) gives exactly what the exact parser gives, or the same error.

Each text is parsed twice: as it is, and with the fast path switched off (so every block
goes through the exact, per-token parser). Arrays must match in dtype, shape and every
bit (NaN and the sign of zero included); refused texts must be refused with the same
message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gridsim.exceptions import InvalidNetworkError
from gridsim.io.matpower import parse as matpower
from gridsim.io.matpower import parse_matpower

DATA = Path(__file__).resolve().parents[1] / "data" / "matpower"

HEAD = "function mpc = t\nmpc.version = '2';\nmpc.baseMVA = 100;\n"
BUS = "mpc.bus = [\n 1 3 0 0 0 0 1 1 0 230 1 1.1 0.9;\n 2 1 10 5 0 0 1 1 0 230 1 1.1 0.9;\n];\n"
GEN = "mpc.gen = [\n 1 0 0 100 -100 1 100 1 200 0;\n];\n"
BRANCH = "mpc.branch = [\n 1 2 0.01 0.1 0 0 0 0 0 0 1;\n];\n"
BASE = HEAD + BUS + GEN + BRANCH

VARIANTS = {
    "base": BASE,
    "ragged": BASE.replace("0.9;\n 2", "0.9 7;\n 2"),
    "short row": BASE.replace(" 0.9;", ";", 1),
    "bracket in a comment": BASE.replace("0.9;\n 2", "0.9; % [MW]\n 2"),
    "comment on the last line": BASE.replace("0.9;\n];", "0.9;\n% end ]\n];", 1),
    "Inf": BASE.replace("100 -100", "Inf -Inf"),
    "NaN": BASE.replace("100 -100", "NaN -100"),
    "Nan": BASE.replace("100 -100", "Nan -100"),
    "expression": BASE.replace("230 1 1.1", "230/sqrt(3) 1 1.1", 1),
    "continuation": BASE.replace("1 1 0 230 1", "1 1 0 ...\n 230 1", 1),
    "block comment": BASE.replace(" 2 1 10", "%{\n junk ] x\n%}\n 2 1 10"),
    "one line": HEAD
    + "mpc.bus = [1 3 0 0 0 0 1 1 0 230 1 1.1 0.9; 2 1 10 5 0 0 1 1 0 230 1 1.1 0.9];\n"
    + GEN
    + BRANCH,
    "commas": BASE.replace(" 0 0 0 0 1", ",0,0,0,0,1"),
    "empty gen": HEAD + BUS + "mpc.gen = [];\n" + BRANCH,
    "blank rows": BASE.replace(";\n 2", ";;\n\n   \n 2", 1),
    "truncated gencost": BASE + "mpc.gencost = [\n 2 0 0 3 0.1 1 0;\n 2 0 0;\n];\n",
    "bus names": BASE + "mpc.bus_name = {\n\t'A''s';\n\t'B %x';\n};\n",
    "unclosed": BASE.replace("];", ""),
    "no-break space": BASE.replace(" 0.9;\n 2", "\u00a00.9;\n 2"),
    "bad number": BASE.replace("230", "2e3e", 1),
    "signs and dots": BASE.replace("230", "+2.30e+2", 1).replace("0.01", ".01"),
    "form feed": BASE.replace(" 2 1 10", "\f2 1 10"),
}
FILES = sorted(DATA.glob("*.m"))


def _parse(text: str):
    try:
        return "ok", parse_matpower(text, "f.m")
    except InvalidNetworkError as exc:
        return "error", str(exc)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize(
    "text",
    list(VARIANTS.values()) + [p.read_text() for p in FILES],
    ids=list(VARIANTS) + [p.stem for p in FILES],
)
def test_fast_path_equals_the_exact_parser(monkeypatch, text):
    fast = _parse(text)
    monkeypatch.setattr(matpower._Parser, "_plain_matrix", lambda self: None)
    exact = _parse(text)
    assert fast[0] == exact[0], (fast, exact)
    assert _same(fast[1], exact[1]), (fast, exact)


def test_the_fast_path_is_taken(monkeypatch):
    """Plain numeric blocks go through the fast path (so the comparison above compares two
    different readers), the others do not."""
    taken = []
    original = matpower._Parser._plain_matrix

    def spy(self):
        out = original(self)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(matpower._Parser, "_plain_matrix", spy)
    parse_matpower(BASE, "f.m")
    assert taken == [True, True, True]
    taken.clear()
    parse_matpower(VARIANTS["expression"], "f.m")
    assert taken[0] is False and taken[1:] == [True, True]
