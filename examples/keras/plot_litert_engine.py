"""
Faster feature extraction on CPU: the LiteRT engine
===================================================

:class:`~skltransfer.PretrainedFeatureExtractor` runs its network with Keras (a compiled
TensorFlow function) or, with ``engine="litert"``, converts that function once to LiteRT
(TensorFlow Lite, float32, no quantization) and runs it with the XNNPACK CPU kernels. The
features are the same up to rounding; on a CPU the LiteRT interpreter usually extracts
them faster, at the price of a one-off conversion. ``engine="auto"`` (the default) converts
only for calls large enough to repay it.

LiteRT comes from the ``ai-edge-litert`` package (``pip install "skltransfer[litert]"``) or,
without it, from the ``tf.lite.Interpreter`` that TensorFlow still ships. The network here is
a small CNN trained on the 8x8 digits bundled with scikit-learn and saved as ``.keras``, as a
network pretrained elsewhere would be; the extractor cuts it at its 64-unit embedding.
"""

# %%
# A small CNN, trained and saved
# ------------------------------
import os
import tempfile
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skltransfer import PretrainedFeatureExtractor

digits = load_digits()
X, y = digits.images / 16.0, digits.target  # 1797 images of 8x8 pixels in [0, 1]
keras.utils.set_random_seed(0)  # the initial weights and the shuffling of the training
network = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu", name="embedding"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
network.compile(keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
network.fit(X[..., None], y, batch_size=32, epochs=5, verbose=0)
path = os.path.join(tempfile.mkdtemp(), "digits_cnn.keras")
network.save(path)

# %%
# The same features from both engines
# -----------------------------------
# Each extractor is fitted, then its first ``transform`` builds what its engine runs (the
# compiled function; for LiteRT, also the conversion), timed apart. The next calls are the
# steady state: the best of three passes over the 1797 images gives the throughput.
features, first_call, per_second = {}, {}, {}
for engine in ("keras", "litert"):
    extractor = PretrainedFeatureExtractor(path, layer="embedding", engine=engine).fit(X)
    start = time.perf_counter()
    features[engine] = extractor.transform(X)
    first_call[engine] = time.perf_counter() - start
    passes = []
    for _ in range(3):
        start = time.perf_counter()
        extractor.transform(X)
        passes.append(time.perf_counter() - start)
    per_second[engine] = len(X) / min(passes)
    print(
        f"{engine:7s} first call {first_call[engine]:5.2f} s, then {per_second[engine]:8.0f} images/s, "
        f"features {features[engine].shape}"
    )

scale = np.abs(features["keras"]).max()
difference = np.abs(features["litert"] - features["keras"]).max()
print(f"largest difference {difference:.2e}, {difference / scale:.1e} of the largest feature")
assert difference <= 1e-4 * scale

# %%
# Agreement and speed
# -------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
shown = np.random.default_rng(0).choice(features["keras"].size, 3000, replace=False)
left.scatter(features["keras"].ravel()[shown], features["litert"].ravel()[shown], s=4, alpha=0.5)
left.plot([0, scale], [0, scale], color="gray", linewidth=0.8)
left.set_xlabel('feature, engine="keras"')
left.set_ylabel('feature, engine="litert"')
left.set_title(f"Same features (max. difference {difference:.0e})")
engines = list(per_second)
right.bar(engines, [per_second[e] for e in engines], color=["tab:blue", "tab:orange"])
right.set_ylabel("images per second (steady state)")
right.set_title("Extraction speed, 8x8 digits, CPU")
for i, engine in enumerate(engines):
    right.annotate(
        f"first call {first_call[engine]:.1f} s", (i, per_second[engine]), ha="center", va="bottom"
    )
fig.tight_layout()
plt.show()

# %%
# Both engines return the same 64 features per image, to within rounding. The speeds are
# those measured above, on the machine that built this page: they depend on its cores,
# on what else runs on them and on the image size (at 8x8 pixels, the cost of each call
# weighs more than the arithmetic). The first LiteRT call pays for the conversion; the
# converted network is kept with the fitted extractor, so later calls do not convert
# again. For a decision with real backbones and image
# sizes, ``benchmarks/extraction.py --engines`` measures both engines on your machine.
