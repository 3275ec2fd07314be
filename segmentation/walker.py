"""The random walker's lesion probability for labels 1 (lesion) and 2 (background): scikit-image's
``random_walker(..., beta, mode, spacing, return_full_prob=True)[0]`` to within its solvers' tolerance, for under
half its CPU (benchmarks/bench_walker.py).

Why not skimage's function: it builds the Laplacian of the whole box, seeds included, inserts the diagonal
afterwards (scipy converts the matrix to COO and back for that), slices the unknowns' block out, and solves one
system per label. With two labels the background's probability is one minus the lesion's, so here one system is
assembled directly from skimage's edge weights (the unknowns' block is symmetric positive definite) and solved
once: directly by SuperLU in a symmetric ordering (minimum degree on A + A^T, no pivoting: the Cholesky-like
factorisation, half the time of SuperLU's default column ordering on the demo's walks), or, for a big system,
by pyamg's multigrid-preconditioned CG, whose result stands when it settles in skimage's 30 iterations at ``tol``
and stays in [0, 1]; else the direct solve. Both agree with skimage's direct solve ("bf") to 1e-5 on real
nodules' walks (tests/test_classical_solver.py). Label sets other than exactly {0, 1, 2} (a coarse grid that lost the
lesion seeds, say) are left to skimage.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import threading
import warnings

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import cg, splu
from skimage.segmentation import random_walker
from skimage.util import img_as_float

EPS = 1.0e-10          # skimage's floor under every edge weight
PROB_TOL = 1.0e-3      # skimage's prob_tol: a probability this far outside [0, 1] means an unsettled solve
CG_MAXITER = 30        # skimage's iteration cap for multigrid-preconditioned CG


def _row_weights(data: np.ndarray, where: np.ndarray, spacing, beta: float) -> list[np.ndarray]:
    """The Laplacian's off-diagonal entries (negative) in the rows of the voxels ``where`` (flat indices): towards
    the neighbour one step along -axis 0, -axis 1, -axis 2, +axis 2, +axis 1, +axis 0 (by ascending flat index); 0
    where there is none. skimage's edge weights, the same elementwise numbers, computed only on the edges of these
    voxels (the unknowns: a sixth of the box's voxels on the demo's walks, the rest are seeds)."""
    spacing = np.asarray(spacing)
    scale = -beta / (10 * data[..., np.newaxis].std())   # skimage takes the std of its (x, y, z, channel) array
    flat = data.ravel()
    coords = np.unravel_index(where, data.shape)
    strides = (data.shape[1] * data.shape[2], data.shape[2], 1)
    out = {}
    for ax in (0, 1, 2):
        for up in (False, True):
            has = coords[ax] < data.shape[ax] - 1 if up else coords[ax] > 0
            v = where[has]
            nb = v + strides[ax] if up else v - strides[ax]
            diff = flat[nb] - flat[v] if up else flat[v] - flat[nb]   # np.diff's: the upper voxel's value first
            e = np.exp(scale * (diff / spacing[ax]) ** 2)
            e += EPS
            w = np.zeros(len(where))
            w[has] = -e
            out[ax, up] = w
    return [out[0, False], out[1, False], out[2, False], out[2, True], out[1, True], out[0, True]]


def linear_system(data: np.ndarray, labels: np.ndarray, spacing, beta: float):
    """(the unknowns' Laplacian block, canonical CSR with int32 indices, symmetric; the right-hand side (n,) of
    label 1): skimage's ``_build_linear_system`` for labels {0, 1, 2} without a pruning mask, its first column."""
    shape = data.shape
    strides = (shape[1] * shape[2], shape[2], 1)
    steps = (-strides[0], -strides[1], -1, 1, strides[1], strides[0])
    flat = labels.ravel()
    unknown = flat == 0
    where = np.flatnonzero(unknown)
    pos = np.cumsum(unknown) - 1
    n = len(where)
    weights = _row_weights(data, where, spacing, beta)
    deg = np.zeros(n)
    for w in weights:                      # a column's sum, rows by ascending index (scipy's ones @ csr)
        deg += w
    # each unknown's row: neighbours below, the diagonal, neighbours above (ascending column index)
    cols, vals, keep = [], [], []
    rhs = np.zeros(n)
    for k, (step, wu) in enumerate(zip(steps, weights)):
        if k == 3:
            cols.append(np.arange(n)), vals.append(-deg), keep.append(np.ones(n, bool))
        exists = wu != 0
        nb = np.where(exists, where + step, 0)
        lab = flat[nb]
        cols.append(pos[nb]), vals.append(wu), keep.append(exists & (lab == 0))
        rhs += np.where(exists & (lab == 1), -wu, 0.0)   # skimage's B @ seeds: lesion-seeded neighbours' -weights
    keep = np.column_stack(keep)
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    lap = sparse.csr_array((np.column_stack(vals)[keep], np.column_stack(cols)[keep].astype(np.int32), indptr),
                           shape=(n, n))
    lap.has_sorted_indices = True
    return lap, rhs


