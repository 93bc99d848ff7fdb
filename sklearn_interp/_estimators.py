"""InterpolatingKernelRegressor and InterpolatingKernelClassifier."""

from contextlib import contextmanager

import numpy as np
from sklearn.base import ClassifierMixin, MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score

from ._base import BaseInterpolatingKernel
from ._docs import fill_doc
from ._early_stopping import N_ITER_NO_CHANGE
from ._points import (
    encode_classes,
    gather,
    labels_of,
    positive_rows,
    validate_training_data,
)

# Without normalize_y, targets whose largest magnitude lies outside [2**-32, 2**32] are
# fitted divided by a power of two near it: far inside float32's normal range (its
# coefficient mirror) and far from the overflow of float64's squared residual sums.
TARGET_SCALE_EXPONENT = 32


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


def _power_of_two_scale(Y):
    """Per output, the power of two at or below the largest magnitude (1 for an
    all-zero output). Division by it is exact in floating point."""
    largest = np.asarray(gather(abs(Y).max(axis=0)), dtype=np.float64)
    exponent = np.floor(np.log2(np.where(largest > 0, largest, 1.0)))
    return np.ldexp(1.0, exponent.astype(int))


@fill_doc
class InterpolatingKernelRegressor(
    MultiOutputMixin, RegressorMixin, BaseInterpolatingKernel
):
    """Kernel regression fitted by mini-batch SGD at the critical batch size.

    Fits ``f(x) = sum_i dual_coef_[i] k(x_i, x)`` to the training targets by mini-batch
    SGD on the square loss, in the interpolation regime of Ma, Bassily and Belkin [1]_:
    with ``alpha=0`` it converges to the minimum-norm interpolant of the training data,
    with ``alpha > 0`` to the solution of :class:`~sklearn.kernel_ridge.KernelRidge`.
    During ``fit`` it estimates the kernel operator's spectrum on a subsample, computes
    the critical batch size m*, and chooses the batch size and the optimal step size
    from it. An EigenPro preconditioner [2]_ [3]_ raises m* so that each step is a large
    matrix product. No n x n matrix is ever formed: memory grows as n times the batch.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    %(parameters)s
    normalize_y : bool, default=True
        Fit the targets centred on their mean and scaled by their standard deviation
        (per output), as :class:`~sklearn.gaussian_process.GaussianProcessRegressor`
        does, and undo it in ``predict``: SGD then spends no epochs on the mean, and
        far from the training data the model predicts the mean, not 0. Training points
        are interpolated either way. With ``alpha > 0`` the fit converges to
        KernelRidge's solution for the centred targets plus the mean; set
        ``normalize_y=False`` for exactly ``KernelRidge(alpha=alpha)``'s solution.
        With ``sample_weight``, the weighted mean and standard deviation. Targets of
        any finite size are fitted, with or without it: targets whose largest
        magnitude lies outside ``[2**-32, 2**32]`` are fitted divided by a power of
        two near it (exact, and undone in ``predict``), and the regressor's
        ``dual_coef_`` is then in those units: ``predict`` is ``K(X, X_fit_) @
        dual_coef_`` times that power of two, plus the mean with ``normalize_y``.

    Attributes
    ----------
    %(attributes)s
    See Also
    --------
    InterpolatingKernelClassifier : The same solver for classification.
    sklearn.kernel_ridge.KernelRidge : Exact solution, O(n^2) memory and O(n^3) time.
    sklearn.linear_model.SGDRegressor : SGD on linear models.
    sklearn.kernel_approximation.Nystroem : Approximate kernel features for linear models.

    Notes
    -----
    Each epoch visits the training points once in random batches B of size m; with
    residual ``g = K[B, :] a - y_B + alpha a_B`` the update is
    ``a_B <- a_B - (eta / m) g`` (randomized block Kaczmarz; m = 1 and eta = 1 / beta is
    Kaczmarz's method), plus the EigenPro correction on the subsample S,
    ``a_S <- a_S + (eta / m) (1 / s) U D U^T K(X_S, X_B) g``.

    With beta = max_i k(x_i, x_i) and lambda_1 the top eigenvalue of K/n, the critical
    batch size is ``m* = beta / lambda_1 + 1``. Below m*, the optimal step is
    ``eta = m / beta`` and a batch of m does the work of m single steps (linear
    scaling); above m*, ``eta = 2 m / (beta + (m - 1) lambda_1)`` and each step is worth
    about one full gradient step (saturation). Both are on the edge of stability at
    m*, so the automatic step is the smaller of the two, the second damped by 0.99.
    The preconditioner replaces lambda_1 by about lambda_{q+1} and beta by beta_P.

    On a Dask cluster (``pip install "sklearn-interp[dask]"``): ``fit`` given a
    ``dask.array.Array`` X runs on the current ``dask.distributed`` Client, with X's row
    chunks, their targets and coefficients kept on the workers that hold them; each
    step sends the batch to every worker, which multiplies its kernel block against its
    own coefficients. With the same ``random_state`` it fits the same model as on numpy
    input, up to rounding. ``X_fit_`` and ``dual_coef_`` then stay on the cluster as
    dask arrays; predictions on numpy input are computed there, on a dask array they
    are a dask array. With model centers (``n_centers``, or "auto" above 100,000
    rows) the rows stay on the workers and the model, p rows, comes to this process
    as numpy arrays. Under ``joblib.parallel_backend("dask")``, GridSearchCV runs its
    fits on the workers. See the "Scaling out with Dask" page of the documentation.

    References
    ----------
    %(references)s
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_interp import InterpolatingKernelRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(200, 2))
    >>> y = np.sin(3 * X[:, 0]) * X[:, 1]
    >>> model = InterpolatingKernelRegressor(gamma=2.0, random_state=0).fit(X, y)
    >>> model.batch_size_ <= model.critical_batch_size_
    True
    >>> bool(model.convergence_curve_[-1] <= 1e-4 * model.convergence_curve_[0])
    True
    """

    _parameter_constraints: dict = {
        **BaseInterpolatingKernel._parameter_constraints,
        "normalize_y": ["boolean"],
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
        normalize_y=True,
    ):
        super().__init__(
            kernel=kernel,
            gamma=gamma,
            degree=degree,
            coef0=coef0,
            kernel_params=kernel_params,
            alpha=alpha,
            batch_size=batch_size,
            step_size=step_size,
            n_components=n_components,
            subsample_size=subsample_size,
            max_iter=max_iter,
            tol=tol,
            early_stopping=early_stopping,
            scoring=scoring,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            warm_start=warm_start,
            precision=precision,
            n_centers=n_centers,
            random_state=random_state,
            verbose=verbose,
        )
        self.normalize_y = normalize_y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the kernel machine by mini-batch SGD.

        Parameters
        ----------
        %(fit_X)s
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : float or array-like of shape (n_samples,), default=None
            %(sample_weight)s

        Returns
        -------
        self : object
            Fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_interp import InterpolatingKernelRegressor
        >>> X = np.linspace(0, 1, 30).reshape(-1, 1)
        >>> model = InterpolatingKernelRegressor(gamma=50.0, random_state=0)
        >>> model.fit(X, np.sin(6 * X).ravel()).n_iter_ <= model.max_iter
        True
        """
        with restored_on_failure(self):
            X, y, sample_weight = validate_training_data(
                self, X, y, sample_weight, multi_output=True, y_numeric=True
            )
            Y = y.astype(np.float64)
            Y = Y[:, np.newaxis] if y.ndim == 1 else Y
            coef = self._fit_targets(X, Y, y, sample_weight)
            self.dual_coef_ = coef[:, 0] if y.ndim == 1 else coef
        return self

    def _normalized_targets(self, Y, sample_weight):
        """Y centred and scaled (``normalize_y``) by its (weighted) mean and standard
        deviation; the shift and scale are kept for ``predict`` as ``_y_mean`` and
        ``_y_std``.

        Every output is first divided by a power of two near its largest magnitude
        (:func:`_power_of_two_scale`), which is exact: for targets of ordinary size
        the statistics are the same to the bit, and for targets near the ends of
        float64's range the variance neither overflows (1e200: NaN predictions) nor
        underflows (1e-200: the targets taken for constants). Without
        ``normalize_y`` that power of two alone is the scale, for targets outside
        ``[2**-TARGET_SCALE_EXPONENT, 2**TARGET_SCALE_EXPONENT]``: the fit is linear
        in the targets, and its residuals (squared and summed in float64, the
        coefficients mirrored in float32) must stay finite and normal.
        """
        n_outputs = Y.shape[1]
        self._y_mean, self._y_std = np.zeros(n_outputs), np.ones(n_outputs)
        scale = _power_of_two_scale(Y)
        scaled = Y / scale
        # Equal weights are no weights here: the unweighted statistics, to the bit.
        weighted = sample_weight is not None and (sample_weight != sample_weight[0]).any()
        if self.normalize_y and weighted:
            mean = np.average(scaled, axis=0, weights=sample_weight)
            variance = np.average((scaled - mean) ** 2, axis=0, weights=sample_weight)
            std = np.sqrt(variance)
        elif self.normalize_y:
            mean = np.asarray(gather(scaled.mean(axis=0)), dtype=np.float64)
            std = np.asarray(gather(scaled.std(axis=0)), dtype=np.float64)
        if self.normalize_y:
            self._y_mean = mean * scale
            # Constant targets: nothing to scale.
            self._y_std = np.where(std > 0, std, 1.0) * scale
            return (scaled - mean) / np.where(std > 0, std, 1.0)
        extreme = (scale > 2.0**TARGET_SCALE_EXPONENT) | (
            scale < 2.0**-TARGET_SCALE_EXPONENT
        )
        self._y_std = np.where(extreme, scale, 1.0)
        return Y / self._y_std

    def _predictions(self, decision, single_output):
        """Predictions from decision values in the fitted (normalized) units; one
        column comes back 1-D for single-output targets."""
        prediction = decision * self._y_std + self._y_mean
        return prediction[:, 0] if single_output else prediction

    def _validation_score(self, decision, Y, y, sample_weight=None):
        # During fit: dual_coef_ is not set yet, y's shape says which output it is.
        return r2_score(
            y, self._predictions(decision, y.ndim == 1), sample_weight=sample_weight
        )

    def _score_noise(self, score, n_samples):
        # R^2 = 1 - MSE / var(y); with Gaussian residuals the MSE of n samples has a
        # relative standard error of sqrt(2 / n).
        return max(0.0, 1.0 - score) * np.sqrt(2.0 / n_samples)

    def _reconstruction(self, coef, X_fit):
        return {
            **super()._reconstruction(coef, X_fit),
            "_y_mean": self._y_mean,
            "_y_std": self._y_std,
        }

    def predict(self, X):
        """Predict with the fitted kernel machine.

        Parameters
        ----------
        %(predict_X)s

        Returns
        -------
        y_pred : ndarray or dask array of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, float64.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_interp import InterpolatingKernelRegressor
        >>> X = np.linspace(0, 1, 30).reshape(-1, 1)
        >>> y = np.sin(6 * X).ravel()
        >>> model = InterpolatingKernelRegressor(gamma=50.0, random_state=0).fit(X, y)
        >>> bool(np.allclose(model.predict(X), y, atol=0.05))
        True
        """
        return self._predictions(self._decision(X), self.dual_coef_.ndim == 1)


@fill_doc
class InterpolatingKernelClassifier(ClassifierMixin, BaseInterpolatingKernel):
    """Kernel classifier fitted by mini-batch SGD at the critical batch size.

    Encodes the classes as scikit-learn's linear classifiers do (one column of -1/+1
    for two classes, one -1/+1 column per class otherwise), fits the kernel machine
    ``f(x) = sum_i dual_coef_[i] k(x_i, x)`` to these targets by the SGD of
    :class:`InterpolatingKernelRegressor` (interpolation for ``alpha=0``, KernelRidge's
    solution for ``alpha > 0``), and predicts the class of the largest decision value.
    Batch and step size are chosen from the estimated critical batch size m* [1]_.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    %(parameters)s
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    %(attributes)s
    See Also
    --------
    InterpolatingKernelRegressor : The same solver for regression; see its Notes.
    sklearn.kernel_ridge.KernelRidge : Exact kernel ridge regression.
    sklearn.linear_model.RidgeClassifier : The same target encoding on linear models.
    sklearn.svm.SVC : Kernel support vector classifier.

    Notes
    -----
    The update, m* and the two step-size regimes are those of
    :class:`InterpolatingKernelRegressor`, applied to all encoded columns at once; so is
    the fit on a Dask cluster when X is a ``dask.array.Array`` (the labels are encoded
    on the workers; only the distinct classes come to the driver).

    References
    ----------
    %(references)s
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_interp import InterpolatingKernelClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    >>> clf.classes_
    array([0, 1, 2])
    >>> float(clf.score(X, y))
    1.0
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the kernel classifier by mini-batch SGD.

        Parameters
        ----------
        %(fit_X)s
        y : array-like or dask array of shape (n_samples,)
            Class labels (numbers or strings), at least two distinct among the
            samples of positive weight.
        sample_weight : float or array-like of shape (n_samples,), default=None
            %(sample_weight)s

        Returns
        -------
        self : object
            Fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import make_moons
        >>> from sklearn_interp import InterpolatingKernelClassifier
        >>> X, y = make_moons(n_samples=100, noise=0.1, random_state=0)
        >>> clf = InterpolatingKernelClassifier(gamma=5.0, random_state=0).fit(X, y)
        >>> clf.classes_
        array([0, 1])
        """
        with restored_on_failure(self):
            X, y, sample_weight = validate_training_data(self, X, y, sample_weight)
            # The classes are those of the samples fitted: of positive weight.
            rows = positive_rows(sample_weight)
            Y, classes = encode_classes(y if rows is None else y[rows])
            if rows is not None:
                # Targets of the zero-weight rows, which the fit leaves out, are 0.
                Y = _spread(Y, rows, len(y))
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the "
                    f"data, but the data contains only one class: {classes[0]!r}."
                )
            self.classes_ = classes
            coef = self._fit_targets(X, Y, y, sample_weight)
            self.dual_coef_ = coef[:, 0] if Y.shape[1] == 1 else coef
        return self

    def _stratify(self, y):
        return y

    def _validation_score(self, decision, Y, y, sample_weight=None):
        scores = decision[:, 0] if decision.shape[1] == 1 else decision
        return accuracy_score(
            y, labels_of(scores, self.classes_), sample_weight=sample_weight
        )

    def _score_noise(self, score, n_samples):
        # The binomial standard error of an accuracy measured on n samples.
        return np.sqrt(max(0.0, score * (1.0 - score)) / n_samples)

    def decision_function(self, X):
        """Decision values f(x) of the encoded classes.

        Parameters
        ----------
        %(predict_X)s

        Returns
        -------
        scores : ndarray or dask array of shape (n_samples,) or (n_samples, n_classes)
            For two classes, positive values mean ``classes_[1]``.

        Examples
        --------
        >>> from sklearn.datasets import make_moons
        >>> from sklearn_interp import InterpolatingKernelClassifier
        >>> X, y = make_moons(n_samples=100, noise=0.1, random_state=0)
        >>> clf = InterpolatingKernelClassifier(gamma=5.0, random_state=0).fit(X, y)
        >>> clf.decision_function(X[:3]).shape
        (3,)
        """
        scores = self._decision(X)
        return scores.ravel() if self.dual_coef_.ndim == 1 else scores

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        %(predict_X)s

        Returns
        -------
        labels : ndarray or dask array of shape (n_samples,)
            Labels from ``classes_``.

        Examples
        --------
        >>> from sklearn.datasets import make_moons
        >>> from sklearn_interp import InterpolatingKernelClassifier
        >>> X, y = make_moons(n_samples=100, noise=0.1, random_state=0)
        >>> clf = InterpolatingKernelClassifier(gamma=5.0, random_state=0).fit(X, y)
        >>> bool((clf.predict(X) == y).all())  # it interpolates its training labels
        True
        """
        return labels_of(self.decision_function(X), self.classes_)


def _spread(values, rows, n_rows):
    """``values`` at ``rows`` of an array of ``n_rows`` rows, 0 elsewhere."""
    out = np.zeros((n_rows, *values.shape[1:]), dtype=values.dtype)
    out[rows] = values
    return out
