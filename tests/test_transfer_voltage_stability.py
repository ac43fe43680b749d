"""Issue 18 in the transfer capability: a trial whose power flow diverges is judged by a
continuation power flow along the transfer. Voltage collapse binds as the nose less a
stated margin (closed-form noses of a long line), a Newton failure where a solution
exists is not a limit, a continuation that fails is a solver failure, and the study
draws the P-V curves where voltage stability binds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import one_line_error, run_cli

import gridsim
from gridsim.analysis import transfer
from gridsim.analysis.transfer import TransferSolverError, transfer_capability

V_KV = 400.0
X_OHM = 100.0  # each long line: P_max = V^2 / (2 X) = 800 MW through one of them
LOAD_MW = 100.0  # the sink's own load: the transfer's nose is P_max - LOAD_MW


def _long_line(*, circuits: int = 1, rate_mva: float | None = None) -> gridsim.Network:
    """A stiff 400 kV source (slack) with a generator (the transfer's source) feeding
    a 100 MW unity power factor load (the sink) over ``circuits`` lossless lines of
    100 ohm each, no voltage limits."""
    return gridsim.Network(_data(circuits, rate_mva))


def _data(circuits: int, rate_mva: float | None) -> dict:
    line = {"from_bus": 1, "to_bus": 2, "r_ohm_per_km": 0.0, "x_ohm_per_km": X_OHM}
    if rate_mva is not None:
        line["rate_mva"] = rate_mva
    return {
        "bus": [{"id": 1, "vn_kv": V_KV, "zone": "A"}, {"id": 2, "vn_kv": V_KV, "zone": "B"}],
        "line": [{"id": f"L{k}", "length_km": 1.0, **line} for k in range(1, circuits + 1)],
        "ext_grid": [{"id": "grid", "bus": 1, "vm_pu": 1.0}],
        "gen": [{"id": "G", "bus": 1, "p_mw": 0.0, "vm_pu": 1.0, "max_p_mw": 5000.0}],
        "load": [{"id": "D", "bus": 2, "p_mw": LOAD_MW, "q_mvar": 0.0}],
    }


def _p_max(x_ohm: float) -> float:
    """Maximum power through a lossless reactance from a stiff 1 p.u. source to a unity
    power factor load, MW."""
    return V_KV**2 / (2 * x_ohm)


def test_voltage_collapse_binds_as_the_nose_less_the_margin():
    """Rated far above the nose: the transfer diverges before any thermal limit. The TTC
    is 95 % of the nose exactly, the nose is the closed form V^2/(2X) less the sink's own
    load and the one gridsim.continuation finds directly, within 1e-6."""
    net = _long_line(rate_mva=2000.0)
    result = transfer_capability(net, ["G"], ["D"], tol_mw=1.0)
    nose = _p_max(X_OHM) - LOAD_MW
    assert result.limit_type == "voltage_stability"
    assert result.limiting_element == ("bus", 2) and result.limiting_contingency is None
    assert abs(result.nose_mw / nose - 1) < 1e-6
    assert abs(result.ttc_mw - 0.95 * result.nose_mw) <= 1e-9 * nose
    direct = gridsim.continuation(net, (["G"], ["D"]))
    assert abs(result.nose_mw / direct.transfer_nose_mw - 1) < 1e-6
    # the whole solved transfer range is within limits; past the nose nothing converges
    assert gridsim.run_ac(result.network_at(result.ttc_mw)).converged
    assert not gridsim.run_ac(result.network_at(1.001 * nose), max_iter=50).converged
    assert result.curve[result.curve.transfer_mw <= result.ttc_mw].within_limits.all()
    assert not result.curve[result.curve.transfer_mw > result.ttc_mw].within_limits.any()


@pytest.mark.parametrize("margin", [0.0, 0.1])
def test_the_margin_is_a_parameter(margin):
    net = _long_line()
    result = transfer_capability(
        net, ["G"], ["D"], tol_mw=1.0, voltage_stability_margin=margin, max_mw=5000.0
    )
    nose = _p_max(X_OHM) - LOAD_MW
    assert result.voltage_stability_margin == margin
    assert result.limit_type == "voltage_stability"
    assert abs(result.ttc_mw / ((1 - margin) * nose) - 1) < 1e-6


def test_bad_margin_is_a_transfer_error():
    with pytest.raises(transfer.TransferError, match="voltage_stability_margin"):
        transfer_capability(_long_line(), ["G"], ["D"], voltage_stability_margin=1.0)


def test_after_an_outage_the_post_outage_nose_binds():
    """Two circuits: intact the nose is V^2/X less the load; after either outage it is
    V^2/(2X) less the load, which binds and names the outage."""
    net = _long_line(circuits=2, rate_mva=3000.0)
    result = transfer_capability(net, ["G"], ["D"], n_1=True, tol_mw=1.0)
    nose = _p_max(X_OHM) - LOAD_MW
    assert result.limit_type == "voltage_stability"
    assert result.limiting_contingency in {("line", "L1"), ("line", "L2")}
    assert result.nose_contingency == result.limiting_contingency
    assert abs(result.nose_mw / nose - 1) < 1e-6
    assert abs(result.ttc_mw - 0.95 * result.nose_mw) <= 1e-9 * nose
    # the same curve from the result, and the intact one twice as far
    after = result.pv_curve(result.limiting_contingency)
    assert abs(after.transfer_nose_mw / nose - 1) < 1e-6
    intact = result.pv_curve()
    assert abs(intact.transfer_nose_mw / (2 * _p_max(X_OHM) - LOAD_MW) - 1) < 1e-6


@pytest.mark.parametrize("n_1", [False, True])
def test_the_margin_holds_where_no_trial_diverges(n_1):
    """A cap (max_mw) just below the nose: every trial up to it converges, yet the TTC
    keeps 5 % from the nose (the search solves the cap / 0.95 and traces the curve that
    diverges there); a cap further down is the limit, and no curve is traced."""
    circuits = 2 if n_1 else 1
    net = _long_line(circuits=circuits)
    nose = _p_max(X_OHM) - LOAD_MW  # one circuit in service
    cap = 0.97 * nose
    result = transfer_capability(net, ["G"], ["D"], n_1=n_1, tol_mw=1.0, max_mw=cap)
    assert result.curve.converged.all()
    assert result.limit_type == "voltage_stability"
    assert abs(result.ttc_mw / (0.95 * nose) - 1) < 1e-6
    if n_1:
        assert result.limiting_contingency in {("line", "L1"), ("line", "L2")}
    lower = transfer_capability(net, ["G"], ["D"], n_1=n_1, tol_mw=1.0, max_mw=0.9 * nose)
    assert lower.limit_type == "max_mw" and lower.ttc_mw == pytest.approx(0.9 * nose)
    assert np.isnan(lower.nose_mw)


def _failing_once(monkeypatch, at_least_mw: float):
    """Make the transfer's power flows of the first trial above ``at_least_mw`` fail (a
    Newton failure where a solution exists); returns the transfers that failed."""
    real = transfer.run_ac
    failed: list[float] = []

    def run_ac(net, **kwargs):
        moved = float(net.load.p_mw["D"]) - LOAD_MW
        if moved > at_least_mw and (not failed or failed[0] == moved) and len(failed) < 2:
            failed.append(moved)
            return real(net, **{**kwargs, "max_iter": 1})
        return real(net, **kwargs)

    monkeypatch.setattr(transfer, "run_ac", run_ac)
    return failed


def test_a_newton_failure_where_a_solution_exists_is_not_a_limit(monkeypatch):
    """The thermal limit (300 MVA) binds well below the nose (700 MW). A trial whose
    power flow fails (flat start and warm start) is solved again from the continuation
    power flow's voltages: the TTC and its limit are those of an undisturbed search."""
    ref = transfer_capability(_long_line(rate_mva=300.0), ["G"], ["D"], tol_mw=1.0)
    assert ref.limit_type == "thermal" and np.isnan(ref.nose_mw)
    failed = _failing_once(monkeypatch, 0.0)
    result = transfer_capability(_long_line(rate_mva=300.0), ["G"], ["D"], tol_mw=1.0)
    assert len(failed) == 2  # flat start and the last trial's voltages
    assert result.limit_type == "thermal"
    assert result.limiting_element == ref.limiting_element
    assert result.ttc_mw == pytest.approx(ref.ttc_mw, abs=1e-9)
    # the curve traced on the way found the nose, which does not bind here
    assert abs(result.nose_mw / (_p_max(X_OHM) - LOAD_MW) - 1) < 1e-6
    assert result.curve.converged.all()


