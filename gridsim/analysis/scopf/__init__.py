"""Security-constrained linear programs at an AC operating point (HiGHS through highspy).

Two problems share one linearisation, :class:`LinearisedGrid`:

* :func:`secure_base_case`: the least preventive redispatch (MW moved, optionally
  cost-weighted, the HVDC setpoints' moves priced as a unit's) that holds every N-0 and
  N-1 limit;
  where none does, the base case "cannot be secured" and the residual violations are
  listed;
* :func:`max_transfer`: the largest transfer ``t`` (source generators up and sink loads
  up by their shift keys) with the joining HVDC links free within their ratings and
  optional redispatch, subject to the same limits; with the shadow price of every
  binding limit.

Both are one successive-LP step: the caller re-solves the AC power flow at the LP's
solution, builds a new :class:`LinearisedGrid` there and solves again until the AC
solution holds every limit (:mod:`gridsim.analysis.ttc`).

The linear model
----------------
Variables ``u``: the transfer ``t`` (MW, >= 0), the setpoint change ``h_j`` of each free
HVDC link (``|p_j + h_j| <= max_p_mw``), and the redispatch of each redispatchable unit
split as ``r_g = r_g^+ - r_g^-`` (``r^+, r^- >= 0`` within ``min_p_mw``/``max_p_mw``).
A variable changes injections: a source unit ``g`` by ``share_g t``, a sink load by
``-share t``, a free link's ends by ``d_from h`` and ``d_to h`` (``d_from = -1``,
``d_to = 1 - loss_percent/100`` for forward flow; the losses on the sending end in
reverse, as :func:`gridsim.hvdc_ptdf`), a unit by ``r_g``. Each AC island's balance
holds without its slack: ``sum share_g t - sum share_l t + sum r_g + sum_(links) (+-h)
= 0`` per island (HVDC lossless in the balance; the slack takes converter and AC losses
only, as in :func:`gridsim.transfer_capability`). With ``redispatch_balance="zone"``
(:func:`max_transfer`'s default) the redispatch also nets to zero in each zone, so
that only the transfer changes the zones' net positions; in :func:`secure_base_case`
the moves of the links with an end in the zone count too (lossless), so that every
zone's net position is kept. A bound on a zone's redispatch
(``redispatch_limit_mw``) adds a column ``a_g >= 0`` per unit of the zone with
``a_g >= |m_g + r_g|`` (two rows; ``m_g`` the moves made before, in earlier
successive-LP steps) and the row ``sum_g a_g <= limit``; these rows, like the balance,
are never relaxed (the least-violation LP holds them too).

Flows: ``F(u) = F_AC + S u`` with ``S = PTDF @ (bus injection per variable)``, the PTDF
of :func:`gridsim.ptdf` (each island to its own slack), ``F_AC`` the AC active flows at
the from ends. Every thermal row is ``-L' <= F_l(u) <= L'`` with
``L' = L - (|S_l| - |P_l|)``: the row's limit less the reactive part of the branch's
loading at the operating point (``max(|S_from|, |S_to|) - |P_from|``, held constant), so
that at ``u = 0`` the row is exactly the AC loading check ``max |S| <= L``. With
:func:`max_transfer`'s ``thermal_tol``, a row over ``L'`` at ``u = 0`` by at most that
fraction of its rating is held at ``|F_l(0)|`` instead (the AC check's tolerance).

Holding the reactive part constant assumes that every MW through a branch adds the same
MVA whatever control causes it, which is not so (issue 17: 1 MW more through each of three
links into the same load adds 0.42, 0.43 and 0.47 MVA to the line feeding it). So a thermal row
loaded to ``MVA_LOADING`` (90 %) of its limit or more in AC at ``u = 0`` is held on its
MVA loading instead, ``S_AC + s u <= L``: ``S_AC = max(|S_from|, |S_to|)`` of the AC
solution and ``s`` its AC sensitivity there
(:func:`gridsim.analysis.ac_sensitivity.branch_mva_sensitivity`, ``dS/dP`` at each bus
with the slack taking it, and ``dS/dQ`` for the sink loads' reactive draw at constant
power factor) on the variables' bus injections. Intact rows use the operating point's
solution; N-1 rows the AC post-contingency solution of their outage where one is given
(``post_results``) and the outage is of a branch that cuts nothing off (the others keep
the rows above). Such a row is one-sided (``S >= 0``), is never dropped by the screen,
is held at ``S_AC`` within ``thermal_tol`` like the others; its ``flow_mw`` and
``limit_mw`` (:attr:`ScopfResult.binding`) are MVA and its shadow price is per MVA of limit
(so :meth:`ScopfResult.rating_prices` stays MW per MVA of rating).

Post-contingency flows, each linear in ``u`` (``w``: participation factors, below):

* losing a fraction ``a = c / k`` of branch ``k`` (``c`` of its ``k`` circuits):
  removing ``a b_k`` from ``B`` (Sherman-Morrison, the phase-shift term scaled with the
  branch) gives ``theta' = theta + a y F_k / (1 - a H_kk)`` with ``y = B^-1 (e_f - e_t)``,
  hence for ``l != k``::

      F'_l = F_l + LODF_a[l, k] F_k,   LODF_a[l, k] = a H_lk / (1 - a H_kk)

  and for what is left of ``k``: ``F'_k = (1 - a) F_k / (1 - a H_kk)``, i.e.
  ``LODF_a[k, k] = -a (1 - H_kk) / (1 - a H_kk)`` (``H_lk = PTDF[l, f_k] -
  PTDF[l, t_k]``; ``a = 1`` is :func:`gridsim.lodf`). The rest of ``k`` is rated
  ``(1 - a) L_k``. A partial outage never islands (``1 - a H_kk >= 1 - a > 0``);
* losing all of a bridge ``k`` (``|1 - H_kk| < 1e-9``): the part cut off every slack is
  de-energised (:mod:`gridsim.analysis.outages`), the flow ``F_k`` it drew stops at the
  kept end ``e`` of ``k`` and the kept island's units take the imbalance:
  ``F' = F + s F_k (PTDF[:, e] - PTDF w)`` (``s = +1`` when ``e = f_k``, ``-1`` when
  ``e = t_k``); links with an end cut off trip with it (their other end as an HVDC
  trip below); branches of the dead part are not monitored;
* an HVDC trip: each end's injection ``p_end(u)`` is lost and shared by its island's
  units: ``F' = F - p_from(u) (PTDF[:, f] - PTDF w_f) - p_to(u) (PTDF[:, t] - PTDF w_t)``;
* a unit trip: ``F' = F - p_g(u) (PTDF[:, g] - PTDF w^(-g))``, with ``p_g(u)`` the unit's
  output (``p_g + share_g t + r_g``: linear in the variables).

``PTDF w`` is the participation-weighted PTDF of the island (the tripped unit and a
cut-off part left out): the post-contingency response of
:func:`gridsim.analysis.outages.solve_outage`, whose participation factors
(``participation``, else ``max_p_mw``, else ``|p_mw|``; a slack by its own factor or
rating, an ``ext_grid`` by none) are used here; the response's clipping at the units'
limits is not modelled (linear). An island whose factors are all zero leaves the
imbalance to its slack. Constants: ``F_AC`` plugged in, or the AC post-contingency
flows where given (``post_results``), which makes the N-1 rows exact at the operating
point too.

Post-contingency thermal rows use ``emergency_rating_percent`` of ``rate_mva``.
Interface rows (flowgates): ``sum_m dir_m F_m(u) <= limit_mw`` over branches and HVDC
links (a link's flow is its setpoint ``p_mw + h``; a member out of service adds
nothing), base case only. Generation rows:
``min_p <= p_g(u) <= max_p`` for the units the transfer moves (a unit already outside
a limit may stay there, not go further).

Voltage rows (``grid.voltage_watch``: a bus intact or after an outage whose AC
solution here cuts nothing off): ``lo <= |V| + v u <= hi``, ``|V|`` of that solution
and ``v`` its AC sensitivity there
(:func:`gridsim.analysis.ac_sensitivity.bus_voltage_sensitivity`, ``d|V|/dP`` and
``d|V|/dQ`` of the sink loads as for the MVA rows) on the variables' bus injections; one
outside its limit by at most :func:`max_transfer`'s ``voltage_tol`` is held where it is.
:func:`gridsim.n1_ttc` watches the voltages its AC checks find broken.

Rows that cannot bind are dropped. A row ``|c + s u| <= L'`` is dropped when ``|c| +
sum_i |s_i| R_i <= L'`` with ``R_i = max(|lower_i|, |upper_i|)`` the largest magnitude
variable ``i`` can take (for ``t``: what the source units' limits, and ``max_mw``,
allow): no feasible ``u`` reaches the limit, so the LP's solution and duals do not
change. For post-contingency rows ``|s_i|`` is bounded by ``|S_li| + sum |a_l| |g_i|``
(a row's outage terms ``a g``), so rows are screened before they are formed. The rows
left (the candidates) enter the LP by row generation: the first LP holds the N-0,
interface and generation rows and the N-1 rows loaded to ``FIRST_LOADING`` (90 %) of
their limit at ``u = 0`` (the ``FIRST_ROWS`` most loaded of them); every candidate the
solution violates is added and the LP solved again, until none is. The last LP's
optimum holds every candidate, so it is the full LP's optimum, and its duals (0 on the
rows left out) are the full LP's.
Coefficients at or below ``COEF_TOL`` are dropped (HiGHS ignores them too).

Shadow prices
-------------
``shadow_price`` of a binding row is ``d(objective) / d(limit)``, MW per MW of the row's
limit ``L'`` (both of its sides relax together): for :func:`max_transfer` the MW of
``t`` gained per MW of limit (>= 0), from the row duals of the maximisation (HiGHS:
``row_dual = d objective / d bound``; the upper side gives ``+dual``, the lower side
``-dual``); for :func:`secure_base_case` the change of the redispatch objective (<= 0).
``limit_per_rating`` is ``d L' / d rate_mva`` (1 in the base case, the emergency factor,
times what is left of a partly lost branch, after an outage), so
:meth:`ScopfResult.rating_prices` gives MW of ``t`` per MVA of each element's rating.
The prices hold while the optimal basis does not change. :func:`max_transfer` first
maximises ``t`` (its duals are reported), then minimises the redispatch at that ``t``.

Layout
------
:mod:`~gridsim.analysis.scopf.grid` (the linearisation, :class:`Interface`),
:mod:`~gridsim.analysis.scopf.lp` (the LP: rows, screen, row generation, tolerances),
:mod:`~gridsim.analysis.scopf.result` (:class:`ScopfResult`, binding rows and prices),
:mod:`~gridsim.analysis.scopf.problems` (:func:`secure_base_case`, :func:`max_transfer`),
:mod:`~gridsim.analysis.scopf.joint` (:func:`~gridsim.analysis.scopf.joint.secure_for_transfer`:
both in one LP over the base case and the transfer state).
"""

from gridsim.analysis.scopf.grid import Interface, LinearisedGrid, ScopfError
from gridsim.analysis.scopf.problems import max_transfer, secure_base_case
from gridsim.analysis.scopf.result import ScopfResult

__all__ = [
    "Interface",
    "LinearisedGrid",
    "ScopfError",
    "ScopfResult",
    "max_transfer",
    "secure_base_case",
]
