"""Tests of the plain torch building blocks (skae._nn.mlp)."""

import torch
from torch import nn

from skae._nn.mlp import mirrored_mlps


def test_mirrored_mlps_reverse_the_hidden_widths():
    torch.manual_seed(0)
    encoder, decoder = mirrored_mlps(
        10, (32, 16), 4, decoder_extra_inputs=3, code_activation="tanh", activation="relu"
    )
    widths = [(m.in_features, m.out_features) for m in encoder if isinstance(m, nn.Linear)]
    assert widths == [(10, 32), (32, 16), (16, 4)]
    widths = [(m.in_features, m.out_features) for m in decoder if isinstance(m, nn.Linear)]
    assert widths == [(7, 16), (16, 32), (32, 10)]
    z = encoder(torch.randn(5, 10) * 100)
    assert z.shape == (5, 4) and z.abs().max() <= 1  # tanh-bounded code
    assert decoder(torch.cat([z, torch.zeros(5, 3)], dim=1)).shape == (5, 10)
