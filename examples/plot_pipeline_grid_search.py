"""
================================
A pipeline tuned by GridSearchCV
================================

The estimators are ordinary scikit-learn citizens: this example scales the digits data
in a :class:`~sklearn.pipeline.Pipeline`, tunes the kernel width ``gamma`` and the ridge
term ``alpha`` with :class:`~sklearn.model_selection.GridSearchCV`, and shows the
cross-validated accuracy of each pair. ``fit`` picks the batch size and step size inside
every fold by itself.
"""

# %%
# The search
# ----------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_interp import InterpolatingKernelClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

pipe = make_pipeline(MinMaxScaler(), InterpolatingKernelClassifier(random_state=0))
gammas = [0.003, 0.01, 0.03, 0.1]
alphas = [0.0, 1e-2, 1.0]
search = GridSearchCV(
    pipe,
    {
        "interpolatingkernelclassifier__gamma": gammas,
        "interpolatingkernelclassifier__alpha": alphas,
    },
    cv=3,
).fit(X_train, y_train)
best = search.best_estimator_[-1]
print("best parameters:", search.best_params_)
print(
    f"test accuracy {search.score(X_test, y_test):.4f}; m* = "
    f"{best.critical_batch_size_:.0f}, batch {best.batch_size_}, {best.n_iter_} epochs"
)

# %%
# Cross-validated accuracy for each (gamma, alpha)
# ------------------------------------------------
# The search's results are ordered with alpha varying slowest.
scores = search.cv_results_["mean_test_score"].reshape(len(alphas), len(gammas))
fig, ax = plt.subplots(figsize=(6, 4))
image = ax.imshow(scores, cmap="viridis", vmin=scores.min(), vmax=scores.max())
ax.set_xticks(range(len(gammas)), [str(g) for g in gammas])
ax.set_yticks(range(len(alphas)), [str(a) for a in alphas])
ax.set_xlabel("gamma")
ax.set_ylabel("alpha")
for (i, j), value in np.ndenumerate(scores):
    ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="w")
fig.colorbar(image, label="mean cross-validated accuracy")
ax.set_title("MinMaxScaler + InterpolatingKernelClassifier on digits")
fig.tight_layout()
plt.show()
