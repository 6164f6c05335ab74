"""Shared Keras machinery: the import check, thread budget, seeding, pickling, compiled inference."""

import importlib.util
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import skltransfer.keras
from skltransfer.keras import _inference
from skltransfer.keras._backbone import reinitialize_model
from skltransfer.keras._inference import CompiledPredictor, call_in_chunks, fold_batch_normalization
from skltransfer.keras._persistence import load_keras_model, model_from_bytes, model_to_bytes
from skltransfer.keras._runtime import scoped_seed

from .conftest import make_tiny_model

keras = pytest.importorskip("keras")


def _import_subpackage_again():
    """Run ``skltransfer/keras/__init__.py`` once more, as a fresh import would (not registered)."""
    spec = importlib.util.spec_from_file_location(
        "skltransfer.keras", skltransfer.keras.__file__, submodule_search_locations=[]
    )
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_subpackage_import_wants_the_tensorflow_backend(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ImportError, match="need Keras' TensorFlow backend; KERAS_BACKEND is 'jax'"):
        _import_subpackage_again()
    monkeypatch.undo()
    _import_subpackage_again()  # the real backend passes


def test_subpackage_import_guard(monkeypatch):
    # Loading skltransfer/keras/__init__.py where keras cannot be found raises the install hint.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "keras" else real_find_spec(name, *a)
    )
    spec = importlib.util.spec_from_file_location("_guard_probe", skltransfer.keras.__file__)
    with pytest.raises(
        ImportError, match=r"need TensorFlow and Keras 3.*pip install \"skltransfer\[keras\]\""
    ):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


