"""A one-call report of a domain adaptation model on the labeled target rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.metrics import (
    classification_report,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._domains import resolve_domains
from ..model_selection._scorers import transform_by_domain
from ..utils._sklearn_compat import _safe_indexing
from ._mmd import maximum_mean_discrepancy

__all__ = ["transfer_report"]


def _roc_auc(estimator, X_target, y_target) -> float | None:
    """Macro one-vs-rest ROC-AUC, None when it is undefined (one class, no scores)."""
    classes = np.asarray(estimator.classes_)
    present = np.unique(y_target)
    if present.shape[0] < 2 or not np.isin(present, classes).all():
        return None
    if hasattr(estimator, "predict_proba"):
        scores = estimator.predict_proba(X_target)
    elif hasattr(estimator, "decision_function"):
        scores = estimator.decision_function(X_target)
    else:
        return None
    if classes.shape[0] == 2:
        return float(roc_auc_score(y_target == classes[1], scores if scores.ndim == 1 else scores[:, 1]))
    if scores.ndim == 1 or present.shape[0] < classes.shape[0]:
        # macro AUC over the classes present: one-vs-rest by hand (sklearn needs every class)
        return float(
            np.mean([roc_auc_score(y_target == c, scores[:, list(classes).index(c)]) for c in present])
        )
    return float(roc_auc_score(y_target, scores, multi_class="ovr", labels=classes))


def _guarded(estimator):
    """The estimator, or a pipeline's final step, when it has the transfer guard (``guard``)."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    return final if hasattr(final, "baseline_scores_") else None


def _guard_lines(guarded, digits: int) -> list[str]:
    """The guard's part of the text report: what it kept and every compared fit's scores."""
    if guarded.baseline_scores_ is None:
        # guard on but nothing compared: the fit had no (or too few) labeled target rows,
        # and the report is that of an estimator without the guard
        return [] if guarded.guard else ["", "Guard: off; the transfer fit predicts"]
    score = "accuracy" if is_classifier(guarded) else "minus the squared error"
    lines = [
        "",
        f"Guard: kept {guarded.selected_!r} (cross-validated {score} on the labeled target rows of the fit; "
        "gain: against the transfer fit, row by row)",
    ]
    width = max(len(name) for name in guarded.baseline_scores_)
    for name, entry in guarded.baseline_scores_.items():
        lines.append(
            f"  {name:<{width}}  {entry['mean']:.{digits}f} +/- {entry['std_error']:.{digits}f}  "
            f"gain {entry['gain']:+.{digits}f} +/- {entry['gain_std_error']:.{digits}f}"
        )
    return lines


def _format(report: dict, text: str, digits: int, guarded) -> str:
    def value(v):
        return "n/a" if v is None else f"{v:.{digits}f}"

    lines = [
        f"Target rows scored: {report['n_target_labeled']} (source rows: {report['n_source']}, "
        f"target rows: {report['n_target']})",
        "",
        text.rstrip(),
        "",
    ]
    if "roc_auc" in report:
        lines.append(f"ROC-AUC (macro, one-vs-rest): {value(report['roc_auc'])}")
    lines.append(
        f"MMD^2 source vs target ({report['mmd_kernel']}): before alignment {value(report['mmd_before'])}, "
        f"after alignment {value(report['mmd_after'])}"
    )
    if guarded is not None:
        lines.extend(_guard_lines(guarded, digits))
    return "\n".join(lines) + "\n"


