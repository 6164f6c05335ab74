"""Maximum mean discrepancy (MMD) between two samples: estimates and a permutation test.

The squared MMD between distributions :math:`P` and :math:`Q` in the reproducing kernel
Hilbert space of a kernel :math:`k` is

.. math:: \\mathrm{MMD}^2 = E[k(x, x')] + E[k(y, y')] - 2 E[k(x, y)],

with :math:`x, x' \\sim P` and :math:`y, y' \\sim Q` independent (Gretton et al. 2012).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, euclidean_distances
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ..utils._dask import is_dask_array
from ..utils._kernels import kernel_matrix, resolve_kernel_params
from ..utils._sklearn_compat import Interval, StrOptions, validate_params
from ..utils._validation import check_magnitude

__all__ = ["maximum_mean_discrepancy", "median_heuristic_gamma", "mmd_permutation_test"]

#: Rows of each sample used by the median heuristic (evenly spaced, so deterministic).
_MEDIAN_MAX_ROWS = 1000

#: Rows per block in the linear-time estimate (bounds its memory, keeps it linear in n).
_LINEAR_BLOCK = 256

_KERNELS = StrOptions(set(PAIRWISE_KERNEL_FUNCTIONS))


def _check_samples(X_source, X_target) -> tuple[np.ndarray, np.ndarray]:
    X_source = check_array(X_source, dtype=[np.float64, np.float32], input_name="X_source")
    X_target = check_array(X_target, dtype=[np.float64, np.float32], input_name="X_target")
    check_magnitude(X_source, "X_source")
    check_magnitude(X_target, "X_target")
    if X_source.shape[1] != X_target.shape[1]:
        raise ValueError(
            f"X_source has {X_source.shape[1]} features but X_target has {X_target.shape[1]}: "
            "both samples must live in the same feature space."
        )
    return X_source, X_target


def _subsample(X: np.ndarray) -> np.ndarray:
    if X.shape[0] <= _MEDIAN_MAX_ROWS:
        return X
    return X[np.linspace(0, X.shape[0] - 1, _MEDIAN_MAX_ROWS).astype(np.intp)]


def median_heuristic_gamma(X_source, X_target) -> float:
    r"""The ``gamma`` of an RBF kernel chosen by the median heuristic.

    :math:`\gamma = 1 / (2 \operatorname{median}_{i < j} \lVert z_i - z_j \rVert^2)` over the
    distinct pairs of the pooled sample :math:`z` (Gretton et al. 2012): the kernel bandwidth
    is the median distance. At most 1000 evenly spaced rows of each sample are used, so the
    cost stays bounded.

    Parameters
    ----------
    X_source : array-like of shape (n_source, n_features)
    X_target : array-like of shape (n_target, n_features)

    Returns
    -------
    gamma : float

    Raises
    ------
    ValueError
        When all rows are identical (the median distance is 0).

    See Also
    --------
    maximum_mean_discrepancy : The MMD, which uses this ``gamma`` with ``gamma="median"``.
    sklearn.metrics.pairwise.rbf_kernel : The kernel whose bandwidth this sets.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.metrics import median_heuristic_gamma
    >>> median_heuristic_gamma(np.array([[0.0], [1.0]]), np.array([[3.0]]))
    0.125
    """
    X_source, X_target = _check_samples(X_source, X_target)
    Z = np.vstack([_subsample(X_source), _subsample(X_target)])
    d2 = euclidean_distances(Z, squared=True)
    median = float(np.median(d2[np.triu_indices_from(d2, k=1)]))
    if not median > 0:
        raise ValueError("gamma='median' needs distinct rows: the median squared distance between rows is 0.")
    return 1.0 / (2.0 * median)


def _gamma(gamma, X_source, X_target):
    """``gamma``, with ``"median"`` replaced by :func:`median_heuristic_gamma` of the samples.

    Only the rows the heuristic uses are read into memory, so the samples may be Dask arrays.
    """
    if gamma != "median":
        return gamma
    return median_heuristic_gamma(np.asarray(_subsample(X_source)), np.asarray(_subsample(X_target)))


def _paired_kernel(X, Y, kernel, params) -> np.ndarray:
    """``k(X[i], Y[i])`` for every ``i``, computed block-wise in linear time and memory."""
    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], _LINEAR_BLOCK):
        stop = start + _LINEAR_BLOCK
        out[start:stop] = np.diagonal(kernel_matrix(X[start:stop], Y[start:stop], kernel, params))
    return out


def _biased(K_ss, K_tt, K_st) -> float:
    return float(K_ss.mean() + K_tt.mean() - 2.0 * K_st.mean())


def _unbiased(K_ss, K_tt, K_st) -> float:
    m, n = K_ss.shape[0], K_tt.shape[0]
    within_s = (K_ss.sum() - np.trace(K_ss)) / (m * (m - 1))
    within_t = (K_tt.sum() - np.trace(K_tt)) / (n * (n - 1))
    return float(within_s + within_t - 2.0 * K_st.mean())


def _linear_terms(X_source, X_target, kernel, params) -> np.ndarray:
    """The statistic ``h`` of every disjoint pair of rows (Gretton et al. 2012, Lemma 14)."""
    half = min(X_source.shape[0], X_target.shape[0]) // 2
    x1, x2 = X_source[0 : 2 * half : 2], X_source[1 : 2 * half : 2]
    y1, y2 = X_target[0 : 2 * half : 2], X_target[1 : 2 * half : 2]
    h = (
        _paired_kernel(x1, x2, kernel, params)
        + _paired_kernel(y1, y2, kernel, params)
        - _paired_kernel(x1, y2, kernel, params)
        - _paired_kernel(x2, y1, kernel, params)
    )
    return h


def _linear_blocks(X_source, X_target, kernel, params) -> float:
    """The linear-time estimate read one block of rows at a time (Dask arrays).

    Blocks hold the row chunks of the first Dask array (rounded down to an even number of
    rows), so the pairs and the estimate are those of the in-memory computation.
    """
    half = min(X_source.shape[0], X_target.shape[0]) // 2
    chunks = (X_source if is_dask_array(X_source) else X_target).chunks[0]
    step = max(2, 2 * (max(chunks) // 2))
    total = 0.0
    for start in range(0, 2 * half, step):
        stop = min(start + step, 2 * half)
        blocks = _check_samples(np.asarray(X_source[start:stop]), np.asarray(X_target[start:stop]))
        total += float(_linear_terms(*blocks, kernel, params).sum())
    return total / half


def _check_sizes(estimate: str, m: int, n: int) -> None:
    if estimate == "unbiased" and min(m, n) < 2:
        raise ValueError(
            f"estimate='unbiased' needs at least 2 rows in each sample, got n_source={m} and n_target={n}."
        )
    if estimate == "linear" and min(m, n) < 2:
        raise ValueError(
            f"estimate='linear' needs at least 2 rows in each sample, got n_source={m} and n_target={n}."
        )


_COMMON_CONSTRAINTS = {
    "X_source": ["array-like"],
    "X_target": ["array-like"],
    "kernel": [_KERNELS, callable],
    "gamma": [Interval(Real, 0, None, closed="neither"), StrOptions({"median"}), None],
    "degree": [Interval(Real, 0, None, closed="left"), None],
    "coef0": [Real, None],
    "kernel_params": [dict, None],
}


@validate_params(
    {
        **_COMMON_CONSTRAINTS,
        "estimate": [StrOptions({"biased", "unbiased", "linear"})],
        "squared": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def maximum_mean_discrepancy(
    X_source,
    X_target,
    kernel: str | Callable = "rbf",
    gamma: float | str | None = None,
    *,
    estimate: str = "biased",
    degree: float | None = None,
    coef0: float | None = None,
    kernel_params: dict | None = None,
    squared: bool = True,
) -> float:
    r"""Maximum mean discrepancy between a source and a target sample.

    The distance between the kernel mean embeddings of the two samples (Gretton et al.
    2012): 0 when the distributions agree (for a characteristic kernel such as ``"rbf"``),
    larger the more they differ. With the linear kernel the biased estimate of the squared
    MMD is the squared distance between the two sample means.

    Parameters
    ----------
    X_source : array-like of shape (n_source, n_features)
        Rows of the first sample.
    X_target : array-like of shape (n_target, n_features)
        Rows of the second sample.
    kernel : str or callable, default="rbf"
        Any kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels` (``"linear"``,
        ``"rbf"``, ``"poly"``, ``"laplacian"``, ``"sigmoid"``, ``"cosine"``, ``"chi2"``, ...)
        or a callable ``k(x, y) -> float`` on two rows.
    gamma : float, "median" or None, default=None
        Kernel coefficient of the kernels that have one. ``"median"`` uses
        :func:`median_heuristic_gamma`; None uses the kernel's own default
        (``1 / n_features`` for ``"rbf"``).
    estimate : {"biased", "unbiased", "linear"}, default="biased"
        ``"biased"``: the V-statistic (mean of every kernel block, never negative);
        ``"unbiased"``: the U-statistic (diagonals left out; may be slightly negative);
        ``"linear"``: the linear-time estimate over disjoint row pairs (Gretton et al. 2012,
        Lemma 14), which uses the first ``2 * (min(n_source, n_target) // 2)`` rows of each
        sample and costs O(n) time and memory. It is the only estimate that accepts Dask
        arrays (``dask.array``, either sample or both): their rows are read one chunk at a
        time, so samples larger than memory can be compared; ``gamma="median"`` then reads
        only the 1000 evenly spaced rows of each sample it uses.
    degree, coef0 : float, default=None
        Parameters of the polynomial and sigmoid kernels (None: the kernel's default).
    kernel_params : dict, default=None
        Further keyword arguments of the kernel (for callables).
    squared : bool, default=True
        Return the squared MMD. When False, return :math:`\sqrt{\max(\mathrm{MMD}^2, 0)}`.

    Returns
    -------
    mmd : float
        The (squared, by default) MMD estimate.

    Raises
    ------
    ValueError
        When the samples differ in their number of features, or ``"unbiased"`` /
        ``"linear"`` get a sample of fewer than 2 rows.

    See Also
    --------
    mmd_permutation_test : Test the hypothesis that both samples share a distribution.
    median_heuristic_gamma : The ``gamma`` used with ``gamma="median"``.

    References
    ----------
    A. Gretton, K. M. Borgwardt, M. J. Rasch, B. Schölkopf and A. Smola, "A Kernel Two-Sample
    Test", Journal of Machine Learning Research 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.metrics import maximum_mean_discrepancy
    >>> Xs = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> Xt = np.array([[1.0, 3.0], [1.0, 1.0]])
    >>> maximum_mean_discrepancy(Xs, Xt, kernel="linear")  # ||mean_s - mean_t||^2
    4.0
    >>> rng = np.random.default_rng(0)
    >>> A, B, C = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)), rng.normal(2, 1, size=(200, 2))
    >>> same = maximum_mean_discrepancy(A, B, gamma="median")
    >>> shifted = maximum_mean_discrepancy(A, C, gamma="median")
    >>> bool(same < 0.01 < shifted)
    True
    """
    chunked = is_dask_array(X_source) or is_dask_array(X_target)
    if chunked:
        if estimate != "linear":
            raise ValueError(
                f"estimate={estimate!r} needs both samples in memory; Dask arrays are read "
                "chunk by chunk with estimate='linear' only."
            )
        _check_sizes(estimate, X_source.shape[0], X_target.shape[0])
        _check_samples(np.asarray(X_source[:2]), np.asarray(X_target[:2]))
    else:
        X_source, X_target = _check_samples(X_source, X_target)
        _check_sizes(estimate, X_source.shape[0], X_target.shape[0])
    params = resolve_kernel_params(
        kernel,
        gamma=_gamma(gamma, X_source, X_target),
        degree=degree,
        coef0=coef0,
        kernel_params=kernel_params,
    )
    if chunked:
        value = _linear_blocks(X_source, X_target, kernel, params)
    elif estimate == "linear":
        value = float(_linear_terms(X_source, X_target, kernel, params).mean())
    else:
        K_ss = kernel_matrix(X_source, X_source, kernel, params)
        K_tt = kernel_matrix(X_target, X_target, kernel, params)
        K_st = kernel_matrix(X_source, X_target, kernel, params)
        value = (_biased if estimate == "biased" else _unbiased)(K_ss, K_tt, K_st)
    return value if squared else float(np.sqrt(max(value, 0.0)))


def _permuted_statistics(K: np.ndarray, source: np.ndarray, estimate: str) -> np.ndarray:
    """MMD^2 of every split of the pooled rows; ``source`` is (n_rows, n_splits) of 0/1."""
    S = source.astype(K.dtype)
    T = 1.0 - S
    m = S[:, 0].sum()
    n = T[:, 0].sum()
    KS = K @ S
    KT = K @ T
    sKs = np.einsum("ij,ij->j", S, KS)
    tKt = np.einsum("ij,ij->j", T, KT)
    sKt = np.einsum("ij,ij->j", S, KT)
    if estimate == "biased":
        return sKs / m**2 + tKt / n**2 - 2.0 * sKt / (m * n)
    diag = np.diagonal(K)
    return (sKs - diag @ S) / (m * (m - 1)) + (tKt - diag @ T) / (n * (n - 1)) - 2.0 * sKt / (m * n)


@validate_params(
    {
        **_COMMON_CONSTRAINTS,
        "estimate": [StrOptions({"biased", "unbiased"})],
        "n_permutations": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def mmd_permutation_test(
    X_source,
    X_target,
    kernel: str | Callable = "rbf",
    gamma: float | str | None = None,
    *,
    estimate: str = "biased",
    n_permutations: int = 1000,
    random_state=None,
    degree: float | None = None,
    coef0: float | None = None,
    kernel_params: dict | None = None,
) -> tuple[float, float]:
    """Permutation test of the hypothesis that both samples come from one distribution.

    The statistic is the squared MMD (:func:`maximum_mean_discrepancy`). Under the null
    hypothesis the domain labels are exchangeable, so the statistic is recomputed after
    randomly reassigning the pooled rows to two samples of the original sizes. The kernel
    matrix of the pooled rows is computed once; every permutation only reweights it (all
    permutations of a block are evaluated with matrix products).

    Parameters
    ----------
    X_source : array-like of shape (n_source, n_features)
    X_target : array-like of shape (n_target, n_features)
    kernel : str or callable, default="rbf"
        As in :func:`maximum_mean_discrepancy`.
    gamma : float, "median" or None, default=None
        As in :func:`maximum_mean_discrepancy`; ``"median"`` is computed once on the pooled
        rows.
    estimate : {"biased", "unbiased"}, default="biased"
        The MMD estimate used as the statistic.
    n_permutations : int, default=1000
        Number of random reassignments.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations.
    degree : float, default=None
        As in :func:`maximum_mean_discrepancy`.
    coef0 : float, default=None
        As in :func:`maximum_mean_discrepancy`.
    kernel_params : dict, default=None
        As in :func:`maximum_mean_discrepancy`.

    Returns
    -------
    statistic : float
        The squared MMD of the observed samples.
    p_value : float
        ``(1 + #{permuted statistic >= statistic}) / (1 + n_permutations)``.

    Raises
    ------
    ValueError
        When the samples differ in their number of features, or ``"unbiased"`` gets a
        sample of fewer than 2 rows.

    See Also
    --------
    maximum_mean_discrepancy : The statistic of the test.
    label_shift_test : Test a shift of the predicted class frequencies.

    References
    ----------
    A. Gretton et al., "A Kernel Two-Sample Test", JMLR 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.metrics import mmd_permutation_test
    >>> rng = np.random.default_rng(0)
    >>> Xs, Xt = rng.normal(size=(50, 2)), rng.normal(1.0, 1.0, size=(50, 2))
    >>> statistic, p_value = mmd_permutation_test(Xs, Xt, gamma="median", n_permutations=200, random_state=0)
    >>> bool(p_value < 0.01)
    True
    """
    X_source, X_target = _check_samples(X_source, X_target)
    m, n = X_source.shape[0], X_target.shape[0]
    _check_sizes(estimate, m, n)
    params = resolve_kernel_params(
        kernel,
        gamma=_gamma(gamma, X_source, X_target),
        degree=degree,
        coef0=coef0,
        kernel_params=kernel_params,
    )
    K = kernel_matrix(np.vstack([X_source, X_target]), None, kernel, params)
    observed = np.zeros((m + n, 1))
    observed[:m] = 1.0
    statistic = float(_permuted_statistics(K, observed, estimate)[0])
    rng = check_random_state(random_state)
    block = max(1, min(n_permutations, 2**22 // (m + n)))
    n_larger = 0
    for start in range(0, n_permutations, block):
        size = min(block, n_permutations - start)
        order = np.argsort(rng.random_sample((m + n, size)), axis=0)
        source = (order < m).astype(np.float64)
        n_larger += int(
            np.sum(_permuted_statistics(K, source, estimate) >= statistic - 1e-12 * abs(statistic))
        )
    return statistic, (1.0 + n_larger) / (1.0 + n_permutations)
