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
``S = A^{-1/2} K H K A^{-1/2}``, whose leading eigenvectors ``y`` give ``W = A^{-1/2} y``. For
small problems ``S`` is formed densely; otherwise its leading eigenpairs come from a block
Krylov space of ``K`` itself (:func:`_kernel_krylov_eigh`): no ``n x n`` inverse, no
generalized dense eigensolve, one product of ``K`` with a block of vectors per block. JDA solves a
sequence of such problems with the same ``K`` and a new ``E``: :class:`ExactProblem` starts
each solve from the previous solution.

When the kernel is an inner product of explicit features, ``K = Phi Phi^T`` (Nyström), the
optimal ``W`` lies in the span of ``Phi``, and the whole problem reduces to the
``m x m`` statistics ``Phi^T Phi``, ``Phi^T 1`` and ``Phi^T E``: linear time and memory in the
number of rows. The part that does not depend on ``E`` (the eigendecomposition of
``Phi^T Phi`` and the centred variance in its basis) is factored once by
:class:`FeatureProblem`; each solve for a new ``E`` is one ``rank(Phi)``-order dense eigensolve.

Every computation runs in the precision of the kernel matrix or features (float32 or float64).

Each solver returns the components with one of two normalisations: ``"constraint"``, the
``W^T A W = I`` of the generalized problem, or ``"unit"``, every column of ``W`` (the
coefficients on the fitted rows) of unit Euclidean norm, which is what ``eigs`` returns in
the MATLAB reference code of Pan et al. and Long et al. The two differ by one positive factor
per component, so they span the same subspace, but distance-based classifiers on the
embedding see different scales.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import linalg

from ..utils._eigen import orthonormal, top_eigh

__all__ = ["ExactProblem", "FeatureProblem", "KernelProblem", "mmd_columns"]

# Up to this many rows the exact solver forms S densely instead of running block Krylov:
# the measured crossover (rbf, 800 features, 30 components, 2 cores: dense 0.03 s against
# 0.07 s at 300 rows, equal at 600, 0.23 s against 0.14 s at 1000).
_DENSE_MAX_ROWS = 600

# Columns of the block Krylov basis of one cycle of the exact solver: room for the trace of
# a flat spectrum to converge without a restart (isotropic rbf data, n = 4000, 30
# components: 512 to 576 columns for a relative deficit of 1e-6 to 1e-8).
_CYCLE_COLUMNS = 768

#: The exact solver's tolerance on the objective: the relative growth of the trace of the
#: ``k`` leading eigenvalues still to come when it stops, by working precision.
OBJECTIVE_TOL = {"float64": 1e-6, "float32": 1e-4}

# A growth of the trace below this fraction of it is rounding: the space adds nothing.
_STALL = 1e-12


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
    Q, s, _ = linalg.svd(V, full_matrices=False, check_finite=False)
    keep = s > s.max(initial=0.0) * max(V.shape) * np.finfo(V.dtype).eps
    Q, s = Q[:, keep], s[keep]
    return Q, (1.0 / np.sqrt(1.0 + s**2 / mu) - 1.0).astype(V.dtype)


