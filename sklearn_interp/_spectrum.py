"""Closed-form rules of Ma, Bassily and Belkin (2018) and the EigenPro preconditioner.

Notation (``DESIGN.md``): n training points, kernel matrix K (never formed), ``lambda_1``
the top eigenvalue of the covariance operator K/n, ``beta = max_i k(x_i, x_i)``.
For the loss (1/2n) sum_i ||f(x_i) - y_i||^2 the mini-batch SGD step on a batch B of size m
is ``alpha_B <- alpha_B - (eta / m) (K[B, :] alpha - y_B)``, and [1]_ gives

* the critical batch size ``m* = beta / lambda_1 + 1`` (:func:`critical_batch_size`);
* the optimal step size ``eta*(m) = m / beta`` for m <= m* (linear scaling) and
  ``2 m / (beta + (m - 1) lambda_1)`` beyond it (saturation), the smaller of the two
  with the second damped, so that no batch size sits on the stability edge
  (:func:`optimal_step_size`).

EigenPro [2]_ [3]_ flattens the top q eigen-directions of K/n, estimated on a subsample,
so that the operator actually iterated has the much smaller top eigenvalue
``lambda_{q+1}`` and hence a much larger m* (:func:`eigenpro_preconditioner`).

References
----------
.. [1] S. Ma, R. Bassily, M. Belkin, "The Power of Interpolation: Understanding the
   Effectiveness of SGD in Modern Over-parametrized Learning", ICML 2018.
.. [2] S. Ma, M. Belkin, "Diving into the shallows: a computational perspective on
   large-scale shallow learning", NeurIPS 2017.
.. [3] S. Ma, M. Belkin, "Kernel machines that adapt to GPUs for effective large batch
   training", MLSys 2019.
"""

import numpy as np
import scipy.linalg
from sklearn.utils import Bunch, gen_batches

from ._parallel import map_row_chunks

# The saturation-regime step 2m / (beta + (m - 1) lambda_1) sits on the stability edge
# (1.5 times it diverges), and so does m / beta at m = m*; DESIGN.md asks for a damping
# of 0.99 or less.
SATURATION_DAMPING = 0.99

# EigenPro raises the subsample eigenvalue ratios lambda_{q+1} / lambda_i to this power
# (EigenPro 2.0 uses 0.95): tail eigenvalues from a subsample are noisy, and an
# under-damped direction is cheaper than a diverging one.
EIGENVALUE_RATIO_POWER = 0.95

# The automatic q never takes a tail eigenvalue below RESOLUTION_FACTOR * beta / s, which
# bounds m* by about s / RESOLUTION_FACTOR. Eigenvalues of K_SS / s near beta / s are
# finite-sample noise, but the preconditioner only needs their directions roughly right:
# measured on the benchmark data (s = 2000, n = 20000), the first step-size back-off
# appears at a factor of 0.005, and a factor of 5 (EigenPro 2.0's batch bound of s / 5)
# leaves four times more epochs on the table than 0.1, which keeps a margin of 20.
RESOLUTION_FACTOR = 0.1

# The automatic q is searched among at most this many top eigenpairs of the subsample;
# the preconditioner costs O(s q) per step and O(s q) memory.
MAX_AUTO_COMPONENTS = 512

# The scan for beta_P bounds every row's reduced diagonal with the top SCAN_COMPONENTS
# eigenvectors, then computes the exact value only where the bound can be the maximum
# (:func:`reduced_diagonal_max`). On 40-feature, 10-class data (n = 20,000, s = 2,000,
# q = 512) the bound over 64 components was within 1% (class_sep 1) and 3% (class_sep
# 2) of the exact beta_P, so few rows reach the second pass.
SCAN_COMPONENTS = 64
# Rows per block of that second pass: small, so that it stops soon after the maximum.
EXACT_SCAN_ROWS = 256


def critical_batch_size(beta, top_eigenvalue):
    """Critical batch size ``m* = beta / lambda_1 + 1`` of [1]_ (Theorem 4).

    This is the exact form ``beta / (lambda_1 - lambda_n) + 1`` with ``lambda_n ~ 0``,
    the regime of interpolating kernel machines.

    Parameters
    ----------
    beta : float
        ``max_i k(x_i, x_i)`` of the operator iterated (> 0).
    top_eigenvalue : float
        Top eigenvalue ``lambda_1`` of that operator divided by n (> 0).

    Returns
    -------
    m_star : float
        At least 1, since ``lambda_1 <= beta``.

    Examples
    --------
    >>> from sklearn_interp._spectrum import critical_batch_size
    >>> critical_batch_size(beta=1.0, top_eigenvalue=0.25)
    5.0
    """
    return beta / top_eigenvalue + 1.0


