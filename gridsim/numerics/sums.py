"""Per-bus sums of element quantities (``np.add.at`` is ten times slower than this)."""

from __future__ import annotations

import numpy as np


def bus_sum(bus: np.ndarray, values: np.ndarray, n_bus: int) -> np.ndarray:
    """``out[i] = sum(values[bus == i])`` for real or complex ``values``."""
    if np.iscomplexobj(values):
        return np.bincount(bus, values.real, n_bus) + 1j * np.bincount(bus, values.imag, n_bus)
    return np.bincount(bus, values, n_bus)
