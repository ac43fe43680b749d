"""The one place where Numba options live.

Every kernel is compiled with ``cache=True`` (compiled code is kept on disk, so a fresh
process does not compile again), ``nogil=True`` (batches may run kernels in threads) and
``error_model="numpy"`` (no Python exception machinery for floating-point errors).

Numba keys a cached kernel on its own file's timestamp: a kernel that calls kernels in
other files (``newton_kernel`` calls the mismatch, Jacobian and LU kernels) keeps their
old code after only those files change. An install rewrites every file, so users never
see this; when editing kernels in a checkout, delete the ``__pycache__`` folders.
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
