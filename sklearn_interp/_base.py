"""Shared parameters, validation and fit recipe of the two estimators."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _solver
from ._backend import is_dask_array
from ._centers import (
    center_points,
    check_centers_supported,
    choose_centers,
    resolve_n_centers,
)
from ._early_stopping import (
    EARLY_STOPPING_MIN_SAMPLES,
    N_ITER_NO_CHANGE,
    EpochMonitor,
)
from ._fold_in import after_fold_in, fold_in
from ._kernel import make_kernel, resolve_gamma
from ._plan import plan_fit
from ._points import (
    decision,
    positive_rows,
    training_points,
    unmerge,
    validation_split,
)
from ._precomputed import PrecomputedKernel
from ._problem import fit_problem
from ._solver import MAX_BACKOFFS, STALL_GAIN, STALL_WINDOW
from ._spectrum import critical_batch_size
from ._warm_start import WarmState, continued_state, warm_key
from ._weights import WeightedKernel

try:  # scikit-learn >= 1.9: est.set_callbacks(ProgressBar()) reports the epochs
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # older scikit-learn: no callbacks

    class CallbackSupportMixin:
        """Stands in for scikit-learn's callback support where it has none."""


COMPUTE_DTYPES = {"float64": np.float64, "float32": np.float32}


# Parameter documentation shared by both estimators, written once.
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
        "n_centers": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
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
        n_centers="auto",
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
        self.n_centers = n_centers
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
        n_train = n_rows if split is None else len(split[0])
        n_centers = resolve_n_centers(self, n_train, COMPUTE_DTYPES[precision])
        with_centers = n_centers < n_train
        if with_centers:
            check_centers_supported(self, X)
        data = fit_problem(
            X,
            Y,
            y,
            sample_weight,
            split,
            alpha=self.alpha,
            precomputed=self.kernel == "precomputed",
            scorer_rows=self.scoring not in (None, "loss"),
            centers=with_centers,
        )

        kernel = self._kernel(COMPUTE_DTYPES[precision], X)
        if with_centers:
            data.centers = warm.centers if warm is not None else None
            if data.centers is None:
                data.centers = choose_centers(data.X, n_centers, rng)
            if is_dask_array(data.X):
                # The rows stay on the cluster, the centers come here.
                from ._distributed_centers import ShardedCenterPoints

                points = ShardedCenterPoints(
                    data.X, data.centers, kernel, targets=data.Y, alpha=data.ridge
                )
            else:
                points = center_points(data, kernel)
        else:
            if data.scale is not None:
                kernel = WeightedKernel(kernel)
            points = training_points(data.X, kernel, targets=data.Y, alpha=data.ridge)
        with points:
            plan = self._plan(points, rng, data.ridge) if warm is None else warm.plan
            if self.verbose:
                self._print_plan(plan, points)
            monitor = EpochMonitor(
                self,
                validation=data.validation,
                fitted_points=(
                    points.X_fit if data.fitted_points is None else data.fitted_points
                ),
                validation_weight=data.validation_weight,
                scoring_X=data.scoring_X,
                scale=data.scale,
            )
            folding_in = data.validation is not None and points.starts_from_coefficients
            result, coef, last_coef = self._run_sgd(
                points, plan, rng, monitor, warm, last=not folding_in
            )
        # The rows fitted (as given: unmerged), or a precomputed kernel's columns.
        self.X_fit_ = points.X_fit if data.X_fit is None else data.X_fit
        if folding_in and with_centers:
            # The centers' factor serves the fold-in (the same centers and subsample).
            data.center_factor = points.factor
        points = None  # its copy of the rows is not needed by the fold-in
        best_coef, reported, centers = coef, result, data.centers
        if folding_in:
            # The precision of an early-stopped fit.
            fold_in_kernel = self._kernel(COMPUTE_DTYPES[self._precision(True)], X)
            coef, data, folded = fold_in(
                self,
                fold_in_kernel,
                X,
                Y,
                sample_weight,
                split,
                data,
                plan,
                rng,
                monitor,
                coef,
                result,
            )
            reported = after_fold_in(result, folded)
        self._set_fit_attributes(plan, reported, monitor, early_stopping, precision)
        self.n_centers_ = self.X_fit_.shape[0]
        self._warm = None
        if self.warm_start:
            self._warm = WarmState(
                key=self._warm_key(X, Y.shape[1], sample_weight, precision),
                rng=rng,
                split=split,
                plan=plan,
                result=result,
                validation_scores=monitor.rule.scores,
                reference=monitor.rule.reference,
                reference_losses=monitor.rule.reference_losses,
                n_no_change=monitor.rule.n_no_change,
                best_coef=best_coef,
                last_coef=last_coef,
                centers=centers,
            )
        # With centers the problem is least squares: a residual that stops falling
        # (a stall) is its solution reached, not a failure to interpolate.
        done = result.converged or result.stopped or (with_centers and result.stalled)
        if not done:
            # stacklevel 4: _fit_targets <- fit <- _fit_context's wrapper <- the caller.
            message = self._not_converged_message(result, with_centers)
            warnings.warn(message, ConvergenceWarning, 4)
        if with_centers:
            return coef
        return unmerge(data.model_coefficients(coef), data.merged)

    def _run_sgd(self, points, plan, rng, monitor, warm, *, last):
        """The epochs of the fit over ``points``: the solver's result, the coefficients
        kept (the best epoch's with early stopping) and the last ones (for a warm
        start, or None). ``last``: no fold-in epochs follow, and the monitor's tasks
        end here."""
        with points.evaluator(
            plan.preconditioner, initial=None if warm is None else warm.last_coef
        ) as evaluator:
            monitor.begin(evaluator, warm=warm)
            result = _solver.run_sgd(
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
            if monitor.rule.scores is not None:
                evaluator.restore_best()
            if last:
                monitor.end()
            return result, evaluator.coefficients(), last_coef

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
        return warm_key(self.get_params(), X, n_outputs, sample_weight, precision)

    def _warm_state(self, X, Y, sample_weight, precision):
        """The state to continue from, if ``warm_start`` and the data and settings are
        those of the last fit; else None."""
        warm = getattr(self, "_warm", None) if self.warm_start else None
        return continued_state(
            warm, lambda: self._warm_key(X, Y.shape[1], sample_weight, precision)
        )

    def _print_plan(self, plan, points):
        """The set-up phase, as ``verbose`` reports it before the first epoch."""
        centers = getattr(points, "n_centers", None)
        print(
            f"{type(self).__name__}: n = {points.n_samples}"
            f"{'' if centers is None else f', {centers} centers'}, precision "
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
        if monitor.rule.scores is None:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_iteration_ = result.n_iter
        else:
            self.validation_scores_ = np.asarray(monitor.rule.scores)
            self.best_validation_score_ = float(monitor.rule.best_score)
            self.best_iteration_ = monitor.rule.best_epoch

    def _not_converged_message(self, result, with_centers=False):
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
        if with_centers:
            return (
                f"{type(self).__name__} {reason} with relative residual "
                f"{curve[-1] / curve[0]:.3g}, still falling. With {self.n_centers_} "
                f"centers (n_centers={self.n_centers!r}) the model does not "
                "interpolate: its least-squares "
                "fit ends when the residual stops falling, by early stopping, or at "
                "max_iter. Increase max_iter, or set early_stopping=True."
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
