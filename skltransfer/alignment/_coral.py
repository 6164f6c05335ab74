"""CORAL: correlation alignment of the source features with the target features."""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
from scipy import linalg

from ..utils._sklearn_compat import Interval
from ._base import BaseDomainAligner

__all__ = ["CORALAligner"]


def _regularized_covariance(X: np.ndarray, reg: float) -> np.ndarray:
    cov = np.atleast_2d(np.cov(X, rowvar=False)) if X.shape[0] > 1 else np.zeros((X.shape[1],) * 2)
    return cov + reg * np.eye(X.shape[1])


def _symmetric_power(C: np.ndarray, power: float) -> np.ndarray:
    """``C ** power`` for a symmetric positive definite matrix, by eigendecomposition."""
    w, V = linalg.eigh(C)
    return (V * w**power) @ V.T


class CORALAligner(BaseDomainAligner):
    r"""Correlation alignment (CORAL): re-colour the source features with the target covariance.

    The source rows are whitened with their own regularised covariance
    :math:`C_s = \operatorname{cov}(X_s) + \lambda I` and re-coloured with the target's
    :math:`C_t = \operatorname{cov}(X_t) + \lambda I` (:math:`\lambda` is ``reg``):
    :math:`X_s \mapsto X_s C_s^{-1/2} C_t^{1/2}`. Target rows are left unchanged. The map is
    computed once in :meth:`fit` (two symmetric eigendecompositions). A classifier trained on
    the mapped source rows is then applied to the target rows.

    ``fit_transform`` maps the fitted source rows with the source map (what a pipeline needs to
    train its classifier); ``transform(X)`` treats rows as target rows (unchanged) unless
    ``sample_domain`` marks some as source.

    Parameters
    ----------
    reg : float, default=1.0
        Weight of the identity added to both covariances. ``1.0`` is the setting of Sun et
        al. (2016), on features of unit variance (z-scored); it keeps the whitening well
        conditioned when features outnumber rows. The weight is absolute, so it should
        follow the scale of the features: on rows scaled to unit L2 norm, each of ``d``
        features has a variance of about ``1 / d`` and ``reg=1.0`` leaves the source rows
        almost unchanged.

    Attributes
    ----------
    source_map_ : ndarray of shape (n_features, n_features)
        :math:`C_s^{-1/2} C_t^{1/2}`, applied to the source rows.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    SubspaceAligner : Align the PCA subspaces of the domains instead of their covariances.

    References
    ----------
    .. [1] B. Sun, J. Feng and K. Saenko, "Return of Frustratingly Easy Domain Adaptation",
       AAAI 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import CORALAligner, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs, Xt = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) * [3.0, 0.5]
    >>> X, y = stack_domains(Xs, np.tile([0, 1], 100), Xt)
    >>> Z = CORALAligner(reg=1e-3).fit_transform(X, y)
    >>> np.round(np.std(Z[:200], axis=0), 1)
    array([3.1, 0.5])
    """

    _parameter_constraints: ClassVar[dict] = {"reg": [Interval(Real, 0, None, closed="neither")]}
    _expected_failed_checks: ClassVar[dict] = {
        "check_transformer_general": "fit_transform maps the fitted source rows with the source map, "
        "transform maps rows as target rows (unchanged), so the two differ on source rows by design",
        "check_transformer_data_not_an_array": "same as check_transformer_general: source rows are "
        "mapped differently by fit_transform and transform",
    }

    def __init__(self, reg=1.0):
        self.reg = reg

    def _fit_domains(self, X, y, domains) -> int:
        X = X.astype(np.float64, copy=False)
        cov_source = _regularized_covariance(X[domains.source], self.reg)
        cov_target = _regularized_covariance(X[domains.target], self.reg)
        self.source_map_ = _symmetric_power(cov_source, -0.5) @ _symmetric_power(cov_target, 0.5)
        return X.shape[1]

    def _transform_domains(self, X, source):
        X_new = X.copy()
        if source.any():
            X_new[source] = X[source] @ self.source_map_.astype(X.dtype, copy=False)
        return X_new
