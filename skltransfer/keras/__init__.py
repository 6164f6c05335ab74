"""Keras-backed estimators: pretrained CNN features and fine-tuning.

Importing this subpackage does not import TensorFlow; the estimators import it when they are
first fitted or unpickled, and raise an ``ImportError`` with the install command when it is
missing or broken. TensorFlow is the optional extra ``keras`` of skltransfer.
"""

import importlib.util

if importlib.util.find_spec("keras") is None or importlib.util.find_spec("tensorflow") is None:
    raise ImportError(
        "skltransfer's Keras estimators (PretrainedFeatureExtractor, FineTunedCNNClassifier) and "
        "image commands need TensorFlow and Keras 3, the optional extra 'keras' of skltransfer. "
        'Install it with: pip install "skltransfer[keras]"'
    )

from .classifier import FineTunedCNNClassifier
from .extractor import PretrainedFeatureExtractor

__all__ = ["FineTunedCNNClassifier", "PretrainedFeatureExtractor"]
