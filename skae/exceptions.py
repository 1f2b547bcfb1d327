"""The errors and warnings that skae raises, under their public names.

As :mod:`sklearn.exceptions` does for scikit-learn, this module holds every
custom error and warning of the package, so that user code can catch them
without reaching into private modules. They are also importable from
:mod:`skae` itself.
"""

import sys
import warnings

__all__ = ["ModelFileError", "TrainingDivergedError", "TrainingInterruptedWarning"]

#: Packages whose frames a warning skips to reach the user's call: skae, and
#: those it is called through (a Pipeline, a search, skorch's loop, joblib).
_LIBRARIES = ("skae", "sklearn", "skorch", "torch", "joblib", "contextlib", "functools")


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


class TrainingInterruptedWarning(UserWarning):
    """Warns that a KeyboardInterrupt (Ctrl-C) stopped training early."""


class ModelFileError(ValueError):
    """A model file is not one skae wrote, or was truncated or altered."""


def _warn(message, category):
    """``warnings.warn``, pointed at the first caller outside skae and the
    libraries it runs in: the user's ``fit`` line, however deep the warning
    was raised (an estimator inside ``AEOutlierDetector`` inside a
    ``Pipeline``), as pandas' ``find_stack_level`` does."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in _LIBRARIES:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
