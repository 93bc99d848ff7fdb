"""Shared parameters, validation and fit recipe of the two estimators."""

import copy
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._kernel import (
    PrecomputedKernel,
    WeightedKernel,
    index_positions,
    indices,
    make_kernel,
    resolve_gamma,
    with_scale,
)
from ._plan import fold_in_step_size, plan_fit
from ._points import (
    decision,
    fingerprint,
    first_rows,
    gather,
    is_dask_array,
    merge_duplicates,
    merge_sum,
    points_of_rows,
    positive_rows,
    training_points,
    unmerge,
    validation_split,
)
from ._solver import MAX_BACKOFFS, STALL_GAIN, STALL_WINDOW, run_sgd
from ._spectrum import critical_batch_size

try:  # scikit-learn >= 1.9: est.set_callbacks(ProgressBar()) reports the epochs
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # older scikit-learn: no callbacks

    class CallbackSupportMixin:
        """Stands in for scikit-learn's callback support where it has none."""


# early_stopping="auto" turns on above this many samples, as in HistGradientBoosting;
# measured for this package in the user guide (the fit to tol at 10,000 points takes
# a few seconds, and a held-out tenth would cost accuracy for little time).
EARLY_STOPPING_MIN_SAMPLES = 10_000

# Epochs without improvement before early stopping ends the fit (n_iter_no_change's
# default; HistGradientBoosting's 10 counts cheap trees). An epoch costs a pass over n^2
# kernel entries, and with EigenPro the validation accuracy settles within a few
# epochs: on 40-feature, 10-class data at n = 20,000 and 40,000 it peaked at epochs 3
# and 4 and then moved by single validation samples, so 2 stops one or two epochs after
# the peak (3 would cost 1.6 times the best fixed epoch count at 40,000).
N_ITER_NO_CHANGE = 2

# A gain over the reference score counts when it exceeds this many standard errors of
# that score on the held-out rows. Replayed on the validation curves of four data sets
# (40-feature classification at 20,000 and 40,000 points, class_sep 2 and 1, and mixed
# regression at 15,000), 1 kept fits going two epochs past the kept epoch where the
# test score had stopped moving (40,000 points), and 1.5 stopped them at the same or a
# later kept epoch.
SIGNIFICANT_GAIN = 1.5

# Epochs over all the rows after early stopping, from the best epoch's coefficients
# (zero for the held-out rows). Measured with the defaults on 40-feature, 10-class data
# at 20,000 points (class_sep 1, without and with 10% of the labels flipped; 3 seeds,
# 20,000 test points): one epoch scored 0.27 and 0.44 percentage points below the best
# fixed epoch count on all the rows (0.9018 and 0.8051), two epochs 0.12 and 0.24, for
# 15% more time; three epochs gained nothing more. Early stopping there keeps epoch 3
# or 4, the sweep's best is 5 or 6: the fold-in epochs go on fitting the training rows
# as they fit the held-out ones.
FOLD_IN_EPOCHS = 2

COMPUTE_DTYPES = {"float64": np.float64, "float32": np.float32}

