"""Kernel mean matching (Huang et al. 2007)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.linalg import eigvalsh
from scipy.optimize import LinearConstraint, brentq, minimize
from scipy.sparse.linalg import eigsh
from sklearn.utils import check_random_state

from ..utils._kernels import kernel_matrix, resolve_kernel_params
from ..utils._sklearn_compat import Interval, StrOptions, validate_params
from ._base import BaseImportanceWeighting

__all__ = ["KernelMeanMatching", "kmm_qp"]

_DENSE_EIGEN_MAX = 200
_KERNELS = {"rbf", "laplacian", "linear", "poly", "polynomial", "sigmoid", "cosine", "chi2"}


def _project(v: np.ndarray, B: float, low: float, high: float) -> np.ndarray:
    """Euclidean projection of ``v`` onto ``{0 <= b <= B, low <= sum(b) <= high}``."""
    b = np.clip(v, 0.0, B)
    total = b.sum()
    if low <= total <= high:
        return b
    goal = low if total < low else high
    # sum(clip(v - tau, 0, B)) decreases in tau from n * B to 0: find where it meets ``goal``.
    tau = brentq(lambda t: np.clip(v - t, 0.0, B).sum() - goal, v.min() - B, v.max(), xtol=1e-13)
    return np.clip(v - tau, 0.0, B)


def _largest_eigenvalue(K: np.ndarray) -> float:
    """Largest eigenvalue of the symmetric ``K``: Lanczos for large ``K``, slightly rounded up."""
    n = K.shape[0]
    if n <= _DENSE_EIGEN_MAX:
        return float(eigvalsh(K, subset_by_index=[n - 1, n - 1])[0])
    # ARPACK's estimate converges from below; 1% headroom keeps the gradient step stable.
    return 1.01 * float(eigsh(K, k=1, which="LA", tol=1e-4, v0=np.ones(n), return_eigenvectors=False)[0])


def _kmm_apg(K, kappa, B, low, high, tol, max_iter):
    """Accelerated projected gradient (FISTA with gradient restart) on the KMM QP."""
    n = K.shape[0]
    lipschitz = max(_largest_eigenvalue(K), 1e-12)
    b = _project(np.ones(n), B, low, high)
    z, t, n_iter = b, 1.0, 0
    while n_iter < max_iter:
        n_iter += 1
        b_new = _project(z - (K @ z - kappa) / lipschitz, B, low, high)
        step = b_new - b
        if np.dot(z - b_new, step) > 0:  # momentum points uphill: restart
            t = 1.0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = b_new + ((t - 1.0) / t_new) * step
        b, t = b_new, t_new
        if np.linalg.norm(step) <= tol * max(1.0, np.linalg.norm(b)):
            break
    return b, n_iter


def _kmm_slsqp(K, kappa, B, low, high, tol, max_iter):
    """The KMM QP through scipy's general constrained solver (SLSQP)."""
    n = K.shape[0]
    result = minimize(
        lambda b: 0.5 * b @ K @ b - kappa @ b,
        _project(np.ones(n), B, low, high),
        jac=lambda b: K @ b - kappa,
        method="SLSQP",
        bounds=[(0.0, B)] * n,
        constraints=[LinearConstraint(np.ones((1, n)), low, high)],
        options={"ftol": tol, "maxiter": max_iter},
    )
    return np.clip(result.x, 0.0, B), result.nit


