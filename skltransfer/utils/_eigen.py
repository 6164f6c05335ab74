"""Eigensolver parts shared by the kernel methods.

- :func:`top_eigh`, a dense LAPACK solve of the ``k`` largest eigenpairs of ``M`` or of the
  pencil ``(M, B)`` (``B`` positive definite), for matrices that fit in memory as a whole
  (feature-space problems, small kernel problems), eigenvalues in decreasing order;
- :func:`orthonormal`, a step of a restarted block Krylov method (the exact TCA solver,
  :func:`skltransfer.alignment._tca_solvers._kernel_krylov_eigh`): orthonormalising a new
  block against the basis.

A block method's small dense steps use NumPy's LAPACK, not SciPy's: the wheels of the two
libraries each bundle their own OpenBLAS, whose threads spin for a while after a call, so a
SciPy call between two of the method's NumPy products leaves the next product sharing the
cores with idle spinning threads (measured: a 4000 x 4000 by 4000 x 45 product takes twice
as long right after SciPy's ``solve_triangular`` as after NumPy's ``solve``).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["orthonormal", "top_eigh"]


def top_eigh(M: np.ndarray, k: int, B: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of the symmetric ``M`` (or of ``M v = lambda B v``).

    Parameters
    ----------
    M : ndarray of shape (m, m)
        Symmetric; only its lower triangle is read.
    k : int
        Number of eigenpairs, ``1 <= k <= m``.
    B : ndarray of shape (m, m), default=None
        Symmetric positive definite right-hand side of a generalized problem.

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        Decreasing.
    eigenvectors : ndarray of shape (m, k)
        Orthonormal columns (``B``-orthonormal for a generalized problem).
    """
    m = M.shape[0]
    values, vectors = linalg.eigh(M, B, subset_by_index=[m - k, m - 1], check_finite=False)
    return values[::-1], vectors[:, ::-1]


def orthonormal(W: np.ndarray, Q: np.ndarray | None, recent: np.ndarray | None = None) -> np.ndarray:
    """An orthonormal basis of ``W`` orthogonal to the orthonormal ``Q``.

    Two passes of projection and Cholesky QR (``W L^-T`` with ``L L^T = W^T W``): matrix
    products and a small Cholesky factorisation only, instead of Householder QR on the tall
    matrix. A column of ``W`` that depends (numerically) on ``Q`` and the other columns, as
    when a Krylov space of a low-rank operator is exhausted, comes out short of unit norm: it
    is replaced by a random direction (a fixed generator, so results repeat), orthonormalised
    the same way.

    ``recent``, columns of ``Q``, are the only ones that ``W`` has more than rounding-size
    components along (in block Lanczos, the last two blocks): the first pass projects against
    them only, the second against all of ``Q``.
    """
    tolerance = np.sqrt(np.finfo(W.dtype).eps)
    for attempt in range(3):
        V = _cholesky_qr_twice(W, Q, recent if attempt == 0 else Q)
        short = np.abs(np.einsum("ij,ij->j", V, V) - 1.0) > tolerance
        if not short.any():
            return V
        W = V.copy()
        W[:, short] = np.random.default_rng(attempt).standard_normal((W.shape[0], short.sum()))
    # still short after three tries (never seen): Householder QR of the projected columns
    for _ in range(2):
        if Q is not None:
            W = W - Q @ (Q.T @ W)
    return np.linalg.qr(W)[0]


def _cholesky_qr_twice(W: np.ndarray, Q: np.ndarray | None, first: np.ndarray | None) -> np.ndarray:
    """Two passes of projection and Cholesky QR, the first against ``first`` (None: ``Q``)."""
    for against in (Q if first is None else first, Q):
        if against is not None:
            W = W - against @ (against.T @ W)
        gram = W.T @ W
        # a relative shift keeps the factorisation defined when W is rank deficient
        gram[np.diag_indices_from(gram)] += np.finfo(W.dtype).eps * max(np.trace(gram), 1.0)
        W = W @ np.linalg.inv(np.linalg.cholesky(gram)).T  # a b x b inverse, then one product
    return W
