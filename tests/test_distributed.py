"""Fits and predictions on a Dask cluster, against the same work done in this process.

One LocalCluster of worker processes (one thread each) serves the module. X is built
from chunks scattered to chosen workers, so each test knows where its shards are.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import warnings  # noqa: E402

import joblib  # noqa: E402
from distributed import Client, LocalCluster, futures_of, get_task_stream  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics.pairwise import rbf_kernel  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sklearn_interp import (  # noqa: E402
    InterpolatingKernelClassifier,
    InterpolatingKernelRegressor,
)
from sklearn_interp._points import LocalPoints  # noqa: E402

N_WORKERS = 3

# The distributed fit draws the same batches as the local one and differs only in the
# summation order of the kernel products (per shard, then across shards): rounding of
# about 1e-16 per operation, which a well-conditioned fit (cond(K) < 100) carries into
# the coefficients at well below this.
RTOL = 1e-8

# The cluster's fits run with one BLAS thread, the local ones split blocks over the
# cores: scores of the same search agree to rounding.
SCORE_RTOL = 1e-12

GAMMA = 8.0


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=N_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def workers(client):
    return sorted(client.scheduler_info()["workers"])


@pytest.fixture(scope="module")
def grid_problem(make_grid_problem):
    """The shared jittered grid, 15 x 20, with a narrow rbf: cond(K) is small, m* is
    large; and three classes."""
    X, Y, _, gamma = make_grid_problem(shape=(15, 20))
    assert gamma == GAMMA
    labels = np.digitize(np.sin(X[:, 0]) * np.cos(X[:, 1]), [-0.3, 0.3])
    return X, Y, labels


def scattered(client, array, sizes, placement):
    """A dask array of ``array``'s rows in chunks of ``sizes``, chunk j on placement[j]."""
    starts = np.concatenate([[0], np.cumsum(sizes)])
    parts = []
    for start, stop, worker in zip(starts[:-1], starts[1:], placement, strict=True):
        # hash=False: a fresh key, independent of other tests' chunks of the same data
        future = client.scatter(array[start:stop], workers=[worker], hash=False)
        parts.append(da.from_delayed(future, (stop - start, *array.shape[1:]), array.dtype))
    return da.concatenate(parts)


# (chunk sizes, worker of each chunk): uneven chunks over three workers, two chunks on
# the first; and two workers.
LAYOUTS = {
    "3 workers, uneven": ((70, 150, 30, 50), (0, 1, 2, 0)),
    "2 workers": ((120, 180), (0, 1)),
}

FITTED_NUMBERS = [
    "n_iter_",
    "n_backoffs_",
    "n_stalls_",
    "batch_size_",
    "n_components_",
    "subsample_size_",
    "n_features_in_",
]
FITTED_FLOATS = [
    "critical_batch_size_",
    "step_size_",
    "beta_",
    "top_eigenvalue_",
    "eigenvalues_",
    "preconditioned_beta_",
    "preconditioned_top_eigenvalue_",
    "convergence_curve_",
]


def assert_same_fit(local, remote, X):
    for name in FITTED_NUMBERS:
        assert getattr(remote, name) == getattr(local, name), name
    for name in FITTED_FLOATS:
        assert_allclose(
            getattr(remote, name), getattr(local, name), rtol=RTOL, err_msg=name
        )
    assert isinstance(remote.dual_coef_, da.Array)
    assert isinstance(remote.X_fit_, da.Array)
    scale = np.abs(local.dual_coef_).max()
    assert_allclose(
        remote.dual_coef_.compute(), local.dual_coef_, rtol=RTOL, atol=RTOL * scale
    )
    assert_array_equal(remote.X_fit_.compute(), X)


