"""The LP of :mod:`gridsim.analysis.scopf` on a :class:`~gridsim.analysis.scopf.grid.LinearisedGrid`
(:class:`_Lp`): variables, the candidate rows and their screen, row generation with
HiGHS; the tolerances and row kinds."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridsim.analysis.scopf.grid import Interface, LinearisedGrid, ScopfError, _link_injectors
from gridsim.analysis.sensitivity import _hvdc_loss_rate
from gridsim.model.compile import GEN, HVDC_FROM, HVDC_TO, LINE, TRAFO
from gridsim.model.network import plain

COEF_TOL = 1e-9  # |coefficient| at or below this is dropped (HiGHS's small_matrix_value)
ACTIVE_TOL = 1e-6  # MW: a row within this of a limit is binding
DUAL_TOL = 1e-9  # a row with a larger |dual| is binding
FIRST_LOADING = 0.9  # N-1 rows loaded this much at u = 0 are in the first LP,
FIRST_ROWS = 500  # at most this many (the most loaded): more make HiGHS slow on the dense
# PTDF rows (814 buses: 14 s with every row at 90 %, 1.1 s with those at 99 %)
ADD_ROWS = 500  # violated rows added to the LP per round, the most violated first
MVA_LOADING = 0.9  # thermal rows loaded this much in AC at u = 0 are MVA rows
INF = highspy.kHighsInf

# row kinds (codes of ScopfResult tables)
N0, N1, INTERFACE, GENERATION, VOLTAGE = 0, 1, 2, 3, 4
ROW_KINDS = ("n-0", "n-1", "interface", "generation", "voltage")


class _QuietHighs(highspy.Highs):
    """``highspy.Highs`` with its output off before its first call (the banner would
    otherwise go to stdout when the callbacks are set up in the constructor)."""

    def enableCallbacks(self):  # noqa: N802 (highspy's name)
        self.setOptionValue("output_flag", False)
        super().enableCallbacks()


def _highs_model(
    coef: sp.csr_matrix,
    cost: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    maximise: bool = False,
) -> _QuietHighs:
    """A quiet single-threaded HiGHS holding the LP ``row_lo <= coef x <= row_hi``,
    ``col_lo <= x <= col_hi``, objective ``cost x`` (bounds: ``highspy.kHighsInf`` for
    none)."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = coef.shape[1], coef.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.asarray(col_lo, dtype=float)
    lp.col_upper_ = np.asarray(col_hi, dtype=float)
    lp.row_lower_ = np.asarray(row_lo, dtype=float)
    lp.row_upper_ = np.asarray(row_hi, dtype=float)
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = coef.indptr.astype(np.int32)
    lp.a_matrix_.index_ = coef.indices.astype(np.int32)
    lp.a_matrix_.value_ = coef.data.astype(float)
    h = _QuietHighs()
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    return h


