"""Bad input to the fine-tuned estimators: the domain convention's markers, tiny features, collapses."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skltransfer import FineTunedCNNClassifier, FineTunedCNNRegressor, stack_domains
from skltransfer.utils._tags import get_domain_tags

keras = pytest.importorskip("keras")


def _base(scale=1.0, *, batch_norm=False):
    """conv -> [bn] -> x * scale: a tiny backbone with seeded weights, its features of any magnitude."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(
        4, 3, padding="same", activation="relu", kernel_initializer=keras.initializers.GlorotUniform(0)
    )(inputs)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="bn")(x)
    return keras.Model(inputs, keras.layers.Rescaling(scale)(x), name="tiny_base")


def _images(n_per_class=20, seed=0):
    """8x8 images whose class (0 or 1) brightens their top half."""
    rng = np.random.RandomState(seed)
    X = rng.rand(2 * n_per_class, 64)
    y = np.repeat([0, 1], n_per_class)
    X[y == 1, :32] += 2.0
    return X, y


def _fitted(cls, base, X, y, **params):
    defaults = dict(image_shape=(8, 8), fine_tune_epochs=0, random_state=0)
    return cls(base, **{**defaults, **params}).fit(X, y)


def test_unlabeled_rows_are_no_class_of_a_classifier_without_domain_loss():
    Xs, ys = _images()
    Xt = np.random.RandomState(1).rand(30, 64)  # more unlabeled rows than any class
    X, y = stack_domains(Xs, ys, Xt)
    clf = _fitted(FineTunedCNNClassifier, _base(), X, y, domain_loss=None, target_loss=None)
    assert_array_equal(clf.classes_, [0, 1])
    assert -1 not in clf.predict(Xt)
    assert not get_domain_tags(clf).learns_from_unlabeled
    # the unlabeled rows are left out: the fit on the labeled rows alone
    assert_array_equal(
        clf.predict_proba(Xt), _fitted(FineTunedCNNClassifier, _base(), Xs, ys).predict_proba(Xt)
    )
    assert clf.score(X, y) == clf.score(Xs, ys) == 1.0  # scored on the labeled rows only
    strings = np.r_[np.array(["dark", "bright"], dtype=object)[ys], np.full(len(Xt), -1, dtype=object)]
    assert_array_equal(_fitted(FineTunedCNNClassifier, _base(), X, strings).classes_, ["bright", "dark"])
    with pytest.raises(ValueError, match=r"every row of y is unlabeled \(y == -1, the marker"):
        _fitted(FineTunedCNNClassifier, _base(), Xt, np.full(len(Xt), -1))


def test_auto_objectives_adapt_to_the_target_rows_given_and_only_then():
    Xs, ys = _images()
    Xt = np.random.RandomState(1).rand(30, 64)
    X, y = stack_domains(Xs, ys, Xt)
    base = _base()
    adapted = _fitted(FineTunedCNNClassifier, base, X, y, epochs=2)
    assert adapted.target_loss_ == "im"
    assert get_domain_tags(FineTunedCNNClassifier()).learns_from_unlabeled
    explicit = _fitted(FineTunedCNNClassifier, base, X, y, epochs=2, target_loss="im")
    assert_array_equal(adapted.predict_proba(Xt), explicit.predict_proba(Xt))
    plain = _fitted(FineTunedCNNClassifier, base, Xs, ys)
    assert plain.target_loss_ is None
    none = _fitted(FineTunedCNNClassifier, base, Xs, ys, domain_loss=None, target_loss=None)
    assert_array_equal(plain.predict_proba(Xt), none.predict_proba(Xt))
    one_target_row = _fitted(FineTunedCNNClassifier, base, np.r_[Xs, Xt[:1]], np.r_[ys, -1])
    assert one_target_row.target_loss_ is None


def test_nan_targets_are_unlabeled_rows_of_a_regressor_without_domain_loss():
    Xs, _ = _images()
    ys = 10.0 * Xs[:, :32].mean(axis=1) - 1.0
    ys[:3] = -1.0  # a value like any other
    Xt = np.random.RandomState(1).rand(30, 64)
    X, y = stack_domains(Xs, ys, Xt)
    assert np.isnan(y[len(Xs) :]).all()
    reg = _fitted(FineTunedCNNRegressor, _base(), X, y)
    assert np.isfinite(reg.predict(Xt)).all()
    assert_array_equal(reg.predict(Xt), _fitted(FineTunedCNNRegressor, _base(), Xs, ys).predict(Xt))
    assert reg.score(X, y) == reg.score(Xs, ys) > 0.9
    for domain_loss in (None, "coral"):
        with pytest.raises(ValueError, match=r"every row of y is unlabeled \(NaN in y, the marker"):
            _fitted(FineTunedCNNRegressor, _base(), Xt, np.full(len(Xt), np.nan), domain_loss=domain_loss)
    with pytest.raises(ValueError, match="Input y contains infinity"):
        _fitted(FineTunedCNNRegressor, _base(), Xs, np.r_[ys[:-1], np.inf])


