"""Ridge regression regularised towards a source model (Chelba and Acero 2006)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import RidgeCV

from ..reweighting._tradaboost import LabeledTargetMixin
from ..utils._guard import TransferGuardMixin
from ..utils._sklearn_compat import HasMethods, _fit_context, check_is_fitted, validate_data

__all__ = ["TransferRidge"]

_ALPHAS = np.logspace(-3, 3, 13)


class TransferRidge(TransferGuardMixin, LabeledTargetMixin, RegressorMixin, BaseEstimator):
    r"""Ridge regression on the labeled target rows, pulled towards the source model's coefficients.

    A linear model ``source_estimator`` is fitted on the labeled source rows, giving
    :math:`w_s` and :math:`b_s`. The target model then minimises, over the labeled target rows,

    .. math::

        \lVert y - X w - b \rVert^2 + \alpha \lVert w - w_s \rVert^2

    the maximum a posteriori estimate under a Gaussian prior centred on the source
    coefficients (Chelba and Acero 2006). With :math:`v = w - w_s` it is an ordinary ridge
    regression of the residuals :math:`y - X w_s - b_s` on :math:`X`, which
    :class:`~sklearn.linear_model.RidgeCV` solves, choosing ``alpha`` among ``alphas`` by its
    closed-form (efficient) leave-one-out error on the labeled target rows: no target label
    beyond the given ones is used. A large ``alpha`` keeps the source coefficients, a small
    one fits the target rows alone. The intercept :math:`b` is not penalised
    (``fit_intercept=True``): a shift of the target's mean costs nothing.

    With about as many labeled target rows as features the leave-one-out choice is
    unreliable: on scikit-learn's diabetes data (9 features) with 10 labeled target rows, 2
    of 40 draws chose ``alpha = 0.001`` and ended 10 to 20 times worse than the source model,
    while with 20 rows it beat the source model in 36 of 40 draws
    (``benchmarks/results/regression.md``). Give more rows, or a single ``alpha``. The guard
    (``guard=True``, the default) compares the pulled ridge with
    ``source_estimator`` fitted on the source rows only, on the labeled target rows only and
    on both pooled, by cross-validation over the labeled target rows, and keeps the pulled
    ridge unless one of them beats it by more than one standard error of the squared error
    difference (Notes).

    The labeled target rows are given by ``sample_domain`` (``< 0``); rows whose label is
    unknown (NaN) are ignored. Scale the features first (e.g. ``StandardScaler``): one
    ``alpha`` penalises every coefficient alike.

    Parameters
    ----------
    source_estimator : regressor with ``coef_``, default=None
        Linear regressor fitted (a clone) on the labeled source rows; ``None`` means
        ``RidgeCV(alphas=alphas)``, its strength chosen by leave-one-out on the source rows.
    alphas : array-like of float, default=None
        Candidate strengths of the pull towards the source; ``None`` means
        ``numpy.logspace(-3, 3, 13)``.
    fit_intercept : bool, default=True
        Fit an unpenalised target intercept on top of the source one.
    guard : bool, default=True
        Compare the pulled ridge with the plain fits of ``source_estimator`` (source only,
        target only, pooled) by cross-validation over the labeled target rows and keep the
        best by the rule of the Notes; ``False`` keeps the pulled ridge without comparing.

    Attributes
    ----------
    source_estimator_ : regressor
        The fitted clone of ``source_estimator``.
    coef_ : ndarray of shape (n_features_in_,)
        The target coefficients ``w`` of the pulled ridge (also when the guard did not keep
        it).
    intercept_ : float
        The target intercept ``b`` of the pulled ridge.
    alpha_ : float
        The chosen strength.
    best_score_ : float
        Minus the leave-one-out mean squared error of the chosen strength on the labeled
        target rows.
    selected_ : {"transfer", "source only", "target only", "pooled"}
        The fit used for prediction: the pulled ridge (``"transfer"``) or the plain fit the
        guard kept instead.
    baseline_scores_ : dict or None
        Each compared fit's cross-validated score on the labeled target rows (minus the
        squared error, averaged over the rows), by name: ``{"mean", "std_error", "gain",
        "gain_std_error"}`` (``gain``: mean score difference with the pulled ridge on the
        same rows). None when the guard is off or the labeled target rows are too few.
    baseline_estimator_ : regressor or None
        The plain fit used for prediction, fitted on all its rows; None when the pulled
        ridge is kept.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    TrAdaBoostRegressor : Instance transfer for regression by boosting.

    Notes
    -----
    The guard's rule, as in :class:`TrAdaBoostClassifier`: (at most) 5 shuffled folds of the
    labeled target rows, all source rows in every training fold; each fit (the pulled ridge
    with ``guard=False``; ``source_estimator`` on the source rows, on the training fold's
    target rows, on both) predicts every labeled target row from the fold that leaves it
    out. A fit's gain is the pulled ridge's mean squared error minus its own, on the same
    rows, and its standard error that of the per-row differences. The pulled ridge is kept
    unless a gain exceeds its standard error; then the fit of largest such gain is refitted
    on all its rows, predicts, and a ``UserWarning`` says so. With too few labeled target
    rows for two folds of which each leaves 2 for training, nothing is compared.

    References
    ----------
    .. [1] C. Chelba and A. Acero, "Adaptation of maximum entropy capitalizer: Little data
           can help a lot", Computer Speech & Language 20(4), 2006.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer import TransferRidge, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(100, 3)); ys = Xs @ [1.0, 2.0, 0.0]
    >>> Xt = rng.normal(size=(8, 3)); yt = Xt @ [1.0, 2.0, 0.5] + 1.0
    >>> X, y, domain = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    >>> reg = TransferRidge().fit(X, y, sample_domain=domain)
    >>> reg.coef_.round(1).tolist(), round(reg.intercept_, 1), reg.selected_
    ([1.0, 2.0, 0.5], 1.0, 'transfer')
    """

    _parameter_constraints: ClassVar[dict] = {
        "source_estimator": [HasMethods(["fit", "predict"]), None],
        "alphas": ["array-like", None],
        "fit_intercept": ["boolean"],
        "guard": ["boolean"],
    }

    def __init__(self, source_estimator=None, *, alphas=None, fit_intercept=True, guard=True):
        self.source_estimator = source_estimator
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.guard = guard

    # leave-one-out needs two labeled target rows
    _min_labeled_target = 2

    _regression = True

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_domain=None):
        """Fit the source model on the source rows, then the pulled ridge on the target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,)
            Float targets, NaN for unlabeled rows (ignored).
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target. Needed to mark the labeled
            target rows, which ``y`` alone cannot tell from source rows.

        Returns
        -------
        self : TransferRidge

        Raises
        ------
        ValueError
            When fewer than 2 target rows are labeled, when ``alphas`` holds a value that is
            not positive, or when the source estimator has no 1-D ``coef_``.

        Warns
        -----
        UserWarning
            When the guard keeps a plain fit instead of the pulled ridge.
        """
        X, y, rows, is_target = self._labeled_rows(X, y, sample_domain)
        return self._fit_guarded(X, y.astype(np.float64), rows, is_target)

    def _alphas(self) -> np.ndarray:
        alphas = _ALPHAS if self.alphas is None else np.atleast_1d(np.asarray(self.alphas, dtype=float))
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(alphas > 0):
            raise ValueError(f"alphas must be a non-empty 1-D list of positive floats, got {self.alphas!r}.")
        return alphas

    def _guard_baseline(self):
        if self.source_estimator is None:
            return RidgeCV(alphas=self._alphas())
        return clone(self.source_estimator)

    def _fit_transfer(self, X, y, rows, is_target) -> None:
        source, target = rows[~is_target], rows[is_target]
        alphas = self._alphas()
        self.source_estimator_ = clone(self._guard_baseline()).fit(X[source], y[source])
        coef = np.asarray(getattr(self.source_estimator_, "coef_", np.empty(0)), dtype=float)
        if coef.shape != (X.shape[1],):
            raise ValueError(
                f"source_estimator must be a linear regressor with coef_ of shape ({X.shape[1]},) "
                f"after fit; {type(self.source_estimator_).__name__} has coef_ of shape {coef.shape}."
            )
        intercept = float(getattr(self.source_estimator_, "intercept_", 0.0))
        residual = y[target] - X[target] @ coef - intercept
        pull = RidgeCV(alphas=alphas, fit_intercept=self.fit_intercept).fit(X[target], residual)
        self.coef_ = coef + pull.coef_
        self.intercept_ = intercept + float(pull.intercept_)
        self.alpha_ = float(pull.alpha_)
        self.best_score_ = float(pull.best_score_)

    def predict(self, X):
        """Predict with the fit the guard kept: by default the pulled ridge, ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if self.baseline_estimator_ is not None:
            return self.baseline_estimator_.predict(X)
        return X @ self.coef_ + self.intercept_
