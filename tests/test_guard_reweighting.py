"""The guard against negative transfer of the importance-weighting estimators: with labeled
target rows the weighted fit also trains on them, and the guard keeps it only where it beats
the plain fits of the estimator."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold

from skltransfer import (
    DomainClassifierWeighting,
    KernelMeanMatching,
    LeastSquaresImportanceFitting,
    stack_domains,
)
from skltransfer.metrics import transfer_report
from skltransfer.utils._guard import CANDIDATES

_N_LABELED, _N_UNLABELED, _N_TEST = 30, 100, 400


def _weighting(cls, estimator, **params):
    if cls is LeastSquaresImportanceFitting:
        params.setdefault("random_state", 0)
    if cls is KernelMeanMatching:
        params.setdefault("gamma", 0.5)
    return cls(estimator, **params)


ESTIMATORS = [KernelMeanMatching, LeastSquaresImportanceFitting, DomainClassifierWeighting]


def _stack(Xs, ys, Xt, yt, n_labeled=_N_LABELED, regression=False):
    """Source rows, ``n_labeled`` labeled target rows, ``_N_UNLABELED`` unlabeled target rows;
    the remaining target rows held out."""
    marker = np.nan if regression else -1
    X = np.vstack([Xs, Xt[: n_labeled + _N_UNLABELED]])
    y = np.r_[ys, yt[:n_labeled], np.full(_N_UNLABELED, marker)]
    if not regression:
        y = y.astype(int)
    domain = np.r_[np.zeros(len(Xs), int), np.full(n_labeled + _N_UNLABELED, -1)]
    rest = n_labeled + _N_UNLABELED
    return X, y, domain, Xt[rest:], yt[rest:]


def _opposite_classes(seed=0):
    """The target's labels are the source's flipped: the weighted source drags the fit."""
    rng = np.random.default_rng(seed)
    Xs, Xt = rng.normal(size=(200, 2)), rng.normal(0.3, 1.0, size=(_N_LABELED + _N_UNLABELED + _N_TEST, 2))
    ys, yt = (Xs[:, 0] > 0).astype(int), (Xt[:, 0] < 0).astype(int)
    return _stack(Xs, ys, Xt, yt)


def _same_concept(seed=0):
    """One linear concept in 10 features, the target shifted, 12 labeled target rows: too
    few to learn it alone, the weighted source learns it."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=10)
    Xs = rng.normal(size=(200, 10))
    Xt = rng.normal(0.3, 1.0, size=(12 + _N_UNLABELED + _N_TEST, 10))
    return _stack(Xs, (Xs @ w > 0).astype(int), Xt, (Xt @ w > 0).astype(int), n_labeled=12)


def _opposite_regression(seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=3)
    Xs, Xt = rng.normal(size=(200, 3)), rng.normal(0.3, 1.0, size=(_N_LABELED + _N_UNLABELED + _N_TEST, 3))
    ys = Xs @ w + 0.1 * rng.normal(size=200)
    yt = -Xt @ w + 0.1 * rng.normal(size=len(Xt))
    return _stack(Xs, ys, Xt, yt, regression=True)


def _accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def _quiet_fit(model, X, y, domain):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(X, y, sample_domain=domain)


def _brute_force_scores(model, X, y, domain, classification):
    """The guard's comparison recomputed by hand: the same folds, every candidate refitted."""
    source = np.flatnonzero(domain >= 0)
    labeled = np.flatnonzero((domain < 0) & (~np.isnan(y) if not classification else y != -1))
    unlabeled = np.flatnonzero((domain < 0) & (np.isnan(y) if not classification else y == -1))
    y_target = y[labeled]
    if classification:
        n_splits = min(5, int(np.unique(y_target, return_counts=True)[1].min()))
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=0).split(labeled, y_target)
    else:
        folds = KFold(min(5, len(labeled)), shuffle=True, random_state=0).split(labeled)
    marker = -1 if classification else np.nan
    predictions = {name: np.empty_like(y_target) for name in CANDIDATES}
    predictions["source only"] = clone(model.estimator).fit(X[source], y[source]).predict(X[labeled])
    for train, test in folds:
        # every fold keeps the source rows and all the target rows (its held-out labeled rows
        # unlabeled): the weights of a fold's transfer fit are those of the full fit
        fit_rows = np.r_[source, labeled[train], unlabeled, labeled[test]]
        y_fit = np.r_[y[source], y_target[train], np.full(len(unlabeled) + len(test), marker)]
        domain_fit = np.r_[np.zeros(len(source), int), np.full(len(fit_rows) - len(source), -1)]
        transfer = _quiet_fit(clone(model).set_params(guard=False), X[fit_rows], y_fit, domain_fit)
        if isinstance(model, (KernelMeanMatching, DomainClassifierWeighting)):  # order-free weights
            np.testing.assert_allclose(transfer.weights_[: len(source)], model.weights_[source], rtol=1e-5)
        rows = np.r_[source, labeled[train]]
        weight = np.r_[model.weights_[source], np.ones(len(train))]
        transfer = clone(model.estimator).fit(X[rows], y[rows], sample_weight=weight)
        predictions["transfer"][test] = transfer.predict(X[labeled[test]])
        pooled_rows = np.r_[source, labeled[train]]
        pooled = clone(model.estimator).fit(X[pooled_rows], y[pooled_rows])
        predictions["pooled"][test] = pooled.predict(X[labeled[test]])
        alone = clone(model.estimator).fit(X[labeled[train]], y_target[train])
        predictions["target only"][test] = alone.predict(X[labeled[test]])
    if classification:
        scores = {name: (p == y_target).astype(float) for name, p in predictions.items()}
    else:
        scores = {name: -((p - y_target) ** 2) for name, p in predictions.items()}
    return {name: float(np.mean(score - scores["transfer"])) for name, score in scores.items()}


