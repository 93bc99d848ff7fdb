"""Side-by-side benchmark: this package against the kernel estimators users would pick.

On the same train / test splits and in the same run, this script compares

- this package: the preconditioned default (float64), float32 blocks, the same with
  early stopping at a relative training residual of 3e-2, and plain SGD
  (``n_components=0``);
- ``KernelRidge`` (the exact solver; run only where its n x n matrices fit in memory);
- ``Nystroem`` + ``Ridge`` / ``RidgeClassifier`` (scikit-learn's scalable approximation);
- ``SVC`` / ``SVR`` where n allows;
- scikit-learn-extra's EigenPro, run as a subprocess from its own environment
  (``--extra-python`` or ``SKLEARN_EXTRA_PYTHON``: it needs numpy < 2);

on scikit-learn's built-in datasets and on generated data, regression and classification,
and measures each method's fit time, predict time, test score, peak memory and epochs: each
method runs in its own fresh child process, which repeats the fit and reports medians and
its peak resident set size. Ratios are against KernelRidge in the same run.

It then measures the paper's claims ([1] in the README): epochs to reach a fixed training
error against the batch size, for plain SGD and for the preconditioned operator, with the
estimated critical batch size m* marked; and the computation to reach that error against
n, SGD at m* against full gradient descent.

    python benchmarks/run.py --quick       # a few minutes on 2 cores
    python benchmarks/run.py               # the full run (50 minutes on 2 cores)
    options: --repeats R, --sizes N [N ...], --extra-python PATH, --skip-claims,
             --skip-methods

Output: markdown tables on stdout and in ``benchmarks/results/run_{quick,full}.md`` (and
.rst for the documentation, .json with every figure), and plots
``benchmarks/results/run_{quick,full}_*.png``.
"""

import time
import warnings

import numpy as np
from _common import (
    CLASSIFICATION_ALPHA,
    DATASETS,
    EXTRA,
    NYSTROEM_COMPONENTS,
    REGRESSION_ALPHA,
    RESULTS,
    argument_parser,
    available_gigabytes,
    command_line,
    dataset_path,
    dataset_shape,
    dataset_title,
    kernel_ridge_not_run,
    machine_info,
    measure,
    write_report,
)

# scikit-learn-extra's EigenPro runs a fixed number of epochs (its default is 2).
EXTRA_EPOCHS = 5

QUICK_SIZES = [1000, 5000]
FULL_SIZES = [1000, 5000, 20000, 50000, 100000, 200000]

# The largest n each method runs at, by mode; beyond it the table says why not.
# Plain SGD takes about n / m* Python-level steps per epoch with m* of a few units on
# smooth kernels; SVC / SVR scale between n^2 and n^3; the default tol=1e-4 costs up to
# max_iter=100 epochs of about n^2 (d + c) flops each.
N_MAX = {
    "plain": 5000,
    "svm": 20000,
    "defaults": 50000,
    "extra": 100000,
}
N_MAX_REASONS = {
    "plain": "plain SGD steps n / m* times per epoch (m* ~ 7 here)",
    "svm": "libsvm time grows as n^2 to n^3",
    "defaults": "tol=1e-4 needs up to max_iter=100 epochs of n^2 (d + c) flops",
    "extra": "its 5 epochs took 300 s at n = 100,000 here; 4x that at 2x n",
}

# The claims: the training error to reach, relative to that of the zero function (the
# estimators' tol), and the batch sizes tried.
CLAIMS_TOL = 1e-2
CLAIMS_N = 2000
CLAIMS_BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2000]
# A fixed q for the preconditioned regime plot, small enough that m*_P falls inside the
# range of batch sizes, so that both regimes show (the automatic q gives m*_P ~ n here).
CLAIMS_N_COMPONENTS = 20
CLAIMS_MAX_ITER = 5000
CLAIMS_SIZES = {"quick": [250, 500, 1000, 2000], "full": [250, 500, 1000, 2000, 4000]}

