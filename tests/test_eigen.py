"""The shared eigensolvers: dense leading eigenpairs and the block Krylov method."""

import numpy as np
import pytest
from scipy import linalg

from skltransfer.utils._eigen import block_top_eigh, top_eigh


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
def test_block_krylov_matches_dense_and_warm_start_saves_products(dtype):
    S = _spd(300, 2, decay=0.97).astype(dtype)
    columns = []

    def apply(X):
        columns.append(X.shape[1])
        return S @ X

    values, vectors = block_top_eigh(apply, 300, 6, random_state=np.random.RandomState(0), dtype=dtype)
    reference, reference_vectors = top_eigh(S.astype(np.float64), 6)
    rtol = 1e-7 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(values, reference, rtol=rtol)
    assert vectors.dtype == dtype
    np.testing.assert_allclose(np.abs(np.sum(vectors * reference_vectors, axis=0)), 1.0, rtol=rtol)
    cold = sum(columns)
    columns.clear()
    block_top_eigh(apply, 300, 6, random_state=np.random.RandomState(1), dtype=dtype, start=vectors)
    assert sum(columns) < cold  # the warm start converges within the first cycle


def test_block_krylov_reports_no_convergence():
    S = _spd(300, 3, decay=0.999)  # nearly flat spectrum: slow to converge

    with pytest.raises(RuntimeError, match="did not converge in 1 cycles"):
        block_top_eigh(
            lambda X: S @ X, 300, 6, random_state=np.random.RandomState(0), blocks=2, max_restarts=1
        )


def test_block_krylov_on_a_small_operator_solves_it_densely():
    S = _spd(40, 4)
    values, vectors = block_top_eigh(lambda X: S @ X, 40, 25, random_state=np.random.RandomState(0))
    reference, reference_vectors = top_eigh(S, 25)
    np.testing.assert_allclose(values, reference, rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(vectors * reference_vectors, axis=0)), 1.0, rtol=1e-8)
