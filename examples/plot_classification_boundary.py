"""
================================
Decision boundaries on two moons
================================

An interpolating classifier fits every training label, yet its decision boundary can
be smooth: it is the minimum-norm interpolant of the kernel. This example draws the
boundary of :class:`~sklearn_interp.InterpolatingKernelClassifier` on noisy two-moons
data for two kernel widths, without and with a ridge term, with the test accuracy of
each.
"""

# %%
# Fit four classifiers
# --------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split

from sklearn_interp import InterpolatingKernelClassifier

X, y = make_moons(n_samples=600, noise=0.25, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
settings = [(gamma, alpha) for alpha in (0.0, 1.0) for gamma in (1.0, 10.0)]
models = [
    InterpolatingKernelClassifier(gamma=gamma, alpha=alpha, random_state=0).fit(
        X_train, y_train
    )
    for gamma, alpha in settings
]

# %%
# Plot the decision function and the boundary
# -------------------------------------------
xx, yy = np.meshgrid(np.linspace(-1.6, 2.6, 200), np.linspace(-1.2, 1.7, 150))
grid = np.column_stack([xx.ravel(), yy.ravel()])
fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, sharey=True)
for ax, (gamma, alpha), model in zip(axes.ravel(), settings, models, strict=True):
    scores = model.decision_function(grid).reshape(xx.shape)
    ax.contourf(xx, yy, scores, levels=np.linspace(-2, 2, 21), cmap="RdBu", extend="both")
    ax.contour(xx, yy, scores, levels=[0.0], colors="k")
    ax.scatter(X_train[:, 0], X_train[:, 1], c=y_train, cmap="RdBu", edgecolors="k", s=15)
    ax.set_title(
        f"gamma={gamma}, alpha={alpha}: test accuracy {model.score(X_test, y_test):.3f}"
    )
fig.suptitle("InterpolatingKernelClassifier on two moons (training points shown)")
fig.tight_layout()
plt.show()