# The data sets of the harness's registry: the built-in ones, then the generated ones at
# each size (run_classification40 is titled classification40 in the reports).
BUILTIN_DATASETS = ["digits", "breast_cancer", "wine", "diabetes"]
GENERATED_DATASETS = ["run_classification40", "friedman1"]

# label -> (method of the harness, its parameters, limit key in N_MAX or None)
METHODS = {
    "ours (defaults)": ("ours", {}, "defaults"),
    "ours float32": ("ours", {"precision": "float32"}, "defaults"),
    "ours float32, tol=3e-2": ("ours", {"precision": "float32", "tol": 3e-2}, None),
    "ours plain SGD (n_components=0)": ("ours", {"n_components": 0}, "plain"),
    "KernelRidge": ("kernel_ridge", {}, None),
    f"Nystroem({NYSTROEM_COMPONENTS}) + Ridge": ("nystroem", {}, None),
    "SVC / SVR": ("svm", {}, "svm"),
}
EXTRA_LABEL = f"sklearn-extra EigenPro, n_epoch={EXTRA_EPOCHS}"


def method_params(label, kind):
    """The label's method and parameters for a task of this kind."""
    method, params, _ = METHODS[label]
    if method == "ours" and kind == "regression":
        params = {"alpha": REGRESSION_ALPHA, **params}
    return method, params


def why_not_run(label, n_train, available_gb):
    """The reason a method is not run at this size, or None."""
    limit = METHODS[label][2] if label in METHODS else "extra"
    if limit is not None and n_train > N_MAX[limit]:
        return f"not run: n > {N_MAX[limit]} ({N_MAX_REASONS[limit]})"
    if label == "KernelRidge":
        return kernel_ridge_not_run(n_train, available_gb)
    return None


def run_methods(tasks, repeats_for, extra_python, available_gb):
    sections, records = [], []
    for name, n in tasks:
        kind = DATASETS[name].kind
        n_train, n_test, n_features = dataset_shape(name, n)
        repeats = repeats_for(n_train)
        results = {}
        for label in METHODS:
            reason = why_not_run(label, n_train, available_gb)
            method, params = method_params(label, kind)
            results[label] = (
                {"not_run": reason}
                if reason
                else measure(name, n, method, params, repeats=repeats)
            )
            print(f"  {name} n={n_train} {label}: {_brief(results[label])}", flush=True)
        reason = why_not_run(EXTRA_LABEL, n_train, available_gb)
        if extra_python and reason:
            results[EXTRA_LABEL] = {"not_run": reason}
        elif extra_python:
            results[EXTRA_LABEL] = measure(
                name,
                n,
                EXTRA,
                {"n_epoch": EXTRA_EPOCHS},
                repeats=repeats,
                extra_python=extra_python,
            )
        else:
            results[EXTRA_LABEL] = {
                "not_run": "not run: no --extra-python / SKLEARN_EXTRA_PYTHON given"
            }
        record = {
            "task": dataset_title(name),
            "kind": kind,
            "n_train": n_train,
            "n_test": n_test,
            "n_features": n_features,
            "repeats": repeats,
            "results": results,
        }
        records.append(record)
        sections.append(method_table(record))
        print(sections[-1], flush=True)
    return sections, records


def _brief(result):
    if "not_run" in result:
        return result["not_run"]
    return f"fit {result['fit_s']:.3g} s, score {result['score']:.4f}"


