"""The fit recipe shared by both estimators: early stopping, targets, precision,
warm_start and callbacks."""

import numpy as np
import pytest
from conftest import fit_quietly
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics import accuracy_score
from sklearn.utils import Bunch, check_random_state

import sklearn_interp._base as base
from sklearn_interp import (
    InterpolatingKernelClassifier,
    InterpolatingKernelRegressor,
    _solver,
)
from sklearn_interp._early_stopping import FOLD_IN_EPOCHS
from sklearn_interp._points import LocalPoints, validation_split

# Settings that drive a fit to convergence for comparisons with closed forms.
EXACT = {"tol": 1e-20, "max_iter": 2000}


@pytest.fixture(scope="module")
def classification():
    X, y = make_classification(
        n_samples=400,
        n_features=8,
        n_informative=6,
        n_classes=3,
        class_sep=1.0,
        random_state=0,
    )
    return X, y


@pytest.fixture
def no_fold_in(monkeypatch):
    """Early stopping as on a Dask cluster: the held-out rows stay out of the model,
    which is then the best epoch's, to check against scores of the held-out rows."""
    monkeypatch.setattr(LocalPoints, "starts_from_coefficients", False)


def _scores(values):
    """A scorer that returns the given values in turn, one per call (one per epoch)."""
    calls = []

    def scorer(estimator, X, y):
        calls.append(1)
        return values[min(len(calls), len(values)) - 1]

    return scorer


def test_validation_split_is_set_by_random_state(
    classification, global_random_seed, no_fold_in
):
    X, y = classification
    params = {"early_stopping": True, "max_iter": 3, "random_state": global_random_seed}
    first = fit_quietly(InterpolatingKernelClassifier(**params), X, y)
    again = fit_quietly(InterpolatingKernelClassifier(**params), X, y)
    train, held_out = validation_split(
        len(X), 0.1, check_random_state(global_random_seed), stratify=y
    )
    assert_array_equal(first.X_fit_, X[train])
    assert_array_equal(again.X_fit_, X[train])
    assert len(held_out) == 40 and len(np.intersect1d(train, held_out)) == 0
    # Stratified: each class keeps its share in the held-out rows.
    assert np.all(np.abs(np.bincount(y[held_out]) - np.bincount(y) / 10) <= 1)
    other = fit_quietly(
        InterpolatingKernelClassifier(**{**params, "random_state": global_random_seed + 1}),
        X,
        y,
    )
    assert not np.array_equal(other.X_fit_, first.X_fit_)


def test_default_score_is_the_estimators_own_score_of_the_held_out_rows(
    classification, no_fold_in
):
    X, y = classification
    model = InterpolatingKernelClassifier(
        early_stopping=True, n_iter_no_change=100, max_iter=4, tol=0.0, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="validation score was still improving"):
        model.fit(X, y)
    _, held_out = validation_split(len(X), 0.1, check_random_state(0), stratify=y)
    assert len(model.validation_scores_) == model.n_iter_ + 1 == 5
    # Index 0 is the zero function: every class ties, the first one is predicted.
    assert model.validation_scores_[0] == accuracy_score(
        y[held_out], np.full(len(held_out), model.classes_[0])
    )
    best = model.best_iteration_
    assert model.best_validation_score_ == model.validation_scores_[best]
    assert model.best_validation_score_ == model.validation_scores_.max()
    assert model.score(X[held_out], y[held_out]) == model.best_validation_score_


def test_early_stopping_keeps_the_best_epochs_coefficients(classification, no_fold_in):
    X, y = classification
    # Scores of epochs 0, 1, 2, ...: the best is epoch 2, and two epochs without
    # improvement then stop the fit at epoch 4.
    params = {"early_stopping": True, "tol": 0.0, "random_state": 3}
    model = InterpolatingKernelClassifier(
        scoring=_scores([0.0, 1.0, 3.0, 2.0, 2.5, 9.0]), n_iter_no_change=2, **params
    ).fit(X, y)
    assert model.n_iter_ == 4
    assert model.best_iteration_ == 2
    assert_array_equal(model.validation_scores_, [0.0, 1.0, 3.0, 2.0, 2.5])
    # The coefficients are those after epoch 2 of the same fit.
    two_epochs = InterpolatingKernelClassifier(
        scoring=_scores([0.0, 1.0, 3.0]), max_iter=2, **params
    )
    with pytest.warns(ConvergenceWarning):
        two_epochs.fit(X, y)
    assert two_epochs.n_iter_ == 2
    assert_array_equal(model.dual_coef_, two_epochs.dual_coef_)


