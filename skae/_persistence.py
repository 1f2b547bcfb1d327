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
of them and of the scikit-learn transformers in :data:`SKLEARN_CLASSES`,
with parameters and fitted attributes made of numbers, strings, arrays and
these estimators. Refused, with the reason: user callbacks, callable noise, a
``RandomState`` instance as ``random_state``, optimizer classes outside
``torch.optim``, and any attribute of another type (whatever it is, it could
only be restored by running code).
"""

import hashlib
import importlib
import io
import json
import os
import zipfile

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator
from skorch.history import History

from ._engine.choices import loadable_device, resolve_device
from ._version import __version__
from .exceptions import ModelFileError

FORMAT = "skae-model"
#: 2: classes named by their public names (``skae.AEOutlierDetector``), so
#: that moving a class between private modules keeps every file loadable.
#: 1: classes named by their defining module (``skae._outlier.AEOutlierDetector``).
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST = "skae.json"

#: The scikit-learn classes a model file may hold besides skae's, by public name.
SKLEARN_CLASSES = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing.MaxAbsScaler",
    "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing.Normalizer",
    "sklearn.decomposition.PCA",
)
SKAE_CLASSES = (
    "skae.AutoEncoderTransformer",
    "skae.DenoisingAutoEncoder",
    "skae.VQTransformer",
    "skae.AEOutlierDetector",
    "skae.DisentangledAutoEncoder",
    "skae.VariationalAutoEncoder",
)
ALLOWED_CLASSES = SKAE_CLASSES + SKLEARN_CLASSES
#: How format 1 named each allowed class (by the module that defined it then).
FORMAT_1_NAMES = {
    "skae._autoencoder.AutoEncoderTransformer": "skae.AutoEncoderTransformer",
    "skae._denoising.DenoisingAutoEncoder": "skae.DenoisingAutoEncoder",
    "skae._vq.VQTransformer": "skae.VQTransformer",
    "skae._outlier.AEOutlierDetector": "skae.AEOutlierDetector",
    "skae._disentangle.DisentangledAutoEncoder": "skae.DisentangledAutoEncoder",
    "skae._vae.VariationalAutoEncoder": "skae.VariationalAutoEncoder",
    "sklearn.pipeline.Pipeline": "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler": "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler": "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler": "sklearn.preprocessing.MaxAbsScaler",
    "sklearn.preprocessing._data.RobustScaler": "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing._data.Normalizer": "sklearn.preprocessing.Normalizer",
    "sklearn.decomposition._pca.PCA": "sklearn.decomposition.PCA",
}
#: Fitted caches that are recomputed on demand, so never saved.
_CACHES = {"_latent_density": None}
#: Optimizer-group options that depend on the device, not on training.
_DEVICE_OPTIONS = ("fused", "foreach", "capturable", "differentiable")


def _import_public(name):
    """The object a public dotted name such as ``skae.VQTransformer`` names."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr, None)


def _public_name(cls):
    """The allowed public name of ``cls``, or None when it has none."""
    return next((name for name in ALLOWED_CLASSES if _import_public(name) is cls), None)


def _allowed_class(name):
    if name not in ALLOWED_CLASSES:
        raise ModelFileError(f"The model file names a class that is not allowed: {name!r}.")
    return _import_public(name)


def _optimizer_name(cls):
    """``torch.optim.<Name>`` for one of torch's optimizers (its public name)."""
    name = f"torch.optim.{cls.__name__}"
    if _import_public(name) is not cls:
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} is outside torch.optim: only torch's own "
            "optimizers can be loaded back"
        )
    return name


