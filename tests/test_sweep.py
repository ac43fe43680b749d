"""``gridsim.sweep``: parameters, rows against single runs, executors, resume.

References: each row is compared with an independent single run on the network that
:func:`apply_parameters` builds (table edits, ``apply_transfer``, a fresh compile and
``run_ac`` / ``transfer_capability`` / ``ac_contingency``), one point also with
pandapower; rows from different executors and chunkings are compared with each other.
Tolerances: 1e-9 MW / % / p.u. between executors (the same arithmetic), 1e-6 between a
row and its single run (a different but equivalent assembly of the injections).
"""

from __future__ import annotations

import os
import signal
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridsim
from gridsim.analysis.sweep import ParameterError, apply_parameters, parse_parameters, sweep
from gridsim.analysis.sweep.evaluate import pf_summary

ROOT = Path(__file__).resolve().parents[1]
CASPIAN = ROOT / "networks" / "caspian_eu.yaml"

TOL_EXACT = 1e-9  # MW, %, p.u.: executors and chunkings run the same arithmetic
TOL_SINGLE = 1e-6  # MW, %, p.u.: a row against its single run

# 2 structures (a circuit count) x 3 export levels x 2 zone load scales = 12 points
PARAMS = {
    "line:L_RS220_01:circuits": [1, 2],
    "export_mw": "-200:200:200",
    "load_scale:RS": "0.95,1.05",
}


@pytest.fixture(scope="module")
def net2032():
    return gridsim.load_network(CASPIAN, scenario="2032")


@pytest.fixture(scope="module")
def serial_rows(net2032):
    return sweep(net2032, PARAMS, executor="serial")


def assert_rows_equal(a: pd.DataFrame, b: pd.DataFrame, tol: float = TOL_EXACT) -> None:
    assert list(a.columns) == list(b.columns)
    assert a.point_id.tolist() == b.point_id.tolist()
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, atol=tol, rtol=0
    )


# -- parameters --------------------------------------------------------------------------


def test_values_lists_ranges_and_booleans(net2032):
    params = parse_parameters(
        net2032,
        {
            "load_scale": "0.8:1.2:0.1",
            "export_mw": "0:300:100",
            "hvdc:DC_BLACKSEA_1:in_service": "true,false",
            "line:L_RS_05:rate_mva": [1000, 1500.5],
            "scenario": "2030,2032",
            "load_scale:WB": 1.1,
        },
    )
    by_key = {p.key: p for p in params}
    assert by_key["load_scale"].values == (0.8, 0.9, 1.0, 1.1, 1.2)  # stop included, rounded
    assert by_key["export_mw"].values == (0.0, 100.0, 200.0, 300.0)
    assert by_key["hvdc:DC_BLACKSEA_1:in_service"].values == (True, False)
    assert by_key["line:L_RS_05:rate_mva"].values == (1000.0, 1500.5)
    assert by_key["scenario"].values == ("2030", "2032")
    assert by_key["load_scale:WB"].values == (1.1,)
    assert [p.structural for p in params] == [False, False, True, True, True, False]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("line:L_NOPE:parallel", "2", "has no line 'L_NOPE'"),
        ("cable:L_RS_05:parallel", "2", "unknown element type 'cable'"),
        ("line:L_RS_05:circuit", "2", "line has no field 'circuit'"),
        ("line:L_RS_05:circuits", "1.5", "circuits = 1.5 is not a whole number"),
        ("hvdc:DC_AKH_B2B:circuits", "2", "hvdc has no field 'circuits'"),
        ("line:L_RS_05:from_bus", "X", "is not a number or true/false"),
        ("line:L_RS_05:rate_mva", "-100", "rate_mva = -100 is negative"),
        ("line:L_RS_05:rate_mva", "abc", "'abc' is not a number"),
        ("line:L_RS_05:parallel", "0.5,1", "parallel = 0.5 is below 1"),
        ("line:L_RS_05:parallel", "3:1:1", "is empty"),
        ("line:L_RS_05:parallel", "1:3:0", "zero step"),
        ("line:L_RS_05:parallel", "1,1", "given twice"),
        ("hvdc:DC_AKH_B2B:in_service", "maybe", "'maybe' is not true/false"),
        ("hvdc:DC_AKH_B2B:max_p_mw", "0", "max_p_mw = 0 is not positive"),
        ("gen:G_RS_NIS_CCGT:max_q_mvar", "-1e5", "min_q_mvar exceeds max_q_mvar"),
        ("load_scale", "-1", "is negative"),
        ("load_scale:XX", "1", "'XX' is neither a zone nor a group"),
        ("scenario", "2040", "'2040' is not a scenario"),
        ("export_mw", "nan", "not a finite number"),
        ("voltage", "1", "unknown key"),
    ],
)
def test_bad_parameters_name_the_parameter(net2032, key, value, message):
    with pytest.raises(ParameterError) as info:
        parse_parameters(net2032, {key: value})
    text = str(info.value)
    assert message in text and "\n" not in text
    assert key.split(":")[0] in text


def test_circuits_keep_the_rating_per_circuit(net2032):
    line = net2032.line.loc["L_RS220_01"]
    two = apply_parameters(net2032, {"line:L_RS220_01:circuits": 2}).line.loc["L_RS220_01"]
    assert two.parallel == 2
    assert abs(two.rate_mva - 2 * line.rate_mva / line.parallel) < 1e-9  # MVA
    alone = apply_parameters(net2032, {"line:L_RS220_01:parallel": 2}).line.loc["L_RS220_01"]
    assert alone.parallel == 2 and alone.rate_mva == line.rate_mva  # MVA: all circuits


def test_bad_parameter_stops_the_sweep_before_any_work(net2032, tmp_path):
    seen = []
    with pytest.raises(ParameterError):
        sweep(
            net2032,
            {"export_mw": [0, 100], "line:L_RS_05:rate_mva": "0:100:50"},
            out=tmp_path / "r.parquet",
            on_chunk=seen.append,
        )
    assert not seen and not list(tmp_path.iterdir())


# -- rows against single runs ------------------------------------------------------------


def test_grid_order_and_columns(serial_rows):
    rows = serial_rows
    assert len(rows) == 12 and rows.point_id.tolist() == list(range(12))
    # the last key varies fastest
    assert rows["load_scale:RS"].tolist()[:4] == [0.95, 1.05, 0.95, 1.05]
    assert rows["export_mw"].tolist()[:6] == [-200.0, -200.0, 0.0, 0.0, 200.0, 200.0]
    assert rows["line:L_RS220_01:circuits"].tolist() == [1.0] * 6 + [2.0] * 6
    assert rows.converged.all() and (rows.error == "").all()
    assert (rows.max_mismatch_mva < 1e-6).all()  # MVA
    # physics: more export, more HVDC losses (converter losses grow with the flow)
    by_export = rows.groupby("export_mw").hvdc_losses_mw.mean()
    assert by_export.is_monotonic_increasing


@pytest.mark.parametrize("index", [0, 5, 7, 11])
def test_rows_match_single_runs(net2032, serial_rows, index):
    row = serial_rows.iloc[index]
    point = {k: row[k] for k in PARAMS}
    single = pf_summary(gridsim.run_ac(apply_parameters(net2032, point), init="flat"))
    for col in ("losses_mw", "hvdc_losses_mw", "max_loading_percent", "min_vm_pu", "max_vm_pu"):
        assert abs(single[col] - row[col]) < TOL_SINGLE, col
    for col in ("converged", "iterations", "max_loading_branch", "n_overloaded"):
        assert single[col] == row[col], col


def test_point_network_against_pandapower(net2032, serial_rows):
    """One point, solved by pandapower on the network apply_parameters builds."""
    pp = pytest.importorskip("pandapower")
    row = serial_rows.iloc[9]
    network = apply_parameters(net2032, {k: row[k] for k in PARAMS})
    net = gridsim.to_pandapower(network)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, lightsim2grid=False, init="flat", tolerance_mva=1e-8, max_iteration=30)
    vm = net.res_bus.vm_pu.dropna()
    assert abs(vm.min() - row.min_vm_pu) < 1e-6  # p.u.
    assert abs(vm.max() - row.max_vm_pu) < 1e-6  # p.u.
    ac_losses = net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()
    assert abs(ac_losses - row.losses_mw) < 1e-3  # MW


def test_scenario_and_switch_parameters(net2032):
    params = {"scenario": ["2026", "2032"], "hvdc:DC_AKH_B2B:in_service": [True]}
    rows = sweep(net2032, params, executor="serial")
    for _, row in rows.iterrows():
        ref = gridsim.run_ac(gridsim.load_network(CASPIAN, scenario=row.scenario))
        assert abs(ref.losses_mw - row.losses_mw) < TOL_SINGLE
    assert rows.losses_mw.iloc[0] != rows.losses_mw.iloc[1]


def test_transfer_rows_match_transfer_capability(net2032):
    params = {"export_mw": [0.0, 200.0]}
    rows = sweep(net2032, params, analysis="transfer", executor="serial")
    for _, row in rows.iterrows():
        network = apply_parameters(net2032, {"export_mw": row.export_mw})
        ref = gridsim.transfer_capability(network, "AZ", "RS_RO")
        assert abs(ref.ttc_mw - row.ttc_mw) < 1e-6  # MW
        assert ref.limit_type == row.limit_type
        assert f"{ref.limiting_element[0]}:{ref.limiting_element[1]}" == row.limiting_element
        assert abs(ref.losses_mw - row.ttc_losses_mw) < 1e-6  # MW
    assert rows.ttc_mw.iloc[1] <= rows.ttc_mw.iloc[0]  # more export already: less headroom


