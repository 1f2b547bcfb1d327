"""The one training engine: a skorch ``NeuralNet`` for reconstruction.

Every skae estimator trains through :class:`ReconstructionNet`. It knows no
estimator; estimators configure it with

- a module whose ``forward`` returns the reconstruction, or a pair
  ``(reconstruction, aux_losses)`` where ``aux_losses`` maps names to scalar
  loss terms that are added to the reconstruction loss (vector quantization,
  adversaries, ...);
- a ``corruption`` hook ``f(x, generator) -> x_tilde`` applied to the input of
  each training batch (denoising), never to the target, never at validation;
- a criterion for the reconstruction loss.

Data stays in one float32 tensor per fit; batches are index gathers
(:mod:`skae._engine.data`), so skorch's ``DataLoader`` machinery is bypassed while its
callbacks, history and device handling are kept.

Inside :func:`skae.data_parallel`, the processes of a ``torch.distributed``
group train one model through this same loop, each on its share of every
batch: :class:`ReconstructionLoop` is the plain loop of one process, and
:class:`ReconstructionNet` adds
:class:`skae._engine.distributed.DataParallelMixin`, which overrides the
steps that change in a data-parallel training call.
"""

import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import get_len, unpack_data
from skorch.utils import to_tensor

from .callbacks import DivergenceGuard, EpochTable
from .choices import autocast
from .data import BatchIterator, TensorData
from .distributed import DataParallelMixin
from .inference import inference_batch_size, items_per_chunk
from .state import NetStateMixin

#: On an accelerator, the batches' losses are copied to the host this many
#: at a time: reading each one at once (``loss.item()``) would make the host
#: wait for the device at every step. On the CPU each is read at once.
LOSS_READ_BATCHES = 32


def weighted_loss(criterion, y_pred, y_true, weight):
    """``criterion`` per row, averaged with the rows' ``weight``.

    Each row's loss is the mean over its entries, as the unweighted mean
    reduction has it, so weights of one give the unweighted loss. A batch
    whose weights are all zero counts for nothing.
    """
    reduction = criterion.reduction
    criterion.reduction = "none"
    try:
        per_entry = criterion(y_pred, y_true)
    finally:
        criterion.reduction = reduction
    per_row = per_entry.reshape(len(per_entry), -1).mean(dim=1)
    return (weight * per_row).sum() / weight.sum().clamp_min(torch.finfo(weight.dtype).tiny)


def loss_read_batches(device):
    """Batches whose losses are read back together on ``device``."""
    return 1 if torch.device(device).type == "cpu" else LOSS_READ_BATCHES


class BatchLosses:
    """The losses of one pass's batches, on their way into the history.

    Each batch's loss stays on the device until it is read back with those
    of the batches before it, ``every`` at a time (:func:`loss_read_batches`),
    and is then written into the batch's history record as
    ``<prefix>_loss``.
    """

    def __init__(self, prefix, every):
        self.prefix = prefix
        self.every = every
        # (the batch's history record, its loss on the device)
        self.pending = []

    def add(self, record, loss, batch):
        """Keep ``loss`` of ``batch`` for ``record``; read when ``every`` are kept."""
        self.pending.append((record, loss))
        if len(self.pending) >= self.every:
            self.read()

    def read(self):
        """Write the kept losses into their records at once."""
        if not self.pending:
            return
        values = torch.stack([loss for _, loss in self.pending]).float().tolist()
        for (record, _), value in zip(self.pending, values):
            record[self.prefix + "_loss"] = value
        self.pending.clear()


