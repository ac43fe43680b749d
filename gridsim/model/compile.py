"""Network → contiguous arrays (MATPOWER's ``ext2int``, done once and cached).

A :class:`CompiledNetwork` holds everything a solver needs as flat NumPy arrays: bus
index maps, per-unit branch admittances on a fixed Ybus pattern, fixed injections, the
bus types and the islands. Lines and transformers become one branch list (lines first).
Every generator-like element (``gen``, ``sgen``, ``ext_grid`` and both ends of each
``hvdc`` link) becomes one *injector*, so results and Q-limit logic treat them alike.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.model.network import plain
from gridsim.numerics.sums import bus_sum
from gridsim.numerics.ybus import branch_admittances, ybus_pattern, ybus_values

PQ, PV, REF, NONE = 1, 2, 3, 4  # MATPOWER's bus type codes; NONE: de-energised

# injector kinds, in the order they are stacked
GEN, SGEN, EXT_GRID, HVDC_FROM, HVDC_TO = 0, 1, 2, 3, 4
LINE, TRAFO = 0, 1


@dataclass
class CompiledNetwork:
    """A network as arrays, bus-indexed 0..n-1 (see module docstring)."""

    sn_mva: float
    bus_ids: pd.Index  # external id of each internal bus
    vn_kv: np.ndarray
    vm_min: np.ndarray
    vm_max: np.ndarray
    island: np.ndarray  # island label per bus (-1: out of service / de-energised)
    bus_type: np.ndarray  # PQ, PV, REF or NONE
    vm_set: np.ndarray  # voltage setpoint (PV and REF buses), else 1.0
    va_set: np.ndarray  # angle setpoint, radians (REF buses), else 0.0
    # branches
    br_kind: np.ndarray  # LINE or TRAFO
    br_id: np.ndarray  # external id (object array)
    br_f: np.ndarray
    br_t: np.ndarray
    br_ys: np.ndarray
    br_yf: np.ndarray
    br_yt: np.ndarray
    br_tap: np.ndarray  # complex ratio on the from side
    br_rate_mva: np.ndarray
    ysh: np.ndarray  # bus shunt admittance, p.u.
    # injectors (gen, sgen, ext_grid, hvdc ends)
    inj_kind: np.ndarray
    inj_id: np.ndarray
    inj_bus: np.ndarray
    inj_p: np.ndarray  # MW, scheduled (slack: its dispatch before balancing)
    inj_q: np.ndarray  # Mvar, for injectors that do not control voltage
    inj_pv: np.ndarray  # controls its bus voltage
    inj_slack: np.ndarray
    inj_qmin: np.ndarray
    inj_qmax: np.ndarray
    inj_weight: np.ndarray
    # loads
    load_bus: np.ndarray
    load_s: np.ndarray  # complex MVA drawn at |V| = 1
    load_id: np.ndarray
    # voltage-dependent (ZIP) loads: per load, the shares of P (real part) and Q
    # (imaginary part) drawn at constant impedance and at constant current, as
    # fractions; None where every load draws constant power
    load_z: np.ndarray | None
    load_i: np.ndarray | None
    # hvdc links (in service); ends are injectors
    hvdc_id: np.ndarray
    hvdc_p: np.ndarray
    hvdc_loss: np.ndarray  # MW lost in the link at hvdc_p
    hvdc_rating: np.ndarray  # MW (NaN: unrated)
    hvdc_from: np.ndarray
    hvdc_to: np.ndarray
    # Ybus on a fixed pattern
    indptr: np.ndarray
    indices: np.ndarray
    ydata: np.ndarray
    ypos: np.ndarray
    ydiag: np.ndarray
    islands: list[np.ndarray] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_bus(self) -> int:
        return self.vn_kv.size

    @property
    def n_branch(self) -> int:
        return self.br_f.size

    def ybus(self):
        """Ybus as a scipy CSR matrix (shares the data array)."""
        import scipy.sparse as sp

        n = self.n_bus
        return sp.csr_matrix((self.ydata, self.indices, self.indptr), shape=(n, n))

    def bus_sets(self, bus_type: np.ndarray | None = None):
        """``ref, pv, pq`` index arrays for the given (default: compiled) bus types."""
        bt = self.bus_type if bus_type is None else bus_type
        return (
            np.flatnonzero(bt == REF),
            np.flatnonzero(bt == PV),
            np.flatnonzero(bt == PQ),
        )

    def sbus(
        self,
        bus_type: np.ndarray | None = None,
        q_fixed: np.ndarray | None = None,
        p_fixed: np.ndarray | None = None,
    ):
        """Scheduled complex injection per bus, p.u. (generation minus load; of a
        voltage-dependent load only its constant-power share: the rest is
        :meth:`voltage_dependence`).

        ``q_fixed`` (``p_fixed``) gives, per injector, a reactive (active) output to use
        instead of the scheduled one: for voltage controllers whose bus became PQ, and a
        slack held at its limit (NaN where it does not apply).
        """
        bt = self.bus_type if bus_type is None else bus_type
        n = self.n_bus
        q = np.where(self.inj_pv, 0.0, self.inj_q)
        if q_fixed is not None:
            q = np.where(np.isnan(q_fixed), q, q_fixed)
        p = self.inj_p if p_fixed is None else np.where(np.isnan(p_fixed), self.inj_p, p_fixed)
        s_inj = p + 1j * q
        load = self.load_s
        if self.load_z is not None:  # the constant-power share (see voltage_dependence)
            load = _scale_parts(load, CONSTANT - self.load_z - self.load_i)
        s = bus_sum(self.inj_bus, s_inj, n) - bus_sum(self.load_bus, load, n)
        s[bt == NONE] = 0.0
        return s / self.sn_mva

    def memo(self, name: str, deps: tuple, build):
        """``build()``, cached in ``_cache`` under ``name`` for as long as every object in
        ``deps`` is the same one (by identity) as when it was built.

        Copies of a compiled network made with :func:`dataclasses.replace` may share its
        ``_cache`` while holding other arrays (a sweep point's injections, an outage's
        admittances); keying on the arrays themselves keeps such entries apart. The
        arrays are never changed in place after compiling.
        """
        ids = tuple(map(id, deps))
        entry = self._cache.get(name)
        if entry is not None and entry[0] == ids:
            return entry[2]
        value = build()
        self._cache[name] = (ids, deps, value)  # deps held: their ids stay theirs
        return value

    def scheduled_sbus(self) -> np.ndarray:
        """:meth:`sbus` for the compiled bus types without fixed outputs (cached; do not
        modify the array)."""
        deps = (self.inj_pv, self.inj_q, self.inj_p, self.inj_bus, self.load_bus, self.load_s)
        deps += (self.load_z, self.load_i, self.bus_type, self.sn_mva)
        return self.memo("sbus", deps, self.sbus)

    def voltage_dependence(self) -> np.ndarray:
        """The voltage-dependent load per bus, p.u., as the Newton kernels take it
        (cached; do not modify): row 0 the power drawn at constant current, row 1 at
        constant impedance, both at ``|V| = 1``, so that a bus draws its share of
        :meth:`sbus` plus ``row0 |V| + row1 |V|^2``. Shape ``(2, 0)`` when every load
        draws constant power (the kernels then do no extra work)."""
        if self.load_z is None:
            return NO_VOLTAGE_DEPENDENCE
        deps = (self.load_bus, self.load_s, self.load_z, self.load_i, self.bus_type)
        return self.memo("voltage-dependence", (*deps, self.sn_mva), self._voltage_dependence)

    def _voltage_dependence(self) -> np.ndarray:
        n = self.n_bus
        out = np.empty((2, n), dtype=np.complex128)
        for row, share in enumerate((self.load_i, self.load_z)):
            out[row] = bus_sum(self.load_bus, _scale_parts(self.load_s, share), n) / self.sn_mva
        out[:, self.bus_type == NONE] = 0.0
        return out

    def loads_at(self, v: np.ndarray) -> np.ndarray:
        """Complex MVA each load draws at bus voltages ``v`` (``load_s`` where every
        load draws constant power)."""
        if self.load_z is None:
            return self.load_s
        vm = np.abs(v[self.load_bus])
        z, i = self.load_z, self.load_i
        return _scale_parts(self.load_s, CONSTANT - z - i + i * vm + z * vm**2)

    def bus_order(self) -> np.ndarray:
        """Fill-reducing ordering of the buses for sparse LU (cached; topology only)."""
        if "bus_order" not in self._cache:
            from gridsim.solvers.symbolic import fill_reducing_order

            self._cache["bus_order"] = fill_reducing_order(self.indptr, self.indices, self.n_bus)
        return self._cache["bus_order"]

    def branch_y(self):
        """``Yff, Yft, Ytf, Ytt`` per branch (cached)."""
        if "branch_y" not in self._cache:
            self._cache["branch_y"] = branch_admittances(
                self.br_ys, self.br_yf, self.br_yt, self.br_tap
            )
        return self._cache["branch_y"]


CONSTANT = 1.0 + 1.0j  # a load's whole P and Q, as shares (see CompiledNetwork.load_z)
#: :meth:`CompiledNetwork.voltage_dependence` where every load draws constant power
NO_VOLTAGE_DEPENDENCE = np.zeros((2, 0), dtype=np.complex128)


def _scale_parts(s: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``s`` with its real part scaled by ``factor.real`` and its imaginary part by
    ``factor.imag``."""
    out = np.empty(np.broadcast(s, factor).shape, dtype=np.complex128)
    out.real = s.real * factor.real
    out.imag = s.imag * factor.imag
    return out


