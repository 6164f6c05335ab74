"""Scikit-learn's scorers, restricted to the labeled rows of stacked source + target data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
from sklearn.metrics import get_scorer
from sklearn.utils.metadata_routing import get_routing_for_object

from .._domains import estimator_regression, unlabeled_mask
from ..pipeline import _as_indexable, _slice_params
from ..utils._sklearn_compat import _num_samples, _safe_indexing

__all__ = ["get_labeled_scorer"]


class _LabeledRowsScorer:
    """``scorer`` called on the rows whose label is known; see :func:`get_labeled_scorer`."""

    def __init__(self, scorer: Callable):
        self.scorer = scorer

    def __call__(self, estimator, X, y_true, **params) -> float:
        y_true = np.asarray(y_true)
        rows = np.flatnonzero(~unlabeled_mask(y_true, regression=estimator_regression(estimator)))
        if rows.shape[0] == 0:
            raise ValueError(
                "The labeled scorer got no labeled rows: every y is -1 (or NaN). Test on labeled "
                "rows, e.g. with cv=DomainAwareSplit(...) (unlabeled_in_test=False)."
            )
        X = _as_indexable(X)
        n_samples = _num_samples(X)
        return self.scorer(
            estimator,
            _safe_indexing(X, rows),
            y_true[rows],
            **_slice_params(params, rows, n_samples),
        )

    def get_metadata_routing(self):
        """The metadata request of the wrapped scorer (per-row metadata is sliced to the labeled rows).

        Returns
        -------
        routing : MetadataRequest
            Empty for a scorer without metadata routing.
        """
        return get_routing_for_object(self.scorer)

    def set_score_request(self, **kwargs):
        """Request metadata for scoring, as the wrapped scorer's ``set_score_request`` does.

        Parameters
        ----------
        **kwargs : dict
            ``sample_weight=True`` and the like.

        Returns
        -------
        self : the labeled scorer
        """
        self.scorer.set_score_request(**kwargs)
        return self

    def __repr__(self) -> str:
        return f"get_labeled_scorer({self.scorer!r})"


def get_labeled_scorer(scoring: str | Callable | Iterable[str] | Mapping[str, str | Callable]):
    """A scikit-learn scorer that scores the labeled rows only: ``y == -1`` rows are left out.

    ``cross_val_score``, ``cross_validate`` and ``GridSearchCV`` score a test fold of the
    stacked source and target rows with ``scoring``. A scikit-learn scorer such as
    ``"accuracy"`` compares every prediction with ``y``, so an unlabeled target row
    (``y == -1``) counts as a wrong answer. The scorer returned here drops the rows that
    ``skltransfer._domains.unlabeled_mask`` marks (``y == -1`` for class labels, NaN for
    a regressor's float targets, read as the scored estimator's targets) from ``X``, ``y``
    and every per-row metadata (``sample_weight``) before calling scikit-learn's scorer.

    A domain-aware splitter (:class:`DomainAwareSplit` with ``unlabeled_in_test=False``)
    keeps the unlabeled rows out of the test folds, so that a plain scikit-learn scorer is
    right there too; this scorer is right with any splitter.

    Parameters
    ----------
    scoring : str, callable, list, tuple, set or dict
        A scorer name of :func:`sklearn.metrics.get_scorer_names` (``"accuracy"``,
        ``"f1_macro"``, ``"neg_log_loss"``, ``"r2"``, ...) or a scorer
        ``scorer(estimator, X, y, **kwargs)`` (e.g. from :func:`sklearn.metrics.make_scorer`).
        Several of them, as a list, tuple or set of names or a dict of names or scorers,
        give a dict of labeled scorers for multi-metric ``scoring=`` of ``cross_validate``
        and ``GridSearchCV``.

    Returns
    -------
    scorer : callable or dict
        ``scorer(estimator, X, y, **kwargs) -> float``; a dict of them (keyed by the names)
        for several metrics.

    Raises
    ------
    ValueError
        When a name is not a scikit-learn scorer name (raised by
        :func:`sklearn.metrics.get_scorer`); when called, when no scored row is labeled.

    See Also
    --------
    DomainAwareSplit : Keep every unlabeled row in every training fold and out of the test
        folds.

    Notes
    -----
    With metadata routing enabled, ``set_score_request`` requests metadata as scikit-learn's
    scorers do.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import KFold, cross_val_score
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> from skltransfer.model_selection import get_labeled_scorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(40, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, rng.normal(size=(40, 2)))
    >>> pipe = make_da_pipeline(LogisticRegression())
    >>> cv = KFold(4, shuffle=True, random_state=0)
    >>> bool(cross_val_score(pipe, X, y, cv=cv, scoring="accuracy").mean() < 0.6)  # -1 counted wrong
    True
    >>> bool(cross_val_score(pipe, X, y, cv=cv, scoring=get_labeled_scorer("accuracy")).mean() > 0.9)
    True
    >>> sorted(get_labeled_scorer(["accuracy", "f1_macro"]))
    ['accuracy', 'f1_macro']
    """
    if isinstance(scoring, Mapping):
        return {name: get_labeled_scorer(value) for name, value in scoring.items()}
    if isinstance(scoring, (list, tuple, set, frozenset)):
        return {name: get_labeled_scorer(name) for name in scoring}
    return _LabeledRowsScorer(get_scorer(scoring))
