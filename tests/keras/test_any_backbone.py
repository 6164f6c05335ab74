"""Backbones other than image CNNs: token outputs, 1-D signals, tabular networks, KerasHub, and the
Keras models that need a word on what to set (subclassed, without Input, several outputs)."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone

from skltransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor
from skltransfer.keras.images import check_fitted_shape, check_sample_shape

keras = pytest.importorskip("keras")
layers = keras.layers


class UnregisteredNet(keras.Model):
    """A subclassed model whose class is not registered with Keras."""

    def __init__(self, filters=4, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv = layers.Conv2D(filters, 3, name="conv")

    def call(self, x):
        return self.conv(x)


class WrapsALayer(keras.Model):
    """A subclassed model whose __init__ takes an object Keras cannot serialize."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, x):
        return self.inner(x)


class Split(keras.layers.Layer):
    """A layer with two outputs: the two halves of its input."""

    def call(self, x):
        return [x[:, :3], x[:, 3:]]


def _images(n=5, size=8, channels=3):
    return np.random.RandomState(0).randint(0, 256, (n, size, size, channels)).astype(np.uint8)


def _outputs(model, layer, X):
    return keras.Model(model.inputs, model.get_layer(layer).output).predict(
        np.asarray(X, "float32"), verbose=0
    )


def _token_model():
    """A tiny vision transformer: patches -> tokens with a class token -> attention -> norm -> head."""
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(6, 4, strides=4, name="patches")(inputs)
    x = layers.Reshape((4, 6), name="tokens")(x)
    x = layers.Concatenate(axis=1, name="with_class_token")(
        [layers.Dense(6, name="class_token")(x[:, :1]), x]
    )
    x = layers.MultiHeadAttention(2, 3, name="attention")(x, x)
    x = layers.LayerNormalization(name="norm")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    model = keras.Model(inputs, layers.Dense(3, name="head")(x))
    # seeded, small weights: unseeded ones on 0-255 pixels sometimes gave attention logits so
    # large that the softmax amplified float rounding (batch 2 against batch 5) past 1e-5
    rng = np.random.RandomState(0)
    model.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _signal_model(steps=20):
    return keras.Sequential(
        [
            keras.Input((steps, 2)),
            layers.Conv1D(4, 3, activation="relu", name="conv1"),
            layers.Conv1D(5, 3, name="conv2"),
            layers.GlobalAveragePooling1D(name="gap"),
            layers.Dense(3, name="head"),
        ]
    )


def _tabular_model():
    return keras.Sequential(
        [keras.Input((7,)), layers.Dense(5, activation="relu", name="hidden"), layers.Dense(2, name="out")]
    )


# ----------------------------------------------------------------- token outputs


@pytest.mark.parametrize("pooling", ["avg", "max", "cls", None])
def test_token_outputs_are_pooled_by_mean_max_class_token_or_flattened(pooling):
    model = _token_model()
    X = _images()
    tokens = _outputs(model, "norm", X)  # (5, 5 tokens, 6)
    expected = {
        "avg": tokens.mean(axis=1),
        "max": tokens.max(axis=1),
        "cls": tokens[:, 0],
        None: tokens.reshape(len(X), -1),
    }[pooling]
    extractor = PretrainedFeatureExtractor(model, pooling=pooling, batch_size=2).fit(X)
    assert extractor.layer_name_ == "norm"  # the last layer with token outputs, not the patch convolution
    assert_allclose(extractor.transform(X), expected, rtol=1e-5, atol=1e-5)


def test_class_token_pooling_survives_pickling_and_fine_tuning():
    model = _token_model()
    X, y = _images(8), np.arange(8) % 2
    extractor = PretrainedFeatureExtractor(model, pooling="cls").fit(X)
    assert_allclose(pickle.loads(pickle.dumps(extractor)).transform(X), extractor.transform(X))
    classifier = FineTunedCNNClassifier(model, pooling="cls", epochs=1, fine_tune_epochs=1, batch_size=4)
    classifier.fit(X, y)
    restored = pickle.loads(pickle.dumps(classifier))
    assert_allclose(restored.predict_proba(X), classifier.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_class_token_pooling_of_a_feature_map_names_pooling():
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(2, 3, name="conv")])
    with pytest.raises(ValueError, match=r"pooling='cls' takes the first token.*'conv' has a 4-D output"):
        PretrainedFeatureExtractor(model, pooling="cls").fit(_images())


