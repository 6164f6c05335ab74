"""Quantized LiteRT engines: "litert-dynamic" and "litert-int8"."""

import pickle

import numpy as np
import pytest

from skltransfer.keras import _litert
from skltransfer.keras._litert import (
    AUTO_MIN_VALUES,
    ENGINES,
    QUANTIZED_ENGINES,
    REPRESENTATIVE_SIZE,
    LiteRTRunner,
    convert_to_litert,
    litert_available,
    representative_indices,
    resolve_engine,
)

pytestmark = pytest.mark.skipif(not litert_available(), reason="no LiteRT interpreter installed")

# 8-bit activations round each tensor to 1/255 of its calibrated range. Through the two
# convolutions and the pooling of the network below the features move by about 1% of their
# size at most, i.e. a cosine above 1 - 0.01**2 / 2; measured: 0.9999 or more for every
# image. 0.99 leaves room for other kernels and machines, and is still far above what a
# broken quantization gives (a wrong scale or zero point: features of another direction).
MIN_COSINE = 0.99


def _network(seed=0):
    import keras

    init = keras.initializers.GlorotUniform
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=init(seed)),
            keras.layers.MaxPooling2D(2),
            # 3 x 3 x 8 x 16 = 1152 weights: above the 1024 under which the converter leaves a
            # tensor in float32 for dynamic-range quantization
            keras.layers.Conv2D(16, 3, activation="relu", kernel_initializer=init(seed + 1), name="last"),
        ]
    )


def _images(n=24, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (n, 32, 32, 3)).astype(np.uint8)


def _extractor(engine, **params):
    from skltransfer import PretrainedFeatureExtractor

    return PretrainedFeatureExtractor(_network(), weights="imagenet", engine=engine, **params)


