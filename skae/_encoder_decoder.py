"""Which encoder and decoder a row estimator trains.

The MLP of ``hidden_layer_sizes`` by default; the convolutional pair of
:mod:`skae._nn.conv` for images when ``input_shape`` is given; or the user's own
``encoder``/``decoder``. :func:`encoder_decoder` reads those parameters off an
estimator, builds the pair for the data's width and checks that it fits.
"""

import copy
from numbers import Integral

import numpy as np
import torch
from torch import nn

from ._nn.conv import ConvDecoder, ConvEncoder
from ._nn.mlp import mirrored_mlps


def resolve_input_shape(input_shape, n_features):
    """``input_shape`` with its -1 (if any) inferred from rows of ``n_features``.

    Raises
    ------
    ValueError
        Unless ``input_shape`` is 2 or 3 positive integers (one may be -1,
        as in ``numpy.reshape``) describing rows of ``n_features`` numbers.
    """
    shape = tuple(input_shape)
    valid = len(shape) in (2, 3) and all(
        isinstance(s, Integral) and not isinstance(s, bool) and (s > 0 or s == -1) for s in shape
    )
    if not valid or shape.count(-1) > 1:
        raise ValueError(
            "input_shape must be (channels, height, width) or (height, width) of "
            f"positive integers, one of which may be -1, got {input_shape!r}."
        )
    known = int(np.prod([s for s in shape if s != -1]))
    if -1 in shape and n_features % known == 0:
        shape = tuple(n_features // known if s == -1 else int(s) for s in shape)
    if int(np.prod(shape)) != n_features:
        raise ValueError(
            f"input_shape={tuple(input_shape)} does not describe rows of X's {n_features} features."
        )
    return shape


def encoder_decoder(estimator, n_features, n_components, output_activation=None):
    """``(encoder, decoder)`` for rows of ``n_features`` and codes of ``n_components``.

    Reads ``encoder``, ``decoder``, ``input_shape``, ``hidden_layer_sizes``,
    ``activation``, ``dropout`` and ``batch_norm`` off ``estimator``.

    Raises
    ------
    ValueError
        If only one of ``encoder``/``decoder`` is given, if they come with
        ``input_shape``, if ``input_shape`` does not fit the rows, or if the
        user's pair does not map rows to codes and back.
    TypeError
        If ``encoder``/``decoder`` is neither a module nor makes one.
    """
    encoder = getattr(estimator, "encoder", None)
    decoder = getattr(estimator, "decoder", None)
    input_shape = getattr(estimator, "input_shape", None)
    if (encoder is None) != (decoder is None):
        raise ValueError("Give both encoder and decoder, or neither.")
    if encoder is not None:
        if input_shape is not None:
            raise ValueError(
                "input_shape chooses skae's convolutional networks; give it or "
                "encoder/decoder, not both."
            )
        pair = (
            _network(encoder, n_features, n_components, "encoder"),
            _network(decoder, n_components, n_features, "decoder"),
        )
        check_pair(*pair, n_features, n_components)
        return pair
    hidden = tuple(estimator.hidden_layer_sizes)
    if input_shape is not None:
        input_shape = resolve_input_shape(input_shape, n_features)
        options = dict(activation=estimator.activation, batch_norm=estimator.batch_norm)
        return (
            ConvEncoder(input_shape, hidden, n_components, **options),
            ConvDecoder(
                n_components, input_shape, hidden, output_activation=output_activation, **options
            ),
        )
    return mirrored_mlps(
        n_features,
        hidden,
        n_components,
        output_activation=output_activation,
        activation=estimator.activation,
        dropout=estimator.dropout,
        batch_norm=estimator.batch_norm,
    )


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


def check_pair(encoder, decoder, n_features, n_components):
    """Run two rows of zeros through a user's pair; say clearly what does not fit."""
    modes = encoder.training, decoder.training
    encoder.eval()
    decoder.eval()
    try:
        with torch.no_grad():
            z = _checked_call(
                encoder,
                torch.zeros(2, n_features),
                (2, n_components),
                f"encoder must map rows (n, {n_features}) to codes (n, n_components={n_components})",
                f"encoder cannot take rows of {n_features} features",
            )
            _checked_call(
                decoder,
                z,
                (2, n_features),
                f"decoder must map codes (n, {n_components}) back to rows (n, {n_features})",
                f"decoder cannot take codes of width {n_components}",
            )
    finally:
        encoder.train(modes[0])
        decoder.train(modes[1])


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
