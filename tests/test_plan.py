"""The planner against closed forms: beta, lambda_1, q, m*, batch and step size."""

import math

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose
from sklearn.metrics.pairwise import polynomial_kernel, rbf_kernel

from sklearn_interp._kernel import make_kernel
from sklearn_interp._plan import fold_in_step_size, numerical_floor, plan_fit
from sklearn_interp._points import LocalPoints
from sklearn_interp._spectrum import (
    RESOLUTION_FACTOR,
    SATURATION_DAMPING,
    critical_batch_size,
    optimal_step_size,
)

AUTO = {
    "n_components": "auto",
    "subsample_size": "auto",
    "batch_size": "auto",
    "step_size": "auto",
    "alpha": 0.0,
}


def _points(n=150, gamma=0.5, seed=0, kernel="rbf", **kernel_params):
    X = np.random.RandomState(seed).normal(size=(n, 3))
    return X, LocalPoints(X, make_kernel(kernel, gamma=gamma, **kernel_params))


def test_plain_plan_matches_the_formulas_on_the_whole_training_set(global_random_seed):
    # s = n (the automatic s for n <= 2000): the subsample eigenvalues are those of K/n.
    X, points = _points(seed=global_random_seed)
    n, alpha = len(X), 0.2
    plan = plan_fit(
        points,
        np.random.RandomState(global_random_seed),
        **{**AUTO, "n_components": 0, "alpha": alpha},
    )
    K = rbf_kernel(X, gamma=0.5)
    top = np.linalg.eigvalsh(K / n)[-1]
    assert plan.subsample_size == n
    assert plan.n_components == 0 and plan.preconditioner is None
    assert plan.beta == pytest.approx(1.0 + alpha)
    assert plan.top_eigenvalue == pytest.approx(top + alpha / n, rel=1e-10)
    m_star = (1.0 + alpha) / (top + alpha / n) + 1.0
    assert plan.critical_batch_size == pytest.approx(m_star, rel=1e-10)
    assert plan.batch_size == math.floor(m_star)
    # min(m / beta, 0.99 * 2m / (beta + (m - 1) lambda_1)): the batch sits just below
    # m*, where the damped saturation step can be the smaller.
    m, beta = plan.batch_size, 1.0 + alpha
    step = min(m / beta, SATURATION_DAMPING * 2 * m / (beta + (m - 1) * (top + alpha / n)))
    assert plan.step_size == pytest.approx(step, rel=1e-10)


def test_preconditioned_plan_is_consistent_with_its_operator(global_random_seed):
    X, points = _points(n=300, seed=global_random_seed)
    plan = plan_fit(points, np.random.RandomState(global_random_seed), **AUTO)
    pre = plan.preconditioner
    assert plan.n_components == len(pre.scale) > 0
    assert plan.preconditioned_beta == pytest.approx(pre.beta)
    assert plan.preconditioned_top_eigenvalue == pytest.approx(pre.top_eigenvalue)
    assert plan.critical_batch_size == pytest.approx(
        critical_batch_size(pre.beta, pre.top_eigenvalue)
    )
    # The preconditioner raises m* above the plain one, and the batch sits at m*.
    assert plan.critical_batch_size > critical_batch_size(plan.beta, plan.top_eigenvalue)
    assert plan.batch_size == min(math.floor(plan.critical_batch_size), len(X))
    assert plan.step_size == pytest.approx(
        optimal_step_size(plan.batch_size, pre.beta, pre.top_eigenvalue)
    )


def test_automatic_q_stays_above_the_resolution_floor():
    # A true subsample (s < n): the tail eigenvalue lambda_{q+1} is at least
    # RESOLUTION_FACTOR * beta / s, and the next one below it.
    _, points = _points(n=400, gamma=2.0)
    plan = plan_fit(points, np.random.RandomState(0), **{**AUTO, "subsample_size": 100})
    floor = RESOLUTION_FACTOR * 1.0 / 100
    q = plan.n_components
    assert plan.eigenvalues[q] >= floor
    assert q == len(plan.eigenvalues) - 1 or plan.eigenvalues[q + 1] < floor