def test_pooling_values_are_validated():
    with pytest.raises(ValueError, match=r"'pooling' parameter.*\{.*'cls'.*\}"):
        PretrainedFeatureExtractor(_token_model(), pooling="first").fit(_images())


# ---------------------------------------------------------------- 1-D signals


def test_signal_model_features_are_pooled_over_steps():
    model = _signal_model()
    X = np.random.RandomState(1).randn(6, 20, 2).astype(np.float32)
    extractor = PretrainedFeatureExtractor(model, batch_size=4).fit(X)
    assert extractor.layer_name_ == "conv2" and extractor.input_shape_ == (20, 2)
    maps = _outputs(model, "conv2", X)
    assert_allclose(extractor.transform(X), maps.mean(axis=1), rtol=1e-5, atol=1e-6)
    maxed = PretrainedFeatureExtractor(model, layer="conv1", pooling="max").fit_transform(X)
    assert_allclose(maxed, _outputs(model, "conv1", X).max(axis=1), rtol=1e-5, atol=1e-6)
    flat = PretrainedFeatureExtractor(model, image_shape=(20, 2)).fit(X.reshape(6, -1))
    assert flat.n_features_in_ == 40
    assert_allclose(flat.transform(X.reshape(6, -1)), maps.mean(axis=1), rtol=1e-5, atol=1e-6)


def test_one_channel_signals_as_rows_and_any_length():
    model = keras.Sequential([keras.Input((None, 1)), layers.Conv1D(3, 5, name="conv")])
    X = np.random.RandomState(2).randn(4, 30)
    extractor = PretrainedFeatureExtractor(model).fit(X)
    assert extractor.input_shape_ == (30, 1) and extractor.n_features_in_ == 30
    assert_allclose(
        extractor.transform(X), _outputs(model, "conv", X[..., None]).mean(axis=1), rtol=1e-5, atol=1e-6
    )


def test_saved_signal_model_reads_three_axes_as_signals(tmp_path):
    path = tmp_path / "signals.keras"
    model = _signal_model()
    model.save(path)
    X = np.random.RandomState(3).randn(3, 20, 2).astype(np.float32)
    features = PretrainedFeatureExtractor(str(path)).fit_transform(X)
    assert_allclose(features, _outputs(model, "conv2", X).mean(axis=1), rtol=1e-5, atol=1e-6)


def test_signal_errors_say_what_to_pass():
    model = _signal_model()
    with pytest.raises(
        ValueError, match=r"takes 1-D signals \(steps, channels\), but X is a 4-D array: pass a 3-D"
    ):
        PretrainedFeatureExtractor(model).fit(_images())
    with pytest.raises(ValueError, match="takes 1-D signals"):
        FineTunedCNNClassifier(model, epochs=1, fine_tune_epochs=0).fit(_images(), np.arange(5) % 2)
    with pytest.raises(
        ValueError, match="X holds 1-D signals of 19 steps, but the network takes 20 steps: crop"
    ):
        PretrainedFeatureExtractor(model).fit(np.zeros((2, 19, 2)))
    with pytest.raises(ValueError, match=r"input_size is the .* of images.*leave input_size=None"):
        PretrainedFeatureExtractor(model, input_size=20).fit(np.zeros((2, 20, 2)))
    extractor = PretrainedFeatureExtractor(model).fit(np.zeros((2, 20, 2)))
    with pytest.raises(
        ValueError, match="X holds 1-D signals of 3 channels, but the network takes 2 channels"
    ):
        extractor.transform(np.zeros((2, 20, 3)))


# ------------------------------------------------------------------- tables


