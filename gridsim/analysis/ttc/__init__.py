"""N-1 transfer capability as successive security-constrained LPs verified in AC.

The method a planner signs (issue 17, items 3 and 4), in two phases:

1. **Base case first.** At zero transfer the AC power flow and the AC post-contingency
   state of every studied outage are solved
   (:func:`gridsim.analysis.outages.solve_outage`, with the participation response; an
   islanding outage is solved and its lost load counts as a violation above
   ``max_lost_mw``). Where a limit is broken, the least preventive redispatch
   (:func:`gridsim.analysis.scopf.secure_base_case`, HVDC setpoint moves priced as a
   unit's) is found on a :class:`~gridsim.analysis.scopf.LinearisedGrid` built at the AC
   point with the AC post-contingency results as the N-1 constants, applied, and the AC
   N-1 check repeated, until the base case holds every limit or ``max_rounds`` rounds are
   spent. If it cannot be secured, the TTC is not defined (NaN): the status says
   ``"base case cannot be secured"`` and the residual violations are listed. Setting the
   offending outages aside is only done with ``set_aside_insecure=True``, and then the
   status, the message and :attr:`TtcResult.set_aside` say so. The redispatch balances
   each synchronous area, or keeps each zone's net position
   (``base_redispatch_balance="zone"``), within a bound per zone where
   ``base_redispatch_limit_percent`` is given (the moves of every round counted).
   The AC checks between the rounds are screened as the transfer's (below): the first
   and the last are complete, and a round whose screened check holds is checked against
   every outage before it counts as secure. Where what is left are voltages only (or
   voltages and outages that do not solve), a round moves the units' voltage setpoints
   and switched shunt banks' steps least instead
   (:func:`gridsim.analysis.ttc.voltage.voltage_round`, ``voltage_control``), kept where
   its AC check leaves only what the rounds handle and fewer outages unsolved.
   Where a round's dispatch does not converge
   in AC (the DC LP can move more over a weak tie than AC carries), its move from the
   last converged dispatch is halved, up to ``DAMPING_STEPS`` times, and the rounds go
   on from the first that converges; where none does, the base case is not secured and
   the message says so (iterations and largest mismatch).
2. **Transfer.** From the secured point, :func:`gridsim.analysis.scopf.max_transfer`
   maximises the transfer ``t`` (source units up and sink loads up by their shift keys)
   with the joining HVDC links free and optional preventive redispatch inside
   ``redispatch_areas``; its solution is applied and checked in AC (N-0 and N-1:
   thermal at the emergency rating after an outage, voltage limits, unit and converter
   limits, interfaces). Where the AC check holds, or fails on a limit the LP models
   (thermal, interface, unit, converter), the grid is re-linearised at the new AC point
   and the LP solved again; this stops when the LP moves ``t`` by less than the search
   tolerance ``max(tol_mw, rel_tol t)``. Without ``voltage_rows``, where it fails on
   voltages only, the units' voltage setpoints are moved least to hold them
   (``voltage_control``) and the moved point checked again (with the rows they move
   only where a voltage row stops the LP, below: a least move at a failing point can
   load a branch's MVA so that the transfer settles lower than with the setpoints
   held, 8.2 against 11.1 MW on a test case). Where the AC check fails on a limit the LP does
   not model (voltage, a diverged or islanding outage), or the rounds run out, ``t`` is
   bisected between the last AC-secure point and the failing one along that direction
   (same HVDC split, redispatch and voltage setpoint moves per MW). With
   ``voltage_rows`` (default), the voltages broken
   at the failing points (intact or after a line or transformer outage) then become
   rows of every later LP of the search (``|V| + v u`` within the bus's limits, ``v``
   the AC sensitivity at that state's solution,
   :func:`~gridsim.analysis.ac_sensitivity.bus_voltage_sensitivity`; one outside its
   limit within ``VOLTAGE_TOL_PU`` held where it is) and the LP rounds go on from the
   bisected point: the LP turns the HVDC split and the redispatch away from the
   voltage instead of the search stopping on the first direction that met it; a
   voltage broken that is already a row is handled as a thermal row is (the grid
   re-linearised at the failing point). The LPs move active power only, so a voltage
   row holds a voltage where it is even where a unit's setpoint would lift it: where
   the LP stands still at an AC-secure point with a voltage row binding, the voltage
   control (``voltage_control``) is asked to hold that voltage ``ROOM_PU`` (0.03 p.u.)
   inside its limit (:func:`~gridsim.analysis.ttc.voltage.voltage_round` on the
   binding rows' states), and where the moved point holds in AC the LP rounds go on
   from it (up to ``MAX_ROOMS``, 6, times a search). Last, a step of
   ``max(tol_mw, rel_tol t)`` more along the same direction is checked in AC: it must
   break a limit
   (:attr:`TtcResult.next_step`); where it does not, the search goes on along that
   direction, and after ``STEPS_BEYOND`` (8) such steps that all hold (the voltage
   control that held the first gave room) the LP rounds go on from there (up to
   ``RESTARTS``, 3, times). So the reported TTC holds every limit in AC (within ``THERMAL_TOL`` of a
   thermal limit and ``VOLTAGE_TOL_PU`` of a voltage limit).

   The AC checks on the way are screened: the base case's are complete, but at a
   transfer point only the outages that may come near a limit are solved in AC. Each
   outage is predicted from its last AC solution: its post-contingency flows moved by
   the change of the AC base-case flows since and by its LODF and response terms on
   that change, its voltages by the change of the base-case voltages. An outage is
   solved where the predicted loading plus ``SCREEN_ERROR`` (30 %) of the predicted
   change reaches ``SCREEN_LOADING`` (98 %) of its limit, or the predicted voltage less
   30 % of its change comes within ``SCREEN_VOLTAGE_PU`` (0.002 p.u.) of a limit; those
   never solved, that diverged, islanded or cut load off are always solved, and so are
   those that broke a limit (by any excess) at an earlier check of the same search or
   of the base case it started from (the prediction of a post-contingency voltage from
   the base-case voltages' change falls short near a collapse). The others'
   predicted flows are the next LP's N-1 constants. The TTC found is then checked
   against every outage; where ones passed over break a limit there, the screened
   search runs again with them solved at every check (up to ``SCREEN_RETRIES``, 2,
   times), and then, where that still misses one, with complete checks. The compiled
   post-contingency networks of HVDC and islanding outages are kept between checks
   (:func:`~gridsim.analysis.outages.solve_outage`'s ``reuse``), and the AC results of
   the first and the last dispatch checked serve the published-limits TTC and the
   outages set aside.

With ``cnec_threshold``, thermal limits are held only on the CNECs
(:func:`gridsim.analysis.cnec.select_cnecs`, selected once per base case) in both
phases: in the LPs' rows and in the AC checks, whose thermal violations of other pairs
are kept apart (:attr:`TtcResult.outside_cnec`, counted in the message), never dropped.
Voltage limits, diverged and islanding outages are checked everywhere.

The base case does not depend on the sink or the route: :func:`secured_base` makes it
once (a :class:`SecuredBase`, with the AC checks' state it ends with), and every
``n1_ttc(..., base=...)`` with the same network and base-case options starts its transfer
from a copy of that state, with the same result as securing it again. A variant of a
network starts from its parent's: ``secured_base(variant, start=parent_base)`` checks the
parent's secured dispatch mapped onto the variant and goes on with LP rounds only where
it breaks a limit. The start may have been secured with other limits (``START_FREE``: the
emergency rating, the interfaces), so a what-if on a limit compares the limits from one
base case, as a reinforcement does, and not two least securing redispatches: these are
not unique, and which one the LP picks can decide the TTC (the corridor's 2032 summer
peak, AZ->EU, export beyond the schedule: 142.6 MW as it is; at a 110 % emergency rating
627.8 MW from that base case, -0.7 MW from the 110 % case's own least securing, which
moves 625 MW instead of 1,274 MW and leaves the units where the transfer stops early).

With ``joint_base``, after the search one LP over both states
(:func:`gridsim.analysis.scopf.joint.secure_for_transfer`) rearranges the secured base
case's moves for the transfer: the base case and the transfer state each hold every row,
the units move by the same amounts in both, each zone within the volume securing moved
there (or within ``base_redispatch_limit_percent``), the base case's export not above
the schedule (or the least securing's, where that is more); its export at the transfer state is
maximised, then the moves from the secured base case minimised. Where it gains more than
the search tolerance, the base case it proposes is secured in AC (:mod:`~.joint`) and the
transfer searched from it too; the larger total is kept (:attr:`TtcResult.started_from`
``"joint"``). It is off by default: it uses redispatch to raise the transfer, which
ENTSO-E's capacity calculation does not, and its budget is the least securing's volume,
so it does not make the TTC monotonic in the limits either (the same case: 431.5 MW as it
is, 259.8 MW at 110 % on its own securing); it measures how much the answer depends on
the securing redispatch chosen.

The transfer LPs hold a thermal row that the AC check accepts (over its limit by at most
``THERMAL_TOL`` at the operating point) at its flow there (``max_transfer``'s
``thermal_tol``): the LP is then feasible, not degenerate, where the AC check holds, and
at a TTC of 0 it names the row that stops the transfer, with its price. The step beyond
a TTC of 0 goes along the last LP's direction, or along the shift keys alone (links and
units held) where that LP does not move.

With published limits (``ntc`` interfaces) the base case is secured twice, without and
with them, and the TTC within them searched from the second. Each securing is the least
redispatch for its own limits, so the two are not nested, and the physical TTC can reach
a larger exchange from the second base case (which holds the physical limits too): it is
searched from both and the larger total kept (:attr:`TtcResult.started_from`), so that
relaxing a published limit never lowers the physical answer. The totals compared are
the exchange beyond the network's own setpoints, ``base_exchange_change_mw + ttc_mw``
(ENTSO-E's TTC = BCE + ΔE: the base case's moves of the joining links, signed from the
source's side, and the transfer).

``ttc_mw`` is the transfer added to the secured base case; ``atc_mw = ttc_mw - trm_mw -
committed_mw``. The shadow prices (MW of TTC per MW of each binding row's limit;
:attr:`TtcResult.rating_prices` per MVA of an element's rating) are those of the LP
re-linearised at the AC optimum, AC-corrected: the DC sensitivities can be 20 % off the
AC flow's response, so for each line or transformer with a priced thermal row the LP is
solved again with its rating raised by ``PRICE_STEP`` (1 %), both solutions are applied
in AC, and the dual is scaled by (limit change) / (AC loading change of the row) along
that change of dispatch: the rating raise the TTC actually follows. The LP's own dual
stays in ``shadow_price_dc``. :func:`verify_shadow_price` re-solves the whole TTC with
one rating raised.

Layout: :mod:`~gridsim.analysis.ttc.method` (:func:`n1_ttc`, :func:`verify_shadow_price`),
:mod:`~gridsim.analysis.ttc.base` (phase 1: :func:`secured_base`, :class:`SecuredBase`),
:mod:`~gridsim.analysis.ttc.search` (phase 2), :mod:`~gridsim.analysis.ttc.prices` (the
AC-corrected shadow prices), :mod:`~gridsim.analysis.ttc.check` (the AC N-1 check, its
screen and tolerances), :mod:`~gridsim.analysis.ttc.dispatch` (dispatch arithmetic),
:mod:`~gridsim.analysis.ttc.joint` (the base case chosen with the transfer),
:mod:`~gridsim.analysis.ttc.result` (:class:`TtcResult`, :class:`TtcError`),
:mod:`~gridsim.analysis.ttc.voltage` (the base case's preventive voltage control). The
constants (``THERMAL_TOL``, ``DAMPING_STEPS``, ...) are re-exported here; each is read
from the module that defines it.
"""

