"""A small CNN pretrained on a source domain, reused on a target domain (demo rows).

:func:`build_small_cnn` and :func:`train_small_cnn` make the tiny digit network that the
demo pretrains on the source domain of ``make_digits_shift``; :func:`pretrained_cnn_rows`
saves it as ``.keras``, reloads it through :class:`PretrainedFeatureExtractor` and trains a
linear classifier on a few labeled target images, against the same classifier on raw pixels;
:func:`finetune_rows` fine-tunes that network on the few labeled target images with
:class:`FineTunedCNNClassifier`, against the same architecture trained from scratch on them;
:func:`deep_adaptation_rows` trains the architecture on the labeled source and the unlabeled
target images with each domain loss, against the same training without it
(:func:`deep_adaptation_estimators` gives those estimators unfitted).
"""

from __future__ import annotations

import os

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from ._runtime import derive_seed, scoped_seed
from .classifier import FineTunedCNNClassifier
from .extractor import PretrainedFeatureExtractor
from .images import as_images

__all__ = [
    "EMBEDDING_LAYER",
    "build_small_cnn",
    "deep_adaptation_estimators",
    "deep_adaptation_rows",
    "finetune_rows",
    "pretrained_cnn_rows",
    "train_small_cnn",
    "train_source_cnn",
]

#: Name of the penultimate dense layer of :func:`build_small_cnn`: the transferable features.
EMBEDDING_LAYER = "embedding"


