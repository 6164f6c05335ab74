"""Inference through LiteRT (TensorFlow Lite) and its XNNPACK CPU kernels.

- :func:`litert_available` says whether a LiteRT interpreter can be imported: the
  ``ai-edge-litert`` package (``pip install ai-edge-litert``) or, failing that,
  ``tf.lite.Interpreter``, which TensorFlow 2.21 still ships (deprecated);
- :func:`convert_to_litert` converts a Keras model, or any function of one batch traced by
  TensorFlow, to a LiteRT flatbuffer: float32, or quantized after training (int8 weights
  with ``quantization="dynamic"``, int8 weights and activations calibrated on a
  representative set with ``quantization="int8"``); operations LiteRT cannot run raise
  :class:`LiteRTConversionError`;
- :class:`LiteRTRunner` runs batches of a flatbuffer with the XNNPACK delegate on the
  machine's cores; it pickles as the flatbuffer bytes (no reconversion after loading);
- :func:`resolve_engine` is the rule that picks the engine of an ``engine="auto"`` call (never
  a quantized one: see ``QUANTIZED_ENGINES``), and
  :func:`litert_runner` converts for an estimator, falling back to Keras with one
  :class:`LiteRTFallbackWarning` where the network cannot run on LiteRT.

The ``ai-edge-litert`` package is imported only when an interpreter is first needed.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from ._runtime import dask_worker_threads

__all__ = [
    "AUTO_MIN_VALUES",
    "ENGINES",
    "QUANTIZED_ENGINES",
    "REPRESENTATIVE_SIZE",
    "LiteRTConversionError",
    "LiteRTFallbackWarning",
    "LiteRTRunner",
    "RUNNER_VALUES_PER_CALL",
    "convert_to_litert",
    "default_num_threads",
    "litert_available",
    "litert_runner",
    "representative_indices",
    "resolve_engine",
]

#: ``engine="auto"`` converts a network for LiteRT from calls whose images hold this many
#: input values on: images x height x width x channels at the network's input (891 images
#: at 224 x 224 x 3, 43691 at 32 x 32 x 3); a network already converted is always used.
#: Break-even = conversion time / (Keras seconds per image - LiteRT seconds per image),
#: measured by ``benchmarks/extraction.py --engines`` and ``--defaults`` on 2 shared cores
#: (load average 5-13): MobileNetV2 224 px 81-173 images (12-26 M values; conversion 7-10 s),
#: EfficientNetB0 224 px 157-227 (24-34 M; 15-30 s), ResNet50 224 px 591-689 (89-104 M;
#: 43-68 s), a small CNN at 32 px 1217-7829 (4-24 M; 0.3-1.1 s). In images the break-evens
#: span 81-7829, as the gain per image grows with the input size and the conversion does
#: not: one count of images would convert small images at a loss or large ones too late.
#: In input values they span 4-104 M; the rule is the largest, rounded up to a power of 2.
AUTO_MIN_VALUES = 2**27

#: Input values per interpreter call: the runner's batch is the largest power of 2, at most 8,
#: whose rows hold at most this many values (8 images at 96 x 96 x 3). Measured with
#: XNNPACK on 2 cores: 8 images per call beat 1 by 1.2-2.1x at 64 and 96 px, where one
#: image leaves small layers and per-call costs to amortise; at 224 px one image per call
#: was 2x faster than 8 (MobileNetV2), whose activations no longer stay in the caches;
#: batch 32 was slower than 8 on a small CNN at 32 px.
RUNNER_VALUES_PER_CALL = 8 * 96 * 96 * 3
_MAX_BATCH = 8

#: The values of the estimators' ``engine`` parameter.
ENGINES = ("auto", "keras", "litert", "litert-dynamic", "litert-int8")

#: The quantized engines and their :func:`convert_to_litert` quantization. ``"auto"`` never
#: picks them: quantization changes the features (by design, unlike the float engine, whose
#: features agree with Keras within 1e-4), so only an explicit choice may trade accuracy for
#: speed. ``benchmarks/quantized.py`` is the check a change of that rule would need to pass:
#: at least 2x the float interpreter's images per second with at most 1 point of downstream
#: accuracy lost on Office-31. It fails on 2 shared AVX2 cores (no 8-bit dot-product
#: instructions), MobileNetV2 at 224 px, one image per call: full integer 0.95-1.23x the
#: float interpreter in three runs (XNNPACK runs its int8 kernels: 0.09x without them),
#: dynamic range 0.46-0.64x (its hybrid kernels are not XNNPACK's); accuracy within 0.5
#: point with a trained backbone (CIFAR-10 CNN, 32 px).
QUANTIZED_ENGINES = {"litert-dynamic": "dynamic", "litert-int8": "int8"}

#: Images of the representative set of ``engine="litert-int8"``: at most this many rows seen
#: at ``fit``, drawn without replacement (see :func:`representative_indices`). The converter
#: records the range of every activation over them; 100 images is TensorFlow's advice.
REPRESENTATIVE_SIZE = 100

_INSTALL = "pip install ai-edge-litert"
_QUANTIZATIONS = (None, "dynamic", "int8")


class LiteRTConversionError(ValueError):
    """The network cannot be converted to, or run by, LiteRT's built-in operations."""


