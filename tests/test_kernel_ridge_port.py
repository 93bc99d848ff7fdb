"""scikit-learn's KernelRidge tests, ported: the estimators as drop-ins for KernelRidge.

The properties of ``sklearn/tests/test_kernel_ridge.py`` (the linear kernel is Ridge
without intercept; sparse input; alpha = 0 on a singular kernel; sample weights;
several outputs), checked on our estimators with alpha set explicitly (KernelRidge's
default is 1, ours 0) and fitted to a tight tol in float64 (``conftest.exact``). The
contracts of ``sample_weight`` and ``kernel="precomputed"`` have their own modules,
``test_weights.py`` and ``test_precomputed.py``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import (
    assert_close_predictions,
    exact,
)
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge

X, y = make_regression(n_features=10, random_state=0)
Y = np.column_stack([y, -2 * y + 1])


def test_linear_kernel_is_ridge_without_intercept():
    expected = Ridge(alpha=1.0, fit_intercept=False).fit(X, y).predict(X)
    model = exact(kernel="linear", alpha=1.0).fit(X, y)
    assert_close_predictions(model.predict(X), expected)


# Each sparse fit runs to a tight tol through scikit-learn's pairwise kernels; the other
# containers take the same path, so they run with the slow tests.
@pytest.mark.parametrize(
    "container",
    [
        sp.csr_matrix,
        pytest.param(sp.csc_matrix, marks=pytest.mark.slow),
        pytest.param(sp.csr_array, marks=pytest.mark.slow),
    ],
)
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