def test_score_within_tol_is_no_improvement(classification):
    X, y = classification
    model = InterpolatingKernelClassifier(
        scoring=_scores([0.0, 1.0, 1.0 + 5e-7, 1.0 + 8e-7, 5.0]),
        early_stopping=True,
        n_iter_no_change=2,
        tol=1e-6,
        random_state=0,
    ).fit(X, y)
    # Epochs 2 and 3 gain less than tol (which also bounds the training residual,
    # far from reached here) over the best: the fit stops after epoch 3,
    # keeping epoch 3's coefficients, the best score seen, and folds the held-out
    # rows in with FOLD_IN_EPOCHS more epochs.
    assert model.n_iter_ == 3 + FOLD_IN_EPOCHS
    assert len(model.validation_scores_) == 4
    assert model.best_iteration_ == 3


@pytest.mark.parametrize("scoring", ["loss", "neg_mean_squared_error"])
def test_other_scorings(scoring):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] + 5.0
    model = InterpolatingKernelRegressor(
        gamma=2.0, early_stopping=True, scoring=scoring, random_state=0
    ).fit(X, y)
    # One score before the first epoch and after each, but the fold-in epochs.
    assert model.validation_scores_.shape == (model.n_iter_ + 1 - FOLD_IN_EPOCHS,)
    assert np.all(model.validation_scores_ <= 0)
    assert model.best_validation_score_ > model.validation_scores_[0]


def test_early_stopping_and_precision_auto_follow_the_sample_count(
    classification, monkeypatch
):
    X, y = classification
    monkeypatch.setattr(base, "EARLY_STOPPING_MIN_SAMPLES", 300)
    large = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    assert large.early_stopping_ and large.precision_ == "float32"
    assert_array_equal(large.X_fit_, X)  # the held-out rows folded in
    small = InterpolatingKernelClassifier(random_state=0).fit(X[:300], y[:300])
    assert not small.early_stopping_ and small.precision_ == "float64"
    assert small.validation_scores_ is None and small.best_validation_score_ is None
    assert small.best_iteration_ == small.n_iter_


def test_normalized_targets_give_kernel_ridge_of_the_centred_targets(
    global_random_seed,
):
    rng = np.random.RandomState(global_random_seed)
    X = rng.uniform(-1, 1, size=(80, 2))
    Y = np.column_stack([np.sin(3 * X[:, 0]) + 10.0, 100.0 * X[:, 1] - 3.0])
    params = {"kernel": "rbf", "gamma": 1.0, "alpha": 0.5}
    model = InterpolatingKernelRegressor(
        random_state=global_random_seed, **params, **EXACT
    ).fit(X, Y)
    mean, std = Y.mean(axis=0), Y.std(axis=0)
    ridge = KernelRidge(**params).fit(X, (Y - mean) / std)
    assert_allclose(model.dual_coef_, ridge.dual_coef_, rtol=1e-7, atol=1e-9)
    X_new = rng.uniform(-3, 3, size=(20, 2))
    assert_allclose(
        model.predict(X_new), ridge.predict(X_new) * std + mean, rtol=1e-7, atol=1e-8
    )
    # Far from the data the model predicts the mean.
    assert_allclose(model.predict([[50.0, 50.0]])[0], mean)


def test_constant_targets_are_predicted_exactly():
    X = np.random.RandomState(0).normal(size=(30, 2))
    model = InterpolatingKernelRegressor(random_state=0).fit(X, np.full(30, 7.0))
    assert_allclose(model.predict(X[:3]), 7.0)
    assert model.n_iter_ == 0  # nothing left to fit after centring


