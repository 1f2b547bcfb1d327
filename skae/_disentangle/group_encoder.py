"""A group (speaker) encoder: a sequence to its group code, in one forward pass.

With a group encoder the disentangling network does not look its group codes
up in a table: it computes them from speech, as the speaker encoders of
AdaIN-VC [1]_ and AutoVC [2]_ do, so a voice never seen in training gets its
code from a few seconds of it. Trained jointly with the autoencoder, each
window's group code is computed from *another* window of the same group in
the batch (:func:`same_group_partners`): the code then carries what the
windows of a group share (the voice), not what one window says.

References
----------
.. [1] Chou, J. and Lee, H. "One-shot Voice Conversion by Separating Speaker
   and Content Representations with Instance Normalization." Interspeech, 2019.
.. [2] Qian, K. et al. "AutoVC: Zero-Shot Voice Style Transfer with Only
   Autoencoder Loss." ICML, 2019.
"""

import torch
from torch import nn

from .._nn.mlp import ACTIVATIONS

KERNEL_SIZE = 5


class GroupEncoder(nn.Module):
    """1-D convolutions over time, averaged over frames, to a group code.

    No normalisation over time: the per-sequence statistics that instance
    normalisation removes from the content are what this encoder keeps.

    Parameters
    ----------
    n_features : int
        Features per frame.
    hidden_sizes : sequence of int
        Channels of the hidden convolutions.
    group_dim : int
        Width of the group code.
    activation : str, default="relu"
        Hidden activation.

    Shape
    -----
    - Input: ``(batch, frames, n_features)``
    - Output: ``(batch, group_dim)``
    """

    def __init__(self, n_features, hidden_sizes, group_dim, activation="relu"):
        super().__init__()
        widths = [n_features, *hidden_sizes]
        layers = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [
                nn.Conv1d(a, b, KERNEL_SIZE, padding=KERNEL_SIZE // 2, padding_mode="replicate"),
                ACTIVATIONS[activation](),
            ]
        self.convs = nn.Sequential(*layers)
        self.to_code = nn.Linear(widths[-1], group_dim)

    def forward(self, x):
        h = self.convs(x.transpose(1, 2))  # (batch, channels, frames)
        return self.to_code(h.mean(dim=2))


def same_group_partners(cond):
    """For each item, another item of the batch in the same group (itself if alone).

    Items of a group are put in random order (global torch RNG) and each is
    paired with the next one of its group, cyclically.

    Parameters
    ----------
    cond : torch.Tensor of shape (batch,)
        Group ids.

    Returns
    -------
    partners : torch.LongTensor of shape (batch,)
    """
    n = len(cond)
    shuffled = torch.randperm(n, device=cond.device)
    order = shuffled[torch.sort(cond[shuffled], stable=True).indices]  # grouped, random within
    grouped = cond[order]
    position = torch.arange(n, device=cond.device)
    is_start = torch.ones(n, dtype=torch.bool, device=cond.device)
    is_start[1:] = grouped[1:] != grouped[:-1]
    start = torch.cummax(torch.where(is_start, position, 0), dim=0).values
    is_end = torch.ones(n, dtype=torch.bool, device=cond.device)
    is_end[:-1] = is_start[1:]
    following = torch.where(is_end, start, position + 1)
    partners = torch.empty_like(order)
    partners[order] = order[following]
    return partners
