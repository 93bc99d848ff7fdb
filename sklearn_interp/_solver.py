"""Mini-batch SGD for kernel machines in the interpolation regime.

Plain functions over arrays: the data, a block kernel, an RNG and keyword-only settings in,
a :class:`~sklearn.utils.Bunch` out. Nothing here touches an estimator or global state.

The iteration fits ``f(x) = sum_i coef_i k(x_i, x)`` to the targets. An epoch visits every
training point once, in random batches B of size m, and on each batch applies

    g = K[B, :] coef - y_B + alpha * coef_B              (residual, ridge-shifted)
    coef_B <- coef_B - (eta / m) g
    coef_S <- coef_S + (eta / m) (1 / s) U diag(scale) U^T K(X_S, X_B) g   (EigenPro)

the function-space SGD step of [1] (randomized block Kaczmarz on (K + alpha I) coef = y),
with the EigenPro correction on the subsample S when a preconditioner is given. Its fixed
point is the solution of (K + alpha I) coef = y: the minimum-norm interpolant for alpha = 0,
KernelRidge's solution for alpha > 0.

Only blocks of at most ``block_rows x n`` kernel entries exist at any time.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

import numpy as np
from sklearn.utils import Bunch, gen_batches, gen_even_slices
from threadpoolctl import ThreadpoolController

from ._kernel import rows_against

# A finished epoch whose mean squared residual exceeds the best one seen by this factor
# counts as diverging: a healthy run's residual, averaged over an epoch, does not rise by
# half.
ERROR_RISE_FACTOR = 1.5

# A single batch whose squared residual exceeds this multiple of the whole training set's
# squared residual at the best epoch stops its epoch at once, long before overflow. One
# batch cannot hold more than all of it while the coefficients improve.
BATCH_BLOWUP_FACTOR = 100.0

# On divergence the step size is multiplied by this and the fit resumes from the last
# good coefficients (those at the end of the last epoch that did not diverge).
STEP_SIZE_BACKOFF = 0.5

# After this many back-offs (the step is then about 1e-6 of the first) the fit gives up.
MAX_BACKOFFS = 20

# A residual that rises this many epochs in a row, and by CREEP_FACTOR over those epochs,
# counts as diverging too, even below ERROR_RISE_FACTOR: a slowly creeping instability
# otherwise goes unnoticed. The factor keeps the random ups and downs of a fit that has
# reached its floor (an inconsistent or rank-deficient problem) from counting.
MAX_CONSECUTIVE_RISES = 3
CREEP_FACTOR = 1.1


# Blocks with fewer kernel entries than this are computed by one thread: below it the
# threads' hand-off costs more than it saves.
PARALLEL_MIN_ENTRIES = 2**16

# A thread computes its piece of a block in chunks of rows, written into one buffer it
# reuses: no block is allocated (and page-faulted in) afresh for every batch, and a chunk
# of about CHUNK_ENTRIES kernel entries (16 MB in float64) is still in cache when the
# exp, the product with the coefficients and the subsample projection read it. Each
# chunk's product also reads all n x c coefficients, so a chunk has at least
# MIN_CHUNK_ROWS rows. Measured per epoch on 2 cores (d = 40, c = 10, float64): at
# n = 20,000, chunks of 104 rows 0.66 s, 256 rows 0.68 s, whole 980-row pieces 0.78 s;
# at n = 50,000, 64 rows 4.8 s, 128 rows 4.3 s, 256 rows 4.0 s, whole pieces 4.1 s.
CHUNK_ENTRIES = 2**21
MIN_CHUNK_ROWS = 256


def sgd_fit(
    X,
    Y,
    kernel,
    rng,
    *,
    batch_size,
    step_size,
    alpha=0.0,
    preconditioner=None,
    max_iter=100,
    tol=1e-4,
    block_rows=None,
    compute_dtype=np.float64,
    diagonal=None,
    verbose=0,
):
    """Run epochs of mini-batch SGD until the relative residual falls below tol.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Training points in the compute precision.
    Y : ndarray of shape (n_samples, n_outputs), float64
        Targets.
    kernel : callable
        Block kernel ``kernel(A, B)``.
    rng : numpy.random.RandomState
        The only source of randomness (batch order).
    batch_size : int
        m, 1 <= m <= n_samples.
    step_size : float
        eta; each residual of a batch is scaled by ``eta / m``.
    alpha : float, default=0.0
        Ridge term.
    preconditioner : Bunch or None
        From :func:`sklearn_interp._spectrum.eigenpro_preconditioner`; None for plain SGD.
    max_iter : int
        Maximum number of epochs.
    tol : float
        Stop once ``curve[t] <= tol * curve[0]``.
    block_rows : int or None
        Largest number of kernel rows (against all n points) computed at once; a batch
        larger than this is evaluated in several blocks. None means the batch size.
    compute_dtype : dtype
        Precision of the kernel blocks and their products; coefficients and errors
        are kept in float64.
    diagonal : ndarray of shape (n_samples,) or None
        Exact ``k(x_i, x_i)``: written over each block's entries of a point against
        itself, where a kernel computed by expanding distances can lose them to
        rounding on badly scaled data.
    verbose : int
        Print one line per epoch when > 0.

    Returns
    -------
    result : Bunch
        ``coef`` (n_samples, n_outputs), ``convergence_curve`` (float64 array,
        ``n_iter + 1`` values: index 0 is the residual of the zero function,
        ``mean_i ||y_i||^2``; index t the mean over the epoch's batches of
        ``||K[B, :] coef + alpha coef_B - y_B||^2`` measured just before each batch's
        update, so the curve costs no extra pass over the data; for alpha = 0 it is
        the training error), ``n_iter`` (epochs run, back-offs included),
        ``step_size`` (last step size used), ``n_backoffs``, ``converged``.

    Notes
    -----
    Each block of kernel rows is split into one piece per BLAS thread; a thread computes
    its piece's kernel rows, the exp, the residuals and the subsample projection with
    single-threaded BLAS (the BLAS thread count is limited to 1 for the duration of the
    fit), so that every pass over the block, the elementwise ones too, runs on all
    cores. A thread works through its piece in chunks of rows held in one buffer it
    reuses for the whole fit (see ``CHUNK_ENTRIES``).
    """
    n_samples = Y.shape[0]
    block_rows = batch_size if block_rows is None else block_rows
    n_subsample = 0
    if preconditioner is not None:
        # Put the subsample first: K(X_B, X_S) is then the leading columns of every
        # block, read in place.
        n_subsample = len(preconditioner.subsample)
        order = np.concatenate(
            [
                preconditioner.subsample,
                np.setdiff1d(np.arange(n_samples), preconditioner.subsample),
            ]
        )
        X, Y = X[order], Y[order]
        diagonal = None if diagonal is None else diagonal[order]

    with (
        _single_threaded_blas() as n_threads,
        (
            ThreadPoolExecutor(max_workers=n_threads) if n_threads > 1 else nullcontext()
        ) as pool,
    ):
        evaluator = _Evaluator(
            kernel_rows=rows_against(kernel, X),  # X's share of the kernel done once
            X=X,
            Y=Y,
            compute_dtype=compute_dtype,
            alpha=alpha,
            n_subsample=n_subsample,
            block_rows=block_rows,
            pool=pool,
            n_threads=n_threads,
            diagonal=diagonal,
        )
        result = run_sgd(
            evaluator,
            rng,
            batch_size=batch_size,
            step_size=step_size,
            preconditioner=preconditioner,
            max_iter=max_iter,
            tol=tol,
            verbose=verbose,
        )

    coef = evaluator.coef
    if n_subsample:
        coef[order] = coef.copy()
    result.coef = coef
    return result


def run_sgd(
    evaluator, rng, *, batch_size, step_size, preconditioner, max_iter, tol, verbose
):
    """The epochs of :func:`sgd_fit` over any evaluator, with the divergence safeguard.

    One loop serves every backend: the evaluator holds the data and the coefficients
    (in this process, or sharded over a cluster) and computes residuals and applies
    updates; this function draws the batches, computes the updates, and decides when
    to stop or back off.

    Parameters
    ----------
    evaluator : object
        Holds ``n_samples`` points in the solver's order (the subsample, if any, first)
        and their coefficients, and provides ``initial_error()`` (``mean_i ||y_i||^2``),
        ``residuals(index, upcoming)`` (the ridge-shifted residuals of the points
        ``index`` and, with a subsample, their projection ``K(X_S, X_index) g``;
        ``upcoming`` is the next batch, or None), ``update(index,
        delta, subsample_delta)`` (add ``delta`` to the coefficients of ``index`` and
        ``subsample_delta``, if not None, to those of the subsample), ``end_epoch()``,
        ``snapshot()`` and ``restore()`` (keep and bring back the last good
        coefficients) and ``mean_squared_residual()`` (exact).
    rng : numpy.random.RandomState
        Draws one permutation of the points per epoch.
    batch_size, step_size, preconditioner, max_iter, tol, verbose
        As in :func:`sgd_fit`.

    Returns
    -------
    result : Bunch
        As :func:`sgd_fit`'s, without ``coef`` (the evaluator holds it).
    """
    n_samples = evaluator.n_samples
    best_error = evaluator.initial_error()
    curve = [best_error]
    target = tol * curve[0]
    n_backoffs = 0
    n_rises = 0
    converged = curve[0] <= target
    evaluator.snapshot()

    for epoch in range(1, max_iter + 1):
        if converged:
            break
        start = time.perf_counter()
        error = _run_epoch(
            evaluator,
            rng,
            batch_size=batch_size,
            step_size=step_size,
            preconditioner=preconditioner,
            blowup_threshold=BATCH_BLOWUP_FACTOR * n_samples * best_error,
        )
        n_rises = n_rises + 1 if error > curve[-1] else 0
        creeping = (
            n_rises >= MAX_CONSECUTIVE_RISES
            and error > CREEP_FACTOR * curve[-MAX_CONSECUTIVE_RISES]
        )
        diverged = (
            not np.isfinite(error) or error > ERROR_RISE_FACTOR * best_error or creeping
        )
        if diverged:
            n_rises = 0
            evaluator.restore()
            step_size *= STEP_SIZE_BACKOFF
            n_backoffs += 1
            # The curve's values are averages over epochs while the coefficients
            # moved; the restored ones get their exact residual (one pass, only on
            # this rare path), so the next epoch is judged against what it starts
            # from.
            error = best_error = evaluator.mean_squared_residual()
        else:
            best_error = min(best_error, error)
            evaluator.snapshot()
        curve.append(error)
        converged = error <= target
        if verbose:
            note = " (diverged: step size halved, last good coefficients restored)"
            print(
                f"epoch {epoch}: mean squared residual {error:.6g} "
                f"(relative {error / curve[0] if curve[0] else 0.0:.3g}), "
                f"step size {step_size:.6g}{note if diverged else ''}, "
                f"{time.perf_counter() - start:.3g} s"
            )
        if n_backoffs > MAX_BACKOFFS:
            break

    return Bunch(
        convergence_curve=np.asarray(curve),
        n_iter=len(curve) - 1,
        step_size=step_size,
        n_backoffs=n_backoffs,
        converged=converged,
    )


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
_blas_threads = 1


@contextmanager
def _single_threaded_blas():
    """Hold BLAS at one thread while any fit runs; yield the thread count it had.

    threadpoolctl's limits are process-wide, so concurrent fits (user threads, joblib's
    threading backend) share one limit: the first fit in sets it, the last one out
    restores the original.
    """
    global _blas_users, _blas_limiter, _blas_threads
    with _blas_lock:
        if _blas_users == 0:
            controller = ThreadpoolController()
            _blas_threads = max(
                [
                    lib["num_threads"]
                    for lib in controller.info()
                    if lib["user_api"] == "blas"
                ],
                default=1,
            )
            _blas_limiter = controller.limit(limits=1, user_api="blas")
        _blas_users += 1
        n_threads = _blas_threads
    try:
        yield n_threads
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def _run_epoch(evaluator, rng, *, batch_size, step_size, preconditioner, blowup_threshold):
    """One pass over the data in random batches; updates the coefficients in place.

    Returns the mean squared (ridge-shifted) residual measured before each batch's
    update, or inf as soon as one batch blows up.
    """
    n_samples = evaluator.n_samples
    order = rng.permutation(n_samples)
    squared_error = 0.0
    # Every batch scales its residuals by eta / m, the short last one too: the optimal
    # per-residual scale eta*(m) / m (1 / beta, then 2 / (beta + (m - 1) lambda_1)) only
    # grows as m shrinks, so the full batch's scale is safe for the short one.
    scale = step_size / batch_size
    batches = [order[batch] for batch in gen_batches(n_samples, batch_size)]
    for number, batch in enumerate(batches):
        # The next batch, for an evaluator that fetches its rows while this one runs.
        upcoming = batches[number + 1] if number + 1 < len(batches) else None
        residual, projected = evaluator.residuals(batch, upcoming=upcoming)
        batch_error = float(np.einsum("ij,ij->", residual, residual))
        if not batch_error <= blowup_threshold:  # also catches NaN
            return np.inf
        squared_error += batch_error
        subsample_delta = None
        if preconditioner is not None:
            # alpha_S += (eta / m) (1 / s) U diag(scale) U^T K(X_S, X_B) g
            U = preconditioner.eigvecs
            correction = U @ (preconditioner.scale[:, np.newaxis] * (U.T @ projected))
            subsample_delta = (scale / evaluator.n_subsample) * correction
        evaluator.update(batch, -scale * residual, subsample_delta)
    evaluator.end_epoch()
    return squared_error / n_samples


class _Evaluator:
    """Residuals of rows of the training set, in blocks, on all cores.

    Holds the training points (the first ``n_subsample`` of them the subsample, if
    any), their coefficients ``coef`` in float64 and a compute-precision mirror that
    the kernel blocks multiply. ``residuals(index)`` returns ``K[index, :] coef + alpha
    coef[index] - Y[index]`` and, when there is a subsample, its projection
    ``K[:n_subsample, index] @ residual``. Blocks of at most ``block_rows`` rows are
    split into one piece per thread, and a piece into chunks of ``chunk_rows`` rows that
    the thread computes in its own reused buffer; results are combined in a fixed order,
    so they do not depend on thread timing.
    """

    def __init__(
        self,
        *,
        diagonal,
        kernel_rows,
        X,
        Y,
        compute_dtype,
        alpha,
        n_subsample,
        block_rows,
        pool,
        n_threads,
    ):
        self.kernel_rows = kernel_rows
        self.X = X
        self.Y = Y
        self.n_samples = X.shape[0]
        self.coef = np.zeros(Y.shape)
        self.coef_compute = np.zeros(Y.shape, dtype=compute_dtype)
        self.good_coef = self.coef.copy()
        self.alpha = alpha
        self.n_subsample = n_subsample
        self.block_rows = block_rows
        self.pool = pool
        self.n_threads = n_threads
        self.diagonal = diagonal
        # One kernel buffer per thread, reused by every chunk: together they hold no
        # more than the block_rows x n block the memory budget allows (at least one
        # row each). A kernel that allocates its own blocks gets none.
        self.chunk_rows = max(
            1,
            min(
                block_rows // n_threads,
                max(MIN_CHUNK_ROWS, CHUNK_ENTRIES // self.n_samples),
            ),
        )
        self.buffers = [
            np.empty((self.chunk_rows, self.n_samples), dtype=compute_dtype)
            if getattr(kernel_rows, "fills_out", False)
            else None
            for _ in range(n_threads)
        ]

    def initial_error(self):
        """``mean_i ||y_i||^2``, the residual of the zero function."""
        return float(np.mean(np.sum(self.Y**2, axis=1)))

    def update(self, index, delta, subsample_delta):
        """Add ``delta`` to the coefficients of ``index``, and ``subsample_delta`` (if
        not None) to those of the subsample."""
        coef, coef_compute = self.coef, self.coef_compute
        coef[index] += delta
        coef_compute[index] = coef[index]
        if subsample_delta is not None:
            s = self.n_subsample
            coef[:s] += subsample_delta
            coef_compute[:s] = coef[:s]

    def end_epoch(self):
        """Nothing is pending here at the end of an epoch."""

    def snapshot(self):
        """Keep the current coefficients as the last good ones."""
        self.good_coef[...] = self.coef

    def restore(self):
        """Go back to the last good coefficients."""
        self.coef[...] = self.good_coef
        self.coef_compute[...] = self.good_coef

    def residuals(self, index, upcoming=None, project=True):
        """Residuals of the points ``index`` and their subsample projection.

        ``upcoming`` (the next batch) is for evaluators that fetch rows; all rows are
        here.
        """
        project = project and self.n_subsample > 0
        residual = np.empty((len(index), self.Y.shape[1]))
        projected = np.zeros((self.n_subsample, self.Y.shape[1]))

        def piece(rows, buffer):
            projection = np.zeros(projected.shape) if project else None
            piece_index, piece_residual = index[rows], residual[rows]
            for chunk in gen_batches(len(piece_index), self.chunk_rows):
                chunk_index = piece_index[chunk]
                block = self.kernel_rows(
                    self.X[chunk_index],
                    out=None if buffer is None else buffer[: len(chunk_index)],
                )
                if self.diagonal is not None:
                    block[np.arange(len(chunk_index)), chunk_index] = self.diagonal[
                        chunk_index
                    ]
                chunk_residual = block @ self.coef_compute - self.Y[chunk_index]
                if self.alpha:
                    chunk_residual += self.alpha * self.coef[chunk_index]
                piece_residual[chunk] = chunk_residual
                if project:
                    # K(X_S, X_B) g: the block's leading columns, in the compute
                    # precision, summed over the chunks in float64.
                    projection += block[:, : self.n_subsample].T @ chunk_residual.astype(
                        block.dtype
                    )
            return projection

        n_samples = self.X.shape[0]
        for block in gen_batches(len(index), self.block_rows):
            size = block.stop - block.start
            n_pieces = self.n_threads if size * n_samples >= PARALLEL_MIN_ENTRIES else 1
            pieces = [
                slice(block.start + part.start, block.start + part.stop)
                for part in gen_even_slices(size, n_pieces)
            ]
            buffers = self.buffers[: len(pieces)]
            mapped = (
                self.pool.map(piece, pieces, buffers)
                if n_pieces > 1
                else map(piece, pieces, buffers)
            )
            for piece_projection in mapped:
                if piece_projection is not None:
                    projected += piece_projection
        return residual, projected

    def mean_squared_residual(self):
        """Exact ``(1/n) sum_i ||K[i, :] coef + alpha coef_i - y_i||^2``.

        The quantity the convergence curve estimates: the training error when alpha = 0.
        """
        # residuals() already works in blocks of block_rows; only the n x c residual is
        # held whole.
        residual, _ = self.residuals(np.arange(self.X.shape[0]), project=False)
        return float(np.einsum("ij,ij->", residual, residual)) / self.X.shape[0]
