"""Training points and predictions, in this process or on a Dask cluster.

The estimators and the planner never ask what kind of X they hold. This module (with
:mod:`sklearn_interp._distributed`, the cluster backend) is where that question is
asked, once, and answered with an object of one surface:

* :func:`validate_training_data` and :func:`encode_classes` check and encode the data;
* :func:`training_points` gives :class:`LocalPoints` (numpy or sparse X) or
  :class:`sklearn_interp._distributed.ShardedPoints` (a dask X). Both provide
  ``n_samples``, ``n_features``, ``dtype``, ``kernel``, ``block_rows``,
  ``diagonal_max()`` (beta), ``take(index)`` (rows and their ``k(x, x)``),
  ``reduced_diagonal_max(X_subsample, eigvecs, scale)`` (the scan for beta_P),
  ``evaluator(preconditioner)`` (a context manager giving the
  :class:`~sklearn_interp._evaluator.Evaluator` of the SGD loop) and ``X_fit`` (the
  training points the model keeps);
* :func:`decision` and :func:`labels_of` predict from a fitted model.

The precision of a fit travels as one thing: the block kernel's ``dtype``.
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

import joblib
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import gen_batches
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._evaluator import LocalEvaluator, single_threaded_blas
from ._kernel import kernel_block_rows
from ._spectrum import reduced_diagonal_max


def is_dask_array(X):
    """Whether X is a ``dask.array.Array`` (False, without importing Dask, if no one
    has imported it)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def validate_training_data(estimator, X, y, **check_params):
    """X and y of a fit, checked as scikit-learn does; ``n_features_in_`` set.

    A dask X keeps its chunks on the cluster (see
    :func:`sklearn_interp._distributed.validate_dask_data`); other X go through
    ``validate_data(estimator, X, y, **check_params)``, CSR or dense float.
    """
    if is_dask_array(X):
        from ._distributed import validate_dask_data

        return validate_dask_data(estimator, X, y)
    return validate_data(
        estimator,
        X,
        y,
        accept_sparse="csr",
        dtype=[np.float64, np.float32],
        **check_params,
    )


def encode_classes(y):
    """Class labels as -1/+1 float64 targets, as scikit-learn's linear classifiers do.

    Returns
    -------
    Y : ndarray or dask array of shape (n_samples, 1) or (n_samples, n_classes)
        One column for two classes, one per class otherwise; a dask y is encoded on
        the workers, and only its distinct labels come here.
    classes : ndarray
        The sorted distinct labels.
    """
    if is_dask_array(y):
        from ._distributed import encode_dask_classes

        return encode_dask_classes(y)
    check_classification_targets(y)
    binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
    return binarizer.fit_transform(y).astype(np.float64), binarizer.classes_


def validation_split(n_samples, validation_fraction, rng, *, stratify=None):
    """Sorted indices of the training and the held-out rows of an early-stopped fit.

    Indices, not rows, so that the same split slices X, its targets and a dask X
    alike (sorted indices keep a dask X's rows in their chunks, on their workers).
    ``stratify`` (class labels) is used for an array; a dask y is split at random,
    since its labels stay on the cluster.
    """
    stratify = None if is_dask_array(stratify) else stratify
    train, held_out = train_test_split(
        np.arange(n_samples),
        test_size=validation_fraction,
        random_state=rng,
        stratify=stratify,
    )
    return np.sort(train), np.sort(held_out)


def gather(array):
    """The array here: a dask array computed, anything else as it is."""
    return array.compute() if is_dask_array(array) else array


def fingerprint(X):
    """A hash of X's values that tells a refit on the same data (a warm start); None
    for a dask X, whose fits start afresh."""
    return None if is_dask_array(X) else joblib.hash(X)


def training_points(X, kernel, *, targets, alpha):
    """The training points of a fit: :class:`LocalPoints` or, for a dask X,
    :class:`sklearn_interp._distributed.ShardedPoints` on the current cluster.

    Parameters
    ----------
    X : ndarray, sparse matrix or dask array of shape (n_samples, n_features)
        Validated training data.
    kernel : BlockKernel
        In the compute precision of the fit.
    targets : ndarray or dask array of shape (n_samples, n_outputs), float64
    alpha : float
        Ridge term.
    """
    if is_dask_array(X):
        from ._distributed import ShardedPoints

        return ShardedPoints(X, kernel, targets=targets, alpha=alpha)
    return LocalPoints(X, kernel, targets=targets, alpha=alpha)


