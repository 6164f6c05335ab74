"""Tests of the unsupervised domain adaptation scorers against hand computations."""

import math
import pickle

import numpy as np
import pytest
from scipy.stats import entropy
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skltransfer import DomainStandardScaler, MMDAligner, make_da_pipeline, stack_domains
from skltransfer.metrics import (
    CircularValidationScorer,
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
    InformationMaximizationScorer,
    PredictionEntropyScorer,
    SoftNeighborhoodDensityScorer,
)
from skltransfer.model_selection import DomainAwareSplit

SOURCE_SCORERS = [  # read the labeled source rows
    ImportanceWeightedScorer(),
    DeepEmbeddedValidationScorer(),
    CircularValidationScorer(),
]
SCORERS = [
    PredictionEntropyScorer(),
    InformationMaximizationScorer(),
    SoftNeighborhoodDensityScorer(),
    *SOURCE_SCORERS,
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


@pytest.mark.parametrize("scorer", SOURCE_SCORERS, ids=lambda s: type(s).__name__)
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


# ---------------------------------------------- information maximization, soft neighborhood density


def _information_maximization_by_loops(P):
    """H(mean_i p_i) - mean_i H(p_i), natural log, probabilities clipped at 1e-12."""
    n, k = P.shape
    mean = [sum(P[i, c] for i in range(n)) / n for c in range(k)]
    diversity = -sum(m * math.log(max(m, 1e-12)) for m in mean)
    conditional = 0.0
    for i in range(n):
        conditional += -sum(P[i, c] * math.log(max(P[i, c], 1e-12)) for c in range(k))
    return diversity - conditional / n


def _snd_by_loops(P, temperature=0.05):
    """Mean entropy of each row's softmax of cosine similarity / T over the other rows."""
    m = P.shape[0]
    unit = [row / math.sqrt(sum(v * v for v in row)) for row in P]
    total = 0.0
    for i in range(m):
        logits = [float(np.dot(unit[i], unit[j])) / temperature for j in range(m) if j != i]
        top = max(logits)
        weights = [math.exp(z - top) for z in logits]
        norm = sum(weights)
        total += -sum(w / norm * math.log(w / norm) for w in weights)
    return total / m


class _Recording(ClassifierMixin, BaseEstimator):
    """Wraps a fitted classifier; remembers the rows its predict_proba was given."""

    def __init__(self, fitted):
        self.fitted = fitted

    @property
    def classes_(self):
        return self.fitted.classes_

    def predict_proba(self, X):
        self.seen_ = np.asarray(X).copy()
        return self.fitted.predict_proba(X)


def _three_blobs(offset, n=50, seed=0):
    """Three classes; the target is the source moved by ``offset`` (a mean shift)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], n)
    centers = 3 * np.array([[np.cos(a), np.sin(a)] for a in (0, 2 * np.pi / 3, 4 * np.pi / 3)])
    Xs = centers[labels] + 0.6 * rng.normal(size=(3 * n, 2))
    Xt = centers[labels] + 0.6 * rng.normal(size=(3 * n, 2)) + [offset, 0.3 * offset]
    return Xs, labels, Xt, labels


def test_information_maximization_by_loops(fitted):
    pipe, X, y, _, _, Xt, _ = fitted
    want = _information_maximization_by_loops(pipe.predict_proba(Xt))
    assert InformationMaximizationScorer()(pipe, X, y) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("temperature", [0.05, 0.5])
def test_soft_neighborhood_density_by_loops(fitted, temperature):
    pipe, X, y, _, _, Xt, _ = fitted
    want = _snd_by_loops(pipe.predict_proba(Xt), temperature)
    assert SoftNeighborhoodDensityScorer(temperature)(pipe, X, y) == pytest.approx(want, rel=1e-9)


def test_soft_neighborhood_density_subsamples_target_rows(fitted):
    pipe, X, y, _, _, Xt, _ = fitted
    spy = _Recording(pipe)
    score = SoftNeighborhoodDensityScorer(max_rows=12, random_state=3)(spy, X, y)
    seen = spy.seen_
    assert seen.shape[0] == 12
    assert np.unique(seen, axis=0).shape[0] == 12  # drawn without replacement
    assert all(any(np.array_equal(row, t) for t in Xt) for row in seen)  # target rows only
    assert score == pytest.approx(_snd_by_loops(pipe.predict_proba(seen)), rel=1e-9)
    # an int seed draws the same rows at every call; max_rows=None or above m scores every row
    assert SoftNeighborhoodDensityScorer(max_rows=12, random_state=3)(pipe, X, y) == score
    full = _snd_by_loops(pipe.predict_proba(Xt))
    assert SoftNeighborhoodDensityScorer(max_rows=None)(pipe, X, y) == pytest.approx(full, rel=1e-9)
    assert SoftNeighborhoodDensityScorer(max_rows=30)(pipe, X, y) == pytest.approx(full, rel=1e-9)


def test_soft_neighborhood_density_default_row_cap():
    Xs, ys, Xt, _ = _shifted(n_source=20, n_target=1100)
    X, y = stack_domains(Xs, ys, Xt)
    spy = _Recording(make_da_pipeline(LogisticRegression()).fit(X, y))
    assert 0 < SoftNeighborhoodDensityScorer()(spy, X, y) <= np.log(999)
    assert spy.seen_.shape[0] == 1000


@pytest.mark.parametrize("scorer", [InformationMaximizationScorer(), SoftNeighborhoodDensityScorer()])
def test_label_free_scorers_rank_the_adapted_model_first(scorer):
    """A mean shift that moves the target classes across the source boundaries.

    Centring each domain undoes it: the adapted model's target predictions are confident,
    spread over the three classes and clustered by class; the source-only model's are not.
    """
    Xs, ys, Xt, yt = _three_blobs(offset=2.0)
    X, y = stack_domains(Xs, ys, Xt)
    adapted = make_da_pipeline(DomainStandardScaler(with_std=False), LogisticRegression()).fit(X, y)
    source_only = make_da_pipeline(LogisticRegression()).fit(X, y)
    assert np.mean(adapted.predict(Xt) == yt) > np.mean(source_only.predict(Xt) == yt) + 0.05
    assert scorer(adapted, X, y) > scorer(source_only, X, y) + 0.05


def test_information_maximization_prefers_clustered_confident_to_random_probabilities():
    class RandomProbabilities(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict_proba(self, X):
            return np.random.default_rng(0).dirichlet(np.ones(self.classes_.shape[0]), size=len(X))

    Xs, ys, Xt, _ = _three_blobs(offset=0.0)
    X, y = stack_domains(Xs, ys, Xt)
    confident = make_da_pipeline(LogisticRegression(C=100.0)).fit(X, y)
    random = make_da_pipeline(RandomProbabilities()).fit(X, y)
    scorer = InformationMaximizationScorer()
    assert scorer(confident, X, y) > np.log(3) - 0.1 > 0.5 > scorer(random, X, y)


def test_collapsed_predictions_score_zero_information_and_maximal_density(fitted):
    """One class for every target row: no information, every neighbourhood uniform."""
    _, X, y, *_ = fitted
    collapsed = make_da_pipeline(DummyClassifier(strategy="constant", constant=1)).fit(X, y)
    assert InformationMaximizationScorer()(collapsed, X, y) == pytest.approx(0.0, abs=1e-9)
    assert SoftNeighborhoodDensityScorer()(collapsed, X, y) == pytest.approx(np.log(29))


@pytest.mark.parametrize("scorer", [InformationMaximizationScorer(), SoftNeighborhoodDensityScorer()])
def test_label_free_scorers_in_grid_search(scorer):
    """Each fold's score is the scorer on the test fold's target rows; the adapted model wins."""
    Xs, ys, Xt, _ = _three_blobs(offset=2.0, n=30)
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(DomainStandardScaler(with_std=False), LogisticRegression())
    cv = DomainAwareSplit(KFold(3, shuffle=True, random_state=0), unlabeled_in_test=True)
    grid = {"domainstandardscaler": [DomainStandardScaler(with_std=False), "passthrough"]}
    search = GridSearchCV(pipe, grid, cv=cv, scoring=scorer).fit(X, y)
    assert search.best_params_["domainstandardscaler"] != "passthrough"
    reference = (
        _information_maximization_by_loops
        if isinstance(scorer, InformationMaximizationScorer)
        else _snd_by_loops
    )
    for k, (train, test) in enumerate(cv.split(X, y)):
        model = clone(pipe).fit(X[train], y[train])
        target = test[y[test] == -1]
        want = reference(model.predict_proba(X[target]))
        assert search.cv_results_[f"split{k}_test_score"][0] == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: type(s).__name__)
def test_scorers_clone_and_pickle(fitted, scorer):
    pipe, X, y, *_ = fitted
    for copy in (clone(scorer), pickle.loads(pickle.dumps(scorer))):
        assert type(copy) is type(scorer) and copy is not scorer
        assert repr(copy) == repr(scorer)
        assert copy(pipe, X, y) == pytest.approx(scorer(pipe, X, y))


def test_scorer_params():
    snd = SoftNeighborhoodDensityScorer(temperature=0.1, max_rows=50, random_state=1)
    assert snd.get_params() == {"max_rows": 50, "random_state": 1, "temperature": 0.1}
    assert clone(snd.set_params(temperature=0.2)).temperature == 0.2
    assert InformationMaximizationScorer().get_params() == {}
    iw = ImportanceWeightedScorer(LogisticRegression(C=2.0))
    assert iw.get_params()["domain_classifier__C"] == 2.0
    assert "domain_classifier__C" not in iw.get_params(deep=False)
    copy = clone(iw.set_params(domain_classifier__C=3.0))
    assert copy.domain_classifier.C == 3.0 and copy.domain_classifier is not iw.domain_classifier
    with pytest.raises(ValueError, match="Invalid parameter 'tau' for SoftNeighborhoodDensityScorer"):
        snd.set_params(tau=1.0)
    assert repr(snd) == "SoftNeighborhoodDensityScorer(temperature=0.2, max_rows=50, random_state=1)"


def test_label_free_scorer_errors(fitted):
    pipe, X, y, *_ = fitted
    for params, name in (({"temperature": 0.0}, "temperature"), ({"max_rows": 1}, "max_rows")):
        with pytest.raises(ValueError, match=f"'{name}' parameter of SoftNeighborhoodDensityScorer"):
            SoftNeighborhoodDensityScorer(**params)(pipe, X, y)
    with pytest.raises(ValueError, match="needs at least 2 target rows to compare, got 1"):
        SoftNeighborhoodDensityScorer()(pipe, X[:41], y[:41])
    from sklearn.svm import LinearSVC

    no_proba = make_da_pipeline(LinearSVC()).fit(X, y)
    for scorer in (InformationMaximizationScorer(), SoftNeighborhoodDensityScorer()):
        with pytest.raises(ValueError, match=f"{type(scorer).__name__} needs predict_proba"):
            scorer(no_proba, X, y)
