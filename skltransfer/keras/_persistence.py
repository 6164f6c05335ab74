"""Saving and loading the networks of the Keras estimators.

Fitted networks are pickled as ``.keras`` archives (architecture and weights, never traced
or compiled functions): :class:`KerasStateMixin` does it for the attributes an estimator
names, and drops its :class:`~skltransfer.keras._inference.Runtime` (compiled predictors,
folded inference copies), which is rebuilt on first use after loading.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from typing import ClassVar

import keras

from ._inference import Runtime
from ._runtime import configure_threads

__all__ = ["KerasStateMixin", "load_keras_model", "model_from_bytes", "model_to_bytes"]


def load_keras_model(path):
    """Load a saved ``.keras`` model (without compiling it); the error names the path."""
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


def model_from_bytes(blob: bytes):
    """The model stored by :func:`model_to_bytes`."""
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d, "model.keras")
        path.write_bytes(blob)
        return keras.saving.load_model(path, compile=False)


class _ConfigureThreadsFirst:
    """Unpickles as :func:`~skltransfer.keras._runtime.configure_threads`.

    First in a pickled estimator's state, so that loading it (e.g. in a joblib or Dask
    worker) sets TensorFlow's thread counts before any Keras object starts its runtime.
    """

    def __reduce__(self):
        return (configure_threads, ())


class KerasStateMixin:
    """Pickle the fitted Keras models of an estimator as ``.keras`` bytes.

    Attributes named in ``_keras_models`` (default ``("model_",)``) are saved as ``.keras``
    archives (architecture and weights, no optimizer); the estimator's
    :class:`~skltransfer.keras._inference.Runtime`, ``_runtime``, is dropped and rebuilt on
    first use.
    """

    _keras_models: ClassVar[tuple[str, ...]] = ("model_",)

    @property
    def _name(self) -> str:
        return type(self).__name__

    @property
    def _runtime(self) -> Runtime:
        """Compiled predictors and inference copies of the fitted networks, built on first use."""
        runtime = self.__dict__.get("_runtime")
        if runtime is None:
            runtime = self.__dict__["_runtime"] = Runtime()
        return runtime

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        state.pop("_runtime", None)
        blobs = {}
        for name in self._keras_models:
            model = state.pop(name, None)
            if model is not None:
                blobs[name] = model_to_bytes(model)
        return {"_configure_threads": _ConfigureThreadsFirst(), **state, "_keras_model_bytes": blobs}

    def __setstate__(self, state):
        state = dict(state)
        state.pop("_configure_threads", None)
        blobs = state.pop("_keras_model_bytes", {})
        super().__setstate__(state)
        for name, blob in blobs.items():
            setattr(self, name, model_from_bytes(blob))
