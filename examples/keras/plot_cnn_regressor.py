"""
Image regression with a fine-tuned CNN: how far is each digit rotated?
======================================================================

:class:`~skltransfer.FineTunedCNNRegressor` is the classifier's recipe for a continuous
target: a pretrained network, a linear head solved exactly (a ridge regression on the
standardised features), then fine-tuning of the top layers with the mean squared error,
kept only where it improves the fit. Here the target is the angle by which a digit was
rotated, learned from 200 images. To stay small and offline, the "pretrained" network is a
two-convolution CNN trained on the spot to classify the digits 0 to 4; the regression uses
the digits 5 to 9, which it has never seen.
"""

# %%
# A network pretrained on other images
# ------------------------------------
# Any ``keras.applications`` name, a ``keras.Model`` or a saved ``.keras`` file can be the
# backbone. This one learns to classify the digits 0-4 (embedded in scikit-learn) and is
# saved as ``.keras``, as a network pretrained elsewhere would be; its 32-unit dense layer,
# named ``"embedding"``, gives the features to transfer.
import os
import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import rotate
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skltransfer import FineTunedCNNRegressor, PretrainedFeatureExtractor

digits, labels = load_digits(return_X_y=True)
digits = digits / 16.0
keras.utils.set_random_seed(0)
cnn = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu", name="embedding"),
        keras.layers.Dense(5, activation="softmax"),
    ]
)
cnn.compile(keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
seen = labels < 5
cnn.fit(digits[seen].reshape(-1, 8, 8, 1), labels[seen], batch_size=32, epochs=8, verbose=0)
backbone = os.path.join(tempfile.mkdtemp(), "digits_0_to_4.keras")
cnn.save(backbone)

# %%
# The task: the rotation angle of unseen digits
# ---------------------------------------------
# Each digit 5-9 is rotated by an angle drawn uniformly in [-45, 45] degrees; the target is
# the angle. 200 images train, the others test.
rng = np.random.default_rng(0)
images = digits[~seen]
angles = rng.uniform(-45, 45, len(images))
X = np.clip(
    [
        rotate(im.reshape(8, 8), a, reshape=False, order=1).ravel()
        for im, a in zip(images, angles, strict=True)
    ],
    0,
    1,
)
train, test = np.arange(200), np.arange(200, len(X))

# %%
# Three ways to use the network
# -----------------------------
# The regressor with its defaults; the same with ``fine_tune_epochs=0`` (the exact ridge
# head alone, on frozen features); and the frozen features of
# :class:`~skltransfer.PretrainedFeatureExtractor` with scikit-learn's ``Ridge``.
# ``image_shape`` says how to read the rows of 64 pixels as images.
models = {
    "FineTunedCNNRegressor": FineTunedCNNRegressor(
        backbone, layer="embedding", image_shape=(8, 8), random_state=0
    ),
    "head only (fine_tune_epochs=0)": FineTunedCNNRegressor(
        backbone, layer="embedding", image_shape=(8, 8), fine_tune_epochs=0, random_state=0
    ),
    "extracted features + Ridge": make_pipeline(
        PretrainedFeatureExtractor(backbone, layer="embedding", image_shape=(8, 8)), StandardScaler(), Ridge()
    ),
}
predictions = {}
for name, model in models.items():
    model.fit(X[train], angles[train])
    predictions[name] = model.predict(X[test])
    print(f"{name:>30}: R^2 {r2_score(angles[test], predictions[name]):.3f}")

# %%
# Predicted against true angles
# -----------------------------
fig, axes = plt.subplots(1, len(models), figsize=(12, 4), sharey=True)
for ax, (name, predicted) in zip(axes, predictions.items(), strict=True):
    ax.scatter(angles[test], predicted, s=6, alpha=0.5)
    ax.plot([-45, 45], [-45, 45], color="black", linewidth=1)
    ax.set_title(f"{name}\nR$^2$ = {r2_score(angles[test], predicted):.2f}", fontsize=10)
    ax.set_xlabel("true angle (degrees)")
axes[0].set_ylabel("predicted angle (degrees)")
fig.tight_layout()
plt.show()

# %%
# Features learned for classifying digits say little about rotation, which a classifier is
# meant to ignore: the frozen features give a partial fit, and fine-tuning the network on
# the 200 labeled images improves it. The regressor also adapts to unlabeled target images
# (rows with a ``NaN`` target) with the classifier's domain losses.
