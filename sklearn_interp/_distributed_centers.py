"""Model centers on a Dask cluster: the rows in the shards of
:mod:`sklearn_interp._distributed`, the centers and the SGD's state with the driver.

The centers' evaluator of :mod:`sklearn_interp._centers` with its kernel blocks computed
on the shards (``Shard.center_residuals`` and ``Shard.center_gradient``): a step sends
the coefficients (p x c) and each shard's part of the batch, and gets back residuals,
the s x c share of the EigenPro projection and the p x c gradient. Nothing here is
imported unless X is a dask array.
"""

import time
from contextlib import contextmanager

import numpy as np

from ._centers import CenterEvaluator
from ._distributed import ShardedPoints
from ._evaluator import Coefficients
from ._kernel import kernel_block_rows


class ShardedCenterPoints:
    """The training rows of a fit with model centers on a Dask cluster.

    The rows stay in the shards (:class:`ShardedPoints`); the centers' rows, their
    coefficients, ``K_ZZ``'s factor and the SGD's state live here, with the driver.
    As :class:`~sklearn_interp._centers.CenterPoints` for the plan: the subsample is
    drawn among the centers (``subsample_candidates``, positions ``0 .. p - 1`` of
    :meth:`take` are the centers), the kernel's diagonal and beta_P are scanned on
    the shards over all rows. No warm start and no fold-in, as on a cluster without
    centers.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
    centers : ndarray of int
        Global indices of the centers.
    kernel : BlockKernel
        In the compute precision.
    targets : dask.array.Array of shape (n_samples, n_outputs)
    alpha : float
    """

    starts_from_coefficients = False
    uncapped_components = True

    def __init__(self, X, centers, kernel, *, targets, alpha):
        self.sharded = ShardedPoints(X, kernel, targets=targets, alpha=alpha)
        self.kernel = kernel
        self.dtype = kernel.dtype
        self.alpha = alpha
        self.n_samples = self.sharded.n_samples
        self.n_centers = self.subsample_candidates = len(centers)
        self.Z, self.Z_diagonal = self.sharded.take(centers)
        self.X_fit = np.asarray(self.sharded.X_fit[np.asarray(centers)].compute())
        self.block_rows = kernel_block_rows(self.n_centers, self.dtype)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.sharded.close()

    def take(self, index):
        """Rows ``index`` among the centers, and their ``k(x, x)``."""
        return self.Z[index], self.Z_diagonal[index]

    def diagonal_max(self):
        return self.sharded.diagonal_max()

    def reduced_diagonal_max(self, X_subsample, eigvecs, scale):
        return self.sharded.reduced_diagonal_max(X_subsample, eigvecs, scale)

    def squared_target_sum(self):
        return self.sharded.squared_target_sum()

    @contextmanager
    def evaluator(self, preconditioner=None, initial=None):
        """The :class:`ShardedCenterEvaluator` of a fit (no warm start)."""
        if initial is not None:
            raise NotImplementedError("warm starts on a Dask cluster")
        order = np.arange(self.n_centers)
        n_subsample = 0
        if preconditioner is not None:
            subsample = preconditioner.subsample
            n_subsample = len(subsample)
            order = np.concatenate([subsample, np.setdiff1d(order, subsample)])
        evaluator = ShardedCenterEvaluator(self, order, n_subsample)
        try:
            yield evaluator
        finally:
            # The p x p factor goes now, not with the last reference to the evaluator.
            evaluator.release()


class ShardedCenterEvaluator(CenterEvaluator):
    """:class:`~sklearn_interp._centers.CenterEvaluator` over rows in shards.

    Each step is two round trips to the shards that hold batch rows: the
    coefficients (p x c) go out and the residuals of the batch rows with their share
    of ``K_SB^T rho`` (s x c) come back; then each shard's part of the batch's scaled
    residuals goes out and its ``K_ZB delta`` (p x c) comes back. The driver sums
    the parts, solves with the factor and keeps the coefficients: no message holds
    more than p x c numbers besides the batch's residuals, and no shard holds state
    that the fit could not rebuild. Loop positions are global row indices.

    As :class:`~sklearn_interp._distributed.ShardedEvaluator`, it counts its steps
    (``n_steps``), their round trips' wall time (``step_seconds``) and the slowest
    shard's compute time in each round trip (``shard_seconds``), for
    ``benchmarks/bench_distributed.py``.
    """

    def __init__(self, points, order, n_subsample):
        sharded = points.sharded
        self.points = sharded
        self.X = None
        self.positions = None
        self.n_samples = points.n_samples
        self.n_subsample = n_subsample
        Z = points.Z[order]
        self.kernel_rows = points.kernel.rows_against(Z)
        self.n_centers = len(Z)
        self.dtype = points.dtype
        self.sqrt_weight = None
        self.alpha = points.alpha
        self.block_rows = points.block_rows
        self.order = order
        self.targets = None
        self.pool, self.n_threads = None, 1
        self.coef = Coefficients(
            np.zeros((self.n_centers, sharded.n_outputs)), self.dtype, 0.0
        )
        self.last = None
        self.n_steps = 0
        self.step_seconds = self.shard_seconds = 0.0
        self._make_factor(Z, None)
        sharded._call("set_centers", Z)

    def initial_error(self):
        return self.points.squared_target_sum() / self.n_samples

    def residuals(self, index, upcoming=None, project=True):
        start = time.perf_counter()
        owner = self.points.owner(index)
        n_subsample = self.n_subsample if project else 0
        calls = [
            (
                owner == k,
                shard.center_residuals(index[owner == k], self.coef.mirror, n_subsample),
            )
            for k, shard in enumerate(self.points.shards)
            if np.any(owner == k)
        ]
        residual = np.empty((len(index), self.coef.values.shape[1]))
        head = np.zeros((n_subsample, residual.shape[1]))
        slowest = 0.0
        for mine, call in calls:
            part, part_head, seconds = call.result()
            residual[mine] = part
            head += part_head
            slowest = max(slowest, seconds)
        self.step_seconds += time.perf_counter() - start
        self.shard_seconds += slowest
        self.last = (index, owner)
        projected = None
        if n_subsample:
            if self.alpha:
                f_S = self.K_ZZ[:n_subsample] @ self.coef.mirror
                head += (len(index) / self.n_samples) * self.alpha * f_S
            projected = head
        return residual, projected

    def update(self, index, delta, subsample_delta, scale):
        last_index, owner = self.last
        if last_index is not index:
            self.residuals(index, project=False)
            owner = self.last[1]
        start = time.perf_counter()
        calls = [
            shard.center_gradient(delta[owner == k])
            for k, shard in enumerate(self.points.shards)
            if np.any(owner == k)
        ]
        gradient = np.zeros((self.n_centers, delta.shape[1]))
        slowest = 0.0
        for call in calls:
            part, seconds = call.result()
            gradient += part
            slowest = max(slowest, seconds)
        self.step_seconds += time.perf_counter() - start
        self.shard_seconds += slowest
        self.n_steps += 1
        self._step(index, gradient, subsample_delta, scale)

    def mean_squared_residual(self):
        parts = self.points._call("center_squared_residual", self.coef.mirror)
        return sum(parts) / self.n_samples

    def release(self):
        """Drop the factor and K_ZZ; the coefficients stay."""
        self.factor = self.K_ZZ = self.last = None
