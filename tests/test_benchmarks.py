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
defaults = pytest.importorskip("bench_defaults")


@pytest.fixture
def tiny_tasks(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "DATA_CACHE", tmp_path)
    classification = common.dataset_path("run_classification40", 150)
    regression = common.dataset_path("friedman1", 150)
    return {"classification": classification, "regression": regression}


@pytest.mark.parametrize("kind", ["classification", "regression"])
@pytest.mark.parametrize("label", list(run.METHODS))
def test_every_method_measures(tiny_tasks, kind, label):
    method, params = run.method_params(label, kind)
    result = common.fit_and_score(tiny_tasks[kind], kind, method, params, repeats=2)
    assert len(result["runs"]["fit_s"]) == 2
    assert result["fit_s"] > 0 and result["predict_s"] > 0
    # Well above chance (10 classes: 0.1) or the mean (R^2 = 0) on this easy data.
    assert result["score"] > (0.25 if kind == "classification" else 0.3)
    assert np.isnan(result["epochs"]) != label.startswith("ours")


def test_task_data_is_standardized_and_split(tiny_tasks):
    data = np.load(tiny_tasks["regression"])
    assert data["X_train"].shape == (150, 10)
    assert data["X_test"].shape == (common.RUN_TEST_SIZE, 10)
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data["y_train"].std(), 1.0)


def test_kernel_ridge_classifier_matches_kernel_ridge_on_encoded_targets():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    for y in [rng.randint(3, size=60), rng.randint(2, size=60)]:
        model = common.KernelRidgeClassifier(alpha=1e-3, kernel="rbf", gamma=0.5).fit(X, y)
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


def test_mixed_regression_data_is_one_hot_and_standardized():
    X_train, X_test, y_train, _ = common.make_mixed_regression_data(300, 100)
    n_one_hot = sum(common.MIXED_LEVELS)
    assert X_train.shape == (300, n_one_hot + common.MIXED_NUMERIC)
    assert X_test.shape == (100, X_train.shape[1])
    # Each categorical column is one 1 among its levels' columns.
    np.testing.assert_array_equal(
        X_train[:, :n_one_hot].sum(axis=1), len(common.MIXED_LEVELS)
    )
    np.testing.assert_allclose(X_train[:, n_one_hot:].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X_train[:, n_one_hot:].std(axis=0), 1.0)
    assert abs(y_train.mean() - common.MIXED_TARGET_MEAN) < 1.0


def test_best_fixed_epochs_is_the_fastest_within_noise():
    sweep = [
        {"epochs": 2, "fit_s": 1.0, "score": 0.90},
        {"epochs": 4, "fit_s": 2.0, "score": 0.948},
        {"epochs": 8, "fit_s": 4.0, "score": 0.950},
    ]
    # One standard error at 0.95 on 5000 test points is 0.31 pp: 4 epochs is within it.
    assert defaults.best_fixed_epochs(sweep, "classification", 5000)["epochs"] == 4
    assert defaults.best_fixed_epochs(sweep, "classification", 10**9)["epochs"] == 8
    assert defaults.score_noise("regression", 0.8, 5000) == pytest.approx(
        0.2 * np.sqrt(2 / 5000)
    )


def test_defaults_table_shows_ratios_against_the_defaults():
    result = {"fit_s": 2.0, "score": 0.9, "epochs": 10.0, "peak_rss_mb": 3.0}
    record = {
        "dataset": "t",
        "kind": "classification",
        "n_train": 10,
        "n_test": 5,
        "n_features": 2,
        "repeats": 1,
        "noise": 0.01,
        "results": {
            defaults.DEFAULTS: {
                **result,
                "warnings": 1,
                "warning_types": ["ConvergenceWarning"],
            },
            "best fixed: ours, max_iter=4": {**result, "fit_s": 1.0, "epochs": 4.0},
            "KernelRidge(alpha=0.001)": {**result, "fit_s": 8.0, "score": 0.91},
            "sklearn-extra EigenPro, n_epoch=2": {**result, "fit_s": 3.0, "score": 0.8},
            "sklearn-extra EigenPro, n_epoch=5": {**result, "fit_s": 9.0, "score": 0.85},
        },
        "not_run": {"sklearn-extra EigenPro": "not run: because"},
        "sweep": [{"epochs": 4, "fit_s": 1.0, "score": 0.9}],
    }
    table = defaults.dataset_table(record)
    assert (
        "| ours (defaults) | 2 | 1 | 0.9000 | +0.00 | 10 | 1 (ConvergenceWarning) |"
        in table
    )
    assert "| KernelRidge(alpha=0.001) | 8 | 4 | 0.9100 | +1.00 |" in table
    assert "- defaults time / best fixed-epoch time: **2**" in table
    assert (
        "- KernelRidge(alpha=0.001) (fastest at equal accuracy) time / defaults time: "
        "**4**" in table
    )
    # No EigenPro run reaches the defaults' score less one standard error: the best
    # one is reported as such.
    assert (
        "- sklearn-extra EigenPro, n_epoch=5 (best, below the defaults' score) time / "
        "defaults time: **4.5**" in table
    )
    assert "| sklearn-extra EigenPro | not run: because |" in table


def test_bench_epoch_measures_the_fit_and_the_parts(tmp_path, monkeypatch):
    epoch = pytest.importorskip("bench_epoch")
    monkeypatch.setattr(common, "DATA_CACHE", tmp_path)
    path = common.dataset_path(epoch.DATASET, 300)
    fit = epoch.measure_fit(path)
    assert fit["fit_s"] > 0 and 0 < fit["accuracy"] <= 1
    assert len(fit["decision"]) == common.TEST_SIZE
    assert fit["module"].startswith(str(BENCHMARKS.parent))  # this checkout's code
    parts = epoch.measure_parts(path)
    for key in ["product_s", "exp_s", "kernel_coef_s", "projection_s", "exp_best_s"]:
        assert parts[key] > 0
    assert parts["chunk_rows"] >= 1 and parts["peak_gflops"] > 0


@pytest.mark.slow
def test_bench_centers_measures_every_method(tmp_path, monkeypatch):
    centers = pytest.importorskip("bench_centers")
    monkeypatch.setattr(common, "DATA_CACHE", tmp_path)
    path = str(common.dataset_path("classification40_noisy", 400))
    for spec in [
        {"method": "ours", "p": 30},
        {"method": "ours", "p": "auto"},
        {"method": "ours", "rows": 200},
        {"method": "nystroem", "p": 50},
    ]:
        row = centers.run({**spec, "path": path}, timeout=300)
        assert "error" not in row, row
        assert row["fit_s"] > 0 and 0 < row["accuracy"] <= 1 and row["peak_rss_mb"] > 0
    assert row.get("n_centers") is None  # Nystroem reports no centers
