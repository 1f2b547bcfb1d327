"""The shared estimator base of every skae autoencoder.

:class:`BaseAutoEncoder` holds what all estimators share: the parameters and
their constraints, input validation, the choice of device, seeding, fitting
through the one training engine (:class:`skae._net.ReconstructionNet`) and the
fitted-state helpers. A concrete estimator says which ``nn.Module`` it trains
(:meth:`BaseAutoEncoder._build_module`) and, optionally, how it corrupts
training batches (:meth:`BaseAutoEncoder._corruption`).
"""

import functools
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from skorch.callbacks import EarlyStopping
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._data import TensorData, apply_batched, as_tensor
from ._modules import ACTIVATIONS
from ._net import ReconstructionNet

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

#: Training codes kept to fit the latent density used by ``sample``.
_MAX_KEPT_CODES = 10_000


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
def _fused_adam_works(device):
    """Whether this torch build has a fused Adam kernel for ``device``."""
    try:
        param = torch.zeros(1, device=device, requires_grad=True)
        param.grad = torch.zeros_like(param)
        torch.optim.Adam([param], fused=True).step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def _silent(*args, **kwargs):
    """Sink that prints nothing (a module-level function, so nets pickle)."""


class BaseAutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class for autoencoder estimators; not for direct use.

    Subclasses implement :meth:`_build_module` and may override
    :meth:`_corruption`. See :class:`skae.AutoEncoderTransformer` for the
    parameters.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "loss": [StrOptions(set(LOSSES))],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
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
        lr=1e-3,
        weight_decay=0.0,
        batch_size=256,
        max_epochs=100,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        device="auto",
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
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows. Converted to float32.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one pass over the rows of ``X``, keeping earlier training.

        The first call initialises the network; later calls continue with the
        same weights and optimizer state. No validation split and no early
        stopping are used.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training rows.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, partial=True)

    def _fit(self, X, y=None, *, partial):
        keep = hasattr(self, "net_") and (partial or self.warm_start)
        X, cond = self._check_fit_data(X, y, reset=not keep)
        self._check_hidden_layer_sizes()
        if self.loss == "bce" and (X.min() < 0 or X.max() > 1):
            raise ValueError(
                "loss='bce' needs data in [0, 1]; scale it first, e.g. with "
                "MinMaxScaler, or use loss='mse'."
            )
        if keep:
            net = self.net_
            device = torch.device(net.device)
        else:
            device = resolve_device(self.device)
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            net = None
        X_tensor = as_tensor(X).to(device)
        with torch.random.fork_rng(devices=self._rng_devices(device)):
            if net is None:
                torch.manual_seed(seed)
                net = self._make_net(X_tensor, device, seed)
            else:
                # Dropout draws from the global RNG: seed it from the net's own.
                torch.manual_seed(torch.randint(2**62, (1,), generator=net.generator).item())
                # Current parameters and rows, e.g. after set_params(noise_level=...).
                net.corruption = self._corruption(X_tensor)
            stopper = self._configure_callbacks(net, partial)
            net.validation_fraction = (
                self.validation_fraction if self.early_stopping and not partial else None
            )
            if cond is not None:
                cond = torch.as_tensor(cond).to(device)
            net.partial_fit(
                TensorData(X_tensor, cond), epochs=1 if partial else self.max_epochs
            )
            self._finish_training(net)

        self.net_ = net
        self.n_iter_ = len(net.history)
        self._n_features_out = self.n_components
        self._keep_training_codes(X)
        if not partial and stopper is not None and stopper.misses_ < stopper.patience:
            warnings.warn(
                f"{type(self).__name__} reached max_epochs={self.max_epochs} "
                "before the loss stopped improving; increase max_epochs.",
                ConvergenceWarning,
            )
        return self

    @staticmethod
    def _rng_devices(device):
        return [device.index or 0] if device.type == "cuda" else []

    def _check_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        try:
            ok = all(isinstance(s, Integral) and s > 0 for s in sizes)
        except TypeError:
            ok = False
        if not ok or isinstance(sizes, str):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers, "
                f"got {sizes!r}."
            )

    def _make_net(self, X_tensor, device, seed):
        optimizer = self.optimizer
        options = {}
        if isinstance(optimizer, str):
            optimizer = OPTIMIZERS[optimizer]
            if optimizer in (torch.optim.Adam, torch.optim.AdamW) and _fused_adam_works(device):
                # One kernel for all parameters: ~25% faster steps for small MLPs.
                options["optimizer__fused"] = True
        # Only optimizers that take weight decay are given it (LBFGS is not).
        if self.weight_decay:
            options["optimizer__weight_decay"] = self.weight_decay
        net = ReconstructionNet(
            module=self._build_module(X_tensor.shape[1]).to(device),
            criterion=LOSSES[self.loss],
            optimizer=optimizer,
            **options,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            corruption=self._corruption(X_tensor),
            generator=torch.Generator().manual_seed(int(seed)),
            device=str(device),
            verbose=self.verbose,
            # Filled per training call by _configure_callbacks.
            callbacks=[],
        )
        net.initialize()
        return net

    def _configure_callbacks(self, net, partial):
        """Install early stopping and the user's callbacks; return the stopper."""
        callbacks = list(self.callbacks or [])
        stopper = None
        if not partial:
            monitor = "valid_loss" if self.early_stopping else "train_loss"
            stopper = EarlyStopping(
                monitor=monitor,
                patience=self.n_iter_no_change,
                threshold=self.tol,
                threshold_mode="abs",
                load_best=self.early_stopping,
                sink=print if self.verbose else _silent,
            )
            callbacks.append(("early_stopping", stopper))
        net.callbacks = callbacks
        net.verbose = self.verbose
        net.initialize_callbacks()
        return stopper

    def _finish_training(self, net):
        """Hook called after each training call, inside the seeded context."""

    def _keep_training_codes(self, X):
        """Keep a subsample of training codes for :meth:`sample`."""
        rng = np.random.default_rng(0)
        if len(X) > _MAX_KEPT_CODES:
            X = X[np.sort(rng.choice(len(X), _MAX_KEPT_CODES, replace=False))]
        self._training_codes = self._encode(X)
        self._latent_density = None

    # -- subclass hooks -----------------------------------------------------
    def _check_fit_data(self, X, y, *, reset):
        """Validate training input; return ``(X, cond)``.

        ``X`` is the float32 array the network trains on (rows first);
        ``cond`` is None or an array of per-row conditioning handed to the
        module as ``cond=`` (e.g. group ids). The default ignores ``y``.
        """
        return validate_data(self, X, reset=reset, dtype=np.float32), None

    def _build_module(self, n_features):
        """Return the ``nn.Module`` to train (on the CPU)."""
        raise NotImplementedError

    def _corruption(self, X):
        """Return ``f(x, generator) -> x_tilde`` for training inputs, or None.

        ``X`` is the whole training tensor, for statistics such as the
        per-feature spread.
        """
        return None

    # -- inference ----------------------------------------------------------
    @property
    def module_(self):
        """The trained ``torch.nn.Module``."""
        check_is_fitted(self)
        return self.net_.module_

    @property
    def history_(self):
        """Per-epoch record of training: ``history_[:, "train_loss"]``."""
        check_is_fitted(self)
        return self.net_.history

    @property
    def device_(self):
        """The ``torch.device`` the module lives on."""
        check_is_fitted(self)
        return torch.device(self.net_.device)

    def _apply(self, fn, X):
        module = self.net_.module_
        module.eval()
        return apply_batched(fn, X, self.device_)

    def _encode(self, X):
        return self._apply(self.net_.module_.encode, X)

    def _decode(self, Z):
        return self._apply(self.net_.module_.decode, Z)

    def transform(self, X):
        """Encode ``X`` into the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), dtype float32
            Latent codes.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return self._encode(X)

    def inverse_transform(self, X):
        """Decode latent codes back into the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features_in_), dtype float32
            Reconstructed rows.
        """
        check_is_fitted(self)
        Z = self._check_codes(X)
        return self._decode(Z)

    def _check_codes(self, Z):
        Z = check_array(Z, dtype=np.float32)
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}."
                f"inverse_transform is expecting {self.n_components} latent "
                "features (n_components) as input."
            )
        return Z

    def _forward(self, x):
        """The module's reconstruction of a tensor, without auxiliary losses."""
        x_hat = self.net_.module_(x)
        return x_hat[0] if isinstance(x_hat, tuple) else x_hat

    def _reconstruct(self, X):
        """Encode and decode validated rows in one batched pass."""
        return self._apply(self._forward, X)

    def reconstruction_error(self, X, per_feature=False):
        """Reconstruction loss of each row (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to reconstruct.
        per_feature : bool, default=False
            Return the loss of every entry instead of the row means, to see
            which features a row is badly rebuilt in.

        Returns
        -------
        errors : ndarray of shape (n_samples,) or (n_samples, n_features)
            The training ``loss`` between each row and its reconstruction,
            averaged over features unless ``per_feature``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        criterion = LOSSES[self.loss](reduction="none")

        def loss(x):
            errors = criterion(self._forward(x), x)
            return errors if per_feature else errors.mean(dim=1)

        return self._apply(loss, X)

    def score(self, X, y=None):
        """Minus the mean reconstruction loss of ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        score : float
            ``-mean(loss(X, reconstruct(X)))`` with the training ``loss``.
        """
        return -float(np.mean(self.reconstruction_error(X), dtype=np.float64))

    def sample(self, n_samples=1, random_state=None):
        """Generate rows: decode latent codes drawn from a density of the codes.

        A Gaussian mixture is fitted to (a subsample of at most 10,000) training
        codes the first time this is called after a fit; its draws are decoded.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws from the latent density.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_), dtype float32
            Generated rows.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        if self._latent_density is None:
            codes = self._training_codes
            self._latent_density = GaussianMixture(
                n_components=min(10, max(1, len(codes) // 50)),
                covariance_type="full",
                reg_covar=1e-4,
                random_state=0,
            ).fit(codes.astype(np.float64))
        rng = check_random_state(random_state)
        density = self._latent_density
        # GaussianMixture.sample has no random_state argument: draw by hand.
        counts = rng.multinomial(n_samples, density.weights_)
        Z = np.concatenate(
            [
                mean + rng.standard_normal((count, len(mean))) @ np.linalg.cholesky(cov).T
                for mean, cov, count in zip(density.means_, density.covariances_, counts)
            ]
        )
        Z = Z[rng.permutation(n_samples)].astype(np.float32)
        return self._decode(Z)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags
