"""``gridsim sweep`` under hostile and sloppy use (issue 15, items 9-12).

Sweeps interrupted with Ctrl-C under the serial executor, killed with SIGKILL under the
local process pool, run twice into one output at the same time, resumed over a part file
cut short, pointed at outputs that are not a sweep's, and given bad numbers. Each ends
with exit status 0, 2 or 130 and one line per event on stderr, leaves no process behind,
deletes nothing that is not gridsim's, and loses no point (a rerun resumes).

Every subprocess has a timeout and every wait a bounded number of polls; the waits poll
for files and processes, never time the code under test.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import one_line_error
from conftest import run_cli as run

import gridsim
from gridsim.analysis.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]
CASPIAN = ROOT / "networks" / "caspian_eu.yaml"

# 16 points of one AC N-1 study each, one point per chunk: a part file a point, and
# long enough to be stopped in the middle
N_POINTS = 16
SLOW = [
    "sweep",
    CASPIAN,
    "--scenario",
    "2032",
    "--param",
    "export_mw=0:300:20",
    "--analysis",
    "contingency",
    "--chunk-size",
    "1",
]
POLLS, POLL_S = 1200, 0.05  # at most a minute of polling per wait
TIMEOUT_S = 120  # any subprocess

posix_only = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc of Linux")


def _sigint_default() -> None:
    """Ctrl-C as a terminal delivers it: a test run started in the background (a shell
    without job control) ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list, **kwargs) -> subprocess.Popen:
    """``gridsim ARGS`` in a subprocess of its own process group (as a shell job)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gridsim.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_default if os.name == "posix" else None,
        **kwargs,
    )


def parts(out: Path) -> list[Path]:
    return sorted(Path(f"{out}.parts").glob("part-*.parquet"))


def wait_for(condition, proc: subprocess.Popen) -> None:
    """Poll ``condition()`` until true (bounded); fail if ``proc`` ends first."""
    for _ in range(POLLS):
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"gridsim ended first: {proc.returncode} {proc.communicate()[1]}")
        time.sleep(POLL_S)
    pytest.fail("gridsim did not get there within a minute")


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Processes below ``pid`` (from /proc)."""
    parent_of = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent_of[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parent_of.items() if parent in frontier} - found
        found |= frontier
    return found


def computed_here(stdout: str) -> int:
    match = re.search(rf"{N_POINTS} points \((\d+) computed here\)", stdout)
    assert match, stdout
    return int(match.group(1))


# -- item 10: Ctrl-C and SIGKILL --------------------------------------------------------


@posix_only
def test_ctrl_c_in_a_serial_sweep_exits_130_with_one_line_and_a_rerun_resumes(tmp_path, capsys):
    out = tmp_path / "rows.parquet"
    proc = start([*SLOW, "--executor", "serial", "--out", out])
    try:
        wait_for(lambda: len(parts(out)) >= 2, proc)
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole job
        _, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = err.splitlines()
    assert len(lines) == 1 and "internal error" not in err, err
    match = re.fullmatch(
        rf"gridsim: interrupted: (\d+) of {N_POINTS} points saved in {re.escape(str(out))}; "
        "rerun the same command to resume",
        lines[0],
    )
    assert match, lines[0]
    saved = int(match.group(1))
    assert saved == len(parts(out)) >= 2
    assert not Path(f"{out}.lock").exists()
    # the rerun computes only the points that were not saved
    status, stdout, err = run([*SLOW, "--executor", "serial", "--out", out], capsys)
    assert status == 0 and err == ""
    assert computed_here(stdout) == N_POINTS - saved
    assert pd.read_parquet(out).point_id.tolist() == list(range(N_POINTS))


@posix_only
def test_sigkill_of_a_local_sweep_ends_its_workers_and_a_rerun_takes_over(tmp_path, capsys):
    out = tmp_path / "rows.parquet"
    proc = start([*SLOW, "--executor", "local", "--workers", "2", "--out", out])
    workers: set[int] = set()
    try:
        wait_for(lambda: len(parts(out)) >= 1, proc)  # the workers are computing
        workers = descendants(proc.pid)
        assert len(workers) >= 2
        proc.kill()
        proc.wait(timeout=TIMEOUT_S)  # not its pipes: live workers would hold them open
        for _ in range(200):  # the workers follow within a few seconds (10 s at most)
            if not any(running(pid) for pid in workers):
                break
            time.sleep(POLL_S)
        left = sorted(pid for pid in workers if running(pid))
        assert not left, f"processes of the killed sweep still running: {left}"
    finally:
        proc.kill()
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT_S)
    # the dead sweep's lock is taken over (one warning line) and its parts are kept
    saved = len(parts(out))
    status, stdout, err = run([*SLOW, "--executor", "serial", "--out", out], capsys)
    assert status == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gridsim: warning: "), err
    assert f"pid {proc.pid} " in lines[0] and "taking it over" in lines[0]
    assert computed_here(stdout) == N_POINTS - saved
    assert not Path(f"{out}.lock").exists()


# -- item 11: Dask's own lines stay off stderr -------------------------------------------


