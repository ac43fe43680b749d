"""Parameter sweeps: an analysis at every point of a grid of network parameters.

:func:`sweep` builds the grid, checks every parameter before any work, groups the
points by network structure (points that differ only in injections share one compiled
network), evaluates chunks of points on an executor (this process, a local process pool
or a Dask cluster) and writes the rows to Parquet as they come, resumably.
:func:`apply_parameters` applies one point to a network, for single runs that
reproduce a row (``gridsim pf --param KEY=VALUE``).

Modules: :mod:`~gridsim.analysis.sweep.params` (keys, values, checks, applying),
:mod:`~gridsim.analysis.sweep.evaluate` (the work of one chunk),
:mod:`~gridsim.analysis.sweep.store` (Parquet output and resume),
:mod:`~gridsim.analysis.sweep.core` (the grid and the executors).
"""

from gridsim.analysis.sweep.core import SweepInterrupted, sweep
from gridsim.analysis.sweep.params import (
    Parameter,
    ParameterError,
    apply_parameters,
    parse_assignment,
    parse_parameters,
)

__all__ = [
    "Parameter",
    "ParameterError",
    "SweepInterrupted",
    "apply_parameters",
    "parse_assignment",
    "parse_parameters",
    "sweep",
]
