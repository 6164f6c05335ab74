"""Two-stage TrAdaBoost.R2 (Pardoe and Stone 2010): boosting for regression transfer."""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
from scipy.optimize import brentq
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin
from sklearn.ensemble import AdaBoostRegressor
from sklearn.model_selection import check_cv, cross_validate
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils import check_random_state

from ..utils._guard import TransferGuardMixin
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ..utils._tags import LearnsFromTargetMixin
from ._tradaboost import LabeledTargetMixin

__all__ = ["TrAdaBoostRegressor"]


class _SourceFrozenAdaBoostR2(AdaBoostRegressor):
    """AdaBoost.R2' (Pardoe and Stone 2010): AdaBoost.R2 that never changes the source weights.

    The first ``n_source`` rows of ``fit`` are the source rows: every round keeps their
    weights, and the target rows share the rest of the total weight as AdaBoost.R2 would
    reweight them. Everything else is scikit-learn's :class:`~sklearn.ensemble.AdaBoostRegressor` (Drucker's
    weighted resampling, the loss, the weighted median of the rounds), through its per-round
    hook ``_boost(iboost, X, y, sample_weight, random_state)``; a test compares one round
    with the unmodified ``AdaBoostRegressor``'s, so a change of that hook fails loudly.
    """

    _parameter_constraints: ClassVar[dict] = {
        **AdaBoostRegressor._parameter_constraints,
        "n_source": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_source=0,
        n_estimators=50,
        learning_rate=1.0,
        loss="linear",
        random_state=None,
    ):
        super().__init__(
            estimator,
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            loss=loss,
            random_state=random_state,
        )
        self.n_source = n_source

    def _boost(self, iboost, X, y, sample_weight, random_state):
        total = sample_weight.sum()
        source = sample_weight[: self.n_source].copy()
        sample_weight, estimator_weight, estimator_error = super()._boost(
            iboost, X, y, sample_weight, random_state
        )
        if sample_weight is not None:
            target = sample_weight[self.n_source :]
            target *= (total - source.sum()) / target.sum()
            sample_weight[: self.n_source] = source
        return sample_weight, estimator_weight, estimator_error


def _adjusted_errors(y_true, y_pred, loss: str) -> np.ndarray:
    """AdaBoost.R2's per-row loss in [0, 1]: the absolute error over its maximum, then ``loss``."""
    error = np.abs(y_pred - y_true)
    error = error / error.max() if error.max() > 0 else error
    if loss == "square":
        return error**2
    if loss == "exponential":
        return 1.0 - np.exp(-error)
    return error


def _source_factor(weights_source, errors_source, goal: float) -> float:
    """The ``beta`` in [0, 1] with ``sum(w_i * beta ** e_i) == goal`` (0 when no beta reaches it,
    1 when the source weights already sum to at most ``goal``).

    Solved for ``log(beta)``: the root can be far below any absolute tolerance on ``beta``.
    """

    def excess(log_beta):
        return float(weights_source @ np.exp(log_beta * errors_source)) - goal

    if weights_source[errors_source == 0].sum() >= goal:  # rows fitted exactly keep their weight
        return 0.0
    if excess(0.0) <= 0.0:  # the source already weighs no more than the goal: nothing to take
        return 1.0
    low = -1.0
    while excess(low) > 0.0:
        low *= 2.0
    return float(np.exp(brentq(excess, low, 0.0, xtol=1e-12)))


