"""Plot test accuracy and fit time against the number of centers p, from the results of
``bench_centers.py``, for the docs' "Exact model or centers" page.

Results files with the same training rows form one series (its rows in the legend;
a method measured in several files counts once, from the first): the centers' fits
as lines against p, the exact model on the first rows as a marker at p = those rows
(every row a center), and Nystroem + RidgeClassifier and scikit-learn-extra's EigenPro
as markers at their own p (1,000 components; the rows they fit).

    python benchmarks/plot_centers.py benchmarks/results/centers_sweep.json \\
        benchmarks/results/centers_1m_defaults.json --out doc/images/centers.png
"""

import argparse
import json
import re
from pathlib import Path


def _series(path):
    results = json.loads(Path(path).read_text())
    centers, others = [], []
    for row in results["rows"]:
        if "error" in row:
            continue
        method = row["method"]
        if method.startswith("ours, n_centers"):
            centers.append((row["n_centers"], row["fit_s"], row["accuracy"], method))
        else:
            rows = re.search(r"first ([\d,]+)", method)
            p = int(rows.group(1).replace(",", "")) if rows else 1000
            others.append((p, row["fit_s"], row["accuracy"], method))
    return results, sorted(centers), others


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument("--out", default="centers.png")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (accuracy_axes, time_axes) = plt.subplots(1, 2, figsize=(11, 4.2))
    markers = {"exact": "s", "Nystroem": "^", "sklearn-extra": "D"}
    series = {}
    for path in args.results:
        results, centers, others = _series(path)
        merged = series.setdefault(results["n_train"], ({}, {}))
        for kept, rows in zip(merged, (centers, others), strict=True):
            for row in rows:
                kept.setdefault(row[0] if rows is centers else row[3], row)
    for number, (n_train, (centers, others)) in enumerate(sorted(series.items())):
        centers, others = sorted(centers.values()), list(others.values())
        color = f"C{number}"
        label = f"{n_train:,} rows"
        p, seconds, accuracy, _ = zip(*centers, strict=True)
        accuracy_axes.plot(p, accuracy, "o-", color=color, label=f"centers, {label}")
        time_axes.plot(p, seconds, "o-", color=color, label=f"centers, {label}")
        for p, seconds, accuracy, method in others:
            kind = next(key for key in markers if key in method)
            name = method.replace("ours, ", "").replace("RidgeClassifier", "Ridge")
            for axes, value in ((accuracy_axes, accuracy), (time_axes, seconds)):
                axes.plot(
                    p,
                    value,
                    markers[kind],
                    color=color,
                    markerfacecolor="none",
                    markersize=8,
                    label=f"{name} ({label})",
                )
    for axes, title in ((accuracy_axes, "test accuracy"), (time_axes, "fit time (s)")):
        axes.set_xscale("log")
        axes.set_xlabel("p: centers (exact model: its rows)")
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
    time_axes.set_yscale("log")
    handles, labels = accuracy_axes.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.16, 1, 1))
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
