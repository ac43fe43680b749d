"""Critical network elements and contingencies (CNECs), selected as ENTSO-E's capacity
calculation does.

A CNEC is a pair (branch ``l``, contingency ``c``: an outage or none) whose thermal
limit the transfer capability holds. ENTSO-E's capacity calculation regions select
them by their sensitivity to cross-zonal exchanges: a network element is kept where its
largest zone-to-zone PTDF reaches a common threshold of 5 % (ACER Decision No 02/2019
of 21 February 2019 on the Core CCR TSOs' day-ahead and intraday capacity calculation
methodologies, Annex I (Core day-ahead CCM), Article 5 "Methodology for critical network
elements and contingencies selection"; the contingencies themselves come from the System
Operation Guideline, Regulation (EU) 2017/1485, Article 33). :func:`select_cnecs` applies
that criterion to every branch, intact and after every studied outage.

Zone-to-zone PTDF
-----------------
The generation shift key (GSK) of a zone spreads an exchange over its in-service,
energised generating units (the ``gen`` table; ``ext_grid`` boundary equivalents, static
generators and loads take no part) in proportion to their ``max_p_mw`` (units without a
finite positive rating get no share): ``zPTDF_z = sum_g w_g PTDF[:, bus_g]`` with ``sum_g
w_g = 1``. An exchange from zone ``a`` to zone ``b`` loads branch ``l`` by ``zPTDF_a[l] -
zPTDF_b[l]`` per MW, so the largest over every ordered pair of zones is ``max_z
zPTDF_z[l] - min_z zPTDF_z[l]``. Exchanges are taken inside one synchronous area (AC
island): a zone with units in several islands has one GSK per island, and a branch is
compared over the zones with units in its own island (an island with one such zone gives
0). PTDFs are those of :func:`gridsim.ptdf` (DC, each island to its slack; the
difference of two zones' PTDFs does not depend on the slack).

After a contingency ``c`` the PTDFs are those of the post-contingency topology:

* losing a fraction ``a`` of branch ``k``'s circuits: ``PTDF_l|c = PTDF_l + LODF_a[l, k]
  PTDF_k`` with the partial-outage LODF of :mod:`gridsim.analysis.scopf` (``a = 1``:
  :func:`gridsim.lodf`), and for what is left of ``k`` ``PTDF_k|c = (1 - a) PTDF_k /
  (1 - a H_kk)``;
* losing all of a bridge ``k``: the part cut off every slack is de-energised (its
  branches are not monitored, its units leave the GSKs); the rest keeps its PTDFs (a
  balanced exchange inside it never crosses ``k``);
* a unit or HVDC trip leaves the AC topology as it is: the intact (N-state) PTDFs and
  GSKs.

The selection depends only on the AC topology (reactances, circuits in service) and the
GSK (which units are in service, their ``max_p_mw``), never on ratings, dispatch, HVDC
setpoints or which HVDC links exist. So a transfer capability that holds the thermal
limits of the CNECs only stays monotone in ratings, emergency ratings, HVDC ratings and
links: raising one of them does not change which limits are held.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd

from gridsim.analysis.outages import Outage, _cut_off, ordinary_contingencies
from gridsim.analysis.scopf.grid import _checked
from gridsim.analysis.sensitivity import _branch_index, _factor
from gridsim.exceptions import GridsimError
from gridsim.model.compile import GEN, NONE
from gridsim.model.network import Network
from gridsim.solvers.ptdf import ISLANDING_TOL

__all__ = ["CNEC_THRESHOLD", "CnecSelection", "select_cnecs"]

CNEC_THRESHOLD = 0.05  # ENTSO-E (Core CCR): largest zone-to-zone PTDF of a CNEC, >= 5 %


@dataclasses.dataclass
class CnecSelection:
    """Outcome of :func:`select_cnecs`.

    Attributes
    ----------
    threshold : float
        A pair is a CNEC where its largest zone-to-zone PTDF is at least this.
    branches : pandas.MultiIndex
        ``(element, id)`` of the in-service branches (compiled order): the columns.
    outages : list of Outage
        The distinct contingencies (rows of :attr:`post_ptdf`).
    n_ptdf : ndarray, shape (n_branch,)
        Largest zone-to-zone PTDF of each branch in the intact grid.
    post_ptdf : ndarray, shape (n_outage, n_branch)
        The same after each outage (NaN where the branch is not energised after it).
    zones : list of str
        The zone of each GSK (one per zone and island); :attr:`n_pair` and
        :attr:`post_pair` index it.
    n_pair, post_pair : ndarray of int, shape (2, n_branch) and (2, n_outage, n_branch)
        The (from, to) GSKs of the largest zone-to-zone PTDF (-1: none).
    """

    threshold: float
    branches: pd.MultiIndex
    outages: list
    n_ptdf: np.ndarray
    post_ptdf: np.ndarray
    zones: list
    n_pair: np.ndarray = dataclasses.field(repr=False)
    post_pair: np.ndarray = dataclasses.field(repr=False)

    @property
    def n_cnec(self) -> np.ndarray:
        """Per branch: a CNEC in the intact grid."""
        return self.n_ptdf >= self.threshold

    @property
    def post_cnec(self) -> np.ndarray:
        """Per outage and branch: a CNEC after the outage (False where not energised)."""
        with np.errstate(invalid="ignore"):
            return self.post_ptdf >= self.threshold

    @property
    def counts(self) -> tuple[int, int]:
        """``(CNECs, pairs)``: the pairs are every energised (branch, N or outage)."""
        pairs = self.branches.size + int(np.isfinite(self.post_ptdf).sum())
        return int(self.n_cnec.sum() + self.post_cnec.sum()), pairs

    def masks(self, outages: Iterable[Outage], branches: pd.MultiIndex):
        """``(intact, post)``: the CNEC flags of ``branches`` (an ``(element, id)`` index,
        e.g. another compile of the same topology) intact and after each of ``outages``
        (by element, id and circuits lost). Branches or outages not in the selection
        are monitored (True)."""
        pos = self.branches.get_indexer(branches)
        found = pos >= 0
        intact = np.where(found, self.n_cnec[np.maximum(pos, 0)], True)
        index = {o.key: i for i, o in enumerate(self.outages)}
        rows = np.array([index.get(o.key, -1) for o in outages], dtype=np.int64)
        flags = self.post_cnec
        post = np.ones((rows.size, pos.size), dtype=bool)
        if rows.size and flags.size:
            have = rows >= 0
            sub = flags[np.maximum(rows, 0)][:, np.maximum(pos, 0)]
            post[have] = np.where(found, sub[have], True)
        return intact, post

    def table(self, cnec_only: bool = True) -> pd.DataFrame:
        """One row per pair (only the CNECs by default): ``element``, ``id``,
        ``contingency`` (the outage's label, None intact), ``max_zone_ptdf``,
        ``from_zone``, ``to_zone`` (the exchange that gives it), ``cnec``."""
        n_out, n_br = self.post_ptdf.shape
        value = np.concatenate([self.n_ptdf[None, :], self.post_ptdf]).ravel()
        pair = np.concatenate([self.n_pair[:, None, :], self.post_pair], axis=1).reshape(2, -1)
        with np.errstate(invalid="ignore"):
            cnec = value >= self.threshold
        keep = np.flatnonzero(cnec if cnec_only else np.isfinite(value))
        state, branch = np.divmod(keep, n_br)
        labels = np.array([None] + [o.label for o in self.outages], dtype=object)
        zones = np.array([*self.zones, None], dtype=object)  # -1: none
        return pd.DataFrame(
            {
                "element": self.branches.get_level_values(0)[branch],
                "id": self.branches.get_level_values(1)[branch],
                "contingency": labels[state],
                "max_zone_ptdf": value[keep],
                "from_zone": zones[pair[0, keep]],
                "to_zone": zones[pair[1, keep]],
                "cnec": cnec[keep],
            }
        )


def _spread(values: np.ndarray, group_island: np.ndarray, branch_island: np.ndarray):
    """Per branch (column of ``values``, GSKs x branches): the largest difference of
    two GSKs of the branch's island, and the (from, to) GSKs giving it (-1: none)."""
    same = group_island[:, None] == branch_island[None, :]
    hi = np.where(same, values, -np.inf)
    lo = np.where(same, values, np.inf)
    top, bottom = hi.argmax(axis=0), lo.argmin(axis=0)
    cols = np.arange(values.shape[1])
    spread = hi[top, cols] - lo[bottom, cols]
    some = same.sum(axis=0) >= 2
    spread = np.where(some, spread, 0.0)
    return spread, np.where(some, top, -1), np.where(some, bottom, -1)


def select_cnecs(
    network: Network,
    outages: Iterable[Outage] | None = None,
    threshold: float = CNEC_THRESHOLD,
) -> CnecSelection:
    """The CNECs of ``network``: every (branch, contingency) pair whose largest
    zone-to-zone PTDF, in the post-contingency topology, is at least ``threshold``
    (module docstring: the ENTSO-E criterion, the GSK, the formulas).

    Parameters
    ----------
    network : Network
        Zones from ``bus.zone``.
    outages : iterable of Outage, optional
        The contingencies; default
        :func:`gridsim.analysis.outages.ordinary_contingencies`. Outages that differ
        only in which of identical circuits is lost share one row.
    threshold : float
        Per MW of exchange (0.05: ENTSO-E's 5 %); 0 selects every energised pair.

    Returns
    -------
    CnecSelection

    Raises
    ------
    GridsimError
        For a negative or non-finite threshold, or an outage not in the network.
    """
    if not (np.isfinite(threshold) and threshold >= 0):
        raise GridsimError(f"the CNEC threshold must be a non-negative number, got {threshold!r}")
    if outages is None:
        outages = ordinary_contingencies(network)
    distinct: dict[tuple, Outage] = {}
    for o in outages:
        distinct.setdefault(o.key, o)
    outages = list(distinct.values())
    cn = network.compile()
    nbr = cn.n_branch
    ptdf = _factor(cn).bus_ptdf(np.arange(cn.n_bus)).T  # branches x buses
    # GSKs: one per (zone, island), over the in-service units by max_p_mw
    units = np.flatnonzero((cn.inj_kind == GEN) & (cn.bus_type[cn.inj_bus] != NONE))
    gen = network.columns("gen")
    rating = np.asarray(gen.max_p_mw, dtype=float)[gen.index.get_indexer(cn.inj_id[units])]
    rated = np.isfinite(rating) & (rating > 0)
    units, rating = units[rated], rating[rated]
    bus = cn.inj_bus[units]
    zone = network.bus["zone"].astype(str).reindex(cn.bus_ids).to_numpy()[bus]
    keys = pd.MultiIndex.from_arrays([zone, cn.island[bus]])
    group_keys, group = np.unique(np.asarray(keys.codes).T, axis=0, return_inverse=True)
    group = np.asarray(group).ravel()
    n_group = group_keys.shape[0]
    zones = [str(keys.levels[0][c]) for c in group_keys[:, 0]] if n_group else []
    group_island = np.asarray(keys.levels[1])[group_keys[:, 1]] if n_group else np.zeros(0)
    branch_island = cn.island[cn.br_f]

    def gsk_ptdf(alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """GSK PTDFs (groups x branches) over the units ``alive``, and the groups with
        a unit left."""
        w = np.where(alive, rating, 0.0)
        total = np.bincount(group, weights=w, minlength=n_group)
        share = np.divide(w, total[group], out=np.zeros_like(w), where=total[group] > 0)
        out = np.zeros((n_group, nbr))
        np.add.at(out, group, share[:, None] * ptdf[:, bus].T)
        return out, total > 0

    base, _ = gsk_ptdf(np.ones(units.size, dtype=bool))
    n_ptdf, top, bottom = _spread(base, group_island, branch_island)
    n_pair = np.stack([top, bottom])
    post = np.tile(n_ptdf, (len(outages), 1))
    post_pair = np.tile(n_pair[:, None, :], (1, len(outages), 1))
    info = _checked(network, cn, outages)
    for o, branch in enumerate(info):
        if branch is None:
            continue  # a unit or HVDC trip: the intact topology
        k, keep = branch
        alpha = 1.0 - keep
        h = ptdf[:, cn.br_f[k]] - ptdf[:, cn.br_t[k]]
        if keep == 0.0 and abs(1.0 - h[k]) < ISLANDING_TOL:
            dead = _cut_off(cn, k)
            values, have = gsk_ptdf(~dead[bus])
            isl = np.where(have, group_island, -1)  # groups with no unit left drop out
            spread, top, bottom = _spread(values, isl, branch_island)
            gone = dead[cn.br_f] | dead[cn.br_t]
            gone[k] = True
        else:
            lodf = alpha * h / (1.0 - alpha * h[k])
            lodf[k] = -alpha * (1.0 - h[k]) / (1.0 - alpha * h[k])
            values = base + base[:, k][:, None] * lodf[None, :]
            spread, top, bottom = _spread(values, group_island, branch_island)
            gone = np.zeros(nbr, dtype=bool)
            gone[k] = keep == 0.0
        post[o] = np.where(gone | (cn.bus_type[cn.br_f] == NONE), np.nan, spread)
        post_pair[:, o] = np.stack([np.where(gone, -1, top), np.where(gone, -1, bottom)])
    return CnecSelection(
        threshold=float(threshold),
        branches=_branch_index(cn),
        outages=outages,
        n_ptdf=n_ptdf,
        post_ptdf=post,
        zones=zones,
        n_pair=n_pair,
        post_pair=post_pair,
    )
