"""N-1 TTC by successive security-constrained LPs beside the heuristic search (issue 17,
acceptance 6).

Group ``ttc-corridor``: on ``networks/caspian_eu.yaml`` in its 2032 scenario, AZ -> RS,
:func:`gridsim.analysis.ttc.n1_ttc` (optimal HVDC setpoints, preventive redispatch in
the source and sink zones, base case secured first, every ordinary contingency with AC
verification; as the model stands its base case cannot be secured, so also with the
insecure outages set aside, which runs the transfer phase) and today's
``transfer_capability(n_1=True)`` heuristic search, in the same run, each after one
untimed call (JIT and caches). The network file is read once, untimed. Target: under
5 s on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

MODEL = Path(__file__).resolve().parents[1] / "networks" / "caspian_eu.yaml"
TARGET_S = 5.0


def _network():
    import gridsim

    return gridsim.load_network(MODEL, scenario="2032")


def test_ttc_2032_optimal(benchmark):
    from gridsim.analysis.ttc import n1_ttc

    network = _network()
    kwargs = {"redispatch_areas": ["AZ", "RS"]}
    first = n1_ttc(network, "AZ", "RS", **kwargs)
    benchmark.group = "ttc-corridor"
    result = benchmark.pedantic(n1_ttc, (network, "AZ", "RS"), kwargs, rounds=3, iterations=1)
    assert result.status == first.status
    benchmark.extra_info["ttc_mw"] = result.ttc_mw
    benchmark.extra_info["status"] = result.status
    benchmark.extra_info["message"] = result.message
    benchmark.extra_info["ac_checks"] = result.ac_checks
    benchmark.extra_info["outages"] = len(result.ordinary)


def test_ttc_2032_optimal_set_aside(benchmark):
    """The transfer phase itself: the base case cannot be secured on this model, so the
    outages left violated are set aside (``set_aside_insecure``) and the TTC is solved;
    published limits ignored (one solve)."""
    from gridsim.analysis.ttc import n1_ttc

    network = _network()
    kwargs = {
        "redispatch_areas": ["AZ", "RS"],
        "set_aside_insecure": True,
        "published_limits": "ignore",
    }
    first = n1_ttc(network, "AZ", "RS", **kwargs)
    benchmark.group = "ttc-corridor"
    result = benchmark.pedantic(n1_ttc, (network, "AZ", "RS"), kwargs, rounds=3, iterations=1)
    assert result.ttc_mw == first.ttc_mw
    benchmark.extra_info["ttc_mw"] = result.ttc_mw
    benchmark.extra_info["status"] = result.status
    benchmark.extra_info["ac_checks"] = result.ac_checks
    benchmark.extra_info["set_aside"] = len(result.set_aside)


def test_ttc_2032_heuristic(benchmark):
    from gridsim.analysis.transfer import transfer_capability

    network = _network()
    first = transfer_capability(network, "AZ", "RS", n_1=True)
    benchmark.group = "ttc-corridor"
    result = benchmark.pedantic(
        transfer_capability, (network, "AZ", "RS"), {"n_1": True}, rounds=3, iterations=1
    )
    assert result.ttc_mw == first.ttc_mw
    benchmark.extra_info["ttc_mw"] = result.ttc_mw
