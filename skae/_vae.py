"""The variational autoencoder: a generative model of rows.

:class:`VariationalAutoEncoder` trains :class:`skae._nn.vae.GaussianVAE`
through the one training engine with the ELBO as loss: the engine's criterion
is the likelihood term (:class:`skae._nn.vae.NormalNLL`) and the module
adds the KL term. What it adds to the row transformer: ``score_samples`` as a
log-likelihood estimate, and ``sample`` from the prior.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from ._base import BaseAutoEncoder
from ._encoder_decoder import encoder_decoder
from ._nn.vae import GaussianVAE, NormalNLL
from ._rows import RowTransformerMixin
from ._typing import (
    Activation,
    Callbacks,
    Device,
    Optimizer,
    Precision,
    RandomStateLike,
)
from ._utils import check_n_samples


class KLWarmup(Callback):
    """Raise the KL term's weight linearly from 0 to ``beta`` over ``epochs`` epochs.

    Counted in epochs trained in all, so a warm start or ``partial_fit``
    continues the ramp where it was.
    """

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = net.history[-1, "epoch"]  # 1 for the first
        net.module_.kl_ramp = min(1.0, (epoch - 1) / self.epochs) if self.epochs else 1.0


class VariationalAutoEncoder(RowTransformerMixin, BaseAutoEncoder):
    """Variational autoencoder (VAE): a generative model with a Gaussian latent.

    The encoder maps each row to a Gaussian posterior over a code of
    ``n_components`` numbers; the decoder maps a code to a Gaussian over the
    row, with a standard deviation per feature learned with the networks.
    Training maximises the evidence lower bound (ELBO) [1]_, with the KL term
    weighted by ``beta`` [2]_. :meth:`transform` gives the posterior mean,
    :meth:`sample` decodes codes drawn from the standard normal prior, and
    :meth:`score_samples` estimates each row's log-likelihood, so the model
    is also a density (and an outlier score: the detector takes it as its
    ``estimator``).

    Scale the input first (e.g. ``StandardScaler``); the network sees float32.

    Parameters
    ----------
    n_components : int, default=2
        Width of the latent code.
    beta : float, default=1.0
        Weight of the KL term; 1 is the ELBO, larger values push the code
        towards the prior (beta-VAE), smaller ones towards a plain
        autoencoder.
    kl_warmup : int, default=0
        Epochs over which the KL weight rises linearly from 0 to ``beta``
        (KL annealing, against codes the decoder learns to ignore early). The
        training loss is not comparable across the warm-up, so keep it
        shorter than ``n_iter_no_change`` or use ``early_stopping``.
    n_importance_samples : int, default=16
        Codes drawn per row by :meth:`score_samples` (importance-weighted
        bound [3]_; 1 gives the ELBO). The draws are seeded, so scores do not
        change between calls.
    input_shape : tuple of int or None, default=None
        ``(channels, height, width)`` or ``(height, width)`` of the image
        each row holds: convolutional encoder and decoder, as in
        :class:`AutoEncoderTransformer`.
    hidden_layer_sizes : tuple of int, default=(128, 64)
        Hidden widths of the encoder from the input towards the code (the
        channels of its convolutions with ``input_shape``); the decoder uses
        them in reverse.
    activation : {"relu", "leaky_relu", "elu", "gelu", "selu", "tanh", \
            "sigmoid", "identity"}, default="relu"
        Activation after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation, in [0, 1).
    batch_norm : bool, default=False
        Whether to put batch normalisation after each hidden linear layer.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, \
            default="adam"
        The optimizer.
    optimizer_kwargs : dict or None, default=None
        Further arguments of the optimizer, e.g. ``{"momentum": 0.9}`` for
        SGD or ``{"betas": (0.9, 0.99)}`` for Adam; ``lr`` and
        ``weight_decay`` are parameters of their own.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer.
    batch_size : int, default=256
        Rows per training step.
    max_epochs : int, default=300
        Maximum number of passes over the training data. Training usually
        ends earlier, when the monitored loss stops improving (see
        ``early_stopping``); small data sets need many passes, as each is
        only a few optimizer steps.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, then
        restore the best weights. When False, stop when the training loss has
        not improved by ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
        Fraction of rows held out when ``early_stopping`` is True.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Smallest decrease of the monitored loss (minus the ELBO per entry)
        that counts as improvement.
    warm_start : bool, default=False
        Continue from the previous fit's weights instead of starting anew.
    device : str or torch.device, default="auto"
        Torch device to train and infer on; ``"auto"`` is ``"cuda"`` when
        available, else ``"cpu"``.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Arithmetic of the network's forward pass, in training and inference:
        ``"bf16"`` and ``"fp16"`` run it in half precision through
        ``torch.autocast`` (weights, optimizer state and losses stay float32;
        ``"fp16"`` also scales the loss), faster on GPUs with tensor cores.
        Outputs are float32 either way.
    compile : bool, default=False
        Train through ``torch.compile(module)``: faster steps on a GPU after a
        compilation of seconds to a minute at the first training call; the
        saved model and inference use the module itself.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, e.g. ``skorch.callbacks.LRScheduler``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the codes drawn in training,
        the validation split and dropout. Equal seeds give equal models on
        the CPU.
    verbose : int, default=0
        1 shows the progress of training: on a terminal a bar over the
        epochs with the loss and the time left, elsewhere a line at the first
        epoch, about every tenth and the last. 2 and up print skorch's full
        table, one line per epoch (and on a terminal a bar over each epoch's
        batches).

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.
    net_ : skae._engine.net.ReconstructionNet
        The skorch net that trained the module.
    module_ : torch.nn.Module
        The trained network (:class:`skae._nn.vae.GaussianVAE`).
    history_ : skorch.callbacks.History
        Per-epoch losses (minus the ELBO per entry, in nats).
    n_iter_ : int
        Number of epochs trained in all.
    device_ : torch.device
        Device the module lives on.

    See Also
    --------
    AutoEncoderTransformer : A deterministic code; ``sample`` fits a mixture
        to the training codes instead of a prior.
    sklearn.mixture.GaussianMixture : A density of the rows themselves.

    References
    ----------
    .. [1] D. P. Kingma and M. Welling, "Auto-encoding variational Bayes",
       ICLR 2014.
    .. [2] I. Higgins et al., "beta-VAE: Learning basic visual concepts with a
       constrained variational framework", ICLR 2017.
    .. [3] Y. Burda, R. Grosse and R. Salakhutdinov, "Importance weighted
       autoencoders", ICLR 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import VariationalAutoEncoder
    >>> X = np.random.RandomState(0).normal(size=(200, 6))
    >>> vae = VariationalAutoEncoder(n_components=2, max_epochs=5, device="cpu",
    ...                              random_state=0).fit(X)
    >>> vae.transform(X).shape
    (200, 2)
    >>> vae.sample(3, random_state=0).shape
    (3, 6)
    >>> vae.score_samples(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in BaseAutoEncoder._parameter_constraints.items() if k != "loss"},
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup": [Interval(Integral, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "input_shape": [tuple, list, None],
    }

    def __init__(
        self,
        n_components: int = 2,
        *,
        beta: float = 1.0,
        kl_warmup: int = 0,
        n_importance_samples: int = 16,
        input_shape: tuple[int, ...] | None = None,
        hidden_layer_sizes: tuple[int, ...] = (128, 64),
        activation: Activation = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        optimizer: Optimizer = "adam",
        optimizer_kwargs: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        max_epochs: int = 300,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        warm_start: bool = False,
        device: Device = "auto",
        precision: Precision = "fp32",
        compile: bool = False,
        callbacks: Callbacks = None,
        random_state: RandomStateLike = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout=dropout,
            batch_norm=batch_norm,
            # The likelihood is Gaussian; "mse" is what reconstruction_error reports.
            loss="mse",
            optimizer=optimizer,
            optimizer_kwargs=optimizer_kwargs,
            lr=lr,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            warm_start=warm_start,
            device=device,
            precision=precision,
            compile=compile,
            callbacks=callbacks,
            random_state=random_state,
            verbose=verbose,
        )
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.n_importance_samples = n_importance_samples
        self.input_shape = input_shape

    # -- what the engine trains ---------------------------------------------
    def _build_module(self, n_features):
        encoder, _ = encoder_decoder(self, n_features, 2 * self.n_components)
        _, decoder = encoder_decoder(self, n_features, self.n_components)
        return GaussianVAE(encoder, decoder, n_features, beta=self.beta)

    def _criterion(self):
        return NormalNLL

    def _training_callbacks(self):
        return [("kl_warmup", KLWarmup(self.kl_warmup))] if self.kl_warmup else []

    def _forward(self, x):
        """Reconstruction from the posterior mean (no draw)."""
        module = self.net_.module_
        return module.decode(module.encode(x))

    # -- density and generation -------------------------------------------------
    def score_samples(self, X: ArrayLike) -> NDArray[Any]:
        """Estimated log-likelihood of each row, ``log p(x)`` in nats.

        The importance-weighted bound with ``n_importance_samples`` codes per
        row drawn from the posterior (the ELBO for one), from a fixed seed
        shared by all rows, so a row's score depends on that row alone.
        Higher is more typical of the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            One estimate per row; a lower bound of ``log p(x)`` in
            expectation. ``-inf`` for a row whose values overflow float32
            arithmetic inside the network.
        """
        check_is_fitted(self)
        return self._score_samples(self._validate_rows(X))

    def _score_samples(self, X):
        """:meth:`score_samples` of rows already validated: the twin a
        meta-estimator calls, so that it validates its input once."""
        module = self.net_.module_
        k = self.n_importance_samples

        def log_likelihood(x):
            # The same draws for every chunk: a row's score is its own.
            generator = torch.Generator(x.device).manual_seed(0)
            return module.log_likelihood(x, k, generator)

        # A row that overflows the network has likelihood 0: -inf, not an error.
        return self._infer(log_likelihood, X, check_finite=False).astype(np.float64)

    def score(self, X: ArrayLike, y: object = None) -> float:
        """Mean estimated log-likelihood of the rows of ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    def sample(
        self, n_samples: int = 1, random_state: RandomStateLike = None
    ) -> NDArray[np.float32]:
        """Generate rows: decode codes drawn from the standard normal prior.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws from the prior.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), dtype float32
            The likelihood's mean for each drawn code.
        """
        check_is_fitted(self)
        check_n_samples(n_samples)
        rng = check_random_state(random_state)
        Z = rng.standard_normal((n_samples, self._n_features_out)).astype(np.float32)
        return self._decode(Z)
