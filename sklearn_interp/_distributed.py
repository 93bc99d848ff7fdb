"""The fit and the predictions on a Dask cluster (``pip install "sklearn-interp[dask]"``).

A fit receives a ``dask.array.Array`` X: its row chunks stay where they are, on the
workers, and each worker that holds chunks gets one :class:`Shard` (a Dask actor, a
stateful object living on that worker) that keeps its chunks, their targets, their
coefficients, the last good coefficients, the kernel diagonal and the kernel prepared
against its rows. The driver (this process) runs the one SGD loop of
:func:`sklearn_interp._solver.run_sgd` over a :class:`ShardedEvaluator`; every step is one
round trip to all shards at once:

1. the driver sends the batch rows X_B (m x d), the coefficient updates of the previous
   step for the rows each shard owns, and the indices of the next batch's rows it owns;
2. each shard applies the updates, computes its part of the residual,
   ``K(X_B, X_shard) coef_shard`` plus ``alpha coef_i - y_i`` for the batch rows it
   owns, and returns it (m x c) with the next batch's rows it owns;
3. the driver sums the parts (the residual g), computes the EigenPro projection
   ``K(X_S, X_B) g`` against the subsample S it holds (s x d with U), and the updates.

The random draws (subsample, one permutation per epoch) and the order of the points are
those of the single-process fit, so with the same ``random_state`` the coefficients are
the same up to the summation order of the kernel products.

Nothing here is imported unless X is a dask array: the package works without Dask.
"""

import time
from contextlib import contextmanager

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils.validation import (
    check_array,
)

from ._dask_data import current_client
from ._evaluator import Coefficients, Evaluator
from ._kernel import kernel_block_rows, kernel_product
from ._spectrum import reduced_diagonal_max