def test_sample_domain_needs_an_objective_of_the_target_rows():
    X, y = _images()
    with pytest.raises(ValueError, match=r"sample_domain marks target rows.*bn_statistics='target'"):
        FineTunedCNNClassifier(_base(), image_shape=(8, 8)).fit(X, y, sample_domain=np.zeros(len(y), int))


def test_batch_statistics_of_the_unlabeled_rows_without_a_domain_loss():
    """bn_statistics='target' takes the unlabeled rows' statistics: no domain loss needed."""
    Xs, ys = _images()
    Xt = np.random.RandomState(1).rand(30, 64) * 3.0
    X, y = stack_domains(Xs, ys, Xt)
    clf = _fitted(FineTunedCNNClassifier, _base(batch_norm=True), X, y, bn_statistics="target")
    assert_array_equal(clf.classes_, [0, 1])
    assert get_domain_tags(clf).learns_from_unlabeled
    backbone = clf.model_.get_layer("backbone").model
    conv = backbone.layers[1](Xt.reshape(-1, 8, 8, 1).astype("float32")).numpy().reshape(-1, 4)
    assert_allclose(backbone.get_layer("bn").moving_mean.numpy(), conv.mean(axis=0), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"bn_statistics='target' takes the batch statistics.*y == -1"):
        _fitted(FineTunedCNNClassifier, _base(batch_norm=True), Xs, ys, bn_statistics="target")
    with pytest.raises(ValueError, match=r"bn_statistics='target' needs at least 2 target rows"):
        _fitted(FineTunedCNNClassifier, _base(batch_norm=True), X[:41], y[:41], bn_statistics="target")


@pytest.mark.parametrize("scale", [1e-12, 1e-20])
def test_features_of_a_tiny_magnitude_are_standardised(scale):
    """A random deep network's features can be about 1e-12: the head standardises them all the same."""
    X, y = _images()
    plain = _fitted(FineTunedCNNClassifier, _base(), X, y)
    tiny = _fitted(FineTunedCNNClassifier, _base(scale), X, y)
    assert tiny.score(X, y) == 1.0
    assert_allclose(tiny.predict_proba(X), plain.predict_proba(X), atol=1e-3)
    # a constant feature (a dead unit) is left as it is, at any scale
    features = tiny.head_.get_layer("standardize")(np.full((2, 4), 3 * scale, dtype="float32"))
    assert np.isfinite(np.asarray(features)).all()


def test_a_collapse_of_the_target_predictions_onto_one_class_warns():
    clf = FineTunedCNNClassifier()
    clf._task = clf._make_task()
    clf._task.classes_ = np.array(["a", "b", "c"])
    codes = np.repeat([0, 1, 2], 10)  # the labeled rows' largest class: a third
    eye = np.eye(3)
    with pytest.warns(UserWarning, match=r"95% of the 20 target rows are predicted as class 'b'") as record:
        clf._warn_if_target_collapsed(eye[[1] * 19 + [0]], codes)
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf._warn_if_target_collapsed(eye[[1] * 17 + [0, 2, 2]], codes)  # 85%: diverse enough
        clf._warn_if_target_collapsed(eye[[1] * 9], codes)  # too few rows to tell
        # a source whose largest class holds 90% of the rows: 93% is no collapse
        clf._warn_if_target_collapsed(eye[[1] * 28 + [0, 2]], np.repeat([0, 1, 2], [1, 18, 1]))


def test_the_fit_checks_the_target_predictions():
    Xs, ys = _images()
    X, y = stack_domains(Xs, ys, Xs[ys == 1] + 0.1)  # target images of one class
    with pytest.warns(UserWarning, match="100% of the 20 target rows are predicted as class 1"):
        _fitted(FineTunedCNNClassifier, _base(), X, y, domain_loss="coral", domain_loss_weight=0.0)
    X, y = stack_domains(Xs, ys, Xs + 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _fitted(FineTunedCNNClassifier, _base(), X, y, domain_loss="coral", domain_loss_weight=0.0)
