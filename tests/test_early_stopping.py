"""Early stopping's rule on plain scores, and the monitor on scripted held-out
decisions: gains that clear the noise go on, noisy plateaus stop."""

import numpy as np
import pytest

from sklearn_interp import InterpolatingKernelClassifier, InterpolatingKernelRegressor
from sklearn_interp._early_stopping import (
    SIGNIFICANT_GAIN,
    EpochMonitor,
    StoppingRule,
    effective_sample_size,
    paired_standard_error,
)


def test_the_rule_counts_gains_against_the_last_significant_score():
    rule = StoppingRule(tol=0.0, patience=3)
    rule.start(0.5)
    noise = 0.01  # a gain counts above 1.5 noise = 0.015
    steps = [(0.51, False), (0.52, True), (0.525, False), (0.53, False), (0.54, True)]
    for epoch, (score, counts) in enumerate(steps, start=1):
        reference = rule.reference
        assert rule.update(epoch, score, noise) == (True, False)
        assert (rule.reference == score) == counts
        assert counts == (score > reference + SIGNIFICANT_GAIN * noise)
    # Three epochs in a row without a gain that counts: stop; the best stays.
    assert rule.update(6, 0.54, noise) == (False, False)
    assert rule.update(7, 0.53, noise) == (False, False)
    assert rule.update(8, 0.55, noise) == (True, True)
    assert rule.best_epoch == 8 and rule.reference == 0.54
    assert rule.scores == [0.5, *(score for score, _ in steps), 0.54, 0.53, 0.55]


def test_the_rule_takes_tol_when_it_is_above_the_noise():
    rule = StoppingRule(tol=0.1, patience=1)
    rule.start(0.5)
    assert rule.min_gain(0.0) == 0.1 and rule.min_gain(1.0) == SIGNIFICANT_GAIN
    assert rule.update(1, 0.55, noise=0.0) == (True, True)


@pytest.mark.parametrize("n_no_change, expected", [(1, 1), (2, 0)])
def test_a_resumed_rule_keeps_its_patience_unless_it_ran_out(n_no_change, expected):
    rule = StoppingRule(tol=0.0, patience=2)
    rule.resume(
        [0.5, 0.6],
        best_score=0.6,
        best_epoch=1,
        reference=0.6,
        reference_losses=None,
        n_no_change=n_no_change,
    )
    assert rule.n_no_change == expected
    assert rule.update(2, 0.6, noise=0.0) == (False, expected + 1 == 2)


def test_the_noise_of_a_paired_gain():
    losses = np.array([1.0, 4.0, 9.0, 16.0])
    # A gain every row shares has no noise; unit weights change nothing.
    assert paired_standard_error(losses, losses - 0.5, None, 4) == 0.0
    difference = np.array([1.0, -1.0, 1.0, -1.0])
    assert paired_standard_error(losses, losses - difference, None, 4) == 0.5
    assert effective_sample_size(4, np.ones(4)) == effective_sample_size(4) == 4
    # One row of all the weight is one effective sample.
    assert effective_sample_size(4, np.array([1.0, 0, 0, 0])) == 1.0


@pytest.mark.parametrize(
    "model, score, expected",
    [
        (InterpolatingKernelClassifier(), 0.96, 1.5 * np.sqrt(0.96 * 0.04 / 2000)),
        (InterpolatingKernelRegressor(), 0.95, 1.5 * 0.05 * np.sqrt(2 / 2000)),
        (InterpolatingKernelClassifier(tol=0.1), 0.96, 0.1),
        (InterpolatingKernelClassifier(scoring="accuracy"), 0.96, 1e-4),
    ],
)
def test_least_gain_is_tol_or_the_noise_of_the_held_out_score(model, score, expected):
    # The estimator's own score: a gain within 1.5 standard errors of the reference
    # score on the held-out rows (binomial for accuracy, (1 - R^2) sqrt(2 / n) for
    # R^2) is no improvement; another scorer has no noise model, and tol alone counts.
    held_out = (np.zeros((2000, 1)), np.zeros((2000, 1)), np.zeros(2000))
    monitor = EpochMonitor(model, validation=held_out, fitted_points=None)
    monitor.rule.reference = score
    assert monitor.rule.min_gain(monitor.noise()) == pytest.approx(expected)


class _ScriptedEvaluator:
    """An evaluator whose held-out decisions are given epoch by epoch."""

    def __init__(self, decisions):
        self.decisions = iter(decisions)

    def decision(self, X):
        return next(self.decisions)

    def keep_best(self, values=None):
        pass


