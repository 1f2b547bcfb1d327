"""Data-parallel training: the processes of a ``torch.distributed`` group fit one model.

Inside :func:`data_parallel`, every process of the group calls ``fit`` on the
same estimator with the same rows, and the training engine
(:class:`skae._engine.net.ReconstructionNet`) keeps them in lockstep:

- it starts every process from rank 0's weights and random state;
- each batch is the batch a single process would draw, cut into one
  contiguous share per process (:class:`skae._engine.data.BatchIterator`'s
  ``shard``), so ``batch_size`` is the global batch;
- after the backward pass of each step, one all-reduce replaces every
  gradient by the mean over the processes, weighted by their shares' rows
  (or sample weights), and rank 0's buffers (batch-norm statistics,
  codebooks) are copied to the others after the step;
- each batch's loss is reduced the same way before it is recorded, so the
  history, early stopping and the divergence check agree everywhere and
  every process stops at the same epoch.

This module holds the collectives and :class:`DataParallelMixin`, the
steps of the engine's loop that differ in a data-parallel training call; the
loop itself is the engine's. Outside :func:`data_parallel` the mixin's steps
are the plain loop's.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from skorch.dataset import get_len

#: The group of the enclosing :func:`data_parallel`; ``_WORLD`` for the
#: default group, None outside.
#: The group of the enclosing data_parallel() block: a ProcessGroup, _WORLD, or None.
_GROUP: contextvars.ContextVar[Any] = contextvars.ContextVar("skae_data_parallel", default=None)
_WORLD = object()


@contextlib.contextmanager
def data_parallel(group: dist.ProcessGroup | None = None) -> Iterator[None]:
    """Fit estimators across the processes of a ``torch.distributed`` group.

    Every ``fit`` (``partial_fit``) inside the block trains one model in
    lockstep across the processes of ``group``, as
    ``torch.nn.parallel.DistributedDataParallel`` does: each process must
    make the same calls with the same rows. The processes start from rank
    0's weights and random state, each computes the gradient of its share
    of every batch, the gradients are averaged, and all of them end with the
    same fitted estimator. ``batch_size`` is the global batch (each process
    takes about ``batch_size / world_size`` rows of it), so the model is
    that of a fit in one process with the same parameters, up to floating
    point rounding (and the draws of dropout and corruption noise, which
    each process makes for its own rows).

    A context variable carries the group: threads started inside the block
    (e.g. by joblib) fit on their own, as outside it.

    Parameters
    ----------
    group : torch.distributed.ProcessGroup or None, default=None
        The processes that train together; None is the default group of
        ``torch.distributed.init_process_group``.

    Yields
    ------
    None

    Raises
    ------
    RuntimeError
        If ``torch.distributed`` has no initialised process group.

    See Also
    --------
    torch.distributed.init_process_group : Start the group, e.g. in a script
        run by ``torchrun``.

    Notes
    -----
    Early stopping, the divergence check and ``callbacks`` see losses
    averaged over the processes. Every process validates its share of the
    validation rows. Rows in a file (``np.memmap``) are read whole by every
    process, each keeping its shares. Optimizers that evaluate the loss
    more than once a step (L-BFGS) are not supported.

    Examples
    --------
    A group of one process (a script run by ``torchrun --nproc_per_node 4``
    has four):

    >>> import numpy as np
    >>> import torch.distributed as dist
    >>> from skae import AutoEncoderTransformer, data_parallel
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> X = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    >>> with data_parallel():
    ...     ae = AutoEncoderTransformer(n_components=2, max_epochs=2, device="cpu").fit(X)
    >>> ae.transform(X).shape
    (64, 2)
    >>> dist.destroy_process_group()
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "data_parallel() needs a torch.distributed process group: call "
            "torch.distributed.init_process_group first (torchrun sets up its "
            "environment)."
        )
    token = _GROUP.set(_WORLD if group is None else group)
    try:
        yield
    finally:
        _GROUP.reset(token)


def process_share(device):
    """This process's :class:`ProcessShare`, or None outside :func:`data_parallel`."""
    group = _GROUP.get()
    if group is None:
        return None
    return ProcessShare(None if group is _WORLD else group, device)


def batch_weight(batch):
    """A batch's weight in the mean over processes: its rows, or its sample weights' sum.

    ``batch`` is ``(inputs, target)`` as :meth:`skae._engine.data.TensorData.batch`
    makes it; the target is the rows, or ``(rows, weights)``.
    """
    target = batch[1]
    if isinstance(target, (tuple, list)):
        return target[1].sum()
    return torch.tensor(float(len(target)), device=target.device)


