"""Several source domains, not pooled blindly: SourceSelector and the ``sources="select"``
option of the boosting and reweighting estimators drop a source that hurts and keep sources
that help."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from skltransfer import (
    DomainClassifierWeighting,
    KernelMeanMatching,
    LeastSquaresImportanceFitting,
    MMDAligner,
    TrAdaBoostClassifier,
    TrAdaBoostRegressor,
    make_da_pipeline,
)
from skltransfer.model_selection import SourceSelector
from skltransfer.utils._guard import select_sources, source_subsets
from tests._checks import with_alternate_domains


def _accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def _two_sources(*, second_hurts=True, n_labeled=20, shift=0.0, seed=0):
    """Two source domains of 150 rows and one target domain, one linear concept in 5
    features; source 1's labels are flipped when ``second_hurts`` and its rows moved by
    ``shift``. The first ``n_labeled`` target rows are labeled; 500 more are held out."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=5)
    X0, X1, Xt = (
        rng.normal(size=(150, 5)),
        rng.normal(size=(150, 5)) + shift,
        rng.normal(size=(500 + n_labeled, 5)),
    )
    y0, y1, yt = (X0 @ w > 0).astype(int), (X1 @ w > 0).astype(int), (Xt @ w > 0).astype(int)
    if second_hurts:
        y1 = 1 - y1
    X = np.vstack([X0, X1, Xt[:n_labeled], Xt[n_labeled:]])
    y = np.r_[y0, y1, yt[:n_labeled], np.full(500, -1)]
    domain = np.r_[np.zeros(150, int), np.ones(150, int), np.full(500 + n_labeled, -1)]
    return X, y, domain, Xt[n_labeled:], yt[n_labeled:]


def _selector():
    return SourceSelector(make_da_pipeline(LogisticRegression()))


# --- SourceSelector ---------------------------------------------------------------------


def test_selector_drops_the_source_that_hurts():
    X, y, domain, X_test, y_test = _two_sources()
    selector = _selector().fit(X, y, sample_domain=domain)
    assert selector.criterion_ == "cross-validation"
    assert selector.sources_.tolist() == [0, 1] and selector.selected_sources_.tolist() == [0]
    assert selector.source_weights_.tolist() == [1.0, 0.0]
    assert set(selector.source_scores_) == {(0, 1), (0,), (1,)}
    assert selector.source_scores_[(0,)]["gain"] > selector.source_scores_[(0,)]["gain_std_error"]
    pooled = make_da_pipeline(LogisticRegression()).fit(X, y)
    assert _accuracy(selector, X_test, y_test) > _accuracy(pooled, X_test, y_test) + 0.2
    kept = domain != 1
    fitted = make_da_pipeline(LogisticRegression()).fit(X[kept], y[kept])
    np.testing.assert_array_equal(selector.predict(X_test), fitted.predict(X_test))
    np.testing.assert_allclose(selector.predict_proba(X_test), fitted.predict_proba(X_test))
    assert selector.classes_.tolist() == [0, 1] and selector.n_features_in_ == 5


def test_selector_keeps_sources_that_both_help():
    X, y, domain, X_test, _ = _two_sources(second_hurts=False)
    selector = _selector().fit(X, y, sample_domain=domain)
    assert selector.criterion_ == "cross-validation"
    assert selector.selected_sources_.tolist() == [0, 1]
    assert selector.source_weights_.tolist() == [1.0, 1.0]
    pooled = make_da_pipeline(LogisticRegression()).fit(X, y)
    np.testing.assert_array_equal(selector.predict(X_test), pooled.predict(X_test))


def test_without_target_labels_every_source_is_kept_with_a_warning():
    X, y, domain, *_ = _two_sources(n_labeled=0, shift=2.0)
    with pytest.warns(UserWarning, match="every source"):
        selector = _selector().fit(X, y, sample_domain=domain)
    assert selector.criterion_ == "pooled" and selector.selected_sources_.tolist() == [0, 1]
    assert selector.source_gaps_[1] > selector.source_gaps_[0]


