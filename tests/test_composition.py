"""Estimators that learn from the unlabeled target rows compose like any scikit-learn estimator.

Every public estimator whose domain tag says ``learns_from_unlabeled`` is the last step of
``make_da_pipeline`` and of a plain ``Pipeline``, fitted on stacked source + target rows,
and evaluated inside ``cross_val_score`` / ``GridSearchCV`` with the domain-aware splitters.
"""

import inspect

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

import skltransfer
from skltransfer import LabeledOnly, make_da_pipeline, stack_domains
from skltransfer.model_selection import DomainAwareSplit, LeaveOneDomainOut
from skltransfer.utils._tags import get_domain_tags

# Small settings so that each fit takes a fraction of a second.
_FAST = {
    "MEDAClassifier": {"n_components": 3, "max_iter": 2, "n_neighbors": 5},
    "CMMSClassifier": {"n_components": 3, "max_iter": 2, "n_neighbors": 5, "random_state": 0},
    "TrAdaBoostClassifier": {"n_estimators": 3, "random_state": 0},
    "KernelMeanMatching": {},
    "DomainClassifierWeighting": {},
    "LeastSquaresImportanceFitting": {"n_centers": 20, "random_state": 0},
    "LabelShiftClassifier": {},
    "TrAdaBoostRegressor": {"n_steps": 3, "n_estimators": 3, "random_state": 0},
}


def _public_estimators():
    """An instance of every public numpy-core estimator (Keras names are loaded lazily)."""
    for name in skltransfer.__all__:
        if name in skltransfer._KERAS_NAMES:
            continue
        cls = getattr(skltransfer, name)
        if not inspect.isclass(cls) or not hasattr(cls, "fit"):
            continue
        params = dict(_FAST.get(name, {}))
        if "estimator" in inspect.signature(cls).parameters and "Regressor" not in name:
            params.setdefault("estimator", LogisticRegression())
        yield cls(**params)


TAGGED = [est for est in _public_estimators() if get_domain_tags(est).learns_from_unlabeled]
LEARNS_FROM_TARGET = [est for est in TAGGED if is_classifier(est)]
REGRESSORS = [est for est in TAGGED if is_regressor(est)]


def test_the_tagged_estimators_are_the_documented_ones():
    names = {type(est).__name__ for est in TAGGED}
    assert names == set(_FAST)
    assert len(LEARNS_FROM_TARGET) + len(REGRESSORS) == len(TAGGED)
    # transformers are wrapped by nothing, a plain classifier is not tagged
    assert not get_domain_tags(skltransfer.MMDAligner()).learns_from_unlabeled
    assert not get_domain_tags(LogisticRegression()).learns_from_unlabeled


@pytest.fixture(scope="module")
def shifted():
    """Three classes, the target rows scaled and shifted; 9 target rows labeled.

    Returns ``X, y, sample_domain, Xt``: two source domains (0, 1), one target domain (-1)
    whose labeled rows (needed by TrAdaBoost) are told from source rows by ``sample_domain``.
    """
    rng = np.random.default_rng(0)
    ys = np.repeat([0, 1, 2], 20)
    centres = rng.normal(scale=3.0, size=(3, 5))
    Xs = centres[ys] + rng.normal(size=(60, 5))
    Xt = (centres[ys] + rng.normal(size=(60, 5))) * 1.3 + 1.0
    yt = np.full(60, -1)
    yt[::7] = ys[::7]
    X, y, sample_domain = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    sample_domain[:60] = np.arange(60) % 2
    return X, y, sample_domain, Xt


def _ids(est):
    return type(est).__name__


def _step(pipe):
    return pipe.steps[-1][0] + "__sample_domain"


