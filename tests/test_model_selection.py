"""Tests of the domain-aware splitters and the bootstrap helpers."""

import inspect

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, RegressorMixin, clone, is_regressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    LeaveOneOut,
    cross_val_score,
    cross_validate,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

import skltransfer
from skltransfer import make_da_pipeline, stack_domains
from skltransfer.model_selection import (
    BootstrapSplit,
    DomainAwareSplit,
    LeaveOneDomainOut,
    bootstrap_632_score,
    bootstrap_confidence_interval,
)


def _data(n_source=12, n_target=8, seed=0):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n_source, 3))
    ys = np.tile([0, 1], n_source // 2)
    Xs[:, 0] += 2 * ys
    Xt = rng.normal(size=(n_target, 3)) + 0.5
    Xt[:, 0] += 2 * np.tile([0, 1], n_target // 2)
    return stack_domains(Xs, ys, Xt)


# ---------------------------------------------------------------- DomainAwareSplit


def test_domain_aware_split_matches_inner_splitter_on_labeled_rows():
    X, y = _data()
    X, y = X[::-1], y[::-1]  # unlabeled rows first: positions must be mapped back
    labeled = np.flatnonzero(y != -1)
    unlabeled = np.flatnonzero(y == -1)
    splits = list(DomainAwareSplit(KFold(3)).split(X, y))
    reference = list(KFold(3).split(labeled))
    assert len(splits) == 3
    seen = []
    for (train, test), (ref_train, ref_test) in zip(splits, reference, strict=True):
        np.testing.assert_array_equal(test, np.sort(labeled[ref_test]))
        np.testing.assert_array_equal(train, np.sort(np.r_[labeled[ref_train], unlabeled]))
        seen.extend(test)
    assert sorted(seen) == labeled.tolist()  # every labeled row tested exactly once


def test_domain_aware_split_int_cv_is_stratified_and_unlabeled_in_test():
    X, y = _data()
    unlabeled = np.flatnonzero(y == -1)
    for train, test in DomainAwareSplit(3, unlabeled_in_test=True).split(X, y):
        assert set(unlabeled) <= set(train) and set(unlabeled) <= set(test)
        assert np.bincount(y[test][y[test] != -1]).tolist() == [2, 2]  # StratifiedKFold
    assert DomainAwareSplit(3).get_n_splits() == 3


def test_domain_aware_split_with_sample_domain_only():
    X, y, sd = stack_domains(*_data_parts(), return_sample_domain=True)
    by_y = list(DomainAwareSplit(KFold(2)).split(X, y))
    by_domain = list(DomainAwareSplit(KFold(2)).split(X, None, sample_domain=sd))
    for (a, b), (c, d) in zip(by_y, by_domain, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def _data_parts():
    X, y = _data()
    return X[y != -1], y[y != -1], X[y == -1]


def test_domain_aware_split_leave_one_out_in_grid_search():
    X, y = _data()
    pipe = make_da_pipeline(StandardScaler(), KNeighborsClassifier(1))
    cv = DomainAwareSplit(LeaveOneOut())
    assert cv.get_n_splits(X, y) == 12
    search = GridSearchCV(pipe, {"labeledonly__estimator__n_neighbors": [1, 3]}, cv=cv).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    # LeaveOneOut over the labeled rows, by hand
    Xl, yl = X[y != -1], y[y != -1]
    hits = []
    for i in range(12):
        X_train = np.r_[np.delete(Xl, i, 0), X[y == -1]]
        y_train = np.r_[np.delete(yl, i), y[y == -1]]
        hits.append(clone(pipe).fit(X_train, y_train).predict(Xl[i : i + 1])[0] == yl[i])
    want = np.mean(hits)
    assert scores[0] == pytest.approx(want)


def test_domain_aware_split_groups_reach_inner_splitter():
    X, y = _data()
    groups = np.r_[np.repeat([0, 1, 2], 4), np.full(8, -1)]
    splits = list(DomainAwareSplit(GroupKFold(3)).split(X, y, groups))
    assert len(splits) == 3
    for _, test in splits:
        assert np.unique(groups[test]).shape[0] == 1
    scores = cross_val_score(
        make_da_pipeline(LogisticRegression()), X, y, groups=groups, cv=DomainAwareSplit(GroupKFold(3))
    )
    assert np.all(np.isfinite(scores))


def test_domain_aware_split_receives_sample_domain_by_routing():
    X, y, sd = stack_domains(*_data_parts(), return_sample_domain=True)
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(
            make_da_pipeline(LogisticRegression()),
            X,
            y,
            cv=DomainAwareSplit(KFold(2)),
            params={"sample_domain": sd},
        )
    assert np.all(np.isfinite(result["test_score"]))


def test_domain_aware_split_errors():
    X, y = _data()
    with pytest.raises(ValueError, match=r"needs y \(with -1 .*\) or sample_domain"):
        next(DomainAwareSplit().split(X))
    with pytest.raises(ValueError, match="no labeled row"):
        next(DomainAwareSplit().split(X, np.full(20, -1)))
    with pytest.raises(ValueError, match="y has 3 rows but X has 20"):
        next(DomainAwareSplit().split(X, [0, 1, -1]))
    with pytest.raises(ValueError, match="unlabeled_in_test must be a bool"):
        next(DomainAwareSplit(unlabeled_in_test="yes").split(X, y))


# ---------------------------------------------------------------- LeaveOneDomainOut


def test_leave_one_domain_out():
    X, y = _data()
    sd = np.r_[np.repeat([0, 1, 2], 4), np.full(8, -1)]
    unlabeled = np.flatnonzero(y == -1)
    splits = list(LeaveOneDomainOut().split(X, y, groups=sd))
    assert len(splits) == LeaveOneDomainOut().get_n_splits(X, y, groups=sd) == 3
    for held_out, (train, test) in zip([0, 1, 2], splits, strict=True):
        np.testing.assert_array_equal(test, np.flatnonzero(sd == held_out))
        np.testing.assert_array_equal(train, np.flatnonzero(sd != held_out))
        assert set(unlabeled) <= set(train)
    _, test = next(LeaveOneDomainOut(unlabeled_in_test=True).split(X, y, sample_domain=sd))
    assert set(unlabeled) <= set(test)
    scores = cross_val_score(make_da_pipeline(LogisticRegression()), X, y, groups=sd, cv=LeaveOneDomainOut())
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


def test_leave_one_domain_out_errors():
    X, y = _data()
    with pytest.raises(ValueError, match="needs the domain of each row"):
        next(LeaveOneDomainOut().split(X, y))
    with pytest.raises(ValueError, match="at least 2 source domains"):
        next(LeaveOneDomainOut().split(X, y, groups=np.where(y == -1, -1, 0)))
    with pytest.raises(ValueError, match="unlabeled_in_test must be a bool"):
        next(LeaveOneDomainOut(unlabeled_in_test=1).split(X, y, groups=np.where(y == -1, -1, 0)))


# ---------------------------------------------------------------- BootstrapSplit


def test_bootstrap_split_draws_and_out_of_bag():
    X, y = _data()
    labeled = np.flatnonzero(y != -1)
    unlabeled = np.flatnonzero(y == -1)
    splits = list(BootstrapSplit(50, random_state=0).split(X, y))
    assert len(splits) == 50
    oob_fraction = []
    for train, test in splits:
        assert train.shape[0] == 12 + 8  # 12 draws with repeats + every unlabeled row once
        assert np.array_equal(np.sort(train[np.isin(train, unlabeled)]), unlabeled)
        assert not np.isin(test, train).any()
        np.testing.assert_array_equal(test, np.setdiff1d(labeled, train))
        oob_fraction.append(test.shape[0] / 12)
    # P(row out of bag) = (1 - 1/n)^n
    assert np.mean(oob_fraction) == pytest.approx((1 - 1 / 12) ** 12, abs=0.05)
    again = list(BootstrapSplit(50, random_state=0).split(X, y))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(splits, again, strict=True))


def test_bootstrap_split_train_size_and_unlabeled_in_test():
    X, y = _data()
    train, test = next(BootstrapSplit(1, train_size=5, random_state=1).split(X, y))
    assert train.shape[0] == 5 + 8
    train, test = next(BootstrapSplit(1, train_size=0.5, random_state=1, unlabeled_in_test=True).split(X, y))
    assert train.shape[0] == 6 + 8 and set(np.flatnonzero(y == -1)) <= set(test)
    assert BootstrapSplit(7).get_n_splits() == 7


def test_bootstrap_split_redraws_single_class_samples():
    X = np.zeros((5, 1))
    y = np.array([0, 0, 0, 0, 1])
    for train, _ in BootstrapSplit(30, train_size=2, random_state=0).split(X, y):
        assert np.unique(y[train]).shape[0] == 2


@pytest.mark.parametrize(
    ("splitter", "match"),
    [
        (BootstrapSplit(0), "n_splits must be an int >= 1"),
        (BootstrapSplit(2, train_size=1.5), "train_size must be None"),
        (BootstrapSplit(2, train_size=0), "train_size must be None"),
        (BootstrapSplit(2, unlabeled_in_test=None), "unlabeled_in_test must be a bool"),
    ],
)
def test_bootstrap_split_invalid_parameters(splitter, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        next(splitter.split(X, y))


def test_bootstrap_split_errors():
    with pytest.raises(ValueError, match="at least 2 labeled rows"):
        next(BootstrapSplit(1).split(np.zeros((3, 1)), np.array([0, -1, -1])))
    with pytest.raises(ValueError, match="found no draw"):
        next(BootstrapSplit(1, train_size=1).split(np.zeros((2, 1)), np.array([0, 1])))


# ---------------------------------------------------------------- bootstrap helpers


def test_bootstrap_632_score_by_hand():
    X, y = _data(20, 10)
    pipe = make_da_pipeline(StandardScaler(), LogisticRegression())
    got = bootstrap_632_score(pipe, X, y, n_splits=6, random_state=3)
    oob = [
        clone(pipe).fit(X[train], y[train]).score(X[test], y[test])
        for train, test in BootstrapSplit(6, random_state=3).split(X, y)
    ]
    apparent = clone(pipe).fit(X, y).score(X, y)
    assert got == pytest.approx(0.368 * apparent + 0.632 * np.mean(oob))
    assert bootstrap_632_score(pipe, X, y, scoring="accuracy", n_splits=3, random_state=0) <= 1.0


def test_bootstrap_632_score_rejects_bad_parameters():
    X, y = _data()
    with pytest.raises(ValueError, match="n_splits"):
        bootstrap_632_score(LogisticRegression(), X, y, n_splits=0)


def test_bootstrap_confidence_interval_against_numpy_bootstrap():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=200)
    y_pred = np.where(rng.random(200) < 0.75, y_true, 1 - y_true)
    score, low, high = bootstrap_confidence_interval(
        accuracy_score, y_true, y_pred, n_resamples=1000, confidence_level=0.9, random_state=0
    )
    assert score == accuracy_score(y_true, y_pred)
    rows = rng.integers(0, 200, size=(2000, 200))
    manual = np.mean(y_true[rows] == y_pred[rows], axis=1)
    assert low == pytest.approx(np.percentile(manual, 5), abs=0.02)
    assert high == pytest.approx(np.percentile(manual, 95), abs=0.02)
    # normal approximation of a binomial proportion
    se = np.sqrt(score * (1 - score) / 200)
    assert high - low == pytest.approx(2 * 1.645 * se, rel=0.15)


def test_bootstrap_confidence_interval_2d_scores_and_errors():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y_true = np.tile([0, 1, 2], 30)
    proba = rng.dirichlet([1, 1, 1], size=90)
    proba[np.arange(90), y_true] += 1
    proba /= proba.sum(1, keepdims=True)
    score, low, high = bootstrap_confidence_interval(
        lambda t, p: roc_auc_score(t, p, multi_class="ovr"), y_true, proba, n_resamples=100, random_state=0
    )
    assert low <= score <= high
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        bootstrap_confidence_interval(accuracy_score, [0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="confidence_level"):
        bootstrap_confidence_interval(accuracy_score, [0, 1], [0, 1], confidence_level=1.5)


# ---------------------------------------------------------------- every estimator of the library


def _library_models():
    """Every core estimator of the library, as a model fittable on stacked rows."""
    for name in skltransfer.__all__:
        if name in skltransfer._KERAS_NAMES:
            continue
        cls = getattr(skltransfer, name)
        if not (inspect.isclass(cls) and issubclass(cls, BaseEstimator)):
            continue
        params = {
            p: LogisticRegression(max_iter=200)
            for p, spec in inspect.signature(cls).parameters.items()
            if spec.default is inspect.Parameter.empty and spec.kind is not spec.VAR_KEYWORD
        }
        estimator = cls(**({} if issubclass(cls, RegressorMixin) else params))
        if "n_components" in estimator.get_params():
            estimator.set_params(n_components=2)
        if "cv" in estimator.get_params():  # inner folds of the 3-4 labeled rows per class
            estimator.set_params(cv=2)
        if "n_steps" in estimator.get_params():  # the contract, not the default's 10 boosting stages
            estimator.set_params(n_steps=3, n_estimators=3)
        if hasattr(estimator, "predict"):  # DA classifiers take the y == -1 rows themselves
            yield name, estimator
        else:  # transformers: aligned features for a classifier
            yield name, make_da_pipeline(estimator, LogisticRegression(max_iter=200))


MODELS = list(_library_models())


# Estimators that learn from labeled target rows (given by sample_domain).
_NEEDS_LABELED_TARGET = {"TrAdaBoostClassifier"}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "model"), MODELS, ids=[n for n, _ in MODELS])
def test_loocv_and_bootstrap_with_every_estimator(name, model):
    X, y = _data(8, 8)
    params, scoring = None, None
    if is_regressor(model):  # float targets (NaN unlabeled), 4 labeled target rows
        y = X[:, 0] + 0.1 * X[:, 1]
        y_target = np.r_[y[8:12], np.full(4, np.nan)]
        X, y, sd = stack_domains(X[:8], y[:8], X[8:], y_target, return_sample_domain=True)
        params, scoring = {"sample_domain": sd}, "neg_mean_squared_error"
    elif name in _NEEDS_LABELED_TARGET:  # 4 of the 8 target rows keep their label
        y_target = np.r_[np.tile([0, 1], 2), np.full(4, -1)]
        X, y, sd = stack_domains(X[:8], y[:8], X[8:], y_target, return_sample_domain=True)
        params = {"sample_domain": sd}
    n_labeled = int(np.sum(~np.isnan(y))) if is_regressor(model) else int(np.sum(y != -1))
    loo = cross_val_score(
        model, X, y, cv=DomainAwareSplit(LeaveOneOut()), params=params, scoring=scoring, error_score="raise"
    )
    assert loo.shape == (n_labeled,) and np.all(np.isfinite(loo))
    boot = cross_val_score(
        model, X, y, cv=BootstrapSplit(3, random_state=0), params=params, scoring=scoring, error_score="raise"
    )
    assert np.all(np.isfinite(boot))
    assert np.isfinite(
        bootstrap_632_score(model, X, y, n_splits=2, random_state=0, params=params, scoring=scoring)
    )


def test_every_estimator_is_covered():
    names = [name for name, _ in MODELS]
    assert "LabeledOnly" in names and len(names) >= 3
