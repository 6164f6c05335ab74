"""Bootstrap summaries of a model's score: Efron's .632 estimate and percentile intervals."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
from scipy.stats import bootstrap
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import cross_validate
from sklearn.utils import check_consistent_length, check_random_state

from .._domains import estimator_regression, unlabeled_mask
from ..utils._sklearn_compat import HasMethods, Interval, _safe_indexing, validate_params
from ._splitters import BootstrapSplit

__all__ = ["bootstrap_632_score", "bootstrap_confidence_interval"]


@validate_params(
    {
        "estimator": [HasMethods(["fit"])],
        "X": ["array-like"],
        "y": ["array-like"],
        "scoring": [str, callable, None],
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "train_size": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            None,
        ],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "params": [dict, None],
    },
    prefer_skip_nested_validation=False,
)
def bootstrap_632_score(
    estimator,
    X,
    y,
    *,
    scoring: str | Callable | None = None,
    n_splits: int = 100,
    train_size: int | float | None = None,
    random_state=None,
    n_jobs: int | None = None,
    params: dict | None = None,
) -> float:
    """Estimate a model's score with Efron's .632 bootstrap.

    ``0.368 * apparent + 0.632 * out_of_bag``: the apparent score is that of the model fitted
    on all rows and scored on them (optimistic); the out-of-bag score is the mean over
    :class:`BootstrapSplit` samples of the score on the rows each sample left out
    (pessimistic, each model sees about 63.2% of the distinct rows). Unlabeled target rows
    (``y == -1``, NaN for float regression targets) join every fit and are never scored.

    Parameters
    ----------
    estimator : estimator object
        Cloned for every fit; a ``make_da_pipeline`` for stacked source + target rows.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Labels, ``-1`` for unlabeled target rows (NaN for float regression targets).
    scoring : str, callable or None, default=None
        As in :func:`sklearn.model_selection.cross_val_score` (None: ``estimator.score``,
        which a ``make_da_pipeline`` computes on the labeled rows only). A score, higher is
        better. A scikit-learn metric sees every row of the apparent fit, unlabeled ones
        included.
    n_splits : int, default=100
        Number of bootstrap samples.
    train_size : int, float or None, default=None
        Rows drawn per sample (see :class:`BootstrapSplit`).
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.
    n_jobs : int or None, default=None
        Parallel fits, as in ``cross_validate``.
    params : dict, default=None
        Passed to every ``fit`` (per-row values such as ``sample_domain`` are sliced to the
        training rows), as in ``cross_validate``.

    Returns
    -------
    score : float

    See Also
    --------
    BootstrapSplit : The splitter behind the out-of-bag part.

    References
    ----------
    B. Efron, "Estimating the Error Rate of a Prediction Rule: Improvement on
    Cross-Validation", Journal of the American Statistical Association 78, 1983.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skltransfer.model_selection import bootstrap_632_score
    >>> X, y = load_iris(return_X_y=True)
    >>> score = bootstrap_632_score(DecisionTreeClassifier(random_state=0), X, y, n_splits=20, random_state=0)
    >>> bool(0.9 < score < 1.0)
    True
    """
    scorer = check_scoring(estimator, scoring=scoring)
    cv = BootstrapSplit(n_splits, train_size=train_size, random_state=random_state)
    out_of_bag = cross_validate(
        estimator, X, y, cv=cv, scoring=scorer, n_jobs=n_jobs, params=params, error_score="raise"
    )
    fitted = clone(estimator).fit(X, y, **(params or {}))
    # the apparent score, as the out-of-bag ones, counts the labeled rows only
    labeled = np.flatnonzero(~unlabeled_mask(y, regression=estimator_regression(estimator)))
    apparent = scorer(fitted, _safe_indexing(X, labeled), _safe_indexing(y, labeled))
    return float(0.368 * apparent + 0.632 * np.mean(out_of_bag["test_score"]))


@validate_params(
    {
        "score_func": [callable],
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "n_resamples": [Interval(Integral, 1, None, closed="left")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def bootstrap_confidence_interval(
    score_func: Callable,
    y_true,
    y_pred,
    *,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    random_state=None,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of any score of predictions.

    Rows are resampled with replacement (``y_true`` and ``y_pred`` together), the score is
    recomputed on each resample, and the interval is given by the percentiles of those
    scores (:func:`scipy.stats.bootstrap` with ``method="percentile"``).

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, y_pred) -> float``, e.g. :func:`sklearn.metrics.accuracy_score`,
        or :func:`sklearn.metrics.roc_auc_score` with ``y_pred`` the scores or probabilities.
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples,) or (n_samples, n_classes)
    n_resamples : int, default=1000
        Number of bootstrap resamples.
    confidence_level : float, default=0.95
        Coverage of the interval, in (0, 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the resampling.

    Returns
    -------
    score : float
        ``score_func`` on all rows.
    low, high : float
        The ``(1 - confidence_level) / 2`` and ``(1 + confidence_level) / 2`` percentiles.

    See Also
    --------
    bootstrap_632_score : Bootstrap the fit of a model rather than its predictions.
    scipy.stats.bootstrap : The resampling behind the interval.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import accuracy_score
    >>> from skltransfer.model_selection import bootstrap_confidence_interval
    >>> y_true = np.tile([0, 1], 50)
    >>> y_pred = np.where(np.arange(100) < 80, y_true, 1 - y_true)
    >>> score, low, high = bootstrap_confidence_interval(accuracy_score, y_true, y_pred, random_state=0)
    >>> score, bool(0.70 < low < score < high < 0.90)
    (0.8, True)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    check_consistent_length(y_true, y_pred)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)

    def statistic(rows):
        return score_func(_safe_indexing(y_true, rows), _safe_indexing(y_pred, rows))

    result = bootstrap(
        (np.arange(y_true.shape[0]),),
        statistic,
        n_resamples=n_resamples,
        vectorized=False,
        confidence_level=confidence_level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return float(score_func(y_true, y_pred)), float(interval.low), float(interval.high)