def test_label_free_rule_drops_the_distant_source():
    X, y, domain, X_test, y_test = _two_sources(n_labeled=0, shift=2.0)
    selector = _selector().set_params(gap_ratio=2.0).fit(X, y, sample_domain=domain)
    assert selector.criterion_ == "domain gap" and selector.source_scores_ is None
    assert selector.source_gaps_[1] > 2 * selector.source_gaps_[0]
    assert selector.selected_sources_.tolist() == [0]
    pooled = make_da_pipeline(LogisticRegression()).fit(X, y)
    assert _accuracy(selector, X_test, y_test) > _accuracy(pooled, X_test, y_test) + 0.1
    # a wider tolerance keeps both
    wide = clone(selector).set_params(gap_ratio=1e6).fit(X, y, sample_domain=domain)
    assert wide.selected_sources_.tolist() == [0, 1]


def test_too_few_labeled_target_rows_use_the_domain_gap():
    X, y, domain, *_ = _two_sources(n_labeled=1, shift=2.0)
    selector = _selector().set_params(gap_ratio=2.0).fit(X, y, sample_domain=domain)
    assert selector.criterion_ == "domain gap" and selector.selected_sources_.tolist() == [0]


@pytest.mark.parametrize("with_domain", [True, False])
def test_one_source_domain_is_a_no_op(with_domain):
    X, y, domain, X_test, _ = _two_sources(second_hurts=False)
    domain = np.where(domain >= 0, 0, -1)
    selector = _selector().fit(X, y, sample_domain=domain if with_domain else None)
    assert selector.criterion_ == "single source" and selector.source_scores_ is None
    assert selector.sources_.tolist() == selector.selected_sources_.tolist() == [0]
    plain = make_da_pipeline(LogisticRegression()).fit(X, y)
    np.testing.assert_array_equal(selector.predict(X_test), plain.predict(X_test))


def test_selector_passes_sample_domain_to_an_estimator_that_takes_it():
    X, y, domain, X_test, _ = _two_sources()
    selector = SourceSelector(TrAdaBoostClassifier(n_estimators=3, random_state=0, guard=False))
    selector.fit(X, y, sample_domain=domain)
    assert selector.selected_sources_.tolist() == [0]
    # the labeled target rows reached the boosting as target rows
    assert np.count_nonzero(selector.estimator_.estimator_errors_) > 0
    kept = domain != 1
    direct = TrAdaBoostClassifier(n_estimators=3, random_state=0, guard=False)
    direct.fit(X[kept], y[kept], sample_domain=domain[kept])
    np.testing.assert_array_equal(selector.predict(X_test), direct.predict(X_test))


def test_selector_routes_sample_domain_before_an_aligner():
    X, y, domain, X_test, y_test = _two_sources()
    with config_context(enable_metadata_routing=True):
        aligner = MMDAligner(n_components=3, kernel="linear").set_fit_request(sample_domain=True)
        selector = SourceSelector(make_da_pipeline(aligner, LogisticRegression()))
        selector.fit(X, y, sample_domain=domain)
        assert selector.selected_sources_.tolist() == [0]
        assert selector.predict(X_test).shape == y_test.shape
        # and an estimator that did not request it does not get it
        plain = SourceSelector(make_da_pipeline(LogisticRegression())).fit(X, y, sample_domain=domain)
        assert plain.selected_sources_.tolist() == [0]


def test_selector_regressor():
    rng = np.random.default_rng(1)
    w = rng.normal(size=3)
    Xs = rng.normal(size=(200, 3))
    Xt = rng.normal(size=(320, 3))
    ys = np.r_[Xs[:100] @ w, -Xs[100:] @ w] + 0.1 * rng.normal(size=200)
    yt = Xt @ w + 0.1 * rng.normal(size=320)
    X = np.vstack([Xs, Xt])
    y = np.r_[ys, yt[:20], np.full(300, np.nan)]
    domain = np.r_[np.zeros(100, int), np.ones(100, int), np.full(320, -1)]
    selector = SourceSelector(make_da_pipeline(Ridge())).fit(X, y, sample_domain=domain)
    assert selector.selected_sources_.tolist() == [0]
    error = np.mean((selector.predict(Xt[20:]) - yt[20:]) ** 2)
    pooled = np.mean((make_da_pipeline(Ridge()).fit(X, y).predict(Xt[20:]) - yt[20:]) ** 2)
    assert error < pooled / 5


