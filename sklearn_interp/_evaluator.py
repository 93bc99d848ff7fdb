"""Evaluators: what the SGD loop of :func:`sklearn_interp._solver.run_sgd` works on.

An evaluator holds training points in the solver's order (the preconditioner's subsample,
if any, first) with their targets and coefficients, and computes ridge-shifted residuals
``K[B, :] coef + alpha coef_B - y_B`` of batches B. :class:`Evaluator` is the interface;
:class:`LocalEvaluator` computes in this process on all cores, and
:class:`sklearn_interp._distributed.ShardedEvaluator` on a Dask cluster.

Both keep their coefficients in :class:`Coefficients` (one per row chunk on a cluster)
and patch the exact kernel diagonal into their blocks with :func:`diagonal_patch`, so
the bookkeeping of the two backends is the same code.
"""

from abc import ABC, abstractmethod

import numpy as np
from sklearn.utils import gen_batches

from . import _parallel
from ._kernel import kernel_product, tile_columns


class Evaluator(ABC):
    """Training points and their coefficients, as the SGD loop sees them.

    Positions ``0 .. n_samples - 1`` are the solver's order of the points; with a
    preconditioner, positions ``0 .. n_subsample - 1`` are its subsample S.

    Attributes
    ----------
    n_samples : int
        Number of training points.
    n_subsample : int
        s, the size of the preconditioner's subsample (0 without one).
    """

    n_samples: int
    n_subsample: int

    @abstractmethod
    def initial_error(self):
        """``mean_i ||y_i||^2``, the residual of the zero function."""

    @abstractmethod
    def residuals(self, index, upcoming=None):
        """Residuals of the points ``index`` and their subsample projection.

        Parameters
        ----------
        index : ndarray of int
            Positions of the batch.
        upcoming : ndarray of int or None
            The next batch, for an evaluator that fetches its rows ahead.

        Returns
        -------
        residual : ndarray of shape (len(index), n_outputs)
            ``K[index, :] coef + alpha coef[index] - Y[index]``, float64.
        projected : ndarray of shape (n_subsample, n_outputs) or None
            ``K[S, index] @ residual`` when there is a subsample.
        """

    @abstractmethod
    def update(self, index, delta, subsample_delta, scale):
        """Add ``delta`` to the coefficients of ``index``, and ``subsample_delta``
        (if not None) to those of the subsample.

        ``scale`` is the step's ``eta / m``, of which ``delta = -scale * residual``:
        an evaluator whose ridge term is not in its residuals (the model centers of
        :mod:`sklearn_interp._centers`) takes its share of the step with it.
        """

    @abstractmethod
    def end_epoch(self):
        """Apply whatever updates are still pending at the end of an epoch."""

    @abstractmethod
    def snapshot(self):
        """Keep the current coefficients as the last good ones."""

    @abstractmethod
    def restore(self):
        """Go back to the last good coefficients."""

    @abstractmethod
    def mean_squared_residual(self):
        """Exact ``(1/n) sum_i ||K[i, :] coef + alpha coef_i - y_i||^2``."""

    @abstractmethod
    def coefficients(self):
        """The coefficients, in the training points' own order (not the solver's)."""

    @abstractmethod
    def decision(self, X):
        """``K(X, X_train) @ coef`` for new rows X (float64, 2-D): the model's
        predictions at the current coefficients, for scoring held-out data."""

    @abstractmethod
    def keep_best(self, values=None):
        """Keep the current coefficients, or ``values`` (in the points' own order: the
        best ones of a fit continued), as the best ones seen (early stopping)."""

    @abstractmethod
    def restore_best(self):
        """Go back to the coefficients of the last :meth:`keep_best`."""


