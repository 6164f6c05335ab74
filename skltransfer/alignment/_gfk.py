"""Geodesic flow kernel: integrate the subspaces on the geodesic from the source to the target."""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np

from ..utils._sklearn_compat import Interval
from ._base import BaseDomainAligner
from ._subspace import clip_components, principal_directions

__all__ = ["GFKAligner"]


def geodesic_flow_map(basis_source: np.ndarray, basis_target: np.ndarray) -> np.ndarray:
    """A square root ``P`` of the geodesic flow kernel ``G = P @ P.T``.

    ``G = ∫_0^1 Φ(t) Φ(t)^T dt`` where ``Φ(t)`` runs on the Grassmann geodesic from the source
    subspace (``Φ(0)``) to the target subspace (``Φ(1)``). With the principal angles ``θ`` and
    vectors ``Ps^T Pt = U1 cos(θ) V^T``, ``G = W Λ W^T`` for the orthonormal ``W = [Ps U1, Q]``,
    ``Q = -(I - Ps Ps^T) Pt V / sin(θ)``, and the 2x2-block diagonal ``Λ`` of Gong et al.

    Parameters
    ----------
    basis_source, basis_target : ndarray of shape (n_features, d)
        Orthonormal bases (columns) of the two subspaces.

    Returns
    -------
    P : ndarray of shape (n_features, 2 * d)
        ``P @ P.T == G``; rows mapped by ``X @ P`` have the inner products ``X G X^T``.
    """
    U1, cos, Vt = np.linalg.svd(basis_source.T @ basis_target)
    theta = np.arccos(np.clip(cos, 0.0, 1.0))
    target_rotated = basis_target @ Vt.T
    residual = target_rotated - basis_source @ (basis_source.T @ target_rotated)
    sin = np.sin(theta)
    moving = sin > 1e-12
    Q = np.zeros_like(residual)
    Q[:, moving] = -residual[:, moving] / sin[moving]
    t = np.where(moving, theta, 1.0)
    half_sinc = np.where(moving, np.sin(2 * t) / (2 * t), 1.0)
    l1 = 0.5 * (1 + half_sinc)
    l2 = np.where(moving, 0.5 * (np.cos(2 * t) - 1) / (2 * t), 0.0)
    l3 = 0.5 * (1 - half_sinc)
    # each 2x2 block [[l1, l2], [l2, l3]] is positive semi-definite: take its square root
    d = theta.shape[0]
    blocks = np.stack([np.stack([l1, l2], -1), np.stack([l2, l3], -1)], -2)
    w, V = np.linalg.eigh(blocks)
    roots = (V * np.sqrt(np.clip(w, 0.0, None))[:, None, :]) @ np.swapaxes(V, -1, -2)
    W = np.hstack([basis_source @ U1, Q])
    S = np.zeros((2 * d, 2 * d))
    idx = np.arange(d)
    S[idx, idx], S[idx, d + idx] = roots[:, 0, 0], roots[:, 0, 1]
    S[d + idx, idx], S[d + idx, d + idx] = roots[:, 1, 0], roots[:, 1, 1]
    return W @ S


class GFKAligner(BaseDomainAligner):
    """Geodesic flow kernel (GFK): embed both domains along the source-to-target geodesic.

    The first ``n_components`` principal directions of each domain are two points on the
    Grassmann manifold. The geodesic flow kernel :math:`G` integrates the projections onto
    every subspace of the geodesic between them, giving features that change little from one
    domain to the other. Rows (source and target alike) are mapped to :math:`X P` with
    :math:`P P^T = G`: the ``2 * n_components`` coordinates of :math:`G^{1/2} x` in an
    orthonormal basis of its range, so inner products and distances are those of
    :math:`G^{1/2} x`.

    Parameters
    ----------
    n_components : int, default=20
        Dimension of the two subspaces (Gong et al. use 20 on Office-Caltech10). Clipped, with
        a warning, to what both domains support.

    Attributes
    ----------
    components_ : ndarray of shape (n_features, 2 * n_components_)
        The map ``P``: ``transform(X) = X @ P``.
    n_components_ : int
        Dimension of the subspaces actually used.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    SubspaceAligner : Map the source subspace onto the target subspace directly.
    MEDAClassifier : GFK features followed by dynamic distribution alignment.

    References
    ----------
    .. [1] B. Gong, Y. Shi, F. Sha and K. Grauman, "Geodesic Flow Kernel for Unsupervised
       Domain Adaptation", CVPR 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import GFKAligner, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(60, 6))
    >>> X, y = stack_domains(Xs, np.tile([0, 1], 30), Xs @ rng.normal(size=(6, 6)))
    >>> GFKAligner(n_components=2).fit_transform(X, y).shape
    (120, 4)
    """

    _parameter_constraints: ClassVar[dict] = {"n_components": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, n_components=20):
        self.n_components = n_components

    def _fit_domains(self, X, y, domains) -> int:
        X_source, X_target = X[domains.source], X[domains.target]
        n_components = clip_components(self.n_components, X_source, X_target)
        basis_source = principal_directions(X_source, n_components)[1].T
        basis_target = principal_directions(X_target, n_components)[1].T
        self.components_ = geodesic_flow_map(basis_source, basis_target)
        self.n_components_ = n_components
        return self.components_.shape[1]

    def _transform_domains(self, X, source):
        return X @ self.components_.astype(X.dtype, copy=False)