from gridsim.analysis.ttc.base import (
    BASE_OPTIONS,
    DAMPING_STEPS,
    DEFAULT_MAX_LOST_MW,
    START_FREE,
    SecuredBase,
    network_fingerprint,
    secured_base,
)
from gridsim.analysis.ttc.check import (
    BASE_MAX_ITER,
    SCREEN_ERROR,
    SCREEN_LOADING,
    SCREEN_VOLTAGE_PU,
    SETPOINT_TOL_MW,
    THERMAL_TOL,
    VIOLATION_COLUMNS,
    VOLTAGE_TOL_PU,
)
from gridsim.analysis.ttc.method import n1_ttc, verify_shadow_price
from gridsim.analysis.ttc.prices import PRICE_STEP
from gridsim.analysis.ttc.result import TtcError, TtcResult

__all__ = [
    "SecuredBase",
    "TtcError",
    "TtcResult",
    "n1_ttc",
    "network_fingerprint",
    "secured_base",
    "verify_shadow_price",
    # the method's constants (each read from the module that defines it)
    "BASE_MAX_ITER",
    "BASE_OPTIONS",
    "DAMPING_STEPS",
    "DEFAULT_MAX_LOST_MW",
    "PRICE_STEP",
    "SCREEN_ERROR",
    "SCREEN_LOADING",
    "SCREEN_VOLTAGE_PU",
    "SETPOINT_TOL_MW",
    "START_FREE",
    "THERMAL_TOL",
    "VIOLATION_COLUMNS",
    "VOLTAGE_TOL_PU",
]
