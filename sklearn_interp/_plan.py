"""Resolve the "auto" settings of a fit: subsample, q, preconditioner, m*, batch and step.

One function, :func:`plan_fit`, that turns the training points (with their kernel) and the
user's settings into the numbers the solver runs with, using the closed-form rules of
:mod:`sklearn_interp._spectrum` and the memory budget. It works on the one surface of
:mod:`sklearn_interp._points`, whether the points are here or on a cluster.
"""

import math
from dataclasses import dataclass

import numpy as np
from sklearn.utils import Bunch

from ._kernel import memory_budget
from ._spectrum import (
    MAX_AUTO_COMPONENTS,
    RESOLUTION_FACTOR,
    choose_n_components,
    critical_batch_size,
    eigenpro_preconditioner,
    optimal_step_size,
    subsample_eigenpairs,
)

# Automatic subsample size s (EigenPro 2.0 uses 2000 below 100k points): K_SS with its
# eigendecomposition costs about 100 MB and half a second on two cores.
DEFAULT_SUBSAMPLE_SIZE = 2000

# Margin of the smallest trusted eigenvalue above rounding (see numerical_floor); float32
# fits on digits converge without back-offs at this margin and stall at 100 times it.
NUMERICAL_FLOOR_FACTOR = 10.0

# Arrays of size s x s alive while the subsample is eigendecomposed: K_SS, its symmetrized
# copy and LAPACK's workspace.
SUBSAMPLE_GRAM_COPIES = 3


@dataclass(frozen=True)
class Plan:
    """The numbers a fit runs with (:func:`plan_fit`); the estimator exposes them as
    fitted attributes.

    Attributes
    ----------
    beta, top_eigenvalue : float
        beta and lambda_1 of ``K + alpha I``, the latter divided by n.
    eigenvalues : ndarray
        The subsample eigenvalues of ``K / n``.
    preconditioned_beta, preconditioned_top_eigenvalue : float
        beta and the top eigenvalue of the operator iterated (after the EigenPro
        flattening, if any).
    critical_batch_size : float
        m* of the operator iterated.
    batch_size : int
    step_size : float
    n_components : int
        q, the directions the preconditioner flattens (0: plain SGD).
    subsample_size : int
    preconditioner : Bunch or None
        From :func:`sklearn_interp._spectrum.eigenpro_preconditioner`.
    """

    beta: float
    top_eigenvalue: float
    eigenvalues: np.ndarray
    preconditioned_beta: float
    preconditioned_top_eigenvalue: float
    critical_batch_size: float
    batch_size: int
    step_size: float
    n_components: int
    subsample_size: int
    preconditioner: object