class Shard:
    """The training points one worker holds, with their coefficients: a Dask actor.

    Created on the worker that already holds the chunks (no data moves). Indices are
    global row numbers of X; chunk j holds rows ``starts[j]`` to ``starts[j] +
    len(X_chunks[j])``. Each chunk keeps its coefficients in a
    :class:`~sklearn_interp._evaluator.Coefficients`, as the single-process fit does.

    Parameters
    ----------
    X_chunks, Y_chunks : list of ndarray
        The row chunks of X (n_j x d) and of the 2-D float64 targets (n_j x c).
    starts : list of int
        Global index of each chunk's first row.
    kernel : BlockKernel
        In the compute precision.
    alpha : float
        Ridge term.
    block_rows : int
        Most kernel rows against one chunk alive at once (decided by the driver,
        :func:`~sklearn_interp._kernel.kernel_block_rows`).
    """

    def __init__(self, X_chunks, Y_chunks, starts, kernel, alpha, block_rows):
        self.X = [
            check_array(X, dtype=[np.float64, np.float32]).astype(kernel.dtype, copy=False)
            for X in X_chunks
        ]
        self.coef = [
            Coefficients(check_array(Y, dtype=np.float64), kernel.dtype, alpha)
            for Y in Y_chunks
        ]
        self.starts = np.asarray(starts, dtype=np.int64)
        self.kernel = kernel
        self.block_rows = block_rows
        self.kernel_rows = [kernel.rows_against(X) for X in self.X]
        self.diagonal = [kernel.diagonal(X) for X in self.X]

    def _locate(self, index):
        """Chunk number and row within it of each global index (all owned here)."""
        chunk = np.searchsorted(self.starts, index, side="right") - 1
        return chunk, index - self.starts[chunk]

    def diagonal_max(self):
        return max(float(diagonal.max()) for diagonal in self.diagonal)

    def squared_target_sum(self):
        return sum(coef.squared_target_sum() for coef in self.coef)

    def take(self, index):
        """Rows of X (compute precision) and their ``k(x, x)``, in the order given."""
        chunk, row = self._locate(np.asarray(index, dtype=np.int64))
        rows = np.empty((len(index), self.X[0].shape[1]), dtype=self.X[0].dtype)
        diagonal = np.empty(len(index))
        for j in np.unique(chunk):
            mine = chunk == j
            rows[mine] = self.X[j][row[mine]]
            diagonal[mine] = self.diagonal[j][row[mine]]
        return rows, diagonal

    def reduced_diagonal_max(self, X_subsample, eigvecs, scale):
        return max(
            reduced_diagonal_max(
                self.kernel, X, X_subsample, eigvecs, scale, diagonal, self.block_rows
            )
            for X, diagonal in zip(self.X, self.diagonal, strict=True)
        )

    def step(self, X_batch, positions, index, updates, fetch):
        """Apply updates, return this shard's part of the batch residual and rows.

        Parameters
        ----------
        X_batch : ndarray of shape (m, n_features) or None
            The batch rows (compute precision); None: only apply the updates.
        positions, index : ndarray of int
            The batch rows owned here: their positions in the batch and global indices.
        updates : list of (ndarray, ndarray)
            (global indices, coefficient deltas), applied in order.
        fetch : ndarray of int
            Global indices (owned here) of rows to return: the next batch's.

        Returns
        -------
        part : ndarray of shape (m, n_outputs) or None
            ``K(X_batch, X_shard) coef_shard``, plus ``alpha coef_i - y_i`` at the
            positions of the batch rows owned here.
        rows : ndarray of shape (len(fetch), n_features)
        seconds : float
            Time spent computing here, for the measurement of communication.
        """
        start = time.perf_counter()
        for index_update, delta in updates:
            chunk, row = self._locate(index_update)
            for j in np.unique(chunk):
                mine = chunk == j
                self.coef[j].add(row[mine], delta[mine])
        part = None
        if X_batch is not None:
            part = self._part(X_batch, np.asarray(positions), np.asarray(index))
        rows = self.take(fetch)[0] if len(fetch) else None
        return part, rows, time.perf_counter() - start

    def _part(self, X_batch, positions, index):
        n_outputs = self.coef[0].targets.shape[1]
        part = np.zeros((len(X_batch), n_outputs))
        chunk, row = self._locate(index)
        for j, kernel_rows in enumerate(self.kernel_rows):
            mine = chunk == j
            for rows in gen_batches(len(X_batch), self.block_rows):
                here = mine & (positions >= rows.start) & (positions < rows.stop)
                diagonal = (positions[here] - rows.start, row[here])
                product, _ = kernel_product(
                    kernel_rows,
                    X_batch[rows],
                    self.coef[j].mirror,
                    patch=(*diagonal, self.diagonal[j][row[here]]),
                )
                part[rows] += product
            part[positions[mine]] += self.coef[j].shifted_targets(row[mine])
        return part

    # The model centers' part of a step (ShardedCenterEvaluator): the shard computes the
    # kernel rows of its batch rows against the p centers and keeps them for the
    # step's gradient; only p x c, s x c and the batch's residuals travel.

    def set_centers(self, Z):
        """Prepare the kernel against the model centers Z (compute precision)."""
        self.center_rows = self.kernel.rows_against(Z)
        self.center_block_rows = kernel_block_rows(len(Z), self.kernel.dtype)
        self.center_block = None

    def _targets(self, index):
        chunk, row = self._locate(index)
        targets = np.empty((len(index), self.coef[0].targets.shape[1]))
        for j in np.unique(chunk):
            mine = chunk == j
            targets[mine] = self.coef[j].targets[row[mine]]
        return targets

    def center_residuals(self, index, coef, n_subsample):
        """``K(X_i, Z) coef - y_i`` for the batch rows ``index`` owned here (global,
        in that order), their share ``K(X_i, Z_S)^T residual`` of the EigenPro
        projection (s x c, float64), and the seconds spent; the block stays for
        :meth:`center_gradient`."""
        start = time.perf_counter()
        index = np.asarray(index, dtype=np.int64)
        block = self.center_rows(self.take(index)[0])
        self.center_block = block
        residual = np.asarray(block @ coef, dtype=np.float64) - self._targets(index)
        head = block[:, :n_subsample].T @ residual.astype(block.dtype)
        return residual, head.astype(np.float64), time.perf_counter() - start

    def center_gradient(self, delta):
        """``K(Z, X_i) delta`` (p x c, float64) over the last batch's rows here, and
        the seconds spent."""
        start = time.perf_counter()
        block, self.center_block = self.center_block, None
        gradient = (block.T @ delta.astype(block.dtype)).astype(np.float64)
        return gradient, time.perf_counter() - start

    def center_squared_residual(self, coef):
        """Sum of ``||K(x, Z) coef - y||^2`` over every row here."""
        total = 0.0
        for X, targets in zip(self.X, (c.targets for c in self.coef), strict=True):
            for rows in gen_batches(len(X), self.center_block_rows):
                residual = self.center_rows(X[rows]) @ coef - targets[rows]
                total += float(np.einsum("ij,ij->", residual, residual))
        return total

    def snapshot(self):
        for coef in self.coef:
            coef.snapshot()

    def restore(self):
        for coef in self.coef:
            coef.restore()

    def keep_best(self):
        for coef in self.coef:
            coef.keep_best()

    def restore_best(self):
        for coef in self.coef:
            coef.restore_best()

    def coef_chunk(self, j):
        return self.coef[j].values.copy()


