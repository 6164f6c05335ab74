"""Unconstrained least-squares importance fitting (uLSIF, Kanamori et al. 2009)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils import check_random_state

from ..utils._sklearn_compat import Interval, StrOptions
from ._base import BaseImportanceWeighting

__all__ = ["LeastSquaresImportanceFitting", "ulsif_loo_score"]

_ALPHAS = np.logspace(-3, 1, 9)
_GAMMA_FACTORS = np.logspace(-2, 2, 9)


def ulsif_loo_score(phi_source: np.ndarray, phi_target: np.ndarray, alpha: float) -> float:
    """Leave-one-out squared-loss score of uLSIF, in closed form.

    Leaves out the ``i``-th source and the ``i``-th target row together, for
    ``i < min(n_source, n_target)``, refits the ratio on the other rows and scores the
    left-out pair by ``1/2 r(x_i)^2 - r(x'_i)`` (the uLSIF loss up to a constant), all
    through Sherman-Morrison updates of one linear system (Kanamori et al. 2009, sec. 3.4).

    Parameters
    ----------
    phi_source : ndarray of shape (n_centers, n_source)
        Kernel between the centers and the source (denominator) rows.
    phi_target : ndarray of shape (n_centers, n_target)
        Kernel between the centers and the target (numerator) rows; ``n_target >= 2``.
    alpha : float
        Ridge regularisation.

    Returns
    -------
    score : float
        Lower is better.

    See Also
    --------
    LeastSquaresImportanceFitting : The meta-estimator that selects its kernel width and
        regularisation with this score.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.reweighting import ulsif_loo_score
    >>> rng = np.random.default_rng(0)
    >>> phi_s, phi_t = rng.random((3, 10)), rng.random((3, 8))
    >>> bool(np.isfinite(ulsif_loo_score(phi_s, phi_t, 0.1)))
    True
    """
    b, n_de = phi_source.shape
    n_nu = phi_target.shape[1]
    n_min = min(n_de, n_nu)
    H = phi_source @ phi_source.T / n_de
    h = phi_target.mean(axis=1)
    x_de, x_nu = phi_source[:, :n_min], phi_target[:, :n_min]
    factor = cho_factor(H + alpha * (n_de - 1) / n_de * np.eye(b))
    inv_h, inv_x_de, inv_x_nu = np.split(
        cho_solve(factor, np.column_stack([h, x_de, x_nu])), [1, 1 + n_min], axis=1
    )
    denom = n_de - np.sum(x_de * inv_x_de, axis=0)
    b0 = inv_h + inv_x_de * ((h @ inv_x_de) / denom)
    b1 = inv_x_nu + inv_x_de * (np.sum(x_nu * inv_x_de, axis=0) / denom)
    theta = np.maximum(0.0, (n_de - 1) * (n_nu * b0 - b1) / (n_de * (n_nu - 1)))
    r_de = np.sum(x_de * theta, axis=0)
    r_nu = np.sum(x_nu * theta, axis=0)
    return float(r_de @ r_de / (2 * n_min) - r_nu.sum() / n_min)


class LeastSquaresImportanceFitting(BaseImportanceWeighting):
    """Importance weighting by unconstrained least-squares importance fitting (uLSIF).

    Models the density ratio ``r(x) = p_t(x) / p_s(x)`` as a non-negative combination of
    Gaussian kernels centred on target rows and fits it by least squares, which has the
    closed form ``theta = max(0, (H + alpha I)^{-1} h)`` with ``H`` the source second
    moment and ``h`` the target mean of the kernel features (Kanamori et al. 2009). The
    kernel width ``gamma`` and the ridge ``alpha`` are chosen among candidates by uLSIF's
    own leave-one-out score, also in closed form (:func:`ulsif_loo_score`), which uses no
    label. Each labeled source row gets the weight ``r(x)``, and a clone of ``estimator`` is
    fitted on them.

    Parameters
    ----------
    estimator : estimator object
        A classifier or regressor whose ``fit`` accepts ``sample_weight`` (cloned in ``fit``).
    gamma : float, array-like of float or None, default=None
        Candidate widths of the Gaussian kernel ``exp(-gamma ||x - c||^2)``. ``None`` means
        ``g0 * logspace(-2, 2, 9)`` with ``g0`` the inverse of the median squared distance
        between source rows and centers.
    alpha : float or array-like of float, default=None
        Candidate ridge parameters; ``None`` means ``logspace(-3, 1, 9)`` (Kanamori et
        al.'s grid).
    n_centers : int, default=100
        Number of target rows drawn as kernel centers (all of them when fewer).
    random_state : int, RandomState instance or None, default=None
        Draws the centers and the order in which source and target rows are paired in the
        leave-one-out score.

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
        Weight of every training row: the estimated ratio for labeled source rows, scaled
        to mean 1 over them, ``0`` for target rows and unlabeled source rows (the transfer fit
        gives each labeled target row a weight of 1).
    effective_sample_size_ : float
        Kish's effective sample size ``(sum w)^2 / sum w^2`` of the labeled source weights;
        a ``UserWarning`` says when it is below 10 % of the labeled source rows.
    gamma_ : float
        The chosen kernel width.
    alpha_ : float
        The chosen ridge parameter.
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
    DomainClassifierWeighting : Weights from a probabilistic domain classifier.

    References
    ----------
    .. [1] T. Kanamori, S. Hido and M. Sugiyama, "A least-squares approach to direct
           importance estimation", Journal of Machine Learning Research 10, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import LeastSquaresImportanceFitting, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(100, 2))
    >>> ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, rng.normal(1.0, 0.5, size=(80, 2)))
    >>> clf = LeastSquaresImportanceFitting(LogisticRegression(), random_state=0).fit(X, y)
    >>> w = clf.weights_[:100]
    >>> bool(w[Xs[:, 0] > 1].mean() > w[Xs[:, 0] < -1].mean())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseImportanceWeighting._parameter_constraints,
        "gamma": [Interval(Real, 0, None, closed="neither"), "array-like", None],
        "alpha": [Interval(Real, 0, None, closed="neither"), "array-like", None],
        "n_centers": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "sources": [StrOptions({"pooled", "select"})],
    }

    def __init__(
        self,
        estimator,
        *,
        gamma=None,
        alpha=None,
        n_centers=100,
        random_state=None,
        sources="pooled",
        guard=True,
    ):
        self.estimator = estimator
        self.gamma = gamma
        self.alpha = alpha
        self.n_centers = n_centers
        self.random_state = random_state
        self.sources = sources
        self.guard = guard

    def _candidates(self, value, default: np.ndarray, name: str) -> np.ndarray:
        values = default if value is None else np.atleast_1d(np.asarray(value, dtype=float))
        if values.ndim != 1 or values.size == 0 or not np.all(values > 0):
            raise ValueError(
                f"{name} must be a positive float or a non-empty 1-D list of them, got {value!r}."
            )
        return values

    def _source_weights(self, X_source, X_target):
        rng = check_random_state(self.random_state)
        centers = X_target[rng.permutation(X_target.shape[0])[: self.n_centers]]
        dist_s = euclidean_distances(centers, X_source, squared=True)
        dist_t = euclidean_distances(centers, X_target, squared=True)
        median = np.median(dist_s)
        gammas = self._candidates(self.gamma, _GAMMA_FACTORS / max(median, np.finfo(float).tiny), "gamma")
        alphas = self._candidates(self.alpha, _ALPHAS, "alpha")
        if gammas.size * alphas.size == 1:
            self.gamma_, self.alpha_ = float(gammas[0]), float(alphas[0])
        elif X_target.shape[0] < 2:
            raise ValueError(
                "Choosing gamma and alpha by leave-one-out needs at least 2 target rows, got "
                f"{X_target.shape[0]}; give a single gamma and alpha."
            )
        else:
            source_order = rng.permutation(X_source.shape[0])
            target_order = rng.permutation(X_target.shape[0])
            scores = {}
            for gamma in gammas:
                phi_s = np.exp(-gamma * dist_s[:, source_order])
                phi_t = np.exp(-gamma * dist_t[:, target_order])
                for alpha in alphas:
                    scores[gamma, alpha] = ulsif_loo_score(phi_s, phi_t, alpha)
            gamma, alpha = min(scores, key=scores.get)
            self.gamma_, self.alpha_ = float(gamma), float(alpha)
        phi_s, phi_t = np.exp(-self.gamma_ * dist_s), np.exp(-self.gamma_ * dist_t)
        H = phi_s @ phi_s.T / X_source.shape[0]
        theta = np.maximum(
            0.0, solve(H + self.alpha_ * np.eye(H.shape[0]), phi_t.mean(axis=1), assume_a="pos")
        )
        return phi_s.T @ theta
