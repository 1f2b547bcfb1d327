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
import math
import os
import tempfile
import zipfile
import zlib

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
#: The largest manifest (``skae.json``) a model file may have, uncompressed.
#: A network's weights are arrays, not JSON: the manifest holds parameters and
#: the training history, about 80 bytes a batch, so this allows 1.6 million
#: batches (300 epochs of 1.4 million rows in batches of 256).
MAX_MANIFEST_BYTES = 128 * 2**20
#: The arrays of a file may hold at most this many times the bytes of the
#: networks it describes (weights, two moments of Adam, fitted attributes)...
ARRAY_BYTES_PER_NETWORK_BYTE = 4
#: ... plus this many bytes (fitted attributes of estimators without a network).
ARRAY_BYTES_ALLOWANCE = 64 * 2**20
#: The compressions that skae writes (and so reads): deflate bounds what it
#: inflates per read, and LZMA or BZIP2 members are refused.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
#: Errors that reading a member (or parsing the manifest) may raise.
_READ_ERRORS = (
    KeyError, zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
    RuntimeError, MemoryError, RecursionError, ValueError,
)  # fmt: skip
#: Arrays up to this size are read whole when the file is checked (numpy
#: scalars among the parameters, ``classes_``); larger ones by their header.
_DRY_READ_BYTES = 2**16
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
    with atomic_write(path) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest))
            for name, data in writer.arrays.items():
                archive.writestr(name, data)


class atomic_write:
    """Write a file in one step: a temporary file in the same folder, then ``os.replace``.

    A write that is killed (SIGKILL, SIGTERM, Ctrl-C) or fails part-way
    leaves the file at ``path`` as it was, and no temporary file behind but
    after SIGKILL. Used as ``with atomic_write(path, "w") as handle:``;
    ``mode`` is ``"wb"`` (default) or a text mode with ``**kwargs`` of
    :func:`open`.
    """

    def __init__(self, path, mode="wb", **kwargs):
        self.path = os.fspath(path)
        self.mode = mode
        self.kwargs = kwargs

    def __enter__(self):
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, self.tmp = tempfile.mkstemp(
            dir=folder, prefix=f".{os.path.basename(self.path)}.", suffix=".tmp"
        )
        self.handle = os.fdopen(fd, self.mode, **self.kwargs)
        return self.handle

    def __exit__(self, kind, error, traceback):
        try:
            self.handle.close()
            if kind is None:
                # The mode of a new file, as open() would have made it.
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self.tmp, 0o666 & ~umask)
                os.replace(self.tmp, self.path)
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)
        return False


# -- reading ----------------------------------------------------------------
def _nbytes(shape, dtype):
    return math.prod(shape) * dtype.itemsize


def _state_bytes(module):
    return sum(_nbytes(t.shape, t.dtype) for t in module.state_dict().values())


