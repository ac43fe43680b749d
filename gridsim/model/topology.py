"""Islands: which buses an AC solve can reach, and who holds each island's angle.

HVDC links do not join AC islands; each island needs its own slack (an ``ext_grid`` or a
``gen`` with ``slack=True``). An island without one is an error, unless it is empty
(no generation, load or shunt: it is de-energised with a warning), or the network says
``unsupplied_islands="isolate"`` (pandapower's behaviour: such buses are de-energised
and reported as NaN).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridsim.exceptions import InvalidNetworkError


def components(n_bus: int, f: np.ndarray, t: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of the bus graph with edges ``f``–``t``."""
    graph = sp.coo_matrix((np.ones(f.size), (f, t)), shape=(n_bus, n_bus))
    return connected_components(graph, directed=False)


def assign_islands(cn, network) -> None:
    """Label islands on ``cn`` (in place) and check each has a slack."""
    from gridsim.model.compile import NONE, REF

    n = cn.n_bus
    import scipy.sparse as sp

    graph = sp.csr_matrix((np.ones(cn.indices.size), cn.indices, cn.indptr), shape=(n, n))
    count, labels = connected_components(graph, directed=False)  # Ybus pattern = the graph
    has_ref = np.zeros(count, dtype=bool)
    has_ref[labels[cn.bus_type == REF]] = True
    active = np.zeros(count, dtype=bool)
    active[labels[cn.inj_bus]] = True
    active[labels[cn.load_bus]] = True
    active[labels[np.flatnonzero(cn.ysh)]] = True
    size = np.bincount(labels, minlength=count)
    policy = getattr(network, "unsupplied_islands", "error")
    islands = []
    for k in range(count):
        members = np.flatnonzero(labels == k)
        if has_ref[k]:
            islands.append(members)
            continue
        if active[k] and policy == "error":
            ids = ", ".join(repr(i) for i in cn.bus_ids[members[:5]])
            more = f" and {members.size - 5} more" if members.size > 5 else ""
            raise InvalidNetworkError(
                f"island of {members.size} bus(es) ({ids}{more}) has no slack: give it an "
                "ext_grid or a gen with slack=true",
                network.source,
            )
        if active[k] or size[k] > 1:
            ids = ", ".join(repr(i) for i in cn.bus_ids[members[:5]])
            cn.warnings.append(
                f"island of {members.size} bus(es) ({ids}) has no slack; de-energised"
            )
        cn.bus_type[members] = NONE
        labels[members] = -1
    # renumber energised islands 0..m-1
    for new, members in enumerate(islands):
        labels[members] = new
    cn.island = labels
    cn.islands = islands
