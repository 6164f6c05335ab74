"""
Choosing a backbone and a layer by transferability, then fine-tuning the winner
===============================================================================

Which pretrained network, cut at which layer, will transfer best to a new data set? Fine-tuning
every candidate answers it slowly. A transferability score answers it from one forward pass:
LogME (You et al. 2021) is the evidence of a Bayesian linear model of the labels on the frozen
features, high when a linear head would fit them well without overfitting.
:class:`~skltransfer.metrics.LogMEScorer` computes it from a fitted feature extractor, so a
``GridSearchCV`` over :class:`~skltransfer.PretrainedFeatureExtractor` ``base_model`` and
``layer`` ranks the candidates without training a single head. The winner is then fine-tuned
with :class:`~skltransfer.FineTunedCNNClassifier`.

To stay small and offline, the "pretrained" backbones are three small CNNs built here: one
trained on the source digits of :func:`~skltransfer.datasets.make_digits_shift`, one trained on
a coarser task (the parity of the same digits) and one left at its random initialisation. The
new data set is the shifted target digits, of which 200 are labeled.
"""

# %%
# Three candidate backbones
# -------------------------
# Each CNN has the same architecture: two convolutions and a 64-unit dense layer named
# ``"embedding"``. They are saved as ``.keras`` files, as networks pretrained elsewhere
# would be.
import os
import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV

from skltransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor
from skltransfer.datasets import make_digits_shift
from skltransfer.metrics import HScoreScorer, LogMEScorer

Xs, ys, Xt, yt = make_digits_shift(random_state=0)  # 8x8 digits as rows of 64 pixels in [0, 1]
rng = np.random.default_rng(0)
labeled = rng.choice(len(yt), 200, replace=False)
test = np.setdiff1d(np.arange(len(yt)), labeled)
keras.utils.set_random_seed(0)  # the initial weights and the shuffling of the pretraining


def cnn(n_classes):
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu", name="embedding"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )


folder = tempfile.mkdtemp()
images = Xs.reshape(-1, 8, 8, 1).astype(np.float32)
backbones = {}
for name, labels in [("digits", ys), ("parity", ys % 2), ("random", None)]:
    network = cnn(10 if labels is None else len(np.unique(labels)))
    if labels is not None:
        network.compile(keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
        network.fit(images, labels, batch_size=32, epochs=10, verbose=0)
    backbones[name] = os.path.join(folder, f"{name}_cnn.keras")
    network.save(backbones[name])

# %%
# Ranking backbones and layers by LogME
# -------------------------------------
# The grid crosses the three backbones with two cuts: the first convolution (average pooled)
# and the embedding. No head is trained, so nothing can overfit the labeled rows: a single
# "fold" that fits each extractor and scores all 200 of them is enough. The H-score of
# Bao et al. (2019), with the shrunk covariance of Ibrahim et al. (2022), is recorded too.
grid = {"base_model": list(backbones.values()), "layer": ["conv1", "embedding"]}
everything = np.arange(len(labeled))
search = GridSearchCV(
    PretrainedFeatureExtractor(image_shape=(8, 8)),
    grid,
    scoring={"LogME": LogMEScorer(), "H-score": HScoreScorer()},
    refit="LogME",
    cv=[(everything, everything)],
)
search.fit(Xt[labeled], yt[labeled])

names = {path: name for name, path in backbones.items()}
results = search.cv_results_
candidates = [f"{names[p['base_model']]}\n{p['layer']}" for p in results["params"]]
logme, hscore = results["mean_test_LogME"], results["mean_test_H-score"]
for candidate, score, h in zip(candidates, logme, hscore, strict=True):
    print(f"{candidate.replace(chr(10), ' / '):20s} LogME {score:7.4f}   H-score {h:6.2f}")
best = search.best_params_
print(f"chosen: {names[best['base_model']]} network cut at {best['layer']!r}")

# %%
# Fine-tuning the winner (and, for contrast, the last of the ranking)
# -------------------------------------------------------------------
# The chosen backbone and layer go unchanged into :class:`~skltransfer.FineTunedCNNClassifier`:
# a new head on the frozen cut network, then the whole network fine-tuned at a smaller
# learning rate, on the same 200 labeled target digits.
worst = results["params"][int(np.argmin(logme))]
accuracy = {}
for params in (best, worst):
    clf = FineTunedCNNClassifier(
        image_shape=(8, 8),
        epochs=10,
        learning_rate=1e-2,
        fine_tune_epochs=5,
        unfreeze=1.0,
        batch_size=32,
        random_state=0,
        **params,
    ).fit(Xt[labeled], yt[labeled])
    key = f"{names[params['base_model']]}\n{params['layer']}"
    accuracy[key] = accuracy_score(yt[test], clf.predict(Xt[test]))
    print(f"{key.replace(chr(10), ' / ')}: accuracy {accuracy[key]:.3f} on {len(test)} other target digits")

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), width_ratios=[3, 1])
order = np.argsort(logme)[::-1]
colors = ["tab:orange" if i == search.best_index_ else "tab:blue" for i in order]
left.bar([candidates[i] for i in order], logme[order], color=colors)
left.axhline(0, color="gray", linewidth=0.5)
left.set_ylabel("LogME (higher transfers better)")
left.set_title("Ranking of the candidates (no training)")
right.bar(list(accuracy), list(accuracy.values()), color=["tab:orange", "tab:blue"])
right.set_ylim(0, 1)
right.set_ylabel("target accuracy")
right.set_title("Fine-tuned")
fig.tight_layout()
plt.show()

# %%
# The network pretrained on the same ten classes, cut at its embedding, ranks first, and
# fine-tuning it gives the better classifier: the ranking took six forward passes over 200
# images, where fine-tuning every candidate would have taken six trainings. The first
# convolution, average pooled, keeps little more than the brightness of each image: for
# every backbone its LogME is close to that of features that explain nothing. LogME
# compares the evidence per labeled row, so candidates are compared on the same rows; it
# does not change under a rotation or a common rescaling of the features, but one prior
# scale serves all the weights, so features of very different scales within one layer
# weigh differently than a trained head would weigh them: compare the H-scores too.
