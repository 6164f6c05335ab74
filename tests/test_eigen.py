"""The shared eigensolver parts: dense leading eigenpairs, block orthonormalisation and the
convergence-check schedule (the block Krylov method that uses them is tested with the exact
TCA solver, tests/test_tca.py)."""

import numpy as np
import pytest
from scipy import linalg

from skltransfer.utils._eigen import orthonormal, top_eigh


def _spd(n, seed, decay=0.9):
    rng = np.random.default_rng(seed)
    Q = linalg.qr(rng.normal(size=(n, n)))[0]
    return (Q * decay ** np.arange(n)) @ Q.T


def test_top_eigh_matches_full_eigh_also_generalized():
    A, B = _spd(40, 0), _spd(40, 1, decay=0.99) + np.eye(40)
    values, vectors = top_eigh(A, 5)
    full_values, full_vectors = linalg.eigh(A)
    np.testing.assert_allclose(values, full_values[::-1][:5])
    np.testing.assert_allclose(np.abs(vectors.T @ full_vectors[:, ::-1][:, :5]), np.eye(5), atol=1e-8)
    values, vectors = top_eigh(A, 3, B=B)
    np.testing.assert_allclose(values, linalg.eigh(A, B, eigvals_only=True)[::-1][:3])
    np.testing.assert_allclose(vectors.T @ B @ vectors, np.eye(3), atol=1e-10)  # B-orthonormal


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_orthonormal_block_against_a_basis(dtype):
    rng = np.random.default_rng(0)
    basis = linalg.qr(rng.normal(size=(200, 10)), mode="economic")[0].astype(dtype)
    W = rng.normal(size=(200, 6)).astype(dtype)
    W[:, 5] = W[:, 0] + basis[:, 0]  # dependent on the rest once the basis is projected out
    V = orthonormal(W, basis)
    atol = 1e-12 if dtype == np.float64 else 1e-5
    assert V.dtype == dtype
    np.testing.assert_allclose(V.T @ V, np.eye(6), atol=atol)
    np.testing.assert_allclose(basis.T @ V, 0.0, atol=atol)
    # the first five columns of W, less their basis components, lie in the span of V
    projected = W[:, :5] - basis @ (basis.T @ W[:, :5])
    np.testing.assert_allclose(V @ (V.T @ projected), projected, atol=100 * atol)


def test_orthonormal_replaces_dependent_columns_by_orthonormal_ones():
    """Columns inside the span of Q and of each other come back orthonormal and orthogonal to Q."""
    rng = np.random.RandomState(0)
    Q = np.linalg.qr(rng.normal(size=(50, 6)))[0]
    W = np.hstack([Q[:, :3] @ rng.normal(size=(3, 4)), np.repeat(rng.normal(size=(50, 1)), 2, axis=1)])
    V = orthonormal(W, Q)
    np.testing.assert_allclose(V.T @ V, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(Q.T @ V, 0, atol=1e-10)