def _full(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = np.zeros(labels.shape)
    out[labels == 0] = x
    out[labels == 1] = 1
    return out


def solve_direct(lap: sparse.csr_array, rhs: np.ndarray) -> np.ndarray:
    """The exact solve of a symmetric positive definite system: SuperLU in a symmetric minimum-degree ordering
    without pivoting (a CSR matrix that is symmetric is its own CSC, so nothing is converted)."""
    csc = sparse.csc_array((lap.data, lap.indices, lap.indptr), shape=lap.shape)
    return splu(csc, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True}).solve(rhs)


SETUP_SEED = 0          # pyamg's PMISc splitting draws from numpy's global generator: one fixed state per set-up
_SETUP_LOCK = threading.Lock()   # the generator and file descriptor 1 are the process's: one set-up at a time


@contextlib.contextmanager
def _pyamg_setup_guard():
    """pyamg's multigrid set-up, made deterministic and quiet. Its PMISc coarse-grid choice (and JP colouring) call
    ``np.random.rand``, so the grid, hence the probabilities (to ~1e-5) and now and then a mask voxel or a score,
    would depend on the process's seed and on the walks solved before: the global generator is set to SETUP_SEED for
    the set-up and given back its state afterwards. Its C++ classical interpolation printf()s "Outer denominator was
    zero" for an F-point without usable interpolation weights (6 times over the 2,830 real-nodule walks); the CG
    result is checked like any other before it stands, and the message must not land in the CLI's output, so file
    descriptor 1 points at /dev/null meanwhile (C's buffer flushed before it is given back; output another thread
    writes in those milliseconds is lost too, a progress bar's refresh)."""
    with _SETUP_LOCK:
        state = np.random.get_state()
        np.random.seed(SETUP_SEED)
        try:
            with _fd1_silenced():
                yield
        finally:
            np.random.set_state(state)


@contextlib.contextmanager
def _fd1_silenced():
    """File descriptor 1 on /dev/null for the block, C's stdio buffer flushed on the way in and out."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):   # no file descriptor 1 to silence (sys.stdout None or closed)
        yield
        return
    _flush_c_stdio()   # what C code printed before stays in the real output
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, 1)
        os.close(saved)


def _flush_c_stdio() -> None:
    """Write out printf's buffer (full-buffered when stdout is a pipe or file) to where fd 1 points now: before the
    block, to the real output; at its end, to /dev/null (not to the real output later)."""
    flush = getattr(_libc(), "fflush", None)
    if flush is not None:
        flush(None)


@functools.cache
def _libc():
    try:
        return ctypes.CDLL(None)
    except OSError:   # no C library handle here: nothing buffered to lose
        return None


def solve_multigrid_cg(lap: sparse.csr_array, rhs: np.ndarray, tol: float) -> np.ndarray | None:
    """pyamg's classical (Ruge-Stuben) multigrid as CG's preconditioner, as skimage's "cg_mg" but with PMISc's
    coarse-grid choice (on real nodules' systems: faster set-up, no unsettled solve, and 1e-5 of the direct solve
    where skimage's RS splitting strays 1e-3; benchmarks/bench_walker.py); None when it does not settle (not at
    ``tol`` in CG_MAXITER iterations, a probability outside [0, 1] or not finite, any warning, or a multigrid
    set-up that fails on a near-singular coarse level)."""
    from segmentation.multigrid import classical_hierarchy, v_cycle_preconditioner

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _pyamg_setup_guard():
                m = v_cycle_preconditioner(classical_hierarchy(lap))   # pyamg's RS solver with CF="PMISc"
            x, info = cg(lap, rhs, rtol=tol, atol=0, M=m, maxiter=CG_MAXITER)
        except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError):   # a degenerate coarse level
            return None
    if info != 0 or not np.isfinite(x).all() or x.min() < -PROB_TOL or x.max() > 1 + PROB_TOL \
            or any(issubclass(w.category, UserWarning) for w in caught):
        return None
    return x


def lesion_probability(data: np.ndarray, labels: np.ndarray, beta: float, spacing, iterative: bool, tol: float):
    """The probability that a walk from each voxel reaches a lesion seed first. ``iterative``: multigrid CG
    (``solve_multigrid_cg``), and the direct solve when it does not settle."""
    if set(np.unique(labels).tolist()) != {0, 1, 2}:
        return _skimage(data, labels, beta, spacing, iterative, tol)
    lap, rhs = linear_system(np.atleast_3d(img_as_float(data)), labels, spacing, beta)
    x = solve_multigrid_cg(lap, rhs, tol) if iterative else None
    return _full(solve_direct(lap, rhs) if x is None else x, labels)


def _skimage(data: np.ndarray, labels: np.ndarray, beta: float, spacing, iterative: bool, tol: float) -> np.ndarray:
    """skimage's random walker, its first probability (label 1's, or the only label's), with the same settling rule."""
    if iterative:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prob = random_walker(data, labels, beta=beta, mode="cg_mg", tol=tol, spacing=spacing, return_full_prob=True)[0]
        if not any(issubclass(w.category, UserWarning) for w in caught):
            return prob   # else not settled in skimage's 30 iterations: solved directly after all
    return random_walker(data, labels, beta=beta, mode="bf", spacing=spacing, return_full_prob=True)[0]
