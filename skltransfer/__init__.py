"""skltransfer: transfer learning as scikit-learn estimators.

Importing this package never imports TensorFlow: the Keras-backed estimators
(``PretrainedFeatureExtractor``, ``FineTunedCNNClassifier``,
``FineTunedCNNRegressor``, ``SHOTClassifier``, ``TENTClassifier``) are loaded from
:mod:`skltransfer.keras` on first access.
"""

from ._domains import stack_domains  # noqa: F401  (re-exported through __all__)
from .alignment import *  # noqa: F403
from .alignment import __all__ as _alignment_all
from .classifiers import *  # noqa: F403
from .classifiers import __all__ as _classifiers_all
from .label_shift import LabelShiftClassifier  # noqa: F401
from .parameter_transfer import *  # noqa: F403
from .parameter_transfer import __all__ as _parameter_transfer_all
from .pipeline import LabeledOnly, make_da_pipeline  # noqa: F401
from .reweighting import *  # noqa: F403
from .reweighting import __all__ as _reweighting_all

__version__ = "0.1.0"

_KERAS_NAMES = (
    "PretrainedFeatureExtractor",
    "FineTunedCNNClassifier",
    "FineTunedCNNRegressor",
    "SHOTClassifier",
    "TENTClassifier",
)

__all__ = sorted(
    [
        "LabelShiftClassifier",
        "LabeledOnly",
        "make_da_pipeline",
        "stack_domains",
        *_alignment_all,
        *_classifiers_all,
        *_parameter_transfer_all,
        *_reweighting_all,
        *_KERAS_NAMES,
    ]
)


def __getattr__(name: str):
    if name in _KERAS_NAMES:
        from . import keras

        return getattr(keras, name)
    raise AttributeError(f"module 'skltransfer' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
