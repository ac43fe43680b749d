"""The one place where Numba options live.

Every kernel is compiled with ``cache=True`` (compiled code is kept on disk, so a fresh
process does not compile again), ``nogil=True`` (batches may run kernels in threads) and
``error_model="numpy"`` (no Python exception machinery for floating-point errors).
"""

from __future__ import annotations

import numba

JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}


def njit(func=None, **overrides):
    """``numba.njit`` with gridsim's options; usable bare or with overrides."""
    options = {**JIT_OPTIONS, **overrides}
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)
