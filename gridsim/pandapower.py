"""A drop-in for ``pandapower.runpp`` and ``pandapower.rundcpp``.

``gridsim.pandapower.runpp(net, **kwargs)`` takes a pandapower net and ``runpp``'s
options, solves it with gridsim and fills ``net.res_*`` with pandapower's columns, index
and units; ``net.converged`` is set, and a power flow that does not converge raises
``pandapower.LoadflowNotConverged``, as pandapower does. Repeated calls on the same net
reuse the compiled network while only the injections (``p_mw``/``q_mvar``/``scaling`` of
loads, sgens, storage and gens, ``ps_mw``/``qs_mvar`` of wards) change.

Options that change the model (``calculate_voltage_angles``, ``trafo_model``,
``trafo_loading``, ``voltage_depend_loads``, ``trafo3w_losses``, ``switch_rx_ratio``,
``neglect_open_switch_branches``, ``enforce_q_lims``, ``init``, ``max_iteration``,
``tolerance_mva``) are honoured, with ``net.user_pf_options`` filling in what is not
passed, as pandapower does. Flags about how pandapower computes (``numba``,
``lightsim2grid``, ``recycle``, ``check_connectivity``, ``algorithm``, ...) are accepted
and ignored. ``enforce_p_lims``, ``consider_line_temperature``, ``tdpf`` and
``run_control`` are refused.

What the Newton kernel does not hold itself, an outer loop of solves on the compiled
network does, each solve starting from the last: a controllable tcsc's reactance (until
its flow is ``set_p_to_mw``), the loss in a controllable ssc's ``r_ohm`` (its internal
source gives no active power) and, under ``distributed_slack=True``, the slack power
shared by the ``slack_weight`` of ext_grids and gens (one reference bus per net, the
first, the other ext_grids holding only voltage, as pandapower).
"""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np
import pandas as pd

from gridsim.exceptions import UnsupportedElementError
from gridsim.io.pandapower import (
    MODELLED,
    Layout,
    Options,
    convert,
    firing_angle,
    load_pq,
    motor_pq,
    sgen_pq,
    svc_susceptance,
)
from gridsim.model.compile import (
    EXT_GRID,
    GEN,
    HVDC_FROM,
    HVDC_TO,
    LINE,
    NONE,
    PV,
    REF,
    SGEN,
    TRAFO,
    bus_lookup,
)
from gridsim.numerics.ybus import branch_admittances, ybus_values

__all__ = ["runpp", "rundcpp"]

_SQRT3 = np.sqrt(3.0)
_Q_LIM = 1e9  # pandapower's q_lim_default: a missing reactive limit, Mvar
_EPS = np.finfo(float).eps
_DEFAULTS = {
    "algorithm": "nr",
    "calculate_voltage_angles": True,
    "init": "auto",
    "max_iteration": "auto",
    "tolerance_mva": 1e-8,
    "trafo_model": "t",
    "trafo_loading": "current",
    "enforce_p_lims": False,
    "enforce_q_lims": False,
    "voltage_depend_loads": True,
    "consider_line_temperature": False,
    "run_control": False,
    "distributed_slack": False,
    "tdpf": False,
    "trafo3w_losses": "hv",
    "switch_rx_ratio": 2,
    "neglect_open_switch_branches": False,
}
# flags about how pandapower computes, not what: accepted and ignored
_IGNORED = frozenset(
    (
        "check_connectivity",
        "numba",
        "lightsim2grid",
        "recycle",
        "use_umfpack",
        "permc_spec",
        "only_v_results",
        "v_debug",
        "delta_q",
        "tdpf_delay_s",
        "init_vm_pu",
        "init_va_degree",
    )
)
_REFUSED = ("enforce_p_lims", "consider_line_temperature", "run_control", "tdpf")
# result tables (element -> pandapower's columns), filled for every element the net has
_RESULTS = {
    "bus": ("vm_pu", "va_degree", "p_mw", "q_mvar"),
    "line": (
        "p_from_mw",
        "q_from_mvar",
        "p_to_mw",
        "q_to_mvar",
        "pl_mw",
        "ql_mvar",
        "i_from_ka",
        "i_to_ka",
        "i_ka",
        "vm_from_pu",
        "va_from_degree",
        "vm_to_pu",
        "va_to_degree",
        "loading_percent",
    ),
    "trafo": (
        "p_hv_mw",
        "q_hv_mvar",
        "p_lv_mw",
        "q_lv_mvar",
        "pl_mw",
        "ql_mvar",
        "i_hv_ka",
        "i_lv_ka",
        "vm_hv_pu",
        "va_hv_degree",
        "vm_lv_pu",
        "va_lv_degree",
        "loading_percent",
    ),
    "trafo3w": (
        "p_hv_mw",
        "q_hv_mvar",
        "p_mv_mw",
        "q_mv_mvar",
        "p_lv_mw",
        "q_lv_mvar",
        "pl_mw",
        "ql_mvar",
        "i_hv_ka",
        "i_mv_ka",
        "i_lv_ka",
        "vm_hv_pu",
        "va_hv_degree",
        "vm_mv_pu",
        "va_mv_degree",
        "vm_lv_pu",
        "va_lv_degree",
        "va_internal_degree",
        "vm_internal_pu",
        "loading_percent",
    ),
    "impedance": (
        "p_from_mw",
        "q_from_mvar",
        "p_to_mw",
        "q_to_mvar",
        "pl_mw",
        "ql_mvar",
        "i_from_ka",
        "i_to_ka",
    ),
    "ext_grid": ("p_mw", "q_mvar"),
    "load": ("p_mw", "q_mvar"),
    "motor": ("p_mw", "q_mvar"),
    "sgen": ("p_mw", "q_mvar"),
    "storage": ("p_mw", "q_mvar"),
    "shunt": ("p_mw", "q_mvar", "vm_pu"),
    "gen": ("p_mw", "q_mvar", "va_degree", "vm_pu"),
    "ward": ("p_mw", "q_mvar", "vm_pu"),
    "svc": ("thyristor_firing_angle_degree", "x_ohm", "q_mvar", "vm_pu", "va_degree"),
    "ssc": ("q_mvar", "vm_internal_pu", "va_internal_degree", "vm_pu", "va_degree"),
    "tcsc": (
        "thyristor_firing_angle_degree",
        "x_ohm",
        "p_from_mw",
        "q_from_mvar",
        "p_to_mw",
        "q_to_mvar",
        "pl_mw",
        "ql_mvar",
        "i_ka",
        "vm_from_pu",
        "va_from_degree",
        "vm_to_pu",
        "va_to_degree",
    ),
    "xward": ("p_mw", "q_mvar", "vm_pu", "va_internal_degree", "vm_internal_pu"),
    "dcline": (
        "p_from_mw",
        "q_from_mvar",
        "p_to_mw",
        "q_to_mvar",
        "pl_mw",
        "vm_from_pu",
        "va_from_degree",
        "vm_to_pu",
        "va_to_degree",
    ),
    "switch": ("i_ka", "loading_percent", "p_from_mw", "q_from_mvar", "p_to_mw", "q_to_mvar"),
}
# columns with no part in the model (not compared between calls)
_COSMETIC = ("name", "std_type", "geo", "type", "vector_group", "description")
# result tables whose reactive power pandapower's DC power flow leaves unset
_NO_DC_Q = ("bus", "ext_grid", "gen", "sgen", "load", "storage", "motor", "shunt", "ward", "xward")
# injection columns: a change in them alone keeps the compiled network
_INJECTIONS = {
    "gen": ("p_mw", "scaling"),
    "sgen": ("p_mw", "q_mvar", "scaling"),
    "load": ("p_mw", "q_mvar", "scaling"),
    "storage": ("p_mw", "q_mvar", "scaling"),
    "ward": ("ps_mw", "qs_mvar"),
    "xward": ("ps_mw", "qs_mvar"),
}
_CACHE: dict[int, tuple[weakref.ref, _Compiled]] = {}
_OUTER_ROUNDS = 50  # solves allowed to settle the controls runpp adds to the kernel's


