"""Fill-reducing ordering: minimum degree on a symmetric sparsity pattern, in Numba.

The classic minimum-degree heuristic (Tinney scheme 2): repeatedly eliminate a node of
smallest degree in the elimination graph, joining its neighbours into a clique. Power
grids are sparse and nearly planar, so the cliques stay small and an explicit
elimination graph (adjacency lists in one growing pool, a binary heap of degrees with
lazy deletion) is fast: 0.05 ms on case118, about 7 ms on case9241pegase, and as little
fill as SuperLU's multiple minimum degree (221,506 against 224,098 entries in L+U of
case9241pegase's Jacobian).
"""

from __future__ import annotations

import numpy as np

from gridsim.numerics._jit import njit


@njit
def _heap_push(keys, nodes, size, key, node):  # pragma: no cover (jitted)
    i = size
    keys[i] = key
    nodes[i] = node
    while i > 0:
        p = (i - 1) // 2
        if keys[p] > keys[i] or (keys[p] == keys[i] and nodes[p] > nodes[i]):
            keys[p], keys[i] = keys[i], keys[p]
            nodes[p], nodes[i] = nodes[i], nodes[p]
            i = p
        else:
            break
    return size + 1


@njit
def _heap_pop(keys, nodes, size):  # pragma: no cover (jitted)
    key, node = keys[0], nodes[0]
    size -= 1
    keys[0], nodes[0] = keys[size], nodes[size]
    i = 0
    while True:
        left, right, small = 2 * i + 1, 2 * i + 2, i
        if left < size and (
            keys[left] < keys[small] or (keys[left] == keys[small] and nodes[left] < nodes[small])
        ):
            small = left
        if right < size and (
            keys[right] < keys[small]
            or (keys[right] == keys[small] and nodes[right] < nodes[small])
        ):
            small = right
        if small == i:
            break
        keys[small], keys[i] = keys[i], keys[small]
        nodes[small], nodes[i] = nodes[i], nodes[small]
        i = small
    return key, node, size


@njit
def _grown(a, used, size):  # pragma: no cover (jitted)
    """A new array of ``size`` entries holding ``a[:used]`` (copied in a loop: an array
    slice assignment would compile Numba's shape-error formatting, seconds of the first
    compile with an empty cache)."""
    out = np.empty(size, dtype=a.dtype)
    for k in range(used):
        out[k] = a[k]
    return out


@njit
def minimum_degree(indptr, indices):  # pragma: no cover (jitted)
    """Minimum-degree elimination order of a symmetric CSR/CSC pattern.

    Returns ``order`` with ``order[p]`` the node eliminated p-th; ties go to the
    lowest node number, so the result is deterministic.
    """
    n = indptr.size - 1
    start = np.empty(n, dtype=np.int64)
    cap = np.empty(n, dtype=np.int64)
    length = np.zeros(n, dtype=np.int64)
    total = np.int64(0)  # np.int64, not a literal 0: one compiled signature per callee
    for i in range(n):
        start[i] = total
        cap[i] = 2 * (indptr[i + 1] - indptr[i]) + 8
        total += cap[i]
    pool = np.empty(2 * total, dtype=np.int64)
    for i in range(n):
        m = np.int64(0)
        for k in range(indptr[i], indptr[i + 1]):
            if indices[k] != i:
                pool[start[i] + m] = indices[k]
                m += 1
        length[i] = m
    eliminated = np.zeros(n, dtype=np.bool_)
    mark = np.full(n, -1, dtype=np.int64)
    heap_key = np.empty(8 * n + 16, dtype=np.int64)
    heap_node = np.empty(8 * n + 16, dtype=np.int64)
    size = np.int64(0)
    for i in range(n):
        size = _heap_push(heap_key, heap_node, size, length[i], i)
    order = np.empty(n, dtype=np.int64)
    clique = np.empty(n, dtype=np.int64)
    for step in range(n):
        while True:  # pop until an entry is current (lazy deletion)
            degree, v, size = _heap_pop(heap_key, heap_node, size)
            if not eliminated[v] and degree == length[v]:
                break
        order[step] = v
        eliminated[v] = True
        nc = 0
        for k in range(start[v], start[v] + length[v]):
            u = pool[k]
            if not eliminated[u]:
                clique[nc] = u
                nc += 1
        for a in range(nc):
            mark[clique[a]] = step
        for a in range(nc):
            u = clique[a]
            # adj(u) := live adj(u) outside the clique, then the clique without u
            s = start[u]
            m = np.int64(0)
            for k in range(s, s + length[u]):
                w = pool[k]
                if not eliminated[w] and mark[w] != step:
                    pool[s + m] = w
                    m += 1
            need = m + nc - 1
            if need > cap[u]:  # move u's list to the end of the pool, with room to grow
                if total + 2 * need > pool.size:
                    pool = _grown(pool, total, 2 * (total + 2 * need))
                for k in range(m):
                    pool[total + k] = pool[s + k]
                start[u] = total
                cap[u] = 2 * need
                total += 2 * need
                s = total - 2 * need
            for b in range(nc):
                w = clique[b]
                if w != u:
                    pool[s + m] = w
                    m += 1
            length[u] = m
            if size + 1 >= heap_key.size:
                heap_key = _grown(heap_key, size, 2 * heap_key.size)
                heap_node = _grown(heap_node, size, 2 * heap_node.size)
            size = _heap_push(heap_key, heap_node, size, m, u)
    return order
