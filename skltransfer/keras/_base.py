"""The base class of the Keras estimators: backbone parameters, image input, engines, feature cache.

:class:`PretrainedFeatureExtractor` and the fine-tuned estimators share the parameters that
say which network computes the features (``base_model``, ``weights``, ``layer``,
``pooling``, ``input_size``, ``preprocessing``), how images come in (``image_shape``), how
they are run, batched and cached (``engine``, ``batch_size``, ``memory``), and ``verbose`` /
``random_state``. This base declares them once, with their constraints, and holds what every
estimator does with them.
"""

from __future__ import annotations

import hashlib
import json
import os
from numbers import Integral
from typing import ClassVar

import keras
import numpy as np
from sklearn.base import BaseEstimator

from ..utils._sklearn_compat import HasMethods, Interval, StrOptions
from . import _litert
from ._backbone import feature_layer, input_ndim, is_saved_model_path, resolve_pooling
from ._feature_cache import FeatureCache, feature_cache, file_digest
from ._persistence import KerasStateMixin, copy_model
from .applications import normalize_name
from .images import Images, as_images

__all__ = ["KerasImageEstimator"]


def _model_digest(model) -> str:
    """SHA-256 of a model's architecture (its config) and weights: stable across saves."""
    digest = hashlib.sha256(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


class KerasImageEstimator(KerasStateMixin, BaseEstimator):
    """The estimators built on a Keras backbone (not public).

    Subclasses write their constraints as ``{**KerasImageEstimator._parameter_constraints,
    ...}``. What an estimator builds for inference lives in its :attr:`_runtime`, dropped on
    pickling; LiteRT conversions live in ``_litert`` and travel with pickles.
    """

    _parameter_constraints: ClassVar[dict] = {
        "base_model": [str, os.PathLike, HasMethods(["get_layer", "save"])],
        "weights": [str, os.PathLike, None],
        "layer": [str, Integral, None],
        "pooling": [StrOptions({"auto", "avg", "max", "cls"}), None],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, None],
        "image_shape": [tuple, None],
        "preprocessing": [str, callable, None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "engine": [StrOptions(set(_litert.ENGINES))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __sklearn_clone__(self):
        """A clone whose ``base_model``, when it is a ``keras.Model``, is copied through its archive.

        scikit-learn's ``clone`` deep-copies parameters, which Keras does through its own
        archive without the model's classes: a subclassed model whose class is not
        registered would not load. The copy here loads it with its own classes (see
        :func:`~skltransfer.keras._persistence.copy_model`).
        """
        model = self.base_model
        if not isinstance(model, keras.Model):
            return super().__sklearn_clone__()
        without_model = object.__new__(type(self))
        without_model.__dict__.update(self.__dict__, base_model=None)
        cloned = super(KerasImageEstimator, without_model).__sklearn_clone__()
        cloned.base_model = copy_model(model)
        return cloned

    def _reset_runtime(self) -> None:
        """Forget what was built for inference and the LiteRT conversions (at ``fit``)."""
        self.__dict__.update(_runtime=None, _litert={})

    # ------------------------------------------------------------ images

    def _images(self, X, *, reset: bool):
        """``X`` as :class:`~skltransfer.keras.images.Images`, checked against the fitted form.

        Read in the form the backbone takes (images, 1-D signals or rows of features; see
        :func:`~skltransfer.keras._backbone.input_ndim`): ``base_model``'s at ``fit``, the
        fitted network's afterwards.
        """
        if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "OSU":
            X = X.tolist()  # paths as the guard indexes them: a 1-D array of them
        sample_ndim = input_ndim(self.base_model) if reset else len(self.input_shape_)
        images = as_images(
            X, image_shape=self.image_shape, estimator=self, reset=reset, sample_ndim=sample_ndim
        )
        if reset and not images.from_rows:  # n_features_in_ describes 2-D input only
            for name in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(name, None)
        if reset:
            self._record_representative(images)
        return images

    def _record_representative(self, images: Images) -> None:
        """At fit, with ``engine="litert-int8"``: the rows that will calibrate its quantization.

        At most ``REPRESENTATIVE_SIZE`` rows (see :func:`~skltransfer.keras._litert.representative_indices`),
        kept as given (file paths as paths, float arrays in float32) and pickled with the
        estimator; nothing is kept for the other engines.
        """
        self._representative = None
        if self.engine != "litert-int8":
            return
        rows = _litert.representative_indices(len(images), self.random_state)
        if images.array is None:
            self._representative = Images(paths=[images.paths[i] for i in rows])
        else:
            sample = images.array[rows]
            dtype = np.uint8 if sample.dtype == np.uint8 else np.float32
            self._representative = Images(array=np.array(sample, dtype=dtype))

    def _representative_inputs(self, predictor) -> np.ndarray:
        """The representative rows in ``predictor``'s input form (size, channels, dtype)."""
        from .images import adapt_batch

        sample = self.__dict__.get("_representative")
        if sample is None:
            raise ValueError(
                "engine='litert-int8' calibrates its quantization on images seen at fit, and this "
                "estimator was fitted with another engine: set engine='litert-int8' before fit."
            )
        shape = predictor.input_shape
        size = shape[:2] if len(shape) == 3 else shape[:-1]
        batches = [
            np.asarray(
                adapt_batch(keras.ops.convert_to_tensor(batch, "float32"), size=size, channels=shape[-1])
            )
            for batch in sample.batches(self.batch_size, size=size, channels=shape[-1])
        ]
        x = np.concatenate(batches)
        if predictor.dtype == np.uint8:
            x = np.clip(np.rint(x), 0, 255)
        return x.astype(predictor.dtype)

    # ------------------------------------------------------------ engines

    def _input_values(self, n_images: int) -> int:
        """Input values ``n_images`` images give the network (at its input size): the auto rule's measure."""
        return int(n_images) * int(np.prod(self.input_shape_))

    def _runner(self, predictor, n_images: int):
        """What computes ``predictor``'s function on a batch, on the engine ``engine`` picks.

        ``"litert"`` (or ``"auto"`` from ``AUTO_MIN_VALUES`` input values on, where a LiteRT
        interpreter is installed) converts the function once per input shape and dtype and
        runs it with XNNPACK; ``"litert-dynamic"`` and ``"litert-int8"`` convert it quantized
        (the latter calibrated on the rows kept at fit). Each conversion is kept, pickled
        with the estimator and dropped by ``clone``. A network LiteRT cannot run falls back
        to Keras under ``"auto"``, with one ``LiteRTFallbackWarning``.
        """
        states = self.__dict__.setdefault("_litert", {})
        quantization = _litert.QUANTIZED_ENGINES.get(self.engine)
        key = (predictor.input_shape, predictor.dtype.name)
        if quantization is not None:
            key = (*key, quantization)
        if (
            _litert.resolve_engine(self.engine, self._input_values(n_images), state=states.get(key))
            != "keras"
        ):
            if key not in states:

                def fn(x):  # the function takes float32 pixels, as the compiled graph casts them
                    return predictor.fn(keras.ops.cast(x, "float32"))

                def convert():
                    representative = (
                        self._representative_inputs(predictor) if quantization == "int8" else None
                    )
                    return _litert.convert_to_litert(
                        fn,
                        input_shape=predictor.input_shape,
                        dtype=key[1],
                        quantization=quantization,
                        representative=representative,
                    )

                states[key] = _litert.litert_runner(self.engine, convert)
            runner = states[key]
            if isinstance(runner, _litert.LiteRTRunner):
                return lambda batch: runner(np.asarray(batch, dtype=predictor.dtype))
        return predictor

    # ------------------------------------------------------- feature cache

    def _backbone_identity(self, seed: int) -> dict:
        """What the frozen backbone's features depend on, as a JSON-able dict (the cache key).

        ``seed`` is the seed of a random initialisation (``weights=None``).
        """
        base = self.base_model
        # pooling="auto" as resolved, where that needs no loading: a named application (cut
        # without its head) averages, a model in memory with a graph says itself; else "auto"
        pooling = self.pooling
        if isinstance(base, (str, os.PathLike)) and not is_saved_model_path(base):
            network = ["application", normalize_name(os.fspath(base))]
            pooling = "avg" if pooling == "auto" else pooling
        elif isinstance(base, (str, os.PathLike)):
            network = ["file", file_digest(base)]
        else:
            network = ["model", _model_digest(base)]
            if pooling == "auto" and getattr(base, "inputs", None):  # a graph: its head is known
                pooling = resolve_pooling(base, feature_layer(base, self.layer), pooling)
        weights = self.weights
        if weights is None:
            weights = ["random", seed]
        elif weights != "imagenet":
            weights = ["file", file_digest(weights)]
        preprocessing = self.preprocessing
        if callable(preprocessing):
            preprocessing = f"{preprocessing.__module__}.{preprocessing.__qualname__}"
        return {
            "network": network,
            "weights": weights,
            "layer": self.layer,
            "pooling": pooling,
            "input_size": self.input_size,
            "preprocessing": preprocessing,
        }

    def _record_backbone_identity(self, seed: int) -> None:
        """At fit: the backbone's identity (hashed once), the key of ``memory``'s cache."""
        self._cache_identity = None if self.memory is None else self._backbone_identity(seed)

    def _feature_cache(self) -> FeatureCache | None:
        """The per-image cache of the fitted backbone's frozen features in ``memory``, or None."""
        identity = self.__dict__.get("_cache_identity")
        if self.memory is None or identity is None:
            return None
        return feature_cache(self.memory, identity)

    def _run_batches(
        self, predictor, images: Images, *, size, cache: FeatureCache | None = None, engine=True
    ):
        """``predictor``'s outputs for ``images``, batch by batch (read from ``cache`` where stored).

        ``engine``: run on the engine ``engine`` picks (see :meth:`_runner`), else on Keras.
        A progress bar shows the images done when ``verbose``.
        """
        run = self._runner(predictor, len(images)) if engine else predictor
        progress = keras.utils.Progbar(len(images), unit_name="image") if self.verbose else None
        outputs, done = [], 0
        for batch in images.batches(self.batch_size, size=size, channels=predictor.input_shape[-1]):
            outputs.append(run(batch) if cache is None else cache.lookup(batch, run))
            done += len(batch)
            if progress is not None:
                progress.update(done)
        return np.concatenate(outputs).astype(np.float32, copy=False)
