"""The guard against negative transfer of TrAdaBoostClassifier, TrAdaBoostRegressor and
TransferRidge: it keeps the transfer fit where transfer helps and a plain fit where it hurts."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from skltransfer import TrAdaBoostClassifier, TrAdaBoostRegressor, TransferRidge, stack_domains
from skltransfer.metrics import transfer_report
from skltransfer.utils._guard import CANDIDATES


def _mse(model, X, y):
    return float(np.mean((model.predict(X) - y) ** 2))


def _accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def _split(Xs, ys, Xt, yt, n_labeled):
    X, y, domain = stack_domains(Xs, ys, Xt[:n_labeled], yt[:n_labeled], return_sample_domain=True)
    return X, y, domain, Xt[n_labeled:], yt[n_labeled:]


# --- data where transfer hurts and where it helps ---------------------------------------


def _classification_same_concept(seed=0):
    """20 features, one linear concept in both domains, 20 labeled target rows (10 % flipped):
    the source alone is nearly right; boosting leans on the few target rows and loses."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=20)
    Xs, Xt = rng.normal(size=(300, 20)), rng.normal(size=(520, 20))
    ys, yt = (Xs @ w > 0).astype(int), (Xt @ w > 0).astype(int)
    labeled = np.where(rng.random(20) < 0.1, 1 - yt[:20], yt[:20])
    X, y, domain, X_test, y_test = _split(Xs, ys, Xt, np.r_[labeled, yt[20:]], 20)
    return X, y, domain, X_test, y_test


def _classification_rotated_concept(seed=3):
    """The target's boundary is the source's turned by 45 degrees: 20 labeled target rows."""
    rng = np.random.default_rng(seed)
    Xs, Xt = rng.normal(size=(300, 2)), rng.normal(size=(520, 2))
    ys, yt = (Xs[:, 0] > 0).astype(int), (Xt[:, 0] + Xt[:, 1] > 0).astype(int)
    return _split(Xs, ys, Xt, yt, 20)


def _regression_changed_concept(seed=0):
    """Source y = x0, target y = x0 + 1.5 x1: the source is partly right, 20 labeled rows."""
    rng = np.random.default_rng(seed)
    Xs, Xt = rng.normal(size=(200, 2)), rng.normal(size=(520, 2))
    ys = Xs[:, 0] + 0.05 * rng.normal(size=200)
    yt = Xt[:, 0] + 1.5 * Xt[:, 1] + 0.05 * rng.normal(size=520)
    return _split(Xs, ys, Xt, yt, 20)


