"""Fuzz suite: mutated MATPOWER, YAML and pandapower JSON files through the command line.

For each format one ``runner.py`` process (under an address-space limit, see its
docstring) runs ``GRIDSIM_FUZZ_N`` generated inputs (default 500, seed
``GRIDSIM_FUZZ_SEED``, default 0) through ``gridsim pf``/``info`` in-process, after the
unmodified seed files, and every case must keep :func:`runner.problems`: exit 0 with
finite results, exit 2 with one ``gridsim: error: FILE: ...`` line, or exit 1 for a
reported divergence; no traceback, internal error, hang, memory error or imported code.
A case that kills the runner (a crash, or a hang that SIGALRM cannot interrupt) is
recorded as failed and the runner goes on after it. The three formats run in parallel.

More cases or another seed::

    GRIDSIM_FUZZ_N=5000 GRIDSIM_FUZZ_SEED=1 python -m pytest -q tests/fuzz

One case again, its input saved to a folder::

    python tests/fuzz/runner.py yaml 1 0 --only 123 --keep /tmp/fuzz
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().with_name("runner.py")
_spec = importlib.util.spec_from_file_location("fuzz_runner", RUNNER)
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

N = int(os.environ.get("GRIDSIM_FUZZ_N", "500"))
SEED = int(os.environ.get("GRIDSIM_FUZZ_SEED", "0"))
CHUNK = 250  # cases per runner process; the processes share the cores
BUDGET_S = 900 + 4 * CHUNK  # wall clock for one chunk, restarts included


def run_cases(fmt: str, start: int, stop: int, seed: int) -> list[dict]:
    """The records of cases ``start..stop-1`` of ``fmt`` (and of the seeds when ``start``
    is 0), restarting the runner after a case that killed it; such a case gets a record
    with the runner's last words."""
    records: list[dict] = []
    deadline = time.monotonic() + BUDGET_S
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    seeds = ["--seeds"] if start == 0 else []
    while True:
        proc = subprocess.run(
            [sys.executable, str(RUNNER), fmt, str(stop), str(seed), "--start", str(start), *seeds],
            capture_output=True,
            text=True,
            env=env,
            timeout=max(deadline - time.monotonic(), 1),
        )
        begun = None
        for line in proc.stdout.splitlines():
            rec = json.loads(line)
            if "begin" in rec:
                begun = rec["begin"]
            else:
                records.append(rec)
                begun = None
        if proc.returncode == 0 and begun is None:
            return records
        if begun is None:
            raise AssertionError(f"the {fmt} runner failed outside a case:\n{proc.stderr[-3000:]}")
        words = [s for s in proc.stderr.splitlines() if s.strip()]
        last_words = words[:2] + words[2:][-2:]  # a fatal error's name, a traceback's end
        records.append(
            {
                "i": begun,
                "mutation": "(see runner.py --only)",
                "argv": [],
                "path": "",
                "status": None,
                "stderr": last_words,
                "facts": {},
                "problems_runner": [f"the process died (status {proc.returncode})"],
            }
        )
        if begun + 1 >= stop:
            return records
        start, seeds = max(begun + 1, 0), []


def run_all(n: int, seed: int) -> dict[str, list[dict]]:
    """The records of ``n`` cases of every format, chunks run side by side (the slowest
    format, pandapower JSON, first)."""
    formats = sorted(runner.FORMATS, key=lambda fmt: fmt != "json")
    chunks = [(fmt, a, min(a + CHUNK, n)) for fmt in formats for a in range(0, n, CHUNK)]
    with ThreadPoolExecutor(min(len(chunks), max(os.cpu_count() or 1, 3))) as pool:
        futures = [(fmt, pool.submit(run_cases, fmt, a, b, seed)) for fmt, a, b in chunks]
        out: dict[str, list[dict]] = {fmt: [] for fmt in runner.FORMATS}
        for fmt, future in futures:
            out[fmt] += future.result()
        return out


@pytest.fixture(scope="module")
def results() -> dict[str, list[dict]]:
    return run_all(N, SEED)


@pytest.mark.parametrize("fmt", list(runner.FORMATS))
def test_every_input_keeps_the_contract(results, fmt):
    records = results[fmt]
    cases = {r["i"] for r in records if r["i"] >= 0}
    assert cases == set(range(N)), f"{fmt}: cases missing: {sorted(set(range(N)) - cases)[:20]}"
    failures = []
    for rec in sorted(records, key=lambda r: r["i"]):
        broken = runner.problems(rec)
        if broken:
            failures.append(
                f"case {rec['i']} ({rec.get('seed_file', '?')}: {rec['mutation'][:200]}) "
                f"{' '.join(rec['argv'][:-1])} -> exit {rec['status']}: {'; '.join(broken)}\n"
                + "\n".join(f"    {line[:300]}" for line in rec["stderr"][:6])
            )
    if failures:
        pytest.fail(
            f"{len(failures)} of {len(records)} {fmt} inputs break the contract (reproduce "
            f"case I with `python tests/fuzz/runner.py {fmt} 1 {SEED} --only I --keep DIR`):\n"
            + "\n".join(failures),
            pytrace=False,
        )


@pytest.mark.parametrize("fmt", list(runner.FORMATS))
def test_the_seeds_solve_and_the_mutants_reach_every_outcome(results, fmt):
    """The unmodified seeds give exit 0 (a pandapower controller may be refused), and the
    mutants are accepted and refused alike: the generator is not degenerate."""
    seeds = [r for r in results[fmt] if r["i"] < 0]
    assert seeds and all(r["status"] == 0 or "controller" in r["seed_file"] for r in seeds), [
        (r["seed_file"], r["stderr"]) for r in seeds
    ]
    statuses = [r["status"] for r in results[fmt] if r["i"] >= 0]
    assert statuses.count(0) >= N // 20 and statuses.count(2) >= N // 5, statuses