class ReconstructionLoop(NetStateMixin, NeuralNet):
    """The training loop of one process; see :class:`ReconstructionNet`."""

    def __init__(
        self,
        module,
        criterion,
        *,
        validation_fraction=None,
        corruption=None,
        generator=None,
        shuffle_block_rows=None,
        precision="fp32",
        compile_forward=False,
        **kwargs,
    ):
        super().__init__(module, criterion, train_split=None, **kwargs)
        self.validation_fraction = validation_fraction
        self.corruption = corruption
        self.generator = generator
        self.shuffle_block_rows = shuffle_block_rows
        self.precision = precision
        self.compile_forward = compile_forward

    @property
    def _default_callbacks(self):
        defaults = [
            (name, EpochTable() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]
        return [*defaults, ("divergence", DivergenceGuard())]

    # -- training calls -----------------------------------------------------
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``epochs`` (or ``max_epochs``) epochs, keeping the weights.

        As skorch's, except for a KeyboardInterrupt (Ctrl-C): skorch
        swallows it, which hides the interruption; here training stops,
        :attr:`interrupted_` is set and the weights so far are kept. An
        ``EarlyStopping`` callback's own stop signal is not an interruption.
        """
        if not self.initialized_:
            self.initialize()
        self.interrupted_ = False
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, **fit_params)
        except KeyboardInterrupt:
            self.interrupted_ = not self._stopped_early()
        self.notify("on_train_end", X=X, y=y)
        return self

    def configure(self, **settings):
        """Set the net's settings (constructor arguments) before a training call.

        The estimator gives a kept net (warm start, ``partial_fit``) the
        settings it builds a new one with. An ``optimizer`` comes with all
        its ``optimizer__*`` options and goes through :meth:`set_optimizer`,
        so that a new ``lr`` alone keeps its state; new ``callbacks`` are
        initialised.
        """
        options = {
            key: settings.pop(key) for key in list(settings) if key.startswith("optimizer__")
        }
        if "optimizer" in settings or options:
            self.set_optimizer(
                settings.pop("optimizer", self.optimizer), options, settings.pop("lr", self.lr)
            )
        elif "lr" in settings:
            self.set_params(lr=settings.pop("lr"))
        for key, value in settings.items():
            setattr(self, key, value)
        if "callbacks" in settings:
            self.initialize_callbacks()

    def set_optimizer(self, optimizer, options, lr):
        """Use ``optimizer`` with ``options`` (``optimizer__*``) and ``lr`` from now on.

        A new learning rate alone keeps the optimizer's state (e.g. Adam's
        moments); another optimizer class or other options start a fresh one.
        """
        current = {k: v for k, v in vars(self).items() if k.startswith("optimizer__")}
        if optimizer is not self.optimizer or options != current:
            for key in current:
                delattr(self, key)
            self.optimizer = optimizer
            for key, value in options.items():
                setattr(self, key, value)
            self.lr = lr
            self.initialize_optimizer()
        elif self.lr != lr:
            self.set_params(lr=lr)

    def _stopped_early(self):
        return any(
            isinstance(callback, EarlyStopping) and callback.misses_ >= callback.patience
            for _, callback in self.callbacks_
        )

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over ``iterator``, recording each batch's loss and size.

        As skorch's, except that the losses go through :meth:`_batch_losses`:
        on an accelerator they are read back :data:`LOSS_READ_BATCHES` at a
        time (one wait for the device instead of one per step); every batch
        has its loss in the history by the end of the pass.
        """
        if iterator is None:
            return
        losses = self._batch_losses(prefix)
        batch_count = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            self.history.record_batch(prefix + "_batch_size", get_len(batch[0]))
            losses.add(self.history[-1, "batches", -1], step["loss"].detach(), batch)
            self.notify("on_batch_end", batch=batch, training=training, **step)
            batch_count += 1
        losses.read()
        self.history.record(prefix + "_batch_count", batch_count)

    def _batch_losses(self, prefix):
        """Where a pass's batch losses wait to be read back: a :class:`BatchLosses`."""
        return BatchLosses(prefix, loss_read_batches(self.device))

    # -- data ---------------------------------------------------------------
    def get_dataset(self, X, y=None):
        if isinstance(X, TensorData):
            return X
        return TensorData(X, y, device=self.device)

    def get_split_datasets(self, X, y=None, **fit_params):
        data = self.get_dataset(X, y)
        frac = self.validation_fraction
        n = len(data)
        if not frac or n < 2:
            return data, None
        n_valid = min(max(1, int(round(frac * n))), n - 1)
        block_rows = getattr(self, "shuffle_block_rows", None)
        if block_rows and n > block_rows:
            # Rows read from a file: hold out whole blocks, copy nothing.
            return data.split_blocks(n_valid, block_rows, self.generator)
        perm = torch.randperm(n, generator=self.generator).to(data.X.device)
        return data.subset(perm[n_valid:]), data.subset(perm[:n_valid])

    def get_iterator(self, dataset, training=False):
        batch_size = self.batch_size
        if batch_size == -1:
            batch_size = len(dataset)
        if not training:
            # No gradients are kept: larger batches only cost activations.
            chunk = items_per_chunk(dataset.X.shape, inference_batch_size(self.device))
            batch_size = max(batch_size, chunk)
        return BatchIterator(
            dataset,
            batch_size,
            shuffle=training,
            generator=self.generator,
            block_rows=getattr(self, "shuffle_block_rows", None) if training else None,
        )

    # -- steps --------------------------------------------------------------
    def train_step_single(self, batch, **fit_params):
        """Forward and backward pass of one batch, in the training's precision."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        if self.corruption is not None:
            Xi = self._corrupt(Xi)
        with autocast(self.device, self.precision):
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler = self._grad_scaler()
        (loss if scaler is None else scaler.scale(loss)).backward()
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        with autocast(self.device, self.precision):
            return super().validation_step(batch, **fit_params)

    def _step_optimizer(self, step_fn):
        scaler = self._grad_scaler()
        if scaler is None:
            return super()._step_optimizer(step_fn)
        # The scaler unscales the gradients and skips a step whose gradients
        # overflowed float16; no optimizer here re-evaluates a closure.
        step_fn()
        for name in self._optimizers:
            scaler.step(getattr(self, name + "_"))
        scaler.update()

    def _grad_scaler(self):
        if self.precision != "fp16":
            return None
        scaler = getattr(self, "_scaler", None)
        if scaler is None:
            scaler = self._scaler = torch.amp.GradScaler(torch.device(self.device).type)
        return scaler

    def infer(self, x, **fit_params):
        forward = getattr(self, "_compiled", None)
        if forward is None or not self.module_.training:
            return super().infer(x, **fit_params)
        x = to_tensor(x, device=self.device)
        if isinstance(x, dict):
            return forward(**self._merge_x_and_fit_params(x, fit_params))
        return forward(x, **fit_params)

    def _corrupt(self, Xi):
        if isinstance(Xi, dict):
            return {**Xi, "x": self.corruption(Xi["x"], self._noise_generator)}
        return self.corruption(Xi, self._noise_generator)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        # The compiled forward shares the module's parameters; it lives for
        # one training call (it does not pickle). Kept as its bound call:
        # skorch allows modules as attributes only from its initialize_*.
        self._compiled = torch.compile(self.module_).__call__ if self.compile_forward else None
        self._noise_generator = self._start_random_streams(X)

    def _start_random_streams(self, X):
        """Start this training call's random streams; return its corruption noise's generator.

        The net's own generator on the CPU; on another device, a generator
        there seeded from it. Dropout draws from torch's global generator,
        which the estimator seeds.
        """
        device = torch.device(self.device)
        if device.type == "cpu" or self.generator is None:
            return self.generator
        seed = torch.randint(2**62, (1,), generator=self.generator).item()
        return torch.Generator(device).manual_seed(seed)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        # A device generator neither pickles nor loads across devices.
        self._noise_generator = None
        self._compiled = None

    def get_loss(self, y_pred, y_true, X=None, training=False):
        aux_losses = {}
        if isinstance(y_pred, tuple):
            y_pred, aux_losses = y_pred
        if isinstance(y_true, (tuple, list)):
            loss = weighted_loss(self.criterion_, y_pred, *y_true)
        else:
            loss = self.criterion_(y_pred, y_true)
        for term in aux_losses.values():
            loss = loss + term
        return loss


class ReconstructionNet(DataParallelMixin, ReconstructionLoop):
    """skorch ``NeuralNet`` that trains a module to reconstruct its input.

    Parameters
    ----------
    module : torch.nn.Module
        Returns ``x_hat`` or ``(x_hat, aux_losses)`` from a batch of rows
        (and ``cond=`` when the data carries conditioning).
    criterion : type of torch.nn.Module
        Reconstruction loss class, e.g. ``torch.nn.MSELoss``.
    validation_fraction : float or None, default=None
        Fraction of rows held out as validation set; None holds out nothing.
    corruption : callable or None, default=None
        ``f(x, generator) -> x_tilde`` applied to training inputs only.
    generator : torch.Generator or None, default=None
        CPU source of randomness for shuffling, the split and ``corruption``
        (on another device, ``corruption`` gets a generator on that device
        seeded from this one for the duration of each training call).
    shuffle_block_rows : int or None, default=None
        Shuffle training rows in blocks of this many rows, read a window of
        blocks at a time (:class:`skae._engine.data.BatchIterator`): for data read
        from a file. None shuffles all rows at once.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Arithmetic of the forward pass in training and validation
        (``torch.autocast``); ``"fp16"`` scales the loss
        (``torch.amp.GradScaler``) so that small gradients do not vanish.
    compile_forward : bool, default=False
        Train through ``torch.compile(module)``; the module itself (what is
        saved, and what inference calls) stays uncompiled.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.

    Notes
    -----
    The loop is :class:`ReconstructionLoop`'s. A training call inside
    :func:`skae.data_parallel` trains in lockstep with the other processes
    of the group through the steps that
    :class:`skae._engine.distributed.DataParallelMixin` overrides; outside
    it they are the plain loop's.
    """
