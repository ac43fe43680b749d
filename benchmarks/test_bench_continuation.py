"""Continuation power flow to the nose (issue 18, acceptance 4).

Group ``continuation-case1354pegase``: ``gridsim.continuation`` on pandapower's
case1354pegase along MATPOWER's example direction (every load, P and Q, and every
non-slack generator grow by their own base value per unit λ: ``Direction.scaling(net,
1.0)``), from the base case (solved inside the call) one step past the nose, with and
without reactive limits (73 PV→PQ switches, each located to 0.01 Mvar). The network is
converted and compiled once, untimed; every timed call runs after one untimed call (JIT
and the symbolic LU of the augmented system). ``extra_info["cpu_seconds"]`` is the
median process CPU time of five calls (steadier than wall time on a shared host).
Target: a full P–V curve to the nose in at most 1 s on 2 cores (read off the report;
not asserted: speed is measured here, not tested).
"""

from __future__ import annotations

import warnings

import pytest
from conftest import case, cpu_seconds


@pytest.mark.parametrize("q_limits", [False, True], ids=["no-qlim", "qlim"])
def test_continuation_case1354pegase(benchmark, q_limits):
    import gridsim
    from gridsim.analysis.continuation import Direction, continuation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = gridsim.from_pandapower(case("case1354pegase"))
    network.compile()
    direction = Direction.scaling(network, 1.0)

    def run():
        return continuation(network, direction, enforce_q_limits=q_limits)

    first = run()  # JIT, ordering and symbolic LU
    assert first.status == "nose", first.message
    benchmark.group = "continuation-case1354pegase"
    result = benchmark.pedantic(run, rounds=5, iterations=1)
    assert result.lambda_nose == first.lambda_nose
    benchmark.extra_info.update(
        lambda_nose=result.lambda_nose,
        transfer_nose_mw=result.transfer_nose_mw,
        points=len(result.curve),
        corrector_iterations=result.iterations,
        reactive_limit_switches=len(result.events),
        cpu_seconds=cpu_seconds(run),
    )
