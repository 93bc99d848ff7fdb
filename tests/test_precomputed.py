"""``kernel="precomputed"``: the named kernels' fits from their matrices, the matrix
never modified, shapes checked, cross-validation, early stopping and the pairwise tag."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import (
    assert_close_predictions,
    exact,
    rbf_problem,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils import get_tags

from sklearn_interp import InterpolatingKernelClassifier, InterpolatingKernelRegressor

X, y = make_regression(n_features=10, random_state=0)
Y = np.column_stack([y, -2 * y + 1])


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
    X_small, target = rbf_problem()
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
    X_small, target = rbf_problem(n_samples=150)
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