class Coefficients:
    """Coefficients of some training rows, with the targets they are fitted to.

    Kept in float64, with a mirror in the compute precision that the kernel blocks
    multiply, and a copy of the last good values for the divergence safeguard.

    Parameters
    ----------
    targets : ndarray of shape (n_rows, n_outputs), float64
    dtype : numpy.dtype
        The compute precision.
    alpha : float
        Ridge term.
    """

    def __init__(self, targets, dtype, alpha):
        self.targets = targets
        self.values = np.zeros(targets.shape)
        self.mirror = np.zeros(targets.shape, dtype=dtype)
        self.good = np.zeros(targets.shape)
        self.alpha = alpha

    def add(self, rows, delta):
        """Add ``delta`` to the coefficients of ``rows`` (indices or a slice)."""
        self.values[rows] += delta
        self.mirror[rows] = self.values[rows]

    def snapshot(self):
        self.good[...] = self.values

    def restore(self):
        self.values[...] = self.good
        self.mirror[...] = self.good

    def set(self, values):
        """Start from ``values`` (a warm start) instead of zero."""
        self.values[...] = values
        self.mirror[...] = values
        self.good[...] = values

    def keep_best(self, values=None):
        self.best = self.values.copy() if values is None else np.array(values, float)

    def restore_best(self):
        self.values[...] = self.best
        self.mirror[...] = self.best

    def shifted_targets(self, rows):
        """``alpha coef[rows] - y[rows]``: a residual's terms from the rows' own values."""
        shift = -self.targets[rows]
        if self.alpha:
            shift += self.alpha * self.values[rows]
        return shift

    def squared_target_sum(self):
        return float(np.einsum("ij,ij->", self.targets, self.targets))


def diagonal_patch(columns, diagonal):
    """The exact ``k(x, x)`` where rows of kernel rows meet their own points, as a
    ``patch`` of :func:`sklearn_interp._kernel.kernel_product`.

    A kernel computed by expanding distances can lose its diagonal to rounding on badly
    scaled data; row ``i`` of the rows is the point ``columns[i]``, whose entry is set
    to ``diagonal[columns[i]]``.
    """
    return np.arange(len(columns)), columns, diagonal[columns]


class HeldCoefficients(Evaluator):
    """An evaluator whose coefficients live in this process, in one
    :class:`Coefficients` (``self.coef``), in the solver's order: ``self.order[i]``
    is the position, in the caller's order, of the solver's coefficient i (None for
    the identity). Nothing is pending at the end of an epoch."""

    coef: Coefficients
    order: object = None

    def end_epoch(self):
        """Nothing is pending here at the end of an epoch."""

    def snapshot(self):
        self.coef.snapshot()

    def restore(self):
        self.coef.restore()

    def coefficients(self):
        coef = self.coef.values.copy()
        if self.order is not None:
            coef[self.order] = coef.copy()
        return coef

    def keep_best(self, values=None):
        if values is not None and self.order is not None:
            values = values[self.order]
        self.coef.keep_best(values)

    def restore_best(self):
        self.coef.restore_best()


