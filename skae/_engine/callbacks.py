"""The training engine's callbacks.

:class:`DivergenceGuard` stops training at a non-finite loss,
:class:`EpochTable` prints skorch's epoch table without colour codes off a
terminal, :class:`EpochProgress` is the compact progress of ``verbose=1`` (a
bar with ETA on a terminal, a few plain lines elsewhere), and :func:`set_callback_params` reaches a user callback's
parameters by skorch's names (``callbacks__<name>__<param>``).
"""

import math
import re
import sys
import time
from collections import Counter

from skorch.callbacks import Callback, PrintLog

from ..exceptions import TrainingDivergedError


def _named_callbacks(callbacks):
    """``{name: callback}`` as skorch names them: the given name of a
    ``(name, callback)`` pair, else the class name, numbered ``_1``, ``_2``,
    ... when several callbacks share it."""

    def base(item):
        if isinstance(item, tuple):
            return item[0]
        return item.__name__ if isinstance(item, type) else type(item).__name__

    counts = Counter(base(item) for item in callbacks if not isinstance(item, tuple))
    seen = Counter()
    named = {}
    for item in callbacks:
        name = base(item)
        if not isinstance(item, tuple) and counts[name] > 1:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        named[name] = item[1] if isinstance(item, tuple) else item
    return named


def set_callback_params(callbacks, params):
    """Set ``callbacks__<name>__<param>`` values on the named callbacks.

    Names are skorch's (see :func:`_named_callbacks`); a callback given as a
    class cannot take parameters.

    Raises
    ------
    ValueError
        If a key names no callback, or a class, or a parameter it lacks.
    """
    named = _named_callbacks(callbacks)
    for key, value in params.items():
        name, _, param = key[len("callbacks__") :].partition("__")
        if name not in named or not param:
            raise ValueError(
                f"{key!r} names no callback parameter: give callbacks__<name>__<param> "
                f"with a name among {sorted(named)}."
            )
        callback = named[name]
        if isinstance(callback, type):
            raise ValueError(
                f"{key!r}: callback {name!r} is a class; pass an instance to set its parameters."
            )
        try:
            callback.set_params(**{param: value})
        except ValueError:
            # LRScheduler keeps its policy's arguments as attributes that
            # its set_params does not know.
            if not hasattr(callback, param):
                raise
            setattr(callback, param, value)


class DivergenceGuard(Callback):
    """Stop training at a non-finite loss, or at a loss far above the first epoch's.

    A skorch callback, installed by :class:`skae._engine.net.ReconstructionNet`
    among its default callbacks: it checks every training and validation
    batch's loss once, as it is read (at once on the CPU, in groups of
    :data:`skae._engine.net.LOSS_READ_BATCHES` on an accelerator), so a diverged
    epoch does not run to its end. At the end of every epoch after the first
    it compares the epoch's training loss with the first epoch's and with the
    first batch's: a learning rate far too high (Adam at ``lr=1e3``) can keep
    every loss finite while it rises from 1 to 1e26, and such a model is no
    model.

    Parameters
    ----------
    rise_factor : float, default=1e3
        Training has diverged when an epoch's training loss exceeds this
        many times the first epoch's, or its square times the first batch's
        (of the whole history, across ``partial_fit`` calls; a reference that
        is not positive, as a likelihood's can be, is not used).

    Raises
    ------
    TrainingDivergedError
        At the first non-finite batch loss, or the first epoch whose loss
        rose ``rise_factor`` times, naming the loss, its value and the
        epoch, with what to try instead.
    """

    def __init__(self, rise_factor=1e3):
        self.rise_factor = rise_factor

    def on_epoch_begin(self, net, **kwargs):
        self.checked_ = 0  # batches of this epoch checked so far

    def on_batch_end(self, net, **kwargs):
        self._check_read(net)

    def on_epoch_end(self, net, **kwargs):
        self._check_read(net)  # every loss is read by now
        if net.history[-1].get("train_loss") is not None:
            self._check_rise(net)

    def _check_rise(self, net):
        """Raise when this epoch's training loss is far above where training began.

        Two references, both positive losses of the same history: the first
        epoch's loss (``rise_factor``), and the first batch's, the loss of
        the untrained network (``rise_factor ** 2``), which catches a
        training that diverged within its first epoch.
        """
        history = net.history
        now = history[-1].get("train_loss")
        first_batch = history[0, "batches"][0].get("train_loss") if history[0, "batches"] else None
        checks = [(first_batch, self.rise_factor**2, "first batch")]
        if len(history) >= 2:
            checks.append((history[0].get("train_loss"), self.rise_factor, "first epoch"))
        for reference, factor, where in checks:
            if now is None or reference is None or not 0 < reference < math.inf:
                continue
            if now > factor * reference:
                raise TrainingDivergedError(
                    f"Training diverged: the training loss rose from {reference:.3g} in the "
                    f"{where} to {now:.3g} at epoch {history[-1, 'epoch']}. Lower `lr` (it "
                    f"is {net.lr:g}; try a tenth of it) and scale the input (e.g. "
                    "StandardScaler)."
                )

    def _check_read(self, net):
        """Check the batches whose losses were read since the last check.

        Losses are read in batch order, so the first batch without one ends
        the batches to check.
        """
        batches = net.history[-1, "batches"]
        while self.checked_ < len(batches):
            batch = batches[self.checked_]
            read = [key for key in ("train_loss", "valid_loss") if key in batch]
            if not read:
                return
            for key in read:
                if not math.isfinite(batch[key]):
                    kind = "training" if key == "train_loss" else "validation"
                    raise TrainingDivergedError(
                        f"Training diverged: the {kind} loss became {batch[key]} at epoch "
                        f"{net.history[-1, 'epoch']}. Scale the input (e.g. StandardScaler), "
                        "lower `lr`, or use a robust `loss` such as 'huber'."
                    )
            self.checked_ += 1


