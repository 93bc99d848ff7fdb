"""``sample_weight``: the weighted ridge fit runs on a weighted kernel.

KernelRidge's weighted problem is solved as ``(S K S + alpha I) c = S y`` with ``S =
diag(sqrt(w))``; :class:`WeightedKernel` is ``S K S``, and the points carry their
``sqrt(w)`` as a last column (:func:`with_scale`).
"""

import numpy as np
import scipy.sparse as sp


class WeightedKernel:
    """``sqrt(w_a) k(a, b) sqrt(w_b)``: the kernel of a weighted ridge fit.

    KernelRidge solves the weighted problem ``min sum_i w_i (y_i - f(x_i))^2 +
    alpha ||f||^2`` as ``(S K S + alpha I) c = S y`` with ``S = diag(sqrt(w))`` and
    ``a = S c``; the fit runs its SGD on that system, unchanged, with this kernel. The
    points carry their ``sqrt(w)`` as a last column (:func:`with_scale`), so that
    every subset and reordering of the points (subsample, batches, the solver's
    order) keeps each point's weight; a point of scale 1 is an unweighted one (the
    held-out rows of early stopping).

    Parameters
    ----------
    kernel : BlockKernel or PrecomputedKernel
        The kernel of the points without their scale column.
    """

    def __init__(self, kernel):
        self.kernel = kernel
        self.dtype = kernel.dtype

    def __call__(self, A, B):
        return self.rows_against(B)(A)

    def astype(self, dtype):
        """The same weighted kernel computing its blocks in ``dtype``."""
        return WeightedKernel(self.kernel.astype(dtype))

    def rows_against(self, B):
        """Return ``(A, out=None) -> sqrt(w_A) k(A, B) sqrt(w_B)``."""
        return _WeightedRows(self.kernel.rows_against(_points_of(B)), B, self.dtype)

    def diagonal(self, X):
        """``w_i k(x_i, x_i)``, float64."""
        scale = _scale_of(X).astype(np.float64)
        return self.kernel.diagonal(_points_of(X)) * scale**2


class _WeightedRows:
    """The rows of a :class:`WeightedKernel` against fixed points B."""

    def __init__(self, inner, B, dtype):
        self.inner = inner
        self.dtype = dtype
        self.right = _scale_of(B).astype(dtype)
        if getattr(inner, "tiles", None) is None:
            self.tiles = None

    def __call__(self, A, out=None):
        block = self.inner(_points_of(A), out=out)
        return self._scale(block, A, slice(None))

    def tiles(self, A):
        """As :meth:`_RBFRows.tiles`, when the unweighted rows make tiles."""
        inner = self.inner.tiles(_points_of(A))
        if inner is None:
            return None
        return lambda columns, out=None: self._scale(inner(columns, out), A, columns)

    def _scale(self, block, A, columns):
        block *= _scale_of(A).astype(self.dtype)[:, np.newaxis]
        block *= self.right[columns]
        return block


def with_scale(X, scale):
    """X with ``scale`` as a last column (dense, or CSR for a sparse X)."""
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_matrix(scale[:, np.newaxis])], format="csr")
    return np.hstack([X, scale[:, np.newaxis]])


def _points_of(X):
    return X[:, :-1]


def _scale_of(X):
    scale = X[:, -1]
    return np.asarray(scale.toarray()).ravel() if sp.issparse(scale) else np.asarray(scale)
