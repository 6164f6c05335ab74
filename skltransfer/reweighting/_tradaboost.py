"""TrAdaBoost (Dai et al. 2007): boosting with a few labeled target rows."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_consistent_length, check_random_state
from sklearn.utils.multiclass import check_classification_targets

from .._domains import Domains, resolve_domains
from ..utils._sklearn_compat import HasMethods, Interval, _fit_context, check_is_fitted, validate_data
from ._base import _EXPECTED_FAILED_CHECKS, require_y

__all__ = ["TrAdaBoostClassifier"]

_MIN_ERROR = 1e-10


class TrAdaBoostClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """TrAdaBoost: boosting that learns from many source rows and a few labeled target rows.

    Each round fits a clone of ``estimator`` on the weighted labeled source and target rows
    (weights scaled to mean 1, so that a regularised estimator keeps its strength) and
    measures its weighted error ``e`` on the labeled target rows. Misclassified target rows
    gain weight as in AdaBoost, by ``((1 - e) / e * (K - 1)) ** learning_rate``;
    misclassified source rows lose weight, by ``beta ** learning_rate`` with
    ``beta = 1 / (1 + sqrt(2 ln(n_source) / n_estimators))``, so that source rows unlike the
    target fade out (Dai et al. 2007). The prediction is the vote of the second half of the
    rounds, weighted by ``alpha = ln((1 - e) / e) + ln(K - 1)``, as in the paper. With two
    classes (``K = 2``) every formula is the paper's; more classes use the SAMME correction
    ``ln(K - 1)`` (Zhu et al. 2009). ``e`` is clipped to ``[1e-10, 1 - 1e-10]`` and
    ``alpha`` at 0 from below: a round no better than chance gets no vote and leaves the
    target weights unchanged.

    The labeled target rows are given by ``sample_domain`` (``< 0``); target rows with
    ``y == -1`` are ignored.

    Parameters
    ----------
    estimator : classifier, default=None
        Base classifier whose ``fit`` accepts ``sample_weight``; ``None`` means
        ``LogisticRegression()``.
    n_estimators : int, default=10
        Number of boosting rounds.
    learning_rate : float, default=1.0
        Exponent applied to both weight updates (``1`` is the paper's algorithm).
    random_state : int, RandomState instance or None, default=None
        Seeds the ``random_state`` of every round's estimator, when it has one.

    Attributes
    ----------
    estimators_ : list of classifiers
        The fitted estimator of every round.
    estimator_errors_ : ndarray of shape (n_estimators,)
        Weighted error of every round on the labeled target rows (before clipping).
    estimator_weights_ : ndarray of shape (n_estimators,)
        Vote ``alpha`` of every round; only the second half votes.
    weights_ : ndarray of shape (n_samples,)
        Final normalised weight of every training row (``0`` for unlabeled rows).
    classes_ : ndarray of shape (n_classes,)
        The classes of the labeled rows.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    KernelMeanMatching : Importance weights from unlabeled target rows.

    References
    ----------
    .. [1] W. Dai, Q. Yang, G.-R. Xue and Y. Yu, "Boosting for transfer learning", ICML 2007.
    .. [2] J. Zhu, H. Zou, S. Rosset and T. Hastie, "Multi-class AdaBoost", Statistics and
           Its Interface 2, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import TrAdaBoostClassifier, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(100, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> Xt = rng.normal(size=(10, 2)); yt = (Xt[:, 1] > 0).astype(int)
    >>> X, y, domain = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    >>> clf = TrAdaBoostClassifier(n_estimators=6, random_state=0).fit(X, y, sample_domain=domain)
    >>> len(clf.estimators_), clf.classes_.tolist()
    (6, [0, 1])
    """

    _expected_failed_checks: ClassVar[dict] = _EXPECTED_FAILED_CHECKS

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, n_estimators=10, learning_rate=1.0, random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _resolve_domains(self, y, sample_domain, n_samples: int) -> Domains:
        return resolve_domains(y, sample_domain, n_samples=n_samples, require_labels=True)

    def _make_estimator(self, rng):
        estimator = LogisticRegression() if self.estimator is None else clone(self.estimator)
        if "random_state" in estimator.get_params(deep=False):
            estimator.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
        return estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_domain=None):
        """Boost the estimator over the labeled source and target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabeled rows (ignored).
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target. Needed to mark the labeled
            target rows, which ``y`` alone cannot tell from source rows.

        Returns
        -------
        self : TrAdaBoostClassifier

        Raises
        ------
        ValueError
            When no target row is labeled.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        y = require_y(self, y)
        check_consistent_length(X, y)
        domains = self._resolve_domains(y, sample_domain, X.shape[0])
        rows = np.flatnonzero(domains.labeled)
        target = domains.target[rows]
        if not target.any():
            raise ValueError(
                "TrAdaBoostClassifier needs labeled target rows: pass sample_domain < 0 for "
                "the target rows and their labels in y (y == -1 rows are ignored)."
            )
        X_fit, y_fit = X[rows], y[rows]
        check_classification_targets(y_fit)
        self.classes_ = np.unique(y_fit)
        n_classes = self.classes_.shape[0]
        rng = check_random_state(self.random_state)
        n_source = int((~target).sum())
        beta = 1.0 / (1.0 + math.sqrt(2.0 * math.log(max(n_source, 1)) / self.n_estimators))
        weights = np.full(rows.shape[0], 1.0 / rows.shape[0])
        self.estimators_, errors, alphas = [], [], []
        for _ in range(self.n_estimators):
            weights = weights / weights.sum()
            # Mean 1 rather than sum 1: a regularised estimator (C, alpha) keeps its strength.
            estimator = self._make_estimator(rng).fit(X_fit, y_fit, sample_weight=weights * weights.shape[0])
            wrong = estimator.predict(X_fit) != y_fit
            error = weights[target & wrong].sum() / weights[target].sum()
            clipped = min(max(error, _MIN_ERROR), 1.0 - _MIN_ERROR)
            alpha = max(math.log((1.0 - clipped) / clipped) + math.log(n_classes - 1), 0.0)
            factor = np.ones_like(weights)
            factor[target & wrong] = math.exp(self.learning_rate * alpha)
            factor[~target & wrong] = beta**self.learning_rate
            weights = weights * factor
            self.estimators_.append(estimator)
            errors.append(error)
            alphas.append(alpha)
        self.estimator_errors_ = np.asarray(errors)
        self.estimator_weights_ = np.asarray(alphas)
        self.weights_ = np.zeros(X.shape[0])
        self.weights_[rows] = weights / weights.sum()
        return self

    def predict_proba(self, X):
        """Share of the weighted votes of the second half of the rounds for each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        start = math.ceil(len(self.estimators_) / 2) - 1
        alphas = self.estimator_weights_[start:]
        if alphas.sum() <= 0:
            alphas = np.ones_like(alphas)
        votes = np.zeros((X.shape[0], self.classes_.shape[0]))
        for estimator, alpha in zip(self.estimators_[start:], alphas, strict=True):
            votes[np.arange(X.shape[0]), np.searchsorted(self.classes_, estimator.predict(X))] += alpha
        return votes / alphas.sum()

    def predict(self, X):
        """Class of the weighted vote of the second half of the rounds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Boosting concentrates the weights on the hardest labeled target rows and only the
        # second half of the rounds votes: the training accuracy is not what it maximises.
        tags.classifier_tags.poor_score = True
        return tags
