"""What the named choices of the estimators' parameters mean in torch.

Reconstruction losses, optimizers and devices, by the names the estimators
accept. Nothing here knows about estimators.
"""

import functools
import inspect

import torch

LOSSES = {
    "mse": torch.nn.MSELoss,
    "mae": torch.nn.L1Loss,
    "huber": torch.nn.HuberLoss,
    "bce": torch.nn.BCELoss,
}

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def entry_losses(loss, x_hat, x):
    """Loss named ``loss`` of every entry of ``x_hat`` against ``x``.

    A NaN (an overflow inside the network, e.g. from inputs near float32's
    limit) becomes inf: a row that cannot be rebuilt has the largest error,
    never a NaN that compares as nothing.
    """
    errors = LOSSES[loss](reduction="none")(x_hat, x)
    return errors.masked_fill(errors.isnan(), float("inf"))


#: Arithmetic of the network's forward pass, by the names the estimators
#: accept: None is float32 throughout; otherwise the dtype that
#: ``torch.autocast`` runs matrix products in (weights, optimizer state and
#: losses stay float32).
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device, precision):
    """Context manager running the forward pass in ``precision`` on ``device``."""
    dtype = PRECISIONS[precision]
    device_type = torch.device(device).type
    return torch.autocast(device_type, dtype=dtype, enabled=dtype is not None)


def in_precision(fn, device, precision):
    """``fn`` run in ``precision`` on ``device``, floating outputs as float32."""
    if PRECISIONS[precision] is None:
        return fn

    def run(*args):
        with autocast(device, precision):
            out = fn(*args)
        return out.float() if out.is_floating_point() else out

    return run


#: Device types a model can live on, and whether this machine has each.
DEVICE_AVAILABLE = {
    "cpu": lambda: True,
    "cuda": lambda: torch.cuda.is_available(),
    "mps": lambda: hasattr(torch.backends, "mps") and torch.backends.mps.is_available(),
    "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available(),
}


def resolve_device(device):
    """Return the ``torch.device`` that ``device`` names.

    ``"auto"`` is ``cuda`` when available, else ``cpu``; ``"cpu:N"`` is
    ``cpu`` (torch cannot restore saved tensors to ``cpu:N``).

    Raises
    ------
    ValueError
        If the name is not a torch device, not one a model can train on
        (e.g. ``"meta"``), or one this machine does not have.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from None
    if device.type not in DEVICE_AVAILABLE:
        raise ValueError(
            f"device={str(device)!r} cannot hold a trained model; use one of "
            f"{sorted(DEVICE_AVAILABLE)} or 'auto'."
        )
    if device.type == "cpu":
        return torch.device("cpu")
    if not DEVICE_AVAILABLE[device.type]():
        name = "CUDA" if device.type == "cuda" else device.type
        raise ValueError(
            f"device={str(device)!r} was requested but {name} is not available; "
            "use device='auto' or 'cpu'."
        )
    return device


def loadable_device(device):
    """``device`` if this machine has it, else ``"cpu"``; ``"cpu"`` for ``"cpu:N"``."""
    device = torch.device(device)
    if device.type == "cpu" or not DEVICE_AVAILABLE.get(device.type, lambda: False)():
        return "cpu"
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        return "cuda"  # saved on a GPU this machine does not have: its first one
    return str(device)


@functools.cache
def fused_adam_works(device):
    """Whether this torch build has a fused Adam kernel for ``device``."""
    try:
        param = torch.zeros(1, device=device, requires_grad=True)
        param.grad = torch.zeros_like(param)
        torch.optim.Adam([param], fused=True).step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def optimizer_options(optimizer, kwargs, weight_decay, device):
    """The optimizer class that ``optimizer`` names and its ``optimizer__*`` options.

    ``kwargs`` (``optimizer_kwargs``) are passed on as they are. Adam and
    AdamW named by string get the fused kernel where this torch build has one
    for ``device`` (one kernel for all parameters: ~25% faster steps for
    small MLPs). Weight decay is passed only when set, so that optimizers
    without it (LBFGS) work.

    Raises
    ------
    ValueError
        If ``kwargs`` names ``lr``, ``weight_decay`` or ``params``, which have
        parameters of their own, or is not an argument of the optimizer.
    """
    options = {}
    if isinstance(optimizer, str):
        optimizer = OPTIMIZERS[optimizer]
        if optimizer in (torch.optim.Adam, torch.optim.AdamW) and fused_adam_works(device):
            options["optimizer__fused"] = True
    if weight_decay:
        options["optimizer__weight_decay"] = weight_decay
    kwargs = dict(kwargs or {})
    taken = sorted(set(kwargs) & {"lr", "weight_decay", "params"})
    if taken:
        raise ValueError(
            f"optimizer_kwargs may not set {taken}: use the lr and weight_decay parameters."
        )
    accepted = inspect.signature(optimizer).parameters
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        raise ValueError(
            f"optimizer_kwargs {unknown} are not arguments of {optimizer.__name__}; "
            f"it takes {sorted(k for k in accepted if k not in ('params', 'lr'))}."
        )
    if "fused" in kwargs or "foreach" in kwargs:
        options.pop("optimizer__fused", None)
    options.update({f"optimizer__{k}": v for k, v in kwargs.items()})
    return optimizer, options
