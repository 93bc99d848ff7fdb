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

from _common import (
    CLASSIFICATION_ALPHA,
    EXTRA,
    argument_parser,
    command_line,
    dataset_shape,
    machine_info,
    measure,
    median_of,
    write_report,
)

KERNEL_RIDGE_ALPHA = CLASSIFICATION_ALPHA  # _common's: near-interpolation
KERNEL_RIDGE_LABEL = f"KernelRidge(alpha={KERNEL_RIDGE_ALPHA:g})"

# Fits to a training tol, as the round-1 defaults ran ("defaults" in results made before
# early stopping became the default above 10,000 samples); bench_defaults.py measures
# today's defaults.
NO_EARLY_STOPPING = {"early_stopping": False}
OURS = {
    "ours float64, tol=1e-4": {"precision": "float64", **NO_EARLY_STOPPING},
    "ours float32, tol=1e-4": {"precision": "float32", **NO_EARLY_STOPPING},
    "ours float64, tol=3e-2": {"precision": "float64", "tol": 3e-2, **NO_EARLY_STOPPING},
    "ours float32, tol=3e-2": {"precision": "float32", "tol": 3e-2, **NO_EARLY_STOPPING},
}
EXTRA_EPOCHS = (2, 5)


def kernel_matrix_gigabytes(n):
    """K alone, n x n float64; KernelRidge's solver also factors it in a copy."""
    return 8 * n * n / 1e9


def run(n, dataset, repeats, extra_python, with_kernel_ridge):
    """Each label's runs, one fresh process per run."""
    results = {}
    if with_kernel_ridge:
        results[KERNEL_RIDGE_LABEL] = [
            measure(dataset, n, "kernel_ridge", {"alpha": KERNEL_RIDGE_ALPHA})
            for _ in range(repeats)
        ]
    for label, params in OURS.items():
        if not with_kernel_ridge and "float64, tol=1e-4" in label:
            continue  # at large n the full-precision interpolation run is the slow one
        results[label] = [measure(dataset, n, "ours", params) for _ in range(repeats)]
    if extra_python:
        for n_epoch in EXTRA_EPOCHS:
            results[f"{EXTRA}, n_epoch={n_epoch}"] = [
                measure(dataset, n, EXTRA, {"n_epoch": n_epoch}, extra_python=extra_python)
                for _ in range(repeats)
            ]
    return results


def table(n, dataset, results, with_kernel_ridge, extra_python):
    n_test = dataset_shape(dataset, n)[1]
    reference = results.get(KERNEL_RIDGE_LABEL)
    lines = [
        f"\n### {dataset}, n = {n} (test: {n_test})\n",
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
        lines.append(f"| {EXTRA} | not run: no --extra-python | | | | | |")
    return "\n".join(lines)


def main():
    parser = argument_parser(__doc__, repeats=3, extra_python=True)
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
    parser.add_argument("--name", default="fit", help="results/NAME.md and NAME.json")
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
    command = command_line(
        "bench_fit.py",
        f"--n {' '.join(map(str, args.n))}",
        f"--large {' '.join(map(str, args.large))}" if args.large else "",
        f"--datasets {' '.join(args.datasets)}",
        f"--repeats {args.repeats}",
        f"--name {args.name}" if args.name != "fit" else "",
        "--extra-python PATH" if args.extra_python else "",
    )
    write_report(
        args.name,
        "Fit time and accuracy against KernelRidge and scikit-learn-extra EigenPro",
        f"`{command}`. Medians of the repeats (one run at the large sizes), each in a "
        "fresh process; peak RSS includes the interpreter and the data.",
        sections,
        {"runs": data},
        info,
    )


if __name__ == "__main__":
    main()
