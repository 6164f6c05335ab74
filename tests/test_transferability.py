"""Transferability scores against the papers' formulas computed directly on small data."""

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
from numpy.testing import assert_allclose
from sklearn.covariance import LedoitWolf
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skltransfer.metrics import (
    HScoreScorer,
    LEEPScorer,
    LogMEScorer,
    NCEScorer,
    h_score,
    leep_score,
    logme_score,
    nce_score,
)
from skltransfer.metrics._transferability import _logme, _spectrum


def _evidence(F, t, log_alpha, log_beta):
    """log p(t | F, alpha, beta) / n of the Bayesian linear model, as a Gaussian in t (You et al. eq. 2)."""
    alpha, beta = np.exp(log_alpha), np.exp(log_beta)
    n = len(t)
    covariance = np.eye(n) / beta + F @ F.T / alpha  # t = F w + e, w ~ N(0, I/alpha), e ~ N(0, I/beta)
    return scipy.stats.multivariate_normal(np.zeros(n), covariance).logpdf(t) / n


def _max_evidence(F, t):
    """The maximum of ``_evidence`` over log alpha and log beta, by a derivative-free search."""
    best = scipy.optimize.minimize(
        lambda p: -_evidence(F, t, *p),
        [0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 4000},
    )
    return -best.fun


def _features(n, d, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    F = rng.normal(size=(n, d)) + 1.5 * np.eye(3, d)[y]
    return F, y


@pytest.mark.parametrize(("n", "d"), [(40, 5), (12, 30)])
def test_logme_is_the_maximum_evidence_per_row_averaged_over_classes(n, d):
    F, y = _features(n, d)
    expected = np.mean([_max_evidence(F, (y == c).astype(float)) for c in range(3)])
    assert_allclose(logme_score(F, y), expected, atol=1e-7)


def test_logme_of_features_that_explain_nothing_is_the_evidence_of_no_weight():
    # alpha -> inf: w = 0 and y ~ N(0, |y|^2 / n I), whose log-likelihood per row is below.
    rng = np.random.default_rng(15)
    F, y = rng.normal(size=(30, 3)), rng.integers(0, 2, size=30)
    T = np.eye(2)[y]
    null = -0.5 * np.log(2 * np.pi * T.sum(axis=0) / 30) - 0.5
    assert_allclose([_max_evidence(F, T[:, 0]), _max_evidence(F, T[:, 1])], null, atol=1e-7)
    assert_allclose(logme_score(F, y), null.mean(), atol=1e-9)


def test_logme_fixed_point_is_a_stationary_point_of_the_evidence():
    F, y = _features(60, 4, seed=1)
    t = (y == 0).astype(float)
    n, d = F.shape
    _, alpha, beta = _logme(*_spectrum(F, t[:, None]), n, 1e-14, 10_000)
    point = np.log([alpha[0], beta[0]])
    gradient = scipy.optimize.approx_fprime(point, lambda p: _evidence(F, t, *p), 1e-6)
    assert_allclose(gradient, 0.0, atol=1e-6)
    # MacKay's equations with the explicit posterior: A = alpha I + beta F^T F, m = beta A^-1 F^T t.
    A = alpha[0] * np.eye(d) + beta[0] * F.T @ F
    m = beta[0] * np.linalg.solve(A, F.T @ t)
    gamma = d - alpha[0] * np.trace(np.linalg.inv(A))
    assert_allclose(alpha[0], gamma / (m @ m), rtol=1e-6)
    assert_allclose(beta[0], (n - gamma) / np.sum((F @ m - t) ** 2), rtol=1e-6)


def test_logme_regression_targets_and_several_outputs():
    rng = np.random.default_rng(2)
    F = rng.normal(size=(30, 4))
    Y = F @ rng.normal(size=(4, 2)) + 0.3 * rng.normal(size=(30, 2))
    assert_allclose(logme_score(F, Y[:, 0]), _max_evidence(F, Y[:, 0]), atol=1e-7)
    both = logme_score(F, Y)
    assert_allclose(both, np.mean([logme_score(F, Y[:, 0]), logme_score(F, Y[:, 1])]))
    # Integral float targets are class labels unless regression=True says otherwise.
    counts = np.round(np.abs(Y[:, 0]) * 3)
    assert_allclose(logme_score(F, counts, regression=True), _max_evidence(F, counts), atol=1e-7)
    assert logme_score(F, counts) != logme_score(F, counts, regression=True)


@pytest.mark.parametrize(("n", "d"), [(50, 6), (8, 20)])
def test_logme_is_invariant_to_a_rotation_and_a_common_scale_of_the_features(n, d):
    F, y = _features(n, d, seed=3)
    Q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(d, d)))
    assert_allclose(logme_score(F @ Q, y), logme_score(F, y), rtol=1e-9)
    assert_allclose(logme_score(7.0 * F, y), logme_score(F, y), rtol=1e-9)  # alpha absorbs it
    assert logme_score(F * np.linspace(0.1, 10, d), y) != pytest.approx(logme_score(F, y), rel=1e-3)


