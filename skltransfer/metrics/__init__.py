"""Metrics of domain adaptation: the domain gap, unsupervised scorers, a transfer report.

- :func:`maximum_mean_discrepancy` measures how far apart two samples are;
  :func:`mmd_permutation_test` tests whether they share a distribution.
- The scorers (:class:`PredictionEntropyScorer`, :class:`InformationMaximizationScorer`,
  :class:`SoftNeighborhoodDensityScorer`, :class:`ImportanceWeightedScorer`,
  :class:`DeepEmbeddedValidationScorer`, :class:`CircularValidationScorer`) rank models
  without target labels; use them as ``scoring=`` with a splitter of
  :mod:`skltransfer.model_selection` that puts the unlabeled rows in the test folds. They
  are defined in :mod:`skltransfer.model_selection` and listed here as well.
- :func:`diagnose_shift` tells, without target labels, which kind of shift separates the
  domains (none, label shift, a feature shift an aligner removes, or neither) and which
  method families it advises for and against, with the evidence (:class:`ShiftDiagnosis`).
- :func:`transfer_report` scores a fitted model on labeled target rows.
- Transferability scores rank pretrained networks (or their layers) for a labeled target
  data set before any fine-tuning, from one forward pass: :func:`logme_score` and
  :func:`h_score` score features, :func:`leep_score` and :func:`nce_score` a source
  classifier's probabilities or labels. :class:`LogMEScorer`, :class:`HScoreScorer`,
  :class:`LEEPScorer` and :class:`NCEScorer` are the same scores as ``scoring=`` of
  ``GridSearchCV`` over feature extractors.
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
from ._diagnosis import ShiftDiagnosis, diagnose_shift
from ._mmd import maximum_mean_discrepancy, median_heuristic_gamma, mmd_permutation_test
from ._report import transfer_report
from ._transferability import (
    HScoreScorer,
    LEEPScorer,
    LogMEScorer,
    NCEScorer,
    h_score,
    leep_score,
    logme_score,
    nce_score,
)

__all__ = [
    "CircularValidationScorer",
    "DeepEmbeddedValidationScorer",
    "HScoreScorer",
    "ImportanceWeightedScorer",
    "InformationMaximizationScorer",
    "LEEPScorer",
    "LogMEScorer",
    "NCEScorer",
    "PredictionEntropyScorer",
    "ShiftDiagnosis",
    "SoftNeighborhoodDensityScorer",
    "diagnose_shift",
    "h_score",
    "label_shift_test",
    "leep_score",
    "logme_score",
    "maximum_mean_discrepancy",
    "median_heuristic_gamma",
    "mmd_permutation_test",
    "nce_score",
    "transfer_report",
]
