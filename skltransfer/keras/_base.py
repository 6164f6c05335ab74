"""Machinery shared by the Keras-backed estimators.

- :func:`require_keras` imports Keras (TensorFlow backend) on first use, sets TensorFlow's
  thread counts for joblib and Dask workers, and turns a missing or broken install into an
  ``ImportError`` that says what to install;
- :func:`derive_seed` and :func:`scoped_seed` make random weight initialisation reproducible
  from ``random_state`` without a lasting change to any global random state;
- :class:`KerasStateMixin` pickles fitted Keras models as ``.keras`` bytes and never pickles
  traced or compiled functions;
- :func:`fold_batch_normalization` gives an inference copy of a model with each batch
  normalization folded into the convolution before it;
- :class:`CompiledPredictor` runs a model through one compiled, fixed-shape function.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import random
import sys
import tempfile
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "CompiledPredictor",
    "KerasStateMixin",
    "derive_seed",
    "fold_batch_normalization",
    "load_keras_model",
    "reinitialize_model",
    "require_keras",
    "scoped_seed",
]

_INSTALL = 'pip install "skltransfer[keras]"'


def _dask_worker_threads() -> int | None:
    """Thread count of the Dask worker(s) of this process; None outside a Dask worker.

    Inside a task, the worker running it. Outside one (a worker unpickles the arguments of
    a task on its event loop, before the task starts) the running workers of the process:
    one in a worker process started by a nanny. ``distributed`` is looked up, never imported.
    """
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return int(distributed.get_worker().state.nthreads)
    except ValueError:  # get_worker's answer outside a task
        # a private registry of distributed's: without it, OMP_NUM_THREADS is the budget
        instances = getattr(distributed.Worker, "_instances", ())
        running = [w for w in instances if getattr(w.status, "name", None) == "running"]
    return sum(int(w.state.nthreads) for w in running) or None


def _configure_threads(tf) -> None:
    """Give TensorFlow the thread budget of this process, if one is set.

    A Dask worker's budget is its own thread count (``nthreads``): its nanny sets
    ``OMP_NUM_THREADS=1`` whatever that count is. joblib's process workers run with
    ``OMP_NUM_THREADS`` set to their share of the cores (``cpu_count() // n_jobs``).
    TensorFlow ignores that variable and would start one thread per core in every worker.
    When there is a budget (a Dask worker's, or ``OMP_NUM_THREADS`` set by joblib or by the
    user) and the TensorFlow runtime is not yet initialised, the intra-op thread count
    follows it and the inter-op count is capped at 2. Otherwise TensorFlow's defaults are
    kept. These counts are process-wide and can only be set before TensorFlow's first
    operation: that is the one global setting made here, and only in that case.
    """
    budget = _dask_worker_threads()
    if budget is None:
        variable = os.environ.get("OMP_NUM_THREADS", "")
        budget = int(variable) if variable.isdigit() else 0
    if budget < 1:
        return
    threading = tf.config.threading
    with contextlib.suppress(RuntimeError):  # the runtime is already initialised: keep it
        if threading.get_intra_op_parallelism_threads() == 0:
            threading.set_intra_op_parallelism_threads(budget)
            threading.set_inter_op_parallelism_threads(min(budget, 2))


def require_keras(purpose: str):
    """Import and return ``keras`` (TensorFlow backend), or raise a helpful ``ImportError``.

    Parameters
    ----------
    purpose : str
        What needs Keras, for the error message (e.g. ``"PretrainedFeatureExtractor"``).

    Returns
    -------
    keras : module
    """
    try:
        import tensorflow as tf

        _configure_threads(tf)
        import keras
    except ImportError as e:
        raise ImportError(
            f"{purpose} needs TensorFlow and Keras 3, which could not be imported ({e}). "
            f"Install them with: {_INSTALL}"
        ) from e
    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            f"{purpose} needs Keras' TensorFlow backend; KERAS_BACKEND is "
            f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before importing keras."
        )
    return keras


def derive_seed(random_state) -> int:
    """An integer seed drawn from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(1, 2**31 - 1))


