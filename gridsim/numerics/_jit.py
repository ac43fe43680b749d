"""The one place where Numba options live.

Every kernel is compiled with ``cache=True`` (compiled code is kept on disk, so a fresh
process does not compile again), ``nogil=True`` (batches may run kernels in threads) and
``error_model="numpy"`` (no Python exception machinery for floating-point errors).

Numba keys a cached kernel on its own file's timestamp only: a kernel that calls kernels
in other files (``newton_block_kernel`` calls the mismatch, Jacobian and LU kernels) would keep
their old code after only those files changed. :func:`_drop_stale_caches` guards
against that: it fingerprints every gridsim source file that holds kernels and, when
the fingerprint changed since the caches were written, deletes gridsim's cache files
(about a millisecond per import when nothing changed).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numba
import numpy as np

JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}

#: Unsigned offsets for index arithmetic in kernels. Numba tests every signed index for
#: wraparound (a negative index counts from the end), which costs the block LU a fifth
#: of its time; indexed by unsigned arrays (the pattern arrays of
#: :attr:`~gridsim.solvers.newton.NewtonSolver.block_system`), ``U4 * l_idx[p] + U1``
#: stays unsigned and is not tested, where a literal ``4`` or ``1`` would make it
#: signed again. On signed arrays the same code computes the same values.
U1, U2, U3, U4 = (np.uint64(k) for k in (1, 2, 3, 4))

_PACKAGE = Path(__file__).resolve().parents[1]
_KERNEL_DIRS = ("numerics", "solvers", "model")


def _drop_stale_caches() -> None:
    sources = sorted(p for d in _KERNEL_DIRS for p in (_PACKAGE / d).glob("*.py"))
    digest = hashlib.sha1()
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    stamp = _PACKAGE / "__pycache__" / "kernel-sources.sha1"
    fingerprint = digest.hexdigest()
    try:
        if stamp.read_text() == fingerprint:
            return
    except OSError:
        pass
    try:
        for d in _KERNEL_DIRS:
            for cached in (_PACKAGE / d / "__pycache__").glob("*.nb[ic]"):
                cached.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(fingerprint)
    except OSError:  # a read-only installation: its caches were built from its sources
        pass


_drop_stale_caches()


def njit(func=None, **overrides):
    """``numba.njit`` with gridsim's options; usable bare or with overrides."""
    options = {**JIT_OPTIONS, **overrides}
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)