class _Reader:
    """Rebuilds objects from JSON nodes and the archive's arrays.

    A ``dry`` reader reads only the headers of the arrays (giving zero-cost
    stand-ins of their shape and dtype) and builds networks on the ``meta``
    device: it checks the file against the networks it describes, and adds up
    their bytes (``network_bytes``), before anything is allocated.
    """

    def __init__(self, archive, digests, device, format_version=FORMAT_VERSION, *, dry=False):
        self.archive = archive
        self.digests = digests
        self.device = device
        self.format_version = format_version
        self.dry = dry
        self.network_bytes = 0

    def member(self, name):
        """The zip directory entry of ``name``, which must be one skae could have written."""
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise ModelFileError(f"The model file lacks {name!r}.") from None
        if info.flag_bits & 0x1:
            raise ModelFileError(f"The model file's {name!r} is encrypted; skae never encrypts.")
        if info.compress_type not in _COMPRESSIONS:
            raise ModelFileError(
                f"The model file's {name!r} uses compression method {info.compress_type}; "
                "skae writes only stored or deflated members."
            )
        return info

    def array(self, name):
        if not isinstance(name, str) or name not in self.digests:
            raise ModelFileError(f"The model file refers to an unlisted array {name!r:.80}.")
        info = self.member(name)
        if self.dry:
            self._check_digest(name, info)
            return self._array_header(name, info)
        try:
            data = self.archive.read(name)
        except _READ_ERRORS as exc:
            raise ModelFileError(f"The model file lacks or cannot read {name!r}: {exc}") from None
        if hashlib.sha256(data).hexdigest() != self.digests[name]:
            raise ModelFileError(f"The model file's {name!r} does not match its digest (altered).")
        try:
            return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ModelFileError(
                f"The model file's {name!r} cannot be read without pickle: {exc}"
            ) from None

    def _check_digest(self, name, info):
        """Hash the member a megabyte at a time (its data is not kept)."""
        digest = hashlib.sha256()
        try:
            with self.archive.open(info) as handle:
                while chunk := handle.read(2**20):
                    digest.update(chunk)
        except _READ_ERRORS as exc:
            raise ModelFileError(f"The model file lacks or cannot read {name!r}: {exc}") from None
        if digest.hexdigest() != self.digests[name]:
            raise ModelFileError(f"The model file's {name!r} does not match its digest (altered).")

    def _array_header(self, name, info):
        """A stand-in of the array ``name`` with its shape and dtype, read from its header.

        The member's size in the zip directory must be exactly what the
        header says (the reading of the data is bounded by that size).
        """
        try:
            with self.archive.open(info) as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    raise ValueError(f"npy format version {version}")
                offset = handle.tell()
        except _READ_ERRORS as exc:
            raise ModelFileError(f"The model file cannot read {name!r}: {exc}") from None
        if dtype.hasobject or dtype.itemsize == 0:
            raise ModelFileError(
                f"The model file's {name!r} cannot be read without pickle: a {dtype} array."
            )
        if info.file_size != offset + _nbytes(shape, dtype):
            raise ModelFileError(
                f"The model file's {name!r} is {info.file_size} bytes, not the "
                f"{offset + _nbytes(shape, dtype)} its header describes (altered)."
            )
        if info.file_size <= _DRY_READ_BYTES:  # small: its values may size the network
            with self.archive.open(info) as handle:
                return np.lib.format.read_array(handle, allow_pickle=False)
        return np.broadcast_to(np.zeros((), dtype), shape)

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
            array = self.decode(node["__tensor__"])
            if self.dry:
                dtype = torch.from_numpy(np.zeros(0, array.dtype)).dtype
                return torch.empty(array.shape, dtype=dtype, device="meta")
            return torch.from_numpy(np.array(array))
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
        raise ModelFileError(f"Unknown entry {kind!r:.80} in the model file.")

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
        # Build with the parameters of the last training call: parameters set
        # since then (set_params without fit) must not change the network.
        builder = type(estimator)(**getattr(estimator, "_trained_with", {}))
        for key, value in vars(estimator).items():
            if key not in builder.get_params(deep=False):
                setattr(builder, key, value)
        if self.dry:
            return self._check_net(builder, estimator.n_features_in_, node)
        device = self.device or loadable_device(node["device"])
        net = builder._make_net(estimator.n_features_in_, torch.device(device), seed=0)
        weights = self.decode(node["module"])
        optimizer_state = self.decode(node["optimizer"])
        try:
            net.module_.load_state_dict(weights)
            fresh = [dict(group) for group in net.optimizer_.param_groups]
            _check_optimizer_state(net.optimizer_, optimizer_state)
            net.optimizer_.load_state_dict(optimizer_state)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(
                "The model file was altered: its weights or optimizer state do not fit the "
                f"network it describes: {exc}"
            ) from None
        for group, new in zip(net.optimizer_.param_groups, fresh):
            group.update({key: new[key] for key in _DEVICE_OPTIONS if key in new})
        net.history = History(self.decode(node["history"]))
        net.generator.set_state(self.decode(node["generator"]))
        net.interrupted_ = False
        return net

    def _check_net(self, builder, n_features, node):
        """Check the weights in ``node`` against the network ``builder`` describes, on ``meta``."""
        if not isinstance(n_features, int) or n_features < 1:
            raise ModelFileError(f"The model file's n_features_in_ is {n_features!r:.40}.")
        with torch.device("meta"):
            module = builder._build_module(n_features)
        self.network_bytes += _state_bytes(module)
        expected = module.state_dict()
        weights = self.decode(node["module"])
        if not isinstance(weights, dict) or list(weights) != list(expected):
            raise ModelFileError(
                "The model file was altered: its weights are not those of the network it "
                f"describes (names {list(weights)[:4]!r:.120}..., expected {list(expected)[:4]})."
            )
        for key, tensor in expected.items():
            got = weights[key]
            if not isinstance(got, torch.Tensor) or got.shape != tensor.shape:
                raise ModelFileError(
                    f"The model file was altered: weight {key!r} has shape "
                    f"{tuple(getattr(got, 'shape', ()))}, but the network it describes has "
                    f"{tuple(tensor.shape)}."
                )
        self.decode(node["optimizer"])  # headers only: checked against the built net later
        return None