# Parameter documentation shared by both estimators, written once.
SHARED_PARAMETERS = """\
kernel : str or callable, default="rbf"
        Kernel k(x, y). A name from
        ``sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS`` ("rbf", "laplacian",
        "polynomial", "linear", ...), with the same meaning of ``gamma``, ``degree`` and
        ``coef0`` as in :class:`~sklearn.kernel_ridge.KernelRidge`, or a callable
        ``k(x, y) -> float`` on two 1-D rows (slow: called once per pair of points,
        as in KernelRidge). "precomputed", as in KernelRidge: X in ``fit`` is the
        square kernel matrix ``K(X_train, X_train)``, and in ``predict`` the matrix
        ``K(X_test, X_train)`` of shape (n_test, n_train); the fit reads its
        entries block by block and never modifies it (the ridge term is added to
        the residuals, not to the diagonal), and the model keeps no copy of it.
        Not on a Dask cluster.

    gamma : float, "scale" or None, default=None
        Kernel coefficient of "rbf", "laplacian", "polynomial", "chi2" and "sigmoid";
        ignored by the other kernels and by a callable (pass its parameters in
        ``kernel_params``). None means the kernel's scikit-learn default
        (``1 / n_features``, and 1.0 for "chi2"). "scale" is
        ``1 / (n_features * X.var())`` over the training X, as in
        :class:`~sklearn.svm.SVC` (1.0 if X.var() is 0). The value used, computed
        in ``fit`` and kept for ``predict``, is ``gamma_``.

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
        the optimal step of [1]_ for the batch size, kept off the stability edge:
        ``min(m / beta, 0.99 * 2 m / (beta + (m - 1) lambda_1))``, which is
        ``m / beta`` (linear scaling) up to about 0.98 m* and the damped saturation
        step from there on, at m* too. The value used is ``step_size_``.

    n_components : int or "auto", default="auto"
        Number q of top eigen-directions of the kernel operator flattened by the
        EigenPro preconditioner [2]_. 0 switches preconditioning off (plain SGD of
        [1]_). "auto" takes the largest q whose tail eigenvalue lambda_{q+1} the
        subsample resolves: at least ``0.1 beta / s`` (above rounding when the
        subsample is the whole training set), at least ``alpha / n``, and q <= 512.
        Each flattened direction lowers beta_P and raises m*, and so speeds up every
        epoch. Capped at ``subsample_size - 1`` and by the memory budget.

    subsample_size : int or "auto", default="auto"
        Number s of training points whose kernel matrix estimates the spectrum
        (lambda_1 and the preconditioner). "auto" is ``min(n_samples, 2000)``, reduced
        if the s x s matrix would not fit the memory budget.

    max_iter : int, default=100
        Maximum number of epochs (passes over the training data) of one call to
        ``fit``.

    tol : float, default=1e-4
        Stop when ``convergence_curve_`` (the training error when alpha = 0) falls to
        ``tol`` times its value before the first update, or to rounding level
        (``(100 eps)^2`` times that value, eps of the fit's precision), where
        ``tol=0`` stops. With early stopping, also
        the least gain of the validation score that counts as an improvement (see
        ``early_stopping``).

    early_stopping : "auto" or bool, default="auto"
        Stop when the score on held-out training data stops improving, as
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier` does: a
        ``validation_fraction`` of the training data is set aside (stratified for
        the classifier, except on a Dask cluster, where the labels stay on the
        workers), scored after every epoch, and the fit stops once
        ``n_iter_no_change`` epochs in a row brought no significant gain over the
        reference, the score of the last epoch that did. A gain is significant when
        it exceeds ``tol`` and 1.5 standard errors: for the default ``scoring``,
        of the reference score on the held-out rows (``sqrt(p (1 - p) / n_val)``
        for an accuracy p, ``(1 - R^2) sqrt(2 / n_val)`` for R^2); for
        ``scoring="loss"``, of the rows' paired loss differences between the
        reference epoch and this one, so that a small gain all rows share counts.
        Gains within the noise of the held-out set do not keep the fit going, and
        small gains that add up do. The fit then goes back to the best epoch's
        coefficients and folds the held-out rows back in: two more epochs over all
        the rows, from those coefficients (zero for the held-out rows), so that the
        model holds every row. Leaving them out, as scikit-learn's estimators do,
        cost up to 0.9 percentage points of test accuracy on data-hungry
        classification problems at 20,000 points; with two fold-in epochs the
        defaults scored within 0.25 points of the best fixed epoch count on all the
        rows there (one epoch: 0.44). On a Dask cluster the held-out rows stay
        out. With
        ``sample_weight``, only the samples of positive weight are split, and the
        validation score is the weighted one. For ``kernel="precomputed"`` the
        held-out rows are scored through their columns against the training rows,
        ``K[val][:, train]``. "auto" turns early stopping on above 10,000 samples
        (of positive weight), where the fit to ``tol`` spends most of its epochs on
        digits the test error does not see; below, the exact interpolant (or
        KernelRidge solution) is cheap and is what ``fit`` computes.

    scoring : str, callable or None, default=None
        Validation score of early stopping: None is the estimator's own ``score``
        (accuracy, R^2), computed from the epoch's predictions at no extra cost;
        "loss" is minus the mean squared error on the (encoded, normalized)
        targets, the quantity the SGD lowers, also at no extra cost, and judged by
        paired differences (see ``early_stopping``); any other string or callable
        is a scikit-learn scorer, called with the model of that epoch, whose gains
        count above ``tol``.

    validation_fraction : float or int, default=0.1
        Share (a float in (0, 1)) or number (an int) of the training samples set
        aside for early stopping. Each epoch then also computes the kernel rows of
        these samples, about ``validation_fraction / (1 - validation_fraction)`` of
        an epoch's work.

    n_iter_no_change : int, default=%(n_iter_no_change)s
        Epochs without improvement of the validation score after which early
        stopping ends the fit.

    warm_start : bool, default=False
        When True and the estimator was fitted on the same X with the same settings,
        ``fit`` continues from the fitted coefficients, with the same plan (m*, batch,
        step size, preconditioner), the same validation split and the random state
        where the last fit left it: ``fit`` with ``max_iter=a`` and then again with
        ``max_iter=b`` gives the coefficients of one fit with ``max_iter=a + b``.
        Otherwise (other X or settings, a first fit, or a fit on a Dask cluster) it
        starts afresh.

    precision : {"auto", "float64", "float32"}, default="auto"
        Precision of the kernel blocks during ``fit``. "float32" roughly halves the
        time of the matrix products, and of the subsample's eigendecomposition when q
        is automatic and the subsample smaller than the training set (otherwise that
        stays float64); coefficients, errors and predictions stay float64. "auto" is
        float32 when early stopping is on (the validation score, not a tight ``tol``,
        ends the fit, and float32 blocks reach the same scores) and float64 otherwise
        (a fit to ``tol`` must reach the exact solution).

    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the subsample and the batch order. Pass an int
        for reproducible fits.

    verbose : int, default=0
        When > 0, print what ``fit`` estimated and chose (spectrum, q, m*, batch and
        step size) before the first epoch, and one line per epoch.
"""

SHARED_ATTRIBUTES = """\
gamma_ : float or None
        The kernel coefficient used (``gamma`` with None and "scale" resolved on the
        training data); None for a kernel without one (a callable, "linear",
        "cosine", "additive_chi2").

    critical_batch_size_ : float
        Critical batch size m* = beta_P / lambda_P + 1 of the operator actually iterated:
        the preconditioned one when ``n_components_ > 0``, else K + alpha I. Below it a
        batch of m is worth m single-point steps; above it the gain saturates.

    batch_size_ : int
        Batch size used.

    step_size_ : float
        Step size in use when the fit stopped (the chosen one, halved after each
        back-off and each stall).

    beta_ : float
        ``max_i k(x_i, x_i) + alpha`` over the training points. For a fit with
        ``sample_weight`` and ``alpha > 0``, that of the operator iterated,
        ``S K S + alpha I`` with ``S = diag(sqrt(w))``: ``max_i w_i k(x_i, x_i) +
        alpha`` (with one weight w for all samples, ``K + (alpha / w) I``); the
        other spectrum diagnostics below are of that operator too.

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
        Number q of eigen-directions flattened (0: plain SGD). A user's
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
        coefficients it restored. The mean runs over the points fitted (identical
        rows count once); with ``sample_weight`` and ``alpha > 0`` it is the
        residual of the weighted system, each point's times ``sqrt(w_i)``.

    n_iter_ : int
        Number of epochs run, over all the calls to ``fit`` of a warm start; with
        early stopping, the two fold-in epochs over all the rows included.

    validation_scores_ : ndarray of shape (``n_iter_ - 1``,) or None
        With early stopping, the validation score (see ``scoring``) of the
        coefficients before the first epoch (index 0) and after each epoch but the
        two fold-in epochs, which have no held-out rows left to score (an epoch that
        diverged and was undone repeats the previous score); None without.

    best_validation_score_ : float or None
        The best of ``validation_scores_``; None without early stopping.

    best_iteration_ : int
        The epoch whose coefficients the model keeps: with early stopping, the best
        validation score's, which the fold-in epochs then continue; else the last one
        (``n_iter_``).

    early_stopping_ : bool
        Whether early stopping was on (``early_stopping="auto"`` resolved).

    precision_ : str
        The precision of the kernel blocks during the fit ("auto" resolved).

    n_backoffs_ : int
        How many times a rising residual (a diverging step) made the fit halve its step
        size and go on from the last good coefficients (those of the last epoch that did
        not diverge).

    n_stalls_ : int
        How many times the residual stopped falling (its best over 5 epochs at one
        step size less than 1% below the best before them, and not falling in every
        one of them) and the fit halved its step size and went on: SGD hovers
        around the least-squares solution of a system it cannot interpolate
        (duplicate points with different targets, a singular kernel matrix), closer
        for a smaller step. After 10 stalls the fit stops with a ConvergenceWarning.

    dual_coef_ : ndarray of shape (n_fit,) or (n_fit, n_outputs)
        Coefficients of the kernel expansion f(x) = sum_i dual_coef_[i] k(x_i, x)
        over the n_fit points of ``X_fit_``. Identical rows of X are fitted as one
        point, whose coefficient they share in proportion to their weights. After
        a fit on a Dask cluster, a dask array in the row chunks of ``X_fit_``, kept
        on the workers.

    X_fit_ : ndarray of shape (n_fit, n_features) or (n_fit,)
        Training data the model was fitted to, needed for prediction: the rows of X
        of positive ``sample_weight`` (all of them without weights; early
        stopping's held-out rows are folded back in). For ``kernel="precomputed"``,
        the indices of these rows, which are the columns of ``K(X_test, X_train)``
        that ``predict`` reads (the model keeps no kernel matrix). After a fit on a
        Dask cluster, the training dask array (in row chunks, persisted), kept on
        the workers, without early stopping's held-out rows.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during fit, when X has feature names that are all
        strings.
"""


SHARED_SAMPLE_WEIGHT = """\
Weights w_i of the samples in the loss
            ``sum_i w_i ||y_i - f(x_i)||^2 + alpha ||f||^2`` of
            :class:`~sklearn.kernel_ridge.KernelRidge`. With ``alpha > 0`` the fit
            converges to KernelRidge's weighted solution, which it solves in
            KernelRidge's form ``(S K S + alpha I) c = S y``, ``a = S c`` with
            ``S = diag(sqrt(w))``: m* and the step size are those of the weighted
            kernel ``sqrt(w_i) k(x_i, x_j) sqrt(w_j)``. With ``alpha=0`` every
            sample of positive weight is interpolated whatever its weight, so the
            weights change neither the solution nor the step sizes; the SGD only
            visits the points in another order when the weights differ. Either
            way, a sample of weight 0 is left out of the fit (KernelRidge gives it
            a zero coefficient), identical rows are fitted as one point of their
            summed weight at their weighted mean target, so a weight of k is the
            row repeated k times, and with early stopping the held-out rows'
            scores are weighted. None means unit weights, a number that weight for
            every sample. Negative, non-finite or all-zero weights raise a
            ValueError; a fit on a Dask cluster does not take weights."""


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
    docstring, and the shared sample_weight text into its ``fit``'s."""
    for key, text in [
        ("%(parameters)s", SHARED_PARAMETERS),
        ("%(attributes)s", SHARED_ATTRIBUTES),
        ("%(references)s", SHARED_REFERENCES),
        ("%(n_iter_no_change)s", str(N_ITER_NO_CHANGE)),
        ("%(sample_weight)s", SHARED_SAMPLE_WEIGHT),
    ]:
        cls.fit.__doc__ = cls.fit.__doc__.replace(key, text)
        cls.__doc__ = cls.__doc__.replace(key, text)
    return cls


