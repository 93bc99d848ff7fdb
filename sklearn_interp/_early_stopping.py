"""Early stopping: the fit ends when the held-out score has stopped rising.

* :class:`StoppingRule` is the rule itself, a small state machine on plain numbers
  (scores, the standard error of a gain): a gain counts when it clears the noise, and
  the fit stops after ``n_iter_no_change`` epochs without one;
* :func:`effective_sample_size` and :func:`paired_standard_error` are that noise's
  parts;
* :class:`EpochMonitor` is what :func:`~sklearn_interp._solver.run_sgd` reports each
  epoch to: it scores the held-out rows, asks the rule, keeps the best coefficients
  and reports the epochs to scikit-learn's callbacks.
"""

import copy

import numpy as np
from sklearn.metrics import check_scoring

# early_stopping="auto" turns on above this many samples, as in HistGradientBoosting;
# measured for this package in the user guide (the fit to tol at 10,000 points takes
# a few seconds, and a held-out tenth would cost accuracy for little time).
EARLY_STOPPING_MIN_SAMPLES = 10_000

# Epochs without improvement before early stopping ends the fit (n_iter_no_change's
# default; HistGradientBoosting's 10 counts cheap trees). An epoch costs a pass over n^2
# kernel entries, and with EigenPro the validation accuracy settles within a few
# epochs: on 40-feature, 10-class data at n = 20,000 and 40,000 it peaked at epochs 3
# and 4 and then moved by single validation samples, so 2 stops one or two epochs after
# the peak (3 would cost 1.6 times the best fixed epoch count at 40,000).
N_ITER_NO_CHANGE = 2

# A gain over the reference score counts when it exceeds this many standard errors of
# that score on the held-out rows. Replayed on the validation curves of four data sets
# (40-feature classification at 20,000 and 40,000 points, class_sep 2 and 1, and mixed
# regression at 15,000), 1 kept fits going two epochs past the kept epoch where the
# test score had stopped moving (40,000 points), and 1.5 stopped them at the same or a
# later kept epoch.
SIGNIFICANT_GAIN = 1.5

# Epochs over all the rows after early stopping, from the best epoch's coefficients
# (zero for the held-out rows). Measured with the defaults on 40-feature, 10-class data
# at 20,000 points (class_sep 1, without and with 10% of the labels flipped; 3 seeds,
# 20,000 test points): one epoch scored 0.27 and 0.44 percentage points below the best
# fixed epoch count on all the rows (0.9018 and 0.8051), two epochs 0.12 and 0.24, for
# 15% more time; three epochs gained nothing more. Early stopping there keeps epoch 3
# or 4, the sweep's best is 5 or 6: the fold-in epochs go on fitting the training rows
# as they fit the held-out ones.
FOLD_IN_EPOCHS = 2


def effective_sample_size(n_samples, weight=None):
    """Kish's effective number of ``n_samples`` weighted samples (``n_samples`` for
    equal weights or None)."""
    if weight is None:
        return n_samples
    return weight.sum() ** 2 / np.sum(weight**2)


def paired_standard_error(reference_losses, row_losses, weight, n_samples):
    """Standard error of the mean difference of two epochs' per-row losses on the
    same rows (weighted by ``weight``, over ``n_samples`` effective samples)."""
    difference = reference_losses - row_losses
    spread = np.average(
        (difference - np.average(difference, weights=weight)) ** 2, weights=weight
    )
    return np.sqrt(spread / n_samples)


