"""The plain autoencoder transformer, with an MLP or the user's own networks."""

import copy

import torch
from torch import nn

from ._base import BaseAutoEncoder
from ._modules import AutoEncoder, EncoderDecoder
from ._rows import RowTransformerMixin


def _network(spec, n_in, n_out, name):
    """A fresh module from ``spec``: a module (copied) or ``spec(n_in, n_out)``."""
    if isinstance(spec, nn.Module):
        return copy.deepcopy(spec)
    if callable(spec):
        module = spec(n_in, n_out)
        if isinstance(module, nn.Module):
            return module
        raise TypeError(f"{name}({n_in}, {n_out}) must return a torch.nn.Module, got {module!r}.")
    raise TypeError(
        f"{name} must be None, a torch.nn.Module or a callable returning one, got {spec!r}."
    )


def _check_shapes(module, n_features, n_components):
    """Run two rows of zeros through a user's pair; say clearly what does not fit."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            z = _checked_call(
                module.encode, torch.zeros(2, n_features), (2, n_components),
                f"encoder must map rows (n, {n_features}) to codes (n, n_components={n_components})",
                f"encoder cannot take rows of {n_features} features",
            )
            _checked_call(
                module.decode, z, (2, n_features),
                f"decoder must map codes (n, {n_components}) back to rows (n, {n_features})",
                f"decoder cannot take codes of width {n_components}",
            )
    finally:
        module.train(was_training)


def _checked_call(half, x, shape, must, cannot):
    """``half(x)``, or a ValueError saying ``must``/``cannot`` when it fails or misfits."""
    try:
        out = half(x)
    except Exception as error:
        raise ValueError(f"{cannot}: {error}") from error
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{must}, got {got} for n=2.")
    return out


class AutoEncoderTransformer(RowTransformerMixin, BaseAutoEncoder):
    """Autoencoder as a scikit-learn transformer.

    An MLP encoder maps each row to a low-dimensional latent code; a mirrored
    decoder maps the code back. Both are trained together to minimise the
    reconstruction ``loss``. :meth:`transform` returns the code,
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
    hidden_layer_sizes : tuple of int, default=(128, 64)
        Hidden widths of the encoder from the input towards the code; the
        decoder uses them in reverse. ``()`` with ``activation="identity"`` is
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
        Print one line per epoch when positive; on a terminal, also a
        progress bar over the batches of each epoch.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.
    net_ : skae._net.ReconstructionNet
        The skorch net that trained the module.
    module_ : torch.nn.Module
        The trained encoder/decoder (:class:`skae._modules.AutoEncoder`).
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
    }

    def __init__(
        self,
        n_components=2,
        *,
        encoder=None,
        decoder=None,
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

    def _build_module(self, n_features):
        if (self.encoder is None) != (self.decoder is None):
            raise ValueError("Give both encoder and decoder, or neither (the MLP).")
        if self.encoder is not None:
            module = EncoderDecoder(
                _network(self.encoder, n_features, self.n_components, "encoder"),
                _network(self.decoder, self.n_components, n_features, "decoder"),
            )
            _check_shapes(module, n_features, self.n_components)
            return module
        return AutoEncoder(
            n_features,
            self.n_components,
            tuple(self.hidden_layer_sizes),
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            output_activation="sigmoid" if self.loss == "bce" else None,
        )
