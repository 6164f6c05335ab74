"""Regression under domain shift: the float-target convention, every DA estimator with
regressors, TrAdaBoostRegressor and TransferRidge."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import AdaBoostRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from skltransfer import (
    CORALAligner,
    DomainClassifierWeighting,
    DomainStandardScaler,
    GFKAligner,
    JointMMDAligner,
    KernelMeanMatching,
    LabeledOnly,
    LeastSquaresImportanceFitting,
    MMDAligner,
    SubspaceAligner,
    TrAdaBoostRegressor,
    TransferRidge,
    make_da_pipeline,
    stack_domains,
)
from skltransfer.metrics import (
    CircularValidationScorer,
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
)
from skltransfer.model_selection import BootstrapSplit, DomainAwareSplit, bootstrap_632_score
from skltransfer.reweighting._tradaboost_r2 import _SourceFrozenAdaBoostR2

REGRESSORS = [LinearRegression(), Ridge(alpha=1.0), DecisionTreeRegressor(max_depth=3, random_state=0)]


def _shifted(n_source=60, n_target=40, seed=0):
    """A linear source and a shifted target domain; the source holds a -1.0 target value."""
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n_source, 3))
    Xt = rng.normal(0.7, 0.8, size=(n_target, 3))

    def f(X):
        return X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=X.shape[0])

    ys = f(Xs)
    ys[0] = -1.0
    return Xs, ys, Xt, f(Xt)


# --- the convention through LabeledOnly, splitters, pipelines -------------------------


def test_labeled_only_regressor_keeps_minus_one_targets():
    Xs, ys, Xt, _ = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    reg = LabeledOnly(LinearRegression()).fit(X, y)
    want = LinearRegression().fit(Xs, ys)
    np.testing.assert_allclose(reg.estimator_.coef_, want.coef_)
    # the score is on the labeled rows, the -1.0 one included
    assert reg.score(X, y) == pytest.approx(want.score(Xs, ys))


def test_labeled_only_regressor_integer_targets_keep_the_marker():
    X = np.arange(8.0).reshape(-1, 1)
    y = np.array([0, 2, 4, 6, -1, -1, -1, -1])
    reg = LabeledOnly(LinearRegression()).fit(X, y)
    np.testing.assert_allclose(reg.estimator_.coef_, [2.0])


def test_splitters_test_minus_one_regression_rows():
    y = np.array([0.5, -1.0, 2.0, 3.5, np.nan, np.nan])
    tested = np.concatenate([test for _, test in DomainAwareSplit(KFold(2)).split(np.zeros((6, 1)), y)])
    assert sorted(tested.tolist()) == [0, 1, 2, 3]
    for train, test in BootstrapSplit(5, random_state=0).split(np.zeros((6, 1)), y):
        assert {4, 5} <= set(train.tolist()) and not {4, 5} & set(test.tolist())


def test_bootstrap_632_regression_scores_labeled_rows_only():
    Xs, ys, Xt, _ = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(StandardScaler(), Ridge())
    got = bootstrap_632_score(pipe, X, y, n_splits=5, random_state=0)
    out_of_bag = [
        clone(pipe).fit(X[train], y[train]).score(X[test], y[test])
        for train, test in BootstrapSplit(5, random_state=0).split(X, y)
    ]
    apparent = clone(pipe).fit(X, y).score(Xs, ys)
    assert got == pytest.approx(0.368 * apparent + 0.632 * np.mean(out_of_bag))


ALIGNERS = [
    CORALAligner(),
    DomainStandardScaler(),
    GFKAligner(n_components=2),
    MMDAligner(n_components=2),
    SubspaceAligner(n_components=2),
]


@pytest.mark.parametrize("aligner", ALIGNERS, ids=lambda a: type(a).__name__)
@pytest.mark.parametrize("regressor", REGRESSORS, ids=lambda r: type(r).__name__)
def test_aligners_in_pipelines_with_regressors(aligner, regressor):
    Xs, ys, Xt, _ = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(clone(aligner), clone(regressor)).fit(X, y)
    # the aligner saw every row; the regressor the aligned source rows with their targets
    reference = clone(aligner).fit(X, y)
    source = np.r_[np.zeros(len(Xs), dtype=np.int64), -np.ones(len(Xt), dtype=np.int64)]
    Z = reference.transform(X, sample_domain=source)
    want = clone(regressor).fit(Z[: len(Xs)], ys)
    np.testing.assert_allclose(pipe.predict(Xt), want.predict(reference.transform(Xt)), atol=1e-8)


def test_joint_aligner_rejects_continuous_targets():
    Xs, ys, Xt, _ = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        JointMMDAligner(n_components=2).fit(X, y)


WEIGHTINGS = [
    DomainClassifierWeighting(LinearRegression()),
    KernelMeanMatching(LinearRegression()),
    LeastSquaresImportanceFitting(LinearRegression(), random_state=0),
]


@pytest.mark.parametrize("weighting", WEIGHTINGS, ids=lambda w: type(w).__name__)
@pytest.mark.parametrize("regressor", REGRESSORS, ids=lambda r: type(r).__name__)
def test_reweighting_with_regressors(weighting, regressor):
    Xs, ys, Xt, _ = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    model = clone(weighting).set_params(estimator=clone(regressor)).fit(X, y)
    weights = model.weights_[: len(Xs)]
    assert weights[0] > 0 and np.all(model.weights_[len(Xs) :] == 0)
    want = clone(regressor).fit(Xs, ys, sample_weight=weights)
    np.testing.assert_allclose(model.predict(Xt), want.predict(Xt))


def _shimodaira(n_source, n_target, rng):
    """Shimodaira (2000), sec. 5: y = -x + x^3 + noise, x ~ N(0.5, 0.5^2) vs N(0, 0.3^2)."""
    xs = rng.normal(0.5, 0.5, size=(n_source, 1))
    xt = rng.normal(0.0, 0.3, size=(n_target, 1))

    def f(x):
        return -x[:, 0] + x[:, 0] ** 3 + rng.normal(0.0, 0.3, size=x.shape[0])

    return xs, f(xs), xt, f(xt)


def test_importance_weighting_fixes_shimodaira_covariate_shift():
    rng = np.random.default_rng(0)
    Xs, ys, Xt, yt = _shimodaira(200, 200, rng)
    X, y = stack_domains(Xs, ys, Xt)
    unweighted = mean_squared_error(yt, LinearRegression().fit(Xs, ys).predict(Xt))
    weighted = mean_squared_error(yt, DomainClassifierWeighting(LinearRegression()).fit(X, y).predict(Xt))
    assert weighted < unweighted / 2


# --- scorers -------------------------------------------------------------------------


@pytest.fixture
def fitted_regressor():
    Xs, ys, Xt, _ = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(StandardScaler(), Ridge()).fit(X, y)
    return pipe, X, y, Xs, ys, Xt


def _ratio(features_s, features_t):
    domain = LogisticRegression(max_iter=1000).fit(
        np.r_[features_s, features_t], np.r_[np.zeros(len(features_s)), np.ones(len(features_t))]
    )
    p = domain.predict_proba(features_s)[:, 1]
    return p / (1 - p) * len(features_s) / len(features_t)


def test_importance_weighted_scorer_regression_by_hand(fitted_regressor):
    pipe, X, y, Xs, ys, Xt = fitted_regressor
    w = _ratio(Xs, Xt)
    want = -np.sum(w * (pipe.predict(Xs) - ys) ** 2) / np.sum(w)
    assert ImportanceWeightedScorer()(pipe, X, y) == pytest.approx(want)


def test_deep_embedded_validation_regression_by_hand(fitted_regressor):
    pipe, X, y, Xs, ys, Xt = fitted_regressor
    w = _ratio(pipe[:-1].transform(Xs), pipe[:-1].transform(Xt))
    L = w * (pipe.predict(Xs) - ys) ** 2
    eta = -np.cov(L, w)[0, 1] / np.var(w, ddof=1)
    want = -(L.mean() + eta * w.mean() - eta)
    assert DeepEmbeddedValidationScorer()(pipe, X, y) == pytest.approx(want)


def test_circular_validation_rejects_regressors(fitted_regressor):
    pipe, X, y, *_ = fitted_regressor
    with pytest.raises(ValueError, match="scores classifiers"):
        CircularValidationScorer()(pipe, X, y)


# --- TrAdaBoostRegressor -------------------------------------------------------------


def _few_target_labels(n_source=80, n_labeled=12, n_test=200, seed=0):
    """Source y = x0; target y = x0 + 1.5 * x1: the source is partly right."""
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n_source, 2))
    Xt = rng.normal(size=(n_labeled + n_test, 2))
    ys = Xs[:, 0] + 0.05 * rng.normal(size=n_source)
    yt = Xt[:, 0] + 1.5 * Xt[:, 1] + 0.05 * rng.normal(size=len(Xt))
    X, y, domain = stack_domains(Xs, ys, Xt[:n_labeled], yt[:n_labeled], return_sample_domain=True)
    return X, y, domain, Xt[n_labeled:], yt[n_labeled:]


def test_source_frozen_adaboost_round_matches_adaboost_r2_on_target_rows():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    weights = rng.random(30)
    weights /= weights.sum()
    frozen = _SourceFrozenAdaBoostR2(Ridge(), n_source=20, n_estimators=3)
    plain = AdaBoostRegressor(Ridge(), n_estimators=3)
    for model in (frozen, plain):
        model._validate_estimator()
        model.estimators_ = []
    got, *_ = frozen._boost(0, X, y, weights.copy(), np.random.RandomState(0))
    want, *_ = plain._boost(0, X, y, weights.copy(), np.random.RandomState(0))
    np.testing.assert_allclose(got[:20], weights[:20])  # source weights never change
    assert got.sum() == pytest.approx(1.0)
    # the target rows are reweighted as AdaBoost.R2 does, up to the common scale
    np.testing.assert_allclose(got[20:] / got[20:].sum(), want[20:] / want[20:].sum())


def test_tradaboost_regressor_target_share_schedule():
    X, y, domain, *_ = _few_target_labels()
    reg = TrAdaBoostRegressor(Ridge(), n_steps=5, n_estimators=2, random_state=0).fit(
        X, y, sample_domain=domain
    )
    start = 12 / 92
    want = start + np.arange(5) / 4 * (1 - start)
    np.testing.assert_allclose(reg.step_target_shares_, want, atol=1e-9)
    assert reg.step_errors_.shape == (5,) and reg.best_step_ == int(np.argmin(reg.step_errors_))
    assert reg.weights_.sum() == pytest.approx(1.0)


def test_tradaboost_regressor_chooses_by_target_cross_validation():
    X, y, domain, Xt, yt = _few_target_labels()
    reg = TrAdaBoostRegressor(LinearRegression(), n_steps=6, n_estimators=3, random_state=0)
    reg.fit(X, y, sample_domain=domain)
    source_only = LinearRegression().fit(X[domain >= 0], y[domain >= 0])
    # the source misses x1: the chosen step leans on the target rows and beats the source model
    assert reg.step_target_shares_[reg.best_step_] > 0.5
    assert mean_squared_error(yt, reg.predict(Xt)) < mean_squared_error(yt, source_only.predict(Xt)) / 4


def test_tradaboost_regressor_keeps_minus_one_targets_and_ignores_nan():
    X, y, domain, *_ = _few_target_labels()
    y[0] = -1.0
    X = np.vstack([X, np.zeros((3, 2))])
    y = np.r_[y, np.full(3, np.nan)]
    domain = np.r_[domain, -np.ones(3, dtype=np.int64)]
    reg = TrAdaBoostRegressor(Ridge(), n_steps=2, n_estimators=2, random_state=0).fit(
        X, y, sample_domain=domain
    )
    # 12 labeled target rows among 92 labeled rows: the -1.0 row counts, the NaN rows do not
    assert reg.step_target_shares_[0] == pytest.approx(12 / 92)
    assert np.all(reg.weights_[-3:] == 0)


def test_tradaboost_regressor_is_reproducible():
    X, y, domain, Xt, _ = _few_target_labels()
    reg = TrAdaBoostRegressor(n_steps=3, n_estimators=3, random_state=0)
    a = clone(reg).fit(X, y, sample_domain=domain).predict(Xt)
    np.testing.assert_array_equal(a, clone(reg).fit(X, y, sample_domain=domain).predict(Xt))


@pytest.mark.parametrize("n_labeled, match", [(0, "at least 2, got 0"), (1, "at least 2, got 1")])
def test_tradaboost_regressor_needs_labeled_target_rows(n_labeled, match):
    X, y, domain, *_ = _few_target_labels()
    target = np.flatnonzero(domain < 0)
    y[target[n_labeled:]] = np.nan
    with pytest.raises(ValueError, match=match):
        TrAdaBoostRegressor(n_steps=2).fit(X, y, sample_domain=domain)


# --- TransferRidge -------------------------------------------------------------------


def _closed_form(X, y, alpha, w_source):
    """argmin ||y - X w - b||^2 + alpha ||w - w_source||^2, the intercept b unpenalised."""
    A = np.c_[X, np.ones(len(X))]
    penalty = alpha * np.eye(A.shape[1])
    penalty[-1, -1] = 0.0
    theta = np.linalg.solve(A.T @ A + penalty, A.T @ y + penalty @ np.r_[w_source, 0.0])
    return theta[:-1], theta[-1]


def _transfer_problem(seed=0, n_labeled=10):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(100, 3))
    ys = Xs @ [1.0, 2.0, 0.0] + 0.1 * rng.normal(size=100)
    Xt = rng.normal(size=(n_labeled, 3))
    yt = Xt @ [1.0, 2.0, 0.7] + 0.5 + 0.3 * rng.normal(size=n_labeled)
    X, y, domain = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    return X, y, domain, Xs, ys, Xt, yt


@pytest.mark.parametrize("alpha", [0.01, 1.0, 100.0])
def test_transfer_ridge_matches_closed_form(alpha):
    X, y, domain, Xs, ys, Xt, yt = _transfer_problem()
    # the pulled ridge itself, whichever fit the guard would keep
    reg = TransferRidge(LinearRegression(), alphas=[alpha], guard=False).fit(X, y, sample_domain=domain)
    w_source = LinearRegression().fit(Xs, ys).coef_
    coef, intercept = _closed_form(Xt, yt, alpha, w_source)
    np.testing.assert_allclose(reg.coef_, coef, atol=1e-8)
    assert reg.intercept_ == pytest.approx(intercept)
    np.testing.assert_allclose(reg.predict(Xt), Xt @ coef + intercept, atol=1e-8)


def test_transfer_ridge_alpha_by_brute_force_leave_one_out():
    X, y, domain, Xs, ys, Xt, yt = _transfer_problem(seed=1)
    alphas = np.logspace(-2, 3, 11)
    reg = TransferRidge(LinearRegression(), alphas=alphas).fit(X, y, sample_domain=domain)
    w_source = LinearRegression().fit(Xs, ys).coef_
    loo = []
    for alpha in alphas:
        errors = []
        for i in range(len(Xt)):
            keep = np.arange(len(Xt)) != i
            coef, intercept = _closed_form(Xt[keep], yt[keep], alpha, w_source)
            errors.append((Xt[i] @ coef + intercept - yt[i]) ** 2)
        loo.append(np.mean(errors))
    assert reg.alpha_ == alphas[int(np.argmin(loo))]
    assert reg.best_score_ == pytest.approx(-min(loo))


def test_transfer_ridge_limits():
    X, y, domain, Xs, ys, Xt, yt = _transfer_problem()
    source = LinearRegression().fit(Xs, ys)
    strong = TransferRidge(LinearRegression(), alphas=[1e9]).fit(X, y, sample_domain=domain)
    np.testing.assert_allclose(strong.coef_, source.coef_, atol=1e-6)
    weak = TransferRidge(LinearRegression(), alphas=[1e-9]).fit(X, y, sample_domain=domain)
    np.testing.assert_allclose(weak.coef_, LinearRegression().fit(Xt, yt).coef_, atol=1e-5)


def test_transfer_ridge_default_source_model_is_ridge_cv():
    X, y, domain, Xs, ys, *_ = _transfer_problem()
    reg = TransferRidge().fit(X, y, sample_domain=domain)
    from sklearn.linear_model import RidgeCV

    want = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(Xs, ys)
    np.testing.assert_allclose(reg.source_estimator_.coef_, want.coef_)


@pytest.mark.parametrize(
    "params, n_labeled, match",
    [
        ({}, 1, "needs labeled target rows \\(at least 2, got 1\\)"),
        ({"alphas": [1.0, -1.0]}, 10, "positive floats"),
        ({"source_estimator": DecisionTreeRegressor()}, 10, "linear regressor with coef_"),
    ],
)
def test_transfer_ridge_errors(params, n_labeled, match):
    X, y, domain, *_ = _transfer_problem(n_labeled=n_labeled)
    with pytest.raises(ValueError, match=match):
        TransferRidge(**params).fit(X, y, sample_domain=domain)


# --- in scikit-learn's tools ---------------------------------------------------------


def test_transfer_estimators_declare_their_domain_tag():
    from skltransfer.utils._tags import get_domain_tags

    assert get_domain_tags(TrAdaBoostRegressor()).learns_from_unlabeled


def test_transfer_ridge_in_a_routed_pipeline_and_grid_search():
    from sklearn import config_context
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    X, y, domain, _, _, Xt, _ = _transfer_problem(n_labeled=20)
    with config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler(), TransferRidge(alphas=[1.0]).set_fit_request(sample_domain=True)
        )
        # split the labeled target rows only; every fold keeps every source row for training
        target = np.flatnonzero(domain < 0)
        folds = [(np.r_[np.flatnonzero(domain >= 0), target[:10]], target[10:])]
        grid = GridSearchCV(pipe, {"transferridge__alphas": [[0.1], [10.0]]}, cv=folds)
        grid.fit(X, y, sample_domain=domain)
    scaled = StandardScaler().fit(X)
    want = TransferRidge(alphas=grid.best_params_["transferridge__alphas"]).fit(
        scaled.transform(X), y, sample_domain=domain
    )
    np.testing.assert_allclose(grid.predict(Xt), want.predict(scaled.transform(Xt)))


def test_source_factor_is_one_when_the_source_already_weighs_less_than_the_goal():
    from skltransfer.reweighting._tradaboost_r2 import _source_factor

    weights, errors = np.array([0.1, 0.1]), np.array([0.5, 1.0])
    assert _source_factor(weights, errors, goal=0.5) == 1.0
    beta = _source_factor(weights, errors, goal=0.15)  # brute force: sum(w * beta ** e) == goal
    assert abs(weights @ beta**errors - 0.15) < 1e-9
