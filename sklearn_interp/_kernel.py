"""Kernel blocks: the only way the solver sees the kernel.

The solver never asks for the whole n x n kernel matrix. It calls a *block kernel*
``kernel(A, B)`` that returns the ``len(A) x len(B)`` block ``k(A, B)`` in the compute
precision, and :func:`kernel_diagonal` for ``k(x, x)``. Any other backend (a GPU array
library, a distributed engine) only has to provide such a callable.

Parameters follow :class:`sklearn.kernel_ridge.KernelRidge`: a name from
``sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS`` with ``gamma``, ``degree`` and
``coef0`` (``None`` means the scikit-learn default of that kernel), or a callable
``k(x, y) -> float`` on two 1-D rows with ``kernel_params`` as keyword arguments.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils import gen_batches
from sklearn.utils.extmath import row_norms

# Rows per block when reading the kernel diagonal: the block costs DIAGONAL_BLOCK_ROWS^2
# kernel entries, small next to one SGD epoch, and keeps the loop short.
DIAGONAL_BLOCK_ROWS = 128


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
        ignored for a callable kernel.
    kernel_params : dict or None
        Keyword arguments of a callable kernel; ignored for a named kernel, as in
        KernelRidge.
    dtype : {np.float64, np.float32}
        Precision of the returned blocks and of the arithmetic that makes them.

    Returns
    -------
    block_kernel : callable
        ``block_kernel(A, B)`` with ``A`` and ``B`` 2-D arrays (or CSR matrices) of the
        same number of features, returning a C-contiguous array of ``dtype``.
    """
    dtype = np.dtype(dtype)
    if callable(kernel):
        params = dict(kernel_params or {})
    else:
        params = {"gamma": gamma, "degree": degree, "coef0": coef0}

    def block_kernel(A, B):
        if kernel == "rbf" and not (sp.issparse(A) or sp.issparse(B)):
            return _rbf_block(A, B, gamma, dtype)
        block = pairwise_kernels(
            A, B, metric=kernel, filter_params=not callable(kernel), **params
        )
        return np.ascontiguousarray(block, dtype=dtype)

    return block_kernel


def _rbf_block(A, B, gamma, dtype):
    """exp(-gamma ||a - b||^2) on dense rows, in place: one block-sized temporary.

    ``pairwise_kernels`` allocates about three arrays of the block's size; an SGD epoch
    computes n^2 kernel entries, so the block's memory traffic matters.
    """
    if gamma is None:
        gamma = 1.0 / A.shape[1]  # scikit-learn's rbf default
    A = np.asarray(A, dtype=dtype)
    B = np.asarray(B, dtype=dtype)
    block = A @ B.T
    # ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b; clipped at 0 against cancellation.
    block *= -2.0
    block += row_norms(A, squared=True).astype(dtype, copy=False)[:, np.newaxis]
    block += row_norms(B, squared=True).astype(dtype, copy=False)[np.newaxis, :]
    np.maximum(block, 0.0, out=block)
    block *= -gamma
    np.exp(block, out=block)
    return block


def kernel_diagonal(kernel, X):
    """Return ``k(x_i, x_i)`` for every row of ``X``, computed in small blocks.

    Parameters
    ----------
    kernel : callable
        A block kernel from :func:`make_kernel`.
    X : ndarray or sparse matrix of shape (n_samples, n_features)

    Returns
    -------
    diagonal : ndarray of shape (n_samples,), float64
    """
    diagonal = np.empty(X.shape[0], dtype=np.float64)
    for rows in gen_batches(X.shape[0], DIAGONAL_BLOCK_ROWS):
        diagonal[rows] = np.diag(kernel(X[rows], X[rows]))
    return diagonal
