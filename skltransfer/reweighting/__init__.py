"""Instance-based domain adaptation: importance weights and boosting over source rows."""

__all__: list[str] = []