def transfer_report(
    estimator,
    X,
    y,
    *,
    sample_domain=None,
    kernel: str | Callable = "rbf",
    gamma: float | str | None = "median",
    target_names: list[str] | None = None,
    digits: int = 3,
    output_dict: bool = False,
) -> str | dict:
    """Report a fitted domain adaptation model: target scores, the domain gap and the guard.

    Scores on the *labeled target rows*: for a classifier accuracy, precision, recall and F1
    per class and macro-averaged, as :func:`sklearn.metrics.classification_report`, and
    macro one-vs-rest ROC-AUC; for a regressor the mean squared and absolute errors and
    R². Then the squared maximum mean discrepancy between the source and the target rows
    before the model (on ``X``) and after the pipeline's alignment step (the output of the
    transformers before the final step, each row mapped by its domain). For an estimator
    with the guard against negative transfer (``guard``: ``TrAdaBoostClassifier``,
    ``TrAdaBoostRegressor``, ``TransferRidge``, the importance-weighting estimators,
    ``FineTunedCNNClassifier`` and ``FineTunedCNNRegressor``, alone or as a pipeline's final
    step), the fit it kept (``selected_``) and the cross-validated scores of every fit it
    compared (``baseline_scores_``).

    Parameters
    ----------
    estimator : fitted classifier or regressor
        Usually a ``make_da_pipeline``; for other estimators ``mmd_after`` is None.
    X : array-like of shape (n_samples, n_features)
        Source and target rows.
    y : array-like of shape (n_samples,)
        Labels of the rows; target rows need their true labels here (they are what is
        scored), so pass ``sample_domain`` to tell them from source rows.
    sample_domain : array-like of int of shape (n_samples,), default=None
        ``>= 0`` source, ``< 0`` target rows (``stack_domains(...,
        return_sample_domain=True)``). None: target rows are those with ``y == -1``, which
        carry no label, so a ``ValueError`` follows.
    kernel : str or callable, default="rbf"
        Kernel of the MMD, as in :func:`maximum_mean_discrepancy`.
    gamma : float, "median" or None, default="median"
        Kernel coefficient of the MMD, as in :func:`maximum_mean_discrepancy`; ``"median"``
        uses the median heuristic in each feature space.
    target_names : list of str, default=None
        Display names of the classes, as in ``classification_report``.
    digits : int, default=3
        Digits of the text report.
    output_dict : bool, default=False
        Return a dict instead of text.

    Returns
    -------
    report : str or dict
        The dict holds, for a classifier, ``classification_report``'s entries (per class,
        ``accuracy``, ``macro avg``, ``weighted avg``) and ``roc_auc``; for a regressor
        ``mse``, ``mae`` and ``r2``; and ``mmd_before``, ``mmd_after``, ``mmd_kernel``,
        ``n_source``, ``n_target``, ``n_target_labeled``. With the guard, also
        ``guard_selected`` (the estimator's ``selected_``) and ``guard_scores`` (its
        ``baseline_scores_``, None when nothing was compared). Values that are undefined
        (ROC-AUC with one class present) are None, never NaN.

    Raises
    ------
    ValueError
        When no target row carries a label, or there are no source rows.

    See Also
    --------
    sklearn.metrics.classification_report : The per-class scores of the report.
    maximum_mean_discrepancy : The domain gap of the report.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> from skltransfer.metrics import transfer_report
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(40, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> Xt = rng.normal(size=(30, 2)) + 0.2; yt = (Xt[:, 0] > 0.2).astype(int)
    >>> X, y, sd = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    >>> pipe = make_da_pipeline(StandardScaler(), LogisticRegression()).fit(X, np.where(sd < 0, -1, y))
    >>> report = transfer_report(pipe, X, y, sample_domain=sd, output_dict=True)
    >>> sorted(k for k in report if not k[0].isdigit())[:4]
    ['accuracy', 'macro avg', 'mmd_after', 'mmd_before']
    >>> print(transfer_report(pipe, X, y, sample_domain=sd).splitlines()[0])
    Target rows scored: 30 (source rows: 40, target rows: 30)
    """
    check_is_fitted(estimator)
    X = np.asarray(X)
    domains = resolve_domains(y, sample_domain, n_samples=X.shape[0])
    scored = np.flatnonzero(domains.target & domains.labeled)
    if scored.shape[0] == 0:
        raise ValueError(
            "transfer_report scores the labeled target rows and found none: pass the target "
            "labels in y and sample_domain (< 0 for target rows), e.g. from "
            "stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)."
        )
    X_scored, y_scored = _safe_indexing(X, scored), np.asarray(y)[scored]
    y_pred = estimator.predict(X_scored)
    if is_regressor(estimator):
        report = {
            "mse": float(mean_squared_error(y_scored, y_pred)),
            "mae": float(mean_absolute_error(y_scored, y_pred)),
            "r2": float(r2_score(y_scored, y_pred)) if scored.shape[0] > 1 else None,
        }
        text = "  ".join(
            f"{label} {'n/a' if report[key] is None else format(report[key], f'.{digits}f')}"
            for key, label in (("mse", "MSE"), ("mae", "MAE"), ("r2", "R^2"))
        )
    else:
        report = classification_report(
            y_scored, y_pred, target_names=target_names, output_dict=True, zero_division=0
        )
        text = classification_report(
            y_scored, y_pred, target_names=target_names, digits=digits, zero_division=0
        )
        report["roc_auc"] = _roc_auc(estimator, X_scored, y_scored)
    source, target = np.flatnonzero(domains.source), np.flatnonzero(domains.target)
    features = transform_by_domain(estimator, X, source)
    kernel_name = kernel if isinstance(kernel, str) else getattr(kernel, "__name__", "callable")
    report.update(
        mmd_before=maximum_mean_discrepancy(X[source], X[target], kernel, gamma),
        mmd_after=None
        if features is X
        else maximum_mean_discrepancy(features[source], features[target], kernel, gamma),
        mmd_kernel=kernel_name,
        n_source=int(source.shape[0]),
        n_target=int(target.shape[0]),
        n_target_labeled=int(scored.shape[0]),
    )
    guarded = _guarded(estimator)
    if guarded is not None:
        report.update(guard_selected=guarded.selected_, guard_scores=guarded.baseline_scores_)
    return report if output_dict else _format(report, text, digits, guarded)
