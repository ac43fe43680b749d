"""Solvers: Newton-Raphson AC power flow, DC power flow, sparse linear solves."""
