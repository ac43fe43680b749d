"""AC and DC power flow on a network: the orchestration above the solvers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gridsim.analysis.qlimits import (
    _NO_BUS,
    _apply_q_limits,
    _LimitState,
    _loads_at,
    _release,
    _warm_limits,
)
from gridsim.exceptions import GridsimError
from gridsim.model.compile import NONE, PQ, PV, REF, CompiledNetwork
from gridsim.numerics.dc import bbus_values, dc_branch_parameters
from gridsim.numerics.sums import bus_sum
from gridsim.results import PowerFlowResult
from gridsim.solvers.dc import dc_pf
from gridsim.solvers.linear import ScipyLU, SingularMatrixError
from gridsim.solvers.newton import newton_solver, setpoint_start, stall_message
from gridsim.solvers.sparse_lu import NumbaLU

INITS = ("auto", "flat", "dc", "case")
#: Bus columns that hold a case's stored voltages (MATPOWER's VM and VA), the "case" start
CASE_VOLTAGE = ("vm_pu", "va_degree")
_START_NAMES = {"flat": "flat", "dc": "DC", "case": "case"}
Q_LIMIT_RULES = ("pandapower", "matpower")
LINEAR_SOLVERS = {"numba": NumbaLU, "scipy": ScipyLU}


def compiled(network) -> CompiledNetwork:
    """The compiled arrays of a Network (cached on it), or a CompiledNetwork as it is.

    A Network's stored bus voltages (:data:`CASE_VOLTAGE`, the ``"case"`` start) are
    cached with its arrays, so later solves on the CompiledNetwork find them too.
    """
    if isinstance(network, CompiledNetwork):
        return network
    cn = network.compile()
    if "case-voltage" not in cn._cache:
        cn._cache["case-voltage"] = _stored_voltage(network, cn)
    return cn


def run_ac(
    network,
    *,
    tol_mva: float = 1e-8,
    max_iter: int = 30,
    enforce_q_limits: bool = False,
    init: str | np.ndarray | PowerFlowResult = "auto",
    linear_solver: str = "numba",
    q_limit_rule: str | None = None,
    q_start: PowerFlowResult | None = None,
) -> PowerFlowResult:
    """Solve the AC power flow by Newton-Raphson.

    Parameters
    ----------
    network : Network or CompiledNetwork
        The network; its compiled arrays are cached and reused.
    tol_mva : float
        Convergence when the largest bus active or reactive mismatch is below this, in MVA.
        Below what double precision resolves on the network (the rounding of ``V
        conj(Ybus V)``, about ``eps`` times the admittance at a bus: up to 1e-8 MVA on
        GBnetwork) the mismatch stops falling; the solve then ends unconverged with the
        message "stalled at X MVA, the floor of double precision for this case" instead
        of at ``max_iter`` (reactive-limit rounds still go on from that state).
    max_iter : int
        Newton iterations allowed (per Q-limit round when ``enforce_q_limits``).
    enforce_q_limits : bool or {0, 1, 2}
        Turn voltage-controlling generators and converter ends whose reactive output
        leaves its limits into fixed-Q injections at the limit (their bus becomes PQ),
        and solve again until none does. ``True`` or 1 fixes every violation found after
        a solve at once, 2 only the largest one per round (as MATPOWER's
        ``ENFORCE_Q_LIMS`` 1 and 2). See ``q_limit_rule`` for the slack.
    init : {"auto", "flat", "dc", "case"}, complex ndarray or PowerFlowResult
        Start. ``"flat"``: |V| = 1, angles = the island's slack angle. ``"dc"``: angles
        of the DC power flow, |V| = 1. ``"case"``: the voltages stored with the network
        (MATPOWER's ``VM``/``VA``, the bus columns :data:`CASE_VOLTAGE`; an error where
        it has none). Or given complex bus voltages, or an earlier result's. Every
        start has the magnitudes of PV and slack buses set to their setpoints (angles
        kept), as MATPOWER and pandapower do: they are not unknowns.
        ``"auto"`` (default) picks the start MATPOWER and pandapower users expect: the
        stored voltages where the network has them (what MATPOWER's ``runpf`` starts
        from), else DC angles where a transformer shifts the phase or an HVDC link
        joins two AC islands (a flat start can diverge there; pandapower's ``"auto"``
        takes DC angles whenever angles are computed), else flat. When the solve from
        that start does not converge, ``"auto"`` tries the other starts in the order
        flat, DC, case before reporting non-convergence; ``message`` then names the
        start that converged (or each start's failure) and ``iterations`` counts the
        iterations of every start tried. A start given by name, as an array or as a
        result is solved from alone.
    q_limit_rule : {"pandapower", "matpower"}, optional
        ``"pandapower"``: slack elements are never limited and any excess counts.
        ``"matpower"``: the slack is limited too; its bus becomes PQ with its active
        output frozen, the island's first PV bus (in bus order) takes over as reference,
        and the angles are turned back afterwards so the original slack keeps its angle;
        excesses below 5e-6 Mvar are ignored (MATPOWER's ``opf.violation``). Default:
        the network's ``q_limit_rule`` (``"matpower"`` for networks read from .m files).
    linear_solver : {"numba", "scipy"}
        Sparse LU for the Newton steps: gridsim's Numba LU on the fixed Jacobian pattern
        (default; falls back to SuperLU by itself if a pivot is too small) or scipy's
        SuperLU.
    q_start : PowerFlowResult, optional
        With ``enforce_q_limits``: an earlier AC solution of this network or of a
        variant with the same injectors (a post-contingency network of the base case
        solved there, injectors matched by kind and id). Its voltage controllers held at
        a reactive limit start held, as a unit's limiter stays on after a disturbance,
        instead of being found again round by round; a held bus whose voltage then moves
        to the side of its setpoint where its controllers regain control (above it at
        the upper limit, below it at the lower) is released once and solved again (one
        already on that side in ``q_start``, where fixing several controllers at once
        left it, once it moves :data:`PINNED_MARGIN_PU` further). Where the solve with
        controllers held does not converge (it starts nearer a voltage collapse than
        one with every controller free), it is solved again without ``q_start``, and
        ``iterations`` counts both. Not carried where that solution had a slack at a
        limit (``q_limit_rule="matpower"``).

    Returns
    -------
    PowerFlowResult
        With ``converged``, ``iterations``, ``max_mismatch_mva`` and result tables. A
        solve that does not converge is returned with ``converged=False`` and the
        reason in ``message``; it is not raised.
    """
    cn = compiled(network)
    q_mode = int(enforce_q_limits)
    if q_mode not in (0, 1, 2):
        raise GridsimError(
            f"enforce_q_limits must be False, True, 1 or 2, got {enforce_q_limits!r}"
        )
    if linear_solver not in LINEAR_SOLVERS:
        raise GridsimError(
            f"linear_solver must be one of {sorted(LINEAR_SOLVERS)}, got {linear_solver!r}"
        )
    rule = q_limit_rule or getattr(network, "q_limit_rule", None) or "pandapower"
    if rule not in Q_LIMIT_RULES:
        raise GridsimError(f"q_limit_rule must be one of {Q_LIMIT_RULES}, got {rule!r}")
    if not (tol_mva > 0):
        raise GridsimError(f"tol_mva must be positive, got {tol_mva!r}")
    tol = tol_mva / cn.sn_mva
    args = (cn, init, tol, max_iter, linear_solver, q_mode, rule)
    state, res, limited, message, total_it, note, warm = _solve_limited(*args, q_start)
    if warm and not (res.converged and not message):
        # held from the start, the solve can fail where finding the limits round by
        # round (from every controller free) holds: solved again that way
        state, res, limited, message, cold_it, note, _ = _solve_limited(*args, None)
        total_it += cold_it
    v = res.v
    converged = res.converged and not message
    if res.stalled and not message:  # a solution as far as double precision resolves it
        sbus = _sbus(cn, state)
        message = stall_message(cn, state.bus_type, cn.ydata, v, sbus, res.max_mismatch)
        v = state.restore_angles(v)
    elif converged:
        v = state.restore_angles(v)
    message = message or res.message
    if note:  # the start solved from, after others failed
        message = f"converged {note}" if converged else f"{message}; {note}"
    return PowerFlowResult.from_ac(
        _loads_at(cn, v),
        v,
        state,
        converged=converged,
        iterations=total_it,
        max_mismatch_mva=res.max_mismatch * cn.sn_mva,
        message=message,
        q_limited=np.asarray(limited, dtype=np.int64),
    )


def _solve_limited(cn, init, tol, max_iter, linear_solver, q_mode, rule, q_start):
    """The Newton solve from ``init`` and, with ``q_mode``, the reactive-limit rounds
    (from ``q_start``'s held controllers, :func:`_warm_limits`, where given).

    Returns ``(state, result, limited buses, message, iterations, note, warm)``;
    ``warm``: controllers were held from ``q_start``."""
    state = _LimitState(cn)
    held, threshold = _NO_BUS, np.zeros(0)
    if q_mode and q_start is not None:
        held, threshold = _warm_limits(cn, state, q_start)
    warm = held.size > 0
    res, total_it, note = _solve_from_starts(cn, state, init, tol, max_iter, linear_solver)
    v = res.v
    limited: list[int] = []
    message = ""
    while (res.converged or res.stalled) and q_mode:  # a stall is as close as it gets
        newly, message = _apply_q_limits(cn, v, state, q_mode == 2, rule == "matpower")
        if newly.size == 0 and held.size:
            back = _release(cn, v, state, held, threshold)
            if back.any():
                released = held[back]
                held, threshold = held[~back], threshold[~back]
                v = v.copy()  # the released buses at their setpoints again
                v[released] = cn.vm_set[released] * np.exp(1j * np.angle(v[released]))
                res = _newton(cn, state, v, tol, max_iter, linear_solver)
                total_it += res.iterations
                v = res.v
                continue
        if newly.size == 0:
            break
        limited.extend(newly.tolist())
        res = _newton(cn, state, v, tol, max_iter, linear_solver)
        total_it += res.iterations
        v = res.v
    held = held[state.bus_type[held] == PQ] if held.size else held
    return state, res, held.tolist() + limited, message, total_it, note, warm


def _newton(cn: CompiledNetwork, state: _LimitState, v0, tol, max_iter, linear_solver, polar=None):
    types_key = ("newton-types", linear_solver, state.bus_type.tobytes())
    solver = cn._cache.get(types_key)
    if solver is None:
        solver = cn._cache[types_key] = newton_solver(cn, state.bus_type, linear_solver)
    return solver.solve(
        cn.ydata,
        _sbus(cn, state),
        v0,
        tol=tol,
        max_iter=max_iter,
        polar=polar,
        vdep=cn.voltage_dependence(),
    )


def _sbus(cn: CompiledNetwork, state: _LimitState) -> np.ndarray:
    """The scheduled injections under ``state`` (the cached ones while no limit applies)."""
    if not state.changed and state.bus_type is cn.bus_type:
        return cn.scheduled_sbus()
    return cn.sbus(state.bus_type, state.q_fixed, state.p_fixed)


def _solve_from_starts(cn: CompiledNetwork, state, init, tol, max_iter, linear_solver):
    """The first Newton solve (before any reactive limit): from ``init``, or with
    ``"auto"`` from each of :func:`_auto_starts` in turn until one converges (or stalls
    at the floor of double precision, which no other start lowers).

    Returns the solve, the iterations of every start tried and a note for the result's
    message: the start solved from and those that failed (empty when the first start
    converged or ``init`` was not ``"auto"``).
    """
    starts = _auto_starts(cn) if isinstance(init, str) and init == "auto" else [init]
    total_it, failed, first = 0, [], None
    for start in starts:
        try:
            v0, polar = _start(cn, start)
        except SingularMatrixError as exc:  # no DC start: its B matrix is singular
            if len(starts) == 1:
                raise
            failed.append((start, f"singular B matrix: {exc}"))
            continue
        res = _newton(cn, state, v0, tol, max_iter, linear_solver, polar)
        total_it += res.iterations
        if res.converged or res.stalled:
            break
        failed.append((start, res.message))
        if first is None:
            first = res
    if len(starts) == 1 or not failed:
        return res, total_it, ""
    tried = " and ".join(f"the {_START_NAMES[s]} start ({why})" for s, why in failed)
    if res.converged or res.stalled:
        return res, total_it, f"from the {_START_NAMES[start]} start; {tried} did not converge"
    return replace(first, message=f"no start converged: {tried}"), total_it, ""


def _auto_starts(cn: CompiledNetwork) -> tuple[str, ...]:
    """The starts ``init="auto"`` tries, in order: the network's stored voltages where
    it has them, else DC angles where a transformer shifts the phase or an HVDC link
    joins two AC islands, else flat; then the others in the order flat, DC, case
    (cached)."""
    case = cn._cache.get("case-voltage")
    deps = (case, cn.br_tap, cn.island, cn.hvdc_from, cn.hvdc_to)
    return cn.memo("auto-starts", deps, lambda: _pick_starts(cn, case is not None))


def _pick_starts(cn: CompiledNetwork, has_case: bool) -> tuple[str, ...]:
    if has_case:
        first = "case"
    elif np.any(cn.br_tap.imag != 0.0) or np.any(cn.island[cn.hvdc_from] != cn.island[cn.hvdc_to]):
        first = "dc"
    else:
        first = "flat"
    others = [s for s in ("flat", "dc", "case") if s != first and (s != "case" or has_case)]
    return (first, *others)


def _stored_voltage(network, cn: CompiledNetwork) -> np.ndarray | None:
    """The complex bus voltages stored with ``network`` (bus columns
    :data:`CASE_VOLTAGE`) in ``cn``'s bus order, or None where it has none (the columns
    absent, or not finite at some energised bus)."""
    bus = network.columns("bus")
    vm_col, va_col = CASE_VOLTAGE
    if vm_col not in bus.cols or va_col not in bus.cols:
        return None
    rows = bus.index.get_indexer(cn.bus_ids)
    try:
        vm = np.asarray(bus[vm_col], dtype=float)[rows]
        va = np.deg2rad(np.asarray(bus[va_col], dtype=float)[rows])
    except (TypeError, ValueError):
        return None
    on = cn.bus_type != NONE
    if not (np.isfinite(vm[on]).all() and np.isfinite(va[on]).all()):
        return None
    v = vm * np.exp(1j * va)
    v[~on] = 0.0
    return v


def _initial_voltage(cn: CompiledNetwork, init) -> np.ndarray:
    """The start ``init`` as complex bus voltages (a new array)."""
    v, polar = _start(cn, init)
    return v if polar is None else v.copy()


def _start(cn: CompiledNetwork, init) -> tuple[np.ndarray, tuple | None]:
    """The start ``init`` as complex bus voltages, and for the named starts (cached,
    read-only: the solvers copy them) their angles and magnitudes as
    :meth:`~gridsim.solvers.newton.NewtonSolver.solve` takes them (else None)."""
    if isinstance(init, PowerFlowResult):
        init = init.v
    if isinstance(init, np.ndarray):
        if init.shape != (cn.n_bus,):
            raise GridsimError(f"init has {init.shape} values; the network has {cn.n_bus} buses")
        return setpoint_start(cn, init), None
    if not isinstance(init, str) or init not in INITS:
        raise GridsimError(f"init must be one of {INITS}, an array or a result; got {init!r}")
    if init == "auto":
        init = _auto_starts(cn)[0]
    if init == "case":
        v = cn._cache.get("case-voltage")
        if v is None:
            raise GridsimError(
                "init='case': the network has no stored bus voltages (bus columns "
                f"{CASE_VOLTAGE[0]!r} and {CASE_VOLTAGE[1]!r}, e.g. MATPOWER's VM and VA)"
            )
        deps = (v, cn.bus_type, cn.vm_set)
        return cn.memo("case-start", deps, lambda: _frozen(setpoint_start(cn, v)))
    if init == "flat":
        deps = (cn.bus_type, cn.vm_set, cn.va_set, cn.island, cn.islands)
        return cn.memo("flat-start", deps, lambda: _frozen(_named_start(cn, init)))
    # the DC start: what _solve_dc reads (the scheduled injections cached by identity)
    deps = (cn.indptr, cn.indices, cn.ypos, cn.ydiag, cn.br_f, cn.br_t, cn.br_ys, cn.br_tap)
    deps += (cn.ysh, cn.scheduled_sbus(), cn.bus_type, cn.vm_set, cn.va_set)
    return cn.memo("dc-start", deps, lambda: _frozen(_named_start(cn, init)))


def _frozen(v: np.ndarray) -> tuple[np.ndarray, tuple]:
    """``v`` made read-only, with its angles and magnitudes."""
    v.flags.writeable = False
    return v, (np.angle(v), np.abs(v))


def _named_start(cn: CompiledNetwork, init: str) -> np.ndarray:
    """The ``"flat"`` or ``"dc"`` start (see :func:`run_ac`)."""
    bt = cn.bus_type
    vm = np.where((bt == PV) | (bt == REF), cn.vm_set, 1.0)
    if init == "dc":
        va = _dc_angles(cn)
    elif not cn.islands:
        va = np.zeros(cn.n_bus)
    else:  # every bus at its island's slack angle (the island's first REF bus)
        refs = np.flatnonzero(bt == REF)[::-1]
        first_ref = np.zeros(len(cn.islands), dtype=np.int64)
        first_ref[cn.island[refs]] = refs  # the lowest index is written last
        va = cn.va_set[first_ref][cn.island]
    v = vm * np.exp(1j * va)
    v[bt == NONE] = 0.0
    return v


def _dc_angles(cn: CompiledNetwork) -> np.ndarray:
    theta, _, _ = _solve_dc(cn)
    return theta


def _solve_dc(cn: CompiledNetwork):
    b, p_shift = dc_branch_parameters(cn.br_ys, cn.br_tap)
    n = cn.n_bus
    bdata = bbus_values(cn.indices.size, cn.ypos, cn.ydiag, b)
    p_businj = bus_sum(cn.br_f, p_shift, n) - bus_sum(cn.br_t, p_shift, n)
    pbus = cn.scheduled_sbus().real - p_businj - cn.ysh.real
    vdep = cn.voltage_dependence()
    if vdep.shape[1]:  # voltage-dependent loads at |V| = 1
        pbus -= vdep.real.sum(axis=0)
    fixed = (cn.bus_type == REF) | (cn.bus_type == NONE)
    lu = cn._cache.get("dc_lu")
    if lu is None:
        lu = cn._cache["dc_lu"] = NumbaLU(cn.indptr, cn.indices, n, order=cn.bus_order())
    theta = dc_pf(cn.indptr, cn.indices, cn.ydiag, bdata, pbus, fixed, cn.va_set[fixed], lu)
    return theta, (b, p_shift), None


def run_dc(network) -> PowerFlowResult:
    """Solve the DC power flow (lossless, |V| = 1, angles from ``B theta = P``).

    Branch resistance and line charging are ignored; transformer ratios scale the series
    susceptance and phase shifts enter as injections (MATPOWER's DC model). Bus shunt
    conductance is kept as a load.

    Returns
    -------
    PowerFlowResult
        ``converged`` is False only when the susceptance matrix is singular.
    """
    cn = compiled(network)
    try:
        theta, (b, p_shift), bm = _solve_dc(cn)
    except SingularMatrixError as exc:
        return PowerFlowResult.from_dc(cn, None, None, None, message=f"singular B matrix: {exc}")
    return PowerFlowResult.from_dc(cn, theta, b, p_shift, message="")
