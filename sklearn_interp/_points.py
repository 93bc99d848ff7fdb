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

from contextlib import contextmanager

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import Bunch, gen_batches
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_array, validate_data

from . import _solver
from ._backend import is_dask_array
from ._evaluator import LocalEvaluator
from ._kernel import kernel_block_rows, kernel_product
from ._parallel import evaluator_threads, map_row_chunks
from ._spectrum import reduced_diagonal_max

# Entries of a dense X hashed at once when looking for identical rows: the chunk's
# words are the only copy of X made, 8 MB at 2^20 entries.
HASH_CHUNK_ENTRIES = 2**20


def validate_training_data(estimator, X, y, sample_weight=None, **check_params):
    """X, y and sample_weight of a fit, checked as scikit-learn does;
    ``n_features_in_`` set.

    A dask X keeps its chunks on the cluster (see
    :func:`sklearn_interp._dask_data.validate_dask_data`); other X go through
    ``validate_data(estimator, X, y, **check_params)``, CSR or dense float. For
    ``kernel="precomputed"`` X is the square training kernel matrix.

    Returns
    -------
    X, y : validated arrays (dask arrays for a fit on a cluster)
    sample_weight : ndarray of shape (n_samples,), float64, or None
        Checked by ``_check_sample_weight`` (a number means that weight for every
        sample; negative, non-finite or all-zero weights and a wrong shape raise).
    """
    precomputed = estimator.kernel == "precomputed"
    if is_dask_array(X):
        for name, given in [
            ("sample_weight", sample_weight is not None),
            ('kernel="precomputed"', precomputed),
        ]:
            if given:
                raise NotImplementedError(
                    f"{type(estimator).__name__} does not support {name} in a fit "
                    "on a Dask cluster (X is a dask array); pass X.compute() to fit "
                    f"in this process, or leave out {name}."
                )
        from ._dask_data import validate_dask_data

        return (*validate_dask_data(estimator, X, y), None)
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse="csr",
        dtype=[np.float64, np.float32],
        **check_params,
    )
    if precomputed and X.shape[0] != X.shape[1]:
        raise ValueError(
            'With kernel="precomputed", X in fit must be the square kernel matrix '
            "K(X_train, X_train) of shape (n_samples, n_samples); got X of shape "
            f"{X.shape}."
        )
    if sample_weight is not None:
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        bad = sample_weight[~np.isfinite(sample_weight)]
        if len(bad):
            # A number passed as sample_weight is not checked by check_array.
            raise ValueError(f"sample_weight must be finite, got {float(bad[0])}.")
    return X, y, sample_weight


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
        from ._dask_data import encode_dask_classes

        return encode_dask_classes(y)
    check_classification_targets(y)
    binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
    return binarizer.fit_transform(y).astype(np.float64), binarizer.classes_


def validation_split(n_samples, validation_fraction, rng, *, stratify=None, rows=None):
    """Sorted indices of the training and the held-out rows of an early-stopped fit.

    Indices, not rows, so that the same split slices X, its targets and a dask X
    alike (sorted indices keep a dask X's rows in their chunks, on their workers).
    ``stratify`` (class labels of the rows split) is used for an array; a dask y is
    split at random, since its labels stay on the cluster. ``rows`` (sorted indices,
    n_samples of them) splits only these rows of X: those of positive weight.
    """
    stratify = None if is_dask_array(stratify) else stratify
    train, held_out = train_test_split(
        np.arange(n_samples),
        test_size=validation_fraction,
        random_state=rng,
        stratify=stratify,
    )
    train, held_out = np.sort(train), np.sort(held_out)
    if rows is not None:
        return rows[train], rows[held_out]
    return train, held_out


def positive_rows(sample_weight):
    """Indices of the rows of positive weight, or None for all rows (no weights, or
    none zero). A row of zero weight adds nothing to the weighted loss, so the fit
    leaves it out, as KernelRidge's zero coefficient does."""
    if sample_weight is None or (sample_weight > 0).all():
        return None
    return np.flatnonzero(sample_weight > 0)


