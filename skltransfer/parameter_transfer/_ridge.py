"""Ridge regression regularised towards a source model (Chelba and Acero 2006)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import RidgeCV

from .._domains import resolve_domains
from ..reweighting._tradaboost import LabeledTargetMixin
from ..utils._sklearn_compat import HasMethods, _fit_context, check_is_fitted, validate_data

__all__ = ["TransferRidge"]

_ALPHAS = np.logspace(-3, 3, 13)


class TransferRidge(LabeledTargetMixin, RegressorMixin, BaseEstimator):
    """Ridge regression on the labeled target rows, pulled towards the source model's coefficients.

    A linear model ``source_estimator`` is fitted on the labeled source rows, giving
    ``w_s`` and ``b_s``. The target model then minimises, over the labeled target rows,

    ``||y - X w - b||^2 + alpha * ||w - w_s||^2``

    the maximum a posteriori estimate under a Gaussian prior centred on the source
    coefficients (Chelba and Acero 2006). With ``v = w - w_s`` it is an ordinary ridge
    regression of the residuals ``y - X w_s - b_s`` on ``X``, which :class:`RidgeCV` solves,
    choosing ``alpha`` among ``alphas`` by its closed-form (efficient) leave-one-out error
    on the labeled target rows: no target label beyond the given ones is used. A large
    ``alpha`` keeps the source coefficients, a small one fits the target rows alone. The
    intercept ``b`` is not penalised (``fit_intercept=True``): a shift of the target's mean
    costs nothing.

    With about as many labeled target rows as features the leave-one-out choice is
    unreliable: on scikit-learn's diabetes data (9 features) with 10 labeled target rows, 2
    of 40 draws chose ``alpha = 0.001`` and ended 10 to 20 times worse than the source model,
    while with 20 rows it beat the source model in 36 of 40 draws
    (``benchmarks/results/regression.md``). Give more rows, or a single ``alpha``.

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

    Attributes
    ----------
    source_estimator_ : regressor
        The fitted clone of ``source_estimator``.
    coef_ : ndarray of shape (n_features_in_,)
        The target coefficients ``w``.
    intercept_ : float
        The target intercept ``b``.
    alpha_ : float
        The chosen strength.
    best_score_ : float
        Minus the leave-one-out mean squared error of the chosen strength on the labeled
        target rows.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    TrAdaBoostRegressor : Instance transfer for regression by boosting.

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
    >>> reg.coef_.round(1).tolist(), round(reg.intercept_, 1)
    ([1.0, 2.0, 0.5], 1.0)
    """

    _parameter_constraints: ClassVar[dict] = {
        "source_estimator": [HasMethods(["fit", "predict"]), None],
        "alphas": ["array-like", None],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, source_estimator=None, *, alphas=None, fit_intercept=True):
        self.source_estimator = source_estimator
        self.alphas = alphas
        self.fit_intercept = fit_intercept

    # leave-one-out needs two labeled target rows
    _min_labeled_target = 2

    def _resolve_domains(self, y, sample_domain, n_samples: int):
        return resolve_domains(y, sample_domain, n_samples=n_samples, regression=True)

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
        """
        X, y, rows, is_target = self._labeled_rows(X, y, sample_domain)
        y = y.astype(np.float64)
        source, target = rows[~is_target], rows[is_target]
        alphas = _ALPHAS if self.alphas is None else np.atleast_1d(np.asarray(self.alphas, dtype=float))
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(alphas > 0):
            raise ValueError(f"alphas must be a non-empty 1-D list of positive floats, got {self.alphas!r}.")
        source_estimator = RidgeCV(alphas=alphas) if self.source_estimator is None else self.source_estimator
        self.source_estimator_ = clone(source_estimator).fit(X[source], y[source])
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
        return self

    def predict(self, X):
        """Predict with the target model, ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X @ self.coef_ + self.intercept_
