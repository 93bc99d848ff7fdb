"""The fit problem: what the SGD fits, made from the data by each feature in turn.

:func:`fit_problem` turns validated data into a :class:`FitProblem`: the held-out rows
of early stopping are set aside, identical rows merged (their weights summed), a
precomputed kernel's samples replaced by their indices, and a weighted ridge fit
rewritten as KernelRidge's ``(S K S + alpha I) c = S y``. The problem knows how to turn
its solution into the model's coefficients (:meth:`FitProblem.model_coefficients`)
and how to carry coefficients and points over to another problem on more rows (the
fold-in epochs: :meth:`FitProblem.carry_coefficients`,
:meth:`FitProblem.carry_points`).
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils import Bunch

from ._backend import is_dask_array
from ._points import (
    first_rows,
    gather,
    merge_duplicates,
    merge_sum,
    points_of_rows,
    unmerge,
)
from ._precomputed import index_positions, indices
from ._weights import with_scale


@dataclass
class FitProblem:
    """The points, targets and ridge term the SGD fits, and the held-out rows.

    Attributes
    ----------
    X : array, sparse matrix or dask array
        The points fitted: the training rows, merged; with a last column of
        ``sqrt(w)`` for a weighted ridge fit; indices for a precomputed kernel.
    Y : ndarray or dask array of shape (n_points, n_outputs)
        Their targets (``S y`` for a weighted ridge fit).
    ridge : float
        The ridge term of the SGD (``alpha``, or ``alpha / w`` for one weight w of
        all samples).
    scale : ndarray of shape (n_points,) or None
        ``sqrt(w)`` of a weighted ridge fit (see
        :class:`~sklearn_interp._weights.WeightedKernel`): the model's coefficients
        are ``a = S c``.
    merged : Bunch
        The merge of identical training rows
        (:func:`~sklearn_interp._points.merge_duplicates`; ``rows`` None when
        nothing was merged).
    fitted_points : array or None
        What the coefficients of the points belong to in a model (a precomputed
        kernel's columns, the rows without their scale column); None where it is
        the points' own ``X_fit``.
    X_fit : array or None
        ``X_fit_`` (the rows as given, unmerged); None where it is the points' own
        ``X_fit`` (a dask X's is persisted on the cluster).
    validation : tuple or None
        ``(X_val, Y_val, y_val)``, the held-out rows as the fit scores them; None
        without early stopping.
    validation_weight : ndarray or None
        The held-out rows' sample weights.
    scoring_X : array or None
        The held-out rows as a scorer's ``predict`` takes them, where they differ
        from ``X_val``.
    centers : ndarray of int or None
        The model centers among the points (:mod:`sklearn_interp._centers`): the
        coefficients are theirs. None: every point is a center (the exact model).
    center_factor : CenterFactor or None
        The centers' Cholesky factor from the fit before the fold-in
        (:class:`~sklearn_interp._centers.CenterFactor`), which the fold-in's
        evaluator takes instead of making it again; None: made by the evaluator.
    """

    X: object
    Y: object
    ridge: float
    scale: object
    merged: Bunch
    fitted_points: object
    X_fit: object
    validation: object
    validation_weight: object
    scoring_X: object
    centers: object = None
    center_factor: object = None

    def model_coefficients(self, coef):
        """The model's coefficients of the points from the SGD's solution ``c``
        (``a = S c`` for a weighted ridge fit)."""
        return coef if self.scale is None else coef * self.scale[:, np.newaxis]

    def carry_coefficients(self, coef, other, train, rows):
        """This problem's solution ``coef`` as a starting point of ``other``.

        This problem is over the rows ``train`` of the data, ``other`` over the rows
        ``rows`` (sorted, a superset): each row keeps its model coefficient (shared
        among merged rows), the rows new to ``other`` start at zero, and the result
        is merged and scaled as ``other``'s points are.
        """
        row_coef = np.zeros((len(rows), coef.shape[1]))
        row_coef[np.searchsorted(rows, train)] = unmerge(
            self.model_coefficients(coef), self.merged
        )
        initial = merge_sum(row_coef, other.merged)
        if other.scale is not None:
            initial /= other.scale[:, np.newaxis]
        return initial

    def carry_points(self, positions, other, train, rows):
        """The positions in ``other``'s points of this problem's points at
        ``positions`` (the preconditioner's subsample), as in
        :meth:`carry_coefficients`."""
        position_rows = train[first_rows(self.merged)[positions]]
        return points_of_rows(other.merged)[np.searchsorted(rows, position_rows)]


def fit_problem(
    X, Y, y, sample_weight, split, *, alpha, precomputed, scorer_rows, centers=False
):
    """The problem the SGD fits, from validated data.

    ``split`` is ``(train, held_out)`` (indices; ``held_out`` None when nothing is
    held out) or None for all rows. Rows of zero weight are in neither. Y is
    normalized. Identical training rows are merged
    (:func:`~sklearn_interp._points.merge_duplicates`; not for a dask X or a
    precomputed kernel). A ridge fit with weights w solves KernelRidge's
    ``(S K S + alpha I) c = S y`` with ``S = diag(sqrt(w))``: the points carry
    ``sqrt(w)`` as a last column for the
    :class:`~sklearn_interp._weights.WeightedKernel` (the held-out rows 1), the
    targets are ``S y``, and ``scale`` turns c into the coefficients ``a = S c``;
    with one weight w for all, it is the ridge fit with ``alpha / w``. For a
    precomputed kernel the points are the training samples' indices
    (:func:`~sklearn_interp._precomputed.indices`), and so are ``X_fit_`` and the
    held-out rows scored by the fit's own predictions; a scorer (``scorer_rows``)
    gets the held-out rows of the matrix.

    With ``centers`` (a fit with model centers, :mod:`sklearn_interp._centers`) the
    rows are neither merged nor scaled: the centers' least-squares problem weighs
    every row, and its evaluator applies the weights (``merged.weight``) itself.
    """
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
        if precomputed and scorer_rows:
            scoring_X = X[held_out]
    if precomputed or centers or is_dask_array(X_train):
        merged = Bunch(X=X_train, Y=Y_train, weight=weight, rows=None)
    else:
        merged = merge_duplicates(X_train, Y_train, weight)
    points, targets, ridge, scale = merged.X, merged.Y, alpha, None
    # With centers the weights stay in merged.weight, for the centers' evaluator.
    weight = None if centers else merged.weight
    if weight is not None and alpha and (weight == weight[0]).all():
        # One weight w for all: the ridge fit with alpha / w.
        ridge = alpha / weight[0]
    elif weight is not None and alpha:
        # KernelRidge's form of the weighted ridge fit (see WeightedKernel).
        scale = np.sqrt(weight)
        points, targets = with_scale(points, scale), targets * scale[:, np.newaxis]
        if validation is not None:
            X_val = validation[0]
            scoring_X = X_val if scoring_X is None else scoring_X
            X_val = with_scale(X_val, np.ones(X_val.shape[0]))
            validation = (X_val, *validation[1:])
    return FitProblem(
        X=points,
        Y=targets,
        ridge=ridge,
        scale=scale,
        merged=merged,
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


def _held_out(X, Y, y, split):
    """The training rows of X and Y, their indices (None: all rows), and the
    held-out ``(X, Y, y)`` brought here (None without)."""
    if split is None:
        return X, Y, None, None
    train, held_out = split
    validation = None
    if held_out is not None:
        validation = tuple(gather(array[held_out]) for array in (X, Y, y))
    if held_out is None and np.array_equal(train, np.arange(X.shape[0])):
        # Every row, in order (the fold-in's problem): no copy of X.
        return X, Y, train, validation
    return X[train], Y[train], train, validation
