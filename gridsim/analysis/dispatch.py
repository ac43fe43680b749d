"""Who supplies what at a solved state: the slack's active power and the reactive power
of voltage-controlling generators and converter ends, shared among the injectors of each
bus (what MATPOWER's ``pfsoln`` does)."""

from __future__ import annotations

import numpy as np

from gridsim.model.compile import REF, CompiledNetwork
from gridsim.numerics.mismatch import reactive_shares
from gridsim.numerics.sums import bus_sum


def injector_q_share(cn: CompiledNetwork, v, bus_type, q_fixed):
    """Reactive output of every injector (Mvar), given the solved voltages.

    The reactive power a bus needs beyond its fixed injections is shared among its
    voltage-controlling injectors in proportion to their reactive ranges (MATPOWER's
    ``pfsoln`` rule), or equally where a range is infinite.
    """
    return reactive_shares(
        cn.indptr,
        cn.indices,
        cn.ydata,
        np.ascontiguousarray(v, dtype=np.complex128),
        float(cn.sn_mva),
        cn.inj_bus,
        cn.inj_pv,
        cn.inj_q,
        np.asarray(q_fixed, dtype=float),
        cn.inj_qmin,
        cn.inj_qmax,
        cn.load_bus,
        np.ascontiguousarray(cn.load_s.imag),
    )


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