def merge_duplicates(X, Y, sample_weight):
    """The fit's points: rows of X that are identical (bitwise) merged into one point.

    In the weighted loss ``sum_i w_i ||y_i - f(x_i)||^2`` the rows of one point x
    only meet through f(x): together they are the point x with the summed weight W
    and their weighted mean target (up to a constant of the loss). So the ridge fit
    of the merged points is KernelRidge's fit of the rows, and for ``alpha=0`` the
    merged point is interpolated at the mean target, the limit of KernelRidge's fit
    as alpha tends to 0, where the rows as given make an inconsistent system.

    When rows were merged or the weights differ, the merged points come in one
    canonical order (by a hash of their bytes), whatever the order of the rows: a row
    of weight k and k copies of it with weight 1 then give the same fit (the same
    path of the SGD, not only the same limit). Otherwise X comes back as it is.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
        Positive weights; None for unit weights.

    Returns
    -------
    merged : Bunch
        ``X``, ``Y`` and ``weight`` (None, or the summed weights) of the points, and
        ``rows`` (None when X came back as it is, else ``(point, share)``: each row's
        point and its share ``w_i / W`` of that point's coefficient, see
        :func:`unmerge`).
    """
    n_samples = X.shape[0]
    _, first, point = np.unique(_row_keys(X), return_index=True, return_inverse=True)
    point = point.ravel()
    if not sp.issparse(X) and not _identical_to_first(X, first, point):
        # Two different rows of one hash (astronomically rare): exact keys, at the
        # cost of a copy of X.
        X_bytes = np.ascontiguousarray(X)
        keys = X_bytes.view(np.dtype((np.void, X.dtype.itemsize * X.shape[1])))
        _, first, point = np.unique(keys.ravel(), return_index=True, return_inverse=True)
        point = point.ravel()
    uniform = sample_weight is None or (sample_weight == sample_weight[0]).all()
    if len(first) == n_samples and uniform:
        return Bunch(X=X, Y=Y, weight=sample_weight, rows=None)
    weight = np.ones(n_samples) if sample_weight is None else sample_weight
    total = np.bincount(point, weights=weight, minlength=len(first))
    merged_Y = Y[first].copy()
    counts = np.bincount(point, minlength=len(first))
    if (counts > 1).any():
        for j in range(Y.shape[1]):
            merged_Y[:, j] = np.bincount(point, weights=weight * Y[:, j]) / total
        single = counts == 1
        merged_Y[single] = Y[first[single]]  # not w y / w, which can be 1 ulp off
    return Bunch(X=X[first], Y=merged_Y, weight=total, rows=(point, weight / total[point]))


def unmerge(coef, merged):
    """Coefficients of the merged points as coefficients of the rows: each point's
    shared among its rows in proportion to their weights (the same function; with
    alpha > 0 and equal targets, KernelRidge's coefficients of the rows)."""
    if merged.rows is None:
        return coef
    point, share = merged.rows
    return coef[point] * share[:, np.newaxis]


def merge_sum(values, merged):
    """Values of the rows summed over each merged point (what :func:`unmerge` shares
    out, gathered back)."""
    if merged.rows is None:
        return values
    point, _ = merged.rows
    total = np.zeros((merged.X.shape[0], values.shape[1]))
    np.add.at(total, point, values)
    return total


def points_of_rows(merged):
    """The merged point of each row."""
    if merged.rows is None:
        return np.arange(merged.X.shape[0])
    return merged.rows[0]


def first_rows(merged):
    """The first row of each merged point."""
    point = points_of_rows(merged)
    first = np.empty(merged.X.shape[0], dtype=np.int64)
    first[point[::-1]] = np.arange(len(point))[::-1]
    return first