def optimal_step_size(batch_size, beta, top_eigenvalue):
    """Step size ``eta(m)`` for a batch of ``m = batch_size``, after [1]_, never on the
    stability edge.

    ``eta`` multiplies the batch-mean gradient, so each residual of the batch is scaled
    by ``eta / m``. [1]_ gives the optimal step ``m / beta`` for m <= m* (linear
    scaling; for m = 1 this is ``1 / beta``, randomized Kaczmarz) and
    ``2 m / (beta + (m - 1) lambda_1)`` for m > m* (saturation). The second is the edge
    of stability, and at ``m = m*`` both equal ``m* / beta``, so the linear-scaling step
    is on the edge there too. This function returns the smaller of the two, the second
    damped::

        eta(m) = min(m / beta, SATURATION_DAMPING * 2 m / (beta + (m - 1) lambda_1))

    which is ``m / beta`` for ``m <= 0.98 (m* - 1) + 1`` and the damped saturation step
    from there on, including at and just below m*. No comparison with m* decides the
    branch, so rounding cannot put the step on the edge: with ``lambda_1 = beta`` (a
    kernel matrix whose entries are all equal, where m* = 2 and the undamped step
    reflects the residual, batch after batch, for ever), rounding gives ``lambda_1 =
    0.9999999999999999`` for beta = 1 and m* a hair above 2.

    Parameters
    ----------
    batch_size : int
    beta : float
    top_eigenvalue : float

    Returns
    -------
    step_size : float

    Examples
    --------
    >>> from sklearn_interp._spectrum import optimal_step_size
    >>> optimal_step_size(1, beta=2.0, top_eigenvalue=0.5)
    0.5
    >>> round(optimal_step_size(11, beta=1.0, top_eigenvalue=0.5), 6)  # m* = 3
    3.63
    >>> optimal_step_size(2, beta=1.0, top_eigenvalue=1.0)  # m = m* = 2: damped
    1.98
    """
    linear = batch_size / beta
    saturation = 2.0 * batch_size / (beta + (batch_size - 1) * top_eigenvalue)
    return min(linear, SATURATION_DAMPING * saturation)


def subsample_eigenpairs(kernel, X_subsample, n_eigenpairs):
    """Top eigenpairs of ``K_SS / s`` on a subsample of ``s`` points.

    ``K_SS / s`` is the Nystrom estimate of the covariance operator K/n; its top
    eigenvalues converge quickly in s and do not grow with n ([1]_, [2]_).

    Parameters
    ----------
    kernel : callable
        Block kernel.
    X_subsample : ndarray of shape (s, n_features)
    n_eigenpairs : int
        How many top eigenpairs to return (at most s).

    Returns
    -------
    eigvals : ndarray of shape (n_eigenpairs,)
        In decreasing order, clipped at 0 (an indefinite kernel can give negative ones).
    eigvecs : ndarray of shape (s, n_eigenpairs)
        Orthonormal columns.
    """
    s = X_subsample.shape[0]
    gram = np.asarray(kernel(X_subsample, X_subsample))
    if gram.dtype != np.float32:
        gram = gram.astype(np.float64, copy=False)
    gram = (gram + gram.T) / (2.0 * s)
    n_eigenpairs = min(n_eigenpairs, s)
    if n_eigenpairs == s:
        # Every eigenpair (the model centers' automatic q): the divide-and-conquer
        # driver, 1.7x faster than the subset one here (s = 4,000, float32, 2 cores:
        # 3.5 s against 5.9 s).
        eigvals, eigvecs = scipy.linalg.eigh(gram, driver="evd")
    else:
        eigvals, eigvecs = scipy.linalg.eigh(
            gram, subset_by_index=[s - n_eigenpairs, s - 1]
        )
    if len(eigvals) < n_eigenpairs:
        # LAPACK's subset driver can return fewer eigenpairs than asked on a
        # multiple eigenvalue (K_SS = I, a laplacian kernel on far-apart points, gave
        # none): the whole decomposition then.
        eigvals, eigvecs = scipy.linalg.eigh(gram)
        eigvals, eigvecs = eigvals[s - n_eigenpairs :], eigvecs[:, s - n_eigenpairs :]
    eigvals = np.maximum(eigvals[::-1].astype(np.float64), 0.0)
    return eigvals, np.ascontiguousarray(eigvecs[:, ::-1], dtype=np.float64)


