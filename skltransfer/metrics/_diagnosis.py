"""Which kind of shift separates a labeled source from an unlabeled target: a diagnosis before the method."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from .._domains import resolve_domains
from ..label_shift._detection import label_shift_test
from ..label_shift._priors import bbse_weights
from ..utils._sklearn_compat import HasMethods, Interval, validate_params
from ._mmd import median_heuristic_gamma, mmd_permutation_test

__all__ = ["ShiftDiagnosis", "diagnose_shift"]

#: The families of methods the diagnosis advises for or against.
NO_ADAPTATION = "no adaptation"
LABEL_SHIFT_CORRECTION = "label-shift correction"
FEATURE_ALIGNMENT = "feature alignment"
IMPORTANCE_REWEIGHTING = "importance reweighting"


def _default_aligners(n_features: int, seed: int) -> dict:
    """Every aligner of ``skltransfer.alignment`` with its defaults, simplest first."""
    from ..alignment import (
        CORALAligner,
        DomainStandardScaler,
        GFKAligner,
        JointMMDAligner,
        MMDAligner,
        SubspaceAligner,
    )

    return {
        "DomainStandardScaler": DomainStandardScaler(),
        "CORALAligner": CORALAligner(),
        "SubspaceAligner": SubspaceAligner(n_components=min(20, n_features)),
        "GFKAligner": GFKAligner(n_components=min(20, n_features)),
        "MMDAligner": MMDAligner(n_components=min(30, n_features), random_state=seed),
        "JointMMDAligner": JointMMDAligner(n_components=min(30, n_features), random_state=seed),
    }


@dataclass
class ShiftDiagnosis:
    """Report the kind of shift between two domains and the methods it advises for and against.

    Returned by :func:`diagnose_shift`, which documents the rule. ``str(diagnosis)`` is a
    readable report; the fields hold the evidence.

    Parameters
    ----------
    shift : str
        ``"none"`` (no detectable shift of the features), ``"label"`` (a change of the
        class priors explains the shift), ``"feature"`` (an aligner removes the shift and
        keeps the source task) or ``"unexplained"`` (neither: covariate shift, or a shift
        that none of the candidates undoes).
    recommended : str
        ``"no adaptation"``, ``"label-shift correction"`` or the name of an aligner.
    advise_for : list of str
        The families (and aligners) the evidence supports, the recommended one first.
    advise_against : dict of str to str
        Each family or aligner advised against, with the reason.
    n_source, n_target : int
        Source and target rows used (after subsampling to ``max_samples``).
    alpha : float
        Significance level of the tests.
    tolerance : float
        Source accuracy an alignment may lose.
    feature_gap : float
        Squared MMD between the source and target rows (RBF kernel, median heuristic).
    feature_p_value : float
        P-value of the MMD permutation test of that gap.
    label_shift_p_value : float
        P-value of :func:`~skltransfer.metrics.label_shift_test` on the estimator's
        held-out source predictions and its target predictions.
    classes : ndarray of shape (n_classes,)
        The classes of the labeled source rows.
    source_priors : ndarray of shape (n_classes,)
        Class frequencies of the source rows.
    target_priors : ndarray of shape (n_classes,)
        Target priors estimated by black-box shift estimation (BBSE).
    reweighted_gap : float
        Squared MMD between the source rows weighted by ``target_priors / source_priors``
        (per class) and the target rows.
    reweighted_p_value : float
        P-value of the bootstrap test that the target rows are drawn from the reweighted
        source: large when a change of priors explains the shift.
    source_accuracy : float
        Cross-validated accuracy of the estimator on the source rows.
    round_trip_accuracy : float
        Held-out source accuracy after the round trip without alignment: the estimator fitted
        on source rows labels the target rows, a second fit on those labels predicts the
        held-out source rows.
    aligners : dict of str to dict
        For each candidate aligner: ``gap`` (squared MMD after alignment, median heuristic
        in the aligned space), ``p_value`` (its permutation test), ``source_accuracy`` and
        ``round_trip_accuracy`` (as above, in the aligned space).
    estimator : classifier
        The estimator of the diagnosis, which :meth:`make_estimator` wraps.
    aligner : transformer or None
        The recommended aligner, when one is recommended.

    See Also
    --------
    diagnose_shift : The diagnosis that returns this object.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import stack_domains
    >>> from skltransfer.metrics import diagnose_shift
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(60, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, rng.normal(size=(60, 2)))
    >>> diagnosis = diagnose_shift(X, y, aligners={}, n_permutations=100, cv=3, random_state=0)
    >>> diagnosis.shift, diagnosis.recommended
    ('none', 'no adaptation')
    """

    shift: str
    recommended: str
    advise_for: list
    advise_against: dict
    n_source: int
    n_target: int
    alpha: float
    tolerance: float
    feature_gap: float
    feature_p_value: float
    label_shift_p_value: float
    classes: np.ndarray = field(repr=False)
    source_priors: np.ndarray = field(repr=False)
    target_priors: np.ndarray = field(repr=False)
    reweighted_gap: float = field(repr=False)
    reweighted_p_value: float = field(repr=False)
    source_accuracy: float = field(repr=False)
    round_trip_accuracy: float = field(repr=False)
    aligners: dict = field(repr=False)
    estimator: object = field(repr=False)
    aligner: object = field(repr=False, default=None)

    def make_estimator(self):
        """Build the recommended estimator, unfitted, around a clone of the diagnosis's estimator.

        ``fit`` it on the same stacked rows (``y == -1`` for target rows):

        - no adaptation: ``make_da_pipeline(estimator)``;
        - label-shift correction: ``LabelShiftClassifier(estimator)``, the estimator wrapped in
          :class:`~sklearn.calibration.CalibratedClassifierCV` when it has no
          ``predict_proba``;
        - an aligner: ``make_da_pipeline(aligner, estimator)``.

        Returns
        -------
        estimator : estimator
            A new, unfitted estimator.
        """
        from ..label_shift import LabelShiftClassifier
        from ..pipeline import make_da_pipeline

        estimator = clone(self.estimator)
        if self.recommended == LABEL_SHIFT_CORRECTION:
            if not hasattr(estimator, "predict_proba"):
                estimator = CalibratedClassifierCV(estimator)
            return LabelShiftClassifier(estimator)
        if self.aligner is not None:
            return make_da_pipeline(clone(self.aligner), estimator)
        return make_da_pipeline(estimator)

    def __str__(self) -> str:
        priors = ", ".join(
            f"{c}: {s:.2f} -> {t:.2f}"
            for c, s, t in zip(self.classes, self.source_priors, self.target_priors, strict=True)
        )
        lines = [
            f"Shift diagnosis: {_SHIFT_TEXT[self.shift]}",
            f"Recommended: {self.recommended}",
            "Advised for: " + ("; ".join(self.advise_for) if self.advise_for else "nothing"),
            "Advised against:",
            *(f"  - {name}: {reason}" for name, reason in self.advise_against.items()),
            f"Evidence ({self.n_source} source rows, {self.n_target} target rows; "
            f"alpha {self.alpha:g}, tolerance {self.tolerance:g}):",
            f"  feature gap: MMD^2 {self.feature_gap:.4f}, p = {self.feature_p_value:.3f}",
            f"  label-shift test: p = {self.label_shift_p_value:.3f}; priors (BBSE) {priors}",
            f"  gap left after reweighting the source by the priors: MMD^2 {self.reweighted_gap:.4f}, "
            f"p = {self.reweighted_p_value:.3f}",
            f"  source accuracy {self.source_accuracy:.3f}, round trip {self.round_trip_accuracy:.3f} "
            "(cross-validated on source rows)",
        ]
        if self.aligners:
            width = max(len(name) for name in self.aligners)
            lines.append(f"  {'aligner':<{width}}  MMD^2 after  p      source acc  round trip")
            for name, entry in self.aligners.items():
                lines.append(
                    f"  {name:<{width}}  {entry['gap']:<11.4f}  {entry['p_value']:<5.3f}  "
                    f"{entry['source_accuracy']:<10.3f}  {entry['round_trip_accuracy']:.3f}"
                )
        return "\n".join(lines)


_SHIFT_TEXT = {
    "none": "no detectable shift between the domains",
    "label": "label shift (the class priors change, p(x | y) does not)",
    "feature": "feature shift that an aligner removes while keeping the source task",
    "unexplained": "a shift that neither a change of priors nor an aligner explains "
    "(covariate shift, or one the candidates do not undo)",
}


def _fold_predictions(X, y_source, sample_domain, source, target, estimator, aligner, folds):
    """Held-out source predictions, direct and after the round trip through the target rows.

    In each fold the aligner (if any) is fitted on the training source rows and every target
    row; the estimator on the aligned training source rows predicts the held-out source rows
    (direct) and labels the target rows; a second fit on the labeled target rows predicts the
    held-out source rows again (round trip).
    """
    X_source, X_target = X[source], X[target]
    direct = np.empty_like(y_source)
    round_trip = np.empty_like(y_source)
    for train, test in folds:
        if aligner is None:
            Z_train, Z_test, Z_target = X_source[train], X_source[test], X_target
        else:
            rows = np.r_[source[train], target]
            y_fit = np.r_[y_source[train], np.full(target.shape[0], -1)]
            fitted = clone(aligner).fit(X[rows], y_fit, sample_domain=sample_domain[rows])
            Z_train = fitted.transform(X_source[train], sample_domain=np.zeros(train.shape[0], dtype=int))
            Z_test = fitted.transform(X_source[test], sample_domain=np.zeros(test.shape[0], dtype=int))
            Z_target = fitted.transform(X_target)
        model = clone(estimator).fit(Z_train, y_source[train])
        direct[test] = model.predict(Z_test)
        y_target = model.predict(Z_target)
        if np.unique(y_target).shape[0] < 2:
            round_trip[test] = y_target[0]
        else:
            round_trip[test] = clone(estimator).fit(Z_target, y_target).predict(Z_test)
    return direct, round_trip


def _reweighted_gap_test(X_source, X_target, row_weights, n_bootstrap, rng):
    """Squared MMD of the weighted source and the target, and its bootstrap p-value.

    Null hypothesis: the target rows are drawn from the source distribution weighted by
    ``row_weights``. Each replicate resamples the source rows (uniformly, with replacement)
    for the weighted mean embedding, and draws a pseudo-target of ``n_target`` rows from
    the weighted source; the statistic is the squared MMD between the two.
    """
    gamma = median_heuristic_gamma(X_source, X_target)
    K_ss = rbf_kernel(X_source, gamma=gamma)
    K_st = rbf_kernel(X_source, X_target, gamma=gamma)
    K_tt = rbf_kernel(X_target, gamma=gamma)
    n, m = X_source.shape[0], X_target.shape[0]
    a = row_weights / row_weights.sum()
    statistic = float(a @ K_ss @ a + K_tt.mean() - 2.0 * a @ K_st.mean(axis=1))
    resampled = rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap) * row_weights
    resampled /= resampled.sum(axis=1, keepdims=True)
    difference = resampled - rng.multinomial(m, a, size=n_bootstrap) / m
    null = np.einsum("bi,bi->b", difference @ K_ss, difference)
    return statistic, (1.0 + np.sum(null >= statistic)) / (1.0 + n_bootstrap)


def _bbse_priors(y_codes, pred_source, pred_target, n_classes):
    """Target priors by black-box shift estimation on hard predictions (Lipton et al. 2018)."""
    source_priors = np.bincount(y_codes, minlength=n_classes) / y_codes.shape[0]
    confusion = np.zeros((n_classes, n_classes))
    np.add.at(confusion, (pred_source, y_codes), 1.0)
    confusion /= y_codes.shape[0]
    mu = np.bincount(pred_target, minlength=n_classes) / pred_target.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a singular confusion: least squares
        weights = bbse_weights(confusion, mu)
    priors = np.clip(weights, 0.0, None) * source_priors
    if priors.sum() <= 0:
        return source_priors, None
    return source_priors, priors / priors.sum()


def _subsample(rows, max_samples, rng):
    if max_samples is None or rows.shape[0] <= max_samples:
        return rows
    return np.sort(rng.choice(rows, size=max_samples, replace=False))


def _check_domains(X, y, sample_domain):
    """Resolve source and target rows, with errors that name ``y`` or ``sample_domain``."""
    if y is None:
        raise ValueError("diagnose_shift needs y: the labels of the source rows, -1 for target rows.")
    domains = resolve_domains(
        y, sample_domain, n_samples=X.shape[0], require_source=False, require_target=False
    )
    source = np.flatnonzero(domains.source & domains.labeled)
    target = np.flatnonzero(domains.target)
    if target.shape[0] < 2:
        raise ValueError(
            f"diagnose_shift found {target.shape[0]} target rows; it needs at least 2: mark the "
            "unlabeled target rows with y == -1 (skltransfer.stack_domains does it) or pass "
            "sample_domain with negative values for target rows."
        )
    if source.shape[0] == 0:
        raise ValueError(
            "diagnose_shift found no labeled source rows: y holds no label outside the target "
            "rows (y == -1 or sample_domain < 0)."
        )
    y_source = np.asarray(y)[source]
    classes, counts = np.unique(y_source, return_counts=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"y holds a single class on the labeled source rows ({classes.tolist()}): "
            "diagnose_shift needs at least 2 classes."
        )
    if counts.min() < 2:
        raise ValueError(
            f"y holds fewer than 2 labeled source rows of class {classes[counts.argmin()].tolist()!r}: "
            "the cross-validation of diagnose_shift needs at least 2 per class."
        )
    return domains.sample_domain, source, target, y_source, classes


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like", None],
        "sample_domain": ["array-like", None],
        "estimator": [HasMethods(["fit", "predict"]), None],
        "aligners": [dict, None],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "tolerance": [Interval(Real, 0, 1, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "n_permutations": [Interval(Integral, 1, None, closed="left")],
        "max_samples": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def diagnose_shift(
    X,
    y,
    *,
    sample_domain=None,
    estimator=None,
    aligners=None,
    alpha: float = 0.05,
    tolerance: float = 0.02,
    cv: int = 5,
    n_permutations: int = 500,
    max_samples: int | None = 1000,
    random_state=None,
) -> ShiftDiagnosis:
    """Diagnose the kind of shift between labeled source and unlabeled target rows.

    Uses no target label. From the labeled source rows and the unlabeled target rows it
    tests whether the features shift at all, whether a change of the class priors (label
    shift) explains the shift, and whether an aligner removes the shift while keeping the
    source task; then it names the method families it advises for and against, with the
    evidence, and builds the recommended estimator (:meth:`ShiftDiagnosis.make_estimator`).

    Evidence, each computed on the source and target rows (at most ``max_samples`` of each):

    1. **Feature gap**: the squared MMD between the domains and its permutation test
       (:func:`mmd_permutation_test`, RBF kernel, median heuristic), p-value ``p_feature``.
    2. **Label-shift test**: :func:`label_shift_test` on the estimator's held-out source
       predictions (``cv`` stratified folds) and its target predictions (fitted on every
       source row), p-value ``p_label``; black-box shift estimation (BBSE, Lipton et al.
       2018) gives the target priors.
    3. **Gap left after reweighting by the priors**: under label shift the target is the
       source reweighted per class by ``target_priors / source_priors``. The squared MMD
       between the reweighted source and the target is tested by a bootstrap that draws
       pseudo-targets from the reweighted source (and resamples the source), p-value
       ``p_reweighted``: large when the change of priors explains the gap.
    4. **Source accuracy and its round trip**, cross-validated on the source rows: the
       estimator's held-out accuracy ``acc``, and its round-trip accuracy ``rt``: the
       fitted estimator labels the target rows, a second fit on those labels predicts the
       held-out source rows. A round trip that keeps the source accuracy says that the
       target rows, as the estimator labels them, still carry the source task.
    5. **Each candidate aligner** (fitted in each fold on the training source rows and every
       target row): the gap after alignment and its permutation test ``p_A`` (median
       heuristic in the aligned space), the direct held-out accuracy ``acc_A`` and the
       round-trip accuracy ``rt_A``, both in the aligned space.

    The rule (``alpha`` the level of the tests, ``tolerance`` the accuracy an adaptation may
    lose, the first that applies):

    - **No shift** when ``p_feature >= alpha``: recommend no adaptation; advise against
      label-shift correction and feature alignment (nothing to correct; they add variance).
    - **Label shift** when ``p_label < alpha``, ``p_reweighted >= alpha`` and
      ``rt >= acc - tolerance``: recommend label-shift correction
      (:class:`~skltransfer.LabelShiftClassifier`); advise against feature alignment, whose
      aligners match the marginal distributions and so would move the classes to absorb
      the change of priors.
    - **Feature shift** when some aligner has ``p_A >= alpha`` (it removes the detectable
      gap), ``acc_A >= acc - tolerance`` (it keeps the source accuracy) and
      ``rt_A > rt + tolerance`` (its round trip beats the unaligned one): recommend the one
      with the highest ``rt_A`` (ties: the earlier candidate, simplest first); advise
      against label-shift correction.
    - **Unexplained shift** otherwise (covariate shift, where ``p(y | x)`` stays and no
      aligner is needed, or a shift no candidate undoes): recommend no adaptation, which
      keeps ``p(y | x)``; importance reweighting is the family of covariate shift;
      advise against label-shift correction and every aligner, each with its failed
      condition.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Source and target rows together.
    y : array-like of shape (n_samples,)
        Class labels of the source rows, ``-1`` for the unlabeled target rows.
    sample_domain : array-like of int of shape (n_samples,), default=None
        ``>= 0`` source, ``< 0`` target rows; overrides the ``-1`` rule. Several source
        (target) domains are pooled; labels of target rows are not read.
    estimator : classifier, default=None
        The classifier to adapt, with ``fit`` and ``predict``; None uses
        ``LogisticRegression(max_iter=1000)``. Feature scaling, if it needs any, belongs
        inside it (a pipeline).
    aligners : dict of str to transformer, default=None
        The candidate aligners by name, in order of preference; None uses every aligner of
        ``skltransfer.alignment`` with its defaults (``n_components`` clipped to the
        number of features): ``DomainStandardScaler``, ``CORALAligner``,
        ``SubspaceAligner``, ``GFKAligner``, ``MMDAligner``, ``JointMMDAligner``.
    alpha : float, default=0.05
        Significance level of every test.
    tolerance : float, default=0.02
        Source accuracy (a fraction) an adaptation may lose, and the round-trip gain an
        aligner must show.
    cv : int, default=5
        Number of stratified folds over the source rows (fewer when a class has fewer rows).
    n_permutations : int, default=500
        Permutations of each MMD test and replicates of the reweighted-gap bootstrap.
    max_samples : int or None, default=1000
        At most this many rows of each domain, drawn at random, enter the diagnosis (the
        kernel matrices are quadratic in it); None uses every row.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsampling, the folds, the permutations and the bootstrap.

    Returns
    -------
    diagnosis : ShiftDiagnosis
        The kind of shift, the advice and the evidence; ``print`` it for a report.

    Raises
    ------
    ValueError
        When ``y`` holds a single class on the source rows or fewer than 2 rows of a class,
        or there are fewer than 2 target rows or no labeled source row.

    See Also
    --------
    ShiftDiagnosis : The result, and :meth:`ShiftDiagnosis.make_estimator`.
    mmd_permutation_test : The test of the feature gap.
    label_shift_test : The test of the predicted class frequencies.

    Notes
    -----
    Unlabeled target rows cannot tell every shift apart. A change of priors so strong that
    a class all but disappears from the target makes the round trip fail, as a feature
    shift does; and a shift that the candidates undo in the wrong direction (a reflection)
    can pass every test. The rule therefore recommends an adaptation only when its own
    hypothesis explains the gap and the source task survives it, and no adaptation
    otherwise.

    References
    ----------
    .. [1] Z. C. Lipton, Y.-X. Wang and A. J. Smola, "Detecting and correcting for label
           shift with black box predictors", ICML 2018.
    .. [2] A. Gretton et al., "A Kernel Two-Sample Test", JMLR 13, 2012.
    .. [3] E. Zhong, W. Fan, Q. Yang, O. Verscheure and J. Ren, "Cross validation framework
           to choose amongst models and datasets for transfer learning", ECML PKDD 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import DomainStandardScaler, stack_domains
    >>> from skltransfer.metrics import diagnose_shift
    >>> rng = np.random.default_rng(0)
    >>> ys = rng.integers(0, 2, 150); Xs = rng.normal(3.0 * ys[:, None], 1.0, (150, 2))
    >>> yt = (rng.random(150) < 0.85).astype(int); Xt = rng.normal(3.0 * yt[:, None], 1.0, (150, 2))
    >>> X, y = stack_domains(Xs, ys, Xt)
    >>> aligners = {"DomainStandardScaler": DomainStandardScaler()}
    >>> diagnosis = diagnose_shift(X, y, aligners=aligners, n_permutations=200, cv=3, random_state=0)
    >>> diagnosis.shift, diagnosis.recommended
    ('label', 'label-shift correction')
    >>> "feature alignment" in diagnosis.advise_against
    True
    >>> model = diagnosis.make_estimator().fit(X, y)
    """
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    sample_domain, source, target, y_source, classes = _check_domains(X, y, sample_domain)
    rng = check_random_state(random_state)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    keep = _subsample(np.arange(source.shape[0]), max_samples, rng)
    source, y_source = source[keep], y_source[keep]
    target = _subsample(target, max_samples, rng)
    estimator = LogisticRegression(max_iter=1000) if estimator is None else estimator
    candidates = _default_aligners(X.shape[1], seed) if aligners is None else aligners
    y_codes = np.searchsorted(classes, y_source)
    n_classes = classes.shape[0]

    X_source, X_target = X[source], X[target]
    feature_gap, p_feature = mmd_permutation_test(
        X_source, X_target, gamma="median", n_permutations=n_permutations, random_state=seed
    )
    n_splits = min(cv, int(np.bincount(y_codes).min()))
    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X_source, y_codes))
    direct, round_trip = _fold_predictions(X, y_codes, sample_domain, source, target, estimator, None, folds)
    accuracy, round_trip_accuracy = float(np.mean(direct == y_codes)), float(np.mean(round_trip == y_codes))
    pred_target = clone(estimator).fit(X_source, y_codes).predict(X_target)
    _, p_label = label_shift_test(direct, pred_target)
    source_priors, target_priors = _bbse_priors(y_codes, direct, pred_target, n_classes)
    if target_priors is None:  # no positive weight: the predictions are no mixture of the classes
        target_priors, reweighted_gap, p_reweighted = source_priors, float(feature_gap), 0.0
    else:
        reweighted_gap, p_reweighted = _reweighted_gap_test(
            X_source, X_target, (target_priors / source_priors)[y_codes], n_permutations, rng
        )

    evidence = {}
    rows = np.r_[source, target]
    domain_of_rows = sample_domain[rows]
    y_rows = np.r_[y_codes, np.full(target.shape[0], -1)]
    for name, aligner in candidates.items():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"n_components=", category=UserWarning)
            Z = clone(aligner).fit_transform(X[rows], y_rows, sample_domain=domain_of_rows)
            is_source = domain_of_rows >= 0
            gap, p_value = mmd_permutation_test(
                Z[is_source], Z[~is_source], gamma="median", n_permutations=n_permutations, random_state=seed
            )
            aligned_direct, aligned_round_trip = _fold_predictions(
                X, y_codes, sample_domain, source, target, estimator, aligner, folds
            )
        evidence[name] = {
            "gap": float(gap),
            "p_value": float(p_value),
            "source_accuracy": float(np.mean(aligned_direct == y_codes)),
            "round_trip_accuracy": float(np.mean(aligned_round_trip == y_codes)),
        }

    shift, recommended, advise_for, advise_against, chosen = _decide(
        p_feature=p_feature,
        p_label=p_label,
        p_reweighted=p_reweighted,
        accuracy=accuracy,
        round_trip_accuracy=round_trip_accuracy,
        evidence=evidence,
        alpha=alpha,
        tolerance=tolerance,
    )
    return ShiftDiagnosis(
        shift=shift,
        recommended=recommended,
        advise_for=advise_for,
        advise_against=advise_against,
        n_source=int(source.shape[0]),
        n_target=int(target.shape[0]),
        alpha=float(alpha),
        tolerance=float(tolerance),
        feature_gap=float(feature_gap),
        feature_p_value=float(p_feature),
        label_shift_p_value=float(p_label),
        classes=classes,
        source_priors=source_priors,
        target_priors=target_priors,
        reweighted_gap=float(reweighted_gap),
        reweighted_p_value=float(p_reweighted),
        source_accuracy=accuracy,
        round_trip_accuracy=round_trip_accuracy,
        aligners=evidence,
        estimator=estimator,
        aligner=None if chosen is None else candidates[chosen],
    )


def _aligner_failure(entry, *, accuracy, round_trip_accuracy, alpha, tolerance) -> str | None:
    """Why an aligner is not supported (the first failed condition), or None."""
    if entry["p_value"] < alpha:
        return f"the gap stays after alignment (p = {entry['p_value']:.3f})"
    if entry["source_accuracy"] < accuracy - tolerance:
        return f"it costs source accuracy ({entry['source_accuracy']:.3f} against {accuracy:.3f})"
    if entry["round_trip_accuracy"] <= round_trip_accuracy + tolerance:
        return (
            f"its round trip does not beat the unaligned one ({entry['round_trip_accuracy']:.3f} "
            f"against {round_trip_accuracy:.3f})"
        )
    return None


def _decide(*, p_feature, p_label, p_reweighted, accuracy, round_trip_accuracy, evidence, alpha, tolerance):
    """The documented rule of :func:`diagnose_shift`: the kind of shift and the advice."""
    aligner_names = ", ".join(evidence)
    if p_feature >= alpha:
        reason = f"no detectable shift to correct (p = {p_feature:.3f}); an adaptation only adds variance"
        against = {LABEL_SHIFT_CORRECTION: reason}
        if evidence:
            against[FEATURE_ALIGNMENT] = reason
        return "none", NO_ADAPTATION, [NO_ADAPTATION], against, None
    round_trip_holds = round_trip_accuracy >= accuracy - tolerance
    if p_label < alpha and p_reweighted >= alpha and round_trip_holds:
        against = {}
        if evidence:
            against[FEATURE_ALIGNMENT] = (
                f"a change of class priors explains the shift (label-shift test p = {p_label:.3f}, gap "
                f"left after reweighting p = {p_reweighted:.3f}); the aligners ({aligner_names}) match "
                "the marginal distributions and would move the classes to absorb it"
            )
        return "label", LABEL_SHIFT_CORRECTION, [LABEL_SHIFT_CORRECTION], against, None
    if p_reweighted < alpha:
        label_reason = f"a change of class priors leaves the gap unexplained (p = {p_reweighted:.3f})"
    elif p_label >= alpha:
        label_reason = f"the predicted class frequencies do not change (p = {p_label:.3f})"
    else:
        label_reason = (
            f"the target rows, as the source classifier labels them, lose the source task (round trip "
            f"{round_trip_accuracy:.3f} against source accuracy {accuracy:.3f})"
        )
    failures = {
        name: _aligner_failure(
            entry,
            accuracy=accuracy,
            round_trip_accuracy=round_trip_accuracy,
            alpha=alpha,
            tolerance=tolerance,
        )
        for name, entry in evidence.items()
    }
    supported = [name for name, failure in failures.items() if failure is None]
    against = {LABEL_SHIFT_CORRECTION: label_reason}
    against.update({name: failure for name, failure in failures.items() if failure is not None})
    if supported:
        best = max(supported, key=lambda name: evidence[name]["round_trip_accuracy"])  # first of ties
        ranked = [best, *(name for name in supported if name != best)]
        return "feature", best, [f"{FEATURE_ALIGNMENT}: {name}" for name in ranked], against, best
    return "unexplained", NO_ADAPTATION, [NO_ADAPTATION, IMPORTANCE_REWEIGHTING], against, None