def _optimizer_class(name):
    module, _, attr = name.rpartition(".")
    if module != "torch.optim" and not module.startswith("torch.optim."):
        raise ModelFileError(f"The model file names an optimizer outside torch.optim: {name!r}.")
    cls = getattr(importlib.import_module(module), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ModelFileError(f"{name!r} is not a torch optimizer.")
    return cls


# -- writing ----------------------------------------------------------------
class _Writer:
    """Turns objects into JSON nodes, collecting arrays as ``.npy`` bytes."""

    def __init__(self):
        self.arrays = {}

    def array(self, value):
        value = np.asarray(value)  # 0-d stays 0-d (ascontiguousarray would make it 1-d)
        if not value.flags.c_contiguous:
            value = np.ascontiguousarray(value)
        if value.dtype == object:
            if all(isinstance(item, str) for item in value.flat):
                return {"__strings__": value.tolist()}
            raise TypeError("an object array that does not hold only strings")
        name = f"arrays/{len(self.arrays)}.npy"
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, value, allow_pickle=False)
        self.arrays[name] = buffer.getvalue()
        return {"__array__": name}

    def encode(self, value, path):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return {"__scalar__": self.array(np.asarray(value))}
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self.array(value.detach().cpu().numpy())}
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__tuple__": items}
        if isinstance(value, dict):
            if not all(isinstance(k, (str, int)) for k in value):
                raise TypeError(f"{path}: a dict with keys other than str or int")
            return {"__dict__": [[k, self.encode(v, f"{path}[{k!r}]")] for k, v in value.items()]}
        if isinstance(value, torch.device):
            return {"__device__": str(value)}
        if isinstance(value, type) and issubclass(value, torch.optim.Optimizer):
            try:  # only torch's own optimizers can be loaded back
                return {"__optimizer__": _optimizer_name(value)}
            except TypeError as exc:
                raise TypeError(f"{path}: {exc}") from None
        if isinstance(value, BaseEstimator):
            return self.estimator(value, path)
        raise TypeError(f"{path} is a {type(value).__name__}, which cannot be saved without pickle")

    def estimator(self, estimator, path):
        name = _public_name(type(estimator))
        if name is None:
            cls = type(estimator)
            raise TypeError(
                f"{path} is a {cls.__module__}.{cls.__qualname__}, which skae.save does not "
                "know how to save"
            )
        params = estimator.get_params(deep=False)
        for key, reason in (
            ("callbacks", "callbacks are arbitrary objects"),
            ("noise", "a callable noise is arbitrary code"),
        ):
            if callable(params.get(key)) or (key == "callbacks" and params.get(key)):
                raise TypeError(f"{path}.{key}: {reason}; set it to None (or a name) first")
        if params.get("memory") is not None:
            raise TypeError(f"{path}.memory: a cache folder is not saved; set it to None first")
        if isinstance(params.get("random_state"), np.random.RandomState):
            raise TypeError(f"{path}.random_state: give an int or None, not a RandomState")
        state = {
            key: _CACHES.get(key, value)
            for key, value in vars(estimator).items()
            if key not in params
        }
        node = {
            "__estimator__": name,
            "params": {k: self.encode(v, f"{path}.{k}") for k, v in params.items()},
            "state": {},
        }
        for key, value in state.items():
            if key == "net_":
                node["net"] = self.net(value, f"{path}.net_")
            else:
                node["state"][key] = self.encode(value, f"{path}.{key}")
        return node

    def net(self, net, path):
        return {
            "device": str(net.device),
            "module": self.encode(net.module_.state_dict(), f"{path}.module_"),
            "optimizer": self.encode(net.optimizer_.state_dict(), f"{path}.optimizer_"),
            "history": self.encode(list(net.history), f"{path}.history"),
            "generator": self.encode(net.generator.get_state(), f"{path}.generator"),
        }


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
        running code (user callbacks, a callable noise, a ``RandomState``, an
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
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest))
        for name, data in writer.arrays.items():
            archive.writestr(name, data)


