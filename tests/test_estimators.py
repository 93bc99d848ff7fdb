"""The estimators against closed forms, their invariants, and scikit-learn citizenship."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import pairwise_kernels, rbf_kernel
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from sklearn_interp import (
    InterpolatingKernelClassifier,
    InterpolatingKernelRegressor,
    _plan,
)
from sklearn_interp._spectrum import SATURATION_DAMPING

# A converged fit (relative residual <= 1e-20) matches a closed form with condition
# number below 100 to about 1e-8 relative.
CLOSED_FORM_RTOL = 1e-7
# Settings that drive a fit to convergence for comparisons with closed forms.
EXACT = {"tol": 1e-20, "max_iter": 2000}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def test_regressor_reaches_the_exact_interpolant(make_grid_problem, global_random_seed):
    X, Y, X_new, gamma = make_grid_problem(global_random_seed)
    model = InterpolatingKernelRegressor(
        gamma=gamma, random_state=global_random_seed, normalize_y=False, **EXACT
    )
    model.fit(X, Y[:, 0])
    K = rbf_kernel(X, gamma=gamma)
    expected = np.linalg.solve(K, Y[:, 0])
    assert model.dual_coef_.shape == (64,)
    assert_allclose(model.dual_coef_, expected, rtol=CLOSED_FORM_RTOL, atol=1e-9)
    assert_allclose(model.predict(X), Y[:, 0], atol=1e-8)
    assert_allclose(
        model.predict(X_new),
        rbf_kernel(X_new, X, gamma=gamma) @ expected,
        rtol=CLOSED_FORM_RTOL,
        atol=1e-9,
    )


@pytest.mark.parametrize("n_components", ["auto", 0, 10])
@pytest.mark.parametrize("kernel", ["rbf", "laplacian"])
def test_regressor_matches_kernel_ridge(
    make_grid_problem, global_random_seed, n_components, kernel
):
    X, Y, X_new, gamma = make_grid_problem(global_random_seed)
    params = {"alpha": 0.3, "kernel": kernel, "gamma": gamma / 4}
    model = InterpolatingKernelRegressor(
        n_components=n_components,
        random_state=global_random_seed,
        normalize_y=False,
        **params,
        **EXACT,
    ).fit(X, Y)
    ridge = KernelRidge(**params).fit(X, Y)
    assert_allclose(model.dual_coef_, ridge.dual_coef_, rtol=CLOSED_FORM_RTOL, atol=1e-9)
    assert_allclose(
        model.predict(X_new), ridge.predict(X_new), rtol=CLOSED_FORM_RTOL, atol=1e-9
    )


def test_classifier_matches_kernel_ridge_on_encoded_targets(digits):
    X, y = digits
    X, y = X[:300], y[:300]
    params = {"alpha": 1.0, "kernel": "rbf", "gamma": 0.05}
    model = InterpolatingKernelClassifier(random_state=0, **params, **EXACT).fit(X, y)
    encoded = LabelBinarizer(neg_label=-1).fit_transform(y)
    ridge = KernelRidge(**params).fit(X, encoded)
    assert_allclose(model.decision_function(X), ridge.predict(X), rtol=1e-6, atol=1e-8)
    assert_array_equal(model.predict(X), ridge.predict(X).argmax(axis=1))


def test_plain_sgd_diagnostics_follow_the_formulas(make_grid_problem, global_random_seed):
    X, Y, _, gamma = make_grid_problem(global_random_seed)
    model = InterpolatingKernelRegressor(
        gamma=gamma / 4, n_components=0, random_state=global_random_seed
    ).fit(X, Y)
    n = len(X)
    K = rbf_kernel(X, gamma=gamma / 4)
    # The subsample is the data (s = min(n, 2000)), so lambda_1 is exact.
    assert model.subsample_size_ == n
    assert model.top_eigenvalue_ == pytest.approx(np.linalg.eigvalsh(K / n)[-1])
    assert model.beta_ == pytest.approx(1.0)
    m_star = model.beta_ / model.top_eigenvalue_ + 1
    assert model.critical_batch_size_ == pytest.approx(m_star)
    assert model.n_components_ == 0
    assert model.preconditioned_beta_ == model.beta_
    assert model.batch_size_ == int(m_star)
    # step_size_ is the step in use at the end: min(m / beta, the damped saturation
    # step), halved at each back-off and each stall.
    halvings = model.n_backoffs_ + model.n_stalls_
    assert model.step_size_ * 2**halvings == pytest.approx(
        min(
            model.batch_size_ / model.beta_,
            SATURATION_DAMPING
            * 2
            * model.batch_size_
            / (model.beta_ + (model.batch_size_ - 1) * model.top_eigenvalue_),
        )
    )


def test_beta_comes_from_the_kernel_diagonal():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=40)
    params = {"kernel": "polynomial", "degree": 2, "gamma": 0.5, "coef0": 1.0}
    model = InterpolatingKernelRegressor(n_components=0, max_iter=3, **params)
    with pytest.warns(ConvergenceWarning):
        model.fit(X, y)
    K = pairwise_kernels(X, metric="polynomial", degree=2, gamma=0.5, coef0=1.0)
    assert model.beta_ == pytest.approx(np.max(np.diag(K)))
    assert model.beta_ > 1.5


def test_ridge_shifts_beta_and_lambda(grid_problem):
    X, Y, _, gamma = grid_problem
    plain = InterpolatingKernelRegressor(gamma=gamma, n_components=0, random_state=0)
    ridge = InterpolatingKernelRegressor(
        gamma=gamma, n_components=0, alpha=2.0, random_state=0
    )
    plain.fit(X, Y)
    ridge.fit(X, Y)
    assert ridge.beta_ == pytest.approx(plain.beta_ + 2.0)
    assert ridge.top_eigenvalue_ == pytest.approx(plain.top_eigenvalue_ + 2.0 / len(X))


def test_preconditioning_raises_the_critical_batch_size(digits):
    X, y = digits
    model = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    plain_m_star = model.beta_ / model.top_eigenvalue_ + 1
    assert plain_m_star < 5  # a smooth kernel: lambda_1 is large
    assert model.n_components_ > 0
    assert model.critical_batch_size_ > 20 * plain_m_star
    assert model.batch_size_ > 20 * plain_m_star


def test_user_batch_and_step_size_are_used(grid_problem):
    X, Y, _, gamma = grid_problem
    model = InterpolatingKernelRegressor(
        gamma=gamma, batch_size=5, step_size=0.8, n_components=0, random_state=0
    ).fit(X, Y)
    assert model.batch_size_ == 5
    assert model.step_size_ == 0.8
    clipped = InterpolatingKernelRegressor(
        gamma=gamma, batch_size=10**6, random_state=0
    ).fit(X, Y)
    assert clipped.batch_size_ == len(X)


def test_predictions_are_linear_in_y(make_grid_problem, global_random_seed):
    X, Y, X_new, gamma = make_grid_problem(global_random_seed)
    # A fixed number of epochs: the iteration itself is linear in y.
    params = {"gamma": gamma, "random_state": global_random_seed, "tol": 0.0, "max_iter": 4}
    with pytest.warns(ConvergenceWarning):
        first = InterpolatingKernelRegressor(**params).fit(X, Y[:, 0])
    with pytest.warns(ConvergenceWarning):
        second = InterpolatingKernelRegressor(**params).fit(X, Y[:, 1])
    with pytest.warns(ConvergenceWarning):
        combined = InterpolatingKernelRegressor(**params).fit(
            X, 2.0 * Y[:, 0] - 3.0 * Y[:, 1]
        )
    assert_allclose(
        combined.predict(X_new),
        2.0 * first.predict(X_new) - 3.0 * second.predict(X_new),
        rtol=1e-10,
        atol=1e-12,
    )


def test_multi_output_equals_column_wise_fits(make_grid_problem, global_random_seed):
    X, Y, X_new, gamma = make_grid_problem(global_random_seed)
    params = {"gamma": gamma, "random_state": global_random_seed, "tol": 0.0, "max_iter": 4}
    with pytest.warns(ConvergenceWarning):
        joint = InterpolatingKernelRegressor(**params).fit(X, Y)
    for column in range(Y.shape[1]):
        with pytest.warns(ConvergenceWarning):
            single = InterpolatingKernelRegressor(**params).fit(X, Y[:, column])
        assert_allclose(
            joint.dual_coef_[:, column], single.dual_coef_, rtol=1e-10, atol=1e-12
        )
    assert joint.predict(X_new).shape == (len(X_new), 2)


def test_same_seed_gives_identical_coefficients(digits, global_random_seed):
    X, y = digits
    # A few epochs run every random step (subsample, preconditioner, batch order); a
    # small subsample keeps them cheap, and batches of 200 x 600 kernel entries are
    # split over the threads, whose partial results must not depend on timing.
    params = {
        "random_state": global_random_seed,
        "subsample_size": 100,
        "batch_size": 200,
        "max_iter": 3,
        "tol": 0.0,
    }
    with pytest.warns(ConvergenceWarning):
        first = InterpolatingKernelClassifier(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        second = InterpolatingKernelClassifier(**params).fit(X, y)
    assert_array_equal(first.dual_coef_, second.dual_coef_)
    assert_array_equal(first.convergence_curve_, second.convergence_curve_)


def test_inputs_are_not_modified(digits):
    X, y = digits
    X_copy, y_copy = X.copy(), y.copy()
    model = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    model.predict(X)
    assert_array_equal(X, X_copy)
    assert_array_equal(y, y_copy)


def test_convergence_curve_and_n_iter(digits):
    X, y = digits
    model = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    curve = model.convergence_curve_
    assert curve.shape == (model.n_iter_ + 1,)
    # Index 0 is the zero function: each -1/+1 encoded row has squared norm 10.
    assert curve[0] == pytest.approx(10.0)
    assert curve[-1] <= model.tol * curve[0]
    assert model.n_backoffs_ == 0


def test_convergence_warning_when_max_iter_is_too_small(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        model = InterpolatingKernelClassifier(max_iter=2, random_state=0).fit(X, y)
    assert model.n_iter_ == 2


def test_diverging_user_step_size_is_caught(grid_problem):
    X, Y, _, gamma = grid_problem
    model = InterpolatingKernelRegressor(
        gamma=gamma,
        batch_size=8,
        step_size=400.0,
        n_components=0,
        random_state=0,
        max_iter=300,
        tol=1e-8,
    ).fit(X, Y)
    assert model.n_backoffs_ > 0
    assert model.step_size_ < 400.0
    assert np.all(np.isfinite(model.dual_coef_))
    assert_allclose(model.predict(X), Y, atol=1e-3)


def test_binary_and_string_labels(digits):
    X, y = digits
    labels = np.where(y % 2 == 0, "even", "odd")
    model = InterpolatingKernelClassifier(random_state=0).fit(X, labels)
    assert_array_equal(model.classes_, ["even", "odd"])
    scores = model.decision_function(X)
    assert scores.shape == (len(X),)
    assert_array_equal(model.predict(X), np.where(scores > 0, "odd", "even"))
    assert model.score(X, labels) == 1.0


def test_classifier_rejects_one_class_and_continuous_targets(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="at least 2 classes"):
        InterpolatingKernelClassifier().fit(X[:10], np.zeros(10))
    with pytest.raises(ValueError, match="Unknown label type"):
        InterpolatingKernelClassifier().fit(X[:10], np.linspace(0, 1, 10))


def test_memory_budget_too_small_is_reported_before_allocating():
    X = np.random.RandomState(0).normal(size=(2000, 2))
    y = X[:, 0]
    with config_context(working_memory=0.01):  # 10 kB: one kernel row needs 31 kB
        with pytest.raises(ValueError, match="working_memory"):
            InterpolatingKernelRegressor().fit(X, y)


def test_blocks_follow_the_memory_budget(digits):
    X, y = digits
    # s = 40 fits both budgets, so both fits plan the same preconditioner.
    params = {"random_state": 0, "max_iter": 3, "tol": 0.0, "subsample_size": 40}
    reference = InterpolatingKernelClassifier(**params)
    with pytest.warns(ConvergenceWarning):
        reference.fit(X, y)
    # 0.05 MiB fits 4 rows of 600 float64 entries (times 2 copies); the batch (and
    # prediction) then runs in several blocks with the same result.
    with config_context(working_memory=0.05):
        small = InterpolatingKernelClassifier(**params, batch_size=reference.batch_size_)
        with pytest.warns(ConvergenceWarning):
            small.fit(X, y)
        blocked_prediction = small.decision_function(X)
    assert_allclose(small.dual_coef_, reference.dual_coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(
        blocked_prediction, reference.decision_function(X), rtol=1e-9, atol=1e-12
    )


def test_float32_precision_keeps_float64_outputs(digits):
    X, y = digits
    exact = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    single = InterpolatingKernelClassifier(precision="float32", random_state=0).fit(X, y)
    assert single.convergence_curve_[-1] <= 1e-4 * single.convergence_curve_[0]
    assert single.dual_coef_.dtype == np.float64
    assert single.decision_function(X).dtype == np.float64
    assert np.mean(single.predict(X) == exact.predict(X)) == 1.0
    # Both fits are within their residuals of the targets, so within the sum of the
    # residuals of each other (triangle inequality, in root-mean-square over X).
    gap = single.decision_function(X) - exact.decision_function(X)
    bound = np.sqrt(single.convergence_curve_[-1]) + np.sqrt(exact.convergence_curve_[-1])
    assert np.sqrt(np.mean(np.sum(gap**2, axis=1))) <= bound


@pytest.mark.parametrize(
    "settings, spectrum_dtype",
    [
        ({"subsample_size": 300}, np.float32),  # automatic q above the resolution floor
        ({"subsample_size": 300, "n_components": 40}, np.float64),  # the user's q
        ({}, np.float64),  # the subsample is all 600 points: no resolution floor
    ],
)
def test_float32_fit_eigendecomposes_in_float32_only_above_the_resolution_floor(
    digits, monkeypatch, settings, spectrum_dtype
):
    X, y = digits
    dtypes = []
    original = _plan.subsample_eigenpairs

    def recording(kernel, X_subsample, n_eigenpairs):
        dtypes.append(kernel.dtype)
        return original(kernel, X_subsample, n_eigenpairs)

    monkeypatch.setattr(_plan, "subsample_eigenpairs", recording)
    with pytest.warns(ConvergenceWarning):  # one epoch, tol=0
        InterpolatingKernelClassifier(
            precision="float32", max_iter=1, tol=0.0, random_state=0, **settings
        ).fit(X, y)
    assert dtypes == [spectrum_dtype]


def test_float32_eigendecomposition_gives_the_float64_iteration(digits):
    X, y = digits
    kwargs = {"subsample_size": 300, "max_iter": 20, "tol": 0.0, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        single = InterpolatingKernelClassifier(precision="float32", **kwargs).fit(X, y)
        exact = InterpolatingKernelClassifier(**kwargs).fit(X, y)
    # The same q and the same iteration, to float32's rounding.
    assert single.n_components_ == exact.n_components_ > 0
    assert single.n_backoffs_ == exact.n_backoffs_ == 0
    assert_allclose(single.eigenvalues_, exact.eigenvalues_, rtol=1e-2, atol=1e-6)
    assert_allclose(single.convergence_curve_, exact.convergence_curve_, rtol=1e-2)


def test_sparse_input_matches_dense(grid_problem):
    X, Y, X_new, gamma = grid_problem
    dense = InterpolatingKernelRegressor(gamma=gamma, random_state=0).fit(X, Y)
    sparse = InterpolatingKernelRegressor(gamma=gamma, random_state=0)
    sparse.fit(sp.csr_matrix(X), Y)
    assert_allclose(
        sparse.predict(sp.csr_matrix(X_new)), dense.predict(X_new), rtol=1e-8, atol=1e-10
    )


def test_verbose_prints_the_plan_and_one_line_per_epoch(grid_problem, capsys):
    X, Y, _, gamma = grid_problem
    model = InterpolatingKernelRegressor(gamma=gamma, verbose=1, random_state=0)
    model.fit(X, Y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == model.n_iter_ + 1
    # The set-up phase first: what fit estimated and chose.
    assert f"q = {model.n_components_}" in lines[0]
    assert f"batch {model.batch_size_}" in lines[0]
    assert f"m* = {model.critical_batch_size_:.4g}" in lines[0]
    assert lines[1].startswith("epoch 1: mean squared residual")


def test_pipeline_grid_search_and_cross_val_score():
    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    pipe = make_pipeline(StandardScaler(), InterpolatingKernelClassifier(random_state=0))
    search = GridSearchCV(
        pipe,
        {
            "interpolatingkernelclassifier__gamma": [0.05, 0.2],
            "interpolatingkernelclassifier__alpha": [0.0, 1.0],
        },
        cv=3,
    ).fit(X, y)
    assert search.best_score_ > 0.7
    scores = cross_val_score(
        make_pipeline(StandardScaler(), InterpolatingKernelRegressor(random_state=0)),
        X,
        X[:, 0] - X[:, 1],
        cv=3,
    )
    assert np.all(scores > 0.8)


def test_pickle_round_trip(digits):
    X, y = digits
    model = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.decision_function(X), model.decision_function(X))


def test_pandas_input_records_feature_names(digits):
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"pixel_{i}" for i in range(X.shape[1])])
    model = InterpolatingKernelClassifier(random_state=0).fit(frame, pd.Series(y))
    assert_array_equal(model.feature_names_in_, frame.columns)
    from_arrays = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    assert not hasattr(from_arrays, "feature_names_in_")
    # A DataFrame arrives in column-major order: the same numbers up to BLAS rounding.
    assert_allclose(
        model.decision_function(frame), from_arrays.decision_function(X), rtol=1e-8
    )


def test_no_preconditioner_is_plain_sgd_of_the_paper(grid_problem):
    """n_components=0 runs exactly the update of Ma, Bassily and Belkin (2018)."""
    X, Y, _, gamma = grid_problem
    y = Y[:, 0]
    epochs = 3
    model = InterpolatingKernelRegressor(
        gamma=gamma,
        n_components=0,
        random_state=5,
        max_iter=epochs,
        tol=0.0,
        normalize_y=False,
    )
    with pytest.warns(ConvergenceWarning):
        model.fit(X, y)

    # An independent implementation, drawing from the same random stream: the
    # subsample first, then one permutation per epoch.
    n, m = len(X), model.batch_size_
    K = rbf_kernel(X, gamma=gamma)
    beta, top = 1.0, np.linalg.eigvalsh(K / n)[-1]
    assert m == int(beta / top + 1)
    # min(m / beta, 0.99 * 2m / (beta + (m - 1) lambda_1)): m = floor(m*) can be close
    # enough to m* for the damped saturation step to be the smaller.
    step = min(m / beta, SATURATION_DAMPING * 2 * m / (beta + (m - 1) * top))
    rng = np.random.RandomState(5)
    rng.choice(n, size=n, replace=False)
    coef = np.zeros(n)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, m):
            batch = order[start : start + m]
            coef[batch] -= (step / m) * (K[batch] @ coef - y[batch])
    assert_allclose(model.dual_coef_, coef, rtol=1e-10, atol=1e-13)


def test_too_optimistic_eigenvalue_estimate_is_caught(grid_problem, monkeypatch):
    """A tail eigenvalue estimate 50 times too small makes the automatic batch and step
    diverge; the safeguard backs off and the fit still converges, without NaN."""
    import sklearn_interp._plan as plan

    real = plan.eigenpro_preconditioner

    def optimistic(*args, **kwargs):
        preconditioner = real(*args, **kwargs)
        preconditioner.top_eigenvalue /= 50.0
        return preconditioner

    monkeypatch.setattr(plan, "eigenpro_preconditioner", optimistic)
    X, Y, _, gamma = grid_problem
    model = InterpolatingKernelRegressor(
        gamma=gamma / 4,
        n_components=10,
        random_state=0,
        max_iter=500,
        tol=1e-8,
        normalize_y=False,
    ).fit(X, Y)
    assert model.n_backoffs_ > 0
    assert np.all(np.isfinite(model.convergence_curve_))
    assert_allclose(model.predict(X), Y, atol=1e-3)


def test_indefinite_sigmoid_kernel_gives_finite_predictions():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    y = rng.normal(size=30)
    model = InterpolatingKernelRegressor(kernel="sigmoid", random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # indefinite: may not converge
        model.fit(X, y)
    assert model.preconditioned_beta_ > 0
    assert np.all(np.isfinite(model.predict(X)))


def test_user_n_components_stops_at_rounding(grid_problem):
    """A linear kernel on 2 features has rank 2: flattening 10 directions would trust
    eigenvalues that are rounding noise."""
    X, Y, _, _ = grid_problem
    model = InterpolatingKernelRegressor(
        kernel="linear", n_components=10, random_state=0, max_iter=100, normalize_y=False
    )
    # y is not linear in X: the residual stops at the least-squares floor, above tol.
    with pytest.warns(ConvergenceWarning):
        model.fit(X, Y[:, 0])
    assert model.n_components_ == 1  # lambda_3 and beyond are rounding noise
    assert np.all(np.isfinite(model.dual_coef_))
    # Constant-step SGD hovers around the least-squares fit of an inconsistent problem.
    linear_fit = np.linalg.lstsq(X, Y[:, 0], rcond=None)[0]
    assert_allclose(model.predict(X), X @ linear_fit, atol=0.25)


def test_concurrent_fits_restore_the_blas_thread_count(digits):
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [
            lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
        ]

    X, y = digits
    before = blas_threads()
    with ThreadPoolExecutor(max_workers=3) as pool:
        models = list(
            pool.map(
                lambda seed: InterpolatingKernelClassifier(random_state=seed).fit(X, y),
                range(3),
            )
        )
    assert blas_threads() == before
    for model in models:
        assert model.score(X, y) == 1.0


@pytest.mark.parametrize(
    "Estimator", [InterpolatingKernelRegressor, InterpolatingKernelClassifier]
)
def test_convergence_warning_points_at_the_callers_line(Estimator):
    X, y = load_digits(return_X_y=True)
    X, y = X[:100], y[:100]  # where the warning points does not depend on the size
    with pytest.warns(ConvergenceWarning) as record:
        Estimator(max_iter=1, tol=0.0, random_state=0).fit(X, y)
    assert record[0].filename == __file__


def test_chi2_with_default_gamma_matches_kernel_ridge(grid_problem):
    # gamma=None is chi2_kernel's own default, 1.0 (it used to reach numpy as None).
    X, Y, X_new, _ = grid_problem
    X, X_new = X + 1.0, X_new + 1.0  # chi2 needs non-negative features
    params = {"alpha": 0.3, "kernel": "chi2"}
    model = InterpolatingKernelRegressor(
        random_state=0, normalize_y=False, **params, **EXACT
    ).fit(X, Y)
    ridge = KernelRidge(gamma=1.0, **params).fit(X, Y)
    assert model.gamma_ == 1.0
    assert_allclose(
        model.predict(X_new), ridge.predict(X_new), rtol=CLOSED_FORM_RTOL, atol=1e-9
    )


@pytest.mark.parametrize("sparse", [False, True])
def test_gamma_scale_is_resolved_in_fit_and_kept_for_predict(grid_problem, sparse):
    X, Y, X_new, _ = grid_problem
    expected = 1.0 / (X.shape[1] * X.var())  # SVC's "scale"
    X_fit = sp.csr_matrix(X) if sparse else X
    model = InterpolatingKernelRegressor(gamma="scale", random_state=0, **EXACT)
    model.fit(X_fit, Y)
    assert model.gamma_ == pytest.approx(expected, rel=1e-12)
    exact = InterpolatingKernelRegressor(gamma=expected, random_state=0, **EXACT)
    assert_allclose(
        model.predict(X_new), exact.fit(X, Y).predict(X_new), rtol=1e-9, atol=1e-12
    )
    # predict uses the fitted gamma_, not the parameter (which is not a number).
    before = model.predict(X_new)
    model.set_params(gamma=123.0)
    assert_allclose(model.predict(X_new), before, rtol=0, atol=0)


def test_gamma_is_none_for_kernels_without_one(grid_problem):
    X, Y, _, _ = grid_problem
    model = InterpolatingKernelRegressor(
        kernel="linear", gamma="scale", random_state=0, max_iter=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, Y)
    assert model.gamma_ is None


# What users throw at it: high dimension, many outputs, odd batch sizes, duplicates,
# callable and non-rbf kernels, sparse input, singular kernel matrices. Each against a
# closed form: the exact interpolant solve(K, y), lstsq's minimum-norm solution or
# KernelRidge (normalize_y=False, whose solution is exactly these).

# Pointwise relative error of a fit to EXACT settings on a kernel matrix with condition
# number below 100: the relative residual is below 1e-10, and no target is smaller than
# 1e-3 of their norm in these draws.
POINTWISE_RTOL = 1e-6


def _cauchy(x, z, gamma=1.0):
    return 1.0 / (1.0 + gamma * float(np.sum((x - z) ** 2)))


def _l2_laplace(x, z, gamma=1.0):
    return float(np.exp(-gamma * np.sqrt(np.sum((x - z) ** 2))))


@pytest.mark.parametrize(
    "n_samples, n_features",
    [(200, 500), (100, 10_000), pytest.param(300, 10_000, marks=pytest.mark.slow)],
)
def test_interpolates_every_point_at_high_dimension(n_samples, n_features):
    # Gaussian points in high dimension are nearly orthogonal: with gamma = 1 / d the
    # off-diagonal entries are about exp(-2) and K is well conditioned.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, n_features))
    y = rng.normal(size=n_samples)
    model = InterpolatingKernelRegressor(random_state=0, normalize_y=False, **EXACT)
    model.fit(X, y)
    K = rbf_kernel(X, gamma=1.0 / n_features)
    assert np.linalg.cond(K) < 100
    assert_allclose(model.dual_coef_, np.linalg.solve(K, y), rtol=CLOSED_FORM_RTOL)
    assert_allclose(model.predict(X), y, rtol=POINTWISE_RTOL, atol=0)


def _assert_predicts_the_interpolant(model, X, Y, X_new, gamma):
    """The model predicts at X_new as the rbf interpolant of (X, Y) does."""
    K = rbf_kernel(X, gamma=gamma)
    assert_allclose(
        model.predict(X_new),
        rbf_kernel(X_new, X, gamma=gamma) @ np.linalg.solve(K, Y),
        rtol=CLOSED_FORM_RTOL,
        atol=1e-9,
    )


def test_thirty_outputs_match_the_interpolant(grid_problem):
    X, _, X_new, gamma = grid_problem
    Y = np.random.RandomState(0).normal(size=(len(X), 30))
    model = InterpolatingKernelRegressor(
        gamma=gamma, random_state=0, normalize_y=False, **EXACT
    ).fit(X, Y)
    assert model.predict(X_new).shape == (len(X_new), 30)
    assert_allclose(model.predict(X), Y, rtol=POINTWISE_RTOL, atol=0)
    _assert_predicts_the_interpolant(model, X, Y, X_new, gamma)


@pytest.mark.parametrize("batch_size", [65, 10**6])
def test_batch_size_above_n_is_full_gradient_descent_to_the_interpolant(
    grid_problem, batch_size
):
    X, Y, X_new, gamma = grid_problem
    model = InterpolatingKernelRegressor(
        gamma=gamma, batch_size=batch_size, random_state=0, normalize_y=False, **EXACT
    ).fit(X, Y)
    assert model.batch_size_ == len(X) < batch_size
    assert_allclose(model.predict(X), Y, rtol=POINTWISE_RTOL, atol=0)
    _assert_predicts_the_interpolant(model, X, Y, X_new, gamma)


def test_duplicate_rows_with_consistent_targets_interpolate(grid_problem):
    # K is singular but y is in its range: every solution predicts as the interpolant
    # of the distinct points does.
    X, Y, X_new, gamma = grid_problem
    X2, Y2 = np.vstack([X, X[:20], X[:5]]), np.vstack([Y, Y[:20], Y[:5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = InterpolatingKernelRegressor(
            gamma=gamma, random_state=0, normalize_y=False, **EXACT
        )
        model.fit(X2, Y2)
    assert_allclose(model.predict(X2), Y2, rtol=POINTWISE_RTOL, atol=0)
    _assert_predicts_the_interpolant(model, X, Y, X_new, gamma)


@pytest.mark.parametrize(
    "kernel, gamma", [(_l2_laplace, 1.5), (_cauchy, 4.0)], ids=["l2-laplace", "cauchy"]
)
def test_callable_kernels_reach_the_interpolant(make_grid_problem, kernel, gamma):
    X, Y, X_new, _ = make_grid_problem(0, shape=(6, 6))
    y = Y[:, 0]
    model = InterpolatingKernelRegressor(
        kernel=kernel,
        kernel_params={"gamma": gamma},
        random_state=0,
        normalize_y=False,
        **EXACT,
    ).fit(X, y)
    K = pairwise_kernels(X, metric=kernel, gamma=gamma)
    assert np.linalg.cond(K) < 1e3
    assert_allclose(model.predict(X), y, rtol=POINTWISE_RTOL, atol=0)
    expected = pairwise_kernels(X_new, X, metric=kernel, gamma=gamma) @ np.linalg.solve(
        K, y
    )
    assert_allclose(model.predict(X_new), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "params",
    [
        {"kernel": "linear"},
        {"kernel": "polynomial", "degree": 3, "gamma": 0.5, "coef0": 1.0},
        {"kernel": "cosine"},
    ],
    ids=["linear", "polynomial", "cosine"],
)
def test_linear_polynomial_and_cosine_kernels_match_kernel_ridge(grid_problem, params):
    X, Y, X_new, _ = grid_problem
    # alpha = 5: the linear and cosine kernels have rank 2 here, so alpha sets the
    # condition number of K + alpha I (about 200 for the linear kernel).
    params = {"alpha": 5.0, **params}
    model = InterpolatingKernelRegressor(
        random_state=0, normalize_y=False, **params, **EXACT
    ).fit(X, Y)
    ridge = KernelRidge(**params).fit(X, Y)
    assert_allclose(model.dual_coef_, ridge.dual_coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(model.predict(X_new), ridge.predict(X_new), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "params, features",
    [
        ({"kernel": "linear"}, lambda X: X),
        (
            {"kernel": "polynomial", "degree": 2, "gamma": 1.0, "coef0": 1.0},
            lambda X: np.column_stack([X, X**2, X[:, :1] * X[:, 1:], np.ones(len(X))]),
        ),
        ({"kernel": "cosine"}, lambda X: X / np.linalg.norm(X, axis=1, keepdims=True)),
    ],
    ids=["linear", "polynomial", "cosine"],
)
def test_rank_deficient_kernels_give_the_minimum_norm_solution(params, features):
    # n = 60 points in 2 dimensions: K has rank 2 (linear, cosine) or 6 (quadratic).
    # Targets in the span of the kernel's features are interpolated, and SGD started
    # at zero predicts like lstsq's minimum-norm solution, also at new points.
    rng = np.random.RandomState(0)
    X, X_new = rng.uniform(0.5, 2.0, size=(60, 2)), rng.uniform(0.5, 2.0, size=(10, 2))
    y = features(X) @ rng.normal(size=features(X).shape[1])
    model = InterpolatingKernelRegressor(
        random_state=0, normalize_y=False, **params, **EXACT
    ).fit(X, y)
    K = pairwise_kernels(X, metric=params["kernel"], filter_params=True, **params)
    assert np.linalg.matrix_rank(K) < len(X)
    minimum_norm = np.linalg.lstsq(K, y, rcond=None)[0]
    K_new = pairwise_kernels(
        X_new, X, metric=params["kernel"], filter_params=True, **params
    )
    assert_allclose(model.predict(X), y, rtol=1e-6, atol=1e-9)
    assert_allclose(model.predict(X_new), K_new @ minimum_norm, rtol=1e-6, atol=1e-9)


def test_rank_deficient_kernel_with_targets_off_its_range_approaches_least_squares():
    # No interpolant: the stall rule halves the step until it stops, close to the
    # least-squares fit, and says why.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 4)), rng.normal(size=60)
    model = InterpolatingKernelRegressor(
        kernel="linear", random_state=0, normalize_y=False, **EXACT
    )
    with pytest.warns(ConvergenceWarning, match="cannot be interpolated"):
        model.fit(X, y)
    assert model.n_stalls_ > 0
    least_squares = X @ np.linalg.lstsq(X, y, rcond=None)[0]
    assert_allclose(model.predict(X), least_squares, atol=0.05 * np.std(y))


@pytest.mark.parametrize("sparse_format", ["csc", "csr"])
def test_sparse_input_gives_the_interpolant(grid_problem, sparse_format):
    X, Y, X_new, gamma = grid_problem
    X_sparse = sp.csr_matrix(X).asformat(sparse_format)
    model = InterpolatingKernelRegressor(
        gamma=gamma, random_state=0, normalize_y=False, **EXACT
    )
    model.fit(X_sparse, Y)
    expected = rbf_kernel(X_new, X, gamma=gamma) @ np.linalg.solve(
        rbf_kernel(X, gamma=gamma), Y
    )
    assert_allclose(model.predict(X_sparse), Y, rtol=POINTWISE_RTOL, atol=0)
    for X_query in (X_new, sp.csr_matrix(X_new).asformat(sparse_format)):
        assert_allclose(model.predict(X_query), expected, rtol=CLOSED_FORM_RTOL, atol=1e-9)
