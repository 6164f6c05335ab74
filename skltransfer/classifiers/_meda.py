"""MEDA: manifold embedded distribution alignment, a kernel classifier on GFK features."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy import linalg
from sklearn.neighbors import KNeighborsClassifier, kneighbors_graph
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state

from .._domains import encode_labeled_classes
from ..alignment._gfk import GFKAligner
from ..utils._kernels import kernel_matrix, resolve_kernel_params
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ._base import BaseDAClassifier

__all__ = ["MEDAClassifier"]


def proxy_a_distance(X_a: np.ndarray, X_b: np.ndarray, random_state=None) -> float:
    """``2 (1 - 2 err)`` of a linear SVM telling ``X_a`` from ``X_b`` (training error)."""
    X = np.vstack([X_a, X_b])
    side = np.r_[np.zeros(X_a.shape[0]), np.ones(X_b.shape[0])]
    svm = LinearSVC(dual=False, random_state=random_state)
    error = np.mean(svm.fit(X, side).predict(X) != side)
    return 2.0 * (1.0 - 2.0 * error)


def estimate_mu(X_source, y_source, X_target, y_target, random_state=None) -> float:
    """MEDA's adaptive factor: conditional over marginal plus conditional A-distance.

    Classes missing from either domain are left out of the conditional average.
    ``random_state`` seeds the linear SVMs of the A-distances.
    """
    marginal = proxy_a_distance(X_source, X_target, random_state)
    conditional = [
        proxy_a_distance(X_source[y_source == c], X_target[y_target == c], random_state)
        for c in np.unique(y_source)
        if np.any(y_target == c)
    ]
    if not conditional:
        return 0.0
    mean_conditional = float(np.mean(conditional))
    total = mean_conditional + marginal
    mu = mean_conditional / total if total > 0 else 0.0
    return float(np.clip(mu, 0.0, 1.0)) if mu > 1e-3 else 0.0


def _normalized_laplacian(X: np.ndarray, n_neighbors: int) -> np.ndarray:
    """``I - D^-1/2 W D^-1/2`` of the symmetric cosine-similarity k-nearest-neighbour graph."""
    graph = kneighbors_graph(X, n_neighbors, metric="cosine", mode="distance").toarray()
    W = np.where(graph > 0, 1.0 - graph, 0.0)
    W = np.maximum(W, W.T)
    degree = W.sum(axis=1)
    inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0)), 0.0)
    return np.eye(X.shape[0]) - inv_sqrt[:, None] * W * inv_sqrt[None, :]


class MEDAClassifier(BaseDAClassifier):
    r"""Manifold embedded distribution alignment (MEDA): a kernel classifier for domain adaptation.

    Rows are embedded on the Grassmann manifold by the geodesic flow kernel
    (:class:`GFKAligner`), scaled to unit norm, and a kernel regularised least-squares
    classifier :math:`f(x) = \sum_i \beta_i k(x_i, x)` is learned on all rows (ARRLS, Long et
    al. 2014) minimising, with :math:`Y` the one-hot source labels and :math:`E` the labeled rows,

    .. math::

        \lVert E (Y - K \beta) \rVert^2 + \alpha \operatorname{tr}(\beta^T K \beta)
        + \operatorname{tr}(\beta^T K (\lambda M + \rho L) K \beta)

    (:math:`\lambda` is ``mmd_weight``, :math:`\rho` ``manifold_weight``), where :math:`L` is the
    normalised Laplacian of the cosine k-nearest-neighbour graph and
    :math:`M = (1 - \mu) M_0 + \mu \sum_c M_c` the MMD matrix mixing the marginal
    (:math:`M_0`) and the class-conditional (:math:`M_c`, from the target pseudo-labels)
    discrepancies. Pseudo-labels
    start from a 1-nearest-neighbour classifier and are refined ``max_iter`` times; ``mu`` is
    re-estimated at every iteration from proxy A-distances (dynamic distribution alignment)
    unless fixed.

    Rows with ``y == -1`` are the unlabeled target rows (``sample_domain`` overrides the rule
    and lets labeled target rows in). Every fitted row takes part in the fit, so
    :meth:`predict` on the target rows given to :meth:`fit` returns the transductive labels;
    new rows are predicted with the same kernel expansion.

    Parameters
    ----------
    n_components : int, array-like of int or None, default=20
        Subspace dimension of the geodesic flow kernel. ``None`` uses the input features as
        they are (ARRLS with dynamic distribution alignment). Several dimensions fit one
        solution per dimension and average their class scores (no single dimension suits
        every pair of domains).
    kernel : {"rbf", "linear"}, default="rbf"
        Kernel of the classifier, computed by :func:`sklearn.metrics.pairwise.pairwise_kernels`.
    gamma : float, default=0.5
        Coefficient of the rbf kernel, :math:`\exp(-\gamma \lVert x - x' \rVert^2)` on
        unit-norm rows (MEDA's bandwidth: :math:`\sigma` = mean row norm = 1,
        :math:`\gamma = 1 / (2 \sigma^2)`).
    mmd_weight : float, default=10.0
        Weight ``lambda`` of the distribution alignment term.
    manifold_weight : float, default=1.0
        Weight ``rho`` of the graph Laplacian term.
    alpha : float, default=0.1
        Weight ``eta`` of the ridge term.
    n_neighbors : int, default=10
        Neighbours ``p`` of the graph.
    mu : "auto" or float in [0, 1], default="auto"
        Balance of conditional against marginal alignment; ``"auto"`` estimates it at each
        iteration (dynamic distribution alignment).
    max_iter : int, default=10
        Pseudo-label refinements ``T``.
    random_state : int, RandomState instance or None, default=None
        Seeds the linear SVMs of ``mu="auto"`` (the A-distances). An int leaves numpy's
        global random state untouched; None draws from it, as in scikit-learn.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in the labeled rows.
    embeddings_ : list of GFKAligner or None
        The fitted geodesic flow embedding of each dimension (None when ``n_components=None``).
    X_fit_ : list of ndarray of shape (n_samples, n_embedded)
        The embedded, unit-norm fitted rows (the kernel expansion's centres), per dimension.
    dual_coef_ : list of ndarray of shape (n_samples, n_classes)
        ``beta``, per dimension.
    mu_ : list of float
        The balance factor of the last iteration, per dimension.
    transduction_ : ndarray of shape (n_samples,)
        Labels of the fitted rows: given labels, else the prediction of the last iteration.
    n_iter_ : int
        Pseudo-label refinements run (``max_iter``).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    GFKAligner : The manifold embedding on its own.
    CORALAligner : Align covariances before any classifier.

    References
    ----------
    .. [1] J. Wang, W. Feng, Y. Chen, H. Yu, M. Huang and P. S. Yu, "Visual Domain Adaptation
       with Manifold Embedded Distribution Alignment", ACM Multimedia 2018.
    .. [2] M. Long, J. Wang, G. Ding, S. J. Pan and P. S. Yu, "Adaptation Regularization: A
       General Framework for Transfer Learning", IEEE TKDE 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import MEDAClassifier, stack_domains
    >>> rng = np.random.default_rng(2)
    >>> ys = np.repeat([0, 1, 2], 40)
    >>> centres = rng.normal(scale=2.0, size=(3, 6))
    >>> Xs = centres[ys] + rng.normal(size=(120, 6))
    >>> Xt = (centres[ys] + rng.normal(size=(120, 6))) * [1.5, 0.7, 1.2, 1, 1, 1] + 2.0
    >>> X, y = stack_domains(Xs, ys, Xt)
    >>> clf = MEDAClassifier(n_components=3).fit(X, y)
    >>> print(f"{np.mean(clf.predict(Xt) == ys):.2f}")
    0.93
    """

    # the linear SVMs of the proxy A-distances (``mu="auto"``) read the embedded rows at the
    # scale of X and stall from about the fourth root of the float maximum
    _magnitude_power = 4

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "kernel": [StrOptions({"rbf", "linear"})],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "mmd_weight": [Interval(Real, 0, None, closed="left")],
        "manifold_weight": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "mu": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=20,
        *,
        kernel="rbf",
        gamma=0.5,
        mmd_weight=10.0,
        manifold_weight=1.0,
        alpha=0.1,
        n_neighbors=10,
        mu="auto",
        max_iter=10,
        random_state=None,
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.mmd_weight = mmd_weight
        self.manifold_weight = manifold_weight
        self.alpha = alpha
        self.n_neighbors = n_neighbors
        self.mu = mu
        self.max_iter = max_iter
        self.random_state = random_state

    def _kernel(self, X, Y=None) -> np.ndarray:
        return kernel_matrix(X, Y, self.kernel, resolve_kernel_params(self.kernel, gamma=self.gamma))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, sample_domain=None):
        """Fit on labeled source rows and unlabeled (``y == -1``) target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabeled target rows.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target. Overrides the ``-1`` rule.

        Returns
        -------
        self : MEDAClassifier
        """
        X, y, domains = self._validate_fit(X, y, sample_domain)
        labeled = domains.labeled
        labels = encode_labeled_classes(self, y, labeled)
        dimensions = self._dimensions()
        rng = check_random_state(self.random_state)
        self.embeddings_, self.X_fit_, self.dual_coef_, self.mu_ = [], [], [], []
        scores = 0.0
        for n_components in dimensions:
            embedding, Z, beta, mu, fitted_scores = self._fit_one(X, domains, labels, n_components, rng)
            self.embeddings_.append(embedding)
            self.X_fit_.append(Z)
            self.dual_coef_.append(beta)
            self.mu_.append(mu)
            scores = scores + fitted_scores
        labels[~labeled] = np.argmax(scores[~labeled], axis=1)
        self.transduction_ = self.classes_[labels]
        self.n_iter_ = self.max_iter
        return self

    def _dimensions(self) -> list:
        if self.n_components is None:
            return [None]
        if isinstance(self.n_components, Integral):
            return [self.n_components]
        dimensions = np.asarray(self.n_components).ravel()
        if dimensions.size == 0 or dimensions.dtype.kind not in "iu" or np.any(dimensions < 1):
            raise ValueError(
                f"n_components must be a positive int, None or a non-empty list of positive ints; "
                f"got {self.n_components!r}."
            )
        return [int(d) for d in dimensions]

    def _fit_one(self, X, domains, given, n_components, rng):
        """One MEDA solution on the GFK embedding of dimension ``n_components``."""
        labeled, source, target = domains.labeled, domains.source, domains.target
        embedding = None
        if n_components is not None:
            embedding = GFKAligner(n_components=n_components).fit(X, sample_domain=domains.sample_domain)
        raw = X if embedding is None else embedding.transform(X)
        Z = normalize(raw)
        n_samples, n_classes = X.shape[0], self.classes_.shape[0]
        labels = given.copy()
        if not labeled.all():
            nn = KNeighborsClassifier(n_neighbors=1).fit(Z[labeled], labels[labeled])
            labels[~labeled] = nn.predict(Z[~labeled])

        K = self._kernel(Z)
        Y = np.zeros((n_samples, n_classes))
        Y[np.flatnonzero(labeled), labels[labeled]] = 1.0
        A0 = labeled[:, None] * K + self.alpha * np.eye(n_samples)
        if self.manifold_weight > 0:
            n_neighbors = min(self.n_neighbors, n_samples - 1)
            A0 += self.manifold_weight * (_normalized_laplacian(Z, n_neighbors) @ K)
        lu = linalg.lu_factor(A0, check_finite=False)
        base = linalg.lu_solve(lu, Y, check_finite=False)
        mu = self.mu
        for _ in range(self.max_iter):
            if self.mu == "auto":
                mu = estimate_mu(raw[source], labels[source], raw[target], labels[target], rng)
            U, weights = self._mmd_factors(labels, source, target, n_classes, float(mu))
            beta = self._solve(lu, base, U, weights, K, Y)
            fitted_scores = K @ beta
            labels[~labeled] = np.argmax(fitted_scores[~labeled], axis=1)
        return embedding, Z, beta, float(mu), fitted_scores

    @staticmethod
    def _mmd_factors(labels, source, target, n_classes, mu):
        """``M = U diag(weights) U^T``: marginal and per-class MMD vectors, Frobenius-normalised."""
        n_samples = labels.shape[0]
        columns = [np.where(source, 1.0 / source.sum(), -1.0 / target.sum())]
        for c in range(n_classes):
            e = np.zeros(n_samples)
            for mask, sign in ((source & (labels == c), 1.0), (target & (labels == c), -1.0)):
                if mask.any():
                    e[mask] = sign / mask.sum()
            columns.append(e)
        U = np.stack(columns, axis=1)
        weights = np.r_[(1.0 - mu) * n_classes, np.full(n_classes, mu)]
        gram = U.T @ U
        WG = weights[:, None] * gram
        frobenius = np.sqrt(np.sum(WG * WG.T))
        return U, weights / frobenius if frobenius > 0 else weights

    def _solve(self, lu, base, U, weights, K, Y):
        """``beta = (A0 + mmd_weight U diag(w) U^T K)^-1 E Y`` by the Woodbury identity."""
        if self.mmd_weight == 0:
            return base
        Vt = (self.mmd_weight * weights)[:, None] * (U.T @ K)
        A0_inv_U = linalg.lu_solve(lu, U, check_finite=False)
        small = np.eye(U.shape[1]) + Vt @ A0_inv_U
        return base - A0_inv_U @ linalg.solve(small, Vt @ base, check_finite=False)

    def _class_scores(self, X) -> np.ndarray:
        """Scores ``K(X, X_fit_) @ dual_coef_`` of each class, summed over the dimensions."""
        return sum(
            self._kernel(normalize(X if embedding is None else embedding.transform(X)), Z) @ beta
            for embedding, Z, beta in zip(self.embeddings_, self.X_fit_, self.dual_coef_, strict=True)
        )
