"""Metrics of domain adaptation: the domain gap, unsupervised scorers, a transfer report.

- :func:`maximum_mean_discrepancy` measures how far apart two samples are;
  :func:`mmd_permutation_test` tests whether they share a distribution.
- The scorers (:class:`PredictionEntropyScorer`, :class:`InformationMaximizationScorer`,
  :class:`SoftNeighborhoodDensityScorer`, :class:`ImportanceWeightedScorer`,
  :class:`DeepEmbeddedValidationScorer`, :class:`CircularValidationScorer`) rank models
  without target labels; use them as ``scoring=`` with a splitter of
  :mod:`skltransfer.model_selection` that puts the unlabeled rows in the test folds. They
  are defined in :mod:`skltransfer.model_selection` and listed here as well.
- :func:`transfer_report` scores a fitted model on labeled target rows.
"""

from ..label_shift import label_shift_test
from ..model_selection._scorers import (
    CircularValidationScorer,
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
    InformationMaximizationScorer,
    PredictionEntropyScorer,
    SoftNeighborhoodDensityScorer,
)
from ._mmd import maximum_mean_discrepancy, median_heuristic_gamma, mmd_permutation_test
from ._report import transfer_report

__all__ = [
    "CircularValidationScorer",
    "DeepEmbeddedValidationScorer",
    "ImportanceWeightedScorer",
    "InformationMaximizationScorer",
    "PredictionEntropyScorer",
    "SoftNeighborhoodDensityScorer",
    "label_shift_test",
    "maximum_mean_discrepancy",
    "median_heuristic_gamma",
    "mmd_permutation_test",
    "transfer_report",
]
