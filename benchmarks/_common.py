"""Shared helpers of the benchmark scripts: data, child-process timing, machine record.

Every figure is measured in a fresh child process (spawned, so no memory is shared with
the parent), repeated, and summarised by its median; peak memory is the child's peak
resident set size (ru_maxrss), so it includes the interpreter and the data.
"""

import json
import os
import platform
import resource
import subprocess
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DATA_CACHE = Path(os.environ.get("SKLEARN_INTERP_BENCH_CACHE", "/tmp/sklearn_interp_bench"))


def make_classification_data(n_train, n_test=5000, seed=0):
    """make_classification with 40 features and 10 classes, standardized."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=n_train + n_test,
        n_features=40,
        n_informative=20,
        n_classes=10,
        n_clusters_per_class=2,
        class_sep=2.0,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X)
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def make_digits_like_data(n_train, n_test=5000, seed=0):
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


DATASETS = {
    "classification40": make_classification_data,
    "digits_like": make_digits_like_data,
}


def dataset_path(name, n_train):
    """Write the dataset once to an .npz file that every child (and other Pythons) read."""
    DATA_CACHE.mkdir(parents=True, exist_ok=True)
    path = DATA_CACHE / f"{name}_{n_train}.npz"
    if not path.exists():
        X_train, X_test, y_train, y_test = DATASETS[name](n_train)
        np.savez(path, X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test)
    return path


def _child(function, args):
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = function(*args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["start_rss_mb"] = start_rss / 1024
    return result


def in_child(function, *args):
    """Run ``function(*args) -> dict`` in a fresh spawned process; add its peak RSS."""
    with get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(_child, (function, args))


def median_of(runs, key):
    return float(np.median([run[key] for run in runs]))


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
        "cores": os.cpu_count(),
        "blas": ", ".join(blas),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


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


def write_results(name, markdown, data):
    """Write results/NAME.md (for reading), NAME.rst (for the docs) and NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(markdown)
    (RESULTS / f"{name}.rst").write_text(markdown_to_rst(markdown))
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=float))


def run_external(python, script, *args):
    """Run ``script`` with another Python (a separate virtual environment); parse JSON."""
    output = subprocess.run(
        [python, str(script), *map(str, args)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])
