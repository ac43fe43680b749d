"""Who supplies what at a solved state: the slack's active power and the reactive power
of voltage-controlling generators and converter ends, shared among the injectors of each
bus (what MATPOWER's ``pfsoln`` does)."""

from __future__ import annotations

import numpy as np

from gridsim.model.compile import REF, CompiledNetwork
from gridsim.numerics.mismatch import bus_currents_into
from gridsim.numerics.sums import bus_sum


def injector_q_share(cn: CompiledNetwork, v, bus_type, q_fixed):
    """Reactive output of every injector (Mvar), given the solved voltages.

    The reactive power a bus needs beyond its fixed injections is shared among its
    voltage-controlling injectors in proportion to their reactive ranges (MATPOWER's
    ``pfsoln`` rule), or equally where a range is infinite.
    """
    ibus = np.empty(cn.n_bus, dtype=np.complex128)  # the Newton kernels' own Ybus V loop
    bus_currents_into(cn.indptr, cn.indices, cn.ydata, np.ascontiguousarray(v), ibus)
    s_calc = v * np.conj(ibus) * cn.sn_mva
    q = np.where(cn.inj_pv, np.nan, cn.inj_q)
    q = np.where(np.isnan(q_fixed), q, q_fixed)
    free = np.isnan(q)
    n = cn.n_bus
    need = s_calc.imag + bus_sum(cn.load_bus, cn.load_s.imag, n)
    need -= bus_sum(cn.inj_bus[~free], q[~free], n)
    fb = cn.inj_bus[free]
    qmin, qmax = cn.inj_qmin[free], cn.inj_qmax[free]
    sum_min = np.bincount(fb, qmin, n)
    sum_max = np.bincount(fb, qmax, n)
    count = np.bincount(fb, minlength=n)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(sum_min) & np.isfinite(sum_max) & (sum_max > sum_min)
    share = need[fb] / np.maximum(count[fb], 1)
    fin = finite[fb]
    frac = (need[fb][fin] - sum_min[fb][fin]) / (sum_max[fb][fin] - sum_min[fb][fin])
    share[fin] = qmin[fin] + frac * (qmax[fin] - qmin[fin])
    q[free] = share
    return q, s_calc


def slack_share(cn: CompiledNetwork, p_calc_mw: np.ndarray, state=None) -> np.ndarray:
    """Active output of every injector; slack ones share what their bus must supply.

    ``state`` (Q-limit enforcement's) gives frozen outputs, the slack injectors and bus
    types in force; without it, the compiled ones.
    """
    p = cn.inj_p.copy()
    bus_type, slack_mask = cn.bus_type, cn.inj_slack
    if state is not None:
        fixed = ~np.isnan(state.p_fixed)
        p[fixed] = state.p_fixed[fixed]
        bus_type, slack_mask = state.bus_type, state.slack
    slack = slack_mask & (bus_type[cn.inj_bus] == REF)
    if not slack.any():
        return p
    n = cn.n_bus
    need = p_calc_mw + bus_sum(cn.load_bus, cn.load_s.real, n)
    need -= bus_sum(cn.inj_bus[~slack], p[~slack], n)
    sb = cn.inj_bus[slack]
    w = cn.inj_weight[slack]
    wsum = np.bincount(sb, w, cn.n_bus)
    count = np.bincount(sb, minlength=cn.n_bus)
    frac = np.where(wsum[sb] > 0, w / np.where(wsum[sb] > 0, wsum[sb], 1.0), 1.0 / count[sb])
    p[slack] = need[sb] * frac
    return p
