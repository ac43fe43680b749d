"""Border flows between zones."""

from __future__ import annotations

from pathlib import Path

import gridsim
from gridsim.analysis.borders import border_flows


def test_border_flow_sums_the_branches_between_two_zones_in_the_net_direction():
    net = gridsim.Network(
        {
            "bus": [
                {"id": i, "vn_kv": 400.0, "zone": z}
                for i, z in ((1, "AA"), (2, "AA"), (3, "BB"), (4, "BB"))
            ],
            "line": [
                {"id": "a", "from_bus": 1, "to_bus": 2, "r_ohm_per_km": 1.0, "x_ohm_per_km": 10.0},
                {"id": "x1", "from_bus": 2, "to_bus": 3, "r_ohm_per_km": 1.0, "x_ohm_per_km": 10.0},
                {"id": "x2", "from_bus": 4, "to_bus": 1, "r_ohm_per_km": 1.0, "x_ohm_per_km": 12.0},
                {"id": "b", "from_bus": 3, "to_bus": 4, "r_ohm_per_km": 1.0, "x_ohm_per_km": 10.0},
            ],
            "ext_grid": [{"id": "g", "bus": 1}],
            "load": [{"id": "d", "bus": 3, "p_mw": 200.0}],
        }
    )
    res = gridsim.run_ac(net)
    flows = border_flows(net, res)
    line = res.line
    expected = line.p_from_mw["x1"] + line.p_to_mw["x2"]  # both measured leaving AA
    assert set(flows) == {("AA", "BB")}
    assert abs(flows[("AA", "BB")] - expected) < 1e-9
    assert 199.0 < flows[("AA", "BB")] < 201.0  # the load in BB, plus BB's share of losses


def test_no_zones_no_borders():
    root = Path(__file__).resolve().parents[1]
    net = gridsim.load_network(root / "networks" / "examples" / "two_area_hvdc.yaml")
    assert border_flows(net, gridsim.run_ac(net)) == {}


def test_a_border_without_net_flow_is_zero_from_the_first_zone():
    """A net flow of round-off size has no direction: 0 MW, written from the
    alphabetically first zone (not flipped by the sign of 1e-12 MW)."""
    from types import SimpleNamespace

    import pandas as pd

    network = SimpleNamespace(bus=pd.DataFrame({"zone": ["AA", "BB", "CC"]}, index=[1, 2, 3]))
    branch = pd.DataFrame(
        {
            "from_bus": [1, 2, 1],
            "to_bus": [2, 1, 3],
            "p_from_mw": [50.0, 50.0 + 1e-12, 20.0],
            "p_to_mw": [-49.0, -50.0 - 1e-12, -19.5],
        }
    )
    flows = border_flows(network, SimpleNamespace(branch=branch))
    # AA -> BB: 50 leaves AA on the first line, 50 + 1e-12 enters AA on the second
    assert flows == {("AA", "BB"): 0.0, ("AA", "CC"): 20.0}