def _regression_opposite_concept(seed=0):
    """The target's coefficients are the source's negated: pulling towards the source hurts."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=4)
    Xs, Xt = rng.normal(size=(200, 4)), rng.normal(size=(520, 4))
    ys, yt = Xs @ w + 0.1 * rng.normal(size=200), -Xt @ w + 0.1 * rng.normal(size=520)
    return _split(Xs, ys, Xt, yt, 20)


def _regression_close_concept(seed=0):
    """8 features, one coefficient and the intercept moved, 12 noisy labeled target rows."""
    rng = np.random.default_rng(seed)
    w = np.ones(8)
    Xs, Xt = rng.normal(size=(200, 8)), rng.normal(size=(512, 8))
    ys = Xs @ w + 0.1 * rng.normal(size=200)
    yt = Xt @ np.r_[2.0, w[1:]] + 1.0 + 0.5 * rng.normal(size=512)
    return _split(Xs, ys, Xt, yt, 12)


def _regression_noisy_target_labels(seed=3):
    """One concept, y = sin(2 x0); clean source labels, noise of sd 1 on the 20 labeled target
    rows (the test rows are clean): boosting the noisy target rows fits their noise."""
    rng = np.random.default_rng(seed)
    Xs, Xt = rng.normal(size=(300, 2)), rng.normal(size=(520, 2))
    ys, yt = np.sin(2 * Xs[:, 0]), np.sin(2 * Xt[:, 0])
    labeled = yt[:20] + rng.normal(size=20)
    return _split(Xs, ys, Xt, np.r_[labeled, yt[20:]], 20)


def _boosting_regressor():
    return TrAdaBoostRegressor(DecisionTreeRegressor(max_depth=4), n_steps=3, n_estimators=3, random_state=0)


# --- per estimator: transfer hurts -> a plain fit; transfer helps -> the transfer fit ------


def test_classifier_guard_keeps_a_plain_fit_where_boosting_hurts():
    X, y, domain, X_test, y_test = _classification_same_concept()
    clf = TrAdaBoostClassifier(LogisticRegression(), random_state=0)
    with pytest.warns(UserWarning, match="the transfer fit was not kept"):
        clf.fit(X, y, sample_domain=domain)
    assert clf.selected_ in {"source only", "pooled"}
    unguarded = clone(clf).set_params(guard=False).fit(X, y, sample_domain=domain)
    assert _accuracy(clf, X_test, y_test) > _accuracy(unguarded, X_test, y_test) + 0.1
    # the plain fit predicts: the logistic regression on the selected rows
    source = domain >= 0
    rows = source if clf.selected_ == "source only" else np.ones_like(source)
    plain = LogisticRegression().fit(X[rows], y[rows])
    np.testing.assert_array_equal(clf.predict(X_test), plain.predict(X_test))
    np.testing.assert_allclose(clf.predict_proba(X_test).sum(axis=1), 1.0)


def test_classifier_guard_keeps_boosting_where_it_helps():
    X, y, domain, X_test, y_test = _classification_rotated_concept()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf = TrAdaBoostClassifier(LogisticRegression(), random_state=0).fit(X, y, sample_domain=domain)
    assert clf.selected_ == "transfer" and clf.baseline_estimator_ is None
    accuracy = _accuracy(clf, X_test, y_test)
    source, target = domain >= 0, domain < 0
    assert accuracy > _accuracy(LogisticRegression().fit(X[source], y[source]), X_test, y_test) + 0.2
    assert accuracy > _accuracy(LogisticRegression().fit(X[target], y[target]), X_test, y_test)
    assert accuracy > _accuracy(LogisticRegression().fit(X, y), X_test, y_test) + 0.2


def test_regressor_guard_keeps_a_plain_fit_where_boosting_hurts():
    X, y, domain, X_test, y_test = _regression_noisy_target_labels()
    reg = _boosting_regressor()
    with pytest.warns(UserWarning, match="the transfer fit was not kept"):
        reg.fit(X, y, sample_domain=domain)
    assert reg.selected_ in {"source only", "pooled"}
    unguarded = clone(reg).set_params(guard=False).fit(X, y, sample_domain=domain)
    assert _mse(reg, X_test, y_test) < _mse(unguarded, X_test, y_test) / 2


def test_regressor_guard_keeps_boosting_where_it_helps():
    X, y, domain, X_test, y_test = _regression_changed_concept()
    reg = _boosting_regressor()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        reg.fit(X, y, sample_domain=domain)
    assert reg.selected_ == "transfer"
    scores = reg.baseline_scores_
    assert scores["source only"]["gain"] < -scores["source only"]["gain_std_error"]
    source_only = DecisionTreeRegressor(max_depth=4).fit(X[domain >= 0], y[domain >= 0])
    assert _mse(reg, X_test, y_test) < _mse(source_only, X_test, y_test)


def test_ridge_guard_keeps_a_plain_fit_where_the_pull_hurts():
    X, y, domain, X_test, y_test = _regression_opposite_concept()
    reg = TransferRidge(alphas=[1e3])  # a strong pull towards a wrong source
    with pytest.warns(UserWarning, match=r"labeled target rows only \('target only'\)"):
        reg.fit(X, y, sample_domain=domain)
    assert reg.selected_ == "target only"
    unguarded = clone(reg).set_params(guard=False).fit(X, y, sample_domain=domain)
    assert _mse(reg, X_test, y_test) < 0.8 * _mse(unguarded, X_test, y_test)
    target = domain < 0
    np.testing.assert_allclose(reg.baseline_estimator_.coef_, Ridge(1e3).fit(X[target], y[target]).coef_)


def test_ridge_guard_keeps_the_pulled_ridge_where_it_helps():
    X, y, domain, X_test, y_test = _regression_close_concept()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        reg = TransferRidge().fit(X, y, sample_domain=domain)
    assert reg.selected_ == "transfer"
    assert all(entry["gain"] < 0 for name, entry in reg.baseline_scores_.items() if name != "transfer")
    for rows in (domain >= 0, domain < 0):
        plain = Ridge().fit(X[rows], y[rows])
        assert _mse(reg, X_test, y_test) < _mse(plain, X_test, y_test)


# --- the parameter, the attributes, the rule -------------------------------------------


_CASES = {
    "classifier": (
        lambda: TrAdaBoostClassifier(LogisticRegression(), random_state=0),
        _classification_same_concept,
    ),
    "boosting": (_boosting_regressor, _regression_noisy_target_labels),
    "ridge": (lambda: TransferRidge(alphas=[1e3]), _regression_opposite_concept),
}


@pytest.fixture(params=sorted(_CASES))
def hurt_case(request):
    make, data = _CASES[request.param]
    return make(), *data()


def test_guard_off_is_the_transfer_fit(hurt_case):
    estimator, X, y, domain, X_test, _ = hurt_case
    assert estimator.get_params()["guard"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        off = clone(estimator).set_params(guard=False).fit(X, y, sample_domain=domain)
    assert off.selected_ == "transfer" and off.baseline_scores_ is None and off.baseline_estimator_ is None
    with pytest.warns(UserWarning):
        on = clone(estimator).fit(X, y, sample_domain=domain)
    assert on.selected_ != "transfer"
    # the guard adds a choice; the transfer fit itself is the same
    for name in ("estimators_", "estimator_", "coef_"):
        if hasattr(off, name):
            first, second = getattr(off, name), getattr(on, name)
            if name == "coef_":
                np.testing.assert_allclose(first, second)
            else:
                assert type(first) is type(second)
    assert not np.array_equal(off.predict(X_test), on.predict(X_test))


def test_baseline_scores_follow_the_rule(hurt_case):
    estimator, X, y, domain, *_ = hurt_case
    with pytest.warns(UserWarning):
        estimator.fit(X, y, sample_domain=domain)
    scores = estimator.baseline_scores_
    assert set(scores) == set(CANDIDATES)
    assert scores["transfer"]["gain"] == 0.0 and scores["transfer"]["gain_std_error"] == 0.0
    for entry in scores.values():
        assert entry["gain"] == pytest.approx(entry["mean"] - scores["transfer"]["mean"])
        assert entry["std_error"] >= 0 and entry["gain_std_error"] >= 0
    beating = {n: e["gain"] for n, e in scores.items() if e["gain"] > e["gain_std_error"]}
    assert estimator.selected_ == max(beating, key=beating.get)


def test_guarded_estimator_clones_and_pickles(hurt_case):
    estimator, X, y, domain, X_test, _ = hurt_case
    with pytest.warns(UserWarning):
        estimator.fit(X, y, sample_domain=domain)
    again = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(again.predict(X_test), estimator.predict(X_test))
    assert again.selected_ == estimator.selected_
    assert repr(clone(estimator)) == repr(estimator)
    assert clone(estimator).get_params()["guard"] is True


def test_too_few_labeled_target_rows_compare_nothing():
    X, y, domain, *_ = _regression_close_concept()
    target = np.flatnonzero(domain < 0)
    y[target[2:]] = np.nan  # 2 labeled target rows: 2 folds would leave 1 training row
    reg = TransferRidge().fit(X, y, sample_domain=domain)
    assert reg.selected_ == "transfer" and reg.baseline_scores_ is None


@pytest.mark.parametrize(
    ("labels", "compared"),
    [
        ([0, 0, 1, 1], set(CANDIDATES)),  # 2 stratified folds, each trains on both classes
        ([0, 0, 0, 1], {"transfer", "source only", "pooled"}),  # a training fold lacks class 1
    ],
)
def test_target_only_is_left_out_when_a_fold_has_one_class(labels, compared):
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(60, 2)), rng.normal(size=(4, 2))
    X, y, domain = stack_domains(Xs, (Xs[:, 0] > 0).astype(int), Xt, labels, return_sample_domain=True)
    clf = TrAdaBoostClassifier(LogisticRegression(), n_estimators=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        clf.fit(X, y, sample_domain=domain)
    assert set(clf.baseline_scores_) == compared


def test_guard_must_be_a_boolean():
    X, y, domain, *_ = _regression_close_concept()
    with pytest.raises(ValueError, match="'guard' parameter of TransferRidge must be"):
        TransferRidge(guard="yes").fit(X, y, sample_domain=domain)


def test_transfer_report_shows_the_guard():
    X, y, domain, X_test, y_test = _classification_same_concept()
    with pytest.warns(UserWarning):
        clf = TrAdaBoostClassifier(LogisticRegression(), random_state=0).fit(X, y, sample_domain=domain)
    source = domain >= 0
    X_all, y_all, sd = stack_domains(X[source], y[source], X_test, y_test, return_sample_domain=True)
    report = transfer_report(clf, X_all, y_all, sample_domain=sd, output_dict=True)
    assert report["guard_selected"] == clf.selected_
    assert report["guard_scores"] == clf.baseline_scores_
    text = transfer_report(clf, X_all, y_all, sample_domain=sd)
    assert f"Guard: kept '{clf.selected_}'" in text
    for name in CANDIDATES:
        assert name in text
    off = clone(clf).set_params(guard=False).fit(X, y, sample_domain=domain)
    report = transfer_report(off, X_all, y_all, sample_domain=sd, output_dict=True)
    assert report["guard_selected"] == "transfer" and report["guard_scores"] is None
    assert "Guard: off" in transfer_report(off, X_all, y_all, sample_domain=sd)


def test_transfer_report_of_a_guarded_regressor():
    X, y, domain, X_test, y_test = _regression_opposite_concept()
    with pytest.warns(UserWarning):
        reg = TransferRidge(alphas=[1e3]).fit(X, y, sample_domain=domain)
    source = domain >= 0
    X_all, y_all, sd = stack_domains(X[source], y[source], X_test, y_test, return_sample_domain=True)
    report = transfer_report(reg, X_all, y_all, sample_domain=sd, output_dict=True)
    assert report["mse"] == pytest.approx(_mse(reg, X_test, y_test))
    assert report["guard_selected"] == "target only" and "roc_auc" not in report
    text = transfer_report(reg, X_all, y_all, sample_domain=sd)
    assert "Guard: kept 'target only'" in text and "MSE " in text


def test_transfer_report_finds_the_guard_at_the_end_of_a_pipeline():
    from sklearn import config_context
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, domain, X_test, y_test = _regression_opposite_concept()
    with config_context(enable_metadata_routing=True):
        ridge = TransferRidge(alphas=[1e3]).set_fit_request(sample_domain=True)
        pipe = make_pipeline(StandardScaler(), ridge)
        with pytest.warns(UserWarning):
            pipe.fit(X, y, sample_domain=domain)
    source = domain >= 0
    X_all, y_all, sd = stack_domains(X[source], y[source], X_test, y_test, return_sample_domain=True)
    report = transfer_report(pipe, X_all, y_all, sample_domain=sd, output_dict=True)
    assert report["guard_selected"] == pipe[-1].selected_ == "target only"
