"""Shared parameters, validation and fit recipe of the two estimators."""

import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._kernel import make_kernel
from ._plan import plan_fit
from ._points import decision, training_points
from ._solver import MAX_BACKOFFS, run_sgd

COMPUTE_DTYPES = {"float64": np.float64, "float32": np.float32}

# Parameter documentation shared by both estimators, written once.
SHARED_PARAMETERS = """\
kernel : str or callable, default="rbf"
        Kernel k(x, y). A name from
        ``sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS`` ("rbf", "laplacian",
        "polynomial", "linear", ...), with the same meaning of ``gamma``, ``degree`` and
        ``coef0`` as in :class:`~sklearn.kernel_ridge.KernelRidge`, or a callable
        ``k(x, y) -> float`` on two 1-D rows (slow: called once per pair of points,
        as in KernelRidge).

    gamma : float, default=None
        Kernel coefficient of "rbf", "laplacian", "polynomial", "chi2" and "sigmoid";
        None means the kernel's scikit-learn default (``1 / n_features`` for "rbf").

    degree : float, default=3
        Degree of the polynomial kernel.

    coef0 : float, default=1
        Zero coefficient of the polynomial and sigmoid kernels.

    kernel_params : dict, default=None
        Keyword arguments of a callable kernel.

    alpha : float, default=0.0
        Ridge term. 0 fits the minimum-norm interpolant (KernelRidge's solution as its
        alpha tends to 0); alpha > 0 converges to KernelRidge's solution
        ``(K + alpha I)^-1 y`` for the same kernel and alpha.

    batch_size : int or "auto", default="auto"
        Mini-batch size m. "auto" takes the critical batch size m* of the operator
        iterated, bounded by the memory budget and by n_samples; the value used is
        ``batch_size_``. A larger value is clipped to n_samples.

    step_size : float or "auto", default="auto"
        Step size eta (each residual of a batch is scaled by ``eta / m``). "auto" takes
        the optimal step of [1]_ for the batch size: ``m / beta`` when m <= m*,
        ``0.99 * 2 m / (beta + (m - 1) lambda_1)`` beyond it. The value used is
        ``step_size_``.

    n_components : int or "auto", default="auto"
        q, the number of top eigen-directions of the kernel operator flattened by the
        EigenPro preconditioner [2]_. 0 switches preconditioning off (plain SGD of
        [1]_). "auto" takes the largest q whose tail eigenvalue lambda_{q+1} the
        subsample resolves: at least ``0.1 beta / s`` (above rounding when the
        subsample is the whole training set), at least ``alpha / n``, and q <= 512.
        Each flattened direction lowers beta_P and raises m*, and so speeds up every
        epoch. Capped at ``subsample_size - 1`` and by the memory budget.

    subsample_size : int or "auto", default="auto"
        s, the number of training points whose kernel matrix estimates the spectrum
        (lambda_1 and the preconditioner). "auto" is ``min(n_samples, 2000)``, reduced
        if the s x s matrix would not fit the memory budget.

    max_iter : int, default=100
        Maximum number of epochs (passes over the training data).

    tol : float, default=1e-4
        Stop when ``convergence_curve_`` (the training error when alpha = 0) falls to
        ``tol`` times its value before the first update.

    precision : {"float64", "float32"}, default="float64"
        Precision of the kernel blocks during ``fit``. "float32" roughly halves the
        time of the matrix products, and of the subsample's eigendecomposition when q
        is automatic and the subsample smaller than the training set (otherwise that
        stays float64); coefficients, errors and predictions stay float64.

    random_state : int, RandomState instance or None, default=None
        Seeds the subsample and the batch order. Pass an int for reproducible fits.

    verbose : int, default=0
        Print one line per epoch when > 0.
"""

