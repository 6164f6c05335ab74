"""Saving and loading the networks of the Keras estimators.

Fitted networks are pickled as ``.keras`` archives (architecture and weights, never traced
or compiled functions): :class:`KerasStateMixin` does it for the attributes an estimator
names, and drops its :class:`~skltransfer.keras._inference.Runtime` (compiled predictors,
folded inference copies), which is rebuilt on first use after loading.

Classes that Keras cannot find by name when it loads an archive (a subclassed
``keras.Model`` or a custom layer without ``keras.saving.register_keras_serializable``)
travel beside the archive: a copy of a model is loaded with the model's own classes, and a
pickle holds them by reference, as it holds any Python class.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
import warnings
from typing import ClassVar

import keras

from ._inference import Runtime
from ._runtime import configure_threads

__all__ = [
    "KerasStateMixin",
    "copy_model",
    "load_keras_model",
    "model_from_bytes",
    "model_to_bytes",
    "unregistered_classes",
]


def load_keras_model(path):
    """Load a saved ``.keras`` model (without compiling it); the error names the path."""
    if not os.path.isfile(path):
        raise ValueError(f"No saved Keras model at {os.fspath(path)!r} (base_model).")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:
        hint = (
            " Its classes of your own must be registered (decorated with "
            "@keras.saving.register_keras_serializable()) and imported before fitting; or pass the "
            "model object as base_model."
            if "Could not locate" in str(e)
            else ""
        )
        raise ValueError(f"Cannot load the Keras model saved at {os.fspath(path)!r}: {e}{hint}") from e


def model_to_bytes(model) -> bytes:
    """The ``.keras`` archive (architecture and weights) of ``model``."""
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d, "model.keras")
        model.save(path)
        return path.read_bytes()


def model_from_bytes(blob: bytes, custom_objects: dict | None = None):
    """The model stored by :func:`model_to_bytes`, its unregistered classes in ``custom_objects``."""
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d, "model.keras")
        path.write_bytes(blob)
        return keras.saving.load_model(path, custom_objects=custom_objects, compile=False)


def unregistered_classes(model) -> dict:
    """``{name: class}`` of the classes in ``model`` that Keras cannot find by name when loading.

    Subclassed models and custom layers (the model itself and every layer in it) defined
    outside Keras and KerasHub and not registered with
    ``keras.saving.register_keras_serializable``.
    """
    classes = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        cls = type(layer)
        name = keras.saving.get_registered_name(cls)
        if keras.saving.get_registered_object(name) is None and cls.__module__.split(".")[0] not in (
            "keras",
            "keras_hub",
        ):
            classes[name] = cls
    return classes


def copy_model(model):
    """A private copy of ``model`` through its ``.keras`` archive, subclassed models included.

    Raises
    ------
    ValueError
        If Keras cannot save or rebuild the model; the message says what to give it.
    """
    try:
        with warnings.catch_warnings():  # a model built later, from the samples' shape
            warnings.filterwarnings("ignore", "You are saving a model that has not yet been built")
            blob = model_to_bytes(model)
        return model_from_bytes(blob, unregistered_classes(model))
    except Exception as e:
        name, reason = type(model).__name__, " ".join(str(e).split())
        raise ValueError(
            f"base_model ({name}) cannot be saved and rebuilt by Keras, which is how the estimators copy "
            f"and pickle it: give {name} (and its custom layers) a get_config() returning the arguments "
            f"of its __init__, or pass a functional or Sequential model. Keras says: {reason}"
        ) from e


class _ConfigureThreadsFirst:
    """Unpickles as :func:`~skltransfer.keras._runtime.configure_threads`.

    First in a pickled estimator's state, so that loading it (e.g. in a joblib or Dask
    worker) sets TensorFlow's thread counts before any Keras object starts its runtime.
    """

    def __reduce__(self):
        return (configure_threads, ())


class KerasStateMixin:
    """Pickle the fitted Keras models of an estimator as ``.keras`` bytes.

    Attributes named in ``_keras_models`` (default ``("model_",)``), and any other attribute
    holding a ``keras.Model`` (a ``base_model`` parameter), are saved as ``.keras``
    archives (architecture and weights, no optimizer); the estimator's
    :class:`~skltransfer.keras._inference.Runtime`, ``_runtime``, is dropped and rebuilt on
    first use. The models' unregistered classes (see :func:`unregistered_classes`) are
    pickled with them, by reference.
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
        blobs, classes = {}, {}
        models = [name for name, value in state.items() if isinstance(value, keras.Model)]
        for name in dict.fromkeys([*self._keras_models, *models]):  # e.g. model_ and base_model
            model = state.pop(name, None)
            if model is not None:
                blobs[name] = model_to_bytes(model)
                classes.update(unregistered_classes(model))
        if classes:
            state["_keras_custom_objects"] = classes
        return {"_configure_threads": _ConfigureThreadsFirst(), **state, "_keras_model_bytes": blobs}

    def __setstate__(self, state):
        state = dict(state)
        state.pop("_configure_threads", None)
        blobs = state.pop("_keras_model_bytes", {})
        classes = state.pop("_keras_custom_objects", None)
        super().__setstate__(state)
        for name, blob in blobs.items():
            setattr(self, name, model_from_bytes(blob, classes))
