"""What the named choices of the estimators' parameters mean in torch.

Reconstruction losses, optimizers and devices, by the names the estimators
accept. Nothing here knows about estimators.
"""

import functools

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


def resolve_device(device):
    """Return the ``torch.device`` that ``device`` names.

    ``"auto"`` is ``cuda`` when available, else ``cpu``.

    Raises
    ------
    ValueError
        If the name is not a torch device, or names CUDA on a machine without it.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was requested but CUDA is not available; "
            "use device='auto' or 'cpu'."
        )
    return device


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
