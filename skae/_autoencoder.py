"""The plain autoencoder transformer, with an MLP or the user's own networks."""

from __future__ import annotations

from typing import Any

from torch import nn

from ._base import BaseAutoEncoder
from ._encoder_decoder import encoder_decoder
from ._nn.mlp import EncoderDecoder
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


class AutoEncoderTransformer(RowTransformerMixin, BaseAutoEncoder):
    """Autoencoder as a scikit-learn transformer.

    An encoder maps each row to a low-dimensional latent code; a mirrored
    decoder maps the code back. Both are trained together to minimise the
    reconstruction ``loss``. The networks are MLPs, convolutional networks
    for images (``input_shape``), or your own (``encoder``, ``decoder``). :meth:`transform` returns the code,
    :meth:`inverse_transform` the decoded rows. Training runs on skorch with
    PyTorch, on the GPU when there is one (``device="auto"``).

    Scale the input first (e.g. ``StandardScaler``); the network sees float32.

    Parameters
    ----------
    n_components : int, default=2
        Width of the latent code.
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
        them in reverse. ``()`` with ``activation="identity"`` is
        a linear autoencoder, which finds PCA's subspace.
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
        Seeds weight initialisation, shuffling, the validation split and
        dropout. Equal seeds give equal models on the CPU.
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
        The trained encoder/decoder (:class:`skae._nn.mlp.EncoderDecoder`).
    history_ : skorch.callbacks.History
        Per-epoch losses, e.g. ``history_[:, "train_loss"]`` and, with early
        stopping, ``history_[:, "valid_loss"]``.
    n_iter_ : int
        Number of epochs trained in all.
    device_ : torch.device
        Device the module lives on.

    See Also
    --------
    sklearn.decomposition.PCA : The linear, closed-form counterpart.
    DenoisingAutoEncoder : Trained to rebuild clean rows from corrupted ones.
    data_parallel : Fit one model across the processes of a ``torch.distributed``
        group (several GPUs or machines).

    References
    ----------
    .. [1] G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality
       of data with neural networks", Science 313(5786), 2006.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import AutoEncoderTransformer
    >>> X = np.random.RandomState(0).normal(size=(100, 6))
    >>> ae = AutoEncoderTransformer(n_components=2, max_epochs=5, device="cpu",
    ...                             random_state=0)
    >>> Z = ae.fit_transform(X)
    >>> Z.shape
    (100, 2)
    >>> ae.inverse_transform(Z).shape
    (100, 6)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        "encoder": [nn.Module, callable, None],
        "decoder": [nn.Module, callable, None],
        "input_shape": [tuple, list, None],
    }

    def __init__(
        self,
        n_components: int = 2,
        *,
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
        self.encoder = encoder
        self.decoder = decoder
        self.input_shape = input_shape

    def _build_module(self, n_features):
        output_activation = "sigmoid" if self.loss == "bce" else None
        return EncoderDecoder(
            *encoder_decoder(self, n_features, self.n_components, output_activation)
        )
