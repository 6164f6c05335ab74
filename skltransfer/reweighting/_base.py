"""The shared machinery of the importance-weighting meta-estimators."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import has_fit_parameter

from .._domains import estimator_regression
from ..pipeline import FittedEstimatorDelegationMixin, _estimator_has
from ..utils._base import DomainFitMixin
from ..utils._guard import TransferGuardMixin, select_sources
from ..utils._sklearn_compat import HasMethods, _fit_context, check_is_fitted, validate_data
from ..utils._tags import LearnsFromTargetMixin
from ..utils._validation import check_magnitude, reject_empty
from ..utils._warnings import warn_at_caller

__all__ = [
    "MIN_EFFECTIVE_FRACTION",
    "BaseImportanceWeighting",
    "check_sample_weight_support",
    "normalize_weights",
    "require_y",
]

#: A fit warns when the effective sample size of the weights is below this fraction of the
#: labeled source rows: the weighted fit then rests on a handful of rows.
MIN_EFFECTIVE_FRACTION = 0.1

# scikit-learn's checks call fit(X, y) on fully labeled rows; tests/_checks.py makes some
# rows target rows, and this check's labels then leave a single class on the source rows.
_EXPECTED_FAILED_CHECKS = {
    "check_classifiers_classes": (
        "the check trains on the labels [-1, 1]; -1 is the marker of unlabeled target rows, "
        "leaving a single source class"
    ),
}


def require_y(estimator, y) -> np.ndarray:
    """``y`` as a 1-D array, or the ``ValueError`` scikit-learn raises when it is missing."""
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")
    return column_or_1d(y, warn=True, dtype=None)


def check_sample_weight_support(meta_estimator, estimator) -> None:
    """Raise a ``ValueError`` naming ``estimator`` when its ``fit`` has no ``sample_weight``."""
    if not has_fit_parameter(estimator, "sample_weight"):
        raise ValueError(
            f"{type(meta_estimator).__name__} fits its estimator with sample_weight, but "
            f"the fit of estimator={type(estimator).__name__} does not accept sample_weight; pass an "
            "estimator whose fit does (LogisticRegression, SVC, DecisionTreeClassifier, Ridge, ...)."
        )


def normalize_weights(estimator, weights: np.ndarray) -> np.ndarray:
    """``weights`` scaled to mean 1; a ``ValueError`` naming ``estimator`` when they are all 0."""
    total = float(np.sum(weights))
    if not total > 0:
        raise ValueError(
            f"{type(estimator).__name__} gave every labeled source row a weight of 0: no source row "
            "resembles the target rows; check that both domains have the same features."
        )
    return weights * (weights.shape[0] / total)


class BaseImportanceWeighting(
    TransferGuardMixin,
    LearnsFromTargetMixin,
    DomainFitMixin,
    FittedEstimatorDelegationMixin,
    MetaEstimatorMixin,
    BaseEstimator,
):
    """Base class of the meta-estimators that reweight the source rows towards the target.

    ``fit(X, y, *, sample_domain=None)`` resolves the domain of every row (``y == -1`` marks
    unlabeled target rows, ``sample_domain`` overrides it), computes one importance weight per
    labeled source row with :meth:`_source_weights` (from every target row, labeled or not),
    and fits a clone of ``estimator`` on the labeled source rows with these weights as
    ``sample_weight`` (the transfer fit). Prediction methods are those of the fitted
    estimator, or of the guard's plain fit when it kept one.

    Labeled target rows (``sample_domain < 0`` with a label) are also trained on, each with
    a weight of 1: the scale of the source weights, whose mean is 1, so that a labeled
    target row counts as much as a source row of average importance. The guard
    (``guard=True``, :class:`~skltransfer.utils._guard.TransferGuardMixin`) then compares the
    transfer fit with ``estimator`` fitted unweighted on the source rows only, on the labeled
    target rows only and on both pooled, by cross-validation over the labeled target rows
    (each fold's transfer fit computing its weights from the unlabeled target rows and the
    fold's held-out labeled rows), and keeps the transfer fit unless one of them beats it by
    more than one standard error. Without labeled target rows nothing is compared.

    The weights are scaled to mean 1 over the labeled source rows, so that the weighted fit
    keeps the strength of the estimator's regularisation (a mean weight of 0.01 acts as a
    100 times stronger penalty). Their concentration is reported as Kish's effective sample
    size ``(sum w)^2 / sum w^2`` in ``effective_sample_size_``; below
    ``MIN_EFFECTIVE_FRACTION`` (10 %) of the labeled source rows a ``UserWarning`` says that
    the fit rests on few rows.

    With several source domains and ``sources="select"``, the rows of the source domains
    that ``skltransfer.utils._guard.select_sources`` drops get a weight of 0.

    Subclasses implement ``_source_weights(X_source, X_target) -> weights`` and have the
    parameter ``sources``.
    """

    _parameter_constraints: ClassVar[dict] = {"estimator": [HasMethods(["fit"])], "guard": ["boolean"]}

    _expected_failed_checks: ClassVar[dict] = _EXPECTED_FAILED_CHECKS

    # the transfer fit needs no labeled target row: a training fold with one is enough
    _min_labeled_target = 1

    @property
    def _requires_labels(self) -> bool:
        return is_classifier(self.estimator)

    @property
    def _regression(self) -> bool | None:
        return estimator_regression(self.estimator)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_domain=None):
        """Weight the labeled source rows towards the target rows, then fit the estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabeled target rows; NaN for a regressor's float targets,
            whose ``-1.0`` is a value like any other.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target. Overrides the ``-1`` rule.

        Returns
        -------
        self : object

        Warns
        -----
        UserWarning
            When the importance weights concentrate on a few rows, and when the guard keeps
            a plain fit instead of the transfer fit.
        """
        check_sample_weight_support(self, self.estimator)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        check_magnitude(X)
        y = require_y(self, y)
        check_consistent_length(X, y)
        domains = self._resolve_domains(y, sample_domain, X.shape[0])
        source = domains.source & domains.labeled & self._chosen_sources(X, y, domains)
        labeled_target = domains.target & domains.labeled
        weights = normalize_weights(self, self._source_weights(X[source], X[domains.target]))
        self.effective_sample_size_ = float(weights.sum() ** 2 / np.sum(weights**2))
        n_source = weights.shape[0]
        if self.effective_sample_size_ < MIN_EFFECTIVE_FRACTION * n_source:
            warn_at_caller(
                f"{type(self).__name__}: the importance weights concentrate on a few rows: their "
                f"effective sample size is {self.effective_sample_size_:.1f} of {n_source} labeled "
                f"source rows (below {MIN_EFFECTIVE_FRACTION:.0%}). The weighted fit has a high "
                "variance; bound or smooth the weights (max_weight, B, a wider kernel) or check that "
                "the target rows lie where source rows do."
            )
        self.weights_ = np.zeros(X.shape[0])
        self.weights_[source] = weights
        rows = np.flatnonzero(source | labeled_target)
        unlabeled_target = np.flatnonzero(domains.target & ~domains.labeled)
        return self._fit_guarded(X, y, rows, labeled_target[rows], unlabeled=unlabeled_target)

    def _fit_transfer(self, X, y, rows, target) -> None:
        # the transfer fit: the source rows with the weights fit computed, each labeled
        # target row with a weight of 1 (the mean of the source weights)
        sample_weight = np.where(target, 1.0, self.weights_[rows])
        self.estimator_ = clone(self.estimator).fit(X[rows], y[rows], sample_weight=sample_weight)

    def _guard_baseline(self):
        return clone(self.estimator)

    def _fold_transfer_predict(self, X, y, source, train, test, unlabeled):
        # The weights depend on the source rows and on all the target rows, which every fold
        # of the guard keeps (its held-out labeled rows as unlabeled ones): they are the
        # full fit's, and only the estimator is fitted again.
        rows = np.r_[source, train]
        sample_weight = np.r_[self.weights_[source], np.ones(train.shape[0])]
        return clone(self.estimator).fit(X[rows], y[rows], sample_weight=sample_weight).predict(X[test])

    def _source_weights(self, X_source: np.ndarray, X_target: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _chosen_sources(self, X, y, domains) -> np.ndarray:
        """Mask of the rows of the source domains that ``sources`` keeps; sets
        ``selected_sources_`` and ``source_scores_``."""
        source_rows = domains.source & domains.labeled
        if self.sources == "select":
            choice = select_sources(
                lambda: clone(self).set_params(sources="pooled", guard=False),
                X,
                y,
                domains.sample_domain,
                domains.labeled,
                classification=is_classifier(self.estimator),
            )
            selected, self.source_scores_ = choice.selected, choice.scores
        else:
            selected, self.source_scores_ = np.unique(domains.sample_domain[source_rows]), None
        self.selected_sources_ = np.asarray(selected, dtype=np.int64)
        return np.isin(domains.sample_domain, self.selected_sources_)

    def _delegated_input(self, X):
        # fit gave the estimator the validated array: prediction does the same (and checks
        # the column names against those seen in fit)
        reject_empty(self, X)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def _predictor(self):
        """The fit used for prediction: the guard's plain fit when it kept one, else ``estimator_``."""
        check_is_fitted(self)
        baseline = getattr(self, "baseline_estimator_", None)
        return self.estimator_ if baseline is None else baseline

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the fit used for prediction (accuracy for classifiers, R² for regressors).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return self._predictor().score(self._delegated_input(X), y, sample_weight=sample_weight)
