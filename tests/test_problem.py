"""The fit problem: merging, weights and held-out rows, and coefficients carried from
the training rows' problem to the problem over all rows (the fold-in)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics.pairwise import rbf_kernel

from sklearn_interp._problem import fit_problem


def _data(seed=0):
    """12 rows, rows 1 and 7 identical, row 10 identical to row 3; two outputs."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(12, 3))
    X[7], X[10] = X[1], X[3]
    Y = rng.normal(size=(12, 2))
    weight = rng.uniform(0.5, 2.0, size=12)
    return X, Y, weight


def test_identical_rows_become_one_weighted_point():
    X, Y, weight = _data()
    problem = fit_problem(
        X, Y, None, weight, None, alpha=0.5, precomputed=False, scorer_rows=False
    )
    assert problem.X.shape == (10, 4)  # 10 distinct rows, and the sqrt(w) column
    point = problem.merged.rows[0]
    assert point[1] == point[7] and point[3] == point[10]
    summed = weight[1] + weight[7]
    assert_allclose(problem.scale[point[1]], np.sqrt(summed))
    mean = (weight[1] * Y[1] + weight[7] * Y[7]) / summed
    assert_allclose(problem.Y[point[1]], np.sqrt(summed) * mean)
    # a = S c
    coef = np.ones((10, 2))
    assert_allclose(problem.model_coefficients(coef), problem.scale[:, None] * coef)


def test_one_weight_for_all_is_the_ridge_fit_with_alpha_over_it():
    X, Y, _ = _data()
    X = X[:7]  # no identical rows, so every point keeps the weight 4
    Y = Y[:7]
    problem = fit_problem(
        X, Y, None, np.full(7, 4.0), None, alpha=2.0, precomputed=False, scorer_rows=False
    )
    assert problem.ridge == 0.5 and problem.scale is None


@pytest.mark.parametrize("weighted", [False, True])
def test_carried_coefficients_keep_the_function(weighted):
    """The training rows' model, carried to the problem over all rows (the held-out
    rows starting at zero), is the same function; row 10, held out, shares its point
    with the training row 3."""
    X, Y, weight = _data()
    weight = weight if weighted else None
    train, held_out = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8]), np.array([9, 10, 11])
    rows = np.union1d(train, held_out)
    settings = dict(alpha=0.5, precomputed=False, scorer_rows=False)
    fit = fit_problem(X, Y, np.zeros(12), weight, (train, held_out), **settings)
    full = fit_problem(X, Y, None, weight, (rows, None), **settings)
    assert fit.validation[0].shape[0] == 3
    coef = np.random.RandomState(1).normal(size=(fit.X.shape[0], 2))
    initial = fit.carry_coefficients(coef, full, train, rows)
    X_test = np.random.RandomState(2).normal(size=(5, 3))

    def function(problem, values, row_index):
        row_coef = problem.model_coefficients(values)
        row_coef = row_coef[problem.merged.rows[0]] * problem.merged.rows[1][:, None]
        return rbf_kernel(X_test, X[row_index]) @ row_coef

    assert_allclose(function(full, initial, rows), function(fit, coef, train))
    # The preconditioner's subsample: the same rows of the data.
    positions = np.array([0, 4, 6])
    carried = fit.carry_points(positions, full, train, rows)
    assert_array_equal(
        full.X[carried], fit.X[positions] if not weighted else full.X[carried]
    )
    assert_array_equal(full.X[carried][:, :3], fit.X[positions][:, :3])
