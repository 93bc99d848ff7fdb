"""Kernel blocks: the only way the solver sees the kernel.

The solver never asks for the whole n x n kernel matrix. It calls a *block kernel*
``kernel(A, B)`` that returns the ``len(A) x len(B)`` block ``k(A, B)`` in the compute
precision, and its :meth:`~BlockKernel.diagonal` for ``k(x, x)``. The kernel carries the
precision of the fit: the blocks, the training points' copy and the coefficients' mirror
all follow ``kernel.dtype``. Any other backend (a GPU array
library, a distributed engine) only has to provide such a callable.

Parameters follow :class:`sklearn.kernel_ridge.KernelRidge`: a name from
``sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS`` with ``gamma``, ``degree`` and
``coef0`` (``gamma=None`` means the scikit-learn default of that kernel), or a callable
``k(x, y) -> float`` on two 1-D rows with ``kernel_params`` as keyword arguments.

Two features bring kernels of the same surface (``__call__``, ``astype``,
``rows_against``, ``diagonal``, ``dtype``): ``kernel="precomputed"``
(:class:`sklearn_interp._precomputed.PrecomputedKernel`) and ``sample_weight``
(:class:`sklearn_interp._weights.WeightedKernel`).
"""

import inspect

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.metrics.pairwise import (
    KERNEL_PARAMS,
    PAIRWISE_KERNEL_FUNCTIONS,
    pairwise_kernels,
)
from sklearn.utils import gen_batches
from sklearn.utils.extmath import row_norms

# The rbf fast path expands ||a - b||^2, whose rounding error is about eps * gamma *
# (||a||^2 + ||b||^2) in the exponent. Once that bound could exceed this, the block is
# clipped at exponent 0 before the exp, so that badly scaled data cannot overflow.
EXPONENT_ERROR_LIMIT = 1e-3

# Rows per block when reading the kernel diagonal: the block costs DIAGONAL_BLOCK_ROWS^2
# kernel entries, small next to one SGD epoch, and keeps the loop short.
DIAGONAL_BLOCK_ROWS = 128

# Arrays of one kernel block's size alive at once: the rbf and inner-product paths keep
# only the block (their map runs in place); scikit-learn's pairwise_kernels, used for
# the other kernels and sparse rows, holds a distance matrix and the kernel matrix.
KERNEL_BLOCK_COPIES = 2

# Kernel rows multiplied by coefficients (:func:`kernel_product`) are computed in column
# tiles of about TILE_ENTRIES entries (2 MiB in float32), at least MIN_TILE_COLUMNS wide:
# the product that makes a tile, its map (the exp) and its product with the
# coefficients then read it from the core's cache, not from memory. Measured on an AMD
# EPYC (AVX2, 2 cores), rows of 256 against 20,000 points: an epoch's residuals in
# 0.70-0.92 s tiled against 0.78-1.05 s as whole rows (3 alternating runs); tiles of
# 2**18 entries were no faster (0.80-0.94 s).
TILE_ENTRIES = 2**19
MIN_TILE_COLUMNS = 256


def memory_budget():
    """Bytes one temporary may use: scikit-learn's ``working_memory`` setting (MiB)."""
    return get_config()["working_memory"] * 2**20


def kernel_block_rows(n_columns, dtype, budget=None):
    """Largest number of kernel rows against ``n_columns`` points that fits the budget.

    The one rule for the size of a kernel block, wherever one is computed (the fit's
    batches, the scan for beta_P, a shard's part of a step, the predictions).

    Parameters
    ----------
    n_columns : int
        Points each row is computed against.
    dtype : numpy.dtype
        Precision of the block.
    budget : float, default=None
        Bytes; None reads :func:`memory_budget`.

    Raises
    ------
    ValueError
        If not even one row fits, before anything is allocated.
    """
    budget = memory_budget() if budget is None else budget
    row_bytes = n_columns * np.dtype(dtype).itemsize * KERNEL_BLOCK_COPIES
    rows = int(budget // row_bytes)
    if rows < 1:
        raise ValueError(
            f"One kernel row against {n_columns} training points needs "
            f"{row_bytes / 2**20:.3g} MiB, more than the memory budget of "
            f"{budget / 2**20:.3g} MiB; raise it with "
            "sklearn.set_config(working_memory=...) (in MiB)."
        )
    return rows


def tile_columns(n_rows):
    """Columns of one tile of :func:`kernel_product` for ``n_rows`` rows."""
    return max(MIN_TILE_COLUMNS, TILE_ENTRIES // max(n_rows, 1))


def kernel_product(rows, A, coef, *, keep=0, patch=None, buffers=None):
    """``k(A, B) @ coef`` in float64, and the block's first ``keep`` columns.

    The kernel rows of A are never held whole when ``rows`` can compute them in column
    tiles (its ``tiles(A)``, the dense fast paths): each tile is made, mapped and
    multiplied by its rows of ``coef`` while in cache (:data:`TILE_ENTRIES`), and
    the products are summed in float64. Other kernels compute the whole block once.

    Parameters
    ----------
    rows : callable
        From a kernel's ``rows_against(B)``.
    A : ndarray or sparse matrix of shape (n_rows, n_features)
    coef : ndarray of shape (len(B), n_outputs)
        Best in the kernel's precision (a float64 ``coef`` against float32 rows costs
        a conversion of every tile).
    keep : int, default=0
        Leading columns of the block to return (the preconditioner's subsample).
    patch : tuple of three arrays or None
        ``(block_rows, columns, values)``: the entries ``k(A[block_rows[i]],
        B[columns[i]])`` are taken to be ``values[i]`` (the exact diagonal).
    buffers : tuple of two ndarrays or None
        ``(head, tile)``: space for the kept columns, shape ``(>= n_rows, keep)``
        (used only when ``keep > 0``), and
        for one tile, flat, in the kernel's precision (the tiles are narrowed to fit
        it; ``chunk_rows * min(tile_columns(chunk_rows), len(B))`` entries serve any
        ``n_rows <= chunk_rows``); None allocates them.

    Returns
    -------
    product : ndarray of shape (n_rows, n_outputs), float64
    head : ndarray of shape (n_rows, keep)
        A view of the kernel rows (or of ``buffers[0]``).
    """
    tiles = getattr(rows, "tiles", None)
    tile = None if tiles is None else tiles(A)
    if tile is None:
        block = rows(A)
        _patch_block(block, 0, block.shape[1], patch)
        return np.asarray(block @ coef, dtype=np.float64), block[:, :keep]
    n_rows, n_columns = A.shape[0], coef.shape[0]
    head_buffer, tile_buffer = (None, None) if buffers is None else buffers
    product = np.zeros((n_rows, coef.shape[1]))
    head = np.empty((n_rows, 0), dtype=rows.dtype)
    if keep:
        head = tile(slice(0, keep), None if head_buffer is None else head_buffer[:n_rows])
        _patch_block(head, 0, keep, patch)
        product += head @ coef[:keep]
    width = tile_columns(n_rows)
    if tile_buffer is None:
        tile_buffer = np.empty(n_rows * min(width, n_columns), dtype=rows.dtype)
    else:
        # A buffer sized for more rows can hold fewer columns of these than the
        # rule gives them (the rule's floor division).
        width = min(width, len(tile_buffer) // n_rows)
    for start in range(keep, n_columns, width):
        stop = min(start + width, n_columns)
        block = tile(
            slice(start, stop),
            tile_buffer[: n_rows * (stop - start)].reshape(n_rows, stop - start),
        )
        _patch_block(block, start, stop, patch)
        product += block @ coef[start:stop]
    return product, head


def _patch_block(block, start, stop, patch):
    """Write the entries of ``patch`` (as in :func:`kernel_product`) that fall in
    columns ``start .. stop - 1`` into ``block``, whose columns begin at ``start``."""
    if patch is None:
        return
    block_rows, columns, values = patch
    inside = (columns >= start) & (columns < stop)
    block[block_rows[inside], columns[inside] - start] = values[inside]


def resolve_gamma(kernel, gamma, X):
    """The gamma a fit on X uses: a number, or None for a kernel without one.

    Parameters
    ----------
    kernel : str or callable
        As in :func:`make_kernel`. A callable takes its parameters from
        ``kernel_params``, and a kernel without a gamma ("linear", "cosine",
        "additive_chi2") ignores it: both give None.
    gamma : float, "scale" or None
        A number is kept. None is the kernel function's scikit-learn default:
        ``1 / n_features``, or the default in its signature (1.0 for "chi2").
        "scale" is ``1 / (n_features * X.var())``, as in :class:`~sklearn.svm.SVC`
        (the variance of all entries of X, sparse or dense; 1.0 when it is 0).
    X : ndarray, sparse matrix or dask array of shape (n_samples, n_features)
        Training data.

    Returns
    -------
    gamma : float or None

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_interp._kernel import resolve_gamma
    >>> X = np.array([[0.0, 2.0], [2.0, 0.0]])
    >>> resolve_gamma("rbf", "scale", X), resolve_gamma("chi2", None, X)
    (0.5, 1.0)
    """
    if callable(kernel) or "gamma" not in KERNEL_PARAMS.get(kernel, ()):
        return None
    n_features = X.shape[1]
    if gamma is None:
        default = inspect.signature(PAIRWISE_KERNEL_FUNCTIONS[kernel]).parameters
        default = default["gamma"].default
        return 1.0 / n_features if default is None else float(default)
    if gamma == "scale":
        if sp.issparse(X):
            variance = X.multiply(X).mean() - X.mean() ** 2
        else:
            variance = X.var()
        variance = float(variance.compute() if hasattr(variance, "compute") else variance)
        return 1.0 / (n_features * variance) if variance != 0 else 1.0
    return float(gamma)


def make_kernel(
    kernel, *, gamma=None, degree=3, coef0=1, kernel_params=None, dtype=np.float64
):
    """Return a block kernel ``kernel(A, B) -> ndarray of shape (len(A), len(B))``.

    Parameters
    ----------
    kernel : str or callable
        A key of ``PAIRWISE_KERNEL_FUNCTIONS`` or a callable on two 1-D rows.
    gamma, degree, coef0 : float or None
        Kernel parameters, as in :class:`~sklearn.kernel_ridge.KernelRidge`;
        ignored for a callable kernel. ``gamma=None`` is the kernel function's own
        default (see :func:`resolve_gamma`).
    kernel_params : dict or None
        Keyword arguments of a callable kernel; ignored for a named kernel, as in
        KernelRidge.
    dtype : {np.float64, np.float32}
        Precision of the returned blocks and of the arithmetic that makes them.

    Returns
    -------
    block_kernel : BlockKernel
        ``block_kernel(A, B)`` with ``A`` and ``B`` 2-D arrays (or CSR matrices) of the
        same number of features, returning a C-contiguous array of ``dtype``;
        ``block_kernel.rows_against(B)`` returns ``A -> block_kernel(A, B)`` with the work
        that depends on B alone done once.
    """
    if callable(kernel):
        params = dict(kernel_params or {})
    else:
        # gamma=None is left out, so that each kernel function applies its own default
        # (1 / n_features for most, 1.0 for "chi2", which cannot take None).
        params = {"gamma": gamma, "degree": degree, "coef0": coef0}
        params = {name: value for name, value in params.items() if value is not None}
    return BlockKernel(kernel, params, np.dtype(dtype))


class BlockKernel:
    """A kernel evaluated block by block, in one precision.

    Parameters
    ----------
    kernel : str or callable
        As in :func:`make_kernel`.
    params : dict
        Keyword arguments for ``pairwise_kernels``.
    dtype : numpy.dtype
        Precision of the blocks.
    """

    def __init__(self, kernel, params, dtype):
        self.kernel = kernel
        self.params = params
        self.dtype = dtype

    def __call__(self, A, B):
        return self.rows_against(B)(A)

    def astype(self, dtype):
        """The same kernel computing its blocks in ``dtype``."""
        return BlockKernel(self.kernel, self.params, np.dtype(dtype))

    def rows_against(self, B):
        """Return ``(A, out=None) -> k(A, B)``, doing the work that depends on B alone
        once.

        ``out``, a C-contiguous ``(len(A), len(B))`` array of the block's dtype, is a
        buffer the block may be written into (the fast paths of rbf and the
        inner-product kernels do, and so save a fresh allocation per block); the block
        is the return value either way. Against sparse rows B, rbf and the
        inner-product kernels take :class:`_SparseRows`; the other kernels, and sparse
        rows A against dense rows B, go through scikit-learn's ``pairwise_kernels``.
        The dense fast paths also make column tiles of the rows (``tiles(A)``, used by
        :func:`kernel_product`).
        """
        fast = self.kernel == "rbf" or self.kernel in INNER_PRODUCT_KERNELS
        if fast and not sp.issparse(B):
            if self.kernel == "rbf":
                return _RBFRows(B, self.params.get("gamma"), self.dtype, self._generic)
            return _InnerProductRows(B, self.kernel, self.params, self.dtype, self._generic)
        if fast:
            return _SparseRows(B, self.kernel, self.params, self.dtype)
        return lambda A, out=None: self._generic(A, B)

    def diagonal(self, X):
        """``k(x_i, x_i)`` for every row of ``X``, float64."""
        if self.kernel in ("rbf", "laplacian"):
            # exp(-gamma * 0): exactly 1 at every point, whatever the data's scale.
            return np.ones(X.shape[0])
        if callable(self.kernel):
            # A Python callable costs one call per entry: ask it for the diagonal only.
            return np.array(
                [self.kernel(X[i], X[i], **self.params) for i in range(X.shape[0])],
                dtype=np.float64,
            )
        diagonal = np.empty(X.shape[0], dtype=np.float64)
        for rows in gen_batches(X.shape[0], DIAGONAL_BLOCK_ROWS):
            # B=None tells scikit-learn that the rows meet themselves: its distances
            # then have an exact zero diagonal, whatever the data's scale.
            diagonal[rows] = np.diag(self._generic(X[rows], None))
        return diagonal

    def _generic(self, A, B):
        block = pairwise_kernels(
            A,
            B,
            metric=self.kernel,
            filter_params=not callable(self.kernel),
            **self.params,
        )
        return np.ascontiguousarray(block, dtype=self.dtype)


class _RBFRows:
    """exp(-gamma ||a - b||^2) against fixed dense rows B: one matrix product and one exp.

    With the rows centred on B's mean (the kernel is translation invariant, and centring
    keeps the norms, hence the cancellation below, small), the exponent
    ``2 gamma a.b - gamma ||a||^2 - gamma ||b||^2`` is the product of ``[a, -gamma ||a||^2,
    1]`` and ``[2 gamma b, 1, -gamma ||b||^2]``: the additions ride in the matrix product
    and the only elementwise pass left is the exp.
    """

    def __init__(self, B, gamma, dtype, fallback):
        B = np.asarray(B)
        self.gamma = 1.0 / B.shape[1] if gamma is None else gamma  # scikit-learn's default
        self.dtype = dtype
        self.B = B
        self.fallback = fallback
        self.center = B.mean(axis=0, dtype=np.float64)
        centred = B - self.center
        self.right = np.empty((B.shape[0], B.shape[1] + 2), dtype=dtype)
        self.right[:, :-2] = 2.0 * self.gamma * centred
        self.right[:, -2] = 1.0
        self.right[:, -1] = -self.gamma * row_norms(centred, squared=True)
        self.eps = np.finfo(dtype).eps
        self.right_scale = float(-self.right[:, -1].max(initial=0.0))

    def __call__(self, A, out=None):
        if sp.issparse(A):
            return self.fallback(A, self.B)
        return self.tiles(A)(slice(None), out)

    def tiles(self, A):
        """``tile(columns, out=None) -> k(A, B[columns])`` for a slice of columns,
        with A's share of the work done once; None for sparse A."""
        if sp.issparse(A):
            return None
        centred = np.asarray(A) - self.center
        left = np.empty((A.shape[0], A.shape[1] + 2), dtype=self.dtype)
        left[:, :-2] = centred
        left[:, -2] = -self.gamma * row_norms(centred, squared=True)
        left[:, -1] = 1.0
        # Rounding can leave an exponent a little above 0. For sensibly scaled data that
        # is a few ulps (a kernel value a few ulps above 1), harmless and cheaper than a
        # clipping pass; for badly scaled data the exponent is clipped at 0.
        left_scale = float(-left[:, -2].min(initial=0.0))
        clip = self.eps * (left_scale + self.right_scale) > EXPONENT_ERROR_LIMIT

        def tile(columns, out=None):
            block = np.matmul(left, self.right[columns].T, out=out)
            if clip:
                np.minimum(block, 0.0, out=block)
            np.exp(block, out=block)
            return block

        return tile


def _power(block, degree):
    """``block ** degree`` in place. numpy's general power costs several times an exp
    per entry; degrees 2 to 4 (3 is the default) take one or two squarings and a
    product instead: per float32 entry of a cache-sized chunk on one AVX-512 core,
    degree 3 took 2.2 ns against 3.0 ns."""
    if degree == 2:
        np.square(block, out=block)
    elif degree == 3:
        block *= np.square(block)
    elif degree == 4:
        np.square(block, out=block)
        np.square(block, out=block)
    else:
        np.power(block, degree, out=block)


def _tanh(block, degree):
    np.tanh(block, out=block)


# Kernels of the inner product, k(a, b) = map(gamma a.b + coef0): scikit-learn's
# functions make the product, then scale it, shift it and map it, one pass over the
# block each; here the scale and shift ride in the product and the map (None for the
# linear kernel, which has neither) runs in place.
INNER_PRODUCT_KERNELS = {
    "linear": None,
    "polynomial": _power,
    "poly": _power,
    "sigmoid": _tanh,
}


class _InnerProductRows:
    """``map(gamma a.b + coef0)`` against fixed dense rows B: one product, one map.

    The product of ``[a, 1]`` and ``[gamma b, coef0]`` is ``gamma a.b + coef0``; the
    map (the power of the polynomial kernel, the tanh of the sigmoid) runs in place on
    the block. The linear kernel is the product of the rows alone.
    """

    def __init__(self, B, name, params, dtype, fallback):
        B = np.asarray(B)
        self.B = B
        self.map = INNER_PRODUCT_KERNELS[name]
        self.degree = params.get("degree", 3)
        self.dtype = dtype
        self.fallback = fallback
        if self.map is None:
            self.right = np.asarray(B, dtype=dtype)
            return
        gamma = params.get("gamma")
        gamma = 1.0 / B.shape[1] if gamma is None else gamma  # scikit-learn's default
        self.right = np.empty((B.shape[0], B.shape[1] + 1), dtype=dtype)
        self.right[:, :-1] = gamma * B
        self.right[:, -1] = params.get("coef0", 1)

    def __call__(self, A, out=None):
        if sp.issparse(A):
            return self.fallback(A, self.B)
        return self.tiles(A)(slice(None), out)

    def tiles(self, A):
        """As :meth:`_RBFRows.tiles`."""
        if sp.issparse(A):
            return None
        if self.map is None:
            left = np.asarray(A, dtype=self.dtype)
        else:
            left = np.empty((A.shape[0], A.shape[1] + 1), dtype=self.dtype)
            left[:, :-1] = A
            left[:, -1] = 1.0

        def tile(columns, out=None):
            block = np.matmul(left, self.right[columns].T, out=out)
            if self.map is not None:
                self.map(block, self.degree)
            return block

        return tile


class _SparseRows:
    """rbf or an inner-product kernel against fixed sparse rows B, in float64.

    The arithmetic of scikit-learn's ``rbf_kernel``, ``polynomial_kernel``,
    ``sigmoid_kernel`` and ``linear_kernel`` on sparse input (the sparse product
    ``A B^T``, then ``||a||^2 - 2 a.b + ||b||^2`` clipped at 0, or ``gamma a.b +
    coef0``), without their input validation: that costs about a millisecond per call,
    more than the block of a small batch (measured: three quarters of a sparse fit on 40
    points), and the solver asks for a block per batch. B's norms are computed once.
    """

    def __init__(self, B, name, params, dtype):
        self.B = B.tocsr()
        self.BT = self.B.T.tocsc()
        self.map = INNER_PRODUCT_KERNELS.get(name)
        self.rbf = name == "rbf"
        self.dtype = dtype
        self.gamma = params.get("gamma")
        if self.gamma is None:
            self.gamma = 1.0 / B.shape[1]  # scikit-learn's default
        self.degree = params.get("degree", 3)
        self.coef0 = params.get("coef0", 1)
        if self.rbf:
            self.norms = row_norms(self.B, squared=True)

    def __call__(self, A, out=None):
        product = A @ self.BT
        if sp.issparse(product):
            product = product.toarray()
        block = np.array(product, dtype=np.float64)
        if self.rbf:
            block *= -2.0
            block += row_norms(A, squared=True)[:, np.newaxis]
            block += self.norms
            np.maximum(block, 0.0, out=block)
            block *= -self.gamma
            np.exp(block, out=block)
        elif self.map is not None:
            block *= self.gamma
            block += self.coef0
            self.map(block, self.degree)
        if out is None:
            return np.ascontiguousarray(block, dtype=self.dtype)
        out[...] = block
        return out