# The default suite runs each setting on one layout, the uneven one for the
# preconditioned fit; the slow tests run every pair.
SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "settings, layout",
    [
        pytest.param({}, "3 workers, uneven", id="eigenpro-3 workers, uneven"),
        pytest.param({}, "2 workers", id="eigenpro-2 workers", marks=SLOW),
        pytest.param({"n_components": 0}, "2 workers", id="plain-2 workers"),
        pytest.param(
            {"n_components": 0},
            "3 workers, uneven",
            id="plain-3 workers, uneven",
            marks=SLOW,
        ),
        pytest.param({"alpha": 0.05}, "2 workers", id="ridge-2 workers"),
        pytest.param(
            {"alpha": 0.05},
            "3 workers, uneven",
            id="ridge-3 workers, uneven",
            marks=SLOW,
        ),
    ],
)
def test_regressor_fit_on_cluster_equals_local_fit(
    client, workers, grid_problem, settings, layout
):
    X, Y, _ = grid_problem
    sizes, placement = LAYOUTS[layout]
    X_dask = scattered(client, X, sizes, [workers[k] for k in placement])
    params = {"gamma": GAMMA, "random_state": 0, "tol": 1e-10, **settings}
    local = InterpolatingKernelRegressor(**params).fit(X, Y)
    remote = InterpolatingKernelRegressor(**params).fit(X_dask, Y)
    assert local.n_iter_ > 1
    assert_same_fit(local, remote, X)
    # Predictions on numpy input are computed against the shards and come back here.
    prediction = remote.predict(X)
    assert isinstance(prediction, np.ndarray)
    assert_allclose(prediction, local.predict(X), rtol=RTOL, atol=RTOL)


def test_gamma_scale_on_cluster_equals_local(client, workers, grid_problem):
    # "scale" is 1 / (n_features * X.var()) computed on the dask X, as on numpy X.
    X, Y, _ = grid_problem
    sizes, placement = LAYOUTS["2 workers"]
    X_dask = scattered(client, X, sizes, [workers[k] for k in placement])
    # A smooth kernel here: three epochs are enough to compare the two fits.
    params = {"gamma": "scale", "random_state": 0, "max_iter": 3, "normalize_y": False}
    with pytest.warns(ConvergenceWarning):
        local = InterpolatingKernelRegressor(**params).fit(X, Y)
    with pytest.warns(ConvergenceWarning):
        remote = InterpolatingKernelRegressor(**params).fit(X_dask, Y)
    assert isinstance(remote.gamma_, float)
    assert remote.gamma_ == pytest.approx(1.0 / (X.shape[1] * X.var()), rel=1e-12)
    assert remote.gamma_ == pytest.approx(local.gamma_, rel=1e-12)
    # predict uses gamma_ (another gamma would be off by order 1). The two fits differ
    # by rounding amplified in beta_P for so smooth a kernel, beyond assert_same_fit's
    # RTOL, and the blockwise products by rounding amplified by large coefficients.
    expected = rbf_kernel(X, gamma=remote.gamma_) @ remote.dual_coef_.compute()
    assert_allclose(remote.predict(X), expected, atol=1e-3)


def test_shards_live_on_their_workers(client, workers, grid_problem):
    """The training points and coefficients stay on the workers that held X's chunks."""
    X, _, labels = grid_problem
    sizes, placement = LAYOUTS["3 workers, uneven"]
    X_dask = scattered(client, X, sizes, [workers[k] for k in placement])
    model = InterpolatingKernelClassifier(gamma=GAMMA, random_state=0).fit(X_dask, labels)
    X_holders = client.who_has(futures_of(model.X_fit_))
    coef_holders = client.who_has(futures_of(model.dual_coef_))
    X_workers = [X_holders[key] for key in (row[0] for row in model.X_fit_.__dask_keys__())]
    assert [list(holders) for holders in X_workers] == [[workers[k]] for k in placement]
    assert sorted({worker for holders in coef_holders.values() for worker in holders}) == (
        workers
    )


@pytest.mark.parametrize(
    "settings",
    [{}, pytest.param({"n_components": 0, "alpha": 0.05}, marks=SLOW)],
)
def test_classifier_fit_on_cluster_equals_local_fit(
    client, workers, grid_problem, settings
):
    X, _, labels = grid_problem
    sizes, placement = LAYOUTS["3 workers, uneven"]
    X_dask = scattered(client, X, sizes, [workers[k] for k in placement])
    y_dask = da.from_array(labels, chunks=90)  # other chunks than X: rechunked to X's
    params = {"gamma": GAMMA, "random_state": 0, **settings}
    local = InterpolatingKernelClassifier(**params).fit(X, labels)
    remote = InterpolatingKernelClassifier(**params).fit(X_dask, y_dask)
    assert len(local.classes_) == 3
    assert_same_fit(local, remote, X)
    assert_array_equal(remote.classes_, local.classes_)
    assert_array_equal(remote.predict(X), local.predict(X))
    assert_allclose(
        remote.decision_function(X), local.decision_function(X), rtol=RTOL, atol=RTOL
    )


