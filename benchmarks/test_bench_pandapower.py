"""The pandapower drop-in (issue 16): ``gridsim.pandapower.runpp`` against
``pandapower.runpp(lightsim2grid=False)`` and ``pandapower.runpp(lightsim2grid=True)``.

Groups (pytest-benchmark ``group``), rows by ``tool``, every call with runpp's default
options (start "auto", tolerance 1e-8 p.u.) and all result tables filled:

- ``dropin-first-<net>``: the first call on a net (each round a fresh copy, made
  untimed): conversion, compilation, solve and result tables;
- ``dropin-repeat-<net>``: repeated calls on one net whose loads change between calls
  (the time-series pattern; gridsim reuses the compiled network).

Nets: case9241pegase, SimBench's 1-EHV-mixed--0-sw and mv_oberrhein (pandapower refuses
lightsim2grid on the last two: several ext_grids without distributed slack).
``python benchmarks/ratios.py bench.json`` prints the ratios.
"""

from __future__ import annotations

import copy
import warnings
from functools import cache

import pytest
from conftest import case, pp

import gridsim.pandapower as gp

NETS = ["case9241pegase", "1-EHV-mixed--0-sw", "mv_oberrhein"]
TOOLS = ["gridsim", "pandapower", "lightsim2grid"]


@cache
def _net(name: str):
    if name.startswith("1-"):
        sb = pytest.importorskip("simbench")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sb.get_simbench_net(name)
    return case(name)


def _runner(tool: str):
    if tool == "lightsim2grid":
        pytest.importorskip("lightsim2grid")

    def run(net):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if tool == "gridsim":
                gp.runpp(net)
            else:
                pp.runpp(net, lightsim2grid=tool == "lightsim2grid")
        assert net.converged

    return run


def _warm(run, net, name: str) -> None:
    """One untimed call (JIT, imports); skip where pandapower refuses lightsim2grid
    (nets with several ext_grids need its distributed slack)."""
    try:
        run(net)
    except NotImplementedError as exc:
        pytest.skip(f"{name}: {exc}")


def _rounds(name: str) -> int:
    return 5 if name == "case9241pegase" else 15


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", NETS)
def test_dropin_first_call(benchmark, name, tool):
    benchmark.group = f"dropin-first-{name}"
    run = _runner(tool)
    _warm(run, copy.deepcopy(_net(name)), name)

    def fresh():
        return (copy.deepcopy(_net(name)),), {}

    benchmark.pedantic(run, setup=fresh, rounds=_rounds(name), iterations=1)


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", NETS)
def test_dropin_repeated_calls(benchmark, name, tool):
    benchmark.group = f"dropin-repeat-{name}"
    run = _runner(tool)
    net = copy.deepcopy(_net(name))
    base = net.load.p_mw.copy()
    _warm(run, net, name)
    step = iter(range(10**6))

    def next_loads():
        net.load["p_mw"] = base * (0.98 + 0.002 * (next(step) % 20))
        return (net,), {}

    benchmark.pedantic(run, setup=next_loads, rounds=3 * _rounds(name), iterations=1)