class TrAdaBoostRegressor(
    TransferGuardMixin,
    LearnsFromTargetMixin,
    LabeledTargetMixin,
    RegressorMixin,
    MetaEstimatorMixin,
    BaseEstimator,
):
    """Two-stage TrAdaBoost.R2: regression with many source rows and a few labeled target rows.

    Pardoe and Stone's algorithm (2010, Algorithm 3) moves the weight from the source rows
    to the labeled target rows in ``n_steps`` steps and keeps the step whose model
    cross-validates best on the labeled target rows:

    1. Every labeled row starts with the same weight.
    2. At step ``t`` (``t = 1 .. n_steps``), with the current weights:

       - the step's model is AdaBoost.R2' (Drucker's AdaBoost.R2 in which the source weights
         never change: only the target rows are boosted) with ``n_estimators`` rounds; its
         error is the mean squared error on the labeled target rows of a ``cv``-fold
         cross-validation over them, each fold training on every source row and the other
         target folds;
       - one ``estimator`` is fitted on all labeled rows; its absolute error on each row,
         over the largest one, passed through ``loss``, is the row's adjusted error
         ``e_i`` in [0, 1];
       - every source weight is multiplied by ``beta ** e_i``, ``beta`` chosen (by a
         root search) so that the target rows then hold a share
         ``m / (n + m) + t / (n_steps - 1) * (1 - m / (n + m))`` of the total weight, ``n``
         source and ``m`` labeled target rows: the source rows the learner fits worst fade
         first, and the last step fits the target rows alone.

    3. The model of the step of smallest cross-validated error, refitted on all labeled
       rows with that step's weights, is the prediction (a weighted median of its rounds).

    The number of steps, i.e. how much the source is trusted, is thus chosen by the inner
    cross-validation on the labeled target rows, as the paper does, never on other target
    labels. The labeled target rows are given by ``sample_domain`` (``< 0``); rows whose
    label is unknown (NaN for float targets) are ignored.

    The defaults (10 steps, 10 rounds, 5 folds) are those of ADAPT's
    ``TwoStageTrAdaBoostR2``. Unlike it, each step's error is that of the step's
    AdaBoost.R2' model, as in the paper (ADAPT cross-validates the base estimator alone),
    which costs ``n_steps * (cv * n_estimators + 1) + n_estimators`` fits.

    The inner cross-validation chooses how much to trust the source among the steps, all of
    them boosted. The guard (``guard=True``, the default) also compares the two-stage fit
    with ``estimator`` fitted on the source rows only, on the labeled target rows only and on
    both pooled, by an outer cross-validation over the labeled target rows, and keeps the
    two-stage fit unless one of them beats it by more than one standard error of the squared
    error difference (Notes). It multiplies the cost by about ``n_folds + 1``.

    Parameters
    ----------
    estimator : regressor, default=None
        Base regressor whose ``fit`` accepts ``sample_weight``; ``None`` means
        ``DecisionTreeRegressor(max_depth=3)``, the default of scikit-learn's
        :class:`~sklearn.ensemble.AdaBoostRegressor`.
    n_steps : int, default=10
        Number of steps ``S`` of the outer (transfer) stage; at least 2.
    n_estimators : int, default=10
        Number of AdaBoost.R2' rounds ``N`` of every step's model.
    cv : int, cross-validation generator or iterable, default=5
        How the labeled target rows are split for each step's error: an int (``KFold``,
        clipped to the number of labeled target rows) or any scikit-learn splitter, which
        sees only the labeled target rows.
    loss : {"linear", "square", "exponential"}, default="linear"
        AdaBoost.R2's loss of the adjusted errors, in both stages.
    random_state : int, RandomState instance or None, default=None
        Seeds the estimators and AdaBoost.R2's weighted resampling.
    guard : bool, default=True
        Compare the two-stage fit with the plain fits of ``estimator`` (source only, target
        only, pooled) by cross-validation over the labeled target rows and keep the best by
        the rule of the Notes; ``False`` keeps the two-stage fit without comparing.
    sources : {"pooled", "select"}, default="pooled"
        With several source domains (``sample_domain >= 0`` with several values):
        ``"pooled"`` uses the rows of every source; ``"select"`` first chooses the source
        domains to keep, comparing the two-stage fit (without the guard) on all the sources,
        each all-but-one and each alone by cross-validation over the labeled target rows,
        by the guard's rule against all the sources pooled (or, with too few labeled target
        rows, by the domain gap), as :class:`~skltransfer.model_selection.SourceSelector`
        does; the rows of the other sources are left out. One source domain: no change.

    Attributes
    ----------
    estimator_ : AdaBoostRegressor
        The chosen step's AdaBoost.R2' model, fitted on all labeled rows (the two-stage fit,
        also when the guard did not keep it).
    selected_ : {"transfer", "source only", "target only", "pooled"}
        The fit used for prediction: the two-stage fit (``"transfer"``) or the plain fit the
        guard kept instead.
    baseline_scores_ : dict or None
        Each compared fit's cross-validated score on the labeled target rows (minus the
        squared error, averaged over the rows), by name: ``{"mean", "std_error", "gain",
        "gain_std_error"}`` (``gain``: mean score difference with the two-stage fit on the
        same rows). None when the guard is off or the labeled target rows are too few.
    baseline_estimator_ : regressor or None
        The plain fit used for prediction, fitted on all its rows; None when the two-stage
        fit is kept.
    selected_sources_ : ndarray of shape (n_selected,)
        The source domains whose rows the fit used (every one with ``sources="pooled"``).
    source_scores_ : dict or None
        With ``sources="select"`` and enough labeled target rows: each compared subset of
        source domains (a tuple) with its cross-validated score and its gain over all the
        sources, as in ``baseline_scores_``; None otherwise.
    best_step_ : int
        Index (from 0) of the chosen step.
    step_errors_ : ndarray of shape (n_steps,)
        Cross-validated mean squared error of every step's model on the labeled target rows.
    step_target_shares_ : ndarray of shape (n_steps,)
        Share of the total weight held by the labeled target rows at every step.
    weights_ : ndarray of shape (n_samples,)
        The chosen step's weight of every training row (summing to 1; ``0`` for unlabeled
        rows).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    TrAdaBoostClassifier : TrAdaBoost for classification.
    TransferRidge : A ridge regression pulled towards the source model.

    Notes
    -----
    The guard's rule, as in :class:`TrAdaBoostClassifier`: (at most) 5 shuffled folds of the
    labeled target rows, all source rows in every training fold; each fit (the two-stage
    fit with ``guard=False``; ``estimator`` on the source rows, on the training fold's target
    rows, on both) predicts every labeled target row from the fold that leaves it out. A
    fit's gain is the two-stage fit's mean squared error minus its own, on the same rows,
    and its standard error that of the per-row differences. The two-stage fit is kept
    unless a gain exceeds its standard error; then the fit of largest such gain is refitted
    on all its rows, predicts, and a ``UserWarning`` says so. With too few labeled target
    rows for two folds of which each leaves 2 for training, nothing is compared.

    References
    ----------
    .. [1] D. Pardoe and P. Stone, "Boosting for Regression Transfer", ICML 2010.
    .. [2] H. Drucker, "Improving Regressors using Boosting Techniques", ICML 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skltransfer import TrAdaBoostRegressor, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(60, 2)); ys = Xs[:, 0] + 0.1 * rng.normal(size=60)
    >>> Xt = rng.normal(size=(10, 2)); yt = Xt[:, 0] + 1.0
    >>> X, y, domain = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    >>> reg = TrAdaBoostRegressor(Ridge(), n_steps=4, n_estimators=3, random_state=0)
    >>> reg.fit(X, y, sample_domain=domain).step_errors_.shape
    (4,)
    >>> reg.selected_
    'transfer'
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_steps": [Interval(Integral, 2, None, closed="left")],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "loss": [StrOptions({"linear", "square", "exponential"})],
        "random_state": ["random_state"],
        "guard": ["boolean"],
        "sources": [StrOptions({"pooled", "select"})],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_steps=10,
        n_estimators=10,
        cv=5,
        loss="linear",
        random_state=None,
        guard=True,
        sources="pooled",
    ):
        self.estimator = estimator
        self.n_steps = n_steps
        self.n_estimators = n_estimators
        self.cv = cv
        self.loss = loss
        self.random_state = random_state
        self.guard = guard
        self.sources = sources

    # the inner cross-validation needs two labeled target rows
    _min_labeled_target = 2

    def _default_estimator(self):
        return DecisionTreeRegressor(max_depth=3)

    def _guard_baseline(self):
        return self._make_estimator(check_random_state(self.random_state))

    _regression = True

    def _step_model(self, n_source: int, rng) -> _SourceFrozenAdaBoostR2:
        return _SourceFrozenAdaBoostR2(
            self._default_estimator() if self.estimator is None else self.estimator,
            n_source=n_source,
            n_estimators=self.n_estimators,
            loss=self.loss,
            random_state=rng.randint(np.iinfo(np.int32).max),
        )

    def _target_folds(self, n_source: int, n_target: int):
        """``(train, test)`` pairs: every source row and some target folds, the other target fold."""
        cv = self.cv
        if isinstance(cv, Integral):
            cv = min(cv, n_target)
        cv = check_cv(cv)
        source = np.arange(n_source)
        folds = []
        for train, test in cv.split(np.zeros((n_target, 1))):
            folds.append((np.concatenate([source, n_source + train]), n_source + test))
        return folds

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_domain=None):
        """Run the two stages over the labeled source and target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,)
            Float targets, NaN for unlabeled rows (ignored).
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target. Needed to mark the labeled
            target rows, which ``y`` alone cannot tell from source rows.

        Returns
        -------
        self : TrAdaBoostRegressor

        Raises
        ------
        ValueError
            When fewer than 2 target rows are labeled (the inner cross-validation needs 2).

        Warns
        -----
        UserWarning
            When the guard keeps a plain fit instead of the two-stage one.
        """
        X, y, rows, target = self._labeled_rows(X, y, sample_domain)
        y = y.astype(np.float64)
        rows, target = self._chosen_source_rows(X, y, rows, target, sample_domain)
        return self._fit_guarded(X, y, rows, target)

    def _fit_transfer(self, X, y, rows, target) -> None:
        n_target = int(target.sum())
        # Source rows first: AdaBoost.R2' freezes the weights of the first n_source rows.
        order = np.concatenate([rows[~target], rows[target]])
        X_fit, y_fit = X[order], y[order]
        n_source = order.shape[0] - n_target
        folds = self._target_folds(n_source, n_target)
        rng = check_random_state(self.random_state)
        start_share = n_target / order.shape[0]
        weights = np.full(order.shape[0], 1.0 / order.shape[0])
        history, errors, shares, seeds = [], [], [], []
        for step in range(self.n_steps):
            history.append(weights)
            shares.append(weights[n_source:].sum())
            model = self._step_model(n_source, rng)
            seeds.append(model.random_state)
            scores = cross_validate(
                model,
                X_fit,
                y_fit,
                cv=folds,
                scoring="neg_mean_squared_error",
                params={"sample_weight": weights},
                error_score="raise",
            )
            errors.append(-float(np.mean(scores["test_score"])))
            if step == self.n_steps - 1:
                break
            share = start_share + (step + 1) / (self.n_steps - 1) * (1.0 - start_share)
            weights = weights.copy()
            if share >= 1.0:
                weights[:n_source] = 0.0
            else:
                learner = self._make_estimator(rng).fit(
                    X_fit, y_fit, sample_weight=weights * weights.shape[0]
                )
                errors_source = _adjusted_errors(y_fit, learner.predict(X_fit), self.loss)[:n_source]
                goal = weights[n_source:].sum() * (1.0 - share) / share
                beta = _source_factor(weights[:n_source], errors_source, goal)
                weights[:n_source] *= np.power(beta, errors_source)
            weights /= weights.sum()
        self.step_errors_ = np.asarray(errors)
        self.step_target_shares_ = np.asarray(shares)
        self.best_step_ = int(np.argmin(self.step_errors_))
        best = self._step_model(n_source, rng).set_params(random_state=seeds[self.best_step_])
        self.estimator_ = best.fit(X_fit, y_fit, sample_weight=history[self.best_step_])
        self.weights_ = np.zeros(X.shape[0])
        self.weights_[order] = history[self.best_step_]

    def predict(self, X):
        """Predict with the fit the guard kept, by default the chosen step's model.

        The chosen step's model predicts the weighted median of its rounds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        model = self.estimator_ if self.baseline_estimator_ is None else self.baseline_estimator_
        return model.predict(X)
