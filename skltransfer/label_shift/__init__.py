"""Label shift: the class priors change between domains, ``p(x | y)`` does not.

:class:`LabelShiftClassifier` estimates the target priors (EM on calibrated probabilities,
BBSE, RLLS) and corrects a classifier's posteriors; :func:`label_shift_test` tests whether
the predicted class frequencies differ between the domains.
"""

from ._classifier import LabelShiftClassifier
from ._detection import label_shift_test

__all__ = ["LabelShiftClassifier", "label_shift_test"]