class StoppingRule:
    """When to stop, from the scores of the epochs (higher is better).

    A gain counts when the score passes the *reference*, the score of the last
    epoch whose gain counted, by ``tol`` and by SIGNIFICANT_GAIN standard errors of
    the gain: small gains that add up to a significant one keep the fit going, and
    gains within the noise of the held-out rows do not. The fit stops after
    ``patience`` epochs in a row without a gain that counts. The best score and its
    epoch are kept apart from the reference.

    Parameters
    ----------
    tol : float
        The least gain that counts, whatever the noise.
    patience : int
        ``n_iter_no_change``.

    Examples
    --------
    >>> from sklearn_interp._early_stopping import StoppingRule
    >>> rule = StoppingRule(tol=0.0, patience=2)
    >>> rule.start(0.50)
    >>> rule.update(1, 0.60, noise=0.01)
    (True, False)
    >>> rule.update(2, 0.605, noise=0.01)  # within 1.5 standard errors
    (True, False)
    >>> rule.update(3, 0.60, noise=0.01)
    (False, True)
    >>> rule.best_epoch, rule.reference
    (2, 0.6)
    """

    def __init__(self, *, tol, patience):
        self.tol = tol
        self.patience = patience
        self.scores = None
        self.reference = None
        # Per-row losses at the reference epoch (scoring="loss"), for paired noise.
        self.reference_losses = None
        self.best_score = None
        self.best_epoch = None
        self.n_no_change = 0

    def start(self, score, row_losses=None):
        """The score of the coefficients the fit starts from (epoch 0)."""
        self.scores = [score]
        self.best_score, self.best_epoch = score, 0
        self.reference = score
        self.reference_losses = row_losses
        self.n_no_change = 0

    def resume(
        self, scores, *, best_score, best_epoch, reference, reference_losses, n_no_change
    ):
        """Go on from the state of a fit continued (``warm_start``). Patience goes on
        from that fit, unless it stopped for want of gains: continuing it asks for
        more epochs."""
        self.scores = list(scores)
        self.best_score, self.best_epoch = best_score, best_epoch
        self.reference = reference
        self.reference_losses = reference_losses
        self.n_no_change = n_no_change if n_no_change < self.patience else 0

    def min_gain(self, noise):
        """The least gain over the reference that counts, for a gain whose standard
        error is ``noise``."""
        return max(self.tol, SIGNIFICANT_GAIN * noise)

    def update(self, epoch, score, noise, row_losses=None):
        """Take the score of ``epoch`` and the standard error ``noise`` of its gain
        over the reference; return ``(best, stop)``: whether it is the best score so
        far, and whether the fit stops."""
        self.scores.append(score)
        if score > self.reference + self.min_gain(noise):
            self.reference = score
            self.reference_losses = row_losses
            self.n_no_change = 0
        else:
            self.n_no_change += 1
        best = score > self.best_score
        if best:
            self.best_score, self.best_epoch = score, epoch
        return best, self.n_no_change >= self.patience