SHARED_ATTRIBUTES = """\
critical_batch_size_ : float
        Critical batch size m* = beta_P / lambda_P + 1 of the operator actually iterated:
        the preconditioned one when ``n_components_ > 0``, else K + alpha I. Below it a
        batch of m is worth m single-point steps; above it the gain saturates.

    batch_size_ : int
        Batch size used.

    step_size_ : float
        Step size in use when the fit stopped (the chosen one, halved after each
        back-off).

    beta_ : float
        ``max_i k(x_i, x_i) + alpha`` over the training points.

    top_eigenvalue_ : float
        Estimate of lambda_1, the top eigenvalue of (K + alpha I)/n: the top eigenvalue
        of ``K_SS / s`` on the subsample, plus ``alpha / n``, and at least beta / n.
        The plain SGD critical batch size is ``beta_ / top_eigenvalue_ + 1``.

    eigenvalues_ : ndarray of shape (q + 1,) or more
        Top eigenvalues of ``K_SS / s`` in decreasing order (estimates of those of K/n).

    preconditioned_beta_ : float
        beta_P + alpha, where ``beta_P = max_i [k(x_i, x_i) - sum_{j <= q} (1 - r_j)
        e_j(x_i)^2]`` over all training points (EigenPro), or ``beta_`` when q = 0.

    preconditioned_top_eigenvalue_ : float
        Estimated top eigenvalue lambda_P of the operator iterated, divided by n:
        ``mu_1^0.05 mu_{q+1}^0.95`` with ``mu_i = lambda_i + alpha / n`` (the damped
        EigenPro ratio of the subsample eigenvalues), at least
        ``(beta_P + alpha) / n``; ``top_eigenvalue_`` when q = 0.

    n_components_ : int
        q, the number of eigen-directions flattened (0: plain SGD). A user's
        ``n_components`` is lowered to the number of subsample eigenvalues above
        rounding (and to 0 for a kernel that leaves no positive beta_P).

    subsample_size_ : int
        s, the subsample size used for the spectrum.

    convergence_curve_ : ndarray of shape (n_epochs + 1,)
        Mean squared residual of the linear system the fit solves,
        ``(1/n) sum_i ||f(x_i) + alpha dual_coef_[i] - y_i||^2``: the training error
        when ``alpha=0`` (on the -1/+1 encoded targets for the classifier). Index 0 is
        its value for the zero function, ``(1/n) sum_i ||y_i||^2``, before the first
        update; index t is measured during epoch t: each batch's residuals are computed
        for its update anyway, and their squares, taken just before that batch's update,
        are averaged over the epoch. It therefore costs no extra pass over the data, and
        slightly overstates the residual of the coefficients at the end of the epoch.
        An epoch that diverged (and was undone) records the exact residual of the
        coefficients it restored.

    n_iter_ : int
        Number of epochs run.

    n_backoffs_ : int
        How many times a rising residual (a diverging step) made the fit halve its step
        size and go on from the last good coefficients (those of the last epoch that did
        not diverge).

    dual_coef_ : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Coefficients of the kernel expansion f(x) = sum_i dual_coef_[i] k(x_i, x).
        After a fit on a Dask cluster, a dask array in the row chunks of ``X_fit_``,
        kept on the workers.

    X_fit_ : ndarray of shape (n_samples, n_features)
        Training data, needed for prediction. After a fit on a Dask cluster, the
        training dask array (in row chunks, persisted), kept on the workers.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during fit, when X has feature names that are all
        strings.
"""


SHARED_REFERENCES = """\
.. [1] S. Ma, R. Bassily, M. Belkin, "The Power of Interpolation: Understanding
       the Effectiveness of SGD in Modern Over-parametrized Learning", ICML 2018,
       arXiv:1712.06559.
    .. [2] S. Ma, M. Belkin, "Diving into the shallows: a computational perspective on
       large-scale shallow learning", NeurIPS 2017, arXiv:1703.10622.
    .. [3] S. Ma, M. Belkin, "Kernel machines that adapt to GPUs for effective large
       batch training", MLSys 2019, arXiv:1806.06144.
"""


def fill_doc(cls):
    """Insert the shared parameter, attribute and reference text into a class
    docstring."""
    for key, text in [
        ("%(parameters)s", SHARED_PARAMETERS),
        ("%(attributes)s", SHARED_ATTRIBUTES),
        ("%(references)s", SHARED_REFERENCES),
    ]:
        cls.__doc__ = cls.__doc__.replace(key, text)
    return cls


