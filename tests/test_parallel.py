"""Kernel rows on all cores: chunks over threads give scikit-learn's kernel values."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels

from sklearn_interp import InterpolatingKernelRegressor, _kernel, _parallel
from sklearn_interp._kernel import kernel_product, make_kernel
from sklearn_interp._weights import WeightedKernel, with_scale

# float64 blocks agree with scikit-learn's to rounding of the distance expansion.
FLOAT64_RTOL = 1e-10
# float32 blocks carry about 7 significant digits (sigmoid and polynomial values of a
# few units included).
FLOAT32_ATOL = 5e-5

PARAMS = {"gamma": 0.3, "degree": 3, "coef0": 0.5}

# scikit-learn's chi2 kernels reject sparse input, and so do the blocks.
SPARSE_UNSUPPORTED = {"chi2", "additive_chi2"}

# Shapes (rows of A, rows of B): one row, one column, and sizes that no chunk divides.
SHAPES = [(1, 17), (23, 1), (37, 29), (101, 53)]


@pytest.fixture
def force_chunks(monkeypatch):
    """Every map on threads (when there are two), in chunks of 3 rows."""
    monkeypatch.setattr(_parallel, "MAP_PARALLEL_MIN_ENTRIES", 0)
    monkeypatch.setattr(_parallel, "MIN_CHUNK_ROWS", 1)
    monkeypatch.setattr(_parallel, "CHUNK_ENTRIES", 3)


def _chunked_block(kernel, A, B):
    rows_of = kernel.rows_against(B)
    block = np.full((A.shape[0], B.shape[0]), np.nan, dtype=kernel.dtype)

    def fill(rows):
        block[rows] = rows_of(A[rows])
        return rows.start

    starts = _parallel.map_row_chunks(fill, A.shape[0], B.shape[0], kernel.dtype)
    assert starts == sorted(starts)  # results in the chunks' order
    return block


@pytest.mark.parametrize("name", sorted(PAIRWISE_KERNEL_FUNCTIONS))
# float32 on sparse rows takes the same path as float64 on sparse rows, with a cast:
# those cases run with the slow tests.
@pytest.mark.parametrize(
    "dtype, sparse",
    [
        (np.float64, False),
        (np.float32, False),
        (np.float64, True),
        pytest.param(np.float32, True, marks=pytest.mark.slow),
    ],
)
@pytest.mark.parametrize("shape", SHAPES)
def test_chunked_kernel_rows_match_pairwise_kernels(
    force_chunks, name, dtype, sparse, shape
):
    rng = np.random.RandomState(sum(shape))
    # Non-negative, as the chi2 kernels require.
    A = rng.uniform(0, 1, size=(shape[0], 5))
    B = rng.uniform(0, 1, size=(shape[1], 5))
    expected = pairwise_kernels(A, B, metric=name, filter_params=True, **PARAMS)
    kernel = make_kernel(name, **PARAMS, dtype=dtype)
    if sparse:
        A, B = sp.csr_matrix(A), sp.csr_matrix(B)
        if name in SPARSE_UNSUPPORTED:
            with pytest.raises(TypeError, match="Sparse data"):
                _chunked_block(kernel, A, B)
            return
    else:
        A, B = A.astype(dtype), B.astype(dtype)
    block = _chunked_block(kernel, A, B)
    assert block.dtype == dtype
    if dtype == np.float64:
        assert_allclose(block, expected, rtol=FLOAT64_RTOL, atol=1e-12)
    else:
        assert_allclose(block, expected, rtol=0, atol=FLOAT32_ATOL)


@pytest.mark.parametrize("name", ["rbf", "polynomial", "sigmoid", "linear"])
@pytest.mark.parametrize("sparse_rows", ["A", "B", "both"])
def test_sparse_rows_of_the_fast_kernels_match_pairwise_kernels(name, sparse_rows):
    """rbf and the inner-product kernels skip scikit-learn's validation on sparse rows
    (their own product and map) and agree with it, whichever side is sparse; the rows
    meeting themselves give an rbf diagonal of exactly 1 up to rounding."""
    rng = np.random.RandomState(3)
    A = sp.random(13, 6, density=0.4, random_state=rng, format="csr")
    B = sp.random(9, 6, density=0.4, random_state=rng, format="csr")
    expected = pairwise_kernels(A, B, metric=name, filter_params=True, **PARAMS)
    left = A if sparse_rows in ("A", "both") else A.toarray()
    right = B if sparse_rows in ("B", "both") else B.toarray()
    for dtype in (np.float64, np.float32):
        block = make_kernel(name, **PARAMS, dtype=dtype)(left, right)
        assert block.dtype == dtype and block.flags.c_contiguous
        atol = 1e-12 if dtype == np.float64 else FLOAT32_ATOL
        assert_allclose(block, expected, rtol=0, atol=atol)
    same = make_kernel(name, **PARAMS)(A, A)
    assert_allclose(same, pairwise_kernels(A, metric=name, filter_params=True, **PARAMS))


def test_map_row_chunks_serial_below_the_threshold(monkeypatch):
    """Small maps run in this thread, in one chunk within the budget."""
    calls = []
    result = _parallel.map_row_chunks(lambda rows: calls.append(rows) or 7, 10, 10, float)
    assert result == [7] and calls == [slice(0, 10)]


def test_chunk_rows_rule():
    # About CHUNK_ENTRIES entries, at least MIN_CHUNK_ROWS rows, a thread's share of
    # the budget's block at most, and at least one row.
    assert _parallel.chunk_rows(10, 10**6, 2) == _parallel.CHUNK_ENTRIES // 10
    assert _parallel.chunk_rows(10**9, 10**6, 2) == _parallel.MIN_CHUNK_ROWS
    assert _parallel.chunk_rows(10**5, 100, 2) == 50
    assert _parallel.chunk_rows(10**5, 1, 2) == 1


@pytest.mark.parametrize("kernel", ["rbf", "polynomial", "laplacian"])
def test_predict_in_chunks_on_threads_equals_one_block(monkeypatch, kernel):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    X_test = rng.normal(size=(41, 3))
    model = InterpolatingKernelRegressor(
        kernel=kernel, degree=2, max_iter=3, tol=0.0, random_state=0
    )
    with pytest.warns(Warning):  # tol=0: not converged by design
        model.fit(X, y)
    whole = model.predict(X_test)
    monkeypatch.setattr(_parallel, "MAP_PARALLEL_MIN_ENTRIES", 0)
    monkeypatch.setattr(_parallel, "MIN_CHUNK_ROWS", 1)
    monkeypatch.setattr(_parallel, "CHUNK_ENTRIES", 4 * len(X))
    assert_allclose(model.predict(X_test), whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["rbf", "polynomial", "sigmoid", "linear", "laplacian"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("keep", [0, 4, 29])
def test_kernel_product_in_tiles_matches_the_whole_block(
    monkeypatch, name, dtype, weighted, keep
):
    """k(A, B) @ coef in column tiles of 7 (the last one short), with the kept columns
    and a patched diagonal, equals the product of the whole block from scikit-learn;
    laplacian has no tiles and takes the whole-block path."""
    monkeypatch.setattr(_kernel, "TILE_ENTRIES", 1)
    monkeypatch.setattr(_kernel, "MIN_TILE_COLUMNS", 7)
    rng = np.random.RandomState(keep)
    A = rng.uniform(0, 1, size=(11, 5))
    B = rng.uniform(0, 1, size=(29, 5))
    coef = rng.standard_normal((29, 3))
    expected = pairwise_kernels(A, B, metric=name, filter_params=True, **PARAMS)
    kernel = make_kernel(name, **PARAMS, dtype=dtype)
    if weighted:
        scale_A, scale_B = rng.uniform(0.5, 2, size=11), rng.uniform(0.5, 2, size=29)
        expected = scale_A[:, np.newaxis] * expected * scale_B
        A, B = with_scale(A, scale_A), with_scale(B, scale_B)
        kernel = WeightedKernel(kernel)
    # Row i of A meets point columns[i] of B, whose entry is replaced by values[i].
    block_rows, columns = np.array([0, 3, 10]), np.array([2, 11, 28])
    values = np.array([5.0, -1.0, 2.5])
    expected[block_rows, columns] = values
    rows = kernel.rows_against(B.astype(dtype))
    assert (getattr(rows, "tiles", None) is not None) == (name != "laplacian")
    product, head = kernel_product(
        rows,
        A.astype(dtype),
        coef.astype(dtype),
        keep=keep,
        patch=(block_rows, columns, values),
    )
    assert product.dtype == np.float64 and head.shape == (11, keep)
    tolerance = (
        {"rtol": FLOAT64_RTOL, "atol": 1e-12}
        if dtype == np.float64
        else {"rtol": 0, "atol": 20 * FLOAT32_ATOL}
    )
    assert_allclose(head, expected[:, :keep], **tolerance)
    assert_allclose(product, expected @ coef.astype(dtype), **tolerance)


def test_kernel_product_of_sparse_rows_takes_the_whole_block():
    """Sparse rows against dense points have no tiles; the product is the same."""
    rng = np.random.RandomState(0)
    A, B = rng.uniform(0, 1, size=(6, 4)), rng.uniform(0, 1, size=(9, 4))
    coef = rng.standard_normal((9, 2))
    rows = make_kernel("rbf", gamma=0.5).rows_against(B)
    product, head = kernel_product(rows, sp.csr_matrix(A), coef, keep=3)
    expected = pairwise_kernels(A, B, metric="rbf", gamma=0.5)
    assert_allclose(product, expected @ coef, rtol=1e-10)
    assert_allclose(head, expected[:, :3], rtol=1e-10)


def test_kernel_product_fits_its_tiles_into_a_buffer_made_for_more_rows():
    """A thread's buffer is sized for its chunk rule's rows; a shorter chunk (the last
    of a piece) gets wider tiles by the rule, which must still fit: 1000 rows get
    tiles of 524 columns (524,000 entries), 360 rows would get 1456 (524,160)."""
    rows_of_buffer, n_rows, n_columns = 1000, 360, 3000
    assert n_rows * _kernel.tile_columns(n_rows) > rows_of_buffer * _kernel.tile_columns(
        rows_of_buffer
    )
    rng = np.random.RandomState(0)
    A = rng.uniform(0, 1, size=(n_rows, 4)).astype(np.float32)
    B = rng.uniform(0, 1, size=(n_columns, 4)).astype(np.float32)
    coef = rng.standard_normal((n_columns, 2)).astype(np.float32)
    kernel = make_kernel("rbf", gamma=0.5, dtype=np.float32)
    buffers = (
        np.empty((rows_of_buffer, 10), np.float32),
        np.empty(rows_of_buffer * _kernel.tile_columns(rows_of_buffer), np.float32),
    )
    product, head = kernel_product(
        kernel.rows_against(B), A, coef, keep=10, buffers=buffers
    )
    expected = pairwise_kernels(A, B, metric="rbf", gamma=0.5)
    assert_allclose(head, expected[:, :10], atol=FLOAT32_ATOL)
    assert_allclose(product, expected @ coef, atol=20 * FLOAT32_ATOL)