def _load_shares(ld, on) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The loads' constant-impedance and constant-current shares (``load_z``,
    ``load_i`` of :class:`CompiledNetwork`), or None for both where all are zero. A share
    not given (NaN, e.g. a row added to a table by hand) is the schema's default, 0."""

    def share(col):
        return np.nan_to_num(np.asarray(ld[col], dtype=float)[on])

    z = (share("const_z_p_percent") + 1j * share("const_z_q_percent")) / 100.0
    i = (share("const_i_p_percent") + 1j * share("const_i_q_percent")) / 100.0
    if not (z.any() or i.any()):
        return None, None
    return z, i


def bus_lookup(bus_ids: pd.Index):
    """A function mapping bus ids to internal indices (-1 where not a bus).

    Integer ids use a dense array (a pandas ``get_indexer`` per table costs more than
    the rest of compiling a small network); other ids use the index's hash table.
    """
    values = bus_ids.to_numpy()
    if (
        values.dtype.kind in "iu"
        and values.size
        and values.min() >= 0
        and values.max() < 16 * values.size + 1024
    ):
        dense = np.full(int(values.max()) + 1, -1, dtype=np.int64)
        dense[values] = np.arange(values.size)

        def lookup(ids) -> np.ndarray:
            ids = np.asarray(ids)
            if ids.size == 0:
                return np.zeros(0, dtype=np.int64)
            if ids.dtype.kind not in "iu":
                return bus_ids.get_indexer(ids)
            out = np.full(ids.size, -1, dtype=np.int64)
            ok = (ids >= 0) & (ids < dense.size)
            out[ok] = dense[ids[ok]]
            return out

        return lookup

    def lookup_any(ids) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.size == 0:
            return np.zeros(0, dtype=np.int64)
        return bus_ids.get_indexer(ids)

    return lookup_any


