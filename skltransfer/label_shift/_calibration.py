"""Temperature scaling and bias-corrected temperature scaling (Alexandari et al. 2020).

The calibrated probabilities are ``softmax(z / T + b)`` where ``z`` are the logits of the
classifier (here the log of its ``predict_proba``, which equals the logits up to a constant
per row, to which the softmax is blind). Temperature scaling (TS, Guo et al. 2017) fits the
temperature ``T`` alone, bias-corrected temperature scaling (BCTS) also a bias ``b`` per
class, both by minimising the negative log-likelihood of held-out labels. With the inverse
temperature ``a = 1 / T`` as parameter the negative log-likelihood is convex in ``(a, b)``
(a log-sum-exp of linear functions minus a linear function), so L-BFGS reaches its minimum.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

__all__ = ["apply_calibration", "fit_calibration", "proba_to_logits"]

# Probabilities are clipped here before the log, so that a classifier that predicts exact
# zeros (trees, naive Bayes underflow) gives finite logits.
_MIN_PROBA = 1e-12
# Smallest inverse temperature: the calibrated probabilities stay a function of the logits.
_MIN_INVERSE_TEMPERATURE = 1e-6


def proba_to_logits(proba) -> np.ndarray:
    """Logits of class probabilities: their log, clipped below at ``1e-12``.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    logits : ndarray of shape (n_samples, n_classes)
    """
    return np.log(np.clip(np.asarray(proba, dtype=float), _MIN_PROBA, None))


def _nll_and_gradient(params: np.ndarray, logits: np.ndarray, onehot: np.ndarray, bias: bool):
    inverse_temperature = params[0]
    b = params[1:] if bias else 0.0
    scores = inverse_temperature * logits + b
    log_proba = log_softmax(scores, axis=1)
    n_samples = logits.shape[0]
    nll = -np.sum(onehot * log_proba) / n_samples
    residual = (np.exp(log_proba) - onehot) / n_samples
    gradient = [np.sum(residual * logits)]
    if bias:
        gradient.extend(residual.sum(axis=0))
    return nll, np.asarray(gradient)


def fit_calibration(logits, y_codes, *, bias: bool) -> tuple[float, np.ndarray]:
    """Fit the temperature (and the class biases) by minimising the negative log-likelihood.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        Held-out logits.
    y_codes : ndarray of int of shape (n_samples,)
        True class of each row, as an index into the columns.
    bias : bool
        Fit a bias per class (BCTS) or not (TS).

    Returns
    -------
    temperature : float
    bias : ndarray of shape (n_classes,)
        Centred to sum 0 (the softmax ignores a common shift); zeros for TS.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.label_shift._calibration import fit_calibration
    >>> logits = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [0.0, 4.0]])
    >>> temperature, _ = fit_calibration(logits, np.array([0, 1, 1, 0]), bias=False)
    >>> bool(temperature > 100)  # labels unrelated to the logits: flatten them
    True
    """
    logits = np.asarray(logits, dtype=float)
    n_classes = logits.shape[1]
    onehot = np.eye(n_classes)[y_codes]
    n_params = 1 + (n_classes if bias else 0)
    start = np.zeros(n_params)
    start[0] = 1.0
    bounds = [(_MIN_INVERSE_TEMPERATURE, None)] + [(None, None)] * (n_params - 1)
    result = minimize(
        _nll_and_gradient, start, args=(logits, onehot, bias), jac=True, method="L-BFGS-B", bounds=bounds
    )
    b = result.x[1:] - result.x[1:].mean() if bias else np.zeros(n_classes)
    return float(1.0 / result.x[0]), b


def apply_calibration(logits, temperature: float, bias) -> np.ndarray:
    """Calibrated probabilities ``softmax(logits / temperature + bias)``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    temperature : float
    bias : ndarray of shape (n_classes,)

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
    """
    return softmax(np.asarray(logits, dtype=float) / temperature + bias, axis=1)
