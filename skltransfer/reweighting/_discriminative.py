"""Importance weights from a probabilistic domain classifier (discriminative density ratio)."""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from ..utils._sklearn_compat import HasMethods, Interval, StrOptions
from ._base import BaseImportanceWeighting

__all__ = ["DomainClassifierWeighting"]


class DomainClassifierWeighting(BaseImportanceWeighting):
    """Importance weighting by a probabilistic domain classifier.

    A classifier learns to tell target rows (class 1) from source rows (class 0). By Bayes'
    rule the density ratio is ``p_t(x) / p_s(x) = P(target | x) / P(source | x) * n_s / n_t``
    (Shimodaira 2000; Bickel et al. 2007), which weights each labeled source row before a
    clone of ``estimator`` is fitted on them.

    Parameters
    ----------
    estimator : estimator object
        A classifier or regressor whose ``fit`` accepts ``sample_weight`` (cloned in ``fit``).
    domain_classifier : classifier, default=None
        A probabilistic classifier (with ``predict_proba``) fitted on all source and target
        rows; ``None`` means ``LogisticRegression()``. Calibrated probabilities give the
        right ratio: a well-specified logistic model recovers it exactly in the limit.
    max_weight : float, default=None
        Clip the density ratio at this value before the weights are scaled to mean 1
        (``None``: no clipping). Large weights come from source rows the domain classifier
        is sure belong to the target; clipping trades the bias of the clip for a lower
        variance of the weighted fit.

    sources : {"pooled", "select"}, default="pooled"
        With several source domains (``sample_domain >= 0`` with several values):
        ``"pooled"`` weights the rows of every source; ``"select"`` first chooses the source
        domains to keep, as :class:`~skltransfer.model_selection.SourceSelector` does: with
        labeled target rows, the weighted fit (without the guard) on all the sources,
        each all-but-one and each alone is compared by cross-validation over them, by the
        guard's rule against all the sources pooled; without, the sources whose domain gap
        (MMD) to the target rows is at most twice the smallest are kept. The rows of the
        other sources get a weight of 0. One source domain: no change.
    guard : bool, default=True
        With labeled target rows (``sample_domain < 0`` and a label), which the transfer
        fit trains on with a weight of 1 each: compare it with the plain fits of
        ``estimator`` (source only, target only, pooled) by cross-validation over them and
        keep the best by the rule of :class:`TrAdaBoostClassifier` (a plain fit replaces
        the transfer fit only when it wins by more than one standard error, with a
        ``UserWarning``). The guard costs up to 18 more fits of
        ``estimator`` and none of the weights (every fold keeps all the target rows, so the
        weights are the full fit's);
        ``False`` keeps the transfer fit without comparing. Without labeled target rows
        nothing is compared.

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples,)
        Weight of every training row: the density ratio for labeled source rows, scaled to
        mean 1 over them, ``0`` for target rows and unlabeled source rows (the transfer fit
        gives each labeled target row a weight of 1).
    effective_sample_size_ : float
        Kish's effective sample size ``(sum w)^2 / sum w^2`` of the labeled source weights;
        a ``UserWarning`` says when it is below 10 % of the labeled source rows.
    domain_classifier_ : classifier
        The fitted domain classifier (classes ``[0, 1]``: source, target).
    selected_sources_ : ndarray of shape (n_selected,)
        The source domains whose rows were weighted (every one with ``sources="pooled"``).
    source_scores_ : dict or None
        With ``sources="select"`` and labeled target rows enough for two folds: each compared
        subset of source domains (a tuple) with ``{"mean", "std_error", "gain",
        "gain_std_error"}``, its cross-validated score on the labeled target rows and its
        gain over all the sources; None otherwise.
    estimator_ : estimator object
        The clone of ``estimator`` fitted on the weighted labeled source rows and the
        labeled target rows (the transfer fit, also when the guard did not keep it).
    selected_ : {"transfer", "source only", "target only", "pooled"}
        The fit used for prediction: the weighted fit (``"transfer"``) or the plain fit the
        guard kept instead.
    baseline_scores_ : dict or None
        Each compared fit's cross-validated score on the labeled target rows (accuracy, or
        minus the squared error), by name: ``{"mean", "std_error", "gain",
        "gain_std_error"}`` (``gain``: mean difference with the transfer fit on the same
        rows). None when the guard is off or the labeled target rows are too few.
    baseline_estimator_ : estimator or None
        The plain fit used for prediction, fitted on all its rows; None when the transfer
        fit is kept.
    classes_ : ndarray of shape (n_classes,)
        The classes (classifiers only).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    KernelMeanMatching : Weights matching kernel means.
    LeastSquaresImportanceFitting : Weights from the uLSIF closed form.

    References
    ----------
    .. [1] H. Shimodaira, "Improving predictive inference under covariate shift by weighting
           the log-likelihood function", Journal of Statistical Planning and Inference, 2000.
    .. [2] S. Bickel, M. Brückner and T. Scheffer, "Discriminative learning for differing
           training and test distributions", ICML 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import DomainClassifierWeighting, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(200, 1))
    >>> ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, rng.normal(1.0, 1.0, size=(200, 1)))
    >>> clf = DomainClassifierWeighting(LogisticRegression()).fit(X, y)
    >>> w = clf.weights_[:200]   # true ratio exp(x - 1/2)
    >>> bool(w[Xs[:, 0] > 1].mean() > 1 > w[Xs[:, 0] < -1].mean())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseImportanceWeighting._parameter_constraints,
        "domain_classifier": [HasMethods(["fit", "predict_proba"]), None],
        "max_weight": [Interval(Real, 0, None, closed="neither"), None],
        "sources": [StrOptions({"pooled", "select"})],
    }

    def __init__(self, estimator, *, domain_classifier=None, max_weight=None, sources="pooled", guard=True):
        self.estimator = estimator
        self.domain_classifier = domain_classifier
        self.max_weight = max_weight
        self.sources = sources
        self.guard = guard

    def _source_weights(self, X_source, X_target):
        n_source, n_target = X_source.shape[0], X_target.shape[0]
        classifier = LogisticRegression() if self.domain_classifier is None else clone(self.domain_classifier)
        domain = np.r_[np.zeros(n_source, dtype=int), np.ones(n_target, dtype=int)]
        self.domain_classifier_ = classifier.fit(np.vstack([X_source, X_target]), domain)
        p_target = self.domain_classifier_.predict_proba(X_source)[:, 1]
        ratio = p_target / np.maximum(1.0 - p_target, np.finfo(float).tiny) * (n_source / n_target)
        return ratio if self.max_weight is None else np.minimum(ratio, self.max_weight)
