"""Where an epoch's time goes, against each part's best rate on this machine.

For the 5-epoch float32 fit (early stopping off, rbf, classification40_sep1: 40
features, 10 classes) at each n, in fresh child processes, this script measures:

- the fit's wall time, and its set-up (the fit of 1 epoch less one epoch: plan_fit,
  validation and bookkeeping) as a share of the 5-epoch fit;
- with ``--baseline PATH`` (a checkout of another commit, e.g. made with ``git worktree
  add /tmp/baseline COMMIT``), the same fit by that code, alternating with this one in
  the same run, their time ratio and the largest difference of their decision values;
- an epoch split into its parts, each timed on one core over the epoch's column tiles
  (the chunk rows, tile columns and batch of the fitted model): the distance product
  (``[a, -gamma ||a||^2, 1] @ [2 gamma b, 1, -gamma ||b||^2]^T``), the elementwise exp,
  ``K @ a``, the
  preconditioner's projection ``K(X_S, X_B) g``; the rest of the epoch's measured time
  on its threads is "overhead" (thread hand-offs, coefficient updates, Python, and
  what the threads lose to each other on shared caches);
- each part's best rate in the same process: the BLAS product of a large square
  matrix (GFLOP/s of one core) and the exp on a cache-resident tile (ns per entry);
- with ``--extra-python``, scikit-learn-extra's EigenPro for 5 epochs on the same data.

    python benchmarks/bench_epoch.py [--n 20000 40000] [--repeats 3] [--baseline PATH]
        [--extra-python /tmp/skextra/bin/python]
"""

import os
import subprocess
import sys
import time
import warnings

import numpy as np
from _common import (
    EXTRA,
    argument_parser,
    command_line,
    dataset_path,
    in_child,
    machine_info,
    measure,
    median_of,
    write_report,
)

EPOCHS = 5
DEFAULT_REPEATS = 3
DATASET = "classification40_sep1"
# Repeats of each timed part inside one child: the median is kept.
PART_REPEATS = 3
# The exp's best rate: a tile of 16,384 float32 entries (64 KB) stays in L1/L2.
CACHE_TILE_ENTRIES = 2**14
# The BLAS product's best rate: a square float32 product of this size, large enough to
# run at the kernel's peak on one core.
PEAK_PRODUCT_SIZE = 1024


