"""Fill-reducing ordering and symbolic LU of a structurally symmetric pattern, by SuperLU.

The Numba LU (:mod:`gridsim.solvers.sparse_lu`) factorises every matrix of a pattern on
one fixed structure, found here once per pattern:

1. :func:`fill_reducing_order`: SuperLU's multiple minimum degree on the pattern
   (``permc_spec="MMD_AT_PLUS_A"``), its small subtrees renumbered together;
2. :func:`symbolic_lu`: the patterns of L and U of the pattern, already in elimination
   order, factorised with diagonal pivots.

Both run SuperLU (through scipy) on a stand-in matrix with the pattern's structure: the
Laplacian of the pattern's graph plus ``1e-8`` on the diagonal. It is a symmetric
M-matrix, so diagonal pivots are all positive and every Schur complement is an M-matrix
again: each entry of L and U that the structure allows is a sum of terms of one sign and
cannot cancel, and the Laplacian's weights shrink like conductances in series (no
underflow), so SuperLU's factors hold exactly the structural fill. SuperLU runs with
fundamental supernodes only (``relax=1``), which add no entries. On case9241pegase the
ordering takes 13-21 ms and gives 28,513 entries in L (the Tinney-2 minimum degree
gridsim had in Numba: 28,252); case_ACTIVSg70k: 0.1-0.2 s for the ordering, 0.07-0.09 s
for the symbolic LU.

SuperLU does not postorder the elimination tree in symmetric mode: its minimum-degree
order eliminates the columns of one subtree far apart (on case_ACTIVSg70k only 3 % of the
columns have their parent next to them), and on the large grids the left-looking LU then
waits on memory for the columns that update a column. :func:`fill_reducing_order`
renumbers the columns in a postorder of the tree, every subtree a contiguous range, but
keeps the minimum-degree order inside each largest subtree of at most
:data:`SMALL_SUBTREE` columns: there, in a plain postorder most columns would follow
their child and wait for it, where minimum degree interleaves independent columns (a
plain postorder made case1354pegase's Newton solve 11 % slower). Any order in which
every column comes after its children in the tree is an equivalent ordering: the same
L and U entries and the same operations, in another sequence. The block Newton solve,
alternated with the plain minimum-degree order in one process on the loaded 2-core host
(medians): case_ACTIVSg70k 1.40x faster (its LU 1.5x), case9241pegase 1.05x,
case1354pegase and case2869pegase 0.99x.

No Numba here: a fresh process with an empty kernel cache compiles neither step.
"""

from __future__ import annotations

import numpy as np

# SuperLU's options for the stand-in: keep the diagonal pivots (structure only), and
# fundamental supernodes only (relaxed ones would pad L with stored zeros)
_SUPERLU = {
    "diag_pivot_thresh": 0.0,
    "relax": 1,
    "panel_size": 1,
    "options": {"SymmetricMode": True},
}
_SHIFT = 1e-8  # added to the Laplacian's diagonal: every pivot positive


def _stand_in(indptr: np.ndarray, indices: np.ndarray):
    """The graph Laplacian of the pattern plus ``_SHIFT`` on the diagonal (CSC): an
    M-matrix whose LU has the pattern's structural fill.

    On the pattern itself when it holds every diagonal entry (Ybus, the Jacobians, the
    DC B matrix; structurally symmetric, as this module's functions require); otherwise
    on the pattern symmetrised with the diagonal added.
    """
    import scipy.sparse as sp

    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    n = indptr.size - 1
    cols = np.repeat(np.arange(n), np.diff(indptr))
    on_diagonal = indices == cols
    if np.count_nonzero(on_diagonal) != n:
        off = ~on_diagonal
        rows = np.concatenate([indices[off], cols[off], np.arange(n)])
        cols = np.concatenate([cols[off], indices[off], np.arange(n)])
        shape = sp.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
        shape.sum_duplicates()
        return _stand_in(shape.indptr, shape.indices)
    data = np.full(indices.size, -1.0)
    data[on_diagonal] = np.bincount(cols, minlength=n) - 1 + _SHIFT
    return sp.csc_matrix((data, indices, indptr), shape=(n, n))


def _transpose(indptr: np.ndarray, indices: np.ndarray):
    """CSC pattern of the transpose, rows ascending in every column when the given
    pattern's columns are in order (a stable sort by row of the column-major entries)."""
    n = indptr.size - 1
    cols = np.repeat(np.arange(n), np.diff(indptr))
    by_row = np.argsort(indices, kind="stable")
    t_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=n), out=t_ptr[1:])
    return t_ptr, cols[by_row]


