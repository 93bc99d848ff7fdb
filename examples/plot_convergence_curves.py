"""
=======================================
Convergence curves: batch and step size
=======================================

``fit`` records the training error during every epoch in ``convergence_curve_`` (index 0
is the zero function). This example fits 1,000 digits with plain SGD (``n_components=0``)
at batch sizes below and well above its critical batch size m*, each with the optimal
step of its regime; then at the automatic batch size with the step size scaled down and
up; and finally with the EigenPro-preconditioned defaults.

Per epoch (one pass over the data, so the same number of kernel evaluations), batches
below m* make about as much progress as single-point steps, while batches well above m*
fall behind: there a batch is worth about one step, not m. EigenPro raises m* to
hundreds and, after a few epochs, is orders of magnitude more accurate. A step well
above the optimal one diverges, and the fit then halves it (see ``n_backoffs_``).
"""

# %%
# Batch sizes at the optimal step size
# ------------------------------------
# Batch sizes 1 and 2 are below this problem's plain m* (printed in the figure's title),
# 16 and 64 are well above it; the step size of each is the optimal one of its regime.
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


def relative(model):
    return model.convergence_curve_ / model.convergence_curve_[0]


by_batch = {m: curve(n_components=0, batch_size=m) for m in [1, 2, 16, 64]}
plain_m_star = by_batch[1].critical_batch_size_
preconditioned = curve()
for m, model in by_batch.items():
    print(f"plain SGD, m = {m}: relative error {relative(model)[-1]:.2g}")
print(
    f"EigenPro, m = {preconditioned.batch_size_}: "
    f"relative error {relative(preconditioned)[-1]:.2g}"
)

# %%
# Step sizes at the automatic batch size
# --------------------------------------
# Plain SGD's automatic batch size is about m*, with the optimal step of that regime.
# Scale that step by a quarter and by 1.9.
auto = curve(n_components=0)
optimal_step = auto.step_size_
by_step = {
    factor: curve(n_components=0, step_size=factor * optimal_step)
    for factor in [0.25, 1.0, 1.9]
}
for factor, model in by_step.items():
    print(
        f"{factor} x optimal step: relative error {relative(model)[-1]:.2g}, "
        f"{model.n_backoffs_} back-offs"
    )

# %%
# Plot the relative training error against epochs
# -----------------------------------------------
# Left: the curves of batches 1 and 2 nearly coincide, and each batch well above m*
# ends higher than the smaller ones. The first point of the EigenPro curve is high only
# because each epoch is one or two batches of several hundred points and each batch's
# error is recorded before its update; from then on it falls by orders of magnitude
# while plain SGD flattens.
#
# Right: 1.9 times the optimal step diverges in the first epoch; the fit restores the
# last good coefficients (the zero function, hence the flat start) and halves the step,
# after which the curve follows the optimal one. A quarter of the optimal step keeps up
# (it is even slightly ahead) in the first epochs, when the error lies mostly along the
# top eigen-directions that any of these steps resolves quickly, and ends above the
# optimal one once the slow directions dominate.
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
for m, model in by_batch.items():
    left.semilogy(relative(model), marker="o", markersize=3, label=f"plain SGD, m = {m}")
left.semilogy(
    relative(preconditioned),
    "k-",
    marker="s",
    markersize=3,
    label=f"EigenPro, m = {preconditioned.batch_size_} "
    f"(m* = {preconditioned.critical_batch_size_:.0f})",
)
left.set_title(f"batch size at the optimal step (plain m* = {plain_m_star:.1f})")
for factor, model in by_step.items():
    right.semilogy(
        relative(model),
        marker="o",
        markersize=3,
        label=f"{factor} x optimal step, {model.n_backoffs_} back-offs",
    )
right.set_title(f"plain SGD, step size at m = {auto.batch_size_}")
for ax in (left, right):
    ax.set_xlabel("epoch")
    ax.legend()
left.set_ylabel("training error / error of the zero function")
fig.tight_layout()
plt.show()