# -- reading ----------------------------------------------------------------
class _Reader:
    """Rebuilds objects from JSON nodes and the archive's arrays."""

    def __init__(self, archive, digests, device, format_version=FORMAT_VERSION):
        self.archive = archive
        self.digests = digests
        self.device = device
        self.format_version = format_version

    def array(self, name):
        if name not in self.digests:
            raise ModelFileError(f"The model file refers to an unlisted array {name!r}.")
        try:
            data = self.archive.read(name)
        except (KeyError, zipfile.BadZipFile, OSError) as exc:
            raise ModelFileError(f"The model file lacks or cannot read {name!r}: {exc}") from None
        if hashlib.sha256(data).hexdigest() != self.digests[name]:
            raise ModelFileError(f"The model file's {name!r} does not match its digest.")
        try:
            return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ModelFileError(
                f"The model file's {name!r} cannot be read without pickle: {exc}"
            ) from None

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise ModelFileError(f"Unexpected entry in the model file: {node!r:.80}.")
        kind = next(iter(node))
        if kind == "__array__":
            return self.array(node["__array__"])
        if kind == "__strings__":
            return np.array(node["__strings__"], dtype=object)
        if kind == "__scalar__":
            return self.decode(node["__scalar__"])[()]
        if kind == "__tensor__":
            return torch.from_numpy(np.array(self.decode(node["__tensor__"])))
        if kind == "__tuple__":
            return tuple(self.decode(item) for item in node["__tuple__"])
        if kind == "__dict__":
            return {key: self.decode(value) for key, value in node["__dict__"]}
        if kind == "__device__":
            return torch.device(node["__device__"])
        if kind == "__optimizer__":
            return _optimizer_class(node["__optimizer__"])
        if kind == "__estimator__":
            return self.estimator(node)
        raise ModelFileError(f"Unknown entry {kind!r} in the model file.")

    def estimator(self, node):
        name = node["__estimator__"]
        if self.format_version == 1:
            name = FORMAT_1_NAMES.get(name, name)
        cls = _allowed_class(name)
        params = self.decode({"__dict__": list(node["params"].items())})
        if params.get("memory") is not None:
            raise ModelFileError("The model file sets a Pipeline memory (a cache folder).")
        estimator = cls(**params)
        for key, value in node["state"].items():
            # Fitted attributes only: never a dunder or a method/property name.
            if not isinstance(key, str) or key.startswith("__") or hasattr(cls, key):
                raise ModelFileError(f"The model file sets a forbidden attribute {key!r}.")
            setattr(estimator, key, self.decode(value))
        if "net" in node:
            estimator.net_ = self.net(estimator, node["net"])
        return estimator

    def net(self, estimator, node):
        device = self.device or loadable_device(node["device"])
        # Build with the parameters of the last training call: parameters set
        # since then (set_params without fit) must not change the network.
        builder = type(estimator)(**getattr(estimator, "_trained_with", {}))
        for key, value in vars(estimator).items():
            if key not in builder.get_params(deep=False):
                setattr(builder, key, value)
        net = builder._make_net(estimator.n_features_in_, torch.device(device), seed=0)
        try:
            net.module_.load_state_dict(self.decode(node["module"]))
            fresh = [dict(group) for group in net.optimizer_.param_groups]
            net.optimizer_.load_state_dict(self.decode(node["optimizer"]))
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ModelFileError(
                f"The weights in the model file do not fit the estimator it describes: {exc}"
            ) from None
        for group, new in zip(net.optimizer_.param_groups, fresh):
            group.update({key: new[key] for key in _DEVICE_OPTIONS if key in new})
        net.history = History(self.decode(node["history"]))
        net.generator.set_state(self.decode(node["generator"]))
        net.interrupted_ = False
        return net


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
        truncated or altered, or names a class outside the allowlist.

    Notes
    -----
    Files made with pickle or joblib (``joblib.dump(estimator)``) run code
    when they are loaded: load those only from sources you trust, as
    scikit-learn's documentation says. Files of :func:`save` are safe to load
    from anyone; a hostile one can at worst describe a wrong model.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                manifest = json.loads(archive.read(MANIFEST))
            except KeyError:
                raise ModelFileError(f"{path} has no {MANIFEST}: not a skae model file.") from None
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ModelFileError(f"{path} is not a skae model file.")
            version = manifest.get("format_version")
            if version not in READABLE_VERSIONS:
                raise ModelFileError(
                    f"{path} has format version {version!r}; this skae reads versions "
                    f"{', '.join(map(str, READABLE_VERSIONS))}."
                )
            device = None if device is None else str(resolve_device(device))
            reader = _Reader(archive, manifest.get("sha256", {}), device, version)
            try:
                return reader.decode(manifest["object"])
            except ModelFileError:
                raise
            except (
                TypeError, KeyError, IndexError, AttributeError, ValueError,
                RuntimeError, ImportError, RecursionError, OverflowError,
            ) as exc:  # fmt: skip
                raise ModelFileError(f"{path} is malformed: {type(exc).__name__}: {exc}") from None
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, EOFError) as exc:
        raise ModelFileError(f"{path} is not a readable skae model file: {exc}") from None
