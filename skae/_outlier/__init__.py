"""Outlier detection: :class:`AEOutlierDetector`, its default models, its scores."""

from .detector import AEOutlierDetector

__all__ = ["AEOutlierDetector"]
