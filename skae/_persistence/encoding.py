"""Writing objects as JSON nodes, with their arrays as ``.npy`` members.

A node is a JSON value, or a one-key object whose key says what it holds
(``{"__array__": "arrays/3.npy"}``, ``{"__tuple__": [...]}``, ``{"__estimator__":
"skae.VQTransformer", ...}``). The reader (``reader.py``) decodes each kind;
the value kinds without arrays (dtypes, object arrays, slices) are written and
read by the pairs of functions here. Whatever is not one of these kinds is
refused, naming where it is: a value the reader could only restore by running
code (a function, a pickled object) has no node.
"""

import io
import math
import operator

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ..exceptions import ModelFileError
from .classes import _optimizer_name, _public_name, refuse_code

#: Fitted caches that are recomputed on demand, so never saved.
_CACHES = {"_latent_density": None}
#: The kinds of dtype a file may name: booleans, numbers, text and ``object``
#: (an object dtype is only a name here: its arrays are ``__objects__`` nodes).
_DTYPE_KINDS = "biufcUSO"
#: Python's types that scikit-learn takes as a ``dtype`` (``dtype=float``).
_BUILTIN_TYPES = {t.__name__: t for t in (bool, int, float, complex, str, object)}


# -- value kinds without arrays ------------------------------------------------
def encode_dtype(dtype, path):
    """``np.dtype('float64')`` as ``'<f8'``: its canonical string."""
    if dtype.kind not in _DTYPE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise TypeError(f"{path} is the dtype {dtype}, which a model file cannot name")
    return dtype.str


def decode_dtype(text):
    """The dtype that ``encode_dtype`` wrote as ``text``; refuses any other string."""
    try:
        dtype = np.dtype(text) if isinstance(text, str) else None
    except (TypeError, ValueError, SyntaxError):
        dtype = None
    if dtype is None or dtype.str != text or dtype.kind not in _DTYPE_KINDS:
        raise ModelFileError(f"The model file names a dtype that is not allowed: {text!r:.60}.")
    return dtype


def encode_type(value, path):
    """A numpy scalar type (``np.float64``) or Python's ``float``, ``int``...: the class
    scikit-learn takes as ``dtype``."""
    if issubclass(value, np.generic):
        return {"__numpy_type__": encode_dtype(np.dtype(value), path)}
    if _BUILTIN_TYPES.get(value.__name__) is value:
        return {"__builtin_type__": value.__name__}
    raise TypeError(f"{path} is the class {value.__module__}.{value.__qualname__}")


def decode_type(kind, text):
    if kind == "__numpy_type__":
        return decode_dtype(text).type
    if text not in _BUILTIN_TYPES:
        raise ModelFileError(f"The model file names a type that is not allowed: {text!r:.60}.")
    return _BUILTIN_TYPES[text]


def encode_objects(array, path):
    """An object array (categories with NaN, ``drop_idx_``) as its shape and items.

    An item is a str, None, bool, int or float, or a numpy number as
    ``[dtype, value]``; any other object is refused (it would need pickle).
    """
    items = []
    for item in array.flat:
        if item is None or type(item) in (str, bool, int, float):
            items.append(item)
        elif isinstance(item, np.generic) and item.dtype.kind in "biuf":
            items.append([item.dtype.str, item.item()])
        elif isinstance(item, str):  # np.str_ and other str subclasses
            items.append(str(item))
        else:
            raise TypeError(
                f"{path} is an object array holding a {type(item).__name__}, which cannot be "
                "saved without pickle (only str, None, bool, int and float)"
            )
    return {"__objects__": {"shape": list(array.shape), "items": items}}


def decode_objects(node):
    shape, items = node.get("shape"), node.get("items")
    if (
        not isinstance(shape, list)
        or not all(type(n) is int and n >= 0 for n in shape)
        or not isinstance(items, list)
        or math.prod(shape) != len(items)
    ):
        raise ModelFileError(f"The model file has a malformed object array: {node!r:.80}.")
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        if isinstance(item, list) and len(item) == 2:
            dtype = decode_dtype(item[0])
            if dtype.kind not in "biuf" or type(item[1]) not in (bool, int, float):
                raise ModelFileError(f"The model file has a malformed number {item!r:.60}.")
            item = dtype.type(item[1])
        elif item is not None and type(item) not in (str, bool, int, float):
            raise ModelFileError(
                f"The model file's object array holds {item!r:.60}: only str, None, numbers."
            )
        array[i] = item
    return array.reshape(shape)


def encode_slice(value, path):
    try:
        bounds = [
            None if v is None else operator.index(v) for v in (value.start, value.stop, value.step)
        ]
    except TypeError:
        raise TypeError(f"{path} is a slice of other than integers: {value!r:.60}") from None
    return {"__slice__": bounds}


def decode_slice(bounds):
    if not (
        isinstance(bounds, list)
        and len(bounds) == 3
        and all(b is None or type(b) is int for b in bounds)
    ):
        raise ModelFileError(f"The model file has a malformed slice: {bounds!r:.60}.")
    return slice(*bounds)


class _Writer:
    """Turns objects into JSON nodes, collecting arrays as ``.npy`` bytes."""

    def __init__(self):
        self.arrays = {}

    def array(self, value, path):
        value = np.asarray(value)  # 0-d stays 0-d (ascontiguousarray would make it 1-d)
        if not value.flags.c_contiguous:
            value = np.ascontiguousarray(value)
        if value.dtype == object:
            # Only strings: the node that files had before object arrays.
            if all(isinstance(item, str) for item in value.flat):
                return {"__strings__": value.tolist()}
            return encode_objects(value, path)
        name = f"arrays/{len(self.arrays)}.npy"
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, value, allow_pickle=False)
        self.arrays[name] = buffer.getvalue()
        return {"__array__": name}

    def encode(self, value, path):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return {"__scalar__": self.array(np.asarray(value), path)}
        if isinstance(value, np.ndarray):
            return self.array(value, path)
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self.array(value.detach().cpu().numpy(), path)}
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
        if isinstance(value, slice):
            return encode_slice(value, path)
        if isinstance(value, np.dtype):
            return {"__dtype__": encode_dtype(value, path)}
        if isinstance(value, type) and (
            issubclass(value, np.generic) or _BUILTIN_TYPES.get(value.__name__) is value
        ):
            return encode_type(value, path)
        if callable(value):
            name = getattr(value, "__qualname__", type(value).__qualname__)
            raise TypeError(
                f"{path} is a callable ({name}), which cannot be saved without pickle: a model "
                "file holds no code, since restoring code means running it; give a value the "
                "estimator accepts instead of a callable, or use joblib for files only you "
                "will load"
            )
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
        refuse_code(name, params, path)
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