def test_small_gains_that_add_up_keep_the_fit_going():
    # Of 2000 held-out rows, 1000 are right before the first epoch: 1.5 standard
    # errors of that accuracy are 1.5 sqrt(0.25 / 2000), 33.5 rows. Epochs 1 and 2
    # each turn 20 more rows right: no improvement alone (a rule against the running
    # best would stop after epoch 2), but against the reference, the last significant
    # score (epoch 0), epoch 2 gains 40 rows.
    n = 2000
    y = np.zeros(n, dtype=int)

    def decision(gained):
        values = np.ones((n, 1))
        values[: 1000 + gained] = -1.0  # -1 is class 0, the truth: rows right
        return values

    model = InterpolatingKernelClassifier(n_iter_no_change=2)
    model.classes_ = np.array([0, 1])
    held_out = (np.zeros((n, 1)), np.zeros((n, 1)), y)
    monitor = EpochMonitor(model, validation=held_out, fitted_points=None)
    epochs = [decision(k) for k in (0, 20, 40, 40, 40)]
    monitor.begin(_ScriptedEvaluator(epochs), warm=None)
    assert not monitor(1, monitor.evaluator)
    assert monitor.rule.n_no_change == 1
    assert not monitor(2, monitor.evaluator)
    assert monitor.rule.n_no_change == 0
    assert monitor.rule.reference == pytest.approx(1040 / n)
    # Two epochs without a change: the fit stops, and the best epoch is the second.
    assert not monitor(3, monitor.evaluator)
    assert monitor(4, monitor.evaluator)
    assert monitor.rule.best_epoch == 2
    assert monitor.rule.scores == pytest.approx(
        [1000 / n, 1020 / n, 1040 / n, 1040 / n, 1040 / n]
    )


def _loss_monitor(decisions, weight=None):
    """A monitor of scoring="loss" over held-out rows with target 0, whose decisions
    are scripted epoch by epoch (index 0: before the first epoch)."""
    model = InterpolatingKernelRegressor(scoring="loss", n_iter_no_change=2)
    n = len(decisions[0])
    held_out = (np.zeros((n, 1)), np.zeros((n, 1)), np.zeros(n))
    monitor = EpochMonitor(
        model, validation=held_out, fitted_points=None, validation_weight=weight
    )
    monitor.begin(_ScriptedEvaluator(decisions), warm=None)
    return monitor


def test_loss_gains_are_judged_paired_so_slow_steady_gains_go_on():
    # Rows of very different difficulty: the loss's plain standard error over 2000
    # rows is about 2.6% of it. Each epoch shrinks every row's error by 0.5%, a loss
    # gain of 1%: within the plain noise, but every row shares it, so the paired
    # standard error of the gain is nearly 0 and each epoch counts.
    offsets = np.random.RandomState(0).lognormal(sigma=1.0, size=(2000, 1))
    decisions = [offsets * 0.995**epoch for epoch in range(8)]
    monitor = _loss_monitor(decisions)
    losses = offsets[:, 0] ** 2
    assert np.std(losses) / np.sqrt(2000) > 2 * 0.01 * losses.mean()
    for epoch in range(1, 8):
        assert not monitor(epoch, monitor.evaluator)
        assert monitor.rule.n_no_change == 0
    assert monitor.rule.best_epoch == 7


# Random plateaus in the test below. A pure-noise epoch passes 1.5 standard errors
# with probability 1 - Phi(1.5) = 6.7%, so two in a row without a gain, the patience,
# come first with probability 0.93^2 = 0.87 (standard deviation 1.7% over 400).
PLATEAU_TRIALS = 400


@pytest.mark.parametrize("weighted", [False, True])
def test_a_noisy_loss_plateau_stops_within_the_patience(weighted):
    # Epoch 1 halves every row's error; from then on each epoch moves every row's loss
    # at random by 20% either way, with no change on average: a flat, noisy plateau.
    # With n_iter_no_change=2 the fit stops at epoch 3 unless noise passes for a
    # gain, and soon after even then; the best epoch seen is kept.
    rng = np.random.RandomState(0)
    stopped_at = []
    for _ in range(PLATEAU_TRIALS):
        offsets = rng.lognormal(sigma=1.0, size=(500, 1))
        decisions = [offsets, 0.5 * offsets]
        for _ in range(10):
            factor = np.sqrt(np.maximum(1.0 + 0.2 * rng.normal(size=(500, 1)), 0.0))
            decisions.append(0.5 * offsets * factor)
        weight = rng.uniform(0.5, 2.0, size=500) if weighted else None
        monitor = _loss_monitor(decisions, weight)
        assert not monitor(1, monitor.evaluator)  # halving every row's error counts
        epoch = 2
        while not monitor(epoch, monitor.evaluator):
            epoch += 1
        stopped_at.append(epoch)
        assert monitor.rule.best_score == max(monitor.rule.scores)
    stopped_at = np.array(stopped_at)
    assert np.mean(stopped_at == 3) > 0.8
    assert stopped_at.max() <= 8