def test_dask_lines_stay_off_stderr_when_a_worker_is_lost(tmp_path, capfd):
    pytest.importorskip("distributed")
    net = gridsim.load_network(CASPIAN, scenario="2032")
    params = {"export_mw": "0:300:100", "load_scale:RS": "0.95,1.05"}
    killed = []

    def lose_a_worker(frame):
        if killed:
            return
        from distributed import get_client

        pids = get_client().run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        killed.append(pids)
        # what the scheduler logs when a result dies with its worker (not always
        # reached in so short a sweep, so said here as it says it)
        logging.getLogger("distributed.scheduler").error(
            "Couldn't gather keys: %s", {"gridsim-sweep-x": "memory"}
        )

    rows = sweep(
        net,
        params,
        executor="dask",
        workers=1,
        chunk_size=1,
        out=tmp_path / "rows.parquet",
        on_chunk=lose_a_worker,
    )
    assert killed and rows.point_id.tolist() == list(range(8)) and rows.converged.all()
    assert capfd.readouterr().err == ""


# -- item 12: one sweep per output; a damaged part ---------------------------------------


@posix_only
def test_a_second_sweep_into_the_same_output_is_refused(tmp_path, capsys):
    out = tmp_path / "rows.parquet"
    first = start([*SLOW, "--executor", "serial", "--out", out])
    try:
        wait_for(lambda: len(parts(out)) >= 1, first)
        status, stdout, err = run([*SLOW, "--executor", "serial", "--out", out], capsys)
        assert first.poll() is None  # still writing: the refusal was not a late one
        assert status == 2 and stdout == ""
        line = one_line_error(err)
        assert f"{out}: is being written by gridsim pid {first.pid} on " in line
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=TIMEOUT_S)
    assert first.returncode == 130


def test_a_part_file_cut_short_is_computed_again_with_one_line_each(tmp_path, capsys):
    net = gridsim.load_network(CASPIAN, scenario="2032")
    params = {"line:L_RS220_01:circuits": [1, 2], "export_mw": "-200:200:200"}
    keys = ["--param", "line:L_RS220_01:circuits=1,2", "--param", "export_mw=-200:200:200"]
    out = tmp_path / "rows.parquet"
    done = []

    def stop_after_four(frame):
        done.append(frame)
        if len(done) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(net, params, executor="serial", chunk_size=1, out=out, on_chunk=stop_after_four)
    cut, emptied = parts(out)[1:3]
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # a footer lost
    emptied.write_bytes(b"")
    args = ["sweep", CASPIAN, "--scenario", "2032", *keys, "--executor", "serial"]
    status, stdout, err = run([*args, "--out", out], capsys)
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 2, err
    for line, part in zip(lines, (cut, emptied), strict=True):
        assert line.startswith("gridsim: warning: ") and part.name in line
        assert "computed again" in line
    assert "6 points (4 computed here)" in stdout
    expected = sweep(net, params, executor="serial")
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_exact=False, atol=1e-9)


# -- item 9: outputs that are not a sweep's ----------------------------------------------


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "main.py").write_text("print('mine')\n")
    return tmp_path / "work"


def _file(tmp_path: Path) -> Path:
    (tmp_path / "notes.parquet").write_text("my notes\n")
    return tmp_path / "notes.parquet"


def _parts_folder(tmp_path: Path) -> Path:
    (tmp_path / "rows.parquet.parts").mkdir()
    (tmp_path / "rows.parquet.parts" / "notes.txt").write_text("mine\n")
    return tmp_path / "rows.parquet"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_folder, "is a folder"),
        (_file, "is not a gridsim sweep output"),
        (_parts_folder, "is not the parts folder of a gridsim sweep"),
        (lambda tmp: Path("/proc/gridsim-no/rows.parquet"), "cannot write"),
    ],
    ids=["folder", "unrelated-file", "unrelated-parts-folder", "unwritable"],
)
def test_overwrite_never_touches_what_is_not_a_sweeps_output(tmp_path, capsys, make, message):
    out = make(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = ["sweep", CASPIAN, "--scenario", "2032", "--param", "export_mw=0,100"]
    status, stdout, err = run([*args, "--executor", "serial", "--out", out, "--overwrite"], capsys)
    assert status == 2 and stdout == ""
    assert message in one_line_error(err)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


# -- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        ["--workers", "0"],
        ["--workers", "-3"],
        ["--workers", "nan"],
        ["--chunk-size", "0"],
        ["--param", "export_mw=nan"],
        ["--param", "export_mw=0:100:0"],
        ["--param", "export_mw=0:nan:10"],
        ["--param", "load_scale=inf"],
    ],
)
def test_bad_numbers_exit_2_with_one_line(tmp_path, capsys, extra):
    args = ["sweep", CASPIAN, "--scenario", "2032", "--out", tmp_path / "rows.parquet"]
    if extra[0] != "--param":
        args += ["--param", "export_mw=0"]
    status, stdout, err = run([*args, *extra], capsys)
    assert status == 2 and stdout == ""
    one_line_error(err)
    assert not list(tmp_path.iterdir())
