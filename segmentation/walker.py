"""The random walker's lesion probability for labels 1 (lesion) and 2 (background): the numbers of
scikit-image's ``random_walker(..., beta, mode, tol, spacing, return_full_prob=True)[0]``, for half its CPU.

Why not skimage's function: it builds the Laplacian of the whole box, seeds included, inserts the diagonal
afterwards (scipy converts the matrix to COO and back for that), and slices the unknowns' block out. Here the
unknowns' block and the right-hand sides are assembled directly from skimage's edge weights, with every sum taken
in the order scipy takes it in skimage's matrices (a node's neighbours by ascending index), so the solvers
(SuperLU, or pyamg's multigrid-preconditioned CG, called with skimage's arguments) get the identical system and
give identical numbers (tests/test_classical_solver.py). The background's CG solve still runs: whether both settle
decides, as in skimage's warning, between the CG result and the direct solve (on real nodules the two columns do
not always settle together). Label sets other than exactly {0, 1, 2} (a coarse grid that lost the lesion seeds,
say) are left to skimage.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import cg, spsolve
from skimage.segmentation import random_walker
from skimage.util import img_as_float

EPS = 1.0e-10          # skimage's floor under every edge weight
PROB_TOL = 1.0e-3      # skimage's prob_tol: a probability this far outside [0, 1] means an unsettled solve
CG_MAXITER = 30        # skimage's iteration cap for multigrid-preconditioned CG


def _neighbour_weights(data: np.ndarray, spacing, beta: float) -> list[np.ndarray]:
    """The Laplacian's off-diagonal entry (negative) between each voxel and its neighbour one step along -axis 0,
    -axis 1, -axis 2, +axis 2, +axis 1, +axis 0, i.e. by ascending flat index; 0 where there is none."""
    spacing = np.asarray(spacing)
    scale = -beta / (10 * data[..., np.newaxis].std())   # skimage takes the std of its (x, y, z, channel) array
    lower, upper = {}, {}
    for ax in (2, 1, 0):
        w = np.zeros(data.shape)
        if data.shape[ax] > 1:
            e = np.exp(scale * (np.diff(data, axis=ax) / spacing[ax]) ** 2)
            e += EPS
            below = tuple(slice(None, -1) if a == ax else slice(None) for a in range(3))
            above = tuple(slice(1, None) if a == ax else slice(None) for a in range(3))
            w_up, w_down = np.zeros(data.shape), np.zeros(data.shape)
            w_up[below], w_down[above] = -e, -e
            upper[ax], lower[ax] = w_up, w_down
        else:
            upper[ax] = lower[ax] = w
    return [lower[0], lower[1], lower[2], upper[2], upper[1], upper[0]]


def linear_system(data: np.ndarray, labels: np.ndarray, spacing, beta: float):
    """(the unknowns' Laplacian block, canonical CSR with int32 indices; right-hand sides (n, 2) for labels 1, 2):
    skimage's ``_build_linear_system`` for labels {0, 1, 2} without a pruning mask."""
    shape = data.shape
    strides = (shape[1] * shape[2], shape[2], 1)
    steps = (-strides[0], -strides[1], -1, 1, strides[1], strides[0])
    weights = _neighbour_weights(data, spacing, beta)
    deg = np.zeros(shape)
    for w in weights:                      # a column's sum, rows by ascending index (scipy's ones @ csr)
        deg += w
    flat = labels.ravel()
    unknown = flat == 0
    where = np.flatnonzero(unknown)
    pos = np.cumsum(unknown) - 1
    n = len(where)
    # each unknown's row: neighbours below, the diagonal, neighbours above (ascending column index)
    cols, vals, keep = [], [], []
    rhs = np.zeros((n, 2))
    for k, (step, w) in enumerate(zip(steps, weights)):
        if k == 3:
            cols.append(np.arange(n)), vals.append(-deg.ravel()[where]), keep.append(np.ones(n, bool))
        wu = w.ravel()[where]
        exists = wu != 0
        nb = np.where(exists, where + step, 0)
        lab = flat[nb]
        cols.append(pos[nb]), vals.append(wu), keep.append(exists & (lab == 0))
        for j in (0, 1):                   # skimage's B @ seeds: seeded neighbours' -weights by ascending index
            rhs[:, j] += np.where(exists & (lab == j + 1), -wu, 0.0)
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


def lesion_probability(data: np.ndarray, labels: np.ndarray, beta: float, spacing, iterative: bool, tol: float):
    """The probability that a walk from each voxel reaches a lesion seed first. ``iterative``: pyamg's
    multigrid-preconditioned CG (skimage's mode "cg_mg"), unsettled when a label's solve does not reach ``tol`` in
    30 iterations or leaves [0, 1], and then the direct solve (mode "bf") is returned."""
    if set(np.unique(labels).tolist()) != {0, 1, 2}:
        return _skimage(data, labels, beta, spacing, iterative, tol)
    lap, rhs = linear_system(np.atleast_3d(img_as_float(data)), labels, spacing, beta)
    if iterative:
        from pyamg import ruge_stuben_solver

        with warnings.catch_warnings(record=True) as caught:   # any warning of the solve unsettles it, as before
            warnings.simplefilter("always")
            m = ruge_stuben_solver(lap, coarse_solver="pinv").aspreconditioner(cycle="V")
            xs = []
            for j in (0, 1):   # the background's column too: skimage's result stands only when both settle
                xj, info = cg(lap, rhs[:, [j]], rtol=tol, atol=0, M=m, maxiter=CG_MAXITER)
                if info > 0 or xj.min() < -PROB_TOL or xj.max() > 1 + PROB_TOL:
                    break
                xs.append(xj)
        if len(xs) == 2 and not any(issubclass(w.category, UserWarning) for w in caught):
            return _full(xs[0], labels)
    return _full(spsolve(lap, rhs)[:, 0], labels)


def _skimage(data: np.ndarray, labels: np.ndarray, beta: float, spacing, iterative: bool, tol: float) -> np.ndarray:
    """skimage's random walker, its first probability (label 1's, or the only label's), with the same settling rule."""
    if iterative:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prob = random_walker(data, labels, beta=beta, mode="cg_mg", tol=tol, spacing=spacing, return_full_prob=True)[0]
        if not any(issubclass(w.category, UserWarning) for w in caught):
            return prob   # else not settled in skimage's 30 iterations: solved directly after all
    return random_walker(data, labels, beta=beta, mode="bf", spacing=spacing, return_full_prob=True)[0]
