"""pyamg's classical multigrid (Ruge-Stuben, PMISc coarse grids) as conjugate gradients' preconditioner, without
the work that does not change its result.

Set-up: ``ruge_stuben_solver(A, CF="PMISc", coarse_solver="pinv")`` level by level with pyamg's own strength,
interpolation and coarse solver, but the PMISc splitting's graph built without pyamg's ``remove_diagonal`` (a
round trip through COO and a sort, twice per level: a fifth of the set-up's CPU on the demo's walks) and its
in-degrees without a sparse product: the same arrays, the same draws from numpy's global generator in the same
order, so the same splitting and hierarchy.

``MultilevelSolver.aspreconditioner(cycle="V")`` runs ``solve(b, maxiter=1, tol=1e-12)`` per application, which
also computes the residual norm before and after the cycle (two extra products with the finest matrix, for a
stopping test one cycle never uses) and goes through pyamg's argument checks for every smoothing sweep. This is
the same cycle, operation for operation (symmetric Gauss-Seidel before and after on each level, the residual
restricted, the coarsest level solved by the hierarchy's own coarse solver, the correction interpolated), so the
preconditioned vectors, hence CG's iterates, are pyamg's bit for bit (tests/test_classical_solver.py).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from pyamg import amg_core
from pyamg.classical.interpolate import classical_interpolation
from pyamg.multilevel import coarse_grid_solver
from pyamg.strength import classical_strength_of_connection
from scipy import sparse
from scipy.sparse.linalg import LinearOperator

MAX_LEVELS, MAX_COARSE = 30, 10   # ruge_stuben_solver's defaults


def _without_diagonal(S: sparse.csr_array) -> sparse.csr_array:
    """pyamg's ``remove_diagonal`` of a canonical CSR matrix (sorted, no duplicates: the same arrays)."""
    rows = np.repeat(np.arange(S.shape[0], dtype=S.indptr.dtype), np.diff(S.indptr))
    off = S.indices != rows
    indptr = np.zeros_like(S.indptr)
    np.cumsum(np.bincount(rows[off], minlength=S.shape[0]), out=indptr[1:])
    return sparse.csr_array((S.data[off], S.indices[off], indptr), shape=S.shape)


def _pmisc(C: sparse.csr_array) -> np.ndarray:
    """pyamg's ``split.PMISc(C)`` (Jones-Plassmann colouring): 1 for a coarse point, 0 for a fine one."""
    S = _without_diagonal(C)
    n = S.shape[0]
    S = sparse.csr_array((np.ones(S.nnz, dtype=np.int32), S.indices, S.indptr), shape=(n, n))
    T = S.T.tocsr()
    G = S + T
    G.data[:] = 1
    weights = np.diff(T.indptr).astype(np.int64)   # T.sum(axis=1): T's entries are ones
    coloring = np.empty(n, dtype=G.indptr.dtype)
    amg_core.vertex_coloring_jones_plassmann(n, G.indptr, G.indices, coloring, np.random.rand(n))
    weights = weights + (np.random.rand(n) + coloring) / (coloring.max() + 1)
    G = _without_diagonal(G)
    mis = np.full(n, -1, dtype=G.indptr.dtype)
    amg_core.maximal_independent_set_parallel(n, G.indptr, G.indices, -1, 1, 0, mis, weights, -1)
    return mis


def classical_hierarchy(A: sparse.csr_array) -> SimpleNamespace:
    """``ruge_stuben_solver(A, CF="PMISc", coarse_solver="pinv")``'s levels (A, and P, R above the coarsest) and
    coarse solver, for a float64 CSR matrix; draws from numpy's global generator as pyamg does."""
    levels = [SimpleNamespace(A=A)]
    while len(levels) < MAX_LEVELS and levels[-1].A.shape[0] > MAX_COARSE:
        A = levels[-1].A
        C = classical_strength_of_connection(A, theta=0.25)
        splitting = _pmisc(C)
        n_coarse = np.sum(splitting)
        if n_coarse == len(splitting) or n_coarse == 0:
            break
        P = classical_interpolation(A, C, splitting)
        R = P.T.tocsr()
        levels[-1].P, levels[-1].R = P, R
        levels.append(SimpleNamespace(A=R @ A @ P))
    return SimpleNamespace(levels=levels, coarse_solver=coarse_grid_solver("pinv"))


def _gauss_seidel_symmetric(A, x: np.ndarray, b: np.ndarray) -> None:
    """pyamg's ``gauss_seidel(A, x, b, iterations=1, sweep="symmetric")`` on a CSR matrix: forward, then backward."""
    n = len(x)
    amg_core.gauss_seidel(A.indptr, A.indices, A.data, x, b, 0, n, 1)
    amg_core.gauss_seidel(A.indptr, A.indices, A.data, x, b, n - 1, -1, -1)


def v_cycle_preconditioner(ml) -> LinearOperator:
    """One V-cycle from a zero guess on a hierarchy (``classical_hierarchy``'s, or pyamg's ``MultilevelSolver`` with
    ``ruge_stuben_solver``'s default symmetric Gauss-Seidel smoothers) of float64 CSR levels."""
    levels = ml.levels

    def cycle(lvl: int, x: np.ndarray, b: np.ndarray) -> None:   # MultilevelSolver.__solve, cycle "V"
        A = levels[lvl].A
        _gauss_seidel_symmetric(A, x, b)
        residual = b - A @ x
        coarse_b = levels[lvl].R @ residual
        coarse_x = np.zeros_like(coarse_b)
        if lvl == len(levels) - 2:
            coarse_x[:] = ml.coarse_solver(levels[-1].A, coarse_b)
        else:
            cycle(lvl + 1, coarse_x, coarse_b)
        x += levels[lvl].P @ coarse_x
        _gauss_seidel_symmetric(A, x, b)

    def apply(b: np.ndarray) -> np.ndarray:   # MultilevelSolver.solve(b, maxiter=1, cycle="V"), its norms left out
        b = np.ravel(b)
        if len(levels) == 1:
            return ml.coarse_solver(levels[0].A, b)
        x = np.zeros_like(b)
        cycle(0, x, b)
        return x

    A = levels[0].A
    return LinearOperator(A.shape, apply, dtype=A.dtype)
