"""SHOTClassifier and TENTClassifier: adaptation to a shifted target domain without the source data."""

import functools
import getpass
import os
import pickle
import random
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from skltransfer import FineTunedCNNClassifier, SHOTClassifier, TENTClassifier, make_da_pipeline
from skltransfer.keras.source_free import _shot_pseudo_labels
from skltransfer.utils._tags import get_domain_tags
from tests._checks import check_beyond_input_conversion

keras = pytest.importorskip("keras")


def _write_check_classifier():
    """A saved softmax classifier of 1 x n grayscale images (any n), with a batch normalization.

    scikit-learn's checks hash an estimator's parameters: they get the path of a saved
    network (the same in every parallel test worker) rather than a live ``keras.Model``,
    as in ``conftest.write_check_model``.
    """
    layers = keras.layers
    folder = Path(tempfile.gettempdir()) / f"skltransfer-tests-{getpass.getuser()}"
    folder.mkdir(exist_ok=True)
    inputs = keras.Input((1, None, 1))
    x = layers.Conv2D(4, (1, 3), padding="same", kernel_initializer=keras.initializers.GlorotUniform(0))(
        inputs
    )
    x = layers.GlobalAveragePooling2D()(layers.ReLU()(layers.BatchNormalization()(x)))
    outputs = layers.Dense(2, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(1))(x)
    handle, written = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(handle)
    keras.Model(inputs, outputs).save(written)
    path = folder / "check_source_free.keras"
    os.replace(written, path)
    return str(path)


# Each row of the checks' 2-D data is a 1 x n_features grayscale image; the classes are the
# saved network's two (0 and 1) whatever y holds, which three checks cannot accept.
_CHECK_NETWORK = _write_check_classifier()
CHECKED = [
    SHOTClassifier(_CHECK_NETWORK, image_shape=(1, -1), epochs=1, batch_size=64, random_state=0),
    TENTClassifier(_CHECK_NETWORK, image_shape=(1, -1), batch_size=64, random_state=0),
]