def test_a_continuation_that_fails_is_a_solver_failure(monkeypatch):
    """A trial that diverges while the continuation ends before any nose and before
    the trial: TransferSolverError naming the transfer, not a limit."""
    _failing_once(monkeypatch, 0.0)
    real = transfer.continuation
    monkeypatch.setattr(transfer, "continuation", lambda *a, **k: real(*a, **{**k, "max_steps": 1}))
    with pytest.raises(TransferSolverError, match=r"solver failure at \d+\.\d MW") as info:
        transfer_capability(_long_line(rate_mva=300.0), ["G"], ["D"], tol_mw=1.0)
    assert info.value.contingency is None and info.value.transfer_mw > 0
    assert "not a limit" in str(info.value) and "iterations" in str(info.value)
    assert isinstance(info.value, gridsim.ConvergenceError)


def test_the_command_line_says_solver_failure_and_exits_1(monkeypatch, capsys, tmp_path):
    path = tmp_path / "line.yaml"
    path.write_text(yaml.safe_dump({"gridsim": 1, **_data(1, 300.0)}))
    _failing_once(monkeypatch, 0.0)
    real = transfer.continuation
    monkeypatch.setattr(transfer, "continuation", lambda *a, **k: real(*a, **{**k, "max_steps": 1}))
    status, out, err = run_cli(
        ["transfer", path, "--source", "A", "--sink", "B", "--tol-mw", "1"], capsys
    )
    assert status == 1
    assert "solver failure at" in one_line_error(err)


