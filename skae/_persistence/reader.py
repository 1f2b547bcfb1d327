"""Rebuilding estimators from a model file's JSON nodes and arrays."""

import numpy as np
import torch
from skorch.history import History

from .._engine.choices import loadable_device
from ..exceptions import ModelFileError
from .classes import (
    ADDED_PARAMETERS,
    FORMAT_1_NAMES,
    _allowed_class,
    _optimizer_class,
    check_no_code,
)
from .encoding import decode_dtype, decode_objects, decode_slice, decode_type
from .guards import _Archive, _check_optimizer_state, _state_bytes

#: Optimizer-group options that depend on the device, not on training.
_DEVICE_OPTIONS = ("fused", "foreach", "capturable", "differentiable")


class _Reader(_Archive):
    """Rebuilds objects from JSON nodes and the archive's arrays.

    A ``dry`` reader reads only the headers of the arrays (giving zero-cost
    stand-ins of their shape and dtype) and builds networks on the ``meta``
    device: it checks the file against the networks it describes, and adds up
    their bytes (``network_bytes``), before anything is allocated.
    """

    def __init__(self, archive, digests, device, format_version, *, dry=False):
        super().__init__(archive, digests, dry=dry)
        self.device = device
        self.format_version = format_version
        self.network_bytes = 0

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
        if kind == "__objects__":
            return decode_objects(node["__objects__"])
        if kind == "__slice__":
            return decode_slice(node["__slice__"])
        if kind == "__dtype__":
            return decode_dtype(node["__dtype__"])
        if kind in ("__numpy_type__", "__builtin_type__"):
            return decode_type(kind, node[kind])
        raise ModelFileError(f"Unknown entry {kind!r:.80} in the model file.")

    def estimator(self, node):
        name = node["__estimator__"]
        if self.format_version == 1:
            name = FORMAT_1_NAMES.get(name, name)
        cls = _allowed_class(name)
        params = self.decode({"__dict__": list(node["params"].items())})
        params = {**ADDED_PARAMETERS.get(name, {}), **params}
        if params.get("memory") is not None:
            raise ModelFileError("The model file sets a Pipeline memory (a cache folder).")
        for key, value in params.items():
            check_no_code(name, key, value)
        estimator = cls(**params)
        for key, value in node["state"].items():
            # Fitted attributes only: never a dunder or a method/property name.
            if not isinstance(key, str) or key.startswith("__") or hasattr(cls, key):
                raise ModelFileError(f"The model file sets a forbidden attribute {key!r}.")
            value = self.decode(value)
            check_no_code(name, key, value)
            setattr(estimator, key, value)
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
