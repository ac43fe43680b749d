"""Maps: the shipped country borders, element names and what a loading map draws."""

from __future__ import annotations

import numpy as np
import pytest

import gridsim
from gridsim.analysis.contingency import ac_outage
from gridsim.plot import borders, element_name, label_name, plot_map, short_name
from gridsim.study.job import default_network


@pytest.fixture(scope="module")
def net():
    return gridsim.load_network(default_network(), scenario="2026")


def test_borders_are_the_regions_countries_clipped_and_closed():
    countries = {c["name"]: c for c in borders()}
    assert {"Serbia", "Azerbaijan", "Georgia", "Turkey", "Romania", "Bulgaria"} <= set(countries)
    for c in countries.values():
        for ring in c["rings"]:
            xy = np.asarray(ring)
            assert ring[0] == ring[-1] and len(ring) >= 4
            assert (xy[:, 0] >= 12.0).all() and (xy[:, 0] <= 52.0).all()  # lon, degree
            assert (xy[:, 1] >= 34.0).all() and (xy[:, 1] <= 50.0).all()  # lat, degree
    # Serbia's outline holds Niš (21.9 E, 43.3 N): even-odd rule on its rings
    x, y = 21.9, 43.3
    inside = False
    for ring in countries["Serbia"]["rings"]:
        for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:], strict=True):
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
    assert inside


def test_elements_are_named_as_a_planner_names_them(net):
    assert short_name("Kruševac 1 220 kV (city of Kruševac)") == "Kruševac 1"
    assert element_name(net, "line", "L_RS220_01") == "Niš 2–Kruševac 1 220 kV"
    assert label_name(net, "line L_RS220_01") == "Niš 2–Kruševac 1 220 kV"
    assert element_name(net, "bus", "RS_NIS2_400") == "Niš 2 400 kV"
    assert element_name(net, "hvdc", "DC_AKH_B2B") == "Akhaltsikhe HVDC converter (DC_AKH_B2B)"
    assert "transformer" in element_name(net, "trafo", net.trafo.index[0])
    assert label_name(net, "bus NOT_THERE") == "bus NOT_THERE"


def test_map_draws_borders_the_limiting_element_and_the_outage(net, tmp_path):
    from PIL import Image

    outage = ("line", "L_RS_06")
    res = ac_outage(net, outage, enforce_q_limits=True)
    path = tmp_path / "map.png"
    plot_map(net, res, path, title="test", highlight=("line", "L_RS220_01"), outage=outage)
    with Image.open(path) as im:
        meta = dict(im.text)
        rgb = np.asarray(im.convert("RGB"), dtype=int)
    assert meta["gridsim:highlight"] == "line L_RS220_01"
    assert meta["gridsim:outage"] == "line L_RS_06"
    # land is filled in its colour (#f4f1ea): the borders were drawn
    land = (np.abs(rgb - [0xF4, 0xF1, 0xEA]).sum(axis=2) <= 6).mean()
    assert land > 0.2, land