def _check_optimizer_state(optimizer, state_dict):
    """Refuse optimizer state whose tensors do not match their parameters.

    torch's ``load_state_dict`` does not compare shapes, and its fused CPU
    kernels write out of bounds on a smaller moment (the interpreter
    aborts). Every tensor of a parameter's state is a 0-d count (``step``)
    or has the parameter's shape and, when floating, its dtype.
    """
    if not isinstance(state_dict, dict) or not isinstance(state_dict.get("param_groups"), list):
        raise ValueError("the optimizer state has no param_groups")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    ids = [i for group in state_dict["param_groups"] for i in group.get("params", ())]
    if len(ids) != len(params) or len(set(ids)) != len(ids):
        raise ValueError(f"the optimizer state lists {len(ids)} parameters, not {len(params)}")
    by_id = dict(zip(ids, params))
    state = state_dict.get("state", {})
    if not isinstance(state, dict):
        raise ValueError("the optimizer state is not a mapping")
    factored = type(optimizer).__name__ == "Adafactor"
    for key, values in state.items():
        if key not in by_id or not isinstance(values, dict):
            raise ValueError(f"optimizer state for an unknown parameter {key!r:.40}")
        param = by_id[key]
        for name, value in values.items():
            if not isinstance(value, torch.Tensor) or value.ndim == 0:
                continue
            shape_ok = value.shape == param.shape
            if factored:  # factored second moments broadcast to the parameter
                shape_ok = value.ndim == param.ndim and all(
                    v in (1, p) for v, p in zip(value.shape, param.shape)
                )
            if not shape_ok:
                raise ValueError(
                    f"optimizer state {name!r} of a parameter of shape {tuple(param.shape)} "
                    f"has shape {tuple(value.shape)}"
                )
            if value.dtype != param.dtype:
                raise ValueError(
                    f"optimizer state {name!r} is {value.dtype}, its parameter {param.dtype}"
                )


def _read_manifest(archive, path):
    reader = _Reader(archive, {}, None)
    info = reader.member(MANIFEST)
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ModelFileError(
            f"{path}: {MANIFEST} is {info.file_size} bytes, more than a model file's "
            f"manifest may be ({MAX_MANIFEST_BYTES})."
        )
    try:
        with archive.open(info) as handle:
            text = handle.read(MAX_MANIFEST_BYTES + 1)
        if len(text) > MAX_MANIFEST_BYTES:
            raise ValueError("it inflates beyond its size in the zip directory")
        return json.loads(text)
    except _READ_ERRORS as exc:
        kind = type(exc).__name__
        raise ModelFileError(f"{path}: cannot read {MANIFEST} ({kind}: {exc})") from None


def _check_sizes(archive, digests, network_bytes, path):
    """Refuse arrays that hold far more than the networks the file describes need."""
    total = sum(archive.getinfo(name).file_size for name in digests)
    budget = ARRAY_BYTES_PER_NETWORK_BYTE * network_bytes + ARRAY_BYTES_ALLOWANCE
    if total > budget:
        raise ModelFileError(
            f"{path}: its arrays are {total} bytes, far more than the networks it describes "
            f"need ({network_bytes} bytes of weights); the file was altered."
        )


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
