"""The Nyström solver of TCA: landmarks, the Nyström map, in-memory and block-by-block fits.

The kernel of the fitted rows is approximated by ``C N^T N C^T`` with ``C`` the kernel of the
rows to ``n_landmarks`` random rows and ``N`` the Nyström map of the landmarks; TCA then
reduces to ``n_landmarks x n_landmarks`` statistics (:class:`FeatureProblem`): time and memory
linear in the number of rows. A Dask array is read one block of rows at a time, accumulating
the same statistics.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.utils import check_random_state, gen_batches

from ..utils._sklearn_compat import validate_data
from ._tca_solvers import FeatureProblem, KernelProblem, mmd_columns

__all__ = ["batches", "fit_nystroem_blocks", "nystroem_problem"]

# Kernel evaluations against the landmarks are done in batches of about this many entries.
_BATCH_ENTRIES = 1 << 22


def batches(n_rows: int, n_columns: int):
    """Slices of rows whose kernel against ``n_columns`` landmarks holds ~4M entries."""
    return gen_batches(n_rows, max(1, _BATCH_ENTRIES // max(n_columns, 1)))


def _landmark_rows(n: int, n_landmarks: int, random_state) -> np.ndarray:
    """Sorted indices of the Nyström landmarks among ``n`` rows (uniform, no replacement)."""
    return np.sort(random_state.permutation(n)[: min(n_landmarks, n)])


def _nystroem_map(kernel, landmarks: np.ndarray) -> np.ndarray:
    """``N = diag(s)^{-1/2} U^T`` over the eigenpairs of the landmarks' kernel matrix above a
    relative tolerance (a rank-revealing pseudo-inverse square root), so that rank-deficient
    kernels, such as a linear kernel with fewer features than landmarks, give
    well-conditioned features ``kernel(x, landmarks) @ N.T``."""
    s, U = linalg.eigh(kernel(landmarks, landmarks), check_finite=False)
    keep = s > s.max(initial=0.0) * landmarks.shape[0] * np.finfo(s.dtype).eps
    return (U[:, keep] / np.sqrt(s[keep])).T


def nystroem_problem(aligner, X: np.ndarray, random_state) -> KernelProblem:
    """The Nyström problem of ``aligner`` (an :class:`MMDAligner`) on the rows ``X``.

    The kernel ``C`` of the rows to the landmarks (memory ``n * n_landmarks``) is kept: it
    gives the embedding of the fitted rows and serves every round of JDA.
    """
    n = X.shape[0]
    landmarks = X[_landmark_rows(n, aligner.n_landmarks, random_state)]
    C = np.empty((n, landmarks.shape[0]), dtype=X.dtype)
    for batch in batches(*C.shape):
        C[batch] = aligner._kernel(X[batch], landmarks)
    normalization = _nystroem_map(aligner._kernel, landmarks)
    problem = FeatureProblem(C.T @ C, C.sum(axis=0), n, normalization=normalization, rows=C)
    return KernelProblem(landmarks, problem)


def fit_nystroem_blocks(aligner, X, y, sample_domain):
    """Gather the landmarks of the Dask array ``X``, then accumulate the solver's statistics
    over one block of rows at a time.

    The landmarks are the rows an in-memory fit draws with the same ``random_state``.
    ``y`` and ``sample_domain`` are read into memory.

    Returns
    -------
    landmarks : ndarray of shape (n_landmarks, n_features)
    problem : FeatureProblem
    E : ndarray of shape (n_samples, 1)
        The MMD column of the domains.
    cross : ndarray of shape (n_landmarks, 1)
        ``C^T E``.
    """
    X = X.rechunk({1: -1})
    n = X.shape[0]
    random_state = check_random_state(aligner.random_state)
    landmarks = np.asarray(X[_landmark_rows(n, aligner.n_landmarks, random_state)])
    landmarks = validate_data(aligner, landmarks, dtype=[np.float64, np.float32])
    domains = aligner._resolve_domains(
        None if y is None else np.asarray(y),
        None if sample_domain is None else np.asarray(sample_domain),
        n,
    )
    E = mmd_columns(domains.source)
    m, dtype = landmarks.shape[0], landmarks.dtype
    gram, sums = np.zeros((m, m), dtype=dtype), np.zeros(m, dtype=dtype)
    cross = np.zeros((m, E.shape[1]), dtype=dtype)
    start = 0
    # One graph optimisation for all blocks: ``X.blocks[i].compute()`` would cull the whole
    # graph again for every block, a cost quadratic in the number of blocks.
    for delayed_block in X.to_delayed().ravel():
        block = validate_data(aligner, delayed_block.compute(), dtype=[np.float64, np.float32], reset=False)
        stop = start + block.shape[0]
        C = aligner._kernel(block.astype(dtype, copy=False), landmarks)
        gram += C.T @ C
        sums += C.sum(axis=0)
        cross += C.T @ E[start:stop].astype(dtype)
        start = stop
    problem = FeatureProblem(gram, sums, n, normalization=_nystroem_map(aligner._kernel, landmarks))
    return landmarks, problem, E, cross
