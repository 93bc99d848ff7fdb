"""Model centers: ``f(x) = sum_j a_j k(x, z_j)`` over p centers z drawn from the data.

With ``n_centers=p`` below the number of training rows n, the fit solves the Nystrom
least-squares problem over all n rows (weights w, ridge alpha)

    min_a  sum_i w_i (K[i, Z] a - y_i)^2 + alpha a^T K_ZZ a,
    i.e.   (K_Zn W K_nZ + alpha K_ZZ) a = K_Zn W y,

by the same mini-batch SGD as the exact model (:func:`sklearn_interp._solver.run_sgd`),
in the Nystrom features ``phi(x) = L^-1 k_Z(x)`` (``K_ZZ = L L^T``). There the problem
is linear least squares whose Hessian ``Phi^T W Phi / n`` has the spectrum of the
kernel (its top eigenvalue at most that of ``K / n``, its rows' norms
``phi(x)^T phi(x) <= k(x, x)``), not its square as plain SGD on ``a`` would see; so
beta, lambda_1, the critical batch size m* and the step of [1] apply unchanged. A step
on a batch B of residuals ``rho_B = sqrt(w_B) (K_BZ a - y_B)``, written for ``a``:

    a <- a - (eta / m) K_ZZ^-1 [K_ZB sqrt(w_B) rho_B + (m / n) alpha K_ZZ a]
           + E_S (sqrt(w_S) * subsample_delta)

is the projection onto the centers' span of the function-space step (as in EigenPro 3,
Abedsoltan, Belkin, Pandit, ICML 2023), here with the exact projection by a Cholesky
factor of ``K_ZZ`` (as Falkon's preconditioner, Rudi et al. 2017). The EigenPro
correction (``subsample_delta``, computed by the loop from ``K_SB rho``) takes its
subsample S among the centers: then the projection ``K_ZZ^-1 K_ZS`` of its function
``K_.S c`` is the selection ``E_S`` of S's coefficients (so the correction is added
to them directly, without the p x s ``K_ZS``), the covariance of the Nystrom features
on S is the kernel ``K_SS`` itself, and the plan's eigenpairs of ``K_SS / s`` are
those of the operator iterated (:func:`sklearn_interp._plan.plan_fit` draws S from
the first ``subsample_candidates`` points, the centers). Every update is linear in
the batch's gradient and vanishes with it, so the fixed point is the Nystrom
solution whatever the jitter added to ``K_ZZ`` for its factor (the jitter only
makes the factor's projection of the correction differ from ``E_S`` in the
directions of ``K_ZZ`` below it, which the correction, made of the top eigenvectors
of ``K_SS``, hardly has). With every training row a center this is the
exact model's problem, ``(K + alpha I) a = y``; the estimators then take the exact
model's path.

Memory: the training rows once in the compute precision, ``K_ZZ``'s Cholesky factor
(p x p in the compute precision, in K_ZZ's own memory unless a ridge fit keeps K_ZZ
as well), the plan's s x s eigendecomposition, and one batch's
kernel rows against the centers (m x p). A float32 factor takes a jitter of
``10 p eps(float32)`` times the diagonal (0.014 at p = 12,000): it halves the
largest array and the time of each batch's solve, and did not change the test
accuracy at 100,000 rows and 4,000 centers (0.8118 against 0.8122 with a float64
factor).
"""

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import gen_batches

from ._backend import is_dask_array
from ._evaluator import Coefficients, HeldCoefficients
from ._kernel import TILE_ENTRIES, kernel_block_rows
from ._parallel import evaluator_threads, map_shares
from ._points import LocalPoints
from ._weights import WeightedKernel, with_scale

# K_ZZ's Cholesky factor is taken of K_ZZ + JITTER * p * eps * max(diag) I, as Falkon
# does: the centers' kernel matrix of a smooth kernel is numerically singular. The
# jitter only changes the preconditioner, not the solution (see the module's notes).
# A factor that still fails gets ten times the jitter, up to JITTER_TRIES times.
JITTER = 10.0
JITTER_TRIES = 6

# Rows gathered at once when the training rows are put in the centers-first order.
ROW_CHUNK = 2**16

# n_centers="auto": the exact model on up to AUTO_EXACT_ROWS training rows (its epoch,
# n^2 kernel entries, took about 25 s there on 2 cores), and above them the largest p
# whose p x p factor fits in AUTO_FACTOR_SHARE of scikit-learn's working_memory
# (auto_n_centers). With the whole of it (16,384 centers in float32) a fit on 10^6
# rows of 40 features took 890 s (3.8 GB peak RSS, test accuracy 0.872), against
# 539 s (3.1 GB, 0.870) for 12,000 centers: each batch's triangular solve reads the
# p x p factor twice, and the batch, bounded by the same budget, shrinks as p grows.
AUTO_EXACT_ROWS = 100_000
AUTO_FACTOR_SHARE = 0.5


def check_centers_supported(estimator, X):
    """A ValueError naming ``n_centers`` where the centers cannot go yet."""
    if estimator.kernel == "precomputed":
        raise ValueError(
            f"n_centers={estimator.n_centers} needs the training points, not "
            'kernel="precomputed"; use n_centers=None with a precomputed kernel.'
        )


def resolve_n_centers(estimator, n_train, dtype):
    """The number of centers of a fit on ``n_train`` rows in precision ``dtype``;
    ``n_train`` is the exact model.

    ``n_centers="auto"`` keeps the exact model on up to AUTO_EXACT_ROWS rows and for
    a precomputed kernel (which takes no centers), and above that takes
    :func:`auto_n_centers`, on a Dask cluster as in this process. An int is capped
    at ``n_train``.
    """
    n_centers = estimator.n_centers
    if n_centers == "auto":
        exact = n_train <= AUTO_EXACT_ROWS or estimator.kernel == "precomputed"
        n_centers = None if exact else auto_n_centers(dtype)
    return n_train if n_centers is None else min(n_centers, n_train)


def auto_n_centers(dtype):
    """The largest p whose p x p array in ``dtype`` (``K_ZZ``'s factor) fits in
    AUTO_FACTOR_SHARE of scikit-learn's ``working_memory``: 11,585 in float32 and
    8,192 in float64 at the default 1,024 MiB. The batch's block against the centers
    is held within ``working_memory`` as well."""
    budget = AUTO_FACTOR_SHARE * get_config()["working_memory"] * 2**20
    return max(1, int(np.sqrt(budget / np.dtype(dtype).itemsize)))


def choose_centers(X, n_centers, rng):
    """Indices of ``n_centers`` distinct rows of X, drawn uniformly among the rows by
    ``rng``, sorted.

    The rows are drawn in a random order and a row identical to one drawn before is
    passed over (two equal centers would make ``K_ZZ`` singular), so the centers, and
    the EigenPro subsample drawn among them, follow the data's distribution,
    duplicates included. Fewer distinct rows than ``n_centers`` give them all.
    Identical sparse rows are not looked for.
    """
    if is_dask_array(X):
        # The rows stay on the cluster: uniform distinct indices, without looking
        # for identical rows (equal centers only take more of the factor's jitter).
        return np.sort(
            rng.choice(X.shape[0], size=min(n_centers, X.shape[0]), replace=False)
        )
    order = rng.permutation(X.shape[0])
    if not sp.issparse(X):
        labels = np.unique(np.asarray(X), axis=0, return_inverse=True)[1].ravel()
        order = order[np.sort(np.unique(labels[order], return_index=True)[1])]
    return np.sort(order[:n_centers])


@dataclass
class CenterFactor:
    """A :class:`CenterEvaluator`'s Cholesky factor of ``K_ZZ`` (and ``K_ZZ``, kept
    for a ridge fit, else None), with the centers' order and precision it was made
    in: the fold-in over the same centers takes it instead of a second O(p^3)
    factorization (8.7 s at p = 12,000 in float32 on 2 cores)."""

    factor: tuple
    K_ZZ: object
    order: np.ndarray
    dtype: np.dtype

    def serves(self, order, dtype):
        return self.dtype == dtype and np.array_equal(self.order, order)


def center_points(problem, kernel):
    """The :class:`CenterPoints` of a fit problem with centers
    (:class:`~sklearn_interp._problem.FitProblem`, its ``centers`` set), in the
    precision of ``kernel`` (for a dask X the estimators take
    :class:`sklearn_interp._distributed_centers.ShardedCenterPoints`)."""
    return CenterPoints(
        problem.X,
        problem.centers,
        kernel,
        targets=problem.Y,
        alpha=problem.ridge,
        weight=problem.merged.weight,
        factor=problem.center_factor,
    )


class CenterPoints(LocalPoints):
    """The training rows of a fit with model centers, the centers first.

    As :class:`~sklearn_interp._points.LocalPoints` for the plan (the kernel's
    diagonal and beta over all rows, with the weights), with the rows reordered so
    that positions ``0 .. p - 1`` are the centers: the plan draws its subsample there
    (``subsample_candidates``). :meth:`evaluator` fits coefficients of the centers.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The training rows.
    centers : ndarray of int
        Indices of the centers among them (distinct rows).
    kernel : BlockKernel
        In the compute precision.
    targets : ndarray of shape (n_samples, n_outputs), float64
    alpha : float
        Ridge term.
    weight : ndarray of shape (n_samples,) or None
        Sample weights of the rows.
    factor : CenterFactor or None
        The centers' factor from an earlier evaluator, for the next
        :meth:`evaluator` to take where it serves. After an evaluator ends, its
        factor is here (the fold-in's problem takes it).
    """

    def __init__(self, X, centers, kernel, *, targets, alpha, weight=None, factor=None):
        self.factor = factor
        n_samples = X.shape[0]
        order = np.concatenate([centers, np.setdiff1d(np.arange(n_samples), centers)])
        self.rows = _rows_in(X, order, kernel.dtype)
        self.sqrt_weight = None if weight is None else np.sqrt(weight[order])
        self.plain_kernel = kernel
        points = self.rows
        if weight is not None:
            points = with_scale(points, self.sqrt_weight)
            kernel = WeightedKernel(kernel)
        super().__init__(points, kernel, targets=targets[order], alpha=alpha)
        self.n_centers = len(centers)
        self.subsample_candidates = self.n_centers
        # The subsample is every center and the automatic q is bounded by the
        # resolution floor alone (sklearn_interp._plan).
        self.uncapped_components = True
        # A batch's kernel rows are against the p centers, not the n rows: the plan
        # bounds the batch by this block.
        self.block_rows = kernel_block_rows(self.n_centers, self.dtype)
        self.X_fit = X[centers]
        # One copy of the rows in the compute precision: the plan's (self.X) where it
        # has no weight column.
        if weight is None:
            self.rows = self.X
        self.Z = self.rows[: self.n_centers]

    @contextmanager
    def evaluator(self, preconditioner=None, initial=None):
        """The :class:`CenterEvaluator` of a fit; ``initial`` holds coefficients of
        the centers, in ``X_fit``'s order."""
        n_subsample, order = 0, np.arange(self.n_centers)
        if preconditioner is not None:
            subsample = preconditioner.subsample
            n_subsample = len(subsample)
            order = np.concatenate([subsample, np.setdiff1d(order, subsample)])
        # The center order puts S first; the loop's subsample positions 0 .. s - 1 are
        # data rows, which S's rows must be: the data rows follow the same order.
        # As for the exact model, BLAS runs single-threaded and the evaluator's own
        # threads take the cores for the kernel blocks: BLAS threads that wait for
        # work between the small products and solves of each batch took a third of
        # the cores' time (a fit at n = 100,000, p = 1,000: its solves ran at 3.4 ms
        # against 1.2 ms alone).
        data_order = np.concatenate([order, np.arange(self.n_centers, self.n_samples)])
        with evaluator_threads() as (pool, n_threads):
            evaluator = self._evaluator(
                order, data_order, n_subsample, initial, pool, n_threads
            )
            self.factor = None
            try:
                yield evaluator
            finally:
                # The last block goes now, not when the last reference to the
                # evaluator does; the p x p factor stays here for the fold-in.
                self.factor = evaluator.factor_made()
                evaluator.release()

    def _evaluator(self, order, data_order, n_subsample, initial, pool, n_threads):
        return CenterEvaluator(
            self.rows,
            self.Z[order],
            self.targets[data_order],
            self.plain_kernel,
            sqrt_weight=(
                None if self.sqrt_weight is None else self.sqrt_weight[data_order]
            ),
            alpha=self.alpha,
            n_subsample=n_subsample,
            block_rows=self.block_rows,
            order=order,
            initial=None if initial is None else initial[order],
            positions=data_order,
            pool=pool,
            n_threads=n_threads,
            factor=self.factor,
        )