class LocalEvaluator(HeldCoefficients):
    """Residuals of rows of training points held here, in blocks, on all cores.

    Blocks of at most ``block_rows`` rows are split into one piece per thread, and a
    piece into chunks of ``chunk_rows`` rows that the thread computes in column tiles
    (:func:`sklearn_interp._kernel.kernel_product`) in its own reused buffers; results
    are combined in a fixed order, so they do not depend on thread timing. Made by
    :meth:`sklearn_interp._points.LocalPoints.evaluator`.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Training points in the solver's order and the compute precision.
    Y : ndarray of shape (n_samples, n_outputs), float64
        Their targets.
    kernel : BlockKernel
        In the compute precision.
    diagonal : ndarray of shape (n_samples,)
        Exact ``k(x_i, x_i)`` in the solver's order.
    alpha : float
    n_subsample : int
    block_rows : int
        Most kernel rows (against all n points) alive at once.
    pool : concurrent.futures.Executor or None
    n_threads : int
    order : ndarray of int or None
        ``order[position]`` is the point's index in the caller's X; None for identity.
    initial : ndarray of shape (n_samples, n_outputs) or None
        Coefficients to start from, in the solver's order; None for zero.
    """

    def __init__(
        self,
        X,
        Y,
        kernel,
        *,
        diagonal,
        alpha,
        n_subsample,
        block_rows,
        pool,
        n_threads,
        order=None,
        initial=None,
    ):
        self.kernel_rows = kernel.rows_against(X)  # X's share of the kernel done once
        self.X = X
        self.n_samples = X.shape[0]
        self.coef = Coefficients(Y, kernel.dtype, alpha)
        if initial is not None:
            self.coef.set(initial)
        self.n_subsample = n_subsample
        self.block_rows = block_rows
        self.pool = pool
        self.n_threads = n_threads
        self.diagonal = diagonal
        self.order = order
        self.chunk_rows = _parallel.chunk_rows(self.n_samples, block_rows, n_threads)
        # Space per thread, reused by every chunk (kernel_product): the chunk's kernel
        # rows against the subsample, kept for the projection, and one column tile;
        # together far below the block_rows x n block the memory budget allows. Rows
        # that come in no tiles (sparse points, other kernels) are allocated whole by
        # the kernel, chunk by chunk.
        tiled = getattr(self.kernel_rows, "tiles", None) is not None
        tile_entries = self.chunk_rows * min(tile_columns(self.chunk_rows), self.n_samples)
        self.buffers = [
            (
                np.empty((self.chunk_rows, n_subsample), dtype=kernel.dtype),
                np.empty(tile_entries, dtype=kernel.dtype),
            )
            if tiled
            else None
            for _ in range(n_threads)
        ]

    def initial_error(self):
        return self.coef.squared_target_sum() / self.n_samples

    def update(self, index, delta, subsample_delta, scale=None):
        self.coef.add(index, delta)
        if subsample_delta is not None:
            self.coef.add(slice(0, self.n_subsample), subsample_delta)

    def decision(self, X):
        X = X.astype(self.coef.mirror.dtype, copy=False)
        out = np.empty((X.shape[0], self.coef.values.shape[1]))

        def piece(rows, buffers):
            for chunk in gen_batches(rows.stop - rows.start, self.chunk_rows):
                chunk = slice(rows.start + chunk.start, rows.start + chunk.stop)
                out[chunk], _ = kernel_product(
                    self.kernel_rows, X[chunk], self.coef.mirror, buffers=buffers
                )

        for block in gen_batches(X.shape[0], self.block_rows):
            self._map_pieces(piece, block)
        return out

    def residuals(self, index, upcoming=None, project=True):
        """See :meth:`Evaluator.residuals`; ``project=False`` skips the projection."""
        project = project and self.n_subsample > 0
        n_outputs = self.coef.targets.shape[1]
        residual = np.empty((len(index), n_outputs))
        projected = np.zeros((self.n_subsample, n_outputs)) if project else None

        def piece(rows, buffers):
            projection = np.zeros(projected.shape) if project else None
            piece_index, piece_residual = index[rows], residual[rows]
            for chunk in gen_batches(len(piece_index), self.chunk_rows):
                chunk_index = piece_index[chunk]
                product, head = kernel_product(
                    self.kernel_rows,
                    self.X[chunk_index],
                    self.coef.mirror,
                    keep=self.n_subsample if project else 0,
                    patch=diagonal_patch(chunk_index, self.diagonal),
                    buffers=buffers,
                )
                chunk_residual = product + self.coef.shifted_targets(chunk_index)
                piece_residual[chunk] = chunk_residual
                if project:
                    # K(X_S, X_B) g: the rows' kernel against the subsample, in the
                    # compute precision, summed over the chunks in float64.
                    projection += head.T @ chunk_residual.astype(head.dtype)
            return projection

        for block in gen_batches(len(index), self.block_rows):
            for piece_projection in self._map_pieces(piece, block):
                if piece_projection is not None:
                    projected += piece_projection
        return residual, projected

    def _map_pieces(self, piece, block):
        """``piece(rows, buffers)`` over one piece of the slice ``block`` per thread
        (one piece for a small block); the results in piece order."""
        return _parallel.map_shares(
            piece, block, self.n_samples, self.pool, self.n_threads, self.buffers
        )

    def mean_squared_residual(self):
        # residuals() already works in blocks of block_rows; only the n x c residual is
        # held whole.
        residual, _ = self.residuals(np.arange(self.n_samples), project=False)
        return float(np.einsum("ij,ij->", residual, residual)) / self.n_samples
