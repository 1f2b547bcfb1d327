"""Training data as tensors: where rows live, how batches are drawn.

Batching in-memory arrays through ``torch.utils.data.DataLoader`` costs a
Python call per row. Here data becomes one float32 tensor per fit, and a batch
is one gather with a slice of a random permutation (or, for rows read from a
file, of a window of blocks). Inference is in :mod:`skae._engine.inference`.
"""

import functools
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.utils.data import Dataset

#: Training rows are copied to an accelerator once when they take at most
#: this share of its free memory; larger data stays in host memory and each
#: batch is copied as it is needed.
DEVICE_DATA_FRACTION = 0.5


def training_rows(X, device):
    """Where the training tensor ``X`` (on the CPU) is kept for ``device``.

    On the CPU it is ``X`` itself. On a CUDA device it is a copy there when
    it fits in :data:`DEVICE_DATA_FRACTION` of the free memory (one copy per
    fit instead of one per batch), else ``X``: batches are then gathered into
    pinned memory and copied without blocking (see :class:`TensorData`).
    Other accelerators get the copy.
    """
    device = torch.device(device)
    if device.type == "cpu":
        return X
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if X.nbytes > DEVICE_DATA_FRACTION * free:
            return X
    return X.to(device)


def _to_device(tensor, index, device):
    """``tensor[index]`` (a CPU tensor) copied to ``device`` through pinned memory.

    The rows are gathered straight into a page-locked buffer, so the copy to
    the device does not block the host; torch's pinned-memory allocator
    keeps the buffer until the copy is done.
    """
    if isinstance(index, slice):
        rows = tensor[index]
        buffer = torch.empty(rows.shape, dtype=rows.dtype, pin_memory=True)
        buffer.copy_(rows)
    else:
        shape = (len(index),) + tuple(tensor.shape[1:])
        buffer = torch.empty(shape, dtype=tensor.dtype, pin_memory=True)
        torch.index_select(tensor, 0, index, out=buffer)
    return buffer.to(device, non_blocking=True)