@pytest.mark.parametrize("early_stopping", [False, True])
def test_warm_start_continues_where_a_longer_fit_would_be(classification, early_stopping):
    X, y = classification
    params = {
        "tol": 0.0,
        "random_state": 0,
        "early_stopping": early_stopping,
        # Never stops early: the validation scores only record.
        "n_iter_no_change": 100,
    }
    longer = InterpolatingKernelClassifier(max_iter=5, **params)
    warm = InterpolatingKernelClassifier(max_iter=3, warm_start=True, **params)
    with pytest.warns(ConvergenceWarning):
        longer.fit(X, y)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    first_plan = warm.step_size_, warm.batch_size_, warm.eigenvalues_
    with pytest.warns(ConvergenceWarning):
        warm.set_params(max_iter=2).fit(X, y)
    # With early stopping, each fit ends with the fold-in epochs over all the rows.
    assert warm.n_iter_ == longer.n_iter_ == 5 + early_stopping * FOLD_IN_EPOCHS
    assert (warm.step_size_, warm.batch_size_) == first_plan[:2]
    assert_array_equal(warm.eigenvalues_, first_plan[2])
    assert_allclose(warm.convergence_curve_, longer.convergence_curve_, rtol=1e-12)
    if early_stopping:
        assert_allclose(warm.validation_scores_, longer.validation_scores_)
        assert warm.best_iteration_ == longer.best_iteration_
    # Both keep the coefficients of the same epoch: the last, or the best one.
    assert_allclose(warm.dual_coef_, longer.dual_coef_, rtol=1e-12, atol=1e-14)


def test_warm_start_on_other_data_starts_afresh(classification):
    X, y = classification
    params = {"max_iter": 2, "tol": 0.0, "random_state": 0}
    warm = InterpolatingKernelClassifier(warm_start=True, **params)
    cold = InterpolatingKernelClassifier(**params)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X[:300], y[:300])
    with pytest.warns(ConvergenceWarning):
        cold.fit(X[:300], y[:300])
    assert warm.n_iter_ == 2
    assert_array_equal(warm.dual_coef_, cold.dual_coef_)


callback = pytest.importorskip("sklearn.callback")


