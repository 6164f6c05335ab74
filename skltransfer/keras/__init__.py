"""Keras-backed estimators: pretrained CNN features and fine-tuning.

Importing this subpackage does not import TensorFlow; the estimators import it when they are
first fitted or unpickled, and raise an ``ImportError`` with the install command when it is
missing or broken.
"""

import importlib.util

if importlib.util.find_spec("keras") is None or importlib.util.find_spec("tensorflow") is None:
    raise ImportError(
        "skltransfer.keras needs TensorFlow and Keras 3. Install them with: pip install 'tensorflow>=2.16'"
    )

from .classifier import FineTunedCNNClassifier
from .extractor import PretrainedFeatureExtractor

__all__ = ["FineTunedCNNClassifier", "PretrainedFeatureExtractor"]
