"""Fit scikit-learn-extra's EigenPro estimator on a saved dataset; print one JSON line.

Runs under a separate virtual environment (scikit-learn-extra 0.3.0 needs numpy<2,
scipy<1.14 and scikit-learn 1.3):

    python -m venv /tmp/skextra
    /tmp/skextra/bin/pip install "numpy<2" "scipy<1.14" "scikit-learn==1.3.2" \\
        "scikit-learn-extra==0.3.0"
    /tmp/skextra/bin/python benchmarks/external/eigenpro_extra.py DATA.npz N_EPOCH GAMMA \\
        [classification|regression [RANDOM_STATE]]

The score is the test accuracy (EigenProClassifier) or R^2 (EigenProRegressor).
"""

import json
import resource
import sys
import time

import numpy as np
from sklearn.metrics import r2_score
from sklearn_extra.kernel_methods import EigenProClassifier, EigenProRegressor


def main():
    path, n_epoch, gamma = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    kind = sys.argv[4] if len(sys.argv) > 4 else "classification"
    random_state = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    data = np.load(path)
    estimator = EigenProClassifier if kind == "classification" else EigenProRegressor
    model = estimator(n_epoch=n_epoch, gamma=gamma, random_state=random_state)
    start = time.perf_counter()
    model.fit(data["X_train"], data["y_train"])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(data["X_test"])
    predict_s = time.perf_counter() - start
    if kind == "classification":
        score = float(np.mean(predicted == data["y_test"]))
    else:
        score = float(r2_score(data["y_test"], predicted))
    print(
        json.dumps(
            {
                "fit_s": fit_s,
                "predict_s": predict_s,
                "score": score,
                "epochs": n_epoch,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
