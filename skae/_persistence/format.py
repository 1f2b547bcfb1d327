"""Saving and loading fitted estimators without pickle.

A model file is a zip archive: ``skae.json`` describes the objects (class
names from an allowlist, constructor parameters, fitted attributes) and every
array or tensor is a ``.npy`` member read with ``allow_pickle=False``. Loading
parses JSON and numeric arrays and calls the constructors of allowlisted
classes: it never unpickles and so never runs code from the file. The manifest
records the format version, the versions of skae, torch, scikit-learn and numpy
that wrote it, and a SHA-256 digest of every array, so a truncated or altered
file is refused with a clear error.

What can be saved: the skae estimators, a :class:`~sklearn.pipeline.Pipeline`
of them and of the scikit-learn transformers in :data:`SKLEARN_CLASSES`
(scalers, PCA, and the preprocessing of tables: ``ColumnTransformer``,
imputers, encoders), with parameters and fitted attributes made of numbers,
strings, dtypes, slices, arrays (object arrays of text and numbers as JSON)
and these estimators. Refused, with the reason: a ``FunctionTransformer``
with a function and any other callable (code cannot be stored safely), user
callbacks, callable noise, a ``RandomState`` instance as ``random_state``,
optimizer classes outside ``torch.optim``, and any attribute of another type
(whatever it is, it could only be restored by running code).
"""

import hashlib
import json
import os
import zipfile
import zlib

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator

from .._engine.choices import resolve_device
from .._version import __version__
from ..exceptions import ModelFileError
from .atomic import atomic_write
from .encoding import _Writer
from .guards import MANIFEST, _check_sizes, _read_manifest
from .reader import _Reader

FORMAT = "skae-model"
#: 2: classes named by their public names (``skae.AEOutlierDetector``), so
#: that moving a class between private modules keeps every file loadable.
#: 1: classes named by their defining module (``skae._outlier.AEOutlierDetector``).
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


def save(estimator: BaseEstimator, path: str | os.PathLike) -> None:
    """Save a fitted (or unfitted) estimator to ``path`` without pickle.

    Parameters
    ----------
    estimator : estimator
        A skae estimator, or a :class:`~sklearn.pipeline.Pipeline` of skae
        estimators and the scikit-learn transformers listed in
        ``skae._persistence.SKLEARN_CLASSES``.
    path : str or path-like
        The file to write (a zip archive; ``.skae`` is a good suffix).

    Raises
    ------
    TypeError
        If the estimator holds something that cannot be restored without
        running code (a ``FunctionTransformer`` with a function or any other
        callable, user callbacks, a callable noise, a ``RandomState``, an
        estimator of another class, ...); the message names where it is.

    See Also
    --------
    load : Read the file back.
    """
    writer = _Writer()
    root = writer.encode(estimator, type(estimator).__name__)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": {
            "skae": __version__,
            "torch": torch.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in writer.arrays.items()},
        "object": root,
    }
    with atomic_write(path) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest))
            for name, data in writer.arrays.items():
                archive.writestr(name, data)


def load(path: str | os.PathLike, device: str | torch.device | None = None) -> BaseEstimator:
    """Load an estimator written by :func:`save`; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    device : str, torch.device or None, default=None
        Where to put the networks (``"auto"``, ``"cpu"``, ``"cuda"``, ...).
        None keeps the device that saved them when this machine has it, else
        uses the CPU.

    Returns
    -------
    estimator : estimator
        The estimator as it was saved; its outputs equal the saved one's.

    Raises
    ------
    skae.ModelFileError
        If the file is not a skae model file, is of a newer format, was
        truncated or altered, names a class outside the allowlist, or holds
        more data than the networks it describes need.

    Notes
    -----
    Files made with pickle or joblib (``joblib.dump(estimator)``) run code
    when they are loaded: load those only from sources you trust, as
    scikit-learn's documentation says. Files of :func:`save` are safe to load
    from anyone; a hostile one can at worst describe a wrong model. Before
    anything is allocated, the file is read once without its array data: the
    networks it describes are built on the ``meta`` device, its weights must
    have their shapes, and its members may hold at most
    :data:`ARRAY_BYTES_PER_NETWORK_BYTE` times their bytes (plus
    :data:`ARRAY_BYTES_ALLOWANCE`); the manifest at most
    :data:`MAX_MANIFEST_BYTES`. Optimizer state must match its parameters.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _read_manifest(archive, path)
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ModelFileError(f"{path} is not a skae model file.")
            version = manifest.get("format_version")
            if version not in READABLE_VERSIONS:
                raise ModelFileError(
                    f"{path} has format version {version!r:.40}; this skae reads versions "
                    f"{', '.join(map(str, READABLE_VERSIONS))}."
                )
            root = manifest.get("object")
            if not isinstance(root, dict) or not isinstance(root.get("__estimator__"), str):
                raise ModelFileError(f"{path} holds no estimator: its root is {root!r:.60}.")
            digests = manifest.get("sha256", {})
            if not isinstance(digests, dict):
                raise ModelFileError(f"{path} is malformed: its digests are not a mapping.")
            device = None if device is None else str(resolve_device(device))
            try:
                dry = _Reader(archive, digests, device, version, dry=True)
                dry.decode(root)
                _check_sizes(archive, digests, dry.network_bytes, path)
                return _Reader(archive, digests, device, version).decode(root)
            except ModelFileError:
                raise
            except (
                TypeError, KeyError, IndexError, AttributeError, ValueError,
                RuntimeError, ImportError, RecursionError, OverflowError, MemoryError,
            ) as exc:  # fmt: skip
                raise ModelFileError(f"{path} is malformed: {type(exc).__name__}: {exc}") from None
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise ModelFileError(f"{path} is not a readable skae model file: {exc}") from None
