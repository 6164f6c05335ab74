"""Phase 1 of a linear regression head, solved exactly: ridge (or elastic net) on fixed features.

A linear head on frozen features is a linear regression of the standardised targets; its
penalised mean squared error has a closed-form minimum (ridge) or a convex one reached by
coordinate descent (with an L1 term, the elastic net). This module maps the head's
penalties to scikit-learn's ``Ridge`` and ``ElasticNet``, solves, and returns the output
layer's weights.

The head minimises ``(1 / (n k)) sum_i w_i ||y_i - W z_i - b||^2 + l1 ||W||_1 + l2 ||W||_F^2``
for ``k`` outputs (Keras' mean squared error averages over the outputs, then over the rows;
its ``L1L2`` regularizer acts on the kernel only). ``Ridge`` minimises
``sum_i w_i ||y_i - W z_i - b||^2 + alpha ||W||_F^2``: multiplying the head's objective by
``n k`` gives ``alpha = n k l2``. ``ElasticNet`` minimises, per output,
``(1 / (2 n)) sum_i w_i r_i^2 + alpha rho ||w||_1 + alpha (1 - rho) / 2 ||w||^2`` (its weights
rescaled to sum to ``n``); multiplying the head's objective by ``k / 2`` gives
``alpha = k (l1 / 2 + l2)`` and ``rho = (l1 / 2) / (l1 / 2 + l2)``.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import ElasticNet, Ridge

__all__ = ["MAX_ITER", "ridge_penalty", "solve_ridge_head"]

#: Iteration cap of the elastic net's coordinate descent.
MAX_ITER = 1000


def ridge_penalty(l1: float, l2: float, n_samples: int, n_outputs: int) -> tuple[float, float]:
    """``(alpha, l1_ratio)`` of scikit-learn's solver for the head's ``l1`` and ``l2`` penalties.

    ``l1_ratio == 0``: ``alpha`` is ``Ridge``'s; else ``ElasticNet``'s (see the module's docstring).

    Examples
    --------
    >>> from skltransfer.keras._ridge_head import ridge_penalty
    >>> ridge_penalty(0.0, 1 / 200, n_samples=100, n_outputs=2)  # l2="auto": Ridge(alpha=1.0)
    (1.0, 0.0)
    """
    if l1 == 0:
        return n_samples * n_outputs * l2, 0.0
    return n_outputs * (l1 / 2 + l2), (l1 / 2) / (l1 / 2 + l2)


def solve_ridge_head(
    features: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray, *, alpha, l1_ratio
):
    """The exact linear head: ridge (``l1_ratio == 0``) or elastic net on ``features``.

    Parameters
    ----------
    features : ndarray of shape (n, d)
        The head's standardised input.
    targets : ndarray of shape (n, k)
        Standardised targets.
    sample_weight : ndarray of shape (n,)
    alpha, l1_ratio : float
        From :func:`ridge_penalty`.

    Returns
    -------
    kernel : ndarray of shape (d, k), float32
    bias : ndarray of shape (k,), float32
    n_iter : int
        Iterations of the solver (0 for ridge's closed form).
    """
    if l1_ratio == 0:
        model = Ridge(alpha=alpha, solver="cholesky" if alpha > 0 else "svd")
    else:
        model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, max_iter=MAX_ITER)
    model.fit(features, targets, sample_weight=sample_weight)
    n_iter = getattr(model, "n_iter_", None)  # None for ridge's closed form
    coef = np.reshape(model.coef_, (targets.shape[1], features.shape[1]))
    return (
        coef.T.astype(np.float32),
        np.reshape(model.intercept_, -1).astype(np.float32),
        0 if n_iter is None else int(np.max(n_iter)),
    )
