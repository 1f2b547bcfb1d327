"""Convolutional encoder and decoder for images given as flat rows.

scikit-learn hands estimators 2-D arrays, so an image arrives as a row of
``channels * height * width`` numbers. :class:`ConvEncoder` reshapes the rows
to images, runs stride-2 convolutions and maps the result to a code;
:class:`ConvDecoder` mirrors it (upsampling to the encoder's exact sizes, then
a convolution: no checkerboard artefacts, any height and width) and returns
flat rows again. Pure torch: nothing here knows about estimators.
"""

from torch import nn

from .mlp import ACTIVATIONS


def image_shape(input_shape):
    """``(channels, height, width)`` from ``(height, width)`` or itself."""
    shape = tuple(int(s) for s in input_shape)
    return (1, *shape) if len(shape) == 2 else shape


def _halved(sizes):
    """Spatial sizes after a stride-2, padding-1, 3x3 convolution."""
    return tuple((s + 1) // 2 for s in sizes)


def feature_map_sizes(input_shape, n_layers):
    """``[(h, w)]`` of the input and after each of ``n_layers`` stride-2 layers."""
    sizes = [tuple(image_shape(input_shape)[1:])]
    for _ in range(n_layers):
        sizes.append(_halved(sizes[-1]))
    return sizes


def _block(conv, channels, activation, batch_norm):
    layers = [conv]
    if batch_norm:
        layers.append(nn.BatchNorm2d(channels))
    layers.append(ACTIVATIONS[activation]())
    return layers


class ConvEncoder(nn.Module):
    """Flat image rows -> stride-2 convolutions -> a linear map to a code.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` or ``(height, width)`` of one image.
    channels : sequence of int
        Output channels of the 3x3 stride-2 convolutions, in order; each
        halves the height and width (rounding up). May be empty.
    out_features : int
        Width of the code.
    activation : str, default="relu"
        Key of :data:`skae._nn.mlp.ACTIVATIONS` after every convolution.
    batch_norm : bool, default=False
        Whether to put a ``BatchNorm2d`` after every convolution.

    Shape
    -----
    - Input: ``(batch, channels * height * width)``
    - Output: ``(batch, out_features)``
    """

    def __init__(self, input_shape, channels, out_features, *, activation="relu", batch_norm=False):
        super().__init__()
        self.input_shape = image_shape(input_shape)
        in_channels = self.input_shape[0]
        layers = []
        for out_channels in channels:
            conv = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)
            layers += _block(conv, out_channels, activation, batch_norm)
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        height, width = feature_map_sizes(input_shape, len(channels))[-1]
        self.head = nn.Linear(in_channels * height * width, out_features)

    def forward(self, x):
        images = x.reshape(len(x), *self.input_shape)
        return self.head(self.features(images).flatten(1))


class ConvDecoder(nn.Module):
    """A code -> a linear map to feature maps -> upsampling convolutions -> flat rows.

    Mirrors :class:`ConvEncoder` built with the same ``input_shape`` and
    ``channels``: each stage upsamples to the size the encoder had there and
    applies a 3x3 convolution; the last one outputs the image's channels.

    Parameters
    ----------
    in_features : int
        Width of the code.
    output_shape : tuple of int
        ``(channels, height, width)`` or ``(height, width)`` of one image.
    channels : sequence of int
        The encoder's channels, in the encoder's order.
    activation : str, default="relu"
        Activation after every hidden convolution and after the linear map.
    batch_norm : bool, default=False
        Whether to put a ``BatchNorm2d`` after every hidden convolution.
    output_activation : str or None, default=None
        Key of :data:`skae._nn.mlp.ACTIVATIONS` applied to the output, or None.

    Shape
    -----
    - Input: ``(batch, in_features)``
    - Output: ``(batch, channels * height * width)``
    """

    def __init__(
        self,
        in_features,
        output_shape,
        channels,
        *,
        activation="relu",
        batch_norm=False,
        output_activation=None,
    ):
        super().__init__()
        shape = image_shape(output_shape)
        sizes = feature_map_sizes(shape, len(channels))
        widths = [shape[0], *channels]  # channels at sizes[0], sizes[1], ...
        self.start = (widths[-1], *sizes[-1])
        n_start = widths[-1] * sizes[-1][0] * sizes[-1][1]
        if channels:
            self.head = nn.Sequential(nn.Linear(in_features, n_start), ACTIVATIONS[activation]())
        else:
            self.head = nn.Linear(in_features, n_start)
        layers = []
        for stage in range(len(channels), 0, -1):
            layers.append(nn.Upsample(size=sizes[stage - 1], mode="nearest"))
            conv = nn.Conv2d(widths[stage], widths[stage - 1], 3, padding=1)
            if stage > 1:
                layers += _block(conv, widths[stage - 1], activation, batch_norm)
            else:
                layers.append(conv)
        if output_activation is not None:
            layers.append(ACTIVATIONS[output_activation]())
        self.features = nn.Sequential(*layers)

    def forward(self, z):
        maps = self.head(z).reshape(len(z), *self.start)
        return self.features(maps).flatten(1)