def _apply(Q: np.ndarray, beta: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``(I + Q diag(beta) Q^T) Y``."""
    return Y + Q @ (beta[:, None] * (Q.T @ Y))


def _scale(E: np.ndarray) -> float:
    return float(np.sqrt(np.linalg.norm(E.T @ E)))


def _norm_scale(W: np.ndarray, norm: str) -> np.ndarray | float:
    """The factor per column that takes ``W`` (``W^T A W = I``) to the normalisation ``norm``."""
    return 1.0 / np.linalg.norm(W, axis=0) if norm == "unit" else 1.0


def _kernel_krylov_eigh(
    K: np.ndarray,
    Q: np.ndarray,
    beta: np.ndarray,
    mu: float,
    k: int,
    *,
    random_state,
    start: np.ndarray | None = None,
    blocks: int | None = None,
    tol: float | None = None,
    max_restarts: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` leading eigenpairs of ``S = P K H K P / mu`` from a block Krylov space of ``K``.

    ``P = I + Q diag(beta) Q^T`` and the centering ``H`` only add the directions of ``Q`` and
    of the constant vector to what ``K`` spans, so with those directions in the start block
    the space ``[V0, K V0, K^2 V0, ...]`` contains ``S^j V0`` after ``2 j`` blocks, and its
    odd powers as well: one product of ``K`` per block, where a Krylov space of ``S`` needs two
    per block for the even powers only. The Rayleigh-Ritz matrix of ``S`` on the basis,
    ``(H K P V)^T (H K P V) / mu``, is read from the products already made
    (:class:`_RayleighRitz`). The basis is block Lanczos with full reorthogonalisation: ``K``
    times a block is orthogonal to all but the last two blocks in exact arithmetic, so the
    first of the two projections of :func:`skltransfer.utils._eigen.orthonormal` is against
    those two only.

    The solve stops on the TCA objective, not on the residuals of single eigenvectors: the
    trace of the ``k`` leading Ritz values, the objective ``tr(W^T K H K W)`` of the
    components under the constraint, can only grow with the basis (Cauchy interlacing), and
    the solve stops when the growth still to come, extrapolated from the last three checks
    (:func:`_trace_deficit`), is below ``tol`` times the trace. Where the leading
    eigenvalues cluster, as for an rbf kernel on isotropic data, the trace converges long
    before the residual of each eigenvector (measured at n = 4000, 800 isotropic features,
    30 components: relative trace deficit ``6e-7`` after 512 product columns, when the
    largest relative residual is still ``4e-5`` and needs 768 columns to reach ``1e-8``).
    Within a cluster the eigenvectors are not determined by the data (any rotation of
    them changes the objective by less than the cluster's spread); the subspace of
    well-separated eigenvalues converges with the trace (an angle of order
    ``sqrt(tol * trace / gap)``). A check costs one symmetric eigenvalue solve of the
    Rayleigh-Ritz matrix, of order ``(j b)^3`` after ``j`` blocks of ``b`` columns, against
    ``n^2 b`` for a block's product with ``K``: while a check is the cheaper, every block is
    checked (at n = 4000 and 30 components, up to 544 columns: the isotropic case above
    stops one block earlier than with predicted checks, 5% of its time); after that, checks
    are made where the trace's decay predicts convergence (:func:`_next_check`). A cycle
    that ends first restarts from its Ritz vectors.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric kernel matrix; its dtype is the working precision.
    Q, beta : ndarray
        ``P`` (:func:`_whitening`).
    mu : float
        Regularisation weight.
    k : int
        Number of eigenpairs.
    random_state : RandomState
        Draws the start block.
    start : ndarray of shape (n, k), default=None
        Approximate eigenvectors (the previous JDA round's), used as the start block.
    blocks : int, default=None
        Blocks per cycle; None is as many as fit in ``_CYCLE_COLUMNS`` columns (24 blocks of
        32 columns for 30 components). Never more than ``n / 2`` columns: a basis near the
        whole space leaves no room for the random directions that replace an exhausted
        Krylov space.
    tol : float, default=None
        Largest relative growth of the objective still to come; None is
        :data:`OBJECTIVE_TOL` of the working precision.
    max_restarts : int, default=10
        Cycles before giving up.

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        Decreasing.
    eigenvectors : ndarray of shape (n, k)
        Orthonormal columns ``Y``.
    KPY : ndarray of shape (n, k)
        ``K P Y``, read from the products already made (the embedding of the fitted rows is
        ``K W`` with ``W = P Y / sqrt(mu)``).

    Raises
    ------
    RuntimeError
        When the objective still grows by more than ``tol`` after ``max_restarts`` cycles.
    """
    n, dtype = K.shape[0], K.dtype
    if tol is None:
        tol = OBJECTIVE_TOL[np.dtype(dtype).name]
    fixed = np.column_stack([Q, np.ones((n, 1), dtype=dtype)])  # what P and H add to a span
    b = k + fixed.shape[1]
    blocks = min(max(_CYCLE_COLUMNS // b, 3) if blocks is None else blocks, n // (2 * b))
    if blocks < 3:  # no room for a Krylov space of three blocks
        return _dense_eigh(K, Q, beta, mu, k)
    X = random_state.uniform(-1.0, 1.0, size=(n, k)).astype(dtype)
    if start is not None:
        X[:, : min(start.shape[1], k)] = start[:, :k]
    V = np.empty((n, blocks * b), dtype=dtype)  # the basis, block by block
    KV = np.empty_like(V)  # its products with K
    ritz = _RayleighRitz(V, KV, Q, beta, mu, start_columns=b)
    for _ in range(max_restarts):
        V[:, :b] = orthonormal(np.column_stack([X, fixed]), None)
        ritz.restart()
        checks: list[tuple[int, float]] = []
        for j in range(1, blocks + 1):
            block = slice((j - 1) * b, j * b)
            KV[:, block] = (V[:, block].T @ K).T  # K is symmetric; this form is ~20% faster (OpenBLAS)
            # a check costs an eigenvalue solve of order (j b)^3, a block a product of order n^2 b:
            # while the check is the cheaper, every block is checked (a late stop costs a block)
            cheap_check = (j * b) ** 3 <= n * n * b
            if j >= 2 and (j == blocks or cheap_check or j >= _next_check(checks, tol)):
                checks.append((j, float(ritz.values(k, j * b).sum())))
                deficit = _trace_deficit(checks)
                if deficit <= tol * abs(checks[-1][1]):
                    return ritz.pairs(k, j * b)
            if j < blocks:
                recent = V[:, max(block.start - b, 0) : block.stop]  # the last two blocks
                V[:, block.stop : block.stop + b] = orthonormal(KV[:, block], V[:, : block.stop], recent)
        _, X, _ = ritz.pairs(k, blocks * b)
    raise RuntimeError(
        f"The block eigensolver did not converge in {max_restarts} cycles (objective still "
        f"growing by an estimated {deficit / abs(checks[-1][1]):.1e} of itself, tolerance {tol:.0e})."
    )


def _trace_deficit(checks: list[tuple[int, float]]) -> float:
    """How much the trace of the Ritz values will still grow, from the last three checks.

    ``checks`` holds ``(block, trace)`` pairs. The trace's deficit is modelled as
    ``C rho^block``: the two last increments give ``rho`` (checks need not be equally spaced)
    and the deficit after the last check. Fewer than three checks, or increments that do not
    shrink geometrically, give ``inf``. An increment at rounding level (``_STALL`` times the
    trace) gives 0: the new blocks added nothing, because the trace has converged or because
    the Krylov space is exhausted (a kernel of low numerical rank), when further blocks would
    only be random directions.
    """
    if len(checks) < 2:
        return np.inf
    (j1, t1), (j2, t2) = checks[-2:]
    d2 = t2 - t1
    if d2 <= _STALL * abs(t2):
        return 0.0
    if len(checks) < 3:
        return np.inf
    j0, t0 = checks[-3]
    d1 = t1 - t0
    rho = _rate(d2 / d1, j1 - j0, j2 - j1) if d1 > 0.0 else 1.0
    if rho >= 1.0:
        return np.inf
    return d2 * rho ** (j2 - j1) / (1.0 - rho ** (j2 - j1))


def _rate(ratio: float, s1: int, s2: int) -> float:
    """``rho`` in (0, 1) with ``rho^s1 (1 - rho^s2) / (1 - rho^s1) = ratio`` (1.0 if none).

    The left side, the ratio of two increments of a deficit ``C rho^j`` over ``s1`` then
    ``s2`` blocks, grows from 0 to ``s2 / s1`` as ``rho`` goes from 0 to 1: bisection.
    """
    if ratio >= s2 / s1:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(60):
        rho = 0.5 * (low + high)
        if rho**s1 * (1.0 - rho**s2) / (1.0 - rho**s1) < ratio:
            low = rho
        else:
            high = rho
    return 0.5 * (low + high)


def _next_check(checks: list[tuple[int, float]], tol: float) -> int:
    """The block at which to check the trace next.

    Each block's check until there are three; then where the last two increments predict
    the deficit below ``tol`` (:func:`_trace_deficit`), but never more than a third as many
    blocks again as at the last check: the decay speeds up as the space grows, so the
    prediction is late, and a check (one eigenvalue solve of the Rayleigh-Ritz matrix, a
    fraction of the cost of a block's product with ``K`` up to about 600 columns) is cheaper
    than a block too many.
    """
    if len(checks) < 3:
        return 0
    j, trace = checks[-1]
    deficit = _trace_deficit(checks)
    limit = j + max(1, j // 3)
    if not np.isfinite(deficit):
        return limit
    (j0, t0), (j1, t1) = checks[-3], checks[-2]
    rho = _rate((trace - t1) / (t1 - t0), j1 - j0, j - j1)
    if deficit <= 0.0 or rho <= 0.0:
        return j + 1
    return min(limit, j + max(1, math.ceil(math.log(tol * abs(trace) / deficit) / math.log(rho))))


def _dense_eigh(K, Q, beta, mu, k):
    """The ``k`` leading eigenpairs of ``S = P K H K P / mu``, with ``S`` formed densely, and
    ``K P`` times the eigenvectors."""
    M = K @ _apply(Q, beta, np.eye(K.shape[0], dtype=K.dtype))  # K P
    means = M.mean(axis=0)
    M -= means  # H K P
    values, Y = top_eigh(M.T @ M / mu, k)
    return values, Y, M @ Y + means @ Y


class _RayleighRitz:
    """Rayleigh-Ritz of ``S = P K H K P / mu`` on the growing basis ``V``, from ``K V``.

    ``V`` and ``KV`` are the basis and its products with ``K``, filled block by block; the
    start block, the first ``start_columns`` columns, spans ``Q``. The columns of ``H K P V``
    and their Gram matrix depend only on their own column of ``V``, so each is computed once,
    at the first check that includes it.
    """

    def __init__(
        self, V: np.ndarray, KV: np.ndarray, Q: np.ndarray, beta: np.ndarray, mu: float, *, start_columns: int
    ):
        self.V, self.KV, self.Q, self.beta, self.mu = V, KV, Q, beta, mu
        self.start = slice(0, start_columns)
        self.HKPV = np.empty_like(V)
        self.means = np.empty(V.shape[1], dtype=V.dtype)
        self.gram = np.zeros((V.shape[1], V.shape[1]), dtype=V.dtype)  # lower triangle filled

    def restart(self) -> None:
        """Forget the columns of the previous cycle (a new start block)."""
        self.done, self.KQ = 0, None

    def _extend(self, m: int) -> None:
        """Columns of ``H K P V`` and rows of their Gram matrix up to ``m``."""
        V, KV, Q, beta = self.V, self.KV, self.Q, self.beta
        if self.KQ is None:  # K Q, from the start block's products
            self.KQ = KV[:, self.start] @ (V[:, self.start].T @ Q)
        new = slice(self.done, m)
        columns = KV[:, new] + self.KQ @ (beta[:, None] * (Q.T @ V[:, new]))  # K P V
        self.means[new] = columns.mean(axis=0)
        columns -= self.means[new]  # H K P V
        self.HKPV[:, new] = columns
        self.gram[new, :m] = columns.T @ self.HKPV[:, :m]
        self.done = m

    def values(self, k: int, m: int) -> np.ndarray:
        """The ``k`` leading Ritz values on the first ``m`` columns, decreasing."""
        self._extend(m)
        return np.linalg.eigvalsh(self.gram[:m, :m])[: -k - 1 : -1] / self.mu  # lower triangle

    def pairs(self, k: int, m: int):
        """The ``k`` leading Ritz values and vectors ``u`` on the first ``m`` columns and
        ``K P u``."""
        self._extend(m)
        values, Z = np.linalg.eigh(self.gram[:m, :m])  # reads the lower triangle
        values, Z = values[: -k - 1 : -1] / self.mu, Z[:, : -k - 1 : -1]
        return values, self.V[:, :m] @ Z, self.HKPV[:, :m] @ Z + self.means[:m] @ Z


class ExactProblem:
    """TCA on the full kernel matrix ``K`` of the fitted rows, for any number of MMD matrices.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric kernel matrix (not modified); its dtype is the working precision.
    random_state : RandomState
        Draws the start block of the first iterative solve.
    """

    def __init__(self, K: np.ndarray, random_state):
        self.K = K
        self.random_state = random_state
        self._previous = None
        self.limit = K.shape[0] - 1
        self.limit_reason = "the number of fitted rows minus one"

    def solve(
        self, E: np.ndarray, mu: float, k: int, norm: str = "constraint"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Leading ``k`` components for the MMD columns ``E``.

        Parameters
        ----------
        E : ndarray of shape (n, r)
            Columns of the MMD matrix (:func:`mmd_columns`).
        mu : float
            Weight of the ``||W||^2`` regularisation.
        k : int
            Number of components, ``k < n``.
        norm : {"constraint", "unit"}, default="constraint"
            ``W^T (K L K + mu I) W = I``, or unit Euclidean norm of every column of ``W``.

        Returns
        -------
        eigenvalues : ndarray of shape (k,)
            Values of the objective (variance over MMD plus regularisation), decreasing.
        W : ndarray of shape (n, k)
            Dual coefficients: the embedding of rows ``X`` is ``kernel(X, X_fit) @ W``.
        embedding : ndarray of shape (n, k)
            ``K W``, the embedding of the fitted rows (from the solver's own products).
        """
        K = self.K
        n = K.shape[0]
        Q, beta = _whitening(K @ E.astype(K.dtype) / _scale(E), mu)

        if n <= _DENSE_MAX_ROWS:
            eigvals, Y, KPY = _dense_eigh(K, Q, beta, mu, k)
        else:
            eigvals, Y, KPY = _kernel_krylov_eigh(
                K, Q, beta, mu, k, random_state=self.random_state, start=self._previous
            )
            self._previous = Y
        W = _apply(Q, beta, Y) / math.sqrt(mu)
        scale = _norm_scale(W, norm)
        return eigvals, W * scale, KPY * (scale / math.sqrt(mu))


class FeatureProblem:
    """TCA for the kernel ``K = Phi Phi^T`` of explicit features, from ``m x m`` statistics.

    The features are ``Phi = C N^T``: the kernel ``C`` of the rows to some landmarks, times
    the Nyström map ``N`` (None: ``Phi = C``, as for the linear kernel in feature space).

    Parameters
    ----------
    gram, sums : ndarray
        ``C^T C`` (m, m) and ``C^T 1`` (m,) of the fitted rows; their dtype is the working
        precision.
    n : int
        Number of fitted rows.
    normalization : ndarray of shape (p, m), default=None
        The Nyström map ``N``.
    rows : ndarray of shape (n, m), default=None
        ``C`` itself, kept for :meth:`solve` to compute ``C^T E``.
    """

    def __init__(self, gram: np.ndarray, sums: np.ndarray, n: int, normalization=None, rows=None):
        self.normalization, self.rows = normalization, rows
        if normalization is not None:
            gram, sums = normalization @ gram @ normalization.T, normalization @ sums
        # Phi = U diag(sqrt(s)) V^T. W = U g spans the only useful directions; there K W = U diag(s) g.
        s, V = linalg.eigh(gram, check_finite=False)
        keep = s > s.max(initial=0.0) * gram.shape[0] * np.finfo(gram.dtype).eps
        s, V = s[keep], V[:, keep]
        self.rank = s.shape[0]
        self.limit = min(self.rank, n - 1)
        self.limit_reason = "the rank of the kernel features"
        self.R = V * np.sqrt(s)  # V D^{1/2}
        # U^T H U diag(s) ... in the U basis: B = D U^T H U D = D^{1/2} V^T (Phi^T H Phi) V D^{1/2}.
        RT_sums = self.R.T @ sums
        self.B = self.R.T @ gram @ self.R - np.outer(RT_sums, RT_sums) / n

    def solve(
        self, E: np.ndarray, mu: float, k: int, norm: str = "constraint", cross: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Leading ``k <= rank`` components for the MMD columns ``E``.

        Parameters
        ----------
        E : ndarray of shape (n, r)
            Columns of the MMD matrix (:func:`mmd_columns`).
        mu : float
            Weight of the ``||W||^2`` regularisation.
        k : int
            Number of components.
        norm : {"constraint", "unit"}, default="constraint"
            Normalisation of the dual coefficients ``W`` (``K W = Phi coef``), as in
            :meth:`ExactProblem.solve`.
        cross : ndarray of shape (m, r), default=None
            ``C^T E``, when the rows ``C`` are not kept (statistics accumulated by blocks).

        Returns
        -------
        eigenvalues : ndarray of shape (k,)
            Values of the objective, decreasing.
        projection : ndarray of shape (m, k)
            The embedding of rows is ``C(X) @ projection``.
        embedding : ndarray of shape (n, k) or None
            ``C @ projection``, the embedding of the fitted rows (None when ``C`` is not kept).
        """
        if cross is None:
            cross = self.rows.T @ E.astype(self.rows.dtype)
        if self.normalization is not None:
            cross = self.normalization @ cross
        Q, beta = _whitening(self.R.T @ cross.astype(self.R.dtype) / _scale(E), mu)
        BP = _apply(Q, beta, _apply(Q, beta, self.B).T)  # P B P (B symmetric)
        eigvals, Y = top_eigh((BP + BP.T) / (2 * mu), k)
        # W = U g with g the columns below: ||W|| = ||g||, and Phi coef = U diag(s) g = K W.
        g = _apply(Q, beta, Y) / math.sqrt(mu)
        coef = self.R @ (g * _norm_scale(g, norm))
        projection = coef if self.normalization is None else self.normalization.T @ coef
        return eigvals, projection, None if self.rows is None else self.rows @ projection


class KernelProblem(NamedTuple):
    """What a TCA fit solves: the landmarks and the solver.

    ``solver.solve(E, mu, k, norm)`` returns the eigenvalues, the projection ``P`` with which
    rows embed as ``kernel(X, landmarks) @ P``, and the embedding of the fitted rows.
    """

    landmarks: np.ndarray
    solver: ExactProblem | FeatureProblem
