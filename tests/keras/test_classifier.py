"""FineTunedCNNClassifier: conformance, training phases, reproducibility, persistence, errors."""

import os
import pickle
import random

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from skltransfer import FineTunedCNNClassifier
from skltransfer.keras._heads import set_unfrozen, unfrozen_count

from .conftest import write_check_model

keras = pytest.importorskip("keras")


def _base(channels=1, size=None, *, batch_norm=False, seed=0):
    """conv1 -> [bn] -> conv2: a tiny backbone with seeded weights (any image size by default)."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(
        4, 3, padding="same", activation="relu", kernel_initializer=init(seed), name="conv1"
    )(inputs)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", kernel_initializer=init(seed + 1), name="conv2")(x)
    return keras.Model(inputs, x, name="tiny_base")


# Each row of the checks' 2-D data is a 1 x n_features grayscale image.
CHECKED = FineTunedCNNClassifier(
    write_check_model(4),
    image_shape=(1, -1),
    pooling=None,
    fine_tune_epochs=0,
    batch_size=64,
    random_state=0,
)


@parametrize_with_checks([CHECKED], expected_failed_checks=lambda e: e._expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_param_validation():
    check_param_validation("FineTunedCNNClassifier", CHECKED)


def _digits(n_per_class=12, classes=("dark", "bright"), seed=0):
    """8x8 images whose class sets the brightness of one half: learnable in a few epochs."""
    rng = np.random.RandomState(seed)
    X = rng.rand(n_per_class * len(classes), 8, 8)
    y = np.repeat(np.asarray(classes), n_per_class)
    for k in range(len(classes)):
        X[y == classes[k], k % 8] += 2.0
    return X.reshape(len(X), 64), y


def _clf(base=None, **params):
    defaults = dict(
        image_shape=(8, 8), pooling=None, epochs=3, fine_tune_epochs=0, learning_rate=0.05, random_state=0
    )
    return FineTunedCNNClassifier(_base() if base is None else base, **{**defaults, **params})


def test_cached_features_train_the_same_head_and_fits_are_reproducible():
    X, y = _digits()
    python_state, numpy_state = random.getstate(), np.random.get_state()[1].copy()  # noqa: NPY002
    cached = _clf(dropout=0.3, batch_size=8).fit(X, y)
    through = _clf(dropout=0.3, batch_size=8, cache_features=False).fit(X, y)
    again = _clf(dropout=0.3, batch_size=8).fit(X, y)
    # Same batches, dropout masks and initial weights: the same training up to float rounding.
    assert_allclose(cached.predict_proba(X), through.predict_proba(X), atol=1e-5)
    assert_allclose(cached.history_["head"]["loss"], through.history_["head"]["loss"], rtol=1e-5)
    assert_array_equal(cached.predict_proba(X), again.predict_proba(X))
    assert random.getstate() == python_state
    assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    other = _clf(dropout=0.3, batch_size=8, random_state=1).fit(X, y)
    pairs = zip(other.model_.get_weights(), cached.model_.get_weights(), strict=True)
    assert not all(np.allclose(a, b) for a, b in pairs)


def test_learns_string_and_integer_labels():
    X, y = _digits(classes=("a", "b", "c"))
    clf = _clf(epochs=15, fine_tune_epochs=2, unfreeze=1.0).fit(X, y)
    assert_array_equal(clf.classes_, ["a", "b", "c"])
    assert clf.n_features_in_ == 64 and clf.image_shape_ == (8, 8, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (36, 3)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert clf.score(X, y) >= 0.9
    assert list(clf.history_) == ["head", "fine_tune"]
    assert len(clf.history_["head"]["loss"]) == 15 and len(clf.history_["fine_tune"]["loss"]) == 2
    codes = np.searchsorted(["a", "b", "c"], y) + 10
    ints = _clf(epochs=15).fit(X.reshape(-1, 8, 8), codes)  # 3-D grayscale input, int labels
    assert_array_equal(ints.classes_, [10, 11, 12])
    assert not hasattr(ints, "n_features_in_")
    assert ints.score(X.reshape(-1, 8, 8), codes) >= 0.9


def test_fine_tuning_trains_only_the_unfrozen_top_layers_and_keeps_batch_norm_frozen():
    base = _base(batch_norm=True)
    X, y = _digits()
    clf = _clf(base, epochs=0, fine_tune_epochs=2, fine_tune_learning_rate=0.05, unfreeze=1).fit(X, y)
    tuned = clf.model_.get_layer("backbone").model
    for name, changed in (("conv1", False), ("bn", False), ("conv2", True)):
        before, after = base.get_layer(name).get_weights(), tuned.get_layer(name).get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
        assert same != changed, name
    assert not tuned.trainable  # frozen again after fit


def test_unfreeze_count_fraction_name_and_steps():
    base = _base(batch_norm=True)  # layers: conv1, bn, conv2; only the convolutions count
    assert unfrozen_count(base, 1) == 1 and unfrozen_count(base, 10) == 2
    assert unfrozen_count(base, 0.5) == 1 and unfrozen_count(base, 1.0) == 2
    assert unfrozen_count(base, "bn") == 1 and unfrozen_count(base, "conv1") == 2
    with pytest.raises(ValueError, match="no layer named 'nope' \\(unfreeze\\)"):
        unfrozen_count(base, "nope")
    set_unfrozen(base, 2)
    assert [layer.trainable for layer in base.layers[1:]] == [True, False, True]
    set_unfrozen(base, 1)
    assert [layer.trainable for layer in base.layers[1:]] == [False, False, True]
    set_unfrozen(base, 0)
    assert not base.trainable_weights

    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(len(self.model.trainable_weights))

    X, y = _digits()
    clf = _clf(epochs=0, fine_tune_epochs=4, unfreeze=2, unfreeze_steps=2, callbacks=[Record()]).fit(X, y)
    # Head (kernel, bias) + conv2 (2 weights), then + conv1 (2 weights).
    assert seen == [4, 6]
    assert len(clf.history_["fine_tune"]["loss"]) == 4


def test_augmentation_by_name_and_layer_active_only_in_training():
    X, y = _digits()
    clf = _clf(augmentation=["flip", keras.layers.RandomRotation(0.2)]).fit(X, y)
    names = [layer.name for layer in clf.model_.layers]
    assert "augment_flip" in names and any("random_rotation" in n for n in names)
    assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    single = _clf(augmentation="zoom").fit(X, y)
    assert "augment_zoom" in [layer.name for layer in single.model_.layers]
    with pytest.raises(
        ValueError, match=r"Unknown augmentation 'blur'.*contrast, flip, rotation, translation, zoom"
    ):
        _clf(augmentation=["blur"]).fit(X, y)
    with pytest.raises(ValueError, match="augmentation entries must be names"):
        _clf(augmentation=[3]).fit(X, y)


def test_early_stopping_with_validation_and_schedules():
    X, y = _digits(n_per_class=20)
    clf = _clf(epochs=30, learning_rate=50.0, early_stopping=True, patience=1, validation_fraction=0.25).fit(
        X, y
    )
    head = clf.history_["head"]
    assert {"val_loss", "val_accuracy"} <= set(head) and len(head["loss"]) < 30
    with pytest.raises(ValueError, match=r"validation_fraction=0\.99 leaves no training images"):
        _clf(early_stopping=True, validation_fraction=0.99).fit(X, y)

    lr = 0.05
    expected = {
        "cosine": [lr * 0.5 * (1 + np.cos(np.pi * e / 4)) for e in range(4)],
        "exponential": [lr * 0.01 ** (e / 4) for e in range(4)],
        "constant": [lr] * 4,
    }
    for schedule, rates in expected.items():
        history = _clf(epochs=4, lr_schedule=schedule).fit(X, y).history_["head"]
        assert_allclose(history.get("learning_rate", [lr] * 4), rates, rtol=1e-5)
    halved = _clf(epochs=4, lr_schedule=lambda epoch, rate: lr / 2).fit(X, y).history_["head"]
    assert_allclose(halved["learning_rate"], [lr / 2] * 4, rtol=1e-5)
    plateau = _clf(epochs=3, lr_schedule="plateau", optimizer=keras.optimizers.SGD(momentum=0.9)).fit(X, y)
    assert len(plateau.history_["head"]["loss"]) == 3


def test_class_weight():
    X, y = _digits()
    y = y.copy()
    y[:4] = "rare"
    clf = _clf(epochs=1, class_weight="balanced").fit(X, y)
    codes = np.searchsorted(clf.classes_, y)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=codes)[codes]
    assert_allclose(clf._task.sample_weight(codes), expected)
    task = clf.set_params(class_weight={"rare": 5.0})._make_task()
    assert_array_equal(task.encode(y, np.arange(len(y))), codes)
    assert_allclose(task.sample_weight(codes), np.where(y == "rare", 5.0, 1.0))
    # A class of weight 0 is absent from the loss: the network learns to predict the others only.
    ignored = _clf(epochs="auto", class_weight={"bright": 0.0}).fit(X[4:], y[4:])
    assert set(ignored.predict(X)) == {"dark"}
    with pytest.raises(ValueError, match=r"class_weight names classes not in y: \['missing'\]"):
        _clf(class_weight={"missing": 2.0}).fit(X, y)


def test_errors_name_the_fault():
    X, y = _digits()
    with pytest.raises(ValueError, match="only one class"):
        _clf().fit(X, np.zeros(len(X)))
    clf = _clf(epochs=1).fit(X, y)
    with pytest.raises(
        ValueError, match=r"images of shape \(4, 16, 1\).*fitted on images of shape \(8, 8, 1\)"
    ):
        clf.set_params(image_shape=(4, 16)).predict(X)
    Xnan = X.copy()
    Xnan[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _clf().fit(Xnan, y)
    with pytest.raises(ValueError, match=r"3 channels.* network takes 1"):
        _clf(image_shape=(8, 8, 3), epochs=1).fit(np.zeros((4, 192)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="format must be"):
        clf.export("model.pt", format="torchscript")
    with pytest.raises(ValueError, match="unfreeze"):
        _clf(epochs=0, fine_tune_epochs=1, unfreeze="nope").fit(X, y)


def test_pickle_clone_joblib_round_trip(tmp_path):
    X, y = _digits()
    clf = _clf(epochs=2, fine_tune_epochs=1, unfreeze=1).fit(X, y)
    expected = clf.predict_proba(X)
    assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "clf.joblib")
    assert_array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(X), expected)
    fresh = clone(clf)
    assert not hasattr(fresh, "model_")
    assert_array_equal(fresh.fit(X, y).predict_proba(X), expected)


@pytest.mark.slow
def test_image_files_and_an_application(image_folder, tmp_path):
    from skltransfer.datasets import load_image_folder

    paths, labels = load_image_folder(image_folder)
    # MobileNet (v1) at its smallest input: an application quick to fine-tune.
    clf = FineTunedCNNClassifier(
        "mobilenet", weights=None, input_size=32, epochs=1, fine_tune_epochs=1, random_state=0
    ).fit(paths, labels)
    assert clf.image_shape_ == (32, 32, 3) and clf.model_.get_layer("preprocess").application == "MobileNet"
    assert clf.predict(paths).shape == (len(paths),)
    assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(paths), clf.predict_proba(paths))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_export_round_trips(tmp_path):
    import tensorflow as tf

    X, y = _digits()
    clf = _clf(epochs=2).fit(X, y)
    images = X.reshape(-1, 8, 8, 1).astype(np.float32)
    expected = clf.predict_proba(X)
    model = keras.saving.load_model(clf.export(tmp_path / "clf.keras"), compile=False)
    assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    served = tf.saved_model.load(clf.export(tmp_path / "saved", format="saved_model"))
    assert_allclose(served.serve(images).numpy(), expected, rtol=1e-5, atol=1e-6)
    interpreter = tf.lite.Interpreter(model_path=clf.export(tmp_path / "clf.tflite", format="tflite"))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], images)
    interpreter.invoke()
    assert_allclose(interpreter.get_tensor(out["index"]), expected, atol=1e-4)


def _worker_threads(_):
    import tensorflow as tf

    import skltransfer.keras  # noqa: F401  (sets TensorFlow's threads from the worker's budget)

    return os.environ.get("OMP_NUM_THREADS"), tf.config.threading.get_intra_op_parallelism_threads()


@pytest.mark.slow
def test_grid_search_and_cross_val_score_in_two_workers():
    from joblib import Parallel, delayed

    X, y = _digits()
    search = GridSearchCV(_clf(dropout=0.3), {"epochs": [1, 3]}, cv=2, n_jobs=2).fit(X, y)
    assert search.best_estimator_.score(X, y) >= 0.5
    scores = cross_val_score(_clf(), X, y, cv=2, n_jobs=2)
    assert_allclose(scores, cross_val_score(_clf(), X, y, cv=2), atol=1e-6)
    # joblib gives each of the 2 workers cpu_count() // 2 threads (unless OMP_NUM_THREADS is set
    # here); TensorFlow follows it.
    budget = os.environ.get("OMP_NUM_THREADS", str(max(1, joblib.cpu_count() // 2)))
    assert set(Parallel(n_jobs=2)(delayed(_worker_threads)(i) for i in range(2))) == {(budget, int(budget))}


def test_verbose_shows_keras_progress(capsys):
    X, y = _digits()
    _clf(epochs=1).fit(X, y)
    assert "loss:" not in capsys.readouterr().out
    _clf(epochs=2, verbose=2).fit(X, y)
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "loss:" in out


def test_predict_proba_folds_batch_normalization_and_matches_the_keras_model(monkeypatch):
    from skltransfer.keras import _features, _inference
    from skltransfer.keras import _recipe as recipe_module

    folded = []

    def spy(model):
        out = _inference.fold_batch_normalization(model)
        folded.append(out is not model)
        return out

    monkeypatch.setattr(recipe_module, "fold_batch_normalization", spy)  # model_ for prediction
    monkeypatch.setattr(_features, "fold_batch_normalization", spy)  # the frozen features
    init = keras.initializers.GlorotUniform(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.BatchNormalization(name="bn")(
        keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=init)(inputs)
    )
    base = keras.Model(inputs, keras.layers.ReLU()(x))
    rng = np.random.RandomState(0)  # statistics far from the identity, so that folding matters
    stats = [rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=4), rng.uniform(0.5, 2, 4)]
    base.get_layer("bn").set_weights(stats)
    X, y = _digits()
    clf = _clf(base, weights="imagenet", pooling="avg", epochs=2, fine_tune_epochs=1, unfreeze=1.0).fit(X, y)
    assert folded == [True]  # the features cached for phase 1
    proba = clf.predict_proba(X)
    assert folded == [True, True]  # the compiled prediction function
    assert_allclose(proba, clf.model_.predict(X.reshape(-1, 8, 8, 1), verbose=0), rtol=1e-4, atol=1e-6)


def test_exported_keras_file_loads_in_a_fresh_process(tmp_path):
    """keras.saving.load_model reads the export after `import skltransfer.keras`, no estimator used."""
    import subprocess
    import sys

    X, y = _digits()
    clf = _clf(fine_tune_epochs=1).fit(X, y)
    path = clf.export(tmp_path / "model.keras")
    np.save(tmp_path / "X.npy", X.reshape(-1, 8, 8, 1).astype(np.float32))
    code = (
        "import sys, numpy as np, keras, skltransfer.keras\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "np.save(sys.argv[2], model.predict(np.load(sys.argv[3]), verbose=0))\n"
    )
    out = tmp_path / "proba.npy"
    subprocess.run([sys.executable, "-c", code, path, out, tmp_path / "X.npy"], check=True)
    assert_allclose(np.load(out), clf.predict_proba(X), atol=1e-5)


def test_defaults_train_on_a_few_hundred_images():
    """Only the data given: well above chance on held-out digits, training loss below ln(10)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data[:400], digits.target[:400]
    base = _base(channels=1, size=8, seed=3)
    clf = FineTunedCNNClassifier(base, image_shape=(8, 8), random_state=0).fit(X[:300], y[:300])
    assert clf.score(X[300:], y[300:]) > 0.4  # chance: 0.1; six random pooled channels
    head, tuned = clf.history_["head"], clf.history_["fine_tune"]
    assert head["stop_reason"] == "converged" and head["loss"][-1] < np.log(10)
    assert tuned["steps"][-1] > 0 and tuned["stop_reason"] in {"plateau", "budget"}
    assert clf._loss(
        X[:300].reshape(-1, 8, 8, 1), np.searchsorted(clf.classes_, y[:300]), np.ones(300)
    ) < np.log(10)


