"""The SGD solver against closed forms: the exact interpolant and KernelRidge."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics.pairwise import rbf_kernel

from sklearn_interp import _evaluator, _parallel
from sklearn_interp._kernel import make_kernel
from sklearn_interp._points import LocalPoints, sgd_fit
from sklearn_interp._solver import (
    MAX_BACKOFFS,
    MAX_STALLS,
    ROUNDING_FLOOR_FACTOR,
    STALL_WINDOW,
    _stalls,
    rounding_floor,
)
from sklearn_interp._spectrum import (
    critical_batch_size,
    eigenpro_preconditioner,
    optimal_step_size,
    subsample_eigenpairs,
)

GAMMA = 8.0
# Coefficients of a converged fit (relative residual 1e-24) agree with the closed form
# to about sqrt(1e-24) times the condition number of K (below 100 here).
COEF_RTOL = 1e-8


def _with_kernel_matrix(grid_problem):
    X, Y, _, gamma = grid_problem
    assert gamma == GAMMA
    return X, Y, rbf_kernel(X, gamma=GAMMA)


@pytest.fixture
def problem(grid_problem):
    """``(X, Y, K)`` of the shared jittered 8 x 8 grid (cond(K) < 100), seed 0."""
    return _with_kernel_matrix(grid_problem)


@pytest.fixture
def seeded_problem(make_grid_problem, global_random_seed):
    """``(X, Y, K)`` of the jittered 8 x 8 grid drawn with each global random seed."""
    return _with_kernel_matrix(make_grid_problem(global_random_seed))


def _plain_settings(K, batch_size):
    n = len(K)
    beta = np.max(np.diag(K))
    top = np.linalg.eigvalsh(K / n)[-1]
    return {"batch_size": batch_size, "step_size": optimal_step_size(batch_size, beta, top)}


def _preconditioner(X, q, shift=0.0):
    kernel = make_kernel("rbf", gamma=GAMMA)
    eigvals, eigvecs = subsample_eigenpairs(kernel, X, q + 1)
    return eigenpro_preconditioner(
        LocalPoints(X, kernel),
        np.arange(len(X)),
        eigvals=eigvals,
        eigvecs=eigvecs,
        n_components=q,
        shift=shift,
    )


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_plain_sgd_converges_to_the_exact_interpolant(
    seeded_problem, global_random_seed, batch_size
):
    X, Y, K = seeded_problem
    result = sgd_fit(
        X,
        Y,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(global_random_seed),
        **_plain_settings(K, batch_size),
        max_iter=2000,
        tol=1e-24,
    )
    assert result.converged
    assert_allclose(result.coef, np.linalg.solve(K, Y), rtol=COEF_RTOL, atol=1e-10)


def test_preconditioned_sgd_converges_to_the_same_interpolant(
    seeded_problem, global_random_seed
):
    X, Y, K = seeded_problem
    pre = _preconditioner(X, q=5)
    m_star = critical_batch_size(pre.beta, pre.top_eigenvalue)
    batch_size = int(m_star)
    result = sgd_fit(
        X,
        Y,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(global_random_seed),
        batch_size=batch_size,
        step_size=optimal_step_size(batch_size, pre.beta, pre.top_eigenvalue),
        preconditioner=pre,
        max_iter=2000,
        tol=1e-24,
    )
    assert result.converged
    assert_allclose(result.coef, np.linalg.solve(K, Y), rtol=COEF_RTOL, atol=1e-10)


@pytest.mark.parametrize("preconditioned", [False, True])
def test_ridge_converges_to_kernel_ridge_solution(
    seeded_problem, global_random_seed, preconditioned
):
    X, Y, K = seeded_problem
    n, alpha = len(X), 0.7
    beta = 1.0 + alpha
    pre = _preconditioner(X, q=5, shift=alpha / n) if preconditioned else None
    top = pre.top_eigenvalue if pre else np.linalg.eigvalsh(K / n)[-1] + alpha / n
    beta = (pre.beta if pre else 1.0) + alpha
    batch_size = int(critical_batch_size(beta, top))
    result = sgd_fit(
        X,
        Y,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(global_random_seed),
        batch_size=batch_size,
        step_size=optimal_step_size(batch_size, beta, top),
        alpha=alpha,
        preconditioner=pre,
        max_iter=2000,
        tol=1e-24,
    )
    expected = np.linalg.solve(K + alpha * np.eye(n), Y)
    assert_allclose(result.coef, expected, rtol=COEF_RTOL, atol=1e-10)


def test_convergence_curve_starts_at_the_zero_function_and_reaches_tol(problem):
    X, Y, K = problem
    result = sgd_fit(
        X,
        Y,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(0),
        **_plain_settings(K, 4),
        max_iter=500,
        tol=1e-6,
    )
    curve = result.convergence_curve
    assert curve[0] == pytest.approx(np.mean(np.sum(Y**2, axis=1)))
    assert len(curve) == result.n_iter + 1
    assert curve[-1] <= 1e-6 * curve[0] < curve[-2]
    # The running estimate is an average over the epoch, so it is at least the exact
    # residual of the final coefficients (the residuals shrink during the epoch).
    exact = np.mean(np.sum((K @ result.coef - Y) ** 2, axis=1))
    assert exact <= curve[-1]


def test_batches_evaluated_in_blocks_give_the_same_iterates(problem):
    X, Y, K = problem
    kwargs = {**_plain_settings(K, 20), "max_iter": 5, "tol": 0.0}
    kernel = make_kernel("rbf", gamma=GAMMA)
    whole = sgd_fit(X, Y, kernel, np.random.RandomState(3), **kwargs)
    blocked = sgd_fit(X, Y, kernel, np.random.RandomState(3), block_rows=3, **kwargs)
    assert_allclose(blocked.coef, whole.coef, rtol=1e-12, atol=1e-14)


def test_pieces_computed_in_chunks_give_the_same_iterates(problem, monkeypatch):
    # Every batch split over the threads, and each thread's piece into chunks of 3 rows
    # in its reused buffer, with the exact diagonal, a ridge term and a preconditioner
    # (whose projection sums over the chunks): the iterates of whole pieces.
    X, Y, K = problem
    kernel = make_kernel("rbf", gamma=GAMMA)
    kwargs = {
        **_plain_settings(K, 20),
        "alpha": 0.1,
        "preconditioner": _preconditioner(X, 4, shift=0.1 / len(X)),
        "max_iter": 5,
        "tol": 0.0,
    }
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_ENTRIES", 0)
    whole = sgd_fit(X, Y, kernel, np.random.RandomState(3), **kwargs)
    monkeypatch.setattr(_parallel, "MIN_CHUNK_ROWS", 1)
    monkeypatch.setattr(_parallel, "CHUNK_ENTRIES", 3 * len(X))
    chunked = sgd_fit(X, Y, kernel, np.random.RandomState(3), **kwargs)
    assert np.all(np.isfinite(whole.coef)) and whole.n_backoffs == 0
    assert_allclose(chunked.coef, whole.coef, rtol=1e-12, atol=1e-14)
    assert_allclose(chunked.convergence_curve, whole.convergence_curve, rtol=1e-12)


@pytest.mark.parametrize("name, buffered", [("rbf", True), ("laplacian", False)])
def test_kernel_buffers_only_for_kernels_that_fill_them(problem, name, buffered):
    # A kernel that allocates its own blocks gets no buffer, which would take its
    # share of the memory budget for nothing.
    X, Y, _ = problem
    kernel = make_kernel(name, gamma=GAMMA)
    evaluator = _evaluator.LocalEvaluator(
        X,
        Y,
        kernel,
        diagonal=kernel.diagonal(X),
        alpha=0.0,
        n_subsample=0,
        block_rows=20,
        pool=None,
        n_threads=2,
    )
    assert [buffer is not None for buffer in evaluator.buffers] == [buffered] * 2
    residual, _ = evaluator.residuals(np.arange(5, 25))
    assert_allclose(residual, -Y[5:25])  # zero coefficients


def test_same_seed_same_coefficients(seeded_problem, global_random_seed):
    X, Y, K = seeded_problem
    kernel = make_kernel("rbf", gamma=GAMMA)
    kwargs = {**_plain_settings(K, 5), "max_iter": 3, "tol": 0.0}
    first = sgd_fit(X, Y, kernel, np.random.RandomState(global_random_seed), **kwargs)
    second = sgd_fit(X, Y, kernel, np.random.RandomState(global_random_seed), **kwargs)
    assert_array_equal(first.coef, second.coef)


def test_diverging_step_size_backs_off_and_still_converges(problem):
    X, Y, K = problem
    settings = _plain_settings(K, 10)
    result = sgd_fit(
        X,
        Y,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(0),
        batch_size=10,
        step_size=50 * settings["step_size"],
        max_iter=500,
        tol=1e-12,
    )
    assert result.n_backoffs >= 1
    assert result.converged
    assert np.all(np.isfinite(result.convergence_curve))
    assert_allclose(result.coef, np.linalg.solve(K, Y), rtol=1e-4, atol=1e-6)


def test_hopeless_step_size_gives_up_with_finite_coefficients(problem):
    X, Y, _ = problem
    result = sgd_fit(
        X,
        Y,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(0),
        batch_size=10,
        step_size=1e12,
        max_iter=200,
        tol=1e-12,
    )
    assert not result.converged
    assert result.n_backoffs == MAX_BACKOFFS + 1
    assert np.all(np.isfinite(result.coef))
    # The coefficients returned are the last good ones: the zero function here.
    assert result.convergence_curve[-1] <= result.convergence_curve[0]


def test_float32_blocks_converge_close_to_float64(problem):
    X, Y, K = problem
    result = sgd_fit(
        X.astype(np.float32),
        Y,
        make_kernel("rbf", gamma=GAMMA, dtype=np.float32),
        np.random.RandomState(0),
        **_plain_settings(K, 10),
        max_iter=500,
        tol=1e-10,
    )
    assert result.coef.dtype == np.float64
    assert_allclose(K @ result.coef, Y, atol=1e-4)


def test_tol_zero_stops_at_the_rounding_floor_without_backoffs(problem):
    # tol=0 drives the residual to float64's floor; rounding noise there is neither
    # divergence nor a reason to halve the step, and the fit counts as converged.
    X, Y, K = problem
    result = sgd_fit(
        X,
        Y,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(0),
        **_plain_settings(K, 10),
        max_iter=2000,
        tol=0.0,
    )
    curve = result.convergence_curve
    assert result.converged
    assert result.n_backoffs == 0 and result.n_stalls == 0
    assert curve[-1] <= rounding_floor(curve[0], np.float64)
    assert_allclose(result.coef, np.linalg.solve(K, Y), rtol=COEF_RTOL)


def test_rounding_floor_is_relative_to_the_targets():
    eps = np.finfo(np.float64).eps
    assert rounding_floor(4.0, np.float64) == pytest.approx(
        4.0 * (ROUNDING_FLOOR_FACTOR * eps) ** 2
    )
    assert rounding_floor(1.0, np.float32) > rounding_floor(1.0, np.float64)


def test_inconsistent_system_stalls_halves_the_step_and_stops(problem):
    # Duplicate points with different targets: no interpolant exists, and SGD hovers
    # around the least-squares solution, closer the smaller the step. The stall rule
    # halves the step MAX_STALLS times and then stops; the predictions on the
    # duplicates approach the least-squares ones, their targets' mean.
    X, Y, _ = problem
    X2 = np.vstack([X, X])
    spread = np.where(np.arange(len(X)) % 2, 1.0, -1.0)[:, np.newaxis]
    Y2 = np.vstack([Y - spread, Y + spread])
    K2 = rbf_kernel(X2, gamma=GAMMA)
    result = sgd_fit(
        X2,
        Y2,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(0),
        **_plain_settings(K2, 8),
        max_iter=1000,
        tol=1e-8,
    )
    assert not result.converged
    assert result.stalled and result.n_stalls == MAX_STALLS
    assert result.n_backoffs == 0
    assert result.n_iter >= (MAX_STALLS + 1) * STALL_WINDOW
    least_squares = K2 @ np.linalg.lstsq(K2, Y2, rcond=None)[0]
    assert_allclose(least_squares[: len(X)], Y, atol=1e-6)  # the targets' mean
    # The step ends at 2^-10 of the first: the noise around the least-squares fit is a
    # few percent of the targets' spread of 1 on the duplicates.
    assert_allclose(K2 @ result.coef, least_squares, atol=0.05)


def test_healthy_fits_do_not_stall(seeded_problem, global_random_seed):
    X, Y, K = seeded_problem
    result = sgd_fit(
        X,
        Y,
        make_kernel("rbf", gamma=GAMMA),
        np.random.RandomState(global_random_seed),
        **_plain_settings(K, 1),
        max_iter=500,
        tol=1e-20,
    )
    assert result.converged and result.n_stalls == 0 and result.n_backoffs == 0


def test_stall_rule_needs_a_hovering_or_flat_window():
    hovering = [1.0, 0.5, 0.30, 0.31, 0.305, 0.302, 0.30, 0.303]
    flat = [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    # Falls by 0.1% an epoch: too slowly to gain 1% in the window, but every epoch.
    steady = [0.999**epoch for epoch in range(12)]
    assert _stalls(hovering, last_step_change=0)
    assert _stalls(flat, last_step_change=0)
    assert not _stalls(steady, last_step_change=0)
    # A window that overlaps the last change of step size is not judged yet.
    assert not _stalls(hovering, last_step_change=len(hovering) - STALL_WINDOW)
