"""The predictions of a fixed list of fits, to check that a change leaves them alone.

A refactor must not change what any fit computes. This script fits each case of a
fixed list on fixed data and seeds, records the test predictions (decision values and
labels) in an .npz file, and compares them bit for bit with the record of another
checkout:

    python benchmarks/fit_fingerprints.py /tmp/after.npz --against /tmp/before.npz

Run it from each checkout (``git worktree add /tmp/before COMMIT``, then ``cd
/tmp/before && python /path/to/fit_fingerprints.py /tmp/before.npz``); it imports the
``sklearn_interp`` of the current directory. The cases: the defaults (early stopping
with the fold-in, float32 blocks), ``alpha > 0`` in float64, sample weights (with and
without early stopping), a precomputed kernel (with and without early stopping),
``scoring="loss"``, ``warm_start``, the classifier with string
labels, and a dask X on a local cluster of two single-threaded worker processes.

The dask case is compared to rounding (DASK_RTOL), not to the bit: which worker holds
which chunk of X is up to Dask's scheduler, a shard sums the parts of the chunks it
holds, so the grouping of the sum (not the result beyond rounding) can change from
run to run (seen: 9e-16 on decision values of order 1).
"""

import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.getcwd())

from sklearn.datasets import make_classification, make_regression
from sklearn.metrics.pairwise import rbf_kernel

import sklearn_interp
from sklearn_interp import (
    InterpolatingKernelClassifier,
    InterpolatingKernelRegressor,
)

# Above early_stopping="auto"'s threshold, so that the defaults hold rows out.
N_LARGE = 12_000
N_SMALL = 600
N_TEST = 300
DASK_RTOL = 1e-12


def _classification(n, labels=None):
    X, y = make_classification(
        n_samples=n + N_TEST,
        n_features=20,
        n_informative=12,
        n_classes=4,
        class_sep=1.0,
        random_state=0,
    )
    if labels is not None:
        y = np.asarray(labels)[y]
    return X[:n], y[:n], X[n:]


def _regression(n):
    X, y = make_regression(n_samples=n + N_TEST, n_features=10, noise=1.0, random_state=0)
    return X[:n], y[:n], X[n:]


def _defaults():
    X, y, X_test = _classification(N_LARGE)
    model = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    return model.decision_function(X_test)


def _ridge():
    X, y, X_test = _regression(N_SMALL)
    model = InterpolatingKernelRegressor(
        alpha=1e-2, gamma=0.05, precision="float64", random_state=0
    )
    return model.fit(X, y).predict(X_test)


def _weights():
    X, y, X_test = _regression(N_SMALL)
    weight = np.random.RandomState(0).uniform(0.1, 2.0, size=len(y))
    model = InterpolatingKernelRegressor(alpha=1e-3, gamma=0.05, random_state=0)
    return model.fit(X, y, sample_weight=weight).predict(X_test)


def _weights_early_stopping():
    X, y, X_test = _regression(N_SMALL)
    weight = np.random.RandomState(0).uniform(0.1, 2.0, size=len(y))
    model = InterpolatingKernelRegressor(
        alpha=1e-3, gamma=0.05, early_stopping=True, random_state=0
    )
    return model.fit(X, y, sample_weight=weight).predict(X_test)


def _precomputed_early_stopping():
    X, y, X_test = _classification(N_SMALL)
    model = InterpolatingKernelClassifier(
        kernel="precomputed", early_stopping=True, random_state=0
    )
    model.fit(rbf_kernel(X, gamma=0.05), y)
    return model.decision_function(rbf_kernel(X_test, X, gamma=0.05))


def _precomputed():
    X, y, X_test = _regression(N_SMALL)
    model = InterpolatingKernelRegressor(kernel="precomputed", random_state=0)
    model.fit(rbf_kernel(X, gamma=0.05), y)
    return model.predict(rbf_kernel(X_test, X, gamma=0.05))


def _loss():
    X, y, X_test = _regression(N_LARGE)
    model = InterpolatingKernelRegressor(
        gamma=0.05, early_stopping=True, scoring="loss", random_state=0
    )
    return model.fit(X, y).predict(X_test)


def _warm_start():
    X, y, X_test = _classification(N_SMALL)
    model = InterpolatingKernelClassifier(max_iter=3, warm_start=True, random_state=0)
    model.fit(X, y)
    model.set_params(max_iter=6)
    return model.fit(X, y).decision_function(X_test)


def _string_labels():
    X, y, X_test = _classification(N_SMALL, labels=["ant", "bee", "cat", "dog"])
    model = InterpolatingKernelClassifier(random_state=0).fit(X, y)
    return model.predict(X_test).astype("U")


def _dask():
    import dask.array as da
    from distributed import Client, LocalCluster

    X, y, X_test = _classification(N_SMALL)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster),
    ):
        model = InterpolatingKernelClassifier(random_state=0)
        model.fit(da.from_array(X, chunks=N_SMALL // 3), y)
        return np.asarray(model.decision_function(X_test))


CASES = {
    "defaults": _defaults,
    "alpha > 0": _ridge,
    "sample_weight": _weights,
    "weights, early stopping": _weights_early_stopping,
    "precomputed": _precomputed,
    "precomputed, early stopping": _precomputed_early_stopping,
    "scoring=loss": _loss,
    "warm_start": _warm_start,
    "string labels": _string_labels,
    "dask X": _dask,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the .npz file to write")
    parser.add_argument("--against", help="an earlier record to compare with")
    args = parser.parse_args()
    print(f"sklearn_interp from {sklearn_interp.__file__}")
    record = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, case in CASES.items():
            record[name] = case()
    np.savez(args.out, **record)
    if args.against is None:
        return
    before = np.load(args.against)
    changed = []
    for name, values in record.items():
        if np.array_equal(values, before[name]):
            print(f"{name:28s} same to the bit")
            continue
        difference = (
            np.max(np.abs(values - before[name])) if values.dtype.kind == "f" else None
        )
        if name == "dask X" and difference <= DASK_RTOL * np.max(np.abs(values)):
            print(f"{name:28s} same to rounding (largest difference {difference:.1e})")
            continue
        print(
            f"{name:28s} CHANGED" + ("" if difference is None else f" by {difference:.1e}")
        )
        changed.append(name)
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
