"""The denoising autoencoder: rebuild clean rows from corrupted ones.

The estimator is :class:`skae.AutoEncoderTransformer` plus a batch corruption
handed to the training engine (:class:`skae._engine.net.ReconstructionNet`), which
applies it to the input of every training batch, never to the target and never
at validation or inference. The corruptions are in :mod:`skae._noise`.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._autoencoder import AutoEncoderTransformer

# Also where models pickled before the corruptions moved look for them.
from ._noise import (
    LEVEL_RANGE,
    NOISE_FLOOR,
    NOISES,
    CallableNoise,
    GaussianNoise,
    MaskingNoise,
    SwapNoise,
)
from ._typing import (
    Activation,
    Callbacks,
    Device,
    Loss,
    Network,
    Optimizer,
    Precision,
    RandomStateLike,
)

#: Default of ``denoise(impulse_threshold=)``: entries this many training
#: deviations from their reconstruction are taken for impulses. Chosen (from 2,
#: 3 and 4) on the mismatch grid of ``benchmarks/bench_denoise.py`` on digits
#: and cardio; confirmed on pendigits, satellite and further ODDS sets.
IMPULSE_THRESHOLD = 3.0


class DenoisingAutoEncoder(AutoEncoderTransformer):
    """Autoencoder trained to rebuild clean rows from corrupted ones.

    Every training batch is corrupted afresh by ``noise`` and the network is
    trained to reconstruct the clean batch (Vincent et al. [1]_), so the code
    keeps what survives the noise. Only training inputs are corrupted: the
    targets, the validation rows of ``early_stopping`` and the inputs of
    :meth:`transform`, :meth:`inverse_transform`, :meth:`denoise` and
    :meth:`score` are used as given. Clean data with :meth:`denoise`, which
    also replaces entries left far from their reconstruction (impulses) and
    reconstructs again.

    Scale the input first (e.g. ``StandardScaler``); the network sees float32.

    Parameters
    ----------
    n_components : int, default=2
        Width of the latent code.
    noise : {"gaussian", "masking", "swap"} or callable, default="gaussian"
        How training inputs are corrupted:

        - ``"gaussian"``: add ``N(0, (noise_level * u_i * s_j)^2)`` to entry
          ``(i, j)``. ``s_j`` is feature ``j``'s standard deviation in the
          training rows, at least half the features' mean deviation (a
          feature constant in training gets that mean deviation), so
          near-constant features still get noise to learn to ignore. ``u_i``
          is drawn per row from U(0.25, 1.25), so the network also meets
          weaker and stronger noise than ``noise_level``. Floor and range
          were chosen on the mismatch grid of
          :doc:`benchmarks/bench_denoise.py </benchmarks/denoise>`
          (digits, cardio) and confirmed on pendigits and satellite.
        - ``"masking"``: set each entry of row ``i``, with probability
          ``noise_level * u_i`` (``u_i`` as above), to its feature's training
          mean. The mean rather than zero: it is "no information" whatever
          the scaling, whereas zero is a value outside the range of unscaled
          features (on standardized data the two agree).
        - ``"swap"``: replace each entry of row ``i``, with probability
          ``noise_level * u_i``, by the same feature's value in another row
          of the batch drawn at random. Corrupted rows keep every feature's
          marginal distribution, which suits tabular data with mixed or
          discrete features.
        - callable ``f(x, generator) -> x_tilde``: ``x`` is a float32 tensor
          of shape ``(batch, n_features)`` (a copy ``f`` may modify),
          ``generator`` a ``torch.Generator`` on ``x``'s device to draw with,
          e.g. ``torch.rand(x.shape, generator=generator, device=x.device)``;
          ``noise_level`` is ignored. Use a module-level function for the
          fitted estimator to pickle.

        The statistics are those of the rows of each training call (``fit``,
        or each ``partial_fit``).
    noise_level : float, default=0.1
        Strength of the noise: the nominal multiple of each feature's
        standard deviation for ``"gaussian"`` (>= 0), the nominal
        probability that an entry is corrupted for ``"masking"`` and
        ``"swap"`` (in [0, 1]); every row gets 0.25 to 1.25 times it. 0 trains
        a plain autoencoder.
    encoder : torch.nn.Module, callable or None, default=None
        Your own encoder instead of the MLP (give ``decoder`` too). A module
        is copied at each fit, so the parameter stays untrained and the
        estimator clones; a callable (a module class, a function) is called
        as ``encoder(n_features, n_components)`` at fit, so the network fits
        the data's width. It must map ``(n, n_features)`` to ``(n,
        n_components)``; fit checks the pair on two rows first.
        ``hidden_layer_sizes``, ``activation``, ``dropout`` and
        ``batch_norm`` are then unused. Models with your networks pickle when
        their classes are importable; :func:`skae.save` refuses them (it
        loads no code).
    decoder : torch.nn.Module, callable or None, default=None
        Your own decoder, given with ``encoder``: a module, or a callable
        called as ``decoder(n_components, n_features)``. It must map ``(n,
        n_components)`` back to ``(n, n_features)``.
    input_shape : tuple of int or None, default=None
        ``(channels, height, width)`` or ``(height, width)`` of an image whose
        pixels make up each row (channel first, then row by row, as
        ``images.reshape(len(images), -1)`` gives): the encoder and decoder
        are then convolutional (:class:`skae._nn.conv.ConvEncoder`, stride-2
        3x3 convolutions with ``hidden_layer_sizes`` as their channels, and
        its mirror), e.g. ``input_shape=(8, 8), hidden_layer_sizes=(32, 64)``
        for scikit-learn's digits. One size may be -1, inferred from the
        rows' width as by ``numpy.reshape`` (``(1, -1)``: one-channel strips,
        any width). ``dropout`` is unused then.
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
    loss : {"mse", "mae", "huber", "bce"}, default="mse"
        Reconstruction loss. ``"bce"`` (binary cross-entropy) needs data in
        [0, 1] and gives the decoder a sigmoid output.
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
        Rows per training step; ``"swap"`` draws donors within a batch.
    max_epochs : int, default=300
        Maximum number of passes over the training data. Training usually
        ends earlier, when the monitored loss stops improving (see
        ``early_stopping``); small data sets need many passes, as each is
        only a few optimizer steps.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their
        (uncorrupted) loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, then restore the best weights. When
        False, stop when the training loss (on corrupted inputs) has not
        improved by ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
        Fraction of rows held out when ``early_stopping`` is True.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Smallest decrease of the monitored loss that counts as improvement.
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
        Seeds weight initialisation, shuffling, the validation split, dropout
        and the noise. Equal seeds give equal models on the CPU.
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
        The skorch net that trained the module; ``net_.corruption`` is the
        corruption it applied.
    module_ : torch.nn.Module
        The trained encoder/decoder (:class:`skae._nn.mlp.EncoderDecoder`).
    history_ : skorch.callbacks.History
        Per-epoch losses, e.g. ``history_[:, "train_loss"]`` (on corrupted
        inputs) and, with early stopping, ``history_[:, "valid_loss"]`` (on
        clean inputs).
    n_iter_ : int
        Number of epochs trained in all.
    device_ : torch.device
        Device the module lives on.

    See Also
    --------
    AutoEncoderTransformer : The same network trained on clean inputs.
    sklearn.decomposition.PCA : The linear, closed-form counterpart.

    References
    ----------
    .. [1] P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol,
       "Extracting and composing robust features with denoising
       autoencoders", Proceedings of the 25th International Conference on
       Machine Learning (ICML), 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import DenoisingAutoEncoder
    >>> X = np.random.RandomState(0).normal(size=(100, 6))
    >>> dae = DenoisingAutoEncoder(n_components=2, noise="swap", noise_level=0.2,
    ...                            max_epochs=5, device="cpu", random_state=0)
    >>> Z = dae.fit_transform(X)
    >>> Z.shape
    (100, 2)
    >>> dae.denoise(X).shape
    (100, 6)
    """

    _parameter_constraints: dict = {
        **AutoEncoderTransformer._parameter_constraints,
        "noise": [StrOptions(set(NOISES)), callable],
        "noise_level": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components: int = 2,
        *,
        noise: Literal["gaussian", "masking", "swap"] | Callable[..., Any] = "gaussian",
        noise_level: float = 0.1,
        encoder: Network = None,
        decoder: Network = None,
        input_shape: tuple[int, ...] | None = None,
        hidden_layer_sizes: tuple[int, ...] = (128, 64),
        activation: Activation = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        loss: Loss = "mse",
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
            encoder=encoder,
            decoder=decoder,
            input_shape=input_shape,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout=dropout,
            batch_norm=batch_norm,
            loss=loss,
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
        self.noise = noise
        self.noise_level = noise_level

    def _corruption(self, X):
        """Return the corruption of training batches, with ``X``'s statistics."""
        if callable(self.noise):
            return CallableNoise(self.noise)
        if self.noise in ("masking", "swap") and self.noise_level > 1:
            raise ValueError(
                f"noise_level is the probability that an entry is corrupted for "
                f"noise={self.noise!r} and must be in [0, 1], got {self.noise_level!r}."
            )
        if self.noise == "gaussian":
            std, _ = torch.std_mean(X, dim=0, correction=0)
            # A feature constant in training would get no noise, and the
            # network would never learn to ignore noise there: give it the
            # typical spread of the other features.
            varying = std > 0
            typical = std[varying].mean() if varying.any() else torch.ones((), dtype=std.dtype)
            # Every feature gets at least NOISE_FLOOR of the typical spread.
            scale = torch.maximum(torch.where(varying, std, typical), NOISE_FLOOR * typical)
            return GaussianNoise(self.noise_level, scale, *LEVEL_RANGE)
        if self.noise == "masking":
            return MaskingNoise(self.noise_level, X.mean(dim=0), *LEVEL_RANGE)
        return SwapNoise(self.noise_level, *LEVEL_RANGE)

    def _summarize_training(self, X, cond):
        """Also keep the training rows' per-feature mean and deviation, for
        :meth:`denoise`'s impulses."""
        super()._summarize_training(X, cond)
        X = np.asarray(X, dtype=np.float32)
        self._feature_mean, self._feature_std = X.mean(axis=0), X.std(axis=0)

    def denoise(
        self, X: ArrayLike, *, impulse_threshold: float | None = IMPULSE_THRESHOLD
    ) -> NDArray[np.float32]:
        """Clean rows: encode and decode them, guarding against impulses.

        The rows are used as given (not corrupted) and reconstructed,
        ``inverse_transform(transform(X))``. Then entries farther than
        ``impulse_threshold`` training deviations of their feature from their
        reconstruction are taken for impulses (salt-and-pepper, a stuck
        sensor: values no training noise made), which a network passes
        through where a linear projection would shrink them: they are
        replaced (by the feature's training mean with ``noise="masking"``,
        the value that network learned to fill in; else by the
        reconstruction) and the rows reconstructed again.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Noisy rows.
        impulse_threshold : float or None, default=3.0
            Distance from the reconstruction, in training deviations of each
            feature, beyond which an entry is replaced. None: one pass,
            exactly ``inverse_transform(transform(X))``.

        Returns
        -------
        X_clean : ndarray of shape (n_samples, n_features), dtype float32
            Denoised rows.
        """
        check_is_fitted(self)
        X = self._validate_rows(X)
        X_rec = self._reconstruct(X)
        if impulse_threshold is None or not hasattr(self, "_feature_std"):
            return X_rec
        # A constant training feature: any change there is far.
        std = np.maximum(self._feature_std, np.finfo(np.float32).eps)
        far = np.abs(X - X_rec) > impulse_threshold * std  # (n_samples, n_features)
        if not far.any():
            return X_rec
        fill = self._feature_mean if self.noise == "masking" else X_rec
        return self._reconstruct(np.where(far, fill, X).astype(np.float32))
