"""Domain adaptation classifiers: predictors fitted on labeled source and unlabeled target rows.

They learn from the unlabeled target rows themselves (their pseudo-labels, clusters or
graph), so :func:`~skltransfer.make_da_pipeline` gives them every row. The transformers that
only align features live in :mod:`skltransfer.alignment`.
"""

from ._cmms import CMMSClassifier
from ._meda import MEDAClassifier

__all__: list[str] = ["CMMSClassifier", "MEDAClassifier"]
