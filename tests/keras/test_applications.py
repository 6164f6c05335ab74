"""The keras.applications registry: coverage, spellings, preprocessing, offline weights."""

import inspect
import os

import numpy as np
import pytest

from skltransfer import PretrainedFeatureExtractor
from skltransfer.keras.applications import (
    _NATIVE_SIZE,
    _weights_cache_dir,
    build_application,
    get_application,
    list_applications,
    normalize_name,
)

keras = pytest.importorskip("keras")


def test_registry_covers_every_constructor():
    constructors = {
        name
        for name, obj in vars(keras.applications).items()
        if inspect.isfunction(obj) and name[0].isupper()
    }
    assert set(list_applications()) == constructors
    assert len(constructors) >= 40
    assert set(_NATIVE_SIZE) <= constructors  # no stale entry in the size table
    for name in constructors:
        app = get_application(name)
        assert app.constructor is getattr(keras.applications, name)
        assert callable(app.preprocess_input)


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("mobilenet_v2", "MobileNetV2"),
        ("MobileNetV2", "MobileNetV2"),
        ("mobilenetv2", "MobileNetV2"),
        ("resnet50", "ResNet50"),
        ("ResNet-50", "ResNet50"),
        ("resnet50_v2", "ResNet50V2"),
        ("efficientnet_b0", "EfficientNetB0"),
        ("EfficientNetB0", "EfficientNetB0"),
        ("efficientnet_v2_s", "EfficientNetV2S"),
        ("inception_v3", "InceptionV3"),
        ("mobilenet_v3_small", "MobileNetV3Small"),
        ("convnext_tiny", "ConvNeXtTiny"),
        ("vgg16", "VGG16"),
    ],
)
def test_spellings(spelling, name):
    assert get_application(spelling).name == name
    assert normalize_name(spelling) == name.lower()


def test_native_sizes_and_own_preprocessing():
    apps = keras.applications
    expected = {
        "MobileNetV2": (224, apps.mobilenet_v2.preprocess_input),
        "ResNet50": (224, apps.resnet.preprocess_input),
        "ResNet50V2": (224, apps.resnet_v2.preprocess_input),
        "InceptionV3": (299, apps.inception_v3.preprocess_input),
        "EfficientNetB3": (300, apps.efficientnet.preprocess_input),
        "EfficientNetV2M": (480, apps.efficientnet_v2.preprocess_input),
        "NASNetLarge": (331, apps.nasnet.preprocess_input),
        "MobileNetV3Small": (224, apps.mobilenet_v3.preprocess_input),
        "VGG19": (224, apps.vgg19.preprocess_input),
    }
    for name, (size, preprocess) in expected.items():
        app = get_application(name)
        assert (app.native_size, app.preprocess_input) == (size, preprocess)


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"Unknown keras.applications model 'mobilenet_v5'.*'MobileNetV2'"):
        get_application("mobilenet_v5")
    with pytest.raises(ValueError, match=r"Did you mean 'ResNet50'"):
        get_application("resnet_5O")
    with pytest.raises(ValueError, match="Known names: ConvNeXtBase"):
        get_application("zzzzzz")
    with pytest.raises(ValueError, match=r"Unknown keras\.applications model 'alexnet'"):
        PretrainedFeatureExtractor("alexnet", weights=None).fit(np.zeros((1, 8, 8)))


def test_offline_imagenet_weights_name_the_file_and_folder():
    app = get_application("mobilenet_v2")
    try:
        build_application(app, input_shape=(96, 96, 3), weights="imagenet")
    except OSError as e:
        message = str(e)
    else:  # pragma: no cover - only with internet access
        pytest.skip("the ImageNet weights could be downloaded")
    filename = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    assert "Cannot download the ImageNet weights of MobileNetV2" in message
    folder = _weights_cache_dir()
    assert folder.endswith(os.path.join(".keras", "models"))
    assert f"place it at {os.path.join(folder, filename)} (Keras' cache)" in message
    assert "weights=None" in message


def test_offline_imagenet_through_the_extractor():
    images = [[0.0] * 3 * 32 * 32]
    extractor = PretrainedFeatureExtractor("mobilenet", input_size=32, image_shape=(32, 32, 3))
    try:
        extractor.fit(images)
    except OSError as e:
        assert "mobilenet_1_0_224_tf_no_top.h5" in str(e)
    else:  # pragma: no cover - only with internet access
        pytest.skip("the ImageNet weights could be downloaded")


def test_other_construction_errors_are_not_rewritten():
    with pytest.raises(ValueError, match="input"):
        build_application(get_application("resnet50"), input_shape=(8, 8, 3), weights=None)


@pytest.mark.imagenet
def test_imagenet_weights_give_the_published_top1_class_of_a_sample_photo():
    """The real download path: Keras fetches and caches MobileNetV2's ImageNet weights."""
    from sklearn.datasets import load_sample_image

    model = keras.applications.MobileNetV2(weights="imagenet")
    photo = keras.ops.image.resize(load_sample_image("china.jpg")[None].astype("float32"), (224, 224))
    scores = model.predict(keras.applications.mobilenet_v2.preprocess_input(photo), verbose=0)
    (_, name, _), *_ = keras.applications.mobilenet_v2.decode_predictions(scores, top=1)[0]
    assert name in {"palace", "monastery", "pagoda", "church", "dome", "bell_cote"}


@pytest.mark.gpu
def test_classifier_trains_on_the_gpu_and_predicts_as_on_the_cpu():
    import numpy as np
    import tensorflow as tf

    from skltransfer import FineTunedCNNClassifier

    assert tf.config.list_physical_devices("GPU"), "no GPU visible to TensorFlow"
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(8, 3, kernel_initializer=keras.initializers.GlorotUniform(0))
    base = keras.Model(inputs, conv(inputs))
    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 64), np.repeat([0, 1], 30)
    X[y == 1, :32] += 1.0
    clf = FineTunedCNNClassifier(base, image_shape=(8, 8), fine_tune_epochs=2, random_state=0).fit(X, y)
    on_gpu = clf.predict_proba(X)
    with tf.device("/CPU:0"):
        on_cpu = clf.model_.predict(X.reshape(-1, 8, 8, 1), verbose=0)
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-4)
    assert clf.score(X, y) > 0.9