def test_tabular_model_takes_rows_as_they_are():
    model = _tabular_model()
    X = np.random.RandomState(4).randn(6, 7)
    extractor = PretrainedFeatureExtractor(model).fit(X)
    assert extractor.layer_name_ == "out" and extractor.input_shape_ == (7,) and extractor.n_features_in_ == 7
    assert_allclose(extractor.transform(X), model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    hidden = PretrainedFeatureExtractor(model, layer="hidden").fit_transform(X)
    assert_allclose(hidden, _outputs(model, "hidden", X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="X has 6 features, but PretrainedFeatureExtractor is expecting 7"):
        extractor.transform(X[:, :6])


def test_tabular_errors_say_what_to_pass():
    model = _tabular_model()
    with pytest.raises(ValueError, match=r"takes rows \(features\), but X is a 4-D array: pass a 2-D array"):
        PretrainedFeatureExtractor(model).fit(_images())
    with pytest.raises(ValueError, match="X holds rows of 6 features, but the network takes 7 features"):
        PretrainedFeatureExtractor(model).fit(np.zeros((3, 6)))
    with pytest.raises(ValueError, match=r"tabular network.*leave image_shape=None"):
        PretrainedFeatureExtractor(model, image_shape=(7, 1)).fit(np.zeros((3, 7)))


@pytest.mark.parametrize(
    "model, X",
    [
        (_tabular_model(), np.random.RandomState(5).randn(12, 7)),
        (_signal_model(), np.random.RandomState(5).randn(12, 20, 2)),
    ],
    ids=["tabular", "signal"],
)
def test_fine_tuned_classifier_on_tabular_and_signal_backbones(model, X):
    y = np.arange(12) % 2
    classifier = FineTunedCNNClassifier(model, epochs=1, fine_tune_epochs=1, batch_size=4, random_state=0)
    classifier.fit(X, y)
    assert classifier.predict_proba(X).shape == (12, 2)
    assert_allclose(
        pickle.loads(pickle.dumps(classifier)).predict_proba(X), classifier.predict_proba(X), rtol=1e-5
    )


@pytest.mark.parametrize(
    "model, X, kind",
    [
        (_tabular_model(), np.random.RandomState(5).randn(12, 7), "table rows"),
        (_signal_model(), np.random.RandomState(5).randn(12, 20, 2), "1-D signals"),
    ],
    ids=["tabular", "signal"],
)
def test_image_augmentation_is_refused_and_self_training_drops_features(model, X, kind):
    y = np.r_[np.arange(8) % 2, -np.ones(4, int)]
    params = dict(epochs=1, fine_tune_epochs=1, batch_size=4, random_state=0)
    with pytest.raises(ValueError, match=f"augmentation transforms images, but base_model takes {kind}"):
        FineTunedCNNClassifier(model, augmentation=["flip"], **params).fit(X, y)
    classifier = FineTunedCNNClassifier(model, target_loss="self_training", **params).fit(X, y)
    assert classifier.predict_proba(X).shape == (12, 2)


# ------------------------------------------------------------------ KerasHub


def test_kerashub_vit_backbone():
    keras_hub = pytest.importorskip("keras_hub")
    model = keras_hub.models.ViTBackbone(
        image_shape=(16, 16, 3), patch_size=4, num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16
    )
    X = _images(4, 16)
    tokens = model.predict(X.astype("float32"), verbose=0)  # (4, 1 + 16 tokens, 8)
    by_token = PretrainedFeatureExtractor(model, pooling="cls").fit(X)
    assert_allclose(by_token.transform(X), tokens[:, 0], rtol=1e-5, atol=1e-5)
    by_mean = PretrainedFeatureExtractor(model).fit(X)
    assert_allclose(by_mean.transform(X), tokens.mean(axis=1), rtol=1e-5, atol=1e-5)
    assert_allclose(pickle.loads(pickle.dumps(by_token)).transform(X), by_token.transform(X))
    random = [
        PretrainedFeatureExtractor(model, weights=None, random_state=1).fit_transform(X) for _ in range(2)
    ]
    assert_allclose(random[0], random[1])
    assert not np.allclose(random[0], by_mean.transform(X))


# --------------------------------------------------- models that need a word


def test_subclassed_model_is_copied_pickled_and_cloned_with_its_class():
    model = UnregisteredNet()
    X = _images()
    model(X[:1].astype("float32"))
    extractor = PretrainedFeatureExtractor(model).fit(X)
    expected = model.predict(X.astype("float32"), verbose=0).mean(axis=(1, 2))
    assert_allclose(extractor.transform(X), expected, rtol=1e-5, atol=1e-5)
    assert_allclose(pickle.loads(pickle.dumps(extractor)).transform(X), expected, rtol=1e-5, atol=1e-5)
    assert_allclose(clone(extractor).fit_transform(X), expected, rtol=1e-5, atol=1e-5)


def test_subclassed_model_keras_cannot_save_says_what_to_give_it():
    message = r"base_model \(WrapsALayer\) cannot be saved.*: give WrapsALayer .* a get_config\(\)"
    with pytest.raises(ValueError, match=message):
        PretrainedFeatureExtractor(WrapsALayer(layers.Conv2D(2, 3))).fit(_images())


def test_sequential_without_input_is_built_from_the_samples(image_folder):
    from skltransfer.datasets import load_image_folder

    model = keras.Sequential(
        [layers.Conv2D(3, 3, name="conv"), layers.GlobalAveragePooling2D(), layers.Dense(2)]
    )
    X = _images()
    extractor = PretrainedFeatureExtractor(model).fit(X)
    assert extractor.input_shape_ == (8, 8, 3) and extractor.layer_name_ == "conv"
    assert extractor.transform(X).shape == (5, 3)
    paths, _ = load_image_folder(image_folder)
    with pytest.raises(
        ValueError, match=r"has no defined input shape and X is image files: give the model an input"
    ):
        PretrainedFeatureExtractor(model).fit(paths)


def test_two_output_model_needs_layer():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(
        inputs,
        [layers.Conv2D(2, 3, name="maps")(inputs), layers.Dense(3, name="logits")(layers.Flatten()(inputs))],
    )
    X = _images()
    with pytest.raises(ValueError, match=r"base_model has 2 outputs \('maps', 'logits'\): set layer"):
        PretrainedFeatureExtractor(model).fit(X)
    features = PretrainedFeatureExtractor(model, layer="maps").fit_transform(X)
    assert_allclose(features, _outputs(model, "maps", X).mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)


def test_layer_with_two_outputs_names_layer():
    inputs = keras.Input((6,))
    first, second = Split(name="split")(inputs)
    model = keras.Model(inputs, layers.Dense(2, name="out")(layers.Add()([first, second])))
    with pytest.raises(
        ValueError, match=r"The layer 'split' \(layer\) has 2 outputs: set layer to a layer with one"
    ):
        PretrainedFeatureExtractor(model, layer="split").fit(np.zeros((3, 6)))


def test_multi_input_model_says_it_takes_one():
    left, right = keras.Input((4,), name="left"), keras.Input((4,), name="right")
    model = keras.Model([left, right], layers.Dense(2)(layers.Concatenate()([left, right])))
    with pytest.raises(ValueError, match=r"base_model takes 2 inputs \('left', 'right'\).*single input"):
        PretrainedFeatureExtractor(model).fit(np.zeros((3, 8)))


# ---------------------------------------------------------------- channels


def test_gray_versus_rgb_says_what_differs_and_what_to_do():
    gray = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(2, 3)])
    with pytest.raises(
        ValueError,
        match=r"3 channels but the network takes 1 \(RGB images, a grayscale network\): "
        r"convert them to grayscale",
    ):
        PretrainedFeatureExtractor(gray).fit(_images())
    rgb = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(2, 3)])
    classifier = FineTunedCNNClassifier(rgb, epochs=1, fine_tune_epochs=0).fit(_images(6), np.arange(6) % 2)
    with pytest.raises(
        ValueError,
        match=r"X holds images with 1 channel \(grayscale\), but FineTunedCNNClassifier "
        r"was fitted on images with 3 channels \(RGB\): repeat the channel",
    ):
        classifier.predict(_images(2, 8, 1))