def _cosines(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def float_features():
    X = _images()
    return X, _extractor("litert").fit(X).transform(X)


@pytest.mark.parametrize("engine", sorted(QUANTIZED_ENGINES))
def test_quantized_features_are_close_to_float(engine, float_features):
    X, expected = float_features
    extractor = _extractor(engine, random_state=0).fit(X)
    features = extractor.transform(X)
    assert features.dtype == np.float32 and features.shape == expected.shape
    assert _cosines(features, expected).min() > MIN_COSINE
    assert not np.array_equal(features, expected)  # quantized indeed
    (key,) = extractor._litert
    assert key[-1] == QUANTIZED_ENGINES[engine]
    # the quantized flatbuffer is smaller: int8 weights (the float one holds float32 weights)
    assert len(extractor._litert[key].flatbuffer) < len(convert_to_litert(_network()))


def test_representative_set_is_bounded_seeded_and_kept_for_int8_only():
    X = _images(REPRESENTATIVE_SIZE + 30)
    a = _extractor("litert-int8", random_state=1).fit(X)
    b = _extractor("litert-int8", random_state=1).fit(X)
    c = _extractor("litert-int8", random_state=2).fit(X)
    assert len(a._representative) == REPRESENTATIVE_SIZE
    np.testing.assert_array_equal(a._representative.array, b._representative.array)
    assert not np.array_equal(a._representative.array, c._representative.array)
    rows = representative_indices(len(X), 1)
    np.testing.assert_array_equal(a._representative.array, X[rows])
    assert np.all(np.diff(rows) > 0)  # sorted, without repeats
    # not from a shared random state: a RandomState instance is left untouched (seed 0)
    state = np.random.RandomState(5)
    before = state.get_state()[1].copy()
    np.testing.assert_array_equal(representative_indices(len(X), state), representative_indices(len(X)))
    np.testing.assert_array_equal(state.get_state()[1], before)
    assert list(representative_indices(3, 7)) == [0, 1, 2]
    # same seed, same calibration, same features
    np.testing.assert_array_equal(a.transform(X[:8]), b.transform(X[:8]))
    for engine in ("auto", "litert", "litert-dynamic"):
        assert _extractor(engine).fit(X[:4])._representative is None


def test_representative_rows_are_brought_to_the_input_form():
    """Calibration rows of another size or dtype are resized and cast like the images run."""
    X = _images(10)
    extractor = _extractor("litert-int8").fit(X.astype(np.float64))
    assert extractor._representative.array.dtype == np.float32
    small = X[:, ::2, ::2]  # 16 x 16: resized to 32 x 32 by the network
    features = extractor.transform(small)
    expected = _extractor("litert").fit(X).transform(small)
    assert _cosines(features, expected).min() > MIN_COSINE


def test_pickled_int8_extractor_keeps_its_conversion(monkeypatch):
    from sklearn.base import clone

    X = _images(12)
    extractor = _extractor("litert-int8", random_state=0).fit(X)
    expected = extractor.transform(X)

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(_litert, "convert_to_litert", no_conversion)
    restored = pickle.loads(pickle.dumps(extractor))
    assert isinstance(restored._litert[((32, 32, 3), "uint8", "int8")], LiteRTRunner)
    np.testing.assert_array_equal(restored.transform(X), expected)
    cloned = clone(extractor)
    assert cloned.engine == "litert-int8" and not cloned.__dict__.get("_litert")
    monkeypatch.undo()
    np.testing.assert_array_equal(cloned.fit(X).transform(X), expected)


def test_engines_do_not_share_conversions():
    """Switching engine after fit converts for the new engine instead of reusing another's."""
    X = _images(8)
    extractor = _extractor("litert-int8").fit(X)
    quantized = extractor.transform(X)
    exact = extractor.set_params(engine="litert").transform(X)
    assert not np.array_equal(quantized, exact)
    assert len(extractor._litert) == 2
    np.testing.assert_array_equal(extractor.set_params(engine="litert-int8").transform(X), quantized)


def test_int8_needs_the_rows_of_fit():
    X = _images(4)
    extractor = _extractor("litert").fit(X).set_params(engine="litert-int8")
    with pytest.raises(ValueError, match="set engine='litert-int8' before fit"):
        extractor.transform(X)
    # dynamic range needs no calibration: switching after fit works
    assert extractor.set_params(engine="litert-dynamic").transform(X).shape == (4, 16)


def test_auto_never_picks_a_quantized_engine():
    for n_values in (0, AUTO_MIN_VALUES - 1, AUTO_MIN_VALUES, 100 * AUTO_MIN_VALUES):
        assert resolve_engine("auto", n_values) in ("keras", "litert")
    runner = LiteRTRunner(b"")
    assert resolve_engine("auto", 0, state=runner) == "litert"
    for engine in QUANTIZED_ENGINES:
        assert resolve_engine(engine, 0) == engine
        assert engine in ENGINES


def test_bad_engine_names_the_parameter():
    X = _images(4)
    with pytest.raises(ValueError, match="'engine' parameter"):
        _extractor("int8").fit(X)
    with pytest.raises(ValueError, match="engine must be one of"):
        resolve_engine("litert-fp16", 0)


def test_convert_arguments():
    model = _network()
    with pytest.raises(ValueError, match="quantization must be one of"):
        convert_to_litert(model, quantization="int4")
    with pytest.raises(ValueError, match="needs a representative set"):
        convert_to_litert(model, quantization="int8")
    with pytest.raises(ValueError, match="needs a representative set"):
        convert_to_litert(model, quantization="int8", representative=np.zeros((0, 32, 32, 3)))


def test_classifier_predicts_with_int8():
    """The whole network is quantized, head and softmax included: the same labels, coarser
    probabilities (8-bit logits and outputs), on the same side of 1/2."""
    from skltransfer import FineTunedCNNClassifier

    y = np.repeat([0, 1], 12)
    X = _images(24)
    X[y == 1, :16] = np.minimum(X[y == 1, :16], 60)  # a darker top half: an easy class
    clf = FineTunedCNNClassifier(
        _network(), weights="imagenet", fine_tune_epochs=0, engine="litert-int8", random_state=0
    ).fit(X, y)
    assert len(clf._representative) == len(X)
    quantized = clf.predict_proba(X)
    assert quantized.shape == (24, 2) and np.allclose(quantized.sum(1), 1, atol=0.02)
    labels = clf.predict(X)
    assert any(key[-1] == "int8" for key in clf._litert)
    exact = clf.set_params(engine="keras")
    np.testing.assert_array_equal(labels, exact.predict(X))
    assert np.corrcoef(quantized[:, 1], exact.predict_proba(X)[:, 1])[0, 1] > 0.9
