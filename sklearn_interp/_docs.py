"""Docstring text the two estimators share, filled in by :func:`fill_doc`."""

from ._early_stopping import N_ITER_NO_CHANGE

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
        epoch. Capped at ``subsample_size - 1`` and by the memory budget. With
        ``n_centers``, "auto" has no cap of 512 (see the user guide's "Model
        centers").

    subsample_size : int or "auto", default="auto"
        Number s of training points whose kernel matrix estimates the spectrum
        (lambda_1 and the preconditioner). "auto" is ``min(n_samples, 2000)``, reduced
        if the s x s matrix would not fit the memory budget. With ``n_centers``, s
        points are drawn among the centers, and "auto" is all of them within the
        budget (6,688 at the default ``working_memory``).

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

    n_centers : "auto", int or None, default="auto"
        Number p of model centers. None (or at least the number of training rows):
        every training row is a center, the exact model. "auto": the exact model on
        up to 100,000 training rows (and always for ``kernel="precomputed"``);
        above that, the largest p whose p x p factor fits in half of
        scikit-learn's ``working_memory`` (11,585 centers in float32, 8,192 in
        float64, at the default 1,024 MiB; raise it with
        ``sklearn.config_context(working_memory=...)`` for more), with the time
        of an epoch then linear in the rows. ``n_centers_`` reports the choice.
        An int p below the number of training rows: the
        model is ``f(x) = sum_j a_j k(x, z_j)`` over p centers drawn uniformly
        among the training rows, passing over a row identical to one already drawn
        (by ``random_state``), fitted to all rows by
        least squares, ``(K_Zn W K_nZ + alpha K_ZZ) a = K_Zn W y`` (the Nystrom
        KernelRidge solution for these centers). The SGD runs in the centers'
        Nystrom features, whose spectrum is the kernel's, so the critical batch
        size and the step come from the same plan; every step is projected onto
        the centers with a Cholesky factor of ``K_ZZ`` (p x p in the compute
        precision: mind 4 p^2 bytes in float32, 8 p^2 in float64), the EigenPro
        subsample is drawn among the centers. An epoch costs
        n x p kernel entries, ``predict`` p per point, and the model keeps p rows.
        The model does not interpolate: the fit ends when the residual stops
        falling (a stall is its least-squares floor), by early stopping, or at
        ``max_iter``. Not for ``kernel="precomputed"``. On a dask X the rows stay
        on the workers and the centers, coefficients and factor with the driver.

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

    n_centers_ : int
        Number of model centers: the rows of ``X_fit_`` (for the exact model,
        every training row).

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
        the workers, without early stopping's held-out rows. With ``n_centers``
        below the number of training rows, the rows of the p centers.

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


SHARED_FIT_X = """\
X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. A ``dask.array.Array`` runs the fit on the current
            ``dask.distributed`` cluster, its row chunks sharded over the workers
            (see the Notes of the class). For ``kernel="precomputed"``, the kernel
            matrix ``K(X_train, X_train)`` of shape (n_samples, n_samples)."""


SHARED_PREDICT_X = """\
X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples. A dask array gives a dask array, computed blockwise. For
            ``kernel="precomputed"``, the kernel matrix ``K(X, X_train)`` against
            the training samples, of shape (n_samples, n_train)."""


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
    docstring, and the shared X and sample_weight text into the docstrings of the
    methods it defines."""
    replacements = [
        ("%(parameters)s", SHARED_PARAMETERS),
        ("%(attributes)s", SHARED_ATTRIBUTES),
        ("%(references)s", SHARED_REFERENCES),
        ("%(n_iter_no_change)s", str(N_ITER_NO_CHANGE)),
        ("%(sample_weight)s", SHARED_SAMPLE_WEIGHT),
        ("%(fit_X)s", SHARED_FIT_X),
        ("%(predict_X)s", SHARED_PREDICT_X),
    ]
    for key, text in replacements:
        cls.__doc__ = cls.__doc__.replace(key, text)
    for method in vars(cls).values():
        if callable(method) and method.__doc__:
            for key, text in replacements:
                method.__doc__ = method.__doc__.replace(key, text)
    return cls
