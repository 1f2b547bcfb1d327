"""In-memory tensors for training and batched no-grad inference.

Batching in-memory arrays through ``torch.utils.data.DataLoader`` costs a
Python call per row. Here data becomes one float32 tensor per fit, and a batch
is one gather with a slice of a random permutation.
"""

import warnings

import numpy as np
import torch
from torch.utils.data import Dataset

#: Rows per forward pass at inference, by device type: large enough to amortise
#: Python and kernel-launch overhead, small enough to bound the activations'
#: memory. On CPU, 4,096 rows keep a 128-wide layer's activations (2 MiB) in
#: L2 cache: transform of 100,000 x 64 ran 15.2 ms against 17.7-18.4 ms with
#: 16,384-row chunks (benchmarks/bench_speed.py machine).
INFERENCE_BATCH_SIZE = {"cpu": 4096}
DEFAULT_INFERENCE_BATCH_SIZE = 16384


class TensorData(Dataset):
    """Rows of ``X`` (and optional per-row conditioning ``cond``) as tensors.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The data, already float32 and on the training device.
    cond : torch.Tensor of shape (n_samples, ...) or None, default=None
        Per-row conditioning passed to the module as ``cond`` (e.g. group ids).
    """

    def __init__(self, X, cond=None):
        self.X = X
        self.cond = cond

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return self.batch(index)

    def batch(self, index):
        """Return ``(inputs, target)`` for the rows in ``index``.

        ``inputs`` is the tensor of rows, or a dict ``{"x": rows, "cond": ...}``
        when the data carries conditioning; the target is always the rows.
        """
        x = self.X[index]
        if self.cond is None:
            return x, x
        return {"x": x, "cond": self.cond[index]}, x

    def subset(self, index):
        """Return a :class:`TensorData` holding the rows in ``index``."""
        cond = None if self.cond is None else self.cond[index]
        return TensorData(self.X[index], cond)


class BatchIterator:
    """Iterate over mini-batches of a :class:`TensorData`.

    Parameters
    ----------
    data : TensorData
        The rows to batch.
    batch_size : int
        Rows per batch; the last batch may differ in size (no row is dropped).
    shuffle : bool, default=False
        Draw a new permutation of the rows at every pass.
    generator : torch.Generator or None, default=None
        Source of the permutations, for reproducible shuffling.
    """

    def __init__(self, data, batch_size, *, shuffle=False, generator=None):
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        return len(self._bounds())

    def _bounds(self):
        # A one-row tail joins the previous batch: batch normalisation cannot
        # train on a single row, and one row makes a noisy step anyway.
        n, size = len(self.data), self.batch_size
        stops = list(range(size, n, size)) + [n]
        if len(stops) > 1 and stops[-1] - stops[-2] == 1:
            del stops[-2]
        return list(zip([0] + stops[:-1], stops))

    def __iter__(self):
        bounds = self._bounds()
        if self.shuffle:
            perm = torch.randperm(len(self.data), generator=self.generator)
            perm = perm.to(self.data.X.device)
            for start, stop in bounds:
                yield self.data.batch(perm[start:stop])
        else:
            for start, stop in bounds:
                yield self.data.batch(slice(start, stop))


def as_tensor(X):
    """Share a float32 numpy array's memory as a CPU tensor.

    No copy is made for C-contiguous float32 input, read-only input included
    (skae never writes into the tensors it makes from user data).
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable", category=UserWarning)
        return torch.from_numpy(X)


@torch.inference_mode()
def apply_batched(fn, X, device, batch_size=None):
    """Apply ``fn`` to the rows of ``X`` in large chunks without gradients.

    Parameters
    ----------
    fn : callable
        Maps a ``(batch, n_in)`` float tensor on ``device`` to ``(batch, ...)``.
    X : ndarray of shape (n_samples, n_in)
        Input rows; float32 avoids a copy.
    device : torch.device
        Where ``fn`` runs.
    batch_size : int or None, default=None
        Rows per call of ``fn``; None picks ``INFERENCE_BATCH_SIZE`` for the
        device's type (``DEFAULT_INFERENCE_BATCH_SIZE`` for other devices).

    Returns
    -------
    out : ndarray of shape (n_samples, ...)
        The outputs, on the CPU, in the dtype ``fn`` returned.
    """
    if batch_size is None:
        batch_size = INFERENCE_BATCH_SIZE.get(
            torch.device(device).type, DEFAULT_INFERENCE_BATCH_SIZE
        )
    X = as_tensor(X)
    out = None
    for start in range(0, len(X), batch_size):
        chunk = fn(X[start : start + batch_size].to(device, non_blocking=True))
        if out is None:
            # One CPU tensor for all rows; numpy shares its memory at the end.
            out = torch.empty((len(X),) + chunk.shape[1:], dtype=chunk.dtype)
        out[start : start + len(chunk)] = chunk
    return out.numpy()
