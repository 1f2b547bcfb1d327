"""The terms that keep the group out of a content code: MMD and gradient reversal.

Pure torch. :func:`group_mmd` measures how far each group's codes are from
all codes in distribution; :func:`reverse_gradient` lets an adversary's loss
push the encoder the other way.
"""

import torch

#: Codes per batch compared by :func:`group_mmd` (its cost grows as the square).
MMD_MAX_CODES = 512
#: Bandwidths of the RBF kernels of :func:`group_mmd`, times the median
#: squared distance between the batch's codes.
MMD_BANDWIDTHS = (0.25, 1.0, 4.0)


def group_mmd(z, groups, max_codes=MMD_MAX_CODES):
    """How far each group's codes are from all codes, in distribution.

    The squared maximum mean discrepancy [1]_ between the codes of each group
    and the codes of the whole batch, weighted by the group's share of the
    batch, under a sum of RBF kernels whose widths follow the median distance
    between codes (so the term does not depend on the code's width or scale).
    It is zero when every group's codes are distributed alike, which is what
    a probe that predicts the group from the code cannot exploit; unlike an
    adversary it needs no classifier that can be fooled. A batch of more than
    ``max_codes`` codes is subsampled at random.

    Shape: ``z`` ``(n, n_components)``, ``groups`` ``(n,)`` ids -> scalar.

    References
    ----------
    .. [1] C. Louizos, K. Swersky, Y. Li, M. Welling and R. Zemel, "The
       variational fair autoencoder", ICLR 2016, arXiv:1511.00830.
    """
    if len(z) > max_codes:
        keep = torch.randperm(len(z), device=z.device)[:max_codes]
        z, groups = z[keep], groups[keep]
    d2 = torch.cdist(z, z).pow(2)
    scale = d2.detach().median().clamp_min(1e-12)
    kernel = sum(torch.exp(-d2 / (scale * width)) for width in MMD_BANDWIDTHS)
    to_all = kernel.mean(1)  # (n,): each code's mean kernel to all codes
    total = z.new_zeros(())
    for g in torch.unique(groups):
        member = groups == g
        if member.sum() < 2:
            continue
        within = kernel[member][:, member].mean()
        total = total + member.float().mean() * (within - 2 * to_all[member].mean() + to_all.mean())
    return total


class _GradientReversal(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-scale``."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def reverse_gradient(x, scale=1.0):
    """Return ``x``; gradients flowing back through it are ``-scale`` times."""
    return _GradientReversal.apply(x, scale)
