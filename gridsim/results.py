"""Power-flow results: arrays from the solver, pandas tables on demand.

Sign conventions are pandapower's: bus ``p_mw``/``q_mvar`` are what the bus draws
(loads and shunts minus generation); generator-like elements report what they inject;
branch ``p_from_mw`` is the power entering the branch at its from (hv) end and
``p_to_mw`` at its to (lv) end, so ``pl_mw = p_from_mw + p_to_mw`` are its losses.
``loading_percent`` is ``100 max(|S_from|, |S_to|) / rate_mva`` (NaN where unrated).
HVDC ``p_from_mw`` is the power the link takes at its from end and ``p_to_mw`` (< 0 for
forward flow) what it delivers at its to end. De-energised buses report NaN voltages.
"""

from __future__ import annotations

import json
from functools import cached_property

import numpy as np
import pandas as pd

from gridsim.analysis.dispatch import injector_q_share, slack_share
from gridsim.model.compile import (
    EXT_GRID,
    GEN,
    HVDC_FROM,
    HVDC_TO,
    LINE,
    NONE,
    SGEN,
    TRAFO,
)
from gridsim.numerics.sums import bus_sum

SQRT3 = np.sqrt(3.0)


class PowerFlowResult:
    """Outcome of one AC or DC power flow.

    Attributes
    ----------
    converged : bool
    iterations : int
        Newton iterations (summed over Q-limit rounds); 0 for DC.
    max_mismatch_mva : float
        Largest bus power mismatch at the returned state, MVA.
    message : str
        Why the solve failed (empty when it converged).
    kind : {"ac", "dc"}
    v : ndarray of complex
        Bus voltages in the compiled bus order, p.u.
    """

    def __init__(
        self,
        cn,
        kind: str,
        v,
        converged: bool,
        iterations: int,
        max_mismatch_mva: float,
        message: str,
    ):
        self.cn = cn
        self.kind = kind
        self.v = v
        self.converged = converged
        self.iterations = iterations
        self.max_mismatch_mva = max_mismatch_mva
        self.message = message
        self.warnings = list(cn.warnings)
        self.q_limited_buses: list = []

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_ac(
        cls,
        cn,
        v,
        state,
        *,
        converged,
        iterations,
        max_mismatch_mva,
        message,
        q_limited,
    ) -> PowerFlowResult:
        res = cls(cn, "ac", v, converged, iterations, max_mismatch_mva, message)
        res.bus_type = state.bus_type
        res.q_limited_buses = list(cn.bus_ids[q_limited]) if q_limited.size else []
        res._limits = (state.q_fixed, state.p_fixed)  # what run_ac(q_start=res) carries on
        res._ac_state = state  # the flows are worked out on first use (_ac_flows)
        return res

    # the AC flow arrays, computed together on first access
    _AC_FLOWS = frozenset(("_s_calc", "_inj_q", "_inj_p", "_s_from", "_s_to", "_s_shunt"))

    def __getattr__(self, name: str):
        if name not in PowerFlowResult._AC_FLOWS or "_ac_state" not in self.__dict__:
            raise AttributeError(name)
        self._ac_flows()
        return self.__dict__[name]

    def _ac_flows(self) -> None:
        cn, v, state = self.cn, self.v, self.__dict__.pop("_ac_state")
        q_inj, s_calc = injector_q_share(cn, v, state.bus_type, state.q_fixed)
        self._s_calc = s_calc
        self._inj_q = q_inj
        self._inj_p = slack_share(cn, s_calc.real, state)
        yff, yft, ytf, ytt = cn.branch_y()
        vf, vt = v[cn.br_f], v[cn.br_t]
        self._s_from = vf * np.conj(yff * vf + yft * vt) * cn.sn_mva
        self._s_to = vt * np.conj(ytf * vf + ytt * vt) * cn.sn_mva
        self._s_shunt = np.abs(v) ** 2 * np.conj(cn.ysh) * cn.sn_mva

    @classmethod
    def from_dc(cls, cn, theta, b, p_shift, *, message) -> PowerFlowResult:
        if theta is None:
            v = np.full(cn.n_bus, np.nan + 0j)
            res = cls(cn, "dc", v, False, 0, np.nan, message)
            res._s_calc = np.full(cn.n_bus, np.nan + 0j)
            res._s_from = res._s_to = np.full(cn.n_branch, np.nan + 0j)
            res._inj_p = np.full(cn.inj_kind.size, np.nan)
            res._inj_q = np.full(cn.inj_kind.size, np.nan)
            res._s_shunt = np.full(cn.n_bus, np.nan + 0j)
            res.bus_type = cn.bus_type
            return res
        v = np.exp(1j * theta)
        v[cn.bus_type == NONE] = np.nan
        res = cls(cn, "dc", v, True, 0, 0.0, message)
        res.bus_type = cn.bus_type
        pf = (b * (theta[cn.br_f] - theta[cn.br_t]) + p_shift) * cn.sn_mva
        res._s_from = pf + 0j
        res._s_to = -pf + 0j
        p_net = bus_sum(cn.br_f, pf, cn.n_bus) - bus_sum(cn.br_t, pf, cn.n_bus)
        res._s_shunt = cn.ysh.real * cn.sn_mva + 0j
        p_calc = p_net + res._s_shunt.real  # injection needed at each bus
        res._s_calc = p_calc + 0j
        res._inj_p = slack_share(cn, p_calc)
        res._inj_q = np.zeros(cn.inj_kind.size)
        return res

    # -- arrays in compiled order (for analyses that work on many results) ---------------
    @property
    def branch_p_from_mw(self) -> np.ndarray:
        """Active power entering each compiled branch at its from end (MW)."""
        return self._s_from.real

    @property
    def injector_p_mw(self) -> np.ndarray:
        """Active output of each compiled injector (gen, sgen, ext_grid, hvdc ends), MW."""
        return self._inj_p

    # -- scalar summaries ---------------------------------------------------------------
    @property
    def losses_mw(self) -> float:
        """Active losses of all AC branches (MW)."""
        return float(np.nansum((self._s_from + self._s_to).real))

    def __repr__(self) -> str:
        state = "converged" if self.converged else f"NOT converged ({self.message})"
        return (
            f"<PowerFlowResult {self.kind.upper()} {state}, {self.iterations} iterations, "
            f"max mismatch {self.max_mismatch_mva:.3g} MVA>"
        )

    # -- tables -------------------------------------------------------------------------
    @cached_property
    def bus(self) -> pd.DataFrame:
        """Per bus: vm_pu, va_degree, p_mw, q_mvar (drawn: load + shunt - generation)."""
        cn = self.cn
        v = self.v.copy()
        dead = self.bus_type == NONE
        v[dead] = np.nan
        s = -self._s_calc + self._s_shunt
        s[dead] = complex(np.nan, np.nan)  # NaN + 0j would report 0 Mvar
        return pd.DataFrame(
            {
                "vm_pu": np.abs(v),
                "va_degree": np.rad2deg(np.angle(v)),
                "p_mw": s.real,
                "q_mvar": s.imag,
            },
            index=cn.bus_ids,
        )

    @cached_property
    def _branch_columns(self) -> dict[str, np.ndarray]:
        cn = self.cn
        sf, st = self._s_from, self._s_to
        vf, vt = self.v[cn.br_f], self.v[cn.br_t]
        with np.errstate(invalid="ignore", divide="ignore"):
            i_from = np.abs(sf) / (SQRT3 * np.abs(vf) * cn.vn_kv[cn.br_f])
            i_to = np.abs(st) / (SQRT3 * np.abs(vt) * cn.vn_kv[cn.br_t])
            loading = 100.0 * np.maximum(np.abs(sf), np.abs(st)) / cn.br_rate_mva
        return {
            "from_bus": cn.bus_ids.to_numpy()[cn.br_f],
            "to_bus": cn.bus_ids.to_numpy()[cn.br_t],
            "p_from_mw": sf.real,
            "q_from_mvar": sf.imag,
            "p_to_mw": st.real,
            "q_to_mvar": st.imag,
            "pl_mw": (sf + st).real,
            "ql_mvar": (sf + st).imag,
            "i_from_ka": i_from,
            "i_to_ka": i_to,
            "vm_from_pu": np.abs(vf),
            "va_from_degree": np.rad2deg(np.angle(vf)),
            "vm_to_pu": np.abs(vt),
            "va_to_degree": np.rad2deg(np.angle(vt)),
            "loading_percent": loading,
            "rate_mva": cn.br_rate_mva,
        }

    @cached_property
    def branch(self) -> pd.DataFrame:
        """Lines and transformers together, indexed by (element, id)."""
        cn = self.cn
        idx = pd.MultiIndex.from_arrays(
            [np.where(cn.br_kind == LINE, "line", "trafo"), cn.br_id], names=["element", "id"]
        )
        return pd.DataFrame(self._branch_columns, index=idx)

    @cached_property
    def line(self) -> pd.DataFrame:
        """Line results (pandapower's ``res_line`` columns, MVA-based loading)."""
        return self._branch_part("line", LINE, {})

    @cached_property
    def trafo(self) -> pd.DataFrame:
        """Transformer results with hv/lv names (pandapower's ``res_trafo`` columns)."""
        names = {
            "p_from_mw": "p_hv_mw",
            "q_from_mvar": "q_hv_mvar",
            "p_to_mw": "p_lv_mw",
            "q_to_mvar": "q_lv_mvar",
            "i_from_ka": "i_hv_ka",
            "i_to_ka": "i_lv_ka",
            "vm_from_pu": "vm_hv_pu",
            "va_from_degree": "va_hv_degree",
            "vm_to_pu": "vm_lv_pu",
            "va_to_degree": "va_lv_degree",
            "from_bus": "hv_bus",
            "to_bus": "lv_bus",
        }
        return self._branch_part("trafo", TRAFO, names)

    def _branch_part(self, name, kind, names) -> pd.DataFrame:
        m = self.cn.br_kind == kind
        cols = {names.get(k, k): v[m] for k, v in self._branch_columns.items()}
        return pd.DataFrame(cols, index=pd.Index(self.cn.br_id[m], name=name))

    def _injector_table(self, kind: int, with_v: bool = False) -> pd.DataFrame:
        cn = self.cn
        m = cn.inj_kind == kind
        data = {"p_mw": self._inj_p[m], "q_mvar": self._inj_q[m]}
        if with_v:
            vb = self.v[cn.inj_bus[m]]
            data["va_degree"] = np.rad2deg(np.angle(vb))
            data["vm_pu"] = np.abs(vb)
        frame = pd.DataFrame(data, index=pd.Index(cn.inj_id[m], name="id"))
        return frame

    @cached_property
    def gen(self) -> pd.DataFrame:
        """Generators: p_mw, q_mvar, va_degree, vm_pu (injected)."""
        return self._injector_table(GEN, with_v=True)

    @cached_property
    def sgen(self) -> pd.DataFrame:
        """Static generators: p_mw, q_mvar (injected)."""
        return self._injector_table(SGEN)

    @cached_property
    def ext_grid(self) -> pd.DataFrame:
        """External grids (slack sources): p_mw, q_mvar (injected)."""
        return self._injector_table(EXT_GRID)

    @cached_property
    def load(self) -> pd.DataFrame:
        """Loads: p_mw, q_mvar (drawn, constant power)."""
        cn = self.cn
        return pd.DataFrame(
            {"p_mw": cn.load_s.real, "q_mvar": cn.load_s.imag},
            index=pd.Index(cn.load_id, name="id"),
        )

    @cached_property
    def hvdc(self) -> pd.DataFrame:
        """HVDC links: p/q at both ends (drawn from the AC bus), losses, loading."""
        cn = self.cn
        fm = cn.inj_kind == HVDC_FROM
        tm = cn.inj_kind == HVDC_TO
        p_from, p_to = -self._inj_p[fm], -self._inj_p[tm]
        v = self.v
        with np.errstate(invalid="ignore", divide="ignore"):
            loading = 100.0 * np.abs(cn.hvdc_p) / cn.hvdc_rating
        return pd.DataFrame(
            {
                "from_bus": cn.bus_ids[cn.hvdc_from],
                "to_bus": cn.bus_ids[cn.hvdc_to],
                "p_from_mw": p_from,
                "q_from_mvar": -self._inj_q[fm],
                "p_to_mw": p_to,
                "q_to_mvar": -self._inj_q[tm],
                "pl_mw": p_from + p_to,
                "vm_from_pu": np.abs(v[cn.hvdc_from]),
                "vm_to_pu": np.abs(v[cn.hvdc_to]),
                "loading_percent": loading,
            },
            index=pd.Index(cn.hvdc_id, name="id"),
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """All non-empty result tables by name."""
        out = {}
        for name in ("bus", "line", "trafo", "gen", "sgen", "ext_grid", "load", "hvdc"):
            t = getattr(self, name)
            if len(t):
                out[name] = t
        return out

    def to_dict(self) -> dict:
        """JSON-ready summary and tables (records keyed by element id)."""
        out = {
            "kind": self.kind,
            "converged": self.converged,
            "iterations": self.iterations,
            "max_mismatch_mva": _finite_or_none(self.max_mismatch_mva),
            "message": self.message,
            "losses_mw": _finite_or_none(self.losses_mw),
            "q_limited_buses": [_jsonable(b) for b in self.q_limited_buses],
            "warnings": self.warnings,
        }
        for name, t in self.tables().items():
            out[name] = {
                str(_jsonable(i)): {k: _jsonable(v) for k, v in row.items()}
                for i, row in zip(t.index, t.to_dict("records"), strict=True)
            }
        return out

    def to_json(self, **kwargs) -> str:
        """:meth:`to_dict` as a JSON string (NaN written as null)."""
        return json.dumps(self.to_dict(), **kwargs)


def _finite_or_none(x):
    return float(x) if x is not None and np.isfinite(x) else None


def _jsonable(x):
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
