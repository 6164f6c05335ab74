"""Transferability scores: how well a pretrained network's features or predictions suit new labels.

Each score ranks candidate networks (or layers of one) for a labeled target data set from a
single forward pass, without training a head: higher is better. The functions take the
features (LogME, H-score) or the source model's outputs (LEEP, NCE) with the target labels;
the scorers compute them from a fitted estimator, for ``GridSearchCV(scoring=...)`` over a
pipeline whose last step is a feature extractor. Unlabeled rows (``y == -1`` for class
labels, NaN for float targets) are left out.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.linalg
from sklearn.covariance import ledoit_wolf
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.metadata_routing import MetadataRequest
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array

from .._domains import unlabeled_mask
from ..model_selection._scorers import _DomainScorer
from ..utils._sklearn_compat import (
    Interval,
    RealNotInt,
    StrOptions,
    _safe_indexing,
    validate_parameter_constraints,
    validate_params,
)
from ..utils._validation import check_magnitude

__all__ = [
    "HScoreScorer",
    "LEEPScorer",
    "LogMEScorer",
    "NCEScorer",
    "h_score",
    "leep_score",
    "logme_score",
    "nce_score",
]

_TINY = np.finfo(np.float64).tiny

_LOGME_CONSTRAINTS = {
    "regression": ["boolean", None],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
}
_SHRINKAGE = [StrOptions({"ledoit_wolf"}), Interval(RealNotInt, 0, 1, closed="both"), None]


def _labeled_rows(y, regression: bool | None) -> np.ndarray:
    """Indices of the rows of ``y`` that carry a label; a clear error when none does."""
    labeled = np.flatnonzero(~unlabeled_mask(y, regression=regression))
    if labeled.size == 0:
        raise ValueError("y has no labeled row: every row is unlabeled (-1 or NaN).")
    return labeled


def _class_indices(y: np.ndarray) -> tuple[np.ndarray, int]:
    """Class index of each row (``np.unique`` order) and the number of classes; at least two."""
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"y holds a single class ({classes[0]!r}) in its labeled rows: need two.")
    return codes.ravel(), classes.size


def _check_features(features, name: str = "features") -> np.ndarray:
    features = check_array(features, dtype=np.float64, input_name=name)
    check_magnitude(features, name)
    return features


def _labeled_features_and_targets(features, y, regression):
    """Features and targets of the labeled rows, ``y`` as an ``(n, k)`` float matrix of targets.

    Class labels become one indicator column per class; float targets stay (one column per output).
    """
    y = np.asarray(y)
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (labels or one target) or 2-D (several targets); got {y.ndim}-D.")
    check_consistent_length(features, y)
    labeled = _labeled_rows(y, regression)
    features = _check_features(_safe_indexing(features, labeled))
    y = y[labeled]
    if regression is None:
        regression = type_of_target(y) in ("continuous", "continuous-multioutput")
    if regression:
        targets = check_array(y, dtype=np.float64, ensure_2d=False, input_name="y")
        return features, targets.reshape(len(targets), -1)
    if y.ndim == 2:
        raise ValueError("y of class labels must be 1-D; pass regression=True for several float targets.")
    codes, n_classes = _class_indices(y)
    return features, np.eye(n_classes)[codes]


def _spectrum(features: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, ...]:
    """What LogME needs of the features ``F`` (n, d) and targets ``Y`` (n, k), from one eigendecomposition.

    With ``F = U diag(s) V^T`` its thin SVD of rank ``r``: ``s2`` (r,) the nonzero ``s^2``,
    ``z2`` (r, k) the squared coordinates ``(U^T Y)^2`` and ``outside`` (k,) the squared norm
    of the part of each target outside the span of ``U``. The eigenvectors come from the
    smaller Gram matrix, ``F^T F`` (``U^T Y = diag(1/s) V^T F^T Y``) or ``F F^T``:
    ``O(n d min(n, d))`` operations in all.
    """
    n, d = features.shape
    if n >= d:
        s2, v = scipy.linalg.eigh(features.T @ features, check_finite=False)
        projected2 = (v.T @ (features.T @ targets)) ** 2  # s^2 (U^T Y)^2
    else:
        s2, u = scipy.linalg.eigh(features @ features.T, check_finite=False)
        projected2 = s2[:, None] * (u.T @ targets) ** 2
    # the rank: eigenvalues of the Gram matrix within its rounding error count as zero
    keep = s2 > s2.max(initial=0.0) * max(n, d) * np.finfo(np.float64).eps
    s2 = s2[keep]
    z2 = projected2[keep] / s2[:, None]
    outside = np.maximum(np.sum(targets**2, axis=0) - np.sum(z2, axis=0), 0.0)
    if s2.size == n:  # the features span R^n: nothing is outside, but for rounding
        outside[:] = 0.0
    return s2, z2, outside


def _logme_evidence(s2, z2, outside, n: int, ratio) -> tuple[np.ndarray, ...]:
    """Evidence per row of each target at ``alpha / beta = ratio`` (k,), ``beta`` at its best.

    ``s2``, ``z2`` and ``outside`` as :func:`_spectrum` returns them. With ``A = alpha I +
    beta F^T F`` the posterior mean ``m = beta A^-1 F^T y`` depends on the ratio only, and so
    do ``E = |F m - y|^2 + ratio |m|^2`` and the best ``beta = n / E``; at that ``beta``
    the evidence is ``-log(2 pi E / n) / 2 - 1/2 + sum_i log(ratio / (ratio + s2_i)) / (2 n)``.
    Written with ``s2_i / (ratio + s2_i)`` and ``ratio / (ratio + s2_i)``, nothing overflows as
    the ratio grows without bound (no weight, ``w = 0``). Returns the evidence, MacKay's next
    ratio ``(gamma / |m|^2) / ((n - gamma) / |F m - y|^2)``, and ``beta``.
    """
    shrink = s2[:, None] / (ratio + s2[:, None])  # (r, k)
    gamma = np.sum(shrink, axis=0)  # effective number of parameters
    m_norm2 = np.sum(z2 * shrink / (ratio + s2[:, None]), axis=0)  # |m|^2
    residual = np.sum(z2 * (1 - shrink) ** 2, axis=0) + outside  # |F m - y|^2
    energy = np.maximum(residual + ratio * m_norm2, _TINY)
    # log(ratio / (ratio + s2)): log1p is exact for a large ratio, the difference for a tiny one
    log_ratio = np.where(shrink < 0.5, np.log1p(-shrink), np.log(ratio) - np.log(ratio + s2[:, None]))
    evidence = -0.5 * np.log(2 * np.pi * energy / n) - 0.5 + np.sum(log_ratio, axis=0) / (2 * n)
    next_ratio = np.maximum(gamma * residual, _TINY) / np.maximum((n - gamma) * m_norm2, _TINY)
    return evidence, next_ratio, n / energy


def _logme(s2, z2, outside, n: int, tol: float, max_iter: int) -> tuple[np.ndarray, ...]:
    """MacKay's fixed-point iteration on ``alpha / beta``, ``beta`` at its best, every target at once.

    Stops when no target's evidence per row changes by more than ``tol``. The iteration
    creeps towards an end of the ratio when the maximum lies there: infinity when the
    features explain less of a target than noise (``w = 0``), zero when they fit it exactly
    (``n <= rank``, no noise). The evidence at each end has a closed form; the largest of
    these and the iteration's is the maximum. Returns the maximum evidence per row (k,) and
    ``alpha``, ``beta`` there (infinite at an end).
    """
    ratio = np.ones(z2.shape[1])
    evidence, next_ratio, beta = _logme_evidence(s2, z2, outside, n, ratio)
    for _ in range(max_iter):
        ratio, previous = next_ratio, evidence
        evidence, next_ratio, beta = _logme_evidence(s2, z2, outside, n, ratio)
        change = np.max(np.abs(evidence - previous))
        if change < tol:
            break
    else:
        warnings.warn(
            f"LogME's fixed-point iteration did not converge in max_iter={max_iter} iterations "
            f"(the evidence per row still changed by {change:.2e} > tol={tol:g}); increase max_iter.",
            ConvergenceWarning,
            stacklevel=3,
        )
    # The two ends of the ratio, where the iteration may creep: alpha -> inf (w = 0, beta = n / |y|^2)
    # and, when the features span R^n, beta -> inf (no noise, alpha = n / y^T (F F^T)^-1 y).
    null_energy = np.sum(z2, axis=0) + outside  # |y|^2
    ends = [(-0.5 * np.log(2 * np.pi * null_energy / n) - 0.5, np.inf, n / null_energy)]
    if s2.size == n:
        quadratic = np.sum(z2 / s2[:, None], axis=0)
        noiseless = -0.5 * np.log(2 * np.pi * quadratic / n) - 0.5 - np.sum(np.log(s2)) / (2 * n)
        ends.append((noiseless, n / quadratic, np.inf))
    alpha = ratio * beta
    for end_evidence, end_alpha, end_beta in ends:
        better = end_evidence > evidence
        evidence = np.where(better, end_evidence, evidence)
        alpha, beta = np.where(better, end_alpha, alpha), np.where(better, end_beta, beta)
    return evidence, alpha, beta


@validate_params(
    {"features": ["array-like"], "y": ["array-like"], **_LOGME_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def logme_score(
    features, y, *, regression: bool | None = None, tol: float = 1e-8, max_iter: int = 1000
) -> float:
    r"""Compute LogME: the log maximum evidence of a linear model of the targets on the features.

    For each target ``y_k`` (one indicator column per class, or each float target) LogME
    (You et al. 2021) fits the Bayesian linear model :math:`y_k = F w + \varepsilon` with prior
    :math:`w \sim N(0, I / \alpha)` and noise :math:`\varepsilon \sim N(0, 1 / \beta)`,
    maximises its evidence :math:`\log p(y_k \mid F, \alpha, \beta)` over :math:`\alpha` and
    :math:`\beta` by MacKay's fixed-point
    iteration until the evidence stops changing, and returns the maximum evidence divided
    by the number of rows, averaged over the targets. Higher is better. One
    eigendecomposition of the smaller Gram matrix of the features (``F^T F`` or ``F F^T``)
    serves every target and iteration: the cost is ``O(n d min(n, d))`` once, then
    ``O(min(n, d))`` per target and iteration.

    Features are used as given (no centering, no scaling); targets as well, so compare
    regression scores on the same ``y`` only.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        The features of the target rows (e.g. a pretrained network's embedding).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Class labels (``-1`` marks an unlabeled row) or float targets (NaN marks one);
        unlabeled rows are left out.
    regression : bool or None, default=None
        Whether ``y`` holds float targets; None reads it from ``y``
        (:func:`~sklearn.utils.multiclass.type_of_target` says ``"continuous"``).
    tol : float, default=1e-8
        Stop when no target's evidence per row changes by more than ``tol`` in an iteration.
        When the features explain less of a target than noise would, its ``alpha`` grows
        without bound (towards ``w = 0``) while its evidence converges.
    max_iter : int, default=1000
        At most this many fixed-point iterations; a
        :class:`~sklearn.exceptions.ConvergenceWarning` says when they do not suffice.

    Returns
    -------
    score : float
        The mean log evidence per row.

    See Also
    --------
    LogMEScorer : The same score as a ``GridSearchCV`` scorer of a feature extractor.
    h_score : A faster, cruder score of the same features.

    References
    ----------
    K. You, Y. Liu, J. Wang and M. Long, "LogME: Practical Assessment of Pre-trained Models
    for Transfer Learning", ICML 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.metrics import logme_score
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, size=200)
    >>> informative = y[:, None] + 0.3 * rng.normal(size=(200, 5))
    >>> noise = rng.normal(size=(200, 5))
    >>> bool(logme_score(informative, y) > logme_score(noise, y))
    True
    """
    features, targets = _labeled_features_and_targets(features, y, regression)
    evidence, *_ = _logme(*_spectrum(features, targets), len(features), tol, max_iter)
    return float(np.mean(evidence))


def _joint(y, source):
    """Labeled rows of ``y`` and ``source``: the class index of each row and the number of classes."""
    y = np.asarray(y)
    check_consistent_length(source, y)
    labeled = _labeled_rows(y, regression=False)
    y = column_or_1d(y[labeled])
    codes, n_classes = _class_indices(y)
    return codes, n_classes, _safe_indexing(source, labeled)


@validate_params({"source_proba": ["array-like"], "y": ["array-like"]}, prefer_skip_nested_validation=True)
def leep_score(source_proba, y) -> float:
    r"""Compute LEEP, the log expected empirical prediction of a source classifier on target labels.

    With :math:`\theta_i` the source classifier's probabilities over its :math:`Z` source
    classes at target row :math:`i`, LEEP (Nguyen et al. 2020) builds the empirical joint
    distribution :math:`P(y, z) = \frac{1}{n} \sum_i \theta_{iz} [y_i = y]` of target label
    and source class, the conditional :math:`P(y \mid z) = P(y, z) / P(z)`, and returns the
    mean log-likelihood of the target labels under the "expected empirical predictor"
    :math:`p(y \mid x_i) = \sum_z P(y \mid z) \theta_{iz}`. Higher is better; it is at most 0.

    Parameters
    ----------
    source_proba : array-like of shape (n_samples, n_source_classes)
        The source classifier's predicted probabilities at the target rows (rows sum to 1).
    y : array-like of shape (n_samples,)
        Target class labels; ``-1`` marks an unlabeled row, left out.

    Returns
    -------
    score : float
        The mean log-likelihood: at most 0, at least :math:`-\log K` for :math:`K`
        target classes when the source classes carry no information.

    See Also
    --------
    LEEPScorer : The same score as a ``GridSearchCV`` scorer.
    nce_score : The same idea from hard source labels.

    References
    ----------
    C. V. Nguyen, T. Hassner, M. Seeger and C. Archambeau, "LEEP: A New Measure to Evaluate
    Transferability of Learned Representations", ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.metrics import leep_score
    >>> y = np.array([0, 0, 1, 1])
    >>> sharp = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    >>> bool(leep_score(sharp, y) > leep_score(np.full((4, 2), 0.5), y))
    True
    """
    codes, n_classes, proba = _joint(y, source_proba)
    proba = _check_features(proba, "source_proba")
    if np.any(proba < 0) or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "source_proba must hold probabilities: non-negative rows that sum to 1 "
            "(the source classifier's predict_proba)."
        )
    joint = np.zeros((n_classes, proba.shape[1]))
    np.add.at(joint, codes, proba)
    joint /= len(codes)
    marginal = joint.sum(axis=0)
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)
    eep = np.sum(proba * conditional[codes], axis=1)
    return float(np.mean(np.log(np.maximum(eep, _TINY))))


@validate_params({"source_labels": ["array-like"], "y": ["array-like"]}, prefer_skip_nested_validation=True)
def nce_score(source_labels, y) -> float:
    r"""Compute NCE, the negative conditional entropy of the target labels given source labels.

    With ``z_i`` the source classifier's predicted label at target row ``i``, NCE (Tran
    et al. 2019) is :math:`-H(Y \mid Z) = \sum_{y, z} P(y, z) \log P(y \mid z)` under the empirical
    joint distribution of target and source labels. Higher is better; 0 when the source
    label determines the target label.

    Parameters
    ----------
    source_labels : array-like of shape (n_samples,)
        The source classifier's predicted labels (any labels) at the target rows.
    y : array-like of shape (n_samples,)
        Target class labels; ``-1`` marks an unlabeled row, left out.

    Returns
    -------
    score : float
        In :math:`[-\log K, 0]` for :math:`K` target classes.

    See Also
    --------
    NCEScorer : The same score as a ``GridSearchCV`` scorer.
    leep_score : The same idea from the source probabilities.

    References
    ----------
    A. T. Tran, C. V. Nguyen and T. Hassner, "Transferability and Hardness of Supervised
    Classification Tasks", ICCV 2019.

    Examples
    --------
    >>> from skltransfer.metrics import nce_score
    >>> nce_score(["cat", "cat", "dog", "dog"], [0, 0, 1, 1])
    0.0
    >>> round(nce_score(["cat", "dog", "cat", "dog"], [0, 0, 1, 1]), 4)  # -log 2
    -0.6931
    """
    codes, n_classes, source = _joint(y, source_labels)
    source = column_or_1d(np.asarray(source))
    _, source_codes = np.unique(source, return_inverse=True)
    joint = np.zeros((n_classes, source_codes.max() + 1))
    np.add.at(joint, (codes, source_codes.ravel()), 1.0)
    joint /= len(codes)
    marginal = np.broadcast_to(joint.sum(axis=0), joint.shape)
    present = joint > 0
    return float(np.sum(joint[present] * np.log(joint[present] / marginal[present])))


@validate_params(
    {"features": ["array-like"], "y": ["array-like"], "shrinkage": _SHRINKAGE},
    prefer_skip_nested_validation=True,
)
def h_score(features, y, *, shrinkage: str | float | None = "ledoit_wolf") -> float:
    r"""Compute the H-score: class separation of the features relative to their covariance.

    :math:`H = \operatorname{tr}(\operatorname{cov}(f)^{-1} \operatorname{cov}(E[f \mid y]))`
    (Bao et al. 2019), the sum over classes of the
    Mahalanobis norm of the centered class means weighted by the class frequencies.
    With few rows per feature the sample covariance is singular and the score unstable;
    Ibrahim et al. (2022) shrink it:
    :math:`\Sigma_a = (1 - a) \operatorname{cov}(f) + a (\operatorname{tr} \operatorname{cov}(f) / d) I`
    and :math:`H_a = \operatorname{tr}(\Sigma_a^{-1} (1 - a) \operatorname{cov}(E[f \mid y]))`,
    with :math:`a` chosen by Ledoit and Wolf.
    Higher is better. Covariances divide by the number of rows.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        The features of the target rows.
    y : array-like of shape (n_samples,)
        Target class labels; ``-1`` marks an unlabeled row, left out.
    shrinkage : "ledoit_wolf", float in [0, 1] or None, default="ledoit_wolf"
        The shrinkage ``a``: Ledoit-Wolf's estimate, a fixed value, or None for the
        original H-score (a pseudo-inverse of the sample covariance, as ``0``).

    Returns
    -------
    score : float

    See Also
    --------
    HScoreScorer : The same score as a ``GridSearchCV`` scorer of a feature extractor.
    logme_score : A score of the same features with a probabilistic model.

    References
    ----------
    Y. Bao, Y. Li, S.-L. Huang, L. Zhang, L. Zheng, A. Zamir and L. Guibas, "An
    Information-Theoretic Approach to Transferability in Task Transfer Learning", ICIP 2019.
    S. Ibrahim, N. Ponomareva and R. Mazumder, "Newer is Not Always Better: Rethinking
    Transferability Metrics, Their Peculiarities, Stability and Performance", ECML PKDD 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.metrics import h_score
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=90)
    >>> informative = np.eye(3)[y] + 0.5 * rng.normal(size=(90, 3))
    >>> bool(h_score(informative, y) > h_score(rng.normal(size=(90, 3)), y))
    True
    """
    y = np.asarray(y)
    check_consistent_length(features, y)
    labeled = _labeled_rows(y, regression=False)
    codes, n_classes = _class_indices(column_or_1d(y[labeled]))
    f = _check_features(_safe_indexing(features, labeled))
    f = f - f.mean(axis=0)
    n, d = f.shape
    counts = np.bincount(codes, minlength=n_classes)
    means = np.zeros((n_classes, d))
    np.add.at(means, codes, f)
    means /= counts[:, None]  # rows: the centered class means
    weights = counts / n
    if shrinkage == "ledoit_wolf":
        cov, a = ledoit_wolf(f, assume_centered=True)
    else:
        a = 0.0 if shrinkage is None else float(shrinkage)
        cov = f.T @ f / n
        cov = (1 - a) * cov + a * np.trace(cov) / d * np.eye(d)
    if a > 0:
        solved = scipy.linalg.cho_solve(scipy.linalg.cho_factor(cov), means.T)
    else:
        solved = scipy.linalg.pinvh(cov) @ means.T
    return float((1 - a) * np.sum(weights * np.einsum("cd,dc->c", means, solved)))


def _output(estimator, X, method: str, owner: str) -> np.ndarray:
    """``estimator.<method>(X)``, with an error naming the scorer's ``response_method``."""
    if not hasattr(estimator, method):
        raise ValueError(
            f"{owner} calls {method} (response_method={method!r}), which {type(estimator).__name__} lacks."
        )
    return getattr(estimator, method)(X)


