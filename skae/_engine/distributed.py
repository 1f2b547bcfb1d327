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

This module holds only the collectives; the loop is the engine's. Outside
:func:`data_parallel` none of it runs.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist

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


def start_in_lockstep(net, X):
    """Start a data-parallel training call of ``net`` where rank 0 stands.

    Every process checks that all train on as many rows, then takes rank
    0's weights, buffers and generator state (so the processes draw the
    same batches and split; a ``random_state`` of None is fine). Each
    process draws its own corruption noise and dropout masks: from seeds
    read off a copy of the shared generator (which must stay in step
    everywhere, so it is not advanced) plus its rank.

    Returns
    -------
    noise_generator : torch.Generator or None
        This process's generator of corruption noise.
    """
    share = net._share
    share.check_same_rows(len(X), tuple(getattr(X, "X", X).shape[1:]))
    params = [param for _, param in net.get_all_learnable_params()]
    share.broadcast_([*params, *net.module_.buffers()])
    if net.generator is None:
        return None
    state = net.generator.get_state()
    share.broadcast_([state])
    net.generator.set_state(state)
    seeds = torch.Generator().set_state(state)
    noise_seed, dropout_seed = torch.randint(2**62, (2,), generator=seeds).tolist()
    # Dropout draws from the global generator; the estimator forks it
    # around the training call.
    torch.manual_seed(dropout_seed + share.rank)
    return torch.Generator(net.device).manual_seed(noise_seed + share.rank)