class TensorData(Dataset):
    """Rows of ``X`` (and optional per-row conditioning ``cond``) as tensors.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The data, float32, on the training device or, for data too large for
        it, on the CPU (see :func:`training_rows`).
    cond : torch.Tensor of shape (n_samples, ...) or None, default=None
        Per-row conditioning passed to the module as ``cond`` (e.g. group ids).
    weight : torch.Tensor of shape (n_samples,) or None, default=None
        Per-row weights of the loss; they travel with the target.
    device : str or torch.device or None, default=None
        Where batches are used. Batches of tensors held elsewhere (on the
        CPU) are copied there one by one; None is ``X``'s device.
    ranges : list of (int, int) or None, default=None
        The ``(start, stop)`` row ranges of the tensors that make up the data
        (a block split of file-backed rows, :meth:`split_blocks`); None is
        all rows.
    """

    def __init__(self, X, cond=None, weight=None, device=None, ranges=None):
        self.X = X
        self.cond = cond
        self.weight = weight
        self.device = X.device if device is None else torch.device(device)
        self.ranges = ranges

    def __len__(self):
        if self.ranges is not None:
            return sum(stop - start for start, stop in self.ranges)
        return len(self.X)

    def blocks(self, block_rows):
        """``(start, stop)`` row ranges, in file order.

        The data's :attr:`ranges` when it is a block split of file-backed rows
        (see :meth:`split_blocks`), else consecutive blocks of ``block_rows``
        rows covering all rows.
        """
        if self.ranges is not None:
            return list(self.ranges)
        n = len(self.X)
        return [(start, min(n, start + block_rows)) for start in range(0, n, block_rows)]

    def split_blocks(self, n_valid, block_rows, generator=None):
        """Hold out whole blocks of rows: ``(train, valid)`` views, nothing copied.

        For rows read from a file: a random subset of the blocks of
        ``block_rows`` rows holding about ``n_valid`` rows is the validation
        set, the other blocks the training set. Each is a :class:`TensorData`
        over the same tensors with its :attr:`ranges`, read a window at a time
        by :class:`BatchIterator`.
        """
        blocks = self.blocks(block_rows)
        order = torch.randperm(len(blocks), generator=generator).tolist()
        valid, held = [], 0
        for b in order[:-1]:  # at least one block is left for training
            if held >= n_valid:
                break
            valid.append(b)
            held += blocks[b][1] - blocks[b][0]
        keep = set(valid)
        train_ranges = [blocks[b] for b in range(len(blocks)) if b not in keep]
        valid_ranges = [blocks[b] for b in sorted(valid)]

        def view(ranges):
            return TensorData(self.X, self.cond, self.weight, self.device, ranges=ranges)

        return view(train_ranges), view(valid_ranges)

    def __getitem__(self, index):
        return self.batch(index)

    def batch(self, index):
        """Return ``(inputs, target)`` for the rows in ``index``.

        ``inputs`` is the tensor of rows, or a dict ``{"x": rows, "cond": ...}``
        when the data carries conditioning; the target is the rows, or
        ``(rows, weights)`` when the rows are weighted.
        """
        take = self._take
        x = take(self.X, index)
        target = x if self.weight is None else (x, take(self.weight, index))
        if self.cond is None:
            return x, target
        return {"x": x, "cond": take(self.cond, index)}, target

    def _take(self, tensor, index):
        if tensor.device == self.device:
            return tensor[index]
        if isinstance(index, torch.Tensor):
            index = index.to(tensor.device)
        if tensor.device.type == "cpu" and self.device.type == "cuda":
            return _to_device(tensor, index, self.device)
        return tensor[index].to(self.device)

    def to_device(self):
        """Return this data with every tensor on :attr:`device` (one copy each)."""
        if self.X.device == self.device:
            return self

        def move(tensor):
            return None if tensor is None else tensor.to(self.device)

        return TensorData(move(self.X), move(self.cond), move(self.weight), self.device)

    def __array__(self, dtype=None, copy=None):
        # Callbacks (e.g. a callable EpochScoring scorer) get a TensorData
        # where the user gave an array: let numpy see its rows.
        return np.asarray(self.X.detach().cpu().numpy(), dtype=dtype)

    def read_ranges(self, ranges, pool=None):
        """Start copying the rows ``start:stop`` of each of ``ranges``; return a
        function that waits for the copies and returns them as a :class:`TensorData`.

        Each range is copied as one slice: a sequential read for file-backed
        rows. With a thread ``pool`` the ranges are copied in parallel while
        the caller goes on (the function raises what a copy raised); without,
        they are copied before this returns.
        """
        offsets = np.cumsum([0] + [b - a for a, b in ranges]).tolist()
        pending = []  # the copies still running on the pool

        def gather(tensor):
            if tensor is None:
                return None
            shape = (offsets[-1], *tensor.shape[1:])
            out = torch.empty(shape, dtype=tensor.dtype, device=tensor.device)
            for (a, b), at in zip(ranges, offsets):
                copy = functools.partial(out[at : at + b - a].copy_, tensor[a:b])
                if pool is None:
                    copy()
                else:
                    pending.append(pool.submit(copy))
            return out

        data = TensorData(gather(self.X), gather(self.cond), gather(self.weight), self.device)

        def result():
            for future in pending:
                future.result()
            return data

        return result

    def subset(self, index):
        """Return a :class:`TensorData` holding the rows in ``index``.

        ``index`` is on the device of the tensors (the rows stay where they are).
        """
        cond = None if self.cond is None else self.cond[index]
        weight = None if self.weight is None else self.weight[index]
        return TensorData(self.X[index], cond, weight, self.device)


#: Rows of a file-backed array are shuffled in blocks of about this many bytes...
STREAM_BLOCK_BYTES = 1 << 20
#: ... read this many bytes of blocks at a time into memory, rows shuffled there.
STREAM_WINDOW_BYTES = 64 << 20
#: Threads that read the blocks of the next window while the current one trains.
#: One thread reads a cold file block by block at a third of the disk's speed
#: (page faults wait one at a time); a few in parallel keep the disk busy.
STREAM_READ_THREADS = 4


def is_file_backed(X):
    """Whether ``X`` (or an array it views) is a ``numpy.memmap``."""
    while X is not None:
        if isinstance(X, np.memmap):
            return True
        X = getattr(X, "base", None)
    return False