def runpp(net, **kwargs) -> None:
    """Solve ``net``'s AC power flow with gridsim; pandapower's ``runpp`` in its effects.

    Parameters
    ----------
    net : pandapower.pandapowerNet
        Filled in place: ``res_*`` tables, ``converged``.
    **kwargs
        ``pandapower.runpp``'s options (see the module docstring for which count).

    Raises
    ------
    pandapower.LoadflowNotConverged
        When the Newton-Raphson power flow does not converge (``net.converged`` False).
    gridsim.exceptions.UnsupportedElementError
        For an element or option gridsim does not model.
    """
    import pandapower as pp

    from gridsim.analysis.powerflow import run_ac

    opts = _options(net, kwargs)
    entry = _compiled(net, opts)
    entry.memory.clear()
    init = _init(net, entry, opts)
    max_it = opts["max_iteration"]
    tol = float(opts["tolerance_mva"]) * float(net.sn_mva)

    def solve(cn, start):
        return run_ac(
            cn,
            tol_mva=tol,
            max_iter=10 if max_it == "auto" else int(max_it),
            enforce_q_limits=bool(opts["enforce_q_lims"]),
            init=start,
        )

    cn = entry.cn
    if opts["distributed_slack"]:
        cn, entry.memory["slack_units"] = _slack_units(net, entry, cn)
    res = solve(cn, init)
    for _ in range(_OUTER_ROUNDS):  # what the Newton kernel does not hold itself
        # a solve stalled at the rounding floor (a tcsc's first reactance can be tiny)
        # is a start for the next one; the last must converge
        if not (res.converged or res.message.startswith("stalled at")):
            break
        following = _outer_step(net, entry, cn, res, tol)
        if following is None:
            break
        cn = following
        res = solve(cn, res)
    else:
        net["converged"] = False
        raise pp.LoadflowNotConverged(
            f"Power Flow nr did not converge: the tcsc/ssc/distributed-slack loop did not "
            f"settle in {_OUTER_ROUNDS} solves"
        )
    net["converged"] = bool(res.converged)
    if not res.converged:
        raise pp.LoadflowNotConverged(f"Power Flow nr did not converge: {res.message}")
    entry.cn = cn
    _write_results(net, entry, res, opts, ac=True)


def rundcpp(net, **kwargs) -> None:
    """Solve ``net``'s DC power flow with gridsim; pandapower's ``rundcpp`` in its effects.

    Parameters
    ----------
    net : pandapower.pandapowerNet
        Filled in place: ``res_*`` tables (reactive columns 0, voltages 1 p.u.),
        ``converged``.
    **kwargs
        ``pandapower.rundcpp``'s options (``trafo_model``, ``trafo_loading``, ...).
    """
    import pandapower as pp

    from gridsim.analysis.powerflow import run_dc

    opts = _options(net, {"calculate_voltage_angles": True, **kwargs})
    opts["voltage_depend_loads"] = False
    if "tcsc" in net and isinstance(net.tcsc, pd.DataFrame) and len(net.tcsc):
        raise UnsupportedElementError(
            f"pandapower table 'tcsc' ({len(net.tcsc)} rows): pandapower's DC power flow "
            "does not model tcsc (it raises NotImplementedError), nor does rundcpp"
        )
    entry = _compiled(net, opts)
    res = run_dc(entry.cn)
    net["converged"] = bool(res.converged)
    if not res.converged:
        raise pp.LoadflowNotConverged(f"DC power flow did not converge: {res.message}")
    _write_results(net, entry, res, opts, ac=False)


# -- options ------------------------------------------------------------------------------
def _options(net, kwargs: dict) -> dict:
    unknown = set(kwargs) - set(_DEFAULTS) - _IGNORED
    if unknown:
        raise TypeError(f"runpp() got unexpected keyword argument(s) {sorted(unknown)}")
    user = dict(net.get("user_pf_options", None) or {})
    # pandapower: net.user_pf_options apply unless an option is passed with a value other
    # than its default (a default value passed counts as not passed)
    passed = {
        k: v for k, v in kwargs.items() if k not in _DEFAULTS or not _same_value(v, _DEFAULTS[k])
    }
    opts = {**_DEFAULTS, **{k: v for k, v in user.items() if k in _DEFAULTS}, **passed}
    for key in _REFUSED:
        if opts[key]:
            raise UnsupportedElementError(f"runpp option {key}=True is not supported by gridsim")
    cva = opts["calculate_voltage_angles"]
    if cva == "auto":  # pandapower: True when a line joins two buses above 70 kV
        hv = net.bus.index[net.bus.vn_kv.to_numpy() > 70]
        ends = set(net.line.from_bus) | set(net.line.to_bus)
        opts["calculate_voltage_angles"] = any(b in ends for b in hv)
    if opts["trafo_loading"] not in ("current", "power"):
        raise ValueError(
            f"trafo_loading must be 'current' or 'power', got {opts['trafo_loading']!r}"
        )
    return opts


