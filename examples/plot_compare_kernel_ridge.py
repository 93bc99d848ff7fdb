"""
===================================================
Against KernelRidge: the same solution, less memory
===================================================

:class:`~sklearn.kernel_ridge.KernelRidge` solves ``(K + alpha I) a = y`` exactly, with
the whole n x n kernel matrix in memory. The interpolating estimators reach the same
solution by SGD, one block of kernel rows at a time. This example fits both on growing
subsets of the digits data with the same kernel and ``alpha``, and compares test
accuracy, fit time and the peak memory each fit allocates (measured by ``tracemalloc``,
which sees NumPy's allocations).
"""

# %%
# Fit both on growing training sets
# ---------------------------------
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer

from sklearn_interp import InterpolatingKernelClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.3, random_state=0, stratify=y
)
PARAMS = {"kernel": "rbf", "gamma": 0.05, "alpha": 1e-2}


def measure(make_model, X_fit, y_fit, predict):
    tracemalloc.start()
    start = time.perf_counter()
    model = make_model().fit(X_fit, y_fit)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, np.mean(predict(model) == y_test)


sizes = [300, 600, 900, len(X_train)]
rows = {"KernelRidge": [], "InterpolatingKernelClassifier": []}
binarizer = LabelBinarizer(neg_label=-1).fit(y_train)
for n in sizes:
    rows["KernelRidge"].append(
        measure(
            lambda: KernelRidge(**PARAMS),
            X_train[:n],
            binarizer.transform(y_train[:n]),
            lambda model: binarizer.classes_[model.predict(X_test).argmax(axis=1)],
        )
    )
    rows["InterpolatingKernelClassifier"].append(
        measure(
            lambda: InterpolatingKernelClassifier(**PARAMS, random_state=0),
            X_train[:n],
            y_train[:n],
            lambda model: model.predict(X_test),
        )
    )
    print(
        f"n = {n}: "
        + "; ".join(
            f"{name} {r[-1][2]:.3f} accuracy, {r[-1][0]:.2f} s, {r[-1][1]:.1f} MiB"
            for name, r in rows.items()
        )
    )

# %%
# Accuracy, time and memory side by side
# --------------------------------------
# Both reach the same accuracy (they solve the same problem). KernelRidge's memory grows
# as n^2; the SGD fit's is dominated by the subsample eigendecomposition (s = min(n,
# 2000) here, so it grows too at these small sizes) and then stays at n times the batch.
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for name, values in rows.items():
    seconds, memory, accuracy = np.array(values).T
    axes[0].plot(sizes, accuracy, "o-", label=name)
    axes[1].plot(sizes, seconds, "o-", label=name)
    axes[2].plot(sizes, memory, "o-", label=name)
axes[0].set_ylabel("test accuracy")
axes[1].set_ylabel("fit time (s)")
axes[2].set_ylabel("peak memory allocated by fit (MiB)")
for ax in axes:
    ax.set_xlabel("training points n")
axes[0].legend()
fig.suptitle(f"digits, rbf kernel gamma={PARAMS['gamma']}, alpha={PARAMS['alpha']}")
fig.tight_layout()
plt.show()
