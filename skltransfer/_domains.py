"""The domain convention: which rows are source, which are target, which are labeled.

One ``X`` and one ``y``, as scikit-learn expects. Rows whose label is unknown carry
``y == -1`` (the convention of scikit-learn's semi-supervised estimators) and are target
rows; the others are labeled source rows. An explicit ``sample_domain`` (ints per row,
``>= 0`` for source domains, ``< 0`` for target domains, as in skada) overrides that rule and
expresses labeled target rows or several source domains.

Regression targets are floats: their unlabeled rows are NaN and ``-1.0`` is a value like any
other. The ``-1`` marker belongs to class labels: integers, strings (in an object array) and
floats that hold only integral values, which scikit-learn's
:func:`~sklearn.utils.multiclass.type_of_target` calls ``"binary"`` or ``"multiclass"``
(a classification target stored as floats). When the estimator is known (a regressor or a
classifier), it decides instead of the values: see :func:`unlabeled_mask`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils import _safe_indexing, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array

__all__ = [
    "UNLABELED",
    "Domains",
    "encode_labeled_classes",
    "estimator_regression",
    "resolve_domains",
    "score_labeled_rows",
    "stack_domains",
    "unlabeled_mask",
]

#: The label that marks a row whose label is unknown.
UNLABELED = -1


def _float_labels_are_classes(y: np.ndarray) -> bool:
    """Whether a float ``y`` is a classification target: ``type_of_target`` of its finite values."""
    values = y[np.isfinite(y)]
    return values.size > 0 and type_of_target(values) in ("binary", "multiclass")


def _reject_text_marker(y: np.ndarray) -> None:
    """Raise a ``ValueError`` naming the rows of ``y`` that hold the text ``"-1"``."""
    if y.dtype.kind in "US":
        marked = np.flatnonzero(y == y.dtype.type("-1"))
    else:
        marked = np.flatnonzero([isinstance(v, (str, bytes)) and v in ("-1", b"-1") for v in y])
    if marked.size:
        raise ValueError(
            f"y holds the text '-1' at rows {marked[:5].tolist()}{' ...' if marked.size > 5 else ''}: "
            "numpy turns the -1 marker into text when it joins it with string labels (as "
            "np.r_[labels, -1] does). Build y with skltransfer.stack_domains or as an object array "
            "(np.concatenate([labels.astype(object), np.full(n, -1, dtype=object)])), where -1 "
            "stays the marker of unlabeled rows."
        )


def unlabeled_mask(y, *, regression: bool | None = None) -> np.ndarray:
    """Boolean mask of the rows of ``y`` whose label is unknown.

    - Integer labels: ``-1`` marks the unknown ones (integers cannot hold NaN).
    - String labels cannot hold ``-1``: no row is unlabeled; use an object array (as
      :func:`stack_domains` builds) or ``sample_domain``. In an object array ``-1``, NaN and
      ``None`` mark the unknown ones. Labels holding the text ``"-1"`` (what numpy makes of
      ``-1`` joined with strings, as ``np.r_[labels, -1]`` does) raises a ``ValueError``:
      ``-1`` is reserved for the marker.
    - Float labels: NaN marks the unknown ones. ``-1.0`` marks them too when ``y`` holds
      class labels: ``regression=False``, or ``regression=None`` and every finite value is
      integral (:func:`~sklearn.utils.multiclass.type_of_target` says ``"binary"`` or
      ``"multiclass"``, as it does for ``[0.0, 1.0, -1.0]``). For a regression target
      (``regression=True``, or any non-integral value) ``-1.0`` is a value like any other.
    - Several outputs (2-D ``y``): a row is unlabeled when any of its values is.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Labels, with ``-1`` (class labels) or NaN (float targets) for unlabeled rows.
    regression : bool or None, default=None
        Whether ``y`` is a regression target, which only matters for float ``y``. Estimators
        pass ``is_regressor(estimator)``; ``None`` infers it from the values as above.

    Returns
    -------
    mask : ndarray of shape (n_samples,), dtype=bool

    Raises
    ------
    ValueError
        When ``y`` holds the text ``"-1"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer._domains import unlabeled_mask
    >>> unlabeled_mask([0, 1, -1, 2]).tolist()
    [False, False, True, False]
    >>> unlabeled_mask([0.5, -1.0, np.nan]).tolist()
    [False, False, True]
    >>> unlabeled_mask([0.0, 1.0, -1.0]).tolist(), unlabeled_mask([0.0, 1.0, -1.0], regression=True).tolist()
    ([False, False, True], [False, False, False])
    >>> unlabeled_mask([[0.5, 1.0], [0.5, np.nan]]).tolist()
    [False, True]
    """
    y = np.asarray(y)
    if y.ndim == 2:
        return unlabeled_mask(y.ravel(), regression=regression).reshape(y.shape).any(axis=1)
    if y.dtype.kind in "USO":
        _reject_text_marker(y)
    if y.dtype.kind in "US":
        return np.zeros(y.shape[0], dtype=bool)
    if y.dtype.kind == "f":
        missing = np.isnan(y)
        if regression is None:
            regression = not _float_labels_are_classes(y)
        return missing if regression else missing | (y == UNLABELED)
    if y.dtype.kind == "O":
        return np.array(
            [v is None or (isinstance(v, (int, float, np.number)) and (v == UNLABELED or v != v)) for v in y],
            dtype=bool,
        )
    return y == UNLABELED


def score_labeled_rows(score, X, y, sample_weight=None, *, regression: bool | None = False) -> float:
    """``score(X, y, sample_weight=sample_weight)`` on the rows of ``y`` that carry a label.

    The rows that :func:`unlabeled_mask` marks (``y == -1`` for class labels, NaN for float
    targets) are left out of ``X``, ``y`` and ``sample_weight``: unlabeled rows are never
    scored. Every estimator whose ``score`` takes stacked source and target rows scores
    through this function.

    Parameters
    ----------
    score : callable
        ``score(X, y, sample_weight=None) -> float``, typically a bound ``score`` method.
        Called without ``sample_weight`` when it is None, so a ``score(X, y)`` works too.
    X : array-like, sparse matrix, DataFrame or list of shape (n_samples, ...)
        Rows in any form :func:`sklearn.utils._safe_indexing` indexes (arrays, CSR/CSC
        matrices, data frames, lists such as image file paths).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Labels, with ``-1`` (class labels) or NaN (float targets) for unlabeled rows.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows.
    regression : bool or None, default=False
        Whether ``y`` is a regression target: ``-1.0`` is then a value, only NaN marks an
        unlabeled row. ``None`` infers it from the values (see :func:`unlabeled_mask`).

    Returns
    -------
    score : float
        What ``score`` returns on the labeled rows.

    Raises
    ------
    ValueError
        When ``X``, ``y`` and ``sample_weight`` differ in their number of rows, or when no
        row is labeled: a score over no rows has no meaning.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer._domains import score_labeled_rows
    >>> X = np.array([[0.0], [1.0], [0.2], [0.8]])
    >>> clf = LogisticRegression().fit(X[:2], [0, 1])
    >>> score_labeled_rows(clf.score, X, [0, 1, -1, 0])  # the -1 row is left out
    0.6666666666666666
    """
    check_consistent_length(X, y, sample_weight)
    rows = np.flatnonzero(~unlabeled_mask(y, regression=regression))
    if rows.shape[0] == 0:
        raise ValueError(
            "score got no labeled rows: every y is -1 (or NaN). Score on labeled rows "
            "(skltransfer.model_selection splitters keep them in test folds)."
        )
    X, y = _safe_indexing(X, rows), _safe_indexing(y, rows)
    if sample_weight is None:
        return score(X, y)
    return score(X, y, sample_weight=_safe_indexing(sample_weight, rows))


def estimator_regression(estimator) -> bool | None:
    """The ``regression`` argument of :func:`unlabeled_mask` for the targets of ``estimator``.

    ``True`` for a regressor, ``False`` for a classifier, ``None`` (infer from ``y``) otherwise.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from skltransfer._domains import estimator_regression
    >>> estimator_regression(Ridge())
    True
    """
    if is_regressor(estimator):
        return True
    return False if is_classifier(estimator) else None


@dataclass(frozen=True)
class Domains:
    """The domain of each row of a fit, as resolved by :func:`resolve_domains`.

    Attributes
    ----------
    sample_domain : ndarray of shape (n_samples,), dtype=int
        ``>= 0`` for source rows, ``< 0`` for target rows.
    labeled : ndarray of shape (n_samples,), dtype=bool
        Rows whose label is known.
    """

    sample_domain: np.ndarray
    labeled: np.ndarray

    @property
    def source(self) -> np.ndarray:
        """Boolean mask of the source rows."""
        return self.sample_domain >= 0

    @property
    def target(self) -> np.ndarray:
        """Boolean mask of the target rows."""
        return self.sample_domain < 0


def resolve_domains(
    y=None,
    sample_domain=None,
    *,
    n_samples: int,
    require_source: bool = True,
    require_target: bool = True,
    require_labels: bool = False,
    regression: bool | None = None,
) -> Domains:
    """Resolve the domain of every row from ``y`` and ``sample_domain``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or None
        Labels with ``-1`` (class labels) or NaN (float targets) for unlabeled target rows,
        as :func:`unlabeled_mask` reads them.
    sample_domain : array-like of int of shape (n_samples,) or None
        Domain of each row (``>= 0`` source, ``< 0`` target). Overrides the ``-1`` rule.
    n_samples : int
        Number of rows of ``X``.
    require_source, require_target : bool, default=True
        Raise a ``ValueError`` when the fit has no source rows / no target rows.
    require_labels : bool, default=False
        Raise a ``ValueError`` when the labeled source rows are not class labels (e.g. a
        continuous target) or hold fewer than two classes.
    regression : bool or None, default=None
        Whether ``y`` is a regression target (see :func:`unlabeled_mask`).

    Returns
    -------
    domains : Domains

    Raises
    ------
    ValueError
        When neither ``y`` nor ``sample_domain`` is given, when their lengths do not match
        ``X``, or when a required domain or class is missing.

    Examples
    --------
    >>> from skltransfer._domains import resolve_domains
    >>> d = resolve_domains([0, 1, -1, -1], n_samples=4)
    >>> d.source.tolist(), d.target.tolist()
    ([True, True, False, False], [False, False, True, True])
    """
    if y is None and sample_domain is None:
        raise ValueError(
            "Domain adaptation needs to know the target rows: pass y with -1 for unlabeled "
            "target rows (see skltransfer.stack_domains) or sample_domain (>= 0 source, "
            "< 0 target)."
        )
    labeled = np.ones(n_samples, dtype=bool)
    if y is not None:
        y = column_or_1d(y, warn=True, dtype=None)
        check_consistent_length(np.empty(n_samples), y)
        labeled = ~unlabeled_mask(y, regression=regression)
    if sample_domain is None:
        sample_domain = np.where(labeled, 0, -1)
    else:
        sample_domain = check_array(sample_domain, ensure_2d=False, dtype=None, input_name="sample_domain")
        if sample_domain.ndim != 1 or sample_domain.dtype.kind not in "iu":
            raise ValueError(
                f"sample_domain must be a 1-D array of integers, got dtype {sample_domain.dtype} "
                f"and shape {sample_domain.shape}."
            )
        if sample_domain.shape[0] != n_samples:
            raise ValueError(f"sample_domain has {sample_domain.shape[0]} rows but X has {n_samples}.")
        sample_domain = sample_domain.astype(np.int64)
        if y is None:
            labeled = np.zeros(n_samples, dtype=bool)
    domains = Domains(sample_domain=sample_domain, labeled=labeled)
    n_source, n_target = int(domains.source.sum()), int(domains.target.sum())
    if require_source and n_source == 0:
        raise ValueError(
            f"The fit has no source rows (0 of n_samples={n_samples}): every row is marked "
            "as target (y == -1 or sample_domain < 0)."
        )
    if require_target and n_target == 0:
        raise ValueError(
            f"The fit has no target rows (0 of n_samples={n_samples}): mark the unlabeled "
            "target rows with y == -1 (skltransfer.stack_domains does it) or pass "
            "sample_domain with negative values for target rows."
        )
    if require_labels:
        if y is None:
            raise ValueError("This estimator needs labels: y is required.")
        check_classification_targets(y[labeled & domains.source])
        classes = np.unique(y[labeled & domains.source])
        if classes.shape[0] < 2:
            raise ValueError(
                f"The labeled source rows hold {classes.shape[0]} class; at least 2 are needed "
                f"(got classes {classes.tolist()})."
            )
    return domains


def encode_labeled_classes(estimator, y, labeled: np.ndarray) -> np.ndarray:
    """Set ``estimator.classes_`` from the labeled rows and return every row's class code.

    Parameters
    ----------
    estimator : estimator
        Gets ``classes_``, the sorted classes of ``y[labeled]``; named in the error.
    y : ndarray of shape (n_samples,)
    labeled : ndarray of bool of shape (n_samples,)

    Returns
    -------
    codes : ndarray of int of shape (n_samples,)
        The index of each labeled row's class in ``classes_``, -1 for the unlabeled rows.

    Raises
    ------
    ValueError
        When the labeled rows hold fewer than two classes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from skltransfer._domains import encode_labeled_classes
    >>> y = np.array(["b", "a", -1, "b"], dtype=object)
    >>> est = BaseEstimator()
    >>> encode_labeled_classes(est, y, y != -1).tolist(), est.classes_.tolist()
    ([1, 0, -1, 1], ['a', 'b'])
    """
    check_classification_targets(y[labeled])
    estimator.classes_, codes = np.unique(y[labeled], return_inverse=True)
    if estimator.classes_.shape[0] < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs at least 2 classes among the labeled rows, "
            f"got {estimator.classes_.tolist()}."
        )
    labels = np.full(len(y), -1)
    labels[labeled] = codes
    return labels


def stack_domains(
    X_source,
    y_source,
    X_target,
    y_target=None,
    *,
    return_sample_domain: bool = False,
):
    """Stack a source and a target domain into one ``(X, y)`` pair.

    Target rows get ``y == -1`` (unknown label) unless ``y_target`` is given; with float
    source labels (a regression target) they get NaN instead, and ``-1.0`` stays a value.
    Labeled target rows are indistinguishable from source rows in ``y`` alone, so passing
    ``y_target`` requires ``return_sample_domain=True``.

    Parameters
    ----------
    X_source : array-like of shape (n_source, ...)
        Source rows (features, images or image paths).
    y_source : array-like of shape (n_source,)
        Source labels: ints or strings (``-1`` is reserved), or floats (a regression target;
        NaN is reserved).
    X_target : array-like of shape (n_target, ...)
        Target rows.
    y_target : array-like of shape (n_target,), default=None
        Target labels, when some are known (``-1`` for the unknown ones, NaN for floats).
    return_sample_domain : bool, default=False
        Also return ``sample_domain``: ``0`` for source rows, ``-1`` for target rows.

    Returns
    -------
    X : ndarray of shape (n_source + n_target, ...)
    y : ndarray of shape (n_source + n_target,)
        Integer labels stay integers and float labels stay floats (float when either
        domain's labels are); other labels become an object array so that ``-1`` can stand
        beside them.
    sample_domain : ndarray of shape (n_source + n_target,), dtype=int
        Only when ``return_sample_domain=True``.

    See Also
    --------
    make_da_pipeline : A pipeline that fits its last step on the labeled rows of ``(X, y)``.
    LabeledOnly : Fit and score an estimator on the labeled rows only.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import stack_domains
    >>> X, y = stack_domains(np.zeros((2, 3)), [0, 1], np.ones((2, 3)))
    >>> X.shape, y.tolist()
    ((4, 3), [0, 1, -1, -1])
    >>> stack_domains(np.zeros((2, 3)), [0.5, -1.0], np.ones((1, 3)))[1].tolist()
    [0.5, -1.0, nan]
    """
    if isinstance(X_source, list) and isinstance(X_target, list):
        X = np.asarray(X_source + X_target)
    else:
        X_source, X_target = np.asarray(X_source), np.asarray(X_target)
        if X_source.shape[1:] != X_target.shape[1:]:
            raise ValueError(
                f"X_source rows have shape {X_source.shape[1:]} but X_target rows have shape "
                f"{X_target.shape[1:]}: both domains must have the same features (columns)."
            )
        X = np.concatenate([X_source, X_target], axis=0)
    y_source = column_or_1d(y_source, dtype=None)
    n_source, n_target = len(X_source), len(X_target)
    check_consistent_length(np.empty(n_source), y_source)
    floats = y_source.dtype.kind == "f"
    if np.any(unlabeled_mask(y_source, regression=floats or None)):
        raise ValueError(
            "y_source contains -1 (or NaN), the marker of unlabeled rows: every source row needs a label."
        )
    if y_target is None:
        y_target = np.full(n_target, np.nan if floats else UNLABELED)
    else:
        if not return_sample_domain:
            raise ValueError(
                "Labeled target rows cannot be told from source rows by y alone: pass "
                "return_sample_domain=True and give sample_domain to fit."
            )
        y_target = column_or_1d(y_target, dtype=None)
        check_consistent_length(np.empty(n_target), y_target)
    kinds = y_source.dtype.kind + np.asarray(y_target).dtype.kind
    if set(kinds) <= set("iu"):
        y = np.concatenate([y_source, y_target]).astype(np.int64)
    elif set(kinds) <= set("iuf"):
        y = np.concatenate([y_source, y_target]).astype(np.float64)
    else:
        y = np.concatenate([y_source.astype(object), np.asarray(y_target, dtype=object)])
    if not return_sample_domain:
        return X, y
    sample_domain = np.concatenate([np.zeros(n_source, np.int64), np.full(n_target, -1, np.int64)])
    return X, y, sample_domain
