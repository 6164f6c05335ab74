"""get_labeled_scorer: scikit-learn's scorers on the labeled rows of stacked domains only."""

import pickle

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate

from skltransfer import make_da_pipeline, stack_domains
from skltransfer.model_selection import DomainAwareSplit, get_labeled_scorer


def _stacked(seed=0, n_source=60, n_target=40):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n_source, 3))
    ys = (Xs[:, 0] + 0.5 * rng.normal(size=n_source) > 0).astype(int)
    Xt = rng.normal(0.3, 1.0, size=(n_target, 3))
    return stack_domains(Xs, ys, Xt)


CV = KFold(4, shuffle=True, random_state=0)


def _by_hand(metric, X, y, cv=CV):
    """``metric(y_true, fitted_pipeline, X_rows)`` on the labeled rows of each test fold."""
    scores = []
    for train, test in cv.split(X, y):
        model = make_da_pipeline(LogisticRegression()).fit(X[train], y[train])
        labeled = test[y[test] != -1]
        scores.append(metric(y[labeled], model, X[labeled]))
    return np.array(scores)


def test_cross_val_score_equals_the_labeled_rows_score_by_hand():
    X, y = _stacked()
    pipe = make_da_pipeline(LogisticRegression())
    got = cross_val_score(pipe, X, y, cv=CV, scoring=get_labeled_scorer("accuracy"))
    expected = _by_hand(lambda yt, m, Xt: accuracy_score(yt, m.predict(Xt)), X, y)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # the plain string scorer counts every y == -1 row of a test fold as a wrong answer
    plain = cross_val_score(pipe, X, y, cv=CV, scoring="accuracy")
    assert np.all(plain < got)


METRICS = {
    "accuracy": lambda yt, m, Xt: accuracy_score(yt, m.predict(Xt)),
    "balanced_accuracy": lambda yt, m, Xt: balanced_accuracy_score(yt, m.predict(Xt)),
    "f1_macro": lambda yt, m, Xt: f1_score(yt, m.predict(Xt), average="macro"),
    "neg_log_loss": lambda yt, m, Xt: -log_loss(yt, m.predict_proba(Xt), labels=m.classes_),
    "roc_auc": lambda yt, m, Xt: roc_auc_score(yt, m.predict_proba(Xt)[:, 1]),
}


@pytest.mark.parametrize("name", METRICS)
def test_every_metric_name_scores_the_labeled_rows(name):
    X, y = _stacked(seed=1)
    pipe = make_da_pipeline(LogisticRegression())
    got = cross_validate(pipe, X, y, cv=CV, scoring=get_labeled_scorer(name))
    np.testing.assert_allclose(got["test_score"], _by_hand(METRICS[name], X, y), atol=1e-12)


def test_several_metrics_at_once_in_cross_validate_and_grid_search():
    X, y = _stacked(seed=2)
    pipe = make_da_pipeline(LogisticRegression())
    names = ["accuracy", "f1_macro"]
    got = cross_validate(pipe, X, y, cv=CV, scoring=get_labeled_scorer(names))
    for name in names:
        np.testing.assert_allclose(got[f"test_{name}"], _by_hand(METRICS[name], X, y), atol=1e-12)
    as_dict = get_labeled_scorer({"acc": "accuracy", "f1": get_labeled_scorer("f1_macro")})
    assert sorted(as_dict) == ["acc", "f1"]
    grid = {"labeledonly__estimator__C": [0.01, 1.0]}
    search = GridSearchCV(pipe, grid, cv=CV, scoring=get_labeled_scorer(names), refit="accuracy").fit(X, y)
    expected = _by_hand(METRICS["accuracy"], X, y).mean()
    assert search.cv_results_["mean_test_accuracy"][1] == pytest.approx(expected, abs=1e-12)


def test_regression_leaves_nan_rows_out_and_keeps_minus_one_values():
    rng = np.random.default_rng(3)
    Xs = rng.normal(size=(40, 2))
    ys = np.round(Xs[:, 0] + 0.1 * rng.normal(size=40), 1)
    ys[:5] = -1.0  # a value like any other for a regressor
    X, y = stack_domains(Xs, ys, rng.normal(size=(30, 2)))  # target rows: NaN
    model = make_da_pipeline(Ridge()).fit(X, y)
    labeled = ~np.isnan(y)
    for name, metric in [("r2", r2_score), ("neg_mean_absolute_error", mean_absolute_error)]:
        sign = -1.0 if name.startswith("neg_") else 1.0
        expected = sign * metric(y[labeled], model.predict(X[labeled]))
        assert get_labeled_scorer(name)(model, X, y) == pytest.approx(expected, abs=1e-12)


def test_sample_weight_is_sliced_to_the_labeled_rows():
    X, y = _stacked(seed=4)
    model = make_da_pipeline(LogisticRegression()).fit(X, y)
    weights = np.random.default_rng(0).uniform(0.1, 2.0, size=y.shape[0])
    labeled = y != -1
    expected = accuracy_score(y[labeled], model.predict(X[labeled]), sample_weight=weights[labeled])
    got = get_labeled_scorer("accuracy")(model, X, y, sample_weight=weights)
    assert got == pytest.approx(expected, abs=1e-12)


def test_metadata_routing_passes_the_sliced_sample_weight():
    X, y = _stacked(seed=5)
    weights = np.random.default_rng(1).uniform(0.1, 2.0, size=y.shape[0])
    cv = DomainAwareSplit(KFold(3), unlabeled_in_test=True)  # test folds hold -1 rows
    with config_context(enable_metadata_routing=True):
        pipe = make_da_pipeline(LogisticRegression().set_fit_request(sample_weight=False))
        scorer = get_labeled_scorer("accuracy").set_score_request(sample_weight=True)
        got = cross_validate(pipe, X, y, cv=cv, scoring=scorer, params={"sample_weight": weights})
    expected = []
    for train, test in cv.split(X, y):
        model = make_da_pipeline(LogisticRegression()).fit(X[train], y[train])
        labeled = test[y[test] != -1]
        expected.append(accuracy_score(y[labeled], model.predict(X[labeled]), sample_weight=weights[labeled]))
    np.testing.assert_allclose(got["test_score"], expected, atol=1e-12)


def test_domain_aware_split_makes_plain_scorers_right_too():
    X, y = _stacked(seed=6)
    pipe = make_da_pipeline(LogisticRegression())
    cv = DomainAwareSplit(KFold(3))
    plain = cross_val_score(pipe, X, y, cv=cv, scoring="accuracy")
    labeled = cross_val_score(pipe, X, y, cv=cv, scoring=get_labeled_scorer("accuracy"))
    np.testing.assert_allclose(plain, labeled)


def test_errors_name_what_is_wrong():
    X, y = _stacked()
    model = make_da_pipeline(LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="got no labeled rows"):
        get_labeled_scorer("accuracy")(model, X[y == -1], y[y == -1])
    with pytest.raises(ValueError, match="accuracyy"):
        get_labeled_scorer("accuracyy")


def test_pickle_clone_and_repr():
    X, y = _stacked()
    model = make_da_pipeline(LogisticRegression()).fit(X, y)
    scorer = get_labeled_scorer("accuracy")
    assert repr(scorer).startswith("get_labeled_scorer(make_scorer(accuracy_score")
    restored = pickle.loads(pickle.dumps(scorer))
    assert restored(model, X, y) == scorer(model, X, y)
    grid = GridSearchCV(model, {"labeledonly__estimator__C": [1.0]}, scoring=scorer)
    assert clone(grid).scoring(model, X, y) == scorer(model, X, y)