def _coef_of(shard, j):
    """Task run on the shard's worker: chunk j's coefficients, kept there."""
    return shard.coef_chunk(j).result()


class ShardedPoints:
    """Training points sharded over a Dask cluster, one :class:`Shard` per worker.

    The cluster backend of :mod:`sklearn_interp._points`, with the surface of
    :class:`~sklearn_interp._points.LocalPoints`: ``take`` gathers rows here,
    ``diagonal_max`` and ``reduced_diagonal_max`` run on the shards, ``block_rows``
    bounds a block against the largest chunk (what each worker holds blocks against),
    and ``evaluator`` gives the :class:`ShardedEvaluator` of the fit.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        In row chunks with all columns in each; persisted on the current cluster
        (``X_fit``), where the chunks already are or where the scheduler puts them.
    kernel : BlockKernel
        In the compute precision.
    targets : dask.array.Array of shape (n_samples, n_outputs)
        Float64 targets in the same row chunks as X; persisted there.
    alpha : float
        Ridge term.
    """

    # Warm starts and the fold-in of held-out rows are not supported on a cluster.
    starts_from_coefficients = False

    def __init__(self, X, kernel, *, targets, alpha):
        from distributed import futures_of, wait

        client = current_client("X")
        X, Y = client.persist([X, targets])
        self.client = client
        self.X_fit = X
        self.kernel = kernel
        self.dtype = kernel.dtype
        self.n_samples, self.n_features = X.shape
        self.n_outputs = Y.shape[1]
        sizes = X.chunks[0]
        self.chunk_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.block_rows = kernel_block_rows(max(sizes), self.dtype)

        X_futures, Y_futures = futures_of(X), futures_of(Y)
        wait(X_futures + Y_futures)
        by_key = {future.key: future for future in X_futures + Y_futures}
        # One key per row chunk: the arrays have one column chunk.
        X_keys = [row[0] for row in X.__dask_keys__()]
        Y_keys = [row[0] for row in Y.__dask_keys__()]
        holders = client.who_has([by_key[key] for key in X_keys])
        # Each chunk's shard is a worker that holds it; workers in sorted order, so the
        # assignment (and the summation order) does not depend on timing.
        self.workers = sorted({min(holders[key]) for key in X_keys})
        self.chunk_shard = np.array(
            [self.workers.index(min(holders[key])) for key in X_keys], dtype=np.int64
        )
        self.chunks_of = [
            np.flatnonzero(self.chunk_shard == k) for k in range(len(self.workers))
        ]
        futures = [
            client.submit(
                Shard,
                [by_key[X_keys[j]] for j in chunks],
                [by_key[Y_keys[j]] for j in chunks],
                [int(self.chunk_starts[j]) for j in chunks],
                kernel,
                alpha,
                self.block_rows,
                actor=True,
                workers=[worker],
                allow_other_workers=False,
                pure=False,
            )
            for worker, chunks in zip(self.workers, self.chunks_of, strict=True)
        ]
        self._actor_futures = futures
        self.shards = [future.result() for future in futures]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _call(self, method, *args):
        """Call ``method(*args)`` on every shard at once; results in shard order."""
        calls = [getattr(shard, method)(*args) for shard in self.shards]
        return [call.result() for call in calls]

    def owner(self, index):
        """The shard of each global index."""
        chunk = np.searchsorted(self.chunk_starts, index, side="right") - 1
        return self.chunk_shard[chunk]

    def take(self, index):
        """Rows ``index`` (global, in that order) and their ``k(x, x)``, gathered here."""
        index = np.asarray(index, dtype=np.int64)
        owner = self.owner(index)
        rows = np.empty((len(index), self.n_features), dtype=self.dtype)
        diagonal = np.empty(len(index))
        calls = [
            (owner == k, shard.take(index[owner == k]))
            for k, shard in enumerate(self.shards)
            if np.any(owner == k)
        ]
        for mine, call in calls:
            rows[mine], diagonal[mine] = call.result()
        return rows, diagonal

    def diagonal_max(self):
        """``max_i k(x_i, x_i)``, each shard over its rows."""
        return max(self._call("diagonal_max"))

    def reduced_diagonal_max(self, X_subsample, eigvecs, scale):
        """The preconditioned beta, each shard over its rows (S, U and scale sent)."""
        return max(self._call("reduced_diagonal_max", X_subsample, eigvecs, scale))

    def squared_target_sum(self):
        return sum(self._call("squared_target_sum"))

    def coefficients(self):
        """The fitted coefficients as a dask array, each chunk kept on its worker."""
        import dask.array as da
        from distributed import wait

        parts = [None] * len(self.chunk_shard)
        for k, (worker, chunks) in enumerate(
            zip(self.workers, self.chunks_of, strict=True)
        ):
            for local, j in enumerate(chunks):
                parts[j] = self.client.submit(
                    _coef_of, self.shards[k], local, workers=[worker], pure=False
                )
        wait(parts)  # before the shards are released
        sizes = np.diff(np.append(self.chunk_starts, self.n_samples))
        return da.concatenate(
            [
                da.from_delayed(part, shape=(int(size), self.n_outputs), dtype=np.float64)
                for part, size in zip(parts, sizes, strict=True)
            ]
        )

    def close(self):
        """Release the shards (their memory on the workers)."""
        self.shards = []
        self._actor_futures = []

    @contextmanager
    def evaluator(self, preconditioner=None, initial=None):
        """The :class:`ShardedEvaluator` of a fit over these points.

        A warm start (``initial`` coefficients) is not supported on a cluster: the
        estimators start such a fit afresh.
        """
        if initial is not None:
            raise NotImplementedError("warm starts on a Dask cluster")
        yield ShardedEvaluator(
            self, None if preconditioner is None else preconditioner.subsample
        )


