"""Main job: fit both estimators on built-in datasets and compare with KernelRidge.

Run ``python -m sklearn_interp`` (or the ``sklearn-interp-demo`` console script). On
scikit-learn's ``make_classification`` data (12,000 training points, 40 features, 10
classes), the classifier runs with its defaults (early stopping on held-out data, float32
blocks) beside KernelRidge, where this package wins on time and memory; on the diabetes
data (331 training points) the regressor solves KernelRidge's own problem. For each it
prints what ``fit`` estimated and chose (lambda_1, beta, m* without and with the
preconditioner, batch and step size), the convergence curve (and the validation scores),
the test score and fit time, and the same for :class:`~sklearn.kernel_ridge.KernelRidge`
with the same kernel and its alpha.
"""

import argparse
import sys
import time

import numpy as np
from sklearn.datasets import load_diabetes, make_classification
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from . import InterpolatingKernelClassifier, InterpolatingKernelRegressor
from ._spectrum import critical_batch_size

RANDOM_STATE = 0

# Large enough that the defaults (early stopping above 10,000 samples) beat KernelRidge
# clearly, small enough that KernelRidge's fit (an n x n solve, about 10 s here) keeps
# the whole job well under a minute on two cores.
TRAIN_SIZE = 12_000


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
    if model.validation_scores_ is not None:
        scores = ", ".join(f"{value:.4f}" for value in model.validation_scores_)
        print(
            f"  early stopping on {model.precision_} blocks: validation scores by "
            f"epoch {scores}; kept epoch {model.best_iteration_}",
            file=out,
        )


def _timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def run_classification(out, precision, n_train):
    """make_classification at n_train points: the defaults against KernelRidge, where
    this package wins on time and memory."""
    X, y = make_classification(
        n_samples=n_train + n_train // 4,
        n_features=40,
        n_informative=20,
        n_classes=10,
        n_clusters_per_class=2,
        class_sep=2.0,
        random_state=RANDOM_STATE,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        StandardScaler().fit_transform(X), y, test_size=0.2, random_state=RANDOM_STATE
    )
    print(
        f"\n== make_classification: {X_train.shape[0]} train, {X_test.shape[0]} test, "
        f"40 standardized features, 10 classes, rbf kernel gamma=1/40 ==",
        file=out,
    )
    params = {} if precision == "auto" else {"precision": precision}
    model = InterpolatingKernelClassifier(random_state=RANDOM_STATE, **params)
    fit_time = _timed_fit(model, X_train, y_train)
    print("InterpolatingKernelClassifier() (alpha=0, its defaults):", file=out)
    _describe(model, out)
    accuracy = model.score(X_test, y_test)
    print(f"  test accuracy {accuracy:.4f}, fit time {fit_time:.2f} s", file=out)

    # KernelRidge on the same -1/+1 encoding; alpha=0 is singular for it, so it gets a
    # tiny ridge.
    binarizer = LabelBinarizer(neg_label=-1)
    ridge = KernelRidge(alpha=1e-3, kernel="rbf", gamma=1 / 40)
    ridge_time = _timed_fit(ridge, X_train, binarizer.fit_transform(y_train))
    ridge_accuracy = np.mean(
        binarizer.classes_[ridge.predict(X_test).argmax(axis=1)] == y_test
    )
    n = X_train.shape[0]
    print(
        f"KernelRidge(alpha=1e-3, kernel='rbf', gamma=1/40) on the -1/+1 encoded "
        f"classes:\n  test accuracy {ridge_accuracy:.4f}, fit time {ridge_time:.2f} s "
        f"({ridge_time / fit_time:.1f} x ours), its n x n kernel matrix alone "
        f"{n * n * 8 / 2**30:.2f} GiB",
        file=out,
    )
    return accuracy, ridge_accuracy


def run_diabetes(out, precision):
    """Diabetes regression: the same ridge problem solved by SGD and by KernelRidge,
    where KernelRidge is exact and fast (331 training points)."""
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
    params = {} if precision == "auto" else {"precision": precision}
    # normalize_y=False: the same problem as KernelRidge's, (K + alpha I) a = y.
    model = make_pipeline(
        StandardScaler(),
        InterpolatingKernelRegressor(
            alpha=alpha,
            gamma=gamma,
            normalize_y=False,
            random_state=RANDOM_STATE,
            **params,
        ),
    )
    fit_time = _timed_fit(model, X_train, y_train)
    print(
        f"InterpolatingKernelRegressor(alpha={alpha}, gamma={gamma}, normalize_y=False) "
        "after StandardScaler:",
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
        "on scikit-learn's make_classification and diabetes data and compare with "
        "KernelRidge.",
    )
    parser.add_argument(
        "--precision",
        choices=["auto", "float64", "float32"],
        default="auto",
        help="compute precision of the kernel blocks (default: the estimators')",
    )
    parser.add_argument(
        "--n-train",
        type=int,
        default=TRAIN_SIZE,
        help=f"training points of the classification data (default {TRAIN_SIZE})",
    )
    args = parser.parse_args(argv)
    run_classification(sys.stdout, args.precision, args.n_train)
    run_diabetes(sys.stdout, args.precision)
    print(
        "\nWhen to use which: KernelRidge solves exactly in O(n^2) memory and O(n^3) "
        "time, best below a few thousand points; these estimators need n x batch "
        "memory and a few passes over the data, and win from about 10,000 points.",
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
