"""Sweep results on disk: written chunk by chunk, resumable, consolidated at the end.

For an output ``results.parquet`` the finished chunks go to ``results.parquet.parts/``
as ``part-*.parquet`` files next to a ``manifest.json`` that holds the sweep's
fingerprint (network, analysis, options and parameters). Every file is written to a
temporary name and renamed, so a part is either complete or absent. A rerun with the
same output and the same sweep reads the finished point ids from the parts and
computes only the others; a rerun of a *different* sweep into the same output is
refused (unless asked to overwrite). When every point is done the parts are merged,
sorted by ``point_id``, into ``results.parquet`` (with the fingerprint in its metadata)
and the parts directory is removed.

Only gridsim's own files are ever removed or replaced: an existing output that is not a
sweep's Parquet file, a folder, or a parts directory without a manifest is refused, even
with ``overwrite``. While a sweep runs it holds ``results.parquet.lock`` (its pid and
host inside, an OS lock on the open file that ends with the process however it ends):
a second sweep into the same output is refused; a lock left by a killed sweep is taken
over with a warning. On resume a part that cannot be read (cut short by hand or by a
full disk) is removed with a warning and its points are computed again.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
import warnings
from pathlib import Path

import pandas as pd

from gridsim.analysis.sweep.params import ParameterError

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: sweeps into one output are not locked)
    fcntl = None

FINGERPRINT_KEY = b"gridsim.sweep"
MANIFEST = "manifest.json"


class SweepStore:
    """The output of one sweep (see the module docstring); a context manager that
    releases the output's lock on exit.

    Parameters
    ----------
    out : path
        The consolidated Parquet file to write.
    fingerprint : dict
        JSON-serialisable description of the sweep; a store holding another is refused.
    overwrite : bool
        Discard results of another sweep found at ``out`` instead of refusing.

    Raises
    ------
    ParameterError
        ``out`` is a folder, cannot be written, is being written by another sweep, or
        holds something that is not this sweep's (and not, with ``overwrite``, another
        sweep's) output.
    """

    def __init__(self, out, fingerprint: dict, overwrite: bool = False):
        self.out = Path(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.lock = self.out.with_name(self.out.name + ".lock")
        self.fingerprint = json.dumps(fingerprint, sort_keys=True, default=str)
        self.complete: pd.DataFrame | None = None
        self._lock_fd: int | None = None
        if self.out.is_dir():
            raise ParameterError(
                f"{self.out}: is a folder; give the results file, e.g. {self.out / 'rows.parquet'}"
            )
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._acquire()
        except OSError as exc:
            raise ParameterError(_cannot_write(self.out, exc)) from None
        try:
            self._open(overwrite)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open(self, overwrite: bool) -> None:
        """Check what ``out`` and its parts hold; make the parts directory."""
        retry = "choose another output"
        if self.out.exists() or self.out.is_symlink():
            found = self._file_fingerprint()
            if found is None:
                raise ParameterError(
                    f"{self.out}: exists and is not a gridsim sweep output; not replaced: {retry}"
                )
            if found == self.fingerprint and not self.parts.exists():
                self.complete = pd.read_parquet(self.out)
                return
            if found != self.fingerprint:
                if not overwrite:
                    raise ParameterError(
                        f"{self.out}: holds another sweep; remove it, {retry} or overwrite it"
                    )
                self.out.unlink()
        if self.parts.exists() or self.parts.is_symlink():
            manifest = self._manifest()
            if manifest is None:
                raise ParameterError(
                    f"{self.parts}: exists and is not the parts folder of a gridsim sweep "
                    f"(no {MANIFEST}); not touched: {retry}"
                )
            if manifest != self.fingerprint:
                if not overwrite:
                    raise ParameterError(
                        f"{self.parts}: holds the unfinished parts of another sweep; "
                        f"remove it, {retry} or overwrite it"
                    )
                self._remove_parts()
        try:
            self.parts.mkdir(exist_ok=True)
            if self._manifest() != self.fingerprint:
                self._write_text(self.parts / MANIFEST, self.fingerprint)
        except OSError as exc:
            raise ParameterError(_cannot_write(self.out, exc)) from None

    # -- the lock ----------------------------------------------------------------------------

    def _acquire(self) -> None:
        """Hold ``OUT.lock`` (refused while another process holds it; see the module
        docstring). The OS lock is on the open file; the lock file is removed (by
        :meth:`close`) while still locked, so a process that locked a removed file
        tries again on the new one."""
        if fcntl is None:  # pragma: no cover
            return
        for _ in range(10):
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _lock_owner(fd)
                os.close(fd)
                raise ParameterError(
                    f"{self.out}: is being written by gridsim {owner}; wait for it to end "
                    "or choose another output"
                ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.lock))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed it after we opened it: lock the new one
        else:  # pragma: no cover (ten sweeps in a row started and ended meanwhile)
            raise ParameterError(f"{self.lock}: could not take the lock; try again")
        owner = _lock_owner(fd)
        if owner:
            warnings.warn(
                f"{self.lock}: left by gridsim {owner}, which has ended without "
                "finishing; taking it over",
                stacklevel=4,
            )
        mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, mine, 0)
        self._lock_fd = fd

    def close(self) -> None:
        """Release the output's lock (removing the lock file)."""
        if self._lock_fd is None:
            return
        try:
            self.lock.unlink(missing_ok=True)
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- files -------------------------------------------------------------------------------

    def _file_fingerprint(self) -> str | None:
        if not self.out.is_file():
            return None
        try:
            import pyarrow.parquet as pq

            meta = pq.read_schema(self.out).metadata or {}
        except Exception:  # not a Parquet file: not ours
            return None
        value = meta.get(FINGERPRINT_KEY)
        return value.decode() if value is not None else None

    def _manifest(self) -> str | None:
        try:
            return (self.parts / MANIFEST).read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def _remove_parts(self) -> None:
        """Remove the parts folder's own files, then the folder if nothing else is in it."""
        for f in self.parts.iterdir():
            if f.name == MANIFEST or (f.name.startswith("part-") and f.suffix == ".parquet"):
                f.unlink()
            elif f.name.startswith(".") and f.name.endswith(".tmp"):
                f.unlink()
        try:
            self.parts.rmdir()
        except OSError:
            pass

    @staticmethod
    def _write_text(path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def _part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet"))

    def finished(self) -> pd.DataFrame:
        """Rows of every finished part (duplicates of a point dropped), by point id."""
        files = self._part_files()
        if not files:
            return pd.DataFrame()
        table = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        table = table.drop_duplicates("point_id", keep="first")
        return table.sort_values("point_id", kind="stable").reset_index(drop=True)

    def finished_ids(self) -> set[int]:
        """Point ids already written. A part that cannot be read whole is removed with a
        warning, so that its points are computed again."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        ids: set[int] = set()
        for f in self._part_files():
            try:
                ids.update(pq.read_table(f).column("point_id").to_pylist())
            except (pa.ArrowException, OSError, KeyError) as exc:
                warnings.warn(
                    f"{f}: unreadable part ({type(exc).__name__}), removed; "
                    "its points are computed again",
                    stacklevel=3,
                )
                f.unlink()
        return ids

    def write_part(self, rows: pd.DataFrame) -> Path:
        """Write one finished chunk (atomically: a temporary file renamed)."""
        lo, hi = int(rows.point_id.min()), int(rows.point_id.max())
        name = f"part-{lo:09d}-{hi:09d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.parts / f".{name}.tmp"
        rows.to_parquet(tmp, index=False)
        path = self.parts / name
        os.replace(tmp, path)
        return path

    def consolidate(self, table: pd.DataFrame) -> pd.DataFrame:
        """Write ``table`` (every point) as the output file and remove the parts."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.Table.from_pandas(table, preserve_index=False)
        meta = dict(arrow.schema.metadata or {})
        meta[FINGERPRINT_KEY] = self.fingerprint.encode()
        arrow = arrow.replace_schema_metadata(meta)
        tmp = self.out.with_name(f".{self.out.name}.{uuid.uuid4().hex[:8]}.tmp")
        pq.write_table(arrow, tmp)
        os.replace(tmp, self.out)
        self._remove_parts()
        return table


def _lock_owner(fd: int) -> str:
    """``pid N on HOST`` from a lock file's text ("" when it holds none)."""
    try:
        owner = json.loads(os.pread(fd, 4096, 0) or b"null")
        return f"pid {int(owner['pid'])} on {str(owner['host'])[:100]}"
    except (ValueError, TypeError, KeyError, OSError):
        return ""


def _cannot_write(out: Path, exc: OSError) -> str:
    return f"{out}: cannot write {exc.filename or 'there'} ({exc.strerror or exc})"
