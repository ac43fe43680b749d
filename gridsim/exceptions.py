"""Exceptions raised by gridsim.

Every error meant for a user names the file (when there is one), the element and the
problem, so the command line can print it as one line.
"""

from __future__ import annotations


class GridsimError(Exception):
    """Base class of every error gridsim raises on purpose."""


class InvalidNetworkError(GridsimError, ValueError):
    """The network data are inconsistent or physically meaningless.

    Parameters
    ----------
    message : str
        What is wrong, naming the element and the field.
    source : str, optional
        The file the data came from; prefixed to the message.
    """

    def __init__(self, message: str, source: str | None = None):
        self.source = source
        self.detail = message
        super().__init__(f"{source}: {message}" if source else message)


class UnsupportedElementError(InvalidNetworkError):
    """The input holds an element or option that gridsim does not model."""


class ConvergenceError(GridsimError):
    """A Newton-Raphson power flow did not converge.

    Attributes
    ----------
    iterations : int
        Iterations done.
    max_mismatch_mva : float
        Largest bus power mismatch at the last iterate, in MVA.
    """

    def __init__(self, message: str, iterations: int, max_mismatch_mva: float):
        self.iterations = iterations
        self.max_mismatch_mva = max_mismatch_mva
        super().__init__(message)