def test_memory_caches_frozen_features_and_skips_the_backbone(tmp_path, monkeypatch):
    """A second fit and its prediction on cached images neither build nor run the backbone."""
    from skltransfer.keras import _backbone, _features

    builds = []
    original = _backbone.resolve_backbone

    def counting(*args, **kwargs):
        builds.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_features, "resolve_backbone", counting)
    X, y = _digits(n_per_class=20)
    params = dict(fine_tune_epochs=0, epochs="auto", l2=0.01)
    plain = _clf(**params).fit(X, y)
    assert len(builds) == 1
    cached = _clf(memory=str(tmp_path), **params).fit(X, y)  # fills the cache: builds once
    assert len(builds) == 2
    again = clone(cached).set_params(l2=0.02).fit(X[::2], y[::2])  # every row cached
    proba = again.predict_proba(X)
    assert len(builds) == 2 and "_model" not in {k for k, v in vars(again).items() if v is not None}
    assert_allclose(cached.predict_proba(X), plain.predict_proba(X), atol=1e-5)
    reference = _clf(**{**params, "l2": 0.02}).fit(X[::2], y[::2]).predict_proba(X)
    assert_allclose(proba, reference, atol=1e-5)
    # model_ is assembled on first access, with the same predictions, and pickles
    assert_allclose(again.model_.predict(X.reshape(-1, 8, 8, 1), verbose=0), reference, atol=1e-5)
    assert_allclose(pickle.loads(pickle.dumps(again)).predict_proba(X), reference, atol=1e-5)
    # a joblib.Memory works as Pipeline's does; new images are computed and added
    memory = joblib.Memory(str(tmp_path), verbose=0)
    fresh = _clf(memory=memory, **params).fit(X + 0.5, y)
    assert len(builds) == 5  # the reference fit, model_ assembled above, this fit
    assert_allclose(
        fresh.predict_proba(X + 0.5), _clf(**params).fit(X + 0.5, y).predict_proba(X + 0.5), atol=1e-5
    )


def test_eight_bit_images_train_as_their_float_values_in_a_quarter_of_the_memory():
    """Reference: the same pixels as float32. uint8 images stay uint8 until the network casts
    each batch, which is exact, so the fits are bit-identical."""
    keras = pytest.importorskip("keras")
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, (48, 8, 8, 3)).astype(np.uint8)
    y = (X[:, :4].mean(axis=(1, 2, 3)) > 127).astype(int)

    def fitted(images):
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
        base = keras.Model(inputs, keras.layers.ReLU()(keras.layers.BatchNormalization()(x)))
        params = dict(weights=None, unfreeze=1.0, fine_tune_epochs=2, augmentation=["flip"], random_state=0)
        return FineTunedCNNClassifier(base, **params).fit(images, y)

    eight_bit, single = fitted(X), fitted(X.astype(np.float32))
    assert_array_equal(eight_bit.predict_proba(X), single.predict_proba(X.astype(np.float32)))
    from skltransfer.keras.images import as_images

    kept = eight_bit._as_array(as_images(X), eight_bit.image_shape_)
    assert kept.dtype == np.uint8 and kept.nbytes == X.nbytes
