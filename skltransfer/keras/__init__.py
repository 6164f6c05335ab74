"""Keras-backed estimators: pretrained CNN features and fine-tuning.

Importing this subpackage imports Keras and registers skltransfer's custom layers
(:mod:`skltransfer.keras._layers`), so that ``keras.saving.load_model`` reads a network the
estimators exported. ``import skltransfer`` alone never imports it.
"""

import importlib.util

if importlib.util.find_spec("keras") is None or importlib.util.find_spec("tensorflow") is None:
    raise ImportError(
        "skltransfer.keras needs TensorFlow and Keras 3. Install them with: pip install 'tensorflow>=2.16'"
    )

from . import _layers  # noqa: F401  (registers the custom layers for keras.saving.load_model)
from .classifier import FineTunedCNNClassifier
from .extractor import PretrainedFeatureExtractor

__all__ = ["FineTunedCNNClassifier", "PretrainedFeatureExtractor"]
