"""Eigensolvers of Transfer Component Analysis that use the low rank of the MMD matrix.

TCA (Pan et al. 2011) looks for ``W`` (one column per component) maximising
``tr(W^T K H K W)`` subject to ``W^T (K L K + mu I) W = I``, with ``K`` the kernel matrix of the
fitted rows, ``H`` the centering matrix and ``L = E E^T / ||E^T E||_F`` the MMD matrix. ``E``
holds one column per compared pair of distributions: one for the marginal MMD of TCA, plus
one per class for the class-conditional MMD of JDA (Long et al. 2013), so ``L`` has rank 1
or ``C + 1``. Scaling ``L`` to unit Frobenius norm, as the reference code of both papers does,
makes ``mu`` independent of the domain sizes.

With ``V = K E / ||E^T E||_F^{1/2}`` the constraint matrix is ``A = mu I + V V^T``, a low-rank
update of the identity. Its inverse square root is the same kind of update (Woodbury):
``A^{-1/2} = mu^{-1/2} (I + Q diag(beta) Q^T)`` with ``Q`` an orthonormal basis of ``V``. The
generalized problem then becomes the ordinary symmetric problem
``S = A^{-1/2} K H K A^{-1/2}``, whose leading eigenvectors ``y`` give ``W = A^{-1/2} y``. ``S`` is
applied through matrix-vector products with ``K`` (Lanczos, ``scipy.sparse.linalg.eigsh``) or
formed densely for small problems: no ``n x n`` inverse and no generalized dense eigensolve.

When the kernel is an inner product of explicit features, ``K = Phi Phi^T`` (Nyström), the
optimal ``W`` lies in the span of ``Phi``, and the whole problem reduces to the
``m x m`` statistics ``Phi^T Phi``, ``Phi^T 1`` and ``Phi^T E``: linear time and memory in the
number of rows.

Each solver returns the components with one of two normalisations: ``"constraint"``, the
``W^T A W = I`` of the generalized problem, or ``"unit"``, every column of ``W`` (the
coefficients on the fitted rows) of unit Euclidean norm, which is what ``eigs`` returns in
the MATLAB reference code of Pan et al. and Long et al. The two differ by one positive factor
per component, so they span the same subspace, but distance-based classifiers on the
embedding see different scales.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import LinearOperator, eigsh

__all__ = ["mmd_columns", "solve_exact", "solve_features"]

# Below this many rows the exact solver forms S densely instead of running Lanczos.
_DENSE_MAX_ROWS = 1000


def mmd_columns(
    source: np.ndarray, target_classes=None, source_classes=None, marginal_weight: float = 1.0
) -> np.ndarray:
    """Columns ``E`` of the MMD matrix ``L = E E^T / ||E^T E||_F``.

    Parameters
    ----------
    source : ndarray of bool, shape (n_samples,)
        Source rows; the others are target rows.
    target_classes, source_classes : ndarray of shape (n_samples,), default=None
        Class index of each row (``-1`` where unknown), for the class-conditional columns of
        JDA. A class absent from one domain contributes only its other side, as in the JDA
        reference code.
    marginal_weight : float, default=1.0
        Weight of the marginal term in ``L`` relative to each class term (the JDA reference
        code uses the number of classes).

    Returns
    -------
    E : ndarray of shape (n_samples, 1 + n_classes)
    """
    columns = [np.sqrt(marginal_weight) * np.where(source, 1.0 / source.sum(), -1.0 / (~source).sum())]
    if target_classes is not None:
        for c in np.unique(np.concatenate([source_classes[source_classes >= 0], target_classes])):
            if c < 0:
                continue
            e = np.zeros(source.shape[0])
            for side, sign in (
                (source & (source_classes == c), 1.0),
                (~source & (target_classes == c), -1.0),
            ):
                if side.any():
                    e[side] = sign / side.sum()
            columns.append(e)
    return np.column_stack(columns)


def _whitening(V: np.ndarray, mu: float) -> tuple[np.ndarray, np.ndarray]:
    """``Q, beta`` with ``(mu I + V V^T)^{-1/2} = mu^{-1/2} (I + Q diag(beta) Q^T)``."""
    Q, s, _ = linalg.svd(V, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(V.shape) * np.finfo(float).eps
    Q, s = Q[:, keep], s[keep]
    return Q, 1.0 / np.sqrt(1.0 + s**2 / mu) - 1.0


def _apply(Q: np.ndarray, beta: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``(I + Q diag(beta) Q^T) Y``."""
    return Y + Q @ (beta[:, None] * (Q.T @ Y)) if Y.ndim == 2 else Y + Q @ (beta * (Q.T @ Y))


def _scale(E: np.ndarray) -> float:
    return float(np.sqrt(np.linalg.norm(E.T @ E)))


