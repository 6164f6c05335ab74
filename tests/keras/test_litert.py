"""LiteRT inference: conversion, the runner, the engine rule and the fallback."""

import pickle
import sys
import threading
import warnings

import joblib
import numpy as np
import pytest

from skltransfer.keras import _litert
from skltransfer.keras._litert import (
    AUTO_MIN_VALUES,
    LiteRTConversionError,
    LiteRTFallbackWarning,
    LiteRTRunner,
    convert_to_litert,
    default_num_threads,
    litert_available,
    litert_runner,
    resolve_engine,
)

from .conftest import make_tiny_model

needs_litert = pytest.mark.skipif(not litert_available(), reason="no LiteRT interpreter installed")


def calibrate_batch_normalization(model, x):
    """Set every batch normalization's moving statistics to those of the batch ``x``.

    With the statistics of a fresh network (means 0, variances 1), deep random networks
    shrink their activations towards 0 layer after layer; with batch statistics the
    activations stay of order 1, as with trained weights.
    """
    import keras

    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.momentum = 0.0
    model(x, training=True)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum


def assert_close_to_scale(actual, expected, rtol=1e-4):
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    scale = np.abs(expected).max()
    assert scale > 1e-3  # activations of order 1, not vanishing
    assert np.abs(actual - expected).max() <= rtol * scale


def _images(n, size, channels=3, seed=0):
    return np.random.RandomState(seed).uniform(0, 1, (n, size, size, channels)).astype(np.float32)


def _mobilenet():
    import keras

    model = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None, pooling="avg"
    )
    calibrate_batch_normalization(model, _images(16, 32, seed=1) * 2 - 1)
    return model


def _residual():
    import keras

    layers = keras.layers
    inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    shortcut = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2D(8, 3, padding="same")(shortcut)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(layers.Add()([x, shortcut]))
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(5, activation="softmax")(x))
    calibrate_batch_normalization(model, _images(16, 12, seed=1))
    return model


def _sequential():
    import keras

    normalization = keras.layers.Normalization()
    normalization.adapt(_images(8, 10, seed=2) * 255)
    return keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            keras.layers.Rescaling(2.0, offset=-1.0),
            normalization,
            keras.layers.Conv2D(6, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )


@needs_litert
@pytest.mark.parametrize(
    "build, size",
    [
        pytest.param(lambda: make_tiny_model(3, 16), 16, id="small_cnn"),
        pytest.param(_mobilenet, 32, id="mobilenet_v2", marks=pytest.mark.slow),
        pytest.param(_residual, 12, id="residual_block"),
        pytest.param(_sequential, 10, id="sequential_normalization"),
    ],
)
def test_runner_matches_keras(build, size):
    model = build()
    x = _images(11, size)  # not a multiple of the runner's batch
    expected = model.predict(x, verbose=0)
    runner = LiteRTRunner(convert_to_litert(model), num_threads=1)
    assert_close_to_scale(runner(x), expected)
    assert runner.input_shape == (size, size, 3)


@needs_litert
def test_function_with_uint8_grayscale_input_and_preprocessing():
    """An estimator's whole inference function: uint8 cast, gray to RGB, resize, preprocessing, pooling."""
    import keras
    import tensorflow as tf

    model = make_tiny_model(3, 16, head=False)

    def features(x):
        x = tf.image.resize(tf.repeat(tf.cast(x, tf.float32), 3, axis=-1), (16, 16))
        x = keras.applications.mobilenet_v2.preprocess_input(x)
        return tf.reduce_mean(model(x, training=False), axis=(1, 2))

    pixels = np.random.RandomState(0).randint(0, 256, (9, 20, 20, 1)).astype(np.uint8)
    runner = LiteRTRunner(convert_to_litert(features, input_shape=(20, 20, 1), dtype="uint8"))
    assert_close_to_scale(runner(pixels), features(pixels).numpy())


