"""Fit time at equal test accuracy: sweeps of epochs, read against each baseline's point.

A fixed tol is one operating point; this script measures the whole trade-off instead. It
fits this package (float32) for a fixed number of epochs, over a range of epoch counts
(``tol=0``, so every fit runs exactly ``max_iter`` epochs), KernelRidge (alpha=1e-3), and
scikit-learn-extra's EigenProClassifier over a range of ``n_epoch``, on the same split;
each point is the median of ``--repeats`` fresh child processes, repeat r with
``random_state=r`` for both SGD methods (their subsample and batch order), so that a
point's accuracy is not one seed's luck; the table gives the range of accuracies over
the seeds too. For every baseline point
it then reports the fastest of our points whose test accuracy is at least the baseline's
(for KernelRidge: within 0.5 percentage points of it, the target of issue 3), and the
ratio of fit times.

Choosing the epoch count by its test accuracy is an oracle that a user does not have: the
table also shows each sweep point, and ``bench_fit.py`` the fixed-tol operating points.

    python benchmarks/bench_equal_accuracy.py [--n 20000] [--datasets ...] [--repeats 3]
        [--epochs 2 3 4 6 8 10 12 14 16] [--extra-epochs 2 3 5 8] [--extra-python PATH]
"""

from _common import (
    EXTRA,
    argument_parser,
    command_line,
    machine_info,
    measure,
    median_of,
    write_report,
)
from bench_fit import KERNEL_RIDGE_ALPHA, KERNEL_RIDGE_LABEL

# "Equal accuracy" against KernelRidge, as issue 3 states it.
KERNEL_RIDGE_TOLERANCE = 0.005


def summarize(runs):
    summary = {key: median_of(runs, key) for key in ("fit_s", "score")}
    scores = [run["score"] for run in runs]
    return {**summary, "score_min": min(scores), "score_max": max(scores)}


def fastest_at_least(sweep, accuracy):
    """The cheapest sweep point reaching ``accuracy``, or None."""
    reaching = [point for point in sweep if point["score"] >= accuracy - 1e-12]
    return min(reaching, key=lambda point: point["fit_s"], default=None)


def run(dataset, n, repeats, epochs, extra_epochs, extra_python):
    sweep = []
    for k in epochs:
        runs = [
            measure(
                dataset,
                n,
                "ours",
                {
                    "precision": "float32",
                    "tol": 0.0,
                    "max_iter": k,
                    "early_stopping": False,
                    "random_state": seed,
                },
            )
            for seed in range(repeats)
        ]
        point = summarize(runs)
        sweep.append({"epochs": k, **point})
        print(f"  {dataset} n={n} ours {k} epochs: {point}", flush=True)
    ridge = summarize(
        [
            measure(dataset, n, "kernel_ridge", {"alpha": KERNEL_RIDGE_ALPHA})
            for _ in range(repeats)
        ]
    )
    print(f"  {dataset} n={n} KernelRidge: {ridge}", flush=True)
    baselines = [(KERNEL_RIDGE_LABEL, ridge, KERNEL_RIDGE_TOLERANCE)]
    if extra_python:
        for k in extra_epochs:
            runs = [
                measure(
                    dataset,
                    n,
                    EXTRA,
                    {"n_epoch": k, "random_state": seed},
                    extra_python=extra_python,
                )
                for seed in range(repeats)
            ]
            point = summarize(runs)
            print(f"  {dataset} n={n} extra {k} epochs: {point}", flush=True)
            baselines.append((f"{EXTRA}, n_epoch={k}", point, 0.0))
    return sweep, baselines


def _range(point):
    return f"{point['score_min']:.4f}-{point['score_max']:.4f}"


def tables(dataset, n, sweep, baselines):
    lines = [
        f"\n### {dataset}, n = {n}\n",
        "Our sweep (float32, tol=0, max_iter = epochs):\n",
        "| epochs | fit (s) | test accuracy (median) | over the seeds |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {p['epochs']} | {p['fit_s']:.2f} | {p['score']:.4f} | {_range(p)} |"
        for p in sweep
    ]
    lines += [
        "",
        "Against each baseline point: our fastest point with at least its accuracy "
        "(KernelRidge: at least its accuracy minus 0.5 pp):\n",
        "| baseline | its fit (s) | its accuracy (over the seeds) | our epochs "
        "| our fit (s) | our accuracy | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, point, tolerance in baselines:
        ours = fastest_at_least(sweep, point["score"] - tolerance)
        theirs = (
            f"| {label} | {point['fit_s']:.2f} | {point['score']:.4f} ({_range(point)}) |"
        )
        if ours is None:
            lines.append(f"{theirs} not reached in the sweep | | | |")
            continue
        lines.append(
            f"{theirs} {ours['epochs']} | {ours['fit_s']:.2f} | {ours['score']:.4f} | "
            f"**{point['fit_s'] / ours['fit_s']:.1f}x** |"
        )
    return "\n".join(lines)


def main():
    parser = argument_parser(__doc__, repeats=3, extra_python=True)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument(
        "--datasets", nargs="+", default=["classification40", "digits_like"]
    )
    parser.add_argument(
        "--epochs", type=int, nargs="+", default=[2, 3, 4, 6, 8, 10, 12, 14, 16]
    )
    parser.add_argument("--extra-epochs", type=int, nargs="+", default=[2, 3, 5, 8])
    args = parser.parse_args()

    info = machine_info()
    sections, data = [], []
    for dataset in args.datasets:
        sweep, baselines = run(
            dataset, args.n, args.repeats, args.epochs, args.extra_epochs, args.extra_python
        )
        sections.append(tables(dataset, args.n, sweep, baselines))
        print(sections[-1], flush=True)
        data.append(
            {"dataset": dataset, "n": args.n, "sweep": sweep, "baselines": baselines}
        )
    command = command_line(
        "bench_equal_accuracy.py",
        f"--n {args.n}",
        f"--datasets {' '.join(args.datasets)}",
        f"--repeats {args.repeats}",
        f"--epochs {' '.join(map(str, args.epochs))}",
        f"--extra-epochs {' '.join(map(str, args.extra_epochs))} --extra-python PATH"
        if args.extra_python
        else "",
    )
    write_report(
        "equal_accuracy",
        "Fit time at equal test accuracy",
        f"`{command}`. Medians of the repeats, each in a fresh process, repeat r with "
        "`random_state=r` for both SGD methods. Picking the epoch count "
        "by its test accuracy is an oracle a user does not have; the fixed-tol operating "
        "points are in the fit tables.",
        sections,
        {"runs": data},
        info,
    )


if __name__ == "__main__":
    main()