class _TransferabilityScorer(_DomainScorer):
    """A scorer ``scorer(estimator, X, y) -> float`` of one transferability score.

    The labeled rows of ``X`` go through ``estimator``'s ``response_method``; the score
    compares its output with their labels. Nothing is requested through metadata routing.
    """

    _parameter_constraints: ClassVar[dict] = {}

    def get_metadata_routing(self) -> MetadataRequest:
        """Request nothing: the score reads ``X`` and ``y`` only.

        Returns
        -------
        routing : MetadataRequest
            An empty request.
        """
        return MetadataRequest(owner=self)

    def _labeled_output(self, estimator, X, y, method: str, regression: bool | None = False):
        """``estimator.<method>`` of the labeled rows of ``X``, and their labels."""
        owner = type(self).__name__
        validate_parameter_constraints(self._parameter_constraints, self.get_params(deep=False), owner)
        y = np.asarray(y)
        check_consistent_length(X, y)
        labeled = _labeled_rows(y, regression)
        return _output(estimator, _safe_indexing(X, labeled), method, owner), y[labeled]


class LogMEScorer(_TransferabilityScorer):
    """LogME of a fitted feature extractor: :func:`logme_score` of ``estimator.transform(X)``.

    Use it as ``scoring=`` of ``GridSearchCV`` over a pipeline (or a single transformer)
    whose last step is a feature extractor, e.g. over the ``base_model`` and ``layer`` of a
    :class:`~skltransfer.PretrainedFeatureExtractor`: each candidate is fitted (no head is
    trained) and scored on the labeled rows of the test fold. Higher is better.

    Parameters
    ----------
    regression : bool or None, default=None
        Whether ``y`` holds float targets; None reads it from ``y``.
    tol : float, default=1e-8
        Tolerance of the fixed-point iteration on the evidence per row.
    max_iter : int, default=1000
        At most this many fixed-point iterations.

    See Also
    --------
    logme_score : The score of a feature matrix.
    HScoreScorer : A faster, cruder score of the same features.

    References
    ----------
    K. You, Y. Liu, J. Wang and M. Long, "LogME: Practical Assessment of Pre-trained Models
    for Transfer Learning", ICML 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skltransfer.metrics import LogMEScorer
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=150)
    >>> X = np.c_[np.eye(3)[y] + 0.5 * rng.normal(size=(150, 3)), rng.normal(size=(150, 3))]
    >>> def first_layer(X):
    ...     return X[:, :3]
    >>> def second_layer(X):
    ...     return X[:, 3:]
    >>> grid = {"func": [first_layer, second_layer]}
    >>> search = GridSearchCV(FunctionTransformer(), grid, scoring=LogMEScorer(), cv=3).fit(X, y)
    >>> search.best_params_["func"].__name__
    'first_layer'
    """

    _parameter_constraints: ClassVar[dict] = _LOGME_CONSTRAINTS

    def __init__(self, *, regression: bool | None = None, tol: float = 1e-8, max_iter: int = 1000):
        self.regression = regression
        self.tol = tol
        self.max_iter = max_iter

    def __call__(self, estimator, X, y) -> float:
        """Score the features ``estimator.transform(X)`` of the labeled rows against ``y``.

        Parameters
        ----------
        estimator : fitted transformer
        X : array-like of shape (n_samples, ...)
            Whatever ``estimator.transform`` takes (images, paths, rows).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Labels, ``-1`` (or NaN for float targets) for unlabeled rows, left out.

        Returns
        -------
        score : float
        """
        features, y = self._labeled_output(estimator, X, y, "transform", self.regression)
        return logme_score(features, y, regression=self.regression, tol=self.tol, max_iter=self.max_iter)


