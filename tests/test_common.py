"""scikit-learn's own estimator checks, run over both estimators."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_interp import InterpolatingKernelClassifier, InterpolatingKernelRegressor

# Every check passes; an expected failure would go here, keyed by estimator and check
# name, with its reason.
EXPECTED_FAILED_CHECKS = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


# The checks fit random targets that no smooth kernel interpolates within max_iter;
# ConvergenceWarning is the honest outcome there, and not what the checks test.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(
    [InterpolatingKernelRegressor(), InterpolatingKernelClassifier()],
    expected_failed_checks=_expected_failed_checks,
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
