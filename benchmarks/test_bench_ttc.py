"""N-1 TTC by successive security-constrained LPs beside the heuristic search (issue 17,
acceptance 6).

Groups ``ttc-corridor-RS`` and ``ttc-corridor-EU``: on ``networks/caspian_eu.yaml`` in
its 2032 scenario, AZ -> RS and AZ -> EU, :func:`gridsim.analysis.ttc.n1_ttc` (optimal
HVDC setpoints, preventive redispatch in the source and sink zones, base case secured
first, every ordinary contingency with AC verification; published limits solved side by
side as by default) and today's ``transfer_capability(n_1=True)`` heuristic search, in
the same run, each after one untimed call (JIT and caches). As the model stands its
base case cannot be secured, so ``n1_ttc`` is also timed with the insecure outages set
aside (``set_aside_insecure=True``), which runs the transfer phase (twice: physical and
published). The network file is read once, untimed. Target: under 5 s on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MODEL = Path(__file__).resolve().parents[1] / "networks" / "caspian_eu.yaml"
TARGET_S = 5.0
SINKS = ["RS", "EU"]


def _network():
    import gridsim

    return gridsim.load_network(MODEL, scenario="2032")


def _ttc(benchmark, sink, **options):
    from gridsim.analysis.ttc import n1_ttc

    network = _network()
    kwargs = {"redispatch_areas": ["AZ", sink], **options}
    first = n1_ttc(network, "AZ", sink, **kwargs)
    benchmark.group = f"ttc-corridor-{sink}"
    result = benchmark.pedantic(n1_ttc, (network, "AZ", sink), kwargs, rounds=3, iterations=1)
    assert result.status == first.status
    assert result.ttc_mw == first.ttc_mw or not result.defined
    benchmark.extra_info["ttc_mw"] = result.ttc_mw
    benchmark.extra_info["ttc_published_mw"] = result.ttc_published_mw
    benchmark.extra_info["status"] = result.status
    benchmark.extra_info["message"] = result.message
    benchmark.extra_info["ac_checks"] = result.ac_checks
    benchmark.extra_info["outages"] = len(result.ordinary)
    benchmark.extra_info["set_aside"] = len(result.set_aside)


@pytest.mark.parametrize("sink", SINKS)
def test_ttc_2032_optimal(benchmark, sink):
    """The method as it stands on the model: the base-case phase, which says the base
    case cannot be secured."""
    _ttc(benchmark, sink)


@pytest.mark.parametrize("sink", SINKS)
def test_ttc_2032_optimal_set_aside(benchmark, sink):
    """The transfer phase too: the outages left violated at zero transfer set aside."""
    _ttc(benchmark, sink, set_aside_insecure=True)


@pytest.mark.parametrize("sink", SINKS)
def test_ttc_2032_heuristic(benchmark, sink):
    from gridsim.analysis.transfer import transfer_capability

    network = _network()
    first = transfer_capability(network, "AZ", sink, n_1=True)
    benchmark.group = f"ttc-corridor-{sink}"
    result = benchmark.pedantic(
        transfer_capability, (network, "AZ", sink), {"n_1": True}, rounds=3, iterations=1
    )
    assert result.ttc_mw == first.ttc_mw
    benchmark.extra_info["ttc_mw"] = result.ttc_mw
