"""Epoch time against the time numpy takes for the epoch's matrix products.

One epoch of the fit touches every kernel entry once: about 2 n^2 (d + c) flops of matrix
products (the kernel rows X_B X^T and their product with the coefficients) plus the
elementwise exp. This script measures, in the same child process and at the same
precision, (a) the time of one epoch of InterpolatingKernelClassifier (the difference of
fits with 4 and 1 epochs, so the set-up cancels) and (b) the time numpy's matmul takes for
the same products with the same batch size, and prints their ratio (the goal: <= 1.5).

    python benchmarks/bench_epoch.py [--n 20000 50000] [--repeats 3]
"""

import time

import numpy as np
from _common import (
    argument_parser,
    command_line,
    dataset_path,
    fixed_epochs_fit,
    in_child,
    machine_info,
    median_of,
    write_report,
)

EPOCHS = 4
MATMUL_REPEATS = 5
DEFAULT_REPEATS = 3


def measure(path, precision):
    data = np.load(path)
    X, y = data["X_train"], data["y_train"]
    one, model = fixed_epochs_fit(X, y, 1, precision=precision)
    several, _ = fixed_epochs_fit(X, y, EPOCHS, precision=precision)
    epoch = (several - one) / (EPOCHS - 1)

    dtype = np.dtype(precision)
    n, d = X.shape
    m, c = model.batch_size_, len(model.classes_)
    X_compute = X.astype(dtype)
    coef = np.ones((n, c), dtype=dtype)
    block = np.empty((m, n), dtype=dtype)
    times = []
    for _ in range(MATMUL_REPEATS):
        start = time.perf_counter()
        np.matmul(X_compute[:m], X_compute.T, out=block)
        block @ coef
        times.append(time.perf_counter() - start)
    matmul_epoch = float(np.median(times)) * n / m
    flops = 2.0 * n * n * (d + c)
    return {
        "epoch_s": epoch,
        "matmul_s": matmul_epoch,
        "ratio": epoch / matmul_epoch,
        "gflops_matmul": flops / matmul_epoch / 1e9,
        "batch_size": m,
        "n_components": model.n_components_,
    }


def main():
    parser = argument_parser(__doc__, repeats=DEFAULT_REPEATS)
    parser.add_argument("--n", type=int, nargs="+", default=[20000])
    parser.add_argument("--dataset", default="classification40")
    args = parser.parse_args()

    info = machine_info()
    rows, data = [], []
    for n in args.n:
        path = dataset_path(args.dataset, n)
        for precision in ["float64", "float32"]:
            runs = [in_child(measure, path, precision) for _ in range(args.repeats)]
            summary = {key: median_of(runs, key) for key in runs[0]}
            summary.update(n=n, precision=precision, dataset=args.dataset)
            data.append(summary)
            rows.append(
                f"| {n} | {precision} | {summary['batch_size']:.0f} | "
                f"{summary['epoch_s']:.3f} | {summary['matmul_s']:.3f} | "
                f"{summary['gflops_matmul']:.0f} | **{summary['ratio']:.2f}** |"
            )
            print(rows[-1], flush=True)
    command = command_line(
        "bench_epoch.py",
        f"--n {' '.join(map(str, args.n))}",
        f"--repeats {args.repeats}" if args.repeats != DEFAULT_REPEATS else "",
    )
    write_report(
        "epoch",
        f"Epoch time against matmul time ({args.dataset}, d = 40, c = 10)",
        f"Medians of {args.repeats} child processes. `{command}`",
        [
            "\n| n | precision | batch | epoch (s) | numpy matmul of the same products (s) "
            "| matmul GFLOP/s | ratio |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows)
        ],
        {"rows": data},
        info,
    )


if __name__ == "__main__":
    main()
