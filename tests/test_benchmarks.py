"""The benchmark script's pieces, run in process on tiny data so the script cannot rot.

The timings themselves are never asserted: they live in ``benchmarks/results/``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
run = pytest.importorskip("run")
common = pytest.importorskip("_common")


@pytest.fixture
def tiny_tasks(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "DATA_CACHE", tmp_path)
    classification = run.task_path(
        "classification40", "classification", 150, run._generated_classification
    )
    regression = run.task_path("friedman1", "regression", 150, run._generated_regression)
    return {"classification": classification, "regression": regression}


@pytest.mark.parametrize("kind", ["classification", "regression"])
@pytest.mark.parametrize("label", list(run.METHODS))
def test_every_method_measures(tiny_tasks, kind, label):
    result = run.measure(tiny_tasks[kind], kind, label, 2)
    assert len(result["runs"]["fit_s"]) == 2
    assert result["fit_s"] > 0 and result["predict_s"] > 0
    # Well above chance (10 classes: 0.1) or the mean (R^2 = 0) on this easy data.
    assert result["score"] > (0.25 if kind == "classification" else 0.3)
    assert np.isnan(result["epochs"]) != label.startswith("ours")


def test_task_data_is_standardized_and_split(tiny_tasks):
    data = np.load(tiny_tasks["regression"])
    assert data["X_train"].shape == (150, 10)
    assert data["X_test"].shape == (run.GENERATED_TEST_SIZE, 10)
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data["y_train"].std(), 1.0)


def test_kernel_ridge_classifier_matches_kernel_ridge_on_encoded_targets():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    for y in [rng.randint(3, size=60), rng.randint(2, size=60)]:
        model = run._KernelRidgeClassifier(alpha=1e-3, kernel="rbf", gamma=0.5).fit(X, y)
        targets = np.where(y[:, None] == np.unique(y)[None, :], 1.0, -1.0)
        scores = KernelRidge(alpha=1e-3, kernel="rbf", gamma=0.5).fit(X, targets).predict(X)
        np.testing.assert_array_equal(model.predict(X), np.unique(y)[scores.argmax(axis=1)])


def test_methods_not_run_say_why():
    assert run.why_not_run("KernelRidge", 5000, available_gb=20) is None
    reason = run.why_not_run("KernelRidge", 100000, available_gb=20)
    assert reason.startswith("not run") and "240 GB" in reason and "20 GB" in reason
    assert run.why_not_run("KernelRidge", 100000, available_gb=None) is None
    plain = "ours plain SGD (n_components=0)"
    assert run.why_not_run(plain, run.N_MAX["plain"], 20) is None
    assert "plain SGD" in run.why_not_run(plain, run.N_MAX["plain"] + 1, 20)
    assert run.why_not_run("ours float32, tol=3e-2", 10**6, 20) is None
    assert run.why_not_run(run.EXTRA_LABEL, run.N_MAX["extra"], 20) is None
    assert "300 s" in run.why_not_run(run.EXTRA_LABEL, run.N_MAX["extra"] + 1, 20)


def test_method_table_shows_ratios_and_reasons():
    result = {"fit_s": 2.0, "predict_s": 0.5, "score": 0.9, "epochs": 4.0}
    record = {
        "task": "t",
        "kind": "classification",
        "n_train": 10,
        "n_test": 5,
        "n_features": 2,
        "repeats": 3,
        "results": {
            "KernelRidge": {**result, "fit_s": 4.0, "epochs": np.nan, "peak_rss_mb": 9.0},
            "ours (defaults)": {**result, "peak_rss_mb": 3.0},
            "SVC / SVR": {"not_run": "not run: because"},
        },
    }
    table = run.method_table(record)
    assert "| ours (defaults) | 2 | 0.5 | 0.5 | 1 | 0.9000 | 4 | 3 |" in table
    assert "| SVC / SVR | not run: because |" in table


def test_markdown_to_rst_nests_under_the_page_title():
    rst = common.markdown_to_rst("# Top\n\n## Sub\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "Top\n---\n" in rst and "Sub\n~~~\n" in rst
    assert ".. list-table::" in rst and "   * - 1\n     - 2" in rst
