"""
Pretrained CNN features and a linear model on a folder of images
================================================================

The classic transfer-learning recipe as one scikit-learn pipeline: a network pretrained on
one task turns images into features, and a linear model learns the new task from a few
labeled images. :class:`~skltransfer.PretrainedFeatureExtractor` reads image files (a
folder with one subfolder per class, listed by
:func:`~skltransfer.datasets.load_image_folder`), batch by batch, resizes them to the
network's input and returns its features.

With ImageNet weights, ``PretrainedFeatureExtractor("mobilenet_v2")`` is the usual
backbone (``examples/mobilenet_image_folder.py`` runs it on your own folder). To run
offline within seconds, this example "pretrains" a small CNN on the digits of one scanner
(the source domain of :func:`~skltransfer.datasets.make_digits_shift`) and extracts
features from a folder of images of another scanner (its target domain: rotated, dimmer,
unevenly lit, noisy), where a linear model then learns from a few labels.
"""

# %%
# A pretrained network and an image folder
# ----------------------------------------
# The network is a small CNN trained on the source digits (pixels in [0, 1]): two
# convolutions and a max-pooling, then a 64-unit dense layer and a softmax over the ten
# digits, with random rotations and noise as augmentation (active in training only). One
# generator seeds the weights, the augmentation and the dropout, and shuffles each epoch, so
# the run is reproducible. It is cut after its convolutions, the generic part of a CNN, and
# saved as ``.keras`` with a first layer that rescales raw 0-255 pixels, as a network
# pretrained elsewhere carries its own preprocessing. The target digits become 8x8
# grayscale PNG files, one subfolder per digit.
import tempfile
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, learning_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skltransfer import PretrainedFeatureExtractor
from skltransfer.datasets import load_image_folder, make_digits_shift

Xs, ys, Xt, yt = make_digits_shift(return_images=True, random_state=0)  # 8x8 images in [0, 1]
rng = np.random.RandomState(0)
seed = int(rng.randint(1, 2**31 - 1))
keras.utils.set_random_seed(seed)  # the initial weights
cnn = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        keras.layers.RandomRotation(0.125, fill_mode="constant", seed=seed),
        keras.layers.GaussianNoise(0.1, seed=seed),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.3, seed=seed),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
cnn.compile(keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
images = Xs[..., np.newaxis].astype(np.float32)
for _ in range(15):  # 15 epochs, each in an order drawn from the generator
    order = rng.permutation(len(images))
    cnn.fit(images[order], ys[order], batch_size=32, epochs=1, shuffle=False, verbose=0)

convolutions = keras.Model(cnn.inputs, cnn.get_layer("pool").output)
network = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255), convolutions])
folder = Path(tempfile.mkdtemp())
network.save(folder / "pretrained.keras")

for i, (image, label) in enumerate(zip(Xt, yt, strict=True)):
    (folder / "images" / str(label)).mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(255 * image).astype(np.uint8), mode="L").save(
        folder / "images" / str(label) / f"{i:04d}.png"
    )

paths, labels = load_image_folder(folder / "images")
print(f"{len(paths)} image files in {len(set(labels))} class folders, e.g. {Path(paths[0]).name}")

fig, axes = plt.subplots(2, 10, figsize=(10, 2.4), layout="constrained")
for ax, k in zip(axes.flat, np.arange(0, len(paths), len(paths) // 20), strict=False):
    with Image.open(paths[k]) as image:
        ax.imshow(image, cmap="gray_r")
    ax.set_title(labels[k], fontsize="small")
    ax.axis("off")
fig.suptitle("Some files of the image folder (the second scanner's digits), with their folder's label")
plt.show()

# %%
# Features + logistic regression, against raw pixels
# --------------------------------------------------
# The extractor reads the files batch by batch and returns the network's last feature map,
# flattened (``pooling=None``; ``"avg"`` would average it over the image). It is fitted like any
# transformer (fitting builds the network; it learns nothing), so the pipeline goes through
# ``learning_curve``: accuracy on held-out images against the number of labeled images the
# logistic regression learns from.
features = make_pipeline(
    PretrainedFeatureExtractor(folder / "pretrained.keras", pooling=None),
    StandardScaler(),
    LogisticRegression(max_iter=2000),
)
pixels = np.stack([np.asarray(Image.open(path), dtype=np.float64).ravel() for path in paths])
raw = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
cv = StratifiedShuffleSplit(n_splits=3, test_size=0.5, random_state=0)
sizes = [15, 25, 50, 100, 200, 449]
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
for name, model, data in [
    ("pretrained CNN features", features, np.asarray(paths)),
    ("raw pixels", raw, pixels),
]:
    n_train, _, test_scores = learning_curve(model, data, labels, train_sizes=sizes, cv=cv)
    ax.plot(n_train, test_scores.mean(axis=1), marker="o", label=name)
    print(f"{name:24s}", np.round(test_scores.mean(axis=1), 3))
ax.set_xscale("log")
ax.set_xticks(sizes, [str(size) for size in sizes])
ax.minorticks_off()
ax.set_xlabel("labeled target images")
ax.set_ylabel("accuracy on held-out target images")
ax.legend()
ax.set_title("Logistic regression on an image folder")
plt.show()

# %%
# The features of a network trained on the other scanner transfer: with a few labeled
# images per class, the linear model on them is well ahead of the same model on raw
# pixels, and the gap narrows as labels accumulate. The same pipeline scales to folders of any size (files are
# read batch by batch) and, with Dask, to a cluster (:doc:`/guide/scale_out`).