def test_logme_ranks_informative_features_first_and_warns_without_convergence():
    F, y = _features(100, 5, seed=5)
    noise = np.random.default_rng(6).normal(size=F.shape)
    assert logme_score(F, y) > logme_score(noise, y)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=1 iterations"):
        logme_score(F, y, max_iter=1)


def test_unlabeled_rows_are_left_out():
    F, y = _features(40, 5, seed=7)
    extra = np.random.default_rng(8).normal(size=(10, 5))
    F_all, y_all = np.r_[F, extra], np.r_[y, np.full(10, -1)]
    assert logme_score(F_all, y_all) == logme_score(F, y)
    assert h_score(F_all, y_all) == h_score(F, y)
    proba = np.abs(F[:, :3]) / np.abs(F[:, :3]).sum(axis=1, keepdims=True)
    extra_proba = np.full((10, 3), 1 / 3)
    assert leep_score(np.r_[proba, extra_proba], y_all) == leep_score(proba, y)
    assert nce_score(np.r_[y % 2, np.zeros(10)], y_all) == nce_score(y % 2, y)
    target = F[:, 0] * 0.7 + np.random.default_rng(9).normal(size=40)
    assert logme_score(F_all, np.r_[target, np.full(10, np.nan)]) == logme_score(F, target)


def _leep_by_loops(theta, y):
    """LEEP (Nguyen et al. 2020, eqs. 1-3), one sum at a time."""
    n, Z = theta.shape
    labels = sorted(set(y))
    joint = {(a, z): sum(theta[i, z] for i in range(n) if y[i] == a) / n for a in labels for z in range(Z)}
    marginal = {z: sum(joint[a, z] for a in labels) for z in range(Z)}
    total = 0.0
    for i in range(n):
        total += np.log(sum(joint[y[i], z] / marginal[z] * theta[i, z] for z in range(Z)))
    return total / n


def test_leep_matches_the_papers_formula():
    rng = np.random.default_rng(9)
    theta = rng.dirichlet(np.ones(4), size=25)
    y = rng.choice(["a", "b", "c"], size=25)
    assert_allclose(leep_score(theta, y), _leep_by_loops(theta, y), rtol=1e-12)
    # a source class never predicted (a zero column) does not change it
    padded = np.c_[theta, np.zeros(25)]
    assert_allclose(leep_score(padded, y), leep_score(theta, y), rtol=1e-12)


def _nce_by_loops(z, y):
    """NCE (Tran et al. 2019): -H(Y | Z) from the empirical joint counts."""
    n = len(y)
    total = 0.0
    for a in set(y):
        for b in set(z):
            joint = sum(1 for i in range(n) if y[i] == a and z[i] == b) / n
            if joint > 0:
                marginal = sum(1 for i in range(n) if z[i] == b) / n
                total += joint * np.log(joint / marginal)
    return total


def test_nce_matches_the_papers_formula():
    rng = np.random.default_rng(10)
    y = rng.integers(0, 3, size=40)
    z = np.where(rng.random(40) < 0.7, y, rng.integers(0, 5, size=40)).astype(str)
    assert_allclose(nce_score(z, y), _nce_by_loops(list(z), list(y)), rtol=1e-12)
    assert nce_score(y * 10, y) == 0.0  # the source label determines the target label


def _class_mean_rows(f, y):
    return np.stack([f[y == y[i]].mean(axis=0) for i in range(len(y))])


def test_h_score_matches_the_explicit_covariance_formula():
    F, y = _features(60, 4, seed=11)
    covf = np.cov(F, rowvar=False, bias=True)
    covg = np.cov(_class_mean_rows(F, y), rowvar=False, bias=True)
    assert_allclose(h_score(F, y, shrinkage=None), np.trace(np.linalg.pinv(covf) @ covg), rtol=1e-9)
    assert_allclose(h_score(F, y, shrinkage=0.0), h_score(F, y, shrinkage=None), rtol=1e-9)
    d = F.shape[1]
    a = 0.3
    shrunk = (1 - a) * covf + a * np.trace(covf) / d * np.eye(d)
    expected = np.trace(np.linalg.inv(shrunk) @ ((1 - a) * covg))
    assert_allclose(h_score(F, y, shrinkage=0.3), expected, rtol=1e-9)
    lw = LedoitWolf().fit(F)  # Ibrahim et al. 2022: the shrinkage of Ledoit and Wolf
    expected = np.trace(np.linalg.inv(lw.covariance_) @ ((1 - lw.shrinkage_) * covg))
    assert_allclose(h_score(F, y), expected, rtol=1e-9)


