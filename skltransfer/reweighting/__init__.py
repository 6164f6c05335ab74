"""Instance-based domain adaptation: importance weights and boosting over source rows."""

from ._discriminative import DomainClassifierWeighting
from ._kmm import KernelMeanMatching, kmm_qp
from ._tradaboost import TrAdaBoostClassifier
from ._tradaboost_r2 import TrAdaBoostRegressor
from ._ulsif import LeastSquaresImportanceFitting, ulsif_loo_score

__all__: list[str] = [
    "DomainClassifierWeighting",
    "KernelMeanMatching",
    "LeastSquaresImportanceFitting",
    "TrAdaBoostClassifier",
    "TrAdaBoostRegressor",
    "kmm_qp",
    "ulsif_loo_score",
]
