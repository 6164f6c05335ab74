"""Several source domains, not pooled blindly: :class:`SourceSelector`."""

from __future__ import annotations

import warnings
from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_consistent_length
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import has_fit_parameter

from .._domains import estimator_regression
from ..pipeline import FittedEstimatorDelegationMixin, _as_indexable, _estimator_has, _slice_params
from ..utils._base import DomainFitMixin
from ..utils._guard import select_sources
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    _fit_context,
    _num_samples,
    _routing_enabled,
    _safe_indexing,
    check_is_fitted,
)
from ..utils._tags import LearnsFromTargetMixin

__all__ = ["SourceSelector"]


class SourceSelector(
    LearnsFromTargetMixin, DomainFitMixin, FittedEstimatorDelegationMixin, MetaEstimatorMixin, BaseEstimator
):
    """Choose the source domains to train on, then fit an estimator on them and the target rows.

    With several source domains (``sample_domain >= 0`` with several values) pooling every
    source can hurt: a source whose concept differs from the target's pulls the fit away.
    ``SourceSelector`` wraps the whole rest of a pipeline (aligners included) and decides
    which source domains it sees; the rows of the other sources are dropped before the
    wrapped estimator is fitted. It is a meta-estimator rather than a pipeline step because
    a scikit-learn transformer cannot drop rows, and per-row weights would need every step of
    the pipeline (an aligner, a scaler) to accept ``sample_weight``.

    The rule (``criterion_``):

    - **Labeled target rows** (rows of ``sample_domain < 0`` whose label is known), enough for
      two folds: ``"cross-validation"``. The labeled target rows are split into (at most) 5
      shuffled folds (stratified by class when every class has two rows), as the guard of
      the estimators that learn from labeled target rows does. The subsets compared are all
      the sources, each all-but-one and each alone (every subset up to 3 sources). Each
      fold fits a clone of ``estimator`` on the subset's source rows and every target row
      outside the test fold (the unlabeled ones included), and predicts the test fold. A
      subset's gain is its accuracy (minus squared error for a regressor) minus that of all
      the sources pooled, on the same rows; the subset of largest gain among those whose gain
      exceeds one standard error of the paired per-row differences is kept (the larger subset
      on a tie); otherwise every source is kept. A few labels are noisy: a subset must beat
      the pool by more than that noise.
    - **No labeled target rows** (or too few): ``"domain gap"``. Each source domain's squared
      maximum mean discrepancy to the target rows (RBF kernel, biased estimate, one bandwidth
      for all by the median heuristic over every row, every source subsampled to the size of
      the smallest so that the estimate's bias is the same for each); the sources whose gap
      is at most ``gap_ratio`` times the smallest are kept. This rule is a heuristic: a
      source close to the target in ``X`` need not share its labels, and it is off by
      default (``gap_ratio=None`` keeps every source, ``criterion_ = "pooled"``, with a
      warning): on Office-Caltech10 with three sources and no target label, a ratio of 2
      dropped a source the target needed on 2 of the 4 targets (-14.7 and -14.9 points
      against pooling; ``benchmarks/multi_source.py``).
    - **One source domain**: nothing to choose; ``estimator`` is fitted on every row
      (``criterion_ = "single source"``), as without the selector.

    Parameters
    ----------
    estimator : estimator object
        The classifier or regressor (often a pipeline, e.g. from
        :func:`~skltransfer.make_da_pipeline`) fitted on the chosen rows. It gets the
        target rows too, the unlabeled ones marked as in ``y`` (``-1`` or NaN), so it must
        accept them: a domain-adaptation estimator, or a pipeline whose last step is wrapped
        in :class:`~skltransfer.LabeledOnly`. It gets ``sample_domain`` when its ``fit``
        names it, or, with metadata routing enabled, when it requests it.
    gap_ratio : float or None, default=None
        The label-free rule keeps the source domains whose domain gap to the target rows is
        at most this many times the smallest (``1`` keeps the closest source only); None
        keeps every source when too few target rows are labeled.

    Attributes
    ----------
    estimator_ : estimator object
        The clone of ``estimator`` fitted on the rows of the selected sources and every
        target row.
    sources_ : ndarray of shape (n_sources,)
        The source domains of the fit (with labeled rows), sorted.
    selected_sources_ : ndarray of shape (n_selected,)
        The source domains kept.
    source_weights_ : ndarray of shape (n_sources,)
        The weight of each source domain of ``sources_`` in the fit: ``1.0`` kept, ``0.0``
        dropped.
    criterion_ : {"cross-validation", "domain gap", "single source"}
        Which rule chose.
    source_scores_ : dict or None
        With ``"cross-validation"``: each compared subset of ``sources_`` (a tuple of domain
        ids) with ``{"mean", "std_error", "gain", "gain_std_error"}``, its cross-validated
        score on the labeled target rows and its gain over all the sources pooled.
    source_gaps_ : dict or None
        With ``"domain gap"``: each source domain's squared MMD to the target rows.
    classes_ : ndarray of shape (n_classes,)
        The classes of the fitted estimator (classifiers only).
    n_features_in_ : int
        Number of features seen during ``fit`` (when the estimator records it).

    See Also
    --------
    skltransfer.TrAdaBoostClassifier : Its ``sources="select"`` applies the same rule.
    skltransfer.metrics.maximum_mean_discrepancy : The domain gap of the label-free rule.

    Notes
    -----
    The cross-validation costs ``n_folds * n_subsets`` fits of ``estimator`` (35 for 3
    sources and 5 folds). The sources are chosen for the estimator as given; the estimator
    is not tuned.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import make_da_pipeline
    >>> from skltransfer.model_selection import SourceSelector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(230, 2))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> domain = np.r_[np.zeros(100, int), np.ones(100, int), np.full(30, -1)]
    >>> y[100:200] = 1 - y[100:200]          # source 1 has the labels flipped
    >>> selector = SourceSelector(make_da_pipeline(LogisticRegression()))
    >>> selector = selector.fit(X, y, sample_domain=domain)
    >>> selector.criterion_, selector.selected_sources_.tolist()
    ('cross-validation', [0])
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"])],
        "gap_ratio": [Interval(Real, 1, None, closed="left"), None],
    }

    _expected_failed_checks: ClassVar[dict] = {
        "check_classifiers_classes": (
            "the check trains on the labels [-1, 1]; -1 is the marker of unlabeled target rows, "
            "leaving a single source class"
        ),
    }

    def __init__(self, estimator, *, gap_ratio=None):
        self.estimator = estimator
        self.gap_ratio = gap_ratio

    @property
    def _regression(self) -> bool | None:
        return estimator_regression(self.estimator)

    def _estimator_params(self, sample_domain, fit_params: dict) -> tuple[dict, bool]:
        """The ``fit`` parameters of ``estimator`` (``sample_domain`` left out) and whether
        it gets ``sample_domain``."""
        if _routing_enabled():
            routed = dict(
                process_routing(self, "fit", sample_domain=sample_domain, **fit_params).estimator.fit
            )
            return routed, routed.pop("sample_domain", None) is not None
        return dict(fit_params), has_fit_parameter(self.estimator, "sample_domain")

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_domain=None, **fit_params):
        """Choose the source domains, then fit the estimator on them and the target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,)
            Labels, ``-1`` (NaN for a regressor's float targets) for unlabeled rows.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source domains, ``< 0`` target. Without it every
            labeled row is one source domain and there is nothing to choose.
        **fit_params : dict
            Further parameters of the estimator's ``fit``, per-row values sliced to the rows
            of each fit. With metadata routing enabled, only what the estimator requested.

        Returns
        -------
        self : SourceSelector

        Raises
        ------
        ValueError
            When ``y`` is missing, or the fit has no source rows or no target rows.
        """
        if y is None:
            raise ValueError("SourceSelector requires y to be passed, but the target y is None.")
        X, y = _as_indexable(X), np.asarray(y)
        check_consistent_length(X, y)
        n_samples = _num_samples(X)
        domains = self._resolve_domains(y, sample_domain, n_samples)
        params, with_domain = self._estimator_params(sample_domain, fit_params)

        def fit(estimator, rows):
            fit_kwargs = _slice_params(params, rows, n_samples)
            if with_domain:
                fit_kwargs["sample_domain"] = domains.sample_domain[rows]
            return estimator.fit(_safe_indexing(X, rows), y[rows], **fit_kwargs)

        choice = select_sources(
            lambda: clone(self.estimator),
            X,
            y,
            domains.sample_domain,
            domains.labeled,
            classification=is_classifier(self.estimator),
            gap_ratio=self.gap_ratio,
            fit=fit,
        )
        self.sources_ = np.asarray(choice.sources, dtype=np.int64)
        self.selected_sources_ = np.asarray(choice.selected, dtype=np.int64)
        self.source_weights_ = np.isin(self.sources_, self.selected_sources_).astype(float)
        self.criterion_ = choice.criterion
        self.source_scores_ = choice.scores
        self.source_gaps_ = choice.gaps
        if choice.criterion == "pooled":
            warnings.warn(
                f"{type(self).__name__}: too few labeled target rows to compare the source domains "
                f"by cross-validation; every source ({self.sources_.tolist()}) is kept. Label a few "
                "target rows per class, or set gap_ratio to choose by each source's domain gap.",
                UserWarning,
                stacklevel=2,
            )
        keep = (domains.sample_domain < 0) | np.isin(domains.sample_domain, choice.selected)
        if choice.criterion == "single source":
            keep = np.ones(n_samples, dtype=bool)  # unlabeled source rows stay, as without us
        self.estimator_ = fit(clone(self.estimator), np.flatnonzero(keep))
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the fitted estimator, by its own ``score``.

        A pipeline of :func:`~skltransfer.make_da_pipeline` leaves the unlabeled rows out.

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
        if sample_weight is None:
            return self.estimator_.score(X, y)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def get_metadata_routing(self):
        """Route ``fit`` metadata (``sample_domain`` included) to the wrapped estimator.

        Returns
        -------
        routing : MetadataRouter
            The routing of ``fit`` to the ``fit`` of ``estimator``; the selector itself
            consumes ``sample_domain``.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags = self.estimator.__sklearn_tags__().input_tags
        return tags
