"""Model centers (``n_centers``): the Nystrom solution in closed form, the exact model
when every row is a center, and the estimator's contract."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_interp import InterpolatingKernelClassifier, InterpolatingKernelRegressor
from sklearn_interp._centers import choose_centers

GAMMA = 2.0
N, P = 200, 40


def _problem(seed=0, n=N):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.1 * rng.standard_normal(n)
    return X, y


def _nystrom(X, y, Z, alpha, weight=None):
    """The closed form: (K_Zn W K_nZ + alpha K_ZZ) a = K_Zn W y."""
    weight = np.ones(len(X)) if weight is None else weight
    K_nZ = rbf_kernel(X, Z, gamma=GAMMA)
    lhs = K_nZ.T @ (weight[:, np.newaxis] * K_nZ) + alpha * rbf_kernel(Z, Z, gamma=GAMMA)
    return np.linalg.solve(lhs, K_nZ.T @ (weight * y))


def _fit(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def _gradient_descent(**params):
    """Full-batch steps (deterministic) to the floor of float64."""
    settings = {
        "gamma": GAMMA,
        "n_centers": P,
        "batch_size": N,
        "max_iter": 5000,
        "tol": 0.0,
        "normalize_y": False,
        "random_state": 0,
    }
    return InterpolatingKernelRegressor(**{**settings, **params})


@pytest.mark.parametrize("alpha", [0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_full_batch_fit_is_the_nystrom_kernel_ridge_solution(alpha, weighted):
    X, y = _problem()
    weight = np.random.RandomState(1).uniform(0.5, 2.0, N) if weighted else None
    model = _fit(_gradient_descent(alpha=alpha), X, y, sample_weight=weight)
    Z = model.X_fit_
    assert Z.shape == (P, 2) and model.n_centers_ == P
    # The centers are rows of X.
    assert all((X == z).all(axis=1).any() for z in Z)
    expected = _nystrom(X, y, Z, alpha, weight)
    X_test = np.random.RandomState(2).uniform(-1, 1, size=(50, 2))
    K_test = rbf_kernel(X_test, Z, gamma=GAMMA)
    assert_allclose(model.predict(X_test), K_test @ expected, rtol=1e-6, atol=1e-8)
    assert_allclose(model.dual_coef_, expected, rtol=1e-4, atol=1e-6 * abs(expected).max())


def test_minibatch_sgd_approaches_the_nystrom_solution():
    """Batches of 20 at the automatic step: SGD ends at its residual's floor (stalls
    halve the step), close to the least-squares solution."""
    X, y = _problem()
    model = _fit(_gradient_descent(alpha=0.1, batch_size=20, max_iter=500), X, y)
    assert model.n_stalls_ > 0
    expected = rbf_kernel(X, model.X_fit_, gamma=GAMMA) @ _nystrom(X, y, model.X_fit_, 0.1)
    prediction = model.predict(X)
    assert np.linalg.norm(prediction - expected) < 1e-2 * np.linalg.norm(expected)


def test_repeated_rows_are_weights():
    """Rows repeated k times count as weight k in the centers' least squares."""
    X, y = _problem(n=60)
    counts = np.random.RandomState(3).randint(1, 4, size=60)
    model = _fit(
        _gradient_descent(n_centers=15, alpha=0.3, batch_size=1000),
        np.repeat(X, counts, axis=0),
        np.repeat(y, counts),
    )
    Z = model.X_fit_
    assert len(np.unique(Z, axis=0)) == 15
    expected = rbf_kernel(X, Z, gamma=GAMMA) @ _nystrom(X, y, Z, 0.3, counts)
    assert_allclose(model.predict(X), expected, rtol=1e-6, atol=1e-8)


