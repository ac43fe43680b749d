"""``gridsim.sweep``: a grid of parameter points, evaluated in chunks on an executor."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd

from gridsim.analysis.sweep.evaluate import (
    ANALYSES,
    SweepSpec,
    evaluate_chunk,
    result_columns,
)
from gridsim.analysis.sweep.params import (
    EXPORT,
    SCENARIO,
    Parameter,
    ParameterError,
    export_area,
    parse_parameters,
    scenario_network,
)
from gridsim.analysis.sweep.store import SweepStore
from gridsim.exceptions import GridsimError
from gridsim.model.network import Network
from gridsim.model.schema import BOOL, FLOAT, SCHEMA

EXECUTORS = ("serial", "local", "dask")
MAX_POINTS = 10_000_000
LOCAL_RETRIES = 3  # fresh process pools after a worker process died


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (SIGINT) or a ``KeyboardInterrupt`` from ``on_chunk``.

    Attributes
    ----------
    saved : int
        Points whose rows are in the output (0 without one); a rerun computes the others.
    total : int
        Points of the grid.
    """

    def __init__(self, saved: int, total: int):
        super().__init__(f"{saved} of {total} points saved")
        self.saved = saved
        self.total = total


def sweep(
    network: Network | str | os.PathLike,
    parameters: Mapping[str, Any],
    *,
    analysis: str = "pf",
    executor: Any = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    source: Any = None,
    sink: Any = None,
    n_1: bool = False,
    enforce_q_limits: bool = False,
    tol_mva: float = 1e-8,
    max_iter: int = 30,
    on_chunk: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Evaluate an analysis at every point of a parameter grid.

    Parameters
    ----------
    network : Network or path
        The base network, or a network file (read with its default scenario).
    parameters : mapping of str to values
        Key to values, in the order the grid is built (the last key varies fastest).
        Keys: ``ELEMENT:ID:FIELD``, ``scenario``, ``export_mw``, ``load_scale`` and
        ``load_scale:AREA``; values: a list, one value, or text ``"V1,V2,..."`` or
        ``"START:STOP:STEP"`` (stop included). See
        :mod:`gridsim.analysis.sweep.params`. Everything is checked before any work.
    analysis : {"pf", "transfer", "contingency"}
        ``"pf"``: an AC power flow per point; ``"transfer"``: the power flow and
        :func:`gridsim.transfer_capability` from ``source`` to ``sink`` (default: the
        scenario's export); ``"contingency"``: the power flow and
        :func:`gridsim.ac_contingency` over every in-service branch.
    executor : {"serial", "local", "dask"} or distributed.Client
        ``"local"`` (default): a process pool over ``workers`` (default: all cores);
        ``"serial"``: this process; ``"dask"``: a Dask cluster at ``scheduler``, or a
        ``LocalCluster`` of ``workers`` processes started and stopped here; or a
        ``distributed.Client`` to use as it is. Rows do not depend on the executor or
        the chunking.
    chunk_size : int, optional
        Points per task (default: about four tasks per worker, 64 to 256 power flows,
        one transfer or contingency study). A chunk never mixes network structures.
    out : path, optional
        Parquet file of the results, written chunk by chunk; a rerun with the same
        ``out`` and the same sweep resumes where it stopped (see
        :mod:`gridsim.analysis.sweep.store`). Locked while the sweep runs.
    overwrite : bool
        Replace results of a different sweep found at ``out`` instead of refusing
        (never a file or folder that is not a sweep's output).
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal).
    source, sink : optional
        Area or ids of the export (``export_mw``) and of the transfer analysis; default
        the scenario's ``export`` block.
    n_1 : bool
        Transfer capability with every branch outage (``analysis="transfer"``).
    enforce_q_limits : bool
        Reactive limits in the power flows of the ``pf`` and ``contingency`` analyses
        (the transfer search always enforces them, as :func:`gridsim.transfer_capability`).
    tol_mva, max_iter : float, int
        Newton tolerance and iterations of the per-point power flow.
    on_chunk : callable, optional
        Called with each chunk's rows after they are written.

    Returns
    -------
    pandas.DataFrame
        One row per point, by ``point_id`` (the point's index in the grid): the
        parameter columns, ``converged``, ``iterations``, ``max_mismatch_mva``,
        ``losses_mw`` (AC branches), ``hvdc_losses_mw``, ``max_loading_percent`` and
        ``max_loading_branch`` (``"line:ID"``), ``n_overloaded``, ``min_vm_pu``,
        ``max_vm_pu``, ``n_voltage_violations``; for ``transfer`` also ``ttc_mw``,
        ``limit_type``, ``limiting_element``, ``limiting_contingency``,
        ``ttc_losses_mw``; for ``contingency`` ``n_outages``, ``n_violating_outages``
        (diverged or a branch above 100 %), ``n_islanding_outages``, ``worst_outage``,
        ``worst_outage_loading_percent``, ``worst_outage_branch``; and ``error`` (why a
        point failed, empty otherwise). ``attrs["computed_points"]`` counts the points
        computed by this call (fewer than the rows when resuming).

    Raises
    ------
    ParameterError
        For bad parameters or options, or an ``out`` that cannot be used (a folder, a
        file that is not a sweep's output, an output another sweep is writing), before
        any work starts.
    SweepInterrupted
        A ``KeyboardInterrupt`` (Ctrl-C) that stopped the sweep, with the number of
        points saved in ``out``.
    """
    if isinstance(network, str | os.PathLike):
        from gridsim.io import read_network

        network = read_network(network)
    if not isinstance(network, Network):
        raise ParameterError("sweep needs a Network or a network file")
    if analysis not in ANALYSES:
        raise ParameterError(f"analysis must be one of {', '.join(ANALYSES)}, got {analysis!r}")
    if isinstance(executor, str) and executor not in EXECUTORS:
        raise ParameterError(
            f"executor must be one of {', '.join(EXECUTORS)} or a dask Client, got {executor!r}"
        )
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise ParameterError(f"workers must be a positive integer, got {workers!r}")
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ParameterError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    params = parse_parameters(network, parameters)
    n_points = math.prod(len(p.values) for p in params)
    if n_points > MAX_POINTS:
        raise ParameterError(f"the grid has {n_points} points; at most {MAX_POINTS} allowed")
    _check_export(network, params, analysis, source, sink)

    base = network.copy()
    base.tables  # noqa: B018 (tables as DataFrames: they pickle, column tables do not)
    options = {
        "source": source,
        "sink": sink,
        "n_1": bool(n_1),
        "enforce_q_limits": enforce_q_limits,
        "tol_mva": float(tol_mva),
        "max_iter": int(max_iter),
    }
    fingerprint = {
        "network": network_digest(base),
        "analysis": analysis,
        "options": options,
        "parameters": [[p.key, list(p.values)] for p in params],
    }
    token = hashlib.sha1(json.dumps(fingerprint, default=str).encode()).hexdigest()[:16]
    spec = SweepSpec(base, params, analysis, options, token)
    columns = _columns(params, analysis)

    store_or_none = SweepStore(out, fingerprint, overwrite) if out is not None else nullcontext()
    with store_or_none as store:
        if store is not None and store.complete is not None:
            table = store.complete
            table.attrs["computed_points"] = 0
            return table
        done = store.finished_ids() if store is not None else set()
        grid = itertools.product(*(p.values for p in params))
        pending = [(pid, values) for pid, values in enumerate(grid) if pid not in done]

        n_workers = workers or os.cpu_count() or 1
        chunks = _chunks(spec, pending, analysis, chunk_size, n_workers)
        collected: list[pd.DataFrame] = []
        bar = _progress_bar(progress, n_points, n_points - len(pending))
        saved = n_points - len(pending) if store is not None else 0

        def finished(rows: list[dict]) -> None:
            nonlocal saved
            frame = _frame(rows, columns)
            if store is not None:
                store.write_part(frame)
                saved += len(frame)
            else:
                collected.append(frame)
            bar.update(len(frame))
            if on_chunk is not None:
                on_chunk(frame)

        try:
            if chunks:
                _execute(spec, chunks, finished, executor, workers, scheduler)
        except KeyboardInterrupt:
            raise SweepInterrupted(saved, n_points) from None
        finally:
            bar.close()
        if store is not None:
            table = store.finished()
            if len(table) != n_points:  # pragma: no cover (every chunk reports or raises)
                raise GridsimError(f"{out}: {n_points - len(table)} points missing after the sweep")
            table = _frame(table.to_dict("records"), columns)
            store.consolidate(table)
        else:
            table = pd.concat(collected, ignore_index=True) if collected else _frame([], columns)
            table = table.sort_values("point_id", kind="stable").reset_index(drop=True)
        table.attrs["computed_points"] = len(pending)
        return table


# -- checks ---------------------------------------------------------------------------------


def _check_export(network: Network, params: list[Parameter], analysis: str, source, sink) -> None:
    """The export's (and the transfer's) source and sink exist in every swept scenario."""
    if analysis != "transfer" and not any(p.kind == EXPORT for p in params):
        return
    from gridsim.analysis.transfer import TransferError, _plan

    scen = next((p for p in params if p.kind == SCENARIO), None)
    nets = [scenario_network(network, s) for s in scen.values] if scen else [network]
    for net in nets:
        src, snk = export_area(net, source, sink)
        try:
            _plan(net, src, snk, "load", None, None)
        except TransferError as exc:
            where = f"scenario {net.scenario!r}: " if getattr(net, "scenario", None) else ""
            raise ParameterError(f"export {src!r} -> {snk!r}: {where}{exc}") from None


def network_digest(network: Network) -> str:
    """A hash of the network's element tables (what a resumed sweep must match)."""
    digest = hashlib.sha1()
    digest.update(repr((network.sn_mva, network.f_hz, network.trafo_model)).encode())
    digest.update(repr(getattr(network, "scenario", None)).encode())
    for element, columns in SCHEMA.items():
        table = network.columns(element)
        digest.update(element.encode())
        digest.update("\x1f".join(map(str, table.index)).encode())
        for col in columns:
            values = np.asarray(table[col.name])
            if col.kind in (FLOAT, BOOL):
                digest.update(np.ascontiguousarray(values).tobytes())
            else:
                digest.update("\x1f".join(map(str, values)).encode())
    return digest.hexdigest()


# -- rows -------------------------------------------------------------------------------------


def _columns(params: list[Parameter], analysis: str) -> dict[str, Any]:
    cols: dict[str, Any] = {"point_id": "int64"}
    for p in params:
        cols[p.key] = {"str": object, "bool": bool, "float": float}[p.dtype]
    cols.update(result_columns(analysis))
    return cols


def _frame(rows: list[dict], columns: dict[str, Any]) -> pd.DataFrame:
    """Rows as a DataFrame with the sweep's columns and dtypes (column by column: much
    cheaper than ``astype`` on a frame built from records)."""
    data = {}
    for name, dtype in columns.items():
        values = [r[name] for r in rows]
        if dtype is object:
            data[name] = np.array([None if _missing(v) else v for v in values] + [None])[:-1]
        else:
            data[name] = np.array(values, dtype=dtype)
    return pd.DataFrame(data)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


# -- chunks and executors ---------------------------------------------------------------------


def _chunks(spec: SweepSpec, pending, analysis: str, chunk_size, n_workers: int) -> list[list]:
    """Pending points grouped by network structure, then cut into chunks."""
    groups: dict[tuple, list] = {}
    for pid, values in pending:
        groups.setdefault(spec.group_key(values), []).append((pid, values))
    if chunk_size is None:
        if analysis == "pf":
            # small sweeps stay in one chunk (this process): starting workers costs more
            chunk_size = max(64, min(256, math.ceil(len(pending) / (4 * n_workers))))
        else:
            chunk_size = 1
    return [
        members[i : i + chunk_size]
        for members in groups.values()
        for i in range(0, len(members), chunk_size)
    ]


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(progress: bool | None, total: int, initial: int):
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="pt", file=sys.stderr, desc="sweep")


class _Interrupts:
    """Within: Ctrl-C (SIGINT) raises ``KeyboardInterrupt`` as usual, and is remembered.

    Numba turns a ``KeyboardInterrupt`` raised inside compiled or compiling code into
    another error (``SystemError: ... returned a result with an exception set``, a
    ``RuntimeError`` of the compiler) or prints and drops it ("Exception ignored on
    calling ctypes callback function"). After a Ctrl-C the block ends with the
    ``KeyboardInterrupt`` it was, whatever became of it, and :meth:`check` raises it
    for one that was dropped. Only in the main thread and where Ctrl-C has Python's
    default handler.
    """

    def __init__(self):
        self.seen = False
        self._previous = None

    def __enter__(self) -> _Interrupts:
        is_main = threading.current_thread() is threading.main_thread()
        if is_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._interrupt)
            self._hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
        return self

    def _interrupt(self, signum, frame) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def _unraisable(self, info) -> None:
        if not issubclass(info.exc_type, KeyboardInterrupt):
            self._hook(info)

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed (even if it was dropped)."""
        if self.seen:
            raise KeyboardInterrupt

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            sys.unraisablehook = self._hook
        if self.seen and not (exc_type is not None and issubclass(exc_type, KeyboardInterrupt)):
            raise KeyboardInterrupt from None


def _execute(spec, chunks, finished, executor, workers, scheduler) -> None:
    with _Interrupts() as interrupts:
        if executor == "serial" or (executor == "local" and (workers == 1 or len(chunks) == 1)):
            for chunk in chunks:
                rows = evaluate_chunk(spec, chunk)
                interrupts.check()  # a Ctrl-C dropped inside: the rows are not trusted
                finished(rows)
        elif executor == "local":
            _run_local(spec, chunks, finished, workers or os.cpu_count() or 1)
        elif executor == "dask":
            _run_dask_cluster(spec, chunks, finished, workers, scheduler)
        else:  # a distributed.Client
            _run_dask(spec, chunks, finished, executor)


def _run_local(spec, chunks, finished, workers: int) -> None:
    """A pool of fresh processes (spawned: no inherited threads); a pool broken by a
    dead worker is replaced and the unfinished chunks resubmitted. Workers leave Ctrl-C
    to this process, which stops them, and end when this process dies
    (:func:`_worker_start`)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    todo = dict(enumerate(chunks))
    context = multiprocessing.get_context("spawn")
    for attempt in range(LOCAL_RETRIES + 1):
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=context,
            initializer=_worker_start,
            initargs=(os.getpid(),),
        )
        before = len(todo)
        try:
            futures = {pool.submit(evaluate_chunk, spec, c, 1): k for k, c in todo.items()}
            for future in as_completed(futures):
                rows = future.result()
                del todo[futures[future]]
                finished(rows)
            return
        except BrokenProcessPool:
            # a worker died (killed, out of memory): start again with the chunks left,
            # unless nothing got done since the last start (then it is no accident)
            if attempt == LOCAL_RETRIES or len(todo) == before:
                raise
        except BaseException:  # Ctrl-C or a failure here: running chunks are not awaited
            # (the pool's private process table: before Python 3.14's terminate_workers
            # there is no public way to stop running tasks)
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _worker_start(parent: int) -> None:
    """Initializer of the local pool's workers: ignore Ctrl-C (the parent stops the
    pool) and end with the parent, so that a killed sweep leaves no process behind.

    On Linux the kernel kills the worker when its parent dies (``PR_SET_PDEATHSIG``);
    elsewhere, and as a second line, a thread checks every second that the parent is
    still this process's parent (a thread cannot run while compiled code holds the
    interpreter, hence the kernel's way first).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        try:
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover (no C library to call)
            pass
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _run_dask_cluster(spec, chunks, finished, workers, scheduler) -> None:
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover
        raise ParameterError("the dask executor needs dask.distributed installed") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise GridsimError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
        with client:
            _run_dask(spec, chunks, finished, client)
        return
    # the cluster's (and its workers') logs stay quiet: a lost worker is no error of the
    # sweep (its chunks run again), and Dask's lines would break one-line stderr
    with (
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            silence_logs=logging.CRITICAL,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(_ignore_ctrl_c_plugin())
        _run_dask(spec, chunks, finished, client)


def _ignore_ctrl_c_plugin():
    """A Dask worker plugin: the local cluster's workers (also those restarted after a
    loss) leave Ctrl-C to this process, which closes the cluster, instead of each
    printing a traceback."""
    from distributed import WorkerPlugin

    class IgnoreCtrlC(WorkerPlugin):
        def setup(self, worker) -> None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    return IgnoreCtrlC()


def _run_dask(spec, chunks, finished, client) -> None:
    """One pure task per chunk; the client writes results as they arrive. Dask runs
    the tasks of a lost worker again elsewhere, so no point is lost."""
    from distributed import as_completed

    futures = [
        client.submit(
            evaluate_chunk,
            spec,
            chunk,
            1,
            key=f"gridsim-sweep-{spec.token}-{chunk[0][0]}-{chunk[-1][0]}-{len(chunk)}",
            pure=True,
            retries=2,
        )
        for chunk in chunks
    ]
    try:
        for future in as_completed(futures):
            rows = future.result()
            future.release()
            finished(rows)
    finally:
        client.cancel([f for f in futures if not f.done()])
