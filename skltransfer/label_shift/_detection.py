"""Detecting label shift from a classifier's predictions (black-box shift detection)."""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2_contingency
from sklearn.utils import column_or_1d

__all__ = ["label_shift_test"]


def label_shift_test(y_pred_source, y_pred_target) -> tuple[float, float]:
    """Test whether a classifier's predicted class frequencies differ between two domains.

    Under label shift the distribution of a fixed classifier's predictions changes with the
    class priors, and it stays the same when they do not (Lipton et al. 2018, who detect
    shift this way; Rabanser et al. 2019 call it black-box shift detection). This is
    Pearson's chi-square test of homogeneity on the 2 x k table of predicted class counts in
    the source and target rows, without continuity correction. Classes predicted in neither
    domain are left out.

    The source predictions must be held out (for instance
    :func:`~sklearn.model_selection.cross_val_predict` on the source rows, or a fitted
    classifier on source rows it was not trained on).

    Parameters
    ----------
    y_pred_source : array-like of shape (n_source,)
        Predicted classes of held-out source rows.
    y_pred_target : array-like of shape (n_target,)
        Predicted classes of target rows, by the same classifier.

    Returns
    -------
    statistic : float
        Pearson's chi-square statistic (0 when a single class is predicted in both domains).
    p_value : float
        Its p-value with ``k - 1`` degrees of freedom (1 when a single class is predicted).

    Raises
    ------
    ValueError
        When either domain has no prediction.

    See Also
    --------
    LabelShiftClassifier : Estimate the target class priors and correct for them.
    skltransfer.metrics.mmd_permutation_test : Test a shift of the input features.

    References
    ----------
    .. [1] Z. C. Lipton, Y.-X. Wang and A. J. Smola, "Detecting and correcting for label
           shift with black box predictors", ICML 2018.
    .. [2] S. Rabanser, S. Günnemann and Z. C. Lipton, "Failing loudly: an empirical study
           of methods for detecting dataset shift", NeurIPS 2019.

    Examples
    --------
    >>> from skltransfer.metrics import label_shift_test
    >>> statistic, p_value = label_shift_test([0] * 50 + [1] * 50, [0] * 80 + [1] * 20)
    >>> round(statistic, 2), p_value < 0.001
    (19.78, True)
    """
    y_pred_source = column_or_1d(y_pred_source, dtype=None)
    y_pred_target = column_or_1d(y_pred_target, dtype=None)
    for name, predictions in (("y_pred_source", y_pred_source), ("y_pred_target", y_pred_target)):
        if predictions.shape[0] == 0:
            raise ValueError(f"{name} is empty: the test needs predictions in both domains.")
    classes, codes = np.unique(np.concatenate([y_pred_source, y_pred_target]), return_inverse=True)
    if classes.shape[0] < 2:
        return 0.0, 1.0
    n_source = y_pred_source.shape[0]
    table = np.vstack(
        [
            np.bincount(codes[:n_source], minlength=classes.shape[0]),
            np.bincount(codes[n_source:], minlength=classes.shape[0]),
        ]
    )
    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)
