"""Tests of the unsupervised domain adaptation scorers against hand computations."""

import numpy as np
import pytest
from scipy.stats import entropy
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skltransfer import MMDAligner, make_da_pipeline, stack_domains
from skltransfer.metrics import (
    CircularValidationScorer,
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
    PredictionEntropyScorer,
)
from skltransfer.model_selection import DomainAwareSplit

SCORERS = [
    PredictionEntropyScorer(),
    ImportanceWeightedScorer(),
    DeepEmbeddedValidationScorer(),
    CircularValidationScorer(),
]


def _shifted(n_source=40, n_target=30, seed=0):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n_source, 2))
    ys = (Xs[:, 0] + 0.5 * Xs[:, 1] > 0).astype(int)
    Xt = rng.normal(size=(n_target, 2)) * 0.8 + [0.7, 0.0]
    yt = (Xt[:, 0] + 0.5 * Xt[:, 1] > 0).astype(int)
    return Xs, ys, Xt, yt


@pytest.fixture
def fitted():
    Xs, ys, Xt, yt = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    return pipe, X, y, Xs, ys, Xt, yt


def test_prediction_entropy_by_hand(fitted):
    pipe, X, y, _, _, Xt, _ = fitted
    want = -np.mean(entropy(pipe.predict_proba(Xt), axis=1))
    assert PredictionEntropyScorer()(pipe, X, y) == pytest.approx(want)


def test_importance_weighted_by_hand(fitted):
    pipe, X, y, Xs, ys, Xt, _ = fitted
    domain = LogisticRegression(max_iter=1000).fit(np.r_[Xs, Xt], np.r_[np.zeros(40), np.ones(30)])
    p = domain.predict_proba(Xs)[:, 1]
    w = p / (1 - p)
    want = np.sum(w * (pipe.predict(Xs) == ys)) / np.sum(w)
    assert ImportanceWeightedScorer()(pipe, X, y) == pytest.approx(want)


def test_importance_weighting_tracks_target_accuracy_under_covariate_shift():
    """A model that is right only near the source mean: IWCV sees the target accuracy drop."""
    rng = np.random.default_rng(1)
    Xs = rng.normal(0.0, 1.0, size=(600, 1))
    Xt = rng.normal(1.5, 0.6, size=(600, 1))

    def label(x):
        return (np.sin(2 * x[:, 0]) > 0).astype(int)

    X, y = stack_domains(Xs, label(Xs), Xt)
    model = make_da_pipeline(LogisticRegression()).fit(X, y)  # a linear model of a periodic rule
    target_acc = np.mean(model.predict(Xt) == label(Xt))
    source_acc = np.mean(model.predict(Xs) == label(Xs))
    # Gaussian domains of unequal variances: the log density ratio is quadratic in x
    iw = ImportanceWeightedScorer(make_pipeline(PolynomialFeatures(2), LogisticRegression()))(model, X, y)
    assert abs(iw - target_acc) < abs(source_acc - target_acc) / 2


def test_deep_embedded_validation_by_hand(fitted):
    pipe, X, y, Xs, ys, Xt, _ = fitted
    features_s = pipe[:-1].transform(Xs)
    features_t = pipe[:-1].transform(Xt)
    domain = LogisticRegression(max_iter=1000).fit(
        np.r_[features_s, features_t], np.r_[np.zeros(40), np.ones(30)]
    )
    p = domain.predict_proba(features_s)[:, 1]
    w = p / (1 - p) * 40 / 30
    loss = -np.log(pipe.predict_proba(Xs)[np.arange(40), ys])
    L = w * loss
    eta = -np.cov(L, w)[0, 1] / np.var(w, ddof=1)
    want = -(L.mean() + eta * w.mean() - eta)
    assert DeepEmbeddedValidationScorer()(pipe, X, y) == pytest.approx(want)


def test_deep_embedded_validation_without_shift_is_the_source_log_loss(fitted):
    pipe, X, y, Xs, ys, _, _ = fitted
    # a domain classifier that sees no difference gives every weight 1: plain log loss
    scorer = DeepEmbeddedValidationScorer(domain_classifier=DummyClassifier(strategy="prior"))
    assert scorer(pipe, X, y) == pytest.approx(-log_loss(ys, pipe.predict_proba(Xs)))


def test_deep_embedded_validation_zero_one_loss_without_proba():
    Xs, ys, Xt, _ = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    from sklearn.svm import LinearSVC

    pipe = make_da_pipeline(StandardScaler(), LinearSVC()).fit(X, y)
    scorer = DeepEmbeddedValidationScorer(domain_classifier=DummyClassifier(strategy="prior"))
    assert scorer(pipe, X, y) == pytest.approx(-np.mean(pipe.predict(Xs) != ys))


def test_circular_validation_by_hand(fitted):
    pipe, X, y, Xs, ys, Xt, _ = fitted
    pseudo = pipe.predict(Xt)
    X_rev, y_rev = stack_domains(Xt, pseudo, Xs)
    reverse = clone(pipe).fit(X_rev, y_rev)
    want = np.mean(reverse.predict(Xs) == ys)
    assert CircularValidationScorer()(pipe, X, y) == pytest.approx(want)


