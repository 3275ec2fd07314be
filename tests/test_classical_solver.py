"""The random walker's solver choice: a system too big for a quick direct solve goes to multigrid-preconditioned
conjugate gradients (pyamg), which must give the direct solve's probabilities and mask, not a silent fallback; and
the directly assembled single system (segmentation.walker) gives skimage's random walker's direct-solve ("bf")
numbers to within the solvers' tolerance, on synthetic boxes and on the walks the backend runs on real nodules."""
import numpy as np
import pytest
from skimage.segmentation import random_walker

from segmentation import classical, walker


def _sphere_case(shape=(20, 40, 40), radius=9.0, seed=0):
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    d = np.sqrt(((z - shape[0] / 2) * 1.5) ** 2 + (y - shape[1] / 2) ** 2 + (x - shape[2] / 2) ** 2)
    data = np.clip((d < radius) + rng.normal(0, 0.15, shape), 0, 1).astype(np.float64)
    labels = np.zeros(shape, np.int32)
    labels[d < 2] = 1
    labels[d > radius + 4] = 2
    return data, labels


def test_pyamg_is_installed_so_cg_mg_is_not_a_silent_jacobi_fallback():
    import pyamg  # noqa: F401  (skimage falls back to cg_j with only a warning when it is missing)


def test_a_big_system_goes_iterative_and_matches_the_direct_solve():
    data, labels = _sphere_case()
    assert (labels == 0).sum() > classical.DIRECT_MAX_UNKNOWNS  # the iterative path is the one under test
    spacing = (1.5, 1.0, 1.0)
    ours = classical._walk(data, labels, spacing)
    direct = random_walker(data, labels, beta=classical.BETA, mode="bf", spacing=spacing, return_full_prob=True)[0]
    assert np.abs(ours - direct).max() < 1e-2
    assert np.array_equal(ours >= classical.PROB_LEVEL, direct >= classical.PROB_LEVEL)


def test_a_small_system_is_solved_directly(monkeypatch):
    data, labels = _sphere_case(shape=(8, 16, 16), radius=4.0)
    assert (labels == 0).sum() <= classical.DIRECT_MAX_UNKNOWNS
    monkeypatch.setattr(walker, "solve_multigrid_cg", lambda *a: pytest.fail("a small system went to CG"))
    direct = random_walker(data, labels, beta=classical.BETA, mode="bf", spacing=(1, 1, 1), return_full_prob=True)[0]
    assert np.abs(classical._walk(data, labels, (1, 1, 1)) - direct).max() < 1e-9


def test_an_unconverged_iterative_solve_falls_back_to_the_direct_one(monkeypatch):
    data, labels = _sphere_case()
    monkeypatch.setattr(classical, "ITERATIVE_TOL", 1e-30)   # unreachable in 30 iterations
    lap, rhs = walker.linear_system(data, labels.astype(np.int8), (1, 1, 1), classical.BETA)
    assert walker.solve_multigrid_cg(lap, rhs, 1e-30) is None
    ours = classical._walk(data, labels, (1, 1, 1))
    assert np.array_equal(ours[labels == 0], walker.solve_direct(lap, rhs))
    direct = random_walker(data, labels, beta=classical.BETA, mode="bf", spacing=(1, 1, 1), return_full_prob=True)[0]
    assert np.abs(ours - direct).max() < 1e-6   # two exact solves, orderings apart: the conditioning


def test_per_prompt_backends_run_blas_on_one_thread_and_give_the_setting_back():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen = []

    class Probe(classical.PerPromptSegmenter):
        def segment(self, hu, spacing_mm, prompt):
            seen.append(blas_threads())
            return prompt

    with threadpool_limits(limits=2, user_api="blas"):   # what a 2-core worker starts with
        assert blas_threads() == {2}
        assert Probe().segment_many(np.zeros((2, 4, 4)), (1.0, 1.0, 1.0), ["a", "b"]) == ["a", "b"]
        assert seen == [{1}, {1}]
        assert blas_threads() == {2}


