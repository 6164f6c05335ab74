"""Keras-backed estimators: pretrained CNN features and fine-tuning.

Keras is checked once, here: importing this subpackage imports TensorFlow (giving it the
thread budget of a joblib or Dask worker before its first operation) and Keras 3, checks
that Keras runs on TensorFlow, and registers skltransfer's custom layers
(``skltransfer.keras._layers``), so that ``keras.saving.load_model`` reads a network the
estimators exported. Every module below it imports Keras as an ordinary module.
``import skltransfer`` alone never imports this subpackage. Without TensorFlow (the optional
extra ``keras`` of skltransfer) it raises an ``ImportError`` naming the extra.

Public modules: :mod:`~skltransfer.keras.applications` (the ``keras.applications``
backbones by name), :mod:`~skltransfer.keras.images` (image input),
:mod:`~skltransfer.keras.losses` (the domain losses) and
``skltransfer.keras.source_free`` (source-free and test-time adaptation of a fitted
classifier: :class:`SHOTClassifier`, :class:`TENTClassifier`).
"""

import importlib.util

_INSTALL = 'pip install "skltransfer[keras]"'

if importlib.util.find_spec("keras") is None or importlib.util.find_spec("tensorflow") is None:
    raise ImportError(
        "skltransfer's Keras estimators (PretrainedFeatureExtractor, FineTunedCNNClassifier, "
        "FineTunedCNNRegressor, SHOTClassifier, TENTClassifier) and image commands need TensorFlow "
        f"and Keras 3, the optional extra 'keras' of skltransfer. Install it with: {_INSTALL}"
    )

from ._runtime import configure_threads  # noqa: E402

configure_threads()

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "skltransfer's Keras estimators need Keras' TensorFlow backend; KERAS_BACKEND is "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before importing keras."
    )

from . import _layers  # noqa: E402, F401  (registers the custom layers for keras.saving.load_model)
from .classifier import FineTunedCNNClassifier  # noqa: E402
from .extractor import PretrainedFeatureExtractor  # noqa: E402
from .regressor import FineTunedCNNRegressor  # noqa: E402
from .source_free import SHOTClassifier, TENTClassifier  # noqa: E402

__all__ = [
    "FineTunedCNNClassifier",
    "FineTunedCNNRegressor",
    "PretrainedFeatureExtractor",
    "SHOTClassifier",
    "TENTClassifier",
]