# -- the study: P-V curves where voltage stability binds ----------------------------------


def test_study_draws_the_pv_curves_where_voltage_stability_binds(tmp_path):
    """The study's voltage-stability step on a case where it binds: the noses (intact
    and after the limiting outage) are computed, the case is flagged, a P-V figure is
    drawn and the report names it with its margin; on a case far from the nose the
    report says so with the smallest margin."""
    from gridsim.study import figures, report, runner

    net = _long_line(circuits=2, rate_mva=3000.0)
    result = transfer_capability(net, ["G"], ["D"], n_1=True, tol_mw=1.0)
    row, curves = runner.voltage_stability(result)
    nose = _p_max(X_OHM) - LOAD_MW
    assert row["pv_computed"] and row["pv_near"]
    assert abs(row["nose_after_outage_mw"] / nose - 1) < 1e-6
    assert abs(row["nose_intact_mw"] / (2 * _p_max(X_OHM) - LOAD_MW) - 1) < 1e-6
    assert row["nose_margin_percent"] == pytest.approx(100 * (1 / 0.95 - 1), rel=1e-6)
    assert set(curves.outage) == {"", " ".join(map(str, result.limiting_contingency))}
    head = pd.DataFrame(
        [
            {
                "year": "2030",
                "sink": "RS",
                "n_1": True,
                "case": "base",
                "route": "all",
                "site": "",
                "status": "ok",
                "scheduled_export_mw": 0.0,
                "ttc_mw": result.ttc_mw,
                "limit_type": result.limit_type,
                "limiting_element": "bus 2",
                "limiting_contingency": "line L1",
                **row,
            }
        ]
    )
    key = head.iloc[0][["year", "sink", "n_1", "case", "route", "site"]].to_dict()
    curves = curves.assign(**key)
    (tmp_path / "figures").mkdir()
    names = figures.pv_figures(head, curves, tmp_path / "figures")
    assert names == ["pv_2030_RS_n1.png"]
    import matplotlib.image as mpimg

    img = mpimg.imread(tmp_path / "figures" / names[0])
    assert img.shape[0] > 100 and float(np.std(img)) > 0.01
    lines = "\n".join(report.voltage_stability_section(head, names))
    assert "![P-V curves" in lines and "figures/pv_2030_RS_n1.png" in lines
    assert "5.3" in lines  # the margin, percent
    # far from the nose: no figure, and the report says how far
    far = head.assign(pv_near=False, nose_margin_percent=42.0, limit_type="thermal")
    lines = "\n".join(report.voltage_stability_section(far, []))
    assert "no case comes within 10 %" in lines.lower() and "42" in lines
