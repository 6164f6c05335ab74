"""Pipelines over stacked source + target rows: :class:`LabeledOnly`, :func:`make_da_pipeline`."""

from __future__ import annotations

from functools import partial

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.pipeline import make_pipeline
from sklearn.utils import check_consistent_length
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.metaestimators import available_if

from ._domains import estimator_regression, score_labeled_rows, unlabeled_mask
from .utils._sklearn_compat import (
    HasMethods,
    _fit_context,
    _num_samples,
    _routing_enabled,
    _safe_indexing,
    check_is_fitted,
)
from .utils._tags import DomainTags, get_domain_tags

__all__ = ["LabeledOnly", "make_da_pipeline"]


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


def _labeled_rows(y, estimator) -> np.ndarray:
    """Rows of ``y`` whose label is known, read as ``estimator``'s targets (``unlabeled_mask``)."""
    return np.flatnonzero(~unlabeled_mask(y, regression=estimator_regression(estimator)))


def _as_indexable(X):
    """``X`` in a form ``_safe_indexing`` can index: lists, arrays, CSR/CSC, data frames."""
    if issparse(X):
        return X if X.format in ("csr", "csc") else X.tocsr()
    if hasattr(X, "__array__") and not hasattr(X, "iloc"):
        return np.asarray(X)
    return X


def _slice_params(params: dict, rows: np.ndarray, n_samples: int) -> dict:
    """Index every per-row parameter (``sample_weight``, ...) by ``rows``."""
    return {
        key: _safe_indexing(value, rows)
        if hasattr(value, "__len__") and not isinstance(value, str) and _num_samples(value) == n_samples
        else value
        for key, value in params.items()
    }


class FittedEstimatorDelegationMixin:
    """Prediction methods of a meta-estimator, delegated to its fitted ``estimator_``.

    Each method exists only when the wrapped estimator has it (``available_if``), as in
    scikit-learn's meta-estimators. ``__sklearn_tags__`` copies the wrapped estimator's type.
    """

    def _delegated_input(self, X):
        """``X`` as the fitted estimator takes it (as given, unless ``fit`` converted it)."""
        return X

    def _predictor(self):
        """The fitted estimator that predicts: ``estimator_`` (a subclass may keep another)."""
        check_is_fitted(self)
        return self.estimator_

    @property
    def classes_(self):
        """The classes of the fitted estimator."""
        return self._predictor().classes_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to predict.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The fitted estimator's predictions.
        """
        return self._predictor().predict(self._delegated_input(X))

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Predict class probabilities with the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to predict.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The class probabilities, columns in the order of :attr:`classes_`.
        """
        return self._predictor().predict_proba(self._delegated_input(X))

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Predict log class probabilities with the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to predict.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            The log class probabilities, columns in the order of :attr:`classes_`.
        """
        return self._predictor().predict_log_proba(self._delegated_input(X))

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Compute the decision function of the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The fitted estimator's decision function.
        """
        return self._predictor().decision_function(self._delegated_input(X))

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """Transform with the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The rows transformed by the fitted estimator.
        """
        return self._predictor().transform(self._delegated_input(X))

    def __sklearn_tags__(self):
        inner = self.estimator.__sklearn_tags__()
        tags = super().__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags.required = True
        return tags