class BaseInterpolatingKernel(CallbackSupportMixin, BaseEstimator):
    """Parameters, validation and the fit recipe shared by both estimators."""

    _parameter_constraints: dict = {
        "kernel": [StrOptions({*PAIRWISE_KERNEL_FUNCTIONS, "precomputed"}), callable],
        "gamma": [Interval(Real, 0, None, closed="left"), StrOptions({"scale"}), None],
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
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "scoring": [str, callable, None],
        "validation_fraction": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "precision": [StrOptions({"auto", *COMPUTE_DTYPES})],
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
        early_stopping="auto",
        scoring=None,
        validation_fraction=0.1,
        n_iter_no_change=N_ITER_NO_CHANGE,
        warm_start=False,
        precision="auto",
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
        self.early_stopping = early_stopping
        self.scoring = scoring
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR input, through pairwise_kernels
        # X is a kernel matrix: cross-validation takes K[train][:, train] in fit and
        # K[test][:, train] in predict, as for KernelRidge.
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    def _kernel(self, dtype=np.float64, X=None):
        """The block kernel of the fitted model (its ``gamma_``) in ``dtype``; for
        ``kernel="precomputed"``, the one that reads the training kernel matrix X."""
        if self.kernel == "precomputed":
            return PrecomputedKernel(X, dtype)
        return make_kernel(
            self.kernel,
            gamma=self.gamma_,
            degree=self.degree,
            coef0=self.coef0,
            kernel_params=self.kernel_params,
            dtype=dtype,
        )

    def _fit_targets(self, X, Y, y, sample_weight=None):
        """Fit f to the 2-D float64 targets Y; the recipe shared by both estimators.

        X, Y (encoded targets) and y (the targets as given, for the validation score)
        are validated arrays, or dask arrays in the same row chunks for a fit on the
        current Dask cluster (:func:`sklearn_interp._points.training_points` chooses
        the backend; nothing here depends on it); X is the training kernel matrix for
        ``kernel="precomputed"``. ``sample_weight`` is validated (or None). Sets the
        fitted attributes other than ``dual_coef_`` and returns the coefficients of
        the rows of ``X_fit_``, 2-D.
        """
        # Resolved on all of X, held-out rows included, as SVC does; predict uses it.
        self.gamma_ = resolve_gamma(self.kernel, self.gamma, X)
        rows = positive_rows(sample_weight)
        n_rows = X.shape[0] if rows is None else len(rows)
        early_stopping = self._early_stopping_on(n_rows)
        precision = self._precision(early_stopping)
        warm = self._warm_state(X, Y, sample_weight, precision)
        rng = check_random_state(self.random_state) if warm is None else warm.rng
        if warm is not None:
            split = warm.split
        elif early_stopping:
            split = validation_split(
                n_rows,
                self.validation_fraction,
                rng,
                stratify=self._stratify(y if rows is None else y[rows]),
                rows=rows,
            )
        else:
            split = None if rows is None else (rows, None)
        # Normalized on every row of positive weight, held-out ones included: the
        # fold-in epochs fit all of them to the same targets.
        Y = self._normalized_targets(Y, sample_weight)
        data = self._fit_data(X, Y, y, sample_weight, split)

        kernel = self._kernel(COMPUTE_DTYPES[precision], X)
        if data.scale is not None:
            kernel = WeightedKernel(kernel)
        with training_points(data.X, kernel, targets=data.Y, alpha=data.ridge) as points:
            plan = self._plan(points, rng, data.ridge) if warm is None else warm.plan
            if self.verbose:
                self._print_plan(plan, points)
            monitor = _EpochMonitor(
                self,
                validation=data.validation,
                fitted_points=(
                    points.X_fit if data.fitted_points is None else data.fitted_points
                ),
                validation_weight=data.validation_weight,
                scoring_X=data.scoring_X,
                scale=data.scale,
            )
            fold_in = data.validation is not None and points.starts_from_coefficients
            result, coef, last_coef = self._run_sgd(
                points, plan, rng, monitor, warm, last=not fold_in
            )
        # The rows fitted (as given: unmerged), or a precomputed kernel's columns.
        self.X_fit_ = points.X_fit if data.X_fit is None else data.X_fit
        best_coef, reported = coef, result
        if fold_in:
            coef, data, folded = self._fold_in(
                X, Y, sample_weight, split, data, plan, rng, monitor, coef, result
            )
            reported = _after_fold_in(result, folded)
        self._set_fit_attributes(plan, reported, monitor, early_stopping, precision)
        self._warm = None
        if self.warm_start:
            self._warm = Bunch(
                key=self._warm_key(X, Y.shape[1], sample_weight, precision),
                rng=rng,
                split=split,
                plan=plan,
                result=result,
                validation_scores=monitor.scores,
                reference=monitor.reference,
                reference_losses=monitor.reference_losses,
                n_no_change=monitor.n_no_change,
                best_coef=best_coef,
                last_coef=last_coef,
            )
        if not (result.converged or result.stopped):
            # stacklevel 4: _fit_targets <- fit <- _fit_context's wrapper <- the caller.
            warnings.warn(self._not_converged_message(result), ConvergenceWarning, 4)
        if data.scale is not None:
            coef = coef * data.scale[:, np.newaxis]  # a = S c
        return unmerge(coef, data.merged)

    def _fit_data(self, X, Y, y, sample_weight, split):
        """The points, targets and ridge terms the SGD fits, and the held-out rows.

        ``split`` is ``(train, held_out)`` (indices; ``held_out`` None when nothing is
        held out) or None for all rows. Rows of zero weight are in neither. Y is
        normalized (:meth:`_normalized_targets`). Identical training rows are merged
        (:func:`~sklearn_interp._points.merge_duplicates`; not for a dask X or a
        precomputed kernel). A ridge fit with weights w solves KernelRidge's
        ``(S K S + alpha I) c = S y`` with ``S = diag(sqrt(w))``: the points carry
        ``sqrt(w)`` as a last column for the
        :class:`~sklearn_interp._kernel.WeightedKernel` (the held-out rows 1), the
        targets are ``S y``, and ``scale`` turns c into the coefficients ``a = S c``;
        with one weight w for all, it is the ridge fit with ``alpha / w``. For a
        precomputed kernel the points are the training samples' indices
        (:func:`~sklearn_interp._kernel.indices`), and so are ``X_fit_`` and the
        held-out rows scored by the fit's own predictions; a scorer gets the
        held-out rows of the matrix.
        """
        precomputed = self.kernel == "precomputed"
        points = indices(X.shape[0]) if precomputed else X
        X_train, Y_train, train, validation = _held_out(points, Y, y, split)
        weight = sample_weight
        if weight is not None and train is not None:
            weight = weight[train]
        validation_weight = scoring_X = None
        if validation is not None:
            held_out = split[1]
            if sample_weight is not None:
                validation_weight = sample_weight[held_out]
            if precomputed and self.scoring not in (None, "loss"):
                scoring_X = X[held_out]
        if precomputed or is_dask_array(X_train):
            merged = Bunch(X=X_train, Y=Y_train, weight=weight, rows=None)
        else:
            merged = merge_duplicates(X_train, Y_train, weight)
        points, targets, ridge, scale = merged.X, merged.Y, self.alpha, None
        weight = merged.weight
        if weight is not None and self.alpha and (weight == weight[0]).all():
            # One weight w for all: the ridge fit with alpha / w.
            ridge = self.alpha / weight[0]
        elif weight is not None and self.alpha:
            # KernelRidge's form of the weighted ridge fit (see WeightedKernel).
            scale = np.sqrt(weight)
            points, targets = with_scale(points, scale), targets * scale[:, np.newaxis]
            if validation is not None:
                X_val = validation[0]
                scoring_X = X_val if scoring_X is None else scoring_X
                X_val = with_scale(X_val, np.ones(X_val.shape[0]))
                validation = (X_val, *validation[1:])
        return Bunch(
            X=points,
            Y=targets,
            ridge=ridge,
            scale=scale,
            merged=merged,
            # What the coefficients of the points belong to in a model (a precomputed
            # kernel's columns), and X_fit_ (the rows as given, unmerged); None where
            # they are the points' own X_fit (a dask X's is persisted on the cluster).
            fitted_points=(
                index_positions(merged.X)
                if precomputed
                else (None if scale is None else merged.X)
            ),
            X_fit=(
                index_positions(X_train)
                if precomputed
                else (None if merged.rows is None and scale is None else X_train)
            ),
            validation=validation,
            validation_weight=validation_weight,
            scoring_X=scoring_X,
        )

    def _run_sgd(self, points, plan, rng, monitor, warm, *, last):
        """The epochs of the fit over ``points``: the solver's result, the coefficients
        kept (the best epoch's with early stopping) and the last ones (for a warm
        start, or None). ``last``: no fold-in epochs follow, and the monitor's tasks
        end here."""
        with points.evaluator(
            plan.preconditioner, initial=None if warm is None else warm.last_coef
        ) as evaluator:
            monitor.begin(evaluator, warm=warm)
            result = run_sgd(
                evaluator,
                rng,
                batch_size=plan.batch_size,
                step_size=plan.step_size,
                preconditioner=plan.preconditioner,
                max_iter=self.max_iter,
                tol=self.tol,
                verbose=self.verbose,
                monitor=monitor,
                history=None if warm is None else warm.result,
                compute_dtype=points.dtype,
            )
            # A warm start goes on from the last coefficients, not the best.
            last_coef = evaluator.coefficients() if self.warm_start else None
            if monitor.scores is not None:
                evaluator.restore_best()
            if last:
                monitor.end()
            return result, evaluator.coefficients(), last_coef

    def _fold_in(self, X, Y, sample_weight, split, data, plan, rng, monitor, coef, result):
        """FOLD_IN_EPOCHS more epochs over all the rows, early stopping's held-out
        rows included, from the coefficients kept (zero for the held-out rows), with
        the same plan.

        ``data``, ``plan`` and ``coef`` are those of the fit over the training rows.
        Returns the coefficients of the fit over all the rows, its data
        (:meth:`_fit_data`), and the solver's result for these epochs. They draw
        their batches from a copy of ``rng``, so that a warm start goes on from the
        random state of the epochs before them.
        """
        train, held_out = split
        rows = np.union1d(train, held_out)
        full = self._fit_data(X, Y, None, sample_weight, (rows, None))
        # The kept coefficients as the model's coefficients of the rows (a = S c,
        # shared among merged rows), then merged and scaled as the new points are.
        model_coef = coef if data.scale is None else coef * data.scale[:, np.newaxis]
        row_coef = np.zeros((len(rows), coef.shape[1]))
        row_coef[np.searchsorted(rows, train)] = unmerge(model_coef, data.merged)
        initial = merge_sum(row_coef, full.merged)
        if full.scale is not None:
            initial /= full.scale[:, np.newaxis]
        preconditioner = plan.preconditioner
        if preconditioner is not None:
            # The subsample, from points of the training rows to the new points.
            preconditioner = Bunch(**preconditioner)
            subsample_rows = train[first_rows(data.merged)[preconditioner.subsample]]
            preconditioner.subsample = points_of_rows(full.merged)[
                np.searchsorted(rows, subsample_rows)
            ]
        # The precision of an early-stopped fit.
        kernel = self._kernel(COMPUTE_DTYPES[self._precision(True)], X)
        if full.scale is not None:
            kernel = WeightedKernel(kernel)
        step_size = result.step_size
        with training_points(full.X, kernel, targets=full.Y, alpha=full.ridge) as points:
            if self.step_size == "auto":
                # The held-out rows can raise beta; a back-off of the fit carries over.
                X_subsample = None
                if preconditioner is not None:
                    X_subsample = points.take(preconditioner.subsample)[0]
                step_size *= (
                    fold_in_step_size(plan, points, X_subsample, alpha=full.ridge)
                    / plan.step_size
                )
            with points.evaluator(preconditioner, initial=initial) as evaluator:
                monitor.fold_in(
                    evaluator,
                    points.X_fit if full.fitted_points is None else full.fitted_points,
                    full.scale,
                )
                folded = run_sgd(
                    evaluator,
                    copy.deepcopy(rng),
                    batch_size=plan.batch_size,
                    step_size=step_size,
                    preconditioner=preconditioner,
                    max_iter=FOLD_IN_EPOCHS,
                    tol=0.0,
                    verbose=self.verbose,
                    monitor=monitor,
                    compute_dtype=points.dtype,
                )
                monitor.end()
                self.X_fit_ = points.X_fit if full.X_fit is None else full.X_fit
                return evaluator.coefficients(), full, folded

    def _early_stopping_on(self, n_samples):
        if self.early_stopping == "auto":
            return n_samples > EARLY_STOPPING_MIN_SAMPLES
        return bool(self.early_stopping)

    def _precision(self, early_stopping):
        if self.precision == "auto":
            return "float32" if early_stopping else "float64"
        return self.precision

    def _stratify(self, y):
        """Labels to stratify the validation split by (the classifier's), or None."""
        return None

    def _normalized_targets(self, Y, sample_weight):
        """The targets the SGD fits (the regressor's ``normalize_y``)."""
        return Y

    def _plan(self, points, rng, ridge):
        """The plan of the fit with ridge term ``ridge`` (``alpha``, or ``alpha / w``
        for one weight w of all samples)."""
        return plan_fit(
            points,
            rng,
            n_components=self.n_components,
            subsample_size=self.subsample_size,
            batch_size=self.batch_size,
            step_size=self.step_size,
            alpha=ridge,
        )

    def _warm_key(self, X, n_outputs, sample_weight, precision):
        """What must match for a warm start: the data, the weights and every setting
        of the plan."""
        params = self.get_params()
        for name in ("max_iter", "tol", "n_iter_no_change", "warm_start", "verbose"):
            params.pop(name)
        params["precision"] = precision
        weights = None if sample_weight is None else fingerprint(sample_weight)
        return (fingerprint(X), weights, n_outputs, repr(sorted(params.items())))

    def _warm_state(self, X, Y, sample_weight, precision):
        """The state to continue from, if ``warm_start`` and the data and settings are
        those of the last fit; else None."""
        warm = getattr(self, "_warm", None) if self.warm_start else None
        if warm is None or warm.key[0] is None:
            return None  # no fit to continue, or one on a Dask cluster
        if warm.key != self._warm_key(X, Y.shape[1], sample_weight, precision):
            return None
        return warm

    def _print_plan(self, plan, points):
        """The set-up phase, as ``verbose`` reports it before the first epoch."""
        print(
            f"{type(self).__name__}: n = {points.n_samples}, precision "
            f"{np.dtype(points.dtype).name}; beta = {plan.beta:.4g}, lambda_1 = "
            f"{plan.top_eigenvalue:.4g} (plain m* = "
            f"{critical_batch_size(plan.beta, plan.top_eigenvalue):.4g}); subsample "
            f"s = {plan.subsample_size}, q = {plan.n_components}, beta_P = "
            f"{plan.preconditioned_beta:.4g}, lambda_P = "
            f"{plan.preconditioned_top_eigenvalue:.4g}; m* = "
            f"{plan.critical_batch_size:.4g}, batch {plan.batch_size}, step "
            f"{plan.step_size:.4g}"
        )

    def _set_fit_attributes(self, plan, result, monitor, early_stopping, precision):
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
        self.n_stalls_ = result.n_stalls
        self.early_stopping_ = early_stopping
        self.precision_ = precision
        if monitor.scores is None:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_iteration_ = result.n_iter
        else:
            self.validation_scores_ = np.asarray(monitor.scores)
            self.best_validation_score_ = float(monitor.best_score)
            self.best_iteration_ = monitor.best_epoch

    def _not_converged_message(self, result):
        curve = result.convergence_curve
        if result.n_backoffs > MAX_BACKOFFS:
            reason = (
                f"gave up after {result.n_backoffs} step-size back-offs (the "
                "iteration kept diverging; check the kernel and step_size)"
            )
        elif result.stalled:
            return (
                f"{type(self).__name__} stopped because its residual stopped falling: "
                f"{result.n_stalls} times its best over {STALL_WINDOW} epochs was "
                f"less than {STALL_GAIN:.0%} below the best before, at a step size "
                f"halved each time, and the relative residual stays at "
                f"{min(curve) / curve[0]:.3g} > tol={self.tol}. Most likely the "
                "training data cannot be interpolated with this kernel (duplicate "
                "points with different targets, or a singular kernel matrix, such as "
                "gamma=0 or a degree-0 polynomial); the model is then close to the "
                "least-squares fit: set alpha > 0 or check the kernel parameters. "
                "Otherwise the kernel is so smooth that the residual falls too slowly "
                "(raise gamma or set alpha > 0), or that residual is the rounding "
                "floor of the fit's precision (raise tol above it)."
            )
        else:
            reason = f"stopped after max_iter={self.max_iter} epochs"
        if getattr(self, "early_stopping_", False):
            return (
                f"{type(self).__name__} {reason} while its validation score was still "
                f"improving (by more than tol={self.tol} within n_iter_no_change="
                f"{self.n_iter_no_change} epochs). Increase max_iter to fit further."
            )
        return (
            f"{type(self).__name__} {reason} with relative residual "
            f"{curve[-1] / curve[0]:.3g} > tol={self.tol}. Increase max_iter, or "
            "tol to stop earlier."
        )

    def _decision(self, X):
        """``K(X, X_fit_) @ dual_coef_``, 2-D (:func:`sklearn_interp._points.decision`)."""
        check_is_fitted(self)
        return decision(self, X)

    def _validation_score(self, decision, Y, y, sample_weight=None):
        """The estimator's own score of the predictions ``decision`` (2-D, in the
        fitted targets' units) of held-out rows with targets ``y`` and weights
        ``sample_weight``."""
        raise NotImplementedError

    def _score_noise(self, score, n_samples):
        """One standard error of the estimator's own score measured on n_samples."""
        raise NotImplementedError

    def _reconstruction(self, coef, X_fit):
        """Attributes that make a copy of this estimator predict with ``coef``."""
        return {"X_fit_": X_fit, "dual_coef_": coef[:, 0] if coef.shape[1] == 1 else coef}


class _EpochMonitor:
    """What :func:`~sklearn_interp._solver.run_sgd` reports each epoch to: early
    stopping on held-out rows, and scikit-learn's callbacks.

    Parameters
    ----------
    estimator : BaseInterpolatingKernel
        The estimator being fitted (its settings, scorer and callbacks).
    validation : tuple or None
        ``(X_val, Y_val, y_val)``: held-out rows, their fitted targets (encoded and
        normalized) and their targets as given; None without early stopping.
    fitted_points : array
        The training points the coefficients belong to (``X_fit_`` of the model
        of an epoch).
    validation_weight : ndarray of shape (n_val,) or None, default=None
        The held-out rows' sample weights: the scores are weighted means over them.
    scoring_X : array or None, default=None
        The held-out rows as a scorer's ``predict`` takes them, where they differ
        from ``X_val`` (the rows of a precomputed kernel matrix, where ``X_val``
        holds their indices; the rows without the scale column of a weighted ridge
        fit).
    scale : ndarray of shape (n_points,) or None, default=None
        Factors from the fit's coefficients to the model's (``sqrt(w)`` for a
        weighted ridge fit, see :class:`~sklearn_interp._kernel.WeightedKernel`).
    """

    def __init__(
        self,
        estimator,
        *,
        validation,
        fitted_points,
        validation_weight=None,
        scoring_X=None,
        scale=None,
    ):
        self.estimator = estimator
        self.validation = validation
        self.fitted_points = fitted_points
        self.validation_weight = validation_weight
        self.scoring_X = scoring_X
        self.scale = scale
        self.scores = None
        self.reference = None  # the score of the last significant gain
        # With scoring="loss": each held-out row's loss at the current epoch and at
        # the reference, for the paired standard error of a gain (min_gain).
        self.row_losses = None
        self.reference_losses = None
        self.n_no_change = 0
        self.scorer = None
        scoring = estimator.scoring
        if validation is not None and scoring not in (None, "loss"):
            self.scorer = check_scoring(estimator, scoring=scoring)
        self.context = None
        if hasattr(estimator, "_init_callback_context"):
            # One epoch task per epoch, the fold-in epochs', and one left open by the
            # last epoch (the fit can end on convergence, which the monitor is not
            # told of).
            self.context = estimator._init_callback_context(
                max_subtasks=estimator.max_iter + FOLD_IN_EPOCHS + 1
            )
        self.epoch_context = None

    def begin(self, evaluator, *, warm):
        """Score the coefficients the fit starts from (or take the scores of the fit
        it continues), and open the callbacks' fit task."""
        self.evaluator = evaluator
        if self.validation is not None:
            if warm is None:
                score = self.score()
                self.scores = [score]
                self.best_score, self.best_epoch = score, 0
                self.reference = score
                self.reference_losses = self.row_losses
            else:
                # The scores, the best coefficients and the reference of the fit
                # continued.
                self.scores = list(warm.validation_scores)
                self.best_score = self.estimator.best_validation_score_
                self.best_epoch = self.estimator.best_iteration_
                self.reference = warm.reference
                self.reference_losses = warm.reference_losses
            # Patience goes on from the fit continued, unless that fit stopped for
            # want of gains: continuing it asks for more epochs.
            self.n_no_change = 0
            if warm is not None and warm.n_no_change < self.estimator.n_iter_no_change:
                self.n_no_change = warm.n_no_change
            evaluator.keep_best(None if warm is None else warm.best_coef)
        if self.context is not None:
            self.context.call_on_fit_task_begin(estimator=self.estimator)
            self._open_epoch()

    def fold_in(self, evaluator, fitted_points, scale):
        """Go on to the fold-in epochs, over all the rows (their points and scale):
        no held-out rows are left to score it on; the callbacks see it as one more
        epoch."""
        self.evaluator = evaluator
        self.fitted_points = fitted_points
        self.scale = scale
        self.validation = None
        if self.context is not None and self.epoch_context is None:
            self._open_epoch()  # the fit ended on a stop, which closed its epochs

    def _open_epoch(self):
        self.epoch_context = self.context.subcontext(task_name="epoch")
        self.epoch_context.call_on_fit_task_begin(estimator=self.estimator)

    def score(self):
        """The validation score of the evaluator's current coefficients."""
        X_val, Y_val, y_val = self.validation
        weight = self.validation_weight
        if self.scorer is not None:
            model = copy.copy(self.estimator)
            for name, value in self.reconstruction().items():
                setattr(model, name, value)
            X_scored = X_val if self.scoring_X is None else self.scoring_X
            weights = {} if weight is None else {"sample_weight": weight}
            return float(self.scorer(model, X_scored, y_val, **weights))
        decision = self.evaluator.decision(X_val)
        if self.estimator.scoring == "loss":
            self.row_losses = np.mean((decision - Y_val) ** 2, axis=1)
            return -float(np.average(self.row_losses, weights=weight))
        return float(self.estimator._validation_score(decision, Y_val, y_val, weight))

    def min_gain(self):
        """The least gain over the reference score that counts as an improvement:
        ``tol``, and at least SIGNIFICANT_GAIN standard errors of the gain on the
        held-out rows, so that gains within the noise of the held-out set do not keep
        the fit going: for the estimator's own score, the standard error of the
        reference score; for ``scoring="loss"``, the paired standard error of the
        rows' loss differences between the reference epoch and this one (both
        epochs are scored on the same rows, so the rows' own difficulty cancels and
        a small gain that every row shares counts, where noise that moves rows both
        ways does not)."""
        scoring = self.estimator.scoring
        if scoring not in (None, "loss"):
            return self.estimator.tol
        weight = self.validation_weight
        n_samples = len(self.validation[2])
        if weight is not None:
            # Kish's effective number of weighted samples (n_val for equal weights).
            n_samples = weight.sum() ** 2 / np.sum(weight**2)
        if scoring == "loss":
            difference = self.reference_losses - self.row_losses
            spread = np.average(
                (difference - np.average(difference, weights=weight)) ** 2,
                weights=weight,
            )
            noise = np.sqrt(spread / n_samples)
        else:
            noise = self.estimator._score_noise(self.reference, n_samples)
        return max(self.estimator.tol, SIGNIFICANT_GAIN * noise)

    def reconstruction(self):
        coef = self.evaluator.coefficients()
        if self.scale is not None:
            coef = coef * self.scale[:, np.newaxis]
        return self.estimator._reconstruction(coef, self.fitted_points)

    def __call__(self, epoch, evaluator):
        """After a good epoch: True to stop."""
        stop = False
        if self.validation is not None:
            score = self.score()
            self.scores.append(score)
            # Gains count against the score of the last epoch that improved, so that
            # small gains that add up to a significant one keep the fit going.
            if score > self.reference + self.min_gain():
                self.reference = score
                self.reference_losses = self.row_losses
                self.n_no_change = 0
            else:
                self.n_no_change += 1
            if score > self.best_score:
                self.best_score, self.best_epoch = score, epoch
                evaluator.keep_best()
            if self.estimator.verbose:
                print(
                    f"epoch {epoch}: validation score {score:.6g} (best "
                    f"{self.best_score:.6g} at epoch {self.best_epoch}; last "
                    f"significant gain to {self.reference:.6g})"
                )
            stop = self.n_no_change >= self.estimator.n_iter_no_change
        if self.context is not None:
            requested = self.epoch_context.call_on_fit_task_end(
                estimator=self.estimator, reconstruction_attributes=self.reconstruction
            )
            self.epoch_context = None
            stop = stop or bool(requested)
            if not stop:
                self._open_epoch()
        return stop

    def end(self):
        """Close the callbacks' tasks once the fit is over (an epoch task left open
        by the loop's end is closed empty, as scikit-learn's L-BFGS bridge does)."""
        if self.context is not None:
            if self.epoch_context is not None:
                self.epoch_context.call_on_fit_task_end(estimator=self.estimator)
            self.context.call_on_fit_task_end(
                estimator=self.estimator, reconstruction_attributes=self.reconstruction
            )


def _held_out(X, Y, y, split):
    """The training rows of X and Y, their indices (None: all rows), and the
    held-out ``(X, Y, y)`` brought here (None without)."""
    if split is None:
        return X, Y, None, None
    train, held_out = split
    validation = None
    if held_out is not None:
        validation = tuple(gather(array[held_out]) for array in (X, Y, y))
    return X[train], Y[train], train, validation


def _after_fold_in(result, folded):
    """The solver's result of a fit followed by its fold-in epochs: the curve goes on
    with the residual over all the rows, and the epochs, back-offs and stalls add up;
    the step stays the fit's (the fold-in's is at most that)."""
    return Bunch(
        **{
            **result,
            "convergence_curve": np.append(
                result.convergence_curve, folded.convergence_curve[1:]
            ),
            "n_iter": result.n_iter + folded.n_iter,
            "n_backoffs": result.n_backoffs + folded.n_backoffs,
            "n_stalls": result.n_stalls + folded.n_stalls,
        }
    )


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