class CenterEvaluator(HeldCoefficients):
    """Residuals of the data rows against the centers' coefficients, and the
    projected steps of the module's notes.

    Positions of the loop are data rows, the subsample S (which are centers) first;
    the coefficients belong to the centers, S first.
    """

    def __init__(
        self,
        X,
        Z,
        Y,
        kernel,
        *,
        sqrt_weight,
        alpha,
        n_subsample,
        block_rows,
        order,
        initial=None,
        positions=None,
        pool=None,
        n_threads=1,
        factor=None,
    ):
        # Loop position i is row positions[i] of X (no reordered copy of the rows).
        self.X = X
        self.positions = np.arange(X.shape[0]) if positions is None else positions
        self.n_samples = X.shape[0]
        self.n_subsample = n_subsample
        self.kernel_rows = kernel.rows_against(Z)
        self.n_centers = Z.shape[0]
        self.dtype = kernel.dtype
        self.sqrt_weight = sqrt_weight
        self.alpha = alpha
        self.block_rows = max(1, block_rows)
        self.order = order
        self.targets = Y
        self.pool = pool
        self.n_threads = n_threads
        # The coefficients of the centers; Coefficients' own ridge is not used here.
        self.coef = Coefficients(np.zeros((Z.shape[0], Y.shape[1])), self.dtype, 0.0)
        if initial is not None:
            self.coef.set(initial)
        self.last = None
        self._make_factor(Z, factor)

    def _make_factor(self, Z, factor):
        """``K_ZZ``'s Cholesky factor (and K_ZZ for a ridge fit), or ``factor``'s
        where it serves."""
        if (
            factor is not None
            and factor.serves(self.order, self.dtype)
            and (factor.K_ZZ is not None or not self.alpha)
        ):
            self.factor, self.K_ZZ = factor.factor, factor.K_ZZ
            return

        def centers_kernel():
            # In the compute precision, straight into the p x p array: no float64
            # copy and no pairwise temporaries (at p = 12,000 a float64 K_ZZ is
            # 1.15 GB, and a float32 one half of that).
            K_ZZ = np.empty((self.n_centers, self.n_centers), dtype=self.dtype)
            self._kernel_rows_into(K_ZZ, Z)
            return K_ZZ

        K_ZZ = centers_kernel()
        # A ridge fit keeps K_ZZ; otherwise its factor is taken in its memory.
        self.K_ZZ = K_ZZ if self.alpha else None
        self.factor = _cholesky(K_ZZ, remake=None if self.alpha else centers_kernel)

    def _kernel_rows_into(self, out, rows, coef=None, product=None):
        """``out[:] = k(rows, Z)``, one share of the rows per thread, each made in
        pieces of about TILE_ENTRIES entries whose product and exp run in the core's
        cache (an exp over rows that do not fit there runs at a third of the rate).
        With ``coef``, also ``product[:] = out @ coef``, each piece's product taken
        while the piece is in cache."""
        step = max(1, TILE_ENTRIES // self.n_centers)

        def fill(share):
            for start in range(share.start, share.stop, step):
                piece = slice(start, min(start + step, share.stop))
                block = out[piece]
                # Kernels without a fast path (laplacian, chi2, callables) and sparse
                # rows return a new array rather than fill the one given.
                made = self.kernel_rows(rows[piece], out=block)
                if made is not block:
                    block[...] = made
                if coef is not None:
                    product[piece] = block @ coef

        map_shares(fill, slice(0, len(out)), self.n_centers, self.pool, self.n_threads)

    def factor_made(self):
        """The :class:`CenterFactor` of these centers, for another evaluator."""
        return CenterFactor(self.factor, self.K_ZZ, self.order, self.dtype)

    def initial_error(self):
        Y = self._weighted(self.targets, slice(None))
        return float(np.einsum("ij,ij->", Y, Y)) / self.n_samples

    def _weighted(self, values, index):
        if self.sqrt_weight is None:
            return values
        return values * self.sqrt_weight[index][:, np.newaxis]

    def _block(self, index, coef=None):
        """The batch's kernel rows against the centers (:meth:`_kernel_rows_into`)
        and, with ``coef``, ``block @ coef`` (float64), else None."""
        block = np.empty((len(index), self.n_centers), dtype=self.dtype)
        product = None if coef is None else np.empty((len(index), coef.shape[1]))
        self._kernel_rows_into(block, self.X[self.positions[index]], coef, product)
        return block, product

    def _transposed_product(self, block, values):
        """``block.T @ values`` in float64, a share of the rows per thread (BLAS is
        held at one thread during the epochs)."""
        values = values.astype(block.dtype, copy=False)

        def part(share):
            return block[share].T @ values[share]

        parts = map_shares(
            part, slice(0, block.shape[0]), self.n_centers, self.pool, self.n_threads
        )
        total = np.asarray(parts[0], dtype=np.float64)
        for other in parts[1:]:
            total += other
        return total

    def residuals(self, index, upcoming=None, project=True):
        block, product = self._block(index, self.coef.mirror)
        residual = self._weighted(product - self.targets[index], index)
        self.last = (index, block)
        projected = None
        if project and self.n_subsample:
            # K^w(X_S, X_B) rho plus the ridge's share, as the EigenPro correction of
            # the loop reads it (the module's notes).
            head = self._transposed_product(
                block[:, : self.n_subsample], self._weighted(residual, index)
            )
            if self.alpha:
                f_S = self.K_ZZ[: self.n_subsample] @ self.coef.mirror
                f_S = f_S.astype(np.float64)
                head += (len(index) / self.n_samples) * self.alpha * f_S
            projected = head * self._subsample_weight()
        return residual, projected

    def _subsample_weight(self):
        if self.sqrt_weight is None:
            return 1.0
        return self.sqrt_weight[: self.n_subsample][:, np.newaxis]

    def update(self, index, delta, subsample_delta, scale):
        last_index, block = self.last
        if last_index is not index:
            block, _ = self._block(index)
        gradient = self._transposed_product(block, self._weighted(delta, index))
        self._step(index, gradient, subsample_delta, scale)

    def _step(self, index, gradient, subsample_delta, scale):
        """The projected step of the module's notes from the batch's ``K_ZB delta``
        (``gradient``, float64)."""
        if self.alpha:
            share = len(index) / self.n_samples
            ridge = self.K_ZZ @ self.coef.mirror
            gradient -= scale * share * self.alpha * ridge
        # In the factor's precision: a float64 right-hand side would make LAPACK's
        # solve copy a float32 factor into float64 for every batch.
        step = scipy.linalg.cho_solve(
            self.factor, gradient.astype(self.dtype), check_finite=False
        ).astype(np.float64)
        if subsample_delta is not None:
            # K_ZZ^-1 K_ZS selects S (the module's notes).
            step[: self.n_subsample] += subsample_delta * self._subsample_weight()
        self.coef.add(slice(None), step)
        self.last = None

    def release(self):
        """Drop the arrays of the epochs; the coefficients stay."""
        self.factor = self.K_ZZ = self.last = self.X = None

    def decision(self, X):
        # The held-out rows of a fit on a Dask cluster come as a dask array.
        X = np.asarray(X, dtype=self.dtype)
        out = np.empty((X.shape[0], self.coef.values.shape[1]))
        for start in range(0, X.shape[0], self.block_rows):
            rows = slice(start, start + self.block_rows)
            out[rows] = self.kernel_rows(X[rows]) @ self.coef.mirror
        return out

    def mean_squared_residual(self):
        total = 0.0
        for start in range(0, self.n_samples, self.block_rows):
            index = np.arange(start, min(start + self.block_rows, self.n_samples))
            residual, _ = self.residuals(index, project=False)
            total += float(np.einsum("ij,ij->", residual, residual))
        self.last = None
        return total / self.n_samples


def _rows_in(X, order, dtype):
    """``X[order]`` in ``dtype``, gathered in chunks: no full copy in X's own
    precision on the way (0.3 GB for 10^6 rows of 40 float64 features)."""
    if sp.issparse(X):
        return X[order].astype(dtype)
    rows = np.empty((len(order), X.shape[1]), dtype=dtype)
    for chunk in gen_batches(len(order), ROW_CHUNK):
        rows[chunk] = X[order[chunk]]
    return rows


def _cholesky(K_ZZ, remake=None):
    """``cho_factor`` of ``K_ZZ`` plus the smallest jitter of the module's rule that
    gives a factor.

    With ``remake`` (a function that computes K_ZZ again) the factor is taken in
    K_ZZ's own memory, which is then lost, and a failed try remakes it: one p x p
    array instead of two. Without it the factor is a new array.
    """
    p = K_ZZ.shape[0]
    diagonal = np.diag(K_ZZ).copy()
    finfo = np.finfo(K_ZZ.dtype)
    jitter = JITTER * p * finfo.eps * max(float(diagonal.max()), 0.0)
    for _ in range(JITTER_TRIES):
        work = K_ZZ if remake is not None else K_ZZ.copy()
        work[np.diag_indices(p)] = diagonal + jitter
        try:
            return scipy.linalg.cho_factor(
                work, lower=True, overwrite_a=True, check_finite=False
            )
        except np.linalg.LinAlgError:
            jitter = max(10.0 * jitter, float(finfo.tiny))
            if remake is not None:
                K_ZZ = remake()
    raise ValueError(
        f"The kernel matrix of the {p} model centers is not positive definite even "
        f"with {jitter:.3g} added to its diagonal: the kernel is not positive "
        "definite on these data. Use n_centers=None (every training row) or a "
        "positive definite kernel such as 'rbf'."
    )