def on_terminal():
    """Whether standard output is a terminal (colour and progress bars garble logs)."""
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


class EpochTable(PrintLog):
    """skorch's per-epoch table, with colour only when printing to a terminal.

    The ANSI codes that mark the best epochs garble logs, notebooks' saved
    outputs and CI consoles.
    """

    _ANSI = re.compile(r"\x1b\[[0-9;]*m")

    def on_epoch_end(self, net, **kwargs):
        # skorch formats the table even when it prints nothing (verbose=0 and
        # the default sink): 14 ms of a 0.3 s detector fit went to tables.
        if self.sink is print and not net.verbose:
            return
        super().on_epoch_end(net, **kwargs)

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        terminal = self.sink is print and on_terminal()
        if isinstance(text, str) and not terminal:
            text = self._ANSI.sub("", text)
        return text


class EpochProgress(Callback):
    """Progress over the epochs of one training call, for ``verbose=1``.

    On a terminal, one tqdm bar on standard error (epochs done, the last
    loss, elapsed time and ETA). Elsewhere (a log, a pipe, CI) plain lines
    without escape codes on standard output: the first epoch, about every
    tenth of ``total``, and the last, each with the loss, the time so far and
    the time left.

    Parameters
    ----------
    name : str
        What is trained, printed first on each line (the estimator's class).
    total : int
        The epochs this call runs at most (training may stop earlier).
    """

    def __init__(self, name, total):
        self.name = name
        self.total = total

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()
        self.first_ = len(net.history)  # epochs of earlier calls (partial_fit)
        self.printed_ = 0
        self.bar_ = None
        if on_terminal() or getattr(sys.stderr, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self.bar_ = tqdm(total=self.total, desc=self.name, unit="epoch", leave=True)

    def _losses(self, net):
        row = net.history[-1]
        keys = [k for k in ("train_loss", "valid_loss") if k in row]
        return {k: f"{row[k]:.4g}" for k in keys}

    def _done(self, net):
        # From the history, not counted here: another callback's on_epoch_end
        # (EarlyStopping) may end the epoch before this one's runs.
        return len(net.history) - self.first_

    def on_epoch_end(self, net, **kwargs):
        done = self._done(net)
        if self.bar_ is not None:
            self.bar_.set_postfix(self._losses(net), refresh=False)
            self.bar_.update(1)
            return
        every = max(1, math.ceil(self.total / 10))
        if done == 1 or done % every == 0 or done == self.total:
            self._line(net, done)

    def _line(self, net, done):
        elapsed = time.perf_counter() - self.start_
        left = elapsed / done * (self.total - done)
        losses = ", ".join(f"{k} {v}" for k, v in self._losses(net).items())
        eta = f", about {left:.0f} s left" if done < self.total else ""
        print(f"{self.name}: epoch {done}/{self.total}, {losses}, {elapsed:.1f} s{eta}", flush=True)
        self.printed_ = done

    def on_train_end(self, net, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()
            self.bar_ = None
        elif self._done(net) and self.printed_ != self._done(net):
            self._line(net, self._done(net))  # stopped early: say where