def plan_fit(points, rng, *, n_components, subsample_size, batch_size, step_size, alpha):
    """Resolve every "auto" setting of a fit, in named steps.

    1. beta = max_i k(x_i, x_i), which must be positive (:func:`_positive_beta`);
    2. the subsample S and the top eigenpairs of ``K_SS / s``
       (:func:`_subsample_spectrum`);
    3. q, the number of directions to flatten (:func:`_n_components`);
    4. the EigenPro preconditioner and the beta and lambda_1 of the operator it
       iterates (:func:`_preconditioned_operator`);
    5. m* of that operator, then the batch and step size (:func:`_batch_and_step`);
       an operator whose lambda_1 equals its beta up to rounding (every kernel entry
       equal) gets the step that solves its one direction exactly.

    Parameters
    ----------
    points : LocalPoints or ShardedPoints
        The training points (:mod:`sklearn_interp._points`), with their kernel and
        its precision. Sharded points compute their diagonal and beta_P on the
        shards, gather the subsample here, and bound the batch by the largest shard's
        kernel block rather than a block against all n points.
    rng : numpy.random.RandomState
        Draws the subsample.
    n_components, subsample_size, batch_size : int or "auto"
    step_size : float or "auto"
    alpha : float
        Ridge term.

    Returns
    -------
    plan : Plan
    """
    n_samples = points.n_samples
    budget = memory_budget()
    beta = _positive_beta(points)
    subsample, X_subsample, eigvals, eigvecs = _subsample_spectrum(
        points, rng, subsample_size=subsample_size, n_components=n_components, budget=budget
    )
    q = _n_components(
        n_components,
        eigvals,
        beta=beta,
        alpha=alpha,
        n_samples=n_samples,
        subsample_size=len(subsample),
        dtype=points.dtype,
    )
    operator = _preconditioned_operator(
        points,
        subsample,
        X_subsample,
        eigvals=eigvals,
        eigvecs=eigvecs,
        n_components=q,
        beta=beta,
        alpha=alpha,
    )
    m_star = critical_batch_size(operator.preconditioned_beta, operator.preconditioned_top)
    rank_one = operator.preconditioned_beta - operator.preconditioned_top <= (
        numerical_floor(operator.preconditioned_beta, len(subsample), points.dtype)
    )
    batch_size, step_size = _batch_and_step(
        batch_size,
        step_size,
        m_star=m_star,
        beta=operator.preconditioned_beta,
        top_eigenvalue=operator.preconditioned_top,
        block_rows=points.block_rows,
        n_samples=n_samples,
        rank_one=rank_one,
    )
    return Plan(
        beta=float(beta + alpha),
        top_eigenvalue=float(max(eigvals[0], beta / n_samples) + alpha / n_samples),
        eigenvalues=eigvals,
        preconditioned_beta=float(operator.preconditioned_beta),
        preconditioned_top_eigenvalue=float(operator.preconditioned_top),
        critical_batch_size=float(m_star),
        batch_size=int(batch_size),
        step_size=float(step_size),
        n_components=operator.n_components,
        subsample_size=len(subsample),
        preconditioner=operator.preconditioner,
    )


def fold_in_step_size(plan, points, X_subsample, *, alpha):
    """The automatic step of the plan's batch over ``points``, more rows than the plan
    was made on (the fold-in of early stopping's held-out rows).

    The step depends on beta of the operator iterated, a maximum over the rows, which
    new rows can raise: most of all when the subsample was every planned row, whose
    reduced diagonal ``k(x, x) - ...`` the preconditioner then takes to nearly zero,
    while a new row keeps most of its ``k(x, x)``. ``X_subsample`` holds the
    preconditioner's subsample rows; the top eigenvalue is the plan's.
    """
    preconditioner = plan.preconditioner
    if preconditioner is None:
        beta = points.diagonal_max()
    else:
        beta = points.reduced_diagonal_max(
            X_subsample, preconditioner.eigvecs, preconditioner.scale
        )
    beta = max(beta + alpha, plan.preconditioned_beta)
    top = max(plan.preconditioned_top_eigenvalue, beta / points.n_samples)
    return optimal_step_size(plan.batch_size, beta, top)


def _positive_beta(points):
    """beta = max_i k(x_i, x_i), or a ValueError if it is not positive."""
    beta = points.diagonal_max()
    if not beta > 0:
        raise ValueError(
            f"The kernel's largest diagonal value max_i k(x_i, x_i) is {beta:.6g} on the "
            "training data; SGD needs it positive (its step size is 1 / beta). Use a "
            "positive definite kernel such as 'rbf', 'laplacian' or 'polynomial'."
        )
    return beta


