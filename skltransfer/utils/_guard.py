"""The guard against negative transfer of the estimators that learn from labeled target rows.

A transfer estimator fitted on many source rows and a few labeled target rows can do worse
than the plain fits it could have been: its base estimator fitted on the source rows alone,
on the labeled target rows alone, or on both pooled. :class:`TransferGuardMixin` compares
them by cross-validation over the labeled target rows and keeps the transfer fit unless a
plain fit beats it by more than the noise of so few labels.

With several source domains, :func:`select_sources` uses the same folds and the same rule
to choose which source domains to train on (and, without labeled target rows, a rule on the
domain gap): :class:`skltransfer.model_selection.SourceSelector` and the ``sources="select"``
option of the boosting and reweighting estimators call it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import _safe_indexing

from ._warnings import warn_at_caller

__all__ = [
    "CANDIDATES",
    "GAP_RATIO",
    "SourceChoice",
    "TransferGuardMixin",
    "select_sources",
    "source_gaps",
    "source_subsets",
]

#: The fits the guard compares, the transfer fit first.
CANDIDATES = ("transfer", "source only", "target only", "pooled")

_DESCRIPTIONS = {
    "source only": "fitted on the source rows only",
    "target only": "fitted on the labeled target rows only",
    "pooled": "fitted on the source and labeled target rows pooled",
}

_N_SPLITS = 5

_MARGIN = 1e-9


def _target_folds(
    y_target: np.ndarray, classification: bool, min_train: int, n_splits: int = _N_SPLITS
) -> list | None:
    """Shuffled folds (at most ``n_splits``) of the labeled target rows (stratified for classes
    when every class has two rows), or None when some training fold would hold fewer than
    ``min_train`` rows."""
    n_rows = y_target.shape[0]
    counts = np.unique(y_target, return_counts=True)[1] if classification else np.zeros(0)
    if classification and counts.min() >= 2:
        splitter = StratifiedKFold(min(n_splits, int(counts.min())), shuffle=True, random_state=0)
    elif n_rows >= 2:
        splitter = KFold(min(n_splits, n_rows), shuffle=True, random_state=0)
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

    Class attributes: ``_guard_n_splits``, the most folds (5; fewer for an estimator whose
    fit is expensive), and ``_min_labeled_target``, the fewest labeled target rows of a
    training fold. An estimator whose transfer fit learns from the unlabeled target rows
    passes their positions to :meth:`_fit_guarded` (``unlabeled``): each fold's transfer fit
    then also gets them, and the fold's held-out labeled target rows as unlabeled target rows
    (their label replaced by the marker of unlabeled rows), so that it sees the target rows
    the full fit sees.

    The rule. The labeled target rows are split into (at most) ``_guard_n_splits`` (5)
    shuffled folds, stratified by class for a classifier when every class has two labeled
    target rows; every training fold holds all the source rows. Each candidate predicts
    every labeled target row once, from the fold that leaves it out:

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

    _guard_n_splits = _N_SPLITS

    def _guard_baseline(self):
        raise NotImplementedError

    def _fit_transfer(self, X, y, rows, target) -> None:
        raise NotImplementedError

    def _fit_guarded(self, X, y, rows, target, unlabeled=None):
        """The transfer fit, then (when ``guard``) the comparison and the selected fit.

        ``rows``: positions in ``X`` of the labeled rows of the fit; ``target``: which of
        them are target rows; ``unlabeled``: positions of the unlabeled target rows each
        fold's transfer fit also gets (None: none).
        """
        self._fit_transfer(X, y, rows, target)
        self.selected_ = "transfer"
        self.baseline_scores_ = None
        self.baseline_estimator_ = None
        if not self.guard or not np.any(target):
            return self
        classification = is_classifier(self)
        source, labeled = rows[~target], rows[target]
        folds = _target_folds(y[labeled], classification, self._min_labeled_target, self._guard_n_splits)
        if folds is None:
            return self
        baseline = self._guard_baseline()
        fitted_source = clone(baseline).fit(X[source], y[source])
        predictions = self._out_of_fold_predictions(
            X, y, source, labeled, folds, baseline, fitted_source, unlabeled
        )
        self.baseline_scores_ = _candidate_scores(predictions, y[labeled], classification)
        best = _best_candidate(self.baseline_scores_)
        if best is None:
            return self
        self.selected_ = best
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

    def _out_of_fold_predictions(
        self, X, y, source, labeled, folds, baseline, fitted_source, unlabeled=None
    ) -> dict:
        """Every candidate's prediction of every labeled target row, from the fold leaving it out."""
        X_source, y_source, X_target, y_target = X[source], y[source], X[labeled], y[labeled]
        predictions = {name: np.empty_like(y_target) for name in CANDIDATES}
        predictions["source only"] = fitted_source.predict(X_target)
        for train, test in folds:
            X_train = np.concatenate([X_source, X_target[train]])
            y_train = np.concatenate([y_source, y_target[train]])
            predictions["transfer"][test] = self._fold_transfer_predict(
                X, y, source, labeled[train], labeled[test], unlabeled
            )
            predictions["pooled"][test] = clone(baseline).fit(X_train, y_train).predict(X_target[test])
            if is_classifier(self) and np.unique(y_target[train]).shape[0] < 2:
                predictions.pop("target only", None)
            elif "target only" in predictions:
                model = clone(baseline).fit(X_target[train], y_target[train])
                predictions["target only"][test] = model.predict(X_target[test])
        return predictions

    def _fold_transfer_predict(self, X, y, source, train, test, unlabeled):
        """The transfer fit (``guard=False``) of one fold, on the rows ``source`` and the
        labeled target rows ``train`` (and the target rows ``unlabeled`` and ``test`` as
        unlabeled ones when ``unlabeled`` is not None), predicting the rows ``test``."""
        domain = np.r_[np.zeros(source.shape[0], dtype=np.int64), np.full(train.shape[0], -1)]
        fit_rows, y_fit = np.r_[source, train], y[np.r_[source, train]]
        if unlabeled is not None:
            extra = np.r_[unlabeled, test]
            fit_rows = np.r_[fit_rows, extra]
            y_fit = _with_unlabeled(y_fit, extra.shape[0], classification=is_classifier(self))
            domain = np.r_[domain, np.full(extra.shape[0], -1)]
        fitted = clone(self).set_params(guard=False).fit(X[fit_rows], y_fit, sample_domain=domain)
        return fitted.predict(X[test])


