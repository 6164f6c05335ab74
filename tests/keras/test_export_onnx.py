"""Export to ONNX: the file that onnxruntime runs gives the estimator's outputs."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skltransfer import FineTunedCNNClassifier, FineTunedCNNRegressor, PretrainedFeatureExtractor
from skltransfer.keras import _export

from .conftest import make_tiny_model

keras = pytest.importorskip("keras")

# Keras's NumPy 2 fixes of tf2onnx probe np.object, which NumPy deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:In the future `np.object`:FutureWarning")


def _onnx_outputs(path, images):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [("images", "tensor(float)")]
    assert [o.name for o in session.get_outputs()] == ["output"]
    return session.run(None, {"images": images})[0]


def _images(n=10, seed=0):
    return np.random.RandomState(seed).rand(n, 8, 8, 3).astype(np.float32)


def _base():
    inputs = keras.Input((None, None, 3))
    init = keras.initializers.GlorotUniform(0)
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=init)(inputs)
    x = keras.layers.BatchNormalization()(x)
    return keras.Model(inputs, keras.layers.ReLU()(x))


def test_fine_tuned_classifier_and_regressor_round_trip(tmp_path):
    pytest.importorskip("onnxruntime")
    X = _images()
    y = np.repeat(["a", "b"], 5)
    params = dict(epochs=1, fine_tune_epochs=1, unfreeze=1, batch_size=4, random_state=0)
    clf = FineTunedCNNClassifier(_base(), **params).fit(X, y)
    path = clf.export(tmp_path / "clf.onnx", format="onnx")
    assert_allclose(_onnx_outputs(path, X), clf.predict_proba(X), atol=1e-4)
    # An unpickled estimator's network was never called: it exports all the same.
    restored = pickle.loads(pickle.dumps(clf))
    path = restored.export(tmp_path / "restored.onnx", format="onnx")
    assert_allclose(_onnx_outputs(path, X[:3]), clf.predict_proba(X[:3]), atol=1e-4)
    reg = FineTunedCNNRegressor(_base(), **params).fit(X, np.linspace(0.0, 1.0, 10))
    path = reg.export(tmp_path / "reg.onnx", format="onnx")
    assert_allclose(_onnx_outputs(path, X).ravel(), reg.predict(X), atol=1e-4)


def test_feature_extractor_round_trip(tmp_path):
    pytest.importorskip("onnxruntime")
    images = (_images(7, seed=1) * 255).round()
    extractor = PretrainedFeatureExtractor(make_tiny_model(3, 8), layer="pool", batch_size=4).fit(images)
    path = extractor.export(tmp_path / "features.onnx", format="onnx")
    assert_allclose(_onnx_outputs(path, images), extractor.transform(images), atol=1e-4)
    reloaded = keras.saving.load_model(extractor.export(tmp_path / "features.keras"))
    assert_allclose(reloaded.predict(images, verbose=0), extractor.transform(images), atol=1e-5)


def test_onnx_errors_name_the_missing_package(tmp_path, monkeypatch):
    model = make_tiny_model(3, 8)
    monkeypatch.setattr(_export, "ONNX_PACKAGES", ("tf2onnx", "onnx", "not_a_package_skltransfer"))
    with pytest.raises(ImportError, match=r"needs the package\(s\) not_a_package_skltransfer.*pip install"):
        _export.export_model(model, tmp_path / "model.onnx", format="onnx")
    with pytest.raises(ValueError, match="format must be 'keras', 'saved_model', 'tflite' or 'onnx'"):
        _export.export_model(model, tmp_path / "model.pt", format="torch")