def compile_network(network) -> CompiledNetwork:
    """Compile ``network`` (a :class:`~gridsim.model.network.Network`) to arrays.

    Raises
    ------
    InvalidNetworkError
        When an energised island has no slack (see :mod:`gridsim.model.topology`).
    """
    from gridsim.model.topology import assign_islands

    notes: list[str] = []
    sn = network.sn_mva
    bus = network.columns("bus")
    in_bus = bus.in_service
    bus_ids = bus.index[in_bus]
    n = len(bus_ids)
    vn = bus.vn_kv[in_bus]

    lookup = bus_lookup(bus_ids)

    # -- branches -------------------------------------------------------------------
    parts = []
    line = network.columns("line")
    lf, lt = lookup(line.from_bus), lookup(line.to_bus)
    on = line.in_service & (lf >= 0) & (lt >= 0)
    if on.any():
        part = line.rows(on)
        parts.append(_line_arrays(part.cols, part.index, lf[on], lt[on], vn, sn))
    trafo = network.columns("trafo")
    tf, tt = lookup(trafo.hv_bus), lookup(trafo.lv_bus)
    on = trafo.in_service & (tf >= 0) & (tt >= 0)
    if on.any():
        part = trafo.rows(on)
        parts.append(
            _trafo_arrays(part.cols, part.index, tf[on], tt[on], vn, sn, network.trafo_model)
        )
    br = {
        k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dtype=_BR_DTYPES[k])
        for k in _BR_DTYPES
    }

    # -- bus shunts -----------------------------------------------------------------
    ysh = np.zeros(n, dtype=complex)
    sh = network.columns("shunt")
    sb = lookup(sh.bus)
    on = sh.in_service & (sb >= 0)
    if on.any():
        vn_sh = sh.vn_kv[on]
        vn_sh = np.where(np.isnan(vn_sh), vn[sb[on]], vn_sh)
        ratio = (vn[sb[on]] / vn_sh) ** 2 * sh.step[on]
        y = (sh.p_mw[on] - 1j * sh.q_mvar[on]) * ratio / sn
        ysh += bus_sum(sb[on], y, n)

    # -- injectors ------------------------------------------------------------------
    inj = _injectors(network, lookup)
    ld = network.columns("load")
    lb = lookup(ld.bus)
    on = ld.in_service & (lb >= 0)
    load_s = ld.p_mw[on] + 1j * ld.q_mvar[on]
    load_z, load_i = _load_shares(ld, on)

    hv = network.columns("hvdc")
    hf, ht = lookup(hv.from_bus), lookup(hv.to_bus)
    hon = hv.in_service & (hf >= 0) & (ht >= 0)
    hp = hv.p_mw[hon]
    hloss = hv.loss_mw[hon] + hv.loss_percent[hon] / 100.0 * np.abs(hp)

    # -- bus types and setpoints -------------------------------------------------------
    bus_type = np.full(n, PQ, dtype=np.int64)
    vm_set = np.ones(n)
    va_set = np.zeros(n)
    _set_bus_types(inj, bus_type, vm_set, va_set, notes, bus_ids)

    indptr, indices, ypos, ydiag = ybus_pattern(n, br["f"], br["t"])
    yff, yft, ytf, ytt = branch_admittances(br["ys"], br["yf"], br["yt"], br["tap"])
    ydata = ybus_values(indices.size, ypos, ydiag, yff, yft, ytf, ytt, ysh)

    cn = CompiledNetwork(
        sn_mva=sn,
        bus_ids=bus_ids,
        vn_kv=vn,
        vm_min=bus.min_vm_pu[in_bus],
        vm_max=bus.max_vm_pu[in_bus],
        island=np.full(n, -1, dtype=np.int64),
        bus_type=bus_type,
        vm_set=vm_set,
        va_set=va_set,
        br_kind=br["kind"],
        br_id=br["id"],
        br_f=br["f"],
        br_t=br["t"],
        br_ys=br["ys"],
        br_yf=br["yf"],
        br_yt=br["yt"],
        br_tap=br["tap"],
        br_rate_mva=br["rate"],
        ysh=ysh,
        **inj,
        load_bus=lb[on],
        load_s=load_s,
        load_id=ld.index.to_numpy()[on],
        load_z=load_z,
        load_i=load_i,
        hvdc_id=hv.index.to_numpy()[hon],
        hvdc_p=hp,
        hvdc_loss=hloss,
        hvdc_rating=hv.max_p_mw[hon],
        hvdc_from=hf[hon],
        hvdc_to=ht[hon],
        indptr=indptr,
        indices=indices,
        ydata=ydata,
        ypos=ypos,
        ydiag=ydiag,
        warnings=notes,
    )
    assign_islands(cn, network)
    for note in notes:
        warnings.warn(note, stacklevel=3)
    return cn


