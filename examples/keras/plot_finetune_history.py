"""
Fine-tuning a pretrained CNN on a few labeled images: the learning curves
=========================================================================

The transfer-learning recipe in two phases: put a new head on a network pretrained on
another domain and train it alone on the frozen network, then unfreeze the network and
fine-tune everything with a smaller learning rate.
:class:`~skltransfer.FineTunedCNNClassifier` does both in one ``fit`` and records the
curves of each phase in ``history_``, which :func:`~skltransfer.plotting.plot_history`
draws. To stay small and offline, the "pretrained" network is a two-convolution CNN
trained here on the source digits of :func:`~skltransfer.datasets.make_digits_shift`;
the few labeled images come from the shifted target domain.
"""

# %%
# A network pretrained on the source domain
# -----------------------------------------
# Any ``keras.applications`` name, a ``keras.Model`` or a saved ``.keras`` file can be the
# backbone. Here a small CNN is trained on the labeled source digits and saved as
# ``.keras``, as a network pretrained elsewhere would be: two convolutions, a 64-unit dense
# layer named ``"embedding"`` (the features to transfer) and a softmax over the ten digits,
# with random rotations and noise as augmentation (active in training only). One generator
# seeds the weights, the augmentation and the dropout, and shuffles each epoch, so the run
# is reproducible.
import os
import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import accuracy_score

from skltransfer import FineTunedCNNClassifier
from skltransfer.datasets import make_digits_shift
from skltransfer.plotting import plot_history

Xs, ys, Xt, yt = make_digits_shift(random_state=0)  # 8x8 digits as rows of 64 pixels in [0, 1]
rng = np.random.default_rng(0)
few = np.concatenate([rng.choice(np.flatnonzero(yt == c), 10, replace=False) for c in range(10)])
test = np.setdiff1d(np.arange(len(yt)), few)

cnn_rng = np.random.RandomState(0)
seed = int(cnn_rng.randint(1, 2**31 - 1))
keras.utils.set_random_seed(seed)  # the initial weights
cnn = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        keras.layers.RandomRotation(0.125, fill_mode="constant", seed=seed),
        keras.layers.GaussianNoise(0.1, seed=seed),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu", name="embedding"),
        keras.layers.Dropout(0.3, seed=seed),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
cnn.compile(keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
images = Xs.reshape(-1, 8, 8, 1).astype(np.float32)
for _ in range(15):  # 15 epochs, each in an order drawn from the generator
    order = cnn_rng.permutation(len(images))
    cnn.fit(images[order], ys[order], batch_size=32, epochs=1, shuffle=False, verbose=0)
source_cnn = os.path.join(tempfile.mkdtemp(), "source_cnn.keras")
cnn.save(source_cnn)
print(f"pretrained on {len(Xs)} source digits; fine-tuning on {len(few)} labeled target digits")

# %%
# Head first, then fine-tuning, with a validation split
# -----------------------------------------------------
# ``layer`` cuts the network at its 64-unit embedding; the new head is a dropout layer and a
# softmax. ``early_stopping=True`` holds out ``validation_fraction`` of the labeled images,
# records their loss and accuracy, and keeps the weights of the best epoch of each phase.
clf = FineTunedCNNClassifier(
    source_cnn,
    layer="embedding",
    image_shape=(8, 8),
    dropout=0.3,
    batch_size=16,
    epochs=20,
    learning_rate=1e-2,
    fine_tune_epochs=20,
    fine_tune_learning_rate=1e-3,
    unfreeze=1.0,
    early_stopping=True,
    validation_fraction=0.2,
    patience=5,
    random_state=0,
)
clf.fit(Xt[few], yt[few])
accuracy = accuracy_score(yt[test], clf.predict(Xt[test]))
print(f"target accuracy on the {len(test)} other target digits: {accuracy:.3f}")
print({phase: len(values["loss"]) for phase, values in clf.history_.items()}, "epochs per phase")

axes = plot_history(clf)
axes[0].figure.suptitle("FineTunedCNNClassifier on 100 target digits")
plt.show()

# %%
# The dotted line separates the phases. The head learns quickly on the frozen features;
# the fine-tuning phase starts from the head of its best epoch and adapts the convolutions
# to the target's lighting and contrast, at a learning rate ten times smaller so that the
# pretrained weights are not destroyed in the first steps. Each phase stops when the
# validation loss has not improved for ``patience`` epochs, and keeps its best epoch: the
# printed number of epochs per phase says where each stopped.
