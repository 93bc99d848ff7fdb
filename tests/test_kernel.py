"""Block kernels against scikit-learn's pairwise kernels and KernelRidge's conventions."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels

from sklearn_interp._kernel import make_kernel, resolve_gamma
from sklearn_interp._precomputed import PrecomputedKernel, indices
from sklearn_interp._weights import WeightedKernel, with_scale

# float64 kernels agree with scikit-learn's to rounding of the distance expansion.
FLOAT64_RTOL = 1e-10
# float32 blocks carry about 7 significant digits.
FLOAT32_ATOL = 1e-5


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    # Non-negative, as chi2 kernels require.
    return rng.uniform(0, 1, size=(30, 4)), rng.uniform(0, 1, size=(7, 4))


@pytest.mark.parametrize("name", sorted(PAIRWISE_KERNEL_FUNCTIONS))
def test_named_kernels_match_pairwise_kernels(name, data):
    X, Z = data
    params = {"gamma": 0.7, "degree": 2, "coef0": 0.5}
    kernel = make_kernel(name, **params)
    expected = pairwise_kernels(Z, X, metric=name, filter_params=True, **params)
    assert_allclose(kernel(Z, X), expected, rtol=FLOAT64_RTOL, atol=1e-12)


def test_rbf_default_gamma_is_one_over_n_features(data):
    X, Z = data
    assert_allclose(
        make_kernel("rbf")(Z, X), pairwise_kernels(Z, X, metric="rbf"), rtol=1e-12
    )


@pytest.mark.parametrize("name", sorted(PAIRWISE_KERNEL_FUNCTIONS))
def test_default_gamma_is_the_kernel_functions_default(name, data):
    # gamma=None used to reach chi2_kernel as None (an object-dtype failure deep in
    # numpy); each kernel function now applies its own default (chi2: 1.0).
    X, Z = data
    expected = pairwise_kernels(Z, X, metric=name)
    assert_allclose(make_kernel(name)(Z, X), expected, rtol=FLOAT64_RTOL, atol=1e-12)


@pytest.mark.parametrize(
    "name, expected",
    [
        *[("rbf", 0.25), ("laplacian", 0.25), ("polynomial", 0.25), ("sigmoid", 0.25)],
        *[("chi2", 1.0), ("linear", None), ("cosine", None), ("additive_chi2", None)],
    ],
)
def test_resolve_gamma_none_is_the_scikit_learn_default(name, expected, data):
    X, _ = data
    assert resolve_gamma(name, None, X) == expected
    assert resolve_gamma(name, 0.3, X) == (None if expected is None else 0.3)


@pytest.mark.parametrize("sparse", [None, "csr", "csc"])
def test_resolve_gamma_scale_is_svcs(sparse, data):
    from sklearn.svm import SVC

    X, _ = data
    X = X if sparse is None else sp.csr_matrix(X).asformat(sparse)
    y = np.arange(X.shape[0]) % 2
    expected = SVC(gamma="scale").fit(X, y)._gamma
    assert resolve_gamma("rbf", "scale", X) == pytest.approx(expected, rel=1e-12)
    assert resolve_gamma("rbf", "scale", np.ones((5, 3))) == 1.0  # X.var() == 0
    assert resolve_gamma(lambda x, y: 1.0, "scale", X) is None


def test_callable_kernel_gets_kernel_params_and_ignores_gamma(data):
    X, Z = data

    def scaled_linear(x, y, scale=1.0):
        return scale * float(np.dot(x, y))

    kernel = make_kernel(scaled_linear, gamma=123.0, kernel_params={"scale": 3.0})
    assert_allclose(kernel(Z, X), 3.0 * Z @ X.T, rtol=1e-12)


def test_float32_blocks(data):
    X, Z = data
    block = make_kernel("rbf", gamma=0.5, dtype=np.float32)(Z, X)
    assert block.dtype == np.float32
    assert_allclose(
        block, pairwise_kernels(Z, X, metric="rbf", gamma=0.5), atol=FLOAT32_ATOL
    )


@pytest.mark.parametrize("name", ["rbf", "laplacian"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_against_with_a_buffer(name, dtype, data):
    # The buffer is only a place the block may be written into: the returned block is
    # the kernel either way, and the rbf fast path does write into it.
    X, Z = data
    kernel = make_kernel(name, gamma=0.5, dtype=dtype)
    buffer = np.full((len(Z), len(X)), np.nan, dtype=dtype)
    block = kernel.rows_against(X)(Z, out=buffer)
    assert block.dtype == dtype
    assert_allclose(
        block, pairwise_kernels(Z, X, metric=name, gamma=0.5), rtol=1e-5, atol=1e-6
    )
    assert (block is buffer) == (name == "rbf")


def test_sparse_input_matches_dense(data):
    X, Z = data
    kernel = make_kernel("rbf", gamma=0.5)
    assert_allclose(kernel(sp.csr_matrix(Z), sp.csr_matrix(X)), kernel(Z, X), rtol=1e-12)


@pytest.mark.parametrize("name", ["rbf", "polynomial", "linear", "laplacian"])
def test_kernel_diagonal(name, data):
    X, _ = data
    X = np.vstack([X] * 10)  # several diagonal blocks
    kernel = make_kernel(name, gamma=0.3)
    expected = np.diag(pairwise_kernels(X, metric=name, gamma=0.3, filter_params=True))
    assert_allclose(kernel.diagonal(X), expected, rtol=1e-12)


def test_kernel_diagonal_of_a_callable_calls_it_once_per_point(data):
    X, _ = data
    calls = []

    def counted(x, y):
        calls.append(1)
        return float(np.dot(x, y)) + 1.0

    diagonal = make_kernel(counted).diagonal(X)
    assert_allclose(diagonal, np.sum(X**2, axis=1) + 1.0)
    assert len(calls) == len(X)


def test_precomputed_kernel_reads_blocks_of_the_matrix():
    K = np.arange(25.0).reshape(5, 5)
    kernel = PrecomputedKernel(K, np.float32)
    points = indices(5)
    assert_allclose(kernel(points[[3, 1]], points[[0, 4]]), K[np.ix_([3, 1], [0, 4])])
    assert kernel(points[:2], points).dtype == np.float32
    assert_allclose(kernel.diagonal(points[[2, 4]]), [12.0, 24.0])
    sparse = PrecomputedKernel(sp.csr_matrix(K), np.float64)
    assert_allclose(sparse(points[[3, 1]], points), K[[3, 1]])
    assert_allclose(sparse.diagonal(points), np.diag(K))


@pytest.mark.parametrize("sparse", [False, True])
def test_weighted_kernel_scales_rows_and_columns(data, sparse):
    X, Z = data
    scale_x, scale_z = np.linspace(0.5, 2, len(X)), np.linspace(1, 3, len(Z))
    points = with_scale(sp.csr_matrix(X) if sparse else X, scale_x)
    queries = with_scale(sp.csr_matrix(Z) if sparse else Z, scale_z)
    kernel = WeightedKernel(make_kernel("rbf", gamma=0.7))
    expected = scale_z[:, None] * pairwise_kernels(Z, X, metric="rbf", gamma=0.7)
    assert_allclose(kernel(queries, points), expected * scale_x, rtol=FLOAT64_RTOL)
    assert_allclose(kernel.diagonal(points), scale_x**2)
    assert kernel.astype(np.float32)(queries, points).dtype == np.float32


@pytest.mark.parametrize("degree", [0, 1, 2, 3, 4, 5, 2.5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_polynomial_degrees_match_pairwise_kernels(degree, dtype, data):
    # Degrees 2 to 4 are raised by squarings, the others by numpy's power.
    X, Z = data
    params = {"gamma": 0.7, "degree": degree, "coef0": 0.5}
    expected = pairwise_kernels(Z, X, metric="polynomial", **params)
    block = make_kernel("polynomial", **params, dtype=dtype)(
        Z.astype(dtype), X.astype(dtype)
    )
    assert block.dtype == dtype
    rtol = FLOAT64_RTOL if dtype == np.float64 else 1e-5
    assert_allclose(block, expected, rtol=rtol, atol=1e-12)
