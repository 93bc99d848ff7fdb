"""Closed-form rules of Ma, Bassily and Belkin (2018) and the EigenPro preconditioner."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics.pairwise import rbf_kernel

from sklearn_interp import _spectrum as spectrum
from sklearn_interp._kernel import make_kernel
from sklearn_interp._points import LocalPoints
from sklearn_interp._spectrum import (
    EIGENVALUE_RATIO_POWER,
    SATURATION_DAMPING,
    choose_n_components,
    critical_batch_size,
    damped_top_eigenvalue,
    eigenpro_preconditioner,
    optimal_step_size,
    subsample_eigenpairs,
)


def test_critical_batch_size_formula():
    # m* = beta / lambda_1 + 1, not lambda_1 / beta.
    assert critical_batch_size(2.0, 0.5) == 5.0
    # lambda_1 <= beta always, so m* >= 2 with lambda_1 = beta the extreme case.
    assert critical_batch_size(1.0, 1.0) == 2.0


@pytest.mark.parametrize("beta", [0.5, 1.0, 3.0])
def test_step_size_for_single_point_is_kaczmarz(beta):
    assert optimal_step_size(1, beta, 0.1 * beta) == pytest.approx(1.0 / beta)


def test_step_size_linear_regime():
    beta, top = 2.0, 0.1  # m* = 21; m / beta holds up to 0.98 (m* - 1) + 1 = 20.6
    for m in [1, 5, 20]:
        assert optimal_step_size(m, beta, top) == pytest.approx(m / beta)


def test_step_size_saturation_regime():
    beta, top = 2.0, 0.1  # m* = 21
    for m in [21, 22, 50, 1000]:
        expected = SATURATION_DAMPING * 2 * m / (beta + (m - 1) * top)
        assert optimal_step_size(m, beta, top) == pytest.approx(expected)


def test_step_size_is_damped_at_the_critical_batch_size():
    # At m = m* both undamped expressions equal m* / beta, the edge of stability; the
    # rule takes the damped one on both sides of m*, so it is continuous there.
    beta, top = 1.0, 0.25  # m* = 5 exactly
    m_star = critical_batch_size(beta, top)
    undamped_saturation = 2 * m_star / (beta + (m_star - 1) * top)
    assert undamped_saturation == pytest.approx(m_star / beta)
    for m in [m_star - 1e-9, m_star, m_star + 1e-9]:
        assert optimal_step_size(m, beta, top) == pytest.approx(
            SATURATION_DAMPING * m_star / beta
        )


@pytest.mark.parametrize("beta", [1.0, 0.3, 7.0])
@pytest.mark.parametrize("rounding", [0.0, -1.0, 1.0])
def test_step_size_is_off_the_edge_when_all_kernel_entries_are_equal(beta, rounding):
    # K = beta * ones: lambda_1 = beta, m* = 2, and with a batch of m each step moves
    # the common prediction c to c - eta beta (c - mean(y_B)): eta = 2 / beta reflects
    # it for ever. Rounding of lambda_1 (0.9999999999999999 for beta = 1) must not
    # decide the branch.
    top = beta * (1.0 + rounding * np.finfo(float).eps)
    for m in [1, 2, 3, 10]:
        factor = 1.0 - optimal_step_size(m, beta, top) * beta
        assert abs(factor) <= 1.0 - 2.0 * (1.0 - SATURATION_DAMPING) + 1e-12


def test_step_size_saturates_towards_full_gradient_step():
    # For m >> m*, eta -> 2 / lambda_1 (damped): one step is worth one GD step.
    beta, top = 1.0, 0.01
    assert optimal_step_size(10**9, beta, top) == pytest.approx(
        SATURATION_DAMPING * 2 / top, rel=1e-6
    )


def test_critical_batch_size_and_step_size_for_random_spectra(global_random_seed):
    rng = np.random.RandomState(global_random_seed)
    beta = rng.uniform(0.1, 10.0)
    top = beta * rng.uniform(1e-4, 1.0)  # 0 < lambda_1 <= beta
    m_star = critical_batch_size(beta, top)
    assert m_star == pytest.approx(beta / top + 1)
    for m in rng.randint(1, int(10 * m_star) + 2, size=20):
        step = optimal_step_size(m, beta, top)
        saturation = SATURATION_DAMPING * 2 * m / (beta + (m - 1) * top)
        if m <= (2 * SATURATION_DAMPING - 1) * (m_star - 1) + 1:
            expected = m / beta  # linear scaling, clear of m*
        else:  # near or beyond m*: the damped saturation step
            expected = saturation
        assert step == pytest.approx(expected)
        # Never on the edge of stability of either regime.
        assert step <= saturation * (1 + 1e-12) and step <= m / beta * (1 + 1e-12)


def test_subsample_eigenpairs_match_eigvalsh_when_subsample_is_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    kernel = make_kernel("rbf", gamma=0.5)
    eigvals, eigvecs = subsample_eigenpairs(kernel, X, 10)
    expected = np.linalg.eigvalsh(rbf_kernel(X, gamma=0.5) / 60)[::-1][:10]
    assert_allclose(eigvals, expected, rtol=1e-10)
    gram = rbf_kernel(X, gamma=0.5) / 60
    assert_allclose(gram @ eigvecs, eigvecs * eigvals, atol=1e-10)


def test_float32_subsample_eigenpairs_are_float64_arrays_within_the_float32_floor():
    # A float32 kernel gives a float32 eigendecomposition (half the time of float64),
    # returned as float64 arrays; its eigenvalues sit within the float32 numerical
    # floor of _plan.numerical_floor (10 eps32 lambda_1) of the float64 ones.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5))
    eigvals, eigvecs = subsample_eigenpairs(make_kernel("rbf", dtype=np.float32), X, 40)
    expected, expected_vecs = subsample_eigenpairs(make_kernel("rbf"), X, 40)
    assert eigvals.dtype == eigvecs.dtype == np.float64
    floor = 10 * np.finfo(np.float32).eps * expected[0]
    assert np.max(np.abs(eigvals - expected)) <= floor
    assert_allclose(eigvecs.T @ eigvecs, np.eye(40), atol=1e-5)
    # The well-separated top directions agree up to sign.
    assert_allclose(
        np.abs(np.sum(eigvecs[:, :3] * expected_vecs[:, :3], axis=0)), 1.0, atol=1e-4
    )


def test_damped_top_eigenvalue():
    eigvals = np.array([1.0, 0.1, 0.01])
    assert damped_top_eigenvalue(eigvals, 0) == 1.0
    p = EIGENVALUE_RATIO_POWER
    assert damped_top_eigenvalue(eigvals, 2) == pytest.approx(0.01**p)
    assert damped_top_eigenvalue(eigvals, 2, shift=0.5) == pytest.approx(
        1.5 * (0.51 / 1.5) ** p
    )


def test_choose_n_components_stops_at_resolution_floor():
    eigvals = np.array([1.0, 0.5, 0.1, 0.02, 0.0])
    assert choose_n_components(eigvals, 0.05) == 2
    assert choose_n_components(eigvals, 0.0) == 3  # a zero tail is never trusted
    assert choose_n_components(eigvals, 2.0) == 0
    assert choose_n_components(eigvals[:4], 0.0) == 3


def _full_problem(n=80, gamma=0.5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 2))
    kernel = make_kernel("rbf", gamma=gamma)
    return X, kernel, rbf_kernel(X, gamma=gamma)


def test_preconditioner_on_full_subsample_flattens_the_spectrum():
    """With S = all points, P(K + alpha I)/n has the damped spectrum of the docstring."""
    X, kernel, K = _full_problem()
    n, q, alpha = len(X), 6, 0.3
    eigvals, eigvecs = subsample_eigenpairs(kernel, X, q + 1)
    shift = alpha / n
    pre = eigenpro_preconditioner(
        LocalPoints(X, kernel, block_rows=16),
        np.arange(n),
        eigvals=eigvals,
        eigvecs=eigvecs,
        n_components=q,
        shift=shift,
    )
    # P g = g - (1/s) U diag(scale) U^T K g in coefficient space.
    U = pre.eigvecs
    P = np.eye(n) - U @ np.diag(pre.scale) @ U.T @ K / n
    spectrum = np.sort(np.linalg.eigvals(P @ (K + alpha * np.eye(n)) / n).real)[::-1]
    assert spectrum[0] == pytest.approx(pre.top_eigenvalue, rel=1e-8)
    assert spectrum[0] < eigvals[q - 1]  # the top q directions are gone
    # The directions not flattened keep their eigenvalues lambda_i + alpha / n.
    full = np.linalg.eigvalsh(K / n)[::-1]
    assert_allclose(np.sort(spectrum)[::-1][q : q + 5], full[q : q + 5] + shift, rtol=1e-8)


def test_preconditioned_beta_matches_its_formula_over_all_points():
    X, kernel, K = _full_problem(n=120)
    s, q = 40, 5
    subsample = np.random.RandomState(1).choice(len(X), s, replace=False)
    eigvals, eigvecs = subsample_eigenpairs(kernel, X[subsample], q + 1)
    pre = eigenpro_preconditioner(
        LocalPoints(X, kernel, block_rows=7),
        subsample,
        eigvals=eigvals,
        eigvecs=eigvecs,
        n_components=q,
    )
    e = K[:, subsample] @ eigvecs[:, :q] / np.sqrt(s * eigvals[:q])
    ratio = (eigvals[q] / eigvals[:q]) ** EIGENVALUE_RATIO_POWER
    expected = np.max(np.diag(K) - (e**2) @ (1 - ratio))
    assert pre.beta == pytest.approx(expected, rel=1e-10)
    # Over the subsample alone it would be smaller: that is why all points are scanned.
    assert np.max((np.diag(K) - (e**2) @ (1 - ratio))[subsample]) <= pre.beta


@pytest.mark.parametrize("scan_components", [1, 8, 64])
def test_preconditioned_beta_scan_is_exact_past_its_bound(monkeypatch, scan_components):
    """The two-pass scan (a bound on the top components, then exact rows in order of
    their bound) returns the brute-force maximum over all rows, for any number of
    bounding components, blocks that do not divide n included."""
    monkeypatch.setattr(spectrum, "SCAN_COMPONENTS", scan_components)
    X, kernel, K = _full_problem(n=300)
    s, q = 120, 80
    subsample = np.random.RandomState(2).choice(len(X), s, replace=False)
    eigvals, eigvecs = subsample_eigenpairs(kernel, X[subsample], q + 1)
    ratio = (eigvals[q] / eigvals[:q]) ** EIGENVALUE_RATIO_POWER
    scale = (1.0 - ratio) / eigvals[:q]
    projections = K[:, subsample] @ eigvecs[:, :q]
    reduced = np.diag(K) - (projections**2 @ scale) / s
    beta = spectrum.reduced_diagonal_max(
        kernel, X, X[subsample], eigvecs[:, :q], scale, np.diag(K).copy(), block_rows=37
    )
    assert beta == pytest.approx(reduced.max(), rel=1e-12)
    # The bound with fewer components is above every row's value.
    head = min(q, scan_components)
    bound = np.diag(K) - (projections[:, :head] ** 2 @ scale[:head]) / s
    assert np.all(bound >= reduced - 1e-12)
    assert (
        spectrum.reduced_diagonal_max(
            kernel, X[:0], X[subsample], eigvecs[:, :q], scale, np.ones(0), block_rows=37
        )
        == -np.inf
    )