def test_every_row_a_center_is_the_exact_model():
    X, y = _problem(n=80)
    exact = InterpolatingKernelRegressor(gamma=GAMMA, random_state=0).fit(X, y)
    for n_centers in (80, 1000):
        model = InterpolatingKernelRegressor(
            gamma=GAMMA, n_centers=n_centers, random_state=0
        ).fit(X, y)
        assert model.n_centers_ == 80
        assert_array_equal(model.predict(X), exact.predict(X))
        assert_array_equal(model.dual_coef_, exact.dual_coef_)
    assert exact.n_centers_ == 80


def test_choose_centers_draws_distinct_rows_uniformly():
    X = np.repeat(np.arange(10.0)[:, np.newaxis], 3, axis=0)  # 10 distinct rows
    rng = np.random.RandomState(0)
    centers = choose_centers(X, 4, rng)
    assert len(np.unique(X[centers], axis=0)) == 4
    assert_array_equal(centers, np.sort(centers))
    assert len(choose_centers(X, 50, rng)) == 10
    # A row that is 90% of the data is drawn first about 90% of the time.
    X = np.r_[np.zeros((90, 1)), np.arange(1.0, 11.0)[:, np.newaxis]]
    draws = [X[choose_centers(X, 1, rng)][0, 0] for _ in range(400)]
    assert 0.8 < np.mean(np.equal(draws, 0.0)) < 0.97


def test_classifier_with_centers_early_stopping_and_fold_in():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((600, 4))
    y = np.where(X[:, 0] * X[:, 1] > 0, "a", "b")
    model = InterpolatingKernelClassifier(
        gamma=0.5, n_centers=100, early_stopping=True, random_state=0
    )
    _fit(model, X, y)
    assert model.X_fit_.shape == (100, 4) and model.n_centers_ == 100
    assert model.dual_coef_.shape == (100,)
    assert model.validation_scores_ is not None
    # The fold-in's epochs over all rows come after the best epoch's.
    assert model.n_iter_ > model.best_iteration_
    X_test = rng.standard_normal((400, 4))
    y_test = np.where(X_test[:, 0] * X_test[:, 1] > 0, "a", "b")
    assert model.score(X_test, y_test) > 0.85


def test_centers_model_is_small_when_pickled():
    X, y = _problem(n=600)
    exact = _fit(InterpolatingKernelRegressor(gamma=GAMMA, max_iter=3), X, y)
    small = _fit(InterpolatingKernelRegressor(gamma=GAMMA, n_centers=30, max_iter=3), X, y)
    assert len(pickle.dumps(small)) < len(pickle.dumps(exact)) / 5
    assert_allclose(pickle.loads(pickle.dumps(small)).predict(X), small.predict(X))


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_float32_blocks_reach_the_float64_fit(precision):
    X, y = _problem()
    model = _fit(_gradient_descent(alpha=0.1, precision=precision), X, y)
    expected = rbf_kernel(X, model.X_fit_, gamma=GAMMA) @ _nystrom(X, y, model.X_fit_, 0.1)
    # A float32 fit factors K_ZZ in float32, with a jitter of 10 p eps(float32) on its
    # diagonal: the steps converge slowly in K_ZZ's eigendirections below it, and the
    # stall of the float32 residual ends the fit 2e-3 from the float64 solution here.
    rtol = 1e-6 if precision == "float64" else 3e-3
    assert_allclose(model.predict(X), expected, rtol=rtol, atol=rtol)


def test_warm_start_keeps_the_centers():
    X, y = _problem()
    model = InterpolatingKernelRegressor(
        gamma=GAMMA, n_centers=P, warm_start=True, max_iter=2, random_state=None
    )
    _fit(model, X, y)
    centers = model.X_fit_.copy()
    _fit(model, X, y)
    assert_array_equal(model.X_fit_, centers)
    assert model.n_iter_ == 4


def test_pipeline_and_grid_search_over_n_centers():
    X, y = _problem()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), InterpolatingKernelRegressor(random_state=0)),
        {"interpolatingkernelregressor__n_centers": [10, 40]},
        cv=3,
    )
    _fit(search, X, y)
    assert search.best_params_["interpolatingkernelregressor__n_centers"] in (10, 40)


