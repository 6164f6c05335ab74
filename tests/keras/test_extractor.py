"""PretrainedFeatureExtractor: conformance, equivalence with the Keras recipe, inputs, errors."""

import pickle
import random

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from skltransfer import PretrainedFeatureExtractor
from skltransfer.datasets import load_image_folder
from skltransfer.keras.images import load_image

from .conftest import make_tiny_model, write_check_model

keras = pytest.importorskip("keras")


# Each row of the checks' 2-D data is a 1 x n_features grayscale image.
CHECKED = PretrainedFeatureExtractor(write_check_model(3), image_shape=(1, -1), batch_size=8)


@parametrize_with_checks([CHECKED], expected_failed_checks=lambda e: e._expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_param_validation():
    check_param_validation("PretrainedFeatureExtractor", CHECKED)


def _images(n=5, size=16, channels=3, seed=0):
    return np.random.RandomState(seed).randint(0, 256, size=(n, size, size, channels)).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_model():
    return make_tiny_model(3, 16)


def test_same_features_as_the_keras_recipe(tiny_model):
    # The hand-written recipe: backbone without top + GlobalAveragePooling2D, model.predict.
    base = keras.Model(tiny_model.inputs, tiny_model.get_layer("pool").output)
    recipe = keras.Sequential([base, keras.layers.GlobalAveragePooling2D()])
    X = _images(37)
    expected = recipe.predict(X.astype("float32"), verbose=0)
    extractor = PretrainedFeatureExtractor(tiny_model, layer="pool", batch_size=8)
    features = extractor.fit_transform(X)
    assert features.dtype == np.float32 and features.shape == (37, 6)
    assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


def test_folded_batch_normalization_keeps_the_features_of_the_keras_recipe():
    # The extractor runs a copy of the network with its normalizations folded into the
    # convolutions: the recipe's features up to float32 rounding.
    layers = keras.layers
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, strides=2, use_bias=False, name="conv")(inputs)
    x = layers.BatchNormalization(name="conv_bn")(x)
    x = layers.ReLU(6.0)(x)
    x = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    x = layers.BatchNormalization(name="depthwise_bn")(x)
    base = keras.Model(inputs, layers.ReLU(6.0, name="out")(x))
    rng = np.random.RandomState(0)
    for name in ("conv_bn", "depthwise_bn"):  # gamma, beta, moving mean, moving variance
        n = base.get_layer(name).gamma.shape
        base.get_layer(name).set_weights(
            [rng.uniform(0.5, 2, n), rng.randn(*n), rng.randn(*n), rng.uniform(0.5, 2, n)]
        )
    recipe = keras.Sequential([base, layers.GlobalAveragePooling2D()])
    X = _images(11)
    expected = recipe.predict(X.astype("float32") / 127.5 - 1, verbose=0)
    extractor = PretrainedFeatureExtractor(base, preprocessing="mobilenet_v2", batch_size=4).fit(X)
    folded = extractor._runtime.get(("folded", id(extractor.model_)), None)  # built by fit
    assert not any(isinstance(lay, layers.BatchNormalization) for lay in folded.layers)
    features = extractor.transform(X)
    assert_allclose(features, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    restored = pickle.loads(pickle.dumps(extractor))
    assert restored.__dict__.get("_runtime") is None
    assert_array_equal(restored.transform(X), features)


@pytest.mark.slow
def test_same_features_as_the_keras_recipe_for_an_application(tmp_path):
    # Same weights given as a weights file; the application's own preprocess_input applied.
    base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    weights = tmp_path / "mobilenet_v2.weights.h5"
    base.save_weights(weights)
    recipe = keras.Sequential([base, keras.layers.GlobalAveragePooling2D()])
    X = _images(6, 32)
    expected = recipe.predict(
        keras.applications.mobilenet_v2.preprocess_input(X.astype("float32")), verbose=0
    )
    extractor = PretrainedFeatureExtractor("MobileNetV2", weights=str(weights), input_size=32, batch_size=4)
    features = extractor.fit_transform(X)
    assert extractor.layer_name_ == "out_relu"
    # the folded normalizations change float32 rounding: entries far below the largest one
    # (random weights give features near 1e-12) are compared at 1e-5 of it
    assert_allclose(features, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_default_layer_is_last_feature_map_and_model_keeps_its_weights(tiny_model_path, tiny_model):
    extractor = PretrainedFeatureExtractor(tiny_model_path).fit(_images())
    assert extractor.layer_name_ == "pool"
    assert extractor.input_shape_ == (16, 16, 3)
    pooled = keras.Model(tiny_model.inputs, tiny_model.get_layer("pool").output).predict(
        _images().astype("float32"), verbose=0
    )
    assert_allclose(extractor.transform(_images()), pooled.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["avg", "max", None])
def test_pooling(tiny_model, pooling):
    maps = keras.Model(tiny_model.inputs, tiny_model.get_layer("conv2").output).predict(
        _images().astype("float32"), verbose=0
    )
    expected = {"avg": maps.mean(axis=(1, 2)), "max": maps.max(axis=(1, 2)), None: maps.reshape(5, -1)}[
        pooling
    ]
    extractor = PretrainedFeatureExtractor(tiny_model, layer="conv2", pooling=pooling)
    assert_allclose(extractor.fit_transform(_images()), expected, rtol=1e-5, atol=1e-6)
    assert extractor.get_feature_names_out()[-1] == f"pretrainedfeatureextractor{expected.shape[1] - 1}"


def test_layer_by_index_and_dense_output(tiny_model):
    expected = tiny_model.predict(_images().astype("float32"), verbose=0)
    for layer in (-1, "dense", len(tiny_model.layers) - 1):
        assert_allclose(
            PretrainedFeatureExtractor(tiny_model, layer=layer).fit_transform(_images()), expected, rtol=1e-5
        )


def test_bad_layer(tiny_model):
    with pytest.raises(ValueError, match=r"no layer named 'conv3'.*Did you mean 'conv2', 'conv1'"):
        PretrainedFeatureExtractor(tiny_model, layer="conv3").fit(_images())
    with pytest.raises(ValueError, match="layer=40 is out of range: the model has 6 layers"):
        PretrainedFeatureExtractor(tiny_model, layer=40).fit(_images())
    with pytest.raises(ValueError, match=r"no layer named 'zzz'.*Layers: \["):
        PretrainedFeatureExtractor(tiny_model, layer="zzz").fit(_images())


def test_random_weights_are_reproducible_without_global_side_effects(tiny_model):
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    X = _images()
    first = PretrainedFeatureExtractor(tiny_model, weights=None, random_state=3).fit_transform(X)
    again = PretrainedFeatureExtractor(tiny_model, weights=None, random_state=3).fit_transform(X)
    other = PretrainedFeatureExtractor(tiny_model, weights=None, random_state=4).fit_transform(X)
    own = PretrainedFeatureExtractor(tiny_model).fit_transform(X)
    assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert not np.allclose(first, own)  # weights=None re-initialises a model's weights
    assert random.getstate() == python_state
    assert_array_equal(np.random.get_state()[1], numpy_state[1])  # noqa: NPY002


def test_user_model_is_not_modified(tiny_model):
    before = [w.copy() for w in tiny_model.get_weights()]
    PretrainedFeatureExtractor(tiny_model, weights=None, random_state=0).fit(_images())
    for a, b in zip(before, tiny_model.get_weights(), strict=True):
        assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_weights_file_for_a_model(tmp_path, tiny_model):
    other = make_tiny_model(3, 16, seed=10)
    path = tmp_path / "other.weights.h5"
    other.save_weights(path)
    expected = PretrainedFeatureExtractor(other).fit_transform(_images())
    assert_allclose(
        PretrainedFeatureExtractor(tiny_model, weights=str(path)).fit_transform(_images()), expected
    )
    wrong = tmp_path / "wrong.weights.h5"
    make_tiny_model(1, 16).save_weights(wrong)
    with pytest.raises(
        ValueError, match=r"Cannot load the weights file '.*wrong\.weights\.h5' into the model"
    ):
        PretrainedFeatureExtractor(tiny_model, weights=str(wrong)).fit(_images())
    with pytest.raises(ValueError, match=r"no file at 'missing\.h5'"):
        PretrainedFeatureExtractor(tiny_model, weights="missing.h5").fit(_images())


def test_input_forms_give_the_same_features(tiny_model_path):
    X = _images(4, 16, 1)
    extractor = PretrainedFeatureExtractor(tiny_model_path, image_shape=(16, 16))
    expected = extractor.fit_transform(X)
    assert_allclose(extractor.transform(X[..., 0]), expected)  # 3-D grayscale
    assert_allclose(extractor.transform(X.reshape(4, -1)), expected)  # flat rows
    assert_allclose(extractor.transform(X.astype(np.float64)), expected)
    assert_allclose(extractor.transform(np.repeat(X, 3, axis=-1)), expected)  # grayscale == repeated RGB
    assert not hasattr(extractor, "n_features_in_")  # fitted on 4-D input: set for 2-D input only
    flat = PretrainedFeatureExtractor(tiny_model_path, image_shape=(16, 16)).fit(X.reshape(4, -1))
    assert flat.n_features_in_ == 256


def test_resizes_to_the_network_input(tiny_model_path):
    import tensorflow as tf

    X = _images(3, 24)
    resized = tf.image.resize(X.astype("float32"), (16, 16)).numpy()
    extractor = PretrainedFeatureExtractor(tiny_model_path).fit(X)
    assert_allclose(extractor.transform(X), extractor.transform(resized), rtol=1e-5, atol=1e-6)


def test_channels():
    gray_model = make_tiny_model(1, 8, head=False)
    X = _images(3, 8, 1)
    expected = gray_model.predict(X.astype("float32"), verbose=0).mean(axis=(1, 2))
    extractor = PretrainedFeatureExtractor(gray_model)
    assert_allclose(extractor.fit_transform(X), expected, rtol=1e-5, atol=1e-6)  # grayscale as is
    with pytest.raises(ValueError, match="The images have 3 channels but the network takes 1"):
        extractor.transform(_images(3, 8, 3))
    with pytest.raises(ValueError, match="The images have 4 channels but the network takes 3"):
        PretrainedFeatureExtractor(make_tiny_model(3, 8)).fit(_images(3, 8, 4))


def test_preprocessing(tiny_model):
    X = _images()
    scaled = PretrainedFeatureExtractor(
        tiny_model, preprocessing=keras.applications.mobilenet_v2.preprocess_input
    )
    by_name = PretrainedFeatureExtractor(tiny_model, preprocessing="MobileNetV2")
    by_hand = PretrainedFeatureExtractor(tiny_model, preprocessing=None).fit_transform(X / 127.5 - 1)
    assert_allclose(scaled.fit_transform(X), by_hand, rtol=1e-5, atol=1e-6)
    assert_allclose(by_name.fit_transform(X), by_hand, rtol=1e-5, atol=1e-6)


def test_input_size(tiny_model_path):
    any_size = make_tiny_model(3, None)
    extractor = PretrainedFeatureExtractor(any_size, input_size=(8, 12)).fit(_images(2, 16))
    assert extractor.input_shape_ == (8, 12, 3)
    assert PretrainedFeatureExtractor(any_size).fit(_images(2, 20)).input_shape_ == (20, 20, 3)
    assert PretrainedFeatureExtractor(tiny_model_path, input_size=16).fit(_images(2)).input_shape_[:2] == (
        16,
        16,
    )
    with pytest.raises(ValueError, match=r"input_size=12 differs from the model's input size \(16, 16\)"):
        PretrainedFeatureExtractor(tiny_model_path, input_size=12).fit(_images(2))
    with pytest.raises(ValueError, match="input_size must be an int or a"):
        PretrainedFeatureExtractor(any_size, input_size=(8,)).fit(_images(2))


def test_image_files(image_folder):
    paths, _ = load_image_folder(image_folder)
    extractor = PretrainedFeatureExtractor(make_tiny_model(3, 16), batch_size=4)
    from_files = extractor.fit_transform(paths)
    decoded = np.stack([load_image(p, (16, 16), 3) for p in paths])
    assert_allclose(from_files, extractor.transform(decoded), rtol=1e-5, atol=1e-6)
    assert_allclose(extractor.transform(list(paths)), from_files)
    assert not hasattr(extractor, "n_features_in_")
    with pytest.raises(ValueError, match=r"image file\(s\) not found, e.g. 'nowhere.jpg'"):
        extractor.transform(["nowhere.jpg"])
    broken = image_folder / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=f"Cannot read image file '{broken}'"):
        extractor.transform([str(broken)])
    broken.unlink()
    with pytest.raises(ValueError, match="set input_size"):
        PretrainedFeatureExtractor(make_tiny_model(3, None)).fit(paths)


def test_nan_and_shapes(tiny_model_path):
    X = _images().astype(np.float32)
    X[2, 3, 4, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        PretrainedFeatureExtractor(tiny_model_path).fit(X)
    with pytest.raises(ValueError, match="X is 2-D: pass image_shape"):
        PretrainedFeatureExtractor(tiny_model_path).fit(np.zeros((2, 768)))
    with pytest.raises(ValueError, match="cannot be reshaped to image_shape"):
        PretrainedFeatureExtractor(tiny_model_path, image_shape=(16, 16)).fit(np.zeros((2, 100)))


def test_pickle_clone_joblib_round_trip(tmp_path, tiny_model_path):
    X = _images()
    extractor = PretrainedFeatureExtractor(tiny_model_path, weights=None, random_state=0, batch_size=2).fit(X)
    expected = extractor.transform(X)
    restored = pickle.loads(pickle.dumps(extractor))
    assert_array_equal(restored.transform(X), expected)
    assert pickle.loads(pickle.dumps(extractor)).__dict__.get("_runtime") is None
    joblib.dump(extractor, tmp_path / "extractor.joblib")
    assert_array_equal(joblib.load(tmp_path / "extractor.joblib").transform(X), expected)
    assert_array_equal(clone(extractor).fit(X).transform(X), expected)
    assert_array_equal(extractor.transform(X), expected)  # pickling leaves the original intact


def test_set_output_pandas(tiny_model_path):
    pytest.importorskip("pandas")
    out = PretrainedFeatureExtractor(tiny_model_path).set_output(transform="pandas").fit_transform(_images())
    assert list(out.columns) == [f"pretrainedfeatureextractor{i}" for i in range(6)]


def test_pipeline_memory_extracts_once(tmp_path, tiny_model_path, monkeypatch):
    calls = []
    transform = PretrainedFeatureExtractor.transform

    def counting(self, X):
        calls.append(len(X))
        return transform(self, X)

    monkeypatch.setattr(PretrainedFeatureExtractor, "transform", counting)
    X, y = _images(8), np.arange(8) % 2
    pipe = Pipeline(
        [("features", PretrainedFeatureExtractor(tiny_model_path)), ("clf", LogisticRegression())],
        memory=str(tmp_path),
    )
    pipe.fit(X, y)
    n_calls = len(calls)
    pipe.set_params(clf__C=0.1).fit(X, y)
    assert n_calls >= 1 and len(calls) == n_calls


def test_verbose_progress_bar(capsys, tiny_model_path):
    PretrainedFeatureExtractor(tiny_model_path, verbose=1, batch_size=2).fit_transform(_images())
    assert "5/5" in capsys.readouterr().out
    PretrainedFeatureExtractor(tiny_model_path, batch_size=2).fit_transform(_images())
    assert capsys.readouterr().out == ""


def test_pipeline_on_image_folder(image_folder):
    from sklearn.model_selection import cross_val_score

    paths, labels = load_image_folder(image_folder)
    pipe = make_pipeline(PretrainedFeatureExtractor(make_tiny_model(3, 16)), LogisticRegression())
    assert cross_val_score(pipe, paths, labels, cv=3).shape == (3,)
