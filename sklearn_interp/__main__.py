"""Main job: fit both estimators on built-in datasets and compare with KernelRidge.

Run ``python -m sklearn_interp`` (or the ``sklearn-interp-demo`` console script). For each
dataset it prints what ``fit`` estimated and chose (lambda_1, beta, m* without and with
the preconditioner, batch and step size), the convergence curve, the test score and fit
time, and the same for :class:`~sklearn.kernel_ridge.KernelRidge` with the same kernel.
"""

import argparse
import sys
import time

import numpy as np
from sklearn.datasets import load_diabetes, load_digits
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from . import InterpolatingKernelClassifier, InterpolatingKernelRegressor
from ._spectrum import critical_batch_size

RANDOM_STATE = 0


def _describe(model, out):
    """Print what fit estimated and chose, and the convergence curve."""
    plain_m_star = critical_batch_size(model.beta_, model.top_eigenvalue_)
    print(f"  lambda_1 of (K + alpha I)/n    {model.top_eigenvalue_:.4g}", file=out)
    print(f"  beta = max k(x, x) + alpha     {model.beta_:.4g}", file=out)
    print(f"  m* without preconditioner      {plain_m_star:.4g}", file=out)
    print(
        f"  EigenPro: q = {model.n_components_}, s = {model.subsample_size_}, "
        f"beta_P = {model.preconditioned_beta_:.4g}, "
        f"lambda_P = {model.preconditioned_top_eigenvalue_:.4g}",
        file=out,
    )
    print(f"  m* of the operator iterated    {model.critical_batch_size_:.4g}", file=out)
    print(f"  chosen batch size              {model.batch_size_}", file=out)
    print(f"  chosen step size               {model.step_size_:.4g}", file=out)
    curve = model.convergence_curve_ / model.convergence_curve_[0]
    shown = ", ".join(f"{value:.2e}" for value in curve[:: max(1, len(curve) // 12)])
    print(
        f"  relative residual ||(K + alpha I) a - y||^2 (the training error when "
        f"alpha=0) by epoch ({model.n_iter_} epochs): {shown}, "
        f"final {curve[-1]:.2e}",
        file=out,
    )


def _timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def run_digits(out, precision):
    """Ten-class digits: accuracy of the interpolating classifier and KernelRidge."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=RANDOM_STATE, stratify=y
    )
    print(
        f"\n== digits: {X_train.shape[0]} train, {X_test.shape[0]} test, "
        f"{X.shape[1]} features, 10 classes, rbf kernel gamma=1/64 ==",
        file=out,
    )
    model = InterpolatingKernelClassifier(random_state=RANDOM_STATE, precision=precision)
    fit_time = _timed_fit(model, X_train, y_train)
    print("InterpolatingKernelClassifier(alpha=0):", file=out)
    _describe(model, out)
    accuracy = model.score(X_test, y_test)
    print(f"  test accuracy {accuracy:.4f}, fit time {fit_time:.2f} s", file=out)

    # KernelRidge on the same -1/+1 encoding; alpha=0 is singular for it, so it gets a
    # tiny ridge.
    binarizer = LabelBinarizer(neg_label=-1)
    ridge = KernelRidge(alpha=1e-3, kernel="rbf")
    ridge_time = _timed_fit(ridge, X_train, binarizer.fit_transform(y_train))
    ridge_accuracy = np.mean(
        binarizer.classes_[ridge.predict(X_test).argmax(axis=1)] == y_test
    )
    print(
        f"KernelRidge(alpha=1e-3, kernel='rbf'):\n  test accuracy "
        f"{ridge_accuracy:.4f}, fit time {ridge_time:.2f} s",
        file=out,
    )
    return accuracy, ridge_accuracy


def run_diabetes(out, precision):
    """Diabetes regression: the same ridge problem solved by SGD and by KernelRidge."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=RANDOM_STATE
    )
    # Chosen by a GridSearchCV of KernelRidge on the training part.
    alpha, gamma = 0.1, 0.01
    print(
        f"\n== diabetes: {X_train.shape[0]} train, {X_test.shape[0]} test, "
        f"{X.shape[1]} standardized features, rbf kernel gamma={gamma}, "
        f"alpha={alpha} ==",
        file=out,
    )
    model = make_pipeline(
        StandardScaler(),
        InterpolatingKernelRegressor(
            alpha=alpha, gamma=gamma, random_state=RANDOM_STATE, precision=precision
        ),
    )
    fit_time = _timed_fit(model, X_train, y_train)
    print(
        f"InterpolatingKernelRegressor(alpha={alpha}, gamma={gamma}) after StandardScaler:",
        file=out,
    )
    _describe(model[-1], out)
    score = model.score(X_test, y_test)
    print(f"  test R^2 {score:.4f}, fit time {fit_time:.2f} s", file=out)
    ridge = make_pipeline(
        StandardScaler(), KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma)
    )
    ridge_time = _timed_fit(ridge, X_train, y_train)
    ridge_score = ridge.score(X_test, y_test)
    gap = np.max(np.abs(model.predict(X_test) - ridge.predict(X_test)))
    print(
        f"KernelRidge(alpha={alpha}, kernel='rbf', gamma={gamma}) after "
        f"StandardScaler:\n  test R^2 "
        f"{ridge_score:.4f}, fit time {ridge_time:.2f} s\n  largest prediction "
        f"difference from the SGD fit: {gap:.3g} (targets span "
        f"{np.ptp(y):.0f})",
        file=out,
    )
    return score, ridge_score


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_interp",
        description="Fit InterpolatingKernelClassifier and InterpolatingKernelRegressor "
        "on scikit-learn's built-in digits and diabetes data and compare with "
        "KernelRidge.",
    )
    parser.add_argument(
        "--precision",
        choices=["float64", "float32"],
        default="float64",
        help="compute precision of the kernel blocks",
    )
    args = parser.parse_args(argv)
    run_digits(sys.stdout, args.precision)
    run_diabetes(sys.stdout, args.precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