class _Lp:
    """One LP over ``u = [t, h_1..h_m, r+_1..r+_n, r-_1..r-_n]`` on a LinearisedGrid."""

    def __init__(
        self,
        grid: LinearisedGrid,
        *,
        source: pd.Series | None,
        sink: pd.Series | None,
        sink_element: str,
        hvdc: Iterable,
        redispatch: pd.Series,
        interfaces: list[Interface],
        max_mw: float | None,
        transfer: bool,
        redispatch_balance: str = "island",
        min_mw: float = 0.0,
        redispatch_limit: Mapping | None = None,
        redispatched: pd.Series | None = None,
        thermal_tol: float = 0.0,
        link_cost: np.ndarray | None = None,
        margin: float = 0.0,
        voltage_tol: float = 0.0,
    ):
        start = time.perf_counter()
        self.thermal_tol = thermal_tol
        self.voltage_tol = voltage_tol
        self.scale = 1.0 - margin  # thermal rows held at this fraction of their ratings
        cn, net = grid.cn, grid.network
        self.grid = grid
        gen_ids = cn.inj_id[cn.inj_kind == GEN]
        gen_pos = pd.Index(gen_ids).get_indexer
        self.gen_inj = np.flatnonzero(cn.inj_kind == GEN)
        # variables
        links = pd.Index(list(hvdc))
        jpos = pd.Index(cn.hvdc_id).get_indexer(links)
        if (jpos < 0).any():
            raise ScopfError(f"not in-service HVDC links: {list(links[jpos < 0])[:5]!r}")
        rpos = gen_pos(redispatch.index)
        if (rpos < 0).any():
            bad = list(redispatch.index[rpos < 0])[:5]
            raise ScopfError(f"redispatch names units that are not in-service gens: {bad!r}")
        rinj = self.gen_inj[rpos]
        if cn.inj_slack[rinj].any():
            raise ScopfError("a slack unit cannot be redispatched (its output is not set)")
        m, n = jpos.size, rpos.size
        nv = 1 + m + 2 * n
        self.links, self.jpos, self.redispatch, self.rinj = links, jpos, redispatch, rinj
        self.m, self.n, self.nv = m, n, nv
        gtab = net.columns("gen")
        grow = gtab.index.get_indexer(cn.inj_id[self.gen_inj])
        p0_gen = grid.p_inj[self.gen_inj]
        hi = np.nan_to_num(np.asarray(gtab.max_p_mw, dtype=float)[grow], nan=np.inf)
        lo = np.nan_to_num(np.asarray(gtab.min_p_mw, dtype=float)[grow], nan=0.0)
        self.gen_hi, self.gen_lo = np.maximum(hi, p0_gen), np.minimum(lo, p0_gen)
        lower = np.zeros(nv)
        upper = np.zeros(nv)
        upper[0] = INF if transfer else 0.0
        if transfer and max_mw is not None:
            upper[0] = float(max_mw)
        if transfer:
            lower[0] = float(min_mw)
        hp0 = cn.hvdc_p[jpos]
        hmax = np.nan_to_num(cn.hvdc_rating[jpos], nan=np.inf)
        lower[1 : 1 + m] = np.minimum(-hmax - hp0, 0.0)
        upper[1 : 1 + m] = np.maximum(hmax - hp0, 0.0)
        k = self.gen_inj.searchsorted(rinj)
        upper[1 + m : 1 + m + n] = self.gen_hi[k] - p0_gen[k]
        upper[1 + m + n :] = p0_gen[k] - self.gen_lo[k]
        self.lower, self.upper = lower, np.where(np.isinf(upper), INF, upper)
        # injections per variable (J: injectors x variables; loads: load positions x t)
        ninj = cn.inj_kind.size
        rows, cols, vals = [], [], []
        self.source, self.sink, self.sink_element = source, sink, sink_element
        for shares, element in ((source, "gen"), (sink, sink_element)):
            ids = cn.inj_id[self.gen_inj] if element == "gen" else cn.load_id
            if shares is not None and (pd.Index(ids).get_indexer(shares.index) < 0).any():
                raise ScopfError(f"shift keys name {element}s that are not in service")
        if source is not None:
            spos = gen_pos(source.index)
            rows.append(self.gen_inj[spos])
            cols.append(np.zeros(spos.size, dtype=np.int64))
            vals.append(source.to_numpy(dtype=float))
        load_share = np.zeros(cn.load_id.size)
        if sink is not None and sink_element == "gen":
            spos = gen_pos(sink.index)
            rows.append(self.gen_inj[spos])
            cols.append(np.zeros(spos.size, dtype=np.int64))
            vals.append(-sink.to_numpy(dtype=float))
        elif sink is not None:
            load_share[pd.Index(cn.load_id).get_indexer(sink.index)] = sink.to_numpy(dtype=float)
        rate = _hvdc_loss_rate(cn, net)[jpos]
        forward = cn.hvdc_p[jpos] >= 0
        inj_f = _link_injectors(cn, HVDC_FROM)[jpos]
        inj_t = _link_injectors(cn, HVDC_TO)[jpos]
        hcols = np.arange(1, 1 + m)
        rows += [inj_f, inj_t, rinj, rinj]
        cols += [hcols, hcols, np.arange(1 + m, 1 + m + n), np.arange(1 + m + n, nv)]
        d_from = np.where(forward, -1.0, -1.0 + rate)
        d_to = np.where(forward, 1.0 - rate, 1.0)
        vals += [d_from, d_to, np.ones(n), -np.ones(n)]
        rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        self.jac = sp.csr_matrix((vals, (rows, cols)), shape=(ninj, nv))
        # bus injections per variable: injectors, then the sink loads (on t)
        sink_loads = np.flatnonzero(load_share)
        bus = np.concatenate([cn.inj_bus[rows], cn.load_bus[sink_loads]])
        col = np.concatenate([cols, np.zeros(sink_loads.size, dtype=np.int64)])
        val = np.concatenate([vals, -load_share[sink_loads]])
        bus_inj = sp.csr_matrix((val, (bus, col)), shape=(cn.n_bus, nv))
        used = np.flatnonzero(np.diff(bus_inj.indptr))
        self.sens = grid.ptdf(used).T @ bus_inj[used].toarray()  # branches x variables
        # the sink loads' reactive draw follows their active (constant power factor)
        load_s = cn.load_s[sink_loads]
        ratio = np.divide(
            load_s.imag, load_s.real, out=np.zeros(load_s.size), where=load_s.real != 0
        )
        q_at = (cn.load_bus[sink_loads], np.zeros(sink_loads.size, dtype=np.int64))
        self.bus_inj = bus_inj
        self.bus_inj_q = sp.csr_matrix((-load_share[sink_loads] * ratio, q_at), (cn.n_bus, nv))
        # balance per island, the HVDC lossless (the slacks take the converter losses)
        lossless = val.copy()
        lossless[: rows.size][np.isin(cols, hcols) & (vals < 0)] = -1.0
        lossless[: rows.size][np.isin(cols, hcols) & (vals > 0)] = 1.0
        isl = cn.island[bus]
        on = isl >= 0
        n_isl = grid.island_w.size
        balance = np.zeros((n_isl, nv))
        np.add.at(balance, (isl[on], col[on]), lossless[on])
        bus_zone = net.bus["zone"].astype(str).reindex(cn.bus_ids).to_numpy()
        if redispatch_balance == "zone":  # each zone's redispatch nets to zero on its own
            # (the base case: with the moves of the links, so each zone's net position)
            part = np.isin(col, np.arange(1 + m, nv)) if transfer else col > 0
            labels, code = np.unique(bus_zone[bus[part]], return_inverse=True)
            by_zone = np.zeros((labels.size, nv))
            np.add.at(by_zone, (code, col[part]), lossless[part])
            balance = np.vstack([balance, by_zone])
        balance = balance[np.abs(balance).max(axis=1) > COEF_TOL]
        self._hard_rows(balance, bus_zone[cn.inj_bus[rinj]], redispatch_limit, redispatched)
        if link_cost is not None:
            self._link_moves(np.asarray(link_cost, dtype=float))
        # the largest |value| each variable can take (for the screen)
        reach = np.maximum(np.abs(self.lower), np.abs(self.upper))
        reach[0] = max(
            self._t_reach(transfer, max_mw, source, sink, sink_element, gen_pos), -lower[0]
        )
        self.reach = reach
        self._rows(interfaces)
        self.build_s = time.perf_counter() - start

    def _hard_rows(self, balance, unit_zone, limit, done) -> None:
        """The rows every LP holds as they are (never relaxed): the balance rows (``=
        0``) and, with ``limit`` (zone -> MW), each zone's redispatch bound: ``sum_g a_g
        <= limit`` over its units, with one more column ``a_g >= 0`` per unit (after the
        ``nv`` variables) held above ``|done_g + r_g|`` by two rows; ``done``: the units'
        moves made before this LP (MW, counted in the bound)."""
        m, n, nv = self.m, self.n, self.nv
        limit = dict(limit or {})
        units = np.flatnonzero(np.isin(unit_zone, list(limit)))
        na = units.size
        if done is None:
            done = pd.Series(dtype=float)
        done = done.reindex(self.redispatch.index).fillna(0.0).to_numpy(dtype=float)[units]
        labels, code = np.unique(unit_zone[units], return_inverse=True)
        nb, at = balance.shape[0], np.arange(na)
        # rows nb + g: a_g - r_g >= done_g; nb + na + g: a_g + r_g >= -done_g
        r_up, r_down = 1 + m + units, 1 + m + n + units
        row = np.concatenate([nb + at] * 3 + [nb + na + at] * 3 + [nb + 2 * na + code])
        col = np.concatenate([nv + at, r_up, r_down, nv + at, r_up, r_down, nv + at])
        one = np.ones(na)
        val = np.concatenate([one, -one, one, one, one, -one, one])
        dense = sp.coo_matrix(balance)
        self.n_aux = na
        self.aux_cost = np.zeros(na)
        self.zone_bounded = na > 0
        self.hard = sp.csr_matrix(
            (
                np.concatenate([dense.data, val]),
                (np.concatenate([dense.row, row]), np.concatenate([dense.col, col])),
            ),
            shape=(nb + 2 * na + labels.size, nv + na),
        )
        self.hard_lo = np.concatenate([np.zeros(nb), done, -done, np.full(labels.size, -INF)])
        self.hard_hi = np.concatenate(
            [np.zeros(nb), np.full(2 * na, INF), [float(limit[z]) for z in labels]]
        )

    def _link_moves(self, cost: np.ndarray) -> None:
        """Price the links' setpoint changes: one more column ``b_j >= |h_j|`` per free
        link (after the other auxiliary columns), held by the hard rows ``b_j - h_j >=
        0`` and ``b_j + h_j >= 0``, with objective ``cost_j b_j``."""
        m, na = self.m, self.n_aux
        if cost.shape != (m,) or not np.isfinite(cost).all() or (cost < 0).any():
            raise ScopfError(f"link costs must be {m} finite values >= 0, got {cost!r}")
        nh, width = self.hard.shape
        at = np.arange(m)
        row = np.concatenate([nh + at, nh + at, nh + m + at, nh + m + at])
        col = np.concatenate([width + at, 1 + at, width + at, 1 + at])
        val = np.concatenate([np.ones(m), -np.ones(m), np.ones(m), np.ones(m)])
        more = sp.csr_matrix((val, (row - nh, col)), shape=(2 * m, width + m))
        self.hard = sp.vstack([sp.hstack([self.hard, sp.csr_matrix((nh, m))]), more], format="csr")
        self.hard_lo = np.concatenate([self.hard_lo, np.zeros(2 * m)])
        self.hard_hi = np.concatenate([self.hard_hi, np.full(2 * m, INF)])
        self.n_aux = na + m
        self.aux_cost = np.concatenate([self.aux_cost, cost])

    def _t_reach(self, transfer, max_mw, source, sink, sink_element, gen_pos) -> float:
        """The largest ``t`` the generation limits (and ``max_mw``) allow."""
        if not transfer:
            return 0.0
        caps = [np.inf if max_mw is None else float(max_mw)]
        redisp = np.isin(self.gen_inj, self.rinj)
        for shares, sign in ((source, 1.0), (sink if sink_element == "gen" else None, -1.0)):
            if shares is None:
                continue
            k = gen_pos(shares.index)
            s = shares.to_numpy(dtype=float)
            p0 = self.grid.p_inj[self.gen_inj[k]]
            room = self.gen_hi[k] - p0 if sign > 0 else p0 - self.gen_lo[k]
            room = np.where(redisp[k], self.gen_hi[k] - self.gen_lo[k], room)
            with np.errstate(divide="ignore", invalid="ignore"):
                caps.append(float(np.min(np.where(s > 0, room / s, np.inf))))
        return min(caps)

    # -- rows ---------------------------------------------------------------------------
    def _rows(self, interfaces: list[Interface]) -> None:
        """The candidate rows: every row the screen keeps (module docstring), in the
        order N-0, N-1, interfaces, generation; coefficients are formed on demand."""
        grid, cn = self.grid, self.grid.cn
        S = self.sens
        big = np.isinf(self.reach)
        fin = np.where(big, 0.0, self.reach)
        abs_s = np.abs(S)
        reach_base = abs_s @ fin
        unb_base = (abs_s > COEF_TOL) @ big > 0
        parts = []  # (kind, element, outage, limit, factor, const, lo, hi, mva)
        ac = grid.result.kind == "ac"
        # N-0
        rate = self.scale * grid.rate
        limit = self._held(rate - grid.offset_mw, grid.flows_mw, grid.rate)
        rated = np.isfinite(limit) & grid.n0_monitored
        mva = np.abs(grid.flows_mw) + grid.offset_mw  # max(|S_from|, |S_to|)
        by_mva = rated & ac & (mva >= MVA_LOADING * np.nan_to_num(grid.rate, nan=np.inf))
        keep = rated & ((np.abs(grid.flows_mw) + reach_base > limit) | unb_base | by_mva)
        self.dropped = int(rated.sum() - keep.sum())
        k0 = np.flatnonzero(keep)
        m0 = by_mva[k0]
        lim0 = np.where(m0, self._held(rate, mva, grid.rate)[k0], limit[k0])
        const0 = np.where(m0, mva[k0], grid.flows_mw[k0])
        lo0 = np.where(m0, -np.inf, -lim0)
        parts.append((N0, k0, -1, lim0, self.scale, const0, lo0, lim0, m0))
        # N-1: terms a g, g = F_k(u) (kind 0) or an injector's output (kind 1)
        on_branch = grid.term_kind == 0
        self.g_rows = np.empty((grid.term_ref.size, self.nv))
        self.g_rows[on_branch] = S[grid.term_ref[on_branch]]
        self.g_rows[~on_branch] = self.jac[grid.term_ref[~on_branch]].toarray()
        if grid.term_out.size:
            g_reach = np.abs(self.g_rows) @ fin
            g_unb = (np.abs(self.g_rows) > COEF_TOL) @ big > 0
            n_out = len(grid.outages)
            reach = np.tile(reach_base, (n_out, 1))
            unb = np.tile(unb_base, (n_out, 1))
            abs_a = np.abs(grid.term_a)
            np.add.at(reach, grid.term_out, abs_a * g_reach[:, None])
            np.logical_or.at(unb, grid.term_out, (abs_a > 0) & g_unb[:, None])
            const = grid.post_flows_mw
            rating1 = grid.emergency * grid.rate * grid.rating_scale
            limit1 = self._held(self.scale * rating1 - grid.post_offset_mw, const, rating1)
            mon = grid.monitored & np.isfinite(limit1) & np.isfinite(const)
            mva1 = np.abs(const) + grid.post_offset_mw
            with np.errstate(invalid="ignore"):
                by_mva1 = mon & grid.ac_post & ac & (mva1 >= MVA_LOADING * rating1)
                keep1 = mon & ((np.abs(const) + reach > limit1) | unb | by_mva1)
            self.dropped += int(mon.sum() - keep1.sum())
            o_idx, l_idx = np.nonzero(keep1)
            m1 = by_mva1[o_idx, l_idx]
            lim1 = limit1[o_idx, l_idx]
            r1 = rating1[o_idx, l_idx]
            lim1[m1] = self._held(self.scale * r1, mva1[o_idx, l_idx], r1)[m1]
            const1 = np.where(m1, mva1[o_idx, l_idx], const[o_idx, l_idx])
            factor = self.scale * grid.emergency * grid.rating_scale[o_idx, l_idx]
            lo1 = np.where(m1, -np.inf, -lim1)
            parts.append((N1, l_idx, o_idx, lim1, factor, const1, lo1, lim1, m1))
        # interfaces (base case, one-sided) and the units the transfer moves: dense rows
        self.interfaces = interfaces
        extra = []
        for i, face in enumerate(interfaces):
            coef, const = np.zeros(self.nv), 0.0
            for element, eid, direction in face.members:
                if eid not in grid.network.columns(element).index:
                    raise ScopfError(f"interface {face.id!r}: no {element} {eid!r}")
                if element == "hvdc":
                    j = np.flatnonzero(cn.hvdc_id == eid)
                    if j.size == 0:
                        continue  # out of service: no flow
                    const += direction * cn.hvdc_p[j[0]]
                    free = np.flatnonzero(self.jpos == j[0])
                    if free.size:
                        coef[1 + free[0]] += direction
                    continue
                code = LINE if element == "line" else TRAFO
                k = np.flatnonzero((cn.br_kind == code) & (cn.br_id == eid))
                if k.size == 0:
                    continue
                const += direction * grid.flows_mw[k[0]]
                coef += direction * S[k[0]]
            extra.append(coef)
            lim = face.limit_mw
            parts.append((INTERFACE, i, -1, lim, 0.0, np.array([const]), -np.inf, lim, False))
        moved = np.flatnonzero(self.jac[:, 0].toarray().ravel() != 0)
        if moved.size:
            k = self.gen_inj.searchsorted(moved)
            extra.append(self.jac[moved].toarray())
            lo, hi = self.gen_lo[k], self.gen_hi[k]
            parts.append((GENERATION, moved, -1, np.nan, 0.0, grid.p_inj[moved], lo, hi, False))
        v_out, v_bus, vm, v_lo, v_hi = grid.voltage_rows()
        if vm.size:
            coef = np.zeros((vm.size, self.nv))
            for o in np.unique(v_out).tolist():
                at = np.flatnonzero(v_out == o)
                d_p, d_q = grid.voltage_sensitivity(o, v_bus[at])
                coef[at] = (self.bus_inj.T @ d_p.T + self.bus_inj_q.T @ d_q.T).T
            extra.append(coef)
            tol = self.voltage_tol  # a voltage the AC check accepts stays feasible
            lo = np.where((vm < v_lo) & (vm >= v_lo - tol), vm, v_lo)
            hi = np.where((vm > v_hi) & (vm <= v_hi + tol), vm, v_hi)
            parts.append((VOLTAGE, v_bus, v_out, np.nan, 0.0, vm, lo, hi, False))
        self.extra_coef = np.vstack(extra) if extra else np.zeros((0, self.nv))
        self.extra_coef[np.abs(self.extra_coef) <= COEF_TOL] = 0.0
        sizes = [np.size(p[5]) for p in parts]

        def column(i, dtype):
            return np.concatenate(
                [
                    np.broadcast_to(np.asarray(p[i], dtype=dtype), (n,))
                    for p, n in zip(parts, sizes, strict=True)
                ]
            )

        self.kind = column(0, np.int64)
        self.element = column(1, np.int64)
        self.outage = column(2, np.int64)
        self.limit = column(3, float)
        self.factor = column(4, float)
        self.const = column(5, float)
        self.lo = column(6, float)
        self.hi = column(7, float)
        self.n_cand = self.const.size
        self.extra_start = int(np.sum(self.kind <= N1))
        self._mva_rows(column(8, bool))

    def _mva_rows(self, mva: np.ndarray) -> None:
        """The coefficients of the thermal rows ``mva`` (a mask over the candidates) held
        on the AC MVA loading: ``S_AC + s u <= L`` with ``s = dS/dP_bus`` (and ``dS/dQ_bus``
        of the sink loads) on the variables' bus injections, at the intact or the
        post-outage AC solution (:meth:`LinearisedGrid.mva_sensitivity`)."""
        grid = self.grid
        self.mva_rows = np.flatnonzero(mva)
        self.mva_of = np.full(self.n_cand, -1, dtype=np.int64)
        self.mva_of[self.mva_rows] = np.arange(self.mva_rows.size)
        self.mva_coef = np.zeros((self.mva_rows.size, self.nv))
        outage = self.outage[self.mva_rows]
        for o in np.unique(outage).tolist():
            at = np.flatnonzero(outage == o)
            d_p, d_q = grid.mva_sensitivity(o, self.element[self.mva_rows[at]])
            self.mva_coef[at] = (self.bus_inj.T @ d_p.T + self.bus_inj_q.T @ d_q.T).T
        self.mva_coef[np.abs(self.mva_coef) <= COEF_TOL] = 0.0

    def _held(self, limit: np.ndarray, const: np.ndarray, rating: np.ndarray) -> np.ndarray:
        """Thermal limits ``limit`` (MW) of rows whose flow at ``u = 0`` is ``const``,
        raised to ``|const|`` where that is over by at most ``thermal_tol`` of the
        ``rating`` (MVA): a point the AC check accepts stays feasible."""
        with np.errstate(invalid="ignore"):
            within = np.abs(const) <= limit + self.thermal_tol * rating
            return np.where(within, np.fmax(limit, np.abs(const)), limit)

    def coefs(self, rows: np.ndarray) -> np.ndarray:
        """Coefficient rows of candidates ``rows`` (dense, tiny entries zeroed)."""
        grid = self.grid
        out = np.empty((rows.size, self.nv))
        flow = rows < self.extra_start
        l_idx = self.element[rows[flow]]
        o_idx = self.outage[rows[flow]]
        coef = self.sens[l_idx]
        post = o_idx >= 0
        for slot in grid.slots:
            t_idx = np.where(post, slot[np.maximum(o_idx, 0)], -1)
            has = t_idx >= 0
            coef[has] += grid.term_a[t_idx[has], l_idx[has]][:, None] * self.g_rows[t_idx[has]]
        out[flow] = coef
        out[~flow] = self.extra_coef[rows[~flow] - self.extra_start]
        at = self.mva_of[rows]
        out[at >= 0] = self.mva_coef[at[at >= 0]]
        out[np.abs(out) <= COEF_TOL] = 0.0
        return out

    def flows(self, x: np.ndarray, l_idx: np.ndarray, o_idx: np.ndarray) -> np.ndarray:
        """Linearised flows of branches ``l_idx`` after outages ``o_idx`` (-1: none) at
        ``u = x``, less their constants (``S u`` plus the outage terms)."""
        grid = self.grid
        x = x[: self.nv]
        gx = self.g_rows @ x
        val = (self.sens @ x)[l_idx]
        post = o_idx >= 0
        for slot in grid.slots:
            t_idx = np.where(post, slot[np.maximum(o_idx, 0)], -1)
            has = t_idx >= 0
            val[has] += grid.term_a[t_idx[has], l_idx[has]] * gx[t_idx[has]]
        return val

    def post_flows(self, x: np.ndarray) -> np.ndarray:
        """Every branch's linearised flow after every outage at ``u = x``, shape
        ``(n_outage, n_branch)`` (NaN where not energised)."""
        grid = self.grid
        o_idx, l_idx = np.indices(grid.post_flows_mw.shape)
        delta = self.flows(x, l_idx.ravel(), o_idx.ravel()).reshape(o_idx.shape)
        return grid.post_flows_mw + delta

    def activity(self, x: np.ndarray) -> np.ndarray:
        """Every candidate row's flow at ``u = x`` (MW; MVA for the MVA rows)."""
        flow = np.arange(self.extra_start)
        val = self.flows(x, self.element[flow], self.outage[flow])
        val[self.mva_rows] = self.mva_coef @ x[: self.nv]
        return self.const + np.concatenate([val, self.extra_coef @ x[: self.nv]])

    def violated(self, flows: np.ndarray) -> np.ndarray:
        """Candidates whose ``flows`` leave their limits by more than ``ACTIVE_TOL``."""
        with np.errstate(invalid="ignore"):
            return (flows > self.hi + ACTIVE_TOL) | (flows < self.lo - ACTIVE_TOL)

    # -- solving -----------------------------------------------------------------------
    def highs(
        self, rows: np.ndarray, cost: np.ndarray, maximise: bool, elastic: bool, t_lower: float
    ) -> highspy.Highs:
        """HiGHS holding the LP on candidate ``rows`` and the balance rows (``elastic``:
        each candidate row with two slack columns of cost 1; ``cost`` then ignored)."""
        nr, nv, na = rows.size, self.nv, self.n_aux
        coef = sp.hstack([sp.csr_matrix(self.coefs(rows)), sp.csr_matrix((nr, na))])
        col_lo = np.concatenate([self.lower, np.zeros(na)])
        col_hi = np.concatenate([self.upper, np.full(na, INF)])
        col_cost = np.concatenate([cost, self.aux_cost])
        col_lo[0] = max(col_lo[0], t_lower)
        if elastic:
            eye = sp.identity(nr, format="csr")
            coef = sp.hstack([coef, eye, -eye], format="csr")
            col_lo = np.concatenate([col_lo, np.zeros(2 * nr)])
            col_hi = np.concatenate([col_hi, np.full(2 * nr, INF)])
            col_cost = np.concatenate([np.zeros(nv + na), np.ones(2 * nr)])
        width = coef.shape[1]
        nb = self.hard.shape[0]
        hard = sp.hstack([self.hard, sp.csr_matrix((nb, width - nv - na))])
        coef = sp.vstack([coef, hard], format="csr")
        coef.eliminate_zeros()
        lo, hi = self.row_bounds(rows)
        return _highs_model(
            coef,
            col_cost,
            col_lo,
            col_hi,
            np.concatenate([lo, self.hard_lo]),
            np.concatenate([hi, self.hard_hi]),
            maximise,
        )

    def row_bounds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The bounds of candidate ``rows`` on their variable part (their limits less
        their constants; ``INF`` where none)."""
        const = self.const[rows]
        with np.errstate(invalid="ignore"):
            lo = np.where(np.isfinite(self.lo[rows]), self.lo[rows] - const, -INF)
            hi = np.where(np.isfinite(self.hi[rows]), self.hi[rows] - const, INF)
        return lo, hi

    def label(self, rows: np.ndarray) -> pd.DataFrame:
        """``kind``, ``element``, ``id``, ``contingency`` of candidate ``rows``."""
        grid = self.grid
        kinds, elements, ids, outages = [], [], [], []
        for kind, el, o in zip(
            self.kind[rows].tolist(),
            self.element[rows].tolist(),
            self.outage[rows].tolist(),
            strict=True,
        ):
            kinds.append(ROW_KINDS[kind])
            if kind in (N0, N1):
                element, eid = grid.branch_label(el)
            elif kind == INTERFACE:
                element, eid = "interface", self.interfaces[el].id
            elif kind == VOLTAGE:
                element, eid = "bus", plain(grid.cn.bus_ids[el])
            else:
                element, eid = "gen", plain(grid.cn.inj_id[el])
            elements.append(element)
            ids.append(eid)
            outages.append(grid.outages[o].label if o >= 0 else None)
        return pd.DataFrame({"kind": kinds, "element": elements, "id": ids, "contingency": outages})

    def violations(self, flows: np.ndarray) -> pd.DataFrame:
        """Candidates whose ``flows`` leave their limits, worst first."""
        bad = np.flatnonzero(self.violated(flows))
        table = self.label(bad)
        over = flows[bad] > self.hi[bad]
        table["flow_mw"] = flows[bad]
        table["limit_mw"] = np.where(over, self.hi[bad], self.lo[bad])
        table["excess_mw"] = np.abs(flows[bad] - table.limit_mw.to_numpy())
        return table.sort_values("excess_mw", ascending=False, ignore_index=True)

    def first_rows(self) -> np.ndarray:
        """The rows the first LP holds: N-0, interfaces, generation, and the N-1 rows
        loaded to ``FIRST_LOADING`` of their limit or more at ``u = 0`` (the
        ``FIRST_ROWS`` most loaded of them)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            loaded = np.abs(self.const) >= FIRST_LOADING * self.limit
            loading = np.where(self.limit > 0, np.abs(self.const) / self.limit, np.inf)
        n1 = np.flatnonzero((self.kind == N1) & loaded)
        if n1.size > FIRST_ROWS:
            n1 = np.sort(n1[np.argsort(-loading[n1], kind="stable")[:FIRST_ROWS]])
        return np.union1d(np.flatnonzero(self.kind != N1), n1)

    def solve(self, cost, maximise, *, elastic=False, rows=None, t_lower=-np.inf):
        """Solve by row generation: the LP on a set of rows, then add the candidates its
        solution violates (the ``ADD_ROWS`` most violated, relative to their limits, at
        a time; HiGHS goes on from its last basis) until none is: the full LP's optimum.

        Returns ``(status, highs, rows, position, x)``: the candidates in the LP, their
        row positions in HiGHS, and the solution (None unless optimal).
        """
        rows = self.first_rows() if rows is None else rows
        h = self.highs(rows, cost, maximise, elastic, t_lower)
        position = np.arange(rows.size)
        while True:
            status = _solve(h)
            if status == "Unbounded" and rows.size < self.n_cand:
                rows = np.arange(self.n_cand)  # the subset does not bound t: take all
                h = self.highs(rows, cost, maximise, elastic, t_lower)
                position = np.arange(rows.size)
                continue
            if status != "Optimal":
                return status, h, rows, position, None
            x = np.asarray(h.getSolution().col_value, dtype=float)
            flows = self.activity(x)
            more = np.flatnonzero(self.violated(flows))
            more = np.setdiff1d(more, rows, assume_unique=True)
            if more.size == 0:
                return status, h, rows, position, x
            if more.size > ADD_ROWS:
                with np.errstate(invalid="ignore", divide="ignore"):
                    excess = np.fmax(flows[more] - self.hi[more], self.lo[more] - flows[more])
                    rel = excess / np.maximum(
                        np.abs(np.where(np.isfinite(self.hi), self.hi, 0.0))[more], 1.0
                    )
                more = more[np.argsort(-rel, kind="stable")[:ADD_ROWS]]
            first = h.getNumRow()
            self._add_rows(h, more, elastic)
            rows = np.concatenate([rows, more])
            position = np.concatenate([position, first + np.arange(more.size)])

    def _add_rows(self, h: highspy.Highs, rows: np.ndarray, elastic: bool) -> None:
        """Append candidate ``rows`` to ``h`` (with their two slack columns if
        ``elastic``)."""
        first = h.getNumRow()
        _append_rows(h, sp.csr_matrix(self.coefs(rows)), *self.row_bounds(rows))
        if elastic:
            n = rows.size
            at = np.tile(first + np.arange(n, dtype=np.int32), 2)
            h.addCols(
                2 * n,
                np.ones(2 * n),
                np.zeros(2 * n),
                np.full(2 * n, INF),
                2 * n,
                np.arange(2 * n, dtype=np.int32),
                at,
                np.concatenate([np.ones(n), -np.ones(n)]),
            )


def _append_rows(h: highspy.Highs, coef: sp.csr_matrix, lo, hi) -> None:
    """Append the rows ``lo <= coef x <= hi`` to ``h``."""
    h.addRows(
        coef.shape[0],
        lo,
        hi,
        coef.nnz,
        coef.indptr[:-1].astype(np.int32),
        coef.indices.astype(np.int32),
        coef.data.astype(float),
    )


def _solve(h: highspy.Highs) -> str:
    h.run()
    return h.modelStatusToString(h.getModelStatus())
