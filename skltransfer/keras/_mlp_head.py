"""Phase 1 of a head with a hidden layer, solved on fixed features: L-BFGS on the head's objective.

A head ``standardise -> Dense(h, relu) -> Dense`` on frozen features is a one-hidden-layer
perceptron of the standardised features. Trained by stochastic steps it needs a compiled
Keras training loop per fit; its penalised loss is small enough to minimise in NumPy
instead, full batch, by scipy's L-BFGS from the head's own (seeded) initial weights, with no
compilation at all. The solution is written into the head's two dense layers.

L-BFGS stops at a gradient below ``GTOL`` (the ``tol`` of scikit-learn's
``LogisticRegression``), or on a plateau of the loss (less than ``PLATEAU_TOLERANCE``
relative decrease over ``PLATEAU_ITERATIONS`` iterations: the slow last approach of a
non-convex loss buys little), or after ``MAX_ITER`` iterations with a ``ConvergenceWarning``.
A run that stalls on a kink of the ReLUs (a step without decrease) restarts from where it
stopped with a fresh curvature memory. The products are small: BLAS runs on one thread,
which on a busy machine is several times faster than its threads.

The objective is the one Keras minimises, without dropout: ``mean_i w_i L_i + l2 (||W1||^2 +
||W2||^2)``, ``L_i`` the cross-entropy of the softmax output (classification) or the squared
error averaged over the ``k`` outputs (regression of standardised targets). Dropout, a
regulariser of stochastic steps, has no full-batch counterpart: the solve has the L2 penalty
as regulariser instead, as the exact linear head does; the ``"dropout"`` layer still acts in
the phase 2 that trains by stochastic steps.

When there are fewer rows ``n`` than features ``d``, the loss depends on ``W1`` only through
its projection on the span of the rows: with ``Z.T = Q R``, ``Z W1 = R.T (Q.T W1)``. The
solve runs on the ``n x h`` projection ``P = Q.T W1`` (the penalty splits as
``||P||^2 + ||W1 - Q P||^2``, whose second term is 0 at the optimum when ``l2 > 0``), so that
each step costs ``n^2 h`` rather than ``n d h``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

from ..utils._warnings import warn_at_caller

__all__ = ["GTOL", "MAX_ITER", "PLATEAU_TOLERANCE", "hidden_head_objective", "solve_hidden_head"]

#: Iteration cap of L-BFGS; reaching it warns (``ConvergenceWarning``).
MAX_ITER = 1000
#: Largest gradient entry at convergence (scikit-learn's ``tol`` of ``LogisticRegression``).
GTOL = 1e-4
#: Relative decrease of the loss below which an L-BFGS run stops (``LogisticRegression``'s).
FTOL = 64 * np.finfo(float).eps
#: The plateau stop: the loss decreased by less than ``PLATEAU_TOLERANCE`` (relative) over the
#: last ``PLATEAU_ITERATIONS`` iterations.
PLATEAU_ITERATIONS, PLATEAU_TOLERANCE = 20, 1e-3


def hidden_head_objective(z, targets, sample_weight, weights, *, l2: float, regression: bool):
    """The head's penalised loss and its gradient, at ``weights = [W1, b1, W2, b2]`` (float64).

    Parameters
    ----------
    z : ndarray of shape (n, d)
        The standardised features.
    targets : ndarray
        Class codes of shape (n,), or standardised targets of shape (n, k) with ``regression``.
    sample_weight : ndarray of shape (n,)
    weights : list of 4 ndarrays
        ``W1 (d, h), b1 (h,), W2 (h, k), b2 (k,)``.
    l2 : float
    regression : bool

    Returns
    -------
    loss : float
    gradients : list of 4 ndarrays
        Of the shapes of ``weights``.
    """
    w1, b1, w2, b2 = weights
    n = len(z)
    pre = z @ w1 + b1
    hidden = np.maximum(pre, 0.0)
    outputs = hidden @ w2 + b2
    if regression:
        residuals = outputs - targets
        k = outputs.shape[1]
        loss = float(np.sum(sample_weight[:, None] * residuals**2) / (n * k))
        delta = 2.0 * sample_weight[:, None] * residuals / (n * k)
    else:
        log_proba = log_softmax(outputs, axis=1)
        rows = np.arange(n)
        loss = float(-np.sum(sample_weight * log_proba[rows, targets]) / n)
        delta = softmax(outputs, axis=1)
        delta[rows, targets] -= 1.0
        delta *= sample_weight[:, None] / n
    loss += l2 * (float(np.sum(w1**2)) + float(np.sum(w2**2)))
    back = (delta @ w2.T) * (pre > 0)
    gradients = [
        z.T @ back + 2 * l2 * w1,
        back.sum(axis=0),
        hidden.T @ delta + 2 * l2 * w2,
        delta.sum(axis=0),
    ]
    return loss, gradients


def solve_hidden_head(head, features, targets, sample_weight, *, l2: float, regression: bool, owner: str):
    """Minimise the head's objective on ``features`` from its current weights; write the solution.

    ``head`` is a model of :func:`~skltransfer.keras._heads.build_head` with a ``"hidden"``
    layer; its output layer is ``"predictions"`` (``regression``) or ``"probabilities"``.

    Parameters
    ----------
    head : keras.Model
    features : ndarray of shape (n, d)
        Pooled features of the training rows (the head standardises them).
    targets : ndarray
        Class codes (n,) or standardised targets (n, k).
    sample_weight : ndarray of shape (n,)
    l2 : float
        The L2 penalty of the dense kernels.
    regression : bool
    owner : str
        The estimator named in the ``ConvergenceWarning`` when ``MAX_ITER`` is reached.

    Returns
    -------
    history : dict
        ``"loss"`` and the training metric (``"accuracy"`` or ``"r2_score"``) of the
        solution, ``"steps"`` (L-BFGS iterations) and ``"stop_reason"`` (``"converged"``,
        ``"plateau"`` or ``"budget"``), each a one-entry list but the last, as the exact
        linear head's.
    """
    z = np.asarray(head.get_layer("standardize")(features), dtype=np.float64)
    hidden = head.get_layer("hidden")
    output = head.get_layer("predictions" if regression else "probabilities")
    w1, b1 = (np.asarray(w, dtype=np.float64) for w in hidden.get_weights())
    w2, b2 = (np.asarray(w, dtype=np.float64) for w in output.get_weights())
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64 if regression else np.int64)

    basis = None
    if len(z) < z.shape[1]:  # the loss sees W1 through the span of the rows only
        with threadpool_limits(1):
            basis, r = np.linalg.qr(z.T)
        z, w1_start = r.T, w1
        w1 = basis.T @ w1
    shapes = [w1.shape, b1.shape, w2.shape, b2.shape]
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def unpack(theta):
        return [part.reshape(shape) for part, shape in zip(np.split(theta, splits), shapes, strict=True)]

    def fun(theta):
        loss, gradients = hidden_head_objective(
            z, targets, sample_weight, unpack(theta), l2=l2, regression=regression
        )
        return loss, np.concatenate([g.ravel() for g in gradients])

    theta = np.concatenate([w.ravel() for w in (w1, b1, w2, b2)])
    losses = []

    def plateau(intermediate_result):
        losses.append(intermediate_result.fun)
        if len(losses) > PLATEAU_ITERATIONS:
            before, now = losses[-PLATEAU_ITERATIONS - 1], losses[-1]
            if before - now <= PLATEAU_TOLERANCE * abs(now):
                raise StopIteration

    n_iter = 0
    with threadpool_limits(1):  # small products: BLAS threads cost more than they save
        while n_iter < MAX_ITER:
            result = minimize(
                fun,
                theta,
                jac=True,
                method="L-BFGS-B",
                callback=plateau,
                options={"maxiter": MAX_ITER - n_iter, "gtol": GTOL, "ftol": FTOL, "maxls": 50},
            )
            n_iter, theta = n_iter + int(result.nit), result.x
            # a stall on a kink of the ReLUs (no decrease, gradient above GTOL): restart, once
            # more after every restart that moved
            if np.abs(result.jac).max() <= GTOL or result.nit <= 1 or result.status == 99:
                break
    w1, b1, w2, b2 = unpack(theta)
    loss, _ = fun(theta)
    outputs = np.maximum(z @ w1 + b1, 0.0) @ w2 + b2
    if basis is not None:  # back to the features' coordinates; off the rows' span, the penalty's optimum
        w1 = basis @ w1 + (0.0 if l2 > 0 else w1_start - basis @ (basis.T @ w1_start))
    hidden.set_weights([w1.astype(np.float32), b1.astype(np.float32)])
    output.set_weights([w2.astype(np.float32), b2.astype(np.float32)])
    stop_reason = "budget" if n_iter >= MAX_ITER else "plateau" if result.status == 99 else "converged"
    if stop_reason == "budget":
        warn_at_caller(
            f"{owner}: the hidden head's exact solve (epochs='auto') reached its {MAX_ITER} L-BFGS "
            f"iterations before converging (loss {loss:.4g}). Set a larger l2, or epochs to a "
            "number of epochs of stochastic steps.",
            ConvergenceWarning,
        )
    if regression:
        metric = {"r2_score": [float(r2_score(targets, outputs, sample_weight=sample_weight))]}
    else:
        metric = {"accuracy": [float(np.mean(np.argmax(outputs, axis=1) == targets))]}
    return {"loss": [loss], **metric, "steps": [n_iter], "stop_reason": stop_reason}
