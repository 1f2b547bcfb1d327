"""The shared estimator base of every skae autoencoder.

:class:`BaseAutoEncoder` holds what all estimators share: the parameters and
their constraints, the choice of device, seeding, training through the one
engine (:class:`skae._engine.net.ReconstructionNet`), the fitted state and batched
inference. A concrete estimator says which ``nn.Module`` it trains
(:meth:`BaseAutoEncoder._build_module`), how its training input is validated
(:meth:`BaseAutoEncoder._check_fit_data`), and optionally how it corrupts
training batches (:meth:`BaseAutoEncoder._corruption`) and what it records
about the training rows (:meth:`BaseAutoEncoder._summarize_training`). Its
public ``fit`` calls :meth:`BaseAutoEncoder._fit`; the row estimators take
``fit`` and their predict-side methods from
:class:`skae._rows.RowTransformerMixin`.
"""

from __future__ import annotations

import functools
from numbers import Integral, Real
from typing import Any, TypeVar

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight
from skorch.callbacks import EarlyStopping, ProgressBar

from ._engine.callbacks import EpochProgress, on_terminal, set_callback_params
from ._engine.choices import (
    LOSSES,
    OPTIMIZERS,
    PRECISIONS,
    optimizer_options,
    resolve_device,
)
from ._engine.data import (
    TensorData,
    as_tensor,
    is_file_backed,
    stream_block_rows,
    training_rows,
)
from ._engine.net import ReconstructionNet
from ._fitted import FittedNetworkMixin, unchanged_on_error
from ._nn.mlp import ACTIVATIONS
from ._utils import check_training_setup, reset_n_features, subsample, validate_rows
from .exceptions import TrainingInterruptedWarning, _warn

#: Training codes kept to fit the latent density used by ``sample``.
_MAX_KEPT_CODES = 10_000

#: The API page of an estimator, where the "?" of its HTML repr points.
DOC_LINK_TEMPLATE = (
    "https://skae.readthedocs.io/en/latest/api/generated/{estimator_module}.{estimator_name}.html"
)


def _weight_tensor(weight, device):
    return None if weight is None else torch.as_tensor(weight).to(device)


def _silent(*args, **kwargs):
    """Sink that prints nothing (a module-level function, so nets pickle)."""


#: The estimator ``set_params`` returns (``self``).
_EstimatorT = TypeVar("_EstimatorT", bound="BaseAutoEncoder")