def _with_unlabeled(y_train: np.ndarray, n_unlabeled: int, *, classification: bool) -> np.ndarray:
    """``y_train`` followed by ``n_unlabeled`` markers of unlabeled rows: ``-1`` for class
    labels (in an object array for text labels), NaN for regression targets."""
    if not classification:
        return np.r_[y_train.astype(np.float64), np.full(n_unlabeled, np.nan)]
    if y_train.dtype.kind in "if":
        return np.r_[y_train, np.full(n_unlabeled, -1, dtype=y_train.dtype)]
    return np.r_[y_train.astype(object), np.full(n_unlabeled, -1, dtype=object)]


def _best_candidate(scores: dict):
    """The candidate of largest gain among those whose gain exceeds one standard error (the
    first in the order of ``scores`` on a tie), or None when none does."""
    # A relative margin: a classifier right on one more row and wrong on none has a gain
    # equal to its standard error (1 / n_rows), which rounding must not tip over.
    better = {
        name: entry["gain"]
        for name, entry in scores.items()
        if entry["gain"] > entry["gain_std_error"] * (1.0 + _MARGIN)
    }
    return max(better, key=better.get) if better else None


def _candidate_scores(
    predictions: dict, y_true: np.ndarray, classification: bool, reference="transfer"
) -> dict:
    """``baseline_scores_``: each candidate's mean per-row score and its gain over the
    ``reference`` candidate (the transfer fit), each with its standard error."""
    if classification:
        scores = {name: (pred == y_true).astype(float) for name, pred in predictions.items()}
    else:
        scores = {name: -((pred - y_true) ** 2) for name, pred in predictions.items()}
    root = math.sqrt(y_true.shape[0])
    result = {}
    for name, score in scores.items():
        gain = score - scores[reference]
        result[name] = {
            "mean": float(score.mean()),
            "std_error": float(score.std(ddof=1) / root),
            "gain": float(gain.mean()),
            "gain_std_error": float(gain.std(ddof=1) / root),
        }
    return result


# --- several source domains -------------------------------------------------------------

#: The label-free rule keeps the source domains whose domain gap to the target rows is at most
#: this many times the smallest one (None keeps every source: SourceSelector's default).
GAP_RATIO = 2.0

# The domain gap is measured on at most this many rows of each domain (evenly spaced).
_MAX_GAP_ROWS = 2000


@dataclass(frozen=True)
class SourceChoice:
    """What :func:`select_sources` chose, and on what evidence.

    Attributes
    ----------
    sources : tuple of int
        The source domains of the fit (those with labeled rows), sorted.
    selected : tuple of int
        The source domains to train on.
    criterion : {"single source", "cross-validation", "domain gap"}
        How they were chosen: nothing to choose, the labeled target rows, or the domain gap.
    scores : dict or None
        With ``"cross-validation"``: each compared subset of source domains (a tuple) with
        ``{"mean", "std_error", "gain", "gain_std_error"}``, the gain over all the sources.
    gaps : dict or None
        With ``"domain gap"``: each source domain's squared MMD to the target rows.
    """

    sources: tuple
    selected: tuple
    criterion: str
    scores: dict | None = None
    gaps: dict | None = None


def source_subsets(sources: tuple) -> list[tuple]:
    """The subsets of source domains compared: all of them, each all-but-one, each alone.

    That is every non-empty subset for up to 3 sources, and ``2 K + 1`` subsets of ``K``
    sources beyond (the fits grow linearly, not exponentially, with the sources).
    """
    subsets = [tuple(sources)]
    if len(sources) > 2:
        subsets += [tuple(d for d in sources if d != left) for left in sources]
    if len(sources) > 1:
        subsets += [(d,) for d in sources]
    return subsets


