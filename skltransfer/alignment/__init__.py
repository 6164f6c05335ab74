"""Feature-based domain adaptation: transformers that align source and target features."""

__all__: list[str] = []
