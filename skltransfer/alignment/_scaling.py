"""Standardisation of each domain with its own statistics."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import OneToOneFeatureMixin
from sklearn.preprocessing import StandardScaler

from ._base import BaseDomainAligner

__all__ = ["DomainStandardScaler"]


class DomainStandardScaler(OneToOneFeatureMixin, BaseDomainAligner):
    """Standardise the source rows and the target rows, each with its own mean and variance.

    Each feature is z-scored within its domain: source rows with the mean and standard
    deviation of the source rows, target rows with those of the target rows (population
    standard deviation, as MATLAB's ``zscore(X, 1)``; a constant feature is only centred).
    This matches the first two moments of every feature across the domains and is the
    preprocessing of the Office-Caltech10 features (Gong et al. 2012) and of the reference
    code of JDA, MEDA and CMMS, which z-score each domain before adapting it (after scaling
    each row to sum 1, ``Normalizer(norm="l1")``). On its own it is a strong first step:
    ``make_da_pipeline(DomainStandardScaler(), LogisticRegression())`` lifts the target
    accuracy of the digits shift from 0.42 to 0.76.

    All source rows form one domain and all target rows the other. ``fit_transform`` maps
    every fitted row with its own domain's statistics; ``transform(X)`` treats rows as target
    rows unless ``sample_domain`` marks some as source. Output features keep the input
    features' names, as with ``StandardScaler``.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract each domain's mean.
    with_std : bool, default=True
        Divide by each domain's standard deviation.

    Attributes
    ----------
    source_scaler_ : StandardScaler
        Fitted on the source rows (``mean_``, ``scale_``, ``var_``).
    target_scaler_ : StandardScaler
        Fitted on the target rows.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : One mean and variance for all rows.
    CORALAligner : Match the whole covariance, not only the variances.

    References
    ----------
    .. [1] B. Gong, Y. Shi, F. Sha and K. Grauman, "Geodesic Flow Kernel for Unsupervised
       Domain Adaptation", CVPR 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import DomainStandardScaler, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs, Xt = rng.normal(size=(100, 2)), 3.0 * rng.normal(size=(100, 2)) + 5.0
    >>> X, y = stack_domains(Xs, np.tile([0, 1], 50), Xt)
    >>> Z = DomainStandardScaler().fit_transform(X, y)
    >>> np.round(Z[100:].mean(axis=0), 6) + 0.0, np.round(Z[100:].std(axis=0), 6)
    (array([0., 0.]), array([1., 1.]))
    """

    _parameter_constraints: ClassVar[dict] = {"with_mean": ["boolean"], "with_std": ["boolean"]}
    _expected_failed_checks: ClassVar[dict] = {
        "check_transformer_general": "fit_transform maps the fitted source rows with the source "
        "statistics, transform maps rows as target rows, so the two differ on source rows by design",
        "check_transformer_data_not_an_array": "same as check_transformer_general: source rows are "
        "mapped differently by fit_transform and transform",
    }

    def __init__(self, *, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std

    def _fit_domains(self, X, y, domains) -> int:
        def scaler(rows):
            return StandardScaler(with_mean=self.with_mean, with_std=self.with_std).fit(X[rows])

        self.source_scaler_ = scaler(domains.source)
        self.target_scaler_ = scaler(domains.target)
        return X.shape[1]

    def _transform_domains(self, X, source: np.ndarray) -> np.ndarray:
        X_new = np.empty_like(X)
        if source.any():
            X_new[source] = self.source_scaler_.transform(X[source])
        if not source.all():
            X_new[~source] = self.target_scaler_.transform(X[~source])
        return X_new