@needs_litert
def test_flat_rows():
    import keras

    model = keras.Sequential(
        [keras.Input((7,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(3)]
    )
    x = np.random.RandomState(0).normal(size=(20, 7)).astype(np.float32)
    runner = LiteRTRunner(convert_to_litert(model), batch_size=3)
    assert_close_to_scale(runner(x), model.predict(x, verbose=0))
    assert runner(x[:0]).shape == (0, 3)


@needs_litert
def test_pickle_keeps_the_flatbuffer_and_never_reconverts(monkeypatch, tmp_path):
    import tensorflow as tf

    model = _residual()
    x = _images(5, 12)
    runner = LiteRTRunner(convert_to_litert(model), num_threads=1)
    expected = runner(x)  # the interpreter exists: it must not be pickled
    blob = pickle.dumps(runner)
    assert len(blob) < len(runner.flatbuffer) + 1000

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_concrete_functions", no_conversion)
    monkeypatch.setattr(_litert, "convert_to_litert", no_conversion)
    loaded = pickle.loads(blob)
    assert (loaded.flatbuffer, loaded.num_threads) == (runner.flatbuffer, 1)
    np.testing.assert_array_equal(loaded(x), expected)
    joblib.dump(loaded, tmp_path / "runner.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "runner.joblib")(x), expected)


@needs_litert
def test_threads_share_one_interpreter():
    model = make_tiny_model(3, 16)
    runner = LiteRTRunner(convert_to_litert(model), num_threads=1)
    inputs = [_images(6, 16, seed=seed) for seed in range(4)]
    expected = [runner(x) for x in inputs]
    results = [None] * len(inputs)

    def run(i):
        for _ in range(5):
            results[i] = runner(inputs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result, reference in zip(results, expected, strict=True):
        np.testing.assert_array_equal(result, reference)


def test_default_threads_follow_the_process_budget(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_num_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    import os

    assert default_num_threads() == len(os.sched_getaffinity(0))


@needs_litert
def test_tensorflow_interpreter_without_ai_edge_litert(monkeypatch):
    """Without ai-edge-litert, tf.lite.Interpreter runs the flatbuffer and its deprecation stays quiet."""
    import tensorflow as tf

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails
    _litert._interpreter_class.cache_clear()
    try:
        assert _litert._interpreter_class() is tf.lite.Interpreter
        model = make_tiny_model(3, 16)
        x = _images(4, 16)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = LiteRTRunner(convert_to_litert(model), num_threads=1)(x)
        assert not [w for w in caught if "deprecated" in str(w.message)]
        assert_close_to_scale(out, model.predict(x, verbose=0))
    finally:
        _litert._interpreter_class.cache_clear()


def test_no_interpreter(monkeypatch):
    monkeypatch.setattr(_litert, "_interpreter_class", lambda: None)
    assert not litert_available()
    assert resolve_engine("auto", 10**12) == "keras"
    with pytest.raises(ImportError, match=r"engine='litert' needs a LiteRT interpreter.*ai-edge-litert"):
        resolve_engine("litert", 1)
    with pytest.raises(ImportError, match=r"needs a LiteRT interpreter.*pip install ai-edge-litert"):
        LiteRTRunner(b"unused")(np.zeros((1, 2), dtype=np.float32))


@needs_litert
def test_auto_rule():
    model = make_tiny_model(3, 16)
    assert resolve_engine("keras", 10**6) == "keras"
    assert resolve_engine("litert", 1) == "litert"
    assert resolve_engine("auto", 16) == "keras"
    assert resolve_engine("auto", AUTO_MIN_VALUES - 1) == "keras"
    assert resolve_engine("auto", AUTO_MIN_VALUES) == "litert"
    runner = litert_runner("auto", lambda: convert_to_litert(model))
    assert resolve_engine("auto", 1, state=runner) == "litert"  # converted already: no cost left
    with pytest.raises(ValueError, match="engine must be one of"):
        resolve_engine("tflite", 1)


def _unconvertible_model():
    """A model whose layer runs NumPy code: a PyFunc operation, which LiteRT cannot run."""
    import keras
    import tensorflow as tf

    class NumpySquare(keras.layers.Layer):
        def call(self, x):
            y = tf.numpy_function(np.square, [x], tf.float32)
            return tf.ensure_shape(y, x.shape)

    return keras.Sequential([keras.Input((4,)), NumpySquare(), keras.layers.Dense(2)])


@needs_litert
def test_unconvertible_model_falls_back_with_one_warning():
    model = _unconvertible_model()
    with pytest.raises(LiteRTConversionError, match=r"LiteRT cannot run this network.*PyFunc"):
        convert_to_litert(model)
    with pytest.warns(
        LiteRTFallbackWarning, match="engine='auto' runs the Keras path: LiteRT cannot"
    ) as record:
        state = litert_runner("auto", lambda: convert_to_litert(model))
    assert len(record) == 1
    assert isinstance(state, LiteRTConversionError)
    assert str(pickle.loads(pickle.dumps(state))) == str(state)  # travels with a pickled estimator
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, no second attempt
        assert resolve_engine("auto", 10**12, state=state) == "keras"
    with pytest.raises(LiteRTConversionError, match="PyFunc"):
        resolve_engine("litert", 1, state=state)
    with pytest.raises(LiteRTConversionError, match="PyFunc"):
        litert_runner("litert", lambda: convert_to_litert(model))


@needs_litert
def test_runtime_failure_is_a_conversion_error():
    with pytest.warns(LiteRTFallbackWarning, match="LiteRT cannot run the converted network"):
        state = litert_runner("auto", lambda: b"not a flatbuffer")
    assert isinstance(state, LiteRTConversionError)


@needs_litert
def test_bad_arguments():
    import keras
    import tensorflow as tf

    a, b = keras.Input((3,)), keras.Input((3,))
    two_inputs = keras.Model([a, b], keras.layers.Add()([a, b]))
    with pytest.raises(ValueError, match=r"one input and one output.*2 inputs"):
        convert_to_litert(two_inputs)
    with pytest.raises(ValueError, match="needs input_shape"):
        convert_to_litert(lambda x: x)
    with pytest.raises(TypeError, match=r"keras\.Model or a callable, got int"):
        convert_to_litert(3)
    with pytest.raises(ValueError, match="functions returning one tensor"):
        convert_to_litert(lambda x: (x, x), input_shape=(2,))
    runner = LiteRTRunner(convert_to_litert(make_tiny_model(3, 16)))
    with pytest.raises(
        ValueError, match=r"rows of shape \(16, 16, 3\); got an array of shape \(2, 8, 8, 3\)"
    ):
        runner(np.zeros((2, 8, 8, 3), dtype=np.float32))

    def two_outputs(x):
        return x + 1.0, x * 2.0

    concrete = tf.function(two_outputs).get_concrete_function(tf.TensorSpec((None, 2), tf.float32))
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([concrete], tf.Module()).convert()
    with pytest.raises(ValueError, match="one input and one output; this one has 1 inputs and 2 outputs"):
        LiteRTRunner(flatbuffer).load()


@pytest.mark.parametrize(
    "row_shape, batch",
    [((224, 224, 3), 1), ((160, 160, 3), 2), ((128, 128, 3), 4), ((96, 96, 3), 8), ((7,), 8), ((-1, 5), 1)],
)
def test_batch_rule(row_shape, batch):
    """The largest power of 2 up to 8 whose rows hold at most 8 * 96 * 96 * 3 values."""
    assert _litert._rule_batch(row_shape) == batch
    assert batch * max(np.prod(row_shape), 1) <= 8 * 96 * 96 * 3 or batch == 1


def test_estimators_run_on_litert_with_the_same_answers(monkeypatch):
    """engine="litert": same features and probabilities; the conversion pickles, clone drops it."""
    if not _litert.litert_available():
        pytest.skip("no LiteRT interpreter")
    import keras
    from sklearn.base import clone

    from skltransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor

    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(
        6, 3, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(0)
    )
    base = keras.Model(inputs, conv(inputs))
    rng = np.random.RandomState(0)
    X, y = rng.rand(40, 64).astype(np.float32), np.repeat([0, 1], 20)
    X[y == 1, :32] += 1.0
    keras_features = PretrainedFeatureExtractor(base, image_shape=(8, 8), engine="keras").fit(X).transform(X)
    extractor = PretrainedFeatureExtractor(base, image_shape=(8, 8), engine="litert").fit(X)
    np.testing.assert_allclose(
        extractor.transform(X), keras_features, atol=1e-4 * np.abs(keras_features).max()
    )
    conversions = []
    monkeypatch.setattr(_litert, "convert_to_litert", lambda *a, **k: conversions.append(1))
    restored = pickle.loads(pickle.dumps(extractor))
    np.testing.assert_allclose(
        restored.transform(X), keras_features, atol=1e-4 * np.abs(keras_features).max()
    )
    assert not conversions and not clone(extractor).__dict__.get("_litert")
    monkeypatch.undo()
    clf = FineTunedCNNClassifier(base, image_shape=(8, 8), fine_tune_epochs=0, random_state=0).fit(X, y)
    on_keras = clf.set_params(engine="keras").predict_proba(X)
    np.testing.assert_allclose(clf.set_params(engine="litert").predict_proba(X), on_keras, atol=1e-4)


def test_auto_engine_leaves_small_calls_on_the_keras_path(monkeypatch):
    """engine="auto" on 16 images converts nothing: the conversion is paid only where it repays."""
    import keras

    from skltransfer import PretrainedFeatureExtractor

    conversions = []
    monkeypatch.setattr(_litert, "convert_to_litert", lambda *a, **k: conversions.append(1))
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))
    X = np.random.RandomState(0).rand(16, 64).astype(np.float32)
    extractor = PretrainedFeatureExtractor(keras.Model(inputs, conv(inputs)), image_shape=(8, 8)).fit(X)
    assert extractor.engine == "auto" and extractor.transform(X).shape == (16, 4)
    assert not conversions and not extractor.__dict__.get("_litert")


@needs_litert
def test_uint8_images_with_a_preprocessing_that_needs_float_pixels():
    """The converted function gets float32 pixels, as the compiled one does (``x / 127.5`` fails on uint8)."""
    from skltransfer import PretrainedFeatureExtractor

    model = make_tiny_model(3, 16)
    X = np.random.RandomState(0).randint(0, 256, (6, 16, 16, 3)).astype(np.uint8)

    def scale(x):
        return x / 127.5 - 1

    on_keras = PretrainedFeatureExtractor(model, preprocessing=scale, engine="keras").fit(X).transform(X)
    on_litert = PretrainedFeatureExtractor(model, preprocessing=scale, engine="litert").fit(X)
    assert_close_to_scale(on_litert.transform(X), on_keras)
    ((key, runner),) = on_litert._litert.items()
    assert key == ((16, 16, 3), "uint8") and isinstance(runner, LiteRTRunner)


@needs_litert
def test_auto_rule_counts_input_values_at_the_network_size(monkeypatch):
    """Images resized to the network's 16 x 16 x 1 count 256 values each, whatever their own size."""
    from skltransfer import PretrainedFeatureExtractor

    conversions = []
    convert = _litert.convert_to_litert
    monkeypatch.setattr(
        _litert, "convert_to_litert", lambda *a, **k: conversions.append(1) or convert(*a, **k)
    )
    monkeypatch.setattr(_litert, "AUTO_MIN_VALUES", 10 * 16 * 16)
    X = _images(10, 8, channels=1)[..., 0]
    extractor = PretrainedFeatureExtractor(make_tiny_model(1, None), input_size=16).fit(X)
    assert extractor.input_shape_ == (16, 16, 1)
    on_keras = extractor.transform(X[:9])
    assert not conversions and not extractor._litert  # 9 x 256 values: below the rule
    assert_close_to_scale(extractor.transform(X)[:9], on_keras)
    assert conversions == [1] and isinstance(next(iter(extractor._litert.values())), LiteRTRunner)
