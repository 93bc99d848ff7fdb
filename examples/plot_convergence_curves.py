"""
=====================================
Convergence curves and the batch size
=====================================

``fit`` records the training error after every epoch in ``convergence_curve_``. This
example fits the digits data with plain SGD (``n_components=0``) at several batch sizes,
each with the optimal step size of its regime, and with the EigenPro-preconditioned default.
Below the critical batch size m* a larger batch does not change the error per epoch (each
batch of m is worth m single steps); the preconditioner makes m* large enough for one big
matrix product per step.
"""

# %%
# Fit plain SGD at batch sizes around its m*, and the preconditioned default.
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from sklearn_interp import InterpolatingKernelClassifier

X, y = load_digits(return_X_y=True)
X = X[:1000] / 16.0
y = y[:1000]

curves = {}
for batch_size in [1, 2, 8, 64]:
    model = InterpolatingKernelClassifier(
        n_components=0, batch_size=batch_size, max_iter=15, tol=0.0, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 is never reached: fixed epochs
        model.fit(X, y)
    curves[f"plain SGD, m={batch_size}"] = model.convergence_curve_
plain_m_star = model.critical_batch_size_

model = InterpolatingKernelClassifier(random_state=0).fit(X, y)
curves[f"EigenPro default, m={model.batch_size_}"] = model.convergence_curve_

# %%
# Plot the relative training error against epochs.
fig, ax = plt.subplots(figsize=(7, 4.5))
for label, curve in curves.items():
    ax.semilogy(curve / curve[0], marker="o", markersize=3, label=label)
ax.set_xlabel("epoch")
ax.set_ylabel("training error / error of the zero function")
ax.set_title(f"digits, rbf kernel: plain SGD has m* = {plain_m_star:.1f}")
ax.legend()
plt.show()
