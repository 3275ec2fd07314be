"""When multigrid CG does not settle, the walk's probabilities are the direct solve's, never CG's unsettled ones:
a multigrid set-up that fails on a degenerate coarse level, CG out of iterations, a non-finite or out-of-range
result, or a warning from either. Each case is forced on a real-size system and compared with the direct solve."""
import warnings

import numpy as np
import pytest

from segmentation import multigrid, walker

BETA, TOL, SPACING = 1500.0, 1e-7, (1.5, 1.0, 1.0)


def _system():
    rng = np.random.default_rng(3)
    shape = (12, 30, 30)
    z, y, x = np.indices(shape)
    d = np.sqrt(((z - 6) * 1.5) ** 2 + (y - 15) ** 2 + (x - 15) ** 2)
    data = np.clip((d < 8) + rng.normal(0, 0.15, shape), 0, 1)
    labels = np.zeros(shape, np.int32)
    labels[d < 2] = 1
    labels[d > 12] = 2
    return data, labels


@pytest.fixture(scope="module")
def direct():
    data, labels = _system()
    return walker.lesion_probability(data, labels, BETA, SPACING, iterative=False, tol=TOL)


def _failing_setup(*a, **k):
    raise np.linalg.LinAlgError("singular coarse level")


def _warns(real):
    def solver(*a, **k):
        warnings.warn("coarse grid solve inaccurate", UserWarning)
        return real(*a, **k)
    return solver


def _cg_result(x_of):
    def fake_cg(lap, rhs, **k):
        return x_of(rhs), 0
    return fake_cg


@pytest.mark.parametrize("case", ["setup_fails", "not_settled", "nan", "out_of_range", "warning"])
def test_an_unsettled_multigrid_solve_falls_back_to_the_direct_solve(monkeypatch, direct, case):
    data, labels = _system()
    lap, rhs = walker.linear_system(np.atleast_3d(data.astype(np.float64)), labels, SPACING, BETA)
    unforced = walker.lesion_probability(data, labels, BETA, SPACING, iterative=True, tol=TOL)
    assert not np.array_equal(unforced, direct)   # unforced, CG settles here: its result is not the direct one
    if case == "setup_fails":
        monkeypatch.setattr(multigrid, "classical_hierarchy", _failing_setup)
    elif case == "not_settled":
        monkeypatch.setattr(walker, "cg", lambda lap, rhs, **k: (np.full_like(rhs, 0.5), 30))
    elif case == "nan":
        monkeypatch.setattr(walker, "cg", _cg_result(lambda rhs: np.full_like(rhs, np.nan)))
    elif case == "out_of_range":
        monkeypatch.setattr(walker, "cg", _cg_result(lambda rhs: np.full_like(rhs, 1.2)))
    else:
        monkeypatch.setattr(multigrid, "classical_hierarchy", _warns(multigrid.classical_hierarchy))
    assert walker.solve_multigrid_cg(lap, rhs, TOL) is None
    prob = walker.lesion_probability(data, labels, BETA, SPACING, iterative=True, tol=TOL)
    np.testing.assert_array_equal(prob, direct)