def test_users_q_is_cut_at_the_numerical_floor():
    # A polynomial kernel of degree 1 on 3 features has rank 4: the user's q of 20
    # would flatten rounding noise.
    X, points = _points(kernel="polynomial", degree=1, coef0=1.0, gamma=1.0)
    plan = plan_fit(points, np.random.RandomState(0), **{**AUTO, "n_components": 20})
    K = polynomial_kernel(X, degree=1, coef0=1.0, gamma=1.0)
    floor = numerical_floor(np.linalg.eigvalsh(K / len(X))[-1], len(X), np.float64)
    assert plan.n_components <= 3
    assert plan.eigenvalues[plan.n_components] >= floor


def test_users_batch_and_step_are_kept_and_the_batch_clipped_to_n():
    X, points = _points(n=50)
    plan = plan_fit(
        points,
        np.random.RandomState(0),
        **{**AUTO, "batch_size": 10**6, "step_size": 0.25},
    )
    assert plan.batch_size == len(X)
    assert plan.step_size == 0.25


def test_automatic_batch_is_bounded_by_the_memory_budget():
    X, _ = _points(n=300)
    with sklearn.config_context(working_memory=300 * 8 * 2 * 7 / 2**20):
        points = LocalPoints(X, make_kernel("rbf", gamma=0.5))
        plan = plan_fit(points, np.random.RandomState(0), **AUTO)
    assert points.block_rows == 7
    assert plan.critical_batch_size > 7
    assert plan.batch_size == 7


def test_a_kernel_without_positive_diagonal_is_refused():
    X = np.zeros((20, 2))
    points = LocalPoints(X, make_kernel("linear"))
    with pytest.raises(ValueError, match="max_i k\\(x_i, x_i\\) is 0"):
        plan_fit(points, np.random.RandomState(0), **AUTO)


def test_a_subsample_over_the_budget_is_refused_before_allocation():
    _, points = _points(n=300)
    with (
        sklearn.config_context(working_memory=1),
        pytest.raises(ValueError, match="subsample_size=300"),
    ):
        plan_fit(points, np.random.RandomState(0), **{**AUTO, "subsample_size": 300})


def test_the_plan_depends_only_on_the_seed():
    _, points = _points(n=300)
    first = plan_fit(points, np.random.RandomState(5), **AUTO)
    second = plan_fit(points, np.random.RandomState(5), **AUTO)
    assert_allclose(first.eigenvalues, second.eigenvalues, rtol=0)
    assert first.batch_size == second.batch_size
    assert first.step_size == second.step_size


def test_fold_in_step_covers_the_new_rows(global_random_seed):
    # Planned on 200 rows, all of them the subsample: the preconditioner takes their
    # reduced diagonal k(x, x) - sum_i scale_i (K(x, X_S) u_i)^2 / s to nearly zero,
    # while 100 new rows keep most of their k(x, x) = 1. The fold-in step is the
    # optimal step of the plan's batch for beta_P over all 300 rows.
    X, points = _points(n=300, seed=global_random_seed)
    planned = LocalPoints(X[:200], points.kernel)
    plan = plan_fit(planned, np.random.RandomState(global_random_seed), **AUTO)
    pre = plan.preconditioner
    assert plan.subsample_size == 200 and plan.preconditioned_beta < 0.5
    X_subsample = X[:200][pre.subsample]
    K_new = rbf_kernel(X, X_subsample, gamma=0.5)
    reduced = 1.0 - ((K_new @ pre.eigvecs) ** 2 @ pre.scale) / 200
    beta = reduced.max()
    assert beta > 2 * plan.preconditioned_beta
    step = fold_in_step_size(plan, points, X_subsample, alpha=0.0)
    top = max(plan.preconditioned_top_eigenvalue, beta / 300)
    assert step == pytest.approx(optimal_step_size(plan.batch_size, beta, top), rel=1e-6)
    assert step < plan.step_size
    # Rows like the planned ones leave the step as it was.
    same = fold_in_step_size(plan, planned, X_subsample, alpha=0.0)
    assert same == pytest.approx(plan.step_size, rel=1e-6)