@pytest.mark.parametrize("estimator", LEARNS_FROM_TARGET, ids=_ids)
def test_last_step_of_make_da_pipeline_gets_every_row(estimator, shifted):
    X, y, sample_domain, Xt = shifted
    pipe = make_da_pipeline(StandardScaler(), clone(estimator))
    assert not isinstance(pipe.steps[-1][1], LabeledOnly)
    assert get_domain_tags(pipe).learns_from_unlabeled
    pipe.fit(X, y, **{_step(pipe): sample_domain})
    direct = clone(estimator).fit(StandardScaler().fit_transform(X), y, sample_domain=sample_domain)
    # the same fit as the estimator given every row itself: the target rows were seen
    np.testing.assert_array_equal(pipe.predict(Xt), direct.predict(pipe[:-1].transform(Xt)))
    assert set(np.unique(pipe.predict(Xt))) <= {0, 1, 2}

    plain = Pipeline([("scale", StandardScaler()), ("da", clone(estimator))])
    plain.fit(X, y, da__sample_domain=sample_domain)
    np.testing.assert_array_equal(plain.predict(Xt), pipe.predict(Xt))


@pytest.mark.parametrize("estimator", LEARNS_FROM_TARGET, ids=_ids)
def test_labeled_only_passes_every_row(estimator, shifted):
    X, y, sample_domain, Xt = shifted
    wrapped = LabeledOnly(clone(estimator)).fit(X, y, sample_domain=sample_domain)
    direct = clone(estimator).fit(X, y, sample_domain=sample_domain)
    np.testing.assert_array_equal(wrapped.predict(Xt), direct.predict(Xt))
    assert get_domain_tags(wrapped).learns_from_unlabeled


@pytest.mark.parametrize("estimator", LEARNS_FROM_TARGET, ids=_ids)
def test_cross_validation_with_domain_aware_splitters(estimator, shifted):
    X, y, sample_domain, Xt = shifted
    pipe = make_da_pipeline(Normalizer(), clone(estimator))
    fit_params = {_step(pipe): sample_domain}
    # shuffled folds: every training fold keeps some labeled target rows (TrAdaBoost needs them)
    shuffled = DomainAwareSplit(StratifiedKFold(3, shuffle=True, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=shuffled, params=fit_params, error_score="raise")
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    # held-out source domain; the target rows stay in every training fold
    scores = cross_val_score(
        pipe, X, y, groups=sample_domain, cv=LeaveOneDomainOut(), params=fit_params, error_score="raise"
    )
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    # the best of a grid, refitted on every row, predicts
    grid = GridSearchCV(pipe, {"normalizer__norm": ["l2", "l1"]}, cv=shuffled, error_score="raise")
    grid.fit(X, y, **fit_params)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.predict(Xt[:5]).shape == (5,)


@pytest.mark.parametrize("estimator", REGRESSORS, ids=_ids)
def test_regressor_last_step_gets_every_row(estimator):
    # float targets: NaN marks the unlabeled target rows; a few target rows are labeled
    rng = np.random.default_rng(1)
    Xs, Xt = rng.normal(size=(60, 4)), rng.normal(size=(60, 4)) + 0.5
    coef = np.array([1.0, -2.0, 0.5, 0.0])
    ys, yt = Xs @ coef, Xt @ coef + 1.0
    yt_known = np.full(60, np.nan)
    yt_known[::6] = yt[::6]
    X, y, sample_domain = stack_domains(Xs, ys, Xt, yt_known, return_sample_domain=True)
    pipe = make_da_pipeline(StandardScaler(), clone(estimator))
    assert not isinstance(pipe.steps[-1][1], LabeledOnly)
    pipe.fit(X, y, **{_step(pipe): sample_domain})
    direct = clone(estimator).fit(StandardScaler().fit_transform(X), y, sample_domain=sample_domain)
    np.testing.assert_allclose(pipe.predict(Xt), direct.predict(pipe[:-1].transform(Xt)))
    cv = DomainAwareSplit(KFold(3, shuffle=True, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=cv, params={_step(pipe): sample_domain}, error_score="raise")
    assert scores.shape == (3,) and np.isfinite(scores).all()
