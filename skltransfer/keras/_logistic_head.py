"""Phase 1 of a linear head, solved exactly: multinomial logistic regression on fixed features.

A linear softmax head on frozen features is a multinomial logistic regression. Trained with
a few hundred stochastic steps it stops wherever its budget runs out; solved as one (L-BFGS,
or SAGA with an L1 term) it reaches the optimum of the same penalised loss in a fraction of
a second. This module maps the head's penalties to scikit-learn's ``LogisticRegression``,
solves it, and writes the solution into the head's output layer.

The head minimises ``mean_i w_i CE_i + l1 ||W||_1 + l2 ||W||_2^2`` (Keras' per-batch mean and
its ``L1L2`` regularizer, on the kernel only); scikit-learn minimises
``C sum_i w_i CE_i + l1_ratio ||W||_1 + (1 - l1_ratio) / 2 ||W||_2^2``. Multiplying the first
by ``n`` and matching terms gives ``C = 1 / (n (l1 + 2 l2))`` and
``l1_ratio = l1 / (l1 + 2 l2)``. With two classes scikit-learn fits one weight vector ``w``
(the logit of the second class); its softmax form is ``[-w / 2, w / 2]``, whose penalty is
half of ``w``'s, so ``l2`` is halved there.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

__all__ = ["logistic_penalty", "solve_logistic_head"]

#: Iteration cap of the exact solve; scikit-learn's ConvergenceWarning reports a cap reached.
MAX_ITER = 1000


def logistic_penalty(l1: float, l2: float, n_samples: int, n_classes: int) -> tuple[float, float]:
    """scikit-learn's ``(C, l1_ratio)`` for the head's ``l1`` and ``l2`` penalties on ``n_samples`` rows.

    Parameters
    ----------
    l1, l2 : float
        Keras ``L1L2`` penalties of the head's kernel, added to the mean loss.
    n_samples : int
        Training rows.
    n_classes : int

    Returns
    -------
    C : float
        ``inf`` when both penalties are 0 (no penalty).
    l1_ratio : float

    Examples
    --------
    >>> from skltransfer.keras._logistic_head import logistic_penalty
    >>> logistic_penalty(0.0, 0.005, 100, 3)
    (1.0, 0.0)
    """
    if n_classes == 2:
        l2 = l2 / 2
    total = l1 + 2 * l2
    if total == 0:
        return np.inf, 0.0
    return 1.0 / (n_samples * total), l1 / total


def solve_logistic_head(
    features: np.ndarray,
    codes: np.ndarray,
    sample_weight: np.ndarray,
    n_classes: int,
    *,
    C: float,
    l1_ratio: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Kernel and bias of a softmax layer: the penalised multinomial logistic regression.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        The head's (standardised) input.
    codes : ndarray of int of shape (n_samples,)
        Class codes in ``range(n_classes)``.
    sample_weight : ndarray of shape (n_samples,)
    n_classes : int
        Columns of the output layer; classes absent from ``codes`` get a logit of ``-inf``
        in effect (a large negative bias), as the Keras loss would drive it.
    C, l1_ratio : float
        From :func:`logistic_penalty`.

    Returns
    -------
    kernel : ndarray of shape (n_features, n_classes), float32
    bias : ndarray of shape (n_classes,), float32
    n_iter : int
        Iterations of the solver.
    """
    present = np.flatnonzero(np.bincount(codes, weights=sample_weight, minlength=n_classes) > 0)
    kernel = np.zeros((features.shape[1], n_classes), dtype=np.float32)
    bias = np.full(n_classes, -30.0, dtype=np.float32)  # classes without weight: never predicted
    if len(present) == 1:  # every weighted row has one class: predict it
        bias[present] = 0.0
        return kernel, bias, 0
    keep = np.isin(codes, present) & (sample_weight > 0)
    solver = "lbfgs" if l1_ratio == 0 else "saga"
    model = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, max_iter=MAX_ITER)
    model.fit(features[keep], codes[keep], sample_weight=sample_weight[keep])
    coef, intercept = model.coef_, model.intercept_
    if len(present) == 2:  # one logit: the softmax form splits it symmetrically
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    kernel[:, present] = coef.T
    bias[present] = intercept
    return kernel, bias, int(np.max(model.n_iter_))