def _row_keys(X):
    """One key per row, equal for identical rows: a 64-bit hash of a dense row's
    bytes (:func:`_row_hashes`), or a CSR row's column indices and values
    (duplicates summed, explicit zeros dropped)."""
    if not sp.issparse(X):
        return _row_hashes(X)
    X = X.tocsr(copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    X.sort_indices()
    keys = np.empty(X.shape[0], dtype=object)
    for i in range(X.shape[0]):
        start, stop = X.indptr[i], X.indptr[i + 1]
        keys[i] = (
            X.indices[start:stop].astype(np.int64).tobytes() + X.data[start:stop].tobytes()
        )
    return keys


def _row_hashes(X):
    """A 64-bit hash of each row of a dense X: the splitmix64 mix of each word of the
    row (xored with its position's), summed modulo 2^64. Computed in chunks of rows,
    so that no copy of X is made (sorting the rows' bytes would copy all of X)."""
    n_samples, n_features = X.shape
    word = np.dtype(f"u{X.dtype.itemsize}")
    positions = _mix(np.arange(1, n_features + 1, dtype=np.uint64))
    hashes = np.empty(n_samples, dtype=np.uint64)
    for rows in gen_batches(n_samples, max(1, HASH_CHUNK_ENTRIES // n_features)):
        words = np.ascontiguousarray(X[rows]).view(word).astype(np.uint64)
        hashes[rows] = _mix(words ^ positions).sum(axis=1)
    return hashes


def _mix(words):
    """splitmix64's finalizer, elementwise on uint64 (wrapping arithmetic)."""
    words = (words ^ (words >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    words = (words ^ (words >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return words ^ (words >> np.uint64(31))


def _identical_to_first(X, first, point):
    """Whether every row of a dense X has the bytes of its group's first row."""
    counts = np.bincount(point, minlength=len(first))
    shared = np.flatnonzero(counts[point] > 1)
    if not len(shared):
        return True
    word = np.dtype(f"u{X.dtype.itemsize}")
    for chunk in gen_batches(len(shared), max(1, HASH_CHUNK_ENTRIES // X.shape[1])):
        rows = shared[chunk]
        these = np.ascontiguousarray(X[rows]).view(word)
        firsts = np.ascontiguousarray(X[first[point[rows]]]).view(word)
        if not np.array_equal(these, firsts):
            return False
    return True


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
            self.kernel,
            self.X,
            X_subsample,
            eigvecs,
            scale,
            self.diagonal,
            self.block_rows,
            all_cores=True,
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
        with evaluator_threads() as (pool, n_threads):
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
    coef = estimator.dual_coef_
    coef = coef[:, np.newaxis] if coef.ndim == 1 else coef
    if estimator.kernel == "precomputed":
        return _precomputed_decision(estimator, X, coef)
    kernel = estimator._kernel()
    if is_dask_array(X) or is_dask_array(estimator.X_fit_):
        from ._dask_data import dask_decision

        return dask_decision(estimator, kernel, X, estimator.X_fit_, coef)
    X = validate_data(
        estimator, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False
    )
    X_fit = estimator.X_fit_
    kernel_rows = kernel.rows_against(X_fit)  # X_fit_'s share once
    out = np.empty((X.shape[0], coef.shape[1]))

    def predict_rows(rows):
        out[rows], _ = kernel_product(kernel_rows, X[rows], coef)

    map_row_chunks(predict_rows, X.shape[0], X_fit.shape[0], kernel.dtype)
    return out


def _precomputed_decision(estimator, X, coef):
    """``K_test[:, X_fit_] @ dual_coef_`` for the kernel rows ``K_test`` of the
    samples against the training samples (``kernel="precomputed"``)."""
    if is_dask_array(X):
        raise NotImplementedError(
            f'{type(estimator).__name__} with kernel="precomputed" predicts from a '
            "numpy or sparse kernel matrix, not a dask array; pass X.compute()."
        )
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32])
    n_train = estimator.n_features_in_
    if X.shape[1] != n_train:
        # The first sentence is scikit-learn's own (its checks look for it).
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f'expecting {n_train} features as input. With kernel="precomputed", X '
            "must be the kernel matrix K(X, X_train) of the samples against the "
            f"{n_train} training samples, of shape (n_samples, {n_train}); got X of "
            f"shape {X.shape}."
        )
    X = validate_data(estimator, X, reset=False, skip_check_array=True)
    columns = estimator.X_fit_
    out = np.empty((X.shape[0], coef.shape[1]))
    for rows in gen_batches(X.shape[0], kernel_block_rows(len(columns), np.float64)):
        block = X[rows][:, columns]
        out[rows] = (block.toarray() if sp.issparse(block) else block) @ coef
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


def sgd_fit(
    X,
    Y,
    kernel,
    rng,
    *,
    batch_size,
    step_size,
    alpha=0.0,
    preconditioner=None,
    max_iter=100,
    tol=1e-4,
    block_rows=None,
    verbose=0,
):
    """:func:`~sklearn_interp._solver.run_sgd` on training points held here, until the
    residual falls below tol.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Training points.
    Y : ndarray of shape (n_samples, n_outputs), float64
        Targets.
    kernel : BlockKernel
        Block kernel; its ``dtype`` is the precision of the kernel blocks and their
        products (coefficients and errors are kept in float64).
    rng : numpy.random.RandomState
        The only source of randomness (batch order).
    batch_size : int
        m, 1 <= m <= n_samples.
    step_size : float
        eta; each residual of a batch is scaled by ``eta / m``.
    alpha : float, default=0.0
        Ridge term.
    preconditioner : Bunch or None
        From :func:`sklearn_interp._spectrum.eigenpro_preconditioner`; None for plain SGD.
    max_iter : int
        Maximum number of epochs.
    tol : float
        Stop once ``curve[t] <= tol * curve[0]``, or once ``curve[t]`` is at rounding
        level (:func:`rounding_floor`).
    block_rows : int or None
        Largest number of kernel rows (against all n points) computed at once; a batch
        larger than this is evaluated in several blocks. None means the memory budget's.
    verbose : int
        Print one line per epoch when > 0.

    Returns
    -------
    result : SGDResult
        :func:`~sklearn_interp._solver.run_sgd`'s result, with ``coef`` (n_samples,
        n_outputs).

    Notes
    -----
    Each block of kernel rows is split into one piece per BLAS thread; a thread computes
    its piece's kernel rows, the exp, the residuals and the subsample projection with
    single-threaded BLAS (the BLAS thread count is limited to 1 for the duration of the
    fit), so that every pass over the block, the elementwise ones too, runs on all
    cores (:class:`sklearn_interp._evaluator.LocalEvaluator`).
    """
    points = LocalPoints(X, kernel, targets=Y, alpha=alpha, block_rows=block_rows)
    with points.evaluator(preconditioner) as evaluator:
        result = _solver.run_sgd(
            evaluator,
            rng,
            batch_size=batch_size,
            step_size=step_size,
            preconditioner=preconditioner,
            max_iter=max_iter,
            tol=tol,
            verbose=verbose,
            compute_dtype=kernel.dtype,
        )
        result.coef = evaluator.coefficients()
    return result