def _same_value(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays
        return False


def _model_options(opts: dict) -> Options:
    return Options(
        trafo_model=opts["trafo_model"],
        calculate_voltage_angles=bool(opts["calculate_voltage_angles"]),
        voltage_depend_loads=bool(opts["voltage_depend_loads"]),
        trafo3w_losses=str(opts["trafo3w_losses"]).lower(),
        switch_rx_ratio=float(opts["switch_rx_ratio"]),
        enforce_q_lims=bool(opts["enforce_q_lims"]),
        neglect_open_switch_branches=bool(opts["neglect_open_switch_branches"]),
    )


def _init(net, entry: _Compiled, opts: dict):
    init = opts["init"]
    if init == "auto":
        return "dc" if opts["calculate_voltage_angles"] else "flat"
    if init == "results":
        rb = net.get("res_bus")
        if rb is None or len(rb) != len(net.bus) or rb.vm_pu.isna().all():
            return "flat"
        v = rb.vm_pu.to_numpy(float) * np.exp(1j * np.deg2rad(rb.va_degree.to_numpy(float)))
        v_node = np.ones(entry.cn.n_bus, dtype=complex)
        pos = entry.node_pos
        ok = (pos >= 0) & np.isfinite(v)
        v_node[pos[ok]] = v[ok]
        return v_node
    if init in ("flat", "dc"):
        return init
    raise ValueError(f"init must be 'auto', 'flat', 'dc' or 'results', got {init!r}")


# -- the compiled network, cached per net -------------------------------------------------
@dataclasses.dataclass
class _Compiled:
    options: Options
    layout: Layout
    cn: object  # CompiledNetwork
    base: object  # the CompiledNetwork as compiled (its injections)
    snapshot: dict
    node_pos: np.ndarray  # compiled bus of each pandapower bus (-1: none)
    bus_rows: object  # pandapower bus index -> row of net.bus (a bus_lookup)
    pos: dict  # compiled positions of each element's rows
    memory: dict = dataclasses.field(default_factory=dict)  # runpp's outer loop's last step

    def matches(self, net, options: Options) -> bool:
        now = _snapshot(net, self.layout, copy=False)
        return options == self.options and _same(self.snapshot, now)


def _snapshot(net, layout: Layout | None, copy: bool = True) -> dict:
    """The model tables' columns but injections (all of them where constant-impedance
    loads make injections part of the model), as copies (views with ``copy=False``,
    to compare with a stored one)."""
    load_z = bool(layout and layout.load_z)
    snap: dict = {"_net": (float(net.sn_mva), float(net.f_hz))}
    for element in MODELLED:
        table = net[element] if element in net else None
        if not isinstance(table, pd.DataFrame):
            continue
        drop = set(_COSMETIC)
        if not (load_z and element != "gen"):
            drop |= set(_INJECTIONS.get(element, ()))
        cols = {c: table[c].to_numpy(copy=copy) for c in table.columns if c not in drop}
        snap[element] = (table.index.to_numpy(copy=copy), cols)
    return snap


def _same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys() or a["_net"] != b["_net"]:
        return False
    for key, (index, cols) in a.items():
        if key == "_net":
            continue
        other_index, other = b[key]
        if not np.array_equal(index, other_index) or cols.keys() != other.keys():
            return False
        for c, x in cols.items():
            y = other[c]
            if x.dtype != y.dtype:
                return False
            if x.dtype.kind == "f":
                if not np.array_equal(x, y, equal_nan=True):
                    return False
            elif x.dtype.kind == "O":
                if (x == y).all():  # the common case; a missing value is unequal to itself
                    continue
                nx, ny = pd.isna(x), pd.isna(y)
                if not (np.array_equal(nx, ny) and (x[~nx] == y[~ny]).all()):
                    return False
            elif not np.array_equal(x, y):
                return False
    return True


def _compiled(net, opts: dict) -> _Compiled:
    options = _model_options(opts)
    key = id(net)
    hit = _CACHE.get(key)
    entry = hit[1] if hit is not None and hit[0]() is net else None
    if entry is not None and entry.matches(net, options):
        entry.cn = _with_injections(entry, net)
        return entry
    network, layout = convert(net, options)
    cn = network.compile()
    entry = _Compiled(
        options=options,
        layout=layout,
        cn=cn,
        base=cn,
        snapshot=_snapshot(net, layout),
        node_pos=cn.bus_ids.get_indexer(layout.node),
        bus_rows=bus_lookup(net.bus.index),
        pos=_positions(net, cn),
    )
    try:
        ref = weakref.ref(net, lambda _, k=key: _CACHE.pop(k, None))
    except TypeError:  # a net that cannot be weakly referenced is not cached
        return entry
    _CACHE[key] = (ref, entry)
    return entry


def _positions(net, cn) -> dict:
    """Where each pandapower element's rows sit in the compiled arrays (-1: not there)."""

    def among(mask, ids):
        if mask is None:
            return pd.Index(cn.load_id).get_indexer(ids)
        return _find(np.flatnonzero(mask), cn.inj_id, ids)

    line_m, trafo_m = cn.br_kind == LINE, cn.br_kind == TRAFO
    lines = np.flatnonzero(line_m)
    trafos = np.flatnonzero(trafo_m)

    def branch(kind_idx, ids):
        return _find(kind_idx, cn.br_id, ids)

    out = {
        "line": branch(lines, net.line.index),
        "trafo": branch(trafos, net.trafo.index),
        "gen": among(cn.inj_kind == GEN, net.gen.index),
        "sgen": among(cn.inj_kind == SGEN, net.sgen.index),
        "ext_grid": among(cn.inj_kind == EXT_GRID, net.ext_grid.index),
        "load": among(None, net.load.index),
    }
    for element in ("storage", "motor", "ward", "xward"):
        if element in net and len(net[element]):
            out[element] = among(None, [f"{element} {k}" for k in net[element].index])
    if "xward" in net and len(net.xward):
        names = [f"xward {k}" for k in net.xward.index]
        out["xward_gen"] = among(cn.inj_kind == GEN, names)
        out["xward_line"] = branch(lines, names)
    for element in ("svc", "ssc"):  # their gens (controllable, or an ssc's internal one)
        if element in net and len(net[element]):
            names = [f"{element} {k}" for k in net[element].index]
            out[f"{element}_gen"] = among(cn.inj_kind == GEN, names)
            if element == "ssc":
                out["ssc_line"] = branch(lines, names)
    if "tcsc" in net and len(net.tcsc):
        out["tcsc"] = branch(lines, [f"tcsc {k}" for k in net.tcsc.index])
    if "impedance" in net and len(net.impedance):
        out["impedance"] = branch(lines, [f"impedance {k}" for k in net.impedance.index])
    if "trafo3w" in net and len(net.trafo3w):
        for s in ("hv", "mv", "lv"):
            out[f"trafo3w_{s}"] = branch(trafos, [f"trafo3w {k} {s}" for k in net.trafo3w.index])
    if "switch" in net and len(net.switch):
        out["switch"] = branch(lines, [f"switch {k}" for k in net.switch.index])
    if "dcline" in net and len(net.dcline):
        out["dcline_from"] = among(cn.inj_kind == HVDC_FROM, net.dcline.index)
        out["dcline_to"] = among(cn.inj_kind == HVDC_TO, net.dcline.index)
    return out


def _find(where: np.ndarray, keys: np.ndarray, ids) -> np.ndarray:
    """Positions (among ``where``) of ``ids`` in ``keys``; -1 where absent."""
    if not where.size:
        return np.full(len(ids), -1, dtype=np.int64)
    p = pd.Index(keys[where]).get_indexer(ids)
    return np.where(p >= 0, where[np.maximum(p, 0)], -1)


def _with_injections(entry: _Compiled, net):
    """The compiled network with the net's current loads, sgens and gen setpoints."""
    base, pos, options = entry.base, entry.pos, entry.options
    inj_p, inj_q, load_s = base.inj_p.copy(), base.inj_q.copy(), base.load_s.copy()

    def put(target, where, values):
        ok = where >= 0
        target[where[ok]] = values[ok]

    gen = net.gen
    scaling = gen.scaling.to_numpy(float) if "scaling" in gen.columns else 1.0
    put(inj_p, pos["gen"], gen.p_mw.to_numpy(float) * scaling)
    p, q = sgen_pq(net.sgen, options)
    put(inj_p, pos["sgen"], p)
    put(inj_q, pos["sgen"], q)
    p, q = load_pq(net.load)
    put(load_s, pos["load"], p + 1j * q)
    if "storage" in pos:
        p, q = load_pq(net.storage)
        put(load_s, pos["storage"], p + 1j * q)
    for element in ("ward", "xward"):
        if element in pos:
            w = net[element]
            put(load_s, pos[element], w.ps_mw.to_numpy(float) + 1j * w.qs_mvar.to_numpy(float))
    if (
        np.array_equal(inj_p, base.inj_p)
        and np.array_equal(inj_q, base.inj_q)
        and np.array_equal(load_s, base.load_s)
    ):
        return base
    return dataclasses.replace(base, inj_p=inj_p, inj_q=inj_q, load_s=load_s, _cache=base._cache)


# -- controls the Newton kernel does not hold ---------------------------------------------
def _outer_step(net, entry: _Compiled, cn, res, tol: float):
    """The compiled network for the next solve of runpp's outer loop, or None when every
    control holds: a controllable ssc's gen draws the loss in its ``r_ohm`` (P = 0 at
    its internal voltage source, as pandapower); a controllable tcsc's reactance moves
    until its flow meets ``set_p_to_mw``; under ``distributed_slack`` the gens' outputs
    move until the reference bus's units give their shares. Each holds to ``10 tol`` MW,
    ``tol`` the Newton solve's tolerance."""
    pos, memory = entry.pos, entry.memory
    changes = {}
    ssc = net.ssc if "ssc_gen" in pos else None
    if ssc is not None:
        where = pos["ssc_gen"]
        m = (where >= 0) & _flag(ssc, "controllable") & (ssc.r_ohm.to_numpy(float) > 0)
        if m.any():
            w = where[m]
            vn = cn.vn_kv[cn.inj_bus[w]]
            vm = np.abs(res.v[cn.inj_bus[w]])
            s2 = res._inj_p[w] ** 2 + res._inj_q[w] ** 2
            loss = ssc.r_ohm.to_numpy(float)[m] * s2 / (vn * vm) ** 2
            if np.abs(cn.inj_p[w] + loss).max() > 10 * tol:
                inj_p = cn.inj_p.copy()
                inj_p[w] = -loss
                changes["inj_p"] = inj_p
    if "tcsc" in pos:
        tcsc = net.tcsc
        where = pos["tcsc"]
        m = (where >= 0) & _flag(tcsc, "controllable")
        w = where[m]
        target = tcsc.set_p_to_mw.to_numpy(float)[m]
        p_to = np.asarray(res._s_to)[w].real
        if m.any() and np.abs(p_to - target).max() > 10 * tol:
            # the flow goes nearly as 1 / (x + the rest of the path's reactance): secant
            # steps on 1 / flow against x; the first step takes the rest as 0
            x = -1 / cn.br_ys[w].imag  # ys = 1 / (j x)
            inv = 1 / p_to
            step = x * (p_to / target - 1)
            last = memory.get("tcsc")
            if last is not None:
                slope = (inv - last[1]) / (x - last[0])
                secant = (1 / target - inv) / np.where(slope == 0, np.nan, slope)
                step = np.where(np.isfinite(secant), secant, step)
            memory["tcsc"] = (x, inv)
            ys = cn.br_ys.copy()
            ys[w] = 1 / (1j * (x + step))
            yff, yft, ytf, ytt = branch_admittances(ys, cn.br_yf, cn.br_yt, cn.br_tap)
            ydata = ybus_values(cn.indices.size, cn.ypos, cn.ydiag, yff, yft, ytf, ytt, cn.ysh)
            changes.update(br_ys=ys, ydata=ydata)
    if "slack_units" in memory:
        where, share, at_ref = memory["slack_units"]
        p0 = memory.setdefault("p0", cn.inj_p)
        delta = memory.get("delta", 0.0)
        w = where[at_ref]
        error = (res._inj_p[w] - p0[w]).sum() - share[at_ref].sum() * delta
        if abs(error) > 10 * tol:
            memory["delta"] = delta = delta + error
            inj_p = changes.get("inj_p", cn.inj_p).copy()
            inj_p[where] = p0[where] + share * delta
            changes["inj_p"] = inj_p
    if not changes:
        return None
    # the Newton solvers and the bus order hold for the new values; the rest is rebuilt
    cache = {
        k: v
        for k, v in cn._cache.items()
        if k == "bus_order" or (isinstance(k, tuple) and k[0] == "newton-types")
    }
    return dataclasses.replace(cn, **changes, _cache=cache)


def _slack_units(net, entry: _Compiled, cn):
    """Under ``distributed_slack``: the compiled network with one reference bus (the
    island's first, as pandapower; other ext_grids hold voltage only) and, for the outer
    loop, the compiled positions of the ext_grids and gens, their shares of the slack
    power (``slack_weight`` over the sum; pandapower's defaults 1 for ext_grids, 0 for
    gens) and which of them sit at the reference bus (whose output the loop brings to
    their shares)."""
    pos = entry.pos
    where = np.concatenate([pos["ext_grid"], pos["gen"]])
    weight = np.concatenate(
        [_col(net.ext_grid, "slack_weight", 1.0), _col(net.gen, "slack_weight", 0.0)]
    )
    live = where >= 0
    live[live] = cn.island[cn.inj_bus[where[live]]] >= 0
    where, weight = where[live], weight[live]
    xward = net.xward if "xward" in net and isinstance(net.xward, pd.DataFrame) else None
    if xward is not None and (_col(xward, "slack_weight", 0.0) * xward.in_service != 0).any():
        raise UnsupportedElementError(
            "runpp option distributed_slack=True with slack_weight on xwards is not supported"
        )
    islands = np.unique(cn.island[cn.inj_bus[where[weight != 0]]])
    if islands.size == 0 or weight.sum() <= 0:
        raise ValueError("distributed slack contribution factors sum to zero or less")
    if islands.size > 1:  # as pandapower
        raise UnsupportedElementError(
            "runpp option distributed_slack=True over several islands at once is not supported"
        )
    # as pandapower: the first reference bus stays one, the others hold only voltage
    refs = np.flatnonzero((cn.bus_type == REF) & (cn.island == islands[0]))
    if refs.size > 1:
        bus_type = cn.bus_type.copy()
        bus_type[refs[1:]] = PV
        slack = cn.inj_slack & ~np.isin(cn.inj_bus, refs[1:])
        cn = dataclasses.replace(cn, bus_type=bus_type, inj_slack=slack, _cache={})
    return cn, (where, weight / weight.sum(), cn.inj_bus[where] == refs[0])


def _flag(table: pd.DataFrame, name: str) -> np.ndarray:
    """A boolean column (True where absent or NaN, as pandapower's ``controllable``)."""
    if name not in table.columns:
        return np.ones(len(table), dtype=bool)
    values = table[name].to_numpy()
    return np.where(pd.isna(values), True, values).astype(bool)


# -- results ------------------------------------------------------------------------------
def _frame(net, element: str, data: dict) -> None:
    cols = _RESULTS[element]
    empty = net.get(f"_empty_res_{element}")
    if isinstance(empty, pd.DataFrame) and set(empty.columns) >= set(cols):
        cols = tuple(empty.columns)
    index = net[element].index
    n = len(index)
    frame = pd.DataFrame(
        {c: np.asarray(data[c], dtype=float) if c in data else np.full(n, np.nan) for c in cols},
        index=index,
    )
    net[f"res_{element}"] = frame


def _write_results(net, entry: _Compiled, res, opts: dict, *, ac: bool) -> None:
    cn, layout, pos = entry.cn, entry.layout, entry.pos
    sn = cn.sn_mva
    v = np.asarray(res.v, dtype=complex).copy()
    dead = res.bus_type == NONE
    v[dead] = np.nan
    vm_c, va_c = np.abs(v), np.rad2deg(np.angle(v))
    if not ac:  # pandapower reports the setpoints of voltage-controlled buses
        vm_c = np.where(np.isin(res.bus_type, (PV, REF)), cn.vm_set, 1.0)
        # but for svcs and sscs, which its DC power flow leaves out
        facts = [pos[k] for k in ("svc_gen", "ssc_gen") if k in pos]
        facts = np.concatenate(facts) if facts else np.zeros(0, dtype=np.int64)
        vm_c[cn.inj_bus[facts[facts >= 0]]] = 1.0
    vm_c[dead] = np.nan
    va_c[dead] = np.nan
    s_from = np.asarray(res._s_from)
    s_to = np.asarray(res._s_to)
    if not ac:
        s_from, s_to = s_from.real + 0j, s_to.real + 0j
    inj_p = res._inj_p
    inj_q = _q_split(cn, res.bus_type, res._inj_q) if ac else np.zeros(cn.inj_kind.size)
    node = entry.node_pos
    bus_vm = np.where(node >= 0, vm_c[np.maximum(node, 0)], np.nan)
    bus_va = np.where(node >= 0, va_c[np.maximum(node, 0)], np.nan)
    bus_p = np.zeros(len(net.bus))
    bus_q = np.zeros(len(net.bus))
    rows = entry.bus_rows  # pandapower bus index -> row of net.bus

    def vm_at(buses):
        return bus_vm[rows(buses)]

    def vn_at(buses):
        return net.bus.vn_kv.to_numpy(float)[rows(buses)]

    def live(table):
        """In service at an energised bus (pandapower's elements in the power flow)."""
        return table.in_service.to_numpy(dtype=bool) & ~np.isnan(vm_at(table.bus))

    def add_bus(buses, p, q):
        at = rows(buses)
        np.add.at(bus_p, at, np.asarray(p, dtype=float))
        np.add.at(bus_q, at, np.asarray(q, dtype=float))

    def branch(where, f_bus=None, t_bus=None):
        """Flows and end voltages of compiled branches; where a branch is out, 0 flows and
        the voltages of pandapower buses ``f_bus``, ``t_bus`` (NaN if not given)."""
        ok = where >= 0
        w = np.maximum(where, 0)
        sf = np.where(ok, s_from[w], 0)
        st = np.where(ok, s_to[w], 0)
        f, t = cn.br_f[w], cn.br_t[w]
        ends = []
        for k, buses in ((f, f_bus), (t, t_bus)):
            off = np.full(where.size, np.nan) if buses is None else vm_at(buses)
            off_a = np.full(where.size, np.nan) if buses is None else _va(bus_va, rows, buses)
            ends += [np.where(ok, vm_c[k], off), np.where(ok, va_c[k], off_a)]
        vf, af, vt, at = ends
        vn_f = np.where(ok, cn.vn_kv[f], np.nan if f_bus is None else vn_at(f_bus))
        vn_t = np.where(ok, cn.vn_kv[t], np.nan if t_bus is None else vn_at(t_bus))
        with np.errstate(invalid="ignore", divide="ignore"):
            i_f = np.abs(sf) / (vf * vn_f) / _SQRT3
            i_t = np.abs(st) / (vt * vn_t) / _SQRT3
        return sf, st, vf, af, vt, at, i_f, i_t

    def losses(sf, st):
        if ac:
            return {"pl_mw": (sf + st).real, "ql_mvar": (sf + st).imag}
        return {"pl_mw": np.zeros(sf.size), "ql_mvar": np.zeros(sf.size)}

    # lines
    line = net.line
    sf, st, vf, af, vt, at, i_f, i_t = branch(pos["line"], line.from_bus, line.to_bus)
    i_ka = np.maximum(i_f, i_t)
    i_max = line.max_i_ka.to_numpy(float) * _col(line, "df") * line.parallel.to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        loading = np.where(i_max != 0, i_ka / i_max, np.inf) * 100
    _frame(
        net,
        "line",
        {
            "p_from_mw": sf.real,
            "q_from_mvar": sf.imag,
            "p_to_mw": st.real,
            "q_to_mvar": st.imag,
            **losses(sf, st),
            "i_from_ka": i_f,
            "i_to_ka": i_t,
            "i_ka": i_ka,
            "vm_from_pu": vf,
            "va_from_degree": af,
            "vm_to_pu": vt,
            "va_to_degree": at,
            "loading_percent": loading,
        },
    )
    # transformers
    trafo = net.trafo
    sf, st, vf, af, vt, at, i_f, i_t = branch(pos["trafo"], trafo.hv_bus, trafo.lv_bus)
    sn_t = trafo.sn_mva.to_numpy(float)
    if opts["trafo_loading"] == "current":
        ld = np.maximum(i_f * trafo.vn_hv_kv.to_numpy(float), i_t * trafo.vn_lv_kv.to_numpy(float))
        ld = ld * _SQRT3 / sn_t * 100
    else:
        ld = np.maximum(np.abs(sf), np.abs(st)) / sn_t * 100
    _frame(
        net,
        "trafo",
        {
            "p_hv_mw": sf.real,
            "q_hv_mvar": sf.imag,
            "p_lv_mw": st.real,
            "q_lv_mvar": st.imag,
            **losses(sf, st),
            "i_hv_ka": i_f,
            "i_lv_ka": i_t,
            "vm_hv_pu": vf,
            "va_hv_degree": af,
            "vm_lv_pu": vt,
            "va_lv_degree": at,
            "loading_percent": ld / trafo.parallel.to_numpy(float) / _col(trafo, "df"),
        },
    )
    if "trafo3w_hv" in pos:
        t3 = net.trafo3w
        h = branch(pos["trafo3w_hv"], t3.hv_bus)
        m = branch(pos["trafo3w_mv"], None, t3.mv_bus)
        lo = branch(pos["trafo3w_lv"], None, t3.lv_bus)
        s_h, s_m, s_l = h[0], m[1], lo[1]
        if opts["trafo_loading"] == "current":
            parts = [
                i * t3[f"vn_{s}_kv"].to_numpy(float) * _SQRT3 / t3[f"sn_{s}_mva"].to_numpy(float)
                for i, s in ((h[6], "hv"), (m[7], "mv"), (lo[7], "lv"))
            ]
        else:
            parts = [
                np.abs(x) / t3[f"sn_{s}_mva"].to_numpy(float)
                for x, s in ((s_h, "hv"), (s_m, "mv"), (s_l, "lv"))
            ]
        total = s_h + s_m + s_l
        _frame(
            net,
            "trafo3w",
            {
                "p_hv_mw": s_h.real,
                "q_hv_mvar": s_h.imag,
                "p_mv_mw": s_m.real,
                "q_mv_mvar": s_m.imag,
                "p_lv_mw": s_l.real,
                "q_lv_mvar": s_l.imag,
                "pl_mw": total.real if ac else np.zeros(len(t3)),
                "ql_mvar": total.imag if ac else np.zeros(len(t3)),
                "i_hv_ka": h[6],
                "i_mv_ka": m[7],
                "i_lv_ka": lo[7],
                "vm_hv_pu": h[2],
                "va_hv_degree": h[3],
                "vm_mv_pu": m[4],
                "va_mv_degree": m[5],
                "vm_lv_pu": lo[4],
                "va_lv_degree": lo[5],
                "va_internal_degree": h[5],
                "vm_internal_pu": h[4],
                "loading_percent": np.maximum(np.maximum(parts[0], parts[1]), parts[2]) * 100,
            },
        )
    if "impedance" in pos:
        imp = net.impedance
        sf, st, vf, af, vt, at, _, _ = branch(pos["impedance"], imp.from_bus, imp.to_bus)
        if ac:
            sf = sf + np.nan_to_num(vf) ** 2 * np.conj(layout.impedance_y["f"]) * sn
            st = st + np.nan_to_num(vt) ** 2 * np.conj(layout.impedance_y["t"]) * sn
        w = np.maximum(pos["impedance"], 0)
        ok = pos["impedance"] >= 0
        with np.errstate(invalid="ignore", divide="ignore"):
            i_f = np.where(ok, np.abs(sf) / (vf * cn.vn_kv[cn.br_f[w]]) / _SQRT3, 0.0)
            i_t = np.where(ok, np.abs(st) / (vt * cn.vn_kv[cn.br_t[w]]) / _SQRT3, 0.0)
        _frame(
            net,
            "impedance",
            {
                "p_from_mw": sf.real,
                "q_from_mvar": sf.imag,
                "p_to_mw": st.real,
                "q_to_mvar": st.imag,
                **losses(sf, st),
                "i_from_ka": i_f,
                "i_to_ka": i_t,
            },
        )

    # injectors
    def inj(where):
        ok = where >= 0
        w = np.maximum(where, 0)
        return np.where(ok, inj_p[w], 0.0), np.where(ok, inj_q[w], 0.0)

    gen = net.gen
    p, q = inj(pos["gen"])
    _frame(
        net,
        "gen",
        {
            "p_mw": p,
            "q_mvar": q,
            "vm_pu": vm_at(gen.bus),
            "va_degree": _va(bus_va, rows, gen.bus),
        },
    )
    add_bus(gen.bus, -p, -q)
    p, q = inj(pos["ext_grid"])
    _frame(net, "ext_grid", {"p_mw": p, "q_mvar": q})
    add_bus(net.ext_grid.bus, -p, -q)
    sgen = net.sgen
    p, q = sgen_pq(sgen, entry.options)
    on = live(sgen)
    p, q = p * on, q * on
    _frame(net, "sgen", {"p_mw": p, "q_mvar": q})
    add_bus(sgen.bus, -p, -q)
    load = net.load
    p, q = load_pq(load)
    on = live(load)
    if opts["voltage_depend_loads"] and ac:
        vm = np.nan_to_num(vm_at(load.bus))
        czp = _col(load, "const_z_p_percent", 0.0) / 100
        czq = _col(load, "const_z_q_percent", 0.0) / 100
        cip = _col(load, "const_i_p_percent", 0.0) / 100
        ciq = _col(load, "const_i_q_percent", 0.0) / 100
        p = p * on * (1 - czp - cip) + p * on * (cip * vm + czp * vm**2)
        q = q * on * (1 - czq - ciq) + q * on * (ciq * vm + czq * vm**2)
    else:
        p, q = p * on, q * on
    _frame(net, "load", {"p_mw": p, "q_mvar": q})
    add_bus(load.bus, p, q)
    for element in ("storage", "motor"):
        if element in net and isinstance(net[element], pd.DataFrame):
            table = net[element]
            if not len(table):
                _frame(net, element, {})
                continue
            p, q = motor_pq(table) if element == "motor" else load_pq(table)
            on = live(table)
            _frame(net, element, {"p_mw": p * on, "q_mvar": q * on})
            add_bus(table.bus, p * on, q * on)
    shunt = net.shunt
    vm = np.nan_to_num(vm_at(shunt.bus))
    vn_sh = _col(shunt, "vn_kv", np.nan)
    vn_bus = vn_at(shunt.bus)
    ratio = (vn_bus / np.where(np.isnan(vn_sh), vn_bus, vn_sh)) ** 2 * _col(shunt, "step", 1.0)
    on = live(shunt)
    p = vm**2 * shunt.p_mw.to_numpy(float) * ratio * on
    q = vm**2 * shunt.q_mvar.to_numpy(float) * ratio * on
    _frame(net, "shunt", {"p_mw": p, "q_mvar": q if ac else np.zeros(p.size), "vm_pu": vm})
    add_bus(shunt.bus, p, q if ac else 0 * q)
    for element in ("ward", "xward"):
        if element not in net or not isinstance(net[element], pd.DataFrame):
            continue
        w = net[element]
        if not len(w):
            _frame(net, element, {})
            continue
        on = live(w)
        vm = np.nan_to_num(vm_at(w.bus))
        p = (w.ps_mw.to_numpy(float) + vm**2 * w.pz_mw.to_numpy(float)) * on
        q = (w.qs_mvar.to_numpy(float) + vm**2 * w.qz_mvar.to_numpy(float)) * on
        data = {"vm_pu": vm}
        if element == "xward":
            sf, _, _, _, vt, at, _, _ = branch(pos["xward_line"])
            p, q = p + sf.real, q + sf.imag
            data.update(vm_internal_pu=vt, va_internal_degree=at)
        if not ac:
            q = np.zeros(p.size)
        _frame(net, element, {"p_mw": p, "q_mvar": q, **data})
        add_bus(w.bus, p, q)
    if not ac:  # pandapower's DC power flow leaves svcs and sscs out: its results
        for element in ("svc", "ssc"):
            if element in net and isinstance(net[element], pd.DataFrame):
                on = live(net[element])
                zero, one = np.where(on, 0.0, np.nan), np.where(on, 1.0, np.nan)
                _frame(
                    net,
                    element,
                    {
                        "thyristor_firing_angle_degree": zero,
                        "vm_internal_pu": one,
                        "va_internal_degree": zero,
                    },
                )
    elif "svc" in net and isinstance(net.svc, pd.DataFrame):
        svc = net.svc
        on = live(svc)
        vm = np.nan_to_num(vm_at(svc.bus))
        vn = vn_at(svc.bus)
        y = svc_susceptance(svc, vn, sn)
        if "svc_gen" in pos:  # controllable ones: the susceptance their gen's Q makes
            _, q_gen = inj(pos["svc_gen"])
            held = pos["svc_gen"] >= 0
            with np.errstate(invalid="ignore", divide="ignore"):
                y = np.where(held, -q_gen / (vm**2 * sn), y)
        q = vm**2 * y * sn * on
        with np.errstate(invalid="ignore", divide="ignore"):
            x_ohm = vn**2 / sn / y
        _frame(
            net,
            "svc",
            {
                "thyristor_firing_angle_degree": np.where(on, firing_angle(y, svc, vn, sn), np.nan),
                "x_ohm": np.where(on, x_ohm, np.nan),
                "q_mvar": q,
                "vm_pu": np.where(on, vm_at(svc.bus), np.nan),
                "va_degree": np.where(on, _va(bus_va, rows, svc.bus), np.nan),
            },
        )
        add_bus(svc.bus, np.zeros(len(svc)), q)
    if ac and "ssc" in net and isinstance(net.ssc, pd.DataFrame) and len(net.ssc):
        ssc = net.ssc
        on = live(ssc)
        # fixed ones: the flow into their line to the internal bus and its voltage
        sf, _, _, _, vt, at, _, _ = branch(pos["ssc_line"])
        p_gen, q_gen = inj(pos["ssc_gen"])
        control = pos["ssc_line"] < 0
        # controllable ones: the gen at the bus draws what flows into the ssc, and the
        # internal voltage lies behind r + jx from the bus
        v_bus = vm_at(ssc.bus) * np.exp(1j * np.deg2rad(_va(bus_va, rows, ssc.bus)))
        s_in = np.where(control, -(p_gen + 1j * q_gen), sf) * on
        z = (ssc.r_ohm.to_numpy(float) + 1j * ssc.x_ohm.to_numpy(float)) * sn / vn_at(ssc.bus) ** 2
        with np.errstate(invalid="ignore"):
            v_int = v_bus - z * np.conj(s_in / sn / v_bus)
        _frame(
            net,
            "ssc",
            {
                "q_mvar": s_in.imag,
                "vm_internal_pu": np.where(on, np.where(control, np.abs(v_int), vt), np.nan),
                "va_internal_degree": np.where(
                    on, np.where(control, np.rad2deg(np.angle(v_int)), at), np.nan
                ),
                "vm_pu": np.where(on, vm_at(ssc.bus), np.nan),
                "va_degree": np.where(on, _va(bus_va, rows, ssc.bus), np.nan),
            },
        )
        add_bus(ssc.bus, np.zeros(len(ssc)), s_in.imag)
    if "tcsc" in net and isinstance(net.tcsc, pd.DataFrame) and len(net.tcsc):
        tcsc = net.tcsc
        where = pos["tcsc"]
        sf, st, vf, af, vt, at, i_f, i_t = branch(where, tcsc.from_bus, tcsc.to_bus)
        vn = vn_at(tcsc.from_bus)
        y = np.where(where >= 0, -cn.br_ys[np.maximum(where, 0)].imag, np.nan)  # ys = -j y
        _frame(
            net,
            "tcsc",
            {
                "thyristor_firing_angle_degree": firing_angle(y, tcsc, vn, sn),
                "x_ohm": vn**2 / sn / y,
                "p_from_mw": sf.real,
                "q_from_mvar": sf.imag,
                "p_to_mw": st.real,
                "q_to_mvar": st.imag,
                **losses(sf, st),
                "i_ka": np.maximum(i_f, i_t),
                "vm_from_pu": vf,
                "va_from_degree": af,
                "vm_to_pu": vt,
                "va_to_degree": at,
            },
        )
    if "dcline" in net and isinstance(net.dcline, pd.DataFrame):
        dc = net.dcline
        if len(dc):
            pf, qf = inj(pos["dcline_from"])
            pt, qt = inj(pos["dcline_to"])
            _frame(
                net,
                "dcline",
                {
                    "p_from_mw": -pf,
                    "q_from_mvar": -qf,
                    "p_to_mw": -pt,
                    "q_to_mvar": -qt,
                    "pl_mw": -(pf + pt),
                    "vm_from_pu": vm_at(dc.from_bus),
                    "va_from_degree": _va(bus_va, rows, dc.from_bus),
                    "vm_to_pu": vm_at(dc.to_bus),
                    "va_to_degree": _va(bus_va, rows, dc.to_bus),
                },
            )
        else:
            _frame(net, "dcline", {})
    if "switch" in net and isinstance(net.switch, pd.DataFrame):
        _switch_results(net, entry, branch)
    _frame(net, "bus", {"vm_pu": bus_vm, "va_degree": bus_va, "p_mw": bus_p, "q_mvar": bus_q})
    if not ac:  # what pandapower's DC power flow leaves unset
        for element in _RESULTS:
            table = net.get(f"res_{element}")
            if element in _NO_DC_Q and isinstance(table, pd.DataFrame):
                table["q_mvar"] = np.nan
                if element in ("shunt", "ward", "xward"):
                    table["vm_pu"] = np.nan


def _q_split(cn, bus_type: np.ndarray, inj_q: np.ndarray) -> np.ndarray:
    """Reactive output of voltage controllers sharing a bus, split as pandapower does.

    MATPOWER's rule (in proportion to the reactive ranges), with pandapower's ranges:
    an ext_grid's is 0 in a power flow (it takes nothing while a gen shares its bus),
    a missing limit is 1e9 Mvar.
    """
    free = cn.inj_pv & np.isin(bus_type[cn.inj_bus], (PV, REF))
    if not free.any():
        return inj_q
    bus = cn.inj_bus[free]
    n = cn.n_bus
    count = np.bincount(bus, minlength=n)
    if count.max() < 2:
        return inj_q
    ext = cn.inj_kind[free] == EXT_GRID
    qmin = np.where(ext, 0.0, np.clip(cn.inj_qmin[free], -_Q_LIM, _Q_LIM))
    qmax = np.where(ext, 0.0, np.clip(cn.inj_qmax[free], -_Q_LIM, _Q_LIM))
    total = np.bincount(bus, inj_q[free], n)
    low, high = np.bincount(bus, qmin, n), np.bincount(bus, qmax, n)
    same = (low == high)[bus]
    share = qmin + (total - low)[bus] / (high - low + _EPS)[bus] * (qmax - qmin)
    q = inj_q.copy()
    q[free] = np.where(same, (total / np.maximum(count, 1))[bus], share)
    return q


def _switch_results(net, entry: _Compiled, branch) -> None:
    sw = net.switch
    n = len(sw)
    data = {c: np.full(n, np.nan) for c in _RESULTS["switch"]}
    if n:
        et = sw.et.to_numpy()
        elem = sw.element.to_numpy()
        if "switch" in entry.pos:
            where = entry.pos["switch"]
            sf, st, _, _, _, _, i_f, i_t = branch(where)
            m = where >= 0
            data["i_ka"][m] = np.maximum(i_f, i_t)[m]
            for c, x in (("p_from_mw", sf.real), ("q_from_mvar", sf.imag)):
                data[c][m] = x[m]
            for c, x in (("p_to_mw", st.real), ("q_to_mvar", st.imag)):
                data[c][m] = x[m]
        m = et == "l"
        if m.any():
            data["i_ka"][m] = net.res_line.i_ka.to_numpy()[net.line.index.get_indexer(elem[m])]
        m = et == "t"
        if m.any():
            rows = net.trafo.index.get_indexer(elem[m])
            hv = net.trafo.hv_bus.to_numpy()[rows] == sw.bus.to_numpy()[m]
            lv = net.trafo.lv_bus.to_numpy()[rows] == sw.bus.to_numpy()[m]
            i = data["i_ka"][m]
            i[hv] = net.res_trafo.i_hv_ka.to_numpy()[rows][hv]
            i[lv] = net.res_trafo.i_lv_ka.to_numpy()[rows][lv]
            data["i_ka"][m] = i
        data["i_ka"][~sw.closed.to_numpy(dtype=bool)] = 0.0
        if "in_ka" in sw.columns:
            data["loading_percent"] = data["i_ka"] / sw.in_ka.to_numpy(float) * 100
    _frame(net, "switch", data)


def _col(table: pd.DataFrame, name: str, default: float = 1.0) -> np.ndarray:
    if name in table.columns:
        values = table[name].to_numpy(dtype=float)
        return np.where(np.isnan(values), default, values)
    return np.full(len(table), default)


def _va(bus_va, rows, buses) -> np.ndarray:
    return bus_va[rows(buses)]
