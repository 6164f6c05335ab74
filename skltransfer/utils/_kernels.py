"""The one way skltransfer's kernel users turn their parameters into a kernel matrix."""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import pairwise_kernels

__all__ = ["kernel_matrix", "resolve_kernel_params"]


def resolve_kernel_params(kernel, *, gamma=None, degree=None, coef0=None, kernel_params=None) -> dict:
    """Keyword arguments of :func:`kernel_matrix` for ``kernel``, as Nystroem builds them.

    ``kernel_params`` first, then ``gamma``, ``degree`` and ``coef0`` where they are set
    (None leaves scikit-learn's default of the kernel). A named kernel ignores the ones it
    does not take (``filter_params``); a callable kernel gets ``kernel_params`` only.

    Parameters
    ----------
    kernel : str or callable
        A kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels`, or a callable.
    gamma, degree, coef0 : float, default=None
        Parameters of the named kernels.
    kernel_params : dict, default=None
        Further keyword arguments (for a callable kernel, all of them).

    Returns
    -------
    params : dict

    Raises
    ------
    ValueError
        When ``gamma``, ``degree`` or ``coef0`` is set for a callable kernel.

    Examples
    --------
    >>> from skltransfer.utils._kernels import resolve_kernel_params
    >>> resolve_kernel_params("rbf", gamma=0.5, kernel_params={"degree": 2})
    {'degree': 2, 'gamma': 0.5}
    """
    params = dict(kernel_params or {})
    named = {"gamma": gamma, "degree": degree, "coef0": coef0}
    if callable(kernel):
        if any(value is not None for value in named.values()):
            raise ValueError(
                "gamma, coef0 and degree apply to named kernels only; pass the parameters of a "
                "callable kernel in kernel_params."
            )
        return params
    params.update({name: value for name, value in named.items() if value is not None})
    return params


def kernel_matrix(X, Y, kernel, params: dict) -> np.ndarray:
    """``pairwise_kernels(X, Y)`` with ``params`` from :func:`resolve_kernel_params`."""
    return pairwise_kernels(X, Y, metric=kernel, filter_params=True, **params)
