"""Bus power injections and the Newton-Raphson mismatch vector (polar form)."""

from __future__ import annotations

import numpy as np

from gridsim.numerics._jit import njit


@njit
def bus_currents_into(indptr, indices, ydata, v, ibus):  # pragma: no cover (jitted)
    """``ibus <- Ybus @ V`` on CSR arrays, in place."""
    for r in range(indptr.size - 1):
        acc = 0j
        for k in range(indptr[r], indptr[r + 1]):
            acc += ydata[k] * v[indices[k]]
        ibus[r] = acc


@njit
def reactive_shares(
    indptr, indices, ydata, v, sn_mva, inj_bus, inj_pv, inj_q, q_fixed, qmin, qmax, load_bus, load_q
):  # pragma: no cover (jitted)
    """The reactive output of every injector at solved voltages ``v`` and the power each
    bus takes from the grid ``V conj(Ybus V)`` (both in MVA units of ``sn_mva``).

    An injector keeps ``q_fixed`` where it is not NaN, else its ``inj_q`` unless it
    controls the voltage (``inj_pv``); what its bus needs beyond loads and fixed outputs
    is shared among the bus's free controllers in proportion to their reactive ranges,
    or equally where a bus's summed range is not finite and positive (MATPOWER's
    ``pfsoln`` rule). Sums run in element order, as ``np.bincount`` adds them.

    Returns ``(q, s_calc)``.
    """
    n = indptr.size - 1
    ibus = np.empty(n, dtype=np.complex128)
    bus_currents_into(indptr, indices, ydata, v, ibus)
    s_calc = np.empty(n, dtype=np.complex128)
    for b in range(n):
        s_calc[b] = v[b] * np.conj(ibus[b]) * sn_mva
    loads = np.zeros(n)
    for k in range(load_bus.size):
        loads[load_bus[k]] += load_q[k]
    n_inj = inj_bus.size
    q = np.empty(n_inj)
    fixed = np.zeros(n)
    sum_min, sum_max, count = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
    for k in range(n_inj):
        qk = np.nan if inj_pv[k] else inj_q[k]
        if not np.isnan(q_fixed[k]):
            qk = q_fixed[k]
        q[k] = qk
        b = inj_bus[k]
        if np.isnan(qk):
            sum_min[b] += qmin[k]
            sum_max[b] += qmax[k]
            count[b] += 1
        else:
            fixed[b] += qk
    for k in range(n_inj):
        if not np.isnan(q[k]):
            continue
        b = inj_bus[k]
        need = s_calc[b].imag + loads[b] - fixed[b]
        lo, hi = sum_min[b], sum_max[b]
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            q[k] = qmin[k] + (need - lo) / (hi - lo) * (qmax[k] - qmin[k])
        else:
            q[k] = need / max(count[b], 1)
    return q, s_calc


@njit
def mismatch(indptr, indices, ydata, v, sbus, pvpq, pq):  # pragma: no cover (jitted)
    """Mismatch ``F = [dP(pvpq), dQ(pq)]`` with ``dS = V conj(Ybus V) - Sbus``, p.u.

    Returns ``(F, Ibus)``; ``Ibus`` is reused by the Jacobian.
    """
    ibus = np.empty(indptr.size - 1, dtype=np.complex128)
    bus_currents_into(indptr, indices, ydata, v, ibus)
    f = np.empty(pvpq.size + pq.size)
    for j in range(pvpq.size):
        i = pvpq[j]
        f[j] = (v[i] * np.conj(ibus[i]) - sbus[i]).real
    for j in range(pq.size):
        i = pq[j]
        f[pvpq.size + j] = (v[i] * np.conj(ibus[i]) - sbus[i]).imag
    return f, ibus


@njit
def max_abs(x):  # pragma: no cover (jitted)
    """Infinity norm (0 for an empty vector)."""
    m = 0.0
    for k in range(x.size):
        a = abs(x[k])
        if a > m:
            m = a
    return m


@njit
def block_mismatch(
    indptr, indices, ydata, v, sbus, vdep, nodes, pqf, ibus, f
):  # pragma: no cover (jitted)
    """The mismatch in bus-block order, in place: ``ibus = Ybus v`` and, for block t
    (bus ``nodes[t]``), ``f[2t] = dP`` and ``f[2t+1] = dQ`` (0 for PV buses), p.u.

    ``vdep`` is the voltage-dependent load
    (:meth:`~gridsim.model.compile.CompiledNetwork.voltage_dependence`): bus i draws
    ``vdep[0, i] |V_i| + vdep[1, i] |V_i|^2`` beyond ``-sbus[i]``; with no columns,
    nothing is added. Returns ``max |f|``.
    """
    bus_currents_into(indptr, indices, ydata, v, ibus)
    zip_loads = vdep.shape[1] > 0
    norm = 0.0
    total = 0.0  # NaN-aware: max() would skip a NaN
    for t in range(nodes.size):
        i = nodes[t]
        ds = v[i] * np.conj(ibus[i]) - sbus[i]
        if zip_loads:
            m = abs(v[i])
            ds += (vdep[0, i] + vdep[1, i] * m) * m
        dp = ds.real
        dq = ds.imag * pqf[i]
        f[2 * t] = dp
        f[2 * t + 1] = dq
        norm = max(norm, abs(dp), abs(dq))
        total += dp + dq
    if not np.isfinite(total):
        return np.inf
    return norm


@njit
def mismatch_floor(indptr, indices, ydata, v, sbus, rows):  # pragma: no cover (jitted)
    """The rounding floor of the mismatch at ``v``, p.u.: the largest, over the buses
    ``rows``, of ``eps (|v_i| sum_j |Y_ij| |v_j| + |Sbus_i|)``.

    Each term of ``v_i conj(sum_j Y_ij v_j) - Sbus_i`` carries a rounding error of
    about ``eps`` times its size, and so does each voltage as a double: near a
    solution the terms cancel but their errors do not. Where a bus joins branches of
    large admittance (GBnetwork: ``sum_j |Y_ij|`` up to 4e5 p.u., a floor of 1e-8 MVA)
    no double-precision state has a smaller mismatch than a fraction of this, however
    it is summed: GBnetwork's Newton iterates, their mismatch evaluated with 64-bit
    mantissas, stay at 2-3.5e-9 MVA, and so do Newton steps taken from those exact
    mismatches. The loss is the state's rounding, not the summation order, the
    rotation update, chord steps or the LU.
    """
    eps = np.finfo(np.float64).eps
    floor = 0.0
    for k in range(rows.size):
        i = rows[k]
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            acc += abs(ydata[p]) * abs(v[indices[p]])
        floor = max(floor, eps * (abs(v[i]) * acc + abs(sbus[i])))
    return floor