class LiteRTFallbackWarning(UserWarning):
    """``engine="auto"`` runs the Keras path because LiteRT cannot run the network."""


@functools.cache
def _interpreter_class():
    """LiteRT's ``Interpreter`` class, ``tf.lite.Interpreter`` without it, or None."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return getattr(getattr(tf, "lite", None), "Interpreter", None)
    return Interpreter


def litert_available() -> bool:
    """Whether a LiteRT interpreter can be imported.

    Returns
    -------
    available : bool
        True with the ``ai-edge-litert`` package, or with a TensorFlow that still ships
        ``tf.lite.Interpreter``.

    Examples
    --------
    >>> from skltransfer.keras._litert import litert_available
    >>> isinstance(litert_available(), bool)
    True
    """
    return _interpreter_class() is not None


def _new_interpreter(flatbuffer: bytes, num_threads: int):
    interpreter_class = _interpreter_class()
    if interpreter_class is None:
        raise ImportError(
            f"Running a network with LiteRT needs a LiteRT interpreter. Install it with: {_INSTALL}"
        )
    with warnings.catch_warnings():
        # tf.lite.Interpreter announces its move to ai-edge-litert on every construction
        warnings.filterwarnings("ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated")
        return interpreter_class(model_content=flatbuffer, num_threads=num_threads)


def default_num_threads() -> int:
    """Threads for one interpreter: the thread budget of this process, else its cores.

    Inside a Dask worker, the worker's thread count; else ``OMP_NUM_THREADS`` when it is set
    (joblib sets it to each worker's share of the cores); else the cores this process may
    run on (its CPU affinity where the system reports it, else ``os.cpu_count()``).
    """
    budget = dask_worker_threads()
    if budget:
        return budget
    variable = os.environ.get("OMP_NUM_THREADS", "")
    if variable.isdigit() and int(variable) > 0:
        return int(variable)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def convert_to_litert(
    model, *, input_shape=None, dtype: str = "float32", quantization=None, representative=None
) -> bytes:
    """Convert a Keras model, or a function of one batch, to a LiteRT flatbuffer.

    The model (called with ``training=False``) or function is traced by TensorFlow for
    batches of any size, its variables are frozen into constants, and the graph is
    converted with LiteRT's built-in operations only (no TensorFlow fallback operations,
    which LiteRT's own interpreter cannot run): in float32 by default, or quantized after
    training. Inputs and outputs stay in ``dtype`` and float32 whatever the quantization.

    Parameters
    ----------
    model : keras.Model or callable
        A model with one input and one output, or a function mapping a batch tensor to one
        tensor (Keras models, ``keras.ops`` and ``tf`` operations may be used in it).
    input_shape : tuple of int, default=None
        Shape of one input sample; default: the model's input shape without the batch axis
        (required for a function).
    dtype : {"float32", "uint8"}, default="float32"
        Input dtype of the converted network.
    quantization : {None, "dynamic", "int8"}, default=None
        None: float32 weights and activations. ``"dynamic"``: dynamic-range quantization,
        weights stored in int8 and activations quantized on the fly by the kernels that
        support it (no representative set). ``"int8"``: full-integer quantization, int8
        weights (per channel) and activations, their ranges recorded over
        ``representative``; an operation without an int8 kernel stays in float32, between
        a dequantization and a quantization.
    representative : ndarray of shape (n, *input_shape), default=None
        Required with ``quantization="int8"``: inputs like those the network will see
        (e.g. up to ``REPRESENTATIVE_SIZE`` training images), fed one row at a time.

    Returns
    -------
    flatbuffer : bytes
        To be run by :class:`LiteRTRunner`.

    Raises
    ------
    LiteRTConversionError
        When the network uses operations LiteRT cannot run (the converter's message names
        them), or cannot quantize.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from skltransfer.keras._litert import LiteRTRunner, convert_to_litert
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> runner = LiteRTRunner(convert_to_litert(model), num_threads=1)
    >>> x = np.ones((3, 4), dtype=np.float32)
    >>> bool(np.allclose(runner(x), model.predict(x, verbose=0), atol=1e-5))
    True
    """
    from tensorflow.lite.python.convert_phase import ConverterError
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if quantization not in _QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {_QUANTIZATIONS}; got {quantization!r}.")
    if quantization == "int8":
        if representative is None or len(representative) == 0:
            raise ValueError("quantization='int8' needs a representative set of at least one input row.")
        representative = np.asarray(representative, dtype=dtype)
    if isinstance(model, keras.Model):
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(
                f"convert_to_litert converts models with one input and one output; {model.name!r} "
                f"has {len(model.inputs)} inputs and {len(model.outputs)} outputs."
            )
        if input_shape is None:
            input_shape = tuple(model.inputs[0].shape[1:])
        network = model

        def fn(x):
            return network(x, training=False)

    elif callable(model):
        if input_shape is None:
            raise ValueError("convert_to_litert needs input_shape to convert a function.")
        fn = model
    else:
        raise TypeError(
            f"convert_to_litert converts a keras.Model or a callable, got {type(model).__name__}."
        )
    spec = tf.TensorSpec((None, *input_shape), tf.as_dtype(np.dtype(dtype)))
    concrete = tf.function(fn, autograph=False).get_concrete_function(spec)
    if not isinstance(concrete.structured_outputs, tf.Tensor):
        raise ValueError("convert_to_litert converts functions returning one tensor.")
    frozen = convert_variables_to_constants_v2(concrete)
    # An empty module as the trackable object selects the converter's current path.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], tf.Module())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "int8":

        def rows():
            for row in representative:
                yield [row[None]]

        converter.representative_dataset = rows
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the calibrator's notes on ops it leaves in float
            return converter.convert()
    except (ConverterError, RuntimeError) as e:
        raise LiteRTConversionError(f"LiteRT cannot run this network: {e}") from e


def representative_indices(n_rows: int, random_state=None, size: int = REPRESENTATIVE_SIZE) -> np.ndarray:
    """The rows of a fit that calibrate ``engine="litert-int8"``: at most ``size``, sorted.

    Drawn without replacement by a generator seeded with ``random_state`` when it is an
    int, else with 0: never from a shared random state, so the draw changes nothing else
    of the fit, and the same rows give the same set.

    Parameters
    ----------
    n_rows : int
        Rows seen at ``fit``.
    random_state : int, RandomState instance or None, default=None
    size : int, default=REPRESENTATIVE_SIZE

    Returns
    -------
    indices : ndarray of int, sorted, of length ``min(n_rows, size)``

    Examples
    --------
    >>> from skltransfer.keras._litert import representative_indices
    >>> len(representative_indices(1000)), representative_indices(3).tolist()
    (100, [0, 1, 2])
    """
    seed = int(random_state) if isinstance(random_state, (int, np.integer)) else 0
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=size, replace=False))


def _rule_batch(row_shape) -> int:
    """The default rows per call for rows of this shape (see ``RUNNER_VALUES_PER_CALL``)."""
    values = int(np.prod(row_shape))
    if values <= 0:  # a free dimension: the size of a row is unknown
        return 1
    batch = 1
    while batch < _MAX_BATCH and 2 * batch * values <= RUNNER_VALUES_PER_CALL:
        batch *= 2
    return batch


class LiteRTRunner:
    """Run a LiteRT flatbuffer on batches, with the XNNPACK delegate on the machine's cores.

    The interpreter is built on first use (XNNPACK is LiteRT's default CPU delegate) with
    its input resized to ``batch_size`` rows; a call runs the rows in chunks of that size
    and returns the outputs as float32, in the order of the rows. A smaller last chunk
    resizes the input for itself and back (measured: 9 rows at batch 8 cost no more than
    9 images, the weights are not packed again).

    The runner pickles as its flatbuffer and ``num_threads``: the interpreter is rebuilt
    after loading, never the conversion. One interpreter serves all the threads of a
    process through a lock: calls from several threads run one after the other, each on
    ``num_threads`` threads, so they do not oversubscribe the cores.

    Parameters
    ----------
    flatbuffer : bytes
        A flatbuffer with one input and one output, e.g. from :func:`convert_to_litert`.
    num_threads : int, default=None
        Interpreter threads; None: the thread budget of the process where it runs (a Dask
        worker's thread count, ``OMP_NUM_THREADS`` when set, else the available cores).
    batch_size : int, default=None
        Rows per interpreter call; None: the largest power of 2, at most 8, whose rows hold
        at most ``RUNNER_VALUES_PER_CALL`` values (1 for images of 224 x 224 x 3, 8 for
        96 x 96 x 3 and smaller), the fastest in the measurements.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from skltransfer.keras._litert import LiteRTRunner, convert_to_litert
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])
    >>> runner = LiteRTRunner(convert_to_litert(model))
    >>> runner(np.zeros((5, 8, 8, 3), dtype=np.float32)).shape
    (5, 6, 6, 2)
    """

    def __init__(
        self, flatbuffer: bytes, num_threads: int | None = None, batch_size: int | None = None
    ) -> None:
        self.flatbuffer = bytes(flatbuffer)
        self.num_threads = num_threads
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._interpreter = None

    def __getstate__(self):
        return {"flatbuffer": self.flatbuffer, "num_threads": self.num_threads, "batch_size": self.batch_size}

    def __setstate__(self, state):
        self.__init__(**state)

    def load(self) -> LiteRTRunner:
        """Build the interpreter now rather than on the first call (errors show here)."""
        with self._lock:
            self._build()
        return self

    def _build(self):
        """The interpreter (built on first use), its input and output details."""
        if self._interpreter is None:
            threads = self.num_threads if self.num_threads is not None else default_num_threads()
            interpreter = _new_interpreter(self.flatbuffer, threads)
            inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
            if len(inputs) != 1 or len(outputs) != 1:
                raise ValueError(
                    f"LiteRTRunner runs networks with one input and one output; this one has "
                    f"{len(inputs)} inputs and {len(outputs)} outputs."
                )
            self._rows = 0
            self._interpreter, self._input, self._output = interpreter, inputs[0], outputs[0]
            self._batch = self.batch_size or _rule_batch(inputs[0]["shape_signature"][1:])
        return self._interpreter

    def _resize(self, rows: int) -> None:
        if rows != self._rows:
            shape = (rows, *self._input["shape_signature"][1:])
            self._interpreter.resize_tensor_input(self._input["index"], shape)
            self._interpreter.allocate_tensors()
            self._rows = rows

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input row (-1 for a free dimension)."""
        with self._lock:
            self._build()
            return tuple(int(d) for d in self._input["shape_signature"][1:])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The network's float32 output for the rows of ``X``.

        Parameters
        ----------
        X : ndarray of shape (n, *input_shape)

        Returns
        -------
        out : ndarray of shape (n, *output_shape) and dtype float32
        """
        with self._lock:
            interpreter = self._build()
            X = np.asarray(X, dtype=self._input["dtype"])
            expected = tuple(int(d) for d in self._input["shape_signature"][1:])
            if X.ndim != len(expected) + 1 or any(
                e not in (-1, d) for e, d in zip(expected, X.shape[1:], strict=True)
            ):
                raise ValueError(
                    f"The network converted for LiteRT takes rows of shape {expected}; got an array "
                    f"of shape {X.shape}."
                )
            outputs = []
            for start in range(0, len(X), self._batch):
                chunk = X[start : start + self._batch]
                self._resize(len(chunk))
                interpreter.set_tensor(self._input["index"], chunk)
                interpreter.invoke()
                outputs.append(interpreter.get_tensor(self._output["index"]).astype(np.float32, copy=False))
            if not outputs:
                self._resize(1)
                shape = interpreter.get_output_details()[0]["shape"][1:]
                return np.empty((0, *shape), dtype=np.float32)
            return np.concatenate(outputs)


def resolve_engine(engine: str, n_values: int, *, state=None) -> str:
    """The engine of one inference call: ``"keras"`` or a LiteRT engine.

    - ``"keras"``: always the Keras path;
    - ``"litert"``, ``"litert-dynamic"``, ``"litert-int8"``: that engine; an ``ImportError``
      when no LiteRT interpreter is installed, and the earlier conversion error when
      ``state`` holds one;
    - ``"auto"``: ``"litert"`` (float32, never a quantized engine) when an interpreter is
      installed and either the network is already converted (``state`` is a
      :class:`LiteRTRunner`) or the call's images hold at least ``AUTO_MIN_VALUES`` input
      values, enough to repay the conversion; the Keras path otherwise, and for good once
      the conversion failed (``state`` is a :class:`LiteRTConversionError`).

    Parameters
    ----------
    engine : {"auto", "keras", "litert", "litert-dynamic", "litert-int8"}
    n_values : int
        Input values of this call: images x height x width x channels at the network's input.
    state : LiteRTRunner, LiteRTConversionError or None, default=None
        What :func:`litert_runner` returned for this network and engine before, if anything.

    Returns
    -------
    engine : {"keras", "litert", "litert-dynamic", "litert-int8"}

    Examples
    --------
    >>> from skltransfer.keras._litert import resolve_engine
    >>> resolve_engine("auto", 16 * 224 * 224 * 3)
    'keras'
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}.")
    if engine == "keras":
        return "keras"
    if engine != "auto":
        if not litert_available():
            raise ImportError(f"engine={engine!r} needs a LiteRT interpreter. Install it with: {_INSTALL}")
        if isinstance(state, LiteRTConversionError):
            raise state
        return engine
    if isinstance(state, LiteRTRunner):
        return "litert"
    if isinstance(state, LiteRTConversionError) or n_values < AUTO_MIN_VALUES:
        return "keras"  # decided without importing LiteRT: small calls pay nothing
    return "litert" if litert_available() else "keras"