def _subsample_spectrum(points, rng, *, subsample_size, n_components, budget):
    """Draw the subsample S and eigendecompose ``K_SS / s``.

    Returns the subsample's indices and rows, and its top eigenpairs: q + 1 of them for
    a user's q, MAX_AUTO_COMPONENTS + 1 for the automatic q, as many as the budget
    holds (the eigenvectors are s x (q + 1) float64).

    A float32 fit eigendecomposes in float32, in half the time, only for the automatic
    q of a true subsample: float32 eigenvalues are accurate far above the resolution
    floor the automatic q keeps, but the eigenvectors of the smallest ones are noise.
    A subsample that is the whole training set (no resolution floor) or a user's q
    needs the spectrum down to the numerical floor, hence float64.

    Points with ``uncapped_components`` (the model centers of
    :mod:`sklearn_interp._centers`, whose subsample is the centers) get every
    eigenpair for the automatic q, not MAX_AUTO_COMPONENTS + 1: the automatic q is
    then bounded by the resolution floor alone. There the preconditioner's O(s q) cost
    per step is small next to the centers' own, and the SGD iterates the Nystrom
    features, whose covariance on the centers is what ``K_SS / s`` gives. Measured on
    100,000 rows of classification40_noisy (defaults, early stopping): 2,000 centers
    scored 0.763 with q = 512 and 0.799 with q = 1,960 to 1,999, in less time; on 600
    rows and 100 centers, flattening all 99 directions (below the resolution floor)
    made the first epochs overshoot and early stopping end at 0.71, against 0.88 with
    q = 50.
    """
    n_samples = points.n_samples
    # Model centers (sklearn_interp._centers) take S among their first points.
    candidates = getattr(points, "subsample_candidates", n_samples)
    uncapped = getattr(points, "uncapped_components", False)
    s = _subsample_size(subsample_size, candidates, budget, whole=uncapped)
    subsample = rng.choice(candidates, size=s, replace=False)
    X_subsample = points.take(subsample)[0]
    most = s if uncapped else MAX_AUTO_COMPONENTS + 1
    n_eigenpairs = min(
        s,
        most if n_components == "auto" else n_components + 1,
        max(1, int(budget // (8 * s))),
    )
    resolved = n_components == "auto" and s < n_samples
    kernel = points.kernel if resolved else points.kernel.astype(np.float64)
    eigvals, eigvecs = subsample_eigenpairs(kernel, X_subsample, n_eigenpairs)
    return subsample, X_subsample, eigvals, eigvecs


def _n_components(n_components, eigvals, *, beta, alpha, n_samples, subsample_size, dtype):
    """q: the user's, or the automatic one, never past the trusted eigenvalues.

    Rounding leaves eigenvalues below :func:`numerical_floor` meaningless, whoever
    chose q; the automatic q also stays above what the subsample resolves (a subsample
    that is the whole training set gives exact eigenvalues) and above alpha / n, below
    which the ridge term already conditions the problem.
    """
    floor = numerical_floor(eigvals[0], subsample_size, dtype)
    if n_components != "auto":
        return min(n_components, choose_n_components(eigvals, floor))
    floor = max(
        floor,
        0.0 if subsample_size == n_samples else RESOLUTION_FACTOR * beta / subsample_size,
        alpha / n_samples,
    )
    return choose_n_components(eigvals, floor)


def _preconditioned_operator(
    points, subsample, X_subsample, *, eigvals, eigvecs, n_components, beta, alpha
):
    """The EigenPro preconditioner (or None) and the beta and lambda_1 it leaves.

    The ridge term adds alpha to beta and alpha / n to every eigenvalue of
    (K + alpha I)/n. The top eigenvalue of an operator over n points is at least its
    beta / n (its largest diagonal entry over n): a floor against a subsample that
    misses it.
    """
    n_samples = points.n_samples
    shift = alpha / n_samples
    preconditioner, q = None, n_components
    preconditioned_beta, preconditioned_top = beta, eigvals[0] + shift
    if q > 0:
        preconditioner = eigenpro_preconditioner(
            points,
            subsample,
            eigvals=eigvals,
            eigvecs=eigvecs,
            n_components=q,
            shift=shift,
            X_subsample=X_subsample,
        )
        if preconditioner.beta > 0:
            preconditioned_beta = preconditioner.beta
            preconditioned_top = preconditioner.top_eigenvalue
        else:
            # An indefinite kernel (sigmoid, say) can leave no positive beta_P: the
            # flattening does not apply, and the fit runs plain SGD.
            preconditioner, q = None, 0
    preconditioned_top = max(preconditioned_top, preconditioned_beta / n_samples + shift)
    return Bunch(
        preconditioner=preconditioner,
        n_components=q,
        preconditioned_beta=preconditioned_beta + alpha,
        preconditioned_top=preconditioned_top,
    )


def _batch_and_step(
    batch_size,
    step_size,
    *,
    m_star,
    beta,
    top_eigenvalue,
    block_rows,
    n_samples,
    rank_one=False,
):
    """The automatic batch is m*, at most the memory budget's block and n; a user's
    batch is clipped to n. The automatic step is the optimal one for the batch
    (:func:`~sklearn_interp._spectrum.optimal_step_size`).

    ``rank_one``: lambda_1 = beta up to rounding, so (K + alpha I)/n is ``beta`` times
    the all-ones matrix over n (one distinct training point, gamma=0, a degree-0
    polynomial; alpha = 0). Every prediction is then one number c, and a step on a
    batch B moves it to ``c - eta beta (c - mean(y_B))``: the theory's steps (m* = 2,
    eta = 2 / beta) reflect it about the batch mean, while ``eta = 1 / beta`` sets it
    to the batch mean, for any batch. So the automatic step is ``1 / beta``, and the
    automatic batch the largest block, whose mean is the least-squares value (the mean
    of y when the batch is all of it). The step is safe whatever the spectrum: a
    batch's residual is multiplied by ``I - K_BB / (m beta)``, whose eigenvalues lie
    in [0, 1].
    """
    if batch_size == "auto":
        largest = n_samples if rank_one else math.floor(m_star)
        batch_size = max(1, min(largest, block_rows, n_samples))
    else:
        batch_size = min(batch_size, n_samples)
    if step_size == "auto":
        if rank_one:
            step_size = 1.0 / beta
        else:
            step_size = optimal_step_size(batch_size, beta, top_eigenvalue)
    return batch_size, step_size


def numerical_floor(top_eigenvalue, subsample_size, compute_dtype):
    """Smallest tail eigenvalue that rounding leaves meaningful.

    A backward-stable symmetric eigensolver gets the eigenvalues of the s x s matrix to
    about ``s * eps * lambda_1`` in float64. In float32 the kernel blocks and the
    eigensolver carry a relative error of about float32's eps, which the
    preconditioner's ``1 / lambda_i`` scaling amplifies: on the digits-like benchmark
    data (s = 2000) the float32 eigensolver's top 513 eigenvalues were off by at most
    2.7 eps lambda_1 against float64 (a floor at the worst-case bound ``s * eps``
    would cut the automatic q there from 115 to 22). NUMERICAL_FLOOR_FACTOR keeps a
    margin above both. The float32 eigensolver's eigenvectors are not accurate down to
    this floor, so :func:`plan_fit` uses it only above the resolution floor.
    """
    relative = max(subsample_size * np.finfo(np.float64).eps, np.finfo(compute_dtype).eps)
    return NUMERICAL_FLOOR_FACTOR * relative * top_eigenvalue


def _subsample_size(subsample_size, n_samples, budget, whole=False):
    """s: the user's value or DEFAULT_SUBSAMPLE_SIZE, at most n and within the budget.

    ``whole`` (model centers, whose ``n_samples`` here is p): the automatic s is every
    center the budget holds. With S the centers themselves, the eigenpairs of
    ``K_SS / s`` are the Nystrom features' covariance on them, and flattening all of
    it stays stable: at 100,000 rows and 4,000 centers, s = 4,000 fitted in 7 epochs
    with no back-off (0.815), s = 2,000 in 13 epochs with 2 back-offs (0.814).
    """
    s_max = math.isqrt(int(budget // (8 * SUBSAMPLE_GRAM_COPIES)))
    if subsample_size == "auto":
        default = n_samples if whole else DEFAULT_SUBSAMPLE_SIZE
        return max(1, min(n_samples, default, s_max))
    s = min(subsample_size, n_samples)
    if s > s_max:
        raise ValueError(
            f"subsample_size={subsample_size} needs a {s} x {s} kernel matrix of "
            f"{s * s * 8 * SUBSAMPLE_GRAM_COPIES / 2**20:.3g} MiB with its "
            f"eigendecomposition, more than the memory budget of {budget / 2**20:.3g} "
            "MiB; lower subsample_size or raise sklearn.set_config(working_memory=...)."
        )
    return s