def _evenly_spaced(X, n_rows: int):
    if X.shape[0] <= n_rows:
        return X
    return X[np.linspace(0, X.shape[0] - 1, n_rows).astype(int)]


def source_gaps(X, sample_domain: np.ndarray, sources: tuple) -> dict:
    """Each source domain's squared MMD (RBF kernel, biased estimate) to the target rows.

    The estimates compare: one bandwidth for every source (the median heuristic over the
    rows of all the sources and the target rows together), and every source subsampled to
    the same number of rows (evenly spaced: those of the smallest source, at most 2000), so
    that the estimate's positive bias, which shrinks with the number of rows, is the same
    for each and a small source does not look farther. At most 2000 target rows are used.
    """
    from ..metrics._mmd import maximum_mean_discrepancy, median_heuristic_gamma

    X = np.asarray(X, dtype=float)
    X_target = _evenly_spaced(X[sample_domain < 0], _MAX_GAP_ROWS)
    n_rows = min(_MAX_GAP_ROWS, *(int(np.sum(sample_domain == d)) for d in sources))
    X_sources = {d: _evenly_spaced(X[sample_domain == d], n_rows) for d in sources}
    gamma = median_heuristic_gamma(np.vstack(list(X_sources.values())), X_target)
    return {d: float(maximum_mean_discrepancy(Xd, X_target, "rbf", gamma)) for d, Xd in X_sources.items()}


def select_sources(
    make_estimator, X, y, sample_domain, labeled, *, classification, gap_ratio=GAP_RATIO, fit=None
) -> SourceChoice:
    """Choose the source domains to train on.

    The rule.

    - One source domain (with labeled rows): it is kept (``"single source"``).
    - Labeled target rows enough for the guard's folds (``"cross-validation"``): the
      subsets of :func:`source_subsets` are compared over the folds of the labeled target
      rows as the guard compares its candidates. Each fold fits ``make_estimator()`` on the
      rows of the subset's source domains, every target row outside the test fold (the
      unlabeled ones included) and no row of the other sources, and predicts the test fold.
      A subset's gain is its per-row score (accuracy, or minus the squared error) minus that
      of all the sources pooled on the same rows; the subset of largest gain among those
      whose gain exceeds one standard error of the paired differences replaces the pool (the
      larger subset on a tie). Otherwise every source is kept.
    - Otherwise (``"domain gap"``): each source domain's squared MMD to the target rows
      (:func:`source_gaps`); the sources whose gap is at most ``gap_ratio`` times the
      smallest are kept, every source when ``gap_ratio`` is None (``"pooled"``).

    Parameters
    ----------
    make_estimator : callable
        Returns an unfitted estimator.
    X : array-like of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    sample_domain : ndarray of int of shape (n_samples,)
    labeled : ndarray of bool of shape (n_samples,)
    classification : bool
    gap_ratio : float or None, default=GAP_RATIO
    fit : callable, default=None
        ``fit(estimator, rows) -> fitted``, which fits ``estimator`` on the rows of
        ``X`` at the positions ``rows``; None calls
        ``estimator.fit(X[rows], y[rows], sample_domain=sample_domain[rows])``.

    Returns
    -------
    choice : SourceChoice
    """
    if fit is None:

        def fit(estimator, rows):
            return estimator.fit(_safe_indexing(X, rows), y[rows], sample_domain=sample_domain[rows])

    sources = tuple(int(d) for d in np.unique(sample_domain[(sample_domain >= 0) & labeled]))
    if len(sources) < 2:
        return SourceChoice(sources, sources, "single source")
    target_labeled = np.flatnonzero((sample_domain < 0) & labeled)
    folds = _target_folds(y[target_labeled], classification, 1) if target_labeled.size else None
    if folds is None:
        gaps = source_gaps(X, sample_domain, sources)
        if gap_ratio is None:
            return SourceChoice(sources, sources, "pooled", gaps=gaps)
        smallest = min(gaps.values())
        selected = tuple(d for d in sources if gaps[d] <= gap_ratio * smallest * (1.0 + _MARGIN))
        return SourceChoice(sources, selected, "domain gap", gaps=gaps)
    subsets = source_subsets(sources)
    y_target = y[target_labeled]
    predictions = {subset: np.empty_like(y_target) for subset in subsets}
    is_test = np.zeros(sample_domain.shape[0], dtype=bool)
    for _, test in folds:
        is_test[:] = False
        is_test[target_labeled[test]] = True
        for subset in subsets:
            rows = np.flatnonzero(~is_test & ((sample_domain < 0) | np.isin(sample_domain, subset)))
            model = fit(make_estimator(), rows)
            predictions[subset][test] = model.predict(_safe_indexing(X, target_labeled[test]))
    scores = _candidate_scores(predictions, y_target, classification, reference=sources)
    best = _best_candidate(scores)
    return SourceChoice(sources, sources if best is None else best, "cross-validation", scores=scores)