def test_shape_checks():
    check_sample_shape((100, 2), (None, 2))
    check_sample_shape((4, 4, 1), (8, 8, 3))
    with pytest.raises(ValueError, match=r"takes images \(height, width, channels\), but X is 1-D signals"):
        check_sample_shape((100, 2), (8, 8, 3))
    check_fitted_shape((5,), (5,), "E")
    with pytest.raises(ValueError, match=r"fitted on images of shape \(8, 8, 3\); resize them"):
        check_fitted_shape((4, 4, 3), (8, 8, 3), "E")
    with pytest.raises(
        ValueError, match=r"X holds samples of shape \(6,\), but E was fitted on rows of shape \(7,\)"
    ):
        check_fitted_shape((6,), (7,), "E")


def test_saved_subclassed_model_says_to_register_it_or_pass_the_object(tmp_path):
    model = UnregisteredNet()
    model(_images(1).astype("float32"))
    path = tmp_path / "subclassed.keras"
    model.save(path)
    message = r"(?s)Could not locate class 'UnregisteredNet'.*register_keras_serializable"
    with pytest.raises(ValueError, match=message):
        PretrainedFeatureExtractor(str(path)).fit(_images())
    assert PretrainedFeatureExtractor(model).fit_transform(_images()).shape == (5, 4)


def test_video_model_says_which_inputs_are_taken():
    model = keras.Sequential([keras.Input((2, 8, 8, 3)), layers.Conv3D(2, 1)])
    with pytest.raises(ValueError, match=r"takes inputs of shape \(2, 8, 8, 3\); the Keras estimators take"):
        PretrainedFeatureExtractor(model).fit(np.zeros((2, 2, 8, 8, 3)))