def damped_top_eigenvalue(eigvals, n_components, shift=0.0):
    """Top eigenvalue of K/n after flattening the top ``n_components`` directions.

    Flattening direction i multiplies its eigenvalue by
    ``(lambda_{q+1} / lambda_i) ** EIGENVALUE_RATIO_POWER``; with the damping power
    below 1 the largest result is the first one,
    ``lambda_1 ** (1 - p) * lambda_{q+1} ** p``, slightly above ``lambda_{q+1}``.
    With ``n_components = 0`` this is ``lambda_1``. A ridge term adds ``shift = alpha / n``
    to every eigenvalue, and the flattening then targets the shifted tail
    ``lambda_{q+1} + shift``.
    """
    shifted = np.asarray(eigvals) + shift
    if n_components == 0:
        return shifted[0]
    ratio = shifted[n_components] / shifted[0]
    return shifted[0] * ratio**EIGENVALUE_RATIO_POWER


def choose_n_components(eigvals, resolution_floor):
    """Largest q whose tail eigenvalue ``lambda_{q+1}`` the subsample resolves.

    In the linear-scaling regime an epoch shrinks the error along eigen-direction i by
    about ``exp(-n lambda_i / beta_P)``, whatever the batch size, so flattening more
    directions (a smaller beta_P, a larger m*) keeps paying, as long as the tail
    eigenvalue that sets the new scale is trustworthy: ``lambda_{q+1} >=
    resolution_floor`` and positive.

    Parameters
    ----------
    eigvals : ndarray
        Top eigenvalues of ``K_SS / s``, decreasing.
    resolution_floor : float
        Smallest tail eigenvalue to trust: ``RESOLUTION_FACTOR * beta / s`` for a true
        subsample, 0 when the subsample is the whole training set (exact eigenvalues).

    Returns
    -------
    n_components : int
        q in ``[0, len(eigvals) - 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_interp._spectrum import choose_n_components
    >>> choose_n_components(np.array([1.0, 0.1, 0.01, 0.001]), resolution_floor=0.005)
    2
    """
    trusted = (eigvals[1:] >= resolution_floor) & (eigvals[1:] > 0)
    # eigvals decrease, so the trusted tails form a prefix.
    return int(np.argmin(trusted)) if not trusted.all() else len(eigvals) - 1


def eigenpro_preconditioner(
    points, subsample, *, eigvals, eigvecs, n_components, shift=0.0, X_subsample=None
):
    """Build the EigenPro preconditioner and the beta of the preconditioned operator.

    From the subsample eigenpairs ``(lambda_i, u_i)`` of ``K_SS / s``, i <= q + 1, the
    update on a batch B with residual g becomes ([2]_, ``DESIGN.md``)::

        alpha_B <- alpha_B - (eta / m) g
        alpha_S <- alpha_S + (eta / m) (1 / s) U diag(scale) U^T K(X_S, X_B) g

    with ``scale_i = (1 - r_i) / lambda_i`` and ``r_i = (mu_{q+1} / mu_i) ** p``, where
    ``mu_i = lambda_i + shift`` are the eigenvalues of (K + alpha I)/n
    (``shift = alpha / n``; 0 without ridge). It leaves the fixed point unchanged and
    brings the top q eigenvalues of (K + alpha I)/n down to about ``mu_{q+1}``
    (:func:`damped_top_eigenvalue`): flattening them to ``lambda_{q+1}`` alone would
    also shrink their ridge part below ``alpha / n`` and slow the fit.

    The preconditioned beta is
    ``beta_P = max_x [k(x, x) - (1 / s) sum_i scale_i (K(x, X_S) u_i)^2]`` (add alpha
    for the ridge operator), taken over *all* training points in blocks: on the
    subsample alone it is underestimated, and an underestimated beta gives a step that
    can diverge.

    Parameters
    ----------
    points : LocalPoints or ShardedPoints
        The training points (:mod:`sklearn_interp._points`); they scan their own rows
        for beta_P, in this process or on the shards of a cluster.
    subsample : ndarray of shape (s,)
        Indices of the subsample in the training points.
    eigvals, eigvecs : ndarray
        From :func:`subsample_eigenpairs`, at least ``n_components + 1`` of them.
    n_components : int
        q >= 1.
    shift : float, default=0.0
        ``alpha / n``, the ridge term's shift of every eigenvalue of K/n.
    X_subsample : ndarray of shape (s, n_features), default=None
        The subsample's rows, if already at hand; else taken from ``points``.

    Returns
    -------
    preconditioner : Bunch
        ``subsample``, ``eigvecs`` (s x q), ``scale`` (q,), ``beta`` (beta_P, without
        alpha) and ``top_eigenvalue`` (the damped top eigenvalue of the preconditioned
        (K + alpha I)/n, shift included).
    """
    q = n_components
    ratios = (eigvals[q] + shift) / (eigvals[:q] + shift)
    scale = (1.0 - ratios**EIGENVALUE_RATIO_POWER) / eigvals[:q]
    U = np.ascontiguousarray(eigvecs[:, :q])
    if X_subsample is None:
        X_subsample = points.take(subsample)[0]
    return Bunch(
        subsample=subsample,
        eigvecs=U,
        scale=scale,
        beta=points.reduced_diagonal_max(X_subsample, U, scale),
        top_eigenvalue=damped_top_eigenvalue(eigvals, q, shift),
    )