class BaseAutoEncoder(
    FittedNetworkMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Base class for autoencoder estimators; not for direct use.

    Subclasses implement :meth:`_build_module`, a public ``fit`` that calls
    :meth:`_fit`, and may override :meth:`_check_fit_data`,
    :meth:`_corruption` and :meth:`_summarize_training`. See
    :class:`skae.AutoEncoderTransformer` for the parameters.
    """

    _doc_link_module = "skae"
    _doc_link_template = DOC_LINK_TEMPLATE

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "loss": [StrOptions(set(LOSSES))],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "optimizer_kwargs": [dict, None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "precision": [StrOptions(set(PRECISIONS))],
        "compile": ["boolean"],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128, 64),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        loss="mse",
        optimizer="adam",
        optimizer_kwargs=None,
        lr=1e-3,
        weight_decay=0.0,
        batch_size=256,
        max_epochs=300,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        device="auto",
        precision="fp32",
        compile=False,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.loss = loss
        self.optimizer = optimizer
        self.optimizer_kwargs = optimizer_kwargs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.precision = precision
        self.compile = compile
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def set_params(self: _EstimatorT, **params: Any) -> _EstimatorT:
        """Set parameters; ``callbacks__<name>__<param>`` reaches a callback.

        As scikit-learn's ``set_params``, and in skorch's style a parameter of
        one of ``callbacks`` is set by the callback's name: the name of a
        ``(name, callback)`` pair, or the class name of an unnamed callback,
        e.g. ``set_params(callbacks__lr__step_size=5)``, so that
        ``GridSearchCV`` can tune it.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : object
            The estimator.
        """
        routed = {key: params.pop(key) for key in list(params) if key.startswith("callbacks__")}
        super().set_params(**params)
        if routed:
            set_callback_params(self.callbacks or [], routed)
        return self

    # -- fitting ------------------------------------------------------------
    def _fit(self, X, y=None, *, partial, sample_weight=None, validated=False):
        """Train on ``X`` (and ``y``); the work of ``fit`` and ``partial_fit``.

        ``partial`` trains one epoch, keeping the network when there is one;
        otherwise the network is kept only with ``warm_start``. A call that
        raises (bad input, divergence, Ctrl-C outside the training loop)
        leaves the estimator exactly as it was: fitted attributes, weights,
        optimizer state, history and random state, or unfitted. Ctrl-C
        inside ``fit``'s loop keeps the weights and warns; inside
        ``partial_fit`` it keeps them and re-raises ``KeyboardInterrupt``, so
        that a loop of ``partial_fit`` calls stops.
        """
        keep = hasattr(self, "net_") and (partial or self.warm_start)
        restore = functools.partial(self.net_.restore, self.net_.snapshot()) if keep else None
        with unchanged_on_error(self, restore):
            self._train(
                X, y, partial=partial, keep=keep, sample_weight=sample_weight, validated=validated
            )
        if partial and self.net_.interrupted_:
            # The batches trained before Ctrl-C are kept (the estimator is
            # consistent), and the caller's loop of partial_fit calls stops.
            raise KeyboardInterrupt(
                f"{type(self).__name__}.partial_fit was interrupted; the weights trained "
                "so far are kept."
            )
        return self

    def _train(self, X, y, *, partial, keep, sample_weight=None, validated=False):
        if validated and not keep:
            # Rows a meta-estimator validated (``_fit_validated``): a new network.
            X, cond = X, None
            reset_n_features(self, X.shape[1])
        else:
            X, cond = self._check_fit_data(X, y, reset=not keep)
        check_training_setup(self, X, partial)
        weight = None
        if sample_weight is not None:
            weight = _check_sample_weight(
                sample_weight, X, dtype=np.float32, ensure_non_negative=True
            )
        if keep:
            net = self.net_
            device = torch.device(net.device)
        else:
            device = resolve_device(self.device)
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        # On the device once when the rows fit there, else batch by batch.
        X_tensor = training_rows(as_tensor(X), device)
        settings = self._engine_settings(device, X, X_tensor, partial=partial)
        with torch.random.fork_rng(devices=self._rng_devices(device)):
            if keep:
                # Dropout draws from the global RNG: seed it from the net's own.
                torch.manual_seed(torch.randint(2**62, (1,), generator=net.generator).item())
                net.configure(**settings)
            else:
                torch.manual_seed(seed)
                net = self._make_net(X_tensor.shape[-1], device, seed, settings)
            stopper = None if partial else dict(net.callbacks_)["early_stopping"]
            cond_tensor = None if cond is None else torch.as_tensor(cond).to(X_tensor.device)
            n_epochs_before = len(net.history)
            net.partial_fit(
                TensorData(
                    X_tensor, cond_tensor, _weight_tensor(weight, X_tensor.device), device=device
                ),
                epochs=1 if partial else self._resolved("max_epochs"),
            )

        self.net_ = net
        self.n_iter_ = len(net.history)
        # What the net was built and last trained with, for skae.load.
        self._trained_with = {
            k: v for k, v in self.get_params(deep=False).items() if k != "callbacks"
        }
        self._summarize_training(X, cond)
        self._warn_how_training_ended(net, stopper, len(net.history) - n_epochs_before)

    def _warn_how_training_ended(self, net, stopper, n_epochs):
        name, max_epochs = type(self).__name__, self._resolved("max_epochs")
        if net.interrupted_ and stopper is None:
            return  # partial_fit: _fit re-raises the KeyboardInterrupt
        if net.interrupted_:
            _warn(
                f"{name} training was interrupted (KeyboardInterrupt) after "
                f"{len(net.history)} epochs in all; the model keeps the weights "
                "trained so far.",
                TrainingInterruptedWarning,
            )
        elif (
            stopper is not None
            and stopper.misses_ < stopper.patience
            # Every epoch ran: a user's EarlyStopping did not stop it either.
            and n_epochs >= max_epochs
        ):
            _warn(
                f"{name} reached max_epochs={max_epochs} before the loss "
                "stopped improving; increase max_epochs.",
                ConvergenceWarning,
            )

    @staticmethod
    def _rng_devices(device):
        return [device.index or 0] if device.type == "cuda" else []

    def _resolved(self, name):
        """The value of the parameter ``name`` that training uses.

        The parameter as set. An estimator whose ``"auto"`` sizes depend on
        the kind of input resolves them here; it is called once
        ``_check_fit_data`` has seen the input.
        """
        return getattr(self, name)

    def _engine_settings(self, device, X=None, X_tensor=None, *, partial=False):
        """The engine's settings: what a new net is built with and a kept one set to.

        One mapping of :class:`skae._engine.net.ReconstructionNet`'s
        constructor arguments, for a new net and for a kept one (warm start,
        ``partial_fit``, through its ``configure``) alike, so that both train
        with the parameters as they are now. ``device`` is the training
        device (it decides whether Adam's fused kernel is used). With the
        training rows ``X`` and their tensor ``X_tensor``, the settings of
        that training call too: the corruption, block shuffling of rows
        read from a file, the validation split and the callbacks
        (``partial`` trains one epoch, without early stopping). Without,
        those of a net built to load a saved model into.
        """
        optimizer, options = optimizer_options(
            self.optimizer, self.optimizer_kwargs, self.weight_decay, device
        )
        settings = {
            "optimizer": optimizer,
            **options,
            "lr": self.lr,
            "batch_size": self._resolved("batch_size"),
            "max_epochs": self._resolved("max_epochs"),
            "precision": self.precision,
            "compile_forward": self.compile,
            "verbose": int(self.verbose >= 2),  # 1 is a progress callback, not the table
            "callbacks": [],
        }
        if X is None:
            return settings
        return {
            **settings,
            # The current parameters and rows, e.g. after set_params(noise_level=...).
            "corruption": self._corruption(X_tensor),
            # Rows read from a file are shuffled in blocks, read in long runs.
            "shuffle_block_rows": stream_block_rows(X) if is_file_backed(X) else None,
            "validation_fraction": (
                self.validation_fraction if self.early_stopping and not partial else None
            ),
            "callbacks": self._call_callbacks(partial),
        }

    def _make_net(self, n_features, device, seed, settings=None):
        """A new, initialised engine with a new module for rows of ``n_features``.

        ``settings`` are the engine's (:meth:`_engine_settings`); None takes
        those of the parameters alone.
        """
        if settings is None:
            settings = self._engine_settings(device)
        net = ReconstructionNet(
            module=self._build_module(n_features).to(device),
            criterion=self._criterion(),
            generator=torch.Generator().manual_seed(int(seed)),
            device=str(device),
            **settings,
        )
        net.initialize()
        return net

    def _call_callbacks(self, partial):
        """The callbacks of a training call: the estimator's, early stopping, the user's."""
        callbacks = [*self._training_callbacks(), *(self.callbacks or [])]
        if not partial:
            monitor = "valid_loss" if self.early_stopping else "train_loss"
            stopper = EarlyStopping(
                monitor=monitor,
                patience=self.n_iter_no_change,
                threshold=self.tol,
                threshold_mode="abs",
                load_best=self.early_stopping,
                sink=print if self.verbose >= 2 else _silent,
            )
            callbacks.append(("early_stopping", stopper))
        # verbose=1: a bar (terminal) or a few lines; 2 and up: skorch's epoch
        # table, and on a terminal a bar over each epoch's batches.
        if self.verbose == 1:
            total = 1 if partial else self._resolved("max_epochs")
            callbacks.append(("progress", EpochProgress(type(self).__name__, total)))
        if self.verbose >= 2 and on_terminal():
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    # -- subclass hooks -----------------------------------------------------
    def _check_fit_data(self, X, y, *, reset):
        """Validate training input; return ``(X, cond)``.

        ``X`` is the float32 array the network trains on (rows first);
        ``cond`` is None or an array of per-row conditioning handed to the
        module as ``cond=`` (e.g. group ids). The default ignores ``y``.
        """
        return self._validate_rows(X, reset=reset), None

    def _validate_rows(self, X, *, reset=False):
        """``validate_data`` for rows, as float32.

        With an ``input_shape``, a 3-D or 4-D array of images (``(n, height,
        width)`` or ``(n, channels, height, width)``) is flattened to rows
        first.
        """
        if getattr(self, "input_shape", None) is not None and getattr(X, "ndim", 2) in (3, 4):
            X = np.asarray(X).reshape(len(X), -1)
        return validate_rows(self, X, reset=reset, dtype=np.float32)

    def _build_module(self, n_features):
        """Return the ``nn.Module`` to train (on the CPU).

        ``n_features`` is the width of a training row (of a frame, for
        sequence input).
        """
        raise NotImplementedError

    def _criterion(self):
        """The criterion class of the reconstruction term (``loss`` by default)."""
        return LOSSES[self.loss]

    def _training_callbacks(self):
        """Callbacks the estimator itself trains with, as ``(name, callback)``."""
        return []

    def _corruption(self, X):
        """Return ``f(x, generator) -> x_tilde`` for training inputs, or None.

        ``X`` is the whole training tensor, for statistics such as the
        per-feature spread.
        """
        return None

    def _summarize_training(self, X, cond):
        """Record what inference needs from the rows just trained on.

        Called at the end of every training call with the array the network
        trained on and its conditioning (group ids, or None). The default
        keeps the codes of (a subsample of at most
        ``_MAX_KEPT_CODES``) training rows, the draws of ``sample``;
        subclasses may add fitted statistics.
        """
        self._training_codes = self._encode(subsample(X, _MAX_KEPT_CODES))
        self._latent_density = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags
