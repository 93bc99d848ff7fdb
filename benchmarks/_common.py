"""The benchmark harness shared by every script in ``benchmarks/``.

- ``DATASETS``: the registry of data sets, each a :class:`Dataset` (its task and the
  function that makes its train / test split); :func:`dataset_path` writes a split once
  to an ``.npz`` file that every child process (and the other Python) reads.
- ``METHODS``: the registry of methods this Python fits, each a factory
  ``(kind, n_features, **params) -> estimator`` with the rbf kernel and
  ``gamma = 1 / n_features``; ``EXTRA`` names scikit-learn-extra's EigenPro, fitted by
  ``external/eigenpro_extra.py`` in its own Python.
- :func:`measure`: the one measuring function. It fits a method on a data set in a fresh
  process (spawned, so no memory is shared with the parent) and returns the medians of
  the fit time, predict time and test score over the repeats, the epochs, the warnings
  and the process's peak resident set size (ru_maxrss, so it includes the interpreter
  and the data).
- :func:`write_report`: the one report writer: the markdown (printed, and written to
  ``results/NAME.md``, ``NAME.rst`` for the documentation and ``NAME.json`` with every
  figure), closed by the machine it ran on.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DATA_CACHE = Path(os.environ.get("SKLEARN_INTERP_BENCH_CACHE", "/tmp/sklearn_interp_bench"))
EXTRA_SCRIPT = Path(__file__).resolve().parent / "external" / "eigenpro_extra.py"

# Test points of the bench_* data sets: the standard error of an accuracy near 0.95 is
# then 0.3 percentage points.
TEST_SIZE = 5000
# run.py's generated test sets: the score's standard error is about 0.5%.
RUN_TEST_SIZE = 2000

# The baselines' ridge term, in KernelRidge's units. KernelRidge is asked for
# near-interpolation on classification (alpha = 0 is singular for its solver); regression
# targets are noisy, so every regression baseline gets the same ridge term.
CLASSIFICATION_ALPHA = 1e-3
REGRESSION_ALPHA = 1e-1

# Nystroem features: the usual few hundred to a few thousand landmarks.
NYSTROEM_COMPONENTS = 1000

# SVC's C (one-vs-one, libsvm) and SVR's C and epsilon (targets are standardized).
SVC_C = 10.0
SVR_C = 1.0
SVR_EPSILON = 0.1

# KernelRidge holds K and, in its Cholesky solve, a factor of the same size, plus
# temporaries: its measured peak at n = 20,000 was about 3 x 8 n^2 bytes.
KERNEL_RIDGE_MATRICES = 3
# Share of the available memory a KernelRidge fit may take before it is not run.
KERNEL_RIDGE_MEMORY_SHARE = 0.8

EXTRA = "sklearn-extra EigenPro"


def _standardize(X_train, X_test):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def make_classification_data(
    n_train, n_test=TEST_SIZE, seed=0, *, n_informative=20, class_sep=2.0, flip_y=0.0
):
    """make_classification with 40 features and 10 classes, standardized.

    The defaults are the ``classification40`` data of every benchmark; ``class_sep=1.0,
    n_informative=30`` gives ``classification40_sep1``, harder and less clustered, and
    with ``flip_y=0.1`` (a tenth of the labels drawn at random) ``classification40_noisy``,
    a noisy, data-hungry problem: test accuracy about 0.80 at 20,000 points, still
    rising with n.
    """
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=n_train + n_test,
        n_features=40,
        n_informative=n_informative,
        n_classes=10,
        n_clusters_per_class=2,
        class_sep=class_sep,
        flip_y=flip_y,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X)
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def make_digits_like_data(n_train, n_test=TEST_SIZE, seed=0):
    """scikit-learn's 8 x 8 digits, augmented to n points by 1-pixel shifts and noise.

    The original images are split first (75 / 25), and each part is augmented
    separately, so no test image is a shifted copy of a training image.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=seed, stratify=y
    )
    rng = np.random.RandomState(seed)

    def augment(X, y, n):
        index = rng.randint(len(X), size=n)
        images = X[index].reshape(n, 8, 8)
        shifted = np.zeros_like(images)
        for i, (dx, dy) in enumerate(rng.randint(-1, 2, size=(n, 2))):
            shifted[i] = np.roll(np.roll(images[i], dx, axis=0), dy, axis=1)
        noisy = shifted + rng.normal(scale=0.05, size=shifted.shape)
        return noisy.reshape(n, 64), y[index]

    X_tr, y_tr = augment(X_train, y_train, n_train)
    X_te, y_te = augment(X_test, y_test, n_test)
    return X_tr, X_te, y_tr, y_te


# The mixed regression data: categorical columns (their numbers of levels), one-hot
# encoded, next to standard normal numeric columns; 28 + 12 = 40 features.
MIXED_LEVELS = (3, 5, 8, 12)
MIXED_NUMERIC = 12
MIXED_TARGET_MEAN = 5.0  # far from 0, so a fit that assumes centred targets shows it
MIXED_NOISE = 0.3  # noise standard deviation; the signal's is about 1.5


def make_mixed_regression_data(n_train, n_test=TEST_SIZE, seed=0):
    """Regression on one-hot and numeric columns, numerics standardized, y raw.

    The target is a smooth function of the numeric columns (a sine, a product, a bump),
    a level effect for each categorical column and a slope on one numeric column that
    depends on the first categorical column's level, plus MIXED_TARGET_MEAN and Gaussian
    noise of MIXED_NOISE. y is left as it is (mean about 5), as a user's would be.
    """
    rng = np.random.RandomState(seed)
    n = n_train + n_test
    numeric = rng.normal(size=(n, MIXED_NUMERIC))
    levels = [rng.randint(k, size=n) for k in MIXED_LEVELS]
    effects = [rng.normal(scale=0.5, size=k) for k in MIXED_LEVELS]
    slopes = rng.normal(size=MIXED_LEVELS[0])
    y = (
        MIXED_TARGET_MEAN
        + np.sin(numeric[:, 0])
        + 0.5 * numeric[:, 1] * numeric[:, 2]
        + np.exp(-(numeric[:, 3] ** 2))
        + 0.5 * np.tanh(numeric[:, 4] + numeric[:, 5])
        + slopes[levels[0]] * numeric[:, 6] / 2
        + sum(effect[level] for effect, level in zip(effects, levels, strict=True))
        + rng.normal(scale=MIXED_NOISE, size=n)
    )
    one_hot = np.hstack(
        [np.eye(k)[level] for k, level in zip(MIXED_LEVELS, levels, strict=True)]
    )
    numeric_train, numeric_test = _standardize(numeric[:n_train], numeric[n_train:])
    X_train = np.hstack([one_hot[:n_train], numeric_train])
    X_test = np.hstack([one_hot[n_train:], numeric_test])
    return X_train, X_test, y[:n_train], y[n_train:]