class HScoreScorer(_TransferabilityScorer):
    """H-score of a fitted feature extractor: :func:`h_score` of ``estimator.transform(X)``.

    Use it as ``scoring=`` of ``GridSearchCV`` over a pipeline whose last step is a
    feature extractor, as :class:`LogMEScorer`. Higher is better.

    Parameters
    ----------
    shrinkage : "ledoit_wolf", float in [0, 1] or None, default="ledoit_wolf"
        Shrinkage of the feature covariance (see :func:`h_score`).

    See Also
    --------
    h_score : The score of a feature matrix.
    LogMEScorer : A probabilistic score of the same features.

    References
    ----------
    S. Ibrahim, N. Ponomareva and R. Mazumder, "Newer is Not Always Better: Rethinking
    Transferability Metrics, Their Peculiarities, Stability and Performance", ECML PKDD 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skltransfer.metrics import HScoreScorer
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, size=60)
    >>> X = np.c_[y + 0.3 * rng.normal(size=60), rng.normal(size=60)]
    >>> first, second = FunctionTransformer(lambda X: X[:, :1]), FunctionTransformer(lambda X: X[:, 1:])
    >>> bool(HScoreScorer()(first.fit(X), X, y) > HScoreScorer()(second.fit(X), X, y))
    True
    """

    _parameter_constraints: ClassVar[dict] = {"shrinkage": _SHRINKAGE}

    def __init__(self, *, shrinkage: str | float | None = "ledoit_wolf"):
        self.shrinkage = shrinkage

    def __call__(self, estimator, X, y) -> float:
        """Score the features ``estimator.transform(X)`` of the labeled rows against ``y``.

        Parameters
        ----------
        estimator : fitted transformer
        X : array-like of shape (n_samples, ...)
            Whatever ``estimator.transform`` takes.
        y : array-like of shape (n_samples,)
            Class labels, ``-1`` for unlabeled rows, left out.

        Returns
        -------
        score : float
        """
        features, y = self._labeled_output(estimator, X, y, "transform")
        return h_score(features, y, shrinkage=self.shrinkage)


