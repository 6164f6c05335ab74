"""Inference of the Keras estimators: one compiled, fixed-shape function per input form.

- :func:`fold_batch_normalization` gives an inference copy of a model with each batch
  normalization folded into the convolution before it;
- :class:`CompiledPredictor` runs a function of a batch of images through one compiled,
  fixed-shape graph;
- :class:`Runtime` is what an estimator builds for inference and never pickles (its compiled
  predictors, the folded copies of its networks): the one place a compiled predictor is
  built.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import keras
import numpy as np
import tensorflow as tf

from ._layers import FoldedBatchNormalization, InferenceMode

__all__ = ["CompiledPredictor", "Runtime", "call_in_chunks", "fold_batch_normalization"]


def _foldable_convolutions(model) -> dict:
    """``{convolution name: batch normalization}`` for the pairs of ``model`` that fold.

    A pair folds when a ``BatchNormalization`` over the channel axis is called once, on the
    output of a channels-last ``Conv2D`` or ``DepthwiseConv2D`` without activation that is
    called once and feeds nothing else. Layers shared between calls are left alone.
    """
    layers = keras.layers
    pairs = {}
    for norm in model.layers:
        if type(norm) is not layers.BatchNormalization or len(norm._inbound_nodes) != 1:
            continue
        parents = norm._inbound_nodes[0].parent_nodes
        conv = parents[0].operation if len(parents) == 1 else None
        if (
            type(conv) in (layers.Conv2D, layers.DepthwiseConv2D)
            and conv.data_format == "channels_last"
            and norm.axis in (-1, len(norm.input.shape) - 1)
            and conv.activation is keras.activations.linear
            and not getattr(conv, "lora_enabled", False)
            and len(conv._inbound_nodes) == 1
            and len(conv._outbound_nodes) == 1
        ):
            pairs[conv.name] = norm
    return pairs


def _folded_convolution(conv, norm):
    """A copy of ``conv`` with a bias whose output is ``norm(conv(x))`` at inference."""
    config = conv.get_config()
    config["use_bias"] = True
    folded = conv.__class__.from_config(config)
    folded.build(conv.input.shape)
    scale = 1.0 / np.sqrt(np.asarray(norm.moving_variance, dtype=np.float64) + norm.epsilon)
    if norm.scale:
        scale = scale * np.asarray(norm.gamma, dtype=np.float64)
    bias = np.asarray(conv.bias, dtype=np.float64) if conv.use_bias else 0.0
    bias = (bias - np.asarray(norm.moving_mean, dtype=np.float64)) * scale
    if norm.center:
        bias = bias + np.asarray(norm.beta, dtype=np.float64)
    kernel = np.asarray(conv.kernel, dtype=np.float64)
    # A depthwise kernel is (height, width, in, multiplier); output channel i * multiplier + m.
    depthwise = isinstance(conv, keras.layers.DepthwiseConv2D)
    kernel = kernel * scale.reshape(kernel.shape[-2:] if depthwise else -1)
    folded.set_weights([kernel, bias])
    return folded


def fold_batch_normalization(model):
    """An inference copy of ``model`` with batch normalizations folded into convolutions.

    At inference a ``BatchNormalization`` layer is an affine map per channel; following a
    convolution, it is the same as that convolution with a rescaled kernel and a bias. This
    copy computes the folded pairs (see below) with one convolution instead of a
    convolution followed by the normalization's multiply and add over the whole feature
    map, which TensorFlow's graph optimizer then fuses with the bias and the activation
    into one kernel: a large saving for networks such as MobileNetV2 or ResNet50 where
    every convolution is followed by a normalization. The outputs equal those of
    ``model(x, training=False)`` up to float32 rounding (the folded weights are computed
    in float64).

    Folded are the ``Conv2D`` and ``DepthwiseConv2D`` layers (channels last, no activation)
    whose only consumer is a ``BatchNormalization`` over the channel axis, in ``model`` and
    in the models nested in it (e.g. a backbone inside a classifier); the other layers are
    shared with ``model``, not copied. The copy is for inference only: training it would not
    train ``model``.

    Parameters
    ----------
    model : keras.Model
        A functional or sequential model.

    Returns
    -------
    folded : keras.Model
        ``model`` itself when nothing folds.
    """
    pairs = _foldable_convolutions(model)
    nested = {}
    for layer in model.layers:
        inner = layer.model if isinstance(layer, InferenceMode) else layer
        if isinstance(inner, keras.Model) and (folded := fold_batch_normalization(inner)) is not inner:
            nested[layer.name] = folded if inner is layer else InferenceMode(folded, name=layer.name)
    if not pairs and not nested:
        return model
    folded_names = {norm.name for norm in pairs.values()}

    def clone(layer):
        if layer.name in pairs:
            return _folded_convolution(layer, pairs[layer.name])
        if layer.name in folded_names:
            return FoldedBatchNormalization(name=layer.name)
        return nested.get(layer.name, layer)

    return keras.models.clone_model(model, clone_function=clone)


#: Largest input, in bytes, of one eager call of :func:`call_in_chunks`.
CHUNK_BYTES = 1 << 24


def call_in_chunks(model, x: np.ndarray, rows: int | None = None) -> np.ndarray:
    """``model``'s outputs for the rows of ``x`` in inference mode, by eager calls on chunks.

    ``Model.predict`` costs about 0.15 s a call beyond its computation (its data adapter and
    callbacks), and a trace of its function for every new model: more than a head's
    products on thousands of rows, or a small network on a few hundred images, while an
    eager call costs milliseconds. For networks called once or twice per fit, where a trace
    would not pay for itself.

    Parameters
    ----------
    model : keras.Model
    x : ndarray
    rows : int, default=None
        Rows per call (for images, a batch size that bounds the memory of the activations).
        None: as many as fit in ``CHUNK_BYTES`` of input (for rows of features).

    Examples
    --------
    >>> import keras, numpy as np
    >>> from skltransfer.keras._inference import call_in_chunks
    >>> head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    >>> x = np.random.RandomState(0).rand(5, 3).astype(np.float32)
    >>> bool(np.allclose(call_in_chunks(head, x), head.predict(x, verbose=0), atol=1e-6))
    True
    """
    if rows is None:
        rows = max(1, CHUNK_BYTES // max(1, x[:1].nbytes))
    chunks = [model(x[start : start + rows], training=False) for start in range(0, max(len(x), 1), rows)]
    return np.concatenate([keras.ops.convert_to_numpy(chunk) for chunk in chunks])


class CompiledPredictor:
    """Run a function of a batch of images through one compiled, fixed-shape graph.

    ``fn`` maps a float32 tensor of shape ``(batch_size, *input_shape)`` to a tensor whose
    first axis is the batch. With ``dtype="uint8"`` the graph takes 8-bit pixels and casts
    them to float32 itself, which spares a host-side conversion and copies a quarter of the
    bytes. It is traced once by ``tf.function`` with a fixed input
    signature; :meth:`predict` feeds it full batches, padding the last one with zeros and
    dropping the padded rows from the result. A fixed shape means a single trace and no
    per-call dispatch overhead, which is what makes it faster than ``Model.predict``.

    Parameters
    ----------
    fn : callable
        Tensor in, tensor out (Keras models, keras.ops and tf ops may be used).
    input_shape : tuple of int
        Shape of one input image.
    batch_size : int
    dtype : {"float32", "uint8"}, default="float32"
        Input dtype of the compiled function.

    Attributes
    ----------
    fn : callable
        The function given (e.g. to convert it for another engine).
    output_shape : tuple of int
        Output shape for one batch (traced at construction).
    """

    def __init__(self, fn: Callable, input_shape: tuple[int, ...], batch_size: int, dtype: str = "float32"):
        self.fn = fn
        self.input_shape = tuple(int(d) for d in input_shape)
        self.batch_size = int(batch_size)
        self.dtype = np.dtype(dtype)
        signature = [tf.TensorSpec((self.batch_size, *self.input_shape), tf.as_dtype(self.dtype))]
        graph_fn = fn if self.dtype == np.float32 else (lambda x: fn(tf.cast(x, tf.float32)))
        self._fn = tf.function(graph_fn, input_signature=signature, autograph=False)
        self.output_shape = tuple(self._fn.get_concrete_function().structured_outputs.shape)
        self._buffer = np.zeros((self.batch_size, *self.input_shape), dtype=self.dtype)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """The output for one batch of at most ``batch_size`` images."""
        n = batch.shape[0]
        if n == self.batch_size:
            x = np.asarray(batch, dtype=self.dtype)
        else:
            self._buffer[:n] = batch
            self._buffer[n:] = 0
            x = self._buffer
        return self._fn(x).numpy()[:n]


class Runtime:
    """What an estimator builds for inference and drops on pickling, built on first use.

    Compiled predictors are keyed by what they compute and the input form (e.g.
    ``("features", image_shape, dtype)``); other objects (a folded inference copy of a
    network, the frozen-feature path of a fitted model) by name. An estimator starts a new
    runtime at every ``fit`` and after unpickling.
    """

    def __init__(self):
        self._predictors: dict = {}
        self._objects: dict = {}

    def predictor(
        self,
        key: Hashable,
        fn: Callable,
        input_shape: tuple[int, ...],
        batch_size: int,
        dtype: str = "float32",
    ) -> CompiledPredictor:
        """The compiled predictor of ``fn`` under ``key``, traced on first use."""
        if key not in self._predictors:
            self._predictors[key] = CompiledPredictor(fn, input_shape, batch_size, dtype=dtype)
        return self._predictors[key]

    def get(self, key: Hashable, build: Callable[[], object]):
        """The object under ``key``, ``build()`` on first use."""
        if key not in self._objects:
            self._objects[key] = build()
        return self._objects[key]
