"""Feature-based domain adaptation: transformers that align source and target features."""

from ._coral import CORALAligner
from ._gfk import GFKAligner
from ._jda import JointMMDAligner
from ._scaling import DomainStandardScaler
from ._subspace import SubspaceAligner
from ._tca import MMDAligner

__all__: list[str] = [
    "CORALAligner",
    "DomainStandardScaler",
    "GFKAligner",
    "JointMMDAligner",
    "MMDAligner",
    "SubspaceAligner",
]