@pytest.mark.parametrize("shape, radius, spacing, dtype, mode", [
    ((8, 16, 16), 4.0, (1.0, 1.0, 1.0), np.float64, "bf"),
    ((7, 15, 18), 4.0, (2.5, 0.7, 0.8), np.float32, "bf"),
    ((20, 40, 40), 9.0, (1.5, 1.0, 1.0), np.float32, "cg_mg"),
    ((20, 40, 40), 9.0, (1.0, 0.6, 0.6), np.float64, "cg_mg"),
])
def test_the_single_assembled_system_gives_skimages_direct_probabilities(shape, radius, spacing, dtype, mode):
    """One system (the lesion's; the background's probability is one minus it) instead of skimage's two, solved
    directly in a symmetric ordering or by multigrid CG: skimage's two-label direct solve to 1e-6 resp. 1e-4."""
    data, labels = _sphere_case(shape, radius)
    data, labels = data.astype(dtype), labels.astype(np.int8)
    ours = walker.lesion_probability(data, labels, classical.BETA, spacing, mode == "cg_mg", classical.ITERATIVE_TOL)
    bf = random_walker(data, labels, beta=classical.BETA, mode="bf", spacing=spacing, return_full_prob=True)[0]
    assert ours.dtype == bf.dtype and np.abs(ours - bf).max() < (1e-4 if mode == "cg_mg" else 1e-6)
    assert np.array_equal(ours >= classical.PROB_LEVEL, bf >= classical.PROB_LEVEL)


def _backend_walk(monkeypatch, name: str, kind: str, folder):
    """(data, labels, spacing, iterative): the walk the backend runs for the evaluation's prompt on a real crop."""
    from real_ct import evaluation_prompt

    seen = []
    solve = classical.lesion_probability
    monkeypatch.setattr(classical, "lesion_probability", lambda d, lab, b, sp, it, tol: seen.append((d, lab, sp, it)) or solve(d, lab, b, sp, it, tol))
    hu, _, spacing, prompt = evaluation_prompt(name, kind, folder)
    classical.ClassicalSegmenter().segment(hu, spacing, prompt)
    monkeypatch.undo()
    return seen[0]


@pytest.mark.parametrize("name, kind, folder, iterative, tol", [
    ("LIDC-IDRI-0014_R_1", "line", "lidc_nodules", False, 1e-6),   # 2,445 unknowns
    ("LIDC-IDRI-0493_R_2", "box", "lidc_large", True, 1e-5),       # 16,831 unknowns (skimage's own CG: 1.7e-5)
])
def test_real_nodules_walks_agree_with_skimages_direct_solve(monkeypatch, name, kind, folder, iterative, tol):
    from real_ct import DATA

    data, labels, spacing, it = _backend_walk(monkeypatch, name, kind, DATA / folder)
    assert it == iterative   # the solver path under test
    ours = walker.lesion_probability(data, labels, classical.BETA, spacing, it, classical.ITERATIVE_TOL)
    bf = random_walker(data, labels, beta=classical.BETA, mode="bf", spacing=spacing, return_full_prob=True)[0]
    assert np.abs(ours - bf).max() < tol
    assert np.array_equal(ours >= classical.PROB_LEVEL, bf >= classical.PROB_LEVEL)


def test_a_label_set_without_lesion_seeds_is_left_to_skimage():
    data, labels = _sphere_case(shape=(8, 16, 16), radius=4.0)
    labels[labels == 1] = 0   # e.g. a coarse grid that lost the few lesion seeds: skimage's only label is 2
    ours = walker.lesion_probability(data, labels, classical.BETA, (1, 1, 1), False, classical.ITERATIVE_TOL)
    theirs = random_walker(data, labels, beta=classical.BETA, mode="bf", spacing=(1, 1, 1), return_full_prob=True)[0]
    assert np.array_equal(ours, theirs)


def test_a_coarse_grid_keeps_every_lesion_seed():
    """A box over MAX_SOLVE_VOXELS is solved on a coarser grid; nearest-neighbour sampling of the labels dropped the
    few seed voxels on the prompt slice, and the walk then had no lesion seed at all (its only label's probability,
    the background's, read as the lesion's: everything lesion-like inside the bound became the mask)."""
    labels = np.zeros((31, 80, 80), np.int8)
    labels[:, :, :10] = 2
    labels[15, 39:42, 39:42] = 1
    coarse = classical._coarse_labels(labels, (12, 31, 31))
    assert (coarse == 1).any() and (coarse == 2).any()
    assert (coarse == 1).sum() <= 4


