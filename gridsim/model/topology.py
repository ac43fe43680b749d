"""Islands: which buses an AC solve can reach, and who holds each island's angle.

HVDC links do not join AC islands; each island needs its own slack (an ``ext_grid`` or a
``gen`` with ``slack=True``). An island without one is an error, unless it is empty
(no generation, load or shunt: it is de-energised with a warning), or the network says
``unsupplied_islands="isolate"`` (pandapower's behaviour: such buses are de-energised
and reported as NaN).
"""

from __future__ import annotations

import numpy as np

from gridsim.exceptions import InvalidNetworkError
from gridsim.model.network import plain
from gridsim.numerics._jit import njit


@njit
def components(indptr, indices):  # pragma: no cover (jitted)
    """Connected components of a graph given by a symmetric CSR pattern.

    Returns ``(count, labels)``, labels numbered in order of each component's first
    vertex.
    """
    n = indptr.size - 1
    labels = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    count = 0
    for start in range(n):
        if labels[start] >= 0:
            continue
        labels[start] = count
        top = 0
        stack[0] = start
        while top >= 0:
            v = stack[top]
            top -= 1
            for k in range(indptr[v], indptr[v + 1]):
                w = indices[k]
                if labels[w] < 0:
                    labels[w] = count
                    top += 1
                    stack[top] = w
        count += 1
    return count, labels


def assign_islands(cn, network) -> None:
    """Label islands on ``cn`` (in place) and check each has a slack."""
    from gridsim.model.compile import NONE, REF

    count, labels = components(cn.indptr, cn.indices)  # Ybus's pattern is the bus graph
    has_ref = np.zeros(count, dtype=bool)
    has_ref[labels[cn.bus_type == REF]] = True
    active = np.zeros(count, dtype=bool)
    active[labels[cn.inj_bus]] = True
    active[labels[cn.load_bus]] = True
    active[labels[np.flatnonzero(cn.ysh)]] = True
    size = np.bincount(labels, minlength=count)
    policy = getattr(network, "unsupplied_islands", "error")
    if count and not has_ref.any():
        raise InvalidNetworkError(
            "the network has no slack: give it an ext_grid or a gen with slack=true",
            network.source,
        )
    islands = []
    lone = []  # isolated buses with nothing at them
    by_island = np.split(np.argsort(labels, kind="stable"), np.cumsum(size)[:-1])
    for k, members in enumerate(by_island):
        if has_ref[k]:
            islands.append(members)
            continue
        if active[k] and policy == "error":
            ids = _some_ids(cn.bus_ids, members)
            raise InvalidNetworkError(
                f"island of {members.size} bus(es) ({ids}) has no slack: give it an "
                "ext_grid or a gen with slack=true",
                network.source,
            )
        if active[k] or size[k] > 1:
            ids = _some_ids(cn.bus_ids, members)
            cn.warnings.append(
                f"island of {members.size} bus(es) ({ids}) has no slack; de-energised"
            )
        else:
            lone.append(members[0])
        cn.bus_type[members] = NONE
        labels[members] = -1
    if lone:
        ids = _some_ids(cn.bus_ids, np.array(lone))
        cn.warnings.append(f"{len(lone)} isolated bus(es) ({ids}) de-energised")
    # renumber energised islands 0..m-1
    for new, members in enumerate(islands):
        labels[members] = new
    cn.island = labels
    cn.islands = islands


def _some_ids(bus_ids, members: np.ndarray) -> str:
    """The first five bus ids of an island, for messages ("and N more" after them)."""
    more = f" and {members.size - 5} more" if members.size > 5 else ""
    return ", ".join(repr(plain(i)) for i in bus_ids[members[:5]]) + more
