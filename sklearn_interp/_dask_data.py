"""Dask arrays in and out of the estimators (``pip install "sklearn-interp[dask]"``).

The checks a dask X and y get in ``fit`` (:func:`validate_dask_data`), the class
encoding of a dask y (:func:`encode_dask_classes`), the client a fit runs on
(:func:`current_client`), and predictions computed blockwise by Dask
(:func:`dask_decision`). The fit itself on a cluster is :mod:`sklearn_interp._distributed`.

Nothing here is imported unless X is a dask array: the package works without Dask.
"""

import numpy as np
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    validate_data,
)

from ._backend import is_dask_array
from ._kernel import kernel_block_rows

INSTALL_HINT = 'pip install "sklearn-interp[dask]"'


def current_client(name="X"):
    """The current ``dask.distributed`` Client, or a ValueError that says how to start one.

    Parameters
    ----------
    name : str
        The argument that needs the cluster, for the message.
    """
    try:
        from distributed import get_client
    except ImportError as error:
        raise ImportError(
            f"{name} is a dask array: fitting on a Dask cluster needs dask.distributed "
            f"({INSTALL_HINT})."
        ) from error
    try:
        return get_client()
    except ValueError as error:
        raise ValueError(
            f"{name} is a dask array, which runs the fit on a Dask cluster, but no "
            "dask.distributed Client is active. Start one first: "
            "`from distributed import Client; client = Client()` for a local cluster, "
            "or `Client('tcp://scheduler-address:8786')` for a running one; or pass "
            f"{name}.compute() to fit in this process."
        ) from error


def as_row_chunked(X, name="X"):
    """X as floating point, in row chunks with all columns in each, with known sizes.

    Raises
    ------
    ValueError
        For an X that is not 2-D, has unknown chunk sizes, or has sparse chunks.
    """
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array for {name}, got ndim={X.ndim}.")
    if any(np.isnan(size) for size in X.shape):
        raise ValueError(
            f"{name} has unknown chunk sizes (shape {X.shape}); call "
            f"{name}.compute_chunk_sizes() first."
        )
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Found array with shape {X.shape} for {name}, while at least 1 sample and "
            "1 feature are required."
        )
    if not isinstance(X._meta, np.ndarray):
        raise ValueError(
            f"{name} must have numpy chunks for a fit on a Dask cluster, not "
            f"{type(X._meta).__name__} chunks."
        )
    if X.dtype not in (np.float64, np.float32):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1 or 0 in X.chunks[0]:
        # Empty row chunks would make empty shards.
        X = X.rechunk({0: tuple(size for size in X.chunks[0] if size), 1: -1})
    return X


def validate_dask_data(estimator, X, y):
    """X and y of a fit on a Dask cluster: X in float row chunks, y a dask array in the
    same row chunks; ``n_features_in_`` (and feature names) set on the estimator. The
    cluster, and the data, stay where they are."""
    import dask.array as da

    current_client("X")  # before anything else: the error names what to do
    X = as_row_chunked(X)
    _check_n_features(estimator, X, reset=True)
    _check_feature_names(estimator, X, reset=True)
    if not is_dask_array(y):
        y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y has shape {y.shape}, but X has {X.shape[0]} samples; y must have "
            "one row per sample of X."
        )
    column_chunks = {1: -1} if y.ndim == 2 else {}
    if is_dask_array(y):
        y = y.rechunk({0: X.chunks[0], **column_chunks})
    else:
        y = da.from_array(y, chunks=(X.chunks[0], *y.shape[1:]))
    return X, y


def _encode(labels, binarizer):
    """One block of class labels in the -1/+1 encoding."""
    return binarizer.transform(labels).astype(np.float64)


def encode_dask_classes(y):
    """:func:`sklearn_interp._points.encode_classes` of a dask y: only the distinct
    labels come to this process; the encoding runs on the workers."""
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D for a classifier, got shape {y.shape}.")
    classes = np.unique(y.map_blocks(np.unique, dtype=y.dtype).compute())
    check_classification_targets(classes)
    binarizer = LabelBinarizer(pos_label=1, neg_label=-1).fit(classes)
    n_columns = 1 if len(classes) == 2 else len(classes)
    Y = y.map_blocks(
        _encode,
        binarizer,
        new_axis=1,
        chunks=(y.chunks[0], (n_columns,)),
        dtype=np.float64,
    )
    return Y, binarizer.classes_


def _partial_decision(X, X_fit, coef, kernel):
    """``K(X, X_fit) @ coef`` for one block of X against one chunk of the fit."""
    X = check_array(X, dtype=[np.float64, np.float32])
    return (kernel(X, X_fit) @ coef)[:, np.newaxis, :]


def dask_decision(estimator, kernel, X, X_fit, coef):
    """``K(X, X_fit) @ coef`` blockwise, where X, X_fit or both are dask arrays.

    X is checked against the fitted ``estimator`` first. Each task multiplies one row
    block of X against one chunk of X_fit, on the worker that holds the chunk (the
    larger input), and the parts are summed by a tree reduction: no machine holds more
    than a block of X and one chunk of the fit.

    Parameters
    ----------
    estimator : BaseInterpolatingKernel
        The fitted estimator, for the checks of X (``n_features_in_``, names).
    kernel : BlockKernel
        Float64.
    X : ndarray or dask.array.Array of shape (n_queries, n_features)
    X_fit : ndarray or dask.array.Array of shape (n_samples, n_features)
    coef : ndarray or dask.array.Array of shape (n_samples, n_outputs)
        In the same row chunks as X_fit.

    Returns
    -------
    decision : dask.array.Array or ndarray of shape (n_queries, n_outputs)
        A dask array for a dask X; computed (on the cluster of X_fit) for a numpy X.
    """
    import dask.array as da

    if is_dask_array(X_fit):
        current_client("X_fit_ (the model was fitted on a Dask cluster)")
    if is_dask_array(X):
        X = as_row_chunked(X)
        _check_n_features(estimator, X, reset=False)
    else:
        X = validate_data(estimator, X, dtype=[np.float64, np.float32], reset=False)
    if not is_dask_array(X_fit):
        X_fit = da.from_array(X_fit, chunks=X_fit.shape)
        coef = da.from_array(coef, chunks=coef.shape)
    rows = kernel_block_rows(max(X_fit.chunks[0]), kernel.dtype)
    local = not is_dask_array(X)
    if local:
        X = da.from_array(X, chunks=(rows, X.shape[1]))
    else:
        X = as_row_chunked(X)
        if max(X.chunks[0], default=0) > rows:
            X = X.rechunk({0: rows})
    parts = da.blockwise(
        _partial_decision,
        "ikc",
        X,
        "id",
        X_fit,
        "kd",
        coef,
        "kc",
        kernel=kernel,
        dtype=np.float64,
        adjust_chunks={"k": 1},
        concatenate=True,
    )
    result = parts.sum(axis=1)
    return result.compute() if local else result