@parametrize_with_checks(
    [
        with_alternate_domains(SourceSelector)(make_da_pipeline(LogisticRegression())),
        with_alternate_domains(SourceSelector)(make_da_pipeline(Ridge())),
    ],
    expected_failed_checks=lambda estimator: dict(estimator._expected_failed_checks),
)
def test_selector_passes_the_estimator_checks(estimator, check):
    check(estimator)


def test_selector_clones_and_pickles():
    X, y, domain, X_test, _ = _two_sources()
    selector = _selector()
    assert clone(selector).get_params()["gap_ratio"] is None
    assert set(selector.get_params()) >= {"estimator", "gap_ratio", "estimator__labeledonly__estimator__C"}
    selector.fit(X, y, sample_domain=domain)
    again = pickle.loads(pickle.dumps(selector))
    np.testing.assert_array_equal(again.predict(X_test), selector.predict(X_test))
    assert again.source_scores_ == selector.source_scores_
    assert repr(clone(selector)) == repr(_selector())
    assert not hasattr(clone(selector), "estimator_")


def test_selector_param_validation():
    check_param_validation("SourceSelector", _selector())
    X, y, domain, *_ = _two_sources()
    with pytest.raises(ValueError, match="'gap_ratio' parameter of SourceSelector must be"):
        SourceSelector(LogisticRegression(), gap_ratio=0.5).fit(X, y, sample_domain=domain)


def test_selector_bad_input():
    X, y, domain, *_ = _two_sources()
    with pytest.raises(ValueError, match="requires y to be passed"):
        _selector().fit(X, None, sample_domain=domain)
    with pytest.raises(ValueError, match="no target rows"):
        _selector().fit(X, y, sample_domain=np.zeros_like(domain))
    with pytest.raises(ValueError, match="sample_domain has 3 rows"):
        _selector().fit(X, y, sample_domain=np.array([0, 1, -1]))


def test_source_subsets():
    assert source_subsets((0, 1)) == [(0, 1), (0,), (1,)]
    assert len(source_subsets((0, 1, 2))) == 7  # every non-empty subset
    assert len(source_subsets((0, 1, 2, 3))) == 9  # all, all but one, each alone


def test_select_sources_prefers_the_larger_subset_on_a_tie():
    X, y, domain, *_ = _two_sources(second_hurts=False)
    X[domain == 1] = X[domain == 0]  # two identical sources: every subset scores the same
    y[domain == 1] = y[domain == 0]
    choice = select_sources(
        lambda: make_da_pipeline(LogisticRegression()),
        X,
        y,
        domain,
        y != -1,
        classification=True,
        fit=lambda estimator, rows: estimator.fit(X[rows], y[rows]),
    )
    assert choice.selected == (0, 1)


# --- sources="select" in the boosting and reweighting estimators ---------------------------


def test_tradaboost_selects_the_sources():
    X, y, domain, X_test, y_test = _two_sources()
    pooled = TrAdaBoostClassifier(n_estimators=5, random_state=0, guard=False).fit(X, y, sample_domain=domain)
    assert pooled.get_params()["sources"] == "pooled"
    assert pooled.selected_sources_.tolist() == [0, 1] and pooled.source_scores_ is None
    chosen = clone(pooled).set_params(sources="select").fit(X, y, sample_domain=domain)
    assert chosen.selected_sources_.tolist() == [0]
    assert set(chosen.source_scores_) == {(0, 1), (0,), (1,)}
    assert chosen.weights_[domain == 1].sum() == 0
    assert _accuracy(chosen, X_test, y_test) > _accuracy(pooled, X_test, y_test) + 0.05
    # with the guard, on the kept rows only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        guarded = clone(chosen).set_params(guard=True).fit(X, y, sample_domain=domain)
    assert guarded.selected_sources_.tolist() == [0]
    assert _accuracy(guarded, X_test, y_test) > _accuracy(pooled, X_test, y_test)


def test_tradaboost_keeps_sources_that_both_help():
    X, y, domain, *_ = _two_sources(second_hurts=False)
    clf = TrAdaBoostClassifier(n_estimators=5, random_state=0, guard=False, sources="select")
    clf.fit(X, y, sample_domain=domain)
    assert clf.selected_sources_.tolist() == [0, 1]


