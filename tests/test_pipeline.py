import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from skltransfer import LabeledOnly, make_da_pipeline, stack_domains
from skltransfer.alignment._base import BaseDomainAligner


class MeanShiftAligner(BaseDomainAligner):
    """Moves source rows onto the target mean: the smallest aligner, to test the base."""

    _parameter_constraints: dict = {}

    def _fit_domains(self, X, y, domains):
        self.shift_ = X[domains.target].mean(axis=0) - X[domains.source].mean(axis=0)
        return X.shape[1]

    def _transform_domains(self, X, source):
        X = X.copy()
        X[source] += self.shift_
        return X


@pytest.fixture
def shifted():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(60, 2))
    ys = (Xs[:, 0] > 0).astype(int)
    Xt = Xs + np.array([5.0, 0.0])
    return Xs, ys, Xt, ys.copy()


def test_labeled_only_ignores_unlabeled_rows(shifted):
    Xs, ys, Xt, _ = shifted
    X, y = stack_domains(Xs, ys, Xt)
    clf = LabeledOnly(LogisticRegression()).fit(X, y)
    ref = LogisticRegression().fit(Xs, ys)
    assert clf.classes_.tolist() == [0, 1]
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X))
    assert clf.score(X, y) == pytest.approx(ref.score(Xs, ys))
    assert clf.n_features_in_ == 2


def test_labeled_only_regression_uses_nan():
    X = np.arange(6, dtype=float).reshape(-1, 1)
    y = np.array([0.0, 2.0, 4.0, np.nan, np.nan, -1.0])
    reg = LabeledOnly(LinearRegression()).fit(X, y)
    ref = LinearRegression().fit(X[[0, 1, 2, 5]], y[[0, 1, 2, 5]])
    np.testing.assert_allclose(reg.predict(X), ref.predict(X))


def test_labeled_only_slices_sample_weight(shifted):
    Xs, ys, Xt, _ = shifted
    X, y = stack_domains(Xs, ys, Xt)
    w = np.r_[np.linspace(0.1, 2, len(ys)), np.zeros(len(Xt))]
    clf = LabeledOnly(LogisticRegression()).fit(X, y, sample_weight=w)
    ref = LogisticRegression().fit(Xs, ys, sample_weight=w[: len(ys)])
    np.testing.assert_allclose(clf.decision_function(X), ref.decision_function(X))


def test_labeled_only_errors(shifted):
    Xs, ys, Xt, _ = shifted
    X = np.vstack([Xs, Xt])
    with pytest.raises(ValueError, match="no labeled rows"):
        LabeledOnly(LogisticRegression()).fit(Xt, np.full(len(Xt), -1))
    clf = LabeledOnly(LogisticRegression()).fit(Xs, ys)
    with pytest.raises(ValueError, match="score got no labeled rows"):
        clf.score(X, np.full(len(X), -1))
    with pytest.raises(ValueError, match="target y is None"):
        LabeledOnly(LogisticRegression()).fit(Xs, None)


def test_make_da_pipeline_wraps_last_step_once():
    pipe = make_da_pipeline(StandardScaler(), LogisticRegression())
    assert isinstance(pipe.steps[-1][1], LabeledOnly)
    pipe = make_da_pipeline(LabeledOnly(LogisticRegression()))
    assert isinstance(pipe.steps[-1][1].estimator, LogisticRegression)
    with pytest.raises(ValueError, match="at least one step"):
        make_da_pipeline()


def test_aligner_base_maps_source_in_fit_transform(shifted):
    Xs, ys, Xt, yt = shifted
    X, y = stack_domains(Xs, ys, Xt)
    aligner = MeanShiftAligner()
    Z = aligner.fit_transform(X, y)
    np.testing.assert_allclose(Z[: len(Xs)].mean(0), Xt.mean(0))
    np.testing.assert_allclose(aligner.transform(Xt), Xt)
    np.testing.assert_allclose(aligner.transform(Xs, sample_domain=np.zeros(len(Xs), int)), Z[: len(Xs)])
    assert aligner.get_feature_names_out().tolist() == ["meanshiftaligner0", "meanshiftaligner1"]
    # the adaptation makes the target separable by the source classifier
    pipe = make_da_pipeline(MeanShiftAligner(), KNeighborsClassifier(1)).fit(X, y)
    plain = KNeighborsClassifier(1).fit(Xs, ys)
    assert (pipe.predict(Xt) == yt).mean() > 0.95 > (plain.predict(Xt) == yt).mean() + 0.3


def test_sample_domain_routed_through_pipeline(shifted):
    Xs, ys, Xt, yt = shifted
    X, y, sd = stack_domains(Xs, ys, Xt, np.full(len(Xt), -1), return_sample_domain=True)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_da_pipeline(
            MeanShiftAligner().set_fit_request(sample_domain=True), KNeighborsClassifier(1)
        )
        pipe.fit(X, y, sample_domain=sd)
        assert (pipe.predict(Xt) == yt).mean() > 0.95
    assert not sklearn.get_config()["enable_metadata_routing"]


def test_sample_domain_overrides_minus_one(shifted):
    """Labeled target rows given through sample_domain are target rows for the aligner."""
    Xs, ys, Xt, yt = shifted
    X, y, sd = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    aligner = MeanShiftAligner().fit(X, y, sample_domain=sd)
    np.testing.assert_allclose(aligner.shift_, Xt.mean(0) - Xs.mean(0))


def test_cross_val_score_and_grid_search_give_numbers(shifted):
    Xs, ys, Xt, _ = shifted
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(MeanShiftAligner(), KNeighborsClassifier())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert np.isfinite(scores).all()
    grid = GridSearchCV(pipe, {"labeledonly__estimator__n_neighbors": [1, 5]}, cv=3).fit(X, y)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
