"""Model selection for domain adaptation: domain-aware splitters, the bootstrap, DA scorers.

Splitters for ``cv=`` (:class:`DomainAwareSplit`, :class:`LeaveOneDomainOut`,
:class:`BootstrapSplit`) keep every unlabeled target row in every training fold and split the
labeled rows only. :func:`bootstrap_632_score` and :func:`bootstrap_confidence_interval`
summarise bootstrap resampling. :func:`get_labeled_scorer` gives any scikit-learn scorer
(``"accuracy"``, ``"f1_macro"``, ...) that leaves the unlabeled rows (``y == -1``) out,
where a plain scikit-learn scorer would count them as wrong answers. The unsupervised scorers for ``scoring=``
(:class:`PredictionEntropyScorer`, :class:`InformationMaximizationScorer`,
:class:`SoftNeighborhoodDensityScorer`, :class:`ImportanceWeightedScorer`,
:class:`DeepEmbeddedValidationScorer`, :class:`CircularValidationScorer`) are defined here
(``_scorers.py``); :mod:`skltransfer.metrics` lists them too, beside the domain gap.
:class:`SourceSelector` chooses the source domains to train on when there are several.
"""

from ._bootstrap import bootstrap_632_score, bootstrap_confidence_interval
from ._labeled import get_labeled_scorer
from ._scorers import (
    CircularValidationScorer,
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
    InformationMaximizationScorer,
    PredictionEntropyScorer,
    SoftNeighborhoodDensityScorer,
)
from ._source_selection import SourceSelector
from ._splitters import BootstrapSplit, DomainAwareSplit, LeaveOneDomainOut

__all__ = [
    "BootstrapSplit",
    "CircularValidationScorer",
    "DeepEmbeddedValidationScorer",
    "DomainAwareSplit",
    "ImportanceWeightedScorer",
    "InformationMaximizationScorer",
    "LeaveOneDomainOut",
    "PredictionEntropyScorer",
    "SoftNeighborhoodDensityScorer",
    "SourceSelector",
    "bootstrap_632_score",
    "bootstrap_confidence_interval",
    "get_labeled_scorer",
]