@SLOW
def test_divergence_safeguard_on_cluster_matches_local(client, workers, grid_problem):
    """A step size eight times the stable one diverges: both fits back off alike."""
    X, Y, _ = grid_problem
    sizes, placement = LAYOUTS["2 workers"]
    X_dask = scattered(client, X, sizes, [workers[k] for k in placement])
    auto = InterpolatingKernelRegressor(
        gamma=GAMMA, n_components=0, batch_size=50, random_state=0, max_iter=1, tol=0
    )
    with pytest.warns(ConvergenceWarning):
        stable = auto.fit(X, Y).step_size_
    params = {
        "gamma": GAMMA,
        "n_components": 0,
        "batch_size": 50,
        "step_size": 8 * stable,
        "random_state": 0,
    }
    local = InterpolatingKernelRegressor(**params).fit(X, Y)
    remote = InterpolatingKernelRegressor(**params).fit(X_dask, Y)
    assert local.n_backoffs_ > 0
    assert_same_fit(local, remote, X)


def test_dask_input_to_predict_gives_dask_arrays(client, grid_problem):
    """Predictions on a dask array are dask arrays, blockwise, for local and cluster
    models alike, and equal the numpy predictions."""
    X, Y, labels = grid_problem
    X_dask = da.from_array(X, chunks=(70, 2))
    regressor = InterpolatingKernelRegressor(gamma=GAMMA, random_state=0).fit(X, Y[:, 0])
    classifier = InterpolatingKernelClassifier(gamma=GAMMA, random_state=0).fit(X, labels)
    remote = InterpolatingKernelClassifier(gamma=GAMMA, random_state=0).fit(X_dask, labels)
    for method, model in [
        ("predict", regressor),
        ("predict", classifier),
        ("decision_function", classifier),
        ("predict", remote),
        ("decision_function", remote),
    ]:
        result = getattr(model, method)(X_dask[::-1])
        assert isinstance(result, da.Array)
        assert result.numblocks[0] > 1
        expected = getattr(model, method)(X[::-1])
        assert result.shape == expected.shape
        if expected.dtype.kind == "f":
            assert_allclose(result.compute(), expected, rtol=RTOL, atol=RTOL)
        else:
            assert_array_equal(result.compute(), expected)


def test_model_fitted_on_cluster_can_be_brought_home(client, grid_problem):
    """Computing X_fit_ and dual_coef_ gives a model that predicts without the cluster."""
    X, Y, _ = grid_problem
    model = InterpolatingKernelRegressor(gamma=GAMMA, random_state=0).fit(
        da.from_array(X, chunks=100), Y
    )
    expected = model.predict(X)
    model.X_fit_, model.dual_coef_ = model.X_fit_.compute(), model.dual_coef_.compute()
    assert_allclose(model.predict(X), expected, rtol=RTOL, atol=RTOL)


def test_grid_search_under_dask_backend_equals_local_search(client):
    X, y = make_classification(
        n_samples=150, n_features=5, n_informative=3, n_classes=3, random_state=0
    )
    grid = {"gamma": [0.05, 0.2, 1.0], "alpha": [0.0, 1e-2]}
    estimator = InterpolatingKernelClassifier(random_state=0, max_iter=20, tol=1e-3)
    local = GridSearchCV(estimator, grid, cv=3).fit(X, y)
    search = GridSearchCV(estimator, grid, cv=3)
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        search.fit(X, y)
    # The fits ran on the workers (joblib sends them in batches, several per task).
    assert len({task["worker"] for task in tasks.data}) > 1
    assert search.best_params_ == local.best_params_
    for key in ["mean_test_score", "split0_test_score", "split2_test_score"]:
        assert_allclose(search.cv_results_[key], local.cv_results_[key], rtol=SCORE_RTOL)


