"""The guard against negative transfer of the estimators that learn from labeled target rows.

A transfer estimator fitted on many source rows and a few labeled target rows can do worse
than the plain fits it could have been: its base estimator fitted on the source rows alone,
on the labeled target rows alone, or on both pooled. :class:`TransferGuardMixin` compares
them by cross-validation over the labeled target rows and keeps the transfer fit unless a
plain fit beats it by more than the noise of so few labels.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import KFold, StratifiedKFold

from ._warnings import warn_at_caller

__all__ = ["CANDIDATES", "TransferGuardMixin"]

#: The fits the guard compares, the transfer fit first.
CANDIDATES = ("transfer", "source only", "target only", "pooled")

_DESCRIPTIONS = {
    "source only": "fitted on the source rows only",
    "target only": "fitted on the labeled target rows only",
    "pooled": "fitted on the source and labeled target rows pooled",
}

_N_SPLITS = 5

_MARGIN = 1e-9


def _target_folds(y_target: np.ndarray, classification: bool, min_train: int) -> list | None:
    """Shuffled folds of the labeled target rows (stratified for classes when every class has
    two rows), or None when some training fold would hold fewer than ``min_train`` rows."""
    n_rows = y_target.shape[0]
    counts = np.unique(y_target, return_counts=True)[1] if classification else np.zeros(0)
    if classification and counts.min() >= 2:
        splitter = StratifiedKFold(min(_N_SPLITS, int(counts.min())), shuffle=True, random_state=0)
    elif n_rows >= 2:
        splitter = KFold(min(_N_SPLITS, n_rows), shuffle=True, random_state=0)
    else:
        return None
    folds = list(splitter.split(np.zeros((n_rows, 1)), y_target))
    if min(train.shape[0] for train, _ in folds) < min_train:
        return None
    return folds


class TransferGuardMixin:
    """The guard of the estimators that learn from labeled target rows (parameter ``guard``).

    ``fit`` calls :meth:`_fit_guarded` with the validated rows; subclasses implement
    ``_fit_transfer(X, y, rows, target)`` (the transfer fit, which sets the estimator's own
    fitted attributes) and ``_guard_baseline()`` (the unfitted plain estimator of the
    candidates), and predict with ``baseline_estimator_`` when it is not None.

    The rule. The labeled target rows are split into (at most) 5 shuffled folds, stratified
    by class for a classifier when every class has two labeled target rows; every training
    fold holds all the source rows. Each candidate predicts every labeled target row once,
    from the fold that leaves it out:

    - ``"transfer"``: the estimator itself with ``guard=False``;
    - ``"source only"``: the plain estimator fitted on the source rows;
    - ``"target only"``: the plain estimator fitted on the training fold's target rows (left
      out for a classifier when a training fold holds a single class);
    - ``"pooled"``: the plain estimator fitted on the source rows and the training fold's
      target rows, unweighted.

    Each row's score is ``1`` for a right label and ``0`` for a wrong one (classifiers), or
    minus the squared error (regressors). A candidate's gain is the mean, over the labeled
    target rows, of its score minus the transfer fit's score on the same row, and the
    standard error of that gain is the standard deviation of these paired differences over
    the square root of their number. The transfer fit is kept unless some candidate's gain
    exceeds one standard error; then the candidate of largest gain among those (the first in
    the order above on a tie) is refitted on all its rows, used for prediction, and a
    ``UserWarning`` says so. With too few labeled target rows for two folds (or for the
    transfer fit in every training fold), nothing is compared and the transfer fit is kept.
    """

    def _guard_baseline(self):
        raise NotImplementedError

    def _fit_transfer(self, X, y, rows, target) -> None:
        raise NotImplementedError

    def _fit_guarded(self, X, y, rows, target):
        """The transfer fit, then (when ``guard``) the comparison and the selected fit."""
        self._fit_transfer(X, y, rows, target)
        self.selected_ = "transfer"
        self.baseline_scores_ = None
        self.baseline_estimator_ = None
        if not self.guard:
            return self
        classification = is_classifier(self)
        source, labeled = rows[~target], rows[target]
        folds = _target_folds(y[labeled], classification, self._min_labeled_target)
        if folds is None:
            return self
        baseline = self._guard_baseline()
        fitted_source = clone(baseline).fit(X[source], y[source])
        predictions = self._out_of_fold_predictions(X, y, source, labeled, folds, baseline, fitted_source)
        self.baseline_scores_ = _candidate_scores(predictions, y[labeled], classification)
        # A relative margin: a classifier right on one more row and wrong on none has a gain
        # equal to its standard error (1 / n_rows), which rounding must not tip over.
        better = {
            name: entry["gain"]
            for name, entry in self.baseline_scores_.items()
            if entry["gain"] > entry["gain_std_error"] * (1.0 + _MARGIN)
        }
        if not better:
            return self
        self.selected_ = max(better, key=better.get)
        if self.selected_ == "source only":
            self.baseline_estimator_ = fitted_source
        else:
            fit_rows = labeled if self.selected_ == "target only" else rows
            self.baseline_estimator_ = clone(baseline).fit(X[fit_rows], y[fit_rows])
        entry = self.baseline_scores_[self.selected_]
        warn_at_caller(
            f"{type(self).__name__}: the transfer fit was not kept. The plain estimator "
            f"{_DESCRIPTIONS[self.selected_]} ({self.selected_!r}) beats it by {entry['gain']:.3g} "
            f"{'accuracy' if classification else 'squared error'} per labeled target row in "
            f"cross-validation over the {labeled.shape[0]} labeled target rows, more than one standard "
            f"error ({entry['gain_std_error']:.3g}); it is the fit used for prediction. See "
            "baseline_scores_; guard=False keeps the transfer fit."
        )
        return self

    def _out_of_fold_predictions(self, X, y, source, labeled, folds, baseline, fitted_source) -> dict:
        """Every candidate's prediction of every labeled target row, from the fold leaving it out."""
        X_source, y_source, X_target, y_target = X[source], y[source], X[labeled], y[labeled]
        predictions = {name: np.empty_like(y_target) for name in CANDIDATES}
        predictions["source only"] = fitted_source.predict(X_target)
        transfer = clone(self).set_params(guard=False)
        for train, test in folds:
            X_train = np.concatenate([X_source, X_target[train]])
            y_train = np.concatenate([y_source, y_target[train]])
            domain = np.r_[np.zeros(source.shape[0], dtype=np.int64), np.full(train.shape[0], -1)]
            fitted = clone(transfer).fit(X_train, y_train, sample_domain=domain)
            predictions["transfer"][test] = fitted.predict(X_target[test])
            predictions["pooled"][test] = clone(baseline).fit(X_train, y_train).predict(X_target[test])
            if is_classifier(self) and np.unique(y_target[train]).shape[0] < 2:
                predictions.pop("target only", None)
            elif "target only" in predictions:
                model = clone(baseline).fit(X_target[train], y_target[train])
                predictions["target only"][test] = model.predict(X_target[test])
        return predictions


def _candidate_scores(predictions: dict, y_true: np.ndarray, classification: bool) -> dict:
    """``baseline_scores_``: each candidate's mean per-row score and its gain over the transfer
    fit, each with its standard error."""
    if classification:
        scores = {name: (pred == y_true).astype(float) for name, pred in predictions.items()}
    else:
        scores = {name: -((pred - y_true) ** 2) for name, pred in predictions.items()}
    root = math.sqrt(y_true.shape[0])
    result = {}
    for name, score in scores.items():
        gain = score - scores["transfer"]
        result[name] = {
            "mean": float(score.mean()),
            "std_error": float(score.std(ddof=1) / root),
            "gain": float(gain.mean()),
            "gain_std_error": float(gain.std(ddof=1) / root),
        }
    return result
