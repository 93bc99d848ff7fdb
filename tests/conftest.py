"""Fixtures shared by the test modules: the jittered-grid problem and the random seed.

``global_random_seed`` follows scikit-learn's fixture of the same name: a test that
takes it runs once per seed, so a contract that is meant to hold for any data or any
``random_state`` is checked on more than one draw, while the suite stays deterministic.
The environment variable ``SKLEARN_INTERP_TESTS_GLOBAL_RANDOM_SEED`` picks the seeds:

- unset: ``DEFAULT_SEEDS``, the first in the default suite and the others with the
  slow tests (``-m slow``);
- an integer, e.g. ``7``: that seed only;
- a range, e.g. ``0-19``: every seed from the first to the last, both included;
- ``all``: every seed in ``ALL_SEEDS``.

Seeded tests carry the seed in their id (``test_...[seed3]``). For example,
``SKLEARN_INTERP_TESTS_GLOBAL_RANDOM_SEED=0-19 python -m pytest -m "not slow"`` runs
the seeded contracts over twenty draws and every other test once.
"""

import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import rbf_kernel

from sklearn_interp import InterpolatingKernelRegressor

SEED_VARIABLE = "SKLEARN_INTERP_TESTS_GLOBAL_RANDOM_SEED"
# Every seed in this range must pass (scikit-learn's convention: 0 to 99).
ALL_SEEDS = range(100)
# Three draws: enough to catch a contract that holds for one seed by luck. The default
# suite runs the first (as scikit-learn's runs one seed unless told otherwise); the
# other two run with the slow tests.
DEFAULT_SEEDS = (0, 1, 2)

# The grid problem: spacing 0.5, jitter below 0.05, rbf with gamma 8. Neighbours sit at
# least 0.4 apart, so off-diagonal entries are at most exp(-8 * 0.4**2) = 0.28 and fall
# off fast: K is well conditioned for every jitter.
GRID_SPACING = 0.5
GRID_JITTER = 0.05
GRID_GAMMA = 8.0
# Closed-form comparisons rely on this (their tolerances assume cond(K) < 100).
GRID_MAX_CONDITION = 100.0
# Points to predict at, inside the 8 x 8 grid's square [0, 3.5]^2.
N_NEW_POINTS = 25


def _seeds_from_environment():
    value = os.environ.get(SEED_VARIABLE)
    if value is None:
        return list(DEFAULT_SEEDS)
    if value == "all":
        return list(ALL_SEEDS)
    try:
        if "-" in value:
            start, stop = value.split("-")
            seeds = list(range(int(start), int(stop) + 1))
        else:
            seeds = [int(value)]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < ALL_SEEDS.start or max(seeds) >= ALL_SEEDS.stop:
        raise ValueError(
            f"{SEED_VARIABLE} must be 'all', an integer or a range 'a-b' within "
            f"[{ALL_SEEDS.start}, {ALL_SEEDS.stop - 1}], got {value!r}"
        )
    return seeds


def pytest_generate_tests(metafunc):
    if "global_random_seed" in metafunc.fixturenames:
        seeds = _seeds_from_environment()
        default = os.environ.get(SEED_VARIABLE) is None
        metafunc.parametrize(
            "global_random_seed",
            [
                pytest.param(
                    seed,
                    id=f"seed{seed}",
                    marks=[pytest.mark.slow] if default and k > 0 else [],
                )
                for k, seed in enumerate(seeds)
            ],
        )


def jittered_grid_problem(seed=0, shape=(8, 8)):
    """A well-conditioned rbf interpolation problem on a jittered grid, two outputs.

    Parameters
    ----------
    seed : int, default=0
        Seed of the jitter and of the prediction points.
    shape : tuple of two ints, default=(8, 8)
        Number of grid points along each axis.

    Returns
    -------
    X : ndarray of shape (shape[0] * shape[1], 2)
        The grid points, each moved by up to ``GRID_JITTER`` along each axis.
    Y : ndarray of shape (n_samples, 2)
        Two smooth targets.
    X_new : ndarray of shape (N_NEW_POINTS, 2)
        Points to predict at.
    gamma : float
        The rbf width for which cond(K) < ``GRID_MAX_CONDITION``.
    """
    rng = np.random.RandomState(seed)
    grid = np.stack(np.meshgrid(np.arange(shape[0]), np.arange(shape[1])), axis=-1)
    grid = grid.reshape(-1, 2)
    X = GRID_SPACING * grid + rng.uniform(-GRID_JITTER, GRID_JITTER, size=grid.shape)
    Y = np.column_stack([np.sin(X[:, 0]) + X[:, 1], np.cos(X.sum(axis=1))])
    X_new = rng.uniform(0, 3.5, size=(N_NEW_POINTS, 2))
    assert np.linalg.cond(rbf_kernel(X, gamma=GRID_GAMMA)) < GRID_MAX_CONDITION
    return X, Y, X_new, GRID_GAMMA


@pytest.fixture(scope="session")
def make_grid_problem():
    """The function ``jittered_grid_problem(seed=0, shape=(8, 8))``, for other seeds
    and shapes than the ``grid_problem`` fixture's."""
    return jittered_grid_problem


@pytest.fixture
def grid_problem():
    """``(X, Y, X_new, gamma)``: the 8 x 8 jittered grid of seed 0."""
    return jittered_grid_problem()


def fit_quietly(model, X, y, **fit_params):
    """``model.fit(X, y, **fit_params)`` without ConvergenceWarning: a hard problem may
    stop short of tol, which is reported, and is not what the calling test checks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


# Fits to a relative mean squared residual of 1e-20 in float64: the residual is then
# about 1e-10 of the targets, and predictions agree with the closed form to about
# 1e-8 of their scale (measured: 3e-11 relative on the linear problem below).
EXACT_TOL = 1e-20
EXACT_MAX_ITER = 2000
# Predictions against closed forms, relative to the largest |prediction|.
CLOSED_FORM_RTOL = 1e-7


def exact(estimator=InterpolatingKernelRegressor, **params):
    """An estimator fitted to EXACT_TOL in float64, without early stopping (and, for the
    regressor, without normalize_y: KernelRidge fits the targets as they are)."""
    settings = dict(
        tol=EXACT_TOL,
        max_iter=EXACT_MAX_ITER,
        precision="float64",
        early_stopping=False,
        random_state=0,
    )
    if estimator is InterpolatingKernelRegressor:
        settings["normalize_y"] = False
    return estimator(**{**settings, **params})


def assert_close_predictions(actual, expected):
    scale = np.abs(expected).max()
    assert_allclose(actual, expected, rtol=0, atol=CLOSED_FORM_RTOL * scale)


def rbf_problem(n_samples=60, seed=0):
    """A smooth function of 3 features plus noise, for weighted and precomputed fits."""
    rng = np.random.RandomState(seed)
    X_small = rng.uniform(-1, 1, size=(n_samples, 3))
    target = np.sin(3 * X_small[:, 0]) + X_small[:, 1] * X_small[:, 2]
    return X_small, target + 0.1 * rng.randn(n_samples)
