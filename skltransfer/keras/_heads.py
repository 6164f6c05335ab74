"""Network pieces of :class:`FineTunedCNNClassifier`: input layer, augmentation, pooling, head,
and the two-domain training graph of the head.

Classes that subclass Keras types are created on first use (:func:`image_preprocessing_class`),
so importing this module does not import TensorFlow.
"""

from __future__ import annotations

import functools
import math

from ._base import require_keras, scoped_seed
from .applications import get_application
from .images import adapt_batch

__all__ = [
    "AUGMENTATIONS",
    "adaptation_model",
    "augmentation_layers",
    "build_head",
    "image_preprocessing_class",
    "pooling_layer",
    "set_unfrozen",
    "unfrozen_count",
]

_PURPOSE = "FineTunedCNNClassifier"

#: Augmentations available by name: name -> (Keras layer class, positional arguments).
AUGMENTATIONS = {
    "flip": ("RandomFlip", ("horizontal",)),
    "rotation": ("RandomRotation", (0.1,)),
    "zoom": ("RandomZoom", (0.1,)),
    "translation": ("RandomTranslation", (0.1, 0.1)),
    "contrast": ("RandomContrast", (0.2,)),
}


@functools.cache
def image_preprocessing_class():
    """The ``skltransfer>ImagePreprocessing`` layer class, registered for ``.keras`` loading.

    The layer casts raw pixels to float32, repeats grayscale to the network's channels,
    resizes (bilinear) to the network's input size and applies the named application's own
    ``preprocess_input``, so that a saved classifier network takes raw images.
    """
    keras = require_keras(_PURPOSE)

    @keras.saving.register_keras_serializable(package="skltransfer", name="ImagePreprocessing")
    class ImagePreprocessing(keras.layers.Layer):
        def __init__(self, size, channels, application=None, **kwargs):
            super().__init__(**kwargs)
            self.size = (int(size[0]), int(size[1]))
            self.channels = int(channels)
            self.application = application

        def call(self, x):
            x = adapt_batch(keras.ops.cast(x, "float32"), size=self.size, channels=self.channels)
            if self.application is not None:
                x = get_application(self.application).preprocess_input(x)
            return x

        def compute_output_shape(self, input_shape):
            return (input_shape[0], *self.size, self.channels)

        def get_config(self):
            config = super().get_config()
            config.update(size=list(self.size), channels=self.channels, application=self.application)
            return config

    return ImagePreprocessing


def augmentation_layers(augmentation, seed: int) -> list:
    """Fresh, seeded Keras layers for ``augmentation`` (names or layer objects).

    Layer objects are rebuilt from their config, so the estimator's parameter is never
    modified; names are looked up in :data:`AUGMENTATIONS`.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or an entry that is neither
        a name nor a Keras layer.
    """
    keras = require_keras(_PURPOSE)
    entries = [augmentation] if isinstance(augmentation, str) else list(augmentation or ())
    layers = []
    with scoped_seed(seed):
        for i, entry in enumerate(entries):
            if isinstance(entry, str):
                if entry not in AUGMENTATIONS:
                    raise ValueError(
                        f"Unknown augmentation {entry!r} (augmentation). Valid names: "
                        f"{', '.join(sorted(AUGMENTATIONS))}; or pass Keras preprocessing layers."
                    )
                cls_name, args = AUGMENTATIONS[entry]
                layers.append(getattr(keras.layers, cls_name)(*args, seed=seed + i, name=f"augment_{entry}"))
            elif isinstance(entry, keras.layers.Layer):
                layers.append(type(entry).from_config(entry.get_config()))
            else:
                raise ValueError(
                    f"augmentation entries must be names ({', '.join(sorted(AUGMENTATIONS))}) or Keras "
                    f"layers; got {entry!r}."
                )
    return layers


def pooling_layer(feature_rank: int, pooling):
    """Global pooling (``"avg"``/``"max"``) or flattening (None) of a 4-D feature map, else None."""
    if feature_rank <= 2:
        return None
    layers = require_keras(_PURPOSE).layers
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="pooling")
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="pooling")
    return layers.Flatten(name="pooling")


def build_head(
    n_features: int, n_classes: int, *, hidden_units: int, dropout: float, l1: float, l2: float, seed
):
    """The classification head: [Dense(hidden_units, relu)] -> [Dropout] -> Dense(softmax).

    L1/L2 penalties apply to the kernels of the dense layers. Initial weights and dropout
    masks are seeded by ``seed``.
    """
    keras = require_keras(_PURPOSE)
    layers = keras.layers
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    with scoped_seed(seed):
        inputs = keras.Input((n_features,), name="features")
        x = inputs
        if hidden_units:
            x = layers.Dense(hidden_units, activation="relu", kernel_regularizer=regularizer, name="hidden")(
                x
            )
        if dropout:
            x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
        outputs = layers.Dense(
            n_classes, activation="softmax", kernel_regularizer=regularizer, name="probabilities"
        )(x)
    return keras.Model(inputs, outputs, name="head")


def adaptation_model(head, features, input_shape, domain_layer):
    """The training graph ``[labeled, target] -> probabilities of labeled``, sharing ``head``'s weights.

    ``head`` is a model of :func:`build_head`; ``features`` maps a batch of inputs (images,
    or cached features) to pooled features; ``domain_layer`` (see
    :func:`skltransfer.keras.losses.domain_loss_layer`) adds the domain loss on the adapted
    features of both batches: the output of the head's hidden layer if it has one, else its
    input.
    """
    keras = require_keras(_PURPOSE)
    names = {layer.name for layer in head.layers}
    inputs = [keras.Input(input_shape, name="labeled"), keras.Input(input_shape, name="target")]
    adapted = [features(x) for x in inputs]
    if "hidden" in names:
        adapted = [head.get_layer("hidden")(a) for a in adapted]
    x = domain_layer(adapted)
    if "dropout" in names:
        x = head.get_layer("dropout")(x)
    return keras.Model(inputs, head.get_layer("probabilities")(x), name="domain_adaptation")


def _base_layers(base) -> list:
    keras = require_keras(_PURPOSE)
    return [layer for layer in base.layers if not isinstance(layer, keras.layers.InputLayer)]


def unfrozen_count(base, unfreeze) -> int:
    """How many top layers of ``base`` ``unfreeze`` designates (count, fraction or layer name)."""
    layers = _base_layers(base)
    if isinstance(unfreeze, str):
        names = [layer.name for layer in layers]
        if unfreeze not in names:
            raise ValueError(
                f"The base network has no layer named {unfreeze!r} (unfreeze). Its layers: {names}."
            )
        return len(layers) - names.index(unfreeze)
    if isinstance(unfreeze, float):
        return math.ceil(unfreeze * len(layers))
    return min(int(unfreeze), len(layers))


def set_unfrozen(base, count: int) -> None:
    """Make the top ``count`` layers of ``base`` trainable, except BatchNormalization layers.

    BatchNormalization layers stay frozen and, the base being called with
    ``training=False``, in inference mode (their moving statistics are not updated).
    """
    keras = require_keras(_PURPOSE)
    layers = _base_layers(base)
    base.trainable = count > 0
    for i, layer in enumerate(layers):
        top = i >= len(layers) - count
        layer.trainable = top and not isinstance(layer, keras.layers.BatchNormalization)