def test_contingency_rows_match_ac_contingency(net2032):
    rows = sweep(net2032, {"load_scale:RS": [1.0]}, analysis="contingency", executor="serial")
    row = rows.iloc[0]
    summary = gridsim.contingency_summary(gridsim.ac_contingency(net2032))
    assert row.n_outages == len(summary)
    assert row.n_islanding_outages == int((summary.status == "islanded").sum())
    top = summary.iloc[0]
    assert abs(row.worst_outage_loading_percent - top.max_loading_percent) < TOL_SINGLE
    assert row.worst_outage == f"{summary.index[0][0]}:{summary.index[0][1]}"
    over = (summary.max_loading_percent > 100) | (summary.status == "diverged")
    assert row.n_violating_outages == int(over.sum())


def test_a_point_that_cannot_be_solved_is_a_row_not_a_crash(net2032):
    # the load of Serbia four times over: far beyond what the grid can carry
    rows = sweep(net2032, {"load_scale:RS": [1.0, 4.0]}, executor="serial")
    assert rows.converged.tolist() == [True, False]
    assert rows.error.iloc[1] and np.isnan(rows.losses_mw.iloc[1])


# -- executors, chunking, resume -----------------------------------------------------------


def test_chunking_does_not_change_rows(net2032, serial_rows):
    rows = sweep(net2032, PARAMS, executor="serial", chunk_size=5)
    assert_rows_equal(rows, serial_rows)


def test_local_executor_gives_the_serial_rows_even_when_a_worker_dies(net2032, serial_rows):
    import multiprocessing

    killed = []

    def kill_a_worker(frame):  # after the first chunk: the pool breaks, chunks are redone
        children = multiprocessing.active_children()
        if not killed and children:
            os.kill(children[0].pid, signal.SIGKILL)
            killed.append(children[0].pid)

    rows = sweep(net2032, PARAMS, executor="local", workers=2, chunk_size=1, on_chunk=kill_a_worker)
    assert killed
    assert_rows_equal(rows, serial_rows)


def test_interrupted_sweep_resumes_without_recomputing(net2032, serial_rows, tmp_path):
    out = tmp_path / "rows.parquet"
    first: list[int] = []

    def interrupt_after_two(frame):
        first.extend(frame.point_id)
        if len(first) >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(
            net2032, PARAMS, executor="serial", chunk_size=2, out=out, on_chunk=interrupt_after_two
        )
    assert not out.exists() and len(first) == 4
    second: list[int] = []
    rows = sweep(
        net2032,
        PARAMS,
        executor="serial",
        chunk_size=5,
        out=out,
        on_chunk=lambda f: second.extend(f.point_id),
    )
    assert sorted(first + second) == list(range(12))  # nothing computed twice
    assert rows.attrs["computed_points"] == 8
    assert_rows_equal(rows, serial_rows)
    assert_rows_equal(pd.read_parquet(out), serial_rows)
    # complete: a rerun computes nothing; another sweep into the same file is refused
    again = sweep(net2032, PARAMS, executor="serial", out=out, on_chunk=second.append)
    assert again.attrs["computed_points"] == 0 and len(second) == 8
    with pytest.raises(ParameterError, match="holds another sweep"):
        sweep(net2032, {"export_mw": [0.0]}, executor="serial", out=out)
    sweep(net2032, {"export_mw": [0.0]}, executor="serial", out=out, overwrite=True)
    assert len(pd.read_parquet(out)) == 1


# -- Dask ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_gives_the_serial_rows(net2032, serial_rows, dask_client):
    rows = sweep(net2032, PARAMS, executor=dask_client, chunk_size=2)
    assert_rows_equal(rows, serial_rows)
    # the same cluster by its scheduler's address (``gridsim sweep --scheduler``)
    address = dask_client.scheduler.address
    rows = sweep(net2032, PARAMS, executor="dask", scheduler=address, chunk_size=5)
    assert_rows_equal(rows, serial_rows)


def test_dask_worker_killed_mid_sweep_loses_no_point(net2032, serial_rows, dask_client, tmp_path):
    pids = dask_client.run(os.getpid)
    assert len(pids) == 2
    killed = []

    def kill_one_worker(frame):
        if not killed:
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    out = tmp_path / "rows.parquet"
    rows = sweep(
        net2032, PARAMS, executor=dask_client, chunk_size=1, out=out, on_chunk=kill_one_worker
    )
    assert killed
    assert_rows_equal(rows, serial_rows)
    assert_rows_equal(pd.read_parquet(out), serial_rows)
