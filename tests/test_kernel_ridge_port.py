"""scikit-learn's KernelRidge tests, ported: the estimators as drop-ins for KernelRidge.

The properties of ``sklearn/tests/test_kernel_ridge.py`` (the linear kernel is Ridge
without intercept; sparse input; alpha = 0 on a singular kernel; ``kernel="precomputed"``
and its matrix left unchanged; sample weights; several outputs), checked on our
estimators with alpha set explicitly (KernelRidge's default is 1, ours 0) and fitted to
a tight tol in float64, and the sample_weight and precomputed contracts of issue 14.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils import get_tags

from sklearn_interp import InterpolatingKernelClassifier, InterpolatingKernelRegressor
from sklearn_interp._points import LocalPoints, validation_split

# Fits to a relative mean squared residual of 1e-20 in float64: the residual is then
# about 1e-10 of the targets, and predictions agree with the closed form to about
# 1e-8 of their scale (measured: 3e-11 relative on the linear problem below).
EXACT_TOL = 1e-20
EXACT_MAX_ITER = 2000
# Predictions against closed forms, relative to the largest |prediction|.
CLOSED_FORM_RTOL = 1e-7

X, y = make_regression(n_features=10, random_state=0)
Y = np.column_stack([y, -2 * y + 1])


def exact(estimator=InterpolatingKernelRegressor, **params):
    """An estimator fitted to EXACT_TOL in float64, without early stopping (and, for the
    regressor, without normalize_y: KernelRidge fits the targets as they are)."""
    settings = dict(
        tol=EXACT_TOL,
        max_iter=EXACT_MAX_ITER,
        precision="float64",
        early_stopping=False,
        random_state=0,
    )
    if estimator is InterpolatingKernelRegressor:
        settings["normalize_y"] = False
    return estimator(**{**settings, **params})


def assert_close_predictions(actual, expected):
    scale = np.abs(expected).max()
    assert_allclose(actual, expected, rtol=0, atol=CLOSED_FORM_RTOL * scale)


def test_linear_kernel_is_ridge_without_intercept():
    expected = Ridge(alpha=1.0, fit_intercept=False).fit(X, y).predict(X)
    model = exact(kernel="linear", alpha=1.0).fit(X, y)
    assert_close_predictions(model.predict(X), expected)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_input_is_ridge_without_intercept(container):
    expected = Ridge(alpha=1.0, fit_intercept=False, solver="cholesky").fit(X, y)
    model = exact(kernel="linear", alpha=1.0).fit(container(X), y)
    assert_close_predictions(model.predict(container(X)), expected.predict(container(X)))


def test_alpha_zero_on_a_singular_kernel_is_least_squares():
    # K = X X^T has rank 10 < 100, and y lies in its range: the minimum-norm
    # interpolant predicts what the least-squares Ridge(alpha=0) does.
    expected = Ridge(alpha=0.0, fit_intercept=False).fit(X, y).predict(X)
    model = exact(kernel="linear", alpha=0.0).fit(X, y)
    assert_close_predictions(model.predict(X), expected)


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "cosine"])
def test_precomputed_kernel_gives_the_named_kernels_fit(kernel):
    K = pairwise_kernels(X, X, metric=kernel)
    expected = KernelRidge(alpha=1.0, kernel="precomputed").fit(K, y).predict(K)
    named = exact(kernel=kernel, alpha=1.0).fit(X, y)
    precomputed = exact(kernel="precomputed", alpha=1.0).fit(K, y)
    assert_close_predictions(named.predict(X), expected)
    assert_close_predictions(precomputed.predict(K), expected)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_precomputed_kernel_matrix_is_never_modified(alpha):
    K = X @ X.T
    K_test = X[:7] @ X.T
    K_copy, K_test_copy = K.copy(), K_test.copy()
    model = exact(kernel="precomputed", alpha=alpha, tol=1e-8)
    model.fit(K, y)
    model.predict(K_test)
    assert_array_equal(K, K_copy)
    assert_array_equal(K_test, K_test_copy)


def test_sample_weight_is_weighted_ridge_for_named_and_precomputed_kernels():
    K = X @ X.T
    weight = np.random.RandomState(0).rand(X.shape[0])
    expected = (
        Ridge(alpha=1.0, fit_intercept=False).fit(X, y, sample_weight=weight).predict(X)
    )
    named = exact(kernel="linear", alpha=1.0).fit(X, y, sample_weight=weight)
    precomputed = exact(kernel="precomputed", alpha=1.0).fit(K, y, sample_weight=weight)
    assert_close_predictions(named.predict(X), expected)
    assert_close_predictions(precomputed.predict(K), expected)


def test_several_outputs_are_the_column_wise_fits():
    expected = Ridge(alpha=1.0, fit_intercept=False).fit(X, Y).predict(X)
    both = exact(kernel="linear", alpha=1.0).fit(X, Y)
    assert_close_predictions(both.predict(X), expected)
    for column in range(Y.shape[1]):
        single = exact(kernel="linear", alpha=1.0).fit(X, Y[:, column])
        assert_close_predictions(single.predict(X), both.predict(X)[:, column])


# Sample weights.


def _rbf_problem(n_samples=60, seed=0):
    rng = np.random.RandomState(seed)
    X_small = rng.uniform(-1, 1, size=(n_samples, 3))
    target = np.sin(3 * X_small[:, 0]) + X_small[:, 1] * X_small[:, 2]
    return X_small, target + 0.1 * rng.randn(n_samples)


@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_weighted_fit_converges_to_kernel_ridges_weighted_solution(
    alpha, global_random_seed
):
    X_small, target = _rbf_problem(seed=global_random_seed)
    rng = np.random.RandomState(global_random_seed)
    weight = rng.uniform(0.1, 10, size=len(target))
    reference = KernelRidge(alpha=alpha, kernel="rbf", gamma=2.0)
    reference.fit(X_small, target, sample_weight=weight)
    model = exact(alpha=alpha, gamma=2.0, random_state=global_random_seed)
    model.fit(X_small, target, sample_weight=weight)
    X_new = rng.uniform(-1, 1, size=(20, 3))
    assert_close_predictions(model.predict(X_new), reference.predict(X_new))
    # No row is merged or left out: the coefficients are KernelRidge's, row by row.
    assert_allclose(model.dual_coef_, reference.dual_coef_, rtol=1e-6, atol=1e-8)


def test_a_number_is_that_weight_for_every_sample():
    X_small, target = _rbf_problem()
    reference = KernelRidge(alpha=0.5, kernel="rbf", gamma=2.0)
    reference.fit(X_small, target, sample_weight=3.0)
    model = exact(alpha=0.5, gamma=2.0).fit(X_small, target, sample_weight=3.0)
    assert_close_predictions(model.predict(X_small), reference.predict(X_small))


def test_unit_weights_give_the_unweighted_fit_exactly():
    X_small, target = _rbf_problem()
    params = dict(alpha=0.5, gamma=2.0, tol=1e-6, random_state=0)
    plain = InterpolatingKernelRegressor(**params).fit(X_small, target)
    weighted = InterpolatingKernelRegressor(**params)
    weighted.fit(X_small, target, sample_weight=np.ones(len(target)))
    assert_array_equal(weighted.dual_coef_, plain.dual_coef_)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_zero_weights_leave_the_rows_out(alpha):
    X_small, target = _rbf_problem()
    weight = np.ones(len(target))
    weight[::3] = 0.0
    kept = weight > 0
    model = exact(alpha=alpha, gamma=2.0).fit(X_small, target, sample_weight=weight)
    dropped = exact(alpha=alpha, gamma=2.0).fit(X_small[kept], target[kept])
    assert_array_equal(model.X_fit_, X_small[kept])
    assert_array_equal(model.dual_coef_, dropped.dual_coef_)
    if alpha > 0:
        reference = KernelRidge(alpha=alpha, kernel="rbf", gamma=2.0)
        reference.fit(X_small, target, sample_weight=weight)
        assert_close_predictions(model.predict(X_small), reference.predict(X_small))


def test_integer_weights_are_repeated_rows():
    X_small, target = _rbf_problem(n_samples=30)
    weight = np.random.RandomState(0).randint(0, 4, size=len(target))
    X_repeated, y_repeated = X_small.repeat(weight, axis=0), target.repeat(weight)
    # KernelRidge itself: weight 2 is the row twice.
    reference = KernelRidge(alpha=0.5, kernel="rbf", gamma=2.0)
    reference.fit(X_small, target, sample_weight=weight)
    repeated_reference = KernelRidge(alpha=0.5, kernel="rbf", gamma=2.0)
    repeated_reference.fit(X_repeated, y_repeated)
    assert_allclose(
        reference.predict(X_small), repeated_reference.predict(X_small), atol=1e-10
    )
    # Ours: the same fit (the merged points in one order), and KernelRidge's.
    for normalize_y in (False, True):
        params = dict(alpha=0.5, gamma=2.0, normalize_y=normalize_y)
        weighted = exact(**params).fit(X_small, target, sample_weight=weight)
        repeated = exact(**params).fit(X_repeated, y_repeated)
        assert_allclose(weighted.predict(X_small), repeated.predict(X_small), atol=1e-12)
        if not normalize_y:
            assert_close_predictions(weighted.predict(X_small), reference.predict(X_small))


def test_weights_do_not_change_an_interpolant():
    X_small, target = _rbf_problem()
    weight = np.random.RandomState(0).uniform(0.1, 10, size=len(target))
    plain = exact(gamma=2.0).fit(X_small, target)
    weighted = exact(gamma=2.0).fit(X_small, target, sample_weight=weight)
    assert_allclose(weighted.predict(X_small), target, atol=1e-8)
    assert_allclose(weighted.dual_coef_, plain.dual_coef_, rtol=1e-6, atol=1e-8)


def test_weighted_classifier_is_kernel_ridge_on_the_encoded_classes():
    X_small, labels = make_classification(n_samples=60, n_features=4, random_state=0)
    weight = np.random.RandomState(0).uniform(0.1, 5, size=len(labels))
    model = exact(InterpolatingKernelClassifier, alpha=0.3, gamma=0.5)
    model.fit(X_small, labels, sample_weight=weight)
    reference = KernelRidge(alpha=0.3, kernel="rbf", gamma=0.5)
    reference.fit(X_small, 2.0 * labels - 1.0, sample_weight=weight)
    assert_close_predictions(model.decision_function(X_small), reference.predict(X_small))


@pytest.mark.parametrize(
    "weight, message",
    [
        (-np.ones(60), "Negative values in data passed to `sample_weight`"),
        (np.ones(59), r"sample_weight.shape == \(59,\), expected \(60,\)"),
        (np.full(60, np.nan), "Input sample_weight contains NaN"),
        (np.ones((60, 2)), "Sample weights must be 1D array or scalar"),
        (np.zeros(60), "Sample weights must contain at least one non-zero number"),
        (np.nan, "sample_weight must be finite, got"),
        (-1.0, "Negative values in data passed to `sample_weight`"),
    ],
)
@pytest.mark.parametrize(
    "estimator", [InterpolatingKernelRegressor, InterpolatingKernelClassifier]
)
def test_invalid_weights_raise(estimator, weight, message):
    X_small, target = _rbf_problem()
    labels = (target > 0).astype(int)
    with pytest.raises(ValueError, match=message):
        estimator().fit(X_small, labels, sample_weight=weight)


def test_weights_that_leave_one_class_raise():
    X_small, target = _rbf_problem()
    labels = (target > 0).astype(int)
    with pytest.raises(ValueError, match="at least 2 classes"):
        InterpolatingKernelClassifier().fit(X_small, labels, sample_weight=labels)


# A few epochs are enough to compare the scores; the fit is still improving then.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("scoring", [None, "r2", "loss"])
def test_early_stopping_scores_the_held_out_rows_with_their_weights(scoring, monkeypatch):
    # The held-out rows left out of the model (as on a Dask cluster), so that the
    # model is the best epoch's, which the scores during the fit were of.
    monkeypatch.setattr(LocalPoints, "starts_from_coefficients", False)
    X_small, target = _rbf_problem(n_samples=200)
    rng = np.random.RandomState(0)
    weight = rng.uniform(0.1, 10, size=len(target))
    weight[:20] = 0.0
    model = InterpolatingKernelRegressor(
        gamma=2.0,
        alpha=0.1,
        early_stopping=True,
        scoring=scoring,
        max_iter=3,
        precision="float64",  # the scores during the fit, as predict computes them
        normalize_y=False,  # "loss" is then in the units of the targets
        random_state=0,
    ).fit(X_small, target, sample_weight=weight)
    # The split is the first draw of the fit's random state, over the rows of
    # positive weight.
    rows = np.flatnonzero(weight > 0)
    train, held_out = validation_split(len(rows), 0.1, np.random.RandomState(0), rows=rows)
    assert_array_equal(model.X_fit_, X_small[train])
    prediction = model.predict(X_small[held_out])
    expected = r2_score(target[held_out], prediction, sample_weight=weight[held_out])
    if scoring == "loss":
        squared_error = (prediction - target[held_out]) ** 2
        expected = -np.average(squared_error, weights=weight[held_out])
    assert model.best_validation_score_ == pytest.approx(expected, rel=1e-9)


def test_warm_start_starts_afresh_with_other_weights():
    X_small, target = _rbf_problem()
    weight = np.random.RandomState(0).uniform(0.5, 2, size=len(target))
    params = dict(gamma=2.0, alpha=0.1, max_iter=2, tol=0.0, random_state=0)
    warm = InterpolatingKernelRegressor(warm_start=True, **params)
    with pytest.warns(Warning):
        warm.fit(X_small, target, sample_weight=weight)
    with pytest.warns(Warning):
        warm.fit(X_small, target, sample_weight=2 * weight)
    cold = InterpolatingKernelRegressor(**params)
    with pytest.warns(Warning):
        cold.fit(X_small, target, sample_weight=2 * weight)
    assert_array_equal(warm.dual_coef_, cold.dual_coef_)
    assert warm.n_iter_ == 2


# kernel="precomputed".


@pytest.mark.parametrize(
    "estimator", [InterpolatingKernelRegressor, InterpolatingKernelClassifier]
)
def test_precomputed_sets_the_pairwise_tag(estimator):
    assert get_tags(estimator(kernel="precomputed")).input_tags.pairwise
    assert not get_tags(estimator()).input_tags.pairwise


def test_precomputed_fit_needs_a_square_matrix():
    with pytest.raises(ValueError, match=r"square kernel matrix.*shape \(100, 10\)"):
        InterpolatingKernelRegressor(kernel="precomputed").fit(X, y)


def test_precomputed_predict_needs_a_column_per_training_sample():
    model = exact(kernel="precomputed", alpha=1.0, tol=1e-6).fit(X @ X.T, y)
    with pytest.raises(
        ValueError, match=r"X has 99 features.*against the 100 training.*shape \(5, 99\)"
    ):
        model.predict(X[:5] @ X[1:].T)


def test_precomputed_model_keeps_indices_not_the_matrix():
    weight = np.ones(len(y))
    weight[3] = 0.0
    model = exact(kernel="precomputed", alpha=1.0, tol=1e-6)
    model.fit(X @ X.T, y, sample_weight=weight)
    assert_array_equal(model.X_fit_, np.delete(np.arange(len(y)), 3))
    assert model.dual_coef_.shape == (len(y) - 1,)


def test_cross_validation_slices_a_precomputed_kernel():
    X_small, target = _rbf_problem()
    K = pairwise_kernels(X_small, metric="rbf", gamma=2.0)
    cv = KFold(n_splits=3, shuffle=True, random_state=0)
    params = dict(alpha=0.1, tol=1e-12, max_iter=500, early_stopping=False, random_state=0)
    named = cross_val_score(
        InterpolatingKernelRegressor(gamma=2.0, **params), X_small, target, cv=cv
    )
    precomputed = cross_val_score(
        InterpolatingKernelRegressor(kernel="precomputed", **params), K, target, cv=cv
    )
    assert_allclose(precomputed, named, rtol=1e-8)
    search = GridSearchCV(
        InterpolatingKernelRegressor(kernel="precomputed", **params),
        {"alpha": [0.01, 0.1]},
        cv=cv,
    ).fit(K, target)
    assert search.best_estimator_.X_fit_.shape == (len(target),)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("scoring", [None, "r2"])
def test_precomputed_early_stopping_scores_the_held_out_rows(scoring):
    X_small, target = _rbf_problem(n_samples=150)
    K = pairwise_kernels(X_small, metric="rbf", gamma=2.0)
    params = dict(
        alpha=0.1,
        early_stopping=True,
        scoring=scoring,
        max_iter=4,
        precision="float64",
        random_state=0,
    )
    named = InterpolatingKernelRegressor(gamma=2.0, **params).fit(X_small, target)
    precomputed = InterpolatingKernelRegressor(kernel="precomputed", **params)
    precomputed.fit(K, target)
    assert_array_equal(X_small[precomputed.X_fit_], named.X_fit_)
    assert_allclose(precomputed.validation_scores_, named.validation_scores_, rtol=1e-9)
    assert_allclose(precomputed.predict(K), named.predict(X_small), atol=1e-9)


def test_precomputed_classifier_predicts_like_the_named_kernel():
    X_small, labels = make_classification(n_samples=60, n_features=4, random_state=0)
    K = pairwise_kernels(X_small, metric="rbf", gamma=0.5)
    named = exact(InterpolatingKernelClassifier, alpha=0.1, gamma=0.5).fit(X_small, labels)
    precomputed = exact(InterpolatingKernelClassifier, kernel="precomputed", alpha=0.1)
    precomputed.fit(K, labels)
    assert_allclose(
        precomputed.decision_function(K), named.decision_function(X_small), atol=1e-8
    )
    assert_array_equal(precomputed.predict(K), named.predict(X_small))


def test_precomputed_sparse_matrix():
    K = X @ X.T
    dense = exact(kernel="precomputed", alpha=1.0).fit(K, y)
    sparse = exact(kernel="precomputed", alpha=1.0).fit(sp.csr_matrix(K), y)
    assert_allclose(sparse.predict(sp.csr_matrix(K)), dense.predict(K), atol=1e-8)


def test_clone_keeps_precomputed():
    model = clone(InterpolatingKernelRegressor(kernel="precomputed", alpha=1.0))
    assert model.kernel == "precomputed"