@validate_params(
    {
        "K": ["array-like"],
        "kappa": ["array-like"],
        "B": [Interval(Real, 0, None, closed="neither")],
        "eps": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"apg", "slsqp"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "return_n_iter": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def kmm_qp(
    K,
    kappa,
    *,
    B: float = 1000.0,
    eps: float,
    solver: str = "apg",
    tol: float = 1e-6,
    max_iter: int = 1000,
    return_n_iter: bool = False,
):
    """Solve the kernel mean matching quadratic program.

    ``min_b 1/2 b^T K b - kappa^T b`` subject to ``0 <= b_i <= B`` and
    ``|sum(b) - n| <= n * eps``, with ``n = len(kappa)``.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Kernel matrix of the source rows (positive semi-definite).
    kappa : ndarray of shape (n,)
        ``kappa_i = n / n_target * sum_j k(x_i, x'_j)`` over the target rows ``x'_j``.
    B : float, default=1000.0
        Upper bound of every weight.
    eps : float
        Allowed relative deviation of the mean weight from 1.
    solver : {"apg", "slsqp"}, default="apg"
        ``"apg"``: accelerated projected gradient with an exact projection onto the feasible
        set (one kernel-vector product per iteration). ``"slsqp"``: scipy's SLSQP, cubic in
        ``n`` per iteration; a reference for small problems.
    tol : float, default=1e-6
        Stop when the relative change of ``b`` (``"apg"``) or of the objective (``"slsqp"``)
        falls below ``tol``.
    max_iter : int, default=1000
        Maximum number of iterations.
    return_n_iter : bool, default=False
        Also return the number of iterations run.

    Returns
    -------
    b : ndarray of shape (n,)
        The weights.
    n_iter : int
        Number of iterations run; only when ``return_n_iter=True``.

    Raises
    ------
    ValueError
        When no weights satisfy the constraints (``n * B < n * (1 - eps)``).

    See Also
    --------
    KernelMeanMatching : The meta-estimator that weights the source rows with this program.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.reweighting import kmm_qp
    >>> K = np.eye(3)
    >>> kmm_qp(K, np.array([2.0, 1.0, 0.0]), B=10.0, eps=0.5).round(3).tolist()
    [2.0, 1.0, 0.0]
    """
    K, kappa = np.asarray(K, dtype=float), np.asarray(kappa, dtype=float)
    n = K.shape[0]
    if K.shape != (n, n) or kappa.shape != (n,):
        raise ValueError(
            f"K must be a square (n, n) matrix and kappa a vector of its n entries; got K of shape "
            f"{K.shape} and kappa of shape {kappa.shape}."
        )
    low, high = max(n * (1.0 - eps), 0.0), n * (1.0 + eps)
    if n * B < low:
        raise ValueError(
            f"The KMM constraints are infeasible: with B={B} the weights sum to at most {n * B}, "
            f"below n * (1 - eps) = {low}. Raise B or eps."
        )
    solve = _kmm_apg if solver == "apg" else _kmm_slsqp
    b, n_iter = solve(K, kappa, B, low, high, tol, max_iter)
    return (b, n_iter) if return_n_iter else b


class KernelMeanMatching(BaseImportanceWeighting):
    """Importance weighting by kernel mean matching.

    Finds weights of the labeled source rows whose weighted mean in a reproducing kernel
    Hilbert space matches the mean of the target rows (Huang et al. 2007),

    ``min_b 1/2 b^T K b - kappa^T b`` s.t. ``0 <= b_i <= B``, ``|sum(b) - n_s| <= n_s eps``,

    with ``K`` the kernel matrix of the source rows and ``kappa_i = n_s / n_t sum_j
    k(x_i, x'_j)``, then fits a clone of ``estimator`` on the source rows with ``sample_weight=b``.

    Parameters
    ----------
    estimator : estimator object
        A classifier or regressor whose ``fit`` accepts ``sample_weight`` (cloned in ``fit``).
    kernel : str or callable, default="rbf"
        Kernel, as in :func:`sklearn.metrics.pairwise.pairwise_kernels` (a callable is
        called on pairs of rows and returns a float).
    gamma : float, default=None
        Kernel coefficient of the rbf, laplacian, poly, sigmoid and chi2 kernels; ``None``
        means ``1 / n_features`` (scikit-learn's default).
    degree : float, default=3
        Degree of the poly kernel.
    coef0 : float, default=1
        Zero coefficient of the poly and sigmoid kernels.
    B : float, default=1000.0
        Upper bound of every weight.
    eps : float, default=None
        Allowed relative deviation of the mean weight from 1. ``None`` means
        ``(sqrt(m) - 1) / sqrt(m)`` for ``m`` rows per problem (the setting of ADAPT and skada).
    solver : {"apg", "slsqp"}, default="apg"
        QP solver: accelerated projected gradient (fast, one kernel-vector product per
        iteration), or scipy's SLSQP (cubic per iteration; for small problems). See
        :func:`kmm_qp`.
    batch_size : int, default=None
        Solve one QP per random batch of about ``batch_size`` source rows, each matched
        against every target row: memory and time grow linearly in the number of source
        rows instead of quadratically. ``None`` solves one QP over all source rows.
    tol : float, default=1e-6
        Stopping tolerance of the solver.
    max_iter : int, default=1000
        Maximum number of solver iterations.
    random_state : int, RandomState instance or None, default=None
        Draws the batches when ``batch_size`` is set.

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
        Weight of every training row: the KMM weight for labeled source rows, scaled to
        mean 1 over them, ``0`` for target rows and unlabeled source rows (the transfer fit
        gives each labeled target row a weight of 1).
    effective_sample_size_ : float
        Kish's effective sample size ``(sum w)^2 / sum w^2`` of the labeled source weights;
        a ``UserWarning`` says when it is below 10 % of the labeled source rows.
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
    n_iter_ : int
        Number of solver iterations (the largest over the batches).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    DomainClassifierWeighting : Weights from a probabilistic domain classifier.
    LeastSquaresImportanceFitting : Weights from the uLSIF closed form.

    Notes
    -----
    Labeled target rows (given by ``sample_domain``) shape the weights and are trained on
    with a weight of 1 each, on the scale of the source weights (mean 1): a labeled target
    row counts as much as a source row of average importance. The guard (``guard``) checks
    that this fit beats the plain fits of ``estimator``. :class:`TrAdaBoostClassifier`
    reweights the labeled target rows by boosting instead.

    References
    ----------
    .. [1] J. Huang, A. Gretton, K. Borgwardt, B. Schölkopf and A. J. Smola, "Correcting
           sample selection bias by unlabeled data", NeurIPS 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import KernelMeanMatching, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(60, 2))
    >>> ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, rng.normal(1.0, 0.5, size=(40, 2)))
    >>> kmm = KernelMeanMatching(LogisticRegression(), gamma=0.5).fit(X, y)
    >>> w = kmm.weights_[:60]
    >>> bool(w[Xs[:, 0] > 1].mean() > w[Xs[:, 0] < -1].mean())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseImportanceWeighting._parameter_constraints,
        "kernel": [StrOptions(_KERNELS), callable],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "B": [Interval(Real, 0, None, closed="neither")],
        "eps": [Interval(Real, 0, None, closed="left"), None],
        "solver": [StrOptions({"apg", "slsqp"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "sources": [StrOptions({"pooled", "select"})],
    }

    def __init__(
        self,
        estimator,
        *,
        kernel="rbf",
        gamma=None,
        degree=3,
        coef0=1,
        B=1000.0,
        eps=None,
        solver="apg",
        batch_size=None,
        tol=1e-6,
        max_iter=1000,
        random_state=None,
        sources="pooled",
        guard=True,
    ):
        self.estimator = estimator
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.B = B
        self.eps = eps
        self.solver = solver
        self.batch_size = batch_size
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.sources = sources
        self.guard = guard

    def _batch_weights(self, X_batch, X_target, params):
        n = X_batch.shape[0]
        K = kernel_matrix(X_batch, X_batch, self.kernel, params)
        kappa = (n / X_target.shape[0]) * kernel_matrix(X_batch, X_target, self.kernel, params).sum(axis=1)
        eps = (np.sqrt(n) - 1.0) / np.sqrt(n) if self.eps is None else self.eps
        weights, n_iter = kmm_qp(
            K,
            kappa,
            B=self.B,
            eps=eps,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            return_n_iter=True,
        )
        self.n_iter_ = max(getattr(self, "n_iter_", 0), n_iter)
        return weights

    def _source_weights(self, X_source, X_target):
        params = resolve_kernel_params(
            self.kernel,
            gamma=self.gamma,
            degree=self.degree,
            coef0=self.coef0,
            callable_ignores_named=True,  # degree and coef0 default to numbers
        )
        n = X_source.shape[0]
        self.n_iter_ = 0
        if self.batch_size is None or self.batch_size >= n:
            return self._batch_weights(X_source, X_target, params)
        order = check_random_state(self.random_state).permutation(n)
        weights = np.empty(n)
        for rows in np.array_split(order, int(np.ceil(n / self.batch_size))):
            weights[rows] = self._batch_weights(X_source[rows], X_target, params)
        return weights
