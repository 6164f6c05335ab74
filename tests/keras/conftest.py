"""Shared fixtures of the Keras tests: tiny saved models and real image files."""

import getpass
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")


def make_tiny_model(channels=3, size=None, *, seed=0, head=True):
    """A small functional CNN: conv1 -> conv2 -> pool -> (gap -> dense)."""
    import keras

    layers = keras.layers
    inputs = keras.Input((size, size, channels))
    x = layers.Conv2D(
        4,
        3,
        padding="same",
        activation="relu",
        name="conv1",
        kernel_initializer=keras.initializers.GlorotUniform(seed),
    )(inputs)
    x = layers.Conv2D(
        6,
        3,
        padding="same",
        name="conv2",
        kernel_initializer=keras.initializers.GlorotUniform(seed + 1),
        bias_initializer=keras.initializers.RandomNormal(seed=seed + 2),
    )(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    if head:
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        x = layers.Dense(3, name="dense", kernel_initializer=keras.initializers.GlorotUniform(seed + 3))(x)
    return keras.Model(inputs, x, name="tiny")


def write_check_model(filters):
    """A one-convolution model taking grayscale images of any size, saved to a fixed file.

    scikit-learn's checks hash an estimator's parameters; a live Keras model pickles as a
    .keras archive stamped with the time it was written, so two hashes a second apart differ.
    The checks get the path instead. It is part of their test names, which must be the same
    in every parallel test worker: one fixed folder per user, each worker writing the same
    file atomically.

    Parameters
    ----------
    filters : int
        Output channels of the convolution.

    Returns
    -------
    str
        Path of the saved model.
    """
    import keras

    folder = Path(tempfile.gettempdir()) / f"skltransfer-tests-{getpass.getuser()}"
    folder.mkdir(exist_ok=True)
    inputs = keras.Input((None, None, 1))
    outputs = keras.layers.Conv2D(
        filters, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(0), name="conv"
    )(inputs)
    handle, written = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(handle)
    keras.Model(inputs, outputs).save(written)
    path = folder / f"check{filters}.keras"
    os.replace(written, path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    """A saved .keras model taking 16x16 RGB images."""
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    make_tiny_model(3, 16).save(path)
    return str(path)


@pytest.fixture(scope="session")
def sample_images():
    """Six real RGB crops (uint8) of scikit-learn's sample photos, in two classes."""
    from sklearn.datasets import load_sample_images

    crops, labels = [], []
    for label, image in zip(("china", "flower"), load_sample_images().images, strict=True):
        for top, left in [(0, 0), (120, 200), (240, 400)]:
            crops.append(image[top : top + 40, left : left + 48])
            labels.append(label)
    return np.stack(crops), np.asarray(labels)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory, sample_images):
    """The sample crops written as a class-per-subfolder tree, JPEG and PNG alternating."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    crops, labels = sample_images
    for i, (crop, label) in enumerate(zip(crops, labels, strict=True)):
        (root / label).mkdir(exist_ok=True)
        Image.fromarray(crop).save(root / label / f"img{i}.{'jpg' if i % 2 else 'png'}")
    return root