def _transfer_fit_by_hand(model, X, y, domain, classification):
    """``estimator`` on the weighted labeled source rows and the labeled target rows (weight 1)."""
    labeled = ~np.isnan(y) if not classification else y != -1
    rows = np.flatnonzero(labeled)
    weight = np.where(domain[rows] < 0, 1.0, model.weights_[rows])
    return clone(model.estimator).fit(X[rows], y[rows], sample_weight=weight)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_guard_keeps_a_plain_fit_where_the_transfer_fit_hurts(cls):
    X, y, domain, X_test, y_test = _opposite_classes()
    model = _weighting(cls, LogisticRegression())
    with pytest.warns(UserWarning, match="the transfer fit was not kept"):
        model.fit(X, y, sample_domain=domain)
    assert model.selected_ != "transfer" and model.selected_ in CANDIDATES
    gains = {name: entry["gain"] for name, entry in model.baseline_scores_.items()}
    assert gains == pytest.approx(_brute_force_scores(model, X, y, domain, True))
    best = max(gains, key=gains.get)
    assert model.selected_ == best == "target only"
    labeled = (domain < 0) & (y != -1)
    expected = LogisticRegression().fit(X[labeled], y[labeled])
    np.testing.assert_array_equal(model.predict(X_test), expected.predict(X_test))
    np.testing.assert_allclose(model.predict_proba(X_test), expected.predict_proba(X_test))
    np.testing.assert_allclose(model.decision_function(X_test), expected.decision_function(X_test))
    assert model.score(X_test, y_test) == pytest.approx(expected.score(X_test, y_test))
    # the transfer fit is still there, and the guard's choice is better on held-out rows
    by_hand = _transfer_fit_by_hand(model, X, y, domain, True)
    np.testing.assert_allclose(model.estimator_.coef_, by_hand.coef_)
    assert _accuracy(model, X_test, y_test) > _accuracy(model.estimator_, X_test, y_test) + 0.3


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_guard_keeps_the_transfer_fit_where_it_helps(cls):
    X, y, domain, X_test, y_test = _same_concept()
    model = _weighting(cls, LogisticRegression())
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*the transfer fit was not kept")
        warnings.filterwarnings("ignore", message=".*concentrate on a few rows")
        model.fit(X, y, sample_domain=domain)
    assert model.selected_ == "transfer" and model.baseline_estimator_ is None
    gains = {name: entry["gain"] for name, entry in model.baseline_scores_.items()}
    assert gains == pytest.approx(_brute_force_scores(model, X, y, domain, True))
    assert all(
        entry["gain"] <= entry["gain_std_error"] * (1 + 1e-9) for entry in model.baseline_scores_.values()
    )
    by_hand = _transfer_fit_by_hand(model, X, y, domain, True)
    np.testing.assert_array_equal(model.predict(X_test), by_hand.predict(X_test))
    labeled = (domain < 0) & (y != -1)
    target_only = LogisticRegression().fit(X[labeled], y[labeled])
    assert _accuracy(model, X_test, y_test) > _accuracy(target_only, X_test, y_test)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_guard_of_a_weighted_regressor(cls):
    X, y, domain, X_test, y_test = _opposite_regression()
    model = _weighting(cls, Ridge())
    with pytest.warns(UserWarning, match="the transfer fit was not kept"):
        model.fit(X, y, sample_domain=domain)
    gains = {name: entry["gain"] for name, entry in model.baseline_scores_.items()}
    assert gains == pytest.approx(_brute_force_scores(model, X, y, domain, False))
    assert model.selected_ == "target only"
    labeled = (domain < 0) & ~np.isnan(y)
    expected = Ridge().fit(X[labeled], y[labeled])
    np.testing.assert_allclose(model.predict(X_test), expected.predict(X_test))
    error = np.mean((model.predict(X_test) - y_test) ** 2)
    assert error < np.mean((model.estimator_.predict(X_test) - y_test) ** 2) / 2


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_guard_false_is_the_transfer_fit(cls):
    X, y, domain, X_test, _ = _opposite_classes()
    guarded = _quiet_fit(_weighting(cls, LogisticRegression()), X, y, domain)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*the transfer fit was not kept")
        off = _weighting(cls, LogisticRegression(), guard=False).fit(X, y, sample_domain=domain)
    assert off.selected_ == "transfer" and off.baseline_scores_ is None and off.baseline_estimator_ is None
    np.testing.assert_array_equal(off.weights_, guarded.weights_)
    np.testing.assert_array_equal(off.estimator_.coef_, guarded.estimator_.coef_)
    by_hand = _transfer_fit_by_hand(off, X, y, domain, True)
    np.testing.assert_array_equal(off.predict(X_test), by_hand.predict(X_test))
    np.testing.assert_allclose(off.predict_proba(X_test), by_hand.predict_proba(X_test))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_without_labeled_target_rows_nothing_changes(cls):
    X, y, domain, X_test, _ = _opposite_classes()
    unlabeled = np.where(domain < 0, -1, y)
    model = _quiet_fit(_weighting(cls, LogisticRegression()), X, unlabeled, None)
    assert model.selected_ == "transfer" and model.baseline_scores_ is None
    assert model.baseline_estimator_ is None
    source = domain >= 0
    assert np.all(model.weights_[~source] == 0)
    expected = LogisticRegression().fit(X[source], y[source], sample_weight=model.weights_[source])
    np.testing.assert_array_equal(model.estimator_.coef_, expected.coef_)
    np.testing.assert_array_equal(model.predict(X_test), expected.predict(X_test))
    off = _quiet_fit(_weighting(cls, LogisticRegression(), guard=False), X, unlabeled, domain)
    np.testing.assert_array_equal(off.weights_, model.weights_)
    np.testing.assert_array_equal(off.predict_proba(X_test), model.predict_proba(X_test))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_labeled_target_rows_shape_the_weights_as_target_rows(cls):
    """The weights come from every target row, labeled or not, as before the guard."""
    X, y, domain, *_ = _opposite_classes()
    model = _quiet_fit(_weighting(cls, LogisticRegression(), guard=False), X, y, domain)
    unlabeled = _quiet_fit(
        _weighting(cls, LogisticRegression(), guard=False), X, np.where(domain < 0, -1, y), domain
    )
    np.testing.assert_allclose(model.weights_, unlabeled.weights_)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_and_pickle_keep_the_guard(cls):
    X, y, domain, X_test, _ = _opposite_classes()
    model = _weighting(cls, LogisticRegression(), guard=False)
    assert clone(model).get_params()["guard"] is False
    assert _weighting(cls, LogisticRegression()).get_params()["guard"] is True
    fitted = _quiet_fit(clone(model).set_params(guard=True), X, y, domain)
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.selected_ == fitted.selected_ and restored.baseline_scores_ == fitted.baseline_scores_
    np.testing.assert_array_equal(restored.predict(X_test), fitted.predict(X_test))
    refit = _quiet_fit(clone(fitted), X, y, domain)
    np.testing.assert_array_equal(refit.predict(X_test), fitted.predict(X_test))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_guard_must_be_a_boolean(cls):
    X, y, domain, *_ = _opposite_classes()
    with pytest.raises(ValueError, match=f"'guard' parameter of {cls.__name__} must be"):
        _weighting(cls, LogisticRegression(), guard="yes").fit(X, y, sample_domain=domain)


