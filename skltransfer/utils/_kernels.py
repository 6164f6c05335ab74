"""The one way skltransfer's kernel users turn their parameters into a kernel matrix."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse
from sklearn.metrics.pairwise import pairwise_kernels
from threadpoolctl import ThreadpoolController

# Rows per block of the symmetric kernel: a block of 256 rows of a 4000-row kernel (8 MB)
# stays in cache through its element-wise passes.
_SYMMETRIC_BLOCK_ROWS = 256

__all__ = ["kernel_matrix", "resolve_kernel_params"]


def resolve_kernel_params(
    kernel, *, gamma=None, degree=None, coef0=None, kernel_params=None, callable_ignores_named=False
) -> dict:
    """Keyword arguments of :func:`kernel_matrix` for ``kernel``, as Nystroem builds them.

    ``kernel_params`` first, then ``gamma``, ``degree`` and ``coef0`` where they are set
    (None leaves scikit-learn's default of the kernel). A named kernel ignores the ones it
    does not take (``filter_params``); a callable kernel gets ``kernel_params`` only, and
    setting ``gamma``, ``degree`` or ``coef0`` for it is an error (as in Nystroem) unless
    ``callable_ignores_named`` (as in KernelPCA).

    Parameters
    ----------
    kernel : str or callable
        A kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels`, or a callable.
    gamma, degree, coef0 : float, default=None
        Parameters of the named kernels.
    kernel_params : dict, default=None
        Further keyword arguments (for a callable kernel, all of them).
    callable_ignores_named : bool, default=False
        A callable kernel ignores ``gamma``, ``degree`` and ``coef0`` instead of raising: for
        estimators whose ``degree`` and ``coef0`` have numeric defaults.

    Returns
    -------
    params : dict

    Raises
    ------
    ValueError
        When ``gamma``, ``degree`` or ``coef0`` is set for a callable kernel and
        ``callable_ignores_named`` is False.

    Examples
    --------
    >>> from skltransfer.utils._kernels import resolve_kernel_params
    >>> resolve_kernel_params("rbf", gamma=0.5, kernel_params={"degree": 2})
    {'degree': 2, 'gamma': 0.5}
    >>> resolve_kernel_params(len, degree=3, callable_ignores_named=True)
    {}
    """
    params = dict(kernel_params or {})
    named = {"gamma": gamma, "degree": degree, "coef0": coef0}
    if callable(kernel):
        if not callable_ignores_named and any(value is not None for value in named.values()):
            raise ValueError(
                "gamma, coef0 and degree apply to named kernels only; pass the parameters of a "
                "callable kernel in kernel_params."
            )
        return params
    params.update({name: value for name, value in named.items() if value is not None})
    return params


def kernel_matrix(X, Y, kernel, params: dict) -> np.ndarray:
    """``pairwise_kernels(X, Y)`` with ``params`` from :func:`resolve_kernel_params`.

    The square kernel of dense float64 rows with themselves (``Y`` None or ``X``) under the
    "rbf" or "linear" kernel takes :func:`symmetric_kernel`, which computes half of it.
    """
    if (Y is None or Y is X) and kernel in ("rbf", "linear") and _dense_float64(X):
        gamma = params.get("gamma") if kernel == "rbf" else None
        return symmetric_kernel(X, kernel, gamma=gamma)
    return pairwise_kernels(X, Y, metric=kernel, filter_params=True, **params)


def _dense_float64(X) -> bool:
    return not sparse.issparse(X) and isinstance(X, np.ndarray) and X.dtype == np.float64


def symmetric_kernel(X: np.ndarray, kernel: str = "rbf", *, gamma: float | None = None) -> np.ndarray:
    """The "rbf" or "linear" kernel of the rows of ``X`` with themselves, computed once per pair.

    The kernel is symmetric: each block of rows computes its part on and right of the
    diagonal (Gram product written into ``K``, then the rbf's element-wise passes), and once
    all are done, copies its part left of the diagonal from the blocks above; half the work
    of :func:`sklearn.metrics.pairwise.rbf_kernel`. Blocks run on as many threads as BLAS has
    (each block's product on one), since the element-wise passes that dominate after the
    halved product are single-threaded in numpy. A block writes only its own rows, so the
    threads share the first touch of ``K``'s fresh memory (a page fault per page, which a
    virtual machine can make costly) instead of one thread faulting whole columns.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    kernel : {"rbf", "linear"}, default="rbf"
    gamma : float, default=None
        The rbf's ``exp(-gamma ||x - y||^2)``; None is ``1 / n_features``, as scikit-learn's.

    Returns
    -------
    K : ndarray of shape (n_samples, n_samples)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics.pairwise import rbf_kernel
    >>> from skltransfer.utils._kernels import symmetric_kernel
    >>> X = np.random.RandomState(0).rand(600, 5)
    >>> np.allclose(symmetric_kernel(X, gamma=0.5), rbf_kernel(X, gamma=0.5))
    True
    """
    n = X.shape[0]
    gamma = 1.0 / X.shape[1] if gamma is None else gamma
    half_squared_norms = 0.5 * np.einsum("ij,ij->i", X, X)
    K = np.empty((n, n), dtype=np.float64)

    def upper(start: int) -> None:
        """Rows ``start:stop`` of ``K`` from the diagonal on."""
        stop = min(start + _SYMMETRIC_BLOCK_ROWS, n)
        block = np.matmul(X[start:stop], X[start:].T, out=K[start:stop, start:])
        if kernel == "rbf":  # x.y - |x|^2 / 2 - |y|^2 / 2 = -||x - y||^2 / 2, clipped at 0
            block -= half_squared_norms[start:stop, None]
            block -= half_squared_norms[None, start:]
            np.minimum(block, 0.0, out=block)
            np.fill_diagonal(block[:, : stop - start], 0.0)  # exactly 0 from a row to itself
            block *= 2.0 * gamma
            np.exp(block, out=block)
        diagonal = block[:, : stop - start]
        lower = np.tril_indices(stop - start, -1)
        diagonal[lower] = diagonal.T[lower]  # bit-for-bit symmetric, as the mirrored blocks

    def left(start: int) -> None:
        """Rows ``start:stop`` of ``K`` left of the diagonal, mirrored from the rows above."""
        stop = min(start + _SYMMETRIC_BLOCK_ROWS, n)
        K[start:stop, :start] = K[:start, start:stop].T

    starts = range(0, n, _SYMMETRIC_BLOCK_ROWS)
    threads = _blas_threads() if len(starts) > 1 else 1
    if threads == 1:
        for fill in (upper, left):
            for start in starts:
                fill(start)
        return K
    with _threadpool_controller().limit(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        for fill in (upper, left):
            list(pool.map(fill, starts))
    return K


@functools.cache
def _threadpool_controller() -> ThreadpoolController:
    """One controller per process: finding the thread pools scans every loaded library."""
    return ThreadpoolController()


def _blas_threads() -> int:
    blas = _threadpool_controller().select(user_api="blas").lib_controllers
    return max((pool.num_threads for pool in blas), default=1)
