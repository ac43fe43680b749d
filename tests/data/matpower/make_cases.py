"""Regenerate the MATPOWER test cases of this folder from PYPOWER's bundled cases.

Run from anywhere: ``python tests/data/matpower/make_cases.py``. Each ``<name>.m`` is
:func:`gridsim.io.matpower.write_matpower` of ``pypower.api.<name>()``; PYPOWER's
``case4gs`` numbers its buses from 0, which MATPOWER does not allow, so its bus numbers
are shifted by one. ``case8_quirks.m`` is written by hand and is not touched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CASES = (
    "case4gs",
    "case6ww",
    "case24_ieee_rts",
    "case30",
    "case39",
    "case57",
    "case118",
    "case300",
)


def pypower_case(name: str) -> dict:
    """PYPOWER's case ``name`` as written to ``<name>.m`` (bus numbers made positive)."""
    import pypower.api

    ppc = getattr(pypower.api, name)()
    if ppc["bus"][:, 0].min() < 1:
        shift = 1 - ppc["bus"][:, 0].min()
        ppc["bus"][:, 0] += shift
        ppc["gen"][:, 0] += shift
        ppc["branch"][:, :2] += shift
    return {
        k: np.array(ppc[k], dtype=float) if k != "baseMVA" else float(ppc[k])
        for k in ("baseMVA", "bus", "gen", "branch", "gencost")
        if k in ppc
    }


def main(folder: Path = HERE) -> list[Path]:
    """Write every case of :data:`CASES` into ``folder``; returns the paths."""
    from gridsim.io.matpower import write_matpower

    return [write_matpower(pypower_case(name), folder / f"{name}.m") for name in CASES]


if __name__ == "__main__":
    for path in main():
        print(path)
