"""
========================================================
The critical batch size: linear scaling, then saturation
========================================================

Ma, Bassily and Belkin (2018) show that for an interpolating kernel machine a mini-batch
of size m is worth m single-point SGD steps as long as m stays below the critical batch
size m* = beta / lambda_1 + 1, and about one full gradient step beyond it. So the number
of *epochs* to reach a given training error does not depend on m below m* (linear
scaling: the batch is free parallelism) and grows in proportion to m above it
(saturation: the extra points are wasted work).

This example measures it on the digits data: for each batch size it fits plain SGD
(``n_components=0``) with the optimal step of its regime and counts the epochs to a fixed
training error, then does the same for the EigenPro-preconditioned operator, whose m* is
many times larger. The estimated m* of each is marked.
"""

# %%
# Epochs to a fixed training error against the batch size
# --------------------------------------------------------
# ``tol`` stops each fit at the same relative training error, so ``n_iter_`` is the
# number of epochs it needed; iterations are epochs times n / m.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from sklearn_interp import InterpolatingKernelRegressor

X, y = load_digits(return_X_y=True)
X, y = X[:1000] / 16.0, y[:1000]
Y = np.eye(10)[y]  # one-hot targets: the regression problem the classifier solves
TOL = 1e-2
GAMMA = 0.1


def epochs_to_tol(batch_size, n_components):
    model = InterpolatingKernelRegressor(
        gamma=GAMMA,
        n_components=n_components,
        batch_size=batch_size,
        tol=TOL,
        max_iter=3000,
        random_state=0,
    ).fit(X, Y)
    return model.n_iter_, model.critical_batch_size_


settings = {
    "plain SGD (n_components=0)": (0, [1, 2, 4, 8, 16, 32, 64, 128, 256]),
    "EigenPro (n_components=30)": (30, [4, 16, 32, 64, 128, 256, 512, 1000]),
}
results = {}
for label, (n_components, batch_sizes) in settings.items():
    epochs, m_star = zip(
        *(epochs_to_tol(m, n_components) for m in batch_sizes), strict=True
    )
    results[label] = (np.array(batch_sizes), np.array(epochs), m_star[0])
    print(
        f"{label}: m* = {m_star[0]:.1f}, epochs by batch size: "
        + ", ".join(f"{m}: {e}" for m, e in zip(batch_sizes, epochs, strict=True))
    )

# %%
# Plot: epochs (left) and iterations (right) to reach the same training error
# ---------------------------------------------------------------------------
# Below m* the epochs stay flat and the iterations fall as 1/m; above it the epochs grow
# with m and the iterations fall more slowly than 1/m, or not at all: the extra points of
# a batch are wasted work.
fig, (ax_epochs, ax_iterations) = plt.subplots(1, 2, figsize=(11, 4.5))
for (label, (batch_sizes, epochs, m_star)), color in zip(
    results.items(), ["C0", "C1"], strict=True
):
    iterations = epochs * np.ceil(len(X) / batch_sizes)
    ax_epochs.loglog(batch_sizes, epochs, "o-", color=color, label=label)
    ax_iterations.loglog(batch_sizes, iterations, "o-", color=color, label=label)
    for ax in (ax_epochs, ax_iterations):
        ax.axvline(m_star, color=color, linestyle="--")
        ax.annotate(
            f"m* = {m_star:.0f}",
            (m_star, ax.get_ylim()[0]),
            color=color,
            rotation=90,
            va="bottom",
            ha="right",
        )
ax_epochs.set_xlabel("batch size m")
ax_epochs.set_ylabel(f"epochs to relative training error {TOL}")
ax_iterations.set_xlabel("batch size m")
ax_iterations.set_ylabel("iterations (epochs x n / m)")
ax_epochs.set_title("linear scaling below m*, saturation above")
ax_iterations.set_title("each step below m* is worth m single steps")
ax_iterations.legend()
fig.tight_layout()
plt.show()
