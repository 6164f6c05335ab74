"""Parameter-based transfer: target models regularised towards a source model."""

from ._ridge import TransferRidge

__all__: list[str] = ["TransferRidge"]
