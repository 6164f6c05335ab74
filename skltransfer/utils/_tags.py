"""skltransfer's own estimator tag: does an estimator learn from the unlabeled target rows?

scikit-learn's :class:`~sklearn.utils.Tags` is a slotted dataclass with a fixed set of
fields, so the project keeps its one extra capability beside it. An estimator that learns
from the rows whose label is unknown (``y == -1``, NaN for regressors, or a negative
``sample_domain``) says so by defining ``__skltransfer_tags__``; :class:`LabeledOnly` and
:func:`make_da_pipeline` then pass it every row instead of the labeled rows only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DomainTags", "LearnsFromTargetMixin", "get_domain_tags"]


@dataclass(frozen=True)
class DomainTags:
    """The domain-adaptation capabilities of an estimator.

    Attributes
    ----------
    learns_from_unlabeled : bool, default=False
        The estimator's ``fit`` uses the unlabeled target rows of the stacked ``(X, y)``
        (domain-adaptation classifiers and regressors, reweighting meta-estimators,
        label-shift correction, a CNN classifier with a domain loss).
    """

    learns_from_unlabeled: bool = False


class LearnsFromTargetMixin:
    """Mixin of the estimators whose ``fit`` learns from the unlabeled target rows.

    Put it left of ``BaseEstimator``. An estimator for which this depends on a parameter
    overrides ``__skltransfer_tags__`` instead.
    """

    def __skltransfer_tags__(self) -> DomainTags:
        return DomainTags(learns_from_unlabeled=True)


def get_domain_tags(estimator) -> DomainTags:
    """The :class:`DomainTags` of ``estimator``; a pipeline has those of its last step.

    Parameters
    ----------
    estimator : estimator object

    Returns
    -------
    tags : DomainTags

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer.utils._tags import get_domain_tags
    >>> get_domain_tags(LogisticRegression()).learns_from_unlabeled
    False
    """
    own = getattr(estimator, "__skltransfer_tags__", None)
    if own is not None:
        return own()
    steps = getattr(estimator, "steps", None)
    if steps:
        last = steps[-1][1]
        if last is not None and last != "passthrough":
            return get_domain_tags(last)
    return DomainTags()
