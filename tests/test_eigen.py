"""The shared eigensolver parts: dense leading eigenpairs, block orthonormalisation and the
convergence-check schedule (the block Krylov method that uses them is tested with the exact
TCA solver, tests/test_tca.py)."""

import numpy as np
import pytest
from scipy import linalg

from skltransfer.utils._eigen import check_due, orthonormal, top_eigh


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


def test_check_due_predicts_from_the_residual_decay():
    assert check_due([], 1, 1e-8) and check_due([(1, 1.0)], 2, 1e-8)
    checks = [(2, 1e-1), (3, 1e-2)]  # tenfold per block: 1e-8 at block 9
    assert not check_due(checks, 8, 1e-8)
    assert check_due(checks, 9, 1e-8)
