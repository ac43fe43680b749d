"""MATPOWER version-2 case files: reader, writer and a text-level parser.

:func:`read_matpower` turns a ``.m`` case file (``function mpc = caseX`` with literal
``mpc.baseMVA``, ``mpc.bus``, ``mpc.gen`` and ``mpc.branch`` assignments) into a
:class:`~gridsim.model.network.Network` that solves to MATPOWER's ``runpf`` answer.
:func:`write_matpower` goes the other way, from a network or a PYPOWER-style ``ppc``
dict. :func:`parse_matpower` is the text layer under both: it reads the literal
assignments and returns the matrices as arrays, skipping fields it does not use
(``mpc.gencost`` and other matrices are returned, ``mpc.bus_name`` and other cell arrays
as lists of strings). It understands ``%`` comments, ``%{ ... %}`` blocks, ``...``
continuations, rows ended by ``;`` and/or newlines and values separated by blanks or
commas.

MATLAB code (26 of MATPOWER 8.1's own cases compute part of their data) is interpreted,
never run, as MATPOWER would run it, for the closed subset those files use: constant
expressions in matrices and scalars (``135/sqrt(3)``); from the first statement that is
not a literal assignment to the end of the file, ``[PQ, PV, ...] = idx_bus`` (likewise
``idx_gen``, ``idx_brch``: MATPOWER's 1-based column indices), assignments to local
variables, to ``mpc.<field>`` and to ``mpc.<field>(rows, cols)`` (``:``, numbers, names,
``[a b]`` rows or ``find`` results as subscripts), element-wise arithmetic
(``+ - * / ^ .* ./ .^``, ``*``, ``/`` and ``^`` with a scalar), ``&``, ``|``,
``sqrt``, ``sin``, ``cos``, ``acos``, ``isinf``, ``find``, ``if``/``end`` blocks,
comments and ``...`` continuations. Any other statement is an error that names its line.

Mapping (MATPOWER's semantics, as ``runpf`` applies them)
---------------------------------------------------------
Element ids:

* buses keep their MATPOWER bus numbers (``int``);
* ``gen``/``sgen`` ids and ``line``/``trafo`` ids are the 1-based **row numbers** of the
  row in ``mpc.gen`` and ``mpc.branch`` (so ``gen`` 3 is the third gen row, and the
  ``gen`` and ``sgen`` tables together hold each row number once; likewise ``line`` and
  ``trafo``);
* ``load`` and ``shunt`` ids are bus numbers (one per bus with non-zero ``PD``/``QD``,
  respectively ``GS``/``BS``; the shunt draws ``p_mw = GS``, ``q_mvar = -BS``).

Buses: ``vn_kv = BASE_KV`` (``BASE_KV <= 0``, or one whose impedance base
``BASE_KV^2 / baseMVA`` under- or overflows, becomes 1 kV, with a warning: it only sets
the base of the ohmic values, which are converted back to the same per-unit values);
``min_vm_pu``/``max_vm_pu`` from ``VMIN``/``VMAX``; ``area``/``zone`` are the area and
zone numbers as strings; type 4 (isolated) buses are out of service, and so are the
gens at them and the branches touching them. A bus's type is otherwise not stored:
gridsim derives it from the generators, exactly as MATPOWER's ``bustypes`` does
(a gen row at an isolated bus is kept as an out-of-service ``gen``). ``VM``/``VA`` are
kept as the bus columns ``vm_pu``/``va_degree``: a stored solution, the start of
``run_ac``'s default ``init="auto"`` (and of ``"case"``) as of MATPOWER's ``runpf``, not
a setpoint; :func:`write_matpower` writes them back as ``VM``/``VA`` where finite.

Generators: a gen row at a PV (2) or REF (3) bus becomes a voltage-controlling ``gen``
(``p_mw = PG``, ``vm_pu = VG``, reactive and active limits); a gen row at a PQ (1) bus
becomes an ``sgen`` with fixed ``p_mw = PG``, ``q_mvar = QG``, since MATPOWER treats it
as a fixed injection. ``GEN_STATUS <= 0`` means out of service. At each REF bus the
first in-service gen becomes the slack (``slack=True``, ``va_degree`` = the bus's
``VA``); if no REF bus has an in-service gen, the first PV bus (in file order) with an
in-service gen takes the role, as in ``bustypes`` (with a warning); with neither, the case
is refused, as ``runpf`` has no reference bus either. Several in-service
gens at one bus: MATPOWER uses the *last* one's ``VG``. gridsim does the same at PV
buses; at a REF bus it would prefer the slack's setpoint, so the slack gen's ``vm_pu``
is set to the last in-service gen's ``VG`` there (the other gens keep their own).
``QMAX``/``QMIN`` may be ``±Inf`` (no limit); infinite ``PMAX``/``PMIN`` become NaN.

Branches: ``TAP == 0`` and ``SHIFT == 0`` gives a ``line`` of 1 km (``parallel = 1``)
whose ohmic values reproduce ``BR_R``, ``BR_X``, ``BR_B`` on the from bus's base
(``z_base = BASE_KV(from)^2 / baseMVA``, the base that gridsim's compiler uses). Any
other branch is a ``trafo`` with the ideal tap on the from side (``hv_bus = F_BUS``,
``lv_bus = T_BUS``, whichever has the higher voltage) and the series impedance on the
to side, as MATPOWER models it: ``sn_mva = baseMVA``, ``vn_lv_kv = BASE_KV(to)``,
``vn_hv_kv = ratio * BASE_KV(from)`` with ``ratio = TAP`` (1 when ``TAP == 0``),
``shift_degree = SHIFT``, ``vk_percent = sign(BR_X) * hypot(BR_R, BR_X) * 100``,
``vkr_percent = BR_R * 100``, ``pfe_kw = 0``, ``i0_percent = -BR_B * 100`` (a capacitive
magnetising branch: with ``trafo_model = "pi"`` it puts ``BR_B / 2`` at each end, the
from half divided by ``|tap|^2`` like MATPOWER's ``Yff``) and no tap changer. A branch
with ``TAP == 0``, ``SHIFT == 0`` but ``BR_R < 0`` (allowed by MATPOWER, refused by
gridsim's line checks) becomes such a ``trafo`` of ratio 1 as well. ``RATE_A = 0``
(unrated) becomes NaN. ``BR_STATUS`` must be 0 or 1, and a branch whose ohmic or
percent values overflow is refused.

The network is built with ``sn_mva = baseMVA`` and ``trafo_model = "pi"``. Its compiled
bus admittance matrix equals MATPOWER's ``makeYbus`` (in-service buses in file order).

Known differences from MATPOWER: with several in-service gens at one PQ bus, gridsim
reports each ``sgen``'s own ``QG`` where MATPOWER's ``pfsoln`` re-shares the bus total
among them (totals agree); gens at PQ buses are not subject to Q-limit enforcement.
"""

from gridsim.io.matpower.parse import parse_matpower
from gridsim.io.matpower.read import read_matpower
from gridsim.io.matpower.write import write_matpower

__all__ = ["parse_matpower", "read_matpower", "write_matpower"]
