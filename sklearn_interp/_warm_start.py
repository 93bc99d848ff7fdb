"""``warm_start``: a second ``fit`` on the same data and settings goes on from the last.

:class:`WarmState` is what a fit keeps for the next one (the estimator's private
``_warm``), and :func:`warm_key` what must match for the next fit to continue it.
"""

from dataclasses import dataclass

import numpy as np

from ._plan import Plan
from ._points import fingerprint
from ._solver import SGDResult

# Settings that a continued fit may change: they say how long to go on, not what to fit.
CONTINUATION_PARAMETERS = ("max_iter", "tol", "n_iter_no_change", "warm_start", "verbose")


@dataclass
class WarmState:
    """The state of a finished fit that the next ``fit`` continues.

    Attributes
    ----------
    key : tuple
        :func:`warm_key` of the fit (its first entry None for a dask X: a fit on a
        cluster is not continued).
    rng : numpy.random.RandomState
        The random state after the fit's epochs (before the fold-in's, which draw
        from a copy).
    split : tuple or None
        The held-out split (the same rows stay out).
    plan : Plan
    result : SGDResult
        The solver's record of the epochs over the training rows.
    validation_scores : list or None
    reference : float or None
    reference_losses : ndarray or None
    n_no_change : int
        Early stopping's state (:class:`~sklearn_interp._early_stopping.StoppingRule`).
    best_coef, last_coef : ndarray
        The best epoch's coefficients and the last ones, in the fit's points.
    centers : ndarray of int or None
        The model centers among the training rows (None: every row).
    """

    key: tuple
    rng: np.random.RandomState
    split: object
    plan: Plan
    result: SGDResult
    validation_scores: object
    reference: object
    reference_losses: object
    n_no_change: int
    best_coef: np.ndarray
    last_coef: np.ndarray
    centers: object = None


def warm_key(params, X, n_outputs, sample_weight, precision):
    """What must match for a warm start: the data, the weights and every setting of
    the plan (``params``: the estimator's ``get_params()``)."""
    params = {
        name: value for name, value in params.items() if name not in CONTINUATION_PARAMETERS
    }
    params["precision"] = precision
    weights = None if sample_weight is None else fingerprint(sample_weight)
    return (fingerprint(X), weights, n_outputs, repr(sorted(params.items())))


def continued_state(warm, key_of_this_fit):
    """``warm`` if there is a fit to continue and its key is ``key_of_this_fit()``
    (called only then: it hashes the data); else None."""
    if warm is None or warm.key[0] is None:
        return None  # no fit to continue, or one on a Dask cluster
    return warm if warm.key == key_of_this_fit() else None