def test_h_score_shrinkage_keeps_few_rows_finite():
    rng = np.random.default_rng(12)
    y = np.repeat([0, 1], 5)
    F = rng.normal(size=(10, 40))  # fewer rows than features: the sample covariance is singular
    assert np.isfinite(h_score(F, y))
    assert h_score(F, y) < h_score(F, y, shrinkage=None)


def test_scorers_score_the_labeled_rows_through_the_estimator():
    F, y = _features(40, 5, seed=13)
    X = np.r_[F, np.zeros((5, 5))]
    y_all = np.r_[y, np.full(5, -1)]
    seen = []

    def record(rows):
        seen.append(len(rows))
        return rows * 2.0

    double = FunctionTransformer(record).fit(X)
    assert LogMEScorer()(double, X, y_all) == logme_score(F * 2.0, y)
    assert HScoreScorer(shrinkage=None)(double, X, y_all) == h_score(F * 2.0, y, shrinkage=None)
    assert seen == [40, 40]  # the unlabeled rows never reach transform
    source = LogisticRegression().fit(F, y % 2)
    assert LEEPScorer()(source, X, y_all) == leep_score(source.predict_proba(F), y)
    assert NCEScorer()(source, X, y_all) == nce_score(source.predict(F), y)
    softmax = FunctionTransformer(source.predict_proba).fit(F)
    assert LEEPScorer(response_method="transform")(softmax, X, y_all) == LEEPScorer()(source, X, y_all)
    assert NCEScorer(response_method="transform")(softmax, X, y_all) == NCEScorer()(source, X, y_all)
    assert NCEScorer(response_method="predict_proba")(source, X, y_all) == NCEScorer()(source, X, y_all)


def _noise(X):
    return np.random.default_rng(0).normal(size=(len(X), 10))


def test_grid_search_chooses_the_informative_feature_extractor():
    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16, y[:600]
    pipe = Pipeline([("scale", StandardScaler()), ("features", "passthrough")])
    grid = {"features": [FunctionTransformer(_noise), PCA(n_components=10, random_state=0)]}
    for scorer in (LogMEScorer(), HScoreScorer()):
        search = GridSearchCV(pipe, grid, scoring=scorer, cv=3).fit(X, y)
        assert isinstance(search.best_params_["features"], PCA)
        assert search.cv_results_["mean_test_score"][1] > search.cv_results_["mean_test_score"][0]
    # LEEP and NCE choose between source classifiers fitted beforehand: one on a related
    # task (digit < 5), one on shuffled labels of the same task.
    Xs, ys = X[:300], (y[:300] < 5).astype(int)
    related = LogisticRegression(max_iter=500).fit(Xs, ys)
    unrelated = LogisticRegression(max_iter=500).fit(Xs, np.random.default_rng(0).permutation(ys))
    pipe = Pipeline([("source", FrozenEstimator(unrelated))])
    grid = {"source": [FrozenEstimator(unrelated), FrozenEstimator(related)]}
    for scorer in (LEEPScorer(), NCEScorer()):
        search = GridSearchCV(pipe, grid, scoring=scorer, cv=3).fit(X[300:], y[300:])
        assert search.best_params_["source"].estimator is related


def test_errors_name_the_fault():
    F, y = _features(20, 3, seed=14)
    with pytest.raises(ValueError, match="no labeled row"):
        logme_score(F, np.full(20, -1))
    with pytest.raises(ValueError, match="single class"):
        h_score(F, np.zeros(20, dtype=int))
    with pytest.raises(ValueError, match="class labels must be 1-D"):
        logme_score(F, np.c_[y, y])
    with pytest.raises(ValueError, match=r"y must be 1-D .* or 2-D"):
        logme_score(F, y.reshape(20, 1, 1))
    with pytest.raises(ValueError, match="source_proba must hold probabilities"):
        leep_score(F, y)
    with pytest.raises(ValueError, match="features"):
        logme_score(np.where(F > 1, np.nan, F), y)
    with pytest.raises(InvalidParameterError, match="'tol' parameter"):
        logme_score(F, y, tol=0)
    with pytest.raises(InvalidParameterError, match="'shrinkage' parameter"):
        h_score(F, y, shrinkage=2.0)
    with pytest.raises(InvalidParameterError, match="'response_method' parameter of LEEPScorer"):
        LEEPScorer(response_method="predict")(LogisticRegression().fit(F, y), F, y)
    with pytest.raises(ValueError, match=r"LogMEScorer calls transform \(response_method='transform'\)"):
        LogMEScorer()(LogisticRegression().fit(F, y), F, y)
