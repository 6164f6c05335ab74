"""TrAdaBoost (Dai et al. 2007): boosting with a few labeled target rows."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.special import expit
from sklearn.base import MetaEstimatorMixin, clone, is_classifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_consistent_length, check_random_state
from sklearn.utils.multiclass import check_classification_targets

from ..classifiers._base import BaseDAClassifier
from ..utils._base import DomainFitMixin
from ..utils._guard import SourceChoice, TransferGuardMixin, select_sources
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    validate_data,
)
from ..utils._validation import check_magnitude
from ._base import _EXPECTED_FAILED_CHECKS, check_sample_weight_support, require_y

__all__ = ["TrAdaBoostClassifier"]

_MIN_ERROR = 1e-10


def _decision_to_proba(decision) -> np.ndarray:
    """One-vs-rest logistic probabilities from a ``decision_function`` output.

    Each column goes through the logistic function, then every row is divided by its sum. A
    binary decision of shape ``(n_samples,)`` (the score of the second class) gives the two
    columns ``1 - expit(d)`` and ``expit(d)``, which is exactly a binary logistic model's
    probability when ``d`` is its decision function.

    Parameters
    ----------
    decision : array-like of shape (n_samples,) or (n_samples, n_classes)

    Returns
    -------
    proba : ndarray of shape (n_samples, 2) or (n_samples, n_classes)
    """
    decision = np.asarray(decision, dtype=float)
    if decision.ndim == 1:
        positive = expit(decision)
        return np.column_stack([1.0 - positive, positive])
    proba = expit(decision)
    return proba / proba.sum(axis=1, keepdims=True)


class LabeledTargetMixin(DomainFitMixin):
    """What the estimators that learn from a few labeled target rows share.

    The labeled rows of a fit (the labeled target rows are the rows of ``sample_domain < 0``
    whose label is known) and, for the boosting ones, the estimator of every round.
    Subclasses set ``_regression`` / ``_requires_labels`` (:class:`DomainFitMixin`) and, to use
    ``_make_estimator``,
    ``_default_estimator()``.
    """

    _min_labeled_target = 1

    def _make_estimator(self, rng):
        """A clone of ``estimator`` (or of the default), its ``random_state`` drawn from ``rng``."""
        estimator = self._default_estimator() if self.estimator is None else clone(self.estimator)
        if "random_state" in estimator.get_params(deep=False):
            estimator.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
        return estimator

    def _labeled_rows(self, X, y, sample_domain):
        """Validated ``X`` and ``y``, the labeled rows, and which of them are target rows."""
        if getattr(self, "estimator", None) is not None:  # the boosting estimators fit it weighted
            check_sample_weight_support(self, self.estimator)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        check_magnitude(X)
        y = require_y(self, y)
        check_consistent_length(X, y)
        domains = self._resolve_domains(y, sample_domain, X.shape[0])
        rows = np.flatnonzero(domains.labeled)
        target = domains.target[rows]
        if target.sum() < self._min_labeled_target:
            raise ValueError(
                f"{type(self).__name__} needs labeled target rows (at least "
                f"{self._min_labeled_target}, got {int(target.sum())}): pass sample_domain < 0 "
                "for the target rows and their labels in y (unlabeled rows are ignored)."
            )
        return X, y, rows, target

    def _chosen_source_rows(self, X, y, rows, target, sample_domain):
        """``rows`` and ``target`` without the rows of the source domains that ``sources``
        drops; sets ``selected_sources_`` and ``source_scores_``.

        With ``sources="select"`` the estimator itself (``sources="pooled"``, no guard) is
        compared on subsets of the source domains (``skltransfer.utils._guard.select_sources``).
        """
        domains = self._resolve_domains(y, sample_domain, X.shape[0])
        if self.sources == "select":
            choice = select_sources(
                lambda: clone(self).set_params(sources="pooled", guard=False),
                X,
                y,
                domains.sample_domain,
                domains.labeled,
                classification=is_classifier(self),
            )
        else:
            present = tuple(int(d) for d in np.unique(domains.sample_domain[rows[~target]]))
            choice = SourceChoice(present, present, "pooled")
        self.selected_sources_ = np.asarray(choice.selected, dtype=np.int64)
        self.source_scores_ = choice.scores
        keep = target | np.isin(domains.sample_domain[rows], choice.selected)
        return rows[keep], target[keep]


class TrAdaBoostClassifier(TransferGuardMixin, LabeledTargetMixin, MetaEstimatorMixin, BaseDAClassifier):
    """TrAdaBoost: boosting that learns from many source rows and a few labeled target rows.

    Each round fits a clone of ``estimator`` on the weighted labeled source and target rows
    (weights scaled to mean 1, so that a regularised estimator keeps its strength) and
    measures an error ``err_i`` in ``[0, 1]`` on every labeled row: ``1 - p_t(y_i | x_i)``,
    one minus the probability the round gives to the true class (``error="probability"``,
    the default), or ``1`` for a wrong label and ``0`` for a right one (``error="zero_one"``).
    Its weighted mean over the labeled target rows is the round's error ``e``, and its vote
    is ``alpha = ln((1 - e) / e) + ln(K - 1)``. Target rows gain weight as in AdaBoost, by
    ``exp(learning_rate * alpha * err_i)``; source rows lose weight, by
    ``beta ** (learning_rate * err_i)`` with
    ``beta = 1 / (1 + sqrt(2 ln(n_source) / n_estimators))``, so that source rows unlike the
    target fade out (Dai et al. 2007). The prediction is the vote of the second half of the
    rounds, weighted by ``alpha``, as in the paper. With two classes (``K = 2``) every formula
    is the paper's; more classes use the SAMME correction ``ln(K - 1)`` (Zhu et al. 2009).
    ``e`` is clipped to ``[1e-10, 1 - 1e-10]`` and ``alpha`` at 0 from below: a round no
    better than chance gets no vote and leaves the target weights unchanged.

    The probability error is the paper's ``|h_t(x) - c(x)|`` for a hypothesis with values in
    ``[0, 1]``, as in the AdaBoost of Freund and Schapire (1997) that TrAdaBoost extends: with
    two classes ``h_t(x) = p_t(1 | x)``; with ``K`` classes ``1 - p_t(y | x)`` is half the L1
    distance between the probability vector and the one-hot label, and a round that predicts
    ``1 / K`` for every class has ``e = (K - 1) / K``, hence ``alpha = 0``. Unlike the 0/1
    error it does not vanish when the estimator fits the labeled target rows exactly (a
    flexible or lightly regularised estimator), which would leave the target weights unchanged
    every round. The vote then uses the same real-valued hypotheses: the paper's final
    hypothesis compares the ``alpha``-weighted sum of ``h_t(x)`` with half the sum of the
    ``alpha``, so the prediction is the class of largest ``sum_t alpha_t p_t(k | x)``
    (with the 0/1 error, ``h_t`` is the predicted label and this is the weighted majority).

    The labeled target rows are given by ``sample_domain`` (``< 0``); target rows with
    ``y == -1`` are ignored.

    Boosting trusts the few labeled target rows over the source: where the source already
    transfers well it can lose accuracy (on Office-Caltech10 SURF with 3 labeled target rows
    per class, -21 points between DSLR and Webcam against the same ridge classifier without
    boosting, +17 to +21 from Caltech or Amazon to DSLR or Webcam). The guard (``guard=True``,
    the default) therefore compares the boosted fit with ``estimator`` fitted without boosting
    on the source rows only, on the labeled target rows only and on both pooled, by
    cross-validation over the labeled target rows, and keeps the boosted fit unless one of
    them beats it by more than one standard error of the accuracy difference (Notes): on
    the same benchmark it falls back to the ridge classifier between DSLR and Webcam and keeps
    the gains of boosting elsewhere (``benchmarks/RESULTS.md``).

    Parameters
    ----------
    estimator : classifier, default=None
        Base classifier whose ``fit`` accepts ``sample_weight``; ``None`` means
        ``LogisticRegression()``.
    n_estimators : int, default=10
        Number of boosting rounds.
    learning_rate : float, default=1.0
        Factor of the exponent of both weight updates (``1`` is the paper's algorithm).
    error : {"probability", "zero_one"}, default="probability"
        Error of a round's estimator on each labeled row, which drives the weight updates,
        the round's error ``e`` and its vote:

        - ``"probability"``: ``1 - p_t(y_i | x_i)``, with probabilities from the estimator's
          ``predict_proba``, or, when it has none, from its ``decision_function`` through the
          one-vs-rest logistic function normalised over the classes (as for a
          ``RidgeClassifier`` or a ``LinearSVC``); the vote sums the ``alpha``-weighted
          probabilities. An estimator with neither method raises a ``ValueError`` in
          ``fit``.
        - ``"zero_one"``: ``1`` if ``estimator.predict`` is wrong, else ``0``; the vote
          counts the predicted labels. Needs only ``predict``.
    random_state : int, RandomState instance or None, default=None
        Seeds the ``random_state`` of every round's estimator, when it has one.
    guard : bool, default=True
        Compare the boosted fit with the plain fits of ``estimator`` (source only, target
        only, pooled) by cross-validation over the labeled target rows and keep the best by
        the rule of the Notes; ``False`` keeps the boosted fit without comparing.
    sources : {"pooled", "select"}, default="pooled"
        With several source domains (``sample_domain >= 0`` with several values):
        ``"pooled"`` boosts over the rows of every source; ``"select"`` first chooses the
        source domains to keep, comparing the boosted fit (without the guard) on all the
        sources, each all-but-one and each alone by cross-validation over the labeled target
        rows, by the guard's rule against all the sources pooled (or, with too few labeled
        target rows, by the domain gap), as
        :class:`~skltransfer.model_selection.SourceSelector` does; the rows of the other
        sources are left out of the fit and of the guard. One source domain: no change.

    Attributes
    ----------
    estimators_ : list of classifiers
        The fitted estimator of every round (of the boosted fit, also when the guard did not
        keep it).
    estimator_errors_ : ndarray of shape (n_estimators,)
        Weighted mean error (``error``) of every round on the labeled target rows (before
        clipping).
    estimator_weights_ : ndarray of shape (n_estimators,)
        Vote ``alpha`` of every round; only the second half votes.
    weights_ : ndarray of shape (n_samples,)
        Final normalised weight of every training row (``0`` for unlabeled rows).
    classes_ : ndarray of shape (n_classes,)
        The classes of the labeled rows.
    selected_ : {"transfer", "source only", "target only", "pooled"}
        The fit used for prediction: the boosted fit (``"transfer"``) or the plain fit the
        guard kept instead.
    baseline_scores_ : dict or None
        Each compared fit's cross-validated accuracy on the labeled target rows, by name:
        ``{"mean", "std_error", "gain", "gain_std_error"}`` (``gain``: mean accuracy
        difference with the boosted fit on the same rows). None when the guard is off or
        the labeled target rows are too few to cross-validate.
    baseline_estimator_ : classifier or None
        The plain fit used for prediction, fitted on all its rows; None when the boosted fit
        is kept.
    selected_sources_ : ndarray of shape (n_selected,)
        The source domains whose rows the fit used (every one with ``sources="pooled"``).
    source_scores_ : dict or None
        With ``sources="select"`` and enough labeled target rows: each compared subset of
        source domains (a tuple) with its cross-validated accuracy and its gain over all the
        sources, as in ``baseline_scores_``; None otherwise.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    KernelMeanMatching : Importance weights from unlabeled target rows.

    Notes
    -----
    The guard's rule. The labeled target rows are split into (at most) 5 shuffled folds,
    stratified by class when every class has two labeled target rows; every training fold
    holds all the source rows. Each fit predicts every labeled target row once, from the
    fold that leaves it out: the boosted fit (``guard=False``), and ``estimator`` fitted on
    the source rows (``"source only"``), on the training fold's target rows (``"target
    only"``, left out when a training fold holds a single class) and on both (``"pooled"``).
    A fit's gain is its mean accuracy minus the boosted fit's on the same rows; its standard
    error is the standard deviation of the per-row differences over the square root of the
    number of rows. The boosted fit is kept unless a gain exceeds its standard error: then
    the fit of largest such gain is refitted on all its rows, predicts, and a
    ``UserWarning`` says so. With fewer labeled target rows than two folds need, nothing is
    compared. The guard costs ``n_folds`` more boosted fits.

    References
    ----------
    .. [1] W. Dai, Q. Yang, G.-R. Xue and Y. Yu, "Boosting for transfer learning", ICML 2007.
    .. [2] J. Zhu, H. Zou, S. Rosset and T. Hastie, "Multi-class AdaBoost", Statistics and
           Its Interface 2, 2009.
    .. [3] Y. Freund and R. E. Schapire, "A decision-theoretic generalization of on-line
           learning and an application to boosting", Journal of Computer and System Sciences
           55, 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import TrAdaBoostClassifier, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(100, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> Xt = rng.normal(size=(10, 2)); yt = (Xt[:, 0] + Xt[:, 1] > 0).astype(int)
    >>> X, y, domain = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    >>> clf = TrAdaBoostClassifier(n_estimators=6, random_state=0).fit(X, y, sample_domain=domain)
    >>> len(clf.estimators_), clf.classes_.tolist(), clf.selected_
    (6, [0, 1], 'transfer')
    >>> round(clf.baseline_scores_["source only"]["gain"], 1)  # accuracy against the boosted fit
    -0.4
    """

    _expected_failed_checks: ClassVar[dict] = _EXPECTED_FAILED_CHECKS

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "error": [StrOptions({"probability", "zero_one"})],
        "random_state": ["random_state"],
        "guard": ["boolean"],
        "sources": [StrOptions({"pooled", "select"})],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_estimators=10,
        learning_rate=1.0,
        error="probability",
        random_state=None,
        guard=True,
        sources="pooled",
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.error = error
        self.random_state = random_state
        self.guard = guard
        self.sources = sources

    _requires_labels = True

    def _default_estimator(self):
        return LogisticRegression()

    def _guard_baseline(self):
        return self._make_estimator(check_random_state(self.random_state))

    def _round_proba(self, estimator, X) -> np.ndarray:
        """Probabilities of one round's estimator, one column per class of ``classes_``."""
        if hasattr(estimator, "predict_proba"):
            proba = np.asarray(estimator.predict_proba(X), dtype=float)
        elif hasattr(estimator, "decision_function"):
            proba = _decision_to_proba(estimator.decision_function(X))
        else:
            raise ValueError(
                f'{type(self).__name__}(error="probability") needs an estimator with '
                f"predict_proba or decision_function; {type(estimator).__name__} has neither. "
                'Use error="zero_one", which only needs predict.'
            )
        # Every round fits on all labeled rows, so its columns are the classes of classes_.
        return proba

    def _row_errors(self, estimator, X, y) -> np.ndarray:
        """``error`` of one round's estimator on each row of ``X`` (labels ``y``), in [0, 1]."""
        if self.error == "zero_one":
            return (estimator.predict(X) != y).astype(float)
        proba = self._round_proba(estimator, X)
        true = proba[np.arange(y.shape[0]), np.searchsorted(self.classes_, y)]
        return np.clip(1.0 - true, 0.0, 1.0)

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

        Warns
        -----
        UserWarning
            When the guard keeps a plain fit instead of the boosted one.
        """
        X, y, rows, target = self._labeled_rows(X, y, sample_domain)
        check_classification_targets(y[rows])
        rows, target = self._chosen_source_rows(X, y, rows, target, sample_domain)
        return self._fit_guarded(X, y, rows, target)

    def _fit_transfer(self, X, y, rows, target) -> None:
        X_fit, y_fit = X[rows], y[rows]
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
            row_errors = self._row_errors(estimator, X_fit, y_fit)
            error = float(weights[target] @ row_errors[target] / weights[target].sum())
            clipped = min(max(error, _MIN_ERROR), 1.0 - _MIN_ERROR)
            alpha = max(math.log((1.0 - clipped) / clipped) + math.log(n_classes - 1), 0.0)
            # AdaBoost with losses in [0, 1]: a 0/1 loss gives the paper's updates exactly.
            factor = np.where(
                target,
                np.exp(self.learning_rate * alpha * row_errors),
                beta ** (self.learning_rate * row_errors),
            )
            weights = weights * factor
            self.estimators_.append(estimator)
            errors.append(error)
            alphas.append(alpha)
        self.estimator_errors_ = np.asarray(errors)
        self.estimator_weights_ = np.asarray(alphas)
        self.weights_ = np.zeros(X.shape[0])
        self.weights_[rows] = weights / weights.sum()

    def predict_proba(self, X):
        """Weighted vote of the second half of the rounds for each class, summing to 1.

        With ``error="zero_one"`` each round votes for its predicted class; with
        ``error="probability"`` it votes with its probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._scores(X)

    def _class_scores(self, X) -> np.ndarray:
        if self.baseline_estimator_ is not None:
            return self._baseline_scores(X)
        start = math.ceil(len(self.estimators_) / 2) - 1
        alphas = self.estimator_weights_[start:]
        if alphas.sum() <= 0:
            alphas = np.ones_like(alphas)
        votes = np.zeros((X.shape[0], self.classes_.shape[0]))
        for estimator, alpha in zip(self.estimators_[start:], alphas, strict=True):
            if self.error == "probability":
                votes += alpha * self._round_proba(estimator, X)
            else:
                votes[np.arange(X.shape[0]), np.searchsorted(self.classes_, estimator.predict(X))] += alpha
        return votes / alphas.sum()

    def _baseline_scores(self, X) -> np.ndarray:
        """The guard's plain fit as class scores: its probabilities (as a round's, see ``error``)
        or, with neither ``predict_proba`` nor ``decision_function``, its predicted class."""
        estimator = self.baseline_estimator_
        scores = np.zeros((X.shape[0], self.classes_.shape[0]))
        if hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function"):
            scores[:, np.searchsorted(self.classes_, estimator.classes_)] = self._round_proba(estimator, X)
        else:
            scores[np.arange(X.shape[0]), np.searchsorted(self.classes_, estimator.predict(X))] = 1.0
        return scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Boosting concentrates the weights on the hardest labeled target rows and only the
        # second half of the rounds votes: the training accuracy is not what it maximises.
        tags.classifier_tags.poor_score = True
        return tags
