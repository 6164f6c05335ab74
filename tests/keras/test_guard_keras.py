"""The guard against negative transfer of FineTunedCNNClassifier and FineTunedCNNRegressor:
with labeled target rows the fit as configured is compared with plain fine-tunings."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from skltransfer import FineTunedCNNClassifier, FineTunedCNNRegressor
from skltransfer.utils._guard import CANDIDATES

keras = pytest.importorskip("keras")

_N_SOURCE, _N_LABELED, _N_UNLABELED, _N_TEST = 60, 10, 14, 60


def _base(seed=0):
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", kernel_initializer=init(seed))(inputs)
    return keras.Model(inputs, x, name="tiny_base")


def _params(**params):
    # the linear head solved exactly, no fine-tuning: a fit costs a fraction of a second
    return {"image_shape": (8, 8), "pooling": None, "fine_tune_epochs": 0, "random_state": 0, **params}


def _top_half(rng, n, shift=0.0):
    """8x8 images whose top half is brighter than their bottom half by ``gap`` (in [-1, 1])."""
    gap = rng.uniform(-1.0, 1.0, size=n)
    X = 0.3 * rng.rand(n, 64) + shift
    X[:, :32] += np.maximum(gap, 0.0)[:, None]
    X[:, 32:] += np.maximum(-gap, 0.0)[:, None]
    return X, gap


def _stack(Xs, ys, Xt, yt, marker):
    """Source rows, labeled target rows, unlabeled target rows (``marker``), held-out rows."""
    n_fit = _N_LABELED + _N_UNLABELED
    X = np.vstack([Xs, Xt[:n_fit]])
    y = np.r_[ys, yt[:_N_LABELED], np.full(_N_UNLABELED, marker)]
    domain = np.r_[np.zeros(len(Xs), int), np.full(n_fit, -1)]
    return X, y, domain, Xt[n_fit:], yt[n_fit:]


def _classes(flip, seed=0):
    """Class 1: the top half of the image is the brighter; the target's labels flipped when
    ``flip`` (the source then teaches the wrong concept), else only shifted in brightness."""
    rng = np.random.RandomState(seed)
    Xs, gap_s = _top_half(rng, _N_SOURCE)
    Xt, gap_t = _top_half(rng, _N_LABELED + _N_UNLABELED + _N_TEST, shift=0.2)
    ys, yt = (gap_s > 0).astype(int), (gap_t > 0).astype(int)
    if flip:
        yt = 1 - yt
    # the labeled target rows: half of each class
    half = _N_LABELED // 2
    order = np.r_[np.flatnonzero(yt == 0)[:half], np.flatnonzero(yt == 1)[:half]]
    rest = np.setdiff1d(np.arange(len(yt)), order)
    Xt, yt = Xt[np.r_[order, rest]], yt[np.r_[order, rest]]
    return _stack(Xs, ys, Xt, yt, -1)


def _accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def _classifier(**params):
    return FineTunedCNNClassifier(_base(), **_params(target_loss="im", **params))


def test_guard_keeps_a_plain_fine_tuning_where_the_transfer_fit_hurts():
    X, y, domain, X_test, y_test = _classes(flip=True)
    clf = _classifier()
    with pytest.warns(UserWarning, match="the transfer fit was not kept"):
        clf.fit(X, y, sample_domain=domain)
    assert clf.target_loss_ == "im"  # the transfer fit is the fit as configured
    assert set(clf.baseline_scores_) == set(CANDIDATES)
    assert clf.selected_ == "target only" and clf.baseline_scores_["target only"]["gain"] > 0.5
    # the kept fit: the plain fine-tuning of the labeled target rows, refitted on all of them
    baseline = clf.baseline_estimator_
    assert (baseline.domain_loss, baseline.target_loss, baseline.guard) == (None, None, False)
    labeled = (domain < 0) & (y != -1)
    expected = clone(clf).set_params(target_loss=None, guard=False).fit(X[labeled], y[labeled])
    np.testing.assert_array_equal(clf.predict_proba(X_test), expected.predict_proba(X_test))
    assert clf.score(X_test, y_test) == _accuracy(expected, X_test, y_test) > 0.8
    # guard=False: exactly the unguarded fit, which the source's concept misleads
    off = clone(clf).set_params(guard=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*the transfer fit was not kept")
        off.fit(X, y, sample_domain=domain)
    assert off.selected_ == "transfer" and off.baseline_scores_ is None and off.baseline_estimator_ is None
    # the guarded estimator's transfer network is exactly the unguarded fit's
    images = X_test.reshape(-1, 8, 8, 1)
    transfer = off.model_.predict(images, verbose=0)
    np.testing.assert_array_equal(clf.model_.predict(images, verbose=0), transfer)
    np.testing.assert_allclose(off.predict_proba(X_test), transfer, rtol=1e-5, atol=1e-6)
    assert _accuracy(off, X_test, y_test) < 0.5
    # pickling keeps the guard's choice and its plain fit
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.selected_ == clf.selected_ == "target only"
    np.testing.assert_array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))


def test_export_saves_the_network_that_predicts(tmp_path):
    X, y, domain, X_test, _ = _classes(flip=True)
    with pytest.warns(UserWarning, match="the transfer fit was not kept"):
        clf = _classifier().fit(X, y, sample_domain=domain)
    assert clf.selected_ == "target only"
    saved = keras.saving.load_model(clf.export(tmp_path / "kept.keras"))
    images = X_test.reshape(-1, 8, 8, 1).astype(np.float32)
    np.testing.assert_allclose(
        saved.predict(images, verbose=0), clf.predict_proba(X_test), rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(clf.model_.predict(images, verbose=0), clf.predict_proba(X_test), atol=1e-3)


def test_guard_keeps_the_transfer_fit_where_it_helps():
    X, y, domain, X_test, y_test = _classes(flip=False)
    clf = _classifier()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*the transfer fit was not kept")
        clf.fit(X, y, sample_domain=domain)
    assert clf.selected_ == "transfer" and clf.baseline_estimator_ is None
    assert (
        clf.baseline_scores_["transfer"]["mean"]
        >= max(e["mean"] for e in clf.baseline_scores_.values()) - 1 / _N_LABELED
    )
    off = clone(clf).set_params(guard=False).fit(X, y, sample_domain=domain)
    np.testing.assert_array_equal(clf.predict_proba(X_test), off.predict_proba(X_test))
    assert _accuracy(clf, X_test, y_test) > 0.8


def test_guard_of_the_regressor():
    """The target's value is the source's negated: the plain fit of the target rows wins."""
    rng = np.random.RandomState(0)
    Xs, gap_s = _top_half(rng, _N_SOURCE)
    Xt, gap_t = _top_half(rng, _N_LABELED + _N_UNLABELED + _N_TEST, shift=0.2)
    X, y, domain, X_test, y_test = _stack(Xs, 100 * gap_s, Xt, -100 * gap_t, np.nan)
    reg = FineTunedCNNRegressor(_base(), **_params(domain_loss="coral"))
    with pytest.warns(UserWarning, match="the transfer fit was not kept"):
        reg.fit(X, y, sample_domain=domain)
    assert reg.selected_ == "target only"
    assert reg.baseline_estimator_.domain_loss is None
    labeled = (domain < 0) & ~np.isnan(y)
    expected = clone(reg).set_params(domain_loss=None, guard=False).fit(X[labeled], y[labeled])
    np.testing.assert_array_equal(reg.predict(X_test), expected.predict(X_test))
    off = clone(reg).set_params(guard=False).fit(X, y, sample_domain=domain)
    assert np.mean((reg.predict(X_test) - y_test) ** 2) < np.mean((off.predict(X_test) - y_test) ** 2) / 2


def test_without_labeled_target_rows_the_guard_compares_nothing():
    X, y, domain, X_test, _ = _classes(flip=True)
    unlabeled = np.where(domain < 0, -1, y)
    clf = _classifier().fit(X, unlabeled)
    assert clf.selected_ == "transfer" and clf.baseline_scores_ is None and clf.baseline_estimator_ is None
    off = _classifier(guard=False).fit(X, unlabeled)
    np.testing.assert_array_equal(clf.predict_proba(X_test), off.predict_proba(X_test))


def test_guard_is_a_parameter_that_clone_keeps():
    for cls in (FineTunedCNNClassifier, FineTunedCNNRegressor):
        assert cls(_base()).get_params()["guard"] is True
        assert clone(cls(_base(), guard=False)).get_params()["guard"] is False
    with pytest.raises(ValueError, match="'guard' parameter of FineTunedCNNClassifier must be"):
        _classifier(guard="yes").fit(*_classes(flip=False)[:2])