def test_transfer_report_shows_the_guard_of_a_weighting():
    X, y, domain, X_test, y_test = _opposite_classes()
    model = _quiet_fit(KernelMeanMatching(LogisticRegression(), gamma=0.5), X, y, domain)
    source = domain >= 0
    X_all, y_all, sd = stack_domains(X[source], y[source], X_test, y_test, return_sample_domain=True)
    report = transfer_report(model, X_all, y_all, sample_domain=sd, output_dict=True)
    assert report["guard_selected"] == model.selected_ == "target only"
    assert report["guard_scores"] == model.baseline_scores_
    assert report["accuracy"] == pytest.approx(model.score(X_test, y_test))
    text = transfer_report(model, X_all, y_all, sample_domain=sd)
    assert "Guard: kept 'target only'" in text
    unguarded = _quiet_fit(clone(model).set_params(guard=False), X, y, domain)
    assert "Guard: off" in transfer_report(unguarded, X_all, y_all, sample_domain=sd)


def test_sources_select_still_chooses_with_the_guard():
    """Two sources, the second's labels flipped: selection drops it, the guard keeps the fit."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=5)
    X0, X1, Xt = rng.normal(size=(150, 5)), rng.normal(size=(150, 5)), rng.normal(size=(520, 5))
    y0, y1, yt = (X0 @ w > 0).astype(int), (X1 @ w <= 0).astype(int), (Xt @ w > 0).astype(int)
    X = np.vstack([X0, X1, Xt])
    y = np.r_[y0, y1, yt[:20], np.full(500, -1)]
    domain = np.r_[np.zeros(150, int), np.ones(150, int), np.full(520, -1)]
    model = _quiet_fit(DomainClassifierWeighting(LogisticRegression(), sources="select"), X, y, domain)
    assert model.selected_sources_.tolist() == [0]
    assert np.all(model.weights_[domain == 1] == 0)
    assert model.selected_ == "transfer" and model.baseline_scores_ is not None
    assert _accuracy(model, Xt[20:], yt[20:]) > 0.9
