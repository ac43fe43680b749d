"""The columns of MATPOWER's ``bus``, ``gen`` and ``branch`` matrices (version 2): names,
0-based indices and bus types, as MATPOWER's ``idx_bus``, ``idx_gen``, ``idx_brch``."""

BUS_COLUMNS = tuple("BUS_I BUS_TYPE PD QD GS BS BUS_AREA VM VA BASE_KV ZONE VMAX VMIN".split())
GEN_COLUMNS = tuple("GEN_BUS PG QG QMAX QMIN VG MBASE GEN_STATUS PMAX PMIN".split())
BRANCH_COLUMNS = tuple(
    "F_BUS T_BUS BR_R BR_X BR_B RATE_A RATE_B RATE_C TAP SHIFT BR_STATUS".split()
)
_COLUMNS = {"bus": BUS_COLUMNS, "gen": GEN_COLUMNS, "branch": BRANCH_COLUMNS}

# column indices
(BUS_I, BUS_TYPE, PD, QD, GS, BS, BUS_AREA, VM, VA, BASE_KV, ZONE, VMAX, VMIN) = range(13)
(GEN_BUS, PG, QG, QMAX, QMIN, VG, MBASE, GEN_STATUS, PMAX, PMIN) = range(10)
(F_BUS, T_BUS, BR_R, BR_X, BR_B, RATE_A, RATE_B, RATE_C, TAP, SHIFT, BR_STATUS) = range(11)
PQ_BUS, PV_BUS, REF_BUS, ISOLATED = 1, 2, 3, 4

# columns in which +-Inf means "no limit"
_INF_OK = {"bus": {VMAX, VMIN}, "gen": {QMAX, QMIN, PMAX, PMIN}, "branch": set()}
