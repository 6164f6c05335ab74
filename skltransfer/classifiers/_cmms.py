"""CMMS: class centroid matching and local manifold self-learning."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy import sparse
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state

from .._domains import encode_labeled_classes
from ..alignment._base import clip_n_components
from ..utils._eigen import top_eigh
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ._base import BaseDAClassifier

__all__ = ["CMMSClassifier"]


def project_rows_on_simplex(V: np.ndarray) -> np.ndarray:
    """Euclidean projection of every row of ``V`` on the probability simplex.

    ``argmin_s ||s - v||^2`` subject to ``s >= 0`` and ``sum(s) = 1``, in closed form: the
    rows are shifted by the threshold ``tau`` found from the sorted values and clipped at 0.

    Parameters
    ----------
    V : ndarray of shape (n_rows, n_columns)

    Returns
    -------
    S : ndarray of shape (n_rows, n_columns)
        Non-negative rows summing to one.
    """
    ordered = -np.sort(-V, axis=1)
    cumulative = np.cumsum(ordered, axis=1) - 1.0
    ranks = np.arange(1, V.shape[1] + 1)
    support = ordered - cumulative / ranks > 0
    last = V.shape[1] - 1 - np.argmax(support[:, ::-1], axis=1)
    tau = cumulative[np.arange(V.shape[0]), last] / (last + 1)
    return np.maximum(V - tau[:, None], 0.0)


def _neighbour_distances(Z: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances to, and indices of, the ``n_neighbors`` nearest other rows, ascending."""
    D = euclidean_distances(Z, squared=True)
    np.fill_diagonal(D, np.inf)
    index = np.argsort(D, axis=1, kind="stable")[:, :n_neighbors]
    return np.take_along_axis(D, index, axis=1), index


def _graph_laplacian(weights: np.ndarray, index: np.ndarray) -> sparse.csr_matrix:
    """Frobenius-normalised Laplacian ``D - S`` of the symmetrised neighbour weights ``S``."""
    n = index.shape[0]
    rows = np.repeat(np.arange(n), index.shape[1])
    S = sparse.csr_matrix((weights.ravel(), (rows, index.ravel())), shape=(n, n))
    S = (S + S.T) / 2
    laplacian = sparse.diags(np.asarray(S.sum(axis=1)).ravel()) - S
    norm = sparse.linalg.norm(laplacian)
    return laplacian / norm if norm > 0 else laplacian


def initial_target_graph(Z: np.ndarray, n_neighbors: int) -> tuple[sparse.csr_matrix, float]:
    """Adaptive-neighbour graph of Nie et al. (2014) on ``Z`` and its scale ``r``.

    Each row's weights on its ``k`` nearest rows are ``(d_{k+1} - d_j) / (k d_{k+1} -
    sum_{l <= k} d_l)`` (squared distances ``d``, ascending), the closed-form solution whose
    scale ``r`` is the mean of ``(k d_{k+1} - sum_{l <= k} d_l) / 2``.

    Returns
    -------
    laplacian : sparse matrix of shape (n_rows, n_rows)
        Frobenius-normalised Laplacian of the symmetrised graph.
    r : float
        Scale of the neighbour weights, kept for :func:`self_learned_target_graph`.
    """
    distances, index = _neighbour_distances(Z, n_neighbors + 1)
    far = distances[:, -1:]
    near = distances[:, :-1]
    denominator = n_neighbors * far - near.sum(axis=1, keepdims=True)
    weights = (far - near) / (denominator + np.finfo(float).eps)
    r = float(np.mean(denominator) / 2)
    return _graph_laplacian(weights, index[:, :-1]), r


def self_learned_target_graph(Z: np.ndarray, n_neighbors: int, r: float) -> sparse.csr_matrix:
    """Neighbour weights ``s_j = argmin ||s + d_j / (2 r)||^2`` on the simplex, as a Laplacian."""
    distances, index = _neighbour_distances(Z, n_neighbors)
    weights = project_rows_on_simplex(-distances / (2 * max(r, np.finfo(float).tiny)))
    return _graph_laplacian(weights, index)