class EpochMonitor:
    """What :func:`~sklearn_interp._solver.run_sgd` reports each epoch to: early
    stopping on held-out rows, and scikit-learn's callbacks.

    Parameters
    ----------
    estimator : BaseInterpolatingKernel
        The estimator being fitted (its settings, scorer and callbacks).
    validation : tuple or None
        ``(X_val, Y_val, y_val)``: held-out rows, their fitted targets (encoded and
        normalized) and their targets as given; None without early stopping.
    fitted_points : array
        The training points the coefficients belong to (``X_fit_`` of the model
        of an epoch).
    validation_weight : ndarray of shape (n_val,) or None, default=None
        The held-out rows' sample weights: the scores are weighted means over them.
    scoring_X : array or None, default=None
        The held-out rows as a scorer's ``predict`` takes them, where they differ
        from ``X_val`` (the rows of a precomputed kernel matrix, where ``X_val``
        holds their indices; the rows without the scale column of a weighted ridge
        fit).
    scale : ndarray of shape (n_points,) or None, default=None
        Factors from the fit's coefficients to the model's (``sqrt(w)`` for a
        weighted ridge fit, see :class:`~sklearn_interp._weights.WeightedKernel`).
    """

    def __init__(
        self,
        estimator,
        *,
        validation,
        fitted_points,
        validation_weight=None,
        scoring_X=None,
        scale=None,
    ):
        self.estimator = estimator
        self.validation = validation
        self.fitted_points = fitted_points
        self.validation_weight = validation_weight
        self.scoring_X = scoring_X
        self.scale = scale
        # With scoring="loss": each held-out row's loss at the current epoch, for the
        # paired standard error of a gain (noise).
        self.row_losses = None
        self.rule = StoppingRule(tol=estimator.tol, patience=estimator.n_iter_no_change)
        self.scorer = None
        scoring = estimator.scoring
        if validation is not None and scoring not in (None, "loss"):
            self.scorer = check_scoring(estimator, scoring=scoring)
        self.context = None
        if hasattr(estimator, "_init_callback_context"):
            # One epoch task per epoch, the fold-in epochs', and one left open by the
            # last epoch (the fit can end on convergence, which the monitor is not
            # told of).
            self.context = estimator._init_callback_context(
                max_subtasks=estimator.max_iter + FOLD_IN_EPOCHS + 1
            )
        self.epoch_context = None

    def begin(self, evaluator, *, warm):
        """Score the coefficients the fit starts from (or take the scores of the fit
        it continues), and open the callbacks' fit task."""
        self.evaluator = evaluator
        if self.validation is not None:
            if warm is None:
                self.rule.start(self.score(), self.row_losses)
            else:
                # The scores, the best coefficients and the reference of the fit
                # continued.
                self.rule.resume(
                    warm.validation_scores,
                    best_score=self.estimator.best_validation_score_,
                    best_epoch=self.estimator.best_iteration_,
                    reference=warm.reference,
                    reference_losses=warm.reference_losses,
                    n_no_change=warm.n_no_change,
                )
            evaluator.keep_best(None if warm is None else warm.best_coef)
        if self.context is not None:
            self.context.call_on_fit_task_begin(estimator=self.estimator)
            self._open_epoch()

    def fold_in(self, evaluator, fitted_points, scale):
        """Go on to the fold-in epochs, over all the rows (their points and scale):
        no held-out rows are left to score it on; the callbacks see it as one more
        epoch."""
        self.evaluator = evaluator
        self.fitted_points = fitted_points
        self.scale = scale
        self.validation = None
        if self.context is not None and self.epoch_context is None:
            self._open_epoch()  # the fit ended on a stop, which closed its epochs

    def _open_epoch(self):
        self.epoch_context = self.context.subcontext(task_name="epoch")
        self.epoch_context.call_on_fit_task_begin(estimator=self.estimator)

    def score(self):
        """The validation score of the evaluator's current coefficients."""
        X_val, Y_val, y_val = self.validation
        weight = self.validation_weight
        if self.scorer is not None:
            model = copy.copy(self.estimator)
            for name, value in self.reconstruction().items():
                setattr(model, name, value)
            X_scored = X_val if self.scoring_X is None else self.scoring_X
            weights = {} if weight is None else {"sample_weight": weight}
            return float(self.scorer(model, X_scored, y_val, **weights))
        decision = self.evaluator.decision(X_val)
        if self.estimator.scoring == "loss":
            self.row_losses = np.mean((decision - Y_val) ** 2, axis=1)
            return -float(np.average(self.row_losses, weights=weight))
        return float(self.estimator._validation_score(decision, Y_val, y_val, weight))

    def noise(self):
        """The standard error of a gain over the reference score, for
        :meth:`StoppingRule.update`: for the estimator's own score, the standard
        error of the reference score on the held-out rows; for ``scoring="loss"``,
        the paired standard error of the rows' loss differences between the
        reference epoch and this one (both epochs are scored on the same rows, so
        the rows' own difficulty cancels and a small gain that every row shares
        counts, where noise that moves rows both ways does not); 0 for any other
        scorer (only ``tol`` counts)."""
        scoring = self.estimator.scoring
        if scoring not in (None, "loss"):
            return 0.0
        weight = self.validation_weight
        n_samples = effective_sample_size(len(self.validation[2]), weight)
        if scoring == "loss":
            return paired_standard_error(
                self.rule.reference_losses, self.row_losses, weight, n_samples
            )
        return self.estimator._score_noise(self.rule.reference, n_samples)

    def reconstruction(self):
        coef = self.evaluator.coefficients()
        if self.scale is not None:
            coef = coef * self.scale[:, np.newaxis]
        return self.estimator._reconstruction(coef, self.fitted_points)

    def __call__(self, epoch, evaluator):
        """After a good epoch: True to stop."""
        stop = False
        if self.validation is not None:
            score = self.score()
            best, stop = self.rule.update(epoch, score, self.noise(), self.row_losses)
            if best:
                evaluator.keep_best()
            if self.estimator.verbose:
                print(
                    f"epoch {epoch}: validation score {score:.6g} (best "
                    f"{self.rule.best_score:.6g} at epoch {self.rule.best_epoch}; last "
                    f"significant gain to {self.rule.reference:.6g})"
                )
        if self.context is not None:
            requested = self.epoch_context.call_on_fit_task_end(
                estimator=self.estimator, reconstruction_attributes=self.reconstruction
            )
            self.epoch_context = None
            stop = stop or bool(requested)
            if not stop:
                self._open_epoch()
        return stop

    def end(self):
        """Close the callbacks' tasks once the fit is over (an epoch task left open
        by the loop's end is closed empty, as scikit-learn's L-BFGS bridge does)."""
        if self.context is not None:
            if self.epoch_context is not None:
                self.epoch_context.call_on_fit_task_end(estimator=self.estimator)
            self.context.call_on_fit_task_end(
                estimator=self.estimator, reconstruction_attributes=self.reconstruction
            )
