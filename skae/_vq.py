"""The vector-quantized autoencoder (VQ-VAE) transformer."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._base import _MAX_KEPT_CODES, BaseAutoEncoder
from ._encoder_decoder import encoder_decoder
from ._engine.inference import raise_not_finite
from ._nn.quantizer import VQAutoEncoder
from ._rows import RowTransformerMixin
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
from ._utils import subsample
from ._vq_codes import check_codes, code_usage


class VQTransformer(RowTransformerMixin, BaseAutoEncoder):
    """Vector-quantized autoencoder: each row becomes discrete codes.

    An encoder (an MLP, a convolutional network with ``input_shape``, or your
    own) maps each row to a latent vector, which is snapped to the nearest
    vector of a learned codebook; a decoder rebuilds the row from the chosen
    codebook vector. :meth:`transform` returns the integer
    codes, :meth:`inverse_transform` the rows decoded from codes,
    :meth:`predict` the first code as a cluster label (like
    ``KMeans.predict``). Gradients pass the quantizer straight through [1]_;
    a commitment loss keeps the encoder near its codes.

    With ``n_codebooks > 1`` the quantization is residual [2]_: the first
    codebook quantizes the latent, each next one what the previous ones left,
    and the decoder sees the sum, so a row costs
    ``n_codebooks * log2(n_codes)`` bits. Each stage refines the whole latent
    (unlike product quantization's independent slices): the error falls with
    every stage and the first code alone is a coarse clustering (what
    :meth:`predict` returns).

    Against codebook collapse (codes that are never chosen), each codebook is
    initialised by k-means on the encoder outputs of the first training
    batch, a code unused for 20 training steps is re-seeded from the current
    batch's worst-quantized latents, and by default codebooks follow
    exponential moving averages of their assigned latents (``ema_decay``).

    Scale the input first (e.g. ``StandardScaler``); the network sees float32.

    Parameters
    ----------
    n_codes : int, default=64
        Codes per codebook (``K``).
    n_codebooks : int, default=1
        Number of residual quantization stages, each with its own codebook.
    code_dim : int or None, default=None
        Width of the codebook vectors. None uses ``n_components``. A smaller
        width looks the codes up in a linear projection of the encoder
        output (factorized codes [3]_), which can raise codebook usage.
    commitment_cost : float, default=0.25
        Weight of the commitment loss ``||z - sg(e)||^2`` (``beta`` in [1]_).
    ema_decay : float or None, default=0.99
        Decay of the exponential moving averages that update the codebooks,
        in [0, 1). None learns the codebooks by gradient through the codebook
        loss ``||sg(z) - e||^2`` instead.
    n_components : int, default=16
        Width of the encoder output and decoder input.
    encoder : torch.nn.Module, callable or None, default=None
        Your own encoder instead of the MLP (give ``decoder`` too): a module
        (copied at each fit) or a callable called as ``encoder(n_features,
        n_components)`` at fit. It must map ``(n, n_features)`` to ``(n,
        n_components)``; the quantizer sits between it and the decoder. As in
        :class:`AutoEncoderTransformer`, :func:`skae.save` refuses such models.
    decoder : torch.nn.Module, callable or None, default=None
        Your own decoder, given with ``encoder``: a module, or a callable
        called as ``decoder(n_components, n_features)``, mapping quantized
        latents ``(n, n_components)`` back to rows.
    input_shape : tuple of int or None, default=None
        ``(channels, height, width)`` or ``(height, width)`` of the image
        each row holds: the encoder and decoder are then convolutional, with
        ``hidden_layer_sizes`` as their channels (see
        :class:`AutoEncoderTransformer`).
    hidden_layer_sizes : tuple of int, default=(128, 64)
        Hidden widths of the encoder from the input towards the latent (the
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
        Rows per training step; the codebooks are initialised from the first
        batch.
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
        Smallest decrease of the monitored loss that counts as improvement.
    warm_start : bool, default=False
        Continue from the previous fit's weights and codebooks instead of
        starting anew.
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
        Seeds weight initialisation, shuffling, the codebook initialisation
        and re-seeding. Equal seeds give equal codes on the CPU.
    verbose : int, default=0
        1 shows the progress of training: on a terminal a bar over the
        epochs with the loss and the time left, elsewhere a line at the first
        epoch, about every tenth and the last. 2 and up print skorch's full
        table, one line per epoch (and on a terminal a bar over each epoch's
        batches).

    Attributes
    ----------
    codebooks_ : ndarray of shape (n_codebooks, n_codes, code_dim)
        The learned codebooks; the quantized latent of a row is the sum of its
        codes' vectors, one from each codebook.
    code_usage_ : ndarray of shape (n_codebooks, n_codes), dtype int64
        How many rows of the last training call chose each code.
    perplexity_ : ndarray of shape (n_codebooks,)
        ``exp`` of the entropy of each codebook's usage: the effective number
        of codes in use, at most ``n_codes``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.
    net_ : skae._engine.net.ReconstructionNet
        The skorch net that trained the module.
    module_ : torch.nn.Module
        The trained encoder, quantizer and decoder
        (:class:`skae._nn.quantizer.VQAutoEncoder`).
    history_ : skorch.callbacks.History
        Per-epoch losses (reconstruction plus commitment), e.g.
        ``history_[:, "train_loss"]``.
    n_iter_ : int
        Number of epochs trained in all.
    device_ : torch.device
        Device the module lives on.

    Notes
    -----
    With one codebook the model is a clustering whose partition is learned
    through the encoder; KMeans(K) is the reference for its error (measured
    against it, and against PCA at the same number of bits, in
    :doc:`benchmarks/results/vq.md </benchmarks/vq>`). Training converges slowly on small data
    sets (few steps per epoch): if a ``ConvergenceWarning`` says
    ``max_epochs`` ended training, raise it.

    See Also
    --------
    sklearn.cluster.KMeans : One code per row without an encoder; the optimal
        single-codebook quantizer of the training rows.
    AutoEncoderTransformer : Continuous latent codes instead of discrete ones.

    References
    ----------
    .. [1] A. van den Oord, O. Vinyals and K. Kavukcuoglu, "Neural Discrete
       Representation Learning", NeurIPS 2017, arXiv:1711.00937.
    .. [2] N. Zeghidour, A. Luebs, A. Omran, J. Skoglund and M. Tagliasacchi,
       "SoundStream: An End-to-End Neural Audio Codec", IEEE/ACM TASLP 30,
       2021, arXiv:2107.03312.
    .. [3] J. Yu et al., "Vector-quantized Image Modeling with Improved
       VQGAN", ICLR 2022, arXiv:2110.04627.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import VQTransformer
    >>> X = np.random.RandomState(0).normal(size=(200, 6))
    >>> vq = VQTransformer(n_codes=8, n_codebooks=2, max_epochs=5, device="cpu",
    ...                    random_state=0)
    >>> codes = vq.fit_transform(X)
    >>> codes.shape, codes.dtype
    ((200, 2), dtype('int64'))
    >>> vq.inverse_transform(codes).shape
    (200, 6)
    >>> vq.codebooks_.shape
    (2, 8, 16)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        "n_codes": [Interval(Integral, 1, None, closed="left")],
        "n_codebooks": [Interval(Integral, 1, None, closed="left")],
        "code_dim": [Interval(Integral, 1, None, closed="left"), None],
        "commitment_cost": [Interval(Real, 0, None, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left"), None],
        "encoder": [nn.Module, callable, None],
        "decoder": [nn.Module, callable, None],
        "input_shape": [tuple, list, None],
    }

    def __init__(
        self,
        n_codes: int = 64,
        *,
        n_codebooks: int = 1,
        code_dim: int | None = None,
        commitment_cost: float = 0.25,
        ema_decay: float | None = 0.99,
        n_components: int = 16,
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
            n_components=n_components,
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
        self.n_codes = n_codes
        self.n_codebooks = n_codebooks
        self.code_dim = code_dim
        self.commitment_cost = commitment_cost
        self.ema_decay = ema_decay
        self.encoder = encoder
        self.decoder = decoder
        self.input_shape = input_shape

    def _build_module(self, n_features):
        output_activation = "sigmoid" if self.loss == "bce" else None
        return VQAutoEncoder(
            *encoder_decoder(self, n_features, self.n_components, output_activation),
            self.n_components,
            n_codes=self.n_codes,
            n_codebooks=self.n_codebooks,
            code_dim=self.n_components if self.code_dim is None else self.code_dim,
            commitment_cost=self.commitment_cost,
            ema_decay=self.ema_decay,
        )

    def _summarize_training(self, X, cond):
        """Count code usage on the training rows; keep codes for :meth:`sample`."""
        codes = self._encode(X)  # (n_samples, n_codebooks)
        self.code_usage_, self.perplexity_ = code_usage(codes, self.n_codes)
        self._training_codes = subsample(codes, _MAX_KEPT_CODES)

    # -- inference ----------------------------------------------------------
    @property
    def codebooks_(self) -> NDArray[np.float32]:
        """The codebooks, ``(n_codebooks, n_codes, code_dim)``."""
        check_is_fitted(self)
        return self.net_.module_.quantizer.codebooks.cpu().numpy()

    def _encode(self, X):
        codes = self._infer(self.net_.module_.codes, X)  # (n_samples, n_codebooks)
        n_bad = int(np.count_nonzero(codes[:, 0] < 0))
        if n_bad:
            raise_not_finite(n_bad, len(codes))
        return codes

    def _decode(self, Z):
        # Z: integer codes, (n_samples, n_codebooks).
        return self._infer(self.net_.module_.decode_codes, Z)

    # The mixin's transform and inverse_transform, documented for integer codes.
    _method_docstrings = {
        "transform": """Encode ``X`` into one code per codebook.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_codebooks), dtype int64
            Index of the chosen vector of each codebook, in ``[0, n_codes)``.
        """,
        "inverse_transform": """Decode codes back into the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_codebooks)
            Integer codes in ``[0, n_codes)``, e.g. from :meth:`transform`.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features), dtype float32
            The rows the decoder builds from the codes.
        """,
    }
    _method_returns = {"transform": "NDArray[np.int64]"}

    def _check_codes(self, Z):
        # The fitted sizes: n_codebooks and n_codes may have been set since.
        n_codebooks, n_codes = self.net_.module_.quantizer.codebooks.shape[:2]
        return check_codes(Z, n_codebooks, n_codes, type(self).__name__)

    def predict(self, X: ArrayLike) -> NDArray[np.int64]:
        """Code of the first codebook, as a cluster label.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
            The first codebook's code of each row, in ``[0, n_codes)``.
        """
        # (the int64 codes of transform; mypy sees the mixin's float32 hint)
        return np.asarray(self.transform(X)[:, 0], dtype=np.int64)

    def fit_predict(self, X: ArrayLike, y: object = None) -> NDArray[np.int64]:
        """Fit, then return the first codebook's code of each training row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
            The first codebook's code of each row.
        """
        return self.fit(X).predict(X)

    def quantize(self, X: ArrayLike) -> NDArray[np.float32]:
        """Reconstruct ``X`` through the codes: ``inverse_transform(transform(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to quantize.

        Returns
        -------
        X_q : ndarray of shape (n_samples, n_features), dtype float32
            The decoded quantized rows.
        """
        check_is_fitted(self)
        X = self._validate_rows(X)
        return self._reconstruct(X)

    def embed(self, X: ArrayLike) -> NDArray[np.float32]:
        """Quantized latent of ``X``: the sum of its codes' codebook vectors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to embed.

        Returns
        -------
        Z_q : ndarray of shape (n_samples, code_dim), dtype float32
            ``sum(codebooks_[i, codes[:, i]] for i in range(n_codebooks))``.
        """
        check_is_fitted(self)
        X = self._validate_rows(X)
        return self._infer(self.net_.module_.embed, X)

    def _draw_codes(self, n_samples, rng):
        """Code tuples of kept training rows, drawn with replacement."""
        codes = self._training_codes
        return codes[rng.randint(len(codes), size=n_samples)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # transform returns integer codes.
        tags.transformer_tags.preserves_dtype = []
        return tags
