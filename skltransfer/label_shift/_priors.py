"""Estimators of the target class priors under label shift.

- :func:`em_priors`: maximum likelihood by expectation-maximisation (Saerens et al. 2002).
- :func:`confusion_matrix_joint` and :func:`bbse_weights`: black-box shift estimation
  (Lipton et al. 2018), ``w = C^-1 mu``.
- :func:`rlls_weights`: its regularised form (Azizzadenesheli et al. 2019).

Every function works on class-probability matrices whose columns are the source classes.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.linalg import lstsq
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "bbse_weights",
    "confusion_matrix_joint",
    "em_priors",
    "predicted_distribution_rows",
    "priors_from_weights",
    "rlls_rho",
    "rlls_weights",
]

# Smoothing of the Euclidean norms of the RLLS objective, so that L-BFGS-B sees a gradient
# at theta = 0; it moves the minimum by less than this.
_NORM_SMOOTHING = 1e-12


def em_priors(proba, source_priors, *, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    """Target priors that maximise the likelihood of the target rows (Saerens et al. 2002).

    Each step reweights the source posteriors by ``target / source`` priors, renormalises
    them, and sets the target priors to their mean; this is expectation-maximisation of
    ``sum_i log sum_y pi_y p_s(y | x_i) / pi_s,y`` over the simplex.

    Parameters
    ----------
    proba : ndarray of shape (n_target, n_classes)
        Source posteriors ``p_s(y | x)`` of the target rows.
    source_priors : ndarray of shape (n_classes,)
        Class priors of the source, with which ``proba`` was learned.
    tol : float
        Stop when the priors move by less than this in L1 norm.
    max_iter : int
        Most EM steps; a ``ConvergenceWarning`` says when they did not reach ``tol``.

    Returns
    -------
    target_priors : ndarray of shape (n_classes,)
    n_iter : int
        Number of EM steps run.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.label_shift._priors import em_priors
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3]])
    >>> priors, _ = em_priors(proba, np.array([0.5, 0.5]), tol=1e-10, max_iter=1000)
    >>> priors.round(3).tolist()
    [0.838, 0.162]
    """
    proba = np.asarray(proba, dtype=float)
    priors = np.asarray(source_priors, dtype=float)
    n_samples = proba.shape[0]
    for n_iter in range(1, max_iter + 1):
        ratio = priors / source_priors
        # Mean over the rows of the reweighted, renormalised posteriors, as two products.
        updated = ratio * (proba.T @ (1.0 / (proba @ ratio))) / n_samples
        change = np.abs(updated - priors).sum()
        priors = updated
        if change < tol:
            return priors, n_iter
    warnings.warn(
        f"EM of the target priors did not converge in max_iter={max_iter} steps (last change "
        f"{change:.3g} >= tol={tol}); increase max_iter.",
        ConvergenceWarning,
        stacklevel=3,
    )
    return priors, max_iter


def confusion_matrix_joint(proba, y_codes, *, soft: bool) -> np.ndarray:
    """Joint distribution of the prediction and the label, ``C[i, j] = P(yhat = i, y = j)``.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Held-out class probabilities of labeled source rows.
    y_codes : ndarray of int of shape (n_samples,)
        True class index of each row.
    soft : bool
        Count each row's probabilities (BBSE-soft) instead of its ``argmax`` (BBSE-hard).

    Returns
    -------
    C : ndarray of shape (n_classes, n_classes)
    """
    predictions = predicted_distribution_rows(proba, soft=soft)
    return predictions.T @ np.eye(proba.shape[1])[y_codes] / proba.shape[0]


def predicted_distribution_rows(proba, *, soft: bool) -> np.ndarray:
    """Each row's prediction as a distribution: its probabilities, or one-hot ``argmax``."""
    proba = np.asarray(proba, dtype=float)
    if soft:
        return proba
    return np.eye(proba.shape[1])[np.argmax(proba, axis=1)]


