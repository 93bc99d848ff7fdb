"""The fold-in of early stopping: the held-out rows join the model.

After early stopping has chosen its epoch on the held-out rows, :func:`fold_in` runs
FOLD_IN_EPOCHS more epochs over all the rows, from the kept coefficients carried over
to the problem over all rows (:meth:`sklearn_interp._problem.FitProblem.
carry_coefficients`; the held-out rows start at zero), with the same plan and a step
checked against the new rows. :func:`after_fold_in` joins the two runs' records.
"""

import copy
import dataclasses

import numpy as np
from sklearn.utils import Bunch

from . import _solver
from ._centers import center_points
from ._early_stopping import FOLD_IN_EPOCHS
from ._plan import fold_in_step_size
from ._points import training_points
from ._problem import fit_problem
from ._weights import WeightedKernel


def fold_in(
    estimator, kernel, X, Y, sample_weight, split, data, plan, rng, monitor, coef, result
):
    """FOLD_IN_EPOCHS more epochs over all the rows, early stopping's held-out
    rows included, from the coefficients kept (zero for the held-out rows), with
    the same plan.

    ``kernel`` is the block kernel in the precision of an early-stopped fit (without
    the weights); ``data``, ``plan`` and ``coef`` are those of the fit over the
    training rows. Returns the coefficients of the fit over all the rows, its problem
    (:class:`~sklearn_interp._problem.FitProblem`), and the solver's result for these
    epochs. They draw their batches from a copy of ``rng``, so that a warm start goes
    on from the random state of the epochs before them.

    With model centers (``data.centers``, among the training rows) the problem over
    all rows keeps the same centers, so the coefficients and the subsample (which is
    among the centers) carry over as they are.
    """
    train, held_out = split
    rows = np.union1d(train, held_out)
    full = fit_problem(
        X,
        Y,
        None,
        sample_weight,
        (rows, None),
        alpha=estimator.alpha,
        precomputed=estimator.kernel == "precomputed",
        scorer_rows=False,
        centers=data.centers is not None,
    )
    preconditioner = plan.preconditioner
    if data.centers is not None:
        initial = coef
        full.centers = np.searchsorted(rows, train[data.centers])
        full.center_factor, data.center_factor = data.center_factor, None
        points = center_points(full, kernel)
    else:
        initial = data.carry_coefficients(coef, full, train, rows)
        if preconditioner is not None:
            preconditioner = Bunch(**preconditioner)
            preconditioner.subsample = data.carry_points(
                preconditioner.subsample, full, train, rows
            )
        if full.scale is not None:
            kernel = WeightedKernel(kernel)
        points = training_points(full.X, kernel, targets=full.Y, alpha=full.ridge)
    step_size = result.step_size
    with points:
        if estimator.step_size == "auto":
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
            folded = _solver.run_sgd(
                evaluator,
                copy.deepcopy(rng),
                batch_size=plan.batch_size,
                step_size=step_size,
                preconditioner=preconditioner,
                max_iter=FOLD_IN_EPOCHS,
                tol=0.0,
                verbose=estimator.verbose,
                monitor=monitor,
                compute_dtype=points.dtype,
            )
            monitor.end()
            estimator.X_fit_ = points.X_fit if full.X_fit is None else full.X_fit
            return evaluator.coefficients(), full, folded


def after_fold_in(result, folded):
    """The solver's result of a fit followed by its fold-in epochs: the curve goes on
    with the residual over all the rows, and the epochs, back-offs and stalls add up;
    the step stays the fit's (the fold-in's is at most that)."""
    return dataclasses.replace(
        result,
        convergence_curve=np.append(result.convergence_curve, folded.convergence_curve[1:]),
        n_iter=result.n_iter + folded.n_iter,
        n_backoffs=result.n_backoffs + folded.n_backoffs,
        n_stalls=result.n_stalls + folded.n_stalls,
    )
