"""The linearisation the security-constrained LPs share (:class:`LinearisedGrid`: PTDF,
outage terms, post-contingency constants and AC MVA sensitivities at an AC operating
point), the flowgates they hold (:class:`Interface`) and :class:`ScopfError`; the model
is described in :mod:`gridsim.analysis.scopf`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gridsim.analysis.ac_sensitivity import branch_mva_sensitivity, bus_voltage_sensitivity
from gridsim.analysis.outages import (
    Outage,
    OutageResult,
    _check,
    _circuit_counts,
    _cut_off,
    _weights,
    ordinary_contingencies,
)
from gridsim.analysis.sensitivity import _branch_positions, _factor
from gridsim.exceptions import GridsimError
from gridsim.model.compile import EXT_GRID, GEN, HVDC_FROM, HVDC_TO, LINE, NONE, PQ
from gridsim.model.network import Network, plain
from gridsim.results import PowerFlowResult
from gridsim.solvers.ptdf import ISLANDING_TOL


class ScopfError(GridsimError, ValueError):
    """A security-constrained LP that cannot be set up (unknown elements, bad limits)."""


@dataclasses.dataclass(frozen=True)
class Interface:
    """A flowgate: a directed sum of branch and HVDC flows with a limit.

    Attributes
    ----------
    id
        Its name.
    members : tuple of (element, id, direction)
        ``element`` ``"line"``, ``"trafo"`` or ``"hvdc"``; ``direction`` +1 counts the
        flow from the element's from end (a link's setpoint ``p_mw``), -1 against it.
    limit_mw : float
        Largest allowed ``sum direction * flow``, MW.
    kind : str
        ``"thermal"``, ``"ntc"`` (a published net transfer capacity), ``"stability"``
        (:data:`gridsim.model.schema.INTERFACE_KINDS`).
    source : str
        Where the limit comes from.
    """

    id: object
    members: tuple
    limit_mw: float
    kind: str = "ntc"
    source: str = ""

    @classmethod
    def parse(cls, item) -> Interface:
        """An :class:`Interface` from itself or a dict ``{"id", "members", "limit_mw",
        "kind", "source"}`` (as ``network.interfaces`` holds them) with members as
        ``(element, id, direction)`` or dicts with those keys (``direction`` default
        +1)."""
        if isinstance(item, Interface):
            return item
        if not isinstance(item, Mapping) or "members" not in item or "limit_mw" not in item:
            raise ScopfError(f"interface {item!r}: give a dict with 'members' and 'limit_mw'")
        members = []
        for m in item["members"]:
            if isinstance(m, Mapping):
                m = (m.get("element"), m.get("id"), m.get("direction", 1))
            if len(m) == 2:
                m = (*m, 1)
            element, eid, direction = m
            if element not in ("line", "trafo", "hvdc") or direction not in (1, -1):
                raise ScopfError(
                    f"interface {item.get('id')!r}: member {m!r} must be (element, id, +1/-1) "
                    "with element 'line', 'trafo' or 'hvdc'"
                )
            members.append((element, eid, int(direction)))
        limit = float(item["limit_mw"])
        if not np.isfinite(limit):
            raise ScopfError(f"interface {item.get('id')!r}: limit_mw must be finite")
        kind, source = str(item.get("kind", "ntc")), str(item.get("source", ""))
        return cls(item.get("id"), tuple(members), limit, kind, source)


def _as_outage(network: Network, item) -> Outage:
    """An Outage from itself or an ``(element, id)`` pair (all circuits of a branch)."""
    if isinstance(item, Outage):
        return item
    if not (isinstance(item, tuple) and len(item) == 2):
        raise ScopfError(f"outage {item!r} is neither an Outage nor an (element, id) pair")
    element, eid = item
    if element in ("line", "trafo"):
        k = int(_circuit_counts(network, element, np.array([eid], dtype=object))[0])
        return Outage(element, element, eid, k, k)
    if element in ("hvdc", "gen"):
        return Outage(element, element, eid)
    raise ScopfError(f"outage {item!r}: element must be line, trafo, hvdc or gen")


class LinearisedGrid:
    """DC sensitivities and N-1 outage models at an AC operating point.

    Parameters
    ----------
    network : Network
        The network the operating point is of (not modified).
    result : PowerFlowResult
        Its solved power flow (AC, or DC for a pure DC model), on ``network.compile()``.
    outages : iterable of Outage or (element, id), optional
        The contingency set; default
        :func:`gridsim.analysis.outages.ordinary_contingencies` (every circuit, unit and
        link). Outages that differ only in which of identical circuits is lost share
        their rows.
    emergency_rating_percent : float
        Post-contingency thermal limit, percent of ``rate_mva``.
    post_results : iterable of OutageResult, optional
        AC post-contingency solutions of some outages
        (:func:`gridsim.analysis.outages.solve_outage`): their flows and reactive
        offsets replace the DC prediction as the N-1 rows' constants, and those of
        branch outages that cut nothing off give the MVA rows (module docstring).
    post_estimates : iterable of (Outage, ndarray, ndarray), optional
        For outages without an AC solution here: estimates of their post-contingency
        active flows and reactive offsets (compiled branch order; NaN where none), e.g.
        an earlier AC solution moved by the linearised change since, used as the N-1
        constants instead of the DC prediction.
    reuse : dict, optional
        A dict kept by the caller between grids of dispatches of one network (the same
        elements in service with the same parameters): the PTDF rows, which depend on
        the topology and the reactances only, are kept there.
    cnecs : CnecSelection, optional
        :func:`gridsim.analysis.cnec.select_cnecs` of this topology: thermal rows only
        on its CNECs (intact and after each outage). Default: every rated branch.
    voltage_watch : iterable of (outage, bus id), optional
        Voltages to hold as rows of the LPs (:meth:`voltage_rows`): a bus intact
        (outage None) or after an outage, given as an :class:`Outage`, its label or its
        key ``(element, id, circuits lost)`` (outages that differ only in which of
        identical circuits is lost are one). Only those with an AC solution here
        (the intact state, an outage of ``post_results`` that cuts nothing off) at a bus
        that does not hold its voltage there become rows. After a unit or link trip the
        row's sensitivity is that of the post-contingency state with its slack taking
        the injections (the participation response to the variables' change of the
        lost output is not in it; the AC checks hold the answer).

    Attributes
    ----------
    flows_mw : ndarray
        AC active flows at the branches' from ends (compiled order), MW.
    offset_mw : ndarray
        ``max(|S_from|, |S_to|) - |P_from|`` per branch, MVA (0 for a DC result).
    outages : list of Outage
        The distinct outages (rows of :attr:`post_flows_mw`).
    post_flows_mw : ndarray, shape (n_outage, n_branch)
        Post-contingency flows at the operating point (NaN where not energised: the
        outaged branch, a part cut off).
    alive : ndarray of bool, shape (n_outage, n_branch)
        Branches energised after each outage.
    islanding : ndarray of bool, shape (n_outage,)
        Outages that cut buses off every slack (their lost load and generation are not
        limited here).
    n0_monitored, monitored : ndarray of bool, shapes (n_branch,), (n_outage, n_branch)
        The branches whose thermal limits are rows, intact and after each outage:
        rated, energised and, with ``cnecs``, CNECs.
    ac_post : ndarray of bool, shape (n_outage, n_branch)
        The branches whose post-contingency MVA loading has an AC solution here to be
        linearised at (:meth:`mva_sensitivity`).
    """

    def __init__(
        self,
        network: Network,
        result: PowerFlowResult,
        *,
        outages: Iterable | None = None,
        emergency_rating_percent: float = 100.0,
        post_results: Iterable[OutageResult] | None = None,
        post_estimates: Iterable[tuple] | None = None,
        reuse: dict | None = None,
        cnecs=None,
        voltage_watch: Iterable[tuple] | None = None,
    ):
        if not isinstance(network, Network):
            raise ScopfError("LinearisedGrid needs a Network (not a compiled one)")
        cn = network.compile()
        if not result.converged:
            raise ScopfError(f"the operating point did not converge: {result.message}")
        rcn = result.cn
        if rcn.n_branch != cn.n_branch or not np.array_equal(rcn.br_id, cn.br_id):
            raise ScopfError("result is not a solution of this network (branches differ)")
        if not (np.isfinite(emergency_rating_percent) and emergency_rating_percent > 0):
            raise ScopfError(
                f"emergency_rating_percent must be positive, got {emergency_rating_percent!r}"
            )
        self.network, self.cn, self.result = network, cn, result
        self.emergency = float(emergency_rating_percent) / 100.0
        self.flows_mw = np.asarray(result.branch_p_from_mw, dtype=float)
        s_max = np.maximum(np.abs(result._s_from), np.abs(result._s_to))
        self.offset_mw = np.nan_to_num(np.maximum(s_max - np.abs(self.flows_mw), 0.0))
        self.rate = np.where(cn.br_rate_mva > 0, cn.br_rate_mva, np.nan)
        self.p_inj = np.asarray(result.injector_p_mw, dtype=float)
        self._ptdf_rows: dict[int, np.ndarray] = (
            {} if reuse is None else reuse.setdefault("ptdf_rows", {})
        )
        self._participation()
        if outages is None:
            outages = ordinary_contingencies(network)
        self._outage_terms([_as_outage(network, o) for o in outages])
        self.n0_monitored = np.isfinite(self.rate)
        self.ac_post = np.zeros(self.alive.shape, dtype=bool)
        self._post_ac: dict[int, tuple[PowerFlowResult, np.ndarray]] = {}
        self._mva: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._post_v: dict[int, PowerFlowResult] = {}
        self._vm: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self.voltage_watch = frozenset(voltage_watch or ())
        if cnecs is not None:
            kind = np.where(cn.br_kind == LINE, "line", "trafo")
            intact, post = cnecs.masks(self.outages, pd.MultiIndex.from_arrays([kind, cn.br_id]))
            self.n0_monitored &= intact
            self.monitored &= post
        if post_estimates is not None:
            self._post_estimated(post_estimates)
        if post_results is not None:
            self._post_from_ac(post_results)

    # -- sensitivities -------------------------------------------------------------------
    def ptdf(self, buses: np.ndarray) -> np.ndarray:
        """PTDF columns of bus positions ``buses``, transposed: ``(len(buses), n_branch)``
        (cached)."""
        buses = np.asarray(buses, dtype=np.int64)
        new = np.unique(buses[[b not in self._ptdf_rows for b in buses.tolist()]])
        if new.size:
            for b, row in zip(new.tolist(), _factor(self.cn).bus_ptdf(new), strict=True):
                self._ptdf_rows[b] = row
        if buses.size == 0:
            return np.zeros((0, self.cn.n_branch))
        return np.stack([self._ptdf_rows[b] for b in buses.tolist()])

    def _participation(self) -> None:
        """Participation factor per injector and, per island, ``sum w`` and
        ``sum w PTDF[:, bus]`` (the weighted response before normalising)."""
        cn, net = self.cn, self.network
        w = np.zeros(cn.inj_kind.size)
        live = cn.bus_type[cn.inj_bus] != NONE
        for kind, element in ((GEN, "gen"), (EXT_GRID, "ext_grid")):
            for slack in (False, True):
                pos = np.flatnonzero((cn.inj_kind == kind) & (cn.inj_slack == slack) & live)
                if pos.size == 0 or (kind == EXT_GRID and not slack):
                    continue
                fallback = np.zeros(pos.size) if slack else np.abs(cn.inj_p[pos])
                w[pos] = _weights(net, element, cn.inj_id[pos], fallback)[0]
        self.weight = w
        self.resp = np.flatnonzero(w > 0)  # injectors that respond
        self.resp_ptdf = self.ptdf(cn.inj_bus[self.resp])  # rows: responding injectors
        n_isl = max(len(cn.islands), int(cn.island.max()) + 1 if cn.island.size else 0)
        isl = cn.island[cn.inj_bus[self.resp]]
        self.island_w = np.bincount(isl, weights=w[self.resp], minlength=n_isl)
        self.island_wp = np.zeros((n_isl, cn.n_branch))
        np.add.at(self.island_wp, isl, w[self.resp][:, None] * self.resp_ptdf)

    def _response(self, island: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """``PTDF w`` of ``island``'s response, injectors ``exclude`` (mask over all
        injectors) left out; zero when no unit responds (the slack takes it)."""
        total, wp = self.island_w[island], self.island_wp[island].copy()
        if exclude is not None:
            out = exclude[self.resp] & (self.cn.island[self.cn.inj_bus[self.resp]] == island)
            total -= self.weight[self.resp][out].sum()
            wp -= self.weight[self.resp][out] @ self.resp_ptdf[out]
        return wp / total if total > 1e-12 else np.zeros_like(wp)

    # -- outages -------------------------------------------------------------------------
    def _outage_terms(self, outages: list[Outage]) -> None:
        """Each distinct outage as terms ``a g``: post flows ``F + sum a g(u)``, where
        ``g`` is a branch's flow or an injector's output."""
        cn, net = self.cn, self.network
        unique: dict[tuple, int] = {}
        self.outages: list[Outage] = []
        self.outage_index: list[int] = []  # per given outage: its distinct row
        for o in outages:
            key = o.key
            if key not in unique:
                unique[key] = len(self.outages)
                self.outages.append(o)
            self.outage_index.append(unique[key])
        info = _checked(net, cn, self.outages)
        n_out, nbr = len(self.outages), cn.n_branch
        self.alive = np.ones((n_out, nbr), dtype=bool)  # branches energised after it
        self.islanding = np.zeros(n_out, dtype=bool)
        self.rating_scale = np.ones((n_out, nbr))
        term_out, term_kind, term_ref, term_a = [], [], [], []

        def term(o, kind, ref, a):
            term_out.append(o)
            term_kind.append(kind)
            term_ref.append(ref)
            term_a.append(a)

        ends = {kind: _link_injectors(cn, kind) for kind in (HVDC_FROM, HVDC_TO)}
        link_pos = {lid: j for j, lid in enumerate(cn.hvdc_id.tolist())}

        def trip_link(o, j, dead=None):
            for kind, bus in ((HVDC_FROM, cn.hvdc_from[j]), (HVDC_TO, cn.hvdc_to[j])):
                if dead is not None and dead[bus]:
                    continue
                row = self.ptdf([bus])[0] - self._response(cn.island[bus], dead_inj(dead))
                term(o, 1, ends[kind][j], -row)

        def dead_inj(dead):
            return None if dead is None else dead[cn.inj_bus]

        branch_o = [o for o, i in enumerate(info) if i is not None]
        if branch_o:
            ks = np.array([info[o][0] for o in branch_o], dtype=np.int64)
            m = ks.size
            idx = np.empty(2 * m, dtype=np.int64)
            idx[0::2], idx[1::2] = cn.br_f[ks], cn.br_t[ks]
            val = np.tile([1.0, -1.0], m)
            h = _factor(cn).solve_flows(np.arange(0, 2 * m + 1, 2), idx, val)
            for row, (o, k) in enumerate(zip(branch_o, ks.tolist(), strict=True)):
                keep = info[o][1]
                alpha = 1.0 - keep
                hkk = h[row, k]
                if keep == 0.0 and abs(1.0 - hkk) < ISLANDING_TOL:
                    dead = _cut_off(cn, k)
                    self.islanding[o] = True
                    kept_from = not dead[cn.br_f[k]]
                    e = cn.br_f[k] if kept_from else cn.br_t[k]
                    a = self.ptdf([e])[0] - self._response(cn.island[e], dead[cn.inj_bus])
                    term(o, 0, k, a if kept_from else -a)
                    for j in np.flatnonzero(dead[cn.hvdc_from] | dead[cn.hvdc_to]):
                        trip_link(o, j, dead)
                    self.alive[o, dead[cn.br_f] | dead[cn.br_t]] = False
                    self.alive[o, k] = False
                    continue
                a = alpha * h[row] / (1.0 - alpha * hkk)
                a[k] = -alpha * (1.0 - hkk) / (1.0 - alpha * hkk)
                term(o, 0, k, a)
                if keep == 0.0:
                    self.alive[o, k] = False
                else:
                    self.rating_scale[o, k] = keep
        gen_pos = {
            gid: i
            for i, gid in zip(
                np.flatnonzero(cn.inj_kind == GEN).tolist(),
                cn.inj_id[cn.inj_kind == GEN].tolist(),
                strict=True,
            )
        }
        for o, out in enumerate(self.outages):
            if out.element == "hvdc":
                trip_link(o, link_pos[out.id])
            elif out.element == "gen":
                i = gen_pos[out.id]
                bus = cn.inj_bus[i]
                mask = np.zeros(cn.inj_kind.size, dtype=bool)
                mask[i] = True
                row = self.ptdf([bus])[0] - self._response(cn.island[bus], mask)
                term(o, 1, i, -row)
        self.term_out = np.asarray(term_out, dtype=np.int64)
        self.term_kind = np.asarray(term_kind, dtype=np.int64)
        self.term_ref = np.asarray(term_ref, dtype=np.int64)
        self.term_a = np.array(term_a).reshape(len(term_a), nbr)
        on_branch = self.term_kind == 0
        g0 = np.empty(self.term_ref.size)
        g0[on_branch] = self.flows_mw[self.term_ref[on_branch]]
        g0[~on_branch] = self.p_inj[self.term_ref[~on_branch]]
        post = np.tile(self.flows_mw, (n_out, 1))
        np.add.at(post, self.term_out, self.term_a * g0[:, None])
        self.monitored = self.alive & np.isfinite(self.rate)
        self.post_flows_mw = np.where(self.alive, post, np.nan)
        self.post_offset_mw = self.offset_mw * self.rating_scale
        # per outage, its terms in slots (-1: none), for the vectorised row build
        n_slot = int(np.bincount(self.term_out, minlength=n_out).max()) if n_out and term_out else 0
        self.slots = np.full((n_slot, n_out), -1, dtype=np.int64)
        seen = np.zeros(n_out, dtype=np.int64)
        for t_idx, o in enumerate(self.term_out.tolist()):
            self.slots[seen[o], o] = t_idx
            seen[o] += 1

    def _post_estimated(self, estimates: Iterable[tuple]) -> None:
        """Estimated post-contingency flows and offsets as N-1 constants."""
        index = {key: o for o, key in enumerate(o.key for o in self.outages)}
        for outage, flows, offsets in estimates:
            o = index.get(outage.key)
            if o is None:
                continue
            ok = self.alive[o] & np.isfinite(flows) & np.isfinite(offsets)
            self.post_flows_mw[o, ok] = flows[ok]
            self.post_offset_mw[o, ok] = offsets[ok]

    def _post_from_ac(self, post_results: Iterable[OutageResult]) -> None:
        """AC post-contingency flows and offsets as the N-1 constants of their outages."""
        cn = self.cn
        index = {key: o for o, key in enumerate(o.key for o in self.outages)}
        names = pd.MultiIndex.from_arrays([cn.br_kind, cn.br_id])
        for r in post_results:
            o = index.get(r.outage.key)
            if o is None or not r.converged:
                continue
            pf = r.power_flow
            pcn = pf.cn
            if (
                pcn.n_branch == cn.n_branch
                and (pcn.br_kind == cn.br_kind).all()
                and (pcn.br_id == cn.br_id).all()
            ):
                pos = np.arange(cn.n_branch)  # a scaled view keeps the branch order
            else:
                pos = pd.MultiIndex.from_arrays([pcn.br_kind, pcn.br_id]).get_indexer(names)
            found = pos >= 0
            p = np.full(cn.n_branch, np.nan)
            s = np.full(cn.n_branch, np.nan)
            p[found] = pf.branch_p_from_mw[pos[found]]
            s[found] = np.maximum(np.abs(pf._s_from), np.abs(pf._s_to))[pos[found]]
            ok = found & np.isfinite(p)
            self.post_flows_mw[o, ok] = p[ok]
            self.post_offset_mw[o, ok] = np.maximum(s[ok] - np.abs(p[ok]), 0.0)
            same_buses = pcn.bus_ids is cn.bus_ids or pcn.bus_ids.equals(cn.bus_ids)
            if (
                pf.kind == "ac"
                and not self.islanding[o]
                and not r.de_energised_buses
                and same_buses
            ):
                self._post_v[o] = pf  # voltage rows can be formed on it (voltage_rows)
                if r.outage.element in ("line", "trafo"):
                    # and MVA rows (mva_sensitivity)
                    self._post_ac[o] = (pf, pos)
                    self.ac_post[o] = ok & self.alive[o]

    def mva_sensitivity(self, o: int, branches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """AC sensitivity of the MVA loading of ``branches`` (compiled positions) intact
        (``o = -1``) or after outage ``o`` (one with an AC solution here: ``ac_post[o]``),
        per MW and per Mvar injected at each bus (compiled bus order, the slack taking
        it): :func:`gridsim.analysis.ac_sensitivity.branch_mva_sensitivity` at that
        solution (cached). Returns ``(d_p, d_q)``, each ``(len(branches), n_bus)``."""

        def compute(new: np.ndarray):
            res, pos = (self.result, None) if o < 0 else self._post_ac[o]
            at = new if pos is None else pos[new]
            vdep = self.cn.voltage_dependence()
            return branch_mva_sensitivity(res, at, voltage_dependence=vdep)

        return self._cached(self._mva, o, branches, compute)

    def _cached(self, store: dict, o: int, items, compute) -> tuple[np.ndarray, np.ndarray]:
        """``(d_p, d_q)`` rows of ``items`` in state ``o`` from ``store`` (keyed ``(o,
        item)``), ``compute(new items)`` filling in those not there yet."""
        items = np.asarray(items, dtype=np.int64)
        new = [k for k in np.unique(items).tolist() if (o, k) not in store]
        if new:
            d_p, d_q = compute(np.asarray(new, dtype=np.int64))
            for n, k in enumerate(new):
                store[(o, k)] = (d_p[n], d_q[n])
        if items.size == 0:
            return np.zeros((0, self.cn.n_bus)), np.zeros((0, self.cn.n_bus))
        rows = [store[(o, k)] for k in items.tolist()]
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    def voltage_rows(self) -> tuple[np.ndarray, ...]:
        """The watched voltages (``voltage_watch``) that can be rows here: ``(o, bus,
        vm, lo, hi)``, the outage (-1 intact), the compiled bus, its voltage magnitude
        in that state and its limits (p.u.; inf where none), sorted."""
        cn = self.cn
        index = {o.key: k for k, o in enumerate(self.outages)}
        index.update({o.label: k for k, o in enumerate(self.outages)})
        lo_all = self.network.bus.min_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
        hi_all = self.network.bus.max_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
        found = []
        for contingency, bus in self.voltage_watch:
            if isinstance(contingency, Outage):
                contingency = contingency.key
            o = -1 if contingency is None else index.get(contingency)
            if o is None or (o >= 0 and o not in self._post_v):
                continue
            pf = self.result if o < 0 else self._post_v[o]
            b = pf.cn.bus_ids.get_indexer([bus])[0]
            if b < 0 or pf.bus_type[b] != PQ:
                continue
            found.append((o, b, float(np.abs(pf.v[b]))))
        found.sort()
        o, b, vm = (np.array([f[i] for f in found]) for i in range(3))
        o, b = o.astype(np.int64), b.astype(np.int64)
        lo = np.nan_to_num(lo_all[b], nan=-np.inf) if b.size else np.zeros(0)
        hi = np.nan_to_num(hi_all[b], nan=np.inf) if b.size else np.zeros(0)
        return o, b, vm.astype(float), lo, hi

    def voltage_sensitivity(self, o: int, buses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """AC sensitivity of the voltage magnitude of ``buses`` (compiled positions)
        intact (``o = -1``) or after outage ``o`` (one of :meth:`voltage_rows`), per MW
        and per Mvar injected at each bus (compiled bus order, the slack taking it):
        :func:`gridsim.analysis.ac_sensitivity.bus_voltage_sensitivity` at that
        solution (cached: the LPs of one linearisation, e.g. the shadow prices', share
        it). Returns ``(d_p, d_q)``, each ``(len(buses), n_bus)``."""

        def compute(new: np.ndarray):
            res = self.result if o < 0 else self._post_v[o]
            vdep = self.cn.voltage_dependence()
            return bus_voltage_sensitivity(res, new, voltage_dependence=vdep)

        return self._cached(self._vm, o, buses, compute)

    # -- labels --------------------------------------------------------------------------
    def branch_label(self, k: int) -> tuple[str, object]:
        """``(element, id)`` of compiled branch ``k``."""
        return ("line" if self.cn.br_kind[k] == LINE else "trafo", plain(self.cn.br_id[k]))


def _checked(network: Network, cn, outages: list[Outage]) -> list:
    """:func:`gridsim.analysis.outages._check` of each outage (``(position, fraction
    left)`` for a branch, else None), the branches looked up together."""
    info: list = [None] * len(outages)
    branches = [i for i, o in enumerate(outages) if o.element in ("line", "trafo")]
    for i in sorted(set(range(len(outages))) - set(branches)):
        _check(network, cn, outages[i])
    if not branches:
        return info
    pos = _branch_positions(cn, [(outages[i].element, outages[i].id) for i in branches])
    for element in ("line", "trafo"):
        at = [n for n, i in enumerate(branches) if outages[i].element == element]
        if not at:
            continue
        ids = np.array([outages[branches[n]].id for n in at], dtype=object)
        have = _circuit_counts(network, element, ids)
        table = network.columns(element)
        parallel = np.asarray(table.parallel, dtype=float)[table.index.get_indexer(ids)]
        for n, k, par in zip(at, have.tolist(), parallel.tolist(), strict=True):
            o = outages[branches[n]]
            if k != o.parallel:
                raise ScopfError(
                    f"outage {o.label!r} is for {o.parallel} circuit(s); "
                    f"{element} {plain(o.id)!r} has {k}"
                )
            info[branches[n]] = (int(pos[n]), (par - o.circuits) / par)
    return info


# -- the problems ---------------------------------------------------------------------------


def _link_injectors(cn, kind: int) -> np.ndarray:
    """Injector position of each in-service link's end ``kind`` (in ``cn.hvdc_id`` order)."""
    pos = np.flatnonzero(cn.inj_kind == kind)
    order = pd.Index(cn.inj_id[pos]).get_indexer(cn.hvdc_id)
    return pos[order]