class ProcessShare:
    """One process's part in a data-parallel training call.

    Parameters
    ----------
    group : torch.distributed.ProcessGroup or None
        The processes training together; None is the default group.
    device : str or torch.device
        The training device.

    Attributes
    ----------
    rank : int
        This process's rank in ``group``.
    world_size : int
        Processes in ``group``.
    device : torch.device
        Where the tensors of the collectives are: the CPU for gloo (the CPU
        backend), else the training device (NCCL's GPU).
    """

    def __init__(self, group, device):
        self.group = group
        self.rank = dist.get_rank(group)
        if self.rank < 0:
            raise ValueError("data_parallel(group): this process is not in the group.")
        self.world_size = dist.get_world_size(group)
        self._src = 0 if group is None else dist.get_global_rank(group, 0)
        gloo = dist.get_backend(group) == "gloo"
        self.device = torch.device("cpu") if gloo else torch.device(device)

    def check_same_rows(self, n_rows, row_shape):
        """Raise on every process unless all of them train on as many rows of one shape.

        Otherwise they would draw different batches and wait forever on each
        other's collectives.
        """
        sizes = torch.tensor([n_rows, *row_shape], dtype=torch.int64)
        both = torch.cat([sizes, -sizes]).to(self.device)
        dist.all_reduce(both, op=dist.ReduceOp.MAX, group=self.group)
        largest, smallest = both[: len(sizes)], -both[len(sizes) :]
        if not torch.equal(largest, smallest):
            raise ValueError(
                "In data_parallel(), every process must fit the same rows; got "
                f"between {smallest.tolist()} and {largest.tolist()} (rows, then the "
                "row's shape)."
            )

    @torch.no_grad()
    def broadcast_(self, tensors):
        """Overwrite ``tensors`` in place with rank 0's: one broadcast per dtype."""
        by_dtype = {}
        for tensor in tensors:
            by_dtype.setdefault(tensor.dtype, []).append(tensor)
        for same in by_dtype.values():
            flat = torch.cat([t.reshape(-1) for t in same]).to(self.device)
            dist.broadcast(flat, src=self._src, group=self.group)
            offset = 0
            for tensor in same:
                tensor.copy_(flat[offset : offset + tensor.numel()].view_as(tensor))
                offset += tensor.numel()

    @torch.no_grad()
    def average_gradients_(self, params, weight):
        """Replace each gradient by its ``weight``-weighted mean over the processes.

        ``weight`` is this process's share of the batch (:func:`batch_weight`):
        the mean loss of the batch is the weighted mean of the shares' mean
        losses, and so is its gradient. One all-reduce carries every gradient
        and the weight. A missing gradient (a process with no rows in the
        batch) counts as zero.
        """
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        if not grads:
            return
        weight = torch.as_tensor(weight, dtype=torch.float32, device=grads[0].device)
        flat = torch.cat([g.reshape(-1).float() for g in grads]) * weight
        flat = torch.cat([flat, weight.reshape(1)]).to(self.device)
        dist.all_reduce(flat, group=self.group)
        mean = (flat[:-1] / flat[-1].clamp_min(torch.finfo(flat.dtype).tiny)).to(grads[0].device)
        offset = 0
        for param in params:
            param.grad = mean[offset : offset + param.numel()].view_as(param).to(param.dtype)
            offset += param.numel()

    def reduce_losses(self, losses, weights, rows):
        """Each batch's loss over all processes, and its rows: ``(losses, rows)`` lists.

        ``losses`` and ``weights`` are this process's per-batch losses and
        :func:`batch_weight` (tensors of shape ``(n_batches,)``), ``rows`` its
        per-batch rows; one all-reduce for the whole pass.
        """
        rows = torch.as_tensor(rows, dtype=torch.float64, device=losses.device)
        losses, weights = losses.double(), weights.double()
        # An empty share's loss is zero: its weight is zero too.
        stacked = torch.stack([losses * weights, weights, rows], dim=1).to(self.device)
        dist.all_reduce(stacked, group=self.group)
        mean = stacked[:, 0] / stacked[:, 1].clamp_min(torch.finfo(torch.float64).tiny)
        return mean.tolist(), stacked[:, 2].long().tolist()


class WholeBatchLosses:
    """The losses of a data-parallel pass's batches: those of the whole batches.

    As :class:`skae._engine.net.BatchLosses` (``add``, ``read``), but every
    loss waits until the end of the pass, after every process's last step;
    then one all-reduce gives each batch's history record the loss and the
    rows of the whole batch, over all processes.
    """

    def __init__(self, share, prefix):
        self.share = share
        self.prefix = prefix
        # (the batch's history record, its loss on the device, its weight)
        self.pending = []

    def add(self, record, loss, batch):
        """Keep ``loss`` and the weight of this process's share of ``batch``."""
        self.pending.append((record, loss, batch_weight(batch)))

    def read(self):
        """Write the losses and rows of the whole batches into their records."""
        if not self.pending:
            return
        losses = torch.stack([loss for _, loss, _ in self.pending]).float()
        size_key = self.prefix + "_batch_size"
        values, rows = self.share.reduce_losses(
            losses,
            torch.stack([weight.to(losses.device) for _, _, weight in self.pending]),
            [record[size_key] for record, _, _ in self.pending],
        )
        for (record, _, _), value, n_rows in zip(self.pending, values, rows):
            record[size_key] = n_rows
            record[self.prefix + "_loss"] = value
        self.pending.clear()