def _fit(path, epochs, source=None):
    """A float32 fit of ``epochs`` epochs; its time and model (``source``: another
    checkout to import sklearn_interp from)."""
    if source is not None:
        sys.path.insert(0, source)
    from sklearn_interp import InterpolatingKernelClassifier

    data = np.load(path)
    model = InterpolatingKernelClassifier(
        gamma=1.0 / data["X_train"].shape[1],
        max_iter=epochs,
        tol=0.0,
        early_stopping=False,
        precision="float32",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: ConvergenceWarning by design
        start = time.perf_counter()
        model.fit(data["X_train"], data["y_train"])
        seconds = time.perf_counter() - start
    return seconds, model


def measure_fit(path, source=None):
    """The 5-epoch fit (and the 1-epoch fit, for the set-up) of the code at
    ``source`` (None: this checkout)."""
    one, _ = _fit(path, 1, source)
    several, model = _fit(path, EPOCHS, source)
    data = np.load(path)
    decision = model.decision_function(data["X_test"])
    epoch = (several - one) / (EPOCHS - 1)
    return {
        "fit_s": several,
        "epoch_s": epoch,
        "setup_s": one - epoch,
        "accuracy": float(np.mean(model.predict(data["X_test"]) == data["y_test"])),
        "decision": decision.tolist(),
        "module": sys.modules["sklearn_interp"].__file__,
    }


def _median_time(function):
    times = []
    for _ in range(PART_REPEATS):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure_parts(path):
    """One epoch's parts on one core, and the best rates of the product and the exp."""
    from threadpoolctl import threadpool_limits

    from sklearn_interp._kernel import tile_columns
    from sklearn_interp._parallel import chunk_rows

    _, model = _fit(path, 1)
    data = np.load(path)
    X = data["X_train"].astype(np.float32)
    n, d = X.shape
    c, s = len(model.classes_), model.subsample_size_
    rows = chunk_rows(n, model.batch_size_, os.cpu_count())
    width = min(tile_columns(rows), n)  # the fit's column tiles (kernel_product)
    gamma = np.float32(model.gamma_)
    rng = np.random.default_rng(0)
    right = np.empty((n, d + 2), np.float32)
    right[:, :-2] = 2 * gamma * X
    right[:, -2] = 1.0
    right[:, -1] = -gamma * (X**2).sum(axis=1)
    left = np.empty((rows, d + 2), np.float32)
    left[:, :-2] = X[:rows]
    left[:, -2] = -gamma * (X[:rows] ** 2).sum(axis=1)
    left[:, -1] = 1.0
    coef = rng.standard_normal((width, c)).astype(np.float32)
    residual = rng.standard_normal((rows, c)).astype(np.float32)
    block = np.empty((rows, width), np.float32)
    head = np.empty((rows, s), np.float32)
    tiles = float(n) * n / (rows * width)  # tiles of an epoch
    chunks = n / rows  # chunks of an epoch (one projection each)
    with threadpool_limits(1, "blas"):
        product = _median_time(lambda: np.matmul(left, right[:width].T, out=block))
        product *= tiles
        exp = _median_time(lambda: np.exp(block, out=block)) * tiles
        np.matmul(left, right[:width].T, out=block)
        np.exp(block, out=block)
        kernel_coef = _median_time(lambda: block @ coef) * tiles
        np.matmul(left, right[:s].T, out=head)
        np.exp(head, out=head)
        projection = _median_time(lambda: head.T @ residual) * chunks
        whole = np.empty((rows, n), np.float32)  # a chunk's rows against all n points
        np.matmul(left, right.T, out=whole)
        whole_ns = _median_time(lambda: np.exp(whole, out=whole)) / whole.size * 1e9
        square = rng.standard_normal((PEAK_PRODUCT_SIZE,) * 2).astype(np.float32)
        peak = 2 * PEAK_PRODUCT_SIZE**3 / _median_time(lambda: square @ square)
        tile = block.ravel()[:CACHE_TILE_ENTRIES].copy()
        tile_out = np.empty_like(tile)
        repeats = 64
        tile_ns = (
            _median_time(lambda: [np.exp(tile, out=tile_out) for _ in range(repeats)])
            / (repeats * CACHE_TILE_ENTRIES)
            * 1e9
        )
    entries = float(n) * n
    return {
        "chunk_rows": rows,
        "tile_columns": width,
        "batch_size": model.batch_size_,
        "product_s": product,
        "exp_s": exp,
        "kernel_coef_s": kernel_coef,
        "projection_s": projection,
        "product_best_s": 2 * entries * (d + 2) / peak,
        "kernel_coef_best_s": 2 * entries * c / peak,
        "exp_best_s": entries * tile_ns * 1e-9,
        "peak_gflops": peak / 1e9,
        "exp_tile_ns": tile_ns,
        "exp_block_ns": exp / entries * 1e9,
        "exp_whole_rows_ns": whole_ns,
    }


def _describe_checkout(path):
    """The commit of a checkout, as the report names the baseline."""
    commit = subprocess.run(
        ["git", "-C", path, "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"commit {commit}" if commit else f"the code at {path}"


def main():
    parser = argument_parser(__doc__, repeats=DEFAULT_REPEATS, extra_python=True)
    parser.add_argument("--n", type=int, nargs="+", default=[20000, 40000])
    parser.add_argument(
        "--baseline", default=None, help="a checkout of another commit to compare with"
    )
    args = parser.parse_args()
    info = machine_info()
    threads = os.cpu_count()
    fit_rows, split_rows, data = [], [], []
    for n in args.n:
        path = dataset_path(DATASET, n)
        runs, baseline_runs = [], []
        for _ in range(args.repeats):
            runs.append(in_child(measure_fit, path))
            if args.baseline:
                baseline_runs.append(in_child(measure_fit, path, args.baseline))
        fit = {key: median_of(runs, key) for key in ["fit_s", "epoch_s", "setup_s"]}
        fit["accuracy"] = runs[0]["accuracy"]
        row = (
            f"| {n} | {fit['fit_s']:.2f} | {fit['epoch_s']:.3f} | {fit['setup_s']:.2f} "
            f"| {fit['setup_s'] / fit['fit_s']:.1%} | {fit['accuracy']:.4f} |"
        )
        if args.baseline:
            base = {key: median_of(baseline_runs, key) for key in fit if key != "accuracy"}
            difference = np.max(
                np.abs(
                    np.asarray(runs[0]["decision"])
                    - np.asarray(baseline_runs[0]["decision"])
                )
            )
            fit.update(
                baseline_fit_s=base["fit_s"],
                baseline_setup_s=base["setup_s"],
                baseline_accuracy=baseline_runs[0]["accuracy"],
                speedup=base["fit_s"] / fit["fit_s"],
                max_decision_difference=float(difference),
            )
            row += (
                f" {base['fit_s']:.2f} | {base['setup_s']:.2f} | "
                f"{fit['baseline_accuracy']:.4f} | **{fit['speedup']:.2f}** | "
                f"{difference:.1e} |"
            )
        if args.extra_python:
            extra = measure(
                DATASET,
                n,
                EXTRA,
                {"n_epoch": EPOCHS},
                repeats=args.repeats,
                extra_python=args.extra_python,
            )
            fit.update(
                extra_fit_s=extra["fit_s"],
                extra_accuracy=extra["score"],
                extra_ratio=fit["fit_s"] / extra["fit_s"],
            )
            row += (
                f" {extra['fit_s']:.1f} | {extra['score']:.4f} | "
                f"**{fit['extra_ratio']:.3f}** |"
            )
        fit_rows.append(row)
        print(row, flush=True)

        parts = in_child(measure_parts, path)
        on_threads = fit["epoch_s"] * threads  # core-seconds of the measured epoch
        named = parts["product_s"] + parts["exp_s"] + parts["kernel_coef_s"]
        named += parts["projection_s"]
        overhead = on_threads - named
        split = [
            ("distance product", parts["product_s"], parts["product_best_s"]),
            ("elementwise exp", parts["exp_s"], parts["exp_best_s"]),
            ("K @ a", parts["kernel_coef_s"], parts["kernel_coef_best_s"]),
            ("preconditioner projection", parts["projection_s"], None),
            ("overhead", overhead, None),
        ]
        for name, seconds, best in split:
            split_rows.append(
                f"| {n} | {name} | {seconds:.3f} | {seconds / on_threads:.0%} | "
                + (f"{best:.3f} | {seconds / best:.1f}x |" if best else "- | - |")
            )
            print(split_rows[-1], flush=True)
        data.append(
            {
                "n": n,
                **fit,
                **parts,
                "overhead_s": overhead,
                "threads": threads,
                "modules": [runs[0]["module"], *[r["module"] for r in baseline_runs[:1]]],
            }
        )

    command = command_line(
        "bench_epoch.py",
        f"--n {' '.join(map(str, args.n))}",
        f"--repeats {args.repeats}" if args.repeats != DEFAULT_REPEATS else "",
        f"--baseline {args.baseline}" if args.baseline else "",
        "--extra-python PATH" if args.extra_python else "",
    )
    fit_header = "\n| n | fit (s) | epoch (s) | set-up (s) | set-up share | accuracy |" + (
        " baseline fit (s) | baseline set-up (s) | baseline accuracy | speed-up "
        "| max decision difference |"
        if args.baseline
        else ""
    )
    if args.extra_python:
        fit_header += (
            f" EigenPro {EPOCHS} epochs fit (s) | EigenPro accuracy | time against "
            "EigenPro |"
        )
    columns = 6 + (5 if args.baseline else 0) + (3 if args.extra_python else 0)
    fit_table = fit_header + "\n" + "|---" * columns + "|\n" + "\n".join(fit_rows)
    split_table = (
        "\n| n | part | core-seconds per epoch | share | at its best rate | "
        "against best |\n|---|---|---|---|---|---|\n" + "\n".join(split_rows)
    )
    best = data[-1]
    write_report(
        "epoch",
        f"Where an epoch's time goes ({DATASET}, float32, {EPOCHS} epochs, rbf)",
        f"Medians of {args.repeats} child processes per fit. `{command}`"
        + (f"\n\nBaseline: {_describe_checkout(args.baseline)}." if args.baseline else ""),
        [
            "\n## The fit" + fit_table,
            "\n## One epoch, part by part\n\nEach part timed on one core over the "
            f"epoch's tiles of {best['chunk_rows']} rows by {best['tile_columns']} "
            "columns; core-seconds of the epoch are its measured time times "
            f"{threads} threads. Best rates in the same process: the BLAS product of "
            f"a {PEAK_PRODUCT_SIZE}-square float32 matrix at "
            f"{best['peak_gflops']:.0f} GFLOP/s on one core; the exp at "
            f"{best['exp_tile_ns']:.2f} ns per entry on a cache-resident tile "
            f"(over a tile: {best['exp_block_ns']:.2f} ns; over a chunk's rows "
            f"against all n points, as before the tiles: "
            f"{best['exp_whole_rows_ns']:.2f} ns).\n" + split_table,
        ],
        {"rows": data},
        info,
    )


if __name__ == "__main__":
    main()