class LabeledOnly(FittedEstimatorDelegationMixin, MetaEstimatorMixin, BaseEstimator):
    """Fit and score an estimator on the labeled rows only.

    Domain adaptation pipelines see source and target rows together, the unlabeled target
    rows marked with ``y == -1`` (NaN for float regression targets, where ``-1.0`` is a
    value like any other: a regressor's float ``y`` only loses its NaN rows). A plain
    scikit-learn classifier would learn ``-1`` as a class; ``LabeledOnly`` fits the wrapped
    estimator on the labeled rows, predicts every row, and scores on the labeled rows only.
    The transformers before it in the pipeline still see every row. An estimator that learns
    from the unlabeled target rows itself (its domain tag ``learns_from_unlabeled``, see
    ``skltransfer.utils._tags.get_domain_tags``) is fitted on every row instead.

    Parameters
    ----------
    estimator : estimator object
        A scikit-learn classifier or regressor (cloned in :meth:`fit`).

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (n_classes,)
        The classes seen in the labeled rows (classifiers only).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    See Also
    --------
    make_da_pipeline : ``make_pipeline`` whose last step is wrapped in ``LabeledOnly``.
    stack_domains : Build ``(X, y)`` with ``-1`` for the target rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skltransfer import LabeledOnly
    >>> X = np.array([[0.0], [1.0], [0.1], [0.9]])
    >>> y = np.array([0, 1, -1, -1])
    >>> clf = LabeledOnly(KNeighborsClassifier(n_neighbors=1)).fit(X, y)
    >>> clf.classes_.tolist(), clf.predict(X).tolist()
    ([0, 1], [0, 1, 0, 1])
    """

    _parameter_constraints: dict = {"estimator": [HasMethods(["fit"])]}

    _expected_failed_checks = {
        "check_classifiers_classes": (
            "the check trains on the labels [-1, 1]; -1 is the marker of unlabeled rows, "
            "as in SelfTrainingClassifier"
        ),
    }

    def __init__(self, estimator):
        self.estimator = estimator

    def _rows(self, y) -> np.ndarray:
        return _labeled_rows(y, self.estimator)

    def __skltransfer_tags__(self) -> DomainTags:
        return get_domain_tags(self.estimator)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the wrapped estimator on the rows whose label is known.

        An estimator that learns from the unlabeled rows gets every row and the per-row
        parameters unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, ``-1`` (NaN for a regressor's float targets) for unlabeled rows.
        **fit_params : dict
            Passed to the estimator's ``fit``, per-row values sliced to the labeled rows.
            With metadata routing enabled, only what the estimator requested.

        Returns
        -------
        self : LabeledOnly
        """
        if y is None:
            raise ValueError("LabeledOnly requires y to be passed, but the target y is None.")
        X, y = _as_indexable(X), np.asarray(y)
        check_consistent_length(X, y)
        if _routing_enabled():
            fit_params = process_routing(self, "fit", **fit_params).estimator.fit
        rows = self._rows(y)
        if rows.shape[0] == 0:
            raise ValueError("LabeledOnly.fit got no labeled rows: every y is -1 (or NaN).")
        self.estimator_ = clone(self.estimator)
        if get_domain_tags(self.estimator).learns_from_unlabeled:
            self.estimator_.fit(X, y, **fit_params)
        else:
            self.estimator_.fit(
                _safe_indexing(X, rows),
                _safe_indexing(y, rows),
                **_slice_params(fit_params, rows, _num_samples(X)),
            )
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    @available_if(_estimator_has("score"))
    def score(self, X, y, **score_params):
        """Score the fitted estimator on the labeled rows only.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, ``-1`` (or NaN) for rows to leave out.
        **score_params : dict
            Passed to the estimator's ``score``, ``sample_weight`` sliced to the labeled rows
            (see ``skltransfer._domains.score_labeled_rows``).

        Returns
        -------
        score : float

        Raises
        ------
        ValueError
            When no row is labeled: a score over no rows has no meaning.
        """
        check_is_fitted(self)
        if _routing_enabled():
            score_params = process_routing(self, "score", **score_params).estimator.score
        score_params = dict(score_params)
        sample_weight = score_params.pop("sample_weight", None)
        return score_labeled_rows(
            partial(self.estimator_.score, **score_params),
            _as_indexable(X),
            np.asarray(y),
            sample_weight,
            regression=estimator_regression(self.estimator),
        )

    def get_metadata_routing(self):
        """Route ``fit`` and ``score`` metadata to the wrapped estimator.

        Returns
        -------
        routing : MetadataRouter
            The routing of ``fit`` and ``score`` to the ``fit`` and ``score`` of ``estimator``.
        """
        return MetadataRouter(owner=self).add(
            estimator=self.estimator,
            method_mapping=MethodMapping()
            .add(caller="fit", callee="fit")
            .add(caller="score", callee="score"),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags = self.estimator.__sklearn_tags__().input_tags
        return tags


def make_da_pipeline(*steps, memory=None, transform_input=None, verbose: bool = False):
    """Build a pipeline for stacked source + target rows.

    ``make_pipeline(*steps)`` with its last step wrapped in :class:`LabeledOnly`, so the
    transformers see every row (source and unlabeled target) while the final estimator
    learns from, and is scored on, the labeled rows only. A last step that is already a
    ``LabeledOnly`` is kept as is, and so is one that learns from the unlabeled target rows
    itself (:class:`MEDAClassifier`, :class:`TrAdaBoostClassifier`, the reweighting
    meta-estimators, ...): it gets every row.

    Parameters
    ----------
    *steps : list of estimators
        Transformers followed by a final estimator.
    memory : str or object with the joblib.Memory interface, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    transform_input : list of str, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    verbose : bool, default=False
        As in :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline

    See Also
    --------
    LabeledOnly : The wrapper of the last step.
    stack_domains : Build ``(X, y)`` with ``-1`` for the target rows.
    sklearn.pipeline.make_pipeline : The pipeline without the wrapper.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs, ys = rng.normal(size=(20, 2)), np.tile([0, 1], 10)
    >>> X, y = stack_domains(Xs, ys, Xs + 0.5)
    >>> pipe = make_da_pipeline(StandardScaler(), KNeighborsClassifier(1)).fit(X, y)
    >>> pipe.predict(Xs + 0.5).shape
    (20,)
    """
    if not steps:
        raise ValueError("make_da_pipeline needs at least one step.")
    *head, last = steps
    if not isinstance(last, LabeledOnly) and not get_domain_tags(last).learns_from_unlabeled:
        last = LabeledOnly(last)
    return make_pipeline(*head, last, memory=memory, transform_input=transform_input, verbose=verbose)
