"""pooling="auto" reads the feature layer as the network's own head did; the adaptive budget."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skltransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor, stack_domains
from skltransfer.keras import _recipe
from skltransfer.keras._backbone import resolve_pooling

keras = pytest.importorskip("keras")


def _network(head: str, seed: int = 0):
    """conv -> pool -> head ("flatten", "gap", "gmp" or "none") -> dense softmax."""
    layers = keras.layers
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(
        4,
        3,
        padding="same",
        activation="relu",
        name="conv",
        kernel_initializer=keras.initializers.GlorotUniform(seed),
    )(inputs)
    x = layers.MaxPooling2D(2, name="pool")(x)
    if head == "none":
        return keras.Model(inputs, x)
    reader = {
        "flatten": layers.Flatten(name="read"),
        "gap": layers.GlobalAveragePooling2D(name="read"),
        "gmp": layers.GlobalMaxPooling2D(name="read"),
    }[head]
    outputs = layers.Dense(3, activation="softmax", name="out")(reader(x))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    ("head", "expected"), [("flatten", None), ("gap", "avg"), ("gmp", "max"), ("none", "avg")]
)
def test_auto_follows_the_networks_own_head(head, expected):
    model = _network(head)
    assert resolve_pooling(model, model.get_layer("pool"), "auto") == expected
    for given in ("avg", "max", None):  # anything else is kept as given
        assert resolve_pooling(model, model.get_layer("pool"), given) == given


def test_a_layer_read_by_two_kinds_of_layer_is_averaged():
    layers = keras.layers
    inputs = keras.Input((8, 8, 1))
    maps = layers.Conv2D(2, 3, name="conv")(inputs)
    both = layers.Concatenate()([layers.Flatten()(maps), layers.GlobalMaxPooling2D()(maps)])
    model = keras.Model(inputs, layers.Dense(2)(both))
    assert resolve_pooling(model, model.get_layer("conv"), "auto") == "avg"


def _images(n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(size=(n, 8, 8, 1)).astype("float32")
    y = (X[:, :4].mean(axis=(1, 2, 3)) > X[:, 4:].mean(axis=(1, 2, 3))).astype(int)
    return X, y


def test_extractor_auto_flattens_what_the_network_flattens_and_survives_pickling(tmp_path):
    X, _ = _images()
    path = tmp_path / "flat.keras"
    _network("flatten").save(path)
    auto = PretrainedFeatureExtractor(path, pooling="auto").fit(X)
    flat = PretrainedFeatureExtractor(path, pooling=None).fit(X)
    assert auto.pooling_ is None and auto.transform(X).shape == (len(X), 4 * 4 * 4)
    assert_allclose(auto.transform(X), flat.transform(X), rtol=1e-6)
    again = pickle.loads(pickle.dumps(auto))
    assert_allclose(again.transform(X), flat.transform(X), rtol=1e-6)
    gap = tmp_path / "gap.keras"
    _network("gap").save(gap)
    pooled = PretrainedFeatureExtractor(gap, pooling="auto").fit(X)
    assert pooled.pooling_ == "avg" and pooled.transform(X).shape == (len(X), 4)


def test_classifier_default_flattens_a_flattening_network(tmp_path):
    X, y = _images()
    path = tmp_path / "flat.keras"
    _network("flatten").save(path)
    clf = FineTunedCNNClassifier(path, fine_tune_epochs=0, random_state=0).fit(X, y)
    assert isinstance(clf.model_.get_layer("pooling"), keras.layers.Flatten)
    assert clf.head_.input_shape[-1] == 4 * 4 * 4


@pytest.mark.parametrize(("target_rows", "steps"), [(False, _recipe.FINE_TUNE_STEPS), (True, 1000)])
def test_the_auto_budget_is_larger_when_the_target_rows_take_part(monkeypatch, tmp_path, target_rows, steps):
    """About 1,000 fine-tuning steps with a target objective (the default's "im"), 300 without."""
    asked = []

    def one_epoch(n_train, batch_size, target_steps, max_epochs):
        asked.append(target_steps)
        return 1

    monkeypatch.setattr(_recipe, "auto_epochs", one_epoch)
    X, y = _images()
    path = tmp_path / "flat.keras"
    _network("flatten").save(path)
    clf = FineTunedCNNClassifier(path, epochs=1, random_state=0)
    if target_rows:
        Xt, _ = _images(seed=1)
        clf.fit(*stack_domains(X, y, Xt))
        assert clf.target_loss_ == "im"
    else:
        clf.fit(X, y)
    assert asked == [steps]
