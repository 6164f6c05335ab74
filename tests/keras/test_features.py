"""The one path from images to frozen features, shared by the extractor and the fine-tuned estimators."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skltransfer import FineTunedCNNClassifier, FineTunedCNNRegressor, PretrainedFeatureExtractor
from skltransfer.keras._features import FrozenFeatures

from .conftest import make_tiny_model

keras = pytest.importorskip("keras")


def _normalized_base():
    """A convolution, a batch normalization with non-trivial statistics, a ReLU (foldable)."""
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(
        5, 3, use_bias=False, name="conv", kernel_initializer=keras.initializers.GlorotUniform(0)
    )(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    base = keras.Model(inputs, layers.ReLU(name="out")(x))
    rng = np.random.RandomState(0)
    bn = base.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 2, 5), rng.randn(5), rng.randn(5), rng.uniform(0.5, 2, 5)])
    return base


def _data(n=24):
    rng = np.random.RandomState(1)
    X = rng.uniform(0, 255, (n, 8, 8, 3)).astype(np.float32)
    y = np.arange(n) % 2
    X[y == 1] *= 0.5
    return X, y


@pytest.mark.parametrize("pooling", ["avg", "max", None])
def test_extractor_and_fine_tuned_estimators_compute_the_same_features(pooling):
    base = _normalized_base()
    X, y = _data()
    pool = {"avg": keras.layers.GlobalAveragePooling2D(), "max": keras.layers.GlobalMaxPooling2D()}
    reference = keras.Sequential([base, pool.get(pooling, keras.layers.Flatten())]).predict(X, verbose=0)
    common = dict(pooling=pooling, batch_size=5, random_state=0)
    extractor = PretrainedFeatureExtractor(base, **common).fit(X)
    features = extractor.transform(X)
    assert_allclose(features, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())
    fitted = [
        FineTunedCNNClassifier(base, fine_tune_epochs=0, **common).fit(X, y),
        FineTunedCNNRegressor(base, fine_tune_epochs=0, **common).fit(X, y.astype(float)),
    ]
    for estimator in fitted:
        frozen = FrozenFeatures.from_model(estimator.model_)
        assert_array_equal(estimator._compute_frozen(frozen, X), features)
        # model_ is its head on exactly these features
        outputs = estimator.model_.predict(X, verbose=0)
        assert_allclose(estimator.head_.predict(features, verbose=0), outputs, rtol=1e-4, atol=1e-5)


def test_features_cached_by_the_extractor_serve_the_fine_tuned_estimator(tmp_path, monkeypatch):
    """Same backbone, same memory: the classifier reads the extractor's features, never building it."""
    from skltransfer.keras import _features

    base = make_tiny_model(3, 8, head=False)
    X, y = _data()
    PretrainedFeatureExtractor(base, memory=tmp_path, batch_size=5).fit(X).transform(X)
    builds = []
    original = _features.resolve_backbone
    monkeypatch.setattr(_features, "resolve_backbone", lambda *a, **k: builds.append(1) or original(*a, **k))
    cached = FineTunedCNNClassifier(base, memory=tmp_path, fine_tune_epochs=0, batch_size=5).fit(X, y)
    assert builds == []
    plain = FineTunedCNNClassifier(base, fine_tune_epochs=0, batch_size=5).fit(X, y)
    assert_allclose(cached.predict_proba(X), plain.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_one_compiled_predictor_per_input_form():
    """Extraction of one image form compiles once; fit and predict reuse the runtime's predictors."""
    base = _normalized_base()
    X, _ = _data()
    extractor = PretrainedFeatureExtractor(base, batch_size=5).fit(X)
    first = extractor._predictor(extractor._images(X, reset=False))
    extractor.transform(X)
    assert extractor._predictor(extractor._images(X, reset=False)) is first
    assert extractor._predictor(extractor._images(X.astype(np.uint8), reset=False)) is not first
