"""The shared eigensolver parts: dense leading eigenpairs, block orthonormalisation, the
check schedule; and the exact TCA solver's block Krylov method in the kernel."""

import numpy as np
import pytest
from scipy import linalg
from sklearn.metrics.pairwise import rbf_kernel

from skltransfer.alignment._tca_solvers import _dense_eigh, _kernel_krylov_eigh, _whitening, mmd_columns
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


class _CountingKernel:
    """A kernel matrix that counts the columns it is multiplied with."""

    def __init__(self, K):
        self.K, self.shape, self.dtype, self.columns = K, K.shape, K.dtype, 0

    def __matmul__(self, other):
        self.columns += other.shape[1]
        return self.K @ other


def _tca_problem(n, dtype=np.float64, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, 5))
    X[n // 2 :] += 0.5  # the target half, shifted
    K = rbf_kernel(X, gamma=0.3).astype(dtype)
    E = mmd_columns(np.arange(n) < n // 2)
    Q, beta = _whitening(K @ E.astype(dtype) / float(np.sqrt(np.linalg.norm(E.T @ E))), 1.0)
    return K, Q, beta


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_krylov_matches_the_dense_solve_and_warm_start_saves_products(dtype):
    K, Q, beta = _tca_problem(400, dtype)
    counting = _CountingKernel(K)
    values, vectors = _kernel_krylov_eigh(counting, Q, beta, 1.0, 6, random_state=np.random.RandomState(0))
    reference, reference_vectors = _dense_eigh(K.astype(np.float64), Q.astype(np.float64), beta, 1.0, 6)
    rtol = 1e-7 if dtype == np.float64 else 1e-3
    assert vectors.dtype == dtype
    np.testing.assert_allclose(values, reference, rtol=rtol)
    np.testing.assert_allclose(np.abs(np.sum(vectors * reference_vectors, axis=0)), 1.0, rtol=rtol)
    cold, counting.columns = counting.columns, 0
    _kernel_krylov_eigh(counting, Q, beta, 1.0, 6, random_state=np.random.RandomState(1), start=vectors)
    assert counting.columns < cold  # the warm start converges in fewer blocks


def test_kernel_krylov_reports_no_convergence():
    K, Q, beta = _tca_problem(400)
    with pytest.raises(RuntimeError, match="did not converge in 1 cycles"):
        _kernel_krylov_eigh(
            K, Q, beta, 1.0, 6, random_state=np.random.RandomState(0), blocks=3, max_restarts=1
        )


def test_kernel_krylov_without_room_for_three_blocks_solves_densely():
    K, Q, beta = _tca_problem(60)
    values, vectors = _kernel_krylov_eigh(K, Q, beta, 1.0, 25, random_state=np.random.RandomState(0))
    reference, reference_vectors = _dense_eigh(K, Q, beta, 1.0, 25)
    np.testing.assert_allclose(values, reference, rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(vectors * reference_vectors, axis=0)), 1.0, rtol=1e-8)


def test_kernel_krylov_on_a_low_rank_kernel_matches_the_dense_solve():
    # a linear kernel of 5 features has rank 5: the Krylov space is exhausted after one
    # block, and the directions that come out dependent are replaced by random ones
    X = np.random.default_rng(1).normal(size=(400, 5))
    X[200:] += 0.5
    K = X @ X.T
    E = mmd_columns(np.arange(400) < 200)
    Q, beta = _whitening(K @ E / float(np.sqrt(np.linalg.norm(E.T @ E))), 1.0)
    values, vectors = _kernel_krylov_eigh(K, Q, beta, 1.0, 3, random_state=np.random.RandomState(0))
    reference, reference_vectors = _dense_eigh(K, Q, beta, 1.0, 3)
    np.testing.assert_allclose(values, reference, rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(vectors * reference_vectors, axis=0)), 1.0, rtol=1e-7)
