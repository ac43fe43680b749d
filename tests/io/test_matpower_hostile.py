"""Malformed and hostile MATPOWER files: exit 2 with one line naming the file, or a
faithful reading; never an internal error, a NumPy warning or an unbounded message.

The inputs are the MATPOWER ones that ended in ``gridsim: internal error`` or printed raw
warnings (issue 15, item 9, and what ``tests/fuzz`` found around it).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error

from gridsim import run_ac
from gridsim.cli import main
from gridsim.exceptions import InvalidNetworkError
from gridsim.io.matpower import read_matpower

CASE4 = Path(__file__).resolve().parents[1] / "data" / "matpower" / "case4gs.m"
BUS_ROW = "\t{i}\t{t}\t50\t10\t0\t0\t1\t1\t0\t{kv}\t1\t1.1\t0.9;\n"
GEN_ROW = "\t1\t0\t0\t100\t-100\t1.0\t100\t1\t100\t0;\n"
BRANCH_ROW = "\t1\t2\t{r}\t{x}\t0.02\t100\t100\t100\t0\t0\t1;\n"


def _case(
    bus: str | None = None,
    gen: str = GEN_ROW,
    branch: str | None = None,
    base: str = "100",
    version: str = "'2'",
    kv: str = "345",
) -> str:
    bus = bus or BUS_ROW.format(i=1, t=3, kv=kv) + BUS_ROW.format(i=2, t=1, kv=kv)
    branch = branch or BRANCH_ROW.format(r=0.01, x=0.1)
    return (
        f"function mpc = hostile\nmpc.version = {version};\nmpc.baseMVA = {base};\n"
        f"mpc.bus = [\n{bus}];\nmpc.gen = [\n{gen}];\nmpc.branch = [\n{branch}];\n"
    )


def _pf(tmp_path, capsys, content: str | bytes, *options: str) -> tuple[int, str, str]:
    path = tmp_path / "hostile.m"
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    status = main(["pf", str(path), *options])
    out, err = capsys.readouterr()
    return status, out, err


REFUSED = {
    "no generator": (_case(gen=""), "no in-service generator at a REF or PV bus"),
    "generators out of service": (
        _case(gen=GEN_ROW.replace("\t100\t1\t100", "\t100\t0\t100")),
        "no in-service generator at a REF or PV bus",
    ),
    "every bus isolated": (
        _case(bus=BUS_ROW.format(i=1, t=4, kv=345) + BUS_ROW.format(i=2, t=4, kv=345)),
        "every bus is isolated (BUS_TYPE = 4)",
    ),
    "version a matrix": (_case(version="[1 2 3]"), "mpc.version = a 1x3 matrix is not supported"),
    "version empty": (_case(version="[]"), "mpc.version = [] is not supported"),
    "version a cell": (_case(version="{'2'; '3'}"), "mpc.version = a cell array of 2 rows"),
    "baseMVA empty": (_case(base="[]"), "mpc.baseMVA = [] is not a number"),
    "baseMVA a matrix": (_case(base="[100 100]"), "mpc.baseMVA = a 1x2 matrix is not a number"),
    "bus number past int64": (
        _case(bus=BUS_ROW.format(i="1e19", t=3, kv=345) + BUS_ROW.format(i=2, t=1, kv=345)),
        "bus row 1: BUS_I = 1e+19 is not a positive integer bus number",
    ),
    "branch values that overflow": (
        _case(branch=BRANCH_ROW.format(r=0.01, x="1e306")),
        "branch row 1: BR_R = 0.01, BR_X = 1e+306, BR_B = 0.02, TAP = 0 with BASE_KV 345 kV are "
        "out of range (x_ohm_per_km overflows)",
    ),
    "transformer values that overflow": (
        _case(branch=BRANCH_ROW.format(r="-1e307", x=0.1)),
        "branch row 1: BR_R = -1e+307, BR_X = 0.1, BR_B = 0.02, TAP = 0 with BASE_KV 345 kV are "
        "out of range (vk_percent overflows)",
    ),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_with_one_line_naming_the_file(tmp_path, capsys, name):
    """Exit 2, one line ``gridsim: error: FILE: ...``; no warning of any kind on the way."""
    text, words = REFUSED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy overflow warning would fail the read
        status, _, err = _pf(tmp_path, capsys, text)
    line = one_line_error(err)
    assert status == 2
    assert line.startswith(f"gridsim: error: {tmp_path / 'hostile.m'}: ") and words in line, line


def test_no_warning_for_a_refused_case(tmp_path):
    """The reader warns about a case it accepts (BASE_KV = 0 here), not before a refusal."""
    path = tmp_path / "refused.m"
    bus = BUS_ROW.format(i=1, t=3, kv=0).replace("1.1\t0.9", "0.9\t1.1")
    path.write_text(_case(bus=bus + BUS_ROW.format(i=2, t=1, kv=0)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidNetworkError, match="bus 1: min_vm_pu exceeds max_vm_pu"):
            read_matpower(path)
    assert [str(w.message) for w in caught] == []


def test_warnings_before_a_refusal_are_not_printed(tmp_path, capsys):
    """BASE_KV = 0 warns, but a refused case (an island without a slack) ends in exactly one
    line: the error (warnings held back until the command ends are dropped for bad input)."""
    bus = BUS_ROW.format(i=1, t=3, kv=0) + BUS_ROW.format(i=2, t=1, kv=0)
    branch = BRANCH_ROW.format(r=0.01, x=0.1).replace("\t1;", "\t0;")  # out of service
    status, _, err = _pf(tmp_path, capsys, _case(bus=bus, branch=branch))
    assert status == 2
    assert "island of 1 bus(es) (2) has no slack" in one_line_error(err)


def test_long_tokens_are_clipped_in_messages(tmp_path, capsys):
    huge = "x" * 100_000
    for text in (
        _case(gen=GEN_ROW.replace("\t1.0\t", f"\t{huge}\t")),  # a matrix entry
        _case(base=huge),  # a scalar
        _case() + f"mpc.{huge} = 1 {huge};\n",  # a statement
        _case() + f"mpc.a.{huge}(1) = 1;\n",  # an indexed assignment
    ):
        status, _, err = _pf(tmp_path, capsys, text)
        line = one_line_error(err)
        assert status == 2 and len(line) < 300, line[:300]


def test_tiny_base_kv_is_replaced_like_zero(tmp_path, capsys):
    """BASE_KV only sets the base of the ohmic values: one whose impedance base underflows
    is replaced by 1 kV, as BASE_KV <= 0 is, and the case solves to the same voltages."""
    good = tmp_path / "good.m"
    good.write_text(_case())
    tiny = tmp_path / "tiny.m"
    tiny.write_text(_case(kv="1e-200"))
    with pytest.warns(UserWarning, match="BASE_KV <= 0 or out of range"):
        net = read_matpower(tiny)
    assert (net.bus.vn_kv == 1.0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        vm = run_ac(net).bus.vm_pu.to_numpy()
    np.testing.assert_allclose(vm, run_ac(read_matpower(good)).bus.vm_pu.to_numpy(), atol=1e-12)


def test_base_mva_as_a_one_by_one_matrix(tmp_path):
    path = tmp_path / "bracketed.m"
    path.write_text(_case(base="[100]"))
    assert read_matpower(path).sn_mva == 100.0


@pytest.mark.parametrize(
    "encode",
    [lambda t: b"\xef\xbb\xbf" + t.encode(), lambda t: t.encode("utf-16")],
    ids=["utf-8 with a byte order mark", "utf-16 with a byte order mark"],
)
def test_byte_order_marks(tmp_path, capsys, encode):
    status, out, err = _pf(tmp_path, capsys, encode(CASE4.read_text()))
    plain = main(["pf", str(CASE4)])
    assert status == plain == 0, err
    assert out.splitlines()[:3] == capsys.readouterr().out.splitlines()[:3]


def test_bad_utf16_is_refused(tmp_path):
    path = tmp_path / "odd.m"
    path.write_bytes(b"\xff\xfe" + CASE4.read_text().encode("utf-16-le")[:-1])
    with pytest.raises(InvalidNetworkError, match="not valid UTF-16 text"):
        read_matpower(path)
