"""The shared machinery of feature-based domain adaptation transformers."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import metadata_routing

from .._domains import Domains, resolve_domains
from ..utils._base import DomainFitMixin
from ..utils._sklearn_compat import _fit_context, check_is_fitted, validate_data
from ..utils._validation import check_magnitude, reject_empty
from ..utils._warnings import warn_at_caller

__all__ = ["BaseDomainAligner", "clip_n_components"]


def clip_n_components(n_components: int, limit: int, reason: str) -> int:
    """``min(n_components, limit)``, with a ``UserWarning`` saying ``reason`` when it clips.

    The warning names the user's line: the first caller outside skltransfer, scikit-learn
    and joblib.

    Parameters
    ----------
    n_components : int
        The requested number.
    limit : int
        The largest possible number.
    reason : str
        Completes ``"n_components=N ..."``, e.g. ``"exceeds n_features=8"``.

    Returns
    -------
    n_components : int
    """
    if n_components <= limit:
        return n_components
    warn_at_caller(f"n_components={n_components} {reason}; using n_components={limit}.")
    return limit


class BaseDomainAligner(DomainFitMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class of the transformers that align a source and a target domain.

    ``fit(X, y=None, *, sample_domain=None)`` resolves the domain of every row (the domain
    convention: ``y == -1`` marks unlabeled target rows, ``sample_domain`` overrides it),
    validates ``X`` and calls :meth:`_fit_domains`. ``transform`` maps rows as target rows
    unless ``sample_domain`` says otherwise; ``fit_transform`` maps the fitted rows by their
    own domain, which is what a pipeline needs to train its classifier on aligned source rows.

    Subclasses implement:

    - ``_fit_domains(X, y, domains, random_state)`` learning the mapping and returning the
      number of output features;
    - ``_transform_domains(X, source)`` mapping rows, ``source`` a boolean mask of the rows
      to map as source rows.

    Class attributes:

    - ``_requires_labels``: the method uses the source labels (at least two classes needed);
    - ``_magnitude_power``: the highest power of the values the solver sums, the ``power``
      of :func:`~skltransfer.utils._validation.check_magnitude` (a property where it depends
      on a parameter).
    """

    _requires_labels = False
    _magnitude_power = 2

    # ``transform``'s ``sample_domain`` is for direct calls: a pipeline routes it to ``fit``
    # and ``fit_transform`` only, so ``set_fit_request(sample_domain=True)`` is all it needs.
    __metadata_request__transform = {"sample_domain": metadata_routing.UNUSED}

    def _fit(self, X, y, sample_domain):
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        check_magnitude(X, power=self._magnitude_power)
        domains = self._resolve_domains(y, sample_domain, X.shape[0])
        y = None if y is None else np.asarray(y)
        self._n_features_out = self._fit_domains(X, y, domains)
        return X, domains

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, sample_domain=None):
        """Learn the alignment of the source and target rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,), default=None
            Labels, ``-1`` for unlabeled target rows (NaN for float regression targets).
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target. Overrides the ``-1`` rule.

        Returns
        -------
        self : object
        """
        self._fit(X, y, sample_domain)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, *, sample_domain=None):
        """Fit, then map every fitted row according to its own domain.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Labels, ``-1`` for unlabeled target rows (NaN for float regression targets).
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
        """
        X, domains = self._fit(X, y, sample_domain)
        return self._transform_domains(X, domains.source)

    def transform(self, X, sample_domain=None):
        """Map rows into the aligned space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row; rows are mapped as target rows when it is None.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
        """
        check_is_fitted(self)
        reject_empty(self, X)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        check_magnitude(X, power=self._magnitude_power)
        if sample_domain is None:
            source = np.zeros(X.shape[0], dtype=bool)
        else:
            source = resolve_domains(
                None, sample_domain, n_samples=X.shape[0], require_source=False, require_target=False
            ).source
        return self._transform_domains(X, source)

    def _fit_domains(self, X, y, domains: Domains) -> int:
        raise NotImplementedError

    def _transform_domains(self, X, source: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