class LEEPScorer(_TransferabilityScorer):
    """LEEP of a source classifier: :func:`leep_score` of its probabilities at the labeled rows.

    The estimator is the source model, fitted on the source task: a classifier's
    ``predict_proba`` gives the probabilities over the source classes, or, with
    ``response_method="transform"``, a feature extractor cut at the softmax layer. In a
    ``GridSearchCV`` over source classifiers fitted beforehand, wrap each in
    :class:`sklearn.frozen.FrozenEstimator` so that the search does not refit it on the
    target labels. Higher is better.

    Parameters
    ----------
    response_method : {"predict_proba", "transform"}, default="predict_proba"
        The method that gives the source probabilities.

    See Also
    --------
    leep_score : The score of a probability matrix.
    NCEScorer : The same idea from hard source labels.

    References
    ----------
    C. V. Nguyen, T. Hassner, M. Seeger and C. Archambeau, "LEEP: A New Measure to Evaluate
    Transferability of Learned Representations", ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer.metrics import LEEPScorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(100, 2)); source = LogisticRegression().fit(Xs, Xs[:, 0] > 0)
    >>> Xt = rng.normal(size=(50, 2))
    >>> bool(LEEPScorer()(source, Xt, Xt[:, 0] > 0.2) > LEEPScorer()(source, Xt, Xt[:, 1] > 0))
    True
    """

    _parameter_constraints: ClassVar[dict] = {"response_method": [StrOptions({"predict_proba", "transform"})]}

    def __init__(self, *, response_method: str = "predict_proba"):
        self.response_method = response_method

    def __call__(self, estimator, X, y) -> float:
        """Score the source probabilities of the labeled rows of ``X`` against ``y``.

        Parameters
        ----------
        estimator : fitted source classifier or transformer
        X : array-like of shape (n_samples, ...)
            Whatever ``estimator``'s ``response_method`` takes.
        y : array-like of shape (n_samples,)
            Target class labels, ``-1`` for unlabeled rows, left out.

        Returns
        -------
        score : float
        """
        proba, y = self._labeled_output(estimator, X, y, self.response_method)
        return leep_score(proba, y)


