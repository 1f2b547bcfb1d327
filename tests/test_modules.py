"""Tests of the plain torch building blocks (skae._nn.mlp, skae._nn.dropout)."""

import pytest
import torch
from torch import nn

from skae._nn.dropout import Dropout
from skae._nn.mlp import MLP, mirrored_mlps


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


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_dropout_zeroes_a_share_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    x = torch.full((400, 250), 2.0, requires_grad=True)
    out = Dropout(p)(x)
    kept = out != 0
    assert abs(1 - kept.float().mean().item() - p) < 0.01
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 2.0 / (1 - p)))
    out.sum().backward()  # the gradient is the mask, as torch's
    torch.testing.assert_close(x.grad, kept.float() / (1 - p))


def test_dropout_is_the_identity_in_eval_and_at_the_ends():
    x = torch.randn(8, 5)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))


def test_dropout_draws_from_the_global_generator():
    x = torch.ones(64, 32)
    torch.manual_seed(3)
    first = Dropout(0.4)(x)
    torch.manual_seed(3)
    assert torch.equal(Dropout(0.4)(x), first)
    assert not torch.equal(Dropout(0.4)(x), first)


def test_mlp_uses_the_fast_dropout():
    mlp = MLP(4, (8,), 2, dropout=0.2)
    assert [type(m) for m in mlp if isinstance(m, nn.Dropout)] == [Dropout]