_BR_DTYPES = {
    "kind": np.int64,
    "id": object,
    "f": np.int64,
    "t": np.int64,
    "ys": complex,
    "yf": complex,
    "yt": complex,
    "tap": complex,
    "rate": float,
}


def _line_arrays(line: dict, ids, f, t, vn, sn) -> dict:
    """Per-unit pi model of lines (base: the from bus's nominal voltage)."""
    base_z = vn[f] ** 2 / sn
    length = line["length_km"]
    par = line["parallel"]
    z = (line["r_ohm_per_km"] + 1j * line["x_ohm_per_km"]) * length / par / base_z
    y_sh = (line["g_us_per_km"] + 1j * line["b_us_per_km"]) * 1e-6 * length * par * base_z
    return {
        "kind": np.full(f.size, LINE, dtype=np.int64),
        "id": ids.to_numpy(dtype=object),
        "f": f.astype(np.int64),
        "t": t.astype(np.int64),
        "ys": 1.0 / z,
        "yf": y_sh / 2,
        "yt": y_sh / 2,
        "tap": np.ones(f.size, dtype=complex),
        "rate": line["rate_mva"].astype(float),
    }


def trafo_parameters(trafo, vn_hv_bus, vn_lv_bus, sn, model: str):
    """Per-unit pi equivalent of two-winding transformers, as pandapower computes it.

    The tap changer scales the rated voltage of its side (a step may carry an angle,
    ``tap_step_degree``); the nominal ratio is measured against the buses' nominal
    voltages; the short-circuit impedance is referred to the low-voltage side; the
    magnetising branch is split half/half (``"pi"``) or put at the midpoint of the
    leakage impedance and converted by a wye-delta transform (``"t"``).

    ``trafo`` maps the trafo table's column names to arrays (a DataFrame will do).

    Returns
    -------
    ys, yf, yt, tap : ndarray of complex
    """

    def col(name):
        return np.asarray(trafo[name], dtype=float)

    vn_hv = col("vn_hv_kv").copy()
    vn_lv = col("vn_lv_kv").copy()
    shift = col("shift_degree").copy()
    steps = (col("tap_pos") - col("tap_neutral")) * col("tap_step_percent")
    step_deg = np.deg2rad(col("tap_step_degree"))
    side = np.asarray(trafo["tap_side"])
    for name, vn_side, direction in (("hv", vn_hv, 1.0), ("lv", vn_lv, -1.0)):
        m = side == name
        if not m.any():
            continue
        du = vn_side[m] * steps[m] / 100.0
        re = vn_side[m] + du * np.cos(step_deg[m])
        im = du * np.sin(step_deg[m])
        shift[m] += np.rad2deg(np.arctan(direction * im / re))
        vn_side[m] = np.hypot(re, im)
    ratio = (vn_hv / vn_lv) / (vn_hv_bus / vn_lv_bus)

    sn_t = col("sn_mva")
    par = col("parallel")
    scale = (vn_lv / vn_lv_bus) ** 2 * sn / sn_t / par  # % on own rating -> p.u., lv side
    vk, vkr = col("vk_percent"), col("vkr_percent")
    r = vkr / 100.0 * scale
    x = np.sign(vk) * np.sqrt(np.maximum((vk / 100.0) ** 2 - (vkr / 100.0) ** 2, 0.0)) * scale
    # magnetising admittance (sign of i0 gives inductive > 0, capacitive < 0)
    i0 = col("i0_percent")
    pfe = col("pfe_kw") / 1000.0
    ym = np.abs(i0) / 100.0 * sn_t
    b_mva = -np.sign(i0) * np.sqrt(np.maximum(ym**2 - pfe**2, 0.0))
    ymag = (pfe + 1j * b_mva) * (vn_lv_bus / vn_lv) ** 2 * par / sn

    z = r + 1j * x
    ys = 1.0 / z
    yf = ymag / 2
    yt = ymag / 2
    if model == "t":
        m = ymag != 0
        za = z[m] / 2  # leakage impedance split half/half
        zc = 1.0 / ymag[m]
        zsum = za * za + 2 * za * zc
        ys[m] = zc / zsum
        yf[m] = za / zsum
        yt[m] = za / zsum
    tap = ratio * np.exp(1j * np.deg2rad(shift))
    return ys, yf, yt, tap


