"""Keras-backed estimators: pretrained CNN features and fine-tuning.

Importing this subpackage imports Keras and registers skltransfer's custom layers
(:mod:`skltransfer.keras._layers`), so that ``keras.saving.load_model`` reads a network the
estimators exported. ``import skltransfer`` alone never imports it. Without TensorFlow (the
optional extra ``keras`` of skltransfer) it raises an ``ImportError`` naming the extra.
"""

import importlib.util

if importlib.util.find_spec("keras") is None or importlib.util.find_spec("tensorflow") is None:
    raise ImportError(
        "skltransfer's Keras estimators (PretrainedFeatureExtractor, FineTunedCNNClassifier, "
        "FineTunedCNNRegressor) and "
        "image commands need TensorFlow and Keras 3, the optional extra 'keras' of skltransfer. "
        'Install it with: pip install "skltransfer[keras]"'
    )

from . import _layers  # noqa: F401  (registers the custom layers for keras.saving.load_model)
from .classifier import FineTunedCNNClassifier
from .extractor import PretrainedFeatureExtractor
from .regressor import FineTunedCNNRegressor

__all__ = ["FineTunedCNNClassifier", "FineTunedCNNRegressor", "PretrainedFeatureExtractor"]
