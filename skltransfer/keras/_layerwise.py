"""A Keras network run layer by layer, each layer in the mode chosen for it.

A Keras model passes one ``training`` flag to all its layers. Source-free adaptation and
AdaBN need finer control: the batch normalizations in training mode (normalising with their
batch's statistics) while every other layer stays in inference mode, or the input of one
particular layer. :class:`LayerwiseNetwork` walks nested functional and sequential models and
the backbone's :class:`~skltransfer.keras._layers.InferenceMode` wrapper with Keras' own graph
walk (the one ``keras.models.clone_model`` uses), and :func:`set_batch_statistics` sets the
batch normalizations' moving statistics to those of given images (AdaBN, Li et al. 2016).
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ._layers import InferenceMode

__all__ = [
    "LayerwiseNetwork",
    "adapt_batch_statistics",
    "batch_signature",
    "is_graph",
    "restore_trainable",
    "set_batch_statistics",
    "trainable_flags",
]


def batch_signature(x: np.ndarray) -> tf.TensorSpec:
    """The ``tf.function`` input signature of batches of ``x``'s rows, of any number of rows.

    Without it, a function called on batches of two sizes (the last one shorter) is traced
    twice; a trace costs more than many small batches.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras._layerwise import batch_signature
    >>> batch_signature(np.zeros((10, 8, 8, 3), np.float32))
    TensorSpec(shape=(None, 8, 8, 3), dtype=tf.float32, name=None)
    """
    return tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype))


def is_graph(layer) -> bool:
    """Whether ``layer`` is a functional or sequential model, whose layers can be run one by one."""
    return isinstance(layer, keras.Sequential) or (
        isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth")
    )


def _layer_tree(layer):
    """``layer`` and every layer inside it, containers before their layers (pre-order)."""
    yield layer
    if isinstance(layer, InferenceMode):
        yield from _layer_tree(layer.model)
    elif is_graph(layer):
        for inner in layer.layers:
            if not isinstance(inner, keras.layers.InputLayer):
                yield from _layer_tree(inner)


_TAKES_TRAINING: dict = {}


def _takes_training(layer) -> bool:
    """Whether ``layer.call`` has a ``training`` argument (dropout, batch normalization, ...)."""
    key = type(layer)
    if key not in _TAKES_TRAINING:
        _TAKES_TRAINING[key] = "training" in inspect.signature(layer.call).parameters
    return _TAKES_TRAINING[key]


class LayerwiseNetwork:
    """A network run leaf layer by leaf layer, each in the mode chosen for it.

    A Keras model passes one ``training`` flag to all its layers, and
    :class:`~skltransfer.keras._layers.InferenceMode` (the backbone of a fine-tuned network)
    stops it. Here nested functional and sequential models and ``InferenceMode`` wrappers are
    walked into (with Keras' own graph walk, the one ``keras.models.clone_model`` uses), and
    every *leaf* layer (any other layer) is called with the mode ``training(layer)`` and
    shown to ``on_call`` with its input first: a way to read the input of the output layer
    (SHOT's features) or of each batch normalization (its statistics).

    Parameters
    ----------
    model : keras.Model
        A functional or sequential model of one input; the layers are shared, not copied.
    """

    def __init__(self, model):
        self.model = model
        self.leaves: list = []  # executed leaf layers, in order (set by record)

    def run(self, x, *, training, on_call=None):
        """``model(x)`` with each leaf layer called in the mode ``training(layer)``."""

        def call(layer, *args, **kwargs):
            if isinstance(layer, InferenceMode):
                return walk(layer.model, args[0])
            if is_graph(layer):
                return walk(layer, args[0])
            if on_call is not None:
                on_call(layer, args[0])
            if _takes_training(layer):
                kwargs["training"] = bool(training(layer))
            return layer(*args, **kwargs)

        def walk(model, inputs):
            if isinstance(model, keras.Sequential):
                for layer in model.layers:
                    inputs = call(layer, inputs)
                return inputs
            return model._run_through_graph(inputs, call_fn=call)

        return walk(self.model, x)

    def record(self, x) -> np.ndarray:
        """Run ``x`` in inference mode, recording the executed leaf layers; return the outputs."""
        leaves = []
        outputs = self.run(x, training=lambda layer: False, on_call=lambda layer, _: leaves.append(layer))
        seen = set()
        self.leaves = [layer for layer in leaves if not (id(layer) in seen or seen.add(id(layer)))]
        return keras.ops.convert_to_numpy(outputs)

    @property
    def batch_normalizations(self) -> list:
        """The batch normalizations among the executed leaf layers."""
        return [layer for layer in self.leaves if isinstance(layer, keras.layers.BatchNormalization)]


def trainable_flags(model) -> list:
    """``(layer, trainable)`` of every layer of ``model``, containers first.

    :func:`restore_trainable` sets them back.
    """
    seen, flags = set(), []
    for layer in _layer_tree(model):
        if id(layer) not in seen:
            seen.add(id(layer))
            flags.append((layer, layer.trainable))
    return flags


def restore_trainable(flags) -> None:
    """Set the trainable flags back; a container's flag propagates, so containers come first."""
    for layer, trainable in flags:
        layer.trainable = trainable


def set_batch_statistics(network: LayerwiseNetwork, x: np.ndarray, batch_size: int) -> None:
    """Set each batch normalization's moving mean and variance to the statistics of its input on ``x``.

    One pass over ``x`` with the batch normalizations in training mode (each normalising with
    its batch's statistics, as during adaptation) and every other layer in inference mode;
    each one's input moments are pooled over the batches: the population mean and variance
    per channel, over images and positions (AdaBN's statistics).
    """
    norms = network.batch_normalizations
    if not norms:
        return
    index = {id(layer): i for i, layer in enumerate(norms)}
    for layer in norms:
        layer.trainable = True  # Keras runs a frozen batch normalization in inference mode

    def is_norm(layer):
        return id(layer) in index

    @tf.function(input_signature=[batch_signature(x)], autograph=False)
    def moments(batch):
        found = [None] * len(norms)

        def on_call(layer, inputs):
            if is_norm(layer):
                axis = layer.axis % len(inputs.shape)
                axes = [i for i in range(len(inputs.shape)) if i != axis]
                inputs = ops.cast(inputs, "float32")
                found[index[id(layer)]] = ops.moments(inputs, axes=axes)

        network.run(batch, training=is_norm, on_call=on_call)
        return found

    count, first, second = 0.0, None, None
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        stats = [(np.asarray(m, np.float64), np.asarray(v, np.float64)) for m, v in moments(batch)]
        weight = float(len(batch))
        means = [weight * m for m, _ in stats]
        squares = [weight * (v + m**2) for m, v in stats]
        first = means if first is None else [a + b for a, b in zip(first, means, strict=True)]
        second = squares if second is None else [a + b for a, b in zip(second, squares, strict=True)]
        count += weight
    for layer, total, total_square in zip(norms, first, second, strict=True):
        mean = total / count
        variance = np.maximum(total_square / count - mean**2, 0.0)
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(variance.astype(np.float32))


def adapt_batch_statistics(model, x: np.ndarray, batch_size: int) -> int:
    """AdaBN: the batch normalizations of ``model`` take the statistics of the images ``x``.

    Parameters
    ----------
    model : keras.Model
        Functional or sequential; its trainable flags are left as they were.
    x : ndarray
        Inputs of ``model``.
    batch_size : int

    Returns
    -------
    n_layers : int
        Number of batch normalizations updated (0: nothing to adapt).
    """
    network, flags = LayerwiseNetwork(model), trainable_flags(model)
    try:
        network.record(x[:batch_size])
        set_batch_statistics(network, x, batch_size)
    finally:
        restore_trainable(flags)
    return len(network.batch_normalizations)