def _trafo_arrays(trafo: dict, ids, f, t, vn, sn, model: str) -> dict:
    ys, yf, yt, tap = trafo_parameters(trafo, vn[f], vn[t], sn, model)
    return {
        "kind": np.full(f.size, TRAFO, dtype=np.int64),
        "id": ids.to_numpy(dtype=object),
        "f": f.astype(np.int64),
        "t": t.astype(np.int64),
        "ys": ys,
        "yf": yf,
        "yt": yt,
        "tap": tap,
        "rate": trafo["rate_mva"].astype(float),
    }


def _injectors(network, lookup) -> dict:
    """Stack gen, sgen, ext_grid and hvdc ends into one injector list."""
    cols = {
        k: []
        for k in ("kind", "id", "bus", "p", "q", "pv", "slack", "qmin", "qmax", "w", "vm", "va")
    }

    def add(kind, tab, bus, p, q, pv, slack, qmin, qmax, w, vm, va):
        if len(tab) == 0:
            return
        on = tab.in_service & (bus >= 0)
        m = int(on.sum())

        def take(x):
            return np.full(m, x) if np.ndim(x) == 0 else x[on]

        vals = (
            np.full(m, kind),
            tab.index.to_numpy(dtype=object)[on],
            bus[on],
            take(p),
            take(q),
            take(pv),
            take(slack),
            take(qmin),
            take(qmax),
            take(w),
            take(vm),
            take(va),
        )
        for key, v in zip(cols, vals, strict=True):
            cols[key].append(v)

    g = network.columns("gen")
    add(
        GEN,
        g,
        lookup(g.bus),
        g.p_mw,
        0.0,
        True,
        g.slack,
        g.min_q_mvar,
        g.max_q_mvar,
        g.slack_weight,
        g.vm_pu,
        g.va_degree,
    )
    s = network.columns("sgen")
    add(
        SGEN,
        s,
        lookup(s.bus),
        s.p_mw,
        s.q_mvar,
        False,
        False,
        -np.inf,
        np.inf,
        0.0,
        np.nan,
        0.0,
    )
    e = network.columns("ext_grid")
    add(
        EXT_GRID,
        e,
        lookup(e.bus),
        0.0,
        0.0,
        True,
        True,
        e.min_q_mvar,
        e.max_q_mvar,
        e.slack_weight,
        e.vm_pu,
        e.va_degree,
    )
    h = network.columns("hvdc")
    hf, ht = lookup(h.from_bus), lookup(h.to_bus)
    link_on = (hf >= 0) & (ht >= 0)
    h_on = h.rows(link_on)
    hp = h_on.p_mw
    loss = h_on.loss_mw + h_on.loss_percent / 100.0 * np.abs(hp)
    p_to = np.where(hp >= 0, hp - loss, hp)
    p_from = np.where(hp >= 0, -hp, -hp - loss)  # reverse flow: losses on the sending end
    for kind, bus, p, end in (
        (HVDC_FROM, hf[link_on], p_from, "from"),
        (HVDC_TO, ht[link_on], p_to, "to"),
    ):
        vm = h_on[f"vm_{end}_pu"]
        add(
            kind,
            h_on,
            bus,
            p,
            0.0,
            ~np.isnan(vm),
            False,
            h_on[f"min_q_{end}_mvar"],
            h_on[f"max_q_{end}_mvar"],
            0.0,
            vm,
            0.0,
        )

    out = {}
    for k, v in cols.items():  # no list is empty unless the network has no injector at all
        empty = np.zeros(0, dtype=object if k == "id" else float)
        out["inj_weight" if k == "w" else f"inj_{k}"] = np.concatenate(v) if v else empty
    out["inj_kind"] = out["inj_kind"].astype(np.int64)
    out["inj_bus"] = out["inj_bus"].astype(np.int64)
    out["inj_pv"] = out["inj_pv"].astype(bool)
    out["inj_slack"] = out["inj_slack"].astype(bool)
    for k in ("inj_p", "inj_q", "inj_qmin", "inj_qmax", "inj_weight", "inj_vm", "inj_va"):
        out[k] = out[k].astype(float)
    return out


