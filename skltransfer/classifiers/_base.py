"""The base of the domain adaptation classifiers: fit opening and decision -> predict tail."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..utils._base import DomainFitMixin
from ..utils._sklearn_compat import check_is_fitted, validate_data
from ..utils._tags import LearnsFromTargetMixin
from ..utils._validation import check_magnitude, reject_empty

__all__ = ["BaseDAClassifier"]

_DTYPES = [np.float64, np.float32]


class BaseDAClassifier(LearnsFromTargetMixin, DomainFitMixin, ClassifierMixin, BaseEstimator):
    """Base class of the classifiers fitted on labeled source and unlabeled target rows.

    Subclasses call :meth:`_validate_fit` at the start of ``fit`` (validated ``X`` and
    ``y`` and the domain of every row) and implement ``_class_scores(X) -> (n_samples,
    n_classes)`` on validated rows; :meth:`decision_function` and :meth:`predict` follow.
    ``_magnitude_power`` is the highest power of the values the solver sums, the ``power``
    of :func:`~skltransfer.utils._validation.check_magnitude`.
    """

    _magnitude_power = 2

    _expected_failed_checks: ClassVar[dict] = {
        "check_classifiers_classes": (
            "the check trains on the labels [-1, 1]; -1 is the marker of unlabeled target rows, "
            "as in SelfTrainingClassifier"
        ),
    }

    def _validate_fit(self, X, y, sample_domain):
        X, y = validate_data(self, X, y, dtype=_DTYPES)
        check_magnitude(X, power=self._magnitude_power)
        return X, y, self._resolve_domains(y, sample_domain, X.shape[0])

    def _class_scores(self, X) -> np.ndarray:
        raise NotImplementedError

    def _scores(self, X) -> np.ndarray:
        check_is_fitted(self)
        reject_empty(self, X)
        X = validate_data(self, X, dtype=_DTYPES, reset=False)
        check_magnitude(X, power=self._magnitude_power)
        return self._class_scores(X)

    def decision_function(self, X):
        """Score of each class for each row (higher: more likely).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            For two classes, the score of the second class minus that of the first.
        """
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict(self, X):
        """Predict the class of each row: the class of highest score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]