def stream_block_rows(X):
    """Rows per shuffling block for a file-backed array ``X`` (at least 1)."""
    row_bytes = max(1, X[:1].nbytes)
    return max(1, STREAM_BLOCK_BYTES // row_bytes)


def _batch_bounds(n, size, min_rows=2):
    """``(start, stop)`` of the batches of ``n`` rows, ``size`` rows each.

    A tail of fewer than ``min_rows`` rows joins the previous batch: batch
    normalisation cannot train on a single row, and one row makes a noisy
    step anyway.
    """
    stops = list(range(size, n, size)) + [n]
    if len(stops) > 1 and stops[-1] - stops[-2] < min_rows:
        del stops[-2]
    return list(zip([0] + stops[:-1], stops))


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
    block_rows : int or None, default=None
        Shuffle as streaming loaders do, for data read from a file: cut the
        rows into contiguous blocks of ``block_rows``, visit the blocks in a
        random order, read :data:`STREAM_WINDOW_BYTES` of them at a time
        (in file order) into memory and shuffle the rows within that window.
        The file is then read in long runs instead of one random row at a
        time. None draws one permutation of all rows. Data that is a block
        split of a file (``data.ranges``, see
        :meth:`TensorData.split_blocks`) is always read a window of its
        blocks at a time, in file order when not shuffled.
    shard : (int, int) or None, default=None
        ``(rank, world_size)`` of a data-parallel fit
        (:func:`skae.data_parallel`): every process draws the same batches
        (the same ``generator`` state) and yields only its share of each,
        the ``rank``-th of ``world_size`` contiguous parts, so that all
        processes take the same number of steps. A tail with fewer than two
        rows for each process joins the previous batch. None yields whole
        batches.
    """

    def __init__(
        self, data, batch_size, *, shuffle=False, generator=None, block_rows=None, shard=None
    ):
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.block_rows = block_rows
        self.shard = shard

    def _bounds(self, n):
        """``(start, stop)`` of this process's share of each batch of ``n`` rows."""
        if self.shard is None:
            return _batch_bounds(n, self.batch_size)
        rank, world_size = self.shard
        shares = []
        for start, stop in _batch_bounds(n, self.batch_size, 2 * world_size):
            size = stop - start
            first, last = size * rank // world_size, size * (rank + 1) // world_size
            shares.append((start + first, start + last))
        return shares

    def _by_windows(self):
        # Block-shuffled training, and any pass over a block split of a file.
        return (self.shuffle and self.block_rows) or self.data.ranges is not None

    def __len__(self):
        if self._by_windows():
            # Counted in file order: a pass in another order may have one
            # batch more or less (the short last block changes windows).
            windows = self._windows(shuffled=False)
            return sum(len(self._bounds(sum(b - a for a, b in w))) for w in windows)
        return len(self._bounds(len(self.data)))

    def _windows(self, shuffled=True):
        """Row ranges of the windows of one pass: lists of ``(start, stop)`` blocks."""
        # A block split's own ranges, or blocks of block_rows rows.
        blocks = self.data.blocks(self.block_rows)
        if shuffled:
            order = torch.randperm(len(blocks), generator=self.generator).tolist()
        else:
            order = list(range(len(blocks)))
        row_bytes = max(1, self.data.X[:1].nbytes)
        largest = max((b - a for a, b in blocks), default=1)
        per_window = max(1, STREAM_WINDOW_BYTES // (largest * row_bytes))
        for first in range(0, len(blocks), per_window):
            yield [blocks[b] for b in sorted(order[first : first + per_window])]

    def __iter__(self):
        if self._by_windows():
            yield from self._iter_windows()
            return
        if not self.shuffle:
            for start, stop in self._bounds(len(self.data)):
                yield self.data.batch(slice(start, stop))
            return
        perm = torch.randperm(len(self.data), generator=self.generator)
        perm = perm.to(self.data.X.device)
        for start, stop in self._bounds(len(self.data)):
            yield self.data.batch(perm[start:stop])

    def _iter_windows(self):
        windows = self._windows(shuffled=self.shuffle)
        # One sequential read per block, into memory; from a file on the
        # CPU, on a pool's threads, and the next window is read while this
        # one's batches train: two windows are in memory at most.
        pool = None
        if self.data.X.device.type == "cpu":
            pool = ThreadPoolExecutor(STREAM_READ_THREADS)

        def read_next():
            blocks = next(windows, None)
            return None if blocks is None else self.data.read_ranges(blocks, pool)

        try:
            upcoming = read_next()
            while upcoming is not None:
                window = upcoming().to_device()  # one copy to the device, not one per batch
                upcoming = read_next()
                if self.shuffle:
                    perm = torch.randperm(len(window), generator=self.generator)
                    perm = perm.to(window.X.device)
                for start, stop in self._bounds(len(window)):
                    yield window.batch(perm[start:stop] if self.shuffle else slice(start, stop))
                del window
        finally:
            # A pass left early does not wait for the next window's reads.
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)


def as_tensor(X):
    """Share a float32 numpy array's memory as a CPU tensor.

    No copy is made for C-contiguous float32 input, read-only input included
    (skae never writes into the tensors it makes from user data).
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable", category=UserWarning)
        return torch.from_numpy(X)