class DataParallelMixin:
    """The steps of a skorch training loop that keep a data-parallel group in lockstep.

    Put it before the loop among the bases (``class
    ReconstructionNet(DataParallelMixin, ReconstructionLoop)``): each step
    it overrides is the loop's own outside :func:`data_parallel`. Inside
    it, a training call

    - starts where rank 0 stands (:meth:`on_train_begin`: its weights,
      buffers and generator state) and gives each process its own noise and
      dropout streams (:meth:`_start_random_streams`);
    - gives each process its share of every batch (:meth:`get_iterator`);
    - averages the gradients over the processes (:meth:`train_step_single`,
      which skips the pass of an empty share) and then copies rank 0's
      buffers (:meth:`train_step`);
    - records each batch's loss and rows over all processes
      (:meth:`_batch_losses`).

    The loop must call ``_start_random_streams(X)`` from ``on_train_begin``
    and read a pass's losses through ``_batch_losses(prefix)``, as
    :class:`skae._engine.net.ReconstructionLoop` does.
    """

    #: This process's share in a data-parallel training call, else None.
    _share = None

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._share = process_share(self.device)  # None outside data_parallel()
        if self._share is not None:
            self._start_in_lockstep(X)
        super().on_train_begin(net, X=X, y=y, **kwargs)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._share = None

    def _start_in_lockstep(self, X):
        """Check that every process trains on as many rows, then take rank 0's state.

        Its weights, buffers and generator state, so the processes draw the
        same batches and split (a ``random_state`` of None is fine).
        """
        share = self._share
        share.check_same_rows(len(X), tuple(getattr(X, "X", X).shape[1:]))
        params = [param for _, param in self.get_all_learnable_params()]
        share.broadcast_([*params, *self.module_.buffers()])
        if self.generator is not None:
            state = self.generator.get_state()
            share.broadcast_([state])
            self.generator.set_state(state)

    def _start_random_streams(self, X):
        """Data-parallel: this process's own corruption noise and dropout masks.

        Seeded from seeds read off a copy of the shared generator (which
        must stay in step everywhere, so it is not advanced) plus the rank.
        """
        if self._share is None:
            return super()._start_random_streams(X)
        if self.generator is None:
            return None
        seeds = torch.Generator().set_state(self.generator.get_state())
        noise_seed, dropout_seed = torch.randint(2**62, (2,), generator=seeds).tolist()
        # Dropout draws from the global generator; the estimator forks it
        # around the training call.
        torch.manual_seed(dropout_seed + self._share.rank)
        return torch.Generator(self.device).manual_seed(noise_seed + self._share.rank)

    def get_iterator(self, dataset, training=False):
        """Data-parallel: this process's share of every batch."""
        iterator = super().get_iterator(dataset, training=training)
        if self._share is not None:
            iterator.shard = (self._share.rank, self._share.world_size)
        return iterator

    def train_step(self, batch, **fit_params):
        """One optimizer step; data-parallel, then rank 0's buffers everywhere.

        Buffers (batch-norm statistics, moving-average codebooks) change in
        the forward pass of each process's own rows; as
        ``DistributedDataParallel`` does, rank 0's are kept, so that every
        process holds the same model.
        """
        step = super().train_step(batch, **fit_params)
        if self._share is not None:
            self._share.broadcast_(list(self.module_.buffers()))
        return step

    def train_step_single(self, batch, **fit_params):
        """Forward and backward pass of one batch; data-parallel, gradients averaged.

        The gradients are then the mean over the processes
        (:meth:`ProcessShare.average_gradients_`), so the callbacks of
        ``on_grad_computed`` (gradient clipping) and the optimizer see those
        of the whole batch. A process whose share of the batch is empty
        skips the pass and still takes part in the average.
        """
        if self._share is None:
            return super().train_step_single(batch, **fit_params)
        if get_len(batch[0]) == 0:
            self._set_training(True)
            step = {"loss": torch.zeros((), device=self.device), "y_pred": None}
        else:
            step = super().train_step_single(batch, **fit_params)
        params = [param for _, param in self.get_all_learnable_params()]
        self._share.average_gradients_(params, batch_weight(batch))
        return step

    def validation_step(self, batch, **fit_params):
        """Data-parallel: a process whose share of the batch is empty has a zero loss."""
        if self._share is not None and get_len(batch[0]) == 0:
            return {"loss": torch.zeros((), device=self.device), "y_pred": None}
        return super().validation_step(batch, **fit_params)

    def _batch_losses(self, prefix):
        """Data-parallel: the losses of the whole batches (:class:`WholeBatchLosses`)."""
        if self._share is None:
            return super()._batch_losses(prefix)
        return WholeBatchLosses(self._share, prefix)

    def __getstate__(self):
        state = super().__getstate__()
        # A process group is this process's only.
        state.pop("_share", None)
        return state