def reduced_diagonal_max(
    kernel, X, X_subsample, eigvecs, scale, diagonal, block_rows, *, all_cores=False
):
    """``max_x [k(x, x) - (1 / s) sum_i scale_i (K(x, X_S) u_i)^2]`` over the rows of X.

    The preconditioned beta of :func:`eigenpro_preconditioner` on the rows ``X`` (all
    training points, or one shard of them), in blocks of ``block_rows`` rows, exact up
    to the rounding of the compute precision.

    The full sum costs ``2 s q`` flops per row, more than the kernel row itself (at
    n = 20,000, s = 2,000 and q = 512 it took a third of the fit's set-up). Every term
    of the sum is non-negative (``scale_i >= 0``), so its first SCAN_COMPONENTS
    terms give an upper bound of each row's value for an eighth of the flops. A first
    pass takes that bound on every row; a second pass takes the exact value of the rows
    in decreasing order of their bound, and stops at the first row whose bound cannot
    beat the largest exact value found: every row left has a smaller value.

    Parameters
    ----------
    kernel : BlockKernel
        In the compute precision.
    X : ndarray or sparse matrix of shape (n_rows, n_features)
        Rows to scan, in the compute precision.
    X_subsample : ndarray or sparse matrix of shape (s, n_features)
        The subsample S.
    eigvecs : ndarray of shape (s, q)
        U, the top q eigenvectors of ``K_SS / s``.
    scale : ndarray of shape (q,)
        ``scale_i`` of the preconditioner, non-negative.
    diagonal : ndarray of shape (n_rows,)
        ``k(x, x)`` for the rows of X.
    block_rows : int
        Rows per block.
    all_cores : bool, default=False
        Spread the first pass over this process's cores
        (:func:`sklearn_interp._parallel.map_row_chunks`, in its own blocks within the
        memory budget); False on a cluster's worker, whose cores its tasks share.

    Returns
    -------
    beta : float
        -inf for no rows.
    """
    n_rows = X.shape[0]
    if n_rows == 0:
        return -np.inf
    against_subsample = kernel.rows_against(X_subsample)
    U_compute = eigvecs.astype(X.dtype, copy=False)
    head = min(U_compute.shape[1], SCAN_COMPONENTS)

    def reduced(rows, n_components):
        projections = against_subsample(X[rows]) @ U_compute[:, :n_components]
        squared = projections.astype(np.float64) ** 2
        return diagonal[rows] - (squared @ scale[:n_components]) / X_subsample.shape[0]

    bound = np.empty(n_rows)

    def bound_rows(rows):
        bound[rows] = reduced(rows, head)

    if all_cores:
        map_row_chunks(bound_rows, n_rows, X_subsample.shape[0], X.dtype)
    else:
        for rows in gen_batches(n_rows, block_rows):
            bound_rows(rows)
    if head == U_compute.shape[1]:
        return float(bound.max())
    order = np.argsort(bound)[::-1]
    beta = -np.inf
    for chunk in gen_batches(n_rows, min(block_rows, EXACT_SCAN_ROWS)):
        rows = order[chunk]
        if bound[rows[0]] <= beta:
            break
        beta = max(beta, float(reduced(rows, U_compute.shape[1]).max()))
    return beta
