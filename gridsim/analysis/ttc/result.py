"""What :func:`~gridsim.analysis.ttc.n1_ttc` returns (:class:`TtcResult`) and raises for
bad input (:class:`TtcError`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from gridsim.analysis.cnec import CnecSelection
from gridsim.exceptions import GridsimError
from gridsim.model.network import Network


class TtcError(GridsimError, ValueError):
    """Bad input to :func:`n1_ttc` (unknown options, negative margins, a secured base case
    made from another network or with other options)."""


@dataclasses.dataclass
class TtcResult:
    """Outcome of :func:`n1_ttc`.

    Attributes
    ----------
    ttc_mw, atc_mw : float
        Total transfer capability (transfer added to the secured base case) and
        ``ttc_mw - trm_mw - committed_mw``; NaN where the base case cannot be secured.
    trm_mw, committed_mw : float
    status : str
        ``"optimal"``; ``"base case cannot be secured"``; either followed by
        ``" (insecure outages set aside)"`` when ``set_aside_insecure`` set some aside.
    message : str
        The outcome in words.
    binding : dict or None
        The LP's binding limit with the largest shadow price at the optimum: ``kind``,
        ``element``, ``id``, ``contingency``, ``shadow_price``.
    binding_rows : pandas.DataFrame
        Every binding row of the LP at the AC optimum (:attr:`ScopfResult.binding`), the
        thermal rows' ``shadow_price`` AC-corrected (package docstring) and the LP's dual
        in ``shadow_price_dc``.
    rating_prices : pandas.Series
        MW of TTC per MVA of each binding branch's ``rate_mva`` (AC-corrected).
    next_step : pandas.DataFrame
        The AC violations one step (``max(tol_mw, rel_tol ttc)``) beyond the TTC along
        the same direction (columns ``kind``, ``element``, ``id``, ``contingency``,
        ``value``, ``limit``, ``excess``).
    next_step_mw : float
        The transfer of that step.
    hvdc : pandas.DataFrame
        Per joining link: ``base_mw`` (secured base case), ``p_mw`` at the TTC,
        ``max_p_mw``.
    redispatch_mw, redispatch_zone
        Preventive redispatch of the transfer (per unit; per zone ``up_mw``,
        ``down_mw``, ``net_mw``), the transfer's own shift excluded.
    base_redispatch_mw, base_redispatch_zone, base_hvdc_change_mw
        What securing the base case moved (per unit, per zone, per link).
    base_voltage_change_pu : pandas.Series
        Per unit, the move of its voltage setpoint by the base case's preventive
        voltage control (p.u.; only the units moved).
    voltage_change_pu : pandas.Series
        Per unit, the move of its voltage setpoint at the TTC from the secured base
        case (the transfer's voltage control; p.u., only the units moved).
    base_shunt_step_change, shunt_step_change : pandas.Series
        Per switched shunt bank, the change of its steps in service by the base case's
        preventive voltage control, and at the TTC from the secured base case (only the
        banks switched).
    base_violations_removed : pandas.DataFrame
        The AC violations at zero transfer before securing.
    residual : pandas.DataFrame
        Where the base case cannot be secured: the AC violations left.
    outside_cnec : pandas.DataFrame
        With ``cnec_threshold``: the AC thermal violations of (branch, contingency) pairs
        that are not CNECs, not held, at the TTC (at the base case where the TTC is not
        defined); same columns as ``residual``. Empty without a CNEC selection.
    cnecs : CnecSelection or None
        With ``cnec_threshold``: the selection held.
    ordinary, exceptional : list of Outage
        The contingencies studied, the exceptional ones separately.
    set_aside : list of Outage
        Outages set aside (only with ``set_aside_insecure=True``).
    rounds, base_rounds, ac_checks : int
        Transfer LPs, base-case LPs, AC N-1 checks done.
    elapsed_s : float
    network : Network
        The dispatch at the TTC (the secured base case where the TTC is not defined).
    published : TtcResult or None
        With ``published_limits="both"`` and a network with published limits
        (``network.interfaces`` of kind ``ntc``): the same TTC with them held
        (:attr:`ttc_published_mw`), beside this physical one.
    base_exchange_change_mw : float
        MW the secured base case sends from the source's AC island to the sink's over
        the joining HVDC links beyond the network's own setpoints (the securing's moves
        of those links, each signed from the source's side; 0 where source and sink
        share an island, NaN where the base case cannot be secured). The exchange at the
        TTC exceeds the network's by this and ``ttc_mw`` (TTC = BCE + dE):
        :attr:`total_change_mw`.
    started_from : str
        The secured base case the TTC starts from: ``"physical"`` (secured with the
        physical limits), or ``"published"`` (the one secured with the published limits
        held too, which also holds the physical ones: with ``published_limits="both"``
        the physical TTC is searched from both and the larger :attr:`total_change_mw`
        kept, so that relaxing the published limits never lowers the export), or
        ``"joint"`` (the base case whose redispatch was chosen with the transfer, with
        ``joint_base``: searched where the two-state LP lets more through, and kept
        where its total is larger).
    secured_network : Network or None
        The secured base case's dispatch the transfer started from.
    """

    ttc_mw: float
    atc_mw: float
    trm_mw: float
    committed_mw: float
    status: str
    message: str
    binding: dict | None
    binding_rows: pd.DataFrame
    rating_prices: pd.Series
    next_step: pd.DataFrame
    next_step_mw: float
    hvdc: pd.DataFrame
    redispatch_mw: pd.Series
    redispatch_zone: pd.DataFrame
    base_redispatch_mw: pd.Series
    base_redispatch_zone: pd.DataFrame
    base_hvdc_change_mw: pd.Series
    base_violations_removed: pd.DataFrame
    residual: pd.DataFrame
    outside_cnec: pd.DataFrame
    cnecs: CnecSelection | None
    ordinary: list
    exceptional: list
    set_aside: list
    rounds: int
    base_rounds: int
    ac_checks: int
    elapsed_s: float
    network: Network = dataclasses.field(repr=False)
    options: dict = dataclasses.field(repr=False, default_factory=dict)
    published: TtcResult | None = None
    base_voltage_change_pu: pd.Series = dataclasses.field(
        default_factory=lambda: pd.Series(dtype=float, name="change_pu")
    )
    voltage_change_pu: pd.Series = dataclasses.field(
        default_factory=lambda: pd.Series(dtype=float, name="change_pu")
    )
    base_shunt_step_change: pd.Series = dataclasses.field(
        default_factory=lambda: pd.Series(dtype=float, name="change_steps")
    )
    shunt_step_change: pd.Series = dataclasses.field(
        default_factory=lambda: pd.Series(dtype=float, name="change_steps")
    )
    base_exchange_change_mw: float = np.nan
    started_from: str = "physical"
    secured_network: Network | None = dataclasses.field(repr=False, default=None)
    # with joint_base: the base case the two-state LP proposes and what it gains (MW)
    _proposal: tuple = dataclasses.field(repr=False, default=(None, 0.0))

    @property
    def defined(self) -> bool:
        return bool(np.isfinite(self.ttc_mw))

    @property
    def ttc_published_mw(self) -> float:
        """The TTC within the published limits (the network's ``ntc`` interfaces) beside
        the physical :attr:`ttc_mw`; NaN where none were studied."""
        return self.published.ttc_mw if self.published is not None else np.nan

    @property
    def total_change_mw(self) -> float:
        """The exchange from the source's island to the sink's at the TTC beyond the
        network's own setpoints: :attr:`base_exchange_change_mw` + :attr:`ttc_mw` (NaN
        where the TTC is not defined)."""
        return self.base_exchange_change_mw + self.ttc_mw
