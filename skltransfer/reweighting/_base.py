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
from ..utils._sklearn_compat import HasMethods, _fit_context, check_is_fitted, validate_data
from ..utils._tags import LearnsFromTargetMixin
from ..utils._validation import check_magnitude

__all__ = ["BaseImportanceWeighting", "check_sample_weight_support", "require_y"]

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


class BaseImportanceWeighting(
    LearnsFromTargetMixin, DomainFitMixin, FittedEstimatorDelegationMixin, MetaEstimatorMixin, BaseEstimator
):
    """Base class of the meta-estimators that reweight the source rows towards the target.

    ``fit(X, y, *, sample_domain=None)`` resolves the domain of every row (``y == -1`` marks
    unlabeled target rows, ``sample_domain`` overrides it), computes one importance weight per
    labeled source row with :meth:`_source_weights`, and fits a clone of ``estimator`` on the
    labeled source rows with these weights as ``sample_weight``. Prediction methods are those
    of the fitted estimator. Target rows (labeled or not) only shape the weights.

    Subclasses implement ``_source_weights(X_source, X_target) -> weights``.
    """

    _parameter_constraints: ClassVar[dict] = {"estimator": [HasMethods(["fit"])]}

    _expected_failed_checks: ClassVar[dict] = _EXPECTED_FAILED_CHECKS

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
        """
        check_sample_weight_support(self, self.estimator)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        check_magnitude(X)
        y = require_y(self, y)
        check_consistent_length(X, y)
        domains = self._resolve_domains(y, sample_domain, X.shape[0])
        source = domains.source & domains.labeled
        weights = self._source_weights(X[source], X[domains.target])
        self.weights_ = np.zeros(X.shape[0])
        self.weights_[source] = weights
        self.estimator_ = clone(self.estimator).fit(X[source], y[source], sample_weight=weights)
        return self

    def _source_weights(self, X_source: np.ndarray, X_target: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _delegated_input(self, X):
        # fit gave the estimator the validated array: prediction does the same (and checks
        # the column names against those seen in fit)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the fitted estimator (accuracy for classifiers, R² for regressors).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        return self.estimator_.score(self._delegated_input(X), y, sample_weight=sample_weight)
