"""AC sensitivity of branch apparent power to bus injections at a solved operating point.

At a converged AC solution the power-flow equations ``g(x, s) = S_calc(x) - s = 0``
(unknowns ``x = [Va(pv, pq), Vm(pq)]``, equations ``[P(pv, pq), Q(pq)]``: a PV bus holds
its ``|V|`` with its Q free, each island's slack its angle with its P free) tie the state
to the scheduled injections ``s``, so ``dx/ds = J^-1`` with ``J`` the power-flow
Jacobian there (:mod:`gridsim.numerics.jacobian`, with the voltage-dependent loads'
terms). The loading of branch ``b``, ``|S_b|`` at its more loaded end (the end
:class:`gridsim.analysis.scopf.LinearisedGrid` and the AC checks take), then moves by
``d|S_b|/ds = (d|S_b|/dx) J^-1``: one adjoint solve ``J^T lambda = (d|S_b|/dx)^T`` per
branch, whose entry at bus ``k``'s P (Q) equation is the MVA more on ``b`` per MW (Mvar)
injected at ``k`` and taken by the slack of ``k``'s island: the convention of
:func:`gridsim.ptdf` (a slack bus's own column is zero), so that balanced injection
vectors give the same answer as a DC PTDF would, AC losses aside.

With ``V_a`` the voltage of the branch's end, ``V_o`` of its other end, ``y_aa`` and
``y_ao`` its self and mutual admittances there (``Yff, Yft`` at the from end, ``Ytt,
Ytf`` at the to end) and ``c = V_a conj(y_ao V_o)``, ``S = |V_a|^2 conj(y_aa) + c`` and::

    dS/dVa_a = j c               dS/dVa_o = -j c
    dS/d|V_a| = (S + |V_a|^2 conj(y_aa)) / |V_a|    dS/d|V_o| = c / |V_o|

and ``d|S| = Re(conj(S) dS) / |S|`` (0 where ``S = 0``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from gridsim.exceptions import GridsimError
from gridsim.numerics.jacobian import jacobian_pattern, jacobian_values
from gridsim.results import PowerFlowResult

__all__ = ["branch_mva_sensitivity", "bus_voltage_sensitivity"]


def _factorised(result: PowerFlowResult, voltage_dependence: np.ndarray | None):
    """The LU factors of the power-flow Jacobian at the converged AC ``result`` (the
    voltage-dependent loads' ``dP/dVm``, ``dQ/dVm`` added) and its unknowns' buses
    ``(lu, pvpq, pq)``: angles of ``pvpq``, then magnitudes of ``pq``; ``lu`` None where
    there are no unknowns."""
    if result.kind != "ac" or not result.converged:
        raise GridsimError("an AC sensitivity needs a converged AC power flow")
    cn, v = result.cn, result.v
    _, pv, pq = cn.bus_sets(result.bus_type)
    pvpq = np.concatenate([pv, pq])
    if pvpq.size == 0:
        return None, pvpq, pq
    n_bus = cn.n_bus
    pat = jacobian_pattern(cn.indptr, cn.indices, pvpq, pq)
    ibus = cn.ybus() @ v
    jdata = jacobian_values(cn.indptr, cn.indices, cn.ydata, v, ibus, pat.pos, pat.indices.size)
    vdep = voltage_dependence
    if vdep is not None and vdep.shape[1]:
        rows = np.repeat(np.arange(n_bus), np.diff(cn.indptr))
        diagonal = np.flatnonzero(cn.indices == rows)[pq]
        d = vdep[0, pq] + 2.0 * vdep[1, pq] * np.abs(v[pq])
        jdata[pat.pos[1, diagonal]] += d.real
        jdata[pat.pos[3, diagonal]] += d.imag
    jac = sp.csc_matrix((jdata, pat.indices, pat.indptr), shape=(pat.n, pat.n))
    # a grid Jacobian is structurally symmetric: minimum degree on its pattern, pivots
    # kept on the diagonal where they can (a quarter faster than the defaults here)
    lu = splu(jac, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    return lu, pvpq, pq


def bus_voltage_sensitivity(
    result: PowerFlowResult,
    buses: np.ndarray,
    *,
    voltage_dependence: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Voltage magnitude change of buses per MW and per Mvar injected at each bus.

    ``d|V_b|/ds = e_b J^-1`` at the solution (module docstring): one adjoint solve
    ``J^T lambda = e_b`` per bus, ``e_b`` the unit vector of ``|V_b|`` among the
    unknowns, scaled from per unit of power to per MW by ``sn_mva``.

    Parameters
    ----------
    result : PowerFlowResult
        A converged AC power flow.
    buses : array of int
        Compiled bus positions in ``result.cn``.
    voltage_dependence : ndarray, shape (2, n_bus), optional
        As :func:`branch_mva_sensitivity`'s.

    Returns
    -------
    d_p, d_q : ndarray, shape (len(buses), n_bus)
        ``d|V_b| / dP_k`` (p.u. per MW) and ``/ dQ_k`` (p.u. per Mvar), the injection at
        ``k`` taken by the slack of its island. Zero rows for buses that hold their
        voltage (slack and PV buses) or are de-energised, zero columns at slack buses,
        and ``d_q`` zero at voltage-controlled buses.

    Raises
    ------
    GridsimError
        Where ``result`` is not a converged AC solution.
    """
    cn = result.cn
    buses = np.asarray(buses, dtype=np.int64)
    n_bus, nb = cn.n_bus, buses.size
    d_p, d_q = np.zeros((nb, n_bus)), np.zeros((nb, n_bus))
    lu, pvpq, pq = _factorised(result, voltage_dependence)
    im = np.full(n_bus, -1, dtype=np.int64)
    im[pq] = pvpq.size + np.arange(pq.size)
    free = np.flatnonzero(im[buses] >= 0)
    if lu is None or free.size == 0:
        return d_p, d_q
    grad = np.zeros((pvpq.size + pq.size, free.size))
    grad[im[buses[free]], np.arange(free.size)] = 1.0
    lam = lu.solve(grad, trans="T")  # (n_unknowns, len(free))
    d_p[np.ix_(free, pvpq)] = lam[: pvpq.size].T / cn.sn_mva
    d_q[np.ix_(free, pq)] = lam[pvpq.size :].T / cn.sn_mva
    return d_p, d_q


def branch_mva_sensitivity(
    result: PowerFlowResult,
    branches: np.ndarray,
    *,
    voltage_dependence: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MVA loading change of branches per MW and per Mvar injected at each bus.

    Parameters
    ----------
    result : PowerFlowResult
        A converged AC power flow; its bus types (after any reactive-limit switching)
        say which buses hold their voltage.
    branches : array of int
        Compiled branch positions in ``result.cn``.
    voltage_dependence : ndarray, shape (2, n_bus), optional
        The voltage-dependent (ZIP) load of the network solved,
        :meth:`~gridsim.model.compile.CompiledNetwork.voltage_dependence` of its
        compiled network: ``result.cn`` holds every load at constant power (what it
        draws at the solution), so its terms of the Jacobian come from here. Default:
        every load at constant power.

    Returns
    -------
    d_p, d_q : ndarray, shape (len(branches), n_bus)
        ``d max(|S_from|, |S_to|) / dP_k`` (MVA per MW) and ``/ dQ_k`` (MVA per Mvar),
        the injection at bus ``k`` taken by the slack of its island, at the end of each
        branch that is more loaded at ``result``. Zero at slack and de-energised buses,
        and ``d_q`` at voltage-controlled buses (their Q follows the voltage).

    Raises
    ------
    GridsimError
        Where ``result`` is not a converged AC solution.
    """
    cn, v = result.cn, result.v
    branches = np.asarray(branches, dtype=np.int64)
    n_bus, nb = cn.n_bus, branches.size
    d_p, d_q = np.zeros((nb, n_bus)), np.zeros((nb, n_bus))
    lu, pvpq, pq = _factorised(result, voltage_dependence)
    if nb == 0 or lu is None:
        return d_p, d_q
    n_unknown = pvpq.size + pq.size
    # d|S|/dx at each branch's more loaded end
    ia = np.full(n_bus, -1, dtype=np.int64)
    im = np.full(n_bus, -1, dtype=np.int64)
    ia[pvpq] = np.arange(pvpq.size)
    im[pq] = pvpq.size + np.arange(pq.size)
    yff, yft, ytf, ytt = (y[branches] for y in cn.branch_y())
    f, t = cn.br_f[branches], cn.br_t[branches]
    s_f = v[f] * np.conj(yff * v[f] + yft * v[t])
    s_t = v[t] * np.conj(ytf * v[f] + ytt * v[t])
    at_from = np.abs(s_f) >= np.abs(s_t)
    a, o = np.where(at_from, f, t), np.where(at_from, t, f)
    y_aa, y_ao = np.where(at_from, yff, ytt), np.where(at_from, yft, ytf)
    s = np.where(at_from, s_f, s_t)
    c = v[a] * np.conj(y_ao * v[o])
    va_a = np.abs(v[a])
    parts = (
        (ia[a], 1j * c),
        (ia[o], -1j * c),
        (im[a], (s + va_a**2 * np.conj(y_aa)) / va_a),
        (im[o], c / np.abs(v[o])),
    )
    mag = np.abs(s)
    scale = np.divide(1.0, mag, out=np.zeros(nb), where=mag > 0)
    grad = np.zeros((n_unknown, nb))
    col = np.arange(nb)
    for row, ds in parts:
        on = row >= 0
        np.add.at(grad, (row[on], col[on]), (np.conj(s) * ds).real[on] * scale[on])
    lam = lu.solve(grad, trans="T")  # (n_unknowns, n_branches)
    d_p[:, pvpq] = lam[ia[pvpq]].T
    d_q[:, pq] = lam[im[pq]].T
    return d_p, d_q