def _set_bus_types(inj: dict, bus_type, vm_set, va_set, notes: list[str], bus_ids) -> None:
    """REF where a slack injector sits, PV where a voltage-controlling one does.

    Setpoint precedence at a bus: an ext_grid's, else the last voltage-controlling gen or
    hvdc end in table order (MATPOWER's rule for ``V0(gbus) = Vg``), slack or not.
    """
    kind, bus, pv, slack = inj["inj_kind"], inj["inj_bus"], inj["inj_pv"], inj["inj_slack"]
    vm, va = inj.pop("inj_vm"), inj.pop("inj_va")
    ctl = np.flatnonzero(pv)
    if ctl.size == 0:
        return
    rank = np.where(kind[ctl] == EXT_GRID, 2, 1)
    ctl = ctl[np.lexsort((ctl, rank))]  # ascending precedence: the last per bus wins
    last = _last_per_key(bus[ctl], ctl)
    vm_set[bus[last]] = vm[last]
    # buses whose controllers disagree on the setpoint
    spread = np.zeros(vm_set.size)
    np.maximum.at(spread, bus[ctl], np.abs(vm[ctl] - vm_set[bus[ctl]]))
    for b in np.flatnonzero(spread > 0):
        notes.append(
            f"bus {plain(bus_ids[b])!r}: conflicting voltage setpoints; using {vm_set[b]} p.u."
        )
    bus_type[bus[ctl]] = PV
    sl = ctl[slack[ctl]]
    if sl.size:
        last_slack = _last_per_key(bus[sl], sl)
        bus_type[bus[last_slack]] = REF
        va_set[bus[last_slack]] = np.deg2rad(va[last_slack])


def _last_per_key(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each distinct key, the value at its last occurrence."""
    _, first_from_end = np.unique(keys[::-1], return_index=True)
    return values[::-1][first_from_end]
