"""
=======================================
Convergence curves: batch and step size
=======================================

``fit`` records the training error after every epoch in ``convergence_curve_`` (index 0
is the zero function). This example fits the digits data with plain SGD
(``n_components=0``) at batch sizes around its critical batch size m*, each with the
optimal step of its regime, then at the automatic batch size with the step size scaled
up and down, and finally with the EigenPro-preconditioned defaults.

Below m* a larger batch leaves the error per epoch unchanged; a step above the optimal
one diverges (the fit then halves it, see ``n_backoffs_``), a smaller one is slower.
"""

# %%
# Batch sizes at the optimal step size
# ------------------------------------
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from sklearn_interp import InterpolatingKernelClassifier

X, y = load_digits(return_X_y=True)
X, y = X[:1000] / 16.0, y[:1000]
EPOCHS = 15
COMMON = {"gamma": 0.1, "max_iter": EPOCHS, "tol": 0.0, "random_state": 0}


def curve(**params):
    model = InterpolatingKernelClassifier(**COMMON, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 is never reached: a fixed number of epochs
        model.fit(X, y)
    return model


by_batch = {m: curve(n_components=0, batch_size=m) for m in [1, 4, 16, 64]}
plain_m_star = by_batch[1].critical_batch_size_
auto = curve(n_components=0)
optimal_step = auto.step_size_
by_step = {
    factor: curve(n_components=0, step_size=factor * optimal_step)
    for factor in [0.25, 1.0, 1.9]
}
preconditioned = curve()

# %%
# Plot the relative training error against epochs
# -----------------------------------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
for m, model in by_batch.items():
    left.semilogy(
        model.convergence_curve_ / model.convergence_curve_[0],
        marker="o",
        markersize=3,
        label=f"plain SGD, m = {m}",
    )
left.semilogy(
    preconditioned.convergence_curve_ / preconditioned.convergence_curve_[0],
    "k-",
    marker="s",
    markersize=3,
    label=f"EigenPro, m = {preconditioned.batch_size_} "
    f"(m* = {preconditioned.critical_batch_size_:.0f})",
)
left.set_title(f"batch size at the optimal step (plain m* = {plain_m_star:.1f})")
for factor, model in by_step.items():
    right.semilogy(
        model.convergence_curve_ / model.convergence_curve_[0],
        marker="o",
        markersize=3,
        label=f"{factor} x optimal step, {model.n_backoffs_} back-offs",
    )
right.set_title(f"step size at m = {auto.batch_size_}")
for ax in (left, right):
    ax.set_xlabel("epoch")
    ax.legend()
left.set_ylabel("training error / error of the zero function")
fig.tight_layout()
plt.show()