class ShardedEvaluator(Evaluator):
    """The evaluator of :func:`sklearn_interp._solver.run_sgd` over sharded points.

    Positions (what the solver loop sees) follow the single-process fit: with a
    subsample, positions ``0 .. s - 1`` are the subsample and the rest follow in
    increasing global index; ``order[position]`` is the global index. The batch's
    coefficient updates wait here and travel with the next step's request; the rows of
    the next batch come back with the current step's answer.

    Parameters
    ----------
    points : ShardedPoints
    subsample : ndarray of int or None
        Global indices of the preconditioner's subsample.
    """

    def __init__(self, points, subsample):
        self.points = points
        self.n_samples = points.n_samples
        self.block_rows = points.block_rows
        self.n_subsample = 0 if subsample is None else len(subsample)
        if self.n_subsample:
            self.order = np.concatenate(
                [subsample, np.setdiff1d(np.arange(self.n_samples), subsample)]
            )
            X_subsample, self.subsample_diagonal = points.take(subsample)
            self.subsample_rows = points.kernel.rows_against(X_subsample)
        else:
            self.order = np.arange(self.n_samples)
        self.pending = [[] for _ in points.shards]
        self.prefetched = None
        self.n_steps = 0
        self.step_seconds = 0.0
        self.shard_seconds = 0.0

    def initial_error(self):
        return self.points.squared_target_sum() / self.n_samples

    def _split(self, index):
        """For each shard, the mask of the global indices it owns."""
        owner = self.points.owner(index)
        return [owner == k for k in range(len(self.points.shards))]

    def _round_trip(self, X_batch, index, fetch):
        """One step on every shard: apply pending updates, residual parts, next rows."""
        start = time.perf_counter()
        owned, wanted = self._split(index), self._split(fetch)
        positions = np.arange(len(index))
        calls = [
            shard.step(
                X_batch,
                positions[owned[k]],
                index[owned[k]],
                self.pending[k],
                fetch[wanted[k]],
            )
            for k, shard in enumerate(self.points.shards)
        ]
        results = [call.result() for call in calls]
        self.pending = [[] for _ in self.points.shards]
        part_sum = None
        rows = np.empty((len(fetch), self.points.n_features), dtype=self.points.dtype)
        for k, (part, shard_rows, _) in enumerate(results):
            if part is not None:
                part_sum = part if part_sum is None else part_sum + part
            if shard_rows is not None:
                rows[wanted[k]] = shard_rows
        self.n_steps += 1
        self.step_seconds += time.perf_counter() - start
        self.shard_seconds += max(seconds for _, _, seconds in results)
        return part_sum, rows

    def residuals(self, batch, upcoming=None):
        index = self.order[batch]
        if self.prefetched is not None and np.array_equal(self.prefetched[0], index):
            X_batch = self.prefetched[1]
        else:
            X_batch = self.points.take(index)[0]
        fetch = self.order[upcoming] if upcoming is not None else index[:0]
        residual, rows = self._round_trip(X_batch, index, fetch)
        self.prefetched = (fetch, rows) if upcoming is not None else None
        projected = None
        if self.n_subsample:
            # K(X_S, X_B) g, as the single-process fit computes it from its block's
            # leading columns, with the exact diagonal where a batch point is in S.
            block = self.subsample_rows(X_batch)
            in_subsample = np.flatnonzero(batch < self.n_subsample)
            columns = batch[in_subsample]
            block[in_subsample, columns] = self.subsample_diagonal[columns]
            projected = block.T @ residual.astype(block.dtype)
            projected = projected.astype(np.float64)
        return residual, projected

    def update(self, batch, delta, subsample_delta, scale=None):
        index = self.order[batch]
        for k, mine in enumerate(self._split(index)):
            if mine.any():
                self.pending[k].append((index[mine], delta[mine]))
        if subsample_delta is not None:
            subsample = self.order[: self.n_subsample]
            for k, mine in enumerate(self._split(subsample)):
                if mine.any():
                    self.pending[k].append((subsample[mine], subsample_delta[mine]))

    def _flush(self):
        if any(self.pending):
            empty = np.empty(0, dtype=np.int64)
            calls = [
                shard.step(None, empty, empty, self.pending[k], empty)
                for k, shard in enumerate(self.points.shards)
            ]
            for call in calls:
                call.result()
            self.pending = [[] for _ in self.points.shards]

    def end_epoch(self):
        self._flush()
        self.prefetched = None

    def snapshot(self):
        self._flush()
        self.points._call("snapshot")

    def restore(self):
        # The pending updates belong to the epoch being undone.
        self.pending = [[] for _ in self.points.shards]
        self.prefetched = None
        self.points._call("restore")

    def coefficients(self):
        """A dask array in X's row chunks, each chunk kept on its worker."""
        self._flush()
        return self.points.coefficients()

    def keep_best(self, values=None):
        if values is not None:
            raise NotImplementedError("warm starts on a Dask cluster")
        self._flush()
        self.points._call("keep_best")

    def restore_best(self):
        self.pending = [[] for _ in self.points.shards]
        self.prefetched = None
        self.points._call("restore_best")

    def decision(self, X):
        self._flush()
        X = np.asarray(X, dtype=self.points.dtype)
        out = np.empty((X.shape[0], self.points.n_outputs))
        empty = np.empty(0, dtype=np.int64)
        for rows in gen_batches(X.shape[0], self.block_rows):
            out[rows], _ = self._round_trip(X[rows], empty, empty)
        return out

    def mean_squared_residual(self):
        self._flush()
        total = 0.0
        for rows in gen_batches(self.n_samples, self.block_rows):
            index = np.arange(rows.start, rows.stop)
            residual, _ = self._round_trip(self.points.take(index)[0], index, index[:0])
            total += float(np.einsum("ij,ij->", residual, residual))
        return total / self.n_samples
