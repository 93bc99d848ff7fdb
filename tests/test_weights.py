"""``sample_weight``: KernelRidge's weighted solution, weights as repeated rows, zero
weights left out, and the checks of bad weights."""

import numpy as np
import pytest
from conftest import (
    assert_close_predictions,
    exact,
    rbf_problem,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics import r2_score

from sklearn_interp import InterpolatingKernelClassifier, InterpolatingKernelRegressor
from sklearn_interp._points import LocalPoints, validation_split

X, y = make_regression(n_features=10, random_state=0)
Y = np.column_stack([y, -2 * y + 1])


@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_weighted_fit_converges_to_kernel_ridges_weighted_solution(
    alpha, global_random_seed
):
    X_small, target = rbf_problem(seed=global_random_seed)
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
    X_small, target = rbf_problem()
    reference = KernelRidge(alpha=0.5, kernel="rbf", gamma=2.0)
    reference.fit(X_small, target, sample_weight=3.0)
    model = exact(alpha=0.5, gamma=2.0).fit(X_small, target, sample_weight=3.0)
    assert_close_predictions(model.predict(X_small), reference.predict(X_small))


def test_unit_weights_give_the_unweighted_fit_exactly():
    X_small, target = rbf_problem()
    params = dict(alpha=0.5, gamma=2.0, tol=1e-6, random_state=0)
    plain = InterpolatingKernelRegressor(**params).fit(X_small, target)
    weighted = InterpolatingKernelRegressor(**params)
    weighted.fit(X_small, target, sample_weight=np.ones(len(target)))
    assert_array_equal(weighted.dual_coef_, plain.dual_coef_)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_zero_weights_leave_the_rows_out(alpha):
    X_small, target = rbf_problem()
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
    X_small, target = rbf_problem(n_samples=30)
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
    X_small, target = rbf_problem()
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
    X_small, target = rbf_problem()
    labels = (target > 0).astype(int)
    with pytest.raises(ValueError, match=message):
        estimator().fit(X_small, labels, sample_weight=weight)


def test_weights_that_leave_one_class_raise():
    X_small, target = rbf_problem()
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
    X_small, target = rbf_problem(n_samples=200)
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
    X_small, target = rbf_problem()
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