def test_a_real_nodule_over_20_mm_keeps_its_seeds_on_the_coarse_grid():
    """LIDC-IDRI-0493_R_2 (real CT, > 20 mm): the evaluation's box prompt gives a box over MAX_SOLVE_VOXELS. With its
    seeds dropped by the coarse grid the mask was everything lesion-like in the bound (Dice 0.61); kept, 0.88."""
    from real_ct import DATA, evaluation_prompt
    from segmentation.evaluate import dice

    hu, truth, spacing, box = evaluation_prompt("LIDC-IDRI-0493_R_2", "box", DATA / "lidc_large")
    assert dice(classical.ClassicalSegmenter().segment(hu, spacing, box).mask, truth) >= 0.8


def test_the_multigrid_solve_is_the_same_whatever_numpys_global_generator_holds(monkeypatch):
    """pyamg's PMISc splitting draws from numpy's global generator: unseeded, a real nodule's probabilities differed
    from run to run (1e-5) and a mask or score now and then with them (table bytes, kill -9 resume, Ray = local).
    The set-up runs on a fixed state, and the caller's generator state is given back unchanged."""
    from real_ct import DATA

    data, labels, spacing, it = _backend_walk(monkeypatch, "LIDC-IDRI-0493_R_2", "box", DATA / "lidc_large")
    assert it   # the multigrid path is the one under test
    runs = []
    for seed in (1, 2, 3):
        np.random.seed(seed)
        before = np.random.get_state()[1].copy()
        runs.append(walker.lesion_probability(data, labels, classical.BETA, spacing, it, classical.ITERATIVE_TOL))
        assert np.array_equal(np.random.get_state()[1], before)
    assert all(r.tobytes() == runs[0].tobytes() for r in runs[1:])


def test_pyamgs_printf_does_not_reach_a_piped_stdout():
    """pyamg's C++ interpolation printf()s into C's stdout buffer; with stdout a pipe that buffer was flushed only
    after file descriptor 1 was given back, so the message reached the log after all."""
    import subprocess
    import sys

    code = ("import ctypes; from segmentation import walker\n"
            "with walker._pyamg_setup_guard():\n"
            "    ctypes.CDLL(None).printf(b'printed inside\\n')\n"
            "print('after', flush=True)\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONUNBUFFERED"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out == "after\n"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_unknowns_rows_are_skimages_linear_system_bit_for_bit(dtype):
    from skimage.segmentation.random_walker_segmentation import _build_linear_system

    for shape, radius, spacing in (((20, 40, 40), 9.0, (1.5, 1.0, 1.0)), ((8, 16, 16), 4.0, (2.5, 0.7, 0.8))):
        data, labels = _sphere_case(shape, radius)
        data = data.astype(dtype)
        lap, rhs = walker.linear_system(data, labels, spacing, classical.BETA)
        want, b = _build_linear_system(data[..., np.newaxis], np.asarray(spacing), labels, 2, None, classical.BETA, False)
        want = want.tocsr()
        want.sort_indices()
        assert np.array_equal(lap.indptr, want.indptr) and np.array_equal(lap.indices, want.indices)
        assert lap.data.tobytes() == want.data.tobytes()
        assert rhs.tobytes() == b.toarray()[:, 0].tobytes()


def test_the_lean_multigrid_is_pyamgs_hierarchy_and_preconditioned_cg_bit_for_bit():
    from pyamg import ruge_stuben_solver
    from scipy.sparse.linalg import cg

    from segmentation.multigrid import classical_hierarchy, v_cycle_preconditioner

    def same(a, b):
        return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("indptr", "indices")) \
            and a.shape == b.shape and a.data.tobytes() == b.data.tobytes()

    data, labels = _sphere_case()
    lap, rhs = walker.linear_system(data, labels, (1.5, 1.0, 1.0), classical.BETA)
    with walker._pyamg_setup_guard():
        ml = ruge_stuben_solver(lap, CF="PMISc", coarse_solver="pinv")
    with walker._pyamg_setup_guard():
        ours = classical_hierarchy(lap)
    assert len(ml.levels) == len(ours.levels) > 2   # intermediate levels, not only the coarse solve
    assert all(same(a.A, b.A) for a, b in zip(ml.levels, ours.levels))
    assert all(same(a.P, b.P) and same(a.R, b.R) for a, b in zip(ml.levels[:-1], ours.levels[:-1]))
    want, info = cg(lap, rhs, rtol=classical.ITERATIVE_TOL, atol=0, M=ml.aspreconditioner(cycle="V"), maxiter=30)
    got, got_info = cg(lap, rhs, rtol=classical.ITERATIVE_TOL, atol=0, M=v_cycle_preconditioner(ours), maxiter=30)
    assert info == got_info == 0 and got.tobytes() == want.tobytes()
