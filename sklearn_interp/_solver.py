"""Mini-batch SGD for kernel machines in the interpolation regime.

The pure loop: :func:`run_sgd` takes an evaluator (:class:`sklearn_interp._evaluator.
Evaluator`: the training points and their coefficients, here or on a cluster), an RNG and
keyword-only settings, and returns an :class:`SGDResult`. Nothing here touches
an estimator, global state or a kernel block, and nothing here imports the rest of the
package; :func:`sklearn_interp._points.sgd_fit` runs it on arrays.

The package calls the loop only as the module attribute ``_solver.run_sgd``: that is
the seam where benchmarks and tests observe or replace it (``mock.patch.object(
sklearn_interp._solver, "run_sgd", ...)``), wherever the fit recipe lives.

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

import itertools
import time
from dataclasses import dataclass

import numpy as np
from sklearn.utils import gen_batches

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

# A residual within this many units of rounding of the compute precision, relative to the
# targets (the zero function's residual), counts as converged whatever tol says: below
# it the residual's ups and downs are rounding noise, not divergence. At 20 points an rbf
# fit bottoms out at a relative residual of about 40 eps in float64 and below 100 eps in
# float32 (tests/test_solver.py reaches 1e-5).
ROUNDING_FLOOR_FACTOR = 100.0

# An epoch ends a stall when the best residual of the last STALL_WINDOW epochs is not
# STALL_GAIN below the best one before them, and at least one of them did not fall
# (the step has not changed within the window). A consistent system's residual falls
# geometrically, by far more, and a slow one (a tiny eigenvalue left) still falls every
# epoch: a smaller step would only slow it. One that hovers, up and down or flat, is
# SGD's noise around a least-squares solution that does not interpolate (duplicate
# points with different targets, a singular kernel matrix), whose radius shrinks with
# the step. The step is then halved, at most MAX_STALLS times.
STALL_WINDOW = 5
STALL_GAIN = 0.01
MAX_STALLS = 10


@dataclass
class SGDResult:
    """What :func:`run_sgd` returns: the fit's record, and its state for a fit that
    goes on from it (``history``).

    Attributes
    ----------
    convergence_curve : ndarray
        The mean squared residual before the first epoch and after each one.
    n_iter : int
        Epochs run.
    step_size : float
        The step at the end (after any back-offs and stalls).
    n_backoffs, n_stalls : int
        Step halvings on divergence and on stalls.
    converged, stopped, stalled : bool
        Ended at tol (or at rounding level), by the monitor, or after MAX_STALLS.
    best_error : float
        The lowest residual of a good epoch.
    n_rises : int
        Epochs in a row whose residual rose (the creep rule).
    last_step_change : int
        The epoch of the last change of step (the stall rule's window).
    """

    convergence_curve: np.ndarray
    n_iter: int
    step_size: float
    n_backoffs: int
    n_stalls: int
    converged: bool
    stopped: bool
    stalled: bool
    best_error: float
    n_rises: int
    last_step_change: int


def run_sgd(
    evaluator,
    rng,
    *,
    batch_size,
    step_size,
    preconditioner,
    max_iter,
    tol,
    verbose,
    monitor=None,
    history=None,
    compute_dtype=np.float64,
):
    """The epochs of :func:`sgd_fit` over any evaluator, with the divergence and stall
    safeguards.

    One loop serves every backend: the evaluator holds the data and the coefficients
    (in this process, or sharded over a cluster) and computes residuals and applies
    updates; this function draws the batches, computes the updates, and decides when
    to stop or back off:

    * converged: the epoch's residual is at most ``tol`` times the zero function's, or
      at most :func:`rounding_floor` (so ``tol=0`` stops at float's floor instead of
      reading rounding noise as divergence);
    * diverged: the residual is not finite, rises by ERROR_RISE_FACTOR over the best
      one, or creeps up MAX_CONSECUTIVE_RISES epochs in a row, above the rounding
      floor: the step is halved and the last good coefficients restored (a
      back-off); after MAX_BACKOFFS of them the run gives up;
    * stalled: after STALL_WINDOW epochs at one step size, their best residual is not
      STALL_GAIN below the best before them and one of them did not fall (a system
      without an exact solution, where SGD hovers around the least-squares one): the
      step is halved and the run goes on from the current coefficients; after
      MAX_STALLS stalls it stops.

    Parameters
    ----------
    evaluator : Evaluator
        Holds ``n_samples`` points in the solver's order (the subsample, if any, first)
        and their coefficients (:class:`sklearn_interp._evaluator.Evaluator`).
    rng : numpy.random.RandomState
        Draws one permutation of the points per epoch.
    batch_size, step_size, preconditioner, max_iter, tol, verbose
        As in :func:`sgd_fit`.
    monitor : callable or None, default=None
        ``monitor(epoch, evaluator) -> bool``, called after every epoch that did not
        diverge; True stops the fit (early stopping on held-out data, callbacks).
    history : SGDResult or None, default=None
        The result of an earlier run on the same evaluator's points whose coefficients
        the evaluator starts from (warm start): its curve, safeguard state and step
        size carry on, so the run continues where that one stopped.
    compute_dtype : numpy.dtype, default=np.float64
        Precision of the kernel blocks, which sets the rounding floor.

    Returns
    -------
    result : SGDResult
        Its ``convergence_curve`` has ``n_iter + 1`` values: index 0 is the residual of
        the zero function, ``mean_i ||y_i||^2``; index t the mean over the epoch's
        batches of ``||K[B, :] coef + alpha coef_B - y_B||^2`` measured just before
        each batch's update, so the curve costs no extra pass over the data (for alpha
        = 0 it is the training error); ``n_iter`` counts back-offs. The coefficients
        stay with the evaluator.
    """
    n_samples = evaluator.n_samples
    if history is None:
        curve = [evaluator.initial_error()]
        best_error, n_backoffs, n_rises = curve[0], 0, 0
        n_stalls, last_step_change = 0, 0
    else:
        curve = list(history.convergence_curve)
        best_error, n_backoffs, n_rises = (
            history.best_error,
            history.n_backoffs,
            history.n_rises,
        )
        n_stalls, last_step_change = history.n_stalls, history.last_step_change
        step_size = history.step_size
    first_epoch = len(curve)
    floor = rounding_floor(curve[0], compute_dtype)
    target = max(tol * curve[0], floor)
    converged = curve[-1] <= target
    stopped = stalled = False
    evaluator.snapshot()

    for epoch in range(first_epoch, first_epoch + max_iter):
        if converged or stopped or stalled:
            break
        start = time.perf_counter()
        error = _run_epoch(
            evaluator,
            rng,
            batch_size=batch_size,
            step_size=step_size,
            preconditioner=preconditioner,
            blowup_threshold=BATCH_BLOWUP_FACTOR * n_samples * max(best_error, floor),
        )
        n_rises = n_rises + 1 if error > curve[-1] else 0
        creeping = (
            n_rises >= MAX_CONSECUTIVE_RISES
            and error > CREEP_FACTOR * curve[-MAX_CONSECUTIVE_RISES]
        )
        diverged = not np.isfinite(error) or (
            error > floor and (error > ERROR_RISE_FACTOR * best_error or creeping)
        )
        note = ""
        if diverged:
            n_rises = 0
            evaluator.restore()
            step_size *= STEP_SIZE_BACKOFF
            n_backoffs += 1
            last_step_change = epoch
            # The curve's values are averages over epochs while the coefficients
            # moved; the restored ones get their exact residual (one pass, only on
            # this rare path), so the next epoch is judged against what it starts
            # from.
            error = best_error = evaluator.mean_squared_residual()
            note = " (diverged: step size halved, last good coefficients restored)"
        else:
            best_error = min(best_error, error)
            evaluator.snapshot()
        curve.append(error)
        converged = error <= target
        if not (diverged or converged) and _stalls(curve, last_step_change):
            if n_stalls >= MAX_STALLS:
                stalled = True
                note = " (stalled: stopping)"
            else:
                n_stalls += 1
                step_size *= STEP_SIZE_BACKOFF
                last_step_change = epoch
                note = " (stalled: step size halved)"
        if verbose:
            print(
                f"epoch {epoch}: mean squared residual {error:.6g} "
                f"(relative {error / curve[0] if curve[0] else 0.0:.3g}), "
                f"step size {step_size:.6g}{note}, "
                f"{time.perf_counter() - start:.3g} s"
            )
        if n_backoffs > MAX_BACKOFFS:
            break
        if monitor is not None and not diverged:
            stopped = bool(monitor(epoch, evaluator))

    return SGDResult(
        convergence_curve=np.asarray(curve),
        n_iter=len(curve) - 1,
        step_size=step_size,
        n_backoffs=n_backoffs,
        n_stalls=n_stalls,
        converged=converged,
        stopped=stopped,
        stalled=stalled,
        best_error=best_error,
        n_rises=n_rises,
        last_step_change=last_step_change,
    )


def rounding_floor(initial_error, compute_dtype):
    """Mean squared residual at rounding level: ``(ROUNDING_FLOOR_FACTOR * eps)^2``
    times the zero function's, eps that of the compute precision.

    A residual of rounding size relative to the targets carries no more information:
    it is where ``tol=0`` stops, and rises below it are not divergence.
    """
    eps = np.finfo(compute_dtype).eps
    return (ROUNDING_FLOOR_FACTOR * eps) ** 2 * initial_error


def _stalls(curve, last_step_change):
    """Whether the last STALL_WINDOW epochs, all at the current step size, failed to
    lower the best residual before them by STALL_GAIN, and did not all fall.

    ``curve`` holds the zero function's residual at index 0 and epoch t's at index t;
    ``last_step_change`` is the epoch whose end last changed the step (0: none).
    """
    epochs = len(curve) - 1
    if epochs - last_step_change < STALL_WINDOW:
        return False
    recent = min(curve[-STALL_WINDOW:])
    before = min(curve[:-STALL_WINDOW])
    window = curve[-STALL_WINDOW - 1 :]
    hovering = any(later >= earlier for earlier, later in itertools.pairwise(window))
    return hovering and recent > (1.0 - STALL_GAIN) * before


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
        evaluator.update(batch, -scale * residual, subsample_delta, scale=scale)
    evaluator.end_epoch()
    return squared_error / n_samples
