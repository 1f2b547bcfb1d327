"""Writing objects as JSON nodes, with their arrays as ``.npy`` members.

A node is a JSON value, or a one-key object whose key says what it holds
(``{"__array__": "arrays/3.npy"}``, ``{"__tuple__": [...]}``, ``{"__estimator__":
"skae.VQTransformer", ...}``). The reader (``reader.py``) decodes each kind.
"""

import io

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .classes import _optimizer_name, _public_name

#: Fitted caches that are recomputed on demand, so never saved.
_CACHES = {"_latent_density": None}


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
