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

import time

import numpy as np
from sklearn.utils import Bunch, gen_batches

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
    """
    n_samples, n_outputs = Y.shape
    block_rows = batch_size if block_rows is None else block_rows
    coef = np.zeros((n_samples, n_outputs))
    # The compute-precision mirror of coef that the kernel blocks multiply.
    coef_compute = np.zeros((n_samples, n_outputs), dtype=compute_dtype)
    good_coef = coef.copy()
    best_error = float(np.mean(np.sum(Y**2, axis=1)))
    curve = [best_error]
    target = tol * curve[0]
    n_backoffs = 0
    converged = curve[0] <= target

    for epoch in range(1, max_iter + 1):
        if converged:
            break
        start = time.perf_counter()
        error = _run_epoch(
            X,
            Y,
            kernel,
            rng,
            coef,
            coef_compute,
            batch_size=batch_size,
            step_size=step_size,
            alpha=alpha,
            preconditioner=preconditioner,
            block_rows=block_rows,
            blowup_threshold=BATCH_BLOWUP_FACTOR * n_samples * best_error,
        )
        diverged = not np.isfinite(error) or error > ERROR_RISE_FACTOR * best_error
        if diverged:
            coef[...] = good_coef
            coef_compute[...] = good_coef
            step_size *= STEP_SIZE_BACKOFF
            n_backoffs += 1
            # The curve's values are averages over epochs while the coefficients moved;
            # the restored ones get their exact residual (one pass, only on this rare
            # path), so the next epoch is judged against what it starts from.
            error = best_error = mean_squared_residual(
                X, Y, kernel, coef, coef_compute, alpha=alpha, block_rows=block_rows
            )
        else:
            best_error = min(best_error, error)
            good_coef[...] = coef
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
        coef=coef,
        convergence_curve=np.asarray(curve),
        n_iter=len(curve) - 1,
        step_size=step_size,
        n_backoffs=n_backoffs,
        converged=converged,
    )


def _run_epoch(
    X,
    Y,
    kernel,
    rng,
    coef,
    coef_compute,
    *,
    batch_size,
    step_size,
    alpha,
    preconditioner,
    block_rows,
    blowup_threshold,
):
    """One pass over the data in random batches; updates coef in place.

    Returns the mean squared (ridge-shifted) residual measured before each batch's
    update, or inf as soon as one batch blows up.
    """
    n_samples = X.shape[0]
    order = rng.permutation(n_samples)
    squared_error = 0.0
    # Every batch scales its residuals by eta / m, the short last one too: the optimal
    # eta(m) / m does not grow as m shrinks, so this is safe for it.
    scale = step_size / batch_size
    for batch in gen_batches(n_samples, batch_size):
        batch = order[batch]
        residual, correction, batch_error = _batch_residual(
            X,
            Y,
            kernel,
            coef,
            coef_compute,
            batch,
            alpha=alpha,
            preconditioner=preconditioner,
            block_rows=block_rows,
        )
        if not batch_error <= blowup_threshold:  # also catches NaN
            return np.inf
        squared_error += batch_error
        coef[batch] -= scale * residual
        coef_compute[batch] = coef[batch]
        if correction is not None:
            subsample = preconditioner.subsample
            coef[subsample] += scale * correction
            coef_compute[subsample] = coef[subsample]
    return squared_error / n_samples


def _batch_residual(
    X, Y, kernel, coef, coef_compute, batch, *, alpha, preconditioner, block_rows
):
    """Residual g of a batch, its EigenPro correction, and its squared norm.

    The batch is evaluated in blocks of at most ``block_rows`` kernel rows, all against
    the coefficients as they stood before the batch.
    """
    residual = np.empty((len(batch), Y.shape[1]))
    projected = None
    if preconditioner is not None:
        projected = np.zeros((len(preconditioner.subsample), Y.shape[1]))
    for rows in gen_batches(len(batch), block_rows):
        block_index = batch[rows]
        block = kernel(X[block_index], X)
        residual[rows] = block @ coef_compute
        residual[rows] -= Y[block_index]
        if alpha:
            residual[rows] += alpha * coef[block_index]
        if preconditioner is not None:
            # K(X_S, X_B) g, read off the block already computed (S is part of X).
            block_subsample = block[:, preconditioner.subsample]
            projected += block_subsample.T.astype(np.float64) @ residual[rows]
    batch_error = float(np.einsum("ij,ij->", residual, residual))
    correction = None
    if preconditioner is not None:
        U = preconditioner.eigvecs
        correction = U @ (preconditioner.scale[:, np.newaxis] * (U.T @ projected))
        correction /= len(preconditioner.subsample)
    return residual, correction, batch_error


def mean_squared_residual(X, Y, kernel, coef, coef_compute, *, alpha, block_rows):
    """Exact ``(1/n) sum_i ||K[i, :] coef + alpha coef_i - y_i||^2``, in blocks.

    The quantity ``convergence_curve`` estimates: the training error when alpha = 0.
    """
    squared_error = 0.0
    for rows in gen_batches(X.shape[0], block_rows):
        residual = kernel(X[rows], X) @ coef_compute - Y[rows] + alpha * coef[rows]
        squared_error += float(np.einsum("ij,ij->", residual, residual))
    return squared_error / X.shape[0]
