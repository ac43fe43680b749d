"""Benchmark fixtures. Run with ``pytest benchmarks/`` (not part of the test run)."""

from __future__ import annotations

import copy
import warnings
from functools import cache

import pytest

pp = pytest.importorskip("pandapower")
import pandapower.networks as pn  # noqa: E402

CASES = ["case118", "case1354pegase", "case9241pegase"]


@cache
def _case(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(pn, name)()


def case(name: str):
    """A fresh copy of a pandapower bundled case."""
    return copy.deepcopy(_case(name))


def lightsim2grid_model(net):
    """A lightsim2grid grid model of ``net`` (pandapower 3 transformer model), or skip."""
    ls = pytest.importorskip("lightsim2grid")
    from lightsim2grid.network import init_from_pandapower

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_from_pandapower(net, pp_orig_file="pandapower_v3")
    return ls, model