def _run_classification(n_train):
    """run.py's generated classification: classification40's generator with
    RUN_TEST_SIZE test points, standardized on the training points."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_train + RUN_TEST_SIZE,
        n_features=40,
        n_informative=20,
        n_classes=10,
        n_clusters_per_class=2,
        class_sep=2.0,
        random_state=0,
    )
    X_train, X_test = _standardize(X[:n_train], X[n_train:])
    return X_train, X_test, y[:n_train], y[n_train:]


def _standardized_targets(split):
    X_train, X_test, y_train, y_test = split
    X_train, X_test = _standardize(X_train, X_test)
    mean, std = y_train.mean(), y_train.std()
    return X_train, X_test, (y_train - mean) / std, (y_test - mean) / std


def _run_friedman1(n_train):
    """make_friedman1 with 10 features and noise 1, X and y standardized on training."""
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(
        n_samples=n_train + RUN_TEST_SIZE, n_features=10, noise=1.0, random_state=0
    )
    return _standardized_targets((X[:n_train], X[n_train:], y[:n_train], y[n_train:]))


def _builtin(loader_name, kind):
    """A scikit-learn built-in data set, split 75 / 25, standardized on training."""

    def load(n_train=None):
        import sklearn.datasets
        from sklearn.model_selection import train_test_split

        X, y = getattr(sklearn.datasets, loader_name)(return_X_y=True)
        split = train_test_split(
            X.astype(np.float64),
            y,
            test_size=0.25,
            random_state=0,
            stratify=y if kind == "classification" else None,
        )
        if kind == "regression":
            return _standardized_targets(split)
        X_train, X_test = _standardize(split[0], split[1])
        return X_train, X_test, split[2], split[3]

    return load


@dataclass(frozen=True)
class Dataset:
    """A registered data set.

    kind : "classification" or "regression".
    make : ``make(n_train) -> (X_train, X_test, y_train, y_test)``, as stored.
    sized : False for the built-in sets, whose size is their own.
    title : the name in the reports, where two registered sets share it.
    """

    kind: str
    make: Callable
    sized: bool = True
    title: str | None = None


DATASETS = {
    "classification40": Dataset("classification", make_classification_data),
    "classification40_sep1": Dataset(
        "classification",
        partial(make_classification_data, n_informative=30, class_sep=1.0),
    ),
    "classification40_noisy": Dataset(
        "classification",
        partial(make_classification_data, n_informative=30, class_sep=1.0, flip_y=0.1),
    ),
    "digits_like": Dataset("classification", make_digits_like_data),
    "mixed_regression": Dataset("regression", make_mixed_regression_data),
    # run.py's sets: X standardized on the training points, y too for regression.
    "digits": Dataset("classification", _builtin("load_digits", "classification"), False),
    "breast_cancer": Dataset(
        "classification", _builtin("load_breast_cancer", "classification"), False
    ),
    "wine": Dataset("classification", _builtin("load_wine", "classification"), False),
    "diabetes": Dataset("regression", _builtin("load_diabetes", "regression"), False),
    "run_classification40": Dataset(
        "classification", _run_classification, title="classification40"
    ),
    "friedman1": Dataset("regression", _run_friedman1),
}


def dataset_title(name):
    return DATASETS[name].title or name


def dataset_path(name, n_train=None):
    """Write the split once to an .npz file that every child (and other Pythons) read."""
    dataset = DATASETS[name]
    DATA_CACHE.mkdir(parents=True, exist_ok=True)
    path = DATA_CACHE / f"{name}_{n_train if dataset.sized else 'all'}.npz"
    if not path.exists():
        X_train, X_test, y_train, y_test = dataset.make(n_train)
        np.savez(path, X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test)
    return path


def dataset_shape(name, n_train=None):
    """(n_train, n_test, n_features) of a registered split."""
    with np.load(dataset_path(name, n_train)) as data:
        return (*data["X_train"].shape[:1], len(data["X_test"]), data["X_train"].shape[1])


class KernelRidgeClassifier:
    """KernelRidge on the -1/+1 encoding of the classes (as our classifier and
    RidgeClassifier use), predicting the class of the largest output."""

    def __init__(self, **params):
        from sklearn.kernel_ridge import KernelRidge

        self.model = KernelRidge(**params)

    def fit(self, X, y):
        from sklearn.preprocessing import LabelBinarizer

        self.binarizer = LabelBinarizer(neg_label=-1).fit(y)
        self.model.fit(X, self.binarizer.transform(y))
        return self

    def predict(self, X):
        scores = self.model.predict(X)
        classes = self.binarizer.classes_
        if scores.ndim == 1 or scores.shape[1] == 1:
            return classes[(scores.ravel() > 0).astype(int)]
        return classes[scores.argmax(axis=1)]


def _baseline_alpha(kind):
    return CLASSIFICATION_ALPHA if kind == "classification" else REGRESSION_ALPHA


def _ours(kind, n_features, **params):
    """InterpolatingKernelClassifier / Regressor: gamma = 1 / n_features,
    random_state=0, and the estimator's defaults for everything not in params."""
    from sklearn_interp import InterpolatingKernelClassifier, InterpolatingKernelRegressor

    estimator = (
        InterpolatingKernelClassifier
        if kind == "classification"
        else InterpolatingKernelRegressor
    )
    return estimator(**{"gamma": 1.0 / n_features, "random_state": 0, **params})


def _kernel_ridge(kind, n_features, alpha=None):
    from sklearn.kernel_ridge import KernelRidge

    alpha = _baseline_alpha(kind) if alpha is None else alpha
    estimator = KernelRidgeClassifier if kind == "classification" else KernelRidge
    return estimator(alpha=alpha, kernel="rbf", gamma=1.0 / n_features)


def _nystroem(kind, n_features, alpha=None, n_components=NYSTROEM_COMPONENTS):
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import Ridge, RidgeClassifier
    from sklearn.pipeline import make_pipeline

    alpha = _baseline_alpha(kind) if alpha is None else alpha
    features = Nystroem(gamma=1.0 / n_features, n_components=n_components, random_state=0)
    linear = RidgeClassifier if kind == "classification" else Ridge
    return make_pipeline(features, linear(alpha=alpha))


def _svm(kind, n_features):
    from sklearn.svm import SVC, SVR

    if kind == "classification":
        return SVC(C=SVC_C, gamma=1.0 / n_features)
    return SVR(C=SVR_C, epsilon=SVR_EPSILON, gamma=1.0 / n_features)


METHODS = {
    "ours": _ours,
    "kernel_ridge": _kernel_ridge,
    "nystroem": _nystroem,
    "svm": _svm,
}


def _score(kind, y_test, predicted):
    from sklearn.metrics import r2_score

    if kind == "classification":
        return float(np.mean(predicted == y_test))
    return float(r2_score(y_test, predicted))


def fit_and_score(path, kind, method, params=None, repeats=1):
    """Fit and score METHODS[method](**params) ``repeats`` times in this process.

    Returns the medians of ``fit_s``, ``predict_s`` and ``score`` (test accuracy or
    R^2), every run's values (``runs``), and from the last fit: ``epochs`` (ours; NaN
    for the others), ``warnings`` (how many the fit raised) and ``warning_types``, and
    for ours ``batch_size``, ``m_star`` and ``n_components``.
    """
    with np.load(path) as data:
        X_train, X_test = data["X_train"], data["X_test"]
        y_train, y_test = data["y_train"], data["y_test"]
    runs = {"fit_s": [], "predict_s": [], "score": []}
    for _ in range(repeats):
        model = METHODS[method](kind, X_train.shape[1], **(params or {}))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            model.fit(X_train, y_train)
            runs["fit_s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        predicted = model.predict(X_test)
        runs["predict_s"].append(time.perf_counter() - start)
        runs["score"].append(_score(kind, y_test, predicted))
    result = {key: float(np.median(values)) for key, values in runs.items()}
    result.update(
        runs=runs,
        epochs=float(model.n_iter_) if method == "ours" else float("nan"),
        warnings=len(caught),
        warning_types=sorted({warning.category.__name__ for warning in caught}),
        repeats=repeats,
    )
    if method == "ours":
        result.update(
            batch_size=model.batch_size_,
            m_star=model.critical_batch_size_,
            n_components=model.n_components_,
        )
    return result


def fixed_epochs_fit(X, y, max_iter, **params):
    """Fit InterpolatingKernelClassifier for exactly ``max_iter`` epochs (tol=0, no early
    stopping, random_state=0); return the fit's wall time and the model.

    Two such fits with the same data and seed share their set-up (the spectrum and the
    step size), so the difference of their times over the difference of their epochs is
    the time of an epoch alone.
    """
    from sklearn_interp import InterpolatingKernelClassifier

    model = InterpolatingKernelClassifier(
        **{
            "max_iter": max_iter,
            "tol": 0.0,
            "early_stopping": False,
            "random_state": 0,
            **params,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: ConvergenceWarning by design
        start = time.perf_counter()
        model.fit(X, y)
    return time.perf_counter() - start, model


def measure(dataset, n_train, method, params=None, *, repeats=1, extra_python=None):
    """Fit ``method`` on a registered data set in fresh processes; the medians.

    A method of METHODS runs in one fresh child process of this Python, which fits
    ``repeats`` times (:func:`fit_and_score`) and adds its peak RSS. ``EXTRA`` runs
    ``repeats`` processes of ``extra_python`` (params: ``n_epoch``, ``random_state``),
    each one fit. Either way the result has the keys of :func:`fit_and_score` (less the
    fitted diagnostics for EXTRA) and ``peak_rss_mb``.
    """
    path = dataset_path(dataset, n_train)
    kind = DATASETS[dataset].kind
    if method != EXTRA:
        return in_child(fit_and_score, path, kind, method, params, repeats)
    params = {"n_epoch": 2, "random_state": 0, **(params or {})}
    n_features = dataset_shape(dataset, n_train)[2]
    runs = [
        run_external(
            extra_python,
            EXTRA_SCRIPT,
            path,
            params["n_epoch"],
            1.0 / n_features,
            kind,
            params["random_state"],
        )
        for _ in range(repeats)
    ]
    keys = ("fit_s", "predict_s", "score", "peak_rss_mb")
    result = {key: median_of(runs, key) for key in keys}
    result.update(
        runs={key: [run[key] for run in runs] for key in keys[:3]},
        epochs=params["n_epoch"],
        warnings=0,
        warning_types=[],
        repeats=repeats,
    )
    return result


def _child(connection, function, args):
    try:
        start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = function(*args)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["start_rss_mb"] = start_rss / 1024
        connection.send((True, result))
    except BaseException:
        connection.send((False, traceback.format_exc()))
    finally:
        connection.close()


def in_child(function, *args):
    """Run ``function(*args) -> dict`` in a fresh spawned process; add its peak RSS.

    The process is not daemonic, so it may start processes of its own (the workers of
    a Dask LocalCluster).
    """
    context = get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, function, args))
    process.start()
    sender.close()  # so that recv sees the end of the pipe if the child dies
    try:
        succeeded, result = receiver.recv()
    except EOFError:
        process.join()
        succeeded, result = False, f"the child process died (exit code {process.exitcode})"
    finally:
        receiver.close()
        process.join()
    if not succeeded:
        raise RuntimeError(f"{function.__name__} failed in a child process:\n{result}")
    return result


def median_of(runs, key):
    return float(np.median([run[key] for run in runs]))


def run_external(python, script, *args):
    """Run ``script`` with another Python (a separate virtual environment); parse JSON."""
    output = subprocess.run(
        [python, str(script), *map(str, args)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def available_gigabytes():
    """MemAvailable from /proc/meminfo (Linux); None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def kernel_ridge_not_run(n_train, available_gb):
    """Why KernelRidge cannot run at n_train points in this memory, or None."""
    needed = KERNEL_RIDGE_MATRICES * 8 * n_train**2 / 1e9
    if available_gb is not None and needed > KERNEL_RIDGE_MEMORY_SHARE * available_gb:
        return (
            f"not run: needs about {needed:.0f} GB ({KERNEL_RIDGE_MATRICES} n x n "
            f"float64 matrices), {available_gb:.0f} GB available"
        )
    return None


def argument_parser(doc, *, repeats=None, extra_python=False):
    """The scripts' command line: the docstring's first line, and where asked the
    shared ``--repeats`` and ``--extra-python`` options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if repeats is not None:
        parser.add_argument(
            "--repeats", type=int, default=repeats, help=f"default {repeats}"
        )
    if extra_python:
        parser.add_argument(
            "--extra-python",
            default=os.environ.get("SKLEARN_EXTRA_PYTHON"),
            help="Python of an environment with scikit-learn-extra 0.3.0 "
            "(default: SKLEARN_EXTRA_PYTHON)",
        )
    return parser


def command_line(script, *options):
    """The command a report was made with, as the reports quote it."""
    return " ".join([f"python benchmarks/{script}", *filter(None, options)])


def machine_info():
    """CPU, cores, BLAS and library versions, recorded next to every result."""
    import numpy
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [
        f"{lib['internal_api']} {lib['version']} ({lib.get('architecture')}, "
        f"{lib['num_threads']} threads)"
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    ]
    return {
        "cpu": cpu,
        "simd": simd_level(),
        "cores": os.cpu_count(),
        "blas": ", ".join(blas),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def simd_level():
    """The widest SIMD level numpy dispatches to here: "AVX-512", "AVX2" or less.

    numpy's own record of the CPU features it found and may use; the environment
    variable NPY_DISABLE_CPU_FEATURES (which turns some off) is named when set.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    level = next(
        (
            name
            for key, name in [("AVX512F", "AVX-512"), ("AVX2", "AVX2"), ("SSE2", "SSE2")]
            if features.get(key)
        ),
        platform.machine(),
    )
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES")
    return f"{level} (NPY_DISABLE_CPU_FEATURES={disabled})" if disabled else level


def machine_markdown(info):
    return "\n".join(f"- {key}: {value}" for key, value in info.items())


def markdown_to_rst(markdown):
    """The small markdown subset the scripts write (headings, pipe tables, bullets,
    paragraphs, inline code) as reStructuredText, for the documentation to include.

    The shallowest markdown heading becomes a section one level below the including
    page's title, and each deeper one a level further down.
    """
    out, table = [], []

    def flush_table():
        if not table:
            return
        rows = [
            [cell.strip().replace("**", "") for cell in line.strip("|").split("|")]
            for line in table
            if not set(line.replace("|", "").strip()) <= set("-: ")
        ]
        out.extend([".. list-table::", "   :header-rows: 1", ""])
        for row in rows:
            out.append("   * - " + (row[0] or " "))
            out.extend(f"     - {cell or ' '}" for cell in row[1:])
        out.append("")
        table.clear()

    # Heading levels in order of depth, so that a "###" under a "#" is one level down.
    levels = sorted(
        {len(line) - len(line.lstrip("#")) for line in markdown.splitlines()} - {0}
    )
    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("#"):
            level, title = len(line) - len(line.lstrip("#")), line.lstrip("#").strip()
            out.extend([title, '-~^"'[min(levels.index(level), 3)] * len(title), ""])
        else:
            out.append(line.replace("`", "``"))
    flush_table()
    return "\n".join(out) + "\n"


def write_report(name, title, intro, sections, data, info):
    """Print and write results/NAME.md, NAME.rst (for the docs) and NAME.json.

    The markdown is the title, the intro paragraph(s), the sections (each opening with
    a blank line) and the machine record ``info``; the JSON is ``data`` with
    ``machine: info`` first.
    """
    markdown = (
        f"# {title}\n\n{intro}\n"
        + "\n".join(sections)
        + "\n\nMachine:\n\n"
        + machine_markdown(info)
        + "\n"
    )
    print(markdown)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(markdown)
    (RESULTS / f"{name}.rst").write_text(markdown_to_rst(markdown))
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"machine": info, **data}, indent=2, default=float)
    )
    return markdown
