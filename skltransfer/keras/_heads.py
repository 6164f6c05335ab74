"""The trained parts of a fine-tuned network: augmentation, the head, the two-domain training
graph, and which backbone layers fine-tuning unfreezes.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from ._runtime import scoped_seed
from .losses import ConditionalAdversarialLoss, SelfTrainingLoss

__all__ = [
    "AUGMENTATIONS",
    "STRONG_AUGMENTATIONS",
    "adaptation_model",
    "augmentation_layers",
    "build_head",
    "set_unfrozen",
    "standardize_layer",
    "unfrozen_count",
]

#: Augmentations available by name: name -> (Keras layer class, positional arguments).
AUGMENTATIONS = {
    "flip": ("RandomFlip", ("horizontal",)),
    "rotation": ("RandomRotation", (0.1,)),
    "zoom": ("RandomZoom", (0.1,)),
    "translation": ("RandomTranslation", (0.1, 0.1)),
    "contrast": ("RandomContrast", (0.2,)),
}

#: The strong view of self-training (``target_loss="self_training"``): FixMatch's strong
#: augmentation reduced to Keras' geometric and photometric layers, at twice the strength of
#: the named augmentations.
STRONG_AUGMENTATIONS = {
    "translation": ("RandomTranslation", (0.2, 0.2)),
    "zoom": ("RandomZoom", (0.2,)),
    "contrast": ("RandomContrast", (0.4,)),
}


def augmentation_layers(
    augmentation, seed: int, table: dict = AUGMENTATIONS, prefix: str = "augment"
) -> list:
    """Fresh, seeded Keras layers for ``augmentation`` (names or layer objects).

    Layer objects are rebuilt from their config, so the estimator's parameter is never
    modified; names are looked up in ``table`` (default :data:`AUGMENTATIONS`), and the
    layers named ``f"{prefix}_{name}"``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or an entry that is neither
        a name nor a Keras layer.
    """
    entries = [augmentation] if isinstance(augmentation, str) else list(augmentation or ())
    layers = []
    with scoped_seed(seed):
        for i, entry in enumerate(entries):
            if isinstance(entry, str):
                if entry not in table:
                    raise ValueError(
                        f"Unknown augmentation {entry!r} (augmentation). Valid names: "
                        f"{', '.join(sorted(table))}; or pass Keras preprocessing layers."
                    )
                cls_name, args = table[entry]
                layers.append(getattr(keras.layers, cls_name)(*args, seed=seed + i, name=f"{prefix}_{entry}"))
            elif isinstance(entry, keras.layers.Layer):
                layers.append(type(entry).from_config(entry.get_config()))
            else:
                raise ValueError(
                    f"augmentation entries must be names ({', '.join(sorted(AUGMENTATIONS))}) or Keras "
                    f"layers; got {entry!r}."
                )
    return layers


def build_head(
    n_features: int,
    n_outputs: int,
    *,
    mean,
    variance,
    hidden_units: int,
    dropout: float,
    l1: float,
    l2: float,
    seed,
    activation: str | None = "softmax",
    output_name: str = "probabilities",
    rescale=None,
):
    """The head: standardise -> [Dense(hidden_units, relu)] -> [Dropout] -> Dense(activation) [-> rescale].

    The first layer, ``"standardize"`` (:func:`standardize_layer`), standardises with the
    training features' ``mean`` and ``variance`` (constant features get a variance of 1, as in
    scikit-learn's ``StandardScaler``), so every head, and the exported network, sees
    standardised features. The output layer, ``output_name``, has ``n_outputs`` units: a softmax over the
    classes, or linear (``activation=None``) for standardised regression targets, which
    ``rescale=(scale, offset)`` maps back to the targets' units by a final ``Rescaling``
    layer named ``"destandardize"``. L1/L2 penalties apply to the kernels of the dense
    layers. Initial weights and dropout masks are seeded by ``seed``.
    """
    layers = keras.layers
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    with scoped_seed(seed):
        inputs = keras.Input((n_features,), name="features")
        x = standardize_layer(n_features, mean, variance)(inputs)
        if hidden_units:
            x = layers.Dense(hidden_units, activation="relu", kernel_regularizer=regularizer, name="hidden")(
                x
            )
        if dropout:
            x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
        outputs = layers.Dense(
            n_outputs, activation=activation, kernel_regularizer=regularizer, name=output_name
        )(x)
        if rescale is not None:
            outputs = layers.Rescaling(*rescale, name="destandardize")(outputs)
    return keras.Model(inputs, outputs, name="head")


def standardize_layer(n_features: int, mean, variance):
    """The head's first layer, ``"standardize"``: ``(x - mean) / sqrt(variance)``.

    Keras' ``Normalization`` divides by ``max(sqrt(variance), epsilon)`` (``epsilon`` is
    ``keras.config.epsilon()``, 1e-7): features of a smaller scale, such as those of a
    randomly initialised deep network (about 1e-12), would come out squashed to nearly 0.
    When the smallest standard deviation is within a factor 1000 of ``epsilon``, the layer
    is a small model of the same name that first multiplies the features by the power of two
    that brings that standard deviation to about 1 (a ``Rescaling`` named
    ``"feature_scale"``), then normalises them (``"normalize"``); otherwise it is the
    ``Normalization`` itself.

    Parameters
    ----------
    n_features : int
    mean, variance : array-like of shape (n_features,)
        The statistics, in float64 (the variance of tiny features underflows float32).

    Returns
    -------
    layer : keras.layers.Normalization or keras.Model

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras._heads import standardize_layer
    >>> layer = standardize_layer(2, mean=[0.0, 1e-12], variance=[1e-24, 4e-24])
    >>> np.round(np.asarray(layer(np.array([[1e-12, 3e-12]], dtype="float32"))), 4).tolist()
    [[1.0, 1.0]]
    """
    mean, variance = np.asarray(mean, dtype=np.float64), np.asarray(variance, dtype=np.float64)
    smallest = float(np.sqrt(variance.min(initial=1.0)))
    if smallest >= 1e3 * keras.config.epsilon():
        return keras.layers.Normalization(
            mean=mean.astype(np.float32), variance=variance.astype(np.float32), name="standardize"
        )
    scale = 2.0 ** -np.floor(np.log2(smallest))
    inputs = keras.Input((n_features,), name="features")
    scaled = keras.layers.Rescaling(scale, name="feature_scale")(inputs)
    outputs = keras.layers.Normalization(
        mean=(mean * scale).astype(np.float32),
        variance=(variance * scale**2).astype(np.float32),
        name="normalize",
    )(scaled)
    return keras.Model(inputs, outputs, name="standardize")


def adaptation_model(head, features, input_shape, domain_layer=None, target_layer=None, strong_features=None):
    """The training graph ``[labeled, target] -> head output of labeled``, sharing ``head``'s weights.

    ``head`` is a model of :func:`build_head` (or its part up to its output layer, its last
    layer); ``features`` maps a batch of inputs (images, or cached features) to pooled
    features. The *adapted features* of both batches are the output of the head's hidden
    layer if it has one, else its standardised input.

    ``domain_layer`` (a :class:`~skltransfer.keras.losses.DomainLoss`) adds its loss on the
    adapted features of both batches; a
    :class:`~skltransfer.keras.losses.ConditionalAdversarialLoss` also sees the head's
    outputs (class probabilities) of both batches. ``target_layer`` (a
    :class:`~skltransfer.keras.losses.TargetLoss`) adds its loss on the head's outputs of the
    target batch; a :class:`~skltransfer.keras.losses.SelfTrainingLoss` compares them with
    the outputs of a strongly augmented view of the target batch, ``strong_features``
    (inputs to pooled features, like ``features``). Each loss layer returns its first input,
    so that it lies on the path to the model's output.
    """
    names = {layer.name for layer in head.layers}
    inputs = [keras.Input(input_shape, name="labeled"), keras.Input(input_shape, name="target")]

    def adapted(x, view=features):
        a = head.get_layer("standardize")(view(x))
        return head.get_layer("hidden")(a) if "hidden" in names else a

    source, target = adapted(inputs[0]), adapted(inputs[1])
    dropout = head.get_layer("dropout") if "dropout" in names else None

    def output(x):
        return head.layers[-1](x if dropout is None else dropout(x))

    if isinstance(domain_layer, ConditionalAdversarialLoss):
        source = domain_layer([source, target, output(source), output(target)])
    elif domain_layer is not None:
        source = domain_layer([source, target])
    outputs = output(source)
    if isinstance(target_layer, SelfTrainingLoss):
        outputs = target_layer([outputs, output(target), output(adapted(inputs[1], strong_features))])
    elif target_layer is not None:
        outputs = target_layer([outputs, output(target)])
    return keras.Model(inputs, outputs, name="domain_adaptation")


def _trainable_layers(base) -> list:
    """The layers of ``base`` that fine-tuning can train: those with weights, except batch norms."""
    return [
        layer
        for layer in base.layers
        if layer.weights and not isinstance(layer, (keras.layers.InputLayer, keras.layers.BatchNormalization))
    ]


def unfrozen_count(base, unfreeze) -> int:
    """How many of the top trainable layers of ``base`` ``unfreeze`` designates.

    Only layers with weights count (batch normalizations excepted): ``unfreeze=0.2`` is the
    top fifth of the convolutions and dense layers, whatever activations, poolings or
    additions lie between them. A name designates that layer and every trainable layer
    above it.
    """
    layers = _trainable_layers(base)
    if isinstance(unfreeze, str):
        names = [layer.name for layer in base.layers]
        if unfreeze not in names:
            raise ValueError(
                f"The base network has no layer named {unfreeze!r} (unfreeze). Its layers: {names}."
            )
        lowest = names.index(unfreeze)
        return sum(names.index(layer.name) >= lowest for layer in layers)
    if isinstance(unfreeze, float):
        return math.ceil(unfreeze * len(layers))
    return min(int(unfreeze), len(layers))


def set_unfrozen(base, count: int) -> None:
    """Make the top ``count`` trainable layers of ``base`` trainable (see :func:`unfrozen_count`).

    BatchNormalization layers stay frozen and, the base being called with
    ``training=False``, in inference mode (their moving statistics are not updated).
    """
    trainable = _trainable_layers(base)
    top = {id(layer) for layer in trainable[len(trainable) - count :]} if count else set()
    base.trainable = count > 0
    for layer in base.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            layer.trainable = id(layer) in top