class BaseInterpolatingKernel(BaseEstimator):
    """Parameters, validation and the fit recipe shared by both estimators."""

    _parameter_constraints: dict = {
        "kernel": [StrOptions(set(PAIRWISE_KERNEL_FUNCTIONS)), callable],
        "gamma": [Interval(Real, 0, None, closed="left"), None],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Real],
        "kernel_params": [dict, None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "step_size": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "n_components": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "subsample_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "precision": [StrOptions(set(COMPUTE_DTYPES))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        kernel="rbf",
        gamma=None,
        degree=3,
        coef0=1,
        kernel_params=None,
        alpha=0.0,
        batch_size="auto",
        step_size="auto",
        n_components="auto",
        subsample_size="auto",
        max_iter=100,
        tol=1e-4,
        precision="float64",
        random_state=None,
        verbose=0,
    ):
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.alpha = alpha
        self.batch_size = batch_size
        self.step_size = step_size
        self.n_components = n_components
        self.subsample_size = subsample_size
        self.max_iter = max_iter
        self.tol = tol
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR input, through pairwise_kernels
        return tags

    def _kernel(self, dtype=np.float64):
        return make_kernel(
            self.kernel,
            gamma=self.gamma,
            degree=self.degree,
            coef0=self.coef0,
            kernel_params=self.kernel_params,
            dtype=dtype,
        )

    def _fit_targets(self, X, Y):
        """Fit f to the 2-D float64 targets Y; the recipe shared by both estimators.

        X and Y are validated arrays, or dask arrays in the same row chunks for a fit
        on the current Dask cluster (:func:`sklearn_interp._points.training_points`
        chooses the backend; nothing here depends on it). Sets the fitted attributes
        other than ``dual_coef_`` and returns the coefficients, 2-D.
        """
        rng = check_random_state(self.random_state)
        kernel = self._kernel(COMPUTE_DTYPES[self.precision])
        with training_points(X, kernel, targets=Y, alpha=self.alpha) as points:
            plan = plan_fit(
                points,
                rng,
                n_components=self.n_components,
                subsample_size=self.subsample_size,
                batch_size=self.batch_size,
                step_size=self.step_size,
                alpha=self.alpha,
            )
            with points.evaluator(plan.preconditioner) as evaluator:
                result = run_sgd(
                    evaluator,
                    rng,
                    batch_size=plan.batch_size,
                    step_size=plan.step_size,
                    preconditioner=plan.preconditioner,
                    max_iter=self.max_iter,
                    tol=self.tol,
                    verbose=self.verbose,
                )
                coef = evaluator.coefficients()
            self.X_fit_ = points.X_fit
        self._set_fit_attributes(plan, result)
        if not result.converged:
            # stacklevel 4: _fit_targets <- fit <- _fit_context's wrapper <- the caller.
            warnings.warn(self._not_converged_message(result), ConvergenceWarning, 4)
        return coef

    def _set_fit_attributes(self, plan, result):
        """The diagnostics of the plan and of the solver's run, as ``*_`` attributes."""
        self.critical_batch_size_ = plan.critical_batch_size
        self.batch_size_ = plan.batch_size
        self.step_size_ = result.step_size
        self.beta_ = plan.beta
        self.top_eigenvalue_ = plan.top_eigenvalue
        self.eigenvalues_ = plan.eigenvalues
        self.preconditioned_beta_ = plan.preconditioned_beta
        self.preconditioned_top_eigenvalue_ = plan.preconditioned_top_eigenvalue
        self.n_components_ = plan.n_components
        self.subsample_size_ = plan.subsample_size
        self.convergence_curve_ = result.convergence_curve
        self.n_iter_ = result.n_iter
        self.n_backoffs_ = result.n_backoffs

    def _not_converged_message(self, result):
        curve = result.convergence_curve
        if result.n_backoffs > MAX_BACKOFFS:
            reason = (
                f"gave up after {result.n_backoffs} step-size back-offs (the "
                "iteration kept diverging; check the kernel and step_size)"
            )
        else:
            reason = f"stopped after max_iter={self.max_iter} epochs"
        return (
            f"{type(self).__name__} {reason} with relative residual "
            f"{curve[-1] / curve[0]:.3g} > tol={self.tol}. Increase max_iter, or "
            "tol to stop earlier."
        )

    def _decision(self, X):
        """``K(X, X_fit_) @ dual_coef_``, 2-D (:func:`sklearn_interp._points.decision`)."""
        check_is_fitted(self)
        return decision(self, X)


@contextmanager
def restored_on_failure(estimator):
    """Leave ``estimator`` as it was if the block raises or is interrupted.

    Validation writes ``n_features_in_`` before the solver runs, so a fit that raises,
    or a KeyboardInterrupt, would otherwise leave a half-written estimator: it stays
    unfitted, or keeps the model it had.
    """
    state = estimator.__dict__.copy()
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise
