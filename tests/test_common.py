"""scikit-learn's own estimator checks, run over both estimators."""

import pytest
from sklearn.utils.estimator_checks import (
    estimator_checks_generator,
    parametrize_with_checks,
)

from sklearn_interp import InterpolatingKernelClassifier, InterpolatingKernelRegressor

# Every check passes; an expected failure would go here, keyed by estimator and check
# name, with its reason.
EXPECTED_FAILED_CHECKS = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


# The sparse-container checks fit a dozen formats each; the scipy-array variant takes the
# path of the sparse-matrix one and runs with the slow tests.
SLOW_CHECKS = {"check_estimator_sparse_array"}


def _checks(estimators):
    """Every check of every estimator, as parametrize_with_checks lists them, with the
    checks in SLOW_CHECKS marked slow."""
    for estimator in estimators:
        for instance, check in estimator_checks_generator(
            estimator,
            expected_failed_checks=_expected_failed_checks(estimator),
            mark="xfail",
        ):
            function = getattr(check, "func", check)
            name = function.__name__
            keywords = ",".join(
                f"{k}={v}" for k, v in getattr(check, "keywords", {}).items()
            )
            marks = [pytest.mark.slow] if name in SLOW_CHECKS else []
            yield pytest.param(
                instance,
                check,
                marks=marks,
                id=f"{instance!r}-{name}" + (f"({keywords})" if keywords else ""),
            )


# The checks fit random targets that no smooth kernel interpolates within max_iter;
# ConvergenceWarning is the honest outcome there, and not what the checks test.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator, check",
    list(_checks([InterpolatingKernelRegressor(), InterpolatingKernelClassifier()])),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# The same checks with kernel="precomputed" (the pairwise tag: the checks pass kernel
# matrices, and skip the sample-weight equivalence, whose data is not pairwise). They
# double this module's time, hence slow.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(
    [
        InterpolatingKernelRegressor(kernel="precomputed"),
        InterpolatingKernelClassifier(kernel="precomputed"),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator_on_a_precomputed_kernel(estimator, check):
    check(estimator)