@pytest.mark.slow
def test_thread_budget_follows_omp_num_threads():
    code = (
        "import skltransfer.keras\n"
        "import tensorflow as tf\n"
        "t = tf.config.threading\n"
        "print(t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads())\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["1", "1"]


def test_scoped_seed_restores_python_random_state():
    state = random.getstate()
    with scoped_seed(5):
        a = random.random()
    assert random.getstate() == state
    with scoped_seed(5):
        assert random.random() == a


def test_reinitialize_model_is_reproducible_and_new():
    model = make_tiny_model(3, 8)  # initializers with fixed seeds
    first = reinitialize_model(model, 0).get_weights()
    again = reinitialize_model(model, 0).get_weights()
    other = reinitialize_model(model, 1).get_weights()
    for a, b, c, own in zip(first, again, other, model.get_weights(), strict=True):
        assert_array_equal(a, b)
        if a.std() > 0:  # not the zero biases
            assert not np.allclose(a, c) and not np.allclose(a, own)


def test_compiled_predictor_pads_the_last_batch():
    model = make_tiny_model(3, 8)
    predictor = CompiledPredictor(lambda x: model(x, training=False), (8, 8, 3), batch_size=4)
    assert predictor.output_shape == (4, 3)
    X = np.random.RandomState(0).rand(3, 8, 8, 3).astype(np.float32)
    assert_allclose(predictor(X), model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    full = np.concatenate([X, X[:1]])
    assert_allclose(predictor(full)[:3], predictor(X), rtol=1e-6)
    pixels = (X * 255).astype(np.uint8)
    as_uint8 = CompiledPredictor(lambda x: model(x, training=False), (8, 8, 3), batch_size=4, dtype="uint8")
    assert_allclose(as_uint8(pixels), predictor(pixels.astype(np.float32)), rtol=1e-6)


def test_call_in_chunks_matches_predict_across_chunks(monkeypatch):
    head = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax")]
    )
    X = np.random.RandomState(0).rand(10, 6).astype(np.float32)
    expected = head.predict(X, verbose=0)  # inference mode: no dropout
    monkeypatch.setattr(_inference, "CHUNK_BYTES", 4 * X[:1].nbytes)  # chunks of 4, 4 and 2 rows
    assert_allclose(call_in_chunks(head, X), expected, rtol=1e-6)
    assert call_in_chunks(head, X[:0]).shape == (0, 3)


def _with_statistics(model, seed=0):
    """Give every BatchNormalization of ``model`` non-trivial statistics and affine weights."""
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for weight in layer.weights:
                low = (
                    0.5 if weight is layer.moving_variance or weight is getattr(layer, "gamma", None) else -1
                )
                weight.assign(rng.uniform(low, 1.5, weight.shape).astype("float32"))
    return model


def _normalized_model():
    """Convolutions followed by batch normalizations, some foldable and some not."""
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = layers.BatchNormalization(name="conv_bn")(x)  # folds
    x = layers.ReLU(6.0)(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)
    x = layers.BatchNormalization(center=False, scale=False, name="depthwise_bn")(x)  # folds
    y = layers.Conv2D(8, 1, activation="relu", name="activated")(x)
    y = layers.BatchNormalization(name="after_activation")(y)  # the activation comes first
    branch = layers.Conv2D(8, 1, name="branch")(x)
    z = layers.BatchNormalization(name="branch_bn")(branch)  # branch also feeds the Add
    outputs = layers.Add()([y, z, branch])
    return _with_statistics(keras.Model(inputs, outputs))


def test_fold_batch_normalization():
    model = _normalized_model()
    X = np.random.RandomState(0).uniform(-1, 1, (5, 8, 8, 3)).astype(np.float32)
    expected = model(X, training=False).numpy()
    weights = [w.copy() for w in model.get_weights()]
    folded = fold_batch_normalization(model)
    names = {layer.name: type(layer).__name__ for layer in folded.layers}
    assert names["conv_bn"] == names["depthwise_bn"] == "FoldedBatchNormalization"
    assert names["after_activation"] == names["branch_bn"] == "BatchNormalization"
    assert folded.get_layer("branch") is model.get_layer("branch")  # shared, not copied
    assert_allclose(
        folded(X, training=False).numpy(), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max()
    )
    # The model itself is unchanged and still saves and loads.
    for before, after in zip(weights, model.get_weights(), strict=True):
        assert_array_equal(before, after)
    assert_array_equal(model_from_bytes(model_to_bytes(model))(X, training=False), expected)
    tiny = make_tiny_model(3, 8)
    assert fold_batch_normalization(tiny) is tiny  # nothing to fold


def test_fold_batch_normalization_of_a_sequential_model():
    layers = keras.layers
    model = _with_statistics(
        keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(3, 3), layers.BatchNormalization()])
    )
    X = np.random.RandomState(1).rand(4, 6, 6, 2).astype(np.float32)
    folded = fold_batch_normalization(model)
    assert not any(isinstance(layer, layers.BatchNormalization) for layer in folded.layers)
    assert_allclose(folded(X).numpy(), model(X, training=False).numpy(), rtol=1e-5, atol=1e-6)


def test_fold_batch_normalization_of_a_nested_model():
    inner = _normalized_model()
    inputs = keras.Input(inner.input_shape[1:])
    outer = keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="gap")(inner(inputs)))
    X = np.random.RandomState(2).uniform(-1, 1, (4, 8, 8, 3)).astype(np.float32)
    folded = fold_batch_normalization(outer)
    nested = folded.get_layer(inner.name)
    assert nested is not inner and type(nested.get_layer("conv_bn")).__name__ == "FoldedBatchNormalization"
    assert folded.get_layer("gap") is outer.get_layer("gap")  # shared, not copied
    expected = outer(X, training=False).numpy()
    assert_allclose(
        folded(X, training=False).numpy(), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max()
    )


def test_load_keras_model_errors(tmp_path):
    with pytest.raises(ValueError, match=r"No saved Keras model at 'nowhere\.keras'"):
        load_keras_model("nowhere.keras")
    (tmp_path / "bad.keras").write_text("not a model")
    with pytest.raises(ValueError, match="Cannot load the Keras model saved at"):
        load_keras_model(tmp_path / "bad.keras")
