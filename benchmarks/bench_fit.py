"""Fit time, accuracy and peak memory against KernelRidge and scikit-learn-extra EigenPro.

Ten-class classification, rbf kernel with gamma = 1 / n_features for every method, the
same train / test split for all. Each figure is the median of ``--repeats`` fresh child
processes; ratios are against KernelRidge measured in the same run.

    python benchmarks/bench_fit.py [--n 5000 20000] [--large 100000] [--repeats 3]
        [--extra-python /tmp/skextra/bin/python] [--name fit]

``--extra-python`` (or the SKLEARN_EXTRA_PYTHON environment variable) names the Python of
a virtual environment with scikit-learn-extra 0.3.0 (see external/eigenpro_extra.py);
without it that baseline is reported as not run.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    dataset_path,
    in_child,
    machine_info,
    machine_markdown,
    median_of,
    run_external,
    write_results,
)

EXTRA_SCRIPT = Path(__file__).resolve().parent / "external" / "eigenpro_extra.py"
KERNEL_RIDGE_ALPHA = 1e-3  # near-interpolation; alpha = 0 is singular for its solver


def fit_ours(path, params):
    from sklearn_interp import InterpolatingKernelClassifier

    data = np.load(path)
    model = InterpolatingKernelClassifier(**{"random_state": 0, **params})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(data["X_train"], data["y_train"])
        fit_s = time.perf_counter() - start
    start = time.perf_counter()
    score = float(np.mean(model.predict(data["X_test"]) == data["y_test"]))
    return {
        "fit_s": fit_s,
        "predict_s": time.perf_counter() - start,
        "score": score,
        "epochs": model.n_iter_,
        "batch_size": model.batch_size_,
        "m_star": model.critical_batch_size_,
        "n_components": model.n_components_,
        "warnings": len(caught),
    }


def fit_kernel_ridge(path):
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.preprocessing import LabelBinarizer

    data = np.load(path)
    binarizer = LabelBinarizer(neg_label=-1)
    targets = binarizer.fit_transform(data["y_train"])
    model = KernelRidge(alpha=KERNEL_RIDGE_ALPHA, kernel="rbf")
    start = time.perf_counter()
    model.fit(data["X_train"], targets)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    predicted = binarizer.classes_[model.predict(data["X_test"]).argmax(axis=1)]
    return {
        "fit_s": fit_s,
        "predict_s": time.perf_counter() - start,
        "score": float(np.mean(predicted == data["y_test"])),
        "epochs": float("nan"),
    }


OURS = {
    "ours float64 (defaults)": {},
    "ours float32 (defaults)": {"precision": "float32"},
    "ours float64, tol=3e-2": {"tol": 3e-2},
    "ours float32, tol=3e-2": {"precision": "float32", "tol": 3e-2},
}


def kernel_matrix_gigabytes(n):
    """K alone, n x n float64; KernelRidge's solver also factors it in a copy."""
    return 8 * n * n / 1e9


def run(n, dataset, repeats, extra_python, with_kernel_ridge):
    path = dataset_path(dataset, n)
    d = np.load(path)["X_train"].shape[1]
    results = {}
    if with_kernel_ridge:
        results["KernelRidge(alpha=1e-3)"] = [
            in_child(fit_kernel_ridge, path) for _ in range(repeats)
        ]
    for label, params in OURS.items():
        if not with_kernel_ridge and "float64 (defaults)" in label:
            continue  # at large n the full-precision interpolation run is the slow one
        results[label] = [in_child(fit_ours, path, params) for _ in range(repeats)]
    if extra_python:
        for n_epoch in (2, 5):
            results[f"sklearn-extra EigenPro, n_epoch={n_epoch}"] = [
                run_external(extra_python, EXTRA_SCRIPT, path, n_epoch, 1.0 / d)
                for _ in range(repeats)
            ]
    return results


def table(n, dataset, results, with_kernel_ridge, extra_python):
    reference = results.get("KernelRidge(alpha=1e-3)")
    lines = [
        f"\n### {dataset}, n = {n} (test: 5000)\n",
        "| method | fit (s) | fit time / KernelRidge | predict (s) | test accuracy "
        "| epochs | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, runs in results.items():
        fit_s = median_of(runs, "fit_s")
        ratio = f"{fit_s / median_of(reference, 'fit_s'):.3f}" if reference else "-"
        lines.append(
            f"| {label} | {fit_s:.2f} | {ratio} | {median_of(runs, 'predict_s'):.2f} | "
            f"{median_of(runs, 'score'):.4f} | {median_of(runs, 'epochs'):.0f} | "
            f"{median_of(runs, 'peak_rss_mb'):.0f} |"
        )
    if not with_kernel_ridge:
        lines.append(
            f"| KernelRidge | not run: K alone needs {kernel_matrix_gigabytes(n):.0f} GB "
            f"({2 * kernel_matrix_gigabytes(n):.0f} GB with its factor) | | | | | |"
        )
    if not extra_python:
        lines.append("| sklearn-extra EigenPro | not run: no --extra-python | | | | | |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[5000, 20000])
    parser.add_argument(
        "--large",
        type=int,
        nargs="*",
        default=[],
        help="sizes run without KernelRidge (it would not fit in memory)",
    )
    parser.add_argument(
        "--datasets", nargs="+", default=["classification40", "digits_like"]
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="fit", help="results/NAME.md and NAME.json")
    parser.add_argument("--extra-python", default=os.environ.get("SKLEARN_EXTRA_PYTHON"))
    args = parser.parse_args()

    info = machine_info()
    sections, data = [], []
    for dataset in args.datasets:
        for n, with_ridge in [(n, True) for n in args.n] + [(n, False) for n in args.large]:
            repeats = args.repeats if with_ridge else 1
            results = run(n, dataset, repeats, args.extra_python, with_ridge)
            sections.append(table(n, dataset, results, with_ridge, args.extra_python))
            print(sections[-1], flush=True)
            data.append({"dataset": dataset, "n": n, "results": results})
    command = "python benchmarks/bench_fit.py " + " ".join(
        [f"--n {' '.join(map(str, args.n))}"]
        + ([f"--large {' '.join(map(str, args.large))}"] if args.large else [])
        + [f"--datasets {' '.join(args.datasets)}", f"--repeats {args.repeats}"]
        + ([f"--name {args.name}"] if args.name != "fit" else [])
        + (["--extra-python PATH"] if args.extra_python else [])
    )
    markdown = (
        "# Fit time and accuracy against KernelRidge and scikit-learn-extra EigenPro\n\n"
        f"`{command}`. Medians of the repeats (one run at the large sizes), each in a "
        "fresh process; peak RSS includes the interpreter and the data.\n"
        + "\n".join(sections)
        + "\n\nMachine:\n\n"
        + machine_markdown(info)
        + "\n"
    )
    print(markdown)
    write_results(args.name, markdown, {"machine": info, "runs": data})


if __name__ == "__main__":
    main()
