"""Resolve the "auto" settings of a fit: subsample, q, preconditioner, m*, batch and step.

One function, :func:`plan_fit`, that turns the data, the kernel and the user's settings into
the numbers the solver runs with, using the closed-form rules of
:mod:`sklearn_interp._spectrum` and the memory budget.
"""

import math

import numpy as np
from sklearn import get_config
from sklearn.utils import Bunch

from ._kernel import kernel_diagonal
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

# Arrays of one kernel block's size alive at once: the rbf path keeps only the block
# (its exp runs in place); scikit-learn's pairwise_kernels, used for the other kernels,
# holds a distance matrix and the kernel matrix.
KERNEL_BLOCK_COPIES = 2

# Arrays of size s x s alive while the subsample is eigendecomposed: K_SS, its symmetrized
# copy and LAPACK's workspace.
SUBSAMPLE_GRAM_COPIES = 3


def memory_budget():
    """Bytes one temporary may use: scikit-learn's ``working_memory`` setting (MiB)."""
    return get_config()["working_memory"] * 2**20


def kernel_block_rows(n_columns, itemsize, budget):
    """Largest number of kernel rows against ``n_columns`` points that fits ``budget``.

    Raises
    ------
    ValueError
        If not even one row fits, before anything is allocated.
    """
    row_bytes = n_columns * itemsize * KERNEL_BLOCK_COPIES
    rows = int(budget // row_bytes)
    if rows < 1:
        raise ValueError(
            f"One kernel row against {n_columns} training points needs "
            f"{row_bytes / 2**20:.3g} MiB, more than the memory budget of "
            f"{budget / 2**20:.3g} MiB; raise it with "
            "sklearn.set_config(working_memory=...) (in MiB)."
        )
    return rows


def plan_fit(
    X,
    kernel,
    rng,
    *,
    n_components,
    subsample_size,
    batch_size,
    step_size,
    alpha,
    budget,
    spectrum_kernel=None,
):
    """Resolve every "auto" setting of a fit.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Training points in the compute precision, or training points sharded over a
        cluster (:class:`sklearn_interp._distributed.ShardedPoints`): the kernel
        diagonal and beta_P are then computed by the shards, the subsample is
        gathered here, and the memory bound on the batch is that of the largest
        shard's kernel block, not of a block against all n points.
    kernel : callable
        Block kernel in the compute precision.
    rng : numpy.random.RandomState
    n_components, subsample_size, batch_size : int or "auto"
    step_size : float or "auto"
    alpha : float
    budget : float
        Bytes one temporary may use.
    spectrum_kernel : callable, default=None
        A float64 block kernel for the subsample's eigendecomposition when ``kernel``
        computes in float32 and the spectrum must be resolved down to the numerical
        floor: a subsample that is the whole training set (the automatic q then has no
        resolution floor) or a user's q. With the automatic q of a true subsample the
        compute kernel's (float32) eigendecomposition serves, in half the time: it is
        accurate far above the resolution floor, but its eigenvectors of the smallest
        eigenvalues are noise. None means ``kernel`` in every case.

    Returns
    -------
    plan : Bunch
        ``beta`` and ``top_eigenvalue`` (beta and lambda_1 of (K + alpha I), the latter
        divided by n), ``eigenvalues`` (the subsample eigenvalues of K/n),
        ``preconditioned_beta`` and ``preconditioned_top_eigenvalue`` (of the operator
        iterated), ``critical_batch_size`` (its m*), ``batch_size``, ``step_size``,
        ``n_components``, ``subsample_size``, ``preconditioner`` (Bunch or None),
        ``block_rows`` and ``diagonal`` (``k(x_i, x_i)``; None for sharded points).
    """
    n_samples = X.shape[0]
    if is_sharded(X):
        # Each worker holds kernel blocks against its own chunk only.
        block_rows = kernel_block_rows(X.max_chunk_rows, X.dtype.itemsize, budget)
        diagonal = None
        beta = X.diagonal_max()
    else:
        block_rows = kernel_block_rows(n_samples, X.dtype.itemsize, budget)
        diagonal = kernel_diagonal(kernel, X)
        beta = float(diagonal.max())
    if not beta > 0:
        raise ValueError(
            f"The kernel's largest diagonal value max_i k(x_i, x_i) is {beta:.6g} on the "
            "training data; SGD needs it positive (its step size is 1 / beta). Use a "
            "positive definite kernel such as 'rbf', 'laplacian' or 'polynomial'."
        )

    s = _subsample_size(subsample_size, n_samples, budget)
    subsample = rng.choice(n_samples, size=s, replace=False)
    # The eigenvectors (s x (q + 1) float64) must fit the budget too.
    n_eigenpairs = min(
        s,
        MAX_AUTO_COMPONENTS + 1 if n_components == "auto" else n_components + 1,
        max(1, int(budget // (8 * s))),
    )
    resolved = n_components == "auto" and s < n_samples
    eigvals, eigvecs = subsample_eigenpairs(
        kernel if resolved or spectrum_kernel is None else spectrum_kernel,
        X[subsample],
        n_eigenpairs,
    )

    # Rounding leaves eigenvalues below numerical_floor meaningless, whoever chose q;
    # the automatic q also stays above what the subsample resolves (a subsample that is
    # the whole training set gives exact eigenvalues) and above alpha / n, below which
    # the ridge term already conditions the problem.
    floor = numerical_floor(eigvals[0], s, X.dtype)
    if n_components == "auto":
        floor = max(
            floor,
            0.0 if s == n_samples else RESOLUTION_FACTOR * beta / s,
            alpha / n_samples,
        )
        q = choose_n_components(eigvals, floor)
    else:
        q = min(n_components, choose_n_components(eigvals, floor))

    # The ridge term adds alpha to beta and alpha / n to every eigenvalue of
    # (K + alpha I)/n. The top eigenvalue of K/n is at least max_i K_ii / n = beta / n
    # (the same holds for the preconditioned operator): a floor against a subsample
    # that misses it.
    shift = alpha / n_samples
    preconditioner = None
    preconditioned_beta, preconditioned_top = beta, eigvals[0] + shift
    if q > 0:
        preconditioner = eigenpro_preconditioner(
            kernel, X, subsample, eigvals, eigvecs, q, diagonal, block_rows, shift
        )
        if preconditioner.beta > 0:
            preconditioned_beta = preconditioner.beta
            preconditioned_top = preconditioner.top_eigenvalue
        else:
            # An indefinite kernel (sigmoid, say) can leave no positive beta_P: the
            # flattening does not apply, and the fit runs plain SGD.
            preconditioner, q = None, 0
    top_eigenvalue = max(eigvals[0], beta / n_samples) + shift
    preconditioned_top = max(preconditioned_top, preconditioned_beta / n_samples + shift)
    beta, preconditioned_beta = beta + alpha, preconditioned_beta + alpha
    m_star = critical_batch_size(preconditioned_beta, preconditioned_top)

    if batch_size == "auto":
        batch_size = max(1, min(math.floor(m_star), block_rows, n_samples))
    else:
        batch_size = min(batch_size, n_samples)
    if step_size == "auto":
        step_size = optimal_step_size(batch_size, preconditioned_beta, preconditioned_top)

    return Bunch(
        beta=float(beta),
        top_eigenvalue=float(top_eigenvalue),
        eigenvalues=eigvals,
        preconditioned_beta=float(preconditioned_beta),
        preconditioned_top_eigenvalue=float(preconditioned_top),
        critical_batch_size=float(m_star),
        batch_size=int(batch_size),
        step_size=float(step_size),
        n_components=q,
        subsample_size=s,
        preconditioner=preconditioner,
        block_rows=block_rows,
        diagonal=diagonal,
    )


def is_sharded(X):
    """Whether X is training points sharded over a cluster, not an array here."""
    return hasattr(X, "reduced_diagonal_max")


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


def _subsample_size(subsample_size, n_samples, budget):
    """s: the user's value or DEFAULT_SUBSAMPLE_SIZE, at most n and within the budget."""
    s_max = math.isqrt(int(budget // (8 * SUBSAMPLE_GRAM_COPIES)))
    if subsample_size == "auto":
        return max(1, min(n_samples, DEFAULT_SUBSAMPLE_SIZE, s_max))
    s = min(subsample_size, n_samples)
    if s > s_max:
        raise ValueError(
            f"subsample_size={subsample_size} needs a {s} x {s} kernel matrix of "
            f"{s * s * 8 * SUBSAMPLE_GRAM_COPIES / 2**20:.3g} MiB with its "
            f"eigendecomposition, more than the memory budget of {budget / 2**20:.3g} "
            "MiB; lower subsample_size or raise sklearn.set_config(working_memory=...)."
        )
    return s
