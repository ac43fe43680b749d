"""Repeated ``gridsim.pandapower.runpp`` calls on one net (the time-series pattern):
the compiled network is reused while only injections change, and compiled again when
anything else does; every result equals pandapower's."""

from __future__ import annotations

import copy
import warnings

import pytest
from pp_dropin import assert_same_results, pp

import gridsim.pandapower as gp

pn = pytest.importorskip("pandapower.networks")


def _net():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pn.example_multivoltage()
    net.gen.loc[0, "p_mw"] = 10.0
    pp.create_storage(net, 5, p_mw=1.0, max_e_mwh=4)
    return net


def _compiled(net):
    return gp._CACHE[id(net)][1].base


def _same_as_pandapower(net):
    ref = copy.deepcopy(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(ref, lightsim2grid=False)
        gp.runpp(net)
    assert_same_results(ref, net)


def test_injections_reuse_the_compiled_network():
    net = _net()
    _same_as_pandapower(net)
    first = _compiled(net)
    for step in range(3):
        net.load.p_mw *= 1.1
        net.load.q_mvar *= 0.9
        net.sgen.loc[net.sgen.index[:3], "scaling"] = 0.5 + 0.2 * step
        net.gen.loc[0, "p_mw"] = 5.0 + step
        net.storage.loc[0, "p_mw"] = -1.0 + step
        net.xward.loc[0, "ps_mw"] += 1.0
        _same_as_pandapower(net)
        assert _compiled(net) is first


def _set(table, column, value):
    def edit(net):
        net[table][column] = value(net[table]) if callable(value) else value

    return edit


EDITS = {
    "line-r": _set("line", "r_ohm_per_km", lambda t: t.r_ohm_per_km * 1.2),
    "switch": _set("switch", "closed", lambda t: t.closed | (t.index == t.index[3])),
    "load-service": _set("load", "in_service", lambda t: t.index != t.index[2]),
    "tap": _set("trafo", "tap_pos", lambda t: t.tap_pos + 1),
    "gen-vm": _set("gen", "vm_pu", 1.01),
    "ext-grid-vm": _set("ext_grid", "vm_pu", 1.0),
    "shunt-step": _set("shunt", "step", 2),
}


@pytest.mark.parametrize("name", EDITS)
def test_anything_else_compiles_again(name):
    net = _net()
    _same_as_pandapower(net)
    first = _compiled(net)
    EDITS[name](net)
    _same_as_pandapower(net)
    assert _compiled(net) is not first


def test_option_change_compiles_again():
    net = _net()
    gp.runpp(net)
    first = _compiled(net)
    gp.runpp(net, trafo_model="pi")
    assert _compiled(net) is not first
