"""The errors and warnings that skae raises, under their public names.

As :mod:`sklearn.exceptions` does for scikit-learn, this module holds every
custom error and warning of the package, so that user code can catch them
without reaching into private modules. They are also importable from
:mod:`skae` itself.
"""

__all__ = ["ModelFileError", "TrainingDivergedError", "TrainingInterruptedWarning"]


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


class TrainingInterruptedWarning(UserWarning):
    """Warns that a KeyboardInterrupt (Ctrl-C) stopped training early."""


class ModelFileError(ValueError):
    """A model file is not one skae wrote, or was truncated or altered."""
