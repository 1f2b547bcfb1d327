"""The plain autoencoder transformer."""

from ._base import BaseAutoEncoder
from ._modules import AutoEncoder
from ._rows import RowTransformerMixin


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

    def _build_module(self, n_features):
        return AutoEncoder(
            n_features,
            self.n_components,
            tuple(self.hidden_layer_sizes),
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            output_activation="sigmoid" if self.loss == "bce" else None,
        )
