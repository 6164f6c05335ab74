"""Subspace alignment: map the source PCA basis onto the target PCA basis."""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import eigsh

from ..utils._sklearn_compat import Interval
from ._base import BaseDomainAligner, clip_n_components

__all__ = ["SubspaceAligner", "principal_directions"]


def principal_directions(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the first ``n_components`` principal directions (rows) of ``X``.

    Only the leading eigenvectors are computed, exactly: of the ``n_samples x n_samples`` Gram
    matrix when rows are fewer than features, else of the covariance by Lanczos iterations
    (``eigsh`` with a fixed start vector, so the result is deterministic).
    """
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    centred = X - mean
    n_samples, n_features = centred.shape
    if n_samples < n_features:
        _, U = linalg.eigh(centred @ centred.T, subset_by_index=[n_samples - n_components, n_samples - 1])
        vectors = centred.T @ U
        norms = np.linalg.norm(vectors, axis=0)
        vectors /= np.where(norms > 0, norms, 1.0)
    elif n_components < n_features - 1:
        covariance = centred.T @ centred
        values, vectors = eigsh(covariance, k=n_components, which="LA", v0=np.ones(n_features))
        vectors = vectors[:, np.argsort(values)]
    else:
        _, vectors = linalg.eigh(centred.T @ centred)
        vectors = vectors[:, n_features - n_components :]
    return mean, vectors[:, ::-1].T


def clip_components(n_components: int, *domains: np.ndarray) -> int:
    """``n_components``, clipped with a warning to ``min(n_rows, n_features)`` of every domain."""
    largest = min(min(X.shape) for X in domains)
    return clip_n_components(n_components, largest, "exceeds min(n_rows, n_features) of a domain")


class SubspaceAligner(BaseDomainAligner):
    r"""Subspace alignment (SA): align the source principal subspace with the target's.

    Each domain is centred on its own mean and described by its first ``n_components``
    principal directions, :math:`P_s` and :math:`P_t` (rows of shape ``(n_components, n_features)``).
    The alignment matrix :math:`M = P_s P_t^T` minimises :math:`\lVert P_s^T M - P_t^T \rVert_F`.
    Source rows are mapped to :math:`(X - \bar{x}_s) P_s^T M` and target rows to
    :math:`(X - \bar{x}_t) P_t^T`, with :math:`\bar{x}_s, \bar{x}_t` the domain means; both
    live in the target subspace coordinates, where a classifier trained on the source rows is
    applied to the target rows.

    Parameters
    ----------
    n_components : int, default=20
        Dimension ``d`` of the subspaces. Clipped, with a warning, to the largest value
        both domains support (``min(n_rows, n_features)`` of each).

    Attributes
    ----------
    components_source_ : ndarray of shape (n_components_, n_features)
        Principal directions of the source rows.
    components_target_ : ndarray of shape (n_components_, n_features)
        Principal directions of the target rows.
    mean_source_, mean_target_ : ndarray of shape (n_features,)
        Mean of the source rows and of the target rows.
    alignment_ : ndarray of shape (n_components_, n_components_)
        ``M = components_source_ @ components_target_.T``.
    n_components_ : int
        Number of components kept.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    CORALAligner : Align second-order statistics in the input space.

    References
    ----------
    .. [1] B. Fernando, A. Habrard, M. Sebban and T. Tuytelaars, "Unsupervised Visual Domain
       Adaptation Using Subspace Alignment", ICCV 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import SubspaceAligner, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(50, 5))
    >>> X, y = stack_domains(Xs, np.tile([0, 1], 25), Xs[:, ::-1] + 1.0)
    >>> sa = SubspaceAligner(n_components=2).fit(X, y)
    >>> sa.fit_transform(X, y).shape, sa.alignment_.shape
    ((100, 2), (2, 2))
    """

    _parameter_constraints: ClassVar[dict] = {"n_components": [Interval(Integral, 1, None, closed="left")]}
    _expected_failed_checks: ClassVar[dict] = {
        "check_transformer_general": "fit_transform maps the fitted source rows with the source map, "
        "transform maps rows as target rows, so the two differ on source rows by design",
        "check_transformer_data_not_an_array": "same as check_transformer_general: source rows are "
        "mapped differently by fit_transform and transform",
    }

    def __init__(self, n_components=20):
        self.n_components = n_components

    def _fit_domains(self, X, y, domains) -> int:
        X_source, X_target = X[domains.source], X[domains.target]
        n_components = clip_components(self.n_components, X_source, X_target)
        self.mean_source_, self.components_source_ = principal_directions(X_source, n_components)
        self.mean_target_, self.components_target_ = principal_directions(X_target, n_components)
        self.alignment_ = self.components_source_ @ self.components_target_.T
        self.n_components_ = n_components
        return n_components

    def _transform_domains(self, X, source):
        target_map = self.components_target_.T.astype(X.dtype, copy=False)
        source_map = (self.components_source_.T @ self.alignment_).astype(X.dtype, copy=False)
        X_new = (X - self.mean_target_.astype(X.dtype, copy=False)) @ target_map
        if source.any():
            X_new[source] = (X[source] - self.mean_source_.astype(X.dtype, copy=False)) @ source_map
        return X_new