def test_dask_input_without_client_names_X(monkeypatch, grid_problem):
    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", no_client)
    X, Y, _ = grid_problem
    with pytest.raises(ValueError, match=r"X is a dask array.*no dask\.distributed Client"):
        InterpolatingKernelRegressor().fit(da.from_array(X, chunks=100), Y)


def test_bad_dask_input_is_reported(client, grid_problem):
    X, Y, _ = grid_problem
    X_dask = da.from_array(X, chunks=100)
    with pytest.raises(ValueError, match="y has shape"):
        InterpolatingKernelRegressor().fit(X_dask, Y[:-1])
    with pytest.raises(ValueError, match="2-D dask array"):
        InterpolatingKernelRegressor().fit(X_dask[:, 0], Y)
    unknown = X_dask[X_dask[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        InterpolatingKernelRegressor().fit(unknown, Y[: len(X)])
    with pytest.raises(ValueError, match="at least 2 classes"):
        InterpolatingKernelClassifier().fit(X_dask, np.zeros(len(X)))
    model = InterpolatingKernelRegressor(gamma=GAMMA, random_state=0).fit(X_dask, Y)
    with pytest.raises(ValueError, match="features"):
        model.predict(da.from_array(X[:, :1], chunks=100))
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :1])
    X_nan = X.copy()
    X_nan[5, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        InterpolatingKernelRegressor().fit(da.from_array(X_nan, chunks=100), Y)


def test_early_stopping_on_cluster_equals_local(client, workers, grid_problem, monkeypatch):
    # The validation rows are taken out of the dask array by index, so the shards
    # keep the same training rows as the local fit, and score the same held-out rows.
    # (A classifier's split is stratified here, at random on a cluster, where the
    # labels stay: a regressor's is the same in both.) A cluster does not fold the
    # held-out rows back in; the local fit that does not either is the same fit.
    monkeypatch.setattr(LocalPoints, "starts_from_coefficients", False)
    X, Y, _ = grid_problem
    sizes, placement = LAYOUTS["3 workers, uneven"]
    X_dask = scattered(client, X, sizes, [workers[k] for k in placement])
    # Scores that agree to rounding must not decide differently: a fixed epoch count.
    params = {
        "gamma": GAMMA / 4,
        "random_state": 0,
        "early_stopping": True,
        "n_iter_no_change": 100,
        "max_iter": 6,
        "tol": 0.0,
        "precision": "float64",  # "auto" would take float32 with early stopping
    }
    with pytest.warns(ConvergenceWarning):
        local = InterpolatingKernelRegressor(**params).fit(X, Y)
    with pytest.warns(ConvergenceWarning):
        remote = InterpolatingKernelRegressor(**params).fit(X_dask, Y)
    assert local.early_stopping_ and remote.early_stopping_
    assert (
        remote.n_iter_ == local.n_iter_ and remote.best_iteration_ == local.best_iteration_
    )
    assert_allclose(remote.validation_scores_, local.validation_scores_, rtol=1e-6)
    assert_array_equal(remote.X_fit_.compute(), local.X_fit_)
    scale = np.abs(local.dual_coef_).max()
    assert_allclose(
        remote.dual_coef_.compute(), local.dual_coef_, rtol=RTOL, atol=RTOL * scale
    )


@pytest.mark.parametrize(
    "estimator", [InterpolatingKernelRegressor, InterpolatingKernelClassifier]
)
def test_sample_weight_and_precomputed_kernel_are_not_supported(
    client, estimator, grid_problem
):
    X, _, labels = grid_problem
    X_dask = da.from_array(X, chunks=100)
    for weight in (np.ones(len(X)), da.ones(len(X), chunks=100)):
        with pytest.raises(NotImplementedError, match=r"sample_weight.*Dask cluster"):
            estimator().fit(X_dask, labels, sample_weight=weight)
    K = da.from_array(np.eye(len(X)), chunks=100)
    with pytest.raises(NotImplementedError, match=r'kernel="precomputed".*Dask'):
        estimator(kernel="precomputed").fit(K, labels)
    model = estimator(kernel="precomputed", alpha=1.0, tol=1e-3).fit(K.compute(), labels)
    with pytest.raises(NotImplementedError, match=r"precomputed.*not a dask array"):
        model.predict(K)


def _nystrom(X, y, Z, alpha, gamma):
    """The closed form of a centers fit: (K_Zn K_nZ + alpha K_ZZ) a = K_Zn y."""
    K_nZ = rbf_kernel(X, Z, gamma=gamma)
    lhs = K_nZ.T @ K_nZ + alpha * rbf_kernel(Z, Z, gamma=gamma)
    return np.linalg.solve(lhs, K_nZ.T @ y)


@pytest.mark.parametrize("alpha", [pytest.param(0.0, marks=pytest.mark.slow), 0.1])
def test_centers_on_cluster_reach_the_nystrom_solution(
    client, workers, grid_problem, alpha, monkeypatch
):
    """With n_centers on a dask X the rows stay in the shards and the centers, their
    coefficients and the factor with the driver: full-batch steps converge to the
    Nystrom KernelRidge solution for the centers drawn, and the model is p rows of
    numpy arrays that predicts here and on dask input."""
    X, Y, _ = grid_problem
    y = Y[:, 0]
    sizes, placement = LAYOUTS["3 workers, uneven"]
    X_dask = scattered(client, X, sizes, [workers[k] for k in placement])
    y_dask = scattered(client, y, sizes, [workers[k] for k in placement])
    model = InterpolatingKernelRegressor(
        gamma=GAMMA,
        n_centers=40,
        alpha=alpha,
        batch_size=len(X),
        max_iter=3000,
        tol=0.0,
        precision="float64",
        normalize_y=False,
        random_state=0,
    )
    from sklearn_interp import _distributed_centers

    steps = []
    residuals = _distributed_centers.ShardedCenterEvaluator.residuals
    monkeypatch.setattr(
        _distributed_centers.ShardedCenterEvaluator,
        "residuals",
        lambda self, *args, **kwargs: steps.append(1) or residuals(self, *args, **kwargs),
    )
    with warnings.catch_warnings():
        # A fit to a least-squares floor ends at max_iter or a stall: no warning.
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X_dask, y_dask)
    assert len(steps) >= model.n_iter_  # the steps ran on the shards
    assert model.n_centers_ == 40
    assert isinstance(model.X_fit_, np.ndarray) and model.X_fit_.shape == (40, 2)
    assert isinstance(model.dual_coef_, np.ndarray)
    # The centers are rows of X.
    assert all(np.any(np.all(X == z, axis=1)) for z in model.X_fit_)
    coef = _nystrom(X, y, model.X_fit_, alpha, GAMMA)
    expected = rbf_kernel(X, model.X_fit_, gamma=GAMMA) @ coef
    scale = np.abs(expected).max()
    assert_allclose(model.predict(X), expected, rtol=0, atol=1e-6 * scale)
    predicted = model.predict(X_dask)
    assert isinstance(predicted, da.Array)
    assert_allclose(predicted.compute(), model.predict(X), rtol=1e-12)


@pytest.mark.slow
def test_centers_classifier_on_cluster_with_early_stopping(client, workers, grid_problem):
    X, _, labels = grid_problem
    sizes, placement = LAYOUTS["2 workers"]
    X_dask = scattered(client, X, sizes, [workers[k] for k in placement])
    y_dask = scattered(client, labels, sizes, [workers[k] for k in placement])
    model = InterpolatingKernelClassifier(
        gamma=GAMMA, n_centers=60, early_stopping=True, random_state=0
    )
    model.fit(X_dask, y_dask)
    assert model.n_centers_ == 60 and model.X_fit_.shape == (60, 2)
    assert model.validation_scores_ is not None
    local = InterpolatingKernelClassifier(gamma=GAMMA, n_centers=60, random_state=0)
    local.fit(X, labels)
    # Different centers (drawn among the rows on the cluster, among distinct rows
    # here): both models fit the training labels about as well.
    assert model.score(X, labels) > local.score(X, labels) - 0.05
