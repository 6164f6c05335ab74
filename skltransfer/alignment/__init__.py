"""Feature-based domain adaptation: transformers that align source and target features."""

from ._coral import CORALAligner
from ._subspace import SubspaceAligner

__all__: list[str] = ["CORALAligner", "SubspaceAligner"]