def test_unsupported_inputs_name_n_centers():
    X, y = _problem(n=30)
    K = rbf_kernel(X, gamma=GAMMA)
    model = InterpolatingKernelRegressor(kernel="precomputed", n_centers=5)
    with pytest.raises(ValueError, match="n_centers=5"):
        model.fit(K, y)
    with pytest.raises(ValueError, match="n_centers"):
        InterpolatingKernelRegressor(n_centers=0).fit(X, y)


def test_centers_plan_takes_every_center_and_no_component_cap(monkeypatch):
    """The subsample is the centers, and the automatic q is bounded by the resolution
    floor alone: MAX_AUTO_COMPONENTS caps the exact model's q, not the centers'."""
    from sklearn_interp import _plan

    monkeypatch.setattr(_plan, "MAX_AUTO_COMPONENTS", 5)
    X, y = _problem(n=400)
    params = {"gamma": 20.0, "max_iter": 2, "random_state": 0}
    exact = _fit(InterpolatingKernelRegressor(**params), X, y)
    centers = _fit(InterpolatingKernelRegressor(n_centers=60, **params), X, y)
    assert exact.n_components_ <= 5
    assert centers.subsample_size_ == 60
    assert 5 < centers.n_components_ < 60


def test_linear_kernel_centers_are_least_squares_on_a_singular_k_zz():
    """20 centers of the linear kernel in 3 dimensions: K_ZZ has rank 3 (its factor
    needs the jitter), the centers span every linear function, and the fit is
    ordinary least squares without intercept."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((200, 3)), rng.standard_normal(200)
    model = _fit(
        InterpolatingKernelRegressor(
            kernel="linear",
            n_centers=20,
            batch_size=200,
            max_iter=2000,
            tol=0.0,
            normalize_y=False,
            random_state=0,
        ),
        X,
        y,
    )
    expected = LinearRegression(fit_intercept=False).fit(X, y).predict(X)
    assert_allclose(model.predict(X), expected, rtol=1e-6, atol=1e-8)


def test_indefinite_kernel_on_the_centers_is_reported():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((200, 3)), rng.standard_normal(200)
    with pytest.raises(ValueError, match="20 model centers is not positive definite"):
        InterpolatingKernelRegressor(kernel="sigmoid", n_centers=20).fit(X, y)


def test_auto_keeps_the_exact_model_up_to_its_row_limit():
    X, y = _problem()
    params = {"gamma": GAMMA, "max_iter": 3, "random_state": 0}
    auto = _fit(InterpolatingKernelRegressor(**params), X, y)
    exact = _fit(InterpolatingKernelRegressor(n_centers=None, **params), X, y)
    assert auto.n_centers == "auto"
    assert auto.n_centers_ == exact.n_centers_ == N
    assert_array_equal(auto.predict(X), exact.predict(X))


def test_auto_n_centers_fills_working_memory():
    from sklearn import config_context

    from sklearn_interp._centers import auto_n_centers

    # The largest p with p^2 entries in half of 1,024 MiB, the default working_memory.
    assert auto_n_centers(np.float32) == 11585
    assert auto_n_centers(np.float64) == 8192
    with config_context(working_memory=4096):
        assert auto_n_centers(np.float32) == 23170
    with config_context(working_memory=2):
        p = auto_n_centers(np.float64)
        assert p**2 * 8 <= 2**20 < (p + 1) ** 2 * 8


def test_auto_takes_centers_above_the_row_limit(monkeypatch):
    """Above AUTO_EXACT_ROWS training rows "auto" fits the centers of
    auto_n_centers (here made small), as an explicit int would; a precomputed kernel
    keeps the exact model."""
    from sklearn_interp import _centers

    monkeypatch.setattr(_centers, "AUTO_EXACT_ROWS", 150)
    monkeypatch.setattr(_centers, "auto_n_centers", lambda dtype: P)
    X, y = _problem()
    params = {"gamma": GAMMA, "max_iter": 3, "random_state": 0}
    auto = _fit(InterpolatingKernelRegressor(**params), X, y)
    explicit = _fit(InterpolatingKernelRegressor(n_centers=P, **params), X, y)
    assert auto.n_centers_ == P
    assert_array_equal(auto.X_fit_, explicit.X_fit_)
    assert_array_equal(auto.predict(X), explicit.predict(X))
    # Within the limit (the training rows once the validation rows are held out),
    # and for a precomputed kernel, the exact model.
    few = _fit(InterpolatingKernelRegressor(**params), X[:150], y[:150])
    assert few.n_centers_ == 150
    K = rbf_kernel(X, gamma=GAMMA)
    precomputed = _fit(InterpolatingKernelRegressor(kernel="precomputed", **params), K, y)
    assert precomputed.n_centers_ == N


def test_auto_takes_the_number_of_rows_alone():
    """ "auto" decides from the training rows and the precision: the same for a numpy
    or a dask X (a fit on a cluster takes centers as this process does)."""
    from sklearn_interp._centers import AUTO_EXACT_ROWS, resolve_n_centers

    n = 2 * AUTO_EXACT_ROWS
    model = InterpolatingKernelRegressor()
    assert resolve_n_centers(model, AUTO_EXACT_ROWS, np.float32) == AUTO_EXACT_ROWS
    assert resolve_n_centers(model, n, np.float32) == 11585
    assert resolve_n_centers(model, n, np.float64) == 8192
    assert resolve_n_centers(model.set_params(n_centers=10**9), n, np.float32) == n
    assert resolve_n_centers(model.set_params(n_centers=None), n, np.float32) == n


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_fold_in_takes_the_fits_factor(monkeypatch, alpha):
    """The fold-in over all rows keeps the centers and the subsample, so it takes the
    fit's Cholesky factor of K_ZZ instead of a second factorization: one factor per
    fit, and the same model to the bit as with a factor made again."""
    from sklearn_interp import _centers

    factorizations = []
    cholesky = _centers._cholesky
    monkeypatch.setattr(
        _centers, "_cholesky", lambda *a, **k: factorizations.append(1) or cholesky(*a, **k)
    )
    X, y = _problem(n=600)
    params = {"gamma": GAMMA, "n_centers": 60, "alpha": alpha, "random_state": 0}
    model = _fit(InterpolatingKernelRegressor(early_stopping=True, **params), X, y)
    assert model.n_iter_ > model.best_iteration_  # fold-in epochs ran
    assert len(factorizations) == 1
    monkeypatch.setattr(_centers.CenterFactor, "serves", lambda self, order, dtype: False)
    remade = _fit(InterpolatingKernelRegressor(early_stopping=True, **params), X, y)
    assert len(factorizations) == 3
    assert_array_equal(model.predict(X), remade.predict(X))


@pytest.mark.parametrize(
    "kernel, params",
    [
        ("laplacian", {"gamma": 0.5}),
        ("rbf", {"gamma": GAMMA}),
    ],
)
def test_every_kernel_reaches_its_nystrom_solution(kernel, params):
    """The closed form for kernels with and without a fast block path: a kernel
    whose rows come back as a new array (laplacian, through pairwise_kernels) must
    fill the batch's block as the fast ones do (it was left unwritten)."""
    from sklearn.metrics.pairwise import pairwise_kernels

    X, y = _problem()
    model = _fit(_gradient_descent(kernel=kernel, alpha=0.1, max_iter=3000, **params), X, y)
    Z = model.X_fit_
    K_nZ = pairwise_kernels(X, Z, metric=kernel, **params)
    K_ZZ = pairwise_kernels(Z, Z, metric=kernel, **params)
    coef = np.linalg.solve(K_nZ.T @ K_nZ + 0.1 * K_ZZ, K_nZ.T @ y)
    expected = K_nZ @ coef
    assert_allclose(model.predict(X), expected, rtol=1e-5, atol=1e-5)