@contextlib.contextmanager
def scoped_seed(seed: int) -> Iterator[None]:
    """Build Keras layers with reproducible initial weights, leaving global state unchanged.

    Keras initializers and seed generators created without an explicit seed draw one from
    Python's :mod:`random` module when they are constructed. Inside this context that module
    is seeded with ``seed``; its previous state is restored on exit, so nothing outside the
    block observes a change. NumPy's and TensorFlow's global seeds are never touched.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def reinitialize_model(model, random_state, purpose: str):
    """A copy of ``model`` (functional or sequential) with fresh, reproducible initial weights.

    Every layer is rebuilt from its config with each initializer's seed replaced by one drawn
    from ``random_state``, so models whose initializers carry fixed seeds are re-initialised
    too, and the same ``random_state`` gives the same weights.
    """
    keras = require_keras(purpose)
    rng = check_random_state(random_state)

    def reseeded(layer):
        config = layer.get_config()
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict) and "seed" in value.get("config", {}):
                value["config"]["seed"] = int(rng.randint(1, 2**31 - 1))
        return layer.__class__.from_config(config)

    with scoped_seed(derive_seed(rng)):  # initializers given as objects without a config seed
        return keras.models.clone_model(model, clone_function=reseeded, recursive=True)


def load_keras_model(path, purpose: str):
    """Load a saved ``.keras`` model (without compiling it); the error names the path."""
    keras = require_keras(purpose)
    if not os.path.isfile(path):
        raise ValueError(f"No saved Keras model at {os.fspath(path)!r} (base_model).")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:
        raise ValueError(f"Cannot load the Keras model saved at {os.fspath(path)!r}: {e}") from e


def model_to_bytes(model) -> bytes:
    """The ``.keras`` archive (architecture and weights) of ``model``."""
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d, "model.keras")
        model.save(path)
        return path.read_bytes()


def model_from_bytes(blob: bytes, purpose: str):
    """The model stored by :func:`model_to_bytes`."""
    keras = require_keras(purpose)
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d, "model.keras")
        path.write_bytes(blob)
        return keras.saving.load_model(path, compile=False)


class KerasStateMixin:
    """Pickle the fitted Keras models of an estimator as ``.keras`` bytes.

    Attributes named in ``_keras_models`` (default ``("model_",)``) are saved as ``.keras``
    archives (architecture and weights, no optimizer); private attributes named in
    ``_unpicklable`` (compiled functions, caches) are dropped and rebuilt lazily.
    """

    _keras_models: tuple[str, ...] = ("model_",)
    _unpicklable: tuple[str, ...] = ()

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        for name in self._unpicklable:
            state.pop(name, None)
        blobs = {}
        for name in self._keras_models:
            model = state.pop(name, None)
            if model is not None:
                blobs[name] = model_to_bytes(model)
        state["_keras_model_bytes"] = blobs
        return state

    def __setstate__(self, state):
        blobs = state.pop("_keras_model_bytes", {})
        super().__setstate__(state)
        for name, blob in blobs.items():
            setattr(self, name, model_from_bytes(blob, "Unpickling " + type(self).__name__))


def _foldable_convolutions(model) -> dict:
    """``{convolution name: batch normalization}`` for the pairs of ``model`` that fold.

    A pair folds when a ``BatchNormalization`` over the channel axis is called once, on the
    output of a channels-last ``Conv2D`` or ``DepthwiseConv2D`` without activation that is
    called once and feeds nothing else. Layers shared between calls are left alone.
    """
    import keras

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
    import keras

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
    import keras

    from ._layers import InferenceMode

    pairs = _foldable_convolutions(model)
    nested = {}
    for layer in model.layers:
        inner = layer.model if isinstance(layer, InferenceMode) else layer
        if isinstance(inner, keras.Model) and (folded := fold_batch_normalization(inner)) is not inner:
            nested[layer.name] = folded if inner is layer else InferenceMode(folded, name=layer.name)
    if not pairs and not nested:
        return model
    folded_names = {norm.name for norm in pairs.values()}
    from ._layers import FoldedBatchNormalization as placeholder

    def clone(layer):
        if layer.name in pairs:
            return _folded_convolution(layer, pairs[layer.name])
        if layer.name in folded_names:
            return placeholder(name=layer.name)
        return nested.get(layer.name, layer)

    return keras.models.clone_model(model, clone_function=clone)


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
        import tensorflow as tf

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