class LocalPoints:
    """Training points held in this process.

    ``starts_from_coefficients`` says that :meth:`evaluator` takes initial
    coefficients (a warm start, the fold-in of early stopping's held-out rows).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Training points (kept as ``X_fit``); the fit works on a copy in the kernel's
        precision where X is in another.
    kernel : BlockKernel
        In the compute precision.
    targets : ndarray of shape (n_samples, n_outputs), float64, default=None
        Needed by :meth:`evaluator` only.
    alpha : float, default=0.0
        Ridge term.
    block_rows : int, default=None
        Most kernel rows against all n points alive at once; None: the memory budget's
        (:func:`~sklearn_interp._kernel.kernel_block_rows`).
    """

    starts_from_coefficients = True

    def __init__(self, X, kernel, *, targets=None, alpha=0.0, block_rows=None):
        self.X_fit = X
        self.X = X.astype(kernel.dtype, copy=False)
        self.kernel = kernel
        self.dtype = kernel.dtype
        self.targets = targets
        self.alpha = alpha
        self.n_samples, self.n_features = X.shape
        self.block_rows = (
            kernel_block_rows(self.n_samples, self.dtype)
            if block_rows is None
            else block_rows
        )
        self.diagonal = kernel.diagonal(self.X)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        """Nothing to release here."""

    def diagonal_max(self):
        """``max_i k(x_i, x_i)``."""
        return float(self.diagonal.max())

    def take(self, index):
        """Rows ``index`` in the compute precision, and their ``k(x, x)``."""
        return self.X[index], self.diagonal[index]

    def reduced_diagonal_max(self, X_subsample, eigvecs, scale):
        """The preconditioned beta over all rows, in blocks (see
        :func:`sklearn_interp._spectrum.reduced_diagonal_max`)."""
        return reduced_diagonal_max(
            self.kernel, self.X, X_subsample, eigvecs, scale, self.diagonal, self.block_rows
        )

    @contextmanager
    def evaluator(self, preconditioner=None, initial=None):
        """The :class:`~sklearn_interp._evaluator.LocalEvaluator` of a fit.

        With a preconditioner, the points are put in the solver's order, the subsample
        first: K(X_B, X_S) is then the leading columns of every block, read in place.
        For its duration BLAS runs single-threaded and the evaluator's own threads
        take the cores. ``initial`` (n_samples, n_outputs) are coefficients to start
        from (a warm start), in the points' own order.
        """
        X, Y, diagonal, order, n_subsample = self.X, self.targets, self.diagonal, None, 0
        if preconditioner is not None:
            subsample = preconditioner.subsample
            n_subsample = len(subsample)
            order = np.concatenate(
                [subsample, np.setdiff1d(np.arange(self.n_samples), subsample)]
            )
            X, Y, diagonal = X[order], Y[order], diagonal[order]
            initial = None if initial is None else initial[order]
        with (
            single_threaded_blas() as n_threads,
            (
                ThreadPoolExecutor(max_workers=n_threads)
                if n_threads > 1
                else nullcontext()
            ) as pool,
        ):
            yield LocalEvaluator(
                X,
                Y,
                self.kernel,
                diagonal=diagonal,
                alpha=self.alpha,
                n_subsample=n_subsample,
                block_rows=self.block_rows,
                pool=pool,
                n_threads=n_threads,
                order=order,
                initial=initial,
            )


def decision(estimator, X):
    """``K(X, X_fit_) @ dual_coef_`` (2-D, float64) of a fitted estimator.

    Local X against a local model: row blocks within the memory budget. A dask X, or a
    model fitted on a cluster: computed blockwise by Dask (a dask array for a dask X).
    """
    kernel = estimator._kernel()
    coef = estimator.dual_coef_
    coef = coef[:, np.newaxis] if coef.ndim == 1 else coef
    if is_dask_array(X) or is_dask_array(estimator.X_fit_):
        from ._distributed import dask_decision

        return dask_decision(estimator, kernel, X, estimator.X_fit_, coef)
    X = validate_data(
        estimator, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False
    )
    X_fit = estimator.X_fit_
    kernel_rows = kernel.rows_against(X_fit)  # X_fit_'s share once
    out = np.empty((X.shape[0], coef.shape[1]))
    for rows in gen_batches(X.shape[0], kernel_block_rows(X_fit.shape[0], kernel.dtype)):
        out[rows] = kernel_rows(X[rows]) @ coef
    return out


def labels_of(scores, classes):
    """Class labels of decision values: the sign for two classes, else the argmax."""
    if is_dask_array(scores):
        return scores.map_blocks(
            labels_of,
            classes,
            drop_axis=[] if scores.ndim == 1 else [1],
            dtype=classes.dtype,
        )
    if scores.ndim == 1:
        return classes[(scores > 0).astype(int)]
    return classes[np.argmax(scores, axis=1)]
