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
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd

from gridsim.analysis.sweep.params import ParameterError

FINGERPRINT_KEY = b"gridsim.sweep"


class SweepStore:
    """The output of one sweep (see the module docstring).

    Parameters
    ----------
    out : path
        The consolidated Parquet file to write.
    fingerprint : dict
        JSON-serialisable description of the sweep; a store holding another is refused.
    overwrite : bool
        Discard results of another sweep found at ``out`` instead of refusing.
    """

    def __init__(self, out, fingerprint: dict, overwrite: bool = False):
        self.out = Path(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.fingerprint = json.dumps(fingerprint, sort_keys=True, default=str)
        self.complete: pd.DataFrame | None = None
        if self.out.exists() and not self.parts.exists():
            if self._file_fingerprint() == self.fingerprint:
                self.complete = pd.read_parquet(self.out)
                return
            if not overwrite:
                raise ParameterError(
                    f"{self.out}: exists and holds another sweep (or no sweep); "
                    "remove it, choose another output or overwrite it"
                )
            self.out.unlink()
        if self.parts.exists():
            if self._manifest() != self.fingerprint:
                if not overwrite:
                    raise ParameterError(
                        f"{self.parts}: holds the unfinished parts of another sweep; "
                        "remove it, choose another output or overwrite it"
                    )
                shutil.rmtree(self.parts)
        if not self.parts.exists():
            self.parts.mkdir(parents=True)
            self._write_text(self.parts / "manifest.json", self.fingerprint)

    def _file_fingerprint(self) -> str | None:
        try:
            import pyarrow.parquet as pq

            meta = pq.read_schema(self.out).metadata or {}
        except Exception:  # not a Parquet file: not ours
            return None
        value = meta.get(FINGERPRINT_KEY)
        return value.decode() if value is not None else None

    def _manifest(self) -> str | None:
        try:
            return (self.parts / "manifest.json").read_text()
        except OSError:
            return None

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
        """Point ids already written."""
        import pyarrow.parquet as pq

        ids: set[int] = set()
        for f in self._part_files():
            ids.update(pq.read_table(f, columns=["point_id"]).column(0).to_pylist())
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
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(f".{self.out.name}.{uuid.uuid4().hex[:8]}.tmp")
        pq.write_table(arrow, tmp)
        os.replace(tmp, self.out)
        shutil.rmtree(self.parts, ignore_errors=True)
        return table