@parametrize_with_checks(CHECKED, expected_failed_checks=lambda e: e._expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    if isinstance(estimator, TENTClassifier):  # fit and predict are their base class's
        check_beyond_input_conversion(estimator, check, "SHOTClassifier")
    else:
        check(estimator)


# The target domain: lower contrast, brighter. A convolution without padding turns it into a
# per-channel affine change of its outputs, which the batch normalization after it absorbs
# once it normalises with target statistics; with the source statistics, the source
# classifier's accuracy drops to chance or little above.
CONTRAST, BRIGHTNESS = 0.4, 0.5


def _stripes(n, seed, *, contrast=1.0, brightness=0.0, noise=0.3):
    """8x8 grayscale images of three classes: horizontal, vertical and diagonal stripes, noisy."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 3
    i, j = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    X = np.empty((n, 8, 8, 1), np.float32)
    for k in range(n):
        phase = rng.randint(4)
        lines = (i, j, i + j)[y[k]]
        X[k, ..., 0] = ((lines + phase) % 4 < 2) + noise * rng.randn(8, 8)
    return contrast * X + brightness, y


def _network(seed=0, *, batch_norm=True):
    """conv -> [bn] -> relu -> conv -> [bn] -> relu -> average -> softmax, seeded."""
    layers = keras.layers

    def init(k):
        return keras.initializers.GlorotUniform(10 * seed + k)

    inputs = keras.Input((8, 8, 1))
    x = inputs
    for k, name in enumerate(("conv1", "conv2")):
        x = layers.Conv2D(8, 3, kernel_initializer=init(k), name=name)(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn{k + 1}")(x)
        x = layers.ReLU(name=f"relu{k + 1}")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(3, activation="softmax", kernel_initializer=init(2), name="output")(x)
    return keras.Model(inputs, outputs, name="stripes")


@functools.cache
def _source_network(seed, batch_norm=True):
    """A network fitted on source stripes (saved bytes: each test gets a fresh copy)."""
    network = _network(seed, batch_norm=batch_norm)
    X, y = _stripes(150, seed)
    network.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    network.fit(X, y, epochs=15 if batch_norm else 30, batch_size=32, shuffle=False, verbose=0)
    return pickle.dumps(network)


def _fitted(seed=0, batch_norm=True):
    return pickle.loads(_source_network(seed, batch_norm))


def _target(seed=0, n=90):
    return _stripes(n, 100 + seed, contrast=CONTRAST, brightness=BRIGHTNESS)


def _accuracy(network, X, y):
    return float(np.mean(network.predict(X, verbose=0).argmax(axis=1) == y))


def _mean_entropy(proba):
    return float(np.mean(-np.sum(proba * np.log(np.clip(proba, 1e-7, 1.0)), axis=1)))


def _weights(model):
    return {variable.path: keras.ops.convert_to_numpy(variable) for variable in model.weights}


# ------------------------------------------------------------------------------------- adaptation


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "make",
    [lambda net: SHOTClassifier(net, epochs=5, random_state=0), lambda net: TENTClassifier(net)],
    ids=["SHOT", "TENT"],
)
def test_adaptation_raises_target_accuracy(make, seed):
    network = _fitted(seed)
    X_source, y_source = _stripes(90, 50 + seed)
    X, y = _target(seed)
    assert _accuracy(network, X_source, y_source) >= 0.95
    before = _accuracy(network, X, y)
    assert before <= 0.7  # the shift hurts
    adapted = make(network).fit(X)
    after = adapted.score(X, y)
    assert after >= 0.95 and after >= before + 0.25
    X_new, y_new = _target(seed + 10)  # unseen images of the target domain
    assert adapted.score(X_new, y_new) >= 0.9


def test_shot_adapts_a_network_without_batch_normalization():
    """Its own training (information maximisation and pseudo-labels), no statistics to re-estimate."""
    network = _fitted(1, batch_norm=False)
    # A milder shift: under the stronger one, this network predicts one class with certainty for
    # every target image, and neither objective has a gradient left.
    X, y = _stripes(120, 101, contrast=0.5, brightness=0.3)
    before = _accuracy(network, X, y)
    shot = SHOTClassifier(network, random_state=0).fit(X)
    assert before <= 0.5 and shot.score(X, y) >= before + 0.4
    im = SHOTClassifier(network, beta=0.0, epochs=3, random_state=0).fit(X)
    assert set(im.history_) == {"loss", "information_maximization"}


def test_shot_trains_the_feature_extractor_and_freezes_the_output_layer():
    network = _fitted(0)
    X, _ = _target(0)
    before = _weights(network)
    shot = SHOTClassifier(network, epochs=2, batch_size=16, random_state=0).fit(X)
    after = _weights(shot.model_)
    assert set(after) == set(before)
    for path, value in after.items():
        if path.startswith("output/"):
            assert_array_equal(value, before[path])
        else:
            assert not np.array_equal(value, before[path]), path  # convolutions, gamma, beta, statistics
    assert set(shot.history_) == {
        "loss",
        "information_maximization",
        "pseudo_label_loss",
        "pseudo_label_agreement",
    }
    assert all(len(values) == 2 for values in shot.history_.values())
    assert _weights(network).keys() == before.keys()
    for path, value in _weights(network).items():  # the given network is unchanged
        assert_array_equal(value, before[path])
    assert [layer.trainable for layer in network.layers] == [True] * len(network.layers)


def test_tent_trains_only_the_batch_norm_affine_parameters_and_sets_target_statistics():
    network = _fitted(0)
    network.get_layer("conv2").trainable = False  # flags of the given network are kept
    X, _ = _target(0)
    before = _weights(network)
    tent = TENTClassifier(network, epochs=3, batch_size=32, random_state=0).fit(X)
    after = _weights(tent.model_)
    for path, value in after.items():
        if path.endswith(("/gamma", "/beta", "/moving_mean", "/moving_variance")):
            assert not np.array_equal(value, before[path]), path
        else:
            assert_array_equal(value, before[path])  # bit for bit
    # The moving statistics are the target images' (population mean and variance per channel).
    conv1 = keras.Model(network.inputs[0], network.get_layer("conv1").output)(X).numpy()
    assert_allclose(after["bn1/moving_mean"], conv1.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    assert_allclose(after["bn1/moving_variance"], conv1.var(axis=(0, 1, 2)), rtol=1e-3)
    for path, value in _weights(network).items():
        assert_array_equal(value, before[path])
    assert not tent.model_.get_layer("conv2").trainable and network.get_layer("bn1").trainable
    assert len(tent.history_["loss"]) == 3

    only_statistics = TENTClassifier(network, epochs=0).fit(X)  # prediction-time batch norm
    assert only_statistics.history_ == {"loss": []}
    stats = _weights(only_statistics.model_)
    assert_array_equal(stats["bn1/gamma"], before["bn1/gamma"])
    assert_allclose(stats["bn1/moving_mean"], after["bn1/moving_mean"], rtol=1e-5)
    # The entropy minimisation made the predictions more confident than the statistics alone.
    assert _mean_entropy(tent.predict_proba(X)) < _mean_entropy(only_statistics.predict_proba(X))


def test_tent_needs_batch_normalization():
    network = _network(batch_norm=False)
    with pytest.raises(ValueError, match=r"trains the BatchNormalization layers of classifier.*has none"):
        TENTClassifier(network).fit(_target()[0])
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.BatchNormalization(center=False, scale=False)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    with pytest.raises(ValueError, match="have neither \\(scale=False, center=False\\)"):
        TENTClassifier(keras.Model(inputs, outputs)).fit(_target()[0])


def test_a_fitted_fine_tuned_classifier_is_adapted_and_left_unchanged():
    X_source, y_source = _stripes(150, 0)
    labels = np.asarray(["horizontal", "vertical", "diagonal"])
    network = _fitted(0)  # a backbone pretrained on the source domain, with its statistics
    backbone = keras.Model(network.inputs[0], network.get_layer("relu2").output)
    clf = FineTunedCNNClassifier(backbone, fine_tune_epochs=0, random_state=0).fit(X_source, labels[y_source])
    X, y = _target(0)
    source_proba = clf.predict_proba(X)
    before = [w.copy() for w in clf.model_.get_weights()]
    assert clf.score(X_source, labels[y_source]) >= 0.9
    for estimator in (SHOTClassifier(clf, epochs=3, random_state=0), TENTClassifier(clf)):
        adapted = estimator.fit(X.reshape(len(X), 64))  # 2-D rows, of the classifier's image shape
        assert_array_equal(adapted.classes_, clf.classes_)
        assert adapted.image_shape_ == (8, 8, 1) and adapted.n_features_in_ == 64
        assert adapted.score(X.reshape(len(X), 64), labels[y]) > clf.score(X, labels[y])
        assert [layer.name for layer in adapted.model_.layers] == [layer.name for layer in clf.model_.layers]
        assert_array_equal(clf.predict_proba(X), source_proba)
        for a, b in zip(clf.model_.get_weights(), before, strict=True):
            assert_array_equal(a, b)
        assert not clf.model_.get_layer("backbone").model.trainable
        with pytest.raises(ValueError, match="X has 49 features"):
            adapted.predict(np.zeros((2, 49)))
    frozen = TENTClassifier(FrozenEstimator(clf), random_state=0).fit(X)
    assert_array_equal(frozen.predict_proba(X), TENTClassifier(clf, random_state=0).fit(X).predict_proba(X))
    with pytest.raises(ValueError, match="a FineTunedCNNClassifier has its own classes_"):
        TENTClassifier(clf, classes=labels).fit(X)
    with pytest.raises(ValueError, match="this FineTunedCNNClassifier is not fitted"):
        TENTClassifier(FineTunedCNNClassifier(backbone)).fit(X)


def test_reproducible_and_round_trips(tmp_path):
    network = _fitted(0)
    X, _ = _target(0)
    shot = SHOTClassifier(network, classes=["h", "v", "d"], epochs=2, random_state=0)
    python_state, numpy_state = random.getstate(), np.random.get_state()[1].copy()  # noqa: NPY002
    proba = shot.fit(X).predict_proba(X)
    assert random.getstate() == python_state
    assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    again = clone(shot)
    assert again.classifier is network and not hasattr(again, "model_")
    assert_array_equal(again.fit(X).predict_proba(X), proba)
    other = SHOTClassifier(network, epochs=2, random_state=1).fit(X)
    assert not np.array_equal(other.predict_proba(X), proba)
    loaded = pickle.loads(pickle.dumps(shot))
    assert_array_equal(loaded.predict_proba(X), proba)
    assert_array_equal(loaded.predict(X[:5]), shot.predict(X[:5]))
    assert set(loaded.predict(X)) <= {"h", "v", "d"}
    joblib.dump(shot, tmp_path / "shot.joblib")
    assert_array_equal(joblib.load(tmp_path / "shot.joblib").predict_proba(X), proba)
    # One image's prediction does not depend on the others predicted with it.
    assert_allclose(shot.predict_proba(X[:1]), proba[:1], atol=1e-6)

    tent = TENTClassifier(network, batch_size=16, random_state=3).fit(X)
    assert_array_equal(clone(tent).fit(X).predict_proba(X), tent.predict_proba(X))
    assert_array_equal(pickle.loads(pickle.dumps(tent)).predict_proba(X), tent.predict_proba(X))
    path = tmp_path / "network.keras"
    network.save(path)
    from_path = TENTClassifier(str(path), batch_size=16, random_state=3).fit(X)
    assert_allclose(from_path.predict_proba(X), tent.predict_proba(X), atol=1e-6)


def test_labels_are_ignored_and_unlabeled_rows_not_scored():
    network = _fitted(0)
    X, y = _target(0)
    plain = TENTClassifier(network, random_state=0).fit(X)
    stacked_y = np.where(np.arange(len(y)) % 2 == 0, y, -1)
    with_y = TENTClassifier(network, random_state=0).fit(X, stacked_y)
    assert_array_equal(with_y.predict_proba(X), plain.predict_proba(X))
    labeled = stacked_y != -1
    assert with_y.score(X, stacked_y) == plain.score(X[labeled], y[labeled])
    assert get_domain_tags(plain).learns_from_unlabeled
    assert get_domain_tags(make_da_pipeline(TENTClassifier(network))).learns_from_unlabeled
    assert not plain.__sklearn_tags__().target_tags.required


def test_verbose_reports_progress(capsys):
    X, _ = _target(0, n=20)
    SHOTClassifier(_fitted(0), epochs=1, verbose=2).fit(X)
    TENTClassifier(_fitted(0), verbose=2).fit(X)
    out = capsys.readouterr().out
    assert out.count("Epoch 1/1") == 2 and "loss" in out
    TENTClassifier(_fitted(0)).fit(X)
    assert capsys.readouterr().out == ""


def test_image_files(image_folder):
    paths = sorted(str(path) for path in image_folder.rglob("img*"))
    layers = keras.layers
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
    x = layers.GlobalAveragePooling2D()(layers.BatchNormalization()(x))
    outputs = layers.Dense(2, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(1))(x)
    network = keras.Model(inputs, outputs)
    for estimator in (
        TENTClassifier(network, random_state=0),
        SHOTClassifier(network, epochs=1, random_state=0),
    ):
        estimator.fit(paths)  # read at the network's input size, 16 x 16
        assert estimator.image_shape_ == (16, 16, 3) and not hasattr(estimator, "n_features_in_")
        assert estimator.predict_proba(paths).shape == (len(paths), 2)
    any_size = keras.Input((None, None, 3))
    with pytest.raises(ValueError, match="takes images of any size: pass the images as an array"):
        TENTClassifier(keras.Model(any_size, network(layers.Resizing(16, 16)(any_size)))).fit(paths)


def test_a_sequential_network_and_a_nested_one():
    network = _fitted(0)
    X, y = _target(0)
    sequential = keras.Sequential([keras.Input((8, 8, 1)), *network.layers[1:]])
    nested = keras.Sequential([keras.Input((8, 8, 1)), network])
    inputs = keras.Input((8, 8, 1))
    listed = keras.Model([inputs], network(inputs))  # an input list of one
    expected = TENTClassifier(network, random_state=0).fit(X).predict_proba(X)
    for wrapped in (sequential, nested, listed):
        adapted = TENTClassifier(wrapped, random_state=0).fit(X)
        assert_allclose(adapted.predict_proba(X), expected, atol=1e-5)
    assert SHOTClassifier(nested, epochs=2, random_state=0).fit(X).score(X, y) >= 0.95


def test_pseudo_labels_follow_the_official_code():
    """Against the clustering of SHOT's code (``obtain_label``), written with scipy's cosine distance."""
    rng = np.random.RandomState(0)
    features = np.vstack([rng.randn(20, 4) + 3 * np.eye(4)[k] for k in range(3)])
    logits = rng.randn(60, 4)
    logits[:, 3] -= 10  # a class predicted for no row
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    fea = np.hstack([features, np.ones((60, 1))])
    fea = fea / np.linalg.norm(fea, axis=1, keepdims=True)
    initc = proba.T @ fea / (1e-8 + proba.sum(axis=0)[:, None])
    labelset = np.flatnonzero(np.eye(4)[proba.argmax(axis=1)].sum(axis=0) > 0)
    expected = labelset[cdist(fea, initc[labelset], "cosine").argmin(axis=1)]
    aff = np.eye(4)[expected]
    initc = aff.T @ fea / (1e-8 + aff.sum(axis=0)[:, None])
    expected = labelset[cdist(fea, initc[labelset], "cosine").argmin(axis=1)]

    labels = _shot_pseudo_labels(features, proba)
    assert_array_equal(labels, expected)
    assert 3 not in labels and np.mean(labels == np.repeat(np.arange(3), 20)) >= 0.9


def test_bad_input_errors_name_the_fault():
    network = _fitted(0)
    X, _ = _target(0)
    with pytest.raises(ValueError, match="at least 2 target images; got 1 sample"):
        TENTClassifier(network).fit(X[:1])
    with pytest.raises(ValueError, match=r"images of shape \(6, 6, 1\).*takes images of shape \(8, 8, 1\)"):
        SHOTClassifier(network).fit(np.zeros((4, 6, 6, 1)))
    with pytest.raises(ValueError, match="The images have 2 channels but the network takes 1"):
        TENTClassifier(network).fit(np.zeros((4, 8, 8, 2)))
    with pytest.raises(ValueError, match="NaN"):
        TENTClassifier(network).fit(np.full((4, 8, 8), np.nan))
    with pytest.raises(ValueError, match="classes must hold 3 distinct labels"):
        TENTClassifier(network, classes=["a", "b"]).fit(X)
    with pytest.raises(ValueError, match="classifier must be a fitted FineTunedCNNClassifier"):
        TENTClassifier(LogisticRegression()).fit(X)
    inputs = keras.Input((8, 8, 1))
    logits = keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.BatchNormalization()(inputs)))
    with pytest.raises(ValueError, match="must output class probabilities"):
        TENTClassifier(keras.Model(inputs, logits)).fit(X)
    with pytest.raises(ValueError, match="one output of shape \\(batch, n_classes\\)"):
        TENTClassifier(keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))).fit(X)
    flat = keras.Input((64,))
    with pytest.raises(ValueError, match="must take one batch of images"):
        TENTClassifier(keras.Model(flat, keras.layers.Dense(2, activation="softmax")(flat))).fit(X)

    class Subclassed(keras.Model):
        def call(self, x):
            return keras.ops.softmax(keras.ops.mean(x, axis=(1, 2)))

    with pytest.raises(
        ValueError, match=r"functional or sequential keras.Model.*subclassed model Subclassed"
    ):
        TENTClassifier(Subclassed()).fit(X)
    with pytest.raises(ValueError, match="No saved Keras model at"):
        TENTClassifier("missing.keras").fit(X)
    fitted = TENTClassifier(network).fit(X)
    with pytest.raises(ValueError, match=r"fitted on images of shape \(8, 8, 1\)"):
        fitted.predict(np.zeros((2, 9, 9, 1)))
    with pytest.raises(ValueError, match="image_shape"):
        TENTClassifier(network, image_shape=(7, 7)).fit(X.reshape(len(X), 64))


@pytest.mark.parametrize("estimator", CHECKED, ids=lambda e: type(e).__name__)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)