class CMMSClassifier(BaseDAClassifier):
    r"""Class centroid matching and local manifold self-learning (CMMS) for domain adaptation.

    CMMS (Tian et al. 2020) learns a projection :math:`P` in which the target rows form clusters
    whose centroids match the source class centroids, and labels each target cluster by the
    class of its centroid. Rows are scaled to unit norm; with :math:`Z = P^T X` (centred,
    unit-norm columns), :math:`E` the source class-mean indicator, :math:`G` the target cluster
    indicator and :math:`F` the shared centroids, it alternates ``max_iter`` times
    (:math:`\beta` is ``cluster_weight``, :math:`\rho` ``manifold_weight``):

    - :math:`P`: the ``n_components`` generalised eigenvectors of smallest eigenvalue of
      :math:`X (R + \rho L) X^T + \alpha I` against the scatter :math:`X H X^T`, where
      :math:`\operatorname{tr}(P^T X R X^T P) = \min_F \lVert Z E - F \rVert^2
      + \beta \lVert Z_t - F G^T \rVert^2`
      (:math:`R` Frobenius-normalised) and :math:`L` stacks the within-class Laplacian of the
      source and the Laplacian of a self-learned target neighbour graph;
    - :math:`F = (Z E + \beta Z_t G) (\beta G^T G + I)^{-1}`;
    - :math:`G`: each target row joins its nearest centroid;
    - the target graph: each target row's weights on its ``n_neighbors`` nearest rows in the
      projected space, the projection of :math:`-d / (2 r)` on the simplex (adaptive
      neighbours, Nie et al. 2014), the scale :math:`r` fixed by the graph of the input rows.

    Target labels start from a linear SVM (squared hinge, ``C=1``) trained on the source
    rows. Rows with ``y == -1`` are the unlabeled rows that are clustered; the labeled rows
    (source rows, and target rows made labeled through ``sample_domain``) define the class
    centroids. :meth:`predict` assigns rows to the nearest centroid in the projected space,
    which for the fitted target rows returns the labels of the last iteration.

    Parameters
    ----------
    n_components : int, default=100
        Dimension ``d`` of the projected space, clipped with a warning to the number of
        features.
    alpha : float, default=0.2
        Ridge ``beta`` on the projection.
    cluster_weight : float, default=0.1
        Weight ``alpha`` of the target clustering term against the source centroids.
    manifold_weight : float, default=5.0
        Weight ``gamma`` of the graph Laplacian term.
    n_neighbors : int, default=10
        Neighbours ``k`` of each target row in the self-learned graph, clipped to the number
        of unlabeled rows minus two.
    max_iter : int, default=10
        Alternating rounds ``T``.
    component_norm : {"unit", "constraint"}, default="unit"
        Scale of each column of ``P`` before the rows are projected. ``"unit"``: unit
        Euclidean norm, the scaling of the reference code's eigenvectors (MATLAB's ``eigs``
        on the same generalized problem as Long et al.'s JDA code, whose published rows
        :class:`JointMMDAligner` reproduces with this scaling). ``"constraint"``:
        :math:`P^T X H X^T P = I`, the constraint of the eigenproblem. Both span the same
        subspace, but the projected rows are scaled to unit norm, so the scale of each
        column changes the distances to the centroids.
    random_state : int, RandomState instance or None, default=None
        Seed of the coordinate descent of the initial linear SVM.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in the labeled rows.
    components_ : ndarray of shape (n_features, n_components_)
        The projection ``P``, each column scaled as ``component_norm`` says.
    mean_ : ndarray of shape (n_components_,)
        Mean of the projected fitted rows (removed before the unit-norm scaling).
    centroids_ : ndarray of shape (n_classes, n_components_)
        The class centroids :math:`F^T` of the last iteration.
    transduction_ : ndarray of shape (n_samples,)
        Labels of the fitted rows: given labels, else the cluster of the last iteration.
    n_components_ : int
        Dimension of the projected space after clipping.
    n_iter_ : int
        Alternating rounds run (``max_iter``).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    DomainStandardScaler : The per-domain z-scoring of the authors' input.
    MEDAClassifier : Manifold embedded distribution alignment, a kernel classifier.
    JointMMDAligner : Joint (class-conditional) MMD alignment with pseudo-labels.

    Notes
    -----
    The defaults are the authors' setting for Office-Caltech10 SURF. Their code sets, for its
    other benchmarks (``d = 100``, ``gamma = 5``, ``k = 10`` and ``T = 10`` throughout; their
    ``alpha`` is ``cluster_weight`` here and their ``beta`` is ``alpha``):

    ====================================  ==================  =========  ===========
    benchmark                             ``cluster_weight``  ``alpha``  ``max_iter``
    ====================================  ==================  =========  ===========
    Office-Caltech10, SURF                0.1                 0.2        10
    Office-Caltech10, DeCAF6              0.2                 0.5        10
    Office-31, fc7 features               0.1                 0.1        10
    Office-Home, ResNet-50 features       0.1                 0.01       10
    MSRC / VOC2007                        0.1                 0.05       15
    ====================================  ==================  =========  ===========

    Their input is every row scaled to sum 1, then every domain z-scored:
    ``make_pipeline(Normalizer(norm="l1"), DomainStandardScaler(), CMMSClassifier())``.

    References
    ----------
    .. [1] L. Tian, Y. Tang, L. Hu, Z. Ren and W. Zhang, "Domain Adaptation by Class Centroid
       Matching and Local Manifold Self-Learning", IEEE Transactions on Image Processing,
       2020 (arXiv:2003.09391).
    .. [2] F. Nie, X. Wang and H. Huang, "Clustering and Projected Clustering with Adaptive
       Neighbors", KDD 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import CMMSClassifier, stack_domains
    >>> rng = np.random.default_rng(2)
    >>> ys = np.repeat([0, 1, 2], 40)
    >>> centres = rng.normal(scale=2.0, size=(3, 6))
    >>> Xs = centres[ys] + rng.normal(size=(120, 6))
    >>> Xt = (centres[ys] + rng.normal(size=(120, 6))) * [1.5, 0.7, 1.2, 1, 1, 1] + 2.0
    >>> X, y = stack_domains(Xs, ys, Xt)
    >>> clf = CMMSClassifier(n_components=3, random_state=0).fit(X, y)
    >>> print(f"{np.mean(clf.predict(Xt) == ys):.2f}")
    0.94
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "cluster_weight": [Interval(Real, 0, None, closed="neither")],
        "manifold_weight": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "component_norm": [StrOptions({"unit", "constraint"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=100,
        *,
        alpha=0.2,
        cluster_weight=0.1,
        manifold_weight=5.0,
        n_neighbors=10,
        max_iter=10,
        component_norm="unit",
        random_state=None,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.cluster_weight = cluster_weight
        self.manifold_weight = manifold_weight
        self.n_neighbors = n_neighbors
        self.max_iter = max_iter
        self.component_norm = component_norm
        self.random_state = random_state

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
        self : CMMSClassifier
        """
        X, y, domains = self._validate_fit(X, y, sample_domain)
        labeled = domains.labeled
        labels = encode_labeled_classes(self, y, labeled)
        codes = labels[labeled]
        self.n_components_ = clip_n_components(
            self.n_components, X.shape[1], f"exceeds n_features={X.shape[1]}"
        )
        X = normalize(np.asarray(X, dtype=np.float64))
        unlabeled = ~labeled
        if unlabeled.any():
            svm = LinearSVC(C=1.0, dual=True, tol=0.1, random_state=check_random_state(self.random_state))
            labels[unlabeled] = svm.fit(X[labeled], codes).predict(X[unlabeled])
        labels[unlabeled] = self._alternate(X, codes, labeled, labels[unlabeled])
        self.transduction_ = self.classes_[labels]
        self.n_iter_ = self.max_iter
        return self

    def _alternate(self, X, codes, labeled, target_labels):
        """The ``max_iter`` rounds of projection, centroid and cluster updates."""
        n_classes = self.classes_.shape[0]
        Xl, Xu = X[labeled], X[~labeled]
        n_unlabeled = Xu.shape[0]
        class_sizes = np.bincount(codes, minlength=n_classes).astype(float)
        class_means = (np.eye(n_classes)[codes].T @ Xl) / class_sizes[:, None]  # (X E)^T
        total_mean = X.mean(axis=0)
        scatter = X.T @ X - X.shape[0] * np.outer(total_mean, total_mean)  # X H X^T
        unlabeled_gram = Xu.T @ Xu
        source_laplacian = Xl.T @ Xl - (class_means.T * class_sizes) @ class_means
        source_norm = np.sqrt(max(Xl.shape[0] - np.count_nonzero(class_sizes), 0))
        source_laplacian = source_laplacian / source_norm if source_norm > 0 else source_laplacian
        n_neighbors = min(self.n_neighbors, n_unlabeled - 2)
        target_laplacian, r = (None, 0.0)
        if n_neighbors >= 1:
            target_laplacian, r = initial_target_graph(Xu, n_neighbors)
        ridge = self.alpha * np.eye(X.shape[1])
        a = self.cluster_weight
        for _ in range(self.max_iter):
            counts = np.bincount(target_labels, minlength=n_classes).astype(float)
            u = 1.0 / (a * counts + 1.0)
            cluster_sums = np.eye(n_classes)[target_labels].T @ Xu
            XW = class_means + a * cluster_sums  # (X W)^T, W = E + a G
            XRX = class_means.T @ class_means + a * unlabeled_gram - (XW.T * u) @ XW
            XRX /= self._residual_norm(class_sizes, counts, u, n_unlabeled)
            XLX, blocks = source_laplacian, float(source_norm > 0)
            if target_laplacian is not None:
                XLX = XLX + Xu.T @ (target_laplacian @ Xu)
                blocks += float(sparse.linalg.norm(target_laplacian) > 0)
            XLX = XLX / np.sqrt(blocks) if blocks > 0 else XLX
            A = XRX + self.manifold_weight * XLX + ridge
            components = self._leading_components(scatter, (A + A.T) / 2)
            Z = X @ components
            mean = Z.mean(axis=0)
            Z = normalize(Z - mean)
            Zl, Zu = Z[labeled], Z[~labeled]
            class_centroids = (np.eye(n_classes)[codes].T @ Zl) / class_sizes[:, None]
            cluster_sums = np.eye(n_classes)[target_labels].T @ Zu
            centroids = u[:, None] * (class_centroids + a * cluster_sums)
            if n_unlabeled:
                target_labels = np.argmin(euclidean_distances(Zu, centroids, squared=True), axis=1)
            if target_laplacian is not None:
                target_laplacian = self_learned_target_graph(Zu, n_neighbors, r)
        self.components_, self.mean_, self.centroids_ = components, mean, centroids
        return target_labels

    def _residual_norm(self, class_sizes, counts, u, n_unlabeled) -> float:
        """``||R||_F`` of ``R = E E^T + a V - W U W^T`` from its diagonal class-space factors."""
        a = self.cluster_weight
        inv_sizes = np.divide(1.0, class_sizes, out=np.zeros_like(class_sizes), where=class_sizes > 0)
        w = inv_sizes + a**2 * counts  # diagonal of W^T W
        squared = (
            np.sum(inv_sizes**2)
            + a**2 * n_unlabeled
            + np.sum((u * w) ** 2)
            - 2 * np.sum(u * inv_sizes**2)
            - 2 * a**3 * np.sum(u * counts)
        )
        return float(np.sqrt(squared)) if squared > 0 else 1.0

    def _leading_components(self, scatter, A) -> np.ndarray:
        """Smallest ``A p = lambda B p``, as the largest ``B v = mu A v``, scaled by ``component_norm``."""
        n_features = A.shape[0]
        mu, V = top_eigh(scatter, self.n_components_, B=A)
        if self.component_norm == "unit":
            return V / np.linalg.norm(V, axis=0)
        keep = mu > np.finfo(float).eps * max(mu[0], 0.0) * n_features
        return V * np.where(keep, 1.0 / np.sqrt(np.where(keep, mu, 1.0)), 1.0)

    def _project(self, X) -> np.ndarray:
        return normalize(normalize(X) @ self.components_ - self.mean_)

    def _class_scores(self, X) -> np.ndarray:
        """Negative squared distance of each row to each class centroid in the projected space."""
        Z = self._project(np.asarray(X, dtype=np.float64))
        return -euclidean_distances(Z, self.centroids_, squared=True)