def bbse_weights(C, mu) -> np.ndarray:
    """Black-box shift estimation: the weights ``w`` of ``C w = mu`` (Lipton et al. 2018).

    Parameters
    ----------
    C : ndarray of shape (n_classes, n_classes)
        Joint source distribution ``P(yhat = i, y = j)``.
    mu : ndarray of shape (n_classes,)
        Target distribution of the predictions ``P_t(yhat = i)``.

    Returns
    -------
    w : ndarray of shape (n_classes,)
        ``C^-1 mu``, the ratios of target to source priors (may be negative); the
        least-squares solution of least norm, with a warning, when ``C`` is singular.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.label_shift._priors import bbse_weights
    >>> bbse_weights(np.array([[0.4, 0.1], [0.1, 0.4]]), np.array([0.6, 0.4])).round(3).tolist()
    [1.333, 0.667]
    """
    w, _, rank, _ = lstsq(C, mu)
    if rank < C.shape[0]:
        warnings.warn(
            f"The confusion matrix of the held-out source predictions is singular (rank {rank} "
            f"of {C.shape[0]}; a class is never predicted or two are confused entirely): the "
            "weights are a least-squares solution of least norm.",
            UserWarning,
            stacklevel=3,
        )
    return w


def rlls_rho(n_classes: int, n_samples: int, delta: float = 0.05) -> float:
    """The concentration term ``3 Delta_C`` of RLLS's regulariser (Azizzadenesheli et al. 2019).

    ``3 * (2 log(2k / delta) / (3 n) + sqrt(2 log(2k / delta) / n))`` for ``k`` classes and
    ``n`` held-out source rows, as in the authors' code.

    Parameters
    ----------
    n_classes : int
    n_samples : int
    delta : float, default=0.05

    Returns
    -------
    rho : float
    """
    log_term = 2.0 * math.log(2.0 * n_classes / delta)
    return 3.0 * (log_term / (3.0 * n_samples) + math.sqrt(log_term / n_samples))


def _rlls_objective(theta, C, b, rho):
    residual = C @ theta - b
    residual_norm = math.sqrt(residual @ residual + _NORM_SMOOTHING**2)
    theta_norm = math.sqrt(theta @ theta + _NORM_SMOOTHING**2)
    value = residual_norm + rho * theta_norm
    gradient = C.T @ residual / residual_norm + rho * theta / theta_norm
    return value, gradient


def rlls_weights(C, mu, *, rho: float) -> np.ndarray:
    """Regularised least squares on the weights (RLLS, Azizzadenesheli et al. 2019).

    Minimises ``||C theta - b|| + rho ||theta||`` with ``b = mu - C 1`` over ``theta >= -1``
    and returns ``w = 1 + theta``: the regulariser pulls the weights towards 1 (no shift)
    where the confusion matrix is poorly estimated.

    Parameters
    ----------
    C : ndarray of shape (n_classes, n_classes)
        Joint source distribution ``P(yhat = i, y = j)``.
    mu : ndarray of shape (n_classes,)
        Target distribution of the predictions.
    rho : float
        Strength of the regulariser (``0`` gives BBSE's weights, clipped at 0).

    Returns
    -------
    w : ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.label_shift._priors import rlls_weights
    >>> C = np.array([[0.4, 0.1], [0.1, 0.4]])
    >>> rlls_weights(C, np.array([0.6, 0.4]), rho=0.0).round(3).tolist()
    [1.333, 0.667]
    """
    n_classes = C.shape[0]
    b = mu - C.sum(axis=1)
    result = minimize(
        _rlls_objective,
        np.zeros(n_classes),
        args=(C, b, rho),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-1.0, None)] * n_classes,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
    )
    return 1.0 + result.x


def priors_from_weights(weights, source_priors) -> np.ndarray:
    """Target priors ``w * pi_s`` from estimated weights, negative weights clipped at 0.

    BBSE's ``C^-1 mu`` can be negative where the confusion matrix or ``mu`` is estimated
    from few rows; clipping at 0 and renormalising is the usual repair (Lipton et al. 2018).

    Parameters
    ----------
    weights : ndarray of shape (n_classes,)
    source_priors : ndarray of shape (n_classes,)

    Returns
    -------
    target_priors : ndarray of shape (n_classes,)

    Raises
    ------
    ValueError
        When no weight is positive: the target predictions cannot come from the source
        classifier under label shift.
    """
    priors = np.clip(weights, 0.0, None) * source_priors
    total = priors.sum()
    if total <= 0:
        raise ValueError(
            f"The estimated label-shift weights {np.round(weights, 4).tolist()} have no positive "
            "entry: the predictions on the target rows are not a mixture of those on the "
            "source classes (is the shift a label shift?)."
        )
    return priors / total