def test_circular_validation_single_pseudo_class():
    Xs, ys, Xt, _ = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    constant = make_da_pipeline(DummyClassifier(strategy="constant", constant=1)).fit(X, y)
    assert CircularValidationScorer()(constant, X, y) == pytest.approx(np.mean(ys == 1))


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: type(s).__name__)
def test_scorers_never_read_target_labels(fitted, scorer):
    """Target labels given through sample_domain, true or permuted or absurd: same score."""
    pipe, X, y, _, _, _, yt = fitted
    sd = np.r_[np.zeros(40, int), -np.ones(30, int)]
    y_true = np.r_[y[:40], yt]
    y_perm = np.r_[y[:40], np.random.default_rng(0).permutation(yt)]
    y_absurd = np.r_[y[:40], np.full(30, 99)]
    baseline = scorer(pipe, X, y)
    assert np.isfinite(baseline)
    for labels in (y_true, y_perm, y_absurd):
        assert scorer(pipe, X, labels, sample_domain=sd) == pytest.approx(baseline)


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: type(s).__name__)
def test_scorers_need_target_rows(fitted, scorer):
    pipe, X, y, *_ = fitted
    with pytest.raises(ValueError, match=r"found no target row.*unlabeled_in_test=True"):
        scorer(pipe, X[:40], y[:40])
    with pytest.raises(ValueError, match="found no target row"):
        cross_val_score(pipe, X, y, cv=DomainAwareSplit(KFold(2)), scoring=scorer, error_score="raise")


@pytest.mark.parametrize("scorer", SCORERS[1:], ids=lambda s: type(s).__name__)
def test_scorers_need_labeled_source_rows(fitted, scorer):
    pipe, X, y, *_ = fitted
    with pytest.raises(ValueError, match="found no labeled source row"):
        scorer(pipe, X[40:], y[40:])


def test_entropy_errors(fitted):
    pipe, X, y, *_ = fitted
    with pytest.raises(ValueError, match=r"needs y \(-1 for target rows\) or sample_domain"):
        PredictionEntropyScorer()(pipe, X)
    from sklearn.svm import LinearSVC

    no_proba = make_da_pipeline(LinearSVC()).fit(X, y)
    with pytest.raises(ValueError, match="needs predict_proba, which Pipeline lacks"):
        PredictionEntropyScorer()(no_proba, X, y)


def test_scorer_repr_and_routing():
    assert repr(ImportanceWeightedScorer()) == "ImportanceWeightedScorer(domain_classifier=None)"
    assert repr(PredictionEntropyScorer()) == "PredictionEntropyScorer()"
    routing = PredictionEntropyScorer().get_metadata_routing()
    assert routing.score.requests == {"sample_domain": True}


def test_scorer_receives_sample_domain_by_routing(fitted):
    import sklearn

    pipe, X, y, _, _, _, _ = fitted
    sd = np.r_[np.zeros(40, int), -np.ones(30, int)]
    cv = DomainAwareSplit(KFold(2), unlabeled_in_test=True)
    plain = cross_val_score(pipe, X, y, cv=cv, scoring=PredictionEntropyScorer())
    with sklearn.config_context(enable_metadata_routing=True):
        routed = cross_val_score(
            pipe, X, y, cv=cv, scoring=PredictionEntropyScorer(), params={"sample_domain": sd}
        )
    np.testing.assert_allclose(routed, plain)


@pytest.mark.slow
@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: type(s).__name__)
def test_grid_search_choice_ignores_target_labels(scorer):
    """GridSearchCV over stack_domains output picks the same model whatever the target labels.

    The search sees ``y == -1`` on every target row; the target labels (true or permuted)
    exist only outside it. The chosen model is scored on them afterwards, and the scores of
    the grid (not only the choice) are identical.
    """
    Xs, ys, Xt, yt = _shifted(60, 40, seed=3)
    pipe = make_da_pipeline(
        StandardScaler(), MMDAligner(n_components=2, kernel="linear"), KNeighborsClassifier(3)
    )
    grid = {"mmdaligner__mu": [0.1, 10.0], "labeledonly__estimator__n_neighbors": [1, 7]}
    cv = DomainAwareSplit(KFold(3, shuffle=True, random_state=0), unlabeled_in_test=True)
    results = []
    for target_labels in (yt, np.random.default_rng(1).permutation(yt)):
        X, y = stack_domains(Xs, ys, Xt)
        assert np.all(y[len(ys) :] == -1)  # no target label enters the search
        search = GridSearchCV(pipe, grid, cv=cv, scoring=scorer).fit(X, y)
        results.append((search.best_params_, search.cv_results_["mean_test_score"]))
        assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
        assert 0 <= np.mean(search.predict(Xt) == target_labels) <= 1
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
