"""Batched no-grad inference, in chunks sized by one table per device type.

Inference of rows, fixed-length sequences (3-D arrays) and variable-length
sequences (lists of 2-D arrays) all goes through :func:`apply_batched`, in
chunks sized by :data:`INFERENCE_BATCH_SIZE`.
"""

import math

import numpy as np
import torch

from .data import as_tensor

#: Rows (frames, for sequences) per forward pass at inference, by device type:
#: large enough to amortise Python and kernel-launch overhead, small enough to
#: bound the activations' memory. The CPU value keeps a 128-wide layer's
#: activations in L2 cache (measured in ``benchmarks/results/speed.md``).
INFERENCE_BATCH_SIZE = {"cpu": 4096}
#: Rows per forward pass at inference on device types not in the table.
DEFAULT_INFERENCE_BATCH_SIZE = 16384


def inference_batch_size(device):
    """Rows (or frames) per inference chunk on ``device``, from the one table."""
    device_type = torch.device(device).type
    return INFERENCE_BATCH_SIZE.get(device_type, DEFAULT_INFERENCE_BATCH_SIZE)


def items_per_chunk(shape, batch_size):
    """How many items of an array of ``shape`` hold about ``batch_size`` rows.

    An item is a row of a 2-D array, or a sequence of ``shape[1]`` frames of a
    3-D array; at least one item per chunk.
    """
    frames = math.prod(shape[1:-1]) if len(shape) > 2 else 1
    return max(1, batch_size // max(1, frames))


def _input_tensor(X):
    # Integer arrays (e.g. VQ codes) keep their dtype; the rest is float32.
    if isinstance(X, np.ndarray) and np.issubdtype(X.dtype, np.integer):
        return torch.from_numpy(np.ascontiguousarray(X))
    return as_tensor(X)


@torch.inference_mode()
def apply_batched(fn, X, device, batch_size=None, *, cond=None, check_finite=False):
    """Apply ``fn`` to ``X`` in large chunks without gradients.

    Parameters
    ----------
    fn : callable
        ``fn(x)``, or ``fn(x, cond)`` when ``cond`` is given: maps tensors on
        ``device`` whose first axis is the batch to a ``(batch, ...)`` tensor.
    X : ndarray of shape (n_samples, ...) or list of ndarray
        Rows ``(n_samples, n_in)``, sequences ``(n_sequences, n_frames,
        n_in)``, or a list of 2-D arrays (sequences of varying length), each
        given to ``fn`` as a batch of one. Float input becomes float32
        (float32 avoids a copy); integer input keeps its dtype.
    device : str or torch.device
        Where ``fn`` runs.
    batch_size : int or None, default=None
        Rows, or frames for sequences, per call of ``fn``; None picks
        :data:`INFERENCE_BATCH_SIZE` for the device's type
        (:data:`DEFAULT_INFERENCE_BATCH_SIZE` for other devices).
    cond : ndarray or list of ndarray or None, default=None
        A second input aligned with ``X`` along the first axis (e.g. one
        group code per row or sequence), chunked the same way.
    check_finite : bool, default=False
        Raise instead of returning a NaN or infinite float output.

    Returns
    -------
    out : ndarray of shape (n_samples, ...) or list of ndarray
        The outputs, on the CPU, in the dtype ``fn`` returned; a list for
        list input.

    Raises
    ------
    ValueError
        With ``check_finite``, if an output is not finite: the network
        overflowed on inputs too large for float32 arithmetic.
    """
    inputs = (X,) if cond is None else (X, cond)
    if isinstance(X, list):
        out = [
            fn(*(_input_tensor(a[i][None]).to(device) for a in inputs))[0].cpu().numpy()
            for i in range(len(X))
        ]
        if check_finite and not all(np.isfinite(o).all() for o in out):
            raise_not_finite(sum(not np.isfinite(o).all() for o in out), len(out))
        return out
    if batch_size is None:
        batch_size = inference_batch_size(device)
    step = items_per_chunk(X.shape, batch_size)
    tensors = [_input_tensor(a) for a in inputs]
    out = None
    finite = True
    for start in range(0, len(X), step):
        chunk = fn(*(t[start : start + step].to(device, non_blocking=True) for t in tensors))
        if out is None:
            # One CPU tensor for all rows; numpy shares its memory at the end.
            out = torch.empty((len(X),) + chunk.shape[1:], dtype=chunk.dtype)
            check_finite = check_finite and chunk.is_floating_point()
        if check_finite and finite:
            # One reduction: the sum is finite when every entry is (or overflows).
            finite = math.isfinite(chunk.sum().item()) or bool(torch.isfinite(chunk).all())
        out[start : start + len(chunk)] = chunk
    out = out.numpy()
    if not finite:
        rows = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        raise_not_finite(int(rows.sum()), len(out))
    return out


def raise_not_finite(n_bad, n):
    raise ValueError(
        f"The network's output is not finite for {n_bad} of {n} rows: their values are "
        "too large for float32 arithmetic. Scale the input (e.g. StandardScaler) the "
        "way the training data was scaled."
    )
