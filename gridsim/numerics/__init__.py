"""Numba kernels on flat arrays: no pandas, no Network objects."""