class _Recorder:
    """A callback that records the tasks it is told of, and can ask to stop."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after
        self.ended = []

    def setup(self, estimator, context):
        self.set_up = True

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator):
        self.ended.append((context.task_name, fitted_estimator))
        epochs = [name for name, _ in self.ended if name == "epoch"]
        return self.stop_after is not None and len(epochs) >= self.stop_after

    def teardown(self, estimator, context):
        self.torn_down = True


def test_a_callback_receives_every_epoch(classification):
    X, y = classification
    recorder = _Recorder()
    model = InterpolatingKernelClassifier(random_state=0).set_callbacks(recorder)
    model.fit(X, y)
    epochs = [fitted for name, fitted in recorder.ended if name == "epoch"]
    assert recorder.set_up and recorder.torn_down
    # One task per epoch, each with the model of that epoch (the fit converged at
    # the last one, whose task the fit closes empty), then the fit's own task.
    assert len(epochs) == model.n_iter_ + 1 and epochs[-1] is None
    assert recorder.ended[-1][0] == "fit"
    assert_allclose(epochs[-2].decision_function(X), model.decision_function(X))
    assert not np.allclose(epochs[0].decision_function(X), model.decision_function(X))


def test_a_callback_can_stop_the_fit(classification):
    X, y = classification
    model = InterpolatingKernelClassifier(tol=0.0, random_state=0)
    model.set_callbacks(_Recorder(stop_after=2)).fit(X, y)
    assert model.n_iter_ == 2


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressors_default_score_is_r2_of_the_held_out_rows(n_outputs, no_fold_in):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    Y = np.column_stack([np.sin(3 * X[:, 0]) + 5.0, X[:, 1] ** 2])[:, :n_outputs]
    y = Y[:, 0] if n_outputs == 1 else Y
    # float64, so that the scores during the fit are those of predict's float64.
    model = InterpolatingKernelRegressor(
        gamma=2.0, early_stopping=True, precision="float64", random_state=0
    ).fit(X, y)
    _, held_out = validation_split(len(X), 0.1, check_random_state(0))
    # predict's kernel rows and the fit's agree to rounding, which the interpolant's
    # large coefficients (K is ill-conditioned here) raise to about 1e-7 in R^2.
    assert model.score(X[held_out], y[held_out]) == pytest.approx(
        model.best_validation_score_, rel=1e-5
    )
    assert model.best_validation_score_ > 0.9


def _regression_with_duplicates(n=300):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(n, 2))
    X[n // 2 : n // 2 + 40] = X[:40]  # duplicates, some of them held out
    y = np.sin(3 * X[:, 0]) + X[:, 1]
    return X, y, rng.uniform(0.5, 2.0, size=n)


@pytest.mark.parametrize("case", ["plain", "weights, alpha > 0", "precomputed"])
def test_fold_in_starts_from_the_best_epochs_model(case, monkeypatch):
    # With the fold-in epoch skipped, the model over all the rows (the held-out
    # ones at zero) predicts as the best epoch's model over the training rows: the
    # coefficients carry over through merged duplicates, weights (a = S c) and the
    # columns of a precomputed kernel.
    from sklearn.metrics.pairwise import rbf_kernel

    X, y, weight = _regression_with_duplicates()
    params = {"gamma": 2.0, "early_stopping": True, "random_state": 0, "max_iter": 4}
    fit_params, X_fit, X_new = {}, X, X[:50] + 0.01
    if case == "weights, alpha > 0":
        params["alpha"] = 0.1
        fit_params["sample_weight"] = weight
    elif case == "precomputed":
        params["kernel"] = "precomputed"
        X_fit, X_new = rbf_kernel(X, gamma=2.0), rbf_kernel(X_new, X, gamma=2.0)
    real_run_sgd = _solver.run_sgd

    def skip_the_fold_in_epoch(evaluator, rng, **kwargs):
        if kwargs["monitor"] is None or kwargs["monitor"].validation is not None:
            return real_run_sgd(evaluator, rng, **kwargs)
        return Bunch(
            convergence_curve=np.array([1.0]),
            n_iter=0,
            n_backoffs=0,
            n_stalls=0,
            step_size=kwargs["step_size"],
        )

    with monkeypatch.context() as patch:
        patch.setattr(_solver, "run_sgd", skip_the_fold_in_epoch)
        carried = fit_quietly(
            InterpolatingKernelRegressor(**params), X_fit, y, **fit_params
        )
    with monkeypatch.context() as patch:
        patch.setattr(LocalPoints, "starts_from_coefficients", False)
        best = fit_quietly(InterpolatingKernelRegressor(**params), X_fit, y, **fit_params)
    assert len(carried.X_fit_) == len(X) > len(best.X_fit_)
    assert_allclose(carried.predict(X_new), best.predict(X_new), rtol=1e-9, atol=1e-9)


def test_held_out_rows_end_up_fitted_like_the_training_rows(monkeypatch):
    """After early stopping the fold-in epochs fit the held-out rows too: on labels
    with noise (a tenth flipped), which a model that only predicts the held-out rows
    gets wrong, they are reproduced as the training rows are, and their residual is
    of the training rows' order."""
    monkeypatch.setattr(base, "EARLY_STOPPING_MIN_SAMPLES", 1000)
    X, y = make_classification(
        n_samples=3000,
        n_features=10,
        n_informative=8,
        n_classes=3,
        flip_y=0.1,
        random_state=0,
    )
    model = InterpolatingKernelClassifier(gamma=0.5, random_state=0).fit(X, y)
    assert model.early_stopping_ and len(model.X_fit_) == len(X)
    train, held_out = validation_split(
        len(X), model.validation_fraction, check_random_state(0), stratify=y
    )
    # Held-out accuracy before the fold-in: the noise caps it near 0.9.
    assert model.best_validation_score_ < 0.95
    fitted = model.predict(X)
    assert np.mean(fitted[held_out] == y[held_out]) >= np.mean(fitted[train] == y[train])
    Y = np.where(y[:, np.newaxis] == model.classes_, 1.0, -1.0)
    residual = np.mean((model.decision_function(X) - Y) ** 2, axis=1)
    # One epoch of fold-in left them at 2.3 times the training rows' residual here.
    assert residual[held_out].mean() < 3.0 * residual[train].mean()
