"""What a training call changes, saved and put back; pickling of the net.

:class:`NetStateMixin` gives :class:`skae._engine.net.ReconstructionNet` its
:meth:`~NetStateMixin.snapshot` and :meth:`~NetStateMixin.restore` (so a
training call that raises leaves the estimator as it was) and its pickling:
per-training-call helpers are dropped, and a model saved on a device this
machine lacks is loaded on the CPU.
"""

import copy

import torch
from skorch.exceptions import DeviceWarning

from ..exceptions import _warn
from .choices import loadable_device


class NetStateMixin:
    """Snapshot, restore and pickling of a skorch ``NeuralNet``."""

    def snapshot(self):
        """Copy of what a training call changes, for :meth:`restore`.

        Weights and buffers, optimizer state and settings (precision, ...),
        the number of epochs in the history and the state of the random
        generator.
        """
        return {
            "module": {k: v.clone() for k, v in self.module_.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer_.state_dict()),
            "optimizer_object": self.optimizer_,
            "settings": self._training_settings(),
            "n_epochs": len(self.history),
            "generator": None if self.generator is None else self.generator.get_state(),
            # Training leaves the module in training mode; a failed call must not.
            "training": self.module_.training,
        }

    #: Settings a training call may change that outlive it: the optimizer
    #: and its options, and what later calls and inference read (the
    #: precision). Per-call ones (callbacks, corruption) are set anew by
    #: every call.
    _restored_settings = (
        "optimizer",
        "lr",
        "batch_size",
        "max_epochs",
        "precision",
        "compile_forward",
        "verbose",
    )

    def _training_settings(self):
        return {
            k: v
            for k, v in vars(self).items()
            if k.startswith("optimizer__") or k in self._restored_settings
        }

    def restore(self, snapshot):
        """Put the net back as it was when ``snapshot`` was taken."""
        settings = snapshot["settings"]
        for key in self._training_settings():
            # Only options added since; deleting "optimizer" itself would
            # unregister the optimizer from skorch.
            if key not in settings:
                delattr(self, key)
        for key, value in settings.items():
            setattr(self, key, value)
        self.module_.load_state_dict(snapshot["module"])
        if self.optimizer_ is not snapshot["optimizer_object"]:
            with self._current_init_context("optimizer"):
                self.optimizer_ = snapshot["optimizer_object"]
        self.optimizer_.load_state_dict(snapshot["optimizer"])
        del self.history[snapshot["n_epochs"] :]
        if snapshot["generator"] is not None:
            self.generator.set_state(snapshot["generator"])
        self.module_.train(snapshot.get("training", False))

    def __getstate__(self):
        state = super().__getstate__()
        # Per-training-call helpers: a compiled forward does not pickle, a
        # loss scaler's state lives on the device (it is rebuilt on demand).
        for key in ("_compiled", "_scaler", "_noise_generator"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        # skorch maps an unavailable CUDA to the CPU; do the same for every
        # device type, and for "cpu:N", which torch cannot restore data to.
        device = loadable_device(state["device"])
        if device == "cpu" and torch.device(state["device"]).type != "cpu":
            _warn(
                f"The model was saved on {state['device']!r}, which is not available "
                "on this machine; it is loaded on the CPU.",
                DeviceWarning,
            )
        state["device"] = device
        super().__setstate__(state)
