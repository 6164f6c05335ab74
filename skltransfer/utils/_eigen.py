"""Leading eigenpairs of symmetric (and symmetric-definite generalized) problems.

Two paths, both returning the eigenvalues in decreasing order:

- :func:`top_eigh`, a dense LAPACK solve of the ``k`` largest eigenpairs of ``M`` or of the
  pencil ``(M, B)`` (``B`` positive definite), for matrices that fit in memory as a whole
  (feature-space problems, small kernel problems);
- :func:`block_top_eigh`, a restarted block Krylov method for an operator known only
  through its product with a block of vectors. Every step multiplies the operator by a block
  of ``k + oversampling`` columns, so the work is matrix-matrix products (BLAS level 3)
  instead of the matrix-vector products of Lanczos (``eigsh``), which read the whole
  operator once per vector. A start block (the solution of a neighbouring problem, such as
  the previous round of an alternating method) shortens the solve.

The block method does its small dense steps (Cholesky, triangular solves, the Rayleigh-Ritz
eigensolve) with NumPy's LAPACK, not SciPy's: the wheels of the two libraries each bundle
their own OpenBLAS, whose threads spin for a while after a call, so a SciPy call between two
of the operator's NumPy products leaves the next product sharing the cores with idle
spinning threads (measured: a 4000 x 4000 by 4000 x 45 product takes twice as long right
after SciPy's ``solve_triangular`` as after NumPy's ``solve``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import linalg

__all__ = ["block_top_eigh", "top_eigh"]


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


def _orthonormal(W: np.ndarray, Q: np.ndarray | None) -> np.ndarray:
    """An orthonormal basis of ``W`` orthogonal to the orthonormal ``Q``.

    Two passes of projection and Cholesky QR (``W R^-1`` with ``R^T R = W^T W``, here
    ``W L^-T`` with ``L L^T = W^T W``): matrix products and a small Cholesky factorisation
    only, instead of Householder QR on the tall matrix. Directions of ``W`` that the first
    pass finds (numerically) dependent are replaced by the pass's own output, which is
    renormalised by the second.
    """
    for _ in range(2):
        if Q is not None:
            W = W - Q @ (Q.T @ W)
        gram = W.T @ W
        # a relative shift keeps the factorisation defined when W is rank deficient
        gram[np.diag_indices_from(gram)] += np.finfo(W.dtype).eps * max(np.trace(gram), 1.0)
        W = W @ np.linalg.inv(np.linalg.cholesky(gram)).T  # a b x b inverse, then one product
    return W


def block_top_eigh(
    apply: Callable[[np.ndarray], np.ndarray],
    n: int,
    k: int,
    *,
    random_state,
    dtype=np.float64,
    start: np.ndarray | None = None,
    blocks: int = 8,
    tol: float | None = None,
    max_restarts: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of a symmetric operator, by restarted block Krylov.

    When ``n`` has no room for two blocks, ``S`` is formed from ``apply(I)`` and solved
    densely. Otherwise each cycle builds the block Krylov basis ``[X, S X, ..., S^(blocks-1) X]`` of a block
    ``X`` of ``b = k + max(10, k // 2)`` columns (orthonormalised twice), reads
    ``Q^T S Q`` from the products already made (Rayleigh-Ritz), and stops when every one
    of the ``k`` leading Ritz pairs has residual ``||S u - theta u|| <= tol * |theta_1|``;
    otherwise the next cycle starts from the ``b`` leading Ritz vectors. Convergence is
    checked within a cycle too, where the residuals' decay predicts it, so that a warm
    start stops after the few blocks it needs.

    Parameters
    ----------
    apply : callable
        ``apply(X) -> S @ X`` for a block ``X`` of shape (n, b); ``S`` symmetric.
    n : int
        Order of ``S``.
    k : int
        Number of eigenpairs, ``k < n``.
    random_state : RandomState
        Draws the start block (or the columns that complete ``start``).
    dtype : dtype, default=np.float64
        Working precision.
    start : ndarray of shape (n, j), default=None
        Vectors close to the wanted eigenvectors (warm start).
    blocks : int, default=8
        Krylov blocks per cycle.
    tol : float, default=None
        Largest residual relative to the largest eigenvalue; None is ``1e-8`` for
        float64 and ``1e-4`` for float32.
    max_restarts : int, default=50
        Cycles before giving up.

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        Decreasing.
    eigenvectors : ndarray of shape (n, k)
        Orthonormal columns.

    Raises
    ------
    RuntimeError
        When the residuals are still above ``tol`` after ``max_restarts`` cycles.
    """
    dtype = np.dtype(dtype)
    if tol is None:
        tol = 1e-8 if dtype == np.float64 else 1e-4
    b = min(k + max(10, k // 2), n)
    if 2 * b > n:  # no room for a Krylov basis of two blocks: solve the operator densely
        S = apply(np.eye(n, dtype=dtype))
        return top_eigh((S + S.T) / 2, k)
    blocks = min(blocks, n // b)
    X = random_state.uniform(-1.0, 1.0, size=(n, b)).astype(dtype)
    if start is not None:
        X[:, : min(start.shape[1], b)] = start[:, :b]
    X = _orthonormal(X, None)
    Q = np.empty((n, blocks * b), dtype=dtype)  # the basis, filled block by block
    SQ = np.empty_like(Q)  # its image under S
    for _ in range(max_restarts):
        Q[:, :b] = X
        checks: list[tuple[int, float]] = []  # (blocks in the basis, largest relative residual)
        for j in range(1, blocks + 1):
            block = slice((j - 1) * b, j * b)
            SQ[:, block] = apply(Q[:, block])
            if j == blocks or _check_due(checks, j, tol):
                values, U, residuals = _ritz_pairs(Q[:, : j * b], SQ[:, : j * b], b, k)
                checks.append((j, residuals.max() / max(abs(values[0]), np.finfo(dtype).tiny)))
                if checks[-1][1] <= tol:
                    return values[:k], U[:, :k]
            if j < blocks:
                Q[:, block.stop : block.stop + b] = _orthonormal(SQ[:, block], Q[:, : block.stop])
        X = _orthonormal(U, None)
    raise RuntimeError(
        f"The block eigensolver did not converge in {max_restarts} cycles (largest relative "
        f"residual {checks[-1][1]:.1e}, tolerance {tol:.0e})."
    )


def _ritz_pairs(Q: np.ndarray, SQ: np.ndarray, b: int, k: int):
    """Rayleigh-Ritz on the basis ``Q`` (with ``SQ = S Q``): the ``b`` leading Ritz values and
    vectors, and the residual norms ``||S u - theta u||`` of the ``k`` leading ones."""
    T = Q.T @ SQ
    values, Z = np.linalg.eigh((T + T.T) / 2)
    values, Z = values[: -b - 1 : -1], Z[:, : -b - 1 : -1]
    U, SU = Q @ Z, SQ @ Z
    return values, U, np.linalg.norm(SU[:, :k] - U[:, :k] * values[:k], axis=0)


def _check_due(checks: list[tuple[int, float]], j: int, tol: float) -> bool:
    """Whether to check convergence with ``j`` blocks in the basis.

    A check costs a Rayleigh-Ritz solve on the whole basis; the residual falls about
    geometrically with the blocks, so after two checks the next one is made where the rate
    between them predicts convergence (a warm start, being close, is checked at once).
    """
    if len(checks) < 2:
        return True
    (j0, r0), (j1, r1) = checks[-2:]
    rate = (r1 / r0) ** (1.0 / (j1 - j0)) if r0 > 0 else 0.0
    return r1 * rate ** (j - j1) <= tol
