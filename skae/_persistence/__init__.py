"""Saving and loading fitted estimators without pickle (``skae.save``, ``skae.load``).

``format.py`` writes and reads the file, ``classes.py`` is the allowlist of
classes, ``encoding.py`` turns parameters and fitted attributes into JSON
nodes and arrays, ``reader.py`` rebuilds them, ``guards.py`` bounds what
reading may cost, ``atomic.py`` writes a file in one step.
"""

from .atomic import atomic_write
from .classes import ALLOWED_CLASSES, FORMAT_1_NAMES, SKAE_CLASSES, SKLEARN_CLASSES
from .format import FORMAT, FORMAT_VERSION, READABLE_VERSIONS, load, save
from .guards import (
    ARRAY_BYTES_ALLOWANCE,
    ARRAY_BYTES_PER_NETWORK_BYTE,
    MANIFEST,
    MAX_MANIFEST_BYTES,
)

__all__ = [
    "ALLOWED_CLASSES",
    "ARRAY_BYTES_ALLOWANCE",
    "ARRAY_BYTES_PER_NETWORK_BYTE",
    "FORMAT",
    "FORMAT_1_NAMES",
    "FORMAT_VERSION",
    "MANIFEST",
    "MAX_MANIFEST_BYTES",
    "READABLE_VERSIONS",
    "SKAE_CLASSES",
    "SKLEARN_CLASSES",
    "atomic_write",
    "load",
    "save",
]