def _leading(eigvals: np.ndarray, eigvecs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(eigvals)[::-1][:k]
    return eigvals[order], eigvecs[:, order]


def _normalized(W: np.ndarray, norm: str) -> np.ndarray:
    """Columns of ``W`` (``W^T A W = I``) rescaled to unit Euclidean norm when ``norm="unit"``."""
    return W / np.linalg.norm(W, axis=0) if norm == "unit" else W


def solve_exact(
    K: np.ndarray, E: np.ndarray, mu: float, k: int, random_state, norm: str = "constraint"
) -> tuple[np.ndarray, np.ndarray]:
    """Leading ``k`` TCA components from the full kernel matrix.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric kernel matrix of the fitted rows (not modified).
    E : ndarray of shape (n, r)
        Columns of the MMD matrix (:func:`mmd_columns`).
    mu : float
        Weight of the ``||W||^2`` regularisation.
    k : int
        Number of components, ``k < n``.
    random_state : RandomState
        Seeds the Lanczos start vector.
    norm : {"constraint", "unit"}, default="constraint"
        ``W^T (K L K + mu I) W = I``, or unit Euclidean norm of every column of ``W``.

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        Values of the objective (variance over MMD plus regularisation), decreasing.
    W : ndarray of shape (n, k)
        Dual coefficients: the embedding of rows ``X`` is ``kernel(X, X_fit) @ W``.
    """
    n = K.shape[0]
    Q, beta = _whitening(K @ E / _scale(E), mu)

    def centered_kernel(Y):  # H K Y: the kernel applied, then the columns centred
        KY = K @ Y
        return KY - KY.mean(axis=0)

    if n <= _DENSE_MAX_ROWS:
        M = centered_kernel(_apply(Q, beta, np.eye(n)))  # H K P
        eigvals, Y = linalg.eigh(M.T @ M / mu, subset_by_index=[n - k, n - 1])
    else:

        def matvec(y):
            return _apply(Q, beta, K @ centered_kernel(_apply(Q, beta, y.ravel()))) / mu

        op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        eigvals, Y = eigsh(op, k=k, which="LA", v0=random_state.uniform(-1, 1, n))
    eigvals, Y = _leading(eigvals, Y, k)
    return eigvals, _normalized(_apply(Q, beta, Y) / np.sqrt(mu), norm)


def solve_features(
    gram: np.ndarray,
    sums: np.ndarray,
    cross: np.ndarray,
    n: int,
    scale: float,
    mu: float,
    k: int,
    norm: str = "constraint",
) -> tuple[np.ndarray, np.ndarray, int]:
    """Leading ``k`` TCA components for the kernel ``K = Phi Phi^T`` of explicit features.

    Parameters
    ----------
    gram, sums, cross : ndarray
        ``Phi^T Phi`` (m, m), ``Phi^T 1`` (m,) and ``Phi^T E`` (m, r) of the fitted rows.
    n : int
        Number of fitted rows.
    scale : float
        ``||E^T E||_F^{1/2}``.
    mu : float
        Weight of the ``||W||^2`` regularisation.
    k : int
        Number of components (at most the rank of ``Phi``).
    norm : {"constraint", "unit"}, default="constraint"
        Normalisation of the dual coefficients ``W`` (``K W = Phi coef``), as in
        :func:`solve_exact`.

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        Values of the objective, decreasing.
    coef : ndarray of shape (m, k)
        The embedding of rows is ``Phi(X) @ coef``.
    rank : int
        Rank of ``Phi``: the largest number of components the problem has.
    """
    # Phi = U diag(sqrt(s)) V^T. W = U g spans the only useful directions; there K W = U diag(s) g.
    s, V = linalg.eigh(gram)
    keep = s > s.max(initial=0.0) * gram.shape[0] * np.finfo(float).eps
    s, V = s[keep], V[:, keep]
    root = np.sqrt(s)
    # U^T H U diag(s) ... in the U basis: B = D U^T H U D = D^{1/2} V^T (Phi^T H Phi) V D^{1/2}.
    centred_gram = gram - np.outer(sums, sums) / n
    R = V * root  # V D^{1/2}
    B = R.T @ centred_gram @ R
    Q, beta = _whitening(R.T @ cross / scale, mu)
    k = min(k, s.shape[0])
    BP = _apply(Q, beta, _apply(Q, beta, B).T)  # P B P (B symmetric)
    r = B.shape[0]
    eigvals, Y = linalg.eigh((BP + BP.T) / (2 * mu), subset_by_index=[r - k, r - 1])
    eigvals, Y = _leading(eigvals, Y, k)
    # W = U g with g the columns below: ||W|| = ||g||, and Phi coef = U diag(s) g = K W.
    return eigvals, R @ _normalized(_apply(Q, beta, Y) / np.sqrt(mu), norm), s.shape[0]