class NCEScorer(_TransferabilityScorer):
    """NCE of a source classifier: :func:`nce_score` of its predicted labels at the labeled rows.

    The estimator is the source model, as for :class:`LEEPScorer`: its ``predict`` gives
    the source labels, or the most probable source class of its ``predict_proba`` or of
    ``transform`` (a feature extractor cut at the softmax layer). Higher is better.

    Parameters
    ----------
    response_method : {"predict", "predict_proba", "transform"}, default="predict"
        The method that gives the source labels (the column of the largest value for the
        two others).

    See Also
    --------
    nce_score : The score of two label vectors.
    LEEPScorer : The same idea from the source probabilities.

    References
    ----------
    A. T. Tran, C. V. Nguyen and T. Hassner, "Transferability and Hardness of Supervised
    Classification Tasks", ICCV 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer.metrics import NCEScorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(100, 2)); source = LogisticRegression().fit(Xs, Xs[:, 0] > 0)
    >>> Xt = rng.normal(size=(50, 2))
    >>> bool(NCEScorer()(source, Xt, Xt[:, 0] > 0.2) > NCEScorer()(source, Xt, Xt[:, 1] > 0))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "response_method": [StrOptions({"predict", "predict_proba", "transform"})]
    }

    def __init__(self, *, response_method: str = "predict"):
        self.response_method = response_method

    def __call__(self, estimator, X, y) -> float:
        """Score the source labels of the labeled rows of ``X`` against ``y``.

        Parameters
        ----------
        estimator : fitted source classifier or transformer
        X : array-like of shape (n_samples, ...)
            Whatever ``estimator``'s ``response_method`` takes.
        y : array-like of shape (n_samples,)
            Target class labels, ``-1`` for unlabeled rows, left out.

        Returns
        -------
        score : float
        """
        source, y = self._labeled_output(estimator, X, y, self.response_method)
        if self.response_method != "predict":
            source = np.argmax(np.asarray(source), axis=1)
        return nce_score(source, y)
