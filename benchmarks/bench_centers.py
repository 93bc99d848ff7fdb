"""Model centers against the exact model and Nystroem + RidgeClassifier, in one run.

Each method fits in its own child process (one at a time), which reports its fit time,
its peak resident memory (``ru_maxrss``, data included) and its test accuracy:

- ``ours, n_centers=p``: this package with only ``gamma``, ``random_state`` and
  ``n_centers`` set, on all ``--n`` training rows;
- ``ours, exact, first N``: the exact model (``n_centers=None``) on the first
  ``--exact-n`` rows;
- ``Nystroem(1000) + RidgeClassifier``: what a scikit-learn user would do today, on
  all rows;
- ``sklearn-extra EigenPro, first N``: scikit-learn-extra's EigenProClassifier (5
  epochs, its own n x n-per-epoch method) on the first ``--extra-n`` rows, where it
  runs in reasonable time, in the Python of ``--extra-python`` (or
  SKLEARN_EXTRA_PYTHON; skipped without one).

``--centers`` takes ints and ``auto`` (the default ``n_centers``, which reports the
number it chose).

The data is ``classification40_noisy`` (40 features, 10 classes, a tenth of the labels
random: a data-hungry problem), gamma = 1 / n_features for every method. Results go to
``results/centers.{json,md}`` after every method, so an interrupted run keeps what it
measured.

    python benchmarks/bench_centers.py --n 100000 --centers 1000 2000 4000 --exact-n 20000
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
from _common import (
    DATA_CACHE,
    EXTRA_SCRIPT,
    NYSTROEM_COMPONENTS,
    RESULTS,
    dataset_path,
    run_external,
)

EXTRA_EPOCHS = 5

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
spec = json.loads(sys.argv[1])
data = np.load(spec["path"])
X, y = data["X_train"], data["y_train"]
X_test, y_test = data["X_test"], data["y_test"]
if spec.get("rows"):
    X, y = X[: spec["rows"]], y[: spec["rows"]]
gamma = 1.0 / X.shape[1]
if spec["method"] == "nystroem":
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    model = make_pipeline(
        Nystroem(gamma=gamma, n_components=spec["p"], random_state=0),
        RidgeClassifier(alpha=1e-3),
    )
else:
    from sklearn_interp import InterpolatingKernelClassifier
    model = InterpolatingKernelClassifier(
        gamma=gamma, n_centers=spec.get("p"), random_state=0
    )
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model.fit(X, y)
seconds = time.perf_counter() - start
out = {
    "fit_s": seconds,
    "accuracy": float(model.score(X_test, y_test)),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}
if spec["method"] == "ours":
    out.update(
        n_iter=int(model.n_iter_), batch_size=int(model.batch_size_),
        critical_batch_size=float(model.critical_batch_size_),
        n_centers=int(model.n_centers_),
    )
print(json.dumps(out))
"""


def run(spec, timeout):
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout} s"}
    except subprocess.CalledProcessError as error:
        return {"error": error.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--centers", type=_centers, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--exact-n", type=int, default=20_000)
    parser.add_argument("--extra-n", type=int, default=20_000)
    parser.add_argument(
        "--extra-python",
        default=os.environ.get("SKLEARN_EXTRA_PYTHON"),
        help="Python of an environment with scikit-learn-extra 0.3.0",
    )
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--name", default="centers")
    parser.add_argument(
        "--only-centers",
        action="store_true",
        help="skip the exact model and the Nystroem pipeline (rerunning centers only)",
    )
    args = parser.parse_args()
    path = str(dataset_path("classification40_noisy", args.n))
    methods = [(f"ours, n_centers={p}", {"method": "ours", "p": p}) for p in args.centers]
    methods += (
        []
        if args.only_centers
        else [
            (
                f"ours, exact, first {args.exact_n:,}",
                {"method": "ours", "rows": args.exact_n},
            ),
            (
                f"Nystroem({NYSTROEM_COMPONENTS}) + RidgeClassifier",
                {"method": "nystroem", "p": NYSTROEM_COMPONENTS},
            ),
        ]
    )
    results = {
        "command": " ".join(["python benchmarks/bench_centers.py", *sys.argv[1:]]),
        "machine": _machine(),
        "commit": _commit(),
        "n_train": args.n,
        "rows": [],
    }
    if not args.only_centers:
        methods.append(
            (
                f"sklearn-extra EigenPro ({EXTRA_EPOCHS} epochs), first {args.extra_n:,}",
                {"method": "extra", "rows": args.extra_n},
            )
        )
    started = time.perf_counter()
    for label, spec in methods:
        if spec["method"] == "extra":
            row = {"method": label, **_run_extra(args, path, spec["rows"])}
        else:
            row = {"method": label, **run({**spec, "path": path}, args.timeout)}
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
        results["seconds"] = time.perf_counter() - started
        _write(results, args.name)


def _centers(value):
    return value if value == "auto" else int(value)


def _run_extra(args, path, rows):
    """scikit-learn-extra's EigenPro on the first ``rows`` training rows (the same
    test rows), in its own Python."""
    if not args.extra_python:
        return {"error": "not run: no --extra-python / SKLEARN_EXTRA_PYTHON given"}
    first = DATA_CACHE / f"classification40_noisy_{args.n}_first{rows}.npz"
    if not first.exists():
        with np.load(path) as data:
            np.savez(
                first,
                X_train=data["X_train"][:rows],
                y_train=data["y_train"][:rows],
                X_test=data["X_test"],
                y_test=data["y_test"],
            )
    try:
        out = run_external(args.extra_python, EXTRA_SCRIPT, first, EXTRA_EPOCHS, 1.0 / 40)
    except subprocess.CalledProcessError as error:
        return {"error": error.stderr.strip().splitlines()[-1]}
    return {
        "fit_s": out["fit_s"],
        "accuracy": out["score"],
        "peak_rss_mb": out["peak_rss_mb"],
    }


def _machine():
    """The CPU model and core count, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as info:
            models = [
                line.split(":", 1)[1].strip() for line in info if "model name" in line
            ]
        return f"{models[0]}, {len(models)} cores"
    except (OSError, IndexError):
        return platform.processor() or platform.machine()


def _commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _write(results, name):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"classification40_noisy, {results['n_train']:,} training rows, 5,000 test "
        f"rows; `{results['command']}`; {results['machine']}, commit "
        f"{results['commit']}",
        "",
        "| method | fit (s) | peak RSS (MB) | test accuracy | epochs | batch | m* |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        if "error" in row:
            lines.append(f"| {row['method']} | {row['error']} | | | | | |")
            continue
        lines.append(
            f"| {row['method']} | {row['fit_s']:.1f} | {row['peak_rss_mb']:.0f} | "
            f"{row['accuracy']:.4f} | {row.get('n_iter', '')} | "
            f"{row.get('batch_size', '')} | "
            + (
                f"{row['critical_batch_size']:.0f} |"
                if "critical_batch_size" in row
                else " |"
            )
        )
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