def build_small_cnn(
    image_shape: tuple[int, ...], n_classes: int, *, seed: int, embedding_size: int = 64, augment: bool = True
):
    """A two-convolution CNN for small images (e.g. 8x8 digits), with seeded initial weights.

    Parameters
    ----------
    image_shape : (height, width) or (height, width, channels)
    n_classes : int
    seed : int
        Seeds every initializer and the dropout layer; global random states are unchanged.
    embedding_size : int, default=64
        Units of the penultimate dense layer, named :data:`EMBEDDING_LAYER`.

    Returns
    -------
    model : keras.Model
        Uncompiled; softmax output.
    """
    layers = keras.layers
    shape = tuple(image_shape) if len(image_shape) == 3 else (*image_shape, 1)
    with scoped_seed(seed):
        inputs = keras.Input(shape)
        x = inputs
        if augment:
            x = layers.RandomRotation(0.125, fill_mode="constant", seed=seed, name="rotation")(x)
            x = layers.GaussianNoise(0.1, seed=seed, name="noise")(x)
        x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(x)
        x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
        x = layers.MaxPooling2D(2, name="pool")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(embedding_size, activation="relu", name=EMBEDDING_LAYER)(x)
        x = layers.Dropout(0.3, seed=seed, name="dropout")(x)
        outputs = layers.Dense(n_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def train_small_cnn(
    X,
    y,
    image_shape: tuple[int, ...],
    *,
    epochs: int = 15,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    augment: bool = True,
    random_state=None,
):
    """Train :func:`build_small_cnn` on labeled images, reproducibly.

    Parameters
    ----------
    X : array-like
        Images in any form :func:`skltransfer.keras.images.as_images` accepts (2-D rows are
        reshaped with ``image_shape``), with the pixel scale used later at inference.
    y : array-like of shape (n_samples,)
        Labels (any type); the output unit ``k`` is the ``k``-th sorted class.
    image_shape : (height, width) or (height, width, channels)
    epochs, batch_size, learning_rate : int, int, float
        Adam, sparse categorical cross-entropy.
    random_state : int, RandomState instance or None
        Seeds the weights, dropout and the per-epoch shuffling (done in NumPy).

    Returns
    -------
    model : keras.Model
        Trained, compiled.
    """
    images = as_images(X, image_shape=image_shape).array.astype(np.float32)
    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    rng = check_random_state(random_state)
    model = build_small_cnn(images.shape[1:], len(classes), seed=derive_seed(rng), augment=augment)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    for _ in range(epochs):
        order = rng.permutation(len(images))
        model.fit(images[order], codes[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return model


def train_source_cnn(Xs, ys, image_shape, folder, *, random_state=0) -> str:
    """Train :func:`train_small_cnn` on the labeled source images and save it as ``.keras``.

    Parameters
    ----------
    Xs, ys : array-like
        Labeled source images (e.g. flat 64-pixel rows) and labels.
    image_shape : tuple of int
        Shape of one image, e.g. ``(8, 8)``.
    folder : str
        Folder to save ``source_cnn.keras`` in.
    random_state : int, default=0

    Returns
    -------
    path : str
        Path of the saved model.
    """
    path = os.path.join(folder, "source_cnn.keras")
    train_small_cnn(Xs, ys, image_shape, random_state=random_state).save(path)
    return path


def pretrained_cnn_rows(source_cnn, Xt_few, yt_few, Xt_test, yt_test, image_shape) -> list[tuple[str, float]]:
    """Target accuracy of a source-pretrained CNN: as is, and as features vs raw pixels.

    The CNN saved at ``source_cnn`` (see :func:`train_source_cnn`) is applied to the target
    as is; then it is reloaded through ``PretrainedFeatureExtractor(base_model=path,
    layer="embedding")`` and a standardised logistic regression is trained on the few
    labeled target images, once on those features and once on raw pixels.

    Parameters
    ----------
    source_cnn : str
        Path of the ``.keras`` CNN trained on the source domain.
    Xt_few, yt_few : array-like
        The few labeled target images.
    Xt_test, yt_test : array-like
        Target images to score on.
    image_shape : tuple of int
        Shape of one image, e.g. ``(8, 8)``.

    Returns
    -------
    rows : list of (str, float)
        Method description and target accuracy.
    """

    def head():
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    def flat(X):
        return as_images(X, image_shape=image_shape).array.reshape(len(X), -1)

    model = keras.saving.load_model(source_cnn)
    # the source CNN's output k is the k-th sorted class; the domains share their classes
    classes = np.unique(np.concatenate([np.asarray(yt_few), np.asarray(yt_test)]))
    scores = model.predict(flat(Xt_test).reshape(-1, *model.input_shape[1:]), verbose=0)
    source_only = classes[scores.argmax(1)]
    raw = head().fit(flat(Xt_few), yt_few)
    extractor = PretrainedFeatureExtractor(source_cnn, layer=EMBEDDING_LAYER, image_shape=image_shape)
    transfer = make_pipeline(extractor, head()).fit(Xt_few, yt_few)
    return [
        ("Source-trained CNN, applied to the target as is", accuracy_score(yt_test, source_only)),
        (
            "Logistic regression on raw target pixels (few labels)",
            accuracy_score(yt_test, raw.predict(flat(Xt_test))),
        ),
        (
            "Source-pretrained CNN (.keras) features + logistic regression (few labels)",
            accuracy_score(yt_test, transfer.predict(Xt_test)),
        ),
    ]


FINETUNE_EPOCHS = 40
_FEW_SHOT = {"layer": EMBEDDING_LAYER, "dropout": 0.3, "batch_size": 16, "unfreeze": 1.0}


def finetune_rows(
    source_cnn, Xt_few, yt_few, Xt_test, yt_test, image_shape, random_state=0
) -> list[tuple[str, float]]:
    """Target accuracy of the source-pretrained CNN fine-tuned on a few target images vs from scratch.

    A small CNN (:func:`build_small_cnn`) is trained on the labeled source images and saved
    as ``.keras``. :class:`FineTunedCNNClassifier` then puts a new head on its embedding and
    trains on the few labeled target images, once from the pretrained weights and once from a random
    initialisation of the same architecture (``weights=None``). Both train for
    ``FINETUNE_EPOCHS`` epochs with Adam at 1e-3; the pretrained one trains its new head
    alone for the first half of them.

    Parameters
    ----------
    source_cnn : str
        Path of the ``.keras`` CNN trained on the source domain (:func:`train_source_cnn`).
    Xt_few, yt_few : array-like
        The few labeled target images.
    Xt_test, yt_test : array-like
        Target images to score on.
    image_shape : tuple of int
        Shape of one image, e.g. ``(8, 8)``.
    random_state : int, default=0

    Returns
    -------
    rows : list of (str, float)
        Method description and target accuracy.
    """
    half = FINETUNE_EPOCHS // 2
    finetuned = FineTunedCNNClassifier(
        source_cnn,
        image_shape=image_shape,
        epochs=half,
        learning_rate=1e-3,
        fine_tune_epochs=FINETUNE_EPOCHS - half,
        fine_tune_learning_rate=1e-3,
        random_state=random_state,
        **_FEW_SHOT,
    ).fit(Xt_few, yt_few)
    scratch = FineTunedCNNClassifier(
        source_cnn,
        weights=None,
        image_shape=image_shape,
        epochs=0,
        fine_tune_epochs=FINETUNE_EPOCHS,
        fine_tune_learning_rate=1e-3,
        random_state=random_state,
        **_FEW_SHOT,
    ).fit(Xt_few, yt_few)
    return [
        (
            "Source-pretrained CNN fine-tuned on the few target labels (FineTunedCNNClassifier)",
            accuracy_score(yt_test, finetuned.predict(Xt_test)),
        ),
        (
            "Same CNN architecture trained from scratch on the few target labels",
            accuracy_score(yt_test, scratch.predict(Xt_test)),
        ),
    ]


#: Epochs of :func:`deep_adaptation_rows`.
ADAPTATION_EPOCHS = 20


def deep_adaptation_estimators(n_classes, image_shape, losses=("mmd",), random_state=0):
    """The unfitted estimators of :func:`deep_adaptation_rows`, with their descriptions.

    :class:`FineTunedCNNClassifier` on :func:`build_small_cnn`'s architecture (without its
    augmentation), from a random initialisation: every layer, ``ADAPTATION_EPOCHS`` epochs of
    Adam at 1e-3, batches of 32 source and 32 target images, the domain loss on the 64-unit
    embedding with its default weight (or the one given) and warm-up. The first pair is the
    same estimator with ``domain_loss_weight=0``: same network, seeds and batches, no domain
    term. Fit each on labeled source rows and unlabeled target rows stacked with ``y == -1``.

    Parameters
    ----------
    n_classes : int
        Number of classes of the source labels.
    image_shape : tuple of int
        Shape of one image, e.g. ``(8, 8)``.
    losses : sequence of {"mmd", "coral", "adversarial"} or (loss, weight), default=("mmd",)
        The domain losses, each at its default weight or at the weight paired with it.
    random_state : int, default=0

    Returns
    -------
    estimators : list of (str, FineTunedCNNClassifier)
        Method description and unfitted estimator.
    """
    architecture = build_small_cnn(image_shape, n_classes, seed=random_state, augment=False)
    names = {"mmd": "multi-kernel MMD", "coral": "Deep CORAL", "adversarial": "adversarial, DANN"}
    estimators = []
    for loss, weight in [
        ("mmd", 0.0),
        *((entry, "auto") if isinstance(entry, str) else entry for entry in losses),
    ]:
        clf = FineTunedCNNClassifier(
            architecture,
            weights=None,
            layer=EMBEDDING_LAYER,
            image_shape=image_shape,
            dropout=0.3,
            epochs=0,
            fine_tune_epochs=ADAPTATION_EPOCHS,
            fine_tune_learning_rate=1e-3,
            unfreeze=1.0,
            domain_loss=loss,
            domain_loss_weight=weight,
            target_loss=None,
            random_state=random_state,
        )
        if weight == 0.0:
            name = "CNN trained on source + unlabeled target, no domain loss"
        else:
            given = "" if weight == "auto" else f", weight {weight}"
            name = f"Same CNN with a domain loss ({names[loss]}{given})"
        estimators.append((name, clf))
    return estimators


def deep_adaptation_rows(Xs, ys, Xt, Xt_test, yt_test, image_shape, losses=("mmd",), random_state=0):
    """Target accuracy of deep domain adaptation without target labels, per domain loss.

    Each estimator of :func:`deep_adaptation_estimators` (the first without domain loss) is
    fitted on the labeled source images and the unlabeled target images stacked with
    ``y == -1``, then scored on the given target images.

    Parameters
    ----------
    Xs, ys : array-like
        Labeled source images and labels.
    Xt : array-like
        Unlabeled target images (their labels are not used).
    Xt_test, yt_test : array-like
        Target images to score on.
    image_shape : tuple of int
        Shape of one image, e.g. ``(8, 8)``.
    losses : sequence of {"mmd", "coral", "adversarial"} or (loss, weight), default=("mmd",)
        The domain losses, each at its default weight or at the weight paired with it.
    random_state : int, default=0

    Returns
    -------
    rows : list of (str, float)
        Method description and target accuracy.
    """
    from .._domains import stack_domains

    X, y = stack_domains(Xs, ys, Xt)
    estimators = deep_adaptation_estimators(len(np.unique(ys)), image_shape, losses, random_state)
    return [(name, accuracy_score(yt_test, clf.fit(X, y).predict(Xt_test))) for name, clf in estimators]
