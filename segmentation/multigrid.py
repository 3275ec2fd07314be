"""pyamg's V-cycle as conjugate gradients' preconditioner, without the work that does not change its result.

``MultilevelSolver.aspreconditioner(cycle="V")`` runs ``solve(b, maxiter=1, tol=1e-12)`` per application, which
also computes the residual norm before and after the cycle (two extra products with the finest matrix, for a
stopping test one cycle never uses) and goes through pyamg's argument checks for every smoothing sweep. This is
the same cycle, operation for operation (symmetric Gauss-Seidel before and after on each level, the residual
restricted, the coarsest level solved by the hierarchy's own coarse solver, the correction interpolated), so the
preconditioned vectors, hence CG's iterates, are pyamg's bit for bit (tests/test_classical_solver.py).
"""
from __future__ import annotations

import numpy as np
from pyamg import amg_core
from scipy.sparse.linalg import LinearOperator


def _gauss_seidel_symmetric(A, x: np.ndarray, b: np.ndarray) -> None:
    """pyamg's ``gauss_seidel(A, x, b, iterations=1, sweep="symmetric")`` on a CSR matrix: forward, then backward."""
    n = len(x)
    amg_core.gauss_seidel(A.indptr, A.indices, A.data, x, b, 0, n, 1)
    amg_core.gauss_seidel(A.indptr, A.indices, A.data, x, b, n - 1, -1, -1)


def v_cycle_preconditioner(ml) -> LinearOperator:
    """One V-cycle from a zero guess of a pyamg hierarchy built with symmetric Gauss-Seidel smoothers (the
    default of ``ruge_stuben_solver``) and float64 CSR levels."""
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