def litert_runner(
    engine: str, convert: Callable[[], bytes], *, num_threads: int | None = None
) -> LiteRTRunner | LiteRTConversionError:
    """Convert a network and check that LiteRT runs it; fall back to Keras under ``"auto"``.

    Parameters
    ----------
    engine : {"auto", "litert", "litert-dynamic", "litert-int8"}
        The engine asked for: with a LiteRT engine a failure raises; with ``"auto"`` it warns
        once with a :class:`LiteRTFallbackWarning` naming the reason and returns the error,
        which the caller keeps as the ``state`` of :func:`resolve_engine` (Keras from then
        on, without trying or warning again).
    convert : callable
        Returns the flatbuffer, e.g. ``lambda: convert_to_litert(model)``.
    num_threads : int, default=None
        Passed to :class:`LiteRTRunner`.

    Returns
    -------
    runner : LiteRTRunner or LiteRTConversionError

    Examples
    --------
    >>> import keras
    >>> from skltransfer.keras._litert import convert_to_litert, litert_runner
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> type(litert_runner("auto", lambda: convert_to_litert(model))).__name__
    'LiteRTRunner'
    """
    try:
        runner = LiteRTRunner(convert(), num_threads=num_threads)
        try:
            runner.load()  # the runtime may lack an operation the converter emitted
        except (RuntimeError, ValueError) as e:
            raise LiteRTConversionError(f"LiteRT cannot run the converted network: {e}") from e
    except LiteRTConversionError as e:
        if engine != "auto":
            raise
        from ..utils._warnings import warn_at_caller

        warn_at_caller(f"engine='auto' runs the Keras path: {e}", LiteRTFallbackWarning)
        return e
    return runner
