"""Plain ``torch.nn.Module`` building blocks.

Nothing here knows about estimators or the training engine: each module takes
explicit constructor arguments and maps tensors to tensors.
"""

from torch import nn

from .dropout import Dropout

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


class MLP(nn.Sequential):
    """Multi-layer perceptron: ``Linear -> [BatchNorm] -> activation -> [Dropout]``.

    The last layer is a plain ``Linear`` followed by ``output_activation``.

    Parameters
    ----------
    in_features : int
        Width of the input.
    hidden_sizes : sequence of int
        Widths of the hidden layers, in order. May be empty.
    out_features : int
        Width of the output.
    activation : str, default="relu"
        Key of :data:`ACTIVATIONS` used after every hidden layer.
    dropout : float, default=0.0
        Dropout probability after every hidden activation.
    batch_norm : bool, default=False
        Whether to put a ``BatchNorm1d`` after every hidden ``Linear``.
    output_activation : str or None, default=None
        Key of :data:`ACTIVATIONS` applied to the output, or None.

    Shape
    -----
    - Input: ``(batch, in_features)``
    - Output: ``(batch, out_features)``
    """

    def __init__(
        self,
        in_features,
        hidden_sizes,
        out_features,
        *,
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        output_activation=None,
    ):
        layers = []
        width = in_features
        for size in hidden_sizes:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, out_features))
        if output_activation is not None:
            layers.append(ACTIVATIONS[output_activation]())
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features = out_features


def mirrored_mlps(
    n_features,
    hidden_sizes,
    n_components,
    *,
    decoder_extra_inputs=0,
    code_activation=None,
    output_activation=None,
    **hidden,
):
    """An encoder MLP and a decoder MLP that mirrors its hidden widths.

    Parameters
    ----------
    n_features : int
        Width of the data: the encoder's input and the decoder's output.
    hidden_sizes : sequence of int
        Hidden widths of the encoder, from the input towards the code; the
        decoder uses them in reverse.
    n_components : int
        Width of the code: the encoder's output and the decoder's input.
    decoder_extra_inputs : int, default=0
        Inputs the decoder takes beside the code (e.g. a group code).
    code_activation : str or None, default=None
        Activation of the encoder's output (e.g. ``"tanh"``), or None.
    output_activation : str or None, default=None
        Activation of the decoder's output, e.g. ``"sigmoid"`` for data in
        [0, 1], or None.
    **hidden
        ``activation``, ``dropout`` and ``batch_norm`` of both MLPs' hidden
        layers, as in :class:`MLP`.

    Returns
    -------
    encoder, decoder : MLP
        ``(batch, n_features) -> (batch, n_components)`` and
        ``(batch, n_components + decoder_extra_inputs) -> (batch, n_features)``,
        built in that order (so a seeded build repeats).
    """
    hidden_sizes = tuple(hidden_sizes)
    encoder = MLP(
        n_features, hidden_sizes, n_components, output_activation=code_activation, **hidden
    )
    decoder = MLP(
        n_components + decoder_extra_inputs,
        hidden_sizes[::-1],
        n_features,
        output_activation=output_activation,
        **hidden,
    )
    return encoder, decoder


class EncoderDecoder(nn.Module):
    """An encoder and a decoder as one autoencoder module.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps a batch of rows to codes.
    decoder : torch.nn.Module
        Maps a batch of codes back to rows.

    Shape
    -----
    - Input: ``(batch, n_features)``
    - Code: whatever ``encoder`` returns
    - Output: whatever ``decoder`` returns
    """

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))
