"""``kernel="precomputed"``: the user's kernel matrix, read block by block.

The training "points" of a precomputed kernel are the indices of the training samples
(:func:`indices`), so that the fit's machinery (subsample, batches, validation split,
the scan for beta_P) works on them as on any data, and :class:`PrecomputedKernel` reads
``matrix[A, B]`` for index points A and B.
"""

import numpy as np
import scipy.sparse as sp


class PrecomputedKernel:
    """The entries of a kernel matrix the user computed, read block by block.

    For ``kernel="precomputed"`` the training "points" are the indices of the training
    samples, as one float column (``indices(n)``): the fit's machinery (subsample,
    batches, validation split, the preconditioner's scan) then works on them as on
    any data, and ``k(A, B)`` is the block ``matrix[A, B]`` of the user's matrix, which
    is only ever read (the ridge term is added to residuals, never to the matrix).
    Indices are exact in float32 below 2^24 (16.7 million samples), far beyond any
    n x n matrix that fits in memory.

    Parameters
    ----------
    matrix : ndarray or CSR matrix of shape (n_samples, n_samples)
        ``K(X_train, X_train)``, as validated in ``fit``.
    dtype : numpy.dtype
        Precision of the blocks.
    """

    def __init__(self, matrix, dtype):
        self.matrix = matrix
        self.dtype = np.dtype(dtype)

    def __call__(self, A, B):
        return self.rows_against(B)(A)

    def astype(self, dtype):
        """The same matrix, its blocks in ``dtype``."""
        return PrecomputedKernel(self.matrix, dtype)

    def rows_against(self, B):
        """Return ``(A, out=None) -> matrix[A, B]`` for index points A and B."""
        columns = index_positions(B)

        def rows(A, out=None):
            block = self.matrix[index_positions(A)][:, columns]
            if sp.issparse(block):
                block = block.toarray()
            return np.ascontiguousarray(block, dtype=self.dtype)

        return rows

    def diagonal(self, X):
        """``K[i, i]`` for the index points X, float64."""
        positions = index_positions(X)
        return np.asarray(self.matrix[positions, positions], dtype=np.float64).ravel()


def indices(n_samples):
    """The training "points" of a precomputed kernel: 0 .. n_samples - 1, one column."""
    return np.arange(n_samples, dtype=np.float64)[:, np.newaxis]


def index_positions(points):
    """Index points (one float column) as integer positions."""
    return np.asarray(points)[:, 0].astype(np.intp)