def fill_reducing_order(indptr: np.ndarray, indices: np.ndarray, n: int) -> np.ndarray:
    """A symmetric fill-reducing ordering of a structurally symmetric CSR/CSC pattern:
    SuperLU's multiple minimum degree, renumbered so that every subtree of its
    elimination tree above :data:`SMALL_SUBTREE` columns, and every largest one within
    it, is a contiguous range of columns (the same fill; see the module's notes).

    Returns ``order`` (int64) with ``order[p]`` the row/column eliminated p-th.
    """
    from scipy.sparse.linalg import splu

    if n == 0:
        return np.zeros(0, dtype=np.int64)
    lu = splu(_stand_in(indptr, indices), permc_spec="MMD_AT_PLUS_A", **_SUPERLU)
    order = np.empty(n, dtype=np.int64)
    order[lu.perm_c] = np.arange(n)
    return order[_grouped_postorder(lu.L)]


#: Subtrees of the elimination tree of at most this many columns keep the minimum-degree
#: order inside (see the module's notes; 64 to 1,024 measured alike on case9241pegase)
SMALL_SUBTREE = 256


def _grouped_postorder(lower) -> np.ndarray:
    """The columns of a factorisation, whose lower factor ``lower`` (CSC, in
    elimination order) is given, in a postorder of its elimination tree (the parent of
    column k is its first row below the diagonal) in which each largest subtree of at
    most :data:`SMALL_SUBTREE` columns keeps its columns in their given order.

    The postorder is the reverse of a depth-first preorder from a virtual root above the
    tree's roots.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import depth_first_order

    n = lower.shape[0]
    cols = np.repeat(np.arange(n), np.diff(lower.indptr))
    rows = np.where(lower.indices > cols, lower.indices, n)  # n: the virtual root
    parent = np.minimum.reduceat(rows, lower.indptr[:-1])  # every column holds its pivot
    tree = sp.csr_matrix((np.ones(n), (parent, np.arange(n))), shape=(n + 1, n + 1))
    post = depth_first_order(tree, n, directed=True, return_predecessors=False)[:0:-1]
    size = [1] * (n + 1)  # of each column's subtree
    up = parent.tolist()
    for k in range(n):  # children before parents
        size[up[k]] += size[k]
    size = np.array(size)
    at = np.empty(n, dtype=np.int64)
    at[post] = np.arange(n)  # each column's place in the postorder
    start = at - size[:n] + 1  # where its subtree starts there
    small = size[:n] <= SMALL_SUBTREE
    group = small & ((parent == n) | (size[parent] > SMALL_SUBTREE))  # the largest of them
    starts = np.sort(start[group])
    key = np.where(small, starts[np.searchsorted(starts, at, side="right") - 1], at)
    return np.lexsort((np.arange(n), key))


def symbolic_lu(indptr: np.ndarray, indices: np.ndarray):
    """Patterns of L (strictly lower, CSC) and U (strictly upper, CSC) of a structurally
    symmetric CSC pattern factorised in its own order with diagonal pivots.

    Returns ``(l_ptr, l_idx, u_ptr, u_idx)`` (int64), rows ascending in every column;
    ``pattern(U) = pattern(L)^T``.
    """
    from scipy.sparse.linalg import splu

    n = indptr.size - 1
    if n == 0:
        zero = np.zeros(1, dtype=np.int64)
        return zero, np.zeros(0, dtype=np.int64), zero.copy(), np.zeros(0, dtype=np.int64)
    lu = splu(_stand_in(indptr, indices), permc_spec="NATURAL", **_SUPERLU)
    if not np.array_equal(lu.perm_r, np.arange(n)):  # cannot happen for an M-matrix
        raise RuntimeError("SuperLU left the diagonal on a symbolic factorisation")
    lower = lu.L
    cols = np.repeat(np.arange(n), np.diff(lower.indptr))
    strict = lower.indices > cols  # L's off-diagonal structure, rows in any order
    # U = L^T by rows (each U column's rows ascending), then L = U^T sorted alike
    l_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols[strict], minlength=n), out=l_ptr[1:])
    u_ptr, u_idx = _transpose(l_ptr, lower.indices[strict].astype(np.int64))
    l_ptr, l_idx = _transpose(u_ptr, u_idx)
    return l_ptr, l_idx, u_ptr, u_idx
