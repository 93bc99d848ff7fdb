"""Fit scikit-learn-extra's EigenProClassifier on a saved dataset; print one JSON line.

Runs under a separate virtual environment (scikit-learn-extra 0.3.0 needs numpy<2,
scipy<1.14 and scikit-learn 1.3):

    python -m venv /tmp/skextra
    /tmp/skextra/bin/pip install "numpy<2" "scipy<1.14" "scikit-learn==1.3.2" \\
        "scikit-learn-extra==0.3.0"
    /tmp/skextra/bin/python benchmarks/external/eigenpro_extra.py DATA.npz N_EPOCH GAMMA
"""

import json
import resource
import sys
import time

import numpy as np
from sklearn_extra.kernel_methods import EigenProClassifier


def main():
    path, n_epoch, gamma = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    data = np.load(path)
    model = EigenProClassifier(n_epoch=n_epoch, gamma=gamma, random_state=0)
    start = time.perf_counter()
    model.fit(data["X_train"], data["y_train"])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = float(np.mean(model.predict(data["X_test"]) == data["y_test"]))
    predict_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "fit_s": fit_s,
                "predict_s": predict_s,
                "score": accuracy,
                "epochs": n_epoch,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
