"""The shared kernel matrix: the symmetric fast path against scikit-learn's kernels."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import linear_kernel, pairwise_kernels, rbf_kernel
from threadpoolctl import threadpool_limits

from skltransfer.utils._kernels import kernel_matrix, symmetric_kernel


@pytest.mark.parametrize("n", [1, 255, 256, 257, 600])
@pytest.mark.parametrize("gamma", [None, 0.02, 3.0])
@pytest.mark.parametrize("blas_threads", [1, 2])
def test_symmetric_rbf_matches_scikit_learn(n, gamma, blas_threads):
    X = np.random.default_rng(n).normal(scale=3.0, size=(n, 7))
    with threadpool_limits(limits=blas_threads, user_api="blas"):  # serial and threaded blocks
        K = symmetric_kernel(X, "rbf", gamma=gamma)
    np.testing.assert_allclose(K, rbf_kernel(X, gamma=gamma), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(np.diag(K), 1.0)
    np.testing.assert_array_equal(K, K.T)


def test_symmetric_linear_matches_scikit_learn():
    X = np.random.default_rng(0).normal(size=(530, 9))
    np.testing.assert_allclose(symmetric_kernel(X, "linear"), linear_kernel(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "laplacian"])
def test_kernel_matrix_takes_the_fast_path_only_where_it_is_exact(kernel):
    X = np.random.default_rng(1).normal(size=(300, 4))
    params = {"gamma": 0.3} if kernel != "linear" else {}
    reference = pairwise_kernels(X, X, metric=kernel, **params)
    for Y in (None, X):
        np.testing.assert_allclose(kernel_matrix(X, Y, kernel, params), reference, rtol=1e-12, atol=1e-12)
    # float32 rows keep scikit-learn's path (its distances upcast to float64 against cancellation)
    X32 = X.astype(np.float32)
    np.testing.assert_array_equal(
        kernel_matrix(X32, None, kernel, params), pairwise_kernels(X32, metric=kernel, **params)
    )