def method_table(record):
    results = record["results"]
    reference = results.get("KernelRidge", {})
    score_name = "accuracy" if record["kind"] == "classification" else "R^2"
    lines = [
        f"\n### {record['task']} ({record['kind']}), n = {record['n_train']}, "
        f"d = {record['n_features']} (test: {record['n_test']}, "
        f"median of {record['repeats']})\n",
        f"| method | fit (s) | fit / KernelRidge | predict (s) | predict / KernelRidge "
        f"| test {score_name} | epochs | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, result in results.items():
        if "not_run" in result:
            lines.append(f"| {label} | {result['not_run']} | | | | | | |")
            continue
        ratios = [
            f"{result[key] / reference[key]:.3g}" if key in reference else "-"
            for key in ("fit_s", "predict_s")
        ]
        epochs = "" if np.isnan(result["epochs"]) else f"{result['epochs']:.0f}"
        if result.get("warnings"):
            epochs += " (max_iter)" if "ours" in label else ""
        lines.append(
            f"| {label} | {result['fit_s']:.3g} | {ratios[0]} | "
            f"{result['predict_s']:.3g} | {ratios[1]} | {result['score']:.4f} | "
            f"{epochs} | {result['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def _claims_data(n_train):
    data = np.load(dataset_path("run_classification40", n_train))
    # One-hot targets: the regressor iterates the same residual as the classifier, and
    # its convergence_curve_ is the training error.
    return data["X_train"], np.eye(10)[data["y_train"]]


def _epochs_to_target(X, Y, **params):
    """Epochs until the training error falls to CLAIMS_TOL of the zero function's."""
    from sklearn_interp import InterpolatingKernelRegressor

    model = InterpolatingKernelRegressor(
        gamma=1.0 / X.shape[1],
        tol=CLAIMS_TOL,
        max_iter=CLAIMS_MAX_ITER,
        random_state=0,
        **params,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y)
    reached = (
        not caught
        and model.convergence_curve_[-1] <= CLAIMS_TOL * (model.convergence_curve_[0])
    )
    return {
        "epochs": model.n_iter_ if reached else float("nan"),
        "batch_size": model.batch_size_,
        "step_size": model.step_size_,
        "m_star": model.critical_batch_size_,
        "n_backoffs": model.n_backoffs_,
    }


def regime_claims(n_components):
    """Epochs to reach the target against the batch size, at CLAIMS_N points."""
    X, Y = _claims_data(CLAIMS_N)
    rows = []
    for m in CLAIMS_BATCH_SIZES:
        rows.append(_epochs_to_target(X, Y, batch_size=m, n_components=n_components))
        print(f"  n_components={n_components} m={m}: {rows[-1]}", flush=True)
    return rows


def computation_claims(sizes):
    """Kernel evaluations to reach the target against n: SGD at m* and full GD."""
    rows = []
    for n in sizes:
        X, Y = _claims_data(n)
        sgd = _epochs_to_target(X, Y, n_components=0)
        gd = _epochs_to_target(X, Y, n_components=0, batch_size=n)
        rows.append({"n": n, "sgd": sgd, "gd": gd})
        print(f"  n={n}: SGD {sgd['epochs']} epochs, GD {gd['epochs']} steps", flush=True)
    return rows


def regime_table(title, rows):
    m_star = rows[0]["m_star"]
    lines = [
        f"\n### {title}: estimated m* = {m_star:.1f}\n",
        "| batch size m | step size | epochs | iterations (epochs x n / m) | back-offs |",
        "|---|---|---|---|---|",
    ]
    for m, row in zip(CLAIMS_BATCH_SIZES, rows, strict=True):
        iterations = row["epochs"] * np.ceil(CLAIMS_N / m)
        lines.append(
            f"| {m} | {row['step_size']:.4g} | {_count(row['epochs'])} | "
            f"{_count(iterations)} | {row['n_backoffs']} |"
        )
    return "\n".join(lines)


def computation_table(rows):
    lines = [
        "\n### Computation to reach the training error against n\n",
        "Kernel evaluations = epochs x n^2 (one epoch evaluates every row once; "
        "a full gradient step is one epoch).\n",
        "| n | m* | SGD at m*: epochs | full GD: steps | SGD kernel evaluations "
        "| GD kernel evaluations | GD / SGD | n / m* |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        n, sgd, gd = row["n"], row["sgd"], row["gd"]
        lines.append(
            f"| {n} | {sgd['m_star']:.1f} | {_count(sgd['epochs'])} | "
            f"{_count(gd['epochs'])} | {sgd['epochs'] * n**2:.3g} | "
            f"{gd['epochs'] * n**2:.3g} | {gd['epochs'] / sgd['epochs']:.3g} | "
            f"{n / sgd['m_star']:.3g} |"
        )
    return "\n".join(lines)


def _count(value):
    return "not reached" if np.isnan(value) else f"{value:.0f}"


def plot_all(records, claims, prefix):
    """Write the plots; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(RESULTS / f"{prefix}_{name}.png", dpi=100)
        plt.close(fig)
        written.append(f"{prefix}_{name}.png")

    generated = [r for r in records if r["task"] in ("classification40", "friedman1")]
    if generated:
        for key, name, ylabel in [
            ("fit_s", "time_vs_n", "fit time (s)"),
            ("peak_rss_mb", "memory_vs_n", "peak RSS of the fit's process (MB)"),
        ]:
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
            for ax, task in zip(axes, ["classification40", "friedman1"], strict=True):
                for label in [*METHODS, EXTRA_LABEL]:
                    points = [
                        (r["n_train"], r["results"][label][key])
                        for r in generated
                        if r["task"] == task and key in r["results"][label]
                    ]
                    if points:
                        ax.plot(*zip(*points, strict=True), marker="o", label=label)
                ax.set(xscale="log", yscale="log", xlabel="n (training points)", title=task)
            axes[0].set_ylabel(ylabel)
            axes[1].legend(fontsize=7)
            save(fig, name)

        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, task, score in zip(
            axes,
            ["classification40", "friedman1"],
            ["test accuracy", "test R^2"],
            strict=True,
        ):
            for label in [*METHODS, EXTRA_LABEL]:
                points = [
                    (r["results"][label]["fit_s"], r["results"][label]["score"])
                    for r in generated
                    if r["task"] == task and "fit_s" in r["results"][label]
                ]
                if points:
                    ax.plot(*zip(*points, strict=True), marker="o", label=label)
            ax.set(xscale="log", xlabel="fit time (s)", ylabel=score, title=task)
        axes[1].legend(fontsize=7)
        save(fig, "score_vs_time")

    if claims:
        for key, title in [
            ("plain", "plain SGD (n_components=0)"),
            ("preconditioned", f"EigenPro, n_components={CLAIMS_N_COMPONENTS}"),
        ]:
            rows = claims[key]
            m_star = rows[0]["m_star"]
            sizes = np.array(CLAIMS_BATCH_SIZES, dtype=float)
            epochs = np.array([row["epochs"] for row in rows], dtype=float)
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
            axes[0].plot(sizes, epochs * np.ceil(CLAIMS_N / sizes), marker="o")
            axes[0].set(ylabel="iterations to reach the error")
            axes[1].plot(sizes, epochs, marker="o")
            axes[1].set(ylabel="epochs to reach the error")
            for ax in axes:
                ax.axvline(m_star, color="k", linestyle="--", label=f"m* = {m_star:.1f}")
                ax.set(xscale="log", yscale="log", xlabel="batch size m")
                ax.legend()
            fig.suptitle(
                f"{title}: n = {CLAIMS_N}, training error {CLAIMS_TOL:g} of the "
                "zero function's"
            )
            save(fig, f"regime_{key}")

        rows = claims["computation"]
        n = np.array([row["n"] for row in rows], dtype=float)
        fig, ax = plt.subplots(figsize=(6, 4.2))
        for key, label in [("sgd", "SGD at m*"), ("gd", "full gradient descent")]:
            evaluations = np.array([row[key]["epochs"] for row in rows]) * n**2
            ax.plot(n, evaluations, marker="o", label=label)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="n (training points)",
            ylabel="kernel evaluations to reach the error",
        )
        ax.legend()
        save(fig, "computation_vs_n")
    return written


def main():
    parser = argument_parser(__doc__, extra_python=True)
    parser.add_argument("--quick", action="store_true", help="a few minutes on 2 cores")
    parser.add_argument("--sizes", type=int, nargs="+", help="generated training sizes")
    parser.add_argument("--repeats", type=int, help="fits per method (default 3)")
    parser.add_argument("--skip-claims", action="store_true")
    parser.add_argument("--skip-methods", action="store_true")
    args = parser.parse_args()

    mode = "quick" if args.quick else "full"
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    repeats = args.repeats or 3

    def repeats_for(n_train):
        # One run past 20,000 points in the full mode: each takes minutes.
        return repeats if n_train <= 20000 else 1

    info = machine_info()
    available_gb = available_gigabytes()
    info["memory available (GB)"] = (
        f"{available_gb:.0f}" if available_gb is not None else "unknown"
    )
    started = time.perf_counter()
    sections, records, claims = [], [], {}
    if not args.skip_methods:
        tasks = [(name, None) for name in BUILTIN_DATASETS] + [
            (name, n) for n in sizes for name in GENERATED_DATASETS
        ]
        sections, records = run_methods(tasks, repeats_for, args.extra_python, available_gb)
    if not args.skip_claims:
        claims = {
            "plain": regime_claims(0),
            "preconditioned": regime_claims(CLAIMS_N_COMPONENTS),
            "computation": computation_claims(CLAIMS_SIZES[mode]),
        }
        sections.append(
            "\n## The paper's claims\n\n"
            f"classification40 data, rbf kernel with gamma = 1 / 40, one-hot targets; "
            f"the step size follows the regime rules for each m. Target: training "
            f"error {CLAIMS_TOL:g} of the zero function's (the estimators' tol); "
            f"at most {CLAIMS_MAX_ITER} epochs.\n"
        )
        sections.append(regime_table(f"Plain SGD, n = {CLAIMS_N}", claims["plain"]))
        sections.append(
            regime_table(
                f"EigenPro with n_components={CLAIMS_N_COMPONENTS}, n = {CLAIMS_N}",
                claims["preconditioned"],
            )
        )
        sections.append(computation_table(claims["computation"]))
        for section in sections[-4:]:
            print(section, flush=True)

    RESULTS.mkdir(exist_ok=True)
    plots = plot_all(records, claims, f"run_{mode}")
    command = command_line(
        "run.py",
        "--quick" if args.quick else "",
        "--sizes " + " ".join(map(str, args.sizes)) if args.sizes else "",
        f"--repeats {args.repeats}" if args.repeats else "",
        "--extra-python PATH" if args.extra_python else "",
        "--skip-claims" if args.skip_claims else "",
        "--skip-methods" if args.skip_methods else "",
    )
    intro = (
        f"`{command}`, {time.perf_counter() - started:.0f} s in all. Each method runs in "
        "its own fresh process, which repeats the fit and reports medians; peak RSS is "
        "that process's peak, interpreter and data included. Ratios are against "
        "KernelRidge in the same run. rbf kernel with gamma = 1 / n_features for every "
        "method; X standardized (and y, for regression); classification: KernelRidge "
        f"alpha={CLASSIFICATION_ALPHA:g} on -1/+1 targets, ours alpha=0; regression: "
        f"alpha={REGRESSION_ALPHA:g} for KernelRidge, ours and Ridge.\n\n## Methods"
    )
    plot_line = "\nPlots: " + ", ".join(f"`{name}`" for name in plots) + "."
    write_report(
        f"run_{mode}",
        f"Benchmarks ({mode} mode)",
        intro,
        [*sections, plot_line],
        {"tasks": records, "claims": claims},
        info,
    )


if __name__ == "__main__":
    main()