def test_tradaboost_regressor_selects_the_sources():
    """10 features and 12 labeled target rows: too few to learn the target alone, and the
    second source has the target's coefficients negated."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=10)
    Xs, Xt = rng.normal(size=(160, 10)), rng.normal(size=(312, 10))
    ys = np.r_[Xs[:80] @ w, -Xs[80:] @ w] + 0.1 * rng.normal(size=160)
    yt = Xt @ w + 0.1 * rng.normal(size=312)
    X, y = np.vstack([Xs, Xt[:12]]), np.r_[ys, yt[:12]]
    domain = np.r_[np.zeros(80, int), np.ones(80, int), np.full(12, -1)]
    reg = TrAdaBoostRegressor(Ridge(), n_steps=3, n_estimators=3, random_state=0, guard=False)
    pooled = clone(reg).fit(X, y, sample_domain=domain)
    assert pooled.selected_sources_.tolist() == [0, 1]
    chosen = clone(reg).set_params(sources="select").fit(X, y, sample_domain=domain)
    assert chosen.selected_sources_.tolist() == [0]
    error_pooled = np.mean((pooled.predict(Xt[12:]) - yt[12:]) ** 2)
    assert np.mean((chosen.predict(Xt[12:]) - yt[12:]) ** 2) < error_pooled / 2


_WEIGHTING = [
    DomainClassifierWeighting(LogisticRegression()),
    KernelMeanMatching(LogisticRegression()),
    LeastSquaresImportanceFitting(LogisticRegression(), random_state=0),
]


@pytest.mark.parametrize("estimator", _WEIGHTING, ids=lambda e: type(e).__name__)
def test_reweighting_selects_the_sources_with_labeled_target_rows(estimator):
    X, y, domain, X_test, y_test = _two_sources()
    estimator = clone(estimator).set_params(guard=False)  # the selection alone
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # concentrated weights
        pooled = clone(estimator).fit(X, y, sample_domain=domain)
        chosen = clone(estimator).set_params(sources="select").fit(X, y, sample_domain=domain)
    assert pooled.selected_sources_.tolist() == [0, 1] and pooled.source_scores_ is None
    assert chosen.selected_sources_.tolist() == [0] and (0,) in chosen.source_scores_
    assert np.all(chosen.weights_[domain == 1] == 0) and chosen.weights_[domain == 0].sum() > 0
    assert _accuracy(chosen, X_test, y_test) > _accuracy(pooled, X_test, y_test) + 0.2


@pytest.mark.parametrize("estimator", _WEIGHTING, ids=lambda e: type(e).__name__)
def test_reweighting_selects_the_sources_by_the_domain_gap(estimator):
    X, y, domain, *_ = _two_sources(n_labeled=0, shift=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        chosen = clone(estimator).set_params(sources="select").fit(X, y, sample_domain=domain)
    assert chosen.selected_sources_.tolist() == [0] and chosen.source_scores_ is None
    assert np.all(chosen.weights_[domain == 1] == 0)


@pytest.mark.parametrize(
    "estimator",
    [*_WEIGHTING, TrAdaBoostClassifier(n_estimators=3, random_state=0)],
    ids=lambda e: type(e).__name__,
)
def test_sources_select_with_one_source_changes_nothing(estimator):
    X, y, domain, X_test, _ = _two_sources(second_hurts=False)
    domain = np.where(domain >= 0, 0, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pooled = clone(estimator).fit(X, y, sample_domain=domain)
        chosen = clone(estimator).set_params(sources="select").fit(X, y, sample_domain=domain)
    assert chosen.selected_sources_.tolist() == [0] and chosen.source_scores_ is None
    np.testing.assert_allclose(chosen.predict_proba(X_test), pooled.predict_proba(X_test))


@pytest.mark.parametrize(
    "estimator",
    [*_WEIGHTING, TrAdaBoostClassifier(), TrAdaBoostRegressor()],
    ids=lambda e: type(e).__name__,
)
def test_sources_must_be_pooled_or_select(estimator):
    X, y, domain, *_ = _two_sources()
    with pytest.raises(ValueError, match=f"'sources' parameter of {type(estimator).__name__} must be"):
        clone(estimator).set_params(sources="best").fit(X, y, sample_domain=domain)
